// CheckStartup on real files in a temporary directory: a good site passes
// with its counts; each kind of problem is reported on a line of its own
// naming file:line (or the key) and what to fix; nothing is written.
#include "engine/config/startup_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/site/site_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::config {
namespace {

using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string Problems(const StartupReport& report) {
  std::vector<std::string> lines;
  for (const StartupProblem& p : report.problems) lines.push_back(p.text);
  return absl::StrJoin(lines, "\n");
}

class StartupChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/startup_checks_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
    std::filesystem::create_directories(dir_ + "/tftp/lab");
    std::filesystem::create_directories(dir_ + "/state");
    for (const char* f : {"pxelinux.0", "lab/vmlinuz", "lab/initrd.img"}) {
      WriteFile(dir_ + "/tftp/" + f, "x");
    }
    // node1 armed by its column; node2 local boot; node3 an unknown profile.
    inventory_ =
        "mac,hostname,ip,profile,state\n"
        "52:54:00:c6:12:01,node1,198.18.0.21,lab,install\n"
        "52:54:00:c6:12:02,node2,198.18.0.22,lab,localboot\n"
        "52:54:00:c6:12:03,node3,198.18.0.23,other,localboot\n";
    WriteFile(dir_ + "/inventory.csv", inventory_);
    toml_ = absl::StrCat(
        "[server]\naddress = \"198.18.0.1\"\nstate_dir = \"state\"\n"
        "inventory = \"inventory.csv\"\nuser = \"root\"\n"
        "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\n"
        "[tftp]\nroot = \"tftp\"\n[boot]\nbios = \"pxelinux.0\"\n"
        "[[profile]]\nname = \"lab\"\nkernel = \"lab/vmlinuz\"\n"
        "initrd = \"lab/initrd.img\"\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  site::SiteConfig Site(const std::string& extra = "") {
    absl::StatusOr<site::SiteConfig> site =
        site::ParseSiteConfig(toml_ + extra, dir_ + "/site.toml");
    EXPECT_TRUE(site.ok()) << site.status();
    return site.ok() ? *site : site::SiteConfig();
  }
  StartupReport Check(const site::SiteConfig& site) {
    return CheckStartup(site, StartupCheckOptions());
  }

  std::string dir_, toml_, inventory_;
};

TEST_F(StartupChecksTest, GoodSitePassesWithCounts) {
  const StartupReport report = Check(Site());
  EXPECT_TRUE(report.ok()) << Problems(report);
  EXPECT_EQ(report.StartExitStatus(), 0);
  EXPECT_EQ(report.hosts, 3u);
  EXPECT_EQ(report.profiles, 1u);
  EXPECT_EQ(report.armed, 1u);
  // node3's profile is unknown but it is not armed: a warning only.
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_THAT(report.warnings[0], HasSubstr("inventory.csv:4: node3"));
}

TEST_F(StartupChecksTest, NothingToServe) {
  const StartupReport report = Check(site::SiteConfig());
  EXPECT_THAT(Problems(report), HasSubstr("nothing to serve"));
  EXPECT_EQ(report.StartExitStatus(), kExitConfig);
}

TEST_F(StartupChecksTest, BrokenInventoryLineNamesFileAndLine) {
  WriteFile(dir_ + "/inventory.csv",
            inventory_ + "52:54:00:zz:12:04,node4,,lab,localboot\n");
  const StartupReport report = Check(Site());
  EXPECT_THAT(Problems(report), HasSubstr("inventory.csv:5: mac"));
  EXPECT_EQ(report.StartExitStatus(), kExitConfig);
}

TEST_F(StartupChecksTest, MissingBootFileNamesSiteLine) {
  std::filesystem::remove(dir_ + "/tftp/lab/initrd.img");
  const StartupReport report = Check(Site());
  EXPECT_THAT(Problems(report),
              HasSubstr("site.toml:15: profile[0].initrd: \"lab/initrd.img\": "
                        "not found in tftp.root"));
}

TEST_F(StartupChecksTest, UnknownUser) {
  site::SiteConfig site = Site();
  site.server.user = "no-such-user-rb";
  const std::string problems = Problems(Check(site));
  EXPECT_THAT(problems, HasSubstr("user \"no-such-user-rb\" does not exist"));
  EXPECT_THAT(problems, HasSubstr("useradd"));
}

// Started as root, the roots must be readable by the user it drops to.
TEST_F(StartupChecksTest, RootStartChecksWhatTheUserCanRead) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  site::SiteConfig site = Site();
  site.server.user = "nobody";
  ASSERT_EQ(chmod((dir_ + "/tftp").c_str(), 0700), 0);
  const std::string problems = Problems(Check(site));
  EXPECT_THAT(problems, HasSubstr("tftp.root: TFTP root "));
  EXPECT_THAT(problems, HasSubstr("cannot be read by user nobody"));
}

TEST_F(StartupChecksTest, ArmedHostWithoutProfileInHostStates) {
  WriteFile(dir_ + "/state/host-states.tsv", "node3\tinstall\t1800000000\n");
  const std::string problems = Problems(Check(Site()));
  EXPECT_THAT(problems,
              HasSubstr(absl::StrCat("node3 is armed for install (", dir_,
                                     "/state/host-states.tsv)")));
}

TEST_F(StartupChecksTest, DamagedHostStatesLine) {
  WriteFile(dir_ + "/state/host-states.tsv", "node1\tmaybe\t1\n");
  const StartupReport report = Check(Site());
  EXPECT_THAT(Problems(report), HasSubstr("host-states.tsv:1"));
  EXPECT_EQ(report.StartExitStatus(), kExitConfig);
}

TEST_F(StartupChecksTest, DamagedDiscoveredLine) {
  WriteFile(dir_ + "/state/discovered.tsv", "not-a-mac\t1\tx\n");
  EXPECT_THAT(Problems(Check(Site())), HasSubstr("discovered.tsv:1"));
}

TEST_F(StartupChecksTest, MissingTemplateFileNamesItsKey) {
  const std::string problems = Problems(Check(
      Site("family = \"debian-preseed\"\ntemplate_file = \"nope.mustache\"\n"
           "[http]\nlisten = \"127.0.0.1:8080\"\n")));
  EXPECT_THAT(problems, HasSubstr("profile[0].template_file"));
  EXPECT_THAT(problems, HasSubstr("nope.mustache"));
}

TEST_F(StartupChecksTest, StateDirThatIsAFile) {
  std::filesystem::remove_all(dir_ + "/state");
  WriteFile(dir_ + "/state", "x");
  EXPECT_THAT(Problems(Check(Site())), HasSubstr("server.state_dir: \"" + dir_ +
                                                 "/state\": not a directory"));
}

// An absent state directory is fine (it is made at start), and the check
// does not make it.
TEST_F(StartupChecksTest, AbsentStateDirIsNotCreated) {
  std::filesystem::remove_all(dir_ + "/state");
  const StartupReport report = Check(Site());
  EXPECT_TRUE(report.ok()) << Problems(report);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state"));
}

TEST_F(StartupChecksTest, TokenFileReadableByOthers) {
  WriteFile(dir_ + "/token", "secret\n");
  ASSERT_EQ(chmod((dir_ + "/token").c_str(), 0644), 0);
  const std::string problems = Problems(Check(Site(
      "[http]\nlisten = \"127.0.0.1:8080\"\n[api]\ntoken_file = \"token\"\n")));
  EXPECT_THAT(problems, HasSubstr("api.token_file: "));
  EXPECT_THAT(problems, HasSubstr("chmod 600"));
}

TEST_F(StartupChecksTest, MissingInterfaceIsTheSystems) {
  site::SiteConfig site = Site();
  site.server.interface = "rbnosuch0";
  StartupReport report = Check(site);
  EXPECT_THAT(Problems(report), HasSubstr("\"rbnosuch0\": no such network"));
  EXPECT_EQ(report.StartExitStatus(), kExitFailure);
  site.server.interface = "lo";
  report = Check(site);
  EXPECT_TRUE(report.ok()) << Problems(report);
}

TEST_F(StartupChecksTest, EveryProblemReportedOnItsOwnLine) {
  std::filesystem::remove(dir_ + "/tftp/pxelinux.0");
  std::filesystem::remove(dir_ + "/tftp/lab/vmlinuz");
  WriteFile(dir_ + "/inventory.csv",
            inventory_ + "52:54:00:zz:12:04,node4,,lab,localboot\n");
  const StartupReport report = Check(Site());
  ASSERT_GE(report.problems.size(), 3u) << Problems(report);
  for (const StartupProblem& p : report.problems) {
    EXPECT_EQ(p.text.find('\n'), std::string::npos) << p.text;
  }
  EXPECT_THAT(report.AsStatus().message(), HasSubstr("boot.bios"));
}

}  // namespace
}  // namespace rackboot::config
