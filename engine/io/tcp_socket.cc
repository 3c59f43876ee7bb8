#include "engine/io/tcp_socket.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "engine/io/socket_options.h"

namespace rackboot::io {
namespace {

using internal::SetBufferSize;
using internal::SetIntOption;

absl::StatusOr<SocketAddress> AddressOf(int fd, bool peer) {
  sockaddr_in6 storage{};
  socklen_t length = sizeof(storage);
  sockaddr* address = reinterpret_cast<sockaddr*>(&storage);
  int ret = peer ? ::getpeername(fd, address, &length)
                 : ::getsockname(fd, address, &length);
  if (ret != 0) {
    return absl::ErrnoToStatus(errno, peer ? "getpeername" : "getsockname");
  }
  SocketAddress result;
  if (!SocketAddress::FromSockaddr(address, length, &result)) {
    return absl::InternalError("unexpected address family");
  }
  return result;
}

}  // namespace

TcpSocket& TcpSocket::operator=(TcpSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.Release();
  }
  return *this;
}

void TcpSocket::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

absl::StatusOr<TcpSocket> TcpSocket::Listen(const SocketAddress& local,
                                            const TcpListenOptions& options) {
  int fd = ::socket(local.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    IPPROTO_TCP);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("socket ", local.ToString()));
  }
  TcpSocket socket(fd);
  // A restarted daemon binds again while old connections sit in TIME_WAIT.
  if (absl::Status s =
          SetIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", local);
      !s.ok()) {
    return s;
  }
  if (options.reuse_port) {
    if (absl::Status s = SetIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1,
                                      "SO_REUSEPORT", local);
        !s.ok()) {
      return s;
    }
  }
  if (!local.is_ipv4()) {
    if (absl::Status s =
            SetIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                         options.ipv6_only ? 1 : 0, "IPV6_V6ONLY", local);
        !s.ok()) {
      return s;
    }
  }
  if (!options.bind_to_device.empty()) {
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE,
                   options.bind_to_device.data(),
                   options.bind_to_device.size()) != 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("SO_BINDTODEVICE ", options.bind_to_device, " ",
                              local.ToString()));
    }
  }
  SetBufferSize(fd, SO_RCVBUF, SO_RCVBUFFORCE, options.recv_buffer_bytes);
  SetBufferSize(fd, SO_SNDBUF, SO_SNDBUFFORCE, options.send_buffer_bytes);
  if (::bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("bind ", local.ToString()));
  }
  if (::listen(fd, options.backlog) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("listen ", local.ToString()));
  }
  return socket;
}

absl::StatusOr<TcpSocket> TcpSocket::ForConnect(
    const SocketAddress& peer, const TcpConnectOptions& options) {
  int fd = ::socket(peer.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    IPPROTO_TCP);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("socket ", peer.ToString()));
  }
  TcpSocket socket(fd);
  SetBufferSize(fd, SO_RCVBUF, SO_RCVBUFFORCE, options.recv_buffer_bytes);
  SetBufferSize(fd, SO_SNDBUF, SO_SNDBUFFORCE, options.send_buffer_bytes);
  if (options.local.has_value()) {
    const SocketAddress& local = *options.local;
    if (local.port() == 0) {
      // Many simulated hosts: let connect() pick the port per 4-tuple, so
      // source ports are not exhausted by bind() alone.
      int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    }
    if (::bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("bind ", local.ToString()));
    }
  }
  return socket;
}

absl::StatusOr<SocketAddress> TcpSocket::LocalAddress() const {
  return AddressOf(fd_, /*peer=*/false);
}

absl::StatusOr<SocketAddress> TcpSocket::PeerAddress() const {
  return AddressOf(fd_, /*peer=*/true);
}

}  // namespace rackboot::io
