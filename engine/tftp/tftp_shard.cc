#include "engine/tftp/tftp_shard.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/io/udp_socket.h"
#include "engine/log/log_text.h"
#include "glog/logging.h"
#include "proto/tftp/tftp_options.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

// IPv4 header, UDP header and the TFTP DATA header.
constexpr int kDatagramOverhead = 20 + 8 + kTftpHeaderSize;

// ERROR 0's text for every cap (docs/tftp.md promises it).
constexpr char kTftpBusyMessage[] = "Server busy";

}  // namespace

TftpShard::TftpShard(io::Reactor* reactor, FileCache* files,
                     TftpCounters* counters, const TftpShardOptions& options)
    : reactor_(reactor),
      files_(files),
      counters_(&counters->shard(options.shard)),
      options_(options) {}

TftpShard::~TftpShard() {
  for (auto& [token, transfer] : transfers_) {
    reactor_->Unwatch(token);
    TftpShardCounts::Add(counters_->transfers_active, int64_t{-1});
    if (options_.transfers != nullptr) {
      options_.transfers->End(options_.transfer_list, transfer.slot);
    }
    if (options_.client_counts != nullptr) {
      options_.client_counts->Release(transfer.client);
    }
  }
  if (listen_token_.valid()) reactor_->Unwatch(listen_token_);
  reactor_->CancelTimer(maintain_timer_);
}

void TftpShard::Maintain(absl::Time now) {
  files_.Maintain(now);
  maintain_timer_ = reactor_->AddTimer(
      now + absl::Seconds(1), [this](absl::Time next) { Maintain(next); });
}

absl::Status TftpShard::Start() {
  io::UdpSocketOptions socket_options;
  socket_options.reuse_port = true;
  socket_options.bind_to_device = options_.bind_to_device;
  // A power-on storm sends hundreds of RRQs at once; let the kernel queue them.
  socket_options.recv_buffer_bytes = 4 << 20;
  absl::StatusOr<io::UdpSocket> socket =
      io::UdpSocket::Bind(options_.listen, socket_options);
  if (!socket.ok()) return socket.status();
  absl::StatusOr<io::SocketAddress> local = socket->LocalAddress();
  if (!local.ok()) return local.status();
  local_address_ = *local;
  absl::StatusOr<io::SocketToken> token =
      reactor_->Watch(*std::move(socket), this);
  if (!token.ok()) return token.status();
  listen_token_ = *token;
  Maintain(reactor_->Now());
  return absl::OkStatus();
}

void TftpShard::OnDatagram(io::SocketToken token,
                           absl::Span<const uint8_t> bytes,
                           const io::SocketAddress& from, absl::Time now) {
  if (token == listen_token_) {
    OnRequest(bytes, from, now);
    return;
  }
  auto it = transfers_.find(token);
  if (it == transfers_.end()) return;
  Transfer& transfer = it->second;
  if (from != transfer.client) {
    // RFC 1350 section 4: a packet from a stranger gets ERROR 5; the transfer
    // goes on.
    std::array<uint8_t, 64> buf;
    absl::StatusOr<size_t> n =
        WriteError(static_cast<uint16_t>(TftpErrorCode::kUnknownTransferId),
                   "Unknown transfer ID", absl::MakeSpan(buf));
    if (n.ok()) {
      io::OutDatagram error{absl::MakeConstSpan(buf.data(), *n), {}};
      io::SendOptions send;
      send.to = from;
      (void)reactor_->Send(token, absl::MakeConstSpan(&error, 1), send);
    }
    TftpShardCounts::Add(counters_->unknown_tid, uint64_t{1});
    return;
  }
  transfer.session->OnDatagram(bytes, now);
  Flush(token, transfer, now);
}

void TftpShard::OnDeadline(io::SocketToken token, absl::Time now) {
  auto it = transfers_.find(token);
  if (it == transfers_.end()) return;
  it->second.session->OnDeadline(now);
  Flush(token, it->second, now);
}

void TftpShard::OnRequest(absl::Span<const uint8_t> bytes,
                          const io::SocketAddress& from, absl::Time now) {
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(bytes);
  const TftpRequest* request =
      packet.ok() ? std::get_if<TftpRequest>(&*packet) : nullptr;
  if (request == nullptr) {
    TftpShardCounts::Add(counters_->malformed, uint64_t{1});
    uint64_t suppressed = 0;
    if (ignored_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "tftp: ignored a datagram from " << from.ToString()
                   << " on the request port: "
                   << (packet.ok() ? std::string("not a request")
                                   : log::Quoted(packet.status().message()))
                   << log::SuppressedNote(suppressed);
    }
    if (!packet.ok() && bytes.size() >= 2 && bytes[0] == 0 &&
        (bytes[1] == 1 || bytes[1] == 2)) {
      Refuse(from, static_cast<uint16_t>(TftpErrorCode::kIllegalOperation),
             packet.status().message(), log::Quoted(packet.status().message()),
             now);
    }
    return;
  }
  if (request->write) {
    Refuse(from, static_cast<uint16_t>(TftpErrorCode::kAccessViolation),
           "Write requests are not accepted",
           absl::StrCat("WRQ for ", log::Quoted(request->filename)), now);
    return;
  }
  if (by_client_.contains(from))
    return;  // a retransmitted RRQ; the transfer answers it
  TftpClientCounts* const clients = options_.client_counts;
  if (clients != nullptr && !clients->TryAcquire(from)) {
    Busy(from,
         absl::StrCat(log::Quoted(request->filename), ": ",
                      clients->max_per_client(),
                      " transfers running for this address"),
         now);
    return;
  }
  if (!StartTransfer(*request, from, now) && clients != nullptr) {
    clients->Release(from);
  }
}

bool TftpShard::StartTransfer(const TftpRequest& request,
                              const io::SocketAddress& from, absl::Time now) {
  absl::StatusOr<std::shared_ptr<const MappedFile>> file =
      files_.Open(request.filename, from, now);
  if (!file.ok()) {
    // The status message repeats the (normalized) name: escaped too.
    const std::string why = absl::StrCat(log::Quoted(request.filename), ": ",
                                         log::Escaped(file.status().message()));
    switch (file.status().code()) {
      case absl::StatusCode::kNotFound:
        Refuse(from, static_cast<uint16_t>(TftpErrorCode::kFileNotFound),
               "File not found", why, now);
        break;
      case absl::StatusCode::kResourceExhausted:  // EMFILE, ENFILE, ENOMEM
        Busy(from, why, now);
        break;
      default:
        Refuse(from, static_cast<uint16_t>(TftpErrorCode::kAccessViolation),
               "Access violation", why, now);
    }
    return false;
  }
  // Sockets of this shard's transfers, counting those unwatched but not yet
  // closed by the reactor (all but the request socket): the descriptor
  // budget holds at every instant.
  const size_t sockets = reactor_->open_sockets() - 1;
  io::SocketToken reused;
  if (sockets >= options_.max_transfers ||
      unconfirmed_.size() >= std::max<size_t>(1, options_.max_unconfirmed)) {
    if (unconfirmed_.empty()) {
      Busy(from,
           absl::StrCat(log::Quoted(request.filename), ": ", transfers_.size(),
                        " confirmed transfers running on this shard"),
           now);
      return false;
    }
    // The new transfer takes over the evicted one's socket: closing it and
    // opening another would hold two descriptors until the reactor's next
    // iteration. A late datagram from the evicted client then gets ERROR 5.
    reused = EvictOldestUnconfirmed(now);
  }
  io::SocketToken token = reused;
  if (!token.valid()) {
    io::UdpSocketOptions socket_options;
    socket_options.bind_to_device = options_.bind_to_device;
    absl::StatusOr<io::UdpSocket> socket =
        io::UdpSocket::Bind(options_.listen.WithPort(0), socket_options);
    if (!socket.ok()) {
      // EMFILE/ENFILE above all: out of descriptors is "busy", never a
      // misleading "Access violation".
      Busy(from,
           absl::StrCat(
               log::Quoted(request.filename),
               ": no socket for the transfer: ", socket.status().message()),
           now);
      return false;
    }
    absl::StatusOr<io::SocketToken> watched =
        reactor_->Watch(*std::move(socket), this);
    if (!watched.ok()) {
      Busy(from,
           absl::StrCat(log::Quoted(request.filename), ": ",
                        watched.status().message()),
           now);
      return false;
    }
    token = *watched;
  }
  TftpLimits limits = options_.limits;
  limits.max_blksize = std::min(limits.max_blksize, PathBlockSizeLimit(from));
  TftpShardCounts::Add(counters_->transfers_active, int64_t{1});
  options_.metrics.active.Add(1);
  by_client_[from] = token;
  Transfer& transfer = transfers_[token];
  transfer.client = from;
  transfer.session =
      std::make_shared<TftpSession>(request, *std::move(file), limits, now);
  transfer.reported = TftpTransferStats();
  transfer.unconfirmed = unconfirmed_.insert(unconfirmed_.end(), token);
  transfer.listed = true;
  transfer.slot = nullptr;
  if (options_.transfers != nullptr) {
    transfer.slot = options_.transfers->Begin(
        options_.transfer_list, daemon::Transport::kTftp, from,
        transfer.session->file().relative_path(),
        transfer.session->stats().wire_size,
        absl::Now());  // the wall clock: `now` is the reactor's
  }
  Flush(token, transfer, now);
  return true;
}

void TftpShard::Refuse(const io::SocketAddress& client, uint16_t code,
                       absl::string_view message, absl::string_view why,
                       absl::Time now) {
  TftpShardCounts::Add(counters_->requests_refused, uint64_t{1});
  uint64_t suppressed = 0;
  if (refused_log_.Allow(now, &suppressed)) {
    LOG(INFO) << "tftp refused client=" << client.ToString()
              << " error=" << code << " (" << TftpErrorCodeName(code)
              << "): " << why << log::SuppressedNote(suppressed);
  }
  std::array<uint8_t, 512> buf;
  absl::StatusOr<size_t> n =
      WriteError(code, message.substr(0, 256), absl::MakeSpan(buf));
  if (!n.ok()) return;
  io::OutDatagram error{absl::MakeConstSpan(buf.data(), *n), {}};
  io::SendOptions send;
  send.to = client;
  (void)reactor_->Send(listen_token_, absl::MakeConstSpan(&error, 1), send);
}

void TftpShard::Busy(const io::SocketAddress& client, absl::string_view why,
                     absl::Time now) {
  TftpShardCounts::Add(counters_->requests_busy, uint64_t{1});
  Refuse(client, static_cast<uint16_t>(TftpErrorCode::kNotDefined),
         kTftpBusyMessage, why, now);
}

io::SocketToken TftpShard::EvictOldestUnconfirmed(absl::Time now) {
  const io::SocketToken token = unconfirmed_.front();
  auto it = transfers_.find(token);
  if (it == transfers_.end()) {  // cannot happen: Drop unlists
    unconfirmed_.pop_front();
    return io::SocketToken();
  }
  Transfer& transfer = it->second;
  // Tell a real but slow client why, from its transfer's port.
  std::array<uint8_t, 64> buf;
  absl::StatusOr<size_t> n =
      WriteError(static_cast<uint16_t>(TftpErrorCode::kNotDefined),
                 kTftpBusyMessage, absl::MakeSpan(buf));
  if (n.ok()) {
    io::OutDatagram error{absl::MakeConstSpan(buf.data(), *n), {}};
    io::SendOptions send;
    send.to = transfer.client;
    (void)reactor_->Send(token, absl::MakeConstSpan(&error, 1), send);
  }
  TftpShardCounts::Add(counters_->transfers_evicted, uint64_t{1});
  uint64_t suppressed = 0;
  if (unconfirmed_log_.Allow(now, &suppressed)) {
    LOG(INFO) << "tftp evicted unconfirmed client="
              << transfer.client.ToString() << " file="
              << log::Quoted(transfer.session->file().relative_path())
              << " age="
              << absl::FormatDuration(now - transfer.session->started())
              << " to make room" << log::SuppressedNote(suppressed);
  }
  Drop(token, /*keep_socket=*/true);
  return token;
}

void TftpShard::Drop(io::SocketToken token, bool keep_socket) {
  auto it = transfers_.find(token);
  Transfer& transfer = it->second;
  if (transfer.listed) unconfirmed_.erase(transfer.unconfirmed);
  if (options_.transfers != nullptr) {
    options_.transfers->End(options_.transfer_list, transfer.slot);
  }
  if (options_.client_counts != nullptr) {
    options_.client_counts->Release(transfer.client);
  }
  TftpShardCounts::Add(counters_->transfers_active, int64_t{-1});
  options_.metrics.active.Add(-1);
  if (keep_socket) {
    reactor_->CancelDeadline(token);
  } else {
    reactor_->Unwatch(token);
  }
  by_client_.erase(transfer.client);
  transfers_.erase(it);
}

void TftpShard::Flush(io::SocketToken token, Transfer& transfer,
                      absl::Time now) {
  TftpSession& session = *transfer.session;
  // Progress for the API before the next window leaves: one relaxed store.
  if (transfer.slot != nullptr) {
    transfer.slot->SetBytes(session.stats().bytes_acked);
  }
  absl::Span<const TftpSession::Datagram> transmit = session.Transmit();
  if (!transmit.empty()) {
    out_.clear();
    for (const TftpSession::Datagram& d : transmit) {
      out_.push_back({d.head, d.body});
    }
    io::SendOptions send;
    send.to = transfer.client;
    send.gso = options_.gso && transmit.size() > 1;
    send.zero_copy = options_.zero_copy;
    send.keep_alive = transfer.session;
    absl::Status sent = reactor_->Send(token, out_, send);
    LOG_IF(ERROR, !sent.ok()) << "tftp: send to " << transfer.client.ToString()
                              << " failed: " << sent;
    session.ClearTransmit();
  }
  const TftpTransferStats& stats = session.stats();
  // Per window: this shard's own cells (no cache line shared with another
  // shard), not the service-wide atomics.
  const TftpShardMetrics& m = options_.metrics;
  m.bytes.Add(stats.bytes_sent - transfer.reported.bytes_sent);
  m.datagrams.Add(stats.datagrams_sent - transfer.reported.datagrams_sent);
  m.retransmits.Add(stats.retransmits - transfer.reported.retransmits);
  transfer.reported = stats;
  if (transfer.listed && session.confirmed()) {
    unconfirmed_.erase(transfer.unconfirmed);
    transfer.listed = false;
  }
  if (session.finished()) {
    Finish(token, transfer, now);
  } else {
    reactor_->SetDeadline(token, session.Deadline());
  }
}

void TftpShard::Finish(io::SocketToken token, Transfer& transfer,
                       absl::Time now) {
  const TftpSession& session = *transfer.session;
  const TftpTransferStats& stats = session.stats();
  const bool complete = session.state() == TftpSession::State::kComplete;
  const absl::Duration duration = now - session.started();
  // A transfer never acknowledged is what a flood leaves behind: its failure
  // is rate-limited; every other outcome is logged.
  uint64_t suppressed = 0;
  if (complete || session.confirmed() ||
      unconfirmed_log_.Allow(now, &suppressed)) {
    LOG(INFO) << "tftp " << (complete ? "sent" : "FAILED")
              << " client=" << transfer.client.ToString()
              << " file=" << log::Quoted(session.file().relative_path())
              << " bytes=" << stats.bytes_acked << " size=" << stats.wire_size
              << " blksize=" << stats.blksize
              << " windowsize=" << stats.windowsize
              << " duration=" << absl::FormatDuration(duration)
              << " retransmits=" << stats.retransmits
              << (complete ? "" : absl::StrCat(" reason=", session.failure()))
              << log::SuppressedNote(suppressed);
  }
  if (options_.on_finished) {
    options_.on_finished({transfer.client, session.file().relative_path(),
                          complete, stats.bytes_acked, stats.bytes_sent,
                          stats.wire_size});
  }
  if (complete) {
    TftpShardCounts::Add(counters_->transfers_completed, uint64_t{1});
    counters_->CountDownload(session.file().relative_path());
    options_.metrics.completed.Add(1);
  } else {
    TftpShardCounts::Add(counters_->transfers_failed, uint64_t{1});
    options_.metrics.failed.Add(1);
  }
  options_.metrics.duration.Observe(absl::ToDoubleSeconds(duration));
  Drop(token);  // `transfer` dangles from here on
}

uint16_t TftpShard::PathBlockSizeLimit(const io::SocketAddress& client) {
  // IP_MTU is only known on a connected socket, and the transfer's socket must
  // stay unconnected (strangers' datagrams must reach it to get ERROR 5;
  // disconnecting would give up its port), so ask the shard's probe socket,
  // connected anew to each client (a UDP connect only looks up the route).
  int mtu = 0;
  if (!probe_fd_.valid()) {
    probe_fd_ = UniqueFd(socket(client.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  }
  if (probe_fd_.valid()) {
    socklen_t length = sizeof(mtu);
    if (connect(probe_fd_.get(), client.sockaddr_ptr(),
                client.sockaddr_len()) != 0 ||
        getsockopt(probe_fd_.get(), IPPROTO_IP, IP_MTU, &mtu, &length) != 0) {
      mtu = 0;
    }
  }
  if (mtu <= kDatagramOverhead + kTftpMinBlksize) return kTftpMaxBlksize;
  return static_cast<uint16_t>(
      std::min<int>(mtu - kDatagramOverhead, kTftpMaxBlksize));
}

}  // namespace rackboot
