#include "engine/dhcp/lease_journal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/dhcp/lease_table.h"
#include "gtest/gtest.h"

namespace rackboot::dhcp {
namespace {

std::string TestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir =
      absl::StrCat(tmp ? tmp : "/tmp", "/journal_", name, "_", ::getpid());
  std::string cmd = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// A lease whose fields all derive from n (client ids of varying length).
Lease LeaseFor(uint64_t n) {
  Lease lease;
  lease.address = Ipv4Address(0x0A000000u + static_cast<uint32_t>(n % 1000));
  lease.state = static_cast<LeaseState>(n % 5);
  // A non-null buffer even for size 0: lease.h's ClientKey memcpy()s from the
  // span's data(), and UBSan rejects memcpy from nullptr.
  uint8_t buffer[ClientKey::kMaxSize];
  for (size_t i = 0; i < sizeof(buffer); ++i)
    buffer[i] = static_cast<uint8_t>(n + i);
  absl::Span<const uint8_t> id(buffer, n % 33);
  lease.client = n % 3 == 0
                     ? ClientKey::FromClientId(id)
                     : ClientKey::FromHardware(static_cast<uint8_t>(n % 7), id);
  for (int i = 0; i < 6; ++i) lease.mac[i] = static_cast<uint8_t>(n >> (4 * i));
  lease.expires =
      n % 11 == 0 ? absl::InfiniteFuture()
      : n % 13 == 0
          ? absl::InfinitePast()
          : absl::FromUnixMicros(1700000000000000 + static_cast<int64_t>(n));
  return lease;
}

std::vector<Lease> OpenAndReplay(
    const std::string& dir, std::unique_ptr<LeaseJournal>* keep = nullptr) {
  std::vector<Lease> replayed;
  auto journal = LeaseJournal::Open(
      {.directory = dir},
      [&](const Lease& lease) { replayed.push_back(lease); });
  EXPECT_TRUE(journal.ok()) << journal.status();
  if (keep != nullptr && journal.ok()) *keep = *std::move(journal);
  return replayed;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ~uint64_t{0};
  return static_cast<uint64_t>(st.st_size);
}

TEST(Crc32cTest, KnownVectorAndImplementationsAgree) {
  const std::string check = "123456789";
  absl::Span<const uint8_t> bytes(
      reinterpret_cast<const uint8_t*>(check.data()), check.size());
  EXPECT_EQ(Crc32c(bytes), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable(bytes), 0xE3069283u);
  EXPECT_EQ(Crc32c(bytes.subspan(4), Crc32c(bytes.subspan(0, 4))), 0xE3069283u);
  std::mt19937 rng(7);
  for (size_t size = 0; size < 300; ++size) {
    std::vector<uint8_t> data(size);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    ASSERT_EQ(Crc32c(data, 0x1234), Crc32cPortable(data, 0x1234)) << size;
  }
}

TEST(LeaseJournalTest, AppendSyncReopenReplaysInOrder) {
  const std::string dir = TestDir("replay");
  std::vector<Lease> written;
  {
    std::unique_ptr<LeaseJournal> journal;
    EXPECT_TRUE(
        OpenAndReplay(dir + "/a/b", &journal).empty());  // creates parents
    for (uint64_t n = 0; n < 1000; ++n) {
      written.push_back(LeaseFor(n));
      EXPECT_EQ(journal->Append(written.back()), n + 1);
      if (n % 50 == 0) journal->Commit();
    }
    ASSERT_TRUE(journal->SyncNow().ok());
    EXPECT_EQ(journal->durable(), 1000u);
    EXPECT_EQ(journal->records(), 1000u);
    EXPECT_EQ(journal->file_bytes(), FileSize(journal->path()));
  }
  EXPECT_EQ(OpenAndReplay(dir + "/a/b"), written);
}

TEST(LeaseJournalTest, DestructorSyncsAppendedRecords) {
  const std::string dir = TestDir("dtor");
  {
    std::unique_ptr<LeaseJournal> journal;
    OpenAndReplay(dir, &journal);
    journal->Append(LeaseFor(1));
    journal->Append(LeaseFor(2));
  }
  EXPECT_EQ(OpenAndReplay(dir), (std::vector<Lease>{LeaseFor(1), LeaseFor(2)}));
}

// Writes records 0..count-1 one sync at a time; returns the file offset after
// each record.
std::vector<uint64_t> WriteRecords(const std::string& dir, int count) {
  std::vector<uint64_t> ends;
  std::unique_ptr<LeaseJournal> journal;
  OpenAndReplay(dir, &journal);
  for (int n = 0; n < count; ++n) {
    journal->Append(LeaseFor(static_cast<uint64_t>(n)));
    EXPECT_TRUE(journal->SyncNow().ok());
    ends.push_back(journal->file_bytes());
  }
  return ends;
}

std::vector<Lease> Expected(std::initializer_list<int> ns) {
  std::vector<Lease> out;
  for (int n : ns) out.push_back(LeaseFor(static_cast<uint64_t>(n)));
  return out;
}

TEST(LeaseJournalTest, TornTailAtEveryOffsetIsTruncated) {
  const std::string dir = TestDir("torn");
  const std::vector<uint64_t> ends = WriteRecords(dir, 5);
  const std::string path = dir + "/" + LeaseJournal::kFileName;
  const std::string full = ReadFile(path);
  ASSERT_EQ(full.size(), ends[4]);
  for (uint64_t cut = ends[3]; cut < ends[4]; ++cut) {
    SCOPED_TRACE(cut);
    WriteFile(path, full.substr(0, cut));
    std::unique_ptr<LeaseJournal> journal;
    EXPECT_EQ(OpenAndReplay(dir, &journal), Expected({0, 1, 2, 3}));
    EXPECT_EQ(FileSize(path), ends[3]);
    journal->Append(LeaseFor(99));
    ASSERT_TRUE(journal->SyncNow().ok());
    journal.reset();
    EXPECT_EQ(OpenAndReplay(dir), Expected({0, 1, 2, 3, 99}));
  }
}

TEST(LeaseJournalTest, FlippedBitInLastRecordIsDroppedByCrc) {
  const std::string dir = TestDir("flip");
  const std::vector<uint64_t> ends = WriteRecords(dir, 5);
  const std::string path = dir + "/" + LeaseJournal::kFileName;
  const std::string full = ReadFile(path);
  // Every bit of the last record: header (magic, length, crc) and payload.
  for (uint64_t byte = ends[3]; byte < ends[4]; ++byte) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string damaged = full;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      WriteFile(path, damaged);
      ASSERT_EQ(OpenAndReplay(dir), Expected({0, 1, 2, 3}))
          << byte << ":" << bit;
      ASSERT_EQ(FileSize(path), ends[3]);
    }
  }
}

TEST(LeaseJournalTest, CorruptionInTheMiddleIsSkipped) {
  const std::string dir = TestDir("middle");
  const std::vector<uint64_t> ends = WriteRecords(dir, 6);
  const std::string path = dir + "/" + LeaseJournal::kFileName;
  std::string data = ReadFile(path);
  data[ends[1] + 15] ^= 0x40;  // a payload byte of record 2
  WriteFile(path, data);
  std::unique_ptr<LeaseJournal> journal;
  // Record 2 is lost; the acknowledged records after it are kept.
  EXPECT_EQ(OpenAndReplay(dir, &journal), Expected({0, 1, 3, 4, 5}));
  EXPECT_EQ(FileSize(path), ends[5]);  // nothing truncated
  EXPECT_TRUE(journal->ShouldCompact());
  journal->Append(LeaseFor(7));
  ASSERT_TRUE(journal->SyncNow().ok());
  journal.reset();
  EXPECT_EQ(OpenAndReplay(dir, &journal), Expected({0, 1, 3, 4, 5, 7}));
  // Compaction rewrites the file without the damage.
  ASSERT_TRUE(journal
                  ->Compact([](absl::FunctionRef<void(const Lease&)> sink) {
                    for (int n : {0, 1, 3})
                      sink(LeaseFor(static_cast<uint64_t>(n)));
                  })
                  .ok());
  EXPECT_FALSE(journal->ShouldCompact());
  journal.reset();
  EXPECT_EQ(OpenAndReplay(dir), Expected({0, 1, 3}));
}

TEST(LeaseJournalTest, GarbageAfterRecordsIsATail) {
  const std::string dir = TestDir("zeros");
  const std::vector<uint64_t> ends = WriteRecords(dir, 3);
  const std::string path = dir + "/" + LeaseJournal::kFileName;
  WriteFile(path, ReadFile(path) + std::string(4096, '\0'));
  EXPECT_EQ(OpenAndReplay(dir), Expected({0, 1, 2}));
  EXPECT_EQ(FileSize(path), ends[2]);
}

TEST(LeaseJournalTest, GroupCommitSharesSyncs) {
  const std::string dir = TestDir("group");
  std::unique_ptr<LeaseJournal> journal;
  OpenAndReplay(dir, &journal);
  for (uint64_t n = 1; n <= 10000; ++n) {
    journal->Append(LeaseFor(n));
    if (n % 100 == 0) journal->Commit();
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (journal->durable() < 10000 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(journal->durable(), 10000u);
  EXPECT_EQ(journal->records(), 10000u);
  // At most one sync per Commit (100), usually far fewer: commits made while a
  // sync runs share the next one.
  EXPECT_LE(journal->syncs(), 100u);
  std::cerr << "10000 records, 100 commits, " << journal->syncs()
            << " fdatasync calls\n";
  ASSERT_TRUE(journal->status().ok());
}

TEST(LeaseJournalTest, CommitWindowGathersCommitsIntoOneSync) {
  const std::string dir = TestDir("window");
  // A window far longer than the test: only SyncNow, a full window or the
  // destructor may end it.
  auto journal =
      LeaseJournal::Open({.directory = dir, .commit_window = absl::Minutes(10)},
                         [](const Lease&) {});
  ASSERT_TRUE(journal.ok()) << journal.status();
  for (uint64_t n = 1; n <= 20; ++n) {
    (*journal)->Append(LeaseFor(n));
    (*journal)->Commit();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ((*journal)->durable(), 0u) << "synced inside the window";
  EXPECT_EQ((*journal)->syncs(), 0u);
  ASSERT_TRUE((*journal)->SyncNow().ok());  // ends the window at once
  EXPECT_EQ((*journal)->durable(), 20u);
  EXPECT_EQ((*journal)->syncs(), 1u);

  // kMaxWindowRecords waiting end the window without SyncNow.
  for (uint64_t n = 21; n < 21 + LeaseJournal::kMaxWindowRecords; ++n) {
    (*journal)->Append(LeaseFor(n));
  }
  (*journal)->Commit();
  const uint64_t target = 20 + LeaseJournal::kMaxWindowRecords;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((*journal)->durable() < target &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ((*journal)->durable(), target);
  EXPECT_EQ((*journal)->syncs(), 2u);

  // The destructor does not wait out a window either, and loses nothing.
  (*journal)->Append(LeaseFor(5000));
  (*journal)->Commit();
  journal->reset();
  EXPECT_EQ(OpenAndReplay(dir).size(), target + 1);
}

TEST(LeaseJournalTest, OnDurableRunsAfterEachSync) {
  const std::string dir = TestDir("notify");
  std::unique_ptr<LeaseJournal> journal;
  OpenAndReplay(dir, &journal);
  std::atomic<int> calls{0};
  std::atomic<uint64_t> durable_seen{0};
  LeaseJournal* j = journal.get();
  journal->SetOnDurable([&] {
    durable_seen = j->durable();
    ++calls;
  });
  journal->Commit();  // nothing pending: no sync, no call
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(calls.load(), 0);
  const uint64_t seq = journal->Append(LeaseFor(1));
  journal->Commit();
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (calls.load() == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(calls.load(), 1);
  EXPECT_EQ(durable_seen.load(), seq);  // durable() had advanced already.
  // Cleared: never called again, even for later syncs.
  journal->SetOnDurable(nullptr);
  journal->Append(LeaseFor(2));
  ASSERT_TRUE(journal->SyncNow().ok());
  EXPECT_EQ(calls.load(), 1);
}

TEST(LeaseJournalTest, CompactionKeepsExactlyTheLiveSet) {
  const std::string dir = TestDir("compact");
  auto table =
      *LeaseTable::Create({*AddressRange::Hosts(Ipv4Address(10, 0, 0, 0), 22)});
  std::unique_ptr<LeaseJournal> journal;
  auto opened = LeaseJournal::Open(
      {.directory = dir, .compact_after_bytes = 100000}, [](const Lease&) {});
  ASSERT_TRUE(opened.ok());
  journal = *std::move(opened);
  auto record = [&](const Lease& lease) {
    table->Put(lease);
    journal->Append(lease);
  };
  for (uint64_t round = 0; round < 3; ++round) {
    for (uint32_t i = 1; i <= 1000; ++i) {
      Lease lease = LeaseFor(i + round * 7);
      lease.address = Ipv4Address(10, 0, static_cast<uint8_t>(i >> 8),
                                  static_cast<uint8_t>(i));
      lease.state = LeaseState::kBound;
      record(lease);
    }
    journal->Commit();
  }
  for (uint32_t i = 1; i <= 1000; i += 3) {  // a third released to kFree
    Lease free;
    free.address = Ipv4Address(10, 0, static_cast<uint8_t>(i >> 8),
                               static_cast<uint8_t>(i));
    record(free);
  }
  ASSERT_TRUE(journal->SyncNow().ok());
  EXPECT_TRUE(journal->ShouldCompact());
  const uint64_t before = journal->file_bytes();
  auto for_each_live = [&](absl::FunctionRef<void(const Lease&)> sink) {
    for (const AddressRange& r : table->ranges()) {
      for (uint32_t a = r.first.value(); a <= r.last.value(); ++a) {
        const Lease* lease = table->Find(Ipv4Address(a));
        if (lease->state != LeaseState::kFree) sink(*lease);
      }
    }
  };
  std::vector<Lease> live;
  for_each_live([&](const Lease& lease) { live.push_back(lease); });
  ASSERT_EQ(live.size(), 666u);
  ASSERT_TRUE(journal->Compact(for_each_live).ok());
  EXPECT_LT(journal->file_bytes(), before / 3);
  EXPECT_EQ(journal->file_bytes(), FileSize(journal->path()));
  EXPECT_FALSE(journal->ShouldCompact());
  EXPECT_EQ(FileSize(dir + "/" + LeaseJournal::kCompactFileName),
            ~uint64_t{0});  // renamed
  // Appends continue in the new file.
  Lease extra = LeaseFor(5000);
  extra.address = Ipv4Address(10, 0, 3, 200);
  journal->Append(extra);
  ASSERT_TRUE(journal->SyncNow().ok());
  journal.reset();
  live.push_back(extra);
  EXPECT_EQ(OpenAndReplay(dir), live);
}

TEST(LeaseJournalTest, LeftoverCompactionFileIsRemoved) {
  const std::string dir = TestDir("leftover");
  WriteRecords(dir, 2);
  WriteFile(dir + "/" + LeaseJournal::kCompactFileName, "half a compaction");
  EXPECT_EQ(OpenAndReplay(dir), Expected({0, 1}));
  EXPECT_EQ(FileSize(dir + "/" + LeaseJournal::kCompactFileName), ~uint64_t{0});
}

TEST(LeaseJournalTest, UnusableDirectoryErrorNamesThePath) {
  auto journal =
      LeaseJournal::Open({.directory = "/dev/null/x"}, [](const Lease&) {});
  ASSERT_FALSE(journal.ok());
  EXPECT_NE(journal.status().message().find("/dev/null/x"),
            absl::string_view::npos)
      << journal.status();
  EXPECT_FALSE(LeaseJournal::Open({.directory = ""}, [](const Lease&) {}).ok());
}

TEST(LeaseJournalTest, UnwritableJournalFileErrorNamesThePath) {
  const std::string dir = TestDir("perm");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  // A directory where the journal file should be: open(O_RDWR) fails with
  // EISDIR, even as root.
  ASSERT_EQ(::mkdir((dir + "/" + LeaseJournal::kFileName).c_str(), 0755), 0);
  auto journal = LeaseJournal::Open({.directory = dir}, [](const Lease&) {});
  ASSERT_FALSE(journal.ok());
  EXPECT_NE(journal.status().message().find(dir + "/leases.journal"),
            absl::string_view::npos)
      << journal.status();
}

TEST(LeaseJournalTest, WriteErrorStopsDurability) {
  const std::string dir = TestDir("efbig");
  std::unique_ptr<LeaseJournal> journal;
  OpenAndReplay(dir, &journal);
  journal->Append(LeaseFor(1));
  ASSERT_TRUE(journal->SyncNow().ok());
  // A file size limit makes the next write fail with EFBIG (SIGXFSZ ignored),
  // like a full disk.
  rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = journal->file_bytes() + 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  for (uint64_t n = 2; n < 100; ++n) journal->Append(LeaseFor(n));
  absl::Status status = journal->SyncNow();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(journal->path()), absl::string_view::npos)
      << status;
  EXPECT_EQ(journal->durable(), 1u);
  EXPECT_EQ(journal->status(), status);
  // Later appends do not become durable either.
  journal->Append(LeaseFor(200));
  EXPECT_FALSE(journal->SyncNow().ok());
  EXPECT_EQ(journal->durable(), 1u);
}

// Runs the crash helper, SIGKILLs it after a random number of acknowledged
// records (or lets it finish), and returns the values it printed
// (acknowledged).
std::vector<uint64_t> RunAndKill(const std::string& dir, uint64_t first,
                                 uint64_t count, uint64_t kill_after,
                                 unsigned delay_us) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const std::string helper =
      absl::StrCat(srcdir ? srcdir : ".", "/rackboot/engine/dhcp/",
                   "lease_journal_crash_helper");
  int out[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const std::string first_arg = absl::StrCat(first),
                    count_arg = absl::StrCat(count);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(helper.c_str(), helper.c_str(), dir.c_str(), first_arg.c_str(),
            count_arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::vector<uint64_t> acked;
  std::string pending;
  char buffer[65536];
  bool killed = false;
  for (;;) {
    const ssize_t n = ::read(out[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      acked.push_back(
          std::strtoull(pending.substr(0, newline).c_str(), nullptr, 10));
      pending.erase(0, newline + 1);
    }
    if (!killed && acked.size() >= kill_after) {
      ::usleep(delay_us);
      ::kill(pid, SIGKILL);
      killed = true;  // keep reading what it printed before dying
    }
  }
  ::close(out[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  if (!killed) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  return acked;
}

TEST(LeaseJournalTest, KilledWriterLosesNoAcknowledgedRecord) {
  const std::string dir = TestDir("kill");
  std::mt19937 rng(std::random_device{}());
  std::set<uint64_t> acked_all;
  uint64_t first = 1;
  for (int round = 0; round < 8; ++round) {
    const uint64_t kill_after = 1 + rng() % 20000;
    const unsigned delay_us = rng() % 3000;
    std::vector<uint64_t> acked =
        RunAndKill(dir, first, 40000, kill_after, delay_us);
    acked_all.insert(acked.begin(), acked.end());
    std::vector<Lease> replayed = OpenAndReplay(dir);
    std::set<uint64_t> present;
    uint64_t last = 0;
    for (const Lease& lease : replayed) {
      const uint64_t value =
          static_cast<uint64_t>(absl::ToUnixMicros(lease.expires));
      EXPECT_GT(value, last) << "out of order";
      last = value;
      present.insert(value);
    }
    for (uint64_t value : acked_all) {
      ASSERT_TRUE(present.count(value))
          << "acknowledged record " << value << " lost in round " << round;
    }
    std::cerr << "round " << round << ": killed after " << acked.size()
              << " acknowledged, " << replayed.size() << " replayed in total\n";
    first += 40000;
  }
}

}  // namespace
}  // namespace rackboot::dhcp
