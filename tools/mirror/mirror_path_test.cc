#include "tools/mirror/mirror_path.h"

#include <string>

#include "gtest/gtest.h"

namespace rackboot::mirror {
namespace {

TEST(CheckMirrorPathTest, AcceptsArchivePaths) {
  EXPECT_TRUE(CheckMirrorPath("pool/main/h/hello/hello_2.10-3_amd64.deb").ok());
  EXPECT_TRUE(CheckMirrorPath("dists/bookworm/InRelease").ok());
  EXPECT_TRUE(CheckMirrorPath(".treeinfo").ok());
  EXPECT_TRUE(CheckMirrorPath(".disk/info").ok());
  EXPECT_TRUE(CheckMirrorPath("Packages/a/a+b~1:2.rpm").ok());
}

TEST(CheckMirrorPathTest, RefusesEscapesAndOddBytes) {
  for (const char* bad :
       {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/",
        "a\\..\\b", ".rackboot-manifest", "x/.rackboot-staging/y"}) {
    EXPECT_FALSE(CheckMirrorPath(bad).ok()) << bad;
  }
  EXPECT_FALSE(CheckMirrorPath(std::string("a\nb")).ok());
  EXPECT_FALSE(CheckMirrorPath(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(CheckMirrorPath("a\x7f").ok());
}

TEST(CheckMirrorPathTest, BoundsLengthAndDepth) {
  EXPECT_TRUE(CheckMirrorPath(std::string(255, 'a')).ok());
  EXPECT_FALSE(CheckMirrorPath(std::string(256, 'a')).ok());
  std::string deep;
  for (int i = 0; i < kMaxMirrorPathDepth; ++i) deep += "d/";
  deep.pop_back();
  EXPECT_TRUE(CheckMirrorPath(deep).ok());
  EXPECT_FALSE(CheckMirrorPath(deep + "/x").ok());
  std::string longest;
  while (longest.size() + 11 <= kMaxMirrorPathBytes) longest += "abcdefghij/";
  EXPECT_FALSE(CheckMirrorPath(longest + std::string(200, 'b')).ok());
}

}  // namespace
}  // namespace rackboot::mirror
