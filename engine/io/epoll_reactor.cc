// EpollReactor: the epoll fallback of Reactor (see reactor.h), for kernels or
// sandboxes without io_uring.
//
// Receive: level-triggered EPOLLIN per socket; each ready socket gets one
// recvmmsg(MSG_DONTWAIT) of up to 64 datagrams per iteration (fair across
// sockets), into buffers shared by the reactor. Send: synchronous, in Send():
// sendmmsg for a batch, or one sendmsg with UDP_SEGMENT per GSO group.
// A full socket send buffer (EAGAIN) drops the datagram and counts it; the
// sockets stay blocking so that io_uring can wait instead.
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "engine/io/reactor_base.h"
#include "glog/logging.h"

namespace rackboot::io::internal {
namespace {

constexpr uint64_t kWakeKey = 0;  // Never a token (generation >= 1).
constexpr int kMaxEvents = 256;
constexpr uint32_t kMaxRecvBatch = 64;
constexpr size_t kMaxSendmmsg = 1024;  // UIO_MAXIOV
// TCP: bytes per recv, recv calls per ready stream per iteration (fairness),
// and accept calls per ready listener per iteration.
constexpr size_t kStreamRead = 64 * 1024;
constexpr int kMaxStreamReads = 4;
constexpr int kMaxAccepts = 64;

class EpollReactor final : public ReactorBase {
 public:
  explicit EpollReactor(const ReactorOptions& options) : ReactorBase(options) {}
  ~EpollReactor() override {
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  absl::Status Init();

  IoBackend backend() const override { return IoBackend::kEpoll; }
  absl::StatusOr<SocketToken> Watch(UdpSocket socket,
                                    ReactorHandler* handler) override;
  void Unwatch(SocketToken token) override;
  absl::Status Send(SocketToken token, absl::Span<const OutDatagram> datagrams,
                    SendOptions options) override;
  absl::Status RunOnce(absl::Duration max_wait) override;

 protected:
  SendResult SendStreamBytes(uint32_t index, const uint8_t* data, size_t size,
                             bool more) override;
  void WaitWritable(uint32_t index) override { UpdateInterest(index); }
  void UpdateStreamReceive(uint32_t index) override { UpdateInterest(index); }
  void CancelAll(uint32_t index) override;
  void MaybeFinishClose(uint32_t index) override;
  absl::Status RegisterStream(uint32_t index) override {
    return Register(index);
  }
  absl::Status RegisterListener(uint32_t index) override {
    return Register(index);
  }
  void StartAccepting(uint32_t index) override;
  void StopAccepting(uint32_t index) override;
  void StartConnect(uint32_t index) override;

 private:
  void Receive(SocketToken token);
  // TCP: adds the descriptor with no interest yet.
  absl::Status Register(uint32_t index);
  void SetInterest(uint32_t index, uint32_t events);
  // A stream's interest from its state: EPOLLIN while receiving is wanted,
  // EPOLLOUT while connecting or waiting for send space.
  void UpdateInterest(uint32_t index);
  void AcceptSome(uint32_t index);
  void HandleStreamEvent(SocketToken token, uint32_t events);
  void ReadStream(SocketToken token);

  int epoll_fd_ = -1;
  uint32_t recv_batch_ = 0;
  uint32_t recv_payload_bytes_ = 0;
  std::vector<uint8_t> recv_storage_;
  std::vector<mmsghdr> recv_msgs_;
  std::vector<iovec> recv_iovecs_;
  std::vector<sockaddr_in6> recv_names_;
  epoll_event events_[kMaxEvents];
  // Send scratch, reused.
  std::vector<Group> groups_;
  std::vector<iovec> send_iovecs_;
  std::vector<mmsghdr> send_msgs_;
  alignas(cmsghdr) unsigned char control_[CMSG_SPACE(sizeof(uint16_t))];
  std::vector<uint8_t> stream_buffer_ = std::vector<uint8_t>(kStreamRead);
};

absl::Status EpollReactor::Init() {
  if (absl::Status s = InitWakeFd(); !s.ok()) return s;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::ErrnoToStatus(errno, "epoll_create1");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeKey;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl ADD eventfd");
  }
  if (options_.recv_buffer_size <= kRecvHeaderBytes) {
    return absl::InvalidArgumentError("recv_buffer_size too small");
  }
  recv_batch_ = std::max<uint32_t>(
      1, std::min(options_.recv_buffer_count, kMaxRecvBatch));
  // Same largest datagram as the io_uring backend.
  recv_payload_bytes_ = options_.recv_buffer_size - kRecvHeaderBytes;
  recv_storage_.resize(size_t{recv_batch_} * recv_payload_bytes_);
  recv_msgs_.resize(recv_batch_);
  recv_iovecs_.resize(recv_batch_);
  recv_names_.resize(recv_batch_);
  for (uint32_t i = 0; i < recv_batch_; ++i) {
    recv_iovecs_[i] = {recv_storage_.data() + size_t{i} * recv_payload_bytes_,
                       recv_payload_bytes_};
  }
  return absl::OkStatus();
}

absl::StatusOr<SocketToken> EpollReactor::Watch(UdpSocket socket,
                                                ReactorHandler* handler) {
  if (!socket.valid() || handler == nullptr) {
    return absl::InvalidArgumentError("Watch: invalid socket or null handler");
  }
  const int fd = socket.fd();
  SocketToken token = AllocateSlot(std::move(socket), handler);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = token.value();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    absl::Status status = absl::ErrnoToStatus(errno, "epoll_ctl ADD");
    FreeSlot(token.index());
    return status;
  }
  return token;
}

void EpollReactor::Unwatch(SocketToken token) {
  if (CloseNonDatagram(token)) return;
  Slot* slot = Lookup(token);
  if (slot == nullptr) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, slot->socket.fd(), nullptr);
  FreeSlot(token.index());  // Closes the socket: no operation is in flight.
}

absl::Status EpollReactor::Send(SocketToken token,
                                absl::Span<const OutDatagram> datagrams,
                                SendOptions options) {
  Slot* slot = Lookup(token);
  if (slot == nullptr) return absl::NotFoundError("Send: stale socket token");
  if (absl::Status s = CheckBatch(datagrams, options.gso); !s.ok()) return s;
  if (datagrams.empty()) return absl::OkStatus();
  const int fd = slot->socket.fd();
  void* name = nullptr;
  socklen_t name_length = 0;
  if (options.to.has_value()) {
    name = const_cast<sockaddr*>(options.to->sockaddr_ptr());
    name_length = options.to->sockaddr_len();
  }
  // The kernel reads headers and payloads in place during the calls below.
  send_iovecs_.resize(2 * datagrams.size());
  GroupBatch(datagrams, options.gso, &groups_);
  send_msgs_.resize(groups_.size());
  size_t iov = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    msghdr& msg = send_msgs_[g].msg_hdr;
    std::memset(&msg, 0, sizeof(msg));
    msg.msg_name = name;
    msg.msg_namelen = name_length;
    msg.msg_iov = &send_iovecs_[iov];
    for (uint32_t i = 0; i < groups_[g].count; ++i) {
      const OutDatagram& d = datagrams[groups_[g].first + i];
      if (!d.header.empty()) {
        send_iovecs_[iov++] = {const_cast<uint8_t*>(d.header.data()),
                               d.header.size()};
      }
      if (!d.payload.empty()) {
        send_iovecs_[iov++] = {const_cast<uint8_t*>(d.payload.data()),
                               d.payload.size()};
      }
    }
    msg.msg_iovlen = &send_iovecs_[iov] - msg.msg_iov;
  }
  auto account = [&](size_t g, ssize_t result) {
    if (result >= 0) {
      counters_.datagrams_sent += groups_[g].count;
      counters_.bytes_sent += static_cast<uint64_t>(result);
    } else {
      CountSendError(errno);
    }
  };
  if (options.gso) {
    for (size_t g = 0; g < groups_.size(); ++g) {
      msghdr& msg = send_msgs_[g].msg_hdr;
      if (groups_[g].count > 1) {
        msg.msg_control = control_;
        msg.msg_controllen = sizeof(control_);
        cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_UDP;
        cmsg->cmsg_type = UDP_SEGMENT;
        cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment =
            static_cast<uint16_t>(DatagramSize(datagrams[groups_[g].first]));
        std::memcpy(CMSG_DATA(cmsg), &segment, sizeof(segment));
      }
      ssize_t sent = ::sendmsg(fd, &msg, MSG_DONTWAIT);
      ++counters_.send_system_calls;
      ++counters_.send_operations;
      account(g, sent);
    }
    return absl::OkStatus();
  }
  size_t next = 0;
  while (next < groups_.size()) {
    const size_t count = std::min(groups_.size() - next, kMaxSendmmsg);
    int sent = ::sendmmsg(fd, &send_msgs_[next], count, MSG_DONTWAIT);
    ++counters_.send_system_calls;
    ++counters_.send_operations;
    if (sent < 0) {
      account(next, -1);  // This datagram failed; go on with the rest.
      ++next;
      continue;
    }
    for (int i = 0; i < sent; ++i) {
      account(next + i, send_msgs_[next + i].msg_len);
    }
    next += sent;
  }
  return absl::OkStatus();
}

void EpollReactor::Receive(SocketToken token) {
  Slot* slot = Lookup(token);
  if (slot == nullptr) return;
  for (uint32_t i = 0; i < recv_batch_; ++i) {
    msghdr& msg = recv_msgs_[i].msg_hdr;
    std::memset(&msg, 0, sizeof(msg));
    msg.msg_name = &recv_names_[i];
    msg.msg_namelen = sizeof(sockaddr_in6);
    msg.msg_iov = &recv_iovecs_[i];
    msg.msg_iovlen = 1;
  }
  int n = ::recvmmsg(slot->socket.fd(), recv_msgs_.data(), recv_batch_,
                     MSG_DONTWAIT, nullptr);
  ++counters_.recv_system_calls;
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      ++counters_.recv_errors;
      LOG_EVERY_N(WARNING, 1000) << "recvmmsg: " << std::strerror(errno);
    }
    return;
  }
  for (int i = 0; i < n; ++i) {
    const msghdr& msg = recv_msgs_[i].msg_hdr;
    if (msg.msg_flags & MSG_TRUNC) {
      ++counters_.datagrams_truncated;
      continue;
    }
    slot = Lookup(token);  // A handler may have unwatched it.
    if (slot == nullptr) return;
    SocketAddress from;
    SocketAddress::FromSockaddr(static_cast<const sockaddr*>(msg.msg_name),
                                msg.msg_namelen, &from);
    ++counters_.datagrams_received;
    counters_.bytes_received += recv_msgs_[i].msg_len;
    slot->handler->OnDatagram(
        token,
        absl::MakeConstSpan(static_cast<const uint8_t*>(msg.msg_iov->iov_base),
                            recv_msgs_[i].msg_len),
        from, now_);
  }
}

absl::Status EpollReactor::Register(uint32_t index) {
  Slot& slot = slots_[index];
  epoll_event event{};
  event.events = 0;
  event.data.u64 = TokenOf(index).value();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, slot.socket.fd(), &event) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl ADD");
  }
  slot.epoll_registered = true;
  slot.epoll_events = 0;
  return absl::OkStatus();
}

void EpollReactor::SetInterest(uint32_t index, uint32_t events) {
  Slot& slot = slots_[index];
  if (!slot.epoll_registered || slot.epoll_events == events) return;
  epoll_event event{};
  event.events = events;
  event.data.u64 = TokenOf(index).value();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, slot.socket.fd(), &event) == 0) {
    slot.epoll_events = events;
  }
}

void EpollReactor::UpdateInterest(uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.stream || slot.state == Slot::State::kFree) return;
  uint32_t events = 0;
  if (ReceiveWanted(slot)) events |= EPOLLIN;
  if (slot.stream->connecting || slot.stream->send_blocked) events |= EPOLLOUT;
  SetInterest(index, events);
}

void EpollReactor::CancelAll(uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.epoll_registered) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, slot.socket.fd(), nullptr);
  slot.epoll_registered = false;
  slot.epoll_events = 0;
}

void EpollReactor::MaybeFinishClose(uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.state != Slot::State::kClosing) return;
  if (slot.stream && !slot.stream->finished) return;
  CancelAll(index);
  FreeSlot(index);  // No operation is in flight on epoll.
}

void EpollReactor::StartAccepting(uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.state != Slot::State::kActive || slot.accept_paused) return;
  SetInterest(index, EPOLLIN);
}

void EpollReactor::StopAccepting(uint32_t index) { SetInterest(index, 0); }

void EpollReactor::StartConnect(uint32_t index) {
  Slot& slot = slots_[index];
  const Stream& st = *slot.stream;
  if (::connect(slot.socket.fd(), st.peer.sockaddr_ptr(),
                st.peer.sockaddr_len()) == 0 ||
      errno == EINPROGRESS) {
    UpdateInterest(index);  // EPOLLOUT: the handshake's end.
    return;
  }
  // Reported from the loop, never inside Connect().
  const int error = errno;
  const SocketToken token = TokenOf(index);
  AddTimer(now_, [this, token, error](absl::Time) {
    if (LookupAny(token) != nullptr) StreamConnected(token.index(), error);
  });
}

ReactorBase::SendResult EpollReactor::SendStreamBytes(uint32_t index,
                                                      const uint8_t* data,
                                                      size_t size, bool more) {
  ssize_t n = ::send(slots_[index].socket.fd(), data, size,
                     MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
  ++counters_.tcp_send_system_calls;
  if (n >= 0) return {SendResult::kSent, static_cast<uint64_t>(n)};
  if (errno == EINTR) return {SendResult::kSent, 0};
  if (errno == EAGAIN) return {SendResult::kWouldBlock};
  return {SendResult::kError, 0, errno};
}

void EpollReactor::AcceptSome(uint32_t index) {
  for (int i = 0; i < kMaxAccepts; ++i) {
    Slot& listener = slots_[index];
    if (listener.state != Slot::State::kActive || listener.accept_paused) {
      return;
    }
    sockaddr_in6 storage{};
    socklen_t length = sizeof(storage);
    int fd =
        ::accept4(listener.socket.fd(), reinterpret_cast<sockaddr*>(&storage),
                  &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      SocketAddress peer;
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage), length,
                                  &peer);
      Accepted(index, fd, &peer);
      continue;
    }
    if (errno == EAGAIN) return;
    if (errno == EINTR) continue;
    if (AcceptFailed(index, errno)) return;  // Paused: backing off.
    if (errno != ECONNABORTED) return;       // Try again next iteration.
  }
}

void EpollReactor::ReadStream(SocketToken token) {
  for (int i = 0; i < kMaxStreamReads; ++i) {
    Slot* slot = LookupAny(token);
    if (slot == nullptr || !ReceiveWanted(*slot)) break;
    ssize_t n = ::recv(slot->socket.fd(), stream_buffer_.data(),
                       stream_buffer_.size(), MSG_DONTWAIT);
    if (n > 0) {
      StreamBytes(token.index(), stream_buffer_.data(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < stream_buffer_.size()) break;
      continue;
    }
    if (n == 0) {
      StreamReadEnd(token.index(), 0);
      break;
    }
    if (errno == EAGAIN || errno == EINTR) break;
    StreamReadEnd(token.index(), errno);
    break;
  }
  if (LookupAny(token) != nullptr) UpdateInterest(token.index());
}

void EpollReactor::HandleStreamEvent(SocketToken token, uint32_t events) {
  Slot* slot = LookupAny(token);
  if (slot == nullptr || !slot->stream || slot->stream->finished) return;
  const uint32_t index = token.index();
  const uint32_t trouble = EPOLLERR | EPOLLHUP;
  if (slot->stream->connecting) {
    if (events & (EPOLLOUT | trouble)) {
      int error = 0;
      socklen_t length = sizeof(error);
      getsockopt(slot->socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
      StreamConnected(index, error);
      if (LookupAny(token) != nullptr) UpdateInterest(index);
    }
    return;
  }
  if ((events & (EPOLLIN | trouble)) && ReceiveWanted(*slot)) {
    ReadStream(token);
    slot = LookupAny(token);
    if (slot == nullptr || slot->stream->finished) return;
  }
  if ((events & (EPOLLOUT | trouble)) && slot->stream->send_blocked) {
    slot->stream->send_blocked = false;
    PumpSend(index);
    slot = LookupAny(token);
    if (slot == nullptr || slot->stream->finished) return;
    UpdateInterest(index);
  }
  if (events & trouble) {
    // Nobody reads or writes it now (paused, nothing queued), so the level-
    // triggered error or hang-up would wake every epoll_wait: end the stream.
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(slot->socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    ++counters_.tcp_recv_errors;
    FailStream(index, error != 0
                          ? absl::ErrnoToStatus(error, "socket error")
                          : absl::UnavailableError("connection hung up"));
  }
}

absl::Status EpollReactor::RunOnce(absl::Duration max_wait) {
  UpdateNow();
  RunKicks();
  const absl::Duration wait = WaitFor(max_wait);
  int timeout_ms = -1;
  if (wait != absl::InfiniteDuration()) {
    timeout_ms = static_cast<int>(std::min<int64_t>(
        INT_MAX, absl::ToInt64Milliseconds(wait + absl::Nanoseconds(999999))));
  }
  int n = epoll_wait(epoll_fd_, events_, kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "epoll_wait");
    n = 0;
  }
  UpdateNow();
  for (int i = 0; i < n; ++i) {
    if (events_[i].data.u64 == kWakeKey) {
      uint64_t value;
      ssize_t r = ::read(wake_fd_, &value, sizeof(value));
      (void)r;
      continue;
    }
    const SocketToken token = SocketToken::FromValue(events_[i].data.u64);
    Slot* slot = LookupAny(token);
    if (slot == nullptr) continue;
    switch (slot->kind) {
      case Slot::Kind::kDatagram:
        Receive(token);
        break;
      case Slot::Kind::kListener:
        if (slot->state == Slot::State::kActive) AcceptSome(token.index());
        break;
      case Slot::Kind::kStream:
        HandleStreamEvent(token, events_[i].events);
        break;
    }
  }
  RunPosted();
  FireDueDeadlines();
  ++counters_.loop_iterations;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(
    const ReactorOptions& options) {
  auto reactor = std::make_unique<EpollReactor>(options);
  if (absl::Status s = reactor->Init(); !s.ok()) return s;
  return std::unique_ptr<Reactor>(std::move(reactor));
}

}  // namespace rackboot::io::internal
