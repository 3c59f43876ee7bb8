#include "engine/io/udp_socket.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "engine/io/socket_options.h"

namespace rackboot::io {
namespace {

using internal::SetBufferSize;
using internal::SetIntOption;

}  // namespace

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.Release();
  }
  return *this;
}

void UdpSocket::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

absl::StatusOr<UdpSocket> UdpSocket::Bind(const SocketAddress& local,
                                          const UdpSocketOptions& options) {
  int fd = ::socket(local.family(), SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("socket ", local.ToString()));
  }
  UdpSocket socket(fd);
  if (options.reuse_port) {
    absl::Status s =
        SetIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", local);
    if (!s.ok()) return s;
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
  if (options.pktinfo) {
    absl::Status s =
        local.is_ipv4()
            ? SetIntOption(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", local)
            : SetIntOption(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1,
                           "IPV6_RECVPKTINFO", local);
    if (!s.ok()) return s;
  }
  if (::bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("bind ", local.ToString()));
  }
  return socket;
}

absl::Status UdpSocket::Connect(const SocketAddress& peer) {
  if (::connect(fd_, peer.sockaddr_ptr(), peer.sockaddr_len()) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("connect ", peer.ToString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> UdpSocket::LocalAddress() const {
  sockaddr_in6 storage{};
  socklen_t length = sizeof(storage);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return absl::ErrnoToStatus(errno, "getsockname");
  }
  SocketAddress address;
  if (!SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage),
                                   length, &address)) {
    return absl::InternalError("getsockname: unexpected address family");
  }
  return address;
}

}  // namespace rackboot::io
