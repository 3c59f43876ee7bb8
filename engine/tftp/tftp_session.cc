#include "engine/tftp/tftp_session.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"
#include "proto/tftp/netascii.h"
#include "proto/tftp/tftp_options.h"

namespace rackboot {

TftpSession::TftpSession(const TftpRequest& request,
                         std::shared_ptr<const MappedFile> file,
                         const TftpLimits& limits, absl::Time now)
    : file_(std::move(file)),
      limits_(limits),
      filename_(request.filename),
      started_(now),
      timeout_(std::min(limits.initial_timeout, limits.max_timeout)),
      base_timeout_(timeout_) {
  wire_ = file_->bytes();
  if (request.mode == TftpMode::kNetascii) {
    // Netascii expands the data, so it cannot go out as slices of the mapping.
    // Text files (menus, configs) are the only ones fetched this way; one
    // converted copy per transfer.
    netascii_ = ToNetascii(absl::string_view(
        reinterpret_cast<const char*>(wire_.data()), wire_.size()));
    wire_ = absl::Span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(netascii_.data()), netascii_.size());
  }
  stats_.wire_size = wire_.size();
  Negotiate(request);
  total_blocks_ = wire_.size() / stats_.blksize + 1;
  headers_.resize(stats_.windowsize);
  transmit_.reserve(stats_.windowsize);
  if (state_ == State::kNegotiating) {
    transmit_.push_back({control_, {}});
    ++stats_.datagrams_sent;
    Arm(now);
  } else {
    QueueWindow(now);
  }
}

// RFC 2347: answer each option we support with the value we will use; leave out
// the rest.
void TftpSession::Negotiate(const TftpRequest& request) {
  std::vector<TftpOption> accepted;
  for (const TftpOption& option : request.options) {
    TftpRequestedOptions parsed;
    if (!ParseRequestedOption(option, parsed).ok()) {
      // An invalid value (blksize 7, windowsize 0, ...): leave the option out,
      // as tftp-hpa does, and the transfer proceeds with the default.
      continue;
    }
    if (parsed.blksize) {
      stats_.blksize = std::min(*parsed.blksize, limits_.max_blksize);
      accepted.push_back({option.name, absl::StrCat(stats_.blksize)});
    } else if (parsed.tsize) {
      // RFC 2349: in an RRQ the server answers with the size of the file.
      // Except for an empty file: curl (7.88) refuses an OACK carrying tsize 0
      // ("invalid tsize"), and leaving the option out is allowed and only means
      // the size is not announced.
      if (!wire_.empty()) {
        accepted.push_back({option.name, absl::StrCat(wire_.size())});
      }
    } else if (parsed.timeout_seconds) {
      // RFC 2349: an accepted timeout is answered with the client's own
      // value, so one above the cap is refused (left out of the OACK) and the
      // transfer keeps the default interval: a client asking 255 s must not
      // hold a socket for minutes.
      const absl::Duration asked = absl::Seconds(*parsed.timeout_seconds);
      if (asked > limits_.max_timeout) continue;
      base_timeout_ = timeout_ = asked;
      accepted.push_back(option);
    } else if (parsed.windowsize) {
      stats_.windowsize = std::min(*parsed.windowsize, limits_.max_windowsize);
      accepted.push_back({option.name, absl::StrCat(stats_.windowsize)});
    }
  }
  if (accepted.empty()) return;
  size_t size = 2;
  for (const TftpOption& option : accepted) {
    size += option.name.size() + option.value.size() + 2;
  }
  control_.resize(size);
  absl::StatusOr<size_t> written =
      WriteOack(accepted, absl::MakeSpan(control_));
  if (!written.ok())
    return;  // cannot happen: names and values came from a parsed request
  control_.resize(*written);
  state_ = State::kNegotiating;
}

void TftpSession::QueueWindow(absl::Time now) {
  transmit_.clear();
  const uint64_t first = acked_ + 1;
  const uint64_t last = std::min(acked_ + stats_.windowsize, total_blocks_);
  for (uint64_t block = first; block <= last; ++block) {
    auto& header = headers_[block - first];
    WriteDataHeader(static_cast<uint16_t>(block),
                    header);  // rolls over 65535 -> 0
    const uint64_t offset = (block - 1) * stats_.blksize;
    const uint64_t length =
        std::min<uint64_t>(stats_.blksize, wire_.size() - offset);
    transmit_.push_back({header, wire_.subspan(offset, length)});
    stats_.bytes_sent += length;
    ++stats_.datagrams_sent;
    if (block <= sent_up_to_) ++stats_.retransmits;
  }
  sent_up_to_ = std::max(sent_up_to_, last);
  Arm(now);
}

void TftpSession::OnDatagram(absl::Span<const uint8_t> datagram,
                             absl::Time now) {
  if (finished()) return;
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(datagram);
  if (!packet.ok()) {
    ++stats_.ignored_datagrams;
    return;
  }
  if (const auto* ack = std::get_if<TftpAck>(&*packet)) {
    OnAck(ack->block, now);
  } else if (const auto* error = std::get_if<TftpError>(&*packet)) {
    Fail(absl::StrCat("client sent ERROR ", error->code, " (",
                      TftpErrorCodeName(error->code),
                      "): ", log::Quoted(error->message)));
  } else {
    // DATA, OACK or a repeated request on the transfer's port: nothing a reader
    // should send.
    ++stats_.ignored_datagrams;
  }
}

void TftpSession::OnAck(uint16_t block, absl::Time now) {
  if (state_ == State::kNegotiating) {
    if (block != 0) {
      ++stats_.ignored_datagrams;
      return;
    }
    state_ = State::kTransferring;
    confirmed_ = true;
    retries_ = 0;
    timeout_ = base_timeout_;
    QueueWindow(now);
    return;
  }
  // The 16-bit block number names the block at most 65535 ahead of the last one
  // acknowledged.
  const uint16_t ahead =
      static_cast<uint16_t>(block - static_cast<uint16_t>(acked_));
  const uint64_t acked = acked_ + ahead;
  if (ahead == 0 || acked > sent_up_to_) {
    // A duplicate or a stale ACK: answering it would double every later block.
    ++stats_.ignored_datagrams;
    return;
  }
  acked_ = acked;
  confirmed_ = true;
  stats_.bytes_acked =
      std::min<uint64_t>(acked_ * stats_.blksize, wire_.size());
  retries_ = 0;
  timeout_ = base_timeout_;
  if (acked_ == total_blocks_) {
    state_ = State::kComplete;
    deadline_ = absl::InfiniteFuture();
    transmit_.clear();
    return;
  }
  // A full window acknowledged moves on; a partial one (RFC 7440 section 4: the
  // receiver saw a gap) resends from the first missing block.
  QueueWindow(now);
}

void TftpSession::OnDeadline(absl::Time now) {
  if (finished() || now < deadline_) return;
  ++stats_.timeouts;
  const int max_retries =
      confirmed_ ? limits_.max_retries
                 : std::min(limits_.max_retries, limits_.unconfirmed_retries);
  if (++retries_ > max_retries) {
    Fail(absl::StrCat("no answer after ", max_retries, " retransmissions",
                      confirmed_ ? "" : " (never acknowledged)"));
    return;
  }
  timeout_ = std::min(timeout_ * 2, limits_.max_timeout);
  if (!confirmed_) timeout_ = std::min(timeout_, limits_.unconfirmed_timeout);
  if (state_ == State::kNegotiating) {
    transmit_.assign(1, {control_, {}});
    ++stats_.datagrams_sent;
    ++stats_.retransmits;
    Arm(now);
  } else {
    QueueWindow(now);
  }
}

void TftpSession::Arm(absl::Time now) {
  deadline_ =
      now +
      (confirmed_ ? timeout_ : std::min(timeout_, limits_.unconfirmed_timeout));
}

void TftpSession::Fail(std::string why) {
  state_ = State::kFailed;
  failure_ = std::move(why);
  deadline_ = absl::InfiniteFuture();
  transmit_.clear();
}

}  // namespace rackboot
