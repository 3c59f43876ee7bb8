#include "engine/io/reactor_base.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot::io {

absl::Time MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::DurationFromTimespec(ts);
}

absl::string_view IoBackendName(IoBackend backend) {
  switch (backend) {
    case IoBackend::kIoUring:
      return "io_uring";
    case IoBackend::kEpoll:
      return "epoll";
    case IoBackend::kAuto:
      return "auto";
  }
  return "?";
}

namespace internal {

ReactorBase::~ReactorBase() {
  DropPendingWork();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Status ReactorBase::InitWakeFd() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  return absl::OkStatus();
}

Slot* ReactorBase::Lookup(SocketToken token) {
  if (token.index() >= slots_.size()) return nullptr;
  Slot& slot = slots_[token.index()];
  if (slot.state != Slot::State::kActive ||
      slot.generation != token.generation()) {
    return nullptr;
  }
  return &slot;
}

const Slot* ReactorBase::Lookup(SocketToken token) const {
  return const_cast<ReactorBase*>(this)->Lookup(token);
}

SocketToken ReactorBase::AllocateSlot(UdpSocket socket,
                                      ReactorHandler* handler) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  if (++slot.generation == 0) slot.generation = 1;
  slot.socket = std::move(socket);
  slot.handler = handler;
  slot.state = Slot::State::kActive;
  slot.kind = Slot::Kind::kDatagram;
  slot.recv_armed = false;
  slot.accept_paused = false;
  slot.inflight = 0;
  slot.epoll_registered = false;
  slot.epoll_events = 0;
  return SocketToken(index, slot.generation);
}

void ReactorBase::FreeSlot(uint32_t index) {
  Slot& slot = slots_[index];
  timers_.Cancel(index);
  if (slot.stream && slot.stream->linger_timer.valid()) {
    CancelTimer(slot.stream->linger_timer);
  }
  slot.socket.Close();
  slot.stream.reset();  // Releases what queued sends kept alive.
  slot.handler = nullptr;
  slot.listener = nullptr;
  slot.stream_handler = nullptr;
  slot.state = Slot::State::kFree;
  free_slots_.push_back(index);
}

int ReactorBase::fd(SocketToken token) const {
  const Slot* slot = Lookup(token);
  return slot == nullptr ? -1 : slot->socket.fd();
}

void ReactorBase::SetDeadline(SocketToken token, absl::Time deadline) {
  if (Lookup(token) == nullptr) return;
  timers_.Set(token.index(), deadline);
}

void ReactorBase::CancelDeadline(SocketToken token) {
  if (Lookup(token) == nullptr) return;
  timers_.Cancel(token.index());
}

namespace {

// sendfile(2) has no MSG_NOSIGNAL: without this, a peer that vanished during
// a file send would kill the process with SIGPIPE. Only a default action is
// replaced; a handler the program installed stays.
void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 &&
        current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

bool IsAcceptExhaustion(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS ||
         error == ENOMEM;
}

}  // namespace

Slot* ReactorBase::LookupAny(SocketToken token) {
  if (token.index() >= slots_.size()) return nullptr;
  Slot& slot = slots_[token.index()];
  if (slot.state == Slot::State::kFree ||
      slot.generation != token.generation()) {
    return nullptr;
  }
  return &slot;
}

bool ReactorBase::ReceiveWanted(const Slot& slot) {
  if (slot.kind != Slot::Kind::kStream || !slot.stream) return false;
  const Stream& st = *slot.stream;
  if (st.finished || st.read_ended || st.connecting) return false;
  if (st.lingering) return true;
  return slot.state == Slot::State::kActive && slot.stream_handler != nullptr &&
         !st.paused && !st.closing;
}

SocketToken ReactorBase::AllocateStream(int fd, StreamHandler* handler) {
  SocketToken token = AllocateSlot(UdpSocket(fd), nullptr);
  Slot& slot = slots_[token.index()];
  slot.kind = Slot::Kind::kStream;
  slot.stream_handler = handler;
  slot.stream = std::make_unique<Stream>();
  return token;
}

absl::StatusOr<SocketToken> ReactorBase::Listen(TcpSocket socket,
                                                ListenerHandler* handler) {
  if (!socket.valid() || handler == nullptr) {
    return absl::InvalidArgumentError("Listen: invalid socket or null handler");
  }
  IgnoreSigpipe();
  SocketToken token = AllocateSlot(UdpSocket(socket.Release()), nullptr);
  Slot& slot = slots_[token.index()];
  slot.kind = Slot::Kind::kListener;
  slot.listener = handler;
  if (absl::Status s = RegisterListener(token.index()); !s.ok()) {
    FreeSlot(token.index());
    return s;
  }
  StartAccepting(token.index());
  return token;
}

absl::StatusOr<SocketToken> ReactorBase::WatchStream(TcpSocket socket,
                                                     StreamHandler* handler) {
  if (!socket.valid() || handler == nullptr) {
    return absl::InvalidArgumentError(
        "WatchStream: invalid socket or null handler");
  }
  IgnoreSigpipe();
  // sendfile(2) and the epoll backend must never block the loop.
  const int flags = ::fcntl(socket.fd(), F_GETFL);
  if (flags < 0 || ::fcntl(socket.fd(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return absl::ErrnoToStatus(errno, "WatchStream: O_NONBLOCK");
  }
  absl::StatusOr<SocketAddress> peer = socket.PeerAddress();
  SocketToken token = AllocateStream(socket.Release(), handler);
  if (peer.ok()) slots_[token.index()].stream->peer = *peer;
  if (absl::Status s = RegisterStream(token.index()); !s.ok()) {
    FreeSlot(token.index());
    return s;
  }
  UpdateStreamReceive(token.index());
  return token;
}

absl::StatusOr<SocketToken> ReactorBase::Connect(
    const SocketAddress& peer, StreamHandler* handler,
    const TcpConnectOptions& options) {
  if (handler == nullptr) {
    return absl::InvalidArgumentError("Connect: null handler");
  }
  IgnoreSigpipe();
  absl::StatusOr<TcpSocket> socket = TcpSocket::ForConnect(peer, options);
  if (!socket.ok()) return socket.status();
  SocketToken token = AllocateStream(socket->Release(), handler);
  Stream& st = *slots_[token.index()].stream;
  st.peer = peer;
  st.connecting = true;
  if (absl::Status s = RegisterStream(token.index()); !s.ok()) {
    FreeSlot(token.index());
    return s;
  }
  ++counters_.tcp_connects;
  StartConnect(token.index());
  return token;
}

void ReactorBase::Accepted(uint32_t listener_index, int fd,
                           const SocketAddress* peer) {
  Slot& listener = slots_[listener_index];
  if (listener.state != Slot::State::kActive) {
    ::close(fd);  // Accepted while the listener was being closed.
    return;
  }
  ++counters_.tcp_connections_accepted;
  SocketAddress address;
  if (peer != nullptr) {
    address = *peer;
  } else {
    TcpSocket borrowed(fd);
    absl::StatusOr<SocketAddress> got = borrowed.PeerAddress();
    borrowed.Release();
    if (got.ok()) address = *got;
  }
  SocketToken connection = AllocateStream(fd, nullptr);
  slots_[connection.index()].stream->peer = address;
  if (absl::Status s = RegisterStream(connection.index()); !s.ok()) {
    LOG_EVERY_N(WARNING, 1000) << "accept: " << s;
    slots_[connection.index()].state = Slot::State::kClosing;
    slots_[connection.index()].stream->finished = true;
    MaybeFinishClose(connection.index());
    return;
  }
  StreamHandler* handler = listener.listener->OnAccept(
      TokenOf(listener_index), connection, address, now_);
  Slot* slot = LookupAny(connection);
  if (slot == nullptr || slot->state != Slot::State::kActive) {
    return;  // Closed inside OnAccept.
  }
  if (handler == nullptr) {
    ++counters_.tcp_connections_refused;
    Close(connection, CloseMode::kAbort);
    return;
  }
  slot->stream_handler = handler;
  UpdateStreamReceive(connection.index());
}

bool ReactorBase::AcceptFailed(uint32_t listener_index, int error) {
  ++counters_.tcp_accept_errors;
  if (!IsAcceptExhaustion(error)) {
    LOG_EVERY_N(WARNING, 1000) << "accept: " << std::strerror(error);
    return false;
  }
  ++counters_.tcp_accept_backoffs;
  // One line per exhaustion episode at most every 10 s (a full descriptor
  // table repeats this every backoff period).
  if (now_ - last_accept_warning_ >= absl::Seconds(10)) {
    LOG(WARNING) << "accept: " << std::strerror(error)
                 << "; not accepting on this listener for "
                 << options_.accept_backoff << " (seen "
                 << counters_.tcp_accept_backoffs << " times)";
    last_accept_warning_ = now_;
  }
  Slot& slot = slots_[listener_index];
  slot.accept_paused = true;
  StopAccepting(listener_index);
  const SocketToken token = TokenOf(listener_index);
  AddTimer(now_ + options_.accept_backoff, [this, token](absl::Time) {
    Slot* s = Lookup(token);
    if (s != nullptr && s->accept_paused) {
      s->accept_paused = false;
      StartAccepting(token.index());
    }
  });
  return true;
}

void ReactorBase::Kick(uint32_t index) {
  Stream* st = slots_[index].stream.get();
  if (st == nullptr || st->kicked) return;
  st->kicked = true;
  kicked_.push_back(TokenOf(index));
}

void ReactorBase::RunKicks() {
  if (kicked_.empty()) return;
  kicking_.swap(kicked_);
  for (SocketToken token : kicking_) {
    Slot* slot = LookupAny(token);
    if (slot == nullptr || !slot->stream) continue;
    slot->stream->kicked = false;
    // Input held back while paused comes first: it arrived before anything
    // the loop receives from now on.
    if (slot->state == Slot::State::kActive && slot->stream_handler &&
        !slot->stream->paused && !slot->stream->held.empty()) {
      std::string held;
      held.swap(slot->stream->held);
      counters_.tcp_bytes_received += held.size();
      slot->stream_handler->OnStreamData(
          token,
          absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(held.data()),
                              held.size()),
          now_);
      slot = LookupAny(token);
      if (slot == nullptr) continue;
    }
    if (slot->state == Slot::State::kActive && slot->stream_handler &&
        !slot->stream->paused && slot->stream->held.empty() &&
        slot->stream->eof_held) {
      slot->stream->eof_held = false;
      ++counters_.tcp_peer_eofs;
      slot->stream_handler->OnStreamEof(token, now_);
      slot = LookupAny(token);
      if (slot == nullptr) continue;
    }
    PumpSend(token.index());
  }
  kicking_.clear();
}

void ReactorBase::AdvanceSend(uint32_t index, uint64_t bytes) {
  Stream& st = *slots_[index].stream;
  counters_.tcp_bytes_sent += bytes;
  while (bytes > 0 && !st.queue.empty()) {
    SendItem& item = st.queue.front();
    const uint64_t step = std::min(bytes, item.remaining);
    item.remaining -= step;
    if (item.kind == SendItem::Kind::kFile) {
      item.offset += step;
    } else {
      item.data += step;
    }
    st.queued_bytes -= step;
    bytes -= step;
    if (item.remaining == 0) st.queue.pop_front();  // Releases keep_alive.
  }
}

void ReactorBase::PumpSend(uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.stream) return;
  Stream& st = *slot.stream;
  if (st.finished || st.connecting || st.send_blocked) return;
  const int fd = slot.socket.fd();
  uint64_t budget = std::max<uint32_t>(options_.max_stream_send_chunk, 1);
  while (!st.queue.empty()) {
    if (budget == 0) {  // Fairness: the rest waits for the next iteration.
      Kick(index);
      return;
    }
    SendItem& item = st.queue.front();
    if (item.remaining == 0) {
      st.queue.pop_front();
      continue;
    }
    const size_t size = static_cast<size_t>(std::min(item.remaining, budget));
    if (item.kind == SendItem::Kind::kFile) {
      off_t offset = static_cast<off_t>(item.offset);
      ssize_t n = ::sendfile(fd, item.fd, &offset, size);
      ++counters_.tcp_send_system_calls;
      if (n > 0) {
        counters_.tcp_file_bytes_sent += static_cast<uint64_t>(n);
        budget -= static_cast<uint64_t>(n);
        AdvanceSend(index, static_cast<uint64_t>(n));
        continue;
      }
      if (n == 0) {
        ++counters_.tcp_send_errors;
        FailStream(index, absl::DataLossError(absl::StrCat(
                              "sendfile: the file ends before offset ",
                              item.offset + item.remaining)));
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        st.send_blocked = true;
        WaitWritable(index);
        return;
      }
      ++counters_.tcp_send_errors;
      FailStream(index, absl::ErrnoToStatus(errno, "sendfile"));
      return;
    }
    const bool more = st.queue.size() > 1;
    SendResult result = SendStreamBytes(index, item.data, size, more);
    switch (result.kind) {
      case SendResult::kSent:
        budget -= std::min(budget, result.bytes);
        AdvanceSend(index, result.bytes);
        continue;
      case SendResult::kWouldBlock:
        st.send_blocked = true;
        WaitWritable(index);
        return;
      case SendResult::kPending:
        st.send_blocked = true;
        return;
      case SendResult::kError:
        ++counters_.tcp_send_errors;
        FailStream(index, absl::ErrnoToStatus(result.error, "send"));
        return;
    }
  }
  if (st.closing) {
    if (!st.lingering) StartLinger(index);
    return;
  }
  if (st.send_done_owed && slot.state == Slot::State::kActive &&
      slot.stream_handler != nullptr) {
    st.send_done_owed = false;
    slot.stream_handler->OnSendDone(TokenOf(index), now_);
  }
}

void ReactorBase::StreamBytes(uint32_t index, const uint8_t* data,
                              size_t size) {
  Slot& slot = slots_[index];
  if (!slot.stream) return;
  Stream& st = *slot.stream;
  if (st.finished) return;
  if (st.closing) {  // Discarded: nobody reads it any more.
    st.lingered_bytes += size;
    if (st.lingering && st.lingered_bytes > options_.linger_max_bytes) {
      ++counters_.tcp_linger_timeouts;
      AbortStream(index);
    }
    return;
  }
  if (slot.state != Slot::State::kActive) return;
  if (st.paused || !st.held.empty() || slot.stream_handler == nullptr) {
    // Completed by the kernel before the pause took effect (io_uring).
    st.held.append(reinterpret_cast<const char*>(data), size);
    if (!st.paused && slot.stream_handler != nullptr) Kick(index);
    return;
  }
  counters_.tcp_bytes_received += size;
  slot.stream_handler->OnStreamData(TokenOf(index),
                                    absl::MakeConstSpan(data, size), now_);
}

void ReactorBase::StreamReadEnd(uint32_t index, int error) {
  Slot& slot = slots_[index];
  if (!slot.stream) return;
  Stream& st = *slot.stream;
  if (st.finished) return;
  st.read_ended = true;
  if (st.lingering) {  // The peer's FIN (or reset) after ours: done.
    st.finished = true;
    if (st.linger_timer.valid()) CancelTimer(st.linger_timer);
    st.linger_timer = TimerId();
    CancelAll(index);
    MaybeFinishClose(index);
    return;
  }
  if (error != 0) {
    ++counters_.tcp_recv_errors;
    FailStream(index, absl::ErrnoToStatus(error, "recv"));
    return;
  }
  if (st.closing || slot.state != Slot::State::kActive) return;
  if (st.paused || !st.held.empty() || slot.stream_handler == nullptr) {
    st.eof_held = true;
    if (!st.paused && slot.stream_handler != nullptr) Kick(index);
    return;
  }
  ++counters_.tcp_peer_eofs;
  slot.stream_handler->OnStreamEof(TokenOf(index), now_);
}

void ReactorBase::StreamConnected(uint32_t index, int error) {
  Slot& slot = slots_[index];
  if (!slot.stream || slot.stream->finished) return;
  slot.stream->connecting = false;
  if (error != 0) {
    FailStream(index, absl::ErrnoToStatus(
                          error, absl::StrCat("connect ",
                                              slot.stream->peer.ToString())));
    return;
  }
  const SocketToken token = TokenOf(index);
  if (slot.state == Slot::State::kActive && slot.stream_handler != nullptr) {
    slot.stream_handler->OnStreamConnected(token, now_);
    if (LookupAny(token) == nullptr) return;
  }
  UpdateStreamReceive(index);
  Kick(index);
}

void ReactorBase::FailStream(uint32_t index, const absl::Status& reason) {
  Slot& slot = slots_[index];
  if (!slot.stream || slot.stream->finished) return;
  StreamHandler* handler =
      slot.state == Slot::State::kActive ? slot.stream_handler : nullptr;
  const SocketToken token = TokenOf(index);
  AbortStream(index);
  if (handler != nullptr) handler->OnStreamClosed(token, reason, now_);
}

void ReactorBase::AbortStream(uint32_t index) {
  Slot& slot = slots_[index];
  Stream& st = *slot.stream;
  slot.state = Slot::State::kClosing;
  slot.stream_handler = nullptr;
  timers_.Cancel(index);
  if (!st.finished) {
    st.finished = true;
    st.held.clear();
    if (st.linger_timer.valid()) CancelTimer(st.linger_timer);
    st.linger_timer = TimerId();
    // A reset, not a FIN: the peer must not take a cut response for a whole
    // one. (Queued items stay until the slot is freed: an SQE may still
    // read the front one.)
    linger reset{};
    reset.l_onoff = 1;
    reset.l_linger = 0;
    setsockopt(slot.socket.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    CancelAll(index);
  }
  MaybeFinishClose(index);
}

void ReactorBase::StartLinger(uint32_t index) {
  Slot& slot = slots_[index];
  Stream& st = *slot.stream;
  if (st.read_ended) {  // The peer already sent its FIN: close now.
    st.finished = true;
    CancelAll(index);
    MaybeFinishClose(index);
    return;
  }
  ::shutdown(slot.socket.fd(), SHUT_WR);
  st.lingering = true;
  st.linger_started = now_;
  const SocketToken token = TokenOf(index);
  st.linger_timer =
      AddTimer(now_ + options_.linger_timeout,
               [this, token](absl::Time) { OnLingerTimer(token); });
  UpdateStreamReceive(index);
}

void ReactorBase::OnLingerTimer(SocketToken token) {
  Slot* s = LookupAny(token);
  if (s == nullptr || !s->stream || s->stream->finished) return;
  Stream& st = *s->stream;
  st.linger_timer = TimerId();
  int unacknowledged = 0;
  if (ioctl(s->socket.fd(), SIOCOUTQ, &unacknowledged) != 0) {
    unacknowledged = 1;  // Unknown: treat as still in flight.
  }
  if (unacknowledged > 0 &&
      now_ - st.linger_started < options_.linger_max_time) {
    st.linger_timer =
        AddTimer(now_ + options_.linger_timeout,
                 [this, token](absl::Time) { OnLingerTimer(token); });
    return;
  }
  ++counters_.tcp_linger_timeouts;
  if (unacknowledged > 0) {
    AbortStream(token.index());
    return;
  }
  // Everything arrived and our FIN is out: a plain close, not a reset (the
  // peer may not have read it all yet).
  st.finished = true;
  CancelAll(token.index());
  MaybeFinishClose(token.index());
}

bool ReactorBase::CloseNonDatagram(SocketToken token) {
  Slot* slot = Lookup(token);
  if (slot == nullptr || slot->kind == Slot::Kind::kDatagram) return false;
  if (slot->kind == Slot::Kind::kStream) {
    Close(token, CloseMode::kAbort);
    return true;
  }
  slot->state = Slot::State::kClosing;
  slot->listener = nullptr;
  timers_.Cancel(token.index());
  CancelAll(token.index());
  MaybeFinishClose(token.index());
  return true;
}

absl::Status ReactorBase::QueueSend(SocketToken token, SendItem item) {
  Slot* slot = LookupAny(token);
  if (slot == nullptr) {
    return absl::NotFoundError("stream send: stale token");
  }
  if (slot->kind != Slot::Kind::kStream) {
    return absl::InvalidArgumentError("stream send: not a TCP stream");
  }
  if (slot->state != Slot::State::kActive) {
    return absl::FailedPreconditionError("stream send: stream closed");
  }
  Stream& st = *slot->stream;
  st.send_done_owed = true;
  if (item.remaining > 0) {
    st.queued_bytes += item.remaining;
    st.queue.push_back(std::move(item));
    SendItem& back = st.queue.back();
    if (back.kind == SendItem::Kind::kCopy) back.data = back.copy.data();
  }
  Kick(token.index());
  return absl::OkStatus();
}

absl::Status ReactorBase::SendCopy(SocketToken token,
                                   absl::Span<const uint8_t> bytes) {
  SendItem item;
  item.kind = SendItem::Kind::kCopy;
  item.copy.assign(bytes.begin(), bytes.end());
  item.remaining = bytes.size();
  return QueueSend(token, std::move(item));
}

absl::Status ReactorBase::SendBorrowed(SocketToken token,
                                       absl::Span<const uint8_t> bytes,
                                       std::shared_ptr<const void> keep_alive) {
  SendItem item;
  item.kind = SendItem::Kind::kBorrowed;
  item.data = bytes.data();
  item.remaining = bytes.size();
  item.keep_alive = std::move(keep_alive);
  return QueueSend(token, std::move(item));
}

absl::Status ReactorBase::SendFile(SocketToken token, FileRange range) {
  if (range.fd < 0 && range.length > 0) {
    return absl::InvalidArgumentError("SendFile: no descriptor");
  }
  SendItem item;
  item.kind = SendItem::Kind::kFile;
  item.fd = range.fd;
  item.offset = range.offset;
  item.remaining = range.length;
  item.keep_alive = std::move(range.keep_alive);
  return QueueSend(token, std::move(item));
}

uint64_t ReactorBase::queued_send_bytes(SocketToken token) const {
  const Slot* slot = const_cast<ReactorBase*>(this)->LookupAny(token);
  if (slot == nullptr || !slot->stream) return 0;
  return slot->stream->queued_bytes;
}

void ReactorBase::PauseReceive(SocketToken token) {
  Slot* slot = Lookup(token);
  if (slot == nullptr || !slot->stream || slot->stream->paused) return;
  slot->stream->paused = true;
  UpdateStreamReceive(token.index());
}

void ReactorBase::ResumeReceive(SocketToken token) {
  Slot* slot = Lookup(token);
  if (slot == nullptr || !slot->stream || !slot->stream->paused) return;
  slot->stream->paused = false;
  if (!slot->stream->held.empty() || slot->stream->eof_held) {
    Kick(token.index());
  }
  UpdateStreamReceive(token.index());
}

void ReactorBase::Close(SocketToken token, CloseMode mode) {
  Slot* slot = Lookup(token);
  if (slot == nullptr) return;
  if (slot->kind != Slot::Kind::kStream) {
    Unwatch(token);
    return;
  }
  const uint32_t index = token.index();
  if (mode == CloseMode::kAbort) {
    ++counters_.tcp_aborts;
    AbortStream(index);
    return;
  }
  ++counters_.tcp_graceful_closes;
  slot->state = Slot::State::kClosing;
  slot->stream_handler = nullptr;
  timers_.Cancel(index);
  Stream& st = *slot->stream;
  st.closing = true;
  st.paused = false;
  st.held.clear();
  st.eof_held = false;
  UpdateStreamReceive(index);  // Not until the FIN: see CloseMode.
  Kick(index);                 // Sends the rest, then StartLinger.
}

TimerId ReactorBase::AddTimer(absl::Time deadline,
                              std::function<void(absl::Time now)> callback) {
  uint32_t index;
  if (!free_timer_slots_.empty()) {
    index = free_timer_slots_.back();
    free_timer_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(free_timers_.size());
    free_timers_.emplace_back();
  }
  FreeTimer& timer = free_timers_[index];
  if (++timer.generation == 0) timer.generation = 1;
  timer.pending = true;
  timer.callback = std::move(callback);
  free_timer_heap_.Set(index, deadline);
  return TimerId(index, timer.generation);
}

bool ReactorBase::CancelTimer(TimerId id) {
  if (!id.valid() || id.index() >= free_timers_.size()) return false;
  FreeTimer& timer = free_timers_[id.index()];
  if (!timer.pending || timer.generation != id.generation()) return false;
  free_timer_heap_.Cancel(id.index());
  timer.pending = false;
  // Destroyed here, so what the callback owns is released now.
  std::function<void(absl::Time)> callback = std::move(timer.callback);
  timer.callback = nullptr;
  free_timer_slots_.push_back(id.index());
  return true;
}

void ReactorBase::Post(std::function<void()> function) {
  {
    absl::MutexLock lock(&post_mu_);
    posted_.push_back(std::move(function));
  }
  // Wake only on the first post of a batch: the loop clears the flag before
  // it takes the batch, so a later post always sees it clear and wakes.
  if (!post_pending_.exchange(true, std::memory_order_acq_rel)) Wake();
}

void ReactorBase::RunPosted() {
  if (!post_pending_.load(std::memory_order_acquire)) return;
  post_pending_.store(false, std::memory_order_release);
  {
    absl::MutexLock lock(&post_mu_);
    running_.swap(posted_);
  }
  for (std::function<void()>& function : running_) {
    ++counters_.posted_run;
    function();
    function = nullptr;  // Release what it owns now, not at the next batch.
  }
  running_.clear();
}

void ReactorBase::DropPendingWork() {
  std::vector<std::function<void()>> posted;
  {
    absl::MutexLock lock(&post_mu_);
    posted.swap(posted_);
  }
  posted.clear();
  while (!free_timer_heap_.empty()) {
    TimerHeap::Entry entry = free_timer_heap_.Pop();
    FreeTimer& timer = free_timers_[entry.key];
    timer.pending = false;
    timer.callback = nullptr;
    free_timer_slots_.push_back(entry.key);
  }
}

void ReactorBase::Wake() {
  uint64_t one = 1;
  // Async-signal-safe. Failure only if the counter would overflow.
  ssize_t written = ::write(wake_fd_, &one, sizeof(one));
  (void)written;
}

absl::Status ReactorBase::Run() {
  while (!stop_requested_.exchange(false, std::memory_order_acq_rel)) {
    absl::Status status = RunOnce(absl::InfiniteDuration());
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void ReactorBase::Stop() {
  stop_requested_.store(true, std::memory_order_release);
  Wake();
}

absl::Duration ReactorBase::WaitFor(absl::Duration max_wait) const {
  if (stop_requested_.load(std::memory_order_acquire) ||
      post_pending_.load(std::memory_order_acquire) || !kicked_.empty()) {
    return absl::ZeroDuration();
  }
  absl::Duration wait = max_wait;
  const absl::Time earliest =
      std::min(timers_.Earliest(), free_timer_heap_.Earliest());
  if (earliest != absl::InfiniteFuture()) {
    wait = std::min(wait, earliest - MonotonicNow());
  }
  return std::max(wait, absl::ZeroDuration());
}

void ReactorBase::FireDueDeadlines() {
  // Deadlines set by the handlers below wait for the next iteration, so a
  // handler that re-arms for "now" cannot starve the loop.
  const uint64_t limit = timers_.next_sequence();
  while (!timers_.empty() && timers_.Top().deadline <= now_ &&
         timers_.Top().sequence < limit) {
    TimerHeap::Entry entry = timers_.Pop();
    Slot& slot = slots_[entry.key];
    if (slot.state != Slot::State::kActive) continue;
    const SocketToken token(entry.key, slot.generation);
    if (slot.kind == Slot::Kind::kDatagram) {
      slot.handler->OnDeadline(token, now_);
    } else if (slot.kind == Slot::Kind::kStream &&
               slot.stream_handler != nullptr) {
      slot.stream_handler->OnDeadline(token, now_);
    }
  }
  const uint64_t free_limit = free_timer_heap_.next_sequence();
  while (!free_timer_heap_.empty() && free_timer_heap_.Top().deadline <= now_ &&
         free_timer_heap_.Top().sequence < free_limit) {
    TimerHeap::Entry entry = free_timer_heap_.Pop();
    FreeTimer& timer = free_timers_[entry.key];
    std::function<void(absl::Time)> callback = std::move(timer.callback);
    timer.callback = nullptr;
    timer.pending = false;
    free_timer_slots_.push_back(entry.key);
    ++counters_.timers_fired;
    callback(now_);
  }
}

absl::Status ReactorBase::CheckBatch(absl::Span<const OutDatagram> datagrams,
                                     bool gso) {
  for (size_t i = 0; i < datagrams.size(); ++i) {
    size_t size = DatagramSize(datagrams[i]);
    if (size > kMaxUdpPayload) {
      return absl::InvalidArgumentError(absl::StrCat(
          "datagram ", i, " has ", size, " bytes, more than ", kMaxUdpPayload));
    }
    if (gso && i > 0) {
      size_t first = DatagramSize(datagrams[0]);
      bool last = i + 1 == datagrams.size();
      if (last ? size > first : size != first) {
        return absl::InvalidArgumentError(
            absl::StrCat("GSO batch: datagram ", i, " has ", size,
                         " bytes; all but the last need ", first,
                         " and the last at most ", first));
      }
    }
  }
  return absl::OkStatus();
}

void ReactorBase::GroupBatch(absl::Span<const OutDatagram> datagrams, bool gso,
                             size_t max_segments, std::vector<Group>* groups) {
  groups->clear();
  const uint32_t n = static_cast<uint32_t>(datagrams.size());
  if (!gso) {
    for (uint32_t i = 0; i < n; ++i) groups->push_back({i, 1});
    return;
  }
  uint32_t i = 0;
  while (i < n) {
    uint32_t count = 0;
    size_t bytes = 0;
    while (i + count < n && count < max_segments &&
           bytes + DatagramSize(datagrams[i + count]) <= kMaxUdpPayload) {
      bytes += DatagramSize(datagrams[i + count]);
      ++count;
    }
    groups->push_back({i, count});
    i += count;
  }
}

void ReactorBase::CountSendError(int error) {
  ++counters_.send_errors;
  if (error > 0 && error < ReactorCounters::kMaxErrno) {
    ++counters_.send_errors_by_errno[error];
  }
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Reactor>> CreateReactor(
    IoBackend backend, const ReactorOptions& options) {
  switch (backend) {
    case IoBackend::kIoUring: {
      // Asked for io_uring and nothing else: no fallback, and an error that
      // says what the choices are.
      absl::StatusOr<std::unique_ptr<Reactor>> reactor =
          internal::CreateIoUringReactor(options);
      if (reactor.ok()) return reactor;
      return absl::Status(
          reactor.status().code(),
          absl::StrCat("io_uring unavailable and io_uring was required "
                       "(choose auto to fall back to epoll, or epoll): ",
                       reactor.status().message()));
    }
    case IoBackend::kEpoll:
      return internal::CreateEpollReactor(options);
    case IoBackend::kAuto:
      break;
  }
  absl::StatusOr<std::unique_ptr<Reactor>> reactor =
      internal::CreateIoUringReactor(options);
  if (reactor.ok()) return reactor;
  LOG(WARNING) << "io_uring unavailable, using epoll: "
               << reactor.status().message();
  return internal::CreateEpollReactor(options);
}

}  // namespace rackboot::io
