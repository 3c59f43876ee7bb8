// CheckSiteFiles: issue 11 item 6. Before it, each of these configurations
// started and served nothing useful (a missing boot file, a path out of the
// root) without a word, or named no line.
#include "engine/site/site_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

class SiteFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/site_files_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/tftp/rocky9");
    std::filesystem::create_directories(dir_ + "/tftp/dir");
    for (const char* f :
         {"pxelinux.0", "grubx64.efi", "rocky9/vmlinuz", "rocky9/initrd.img"}) {
      std::ofstream(dir_ + "/tftp/" + f) << "x";
    }
    std::ofstream(dir_ + "/secret") << "x";
    std::filesystem::create_symlink("../secret", dir_ + "/tftp/out");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // site.toml with the root and `boot` (a [boot] body) and a profile whose
  // kernel/initrd are given.
  absl::Status Check(const std::string& root, const std::string& boot,
                     const std::string& kernel = "rocky9/vmlinuz",
                     const std::string& initrd = "rocky9/initrd.img") {
    const std::string text =
        absl::StrCat("[tftp]\nroot = \"", root, "\"\n",  // line 2
                     "[boot]\n", boot,                   // lines 4, 5, ...
                     "\n[[profile]]\nname = \"rocky9\"\nkernel = \"", kernel,
                     "\"\ninitrd = \"", initrd, "\"\n");
    absl::StatusOr<SiteConfig> site =
        ParseSiteConfig(text, dir_ + "/site.toml");
    EXPECT_TRUE(site.ok()) << site.status();
    if (!site.ok()) return site.status();
    return CheckSiteFiles(*site);
  }

  std::string dir_;
};

TEST_F(SiteFilesTest, AllPresentIsFine) {
  EXPECT_TRUE(Check("tftp",
                    "bios = \"pxelinux.0\"\nuefi_x64 = "
                    "\"/grubx64.efi\"\nipxe_script = \"http://x/y\"")
                  .ok());
  // An absolute name under the root is the root-relative file.
  EXPECT_TRUE(
      Check(dir_ + "/tftp", "bios = \"" + dir_ + "/tftp/pxelinux.0\"").ok());
  // No root: the files are served elsewhere and not checked.
  EXPECT_TRUE(ParseSiteConfig("[boot]\nbios = \"nope\"\n", "site.toml").ok());
  EXPECT_TRUE(
      CheckSiteFiles(*ParseSiteConfig("[boot]\nbios = \"nope\"\n", "site.toml"))
          .ok());
}

TEST_F(SiteFilesTest, MissingRootNamesItsLine) {
  absl::Status s = Check("nonexistent", "bios = \"pxelinux.0\"");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(absl::StrCat(dir_, "/site.toml:2: tftp.root: \"",
                                          dir_, "/nonexistent\": cannot open")),
            std::string::npos)
      << s;
  // A file is not a root either.
  s = Check("tftp/pxelinux.0", "");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("site.toml:2: tftp.root:"), std::string::npos)
      << s;
}

TEST_F(SiteFilesTest, MissingBootFilesNameTheirLines) {
  absl::Status s = Check("tftp",
                         "bios = \"pxelinux.0\"\n"       // line 4
                         "uefi_x64 = \"bootx64.efi\"\n"  // line 5
                         "arm64 = \"dir\"\n"             // line 6
                         "ipxe_script = \"boot.ipxe\"",  // line 7
                         "rocky9/vmlinuz", "rocky9/initrd.gz");
  ASSERT_FALSE(s.ok());
  const std::string root = std::filesystem::canonical(dir_ + "/tftp");
  for (const std::string& want :
       {absl::StrCat(dir_,
                     "/site.toml:5: boot.uefi_x64: \"bootx64.efi\": "
                     "not found in tftp.root ",
                     root, " (", dir_, "/site.toml:2: tftp.root)"),
        absl::StrCat(dir_,
                     "/site.toml:6: boot.arm64: \"dir\": not a regular "
                     "file in tftp.root"),
        absl::StrCat(dir_,
                     "/site.toml:7: boot.ipxe_script: \"boot.ipxe\": not "
                     "found"),
        absl::StrCat(dir_,
                     "/site.toml:11: profile[0].initrd: "
                     "\"rocky9/initrd.gz\": not found")}) {
    EXPECT_NE(s.message().find(want), std::string::npos)
        << "want: " << want << "\ngot: " << s;
  }
  EXPECT_EQ(s.message().find("boot.bios"), std::string::npos) << s;
}

TEST_F(SiteFilesTest, PathsLeavingTheRootAreErrors) {
  for (std::string name : {"../secret", "rocky9/../../secret", "out"}) {
    absl::Status s = Check("tftp", "bios = \"" + name + "\"");
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find("site.toml:4: boot.bios: \"" + name +
                               "\": leads outside tftp.root"),
              std::string::npos)
        << s;
  }
  absl::Status s = Check("tftp", "", "/etc/passwd");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("site.toml:7: profile[0].kernel: "
                             "\"/etc/passwd\": not found in tftp.root"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("an absolute path outside tftp.root is not "
                             "served"),
            std::string::npos)
      << s;
}

TEST_F(SiteFilesTest, RootFromTheCommandLineIsNamedSo) {
  absl::StatusOr<SiteConfig> site =
      ParseSiteConfig("[boot]\nbios = \"nope\"\n", dir_ + "/site.toml");
  ASSERT_TRUE(site.ok());
  site->tftp.root = dir_ + "/tftp";  // as --tftp_root sets it
  absl::Status s = CheckSiteFiles(*site);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("site.toml:2: boot.bios: \"nope\": not found in "
                             "tftp.root "),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("(--tftp_root)"), std::string::npos) << s;
}

// [http] repo_root: checked only when HTTP listens, named by its line or by
// the flag that gave it.
TEST_F(SiteFilesTest, RepoRootMustOpenWhenHttpServesIt) {
  const std::string text =
      "[http]\nlisten = \"127.0.0.1:8080\"\nrepo_root = \"nonexistent\"\n";
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(text, dir_ + "/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::Status s = CheckSiteFiles(*site);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(absl::StrCat(
                dir_, "/site.toml:3: http.repo_root: \"", dir_,
                "/nonexistent\": cannot open the repository root")),
            std::string::npos)
      << s;
  site->key_lines.erase("http.repo_root");  // as --http_repo_root does
  s = CheckSiteFiles(*site);
  EXPECT_NE(s.message().find("--http_repo_root: "), std::string::npos) << s;
  site->http.repo_root = dir_ + "/tftp";
  EXPECT_TRUE(CheckSiteFiles(*site).ok());
  // HTTP off: not checked.
  site->http.listen.clear();
  site->http.repo_root = dir_ + "/nonexistent";
  EXPECT_TRUE(CheckSiteFiles(*site).ok());
}

}  // namespace
}  // namespace rackboot::site
