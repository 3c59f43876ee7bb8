#include "proto/tftp/tftp_options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<TftpRequestedOptions> ParseOne(const std::string& name,
                                              const std::string& value) {
  const std::vector<TftpOption> options = {{name, value}};
  return ParseRequestedOptions(options);
}

void ExpectError(const std::string& name, const std::string& value,
                 absl::string_view message) {
  absl::StatusOr<TftpRequestedOptions> parsed = ParseOne(name, value);
  ASSERT_FALSE(parsed.ok()) << name << "=" << value;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(message));
}

TEST(TftpOptionsTest, ParsesKnownOptions) {
  const std::vector<TftpOption> options = {{"blksize", "1428"},
                                           {"tsize", "0"},
                                           {"timeout", "3"},
                                           {"windowsize", "16"}};
  absl::StatusOr<TftpRequestedOptions> parsed = ParseRequestedOptions(options);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->blksize, 1428);
  EXPECT_EQ(parsed->tsize, 0u);
  EXPECT_EQ(parsed->timeout_seconds, 3);
  EXPECT_EQ(parsed->windowsize, 16);
  EXPECT_TRUE(parsed->ignored.empty());
}

TEST(TftpOptionsTest, AbsentOptionsStayUnset) {
  absl::StatusOr<TftpRequestedOptions> parsed = ParseRequestedOptions({});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, TftpRequestedOptions{});
}

TEST(TftpOptionsTest, NamesAreCaseInsensitive) {
  const std::vector<TftpOption> options = {{"BLKSIZE", "512"},
                                           {"WindowSize", "4"},
                                           {"TSize", "42"},
                                           {"TimeOut", "1"}};
  absl::StatusOr<TftpRequestedOptions> parsed = ParseRequestedOptions(options);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->blksize, 512);
  EXPECT_EQ(parsed->windowsize, 4);
  EXPECT_EQ(parsed->tsize, 42u);
  EXPECT_EQ(parsed->timeout_seconds, 1);
}

TEST(TftpOptionsTest, UnknownOptionsAreIgnored) {
  const std::vector<TftpOption> options = {
      {"multicast", ""}, {"blksize", "1024"}, {"Rollover", "0"}};
  absl::StatusOr<TftpRequestedOptions> parsed = ParseRequestedOptions(options);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->blksize, 1024);
  EXPECT_EQ(parsed->ignored,
            (std::vector<std::string>{"multicast", "Rollover"}));
}

TEST(TftpOptionsTest, RangeBoundsAreInclusive) {
  EXPECT_EQ(ParseOne("blksize", "8")->blksize, 8);
  EXPECT_EQ(ParseOne("blksize", "65464")->blksize, 65464);
  EXPECT_EQ(ParseOne("blksize", "0001428")->blksize, 1428);
  EXPECT_EQ(ParseOne("timeout", "255")->timeout_seconds, 255);
  EXPECT_EQ(ParseOne("windowsize", "1")->windowsize, 1);
  EXPECT_EQ(ParseOne("windowsize", "65535")->windowsize, 65535);
  EXPECT_EQ(ParseOne("tsize", "18446744073709551615")->tsize, UINT64_MAX);
}

TEST(TftpOptionsTest, RejectsBadValues) {
  ExpectError("blksize", "0", "blksize 0 out of range 8..65464");
  ExpectError("blksize", "7", "blksize 7 out of range 8..65464");
  ExpectError("blksize", "65465", "blksize 65465 out of range 8..65464");
  ExpectError("blksize", "70000", "blksize 70000 out of range 8..65464");
  ExpectError("BLKSIZE", "70000", "blksize 70000 out of range 8..65464");
  ExpectError("blksize", "99999999999999999999",
              "blksize 99999999999999999999 out of range 8..65464");
  ExpectError("blksize", "abc", "blksize \"abc\" is not a decimal number");
  ExpectError("blksize", "", "blksize has an empty value");
  ExpectError("blksize", "-5", "blksize \"-5\" is not a decimal number");
  ExpectError("blksize", "+5", "blksize \"+5\" is not a decimal number");
  ExpectError("blksize", " 512", "blksize \" 512\" is not a decimal number");
  ExpectError("blksize", "0x200", "blksize \"0x200\" is not a decimal number");
  ExpectError("blksize", "000000000000000000001",  // 21 digits
              "is not a decimal number");
  ExpectError("timeout", "0", "timeout 0 out of range 1..255");
  ExpectError("timeout", "256", "timeout 256 out of range 1..255");
  ExpectError("windowsize", "0", "windowsize 0 out of range 1..65535");
  ExpectError("windowsize", "65536", "windowsize 65536 out of range 1..65535");
  ExpectError("tsize", "18446744073709551616",
              "tsize 18446744073709551616 out of range");
  ExpectError("tsize", "99999999999999999999", "tsize 99999999999999999999");
  ExpectError("tsize", "1e6", "tsize \"1e6\" is not a decimal number");
}

TEST(TftpOptionsTest, PerOptionParsingLetsTheCallerSkipBadOnes) {
  const std::vector<TftpOption> options = {
      {"blksize", "4"}, {"tsize", "0"}, {"windowsize", "8"}};
  EXPECT_FALSE(ParseRequestedOptions(options).ok());
  TftpRequestedOptions out;
  int failures = 0;
  for (const TftpOption& option : options) {
    if (!ParseRequestedOption(option, out).ok()) ++failures;
  }
  EXPECT_EQ(failures, 1);
  EXPECT_FALSE(out.blksize.has_value());
  EXPECT_EQ(out.tsize, 0u);
  EXPECT_EQ(out.windowsize, 8);
}

}  // namespace
}  // namespace rackboot
