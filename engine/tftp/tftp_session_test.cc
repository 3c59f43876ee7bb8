#include "engine/tftp/tftp_session.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

namespace fs = std::filesystem;

// A datagram as it would leave the socket.
std::string Flatten(const TftpSession::Datagram& d) {
  std::string out(d.head.begin(), d.head.end());
  out.append(d.body.begin(), d.body.end());
  return out;
}

std::vector<std::string> Sent(TftpSession& session) {
  std::vector<std::string> out;
  for (const auto& d : session.Transmit()) out.push_back(Flatten(d));
  session.ClearTransmit();
  return out;
}

std::string Ack(uint16_t block) {
  std::array<uint8_t, kTftpHeaderSize> buf;
  WriteAck(block, buf);
  return std::string(buf.begin(), buf.end());
}

std::string Data(uint16_t block, absl::string_view payload) {
  std::string out = {0, 3, static_cast<char>(block >> 8),
                     static_cast<char>(block & 0xff)};
  out.append(payload.data(), payload.size());
  return out;
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

class TftpSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tftp_session_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto root = FileRoot::Open(dir_);
    ASSERT_TRUE(root.ok());
    cache_ = std::make_unique<FileCache>(*std::move(root));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::shared_ptr<const MappedFile> File(const std::string& contents) {
    std::string name = "f" + std::to_string(files_++);
    std::ofstream(fs::path(dir_) / name, std::ios::binary) << contents;
    auto file = cache_->Open(name);
    EXPECT_TRUE(file.ok()) << file.status();
    return *file;
  }

  static TftpRequest Rrq(std::vector<TftpOption> options = {},
                         TftpMode mode = TftpMode::kOctet) {
    TftpRequest request;
    request.filename = "boot/file";
    request.mode = mode;
    request.options = std::move(options);
    return request;
  }

  static std::string Pattern(size_t size) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * 7 + i / 251);
    return s;
  }

  const absl::Time t0_ = absl::FromUnixSeconds(1000);
  std::string dir_;
  int files_ = 0;
  std::unique_ptr<FileCache> cache_;
};

TEST_F(TftpSessionTest, LockStepWithoutOptions) {
  std::string content = Pattern(1000);
  TftpSession s(Rrq(), File(content), TftpLimits(), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kTransferring);
  EXPECT_EQ(Sent(s), std::vector<std::string>{Data(1, content.substr(0, 512))});
  EXPECT_EQ(s.Deadline(), t0_ + absl::Seconds(1));
  s.OnDatagram(Bytes(Ack(1)), t0_);
  EXPECT_EQ(Sent(s), std::vector<std::string>{Data(2, content.substr(512))});
  s.OnDatagram(Bytes(Ack(2)), t0_);
  EXPECT_TRUE(Sent(s).empty());
  EXPECT_EQ(s.state(), TftpSession::State::kComplete);
  EXPECT_EQ(s.Deadline(), absl::InfiniteFuture());
  EXPECT_EQ(s.stats().bytes_sent, 1000u);
  EXPECT_EQ(s.stats().retransmits, 0u);
}

TEST_F(TftpSessionTest, EmptyFileIsOneEmptyBlock) {
  TftpSession s(Rrq(), File(""), TftpLimits(), t0_);
  EXPECT_EQ(Sent(s), std::vector<std::string>{Data(1, "")});
  s.OnDatagram(Bytes(Ack(1)), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kComplete);
}

TEST_F(TftpSessionTest, EmptyFileLeavesTsizeOut) {
  // curl refuses an OACK with tsize 0; with nothing else accepted there is no
  // OACK at all.
  TftpSession only_tsize(Rrq({{"tsize", "0"}}), File(""), TftpLimits(), t0_);
  EXPECT_EQ(Sent(only_tsize), std::vector<std::string>{Data(1, "")});
  TftpSession with_blksize(Rrq({{"tsize", "0"}, {"blksize", "512"}}), File(""),
                           TftpLimits(), t0_);
  EXPECT_EQ(Sent(with_blksize),
            std::vector<std::string>{std::string("\0\6blksize\0"
                                                 "512\0",
                                                 14)});
}

TEST_F(TftpSessionTest, ExactMultipleEndsWithEmptyBlock) {
  std::string content = Pattern(1024);
  TftpSession s(Rrq(), File(content), TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(1)), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(2)), t0_);
  EXPECT_EQ(Sent(s), std::vector<std::string>{Data(3, "")});
  s.OnDatagram(Bytes(Ack(3)), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kComplete);
}

TEST_F(TftpSessionTest, OackEchoesClientSpellingAndWaitsForAckZero) {
  std::string content = Pattern(5000);
  TftpSession s(Rrq({{"BlkSize", "1468"},
                     {"tsize", "0"},
                     {"windowsize", "4"},
                     {"x-unknown", "1"}}),
                File(content), TftpLimits(), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kNegotiating);
  std::string oack(
      "\0\6BlkSize\0"
      "1468\0tsize\0"
      "5000\0windowsize\0"
      "4\0",
      39);
  EXPECT_EQ(Sent(s), std::vector<std::string>{oack});
  // Anything but ACK 0 is ignored while negotiating.
  s.OnDatagram(Bytes(Ack(1)), t0_);
  EXPECT_TRUE(Sent(s).empty());
  s.OnDatagram(Bytes(Ack(0)), t0_);
  EXPECT_EQ(
      Sent(s),
      (std::vector<std::string>{
          Data(1, content.substr(0, 1468)), Data(2, content.substr(1468, 1468)),
          Data(3, content.substr(2936, 1468)), Data(4, content.substr(4404))}));
  s.OnDatagram(Bytes(Ack(4)), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kComplete);
}

TEST_F(TftpSessionTest, LowersOptionsToLimitsAndDropsInvalidOnes) {
  TftpLimits limits;
  limits.max_blksize = 1400;
  limits.max_windowsize = 8;
  TftpSession capped(Rrq({{"blksize", "9000"}, {"windowsize", "1000"}}),
                     File(Pattern(100)), limits, t0_);
  EXPECT_EQ(Sent(capped),
            std::vector<std::string>{std::string("\0\6blksize\0"
                                                 "1400\0windowsize\0"
                                                 "8\0",
                                                 28)});
  EXPECT_EQ(capped.stats().blksize, 1400);
  EXPECT_EQ(capped.stats().windowsize, 8);

  // Only invalid values: no OACK at all, the transfer starts with RFC 1350
  // defaults.
  TftpSession invalid(
      Rrq({{"blksize", "7"}, {"windowsize", "0"}, {"timeout", "0"}}),
      File(Pattern(600)), limits, t0_);
  EXPECT_EQ(invalid.state(), TftpSession::State::kTransferring);
  EXPECT_EQ(invalid.stats().blksize, 512);
  EXPECT_EQ(invalid.stats().windowsize, 1);
  EXPECT_EQ(Sent(invalid).size(), 1u);
}

TEST_F(TftpSessionTest, TimeoutOptionSetsTheRetransmissionInterval) {
  TftpSession s(Rrq({{"timeout", "3"}}), File(Pattern(2000)), TftpLimits(),
                t0_);
  // Unconfirmed: the short interval; confirmed: the client's.
  EXPECT_EQ(s.Deadline(), t0_ + absl::Seconds(1));
  Sent(s);
  s.OnDatagram(Bytes(Ack(0)), t0_);
  EXPECT_TRUE(s.confirmed());
  EXPECT_EQ(s.Deadline(), t0_ + absl::Seconds(3));
}

// A client asking `timeout 255` held its descriptor for minutes (the attack
// of issue 11). RFC 2349 has an accepted timeout echoed unchanged, so one
// above the cap is refused (left out of the OACK) and the default interval
// kept; one within the cap is accepted as asked.
TEST_F(TftpSessionTest, TimeoutAboveTheCapIsRefused) {
  TftpLimits limits;
  limits.max_timeout = absl::Seconds(3);
  TftpSession refused(Rrq({{"timeout", "255"}, {"blksize", "100"}}),
                      File(Pattern(2000)), limits, t0_);
  std::vector<std::string> oack = Sent(refused);
  ASSERT_EQ(oack.size(), 1u);
  EXPECT_EQ(oack[0], std::string("\0\6blksize\0"
                                 "100\0",
                                 14));
  refused.OnDatagram(Bytes(Ack(0)), t0_);
  EXPECT_EQ(refused.Deadline(), t0_ + limits.initial_timeout);

  TftpSession alone(Rrq({{"timeout", "255"}}), File(Pattern(2000)), limits,
                    t0_);
  EXPECT_EQ(alone.state(), TftpSession::State::kTransferring);  // DATA 1

  TftpSession accepted(Rrq({{"timeout", "3"}}), File(Pattern(2000)), limits,
                       t0_);
  EXPECT_EQ(Sent(accepted)[0], std::string("\0\6timeout\0"
                                           "3\0",
                                           12));
}

// Never acknowledged: gone after a few seconds whatever the client asked.
TEST_F(TftpSessionTest, UnconfirmedTransferEndsWithinSeconds) {
  TftpSession s(Rrq({{"timeout", "255"}}), File(Pattern(2000)), TftpLimits(),
                t0_);
  Sent(s);
  EXPECT_FALSE(s.confirmed());
  int sends = 0;
  while (!s.finished()) {
    ASSERT_LT(s.Deadline(), t0_ + absl::Seconds(60));
    s.OnDeadline(s.Deadline());
    sends += static_cast<int>(Sent(s).size());
  }
  EXPECT_EQ(s.state(), TftpSession::State::kFailed);
  EXPECT_EQ(sends, 2);  // unconfirmed_retries
  EXPECT_LE(s.stats().timeouts, 3u);
  EXPECT_NE(s.failure().find("never acknowledged"), std::string::npos);
}

// Confirmed, then silent: the whole wait is bounded to seconds (default
// limits: 1+2+3+3+3+3+3 s), not the 255 s per try the client asked for.
TEST_F(TftpSessionTest, ConfirmedSilentTransferEndsWithinSeconds) {
  TftpSession s(Rrq({{"timeout", "255"}, {"blksize", "100"}}),
                File(Pattern(2000)), TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(0)), t0_);
  absl::Time now = t0_;
  while (!s.finished()) {
    now = s.Deadline();
    s.OnDeadline(now);
    Sent(s);
  }
  EXPECT_LE(now - t0_, absl::Seconds(21));
}

// An aborted transfer reports what reached the client, not the file size.
TEST_F(TftpSessionTest, AbortedTransferCountsAcknowledgedBytes) {
  TftpSession s(Rrq({{"blksize", "100"}, {"windowsize", "2"}}),
                File(Pattern(1000)), TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(0)), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(2)), t0_);
  Sent(s);
  std::string error("\0\5\0\3disk\nfull\0", 15);
  s.OnDatagram(Bytes(error), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kFailed);
  EXPECT_EQ(s.stats().wire_size, 1000u);
  EXPECT_EQ(s.stats().bytes_acked, 200u);
  EXPECT_EQ(s.stats().bytes_sent, 400u);
  // The client's text is escaped: no raw newline reaches a log line.
  EXPECT_EQ(s.failure().find('\n'), std::string::npos);
  EXPECT_NE(s.failure().find("disk\\x0afull"), std::string::npos);
}

TEST_F(TftpSessionTest, PartialWindowAckResendsFromThere) {
  std::string content = Pattern(8 * 100 + 10);  // 9 blocks of 100
  TftpSession s(Rrq({{"blksize", "100"}, {"windowsize", "4"}}), File(content),
                TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(0)), t0_);
  EXPECT_EQ(Sent(s).size(), 4u);     // blocks 1-4
  s.OnDatagram(Bytes(Ack(2)), t0_);  // the receiver lost block 3
  EXPECT_EQ(Sent(s),
            (std::vector<std::string>{Data(3, content.substr(200, 100)),
                                      Data(4, content.substr(300, 100)),
                                      Data(5, content.substr(400, 100)),
                                      Data(6, content.substr(500, 100))}));
  EXPECT_EQ(s.stats().retransmits, 2u);  // 3 and 4 again; 5 and 6 are new
}

TEST_F(TftpSessionTest, DuplicateAndStaleAcksSendNothing) {
  std::string content = Pattern(1000);
  TftpSession s(Rrq({{"blksize", "100"}, {"windowsize", "2"}}), File(content),
                TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(0)), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(2)), t0_);
  EXPECT_EQ(Sent(s).size(), 2u);  // 3, 4
  s.OnDatagram(Bytes(Ack(2)),
               t0_);  // duplicate: the Sorcerer's Apprentice trap
  s.OnDatagram(Bytes(Ack(1)), t0_);  // stale
  s.OnDatagram(Bytes(Ack(9)), t0_);  // beyond what was sent
  s.OnDatagram(Bytes(Ack(0)), t0_);  // a late ACK of the OACK
  EXPECT_TRUE(Sent(s).empty());
  EXPECT_EQ(s.stats().ignored_datagrams, 4u);
  s.OnDatagram(Bytes(Ack(4)), t0_);
  EXPECT_EQ(Sent(s).size(), 2u);
}

TEST_F(TftpSessionTest, TimeoutsResendTheWindowWithBackoffThenGiveUp) {
  std::string content = Pattern(1000);
  TftpLimits limits;
  limits.max_retries = 4;
  limits.max_timeout = absl::Seconds(4);
  limits.unconfirmed_timeout = absl::Seconds(4);
  TftpSession s(Rrq({{"blksize", "100"}, {"windowsize", "3"}}), File(content),
                limits, t0_);
  std::vector<std::string> oack = Sent(s);
  // A lost OACK is sent again.
  s.OnDeadline(t0_ + absl::Milliseconds(999));  // too early: nothing
  EXPECT_TRUE(Sent(s).empty());
  s.OnDeadline(t0_ + absl::Seconds(1));
  EXPECT_EQ(Sent(s), oack);
  absl::Time now = t0_ + absl::Seconds(1);
  EXPECT_EQ(s.Deadline(), now + absl::Seconds(2));
  s.OnDatagram(Bytes(Ack(0)), now);
  std::vector<std::string> window = Sent(s);
  ASSERT_EQ(window.size(), 3u);
  EXPECT_EQ(s.Deadline(),
            now + absl::Seconds(1));  // progress resets the backoff
  const absl::Duration expected[] = {absl::Seconds(2), absl::Seconds(4),
                                     absl::Seconds(4), absl::Seconds(4)};
  for (absl::Duration wait : expected) {
    now = s.Deadline();
    s.OnDeadline(now);
    EXPECT_EQ(Sent(s), window);
    EXPECT_EQ(s.Deadline(), now + wait);
  }
  s.OnDeadline(s.Deadline());
  EXPECT_EQ(s.state(), TftpSession::State::kFailed);
  EXPECT_TRUE(Sent(s).empty());
  EXPECT_NE(s.failure().find("no answer"), std::string::npos);
  EXPECT_EQ(s.Deadline(), absl::InfiniteFuture());
  EXPECT_EQ(s.stats().retransmits, 1u + 4u * 3u);
}

TEST_F(TftpSessionTest, ClientErrorEndsTheTransfer) {
  TftpSession s(Rrq(), File(Pattern(2000)), TftpLimits(), t0_);
  Sent(s);
  std::string error("\0\5\0\3disk full\0", 14);
  s.OnDatagram(Bytes(error), t0_);
  EXPECT_EQ(s.state(), TftpSession::State::kFailed);
  EXPECT_NE(s.failure().find("disk full"), std::string::npos);
}

TEST_F(TftpSessionTest, MalformedAndUnexpectedDatagramsAreIgnored) {
  TftpSession s(Rrq(), File(Pattern(2000)), TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(std::string("\0", 1)), t0_);
  s.OnDatagram(Bytes(Data(1, "x")), t0_);
  s.OnDatagram(Bytes(std::string("\0\1file\0octet\0", 13)), t0_);
  EXPECT_TRUE(Sent(s).empty());
  EXPECT_EQ(s.state(), TftpSession::State::kTransferring);
  EXPECT_EQ(s.stats().ignored_datagrams, 3u);
}

TEST_F(TftpSessionTest, NetasciiConvertsAndReportsTheWireSize) {
  TftpSession s(Rrq({{"tsize", "0"}}, TftpMode::kNetascii), File("a\nb\rc"),
                TftpLimits(), t0_);
  EXPECT_EQ(Sent(s), std::vector<std::string>{std::string("\0\6tsize\0"
                                                          "7\0",
                                                          10)});
  s.OnDatagram(Bytes(Ack(0)), t0_);
  EXPECT_EQ(Sent(s),
            std::vector<std::string>{Data(1, std::string("a\r\nb\r\0c", 7))});
}

TEST_F(TftpSessionTest, BlockNumbersRollOverPast65535) {
  // 70,000 blocks of 8 bytes and a short last one.
  std::string content = Pattern(70000 * 8 + 3);
  TftpSession s(Rrq({{"blksize", "8"}, {"windowsize", "64"}}), File(content),
                TftpLimits(), t0_);
  Sent(s);
  s.OnDatagram(Bytes(Ack(0)), t0_);
  std::string received;
  uint64_t next = 1;
  while (!s.finished()) {
    std::vector<std::string> window = Sent(s);
    ASSERT_FALSE(window.empty());
    for (const std::string& d : window) {
      ASSERT_EQ(static_cast<uint16_t>((uint8_t(d[2]) << 8) | uint8_t(d[3])),
                static_cast<uint16_t>(next));
      received += d.substr(4);
      ++next;
    }
    const std::string& last = window.back();
    s.OnDatagram(Bytes(Ack((uint8_t(last[2]) << 8) | uint8_t(last[3]))), t0_);
  }
  EXPECT_EQ(s.state(), TftpSession::State::kComplete);
  EXPECT_EQ(next - 1, 70001u);
  EXPECT_EQ(received, content);
  EXPECT_EQ(s.stats().retransmits, 0u);
}

// An RFC 7440 receiver on a network that drops, duplicates and reorders
// datagrams both ways. Whatever the seed, the file must arrive whole and the
// session must finish.
struct LossyCase {
  uint16_t blksize;
  uint16_t windowsize;
  size_t size;
  double drop;
  double duplicate;
  double reorder;
};

class LossyNetworkTest : public TftpSessionTest,
                         public ::testing::WithParamInterface<LossyCase> {};

TEST_P(LossyNetworkTest, FileArrivesWhole) {
  const LossyCase& c = GetParam();
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution drop(c.drop), dup(c.duplicate), swap(c.reorder);
    std::string content = Pattern(c.size);
    TftpLimits limits;
    limits.max_retries = 50;
    TftpSession s(Rrq({{"blksize", std::to_string(c.blksize)},
                       {"windowsize", std::to_string(c.windowsize)}}),
                  File(content), limits, t0_);
    absl::Time now = t0_;
    // Receiver state.
    std::string received;
    uint16_t expected = 1;
    int in_window = 0;
    bool got_oack = false;
    auto network = [&](std::vector<std::string> in) {
      std::vector<std::string> out;
      for (auto& d : in) {
        if (drop(rng)) continue;
        out.push_back(d);
        if (dup(rng)) out.push_back(d);
      }
      for (size_t i = 1; i < out.size(); ++i) {
        if (swap(rng)) std::swap(out[i - 1], out[i]);
      }
      return out;
    };
    auto send_ack = [&](uint16_t block) {
      for (const std::string& d : network({Ack(block)})) {
        s.OnDatagram(Bytes(d), now);
      }
    };
    int rounds = 0;
    while (!s.finished() && ++rounds < 100000) {
      std::vector<std::string> arrived = network(Sent(s));
      bool acked = false;
      for (const std::string& d : arrived) {
        if (d[1] == 6) {  // OACK
          if (!got_oack) got_oack = true;
          send_ack(0);
          acked = true;
          continue;
        }
        if (!got_oack) continue;  // DATA before the OACK cannot happen; ignore
        uint16_t block = (uint8_t(d[2]) << 8) | uint8_t(d[3]);
        if (block != expected) {
          // A gap: acknowledge what arrived in order (RFC 7440 section 4).
          if (static_cast<uint16_t>(block - expected) < 0x8000) {
            send_ack(static_cast<uint16_t>(expected - 1));
            acked = true;
            in_window = 0;
          }
          continue;
        }
        received += d.substr(4);
        ++expected;
        bool last = d.size() - 4 < c.blksize;
        if (++in_window == c.windowsize || last) {
          send_ack(static_cast<uint16_t>(expected - 1));
          acked = true;
          in_window = 0;
        }
      }
      if (!acked && s.Transmit().empty() && !s.finished()) {
        now = std::max(now, s.Deadline());
        s.OnDeadline(now);
        // The receiver's own timeout re-acknowledges the last good block.
        if (got_oack) {
          in_window = 0;
          send_ack(static_cast<uint16_t>(expected - 1));
        }
      }
    }
    ASSERT_EQ(s.state(), TftpSession::State::kComplete) << "seed " << seed;
    ASSERT_EQ(received, content) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Networks, LossyNetworkTest,
    ::testing::Values(LossyCase{512, 1, 20000, 0.1, 0.05, 0.05},
                      LossyCase{1468, 16, 200000, 0.05, 0.05, 0.1},
                      LossyCase{100, 8, 30000, 0.2, 0.1, 0.2},
                      LossyCase{64, 64, 5000, 0.02, 0.0, 0.3}));

}  // namespace
}  // namespace rackboot
