// TftpSession: one TFTP read transfer as a state machine without I/O.
//
// The session is fed the client's datagrams and the time, and says what to send
// and when it next wants to be woken; the shard that owns it does the sockets
// and the clock (architecture principle 1). That makes every retransmission and
// rollover testable without a socket.
//
//   TftpSession session(request, file, limits, now);   // queues OACK or DATA 1
//   Send(session.Transmit()); session.ClearTransmit();
//   ... on a datagram from the client's TID:  session.OnDatagram(bytes, now);
//   ... when now >= session.Deadline():       session.OnDeadline(now);
//   ... after either, send session.Transmit(), then ClearTransmit(); drop the
//   session once
//       session.finished().
//
// Protocol (sender side of a read request):
//   - RFC 2347: with options the session sends an OACK and waits for ACK 0;
//   without, DATA 1.
//     blksize (RFC 2348) is lowered to the limit, tsize (RFC 2349) answered
//     with the size on the wire, timeout (RFC 2349) adopted up to
//     limits.max_timeout and refused (left out) above it, since RFC 2349
//     has an accepted value echoed unchanged (a client asking 255 s must not
//     hold a descriptor for minutes), windowsize (RFC 7440) lowered to the
//     limit; options with
//     invalid values are left out of the OACK, as tftp-hpa does, and unknown
//     ones ignored.
//   - RFC 7440: a window of up to windowsize blocks leaves at once. An ACK of
//   block k inside the
//     outstanding window moves the window to k+1 (a partial-window ACK
//     therefore resends from k+1); a timeout resends the window from the first
//     unacknowledged block.
//   - Block numbers roll over from 65535 to 0, so files of any size work at any
//   block size.
//   - A file of N bytes goes out in N / blksize + 1 blocks: the last one is
//   short, or empty when
//     N is a multiple of blksize (RFC 1350 section 6).
//   - Duplicate and stale ACKs change nothing and send nothing (the Sorcerer's
//   Apprentice bug,
//     RFC 1123 section 4.2.3.1).
//   - Consecutive timeouts back off exponentially up to limits.max_timeout;
//     after limits.max_retries of them the session gives up.
//   - Until the client's first valid ACK (ACK 0 of the OACK, or ACK 1) the
//     session is unconfirmed: the client may be a spoofed or silent address,
//     so it waits at most limits.unconfirmed_timeout per try and gives up
//     after limits.unconfirmed_retries tries (a few seconds in all).
//   - An ERROR from the client ends the session; a malformed datagram is
//   counted and ignored.
//
// The session borrows nothing: it holds the file mapping (shared with other
// transfers) for its whole life. Transmit()'s views stay valid until the next
// non-const call. One thread.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_SESSION_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_SESSION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/files/file_cache.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {

// Bounds on what a client may negotiate and on how long a silent client is
// waited for.
struct TftpLimits {
  // Fits a 1500-byte Ethernet MTU: 1468 + 4 + 8 + 20.
  uint16_t max_blksize = 1468;
  uint16_t max_windowsize = 64;
  // The retransmission interval when the client asks for none.
  absl::Duration initial_timeout = absl::Seconds(1);
  // Ceiling of every interval: a client's RFC 2349 timeout above it is
  // refused; the backoff stops at it.
  absl::Duration max_timeout = absl::Seconds(3);
  // Consecutive timeouts before giving up: 1+2+3+3+3+3+3 = 18 s by default.
  int max_retries = 6;
  // Before the client's first valid ACK: interval ceiling and tries (see
  // above); 1 s + 1 s + 1 s by default.
  absl::Duration unconfirmed_timeout = absl::Seconds(1);
  int unconfirmed_retries = 2;
};

// What the session reports for the log line and the counters.
struct TftpTransferStats {
  uint16_t blksize = kTftpDefaultBlockSize;
  uint16_t windowsize = 1;
  uint64_t wire_size = 0;   // bytes of file data on the wire (netascii expands)
  uint64_t bytes_sent = 0;  // DATA payload bytes sent, retransmissions included
  // DATA payload bytes the client acknowledged: all of wire_size once
  // complete, what really reached the client when a transfer fails.
  uint64_t bytes_acked = 0;
  uint64_t datagrams_sent = 0;  // every datagram, OACK included
  uint64_t retransmits =
      0;  // datagrams sent again after a timeout or a partial ACK
  uint64_t timeouts = 0;
  uint64_t ignored_datagrams = 0;  // malformed, duplicate or stale
};

class TftpSession {
 public:
  enum class State {
    kNegotiating,   // OACK sent, waiting for ACK 0
    kTransferring,  // DATA windows going out
    kComplete,      // the last block was acknowledged
    kFailed,        // client error, or too many timeouts
  };

  // One datagram to send: a header the session owns and (for DATA) a slice of
  // the file.
  struct Datagram {
    absl::Span<const uint8_t> head;
    absl::Span<const uint8_t> body;
    size_t size() const { return head.size() + body.size(); }
  };

  // Starts the transfer of `file` for `request` (an RRQ) and queues the first
  // datagram. REQUIRES: !request.write, file != nullptr, limits within the
  // protocol's ranges.
  TftpSession(const TftpRequest& request,
              std::shared_ptr<const MappedFile> file, const TftpLimits& limits,
              absl::Time now);

  TftpSession(const TftpSession&) = delete;
  TftpSession& operator=(const TftpSession&) = delete;

  // A datagram from the client's transfer ID.
  void OnDatagram(absl::Span<const uint8_t> datagram, absl::Time now);
  // Called when now >= Deadline(): retransmits, or gives up.
  void OnDeadline(absl::Time now);

  // The datagrams to send now, in order (a whole window at a time). Every DATA
  // datagram of a window but the last has the same size, so a window can leave
  // as one UDP GSO send.
  absl::Span<const Datagram> Transmit() const { return transmit_; }
  void ClearTransmit() { transmit_.clear(); }

  // When OnDeadline wants to be called; InfiniteFuture() once finished.
  absl::Time Deadline() const { return deadline_; }
  State state() const { return state_; }
  bool finished() const {
    return state_ == State::kComplete || state_ == State::kFailed;
  }
  // Why the session failed (empty unless kFailed), for the log line; text
  // from the client in it is already escaped.
  const std::string& failure() const { return failure_; }
  // Whether the client sent a valid ACK (ACK 0 of the OACK, or of a DATA
  // block): it is then known to be listening at its address.
  bool confirmed() const { return confirmed_; }
  const TftpTransferStats& stats() const { return stats_; }
  const std::string& filename() const { return filename_; }
  const MappedFile& file() const { return *file_; }
  absl::Time started() const { return started_; }

 private:
  void Negotiate(const TftpRequest& request);
  // Queues the window that starts after the last acknowledged block.
  void QueueWindow(absl::Time now);
  void OnAck(uint16_t block, absl::Time now);
  void Arm(absl::Time now);
  void Fail(std::string why);

  const std::shared_ptr<const MappedFile> file_;
  std::string netascii_;  // the whole file converted, for netascii mode only
  absl::Span<const uint8_t> wire_;  // what goes out: the mapping or netascii_
  const TftpLimits limits_;
  const std::string filename_;
  const absl::Time started_;

  State state_ = State::kTransferring;
  std::string failure_;
  TftpTransferStats stats_;
  absl::Duration timeout_;       // the current retransmission interval
  absl::Duration base_timeout_;  // the negotiated or default interval
  int retries_ = 0;              // consecutive timeouts
  bool confirmed_ = false;
  absl::Time deadline_ = absl::InfiniteFuture();

  // Blocks are counted from 1 without wrapping; the wire carries the low 16
  // bits.
  uint64_t total_blocks_ = 0;
  uint64_t acked_ =
      0;  // highest block the client acknowledged (0: none / OACK)
  uint64_t sent_up_to_ = 0;  // highest block of the outstanding window

  std::vector<uint8_t> control_;  // the OACK
  std::vector<std::array<uint8_t, kTftpHeaderSize>>
      headers_;  // one per window slot
  std::vector<Datagram> transmit_;
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_SESSION_H_
