// SiteRuntime's install lifecycle: tokens issued for armed hosts, and every
// refusal of an installer's report and log (wrong, another host's, malformed,
// expired or replayed token, another host's address, unknown host, bad
// phase), against a real state directory.
#include "engine/site/site_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

using ::testing::HasSubstr;

constexpr char kExpiredToken[] = "00112233445566778899aabbccddeeff";

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

io::SocketAddress Client(const std::string& text) {
  absl::StatusOr<io::SocketAddress> address = io::SocketAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << text;
  return *address;
}

class SiteRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/site_runtime_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/tftp");
    std::filesystem::create_directories(dir_ + "/state");
    // node1 armed by its column (no token yet); node2 armed in the file with
    // a token that expired long ago; node3 local boot.
    WriteFile(dir_ + "/inventory.csv",
              "mac,hostname,ip,profile,state\n"
              "52:54:00:c6:12:01,node1,198.18.0.21,lab,install\n"
              "52:54:00:c6:12:02,node2,198.18.0.22,lab,localboot\n"
              "52:54:00:c6:12:03,node3,198.18.0.23,lab,localboot\n");
    WriteFile(dir_ + "/state/host-states.tsv",
              absl::StrCat("node2\tinstall\t900\t", kExpiredToken, "\t1000\n"));
    absl::StatusOr<SiteConfig> site = ParseSiteConfig(
        absl::StrCat("[server]\naddress = \"198.18.0.1\"\nstate_dir = \"", dir_,
                     "/state\"\ninventory = \"", dir_,
                     "/inventory.csv\"\n[[dhcp.subnet]]\ncidr = "
                     "\"198.18.0.0/24\"\n[tftp]\nroot = \"",
                     dir_,
                     "/tftp\"\n[[profile]]\nname = \"lab\"\nkernel = "
                     "\"vmlinuz\"\ninitrd = \"initrd.img\"\n"),
        dir_ + "/site.toml");
    ASSERT_TRUE(site.ok()) << site.status();
    site->install.token_ttl = absl::Minutes(90);
    bool config_error = false;
    const absl::Time before = absl::Now();
    absl::StatusOr<std::unique_ptr<SiteRuntime>> runtime =
        SiteRuntime::Open(*site, /*dhcp=*/false, config_error);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = *std::move(runtime);
    opened_ = before;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  HostStateEntry Entry(const std::string& host) {
    return states()->Snapshot()->at(host);
  }
  // The runtime's store, through a second store on the same directory (the
  // runtime does not expose its own): what `rackboot arm` would see.
  std::unique_ptr<HostStateStore> OpenStates() {
    absl::StatusOr<Inventory> inventory =
        Inventory::Load(dir_ + "/inventory.csv");
    EXPECT_TRUE(inventory.ok());
    absl::StatusOr<std::unique_ptr<HostStateStore>> store =
        HostStateStore::Open(dir_ + "/state", *inventory);
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }
  HostStateStore* states() {
    store_ = OpenStates();
    return store_.get();
  }
  InstallerReport Report(const std::string& host, const std::string& token,
                         const std::string& phase,
                         const std::string& client = "198.18.0.21:40000") {
    InstallerReport report;
    report.hostname = host;
    report.token = token;
    report.phase = phase;
    report.client = Client(client);
    return report;
  }
  std::string Phase(const std::string& host) {
    return runtime_->fleet()->Host(host)->phase;
  }

  std::string dir_;
  absl::Time opened_;
  std::unique_ptr<SiteRuntime> runtime_;
  std::unique_ptr<HostStateStore> store_;
};

TEST_F(SiteRuntimeTest, OpenIssuesTokensButNeverRenewsAnExpiredOne) {
  const HostStateEntry node1 = Entry("node1");
  EXPECT_EQ(node1.state, HostState::kInstall);
  EXPECT_EQ(node1.token.size(), 32u);
  // site.install.token_ttl applies.
  EXPECT_GE(node1.token_expires,
            opened_ + absl::Minutes(90) - absl::Seconds(1));
  EXPECT_LE(node1.token_expires, absl::Now() + absl::Minutes(90));
  const HostStateEntry node2 = Entry("node2");
  EXPECT_EQ(node2.token, kExpiredToken);
  EXPECT_EQ(node2.token_expires, absl::FromUnixSeconds(1000));
  EXPECT_EQ(Entry("node3").token, "");
  // The expired one shows failed at the next tick.
  runtime_->fleet()->Tick(absl::Now());
  absl::optional<HostStatus> host = runtime_->fleet()->Host("node2");
  EXPECT_EQ(host->phase, "failed");
  EXPECT_EQ(host->reason, "install token expired at 1970-01-01T00:16:40Z");
  EXPECT_EQ(Phase("node1"), "armed");
}

TEST_F(SiteRuntimeTest, PollIssuesATokenForAHandArmedHost) {
  std::string text = ReadFile(dir_ + "/state/host-states.tsv");
  text += "node3\tinstall\t1700000000\n";  // armed by hand, no token
  WriteFile(dir_ + "/state/host-states.tsv.new", text);
  std::filesystem::rename(dir_ + "/state/host-states.tsv.new",
                          dir_ + "/state/host-states.tsv");
  runtime_->PollStates(absl::Now());
  EXPECT_EQ(Entry("node3").token.size(), 32u);
  EXPECT_EQ(Entry("node2").token, kExpiredToken);  // still not renewed
  EXPECT_EQ(Phase("node3"), "armed");
}

TEST_F(SiteRuntimeTest, InstallerReportsThenDoneRevokes) {
  const std::string token = Entry("node1").token;
  const absl::Time now = absl::Now();
  ASSERT_TRUE(
      runtime_->ReportInstall(Report("node1", token, "installing"), now).ok());
  EXPECT_EQ(Phase("node1"), "installing");
  InstallerReport failed = Report("NODE1", token, "failed");
  failed.detail = "no disk\nat all";
  ASSERT_TRUE(runtime_->ReportInstall(failed, now).ok());
  absl::optional<HostStatus> host = runtime_->fleet()->Host("node1");
  EXPECT_EQ(host->phase, "failed");
  EXPECT_EQ(host->reason, "no disk\\x0aat all");
  EXPECT_EQ(Entry("node1").state, HostState::kInstall);  // stays armed

  ASSERT_TRUE(runtime_
                  ->StoreInstallLog("node1", token, Client("198.18.0.21:40001"),
                                    "line 1\nline 2\n")
                  .ok());
  const std::string log_path = dir_ + "/state/install-logs/node1.log";
  EXPECT_EQ(ReadFile(log_path), "line 1\nline 2\n");
  struct stat st;
  ASSERT_EQ(::stat(log_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(runtime_
                  ->StoreInstallLog("node1", token, Client("198.18.0.21:40001"),
                                    "again")
                  .ok());
  EXPECT_EQ(*runtime_->InstallLog("Node1"), "again");  // replaced

  ASSERT_TRUE(
      runtime_->ReportInstall(Report("node1", token, "done"), now).ok());
  EXPECT_EQ(Entry("node1").state, HostState::kInstalled);
  EXPECT_EQ(Entry("node1").token, "");
  EXPECT_EQ(Phase("node1"), "done");
  EXPECT_EQ(runtime_->fleet()->Host("node1")->state, "installed");
  runtime_->FlushBringUp();
  absl::StatusOr<std::map<std::string, BringUpPhase>> phases =
      BringUpLog::Read(dir_ + "/state");
  ASSERT_TRUE(phases.ok());
  EXPECT_EQ(phases->at("node1").phase, "done");

  // Replayed after done: refused, for reports and logs alike.
  for (const char* phase : {"installing", "failed", "done"}) {
    absl::Status s = runtime_->ReportInstall(Report("node1", token, phase),
                                             now + absl::Seconds(1));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << phase;
    EXPECT_THAT(s.message(), HasSubstr("not node1's current token"));
    EXPECT_THAT(s.message(), ::testing::Not(HasSubstr(token)));
  }
  EXPECT_EQ(
      runtime_
          ->StoreInstallLog("node1", token, Client("198.18.0.21:40001"), "x")
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*runtime_->InstallLog("node1"), "again");
  EXPECT_EQ(Phase("node1"), "done");
}

TEST_F(SiteRuntimeTest, EveryRefusal) {
  const std::string token = Entry("node1").token;
  const absl::Time now = absl::Now();
  struct Case {
    const char* what;
    InstallerReport report;
    absl::Time at;
    absl::StatusCode code;
    const char* message;
  };
  std::string flipped = token;
  flipped[0] = flipped[0] == 'a' ? 'b' : 'a';
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  const std::vector<Case> cases = {
      {"unknown host", Report("node9", token, "installing"), now,
       absl::StatusCode::kNotFound, "no host \"node9\" in the inventory"},
      {"wrong token", Report("node1", flipped, "installing"), now,
       absl::StatusCode::kPermissionDenied, "not node1's current token"},
      {"truncated token", Report("node1", token.substr(0, 31), "installing"),
       now, absl::StatusCode::kPermissionDenied, "not node1's current token"},
      {"uppercase token", Report("node1", upper, "installing"), now,
       absl::StatusCode::kPermissionDenied, "not node1's current token"},
      {"empty token", Report("node1", "", "installing"), now,
       absl::StatusCode::kPermissionDenied, "not node1's current token"},
      {"another host's token",
       Report("node2", token, "installing", "198.18.0.22:1"), now,
       absl::StatusCode::kPermissionDenied, "not node2's current token"},
      {"node2's expired token",
       Report("node2", kExpiredToken, "installing", "198.18.0.22:1"), now,
       absl::StatusCode::kPermissionDenied,
       "node2's token expired at 1970-01-01T00:16:40Z"},
      {"expired now", Report("node1", token, "installing"),
       Entry("node1").token_expires, absl::StatusCode::kPermissionDenied,
       "node1's token expired at"},
      {"another host's address",
       Report("node1", token, "installing", "198.18.0.22:40000"), now,
       absl::StatusCode::kPermissionDenied,
       "198.18.0.22:40000 is not node1's address"},
      {"an unknown address",
       Report("node1", token, "installing", "203.0.113.9:40000"), now,
       absl::StatusCode::kPermissionDenied, "is not node1's address"},
      {"bad phase", Report("node1", token, "rebooting"), now,
       absl::StatusCode::kInvalidArgument,
       "phase \"rebooting\": expected installing, failed or done"},
      {"empty phase", Report("node1", token, ""), now,
       absl::StatusCode::kInvalidArgument, "expected installing, failed"},
  };
  for (const Case& c : cases) {
    absl::Status s = runtime_->ReportInstall(c.report, c.at);
    EXPECT_EQ(s.code(), c.code) << c.what << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.what;
    EXPECT_THAT(s.message(), ::testing::Not(HasSubstr(token))) << c.what;
    if (c.code != absl::StatusCode::kInvalidArgument) {
      // The log takes the same checks (its time is now: skip "expired now").
      if (std::string(c.what) == "expired now") continue;
      absl::Status logged = runtime_->StoreInstallLog(
          c.report.hostname, c.report.token, c.report.client, "log");
      EXPECT_EQ(logged.code(), c.code) << c.what << ": " << logged;
    }
  }
  // Nothing changed: still armed, same token, no log, nothing reported.
  EXPECT_EQ(Entry("node1").token, token);
  EXPECT_EQ(Entry("node1").state, HostState::kInstall);
  EXPECT_EQ(Phase("node1"), "armed");
  EXPECT_EQ(runtime_->InstallLog("node1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(runtime_->InstallLog("node9").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state/install-logs/node2.log"));
  // Too large a log.
  absl::Status big = runtime_->StoreInstallLog(
      "node1", token, Client("198.18.0.21:1"),
      std::string(SiteRuntime::kMaxInstallLog + 1, 'x'));
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      runtime_
          ->StoreInstallLog("node1", token, Client("198.18.0.21:1"),
                            std::string(SiteRuntime::kMaxInstallLog, 'x'))
          .ok());
  // Re-armed: the old token is refused, the new one works.
  ASSERT_TRUE(
      runtime_->SetHostState("node1", HostState::kInstall, "test").ok());
  const std::string fresh = Entry("node1").token;
  EXPECT_NE(fresh, token);
  EXPECT_EQ(
      runtime_->ReportInstall(Report("node1", token, "installing"), now).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      runtime_->ReportInstall(Report("node1", fresh, "installing"), now).ok());
  // Disarmed: revoked.
  ASSERT_TRUE(
      runtime_->SetHostState("node1", HostState::kLocalboot, "test").ok());
  EXPECT_EQ(runtime_->ReportInstall(Report("node1", fresh, "done"), now).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Entry("node1").state, HostState::kLocalboot);
}

TEST_F(SiteRuntimeTest, ResolveInstallTokenOnlyForTheOwnerFromItsAddress) {
  const std::string token = Entry("node1").token;
  const absl::Time now = absl::Now();
  absl::StatusOr<InstallTarget> target =
      runtime_->ResolveInstallToken(token, Client("198.18.0.21:5000"), now);
  ASSERT_TRUE(target.ok()) << target.status();
  ASSERT_NE(target->input.host, nullptr);
  EXPECT_EQ(target->input.host->hostname, "node1");
  ASSERT_NE(target->input.profile, nullptr);
  EXPECT_EQ(target->input.profile->name, "lab");
  EXPECT_EQ(target->input.site, &target->generation->site);
  EXPECT_TRUE(target->input.armed);
  EXPECT_EQ(target->input.token, token);
  EXPECT_EQ(target->input.http_base, "");  // no [http] here

  std::string flipped = token;
  flipped[31] = flipped[31] == '0' ? '1' : '0';
  struct Case {
    const char* what;
    std::string token;
    std::string client;
    absl::Time at;
  };
  for (const Case& c : std::vector<Case>{
           {"another host's address", token, "198.18.0.22:5000", now},
           {"an unknown address", token, "198.18.0.99:5000", now},
           {"wrong token", flipped, "198.18.0.21:5000", now},
           {"truncated token", token.substr(0, 30), "198.18.0.21:5000", now},
           {"guessed token", std::string(32, '0'), "198.18.0.21:5000", now},
           {"expired", token, "198.18.0.21:5000", Entry("node1").token_expires},
           {"expired (node2)", kExpiredToken, "198.18.0.22:5000", now},
       }) {
    absl::StatusOr<InstallTarget> refused =
        runtime_->ResolveInstallToken(c.token, Client(c.client), c.at);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied)
        << c.what << ": " << refused.status();
    EXPECT_THAT(refused.status().message(), ::testing::Not(HasSubstr(token)))
        << c.what;
  }
  // Replayed after done: refused.
  ASSERT_TRUE(
      runtime_->ReportInstall(Report("node1", token, "done"), now).ok());
  EXPECT_EQ(
      runtime_->ResolveInstallToken(token, Client("198.18.0.21:5000"), now)
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace rackboot::site
