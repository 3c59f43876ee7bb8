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

 private:
  void Receive(SocketToken token);

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

absl::Status EpollReactor::RunOnce(absl::Duration max_wait) {
  UpdateNow();
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
    Receive(SocketToken::FromValue(events_[i].data.u64));
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
