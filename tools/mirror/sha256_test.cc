#include "tools/mirror/sha256.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace rackboot::mirror {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsWholeAndFile) {
  std::string data(3 << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>(i);
  Sha256Hasher hasher;
  hasher.Update(absl::string_view(data).substr(0, 12345));
  hasher.Update(absl::string_view(data).substr(12345));
  std::string whole = Sha256Hex(data);
  EXPECT_EQ(hasher.HexDigest(), whole);
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/f";
  std::ofstream(path, std::ios::binary) << data;
  auto from_file = Sha256OfFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(*from_file, whole);
  EXPECT_TRUE(IsSha256Hex(whole));
  EXPECT_FALSE(IsSha256Hex("ABC"));
  EXPECT_FALSE(Sha256OfFile(path + ".missing").ok());
}

}  // namespace
}  // namespace rackboot::mirror
