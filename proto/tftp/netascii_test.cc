#include "proto/tftp/netascii.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot {
namespace {

using namespace std::string_literals;

absl::Span<const uint8_t> AsBytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

// Every string of length 0..max_length over the bytes that matter to netascii.
std::vector<std::string> AllStrings(size_t max_length) {
  const std::string alphabet = "a\r\n\0"s;
  std::vector<std::string> all = {""};
  for (size_t begin = 0; begin < all.size(); ++begin) {
    if (all[begin].size() == max_length) continue;
    for (char c : alphabet) all.push_back(all[begin] + c);
  }
  return all;
}

// Encodes `data` into blocks of `block_size` the way the engine does: stop
// after the first short block.
std::vector<std::string> EncodeBlocks(const std::string& data,
                                      size_t block_size) {
  NetasciiEncoder encoder;
  std::vector<std::string> blocks;
  size_t offset = 0;
  for (;;) {
    std::string block(block_size, '?');
    NetasciiResult r = encoder.Encode(
        AsBytes(data).subspan(offset),
        absl::MakeSpan(reinterpret_cast<uint8_t*>(block.data()), block.size()));
    offset += r.consumed;
    block.resize(r.produced);
    blocks.push_back(block);
    if (r.produced < block_size) break;
  }
  EXPECT_EQ(offset, data.size());
  EXPECT_FALSE(encoder.has_pending());
  return blocks;
}

// Decodes `wire` fed in chunks of `chunk` bytes into outputs of `out_size`.
std::string DecodeChunks(const std::string& wire, size_t chunk,
                         size_t out_size) {
  NetasciiDecoder decoder;
  std::string data;
  std::string out(out_size, '?');
  auto out_span =
      absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size());
  for (size_t begin = 0; begin < wire.size(); begin += chunk) {
    absl::Span<const uint8_t> in = AsBytes(wire).subspan(begin, chunk);
    while (!in.empty()) {
      NetasciiResult r = decoder.Decode(in, out_span);
      data.append(out, 0, r.produced);
      in.remove_prefix(r.consumed);
    }
  }
  for (;;) {
    const size_t n = decoder.Finish(out_span);
    data.append(out, 0, n);
    if (!decoder.has_pending()) break;
  }
  return data;
}

TEST(NetasciiTest, EncodesLineEndsAndBareCarriageReturns) {
  EXPECT_EQ(ToNetascii("a\nb\rc"), "a\r\nb\r\0c"s);
  EXPECT_EQ(ToNetascii("\r\n"), "\r\0\r\n"s);
  EXPECT_EQ(ToNetascii(""), "");
  EXPECT_EQ(ToNetascii("\0plain"s), "\0plain"s);
}

TEST(NetasciiTest, Decodes) {
  EXPECT_EQ(FromNetascii("a\r\nb\r\0c"s), "a\nb\rc");
  EXPECT_EQ(FromNetascii("\r\0\r\n"s), "\r\n");
}

TEST(NetasciiTest, MalformedCarriageReturnsAreKept) {
  EXPECT_EQ(FromNetascii("a\rb"), "a\rb");
  EXPECT_EQ(FromNetascii("a\r"), "a\r");
  EXPECT_EQ(FromNetascii("\r\r\n"), "\r\n");
  EXPECT_EQ(FromNetascii("\r\r\r"), "\r\r\r");
}

TEST(NetasciiTest, SizeCountsExpansions) {
  EXPECT_EQ(NetasciiSize(AsBytes("")), 0u);
  EXPECT_EQ(NetasciiSize(AsBytes("abc")), 3u);
  EXPECT_EQ(NetasciiSize(AsBytes("a\r\nb\n")), 8u);
}

TEST(NetasciiTest, EncoderFillsEveryBlockAcrossEverySplit) {
  for (const std::string& data : AllStrings(6)) {
    const std::string wire = ToNetascii(data);
    ASSERT_EQ(wire.size(), NetasciiSize(AsBytes(data)));
    ASSERT_EQ(FromNetascii(wire), data);
    for (size_t block_size = 1; block_size <= wire.size() + 1; ++block_size) {
      const std::vector<std::string> blocks = EncodeBlocks(data, block_size);
      std::string joined;
      for (size_t i = 0; i < blocks.size(); ++i) {
        // All blocks but the last are full; the last is short (maybe empty).
        ASSERT_EQ(blocks[i].size() == block_size, i + 1 < blocks.size());
        joined += blocks[i];
      }
      ASSERT_EQ(joined, wire) << "block size " << block_size;
    }
  }
}

TEST(NetasciiTest, DecoderIsIndependentOfChunkingEvenWhenMalformed) {
  for (const std::string& wire : AllStrings(6)) {
    const std::string whole = FromNetascii(wire);
    for (size_t chunk = 1; chunk <= wire.size(); ++chunk) {
      for (size_t out_size = 1; out_size <= 3; ++out_size) {
        ASSERT_EQ(DecodeChunks(wire, chunk, out_size), whole)
            << "chunk " << chunk << " out " << out_size;
      }
    }
  }
}

TEST(NetasciiTest, DecodeOfEncodeIsIdentityAcrossBlocks) {
  for (const std::string& data : AllStrings(6)) {
    for (size_t block_size = 1; block_size <= 4; ++block_size) {
      std::string wire;
      for (const std::string& block : EncodeBlocks(data, block_size)) {
        wire += block;
      }
      ASSERT_EQ(DecodeChunks(wire, block_size, block_size + 1), data);
    }
  }
}

TEST(NetasciiTest, DecoderTakesAWholeBlockWithOneSpareByte) {
  // A CR held from the previous block plus a block of bytes.
  NetasciiDecoder decoder;
  uint8_t out[8];
  const std::string first = "ab\r";
  NetasciiResult r = decoder.Decode(AsBytes(first), out);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(r.produced, 2u);
  EXPECT_TRUE(decoder.has_pending());
  const std::string second = "xyz";  // Malformed: the held CR is kept.
  r = decoder.Decode(AsBytes(second), absl::MakeSpan(out, 4));
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(std::string(out, out + r.produced), "\rxyz");
}

}  // namespace
}  // namespace rackboot
