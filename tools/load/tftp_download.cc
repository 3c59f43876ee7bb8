#include "tools/load/tftp_download.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "proto/tftp/tftp_options.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot::load {

const char* TftpDownloadResultName(TftpDownloadResult result) {
  switch (result) {
    case TftpDownloadResult::kRunning:
      return "running";
    case TftpDownloadResult::kOk:
      return "ok";
    case TftpDownloadResult::kTimeout:
      return "timeout";
    case TftpDownloadResult::kServerError:
      return "server_error";
    case TftpDownloadResult::kSizeMismatch:
      return "size_mismatch";
    case TftpDownloadResult::kContentMismatch:
      return "content_mismatch";
    case TftpDownloadResult::kProtocolError:
      return "protocol_error";
  }
  return "unknown";
}

TftpDownload::TftpDownload(TftpDownloadOptions options, absl::Time now)
    : options_(std::move(options)) {
  stats_.started = now;
  // The one allocation of the view list; Transmit() refills it in place.
  transmit_.reserve(1);
  absl::Status written = QueueRrq();
  if (!written.ok()) {
    // An empty or over-long file name: nothing can be asked, so the download
    // ends before it starts rather than send what the server must reject.
    error_message_ = std::string(written.message());
    Finish(TftpDownloadResult::kProtocolError, now);
    return;
  }
  deadline_ = now + options_.timeout;
}

absl::Status TftpDownload::QueueRrq() {
  ClearTransmit();
  TftpRequest rrq;
  rrq.filename = options_.filename;
  rrq.mode = TftpMode::kOctet;
  if (options_.blksize != kTftpDefaultBlockSize) {
    rrq.options.push_back({"blksize", absl::StrCat(options_.blksize)});
  }
  // Always: the size the server reports is checked at the end.
  rrq.options.push_back({"tsize", "0"});
  if (options_.windowsize != 1) {
    rrq.options.push_back({"windowsize", absl::StrCat(options_.windowsize)});
  }
  absl::StatusOr<size_t> written = WriteRequest(rrq, absl::MakeSpan(out_));
  if (!written.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write RRQ: ", written.status().message()));
  }
  out_size_ = *written;
  return absl::OkStatus();
}

const std::vector<absl::Span<const uint8_t>>& TftpDownload::Transmit() const {
  // Built on demand so that a moved download never hands out views into the
  // buffer of the object it was moved from.
  transmit_.clear();
  if (out_size_ > 0) transmit_.emplace_back(out_.data(), out_size_);
  return transmit_;
}

void TftpDownload::ClearTransmit() {
  out_size_ = 0;
  stranger_port_ = 0;
  transmit_.clear();
}

uint16_t TftpDownload::Destination() const {
  if (stranger_port_ != 0) return stranger_port_;
  return tid_;
}

uint16_t TftpDownload::StrangerPort() const { return stranger_port_; }

absl::Time TftpDownload::Deadline() const {
  return finished() ? absl::InfiniteFuture() : deadline_;
}

void TftpDownload::OnDatagram(absl::Span<const uint8_t> datagram,
                              uint16_t from_port, absl::Time now) {
  if (finished()) return;
  ++stats_.datagrams_received;
  if (tid_ != 0 && from_port != tid_) {
    OnStranger(datagram, from_port);
    return;
  }
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(datagram);
  if (!packet.ok()) {
    ++stats_.malformed;
    return;
  }
  if (const auto* data = std::get_if<TftpData>(&*packet)) {
    if (tid_ == 0) {
      if (data->block != 1) {
        // Not the start of a transfer: nothing ties it to our request.
        ++stats_.out_of_order;
        return;
      }
      // RFC 2347: DATA 1 instead of an OACK means no option was taken.
      Start(from_port, now);
    }
    OnData(*data, now);
  } else if (const auto* oack = std::get_if<TftpOack>(&*packet)) {
    OnOack(*oack, from_port, now);
  } else if (const auto* error = std::get_if<TftpError>(&*packet)) {
    error_code_ = error->code;
    error_message_ = error->message;
    // An ERROR is never answered (RFC 1350 section 7), so nothing is queued
    // and the pending datagram, if any, is dropped.
    ClearTransmit();
    Finish(TftpDownloadResult::kServerError, now);
  } else {
    // RRQ, WRQ or ACK: nothing a server sends to a reader.
    ++stats_.malformed;
  }
}

void TftpDownload::OnStranger(absl::Span<const uint8_t> datagram,
                              uint16_t from_port) {
  ++stats_.stranger_datagrams;
  // RFC 1350 section 4: answer ERROR 5 and carry on. Not to an ERROR (two
  // peers could bounce errors forever), not to port 0 (unsendable), and only
  // when nothing for the server is pending: Transmit() holds one datagram
  // with one destination, and the server's ACK matters more.
  const bool is_error = datagram.size() >= 2 && datagram[0] == 0 &&
                        datagram[1] == static_cast<uint8_t>(TftpOpcode::kError);
  if (is_error || from_port == 0 || out_size_ != 0) return;
  QueueError(static_cast<uint16_t>(TftpErrorCode::kUnknownTransferId),
             "unknown transfer ID");
  stranger_port_ = from_port;
}

void TftpDownload::Start(uint16_t tid, absl::Time now) {
  tid_ = tid;
  stats_.first_data = now;
  retries_ = 0;
}

void TftpDownload::OnOack(const TftpOack& oack, uint16_t from_port,
                          absl::Time now) {
  if (tid_ != 0) {
    // The server resent its OACK: our ACK 0 was lost. Until data flows ACK 0
    // is what it waits for; later an OACK is stale.
    ++stats_.duplicates;
    if (received_blocks_ == 0 && negotiated_) QueueAck(0);
    return;
  }
  Start(from_port, now);
  TftpRequestedOptions accepted;
  for (const TftpOption& option : oack.options) {
    TftpRequestedOptions one;
    absl::Status parsed = ParseRequestedOption(option, one);
    std::string refused;
    if (!parsed.ok()) {
      refused = std::string(parsed.message());
    } else if (!one.ignored.empty()) {
      refused = absl::StrCat("option ", option.name, " was not requested");
    } else if (one.blksize) {
      // RFC 2348: the server may only lower the value.
      if (options_.blksize == kTftpDefaultBlockSize) {
        refused = "blksize was not requested";
      } else if (*one.blksize > options_.blksize) {
        refused = absl::StrCat("blksize ", *one.blksize, " above the ",
                               options_.blksize, " requested");
      } else {
        stats_.blksize = *one.blksize;
      }
    } else if (one.windowsize) {
      if (options_.windowsize == 1) {
        refused = "windowsize was not requested";
      } else if (*one.windowsize > options_.windowsize) {
        refused = absl::StrCat("windowsize ", *one.windowsize, " above the ",
                               options_.windowsize, " requested");
      } else {
        stats_.windowsize = *one.windowsize;
      }
    } else if (one.tsize) {
      stats_.tsize = *one.tsize;
    }
    // timeout (RFC 2349) is accepted without asking: it governs the server's
    // retransmissions, not ours.
    if (!refused.empty()) {
      error_message_ = absl::StrCat("OACK refused: ", refused);
      // RFC 2347: a client that refuses the OACK answers ERROR 8.
      QueueError(static_cast<uint16_t>(TftpErrorCode::kOptionRefused),
                 error_message_);
      Finish(TftpDownloadResult::kProtocolError, now);
      return;
    }
  }
  negotiated_ = true;
  QueueAck(0);
  Progress(now);
}

void TftpDownload::OnData(const TftpData& data, absl::Time now) {
  const uint64_t expected = received_blocks_ + 1;
  // Distance from the expected block on the 16-bit circle: the first half is
  // ahead (a gap), the second half behind (a duplicate).
  const uint16_t ahead =
      static_cast<uint16_t>(data.block - static_cast<uint16_t>(expected));
  if (ahead != 0) {
    if (ahead < 0x8000) {
      ++stats_.out_of_order;
      // RFC 7440 section 4: on a gap, ACK the last block in order so the
      // server resends from there; once until progress or a timeout, or a
      // burst of later blocks would each trigger a resend of the window.
      if (!gap_acked_) {
        gap_acked_ = true;
        QueueAck(received_blocks_);
      }
    } else {
      ++stats_.duplicates;
    }
    return;
  }
  if (data.payload.size() > stats_.blksize) {
    error_message_ =
        absl::StrCat("DATA ", data.block, " carries ", data.payload.size(),
                     " bytes, blksize is ", stats_.blksize);
    QueueError(static_cast<uint16_t>(TftpErrorCode::kIllegalOperation),
               error_message_);
    Finish(TftpDownloadResult::kProtocolError, now);
    return;
  }
  const uint64_t offset = stats_.bytes;
  stats_.bytes += data.payload.size();
  if (++received_blocks_ == 1) stats_.first_block = now;
  if (options_.verify && !options_.verify(offset, data.payload)) {
    error_message_ =
        absl::StrCat("content differs in the block at offset ", offset);
    QueueError(static_cast<uint16_t>(TftpErrorCode::kNotDefined),
               "content mismatch");
    Finish(TftpDownloadResult::kContentMismatch, now);
    return;
  }
  const bool last = data.payload.size() < stats_.blksize;
  if (!last && TooLong()) {
    // More bytes than announced or expected: stop the server now rather than
    // download a file of unbounded size.
    QueueError(static_cast<uint16_t>(TftpErrorCode::kNotDefined),
               "more data than expected");
    Finish(TftpDownloadResult::kSizeMismatch, now);
    return;
  }
  Progress(now);
  if (last) {
    // The final ACK goes out whatever the sizes say: the transfer itself
    // completed, and the server should not retransmit.
    QueueAck(received_blocks_);
    Finish(SizesMatch() ? TftpDownloadResult::kOk
                        : TftpDownloadResult::kSizeMismatch,
           now);
    if (!SizesMatch()) {
      error_message_ = absl::StrCat("received ", stats_.bytes, " bytes");
      if (stats_.tsize)
        absl::StrAppend(&error_message_, ", tsize ", *stats_.tsize);
      if (options_.expected_size) {
        absl::StrAppend(&error_message_, ", expected ",
                        *options_.expected_size);
      }
    }
    return;
  }
  if (++since_ack_ >= stats_.windowsize) QueueAck(received_blocks_);
}

bool TftpDownload::TooLong() const {
  return (stats_.tsize && stats_.bytes > *stats_.tsize) ||
         (options_.expected_size && stats_.bytes > *options_.expected_size);
}

bool TftpDownload::SizesMatch() const {
  return (!stats_.tsize || stats_.bytes == *stats_.tsize) &&
         (!options_.expected_size || stats_.bytes == *options_.expected_size);
}

void TftpDownload::Progress(absl::Time now) {
  retries_ = 0;
  gap_acked_ = false;
  deadline_ = now + options_.timeout;
}

void TftpDownload::OnDeadline(absl::Time now) {
  if (finished() || now < deadline_) return;
  ++stats_.timeouts;
  if (++retries_ > options_.max_retries) {
    error_message_ = absl::StrCat("no progress after ", options_.max_retries,
                                  " retransmissions");
    ClearTransmit();
    Finish(TftpDownloadResult::kTimeout, now);
    return;
  }
  ++stats_.retransmits;
  gap_acked_ = false;
  deadline_ = now + options_.timeout;
  if (tid_ == 0) {
    // The RRQ is written again rather than kept: the buffer may have held an
    // ERROR 5 since. It wrote once, so it writes again.
    (void)QueueRrq();
    return;
  }
  // RFC 7440 section 4: the ACK of the last block received in order tells
  // the server where to resume.
  QueueAck(received_blocks_);
}

void TftpDownload::QueueAck(uint64_t block) {
  stranger_port_ = 0;  // a pending ERROR 5 gives way to the server's ACK
  out_size_ = WriteAck(
      static_cast<uint16_t>(block),  // rolls over
      std::span<uint8_t, kTftpHeaderSize>(out_.data(), kTftpHeaderSize));
  since_ack_ = 0;
  ++stats_.acks_sent;
}

void TftpDownload::QueueError(uint16_t code, absl::string_view message) {
  stranger_port_ = 0;
  // Messages longer than the buffer are cut: the code is what matters.
  message = message.substr(0, kMaxErrorMessage);
  absl::StatusOr<size_t> written =
      WriteError(code, message, absl::MakeSpan(out_));
  out_size_ = written.ok() ? *written : 0;
}

void TftpDownload::Finish(TftpDownloadResult result, absl::Time now) {
  result_ = result;
  stats_.finished = now;
  deadline_ = absl::InfiniteFuture();
}

}  // namespace rackboot::load
