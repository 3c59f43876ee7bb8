#include "engine/log/journal_format.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace rackboot::log {
namespace {

using namespace std::string_literals;

// What a record must be whatever the message: "<N>", one line ending in its
// only newline, no NUL, no control byte, valid UTF-8, at most `max` bytes.
void ExpectOneSafeLine(const std::string& record, size_t max) {
  ASSERT_GE(record.size(), 4u);
  EXPECT_LE(record.size(), max);
  EXPECT_EQ(record[0], '<');
  EXPECT_EQ(record[2], '>');
  EXPECT_EQ(record.find('\n'), record.size() - 1) << record;
  for (size_t i = 0; i + 1 < record.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(record[i]);
    EXPECT_FALSE(c < 0x20 || c == 0x7f) << "byte " << i << " of " << record;
  }
}

TEST(JournalFormatTest, EverySeverityHasItsSyslogPriority) {
  EXPECT_EQ(JournalRecord(0, "info"), "<6>info\n");
  EXPECT_EQ(JournalRecord(1, "warning"), "<4>warning\n");
  EXPECT_EQ(JournalRecord(2, "error"), "<3>error\n");
  EXPECT_EQ(JournalRecord(3, "fatal"), "<2>fatal\n");
  // Out of glog's range: clamped, never a priority digit outside 0..7.
  EXPECT_EQ(JournalRecord(-1, "x"), "<6>x\n");
  EXPECT_EQ(JournalRecord(4, "x"), "<2>x\n");
  EXPECT_EQ(JournalRecord(1000, "x"), "<2>x\n");
  EXPECT_EQ(SyslogPriority(0), 6);
  EXPECT_EQ(SyslogPriority(1), 4);
  EXPECT_EQ(SyslogPriority(2), 3);
  EXPECT_EQ(SyslogPriority(3), 2);
}

TEST(JournalFormatTest, EmptyMessage) {
  EXPECT_EQ(JournalRecord(0, ""), "<6>\n");
}

TEST(JournalFormatTest, AppendsToWhatIsThere) {
  std::string out = "<6>first\n";
  AppendJournalRecord(2, "second", &out);
  EXPECT_EQ(out, "<6>first\n<3>second\n");
}

// A newline cannot start a record of its own, with a priority of its choice.
TEST(JournalFormatTest, NewlinesCannotForgeARecord) {
  EXPECT_EQ(JournalRecord(0, "lease ok\n<2>forged critical"),
            "<6>lease ok\\n<2>forged critical\n");
  EXPECT_EQ(JournalRecord(2, "configuration error:\na\r\nb\tc"),
            "<3>configuration error:\\na\\r\\nb\\tc\n");
  EXPECT_EQ(JournalRecord(0, "\n\n\n"), "<6>\\n\\n\\n\n");
}

// journald ends a line at a NUL too.
TEST(JournalFormatTest, NulAndOtherControlsAreEscaped) {
  EXPECT_EQ(JournalRecord(0, "a\0<3>b"s), "<6>a\\x00<3>b\n");
  EXPECT_EQ(JournalRecord(0, "\x1b[31mred\x7f\x01"),
            "<6>\\x1b[31mred\\x7f\\x01\n");
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  ExpectOneSafeLine(JournalRecord(0, all), kMaxJournalRecord);
}

// A message starting with its own "<N>" stays text: journald reads only the
// first prefix.
TEST(JournalFormatTest, PriorityInTheMessageIsText) {
  EXPECT_EQ(JournalRecord(0, "<0>emergency?"), "<6><0>emergency?\n");
}

TEST(JournalFormatTest, BackslashIsKept) {
  EXPECT_EQ(JournalRecord(0, R"(C:\boot \x41 "q")"), R"(<6>C:\boot \x41 "q")"
                                                     "\n");
}

TEST(JournalFormatTest, ValidUtf8IsKept) {
  // 2, 3 and 4-byte sequences, the boundaries included.
  const std::string text =
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80 \xc2\xa0 \xed\x9f\xbf "
      "\xef\xbf\xbf \xf4\x8f\xbf\xbf";
  EXPECT_EQ(JournalRecord(0, text), absl::StrCat("<6>", text, "\n"));
}

// journald would store a message that is not UTF-8 as a blob, which
// journalctl does not show: such bytes are escaped, one by one.
TEST(JournalFormatTest, InvalidUtf8IsEscapedBytewise) {
  EXPECT_EQ(JournalRecord(0,
                          "a\xff"
                          "b"),
            "<6>a\\xffb\n");
  EXPECT_EQ(JournalRecord(0, "\x80\xbf"), "<6>\\x80\\xbf\n");  // continuations
  EXPECT_EQ(JournalRecord(0, "\xc0\xaf"), "<6>\\xc0\\xaf\n");  // overlong '/'
  EXPECT_EQ(JournalRecord(0, "\xe0\x80\xaf"), "<6>\\xe0\\x80\\xaf\n");
  EXPECT_EQ(JournalRecord(0, "\xed\xa0\x80"),  // a surrogate
            "<6>\\xed\\xa0\\x80\n");
  EXPECT_EQ(JournalRecord(0, "\xf4\x90\x80\x80"),  // above U+10FFFF
            "<6>\\xf4\\x90\\x80\\x80\n");
  EXPECT_EQ(JournalRecord(0, "\xf5\x80"), "<6>\\xf5\\x80\n");
  // A sequence cut short by the end of the message, or by a new character.
  EXPECT_EQ(JournalRecord(0, "x\xe2\x82"), "<6>x\\xe2\\x82\n");
  EXPECT_EQ(JournalRecord(0,
                          "\xe2"
                          "A\xc3\xa9"),
            "<6>\\xe2A\xc3\xa9\n");
}

// C1 controls are valid UTF-8 but U+009B is a terminal's CSI.
TEST(JournalFormatTest, C1ControlsAreEscaped) {
  EXPECT_EQ(JournalRecord(0,
                          "\xc2\x9b"
                          "31m \xc2\x85"),
            "<6>\\xc2\\x9b31m \\xc2\\x85\n");
  EXPECT_EQ(JournalRecord(0, "\xc2\x9f\xc2\xa0"), "<6>\\xc2\\x9f\xc2\xa0\n");
}

TEST(JournalFormatTest, AMessageThatFitsExactlyIsNotCut) {
  const std::string text(kMaxJournalRecord - 4, 'a');
  const std::string record = JournalRecord(0, text);
  EXPECT_EQ(record, absl::StrCat("<6>", text, "\n"));
  EXPECT_EQ(record.size(), kMaxJournalRecord);
}

TEST(JournalFormatTest, OneByteTooLongIsCutWithAMarker) {
  const std::string text(kMaxJournalRecord - 3, 'a');
  const std::string record = JournalRecord(0, text);
  ExpectOneSafeLine(record, kMaxJournalRecord);
  EXPECT_EQ(record.size(), kMaxJournalRecord);
  EXPECT_NE(record.find(absl::StrCat(" ...[cut: message of ", text.size(),
                                     " bytes]\n")),
            std::string::npos)
      << record;
}

// Fits in bytes, but not once escaped.
TEST(JournalFormatTest, EscapingThatOverflowsIsCut) {
  const std::string text(1000, '\0');  // 4000 bytes escaped, 1000 given
  const std::string record = JournalRecord(1, text, 1024);
  ExpectOneSafeLine(record, 1024);
  EXPECT_EQ(record.rfind(" ...[cut: message of 1000 bytes]\n"),
            record.size() - 33);
  // Whole escapes only: what precedes the marker is a run of "\x00".
  const std::string body = record.substr(3, record.size() - 3 - 33);
  EXPECT_EQ(body.size() % 4, 0u);
  for (size_t i = 0; i < body.size(); i += 4) {
    ASSERT_EQ(body.substr(i, 4), "\\x00") << i;
  }
}

TEST(JournalFormatTest, AOneMebibyteMessageIsCutToTheBound) {
  std::string text(size_t{1} << 20, 'x');
  text[5000] = '\n';  // beyond the cut: never reached
  const std::string record = JournalRecord(2, text);
  ExpectOneSafeLine(record, kMaxJournalRecord);
  EXPECT_EQ(record.substr(0, 8), "<3>xxxxx");
  EXPECT_NE(record.find("[cut: message of 1048576 bytes]"), std::string::npos);
  EXPECT_GE(record.size(), kMaxJournalRecord - 4);  // the room is used
}

// The cut never splits a UTF-8 sequence or an escape.
TEST(JournalFormatTest, CutKeepsCharactersWhole) {
  for (size_t max = kMinJournalRecord; max < 200; ++max) {
    std::string text;
    for (int i = 0; i < 100; ++i) text += "\xe2\x82\xac\x01";  // euro, \x01
    const std::string record = JournalRecord(0, text, max);
    ExpectOneSafeLine(record, max);
    const std::string body = record.substr(3, record.find(" ...[cut") - 3);
    size_t i = 0;
    while (i < body.size()) {
      if (body.compare(i, 3, "\xe2\x82\xac") == 0) {
        i += 3;
      } else {
        ASSERT_EQ(body.substr(i, 4), "\\x01") << "max " << max << ": " << body;
        i += 4;
      }
    }
  }
}

TEST(JournalFormatTest, TinyBoundsCountAsTheMinimum) {
  const std::string text(500, 'y');
  EXPECT_EQ(JournalRecord(0, text, 0).size(), kMinJournalRecord);
  EXPECT_EQ(JournalRecord(0, text, 10).size(), kMinJournalRecord);
  ExpectOneSafeLine(JournalRecord(0, text, 0), kMinJournalRecord);
  // The longest marker (a 20-digit size) still fits the minimum.
  const std::string marker =
      absl::StrCat(" ...[cut: message of ", ~uint64_t{0}, " bytes]");
  EXPECT_LE(3 + marker.size() + 1, kMinJournalRecord);
}

}  // namespace
}  // namespace rackboot::log
