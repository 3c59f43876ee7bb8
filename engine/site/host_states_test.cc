#include "engine/site/host_states.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/site/inventory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// A fresh directory per test.
std::string TestDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/",
                                 info->name(), "-", ::getpid());
  // A leftover from an earlier run is removed if it can be; if not, the
  // test's own checks report it.
  if (std::system(absl::StrCat("rm -rf '", dir, "'").c_str()) != 0) {
    ADD_FAILURE() << "could not clear " << dir;
  }
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

Inventory TestInventory() {
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,state\n"
      "52:54:00:12:00:01,node001,install\n"
      "52:54:00:12:00:02,node002,installed\n"
      "52:54:00:12:00:03,node003,\n",
      "inventory.csv");
  EXPECT_TRUE(inv.ok()) << inv.status();
  return *inv;
}

std::unique_ptr<HostStateStore> OpenOrDie(const std::string& dir,
                                          const Inventory& inv) {
  absl::StatusOr<std::unique_ptr<HostStateStore>> store =
      HostStateStore::Open(dir, inv);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(HostStateStoreTest, InitialStatesComeFromTheInventory) {
  const std::string dir = TestDir() + "/nested/state";
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_NE(store, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0027, 0u);  // 0750 (less any umask)

  EXPECT_EQ(store->Get("node001"), HostState::kInstall);
  EXPECT_EQ(store->Get("NODE001"), HostState::kInstall);
  EXPECT_EQ(store->Get("node002"), HostState::kInstalled);
  EXPECT_EQ(store->Get("node003"), HostState::kLocalboot);
  EXPECT_EQ(store->Get("stranger"), HostState::kLocalboot);
  std::shared_ptr<const HostStateMap> snapshot = store->Snapshot();
  EXPECT_EQ(snapshot->size(), 3u);
  EXPECT_EQ(snapshot->at("node001").changed, absl::InfinitePast());
  // Nothing is written until something is Set.
  EXPECT_NE(::access(store->states_path().c_str(), F_OK), 0);
  EXPECT_FALSE(store->ChangedOnDisk());
}

TEST(HostStateStoreTest, SetPersistsAcrossReopen) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  {
    std::unique_ptr<HostStateStore> store = OpenOrDie(dir, inv);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("node001", HostState::kInstalled, kT0).ok());
    ASSERT_TRUE(store->Set("Node003", HostState::kInstall, kT0).ok());
    EXPECT_EQ(store->Get("node001"), HostState::kInstalled);
    EXPECT_EQ(store->Get("node003"), HostState::kInstall);
    EXPECT_FALSE(store->ChangedOnDisk());  // our own write

    absl::Status s = store->Set("node999", HostState::kInstall, kT0);
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(s.message(), HasSubstr("\"node999\": not in the inventory"));
  }
  const std::string text = ReadFile(dir + "/host-states.tsv");
  EXPECT_THAT(text,
              ::testing::StartsWith(
                  "# Rackboot host states: hostname<TAB>state<TAB>last change "
                  "(unix seconds)[<TAB>install token<TAB>its expiry].\n"));
  EXPECT_THAT(text, HasSubstr("\nnode001\tinstalled\t1700000000\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "\nnode003\tinstall\t1700000000\t[0-9a-f]{32}\t"
                        "1700021600\n$"));  // kT0 + 6h
  std::unique_ptr<HostStateStore> again = OpenOrDie(dir, inv);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->Get("node001"), HostState::kInstalled);  // file wins
  EXPECT_EQ(again->Get("node002"), HostState::kInstalled);  // inventory
  EXPECT_EQ(again->Get("node003"), HostState::kInstall);
  EXPECT_EQ(again->Snapshot()->at("node003").changed, kT0);
  // No temp files left behind.
  EXPECT_NE(
      ::access(absl::StrCat(dir, "/host-states.tsv.tmp.", ::getpid()).c_str(),
               F_OK),
      0);
}

TEST(HostStateStoreTest, ReloadSeesAnotherStoresSet) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  std::unique_ptr<HostStateStore> daemon = OpenOrDie(dir, inv);
  std::unique_ptr<HostStateStore> tool = OpenOrDie(dir, inv);
  ASSERT_NE(daemon, nullptr);
  ASSERT_NE(tool, nullptr);
  EXPECT_FALSE(daemon->ChangedOnDisk());

  ASSERT_TRUE(tool->Set("node002", HostState::kInstall, kT0).ok());
  EXPECT_TRUE(daemon->ChangedOnDisk());
  EXPECT_EQ(daemon->Get("node002"), HostState::kInstalled);  // not yet
  ASSERT_TRUE(daemon->Reload().ok());
  EXPECT_FALSE(daemon->ChangedOnDisk());
  EXPECT_EQ(daemon->Get("node002"), HostState::kInstall);

  // A second change in the same second is still seen (inode changes).
  ASSERT_TRUE(tool->Set("node002", HostState::kLocalboot, kT0).ok());
  EXPECT_TRUE(daemon->ChangedOnDisk());
  ASSERT_TRUE(daemon->Reload().ok());
  EXPECT_EQ(daemon->Get("node002"), HostState::kLocalboot);
}

TEST(HostStateStoreTest, SetMergesWithChangesFromOtherWriters) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  std::unique_ptr<HostStateStore> a = OpenOrDie(dir, inv);
  std::unique_ptr<HostStateStore> b = OpenOrDie(dir, inv);
  ASSERT_TRUE(a->Set("node001", HostState::kInstalled, kT0).ok());
  // b has not reloaded, but its Set must not undo a's.
  ASSERT_TRUE(b->Set("node003", HostState::kInstall, kT0).ok());
  EXPECT_EQ(b->Get("node001"), HostState::kInstalled);
  std::unique_ptr<HostStateStore> c = OpenOrDie(dir, inv);
  EXPECT_EQ(c->Get("node001"), HostState::kInstalled);
  EXPECT_EQ(c->Get("node003"), HostState::kInstall);
}

TEST(HostStateStoreTest, UnknownHostnamesInTheFileAreKept) {
  const std::string dir = TestDir();
  ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
  WriteFile(dir + "/host-states.tsv", "retired\tinstalled\t5\n");
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  EXPECT_EQ(store->Get("retired"), HostState::kLocalboot);
  EXPECT_EQ(store->Snapshot()->size(), 3u);
  ASSERT_TRUE(store->Set("node001", HostState::kInstalled, kT0).ok());
  EXPECT_THAT(ReadFile(dir + "/host-states.tsv"),
              HasSubstr("retired\tinstalled\t5\n"));
}

TEST(HostStateStoreTest, DamagedFileIsAnErrorNotADefault) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, inv);
  ASSERT_TRUE(store->Set("node001", HostState::kInstalled, kT0).ok());
  ASSERT_TRUE(store->Set("node003", HostState::kInstall, kT0).ok());

  const std::string path = dir + "/host-states.tsv";
  for (const auto& [text, expected] :
       std::vector<std::pair<std::string, std::string>>{
           {"# c\nnode001\tarmed\t1\n",
            ":2: state \"armed\": expected install, installed or localboot"},
           {"node001 installed 1\n", ":1: expected hostname<TAB>state<TAB>"},
           {"node001\tinstall\tyesterday\n", ":1: time \"yesterday\""},
           {"node_1\tinstall\t1\n", ":1: hostname \"node_1\""},
           {"node001\tinstall\t1\nnode001\tinstalled\t2\n",
            ":2: hostname \"node001\": duplicate of line 1"},
           // Malformed tokens: never quoted back (they are secrets).
           {"node003\tinstall\t1\t0123456789ABCDEF0123456789abcdef\t9\n",
            ":1: install token: expected 32 lowercase hex digits"},
           {"node003\tinstall\t1\t0123456789abcdef0123456789abcde\t9\n",
            ":1: install token: expected 32 lowercase hex digits"},
           {"node003\tinstall\t1\t\t9\n",
            ":1: install token: expected 32 lowercase hex digits"},
           {"node003\tinstall\t1\t0123456789abcdef0123456789abcdef\tsoon\n",
            ":1: token expiry \"soon\""},
           {"node003\tinstalled\t1\t0123456789abcdef0123456789abcdef\t9\n",
            ":1: install token on a host whose state is installed"},
           {"node003\tinstall\t1\t0123456789abcdef0123456789abcdef\n",
            ":1: expected hostname<TAB>state<TAB>unix time[<TAB>token"},
       }) {
    WriteFile(path, text);
    absl::Status s = store->Reload();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_THAT(s.message(), HasSubstr(path + expected));
    // Fail closed: nothing is armed while the file cannot be read (the
    // operator may have disarmed node003 in the version we cannot read).
    EXPECT_EQ(store->Get("node003"), HostState::kLocalboot);
    EXPECT_EQ(store->Get("node001"), HostState::kLocalboot);
    EXPECT_EQ(store->Degraded().code(), absl::StatusCode::kDataLoss);
    // And Set refuses to overwrite what it cannot read.
    EXPECT_FALSE(store->Set("node002", HostState::kInstall, kT0).ok());
    EXPECT_EQ(ReadFile(path), text);

    absl::StatusOr<std::unique_ptr<HostStateStore>> reopened =
        HostStateStore::Open(dir, inv);
    EXPECT_FALSE(reopened.ok());
  }
}

TEST(HostStateStoreTest, FailsClosedUntilTheFileIsReadableAgain) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();  // node001 is armed by its column
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, inv);
  ASSERT_TRUE(store->Set("node002", HostState::kInstall, kT0).ok());
  EXPECT_EQ(store->Get("node001"), HostState::kInstall);
  EXPECT_EQ(store->Get("node002"), HostState::kInstall);
  EXPECT_TRUE(store->Degraded().ok());
  EXPECT_FALSE(store->ChangedOnDisk());

  const std::string path = dir + "/host-states.tsv";
  const std::string good = ReadFile(path);
  WriteFile(path, good + "node003\tbogus\t1\n");
  ASSERT_TRUE(store->ChangedOnDisk());
  absl::Status s = store->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store->Degraded().message(), HasSubstr(path + ":4: state"));
  for (const auto& [hostname, entry] : *store->Snapshot()) {
    EXPECT_EQ(entry.state, HostState::kLocalboot) << hostname;
  }
  // Retried at every poll although the file did not change again.
  EXPECT_TRUE(store->ChangedOnDisk());
  EXPECT_FALSE(store->Reload().ok());
  EXPECT_EQ(store->Get("node001"), HostState::kLocalboot);

  WriteFile(path, good);
  EXPECT_TRUE(store->ChangedOnDisk());
  ASSERT_TRUE(store->Reload().ok());
  EXPECT_TRUE(store->Degraded().ok());
  EXPECT_FALSE(store->ChangedOnDisk());
  EXPECT_EQ(store->Get("node001"), HostState::kInstall);
  EXPECT_EQ(store->Get("node002"), HostState::kInstall);
}

TEST(HostStateStoreTest, ReloadsWhenTheProcessIsOutOfDescriptors) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, inv);
  ASSERT_TRUE(store->Set("node002", HostState::kInstall, kT0).ok());
  std::unique_ptr<HostStateStore> other = OpenOrDie(dir, inv);

  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  for (HostState state :
       {HostState::kLocalboot, HostState::kInstall, HostState::kInstalled}) {
    // The operator disarms (or re-arms) node002 ...
    ASSERT_TRUE(other->Set("node002", state, kT0).ok());
    // ... while a flood holds every descriptor.
    std::vector<int> hog;
    for (;;) {
      const int fd = ::dup(0);
      if (fd < 0) break;
      hog.push_back(fd);
    }
    ASSERT_EQ(errno, EMFILE);
    absl::Status s = store->Reload();
    for (int fd : hog) ::close(fd);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(store->Get("node002"), state);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

TEST(HostStateStoreTest, SetInventoryAddsAndRemovesHosts) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_TRUE(store->Set("node002", HostState::kInstall, kT0).ok());
  absl::StatusOr<Inventory> bigger = Inventory::Parse(
      "mac,hostname,state\n"
      "52:54:00:12:00:02,node002,\n"
      "52:54:00:12:00:04,node004,install\n",
      "inventory.csv");
  ASSERT_TRUE(bigger.ok()) << bigger.status();
  store->SetInventory(*bigger);
  EXPECT_EQ(store->Get("node001"), HostState::kLocalboot);  // removed
  EXPECT_EQ(store->Get("node002"), HostState::kInstall);    // the file's
  EXPECT_EQ(store->Get("node004"), HostState::kInstall);    // its column
  EXPECT_EQ(store->Snapshot()->size(), 2u);
  EXPECT_TRUE(store->Set("node004", HostState::kInstalled, kT0).ok());
  EXPECT_EQ(store->Set("node001", HostState::kInstall, kT0).code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(store->ChangedOnDisk());

  // Degraded stays degraded (closed) across an inventory change.
  WriteFile(dir + "/host-states.tsv", "junk\n");
  EXPECT_FALSE(store->Reload().ok());
  store->SetInventory(TestInventory());
  EXPECT_EQ(store->Get("node001"), HostState::kLocalboot);
  EXPECT_FALSE(store->Degraded().ok());
}

TEST(HostStateStoreTest, AppliedStatusSaysWhatTheDaemonApplies) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  EXPECT_EQ(HostStateStore::ReadAppliedStatus(dir).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->WriteAppliedStatus(kT0).ok());
  absl::StatusOr<HostStateStore::AppliedStatus> status =
      HostStateStore::ReadAppliedStatus(dir);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->pid, ::getpid());
  EXPECT_TRUE(status->running);
  EXPECT_EQ(status->written, kT0);
  EXPECT_EQ(status->degraded, "");
  EXPECT_EQ(status->hosts.size(), 3u);
  EXPECT_EQ(status->hosts["node001"], HostState::kInstall);
  EXPECT_EQ(status->hosts["node002"], HostState::kInstalled);

  WriteFile(dir + "/host-states.tsv", "node001\tinstall\n");
  EXPECT_FALSE(store->Reload().ok());
  ASSERT_TRUE(store->WriteAppliedStatus(kT0).ok());
  status = HostStateStore::ReadAppliedStatus(dir);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(status->degraded, HasSubstr("host-states.tsv:1: expected"));
  EXPECT_EQ(status->hosts["node001"], HostState::kLocalboot);

  store->RemoveAppliedStatus();
  EXPECT_EQ(HostStateStore::ReadAppliedStatus(dir).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(HostStateStoreTest, StateDirErrorsNameThePath) {
  const std::string dir = TestDir();
  ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
  WriteFile(dir + "/file", "x");
  absl::StatusOr<std::unique_ptr<HostStateStore>> store =
      HostStateStore::Open(dir + "/file", TestInventory());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir + "/file"));
  store = HostStateStore::Open(dir + "/file/sub", TestInventory());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir + "/file/sub"));
}

TEST(HostStateStoreTest, ConcurrentReadersWhileSetting) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const HostState s = store->Get("node001");
        // Only the two states the writer alternates between.
        if (s != HostState::kInstall && s != HostState::kInstalled) {
          ADD_FAILURE() << "unexpected state " << HostStateName(s);
        }
        std::shared_ptr<const HostStateMap> snap = store->Snapshot();
        if (snap->size() != 3) ADD_FAILURE() << "snapshot size";
        (void)store->ChangedOnDisk();
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    const HostState s =
        i % 2 == 0 ? HostState::kInstalled : HostState::kInstall;
    ASSERT_TRUE(store->Set("node001", s, kT0 + absl::Seconds(i)).ok());
    EXPECT_EQ(store->Get("node001"), s);
    if (i % 10 == 0) {
      ASSERT_TRUE(store->Reload().ok());
    }
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->Get("node001"), HostState::kInstall);
}

TEST(HostStateStoreTest, DiscoveredOncePerMacAndReloaded) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  const MacAddress m1 = {0x52, 0x54, 0x00, 0xaa, 0x00, 0x01};
  const MacAddress m2 = {0x52, 0x54, 0x00, 0xaa, 0x00, 0x02};
  {
    std::unique_ptr<HostStateStore> store = OpenOrDie(dir, inv);
    EXPECT_TRUE(store->Discovered().empty());
    ASSERT_TRUE(store->RecordDiscovered(m1, "arch 7\tvendor\nX", kT0).ok());
    ASSERT_TRUE(store->RecordDiscovered(m1, "again", kT0).ok());
    ASSERT_TRUE(
        store->RecordDiscovered(m2, "arch 0", kT0 + absl::Seconds(1)).ok());
    ASSERT_EQ(store->Discovered().size(), 2u);
    EXPECT_EQ(store->Discovered()[0].detail, "arch 7 vendor X");
  }
  EXPECT_EQ(ReadFile(dir + "/discovered.tsv"),
            "52:54:00:aa:00:01\t1700000000\tarch 7 vendor X\n"
            "52:54:00:aa:00:02\t1700000001\tarch 0\n");

  // A torn last line (crash mid-append) is dropped on reopen.
  {
    std::ofstream out(dir + "/discovered.tsv", std::ios::app);
    out << "52:54:00:aa:00:0";
  }
  std::unique_ptr<HostStateStore> again = OpenOrDie(dir, inv);
  ASSERT_NE(again, nullptr);
  std::vector<DiscoveredHost> found = again->Discovered();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].mac, m1);
  EXPECT_EQ(found[0].first_seen, kT0);
  EXPECT_EQ(found[1].mac, m2);
  EXPECT_EQ(found[1].detail, "arch 0");
  // Known from the file: not appended again.
  ASSERT_TRUE(again->RecordDiscovered(m1, "x", kT0).ok());
  const MacAddress m3 = {0x52, 0x54, 0x00, 0xaa, 0x00, 0x03};
  ASSERT_TRUE(again->RecordDiscovered(m3, std::string(500, 'd'), kT0).ok());
  EXPECT_EQ(again->Discovered().back().detail.size(),
            HostStateStore::kMaxDetail);
  const std::string text = ReadFile(dir + "/discovered.tsv");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_THAT(text, HasSubstr("\n52:54:00:aa:00:03\t1700000000\tddd"));

  WriteFile(dir + "/discovered.tsv", "zz\t1\tx\n");
  absl::StatusOr<std::unique_ptr<HostStateStore>> bad =
      HostStateStore::Open(dir, inv);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr(dir + "/discovered.tsv:1: \"zz\": not a MAC address"));
}

}  // namespace
}  // namespace rackboot::site

namespace rackboot::site {
namespace {

bool IsToken(const std::string& token) {
  return token.size() == 32 &&
         token.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(HostStateStoreTokenTest, ArmingMakesATokenThatExpires) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_NE(store, nullptr);
  // Armed by its inventory column: no token until someone Sets it.
  EXPECT_EQ(store->Snapshot()->at("node001").token, "");
  store->set_token_ttl(absl::Minutes(90));
  ASSERT_TRUE(store->Set("node003", HostState::kInstall, kT0).ok());
  const HostStateEntry entry = store->Snapshot()->at("node003");
  EXPECT_TRUE(IsToken(entry.token)) << entry.token;
  EXPECT_EQ(entry.token_expires, kT0 + absl::Minutes(90));

  absl::optional<TokenOwner> owner = store->FindToken(entry.token);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->hostname, "node003");
  EXPECT_EQ(owner->expires, kT0 + absl::Minutes(90));
  // Expiry is the caller's to compare: still found after it.
  EXPECT_TRUE(store->FindToken(entry.token).has_value());

  // The file holds secrets: 0600.
  struct stat st;
  ASSERT_EQ(::stat((dir + "/host-states.tsv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// root (`rackboot arm`) hands the 0600 file to the state directory's owner
// (the daemon's user after GiveDirectoryTo), or the daemon could not read it.
TEST(HostStateStoreTokenTest, RootWritesTheFileForTheDirectorysOwner) {
  const std::string dir = TestDir();
  ASSERT_EQ(::mkdir(dir.c_str(), 0750), 0);
  // As root, give the directory to nobody (a sandbox's user namespace may
  // refuse: then the directory stays ours, and so must the file).
  // The result is read back by the stat below, whichever way it went.
  if (::geteuid() == 0) (void)!::chown(dir.c_str(), 65534, 65534);
  struct stat dir_st;
  ASSERT_EQ(::stat(dir.c_str(), &dir_st), 0);
  const uid_t owner = dir_st.st_uid;
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("node003", HostState::kInstall, kT0).ok());
  struct stat st;
  ASSERT_EQ(::stat((dir + "/host-states.tsv").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, owner);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(HostStateStoreTokenTest, ReArmingReplacesTheToken) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("node003", HostState::kInstall, kT0).ok());
  const std::string first = store->Snapshot()->at("node003").token;
  ASSERT_TRUE(
      store->Set("node003", HostState::kInstall, kT0 + absl::Hours(1)).ok());
  const HostStateEntry second = store->Snapshot()->at("node003");
  EXPECT_TRUE(IsToken(second.token));
  EXPECT_NE(second.token, first);
  EXPECT_EQ(second.token_expires, kT0 + absl::Hours(7));
  EXPECT_FALSE(store->FindToken(first).has_value());
  ASSERT_TRUE(store->FindToken(second.token).has_value());
  EXPECT_EQ(store->FindToken(second.token)->hostname, "node003");
  // Two hosts never share one.
  ASSERT_TRUE(store->Set("node002", HostState::kInstall, kT0).ok());
  EXPECT_NE(store->Snapshot()->at("node002").token, second.token);
  EXPECT_EQ(store->FindToken(store->Snapshot()->at("node002").token)->hostname,
            "node002");
}

TEST(HostStateStoreTokenTest, OtherStatesRevokeTheToken) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_NE(store, nullptr);
  for (HostState state : {HostState::kInstalled, HostState::kLocalboot}) {
    ASSERT_TRUE(store->Set("node003", HostState::kInstall, kT0).ok());
    const std::string token = store->Snapshot()->at("node003").token;
    ASSERT_TRUE(store->FindToken(token).has_value());
    ASSERT_TRUE(store->Set("node003", state, kT0).ok());
    EXPECT_EQ(store->Snapshot()->at("node003").token, "");
    EXPECT_FALSE(store->FindToken(token).has_value());
    EXPECT_THAT(ReadFile(dir + "/host-states.tsv"),
                ::testing::Not(HasSubstr(token)));
    // Nor does it come back from the file.
    std::unique_ptr<HostStateStore> again = OpenOrDie(dir, TestInventory());
    EXPECT_FALSE(again->FindToken(token).has_value());
  }
}

TEST(HostStateStoreTokenTest, TokenSurvivesReopenAndReload) {
  const std::string dir = TestDir();
  const Inventory inv = TestInventory();
  std::unique_ptr<HostStateStore> daemon = OpenOrDie(dir, inv);
  std::unique_ptr<HostStateStore> tool = OpenOrDie(dir, inv);
  ASSERT_TRUE(tool->Set("node002", HostState::kInstall, kT0).ok());
  const HostStateEntry armed = tool->Snapshot()->at("node002");
  EXPECT_FALSE(daemon->FindToken(armed.token).has_value());  // not yet read
  ASSERT_TRUE(daemon->Reload().ok());
  ASSERT_TRUE(daemon->FindToken(armed.token).has_value());
  EXPECT_EQ(daemon->FindToken(armed.token)->expires, armed.token_expires);

  std::unique_ptr<HostStateStore> reopened = OpenOrDie(dir, inv);
  const HostStateEntry entry = reopened->Snapshot()->at("node002");
  EXPECT_EQ(entry.token, armed.token);
  EXPECT_EQ(entry.token_expires, armed.token_expires);
  EXPECT_EQ(reopened->FindToken(armed.token)->hostname, "node002");

  // Degraded: no host is armed, so no token is found.
  WriteFile(dir + "/host-states.tsv", "node002\tnonsense\t1\n");
  EXPECT_FALSE(daemon->Reload().ok());
  EXPECT_FALSE(daemon->FindToken(armed.token).has_value());
}

// A host armed by its inventory column gets its token recorded as the
// column's: editing the column away from install disarms it, as it did
// before tokens existed, where an operator's arm in the file would stand.
TEST(HostStateStoreTokenTest, ColumnTokenYieldsWhenTheColumnChanges) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  EXPECT_EQ(store->IssueInventoryToken("node002", kT0).code(),
            absl::StatusCode::kFailedPrecondition);  // its column: installed
  ASSERT_TRUE(store->IssueInventoryToken("node001", kT0).ok());
  const HostStateEntry armed = store->Snapshot()->at("node001");
  EXPECT_EQ(armed.state, HostState::kInstall);
  EXPECT_TRUE(armed.from_inventory);
  ASSERT_TRUE(store->FindToken(armed.token).has_value());
  EXPECT_THAT(
      ReadFile(dir + "/host-states.tsv"),
      ::testing::ContainsRegex("\nnode001\tinstall\t1700000000\t[0-9a-f]{32}\t"
                               "1700021600\tinventory\n"));
  // Survives a reopen with its mark.
  EXPECT_TRUE(OpenOrDie(dir, TestInventory())
                  ->Snapshot()
                  ->at("node001")
                  .from_inventory);

  absl::StatusOr<Inventory> edited = Inventory::Parse(
      "mac,hostname,state\n"
      "52:54:00:12:00:01,node001,localboot\n"
      "52:54:00:12:00:03,node003,install\n",
      "inventory.csv");
  ASSERT_TRUE(edited.ok()) << edited.status();
  store->SetInventory(*edited);
  EXPECT_EQ(store->Get("node001"), HostState::kLocalboot);
  EXPECT_FALSE(store->FindToken(armed.token).has_value());
  // A daemon restarted on the edited inventory agrees.
  std::unique_ptr<HostStateStore> restarted = OpenOrDie(dir, *edited);
  EXPECT_EQ(restarted->Get("node001"), HostState::kLocalboot);
  EXPECT_FALSE(restarted->FindToken(armed.token).has_value());

  // An operator's arm is not the column's: it stands whatever the column.
  ASSERT_TRUE(store->Set("node001", HostState::kInstall, kT0).ok());
  EXPECT_FALSE(store->Snapshot()->at("node001").from_inventory);
  EXPECT_EQ(store->Get("node001"), HostState::kInstall);

  EXPECT_THAT(
      HostStateStore::ParseStates(
          "n1\tinstall\t1\t0123456789abcdef0123456789abcdef\t2\toperator\n",
          "host-states.tsv")
          .status()
          .message(),
      HasSubstr("host-states.tsv:1: sixth field: expected \"inventory\""));
}

TEST(HostStateStoreTokenTest, OldThreeFieldLinesParse) {
  absl::StatusOr<HostStateMap> map = HostStateStore::ParseStates(
      "node001\tinstall\t5\n"
      "node002\tinstall\t6\tfedcba9876543210fedcba9876543210\t99\n",
      "host-states.tsv");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->at("node001").state, HostState::kInstall);
  EXPECT_EQ(map->at("node001").token, "");
  EXPECT_EQ(map->at("node002").token, "fedcba9876543210fedcba9876543210");
  EXPECT_EQ(map->at("node002").token_expires, absl::FromUnixSeconds(99));
}

TEST(HostStateStoreTokenTest, MalformedTokensFindNobody) {
  const std::string dir = TestDir();
  std::unique_ptr<HostStateStore> store = OpenOrDie(dir, TestInventory());
  ASSERT_TRUE(store->Set("node003", HostState::kInstall, kT0).ok());
  const std::string token = store->Snapshot()->at("node003").token;
  std::string upper = token;
  for (char& c : upper) c = absl::ascii_toupper(c);
  std::string flipped = token;
  flipped[31] = flipped[31] == '0' ? '1' : '0';
  for (const std::string& bad :
       {std::string(), token.substr(0, 31), token + "0", upper, flipped,
        token.substr(0, 16), std::string(32, 'g'), token + "\n",
        std::string(token).replace(5, 1, " ")}) {
    EXPECT_FALSE(store->FindToken(bad).has_value()) << bad;
  }
  EXPECT_FALSE(IsWellFormedToken(upper));
  EXPECT_TRUE(IsWellFormedToken(token));
}

}  // namespace
}  // namespace rackboot::site
