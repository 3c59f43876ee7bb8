// Fuzz target for TftpSession: a read transfer started from a fuzzed RRQ and
// then fed fuzzed datagrams, well-formed ACKs and ERRORs, and deadlines, with
// time advancing. After every step:
//   - every DATA datagram carries exactly the bytes of the file (netascii:
//     of its conversion) at its block's offset, never more than the block
//     size and never past the end;
//   - a session that is not finished has a finite deadline, one later than
//     now right after OnDeadline(now); a finished one has none;
//   - kComplete only after the last (short) block went out.
// At the end a silent client must make the session give up within
// max_retries + 1 deadlines. A violated invariant traps.
//
// Input: [size hi][size lo][flags][rrq length][rrq bytes] then steps, each
// an op byte (low 3 bits: what, high 5 bits: an argument) and its operands:
//   0 raw datagram   [len][bytes]  (time += arg ms)
//   1 ACK            [block hi][block lo]
//   2 ACK of the last DATA block sent (a good client)
//   3 ACK of the last DATA block sent minus arg (a partial window)
//   4 time = Deadline(), OnDeadline
//   5 time += arg * 100 ms, then OnDeadline if it is due (as the shard does)
//   6 ERROR from the client
//   7 the previous datagram again
// flags: bit 0 netascii, bits 1-3 max_retries - 1. The file is size bytes of
// a fixed pattern with CR and LF in it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/files/file_cache.h"
#include "engine/tftp/tftp_session.h"
#include "proto/tftp/netascii.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  absl::Span<const uint8_t> Bytes(size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    absl::Span<const uint8_t> out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

class Harness {
 public:
  Harness(const TftpRequest& request, std::shared_ptr<const MappedFile> file,
          const TftpLimits& limits)
      : limits_(limits),
        now_(absl::FromUnixSeconds(1764400000)),
        session_(request, file, limits, now_) {
    const absl::Span<const uint8_t> bytes = file->bytes();
    wire_.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (request.mode == TftpMode::kNetascii) wire_ = ToNetascii(wire_);
    Drain();
  }

  void Datagram(absl::Span<const uint8_t> bytes) {
    last_.assign(bytes.begin(), bytes.end());
    session_.OnDatagram(bytes, now_);
    Drain();
  }
  void Ack(uint16_t block) {
    std::array<uint8_t, kTftpHeaderSize> ack;
    WriteAck(block, ack);
    Datagram(ack);
  }
  void Error() {
    std::array<uint8_t, 64> buf;
    absl::StatusOr<size_t> n =
        WriteError(0, "client gave up", absl::MakeSpan(buf));
    Check(n.ok());
    Datagram(absl::MakeSpan(buf.data(), *n));
  }
  void Again() {
    const std::vector<uint8_t> copy = last_;
    Datagram(copy);
  }
  void Advance(absl::Duration d) { now_ += d; }
  void DeadlineIfDue() {
    if (session_.finished() || now_ < session_.Deadline()) return;
    session_.OnDeadline(now_);
    Check(session_.finished() || session_.Deadline() > now_);
    Drain();
  }
  void FireDeadline() {
    if (session_.finished()) return;
    now_ = std::max(now_, session_.Deadline());
    DeadlineIfDue();
  }
  uint16_t last_block() const { return last_block_; }

  // A client that falls silent: the session gives up.
  void Silence() {
    for (int i = 0; i <= limits_.max_retries + 1 && !session_.finished(); ++i) {
      FireDeadline();
    }
    Check(session_.finished());
    Check(session_.Deadline() == absl::InfiniteFuture());
  }

 private:
  // Checks what the session queued, then takes it.
  void Drain() {
    const TftpTransferStats& stats = session_.stats();
    Check(stats.wire_size == wire_.size());
    for (const TftpSession::Datagram& d : session_.Transmit()) {
      Check(d.head.size() >= 2);
      const uint16_t opcode = (d.head[0] << 8) | d.head[1];
      if (opcode != 3) {  // OACK or ERROR: no file bytes
        Check(d.body.empty());
        continue;
      }
      Check(d.head.size() == kTftpHeaderSize);
      // Files here stay below 65536 blocks: no rollover to undo.
      const uint16_t block = (d.head[2] << 8) | d.head[3];
      Check(block >= 1);
      const uint64_t offset = uint64_t{block - 1u} * stats.blksize;
      Check(offset <= wire_.size());
      const size_t expected =
          std::min<uint64_t>(stats.blksize, wire_.size() - offset);
      Check(d.body.size() == expected);
      Check(absl::string_view(reinterpret_cast<const char*>(d.body.data()),
                              d.body.size()) ==
            absl::string_view(wire_).substr(offset, expected));
      if (expected < stats.blksize) last_block_went_out_ = true;
      last_block_ = block;
    }
    session_.ClearTransmit();
    if (session_.finished()) {
      Check(session_.Deadline() == absl::InfiniteFuture());
    } else {
      Check(session_.Deadline() != absl::InfiniteFuture());
    }
    if (session_.state() == TftpSession::State::kComplete) {
      Check(last_block_went_out_);
    }
  }

  const TftpLimits limits_;
  absl::Time now_;
  TftpSession session_;
  std::string wire_;
  std::vector<uint8_t> last_;
  uint16_t last_block_ = 0;
  bool last_block_went_out_ = false;
};

void FuzzOne(const uint8_t* data, size_t size) {
  Input in(data, size);
  const size_t file_size = (size_t{in.Byte()} << 8) | in.Byte();
  const uint8_t flags = in.Byte();
  absl::Span<const uint8_t> rrq = in.Bytes(in.Byte());
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(rrq);
  if (!packet.ok() || !std::holds_alternative<TftpRequest>(*packet)) return;
  TftpRequest request = std::get<TftpRequest>(*packet);
  if (request.write) return;
  // What the daemon would do with the mode it parsed: octet or netascii.
  if (flags & 1) request.mode = TftpMode::kNetascii;

  std::string contents(file_size, '\0');
  for (size_t i = 0; i < file_size; ++i) {
    contents[i] = i % 61 == 60 ? '\n' : i % 97 == 96 ? '\r' : 'a' + i % 26;
  }
  TftpLimits limits;
  limits.max_retries = 1 + ((flags >> 1) & 7);
  Harness h(request, MappedFile::FromMemory(std::move(contents), "file"),
            limits);
  while (!in.empty()) {
    const uint8_t op = in.Byte();
    const int arg = op >> 3;
    switch (op & 7) {
      case 0: {
        absl::Span<const uint8_t> bytes = in.Bytes(in.Byte());
        h.Advance(absl::Milliseconds(arg));
        h.Datagram(bytes);
        break;
      }
      case 1: {
        const uint16_t block = (uint16_t{in.Byte()} << 8) | in.Byte();
        h.Ack(block);
        break;
      }
      case 2:
        h.Ack(h.last_block());
        break;
      case 3:
        h.Ack(static_cast<uint16_t>(h.last_block() - arg));
        break;
      case 4:
        h.FireDeadline();
        break;
      case 5:
        h.Advance(absl::Milliseconds(100 * arg));
        h.DeadlineIfDue();
        break;
      case 6:
        h.Error();
        break;
      case 7:
        h.Again();
        break;
    }
  }
  h.Silence();
}

}  // namespace
}  // namespace rackboot

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::FuzzOne(data, size);
  return 0;
}
