#include "engine/log/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace rackboot::log {
namespace {

using std::string_literals::operator""s;

TEST(Utf8Test, SequenceLengthAtEachBoundary) {
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("a"), 0u);             // ASCII is the caller's
  EXPECT_EQ(Utf8SequenceLength("\xc2\x80"), 2u);      // U+0080
  EXPECT_EQ(Utf8SequenceLength("\xdf\xbf"), 2u);      // U+07FF
  EXPECT_EQ(Utf8SequenceLength("\xe0\xa0\x80"), 3u);  // U+0800
  EXPECT_EQ(Utf8SequenceLength("\xed\x9f\xbf"), 3u);  // U+D7FF
  EXPECT_EQ(Utf8SequenceLength("\xee\x80\x80"), 3u);  // U+E000
  EXPECT_EQ(Utf8SequenceLength("\xef\xbf\xbf"), 3u);  // U+FFFF
  EXPECT_EQ(Utf8SequenceLength("\xf0\x90\x80\x80"), 4u);  // U+10000
  EXPECT_EQ(Utf8SequenceLength("\xf4\x8f\xbf\xbf"), 4u);  // U+10FFFF
  // Only the first sequence counts.
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9tc"), 2u);
}

TEST(Utf8Test, RefusesWhatRfc3629Forbids) {
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);              // stray continuation
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xc1\xbf"), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xe0\x9f\xbf"), 0u);      // overlong U+07FF
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80"), 0u);      // surrogate U+D800
  EXPECT_EQ(Utf8SequenceLength("\xed\xbf\xbf"), 0u);      // surrogate U+DFFF
  EXPECT_EQ(Utf8SequenceLength("\xf0\x8f\xbf\xbf"), 0u);  // overlong U+FFFF
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80"), 0u);  // U+110000
  EXPECT_EQ(Utf8SequenceLength("\xf5\x80\x80\x80"), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xff"), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82"), 0u);          // truncated
  EXPECT_EQ(Utf8SequenceLength("\xe2\x28\xa1"), 0u);      // bad continuation
  EXPECT_EQ(Utf8SequenceLength("\xf0\x90\x80\x7f"), 0u);  // bad last byte
}

TEST(Utf8Test, WholeStrings) {
  EXPECT_TRUE(IsWellFormedUtf8(""));
  EXPECT_TRUE(IsWellFormedUtf8("pxelinux.cfg/01-52-54-00-12-34-56"));
  EXPECT_TRUE(IsWellFormedUtf8("caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x90\xa7"));
  EXPECT_TRUE(IsWellFormedUtf8("a\0b"s));  // NUL is ASCII; callers refuse it
  EXPECT_FALSE(IsWellFormedUtf8("boot/\xc0\xae\xc0\xae/etc"));
  EXPECT_FALSE(IsWellFormedUtf8("trailing \xc3"));
  EXPECT_FALSE(IsWellFormedUtf8("\xed\xa0\x80\xed\xb0\x80"));  // CESU-8 pair
}

}  // namespace
}  // namespace rackboot::log
