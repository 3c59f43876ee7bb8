#include "tools/mirror/directory_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tools/mirror/mirror_path.h"

namespace rackboot::mirror {
namespace {

class DirectorySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(tmp ? tmp : "/tmp", "/dir-XXXXXX");
    ASSERT_NE(mkdtemp(root_.data()), nullptr);
  }
  void Write(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(root_, "/", rel);
    for (size_t p = path.find('/', root_.size() + 1); p != std::string::npos;
         p = path.find('/', p + 1)) {
      mkdir(path.substr(0, p).c_str(), 0755);
    }
    std::ofstream(path) << text;
  }
  std::string root_;
};

TEST_F(DirectorySourceTest, RegularFilesOnlySortedWithSizesAndUrls) {
  Write("b/c/deep.txt", "12345");
  Write("a.txt", "1");
  Write("b/x", "");
  ASSERT_EQ(symlink("/etc/passwd", (root_ + "/passwd").c_str()), 0);
  ASSERT_EQ(symlink("/etc", (root_ + "/b/etc").c_str()), 0);
  ASSERT_EQ(mkfifo((root_ + "/fifo").c_str(), 0600), 0);
  std::vector<std::string> warnings;
  auto entries = ListDirectorySource(root_ + "/", &warnings);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> got;
  for (const DirectoryEntry& e : *entries) {
    got.push_back(absl::StrCat(e.file.path, ":", e.file.size));
    EXPECT_EQ(e.file.url, absl::StrCat(root_, "/", e.file.path));
    EXPECT_TRUE(e.file.sha256.empty());
    EXPECT_GT(e.mtime_ns, 0);
  }
  EXPECT_EQ(absl::StrJoin(got, ","), "a.txt:1,b/c/deep.txt:5,b/x:0");
  EXPECT_EQ(
      absl::StrJoin(warnings, "|"),
      "skipped 2 symlink(s) in the directory source (only regular files "
      "are mirrored)|skipped 1 device/fifo/socket entries in the directory "
      "source");
}

TEST_F(DirectorySourceTest, UnsafeNamesAreSkippedAndWarned) {
  Write("ok", "x");
  Write("bad\nname", "x");
  Write(".rackboot-manifest.json", "{}");
  std::vector<std::string> warnings;
  auto entries = ListDirectorySource(root_, &warnings);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].file.path, "ok");
  ASSERT_EQ(warnings.size(), 2u);
  for (const std::string& w : warnings) {
    EXPECT_EQ(w.find('\n'), std::string::npos) << "escaped: " << w;
  }
}

TEST_F(DirectorySourceTest, DepthIsBounded) {
  std::string rel;
  for (int i = 0; i < kMaxMirrorPathDepth + 3; ++i) {
    absl::StrAppend(&rel, rel.empty() ? "" : "/", "d");
  }
  Write(rel + "/f", "x");
  Write("top", "x");
  std::vector<std::string> warnings;
  auto entries = ListDirectorySource(root_, &warnings);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u) << "the too-deep subtree is not walked";
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("deeper than 32"), std::string::npos)
      << warnings[0];
}

TEST_F(DirectorySourceTest, MissingRootIsNotFound) {
  auto entries = ListDirectorySource(root_ + "/nope", nullptr);
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rackboot::mirror
