#include "tools/load/tftp_download.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/files/file_cache.h"
#include "engine/tftp/tftp_session.h"
#include "gtest/gtest.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot::load {
namespace {

constexpr uint16_t kServerPort = 40000;
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

std::string Ack(uint16_t block) {
  return {0, 4, static_cast<char>(block >> 8), static_cast<char>(block & 0xff)};
}

std::string Data(uint16_t block, absl::string_view payload) {
  std::string out = {0, 3, static_cast<char>(block >> 8),
                     static_cast<char>(block & 0xff)};
  out.append(payload.data(), payload.size());
  return out;
}

std::string Oack(const std::vector<TftpOption>& options) {
  std::string out(1024, '\0');
  absl::StatusOr<size_t> n = WriteOack(
      options,
      absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  EXPECT_TRUE(n.ok()) << n.status();
  out.resize(n.value_or(0));
  return out;
}

std::string Error(uint16_t code, absl::string_view message) {
  std::string out(256, '\0');
  absl::StatusOr<size_t> n = WriteError(
      code, message,
      absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  EXPECT_TRUE(n.ok()) << n.status();
  out.resize(n.value_or(0));
  return out;
}

// What the download queued, flattened; clears it.
std::vector<std::string> Sent(TftpDownload& d) {
  std::vector<std::string> out;
  for (absl::Span<const uint8_t> datagram : d.Transmit()) {
    out.emplace_back(datagram.begin(), datagram.end());
  }
  d.ClearTransmit();
  return out;
}

std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  }
  return out;
}

TftpDownloadOptions Options(uint16_t blksize, uint16_t windowsize) {
  TftpDownloadOptions options;
  options.filename = "boot/pxelinux.0";
  options.blksize = blksize;
  options.windowsize = windowsize;
  options.timeout = absl::Seconds(1);
  options.max_retries = 2;
  return options;
}

TftpRequest ParseRrq(const std::string& datagram) {
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(Bytes(datagram));
  EXPECT_TRUE(packet.ok()) << packet.status();
  if (!packet.ok() || !std::holds_alternative<TftpRequest>(*packet)) return {};
  return std::get<TftpRequest>(*packet);
}

// A download of blksize 8, window 4 past the OACK (tsize `tsize` if set).
TftpDownload Negotiated(absl::optional<uint64_t> tsize = absl::nullopt,
                        TftpDownloadOptions options = Options(8, 4)) {
  TftpDownload d(std::move(options), kT0);
  d.ClearTransmit();
  std::vector<TftpOption> accepted = {{"blksize", "8"}, {"windowsize", "4"}};
  if (tsize) accepted.push_back({"tsize", std::to_string(*tsize)});
  d.OnDatagram(Bytes(Oack(accepted)), kServerPort, kT0);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(0)});
  return d;
}

TEST(TftpDownloadTest, RrqAsksForNonDefaultOptionsAndAlwaysTsize) {
  TftpDownload d(Options(1468, 16), kT0);
  EXPECT_EQ(d.Destination(), 0);
  EXPECT_EQ(d.StrangerPort(), 0);
  EXPECT_EQ(d.Deadline(), kT0 + absl::Seconds(1));
  std::vector<std::string> sent = Sent(d);
  ASSERT_EQ(sent.size(), 1u);
  TftpRequest rrq = ParseRrq(sent[0]);
  EXPECT_FALSE(rrq.write);
  EXPECT_EQ(rrq.filename, "boot/pxelinux.0");
  EXPECT_EQ(rrq.mode, TftpMode::kOctet);
  EXPECT_EQ(rrq.options, (std::vector<TftpOption>{
                             {"blksize", "1468"},
                             {"tsize", "0"},
                             {"windowsize", "16"},
                         }));

  TftpDownload plain(Options(512, 1), kT0);
  EXPECT_EQ(ParseRrq(Sent(plain).at(0)).options,
            (std::vector<TftpOption>{{"tsize", "0"}}));
}

TEST(TftpDownloadTest, BadFileNameFinishesAtOnce) {
  TftpDownloadOptions options = Options(512, 1);
  options.filename = "";
  TftpDownload d(std::move(options), kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kProtocolError);
  EXPECT_TRUE(d.Transmit().empty());
  EXPECT_EQ(d.Deadline(), absl::InfiniteFuture());
}

TEST(TftpDownloadTest, OackWithLowerValuesIsAccepted) {
  TftpDownload d(Options(1468, 16), kT0);
  d.ClearTransmit();
  const absl::Time t = kT0 + absl::Milliseconds(3);
  d.OnDatagram(Bytes(Oack({{"BLKSIZE", "1024"},
                           {"tsize", "3000"},
                           {"windowsize", "8"},
                           {"timeout", "3"}})),
               kServerPort, t);
  EXPECT_FALSE(d.finished());
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(0)});
  EXPECT_EQ(d.Destination(), kServerPort);
  EXPECT_EQ(d.stats().blksize, 1024);
  EXPECT_EQ(d.stats().windowsize, 8);
  EXPECT_EQ(d.stats().tsize, 3000u);
  EXPECT_EQ(d.stats().first_data, t);
  EXPECT_EQ(d.Deadline(), t + absl::Seconds(1));

  // Equal values are fine too, and an OACK may leave options out.
  TftpDownload equal(Options(1468, 16), kT0);
  equal.ClearTransmit();
  equal.OnDatagram(Bytes(Oack({{"blksize", "1468"}})), kServerPort, t);
  EXPECT_EQ(Sent(equal), std::vector<std::string>{Ack(0)});
  EXPECT_EQ(equal.stats().blksize, 1468);
  EXPECT_EQ(equal.stats().windowsize, 1);
  EXPECT_FALSE(equal.stats().tsize.has_value());
}

// first_block is DATA block 1 taken: after an OACK one round trip later
// than first_data; without options the same instant. Not moved by a
// duplicate DATA 1 or by later blocks.
TEST(TftpDownloadTest, FirstBlockIsData1NotTheOack) {
  TftpDownload d(Options(8, 4), kT0);
  d.ClearTransmit();
  EXPECT_EQ(d.stats().first_block, absl::InfinitePast());
  const absl::Time t_oack = kT0 + absl::Milliseconds(2);
  d.OnDatagram(Bytes(Oack({{"blksize", "8"}, {"windowsize", "4"}})),
               kServerPort, t_oack);
  EXPECT_EQ(d.stats().first_data, t_oack);
  EXPECT_EQ(d.stats().first_block, absl::InfinitePast());
  const absl::Time t1 = kT0 + absl::Milliseconds(5);
  d.OnDatagram(Bytes(Data(1, "abcdefgh")), kServerPort, t1);
  d.OnDatagram(Bytes(Data(1, "abcdefgh")), kServerPort, t1 + absl::Seconds(1));
  d.OnDatagram(Bytes(Data(2, "ij")), kServerPort, t1 + absl::Seconds(2));
  EXPECT_EQ(d.result(), TftpDownloadResult::kOk);
  EXPECT_EQ(d.stats().first_block, t1);

  TftpDownload plain(Options(512, 1), kT0);
  plain.ClearTransmit();
  const absl::Time t2 = kT0 + absl::Milliseconds(7);
  plain.OnDatagram(Bytes(Data(1, "x")), kServerPort, t2);
  EXPECT_EQ(plain.stats().first_data, t2);
  EXPECT_EQ(plain.stats().first_block, t2);
}

TEST(TftpDownloadTest, OackWithHigherOrUnaskedValuesIsRefused) {
  const std::vector<std::pair<uint16_t, std::vector<TftpOption>>> cases = {
      {16, {{"blksize", "1469"}}}, {16, {{"windowsize", "17"}}},
      {1, {{"windowsize", "1"}}},  // not asked for
      {16, {{"multicast", "1"}}},  // unknown
      {16, {{"blksize", "4"}}},    // invalid
  };
  for (const auto& [window, options] : cases) {
    TftpDownload d(Options(1468, window), kT0);
    d.ClearTransmit();
    d.OnDatagram(Bytes(Oack(options)), kServerPort, kT0);
    EXPECT_EQ(d.result(), TftpDownloadResult::kProtocolError)
        << options[0].name;
    EXPECT_EQ(d.Destination(), kServerPort);
    std::vector<std::string> sent = Sent(d);
    ASSERT_EQ(sent.size(), 1u);
    absl::StatusOr<TftpPacket> packet = ParseTftpPacket(Bytes(sent[0]));
    ASSERT_TRUE(packet.ok());
    ASSERT_TRUE(std::holds_alternative<TftpError>(*packet));
    EXPECT_EQ(std::get<TftpError>(*packet).code, 8);
    EXPECT_FALSE(d.error_message().empty());
    EXPECT_EQ(d.Deadline(), absl::InfiniteFuture());
  }
}

TEST(TftpDownloadTest, ServerWithoutOptionsSendsData1) {
  TftpDownload d(Options(1468, 16), kT0);
  d.ClearTransmit();
  const std::string file = Pattern(512 + 100);
  d.OnDatagram(Bytes(Data(1, absl::string_view(file).substr(0, 512))),
               kServerPort, kT0);
  EXPECT_EQ(d.stats().blksize, 512);
  EXPECT_EQ(d.stats().windowsize, 1);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(1)});
  d.OnDatagram(Bytes(Data(2, absl::string_view(file).substr(512))), kServerPort,
               kT0);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(2)});
  EXPECT_EQ(d.result(), TftpDownloadResult::kOk);
  EXPECT_EQ(d.stats().bytes, file.size());
  EXPECT_EQ(d.stats().acks_sent, 2u);
}

TEST(TftpDownloadTest, OneAckPerFullWindowAndOnTheShortBlock) {
  const std::string file = Pattern(8 * 10 + 3);  // 11 blocks
  TftpDownload d = Negotiated(file.size());
  std::vector<std::pair<uint16_t, std::vector<std::string>>> acks;
  for (uint16_t block = 1; block <= 11; ++block) {
    d.OnDatagram(
        Bytes(Data(block, absl::string_view(file).substr((block - 1) * 8, 8))),
        kServerPort, kT0);
    std::vector<std::string> sent = Sent(d);
    if (!sent.empty()) acks.emplace_back(block, sent);
  }
  const std::string ack4 = {0, 4, 0, 4}, ack8 = {0, 4, 0, 8},
                    ack11 = {0, 4, 0, 11};
  EXPECT_EQ(acks, (std::vector<std::pair<uint16_t, std::vector<std::string>>>{
                      {4, {ack4}}, {8, {ack8}}, {11, {ack11}}}));
  EXPECT_EQ(d.result(), TftpDownloadResult::kOk);
  EXPECT_EQ(d.stats().acks_sent, 4u);  // with ACK 0
  EXPECT_EQ(d.stats().bytes, file.size());
  EXPECT_EQ(d.Deadline(), absl::InfiniteFuture());
}

TEST(TftpDownloadTest, GapAcksOnceThenRecovers) {
  const std::string block(8, 'x');
  TftpDownload d = Negotiated();
  d.OnDatagram(Bytes(Data(1, block)), kServerPort, kT0);
  EXPECT_TRUE(Sent(d).empty());
  d.OnDatagram(Bytes(Data(3, block)), kServerPort, kT0);  // 2 lost
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(1)});
  d.OnDatagram(Bytes(Data(4, block)), kServerPort, kT0);
  EXPECT_TRUE(Sent(d).empty());  // same gap: no second ACK
  EXPECT_EQ(d.stats().out_of_order, 2u);
  // The server resends a window from 2: counted from the gap ACK.
  for (uint16_t b : {2, 3, 4}) {
    d.OnDatagram(Bytes(Data(b, block)), kServerPort, kT0);
    EXPECT_TRUE(Sent(d).empty()) << b;
  }
  d.OnDatagram(Bytes(Data(5, block)), kServerPort, kT0);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(5)});
  // A new gap after progress is ACKed again, once.
  d.OnDatagram(Bytes(Data(7, block)), kServerPort, kT0);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(5)});
  EXPECT_EQ(d.stats().bytes, 5u * 8);
  EXPECT_EQ(d.stats().acks_sent, 4u);
}

TEST(TftpDownloadTest, DuplicatesAreCountedNotAcked) {
  const std::string block(8, 'x');
  TftpDownload d = Negotiated();
  for (uint16_t b = 1; b <= 4; ++b) {
    d.OnDatagram(Bytes(Data(b, block)), kServerPort, kT0);
  }
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(4)});
  for (uint16_t b = 1; b <= 4; ++b) {
    d.OnDatagram(Bytes(Data(b, block)), kServerPort, kT0);
    EXPECT_TRUE(Sent(d).empty());
  }
  EXPECT_EQ(d.stats().duplicates, 4u);
  EXPECT_EQ(d.stats().bytes, 32u);
  EXPECT_EQ(d.stats().datagrams_received, 9u);  // OACK + 8 DATA
}

TEST(TftpDownloadTest, BlockNumbersRollOver) {
  // 65535 + 10 full blocks and a short one, fed in order at window 4.
  const uint64_t blocks = 65535 + 11;
  TftpDownloadOptions options = Options(8, 4);
  uint64_t verified = 0;
  options.verify = [&](uint64_t offset, absl::Span<const uint8_t> payload) {
    EXPECT_EQ(offset, verified);
    verified += payload.size();
    return true;
  };
  TftpDownload d = Negotiated((blocks - 1) * 8 + 5, std::move(options));
  const std::string full(8, 'a'), last(5, 'b');
  uint64_t acks = 0;
  for (uint64_t b = 1; b <= blocks; ++b) {
    d.OnDatagram(
        Bytes(Data(static_cast<uint16_t>(b), b == blocks ? last : full)),
        kServerPort, kT0);
    std::vector<std::string> sent = Sent(d);
    if (!sent.empty()) {
      ++acks;
      EXPECT_EQ(sent, std::vector<std::string>{Ack(static_cast<uint16_t>(b))});
    }
  }
  EXPECT_EQ(d.result(), TftpDownloadResult::kOk) << d.error_message();
  EXPECT_EQ(d.stats().bytes, (blocks - 1) * 8 + 5);
  EXPECT_EQ(verified, d.stats().bytes);
  EXPECT_EQ(acks, (blocks - 1) / 4 + 1);
  EXPECT_EQ(d.stats().duplicates, 0u);
}

TEST(TftpDownloadTest, EmptyFinalBlockEndsAFileOfWholeBlocks) {
  TftpDownload d = Negotiated(16);
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  d.OnDatagram(Bytes(Data(2, std::string(8, 'b'))), kServerPort, kT0);
  EXPECT_TRUE(Sent(d).empty());
  d.OnDatagram(Bytes(Data(3, "")), kServerPort, kT0);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(3)});
  EXPECT_EQ(d.result(), TftpDownloadResult::kOk);
  EXPECT_EQ(d.stats().bytes, 16u);

  // The empty file: one empty block, no tsize announced (as TftpSession).
  TftpDownload empty(Options(8, 4), kT0);
  empty.ClearTransmit();
  empty.OnDatagram(Bytes(Oack({{"blksize", "8"}})), kServerPort, kT0);
  Sent(empty);
  empty.OnDatagram(Bytes(Data(1, "")), kServerPort, kT0);
  EXPECT_EQ(Sent(empty), std::vector<std::string>{Ack(1)});
  EXPECT_EQ(empty.result(), TftpDownloadResult::kOk);
}

TEST(TftpDownloadTest, SizeMismatchWithTsize) {
  TftpDownload d = Negotiated(20);
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  d.OnDatagram(Bytes(Data(2, std::string(8, 'a'))), kServerPort, kT0);
  d.OnDatagram(Bytes(Data(3, "abc")), kServerPort, kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kSizeMismatch);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(3)});  // still acknowledged
  EXPECT_EQ(d.stats().bytes, 19u);
  EXPECT_NE(d.error_message().find("tsize 20"), std::string::npos)
      << d.error_message();
}

TEST(TftpDownloadTest, SizeMismatchWithExpectedSize) {
  TftpDownloadOptions options = Options(8, 4);
  options.expected_size = 12;
  TftpDownload d = Negotiated(absl::nullopt, std::move(options));
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  d.OnDatagram(Bytes(Data(2, "abc")), kServerPort, kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kSizeMismatch);

  TftpDownloadOptions exact = Options(8, 4);
  exact.expected_size = 11;
  TftpDownload ok = Negotiated(11, std::move(exact));
  ok.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  ok.OnDatagram(Bytes(Data(2, "abc")), kServerPort, kT0);
  EXPECT_EQ(ok.result(), TftpDownloadResult::kOk);
}

TEST(TftpDownloadTest, MoreDataThanTsizeStopsAtOnce) {
  TftpDownload d = Negotiated(10);
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  EXPECT_FALSE(d.finished());
  d.OnDatagram(Bytes(Data(2, std::string(8, 'a'))), kServerPort, kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kSizeMismatch);
  EXPECT_EQ(Sent(d),
            std::vector<std::string>{Error(0, "more data than expected")});
}

TEST(TftpDownloadTest, VerifyFailureEndsWithContentMismatch) {
  TftpDownloadOptions options = Options(8, 4);
  options.verify = [](uint64_t offset, absl::Span<const uint8_t>) {
    return offset < 8;
  };
  TftpDownload d = Negotiated(absl::nullopt, std::move(options));
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  EXPECT_FALSE(d.finished());
  d.OnDatagram(Bytes(Data(2, std::string(8, 'a'))), kServerPort, kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kContentMismatch);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Error(0, "content mismatch")});
  EXPECT_EQ(d.Destination(), kServerPort);
  // Nothing after the end.
  d.OnDatagram(Bytes(Data(3, "x")), kServerPort, kT0);
  EXPECT_TRUE(Sent(d).empty());
}

TEST(TftpDownloadTest, ServerErrorEndsTheDownload) {
  TftpDownload d(Options(1468, 16), kT0);
  d.ClearTransmit();
  d.OnDatagram(Bytes(Error(1, "File not found")), kServerPort, kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kServerError);
  EXPECT_EQ(d.error_code(), 1);
  EXPECT_EQ(d.error_message(), "File not found");
  EXPECT_TRUE(Sent(d).empty());
  EXPECT_EQ(d.Deadline(), absl::InfiniteFuture());
  EXPECT_EQ(d.stats().finished, kT0);
  EXPECT_STREQ(TftpDownloadResultName(d.result()), "server_error");
}

TEST(TftpDownloadTest, MalformedAndUnexpectedDatagramsAreCounted) {
  TftpDownload d = Negotiated();
  d.OnDatagram(Bytes(std::string("\x00\x09zz", 4)), kServerPort, kT0);
  d.OnDatagram(Bytes(Ack(3)), kServerPort, kT0);
  EXPECT_EQ(d.stats().malformed, 2u);
  EXPECT_TRUE(Sent(d).empty());
  EXPECT_FALSE(d.finished());
}

TEST(TftpDownloadTest, OversizedBlockIsAProtocolError) {
  TftpDownload d = Negotiated();
  d.OnDatagram(Bytes(Data(1, std::string(9, 'a'))), kServerPort, kT0);
  EXPECT_EQ(d.result(), TftpDownloadResult::kProtocolError);
  std::vector<std::string> sent = Sent(d);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].substr(0, 4), std::string("\x00\x05\x00\x04", 4));
}

TEST(TftpDownloadTest, StrangerGetsError5AtItsOwnPort) {
  constexpr uint16_t kStranger = 40001;
  TftpDownload d = Negotiated();
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kStranger, kT0);
  EXPECT_EQ(d.StrangerPort(), kStranger);
  EXPECT_EQ(d.Destination(), kStranger);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Error(5, "unknown transfer ID")});
  EXPECT_EQ(d.StrangerPort(), 0);
  EXPECT_EQ(d.Destination(), kServerPort);
  EXPECT_EQ(d.stats().stranger_datagrams, 1u);
  EXPECT_EQ(d.stats().bytes, 0u);  // its data was not taken

  // A stranger's ERROR is not answered.
  d.OnDatagram(Bytes(Error(0, "x")), kStranger, kT0);
  EXPECT_TRUE(Sent(d).empty());
  EXPECT_FALSE(d.finished());

  // An unsent ACK for the server keeps priority over a stranger's ERROR 5.
  for (uint16_t b = 1; b <= 4; ++b) {
    d.OnDatagram(Bytes(Data(b, std::string(8, 'a'))), kServerPort, kT0);
  }
  d.OnDatagram(Bytes(Data(5, std::string(8, 'a'))), kStranger, kT0);
  EXPECT_EQ(d.Destination(), kServerPort);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(4)});
  EXPECT_EQ(d.stats().stranger_datagrams, 3u);

  // And an ACK for the server replaces an unsent ERROR 5.
  d.OnDatagram(Bytes(Data(6, std::string(8, 'a'))), kStranger, kT0);
  EXPECT_EQ(d.StrangerPort(), kStranger);
  d.OnDatagram(Bytes(Data(7, std::string(8, 'a'))), kServerPort, kT0);  // gap
  EXPECT_EQ(d.StrangerPort(), 0);
  EXPECT_EQ(d.Destination(), kServerPort);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(4)});
}

TEST(TftpDownloadTest, RrqIsResentThenGivesUpOnSchedule) {
  TftpDownload d(Options(1468, 16), kT0);  // timeout 1 s, max_retries 2
  const std::vector<std::string> rrq = Sent(d);
  d.OnDeadline(kT0 + absl::Milliseconds(999));  // early: nothing
  EXPECT_TRUE(Sent(d).empty());
  EXPECT_EQ(d.stats().timeouts, 0u);

  d.OnDeadline(kT0 + absl::Seconds(1));
  EXPECT_EQ(Sent(d), rrq);
  EXPECT_EQ(d.Destination(), 0);
  EXPECT_EQ(d.Deadline(), kT0 + absl::Seconds(2));
  d.OnDeadline(kT0 + absl::Seconds(2));
  EXPECT_EQ(Sent(d), rrq);
  EXPECT_EQ(d.Deadline(), kT0 + absl::Seconds(3));
  EXPECT_EQ(d.stats().retransmits, 2u);

  d.OnDeadline(kT0 + absl::Seconds(3));
  EXPECT_EQ(d.result(), TftpDownloadResult::kTimeout);
  EXPECT_TRUE(Sent(d).empty());
  EXPECT_EQ(d.stats().timeouts, 3u);
  EXPECT_EQ(d.stats().retransmits, 2u);
  EXPECT_EQ(d.stats().finished, kT0 + absl::Seconds(3));
  EXPECT_EQ(d.Deadline(), absl::InfiniteFuture());
}

TEST(TftpDownloadTest, TimeoutResendsAckOfLastBlockInOrder) {
  TftpDownload d = Negotiated();  // OACK at kT0: deadline kT0 + 1 s
  EXPECT_EQ(d.Deadline(), kT0 + absl::Seconds(1));
  d.OnDeadline(kT0 + absl::Seconds(1));
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(0)});
  EXPECT_EQ(d.Deadline(), kT0 + absl::Seconds(2));

  // Progress resets the retry count and the timer.
  const absl::Time t1 = kT0 + absl::Milliseconds(1500);
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, t1);
  d.OnDatagram(Bytes(Data(2, std::string(8, 'a'))), kServerPort, t1);
  EXPECT_EQ(d.Deadline(), t1 + absl::Seconds(1));
  // Out of order and duplicate blocks are not progress.
  d.OnDatagram(Bytes(Data(2, std::string(8, 'a'))), kServerPort,
               t1 + absl::Milliseconds(500));
  EXPECT_EQ(d.Deadline(), t1 + absl::Seconds(1));
  d.OnDeadline(t1 + absl::Seconds(1));
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(2)});
  d.OnDeadline(t1 + absl::Seconds(2));
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(2)});
  d.OnDeadline(t1 + absl::Seconds(3));
  EXPECT_EQ(d.result(), TftpDownloadResult::kTimeout);
  EXPECT_EQ(d.stats().timeouts, 4u);
  EXPECT_EQ(d.stats().retransmits, 3u);
}

TEST(TftpDownloadTest, ResentOackIsAnsweredWithAck0UntilDataFlows) {
  TftpDownload d = Negotiated();
  const std::string oack = Oack({{"blksize", "8"}, {"windowsize", "4"}});
  d.OnDatagram(Bytes(oack), kServerPort, kT0);
  EXPECT_EQ(Sent(d), std::vector<std::string>{Ack(0)});
  d.OnDatagram(Bytes(Data(1, std::string(8, 'a'))), kServerPort, kT0);
  d.OnDatagram(Bytes(oack), kServerPort, kT0);
  EXPECT_TRUE(Sent(d).empty());
  EXPECT_EQ(d.stats().duplicates, 2u);
}

TEST(TftpDownloadTest, TransmitSurvivesAMove) {
  TftpDownload d(Options(1468, 16), kT0);
  const std::vector<std::string> before = [&] {
    std::vector<std::string> out;
    for (auto s : d.Transmit()) out.emplace_back(s.begin(), s.end());
    return out;
  }();
  TftpDownload moved = std::move(d);
  std::vector<TftpDownload> many;
  many.push_back(std::move(moved));
  EXPECT_EQ(Sent(many[0]), before);
}

// The download against the real server side, TftpSession, over a simulated
// network that loses, duplicates and reorders datagrams.
struct NetworkConditions {
  double loss = 0;
  double duplicate = 0;
  size_t reorder = 1;  // deliver any of the first `reorder` in flight
};

struct LoopResult {
  TftpDownloadResult result = TftpDownloadResult::kRunning;
  std::string received;
  TftpDownloadStats stats;
};

LoopResult RunAgainstSession(const std::string& file,
                             TftpDownloadOptions options,
                             const NetworkConditions& net, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  LoopResult out;
  options.expected_size = file.size();
  options.max_retries = 20;
  options.verify = [&](uint64_t offset, absl::Span<const uint8_t> payload) {
    EXPECT_EQ(offset, out.received.size());
    out.received.append(payload.begin(), payload.end());
    return true;
  };
  absl::Time now = kT0;
  TftpDownload d(std::move(options), now);
  std::unique_ptr<TftpSession> session;
  TftpLimits limits;
  limits.max_blksize = 65464;
  limits.max_windowsize = 64;
  limits.max_retries = 20;
  limits.max_timeout = absl::Seconds(2);
  auto mapped = MappedFile::FromMemory(file, "f");
  std::deque<std::string> to_server, to_client;

  auto send = [&](std::deque<std::string>& queue, std::string datagram) {
    if (coin(rng) < net.loss) return;
    if (coin(rng) < net.duplicate) queue.push_back(datagram);
    queue.push_back(std::move(datagram));
  };
  auto take = [&](std::deque<std::string>& queue) {
    const size_t i = std::uniform_int_distribution<size_t>(
        0, std::min(net.reorder, queue.size()) - 1)(rng);
    std::string datagram = std::move(queue[i]);
    queue.erase(queue.begin() + i);
    return datagram;
  };
  auto pump = [&] {
    for (absl::Span<const uint8_t> s : d.Transmit()) {
      std::string datagram(s.begin(), s.end());
      if (d.Destination() == 0) {
        // To port 69: the first RRQ that arrives starts the session (a real
        // server would start a second one for a late duplicate; it is simply
        // dropped here).
        if (coin(rng) < net.loss || session != nullptr) continue;
        absl::StatusOr<TftpPacket> rrq = ParseTftpPacket(Bytes(datagram));
        EXPECT_TRUE(rrq.ok());
        session = std::make_unique<TftpSession>(std::get<TftpRequest>(*rrq),
                                                mapped, limits, now);
      } else {
        EXPECT_EQ(d.Destination(), kServerPort);
        send(to_server, std::move(datagram));
      }
    }
    d.ClearTransmit();
    if (session == nullptr) return;
    for (const TftpSession::Datagram& s : session->Transmit()) {
      std::string datagram(s.head.begin(), s.head.end());
      datagram.append(s.body.begin(), s.body.end());
      send(to_client, std::move(datagram));
    }
    session->ClearTransmit();
  };

  for (int steps = 0; !d.finished() && steps < 10'000'000; ++steps) {
    pump();
    const bool server_side =
        !to_server.empty() && (to_client.empty() || coin(rng) < 0.5);
    if (server_side) {
      std::string datagram = take(to_server);
      session->OnDatagram(Bytes(datagram), now);
    } else if (!to_client.empty()) {
      std::string datagram = take(to_client);
      d.OnDatagram(Bytes(datagram), kServerPort, now);
    } else {
      // Nothing in flight: time passes to the next deadline.
      absl::Time next = d.Deadline();
      if (session != nullptr) next = std::min(next, session->Deadline());
      if (next == absl::InfiniteFuture()) break;
      now = std::max(now, next);
      d.OnDeadline(now);
      if (session != nullptr) session->OnDeadline(now);
    }
  }
  out.result = d.result();
  out.stats = d.stats();
  return out;
}

TEST(TftpDownloadLoopTest, CleanNetworkTransfersEveryByte) {
  const std::string file = Pattern(100'000);
  LoopResult r = RunAgainstSession(file, Options(1468, 16), {}, 1);
  EXPECT_EQ(r.result, TftpDownloadResult::kOk);
  EXPECT_EQ(r.received, file);
  EXPECT_EQ(r.stats.blksize, 1468);
  EXPECT_EQ(r.stats.windowsize, 16);
  EXPECT_EQ(r.stats.tsize, file.size());
  EXPECT_EQ(r.stats.duplicates + r.stats.out_of_order + r.stats.retransmits +
                r.stats.timeouts,
            0u);
  // ACK 0, one per full window, and the last.
  const uint64_t blocks = file.size() / 1468 + 1;
  EXPECT_EQ(r.stats.acks_sent, 1 + (blocks - 1) / 16 + 1);
}

TEST(TftpDownloadLoopTest, RollsOverPast65535BlocksAgainstTheSession) {
  const std::string file = Pattern(8 * 70'000 + 5);
  LoopResult r = RunAgainstSession(file, Options(8, 32), {}, 2);
  EXPECT_EQ(r.result, TftpDownloadResult::kOk);
  EXPECT_TRUE(r.received == file);
}

TEST(TftpDownloadLoopTest, LossyReorderingNetworkStillDeliversEveryByte) {
  const std::vector<std::pair<uint16_t, uint16_t>> shapes = {
      {512, 1}, {1468, 16}, {8, 4}, {1000, 64}};
  uint64_t trouble = 0;  // the network must actually have misbehaved
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    const auto [blksize, window] = shapes[seed % shapes.size()];
    const std::string file =
        Pattern(seed % 3 == 0 ? blksize * 40 : blksize * 37 + seed);
    NetworkConditions net;
    net.loss = 0.05;
    net.duplicate = 0.03;
    net.reorder = 3;
    LoopResult r = RunAgainstSession(file, Options(blksize, window), net, seed);
    EXPECT_EQ(r.result, TftpDownloadResult::kOk)
        << "seed " << seed << " " << TftpDownloadResultName(r.result);
    EXPECT_TRUE(r.received == file) << "seed " << seed;
    trouble += r.stats.out_of_order + r.stats.duplicates + r.stats.timeouts;
  }
  EXPECT_GT(trouble, 50u);
}

}  // namespace
}  // namespace rackboot::load
