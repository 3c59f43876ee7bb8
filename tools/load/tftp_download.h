// TftpDownload: one simulated client's TFTP read transfer (RRQ), as a state
// machine without I/O, for `rackboot load`.
//
// The load runner owns the socket and the clock; the download is fed the
// server's datagrams and the time and says what to send and when it next
// wants to be woken (architecture principle 1, as TftpSession on the server
// side). One thread; the runner owns each download by value or unique_ptr.
//
//   TftpDownload d(options, now);          // queues the RRQ
//   send d.Transmit() to d.Destination(); d.ClearTransmit();
//   ... on a datagram from the server:   d.OnDatagram(bytes, from_port, now);
//   ... when now >= d.Deadline():        d.OnDeadline(now);
//   ... after either, send Transmit() to Destination(), ClearTransmit();
//   done once d.finished(); d.result() says how it ended.
//
// Client side of RFC 1350 / 2347 / 2348 / 2349 / 7440:
//   - The RRQ asks for blksize, tsize=0 and windowsize when they differ from
//     the RFC 1350 defaults (and always for tsize). An OACK is answered with
//     ACK 0; DATA 1 instead of an OACK means the server ignored the options
//     (blksize 512, windowsize 1).
//   - The first reply fixes the server's TID (its source port); later
//     datagrams from another port get ERROR 5 (unknown transfer ID) in
//     Transmit() and are otherwise ignored, as RFC 1350 says. Not answered:
//     a stranger's ERROR (no error ping-pong), port 0, and any stranger while
//     a datagram for the server is still pending in Transmit() (it keeps
//     priority; the stranger is only counted). See Destination().
//   - DATA of the next expected block is taken (its payload handed to the
//     verifier, if any); an ACK goes out after windowsize blocks in order, on
//     the last (short) block, and once, at once, when a block arrives out of
//     order (ACK of the last block in order, so the server resends from
//     there). That gap ACK goes out once until progress or a timeout.
//     Duplicates (blocks already taken) are counted and never ACKed: the
//     timeout below recovers a lost window ACK. A DATA payload above the
//     blksize ends the download (kProtocolError, ERROR 4 to the server).
//   - Block numbers roll over 65535 -> 0.
//   - With no progress (a block in order, or the OACK) for `timeout`, the ACK
//     of the last block in order (ACK 0 after an OACK, or the RRQ before the
//     server answered) is resent, up to max_retries times in a row; the
//     timeout after that fails the download (kTimeout). So with no answer at
//     all it gives up at started + (max_retries + 1) * timeout, as TftpSession
//     counts its retries.
//   - Ends: kOk when the short block arrived and the byte count equals the
//     tsize the server reported (if it did) and expected_size (if set);
//     otherwise the result says why (error_message()). The final ACK is
//     queued in every case. An ERROR from the server ends it (nothing is
//     answered). More bytes than tsize or expected_size before the end, or a
//     verify failure, end it at once with ERROR 0 queued for the server; an
//     unacceptable OACK ends it with ERROR 8 queued (RFC 2347). An empty or
//     over-long file name finishes it in the constructor (kProtocolError,
//     nothing to send). Datagrams after the end are ignored.
#ifndef RACKBOOT_TOOLS_LOAD_TFTP_DOWNLOAD_H_
#define RACKBOOT_TOOLS_LOAD_TFTP_DOWNLOAD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot::load {

struct TftpDownloadOptions {
  std::string filename;
  uint16_t blksize = 1468;   // asked for; 512 asks for nothing
  uint16_t windowsize = 16;  // asked for; 1 asks for nothing
  absl::Duration timeout = absl::Seconds(1);
  int max_retries = 5;
  // When set, the download fails with kSizeMismatch unless exactly this many
  // bytes arrive.
  absl::optional<uint64_t> expected_size;
  // When set, called with each in-order block's file offset and payload (for
  // --verify); returning false fails the download with kContentMismatch.
  std::function<bool(uint64_t offset, absl::Span<const uint8_t> payload)>
      verify;
};

enum class TftpDownloadResult : uint8_t {
  kRunning,
  kOk,
  kTimeout,          // max_retries timeouts in a row
  kServerError,      // the server sent ERROR (code in error_code())
  kSizeMismatch,     // bytes received != tsize or expected_size
  kContentMismatch,  // verify returned false
  kProtocolError,    // e.g. an OACK with values we did not ask for
};
const char* TftpDownloadResultName(TftpDownloadResult result);

struct TftpDownloadStats {
  uint16_t blksize = 512;          // negotiated
  uint16_t windowsize = 1;         // negotiated
  absl::optional<uint64_t> tsize;  // reported by the server
  uint64_t bytes = 0;              // file bytes received in order
  uint64_t datagrams_received = 0;
  uint64_t duplicates = 0;    // DATA already received (server retransmits)
  uint64_t out_of_order = 0;  // DATA past the expected block
  uint64_t acks_sent = 0;
  uint64_t retransmits = 0;  // our RRQ/ACK resends after a timeout
  uint64_t timeouts = 0;
  // Datagrams that did not parse, or that no server sends a reader (RRQ,
  // WRQ, ACK).
  uint64_t malformed = 0;
  uint64_t stranger_datagrams = 0;  // from another port than the server TID
  absl::Time started;
  absl::Time first_data;  // OACK or DATA 1 (time to first byte)
  // DATA block 1 taken (InfinitePast until then). Without options it is
  // first_data; after an OACK it comes one round trip (ACK 0) later. The
  // runner measures RRQ -> this (--json tftp.rrq_to_block1_ms).
  absl::Time first_block = absl::InfinitePast();
  absl::Time finished;
};

class TftpDownload {
 public:
  TftpDownload(TftpDownloadOptions options, absl::Time now);
  TftpDownload(TftpDownload&&) = default;
  TftpDownload& operator=(TftpDownload&&) = default;

  // A datagram from the server's address; `from_port` is its source port.
  void OnDatagram(absl::Span<const uint8_t> datagram, uint16_t from_port,
                  absl::Time now);
  void OnDeadline(absl::Time now);

  // The datagrams to send now, in order (RRQ, ACK or ERROR). This
  // implementation queues at most one: a new datagram replaces an unsent one
  // (every datagram it would replace is superseded by it). Views stay valid
  // until the next non-const call; the download may be moved between calls.
  const std::vector<absl::Span<const uint8_t>>& Transmit() const;
  // Call after sending Transmit(), and after each OnDatagram/OnDeadline
  // before the next one, or a stranger's ERROR 5 is not queued.
  void ClearTransmit();
  // The port to send everything in Transmit() to: 0 before the server's TID
  // is known (meaning the server's well-known port, 69), else the TID; but
  // while Transmit() holds an ERROR 5 for a stranger, the stranger's port.
  // So `send Transmit() to Destination()` is always right.
  uint16_t Destination() const;
  // The stranger's port while Transmit() holds its ERROR 5 (then equal to
  // Destination()), else 0. For runners that count or log those errors.
  uint16_t StrangerPort() const;

  absl::Time Deadline() const;  // InfiniteFuture() once finished
  bool finished() const { return result_ != TftpDownloadResult::kRunning; }
  TftpDownloadResult result() const { return result_; }
  uint16_t error_code() const { return error_code_; }
  const std::string& error_message() const { return error_message_; }
  const TftpDownloadStats& stats() const { return stats_; }

 private:
  TftpDownloadResult result_ = TftpDownloadResult::kRunning;
  uint16_t error_code_ = 0;
  std::string error_message_;
  TftpDownloadStats stats_;
  // The implementation adds what it needs below.

  // RRQ: 2 + file name (kTftpMaxFilenameSize) + NUL + "octet" NUL + the three
  // options at their longest (48 bytes), rounded up. ACKs and ERRORs are
  // shorter; ERROR messages are cut to kMaxErrorMessage.
  static constexpr size_t kOutSize = 576;
  static constexpr size_t kMaxErrorMessage = 128;

  absl::Status QueueRrq();
  void Start(uint16_t tid, absl::Time now);
  void OnOack(const TftpOack& oack, uint16_t from_port, absl::Time now);
  void OnData(const TftpData& data, absl::Time now);
  void OnStranger(absl::Span<const uint8_t> datagram, uint16_t from_port);
  // In-order progress: resets the retry count, the gap latch and the timer.
  void Progress(absl::Time now);
  void QueueAck(uint64_t block);
  void QueueError(uint16_t code, absl::string_view message);
  void Finish(TftpDownloadResult result, absl::Time now);
  bool TooLong() const;
  bool SizesMatch() const;

  TftpDownloadOptions options_;
  absl::Time deadline_ = absl::InfiniteFuture();
  uint64_t received_blocks_ = 0;  // in order, counted from 1 without wrapping
  int retries_ = 0;               // timeouts in a row
  uint16_t tid_ = 0;              // the server's port; 0 until it answers
  uint16_t stranger_port_ = 0;    // non-zero while out_ holds its ERROR 5
  uint16_t since_ack_ = 0;        // blocks in order since the last ACK
  bool negotiated_ = false;       // an OACK was accepted
  bool gap_acked_ = false;        // the gap ACK went out; none until progress
  uint16_t out_size_ = 0;         // bytes of out_ to send; 0: nothing
  std::array<uint8_t, kOutSize> out_;
  // One view of out_, rebuilt by Transmit() so moves never leave it dangling.
  mutable std::vector<absl::Span<const uint8_t>> transmit_;
};

}  // namespace rackboot::load

#endif  // RACKBOOT_TOOLS_LOAD_TFTP_DOWNLOAD_H_
