#include "engine/log/log_text.h"

#include <string>

#include "gtest/gtest.h"

namespace rackboot::log {
namespace {

TEST(LogTextTest, PrintableTextIsUnchanged) {
  EXPECT_EQ(Escaped("pxelinux.cfg/01-52-54-00-12-34-56"),
            "pxelinux.cfg/01-52-54-00-12-34-56");
  EXPECT_EQ(Quoted("boot/vmlinuz"), "\"boot/vmlinuz\"");
}

TEST(LogTextTest, NewlineCannotForgeALogLine) {
  const std::string forged =
      "x\nE1130 07:00:00.000000  1234 rackbootd.cc:1] disarmed";
  const std::string shown = Escaped(forged);
  EXPECT_EQ(shown.find('\n'), std::string::npos);
  EXPECT_EQ(shown,
            "x\\x0aE1130 07:00:00.000000  1234 rackbootd.cc:1] disarmed");
}

TEST(LogTextTest, ControlAndHighBytesAreHex) {
  EXPECT_EQ(Escaped(std::string("\x1b[31mred\r\0\xff", 11)),
            "\\x1b[31mred\\x0d\\x00\\xff");
}

TEST(LogTextTest, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(Quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(LogTextTest, LongTextIsCut) {
  EXPECT_EQ(Escaped(std::string(300, 'a'), 4), "aaaa...");
  EXPECT_EQ(Escaped(std::string(kMaxLoggedText + 1, 'a')).size(),
            kMaxLoggedText + 3);
  EXPECT_EQ(Escaped(std::string(kMaxLoggedText, 'a')).size(), kMaxLoggedText);
}

TEST(LogTextTest, OutputIsAlwaysPrintableAscii) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (unsigned char c : Escaped(all, all.size())) {
    EXPECT_GE(c, 0x20);
    EXPECT_LT(c, 0x7f);
  }
}

}  // namespace
}  // namespace rackboot::log
