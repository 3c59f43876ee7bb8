#include "proto/tftp/tftp_packet.h"

#include <array>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot {
namespace {

using ::testing::HasSubstr;
using namespace std::string_literals;

absl::Span<const uint8_t> AsBytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

absl::StatusOr<TftpPacket> Parse(const std::string& datagram) {
  return ParseTftpPacket(AsBytes(datagram));
}

// Writes `packet`, checks the bytes against `wire` when given, parses them back
// and checks the result equals `packet`.
void ExpectRoundTrip(const TftpPacket& packet, const std::string& wire = "") {
  std::vector<uint8_t> buffer(70000);
  absl::StatusOr<size_t> size = WriteTftpPacket(packet, absl::MakeSpan(buffer));
  ASSERT_TRUE(size.ok()) << size.status();
  buffer.resize(*size);
  if (!wire.empty()) {
    EXPECT_EQ(std::string(buffer.begin(), buffer.end()), wire);
  }
  absl::StatusOr<TftpPacket> parsed = ParseTftpPacket(buffer);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(*parsed == packet);
}

void ExpectError(const std::string& datagram, absl::string_view substring) {
  absl::StatusOr<TftpPacket> parsed = Parse(datagram);
  ASSERT_FALSE(parsed.ok()) << "parsed " << datagram.size() << " bytes";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(substring));
}

const std::string kRrqWithOptions =
    "\0\1pxelinux.0\0octet\0blksize\0001428\0tsize\0000\0windowsize\0004\0"s;

TEST(TftpPacketTest, ParsesRrqWithOptions) {
  absl::StatusOr<TftpPacket> parsed = Parse(kRrqWithOptions);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& request = std::get<TftpRequest>(*parsed);
  EXPECT_FALSE(request.write);
  EXPECT_EQ(request.filename, "pxelinux.0");
  EXPECT_EQ(request.mode, TftpMode::kOctet);
  EXPECT_EQ(request.options,
            (std::vector<TftpOption>{
                {"blksize", "1428"}, {"tsize", "0"}, {"windowsize", "4"}}));
}

TEST(TftpPacketTest, RoundTripsEveryPacketType) {
  ExpectRoundTrip(
      TftpRequest{false,
                  "pxelinux.0",
                  TftpMode::kOctet,
                  {{"blksize", "1428"}, {"tsize", "0"}, {"windowsize", "4"}}},
      kRrqWithOptions);
  ExpectRoundTrip(TftpRequest{true, "upload/log.txt", TftpMode::kNetascii, {}},
                  "\0\2upload/log.txt\0netascii\0"s);
  ExpectRoundTrip(TftpAck{0}, "\0\4\0\0"s);
  ExpectRoundTrip(TftpAck{65535}, "\0\4\xff\xff"s);
  ExpectRoundTrip(TftpError{1, "File not found"}, "\0\5\0\1File not found\0"s);
  ExpectRoundTrip(TftpError{0, ""}, "\0\5\0\0\0"s);
  ExpectRoundTrip(TftpOack{{{"BLKSIZE", "1428"}, {"tsize", "123456"}}},
                  "\0\6BLKSIZE\0001428\0tsize\000123456\0"s);
  ExpectRoundTrip(TftpOack{});

  const std::string payload = "hello";
  ExpectRoundTrip(TftpData{7, AsBytes(payload)}, "\0\3\0\7hello"s);
  ExpectRoundTrip(TftpData{1, {}}, "\0\3\0\1"s);
  std::vector<uint8_t> big(kTftpMaxBlockSize, 0xab);
  ExpectRoundTrip(TftpData{65535, big});
}

TEST(TftpPacketTest, DataPayloadBorrowsFromTheDatagram) {
  const std::string datagram = "\0\3\1\2abc"s;
  absl::StatusOr<TftpPacket> parsed = Parse(datagram);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& data = std::get<TftpData>(*parsed);
  EXPECT_EQ(data.block, 0x0102);
  EXPECT_EQ(data.payload.data(),
            reinterpret_cast<const uint8_t*>(datagram.data()) + 4);
  EXPECT_EQ(data.payload.size(), 3u);
}

TEST(TftpPacketTest, ModeAndOptionNamesAreCaseInsensitive) {
  absl::StatusOr<TftpPacket> parsed =
      Parse("\0\1f\0OCTET\0BLKSIZE\0001024\0WindowSize\0008\0"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& request = std::get<TftpRequest>(*parsed);
  EXPECT_EQ(request.mode, TftpMode::kOctet);
  // The client's spelling is kept, for the OACK to echo.
  EXPECT_EQ(request.options[0].name, "BLKSIZE");
  EXPECT_EQ(request.options[1].name, "WindowSize");

  parsed = Parse("\0\2f\0NetAscii\0"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TftpRequest>(*parsed).mode, TftpMode::kNetascii);

  ExpectError("\0\1f\0octet\0blksize\0001024\0BlkSize\000512\0"s,
              "duplicate option \"BlkSize\"");
}

TEST(TftpPacketTest, LenientWhereDocumented) {
  // ACK with trailing bytes: ignored.
  absl::StatusOr<TftpPacket> parsed = Parse("\0\4\0\x09pad"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TftpAck>(*parsed).block, 9);

  // ERROR without its final NUL, and with bytes after the NUL.
  parsed = Parse("\0\5\0\2Access violation"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TftpError>(*parsed), (TftpError{2, "Access violation"}));
  parsed = Parse("\0\5\0\x08no\0junk"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TftpError>(*parsed), (TftpError{8, "no"}));
  parsed = Parse("\0\5\0\x63"s);  // Empty message, code above 8 kept.
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TftpError>(*parsed), (TftpError{99, ""}));

  // NUL padding after the options.
  parsed = Parse("\0\1f\0octet\0tsize\0000\0\0\0\0"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TftpRequest>(*parsed).options.size(), 1u);
}

TEST(TftpPacketTest, RejectsBadInput) {
  ExpectError("", "empty datagram");
  ExpectError("\0"s, "1-byte datagram");
  ExpectError("\0\0"s, "unknown opcode 0");
  ExpectError("\0\7\0\1"s, "unknown opcode 7");
  ExpectError("\xff\xff"s, "unknown opcode 65535");

  ExpectError("\0\1"s, "RRQ: file name not NUL-terminated");
  ExpectError("\0\1pxelinux.0"s, "RRQ: file name not NUL-terminated");
  ExpectError("\0\2pxelinux.0"s, "WRQ: file name not NUL-terminated");
  ExpectError("\0\1\0octet\0"s, "RRQ: empty file name");
  ExpectError("\0\1pxelinux.0\0"s, "RRQ: missing mode");
  ExpectError("\0\1pxelinux.0\0octet"s, "RRQ: mode not NUL-terminated");
  ExpectError("\0\1f\0mail\0"s, "RRQ: mode \"mail\" not supported");
  ExpectError("\0\1f\0binary\0"s, "RRQ: unknown mode \"binary\"");
  ExpectError("\0\1f\0octet\0blksize\0"s,
              "RRQ: option \"blksize\" has no value");
  ExpectError("\0\1f\0octet\0blksize"s,
              "RRQ: option name \"blksize\" not NUL-terminated");
  ExpectError("\0\1f\0octet\0blksize\0001428"s,
              "RRQ: value of option \"blksize\" not NUL-terminated");
  ExpectError("\0\1f\0octet\0\0tsize\0000\0"s, "RRQ: empty option name");
  ExpectError("\0\1f\0octet\0tsize\0000\0TSIZE\0001\0"s,
              "RRQ: duplicate option \"TSIZE\"");

  ExpectError("\0\3\0"s, "DATA: 3 bytes");
  ExpectError("\0\3\0\1"s + std::string(kTftpMaxBlockSize + 1, 'x'),
              "DATA: payload of 65465 bytes exceeds 65464");
  ExpectError("\0\4\0"s, "ACK: 3 bytes, shorter than 4");
  ExpectError("\0\4"s, "ACK: 2 bytes");
  ExpectError("\0\5\0"s, "ERROR: 3 bytes");
  ExpectError("\0\6blksize\0"s, "OACK: option \"blksize\" has no value");
  ExpectError("\0\6x\0001\0X\0002\0"s, "OACK: duplicate option \"X\"");
}

TEST(TftpPacketTest, BoundsFileNameAndOptionCount) {
  const std::string long_name(64 * 1024, 'a');
  ExpectError("\0\1"s + long_name + "\0octet\0"s,
              "RRQ: file name of 65536 bytes exceeds 512");
  ExpectError("\0\1"s + long_name, "RRQ: file name not NUL-terminated");
  // Binary garbage in an error message is escaped and cut short.
  absl::StatusOr<TftpPacket> parsed =
      Parse("\0\1f\0"s + std::string(1000, '\x80') + "\0"s);
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.status().message().size(), 400u);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("\\x80..."));

  const std::string name_512(kTftpMaxFilenameSize, 'b');
  parsed = Parse("\0\1"s + name_512 + "\0octet\0"s);
  ASSERT_TRUE(parsed.ok()) << parsed.status();

  std::string request = "\0\1f\0octet\0"s;
  for (size_t i = 0; i < kTftpMaxOptions; ++i) {
    request += "o" + std::to_string(i) + "\0v\0"s;
  }
  ASSERT_TRUE(Parse(request).ok());
  ExpectError(request + "one-more\0v\0"s, "RRQ: more than 32 options");
}

// Every prefix of a valid RRQ either fails with an error or, when it ends on a
// field boundary after the mode, parses with the options seen so far.
TEST(TftpPacketTest, EveryTruncationOfARequestIsHandled) {
  const TftpRequest full = std::get<TftpRequest>(*Parse(kRrqWithOptions));
  std::set<size_t> boundaries;  // Prefix lengths that are complete requests.
  size_t end = 2 + full.filename.size() + 1 + 6;
  boundaries.insert(end);
  for (const TftpOption& option : full.options) {
    end += option.name.size() + 1 + option.value.size() + 1;
    boundaries.insert(end);
  }
  ASSERT_EQ(end, kRrqWithOptions.size());
  for (size_t n = 0; n < kRrqWithOptions.size(); ++n) {
    const std::string prefix = kRrqWithOptions.substr(0, n);
    absl::StatusOr<TftpPacket> parsed = Parse(prefix);
    if (boundaries.count(n)) {
      ASSERT_TRUE(parsed.ok()) << n << ": " << parsed.status();
      const auto& options = std::get<TftpRequest>(*parsed).options;
      EXPECT_TRUE(
          std::equal(options.begin(), options.end(), full.options.begin()));
    } else {
      ASSERT_FALSE(parsed.ok()) << "prefix of " << n << " bytes parsed";
      EXPECT_FALSE(parsed.status().message().empty());
    }
  }
}

TEST(TftpPacketTest, WritesHeaders) {
  std::array<uint8_t, kTftpHeaderSize> header;
  EXPECT_EQ(WriteDataHeader(0x1234, header), 4u);
  EXPECT_EQ(header, (std::array<uint8_t, 4>{0, 3, 0x12, 0x34}));
  EXPECT_EQ(WriteAck(0xfffe, header), 4u);
  EXPECT_EQ(header, (std::array<uint8_t, 4>{0, 4, 0xff, 0xfe}));
}

TEST(TftpPacketTest, WritersRefuseSmallBuffers) {
  std::vector<uint8_t> buffer(64);
  const TftpRequest request{false, "f", TftpMode::kOctet, {{"tsize", "0"}}};
  // "\0\1" "f\0" "octet\0" "tsize\0" "0\0" = 18 bytes.
  EXPECT_EQ(*WriteRequest(request, absl::MakeSpan(buffer)), 18u);
  EXPECT_EQ(
      WriteRequest(request, absl::MakeSpan(buffer).first(17)).status().code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(
      WriteError(1, "nope", absl::MakeSpan(buffer).first(8)).status().code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*WriteError(1, "nope", absl::MakeSpan(buffer).first(9)), 9u);
  EXPECT_EQ(WriteOack({{"blksize", "512"}}, absl::MakeSpan(buffer).first(13))
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  const uint8_t payload[5] = {1, 2, 3, 4, 5};
  EXPECT_EQ(
      WriteData(1, payload, absl::MakeSpan(buffer).first(8)).status().code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(WriteTftpPacket(TftpAck{1}, absl::MakeSpan(buffer).first(3))
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(TftpPacketTest, WritersRefuseWhatTheParserRejects) {
  std::vector<uint8_t> buffer(70000);
  auto out = absl::MakeSpan(buffer);
  auto code = [](const absl::StatusOr<size_t>& r) { return r.status().code(); };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code(WriteError(0, "a\0b"s, out)), kInvalid);
  EXPECT_EQ(code(WriteRequest({false, "", TftpMode::kOctet, {}}, out)),
            kInvalid);
  EXPECT_EQ(code(WriteRequest({false, "a\0b"s, TftpMode::kOctet, {}}, out)),
            kInvalid);
  EXPECT_EQ(code(WriteRequest(
                {false, std::string(513, 'a'), TftpMode::kOctet, {}}, out)),
            kInvalid);
  EXPECT_EQ(code(WriteRequest(
                {false, "f", TftpMode::kOctet, {{"a", "1"}, {"A", "2"}}}, out)),
            kInvalid);
  EXPECT_EQ(code(WriteOack({{"", "1"}}, out)), kInvalid);
  EXPECT_EQ(code(WriteOack({{"a", "1\0"s}}, out)), kInvalid);
  std::vector<uint8_t> big(kTftpMaxBlockSize + 1);
  EXPECT_EQ(code(WriteData(1, big, out)), kInvalid);
}

TEST(TftpPacketTest, Names) {
  EXPECT_EQ(TftpErrorCodeName(0), "Not defined");
  EXPECT_EQ(TftpErrorCodeName(1), "File not found");
  EXPECT_EQ(TftpErrorCodeName(8), "Option negotiation refused");
  EXPECT_EQ(TftpErrorCodeName(9), "Unknown error");
  EXPECT_EQ(TftpOpcodeName(6), "OACK");
  EXPECT_EQ(TftpOpcodeName(7), "unknown");
  EXPECT_EQ(TftpModeName(TftpMode::kNetascii), "netascii");
}

}  // namespace
}  // namespace rackboot
