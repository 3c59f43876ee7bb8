// UdpSocket: the owner of one UDP socket file descriptor (RAII, move-only).
//
// Bind() creates, configures and binds the socket in one call; the descriptor
// is closed when the UdpSocket is destroyed. Any thread may create one; after
// that the owner (usually a Reactor, via Reactor::Watch) is its only user.
//
//   UdpSocketOptions options;
//   options.reuse_port = true;  // one listening socket per shard thread
//   absl::StatusOr<UdpSocket> listen =
//       UdpSocket::Bind(*SocketAddress::Parse("198.18.0.1:69"), options);
//   // Per transfer (RFC 1350 TID): a new port, connected to the client.
//   absl::StatusOr<UdpSocket> transfer =
//       UdpSocket::Bind(SocketAddress::Ipv4({198, 18, 0, 1}, 0));
//   absl::Status s = transfer->Connect(client);
//
// The descriptor is left in blocking mode on purpose: io_uring then waits for
// socket space itself (poll-armed retry) instead of failing a send with EAGAIN;
// the epoll backend passes MSG_DONTWAIT on every call.
#ifndef RACKBOOT_ENGINE_IO_UDP_SOCKET_H_
#define RACKBOOT_ENGINE_IO_UDP_SOCKET_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/io/socket_address.h"

namespace rackboot::io {

struct UdpSocketOptions {
  // SO_REUSEPORT: several sockets (one per shard) share one address and port.
  bool reuse_port = false;
  // SO_BINDTODEVICE: receive and send only through this interface ("eth1").
  // Empty: no binding. Needs CAP_NET_RAW on older kernels.
  std::string bind_to_device;
  // SO_RCVBUF / SO_SNDBUF in bytes; 0 keeps the kernel default. When the value
  // exceeds net.core.{r,w}mem_max, SO_{RCV,SND}BUFFORCE is tried (works as
  // root or with CAP_NET_ADMIN); otherwise the kernel's cap applies silently.
  int recv_buffer_bytes = 0;
  int send_buffer_bytes = 0;
  // IP_PKTINFO / IPV6_RECVPKTINFO: ask the kernel for the destination address
  // and interface of each datagram (DHCP on several interfaces needs them).
  bool pktinfo = false;
};

class UdpSocket {
 public:
  // An empty socket (valid() is false).
  UdpSocket() = default;
  // Adopts `fd` (closed by the destructor).
  explicit UdpSocket(int fd) : fd_(fd) {}
  ~UdpSocket() { Close(); }

  UdpSocket(UdpSocket&& other) noexcept : fd_(other.Release()) {}
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Creates a UDP socket of `local`'s family, applies `options`, binds it.
  // Port 0 picks a free port (read it with LocalAddress()). Errors name the
  // step, the address and the errno text: "bind 0.0.0.0:69: Permission denied".
  static absl::StatusOr<UdpSocket> Bind(const SocketAddress& local,
                                        const UdpSocketOptions& options = {});

  // connect(2): from now on only `peer`'s datagrams arrive, and sends without
  // a destination go to `peer`.
  absl::Status Connect(const SocketAddress& peer);

  // getsockname(2).
  absl::StatusOr<SocketAddress> LocalAddress() const;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Gives up ownership; the caller must close the returned descriptor.
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Close();

 private:
  int fd_ = -1;
};

}  // namespace rackboot::io

#endif  // RACKBOOT_ENGINE_IO_UDP_SOCKET_H_
