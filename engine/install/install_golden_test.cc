// Golden files: every file the fixture site's hosts get (install_fixture.h:
// each install family with static and DHCP hosts, a boot-only profile, a host
// that is not armed; BIOS pxelinux, UEFI GRUB and iPXE menus and the install
// files) must equal engine/install/testdata/golden/<hostname>/<path>, byte
// for byte, with no file missing or extra. After an intended change to a
// template, HostValues or the fixture, regenerate them and review the diff:
//
//   bazel run //engine/install:render_fixture -- --golden
//   git diff engine/install/testdata/golden
//
// Also: a template that names a value HostValues does not have is an error
// naming the template file, the line and the key, never an empty string.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/install/host_values.h"
#include "engine/install/install_fixture.h"
#include "engine/install/install_templates.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "gtest/gtest.h"

namespace rackboot::install {
namespace {

constexpr char kFixture[] = "engine/install/testdata/fixture/site.toml";
constexpr char kGolden[] = "engine/install/testdata/golden";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// "line N: want ... got ..." for the first line that differs.
std::string FirstDifference(const std::string& want, const std::string& got) {
  std::vector<std::string> a = absl::StrSplit(want, '\n');
  std::vector<std::string> b = absl::StrSplit(got, '\n');
  for (size_t i = 0; i < a.size() || i < b.size(); ++i) {
    const std::string wa = i < a.size() ? a[i] : "(end of file)";
    const std::string gb = i < b.size() ? b[i] : "(end of file)";
    if (wa != gb) {
      return absl::StrCat("line ", i + 1, ":\n  golden:   ", wa,
                          "\n  rendered: ", gb);
    }
  }
  return "(equal)";
}

TEST(InstallGoldenTest, FixtureRendersTheGoldenFiles) {
  auto files = RenderFixture(kFixture);
  ASSERT_TRUE(files.ok()) << files.status();

  std::set<std::string> golden;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(kGolden)) {
    if (!entry.is_regular_file()) continue;
    golden.insert(entry.path().lexically_relative(kGolden).generic_string());
  }
  ASSERT_FALSE(golden.empty()) << kGolden << " is empty";

  const char* regenerate =
      "\n(intended? regenerate: see engine/install/install_golden_test.cc)";
  for (const auto& [key, file] : *files) {
    if (golden.count(key) == 0) {
      ADD_FAILURE() << "rendered " << key << " has no golden file"
                    << regenerate;
      continue;
    }
    const std::string want = ReadFile(std::filesystem::path(kGolden) / key);
    EXPECT_TRUE(want == file.bytes)
        << key << " differs from its golden file at "
        << FirstDifference(want, file.bytes) << regenerate;
  }
  for (const std::string& key : golden) {
    EXPECT_TRUE(files->count(key) != 0)
        << "golden file " << key << " is no longer rendered" << regenerate;
  }
}

// The fixture covers what the golden files claim to cover: every family x
// firmware, static and DHCP hosts; install files only for armed family hosts,
// each marked secret.
TEST(InstallGoldenTest, FixtureCoversEveryFamilyAndFirmware) {
  auto files = RenderFixture(kFixture);
  ASSERT_TRUE(files.ok()) << files.status();
  std::map<std::string, std::set<std::string>> by_host;  // host -> kinds
  for (const auto& [key, file] : *files) {
    std::vector<std::string> parts = absl::StrSplit(key, '/');
    ASSERT_GE(parts.size(), 3u) << key;
    const std::string& host = parts[0];
    if (parts[1] == "install") {
      EXPECT_TRUE(file.secret) << key;
      ASSERT_EQ(parts.size(), 4u) << key;
      EXPECT_EQ(parts[2].size(), 32u) << key;
      by_host[host].insert(parts[3]);
    } else {
      EXPECT_FALSE(file.secret) << key;
      by_host[host].insert(parts[1]);
    }
  }
  const std::set<std::string> menus = {"pxelinux.cfg", "grub", "ipxe"};
  const std::map<std::string, std::set<std::string>> want_install = {
      {"deb-static.lab.example", {"preseed.cfg"}},
      {"deb-dhcp", {"preseed.cfg"}},
      {"rocky-static", {"ks.cfg"}},
      {"rocky-dhcp", {"ks.cfg"}},
      {"ubuntu-static", {"user-data", "meta-data"}},
      {"ubuntu-dhcp", {"user-data", "meta-data"}},
      {"memtest-host", {}},
      {"idle", {}},
      {"rocky-site", {"ks.cfg"}},  // from the profile's template_file
  };
  ASSERT_EQ(by_host.size(), want_install.size());
  for (const auto& [host, install] : want_install) {
    std::set<std::string> want = menus;
    want.insert(install.begin(), install.end());
    EXPECT_EQ(by_host[host], want) << host;
  }
}

// The armed hosts' install files carry their reports: the phase at the start,
// the log and done at the end, each unable to fail the install.
TEST(InstallGoldenTest, InstallFilesReportProgressAndCompletion) {
  auto files = RenderFixture(kFixture);
  ASSERT_TRUE(files.ok()) << files.status();
  int checked = 0;
  for (const auto& [key, file] : *files) {
    if (!absl::StrContains(key, "/install/") ||
        absl::EndsWith(key, "/meta-data")) {
      continue;
    }
    ++checked;
    const std::string host = key.substr(0, key.find('/'));
    const std::string report =
        absl::StrCat("http://198.18.0.1:8080/api/v1/hosts/", host);
    for (const std::string& want : {absl::StrCat(report, "/phase' || true"),
                                    absl::StrCat(report, "/log?token="),
                                    absl::StrCat(report, "/done' || true"),
                                    std::string("\"phase\":"
                                                "\"installing\"")}) {
      EXPECT_TRUE(absl::StrContains(file.bytes, want))
          << key << " lacks " << want;
    }
    // The log goes before done: done revokes the token the log needs.
    EXPECT_LT(file.bytes.find(absl::StrCat(report, "/log?token=")),
              file.bytes.find(absl::StrCat(report, "/done")))
        << key;
  }
  EXPECT_EQ(checked, 7);
}

// A profile's template_file naming a value that does not exist: an error that
// names the file, the line and the key (never an empty string in its place).
TEST(InstallGoldenTest, MissingValueNamesTemplateLineAndKey) {
  const std::string dir = ::testing::TempDir();
  const std::string path = absl::StrCat(dir, "/bad-ks.cfg.mustache");
  {
    std::ofstream f(path);
    f << "text\nlang {{locale}}\nrootpw --iscrypted {{root_pasword_hash}}\n"
         "reboot\n";
  }
  const std::string toml = absl::StrCat(
      "[server]\naddress = \"198.18.0.1\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\n"
      "[http]\nlisten = \"0.0.0.0:8080\"\n"
      "[[profile]]\nname = \"rocky9\"\nfamily = \"rhel-kickstart\"\n"
      "kernel = \"rocky9/vmlinuz\"\ntemplate_file = \"",
      path, "\"\n");
  auto site = site::ParseSiteConfig(toml, absl::StrCat(dir, "/site.toml"));
  ASSERT_TRUE(site.ok()) << site.status();
  auto inventory = site::Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:14:00:21,bad,198.18.0.21,rocky9,install\n",
      "inventory.csv");
  ASSERT_TRUE(inventory.ok()) << inventory.status();

  // The error may come when the templates load (if Load renders to check) or
  // when the file is rendered; either way it must say where and what.
  absl::Status error;
  auto templates = InstallTemplates::Load(*site);
  if (!templates.ok()) {
    error = templates.status();
  } else {
    HostRenderInput input;
    input.site = &*site;
    input.host = &inventory->hosts()[0];
    input.profile = site::FindProfile(*site, "rocky9");
    input.armed = true;
    input.token = FixtureToken(0);
    input.http_base = "http://198.18.0.1:8080";
    auto ks = (*templates)->InstallFile(input, "ks.cfg");
    ASSERT_FALSE(ks.ok()) << "rendered with a missing value:\n" << *ks;
    error = ks.status();
  }
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument) << error;
  EXPECT_TRUE(absl::StrContains(error.message(), absl::StrCat(path, ":3")))
      << error;
  EXPECT_TRUE(absl::StrContains(error.message(), "root_pasword_hash")) << error;
}

}  // namespace
}  // namespace rackboot::install
