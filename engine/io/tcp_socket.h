// TcpSocket: the owner of one TCP socket file descriptor (RAII, move-only),
// and the helpers that make the listening sockets a Reactor serves.
//
// Listen() creates, configures, binds and listens in one call; the descriptor
// is closed when the TcpSocket is destroyed. Any thread may create one; after
// that the owner (usually a Reactor, via Reactor::Listen or WatchStream) is its
// only user.
//
//   TcpListenOptions options;  // SO_REUSEPORT on: one listener per shard
//   absl::StatusOr<TcpSocket> listener =
//       TcpSocket::Listen(*SocketAddress::Parse("198.18.0.1:80"), options);
//   absl::StatusOr<SocketToken> token =
//       reactor->Listen(std::move(*listener), &shard);
//
// Every TcpSocket made here is non-blocking (O_NONBLOCK) and close-on-exec:
// the epoll backend needs that, and io_uring ignores O_NONBLOCK for its own
// socket operations (it still waits for readiness itself), while the
// sendfile(2) the reactors use for file ranges must never block the loop.
#ifndef RACKBOOT_ENGINE_IO_TCP_SOCKET_H_
#define RACKBOOT_ENGINE_IO_TCP_SOCKET_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "engine/io/socket_address.h"

namespace rackboot::io {

struct TcpListenOptions {
  // SO_REUSEPORT: every shard listens on the same address and port, and the
  // kernel spreads new connections over the shards' listeners.
  bool reuse_port = true;
  // SO_BINDTODEVICE: accept only through this interface ("eth1"). Empty: no
  // binding. Needs CAP_NET_RAW on older kernels.
  std::string bind_to_device;
  // listen(2) backlog (the kernel caps it at net.core.somaxconn).
  int backlog = 1024;
  // IPV6_V6ONLY for an IPv6 address: true keeps "[::]:80" from also taking
  // IPv4 connections (a separate 0.0.0.0:80 listener can then coexist).
  bool ipv6_only = true;
  // SO_RCVBUF / SO_SNDBUF of the listener, inherited by accepted connections;
  // 0 keeps the kernel default (and its autotuning). Tests use a tiny send
  // buffer to force partial sends.
  int recv_buffer_bytes = 0;
  int send_buffer_bytes = 0;
};

struct TcpConnectOptions {
  // bind(2) before connecting (a simulated host's source address); port 0
  // picks one. Empty: the kernel chooses.
  absl::optional<SocketAddress> local;
  // SO_RCVBUF / SO_SNDBUF; 0 keeps the kernel default.
  int recv_buffer_bytes = 0;
  int send_buffer_bytes = 0;
};

class TcpSocket {
 public:
  // An empty socket (valid() is false).
  TcpSocket() = default;
  // Adopts `fd` (closed by the destructor). The caller must have made it
  // non-blocking if it goes to a Reactor.
  explicit TcpSocket(int fd) : fd_(fd) {}
  ~TcpSocket() { Close(); }

  TcpSocket(TcpSocket&& other) noexcept : fd_(other.Release()) {}
  TcpSocket& operator=(TcpSocket&& other) noexcept;
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  // A bound, listening, non-blocking TCP socket of `local`'s family (IPv4 or
  // IPv6), with SO_REUSEADDR always and `options`. Port 0 picks a free port
  // (read it with LocalAddress()). Errors name the step, the address and the
  // errno text: "bind 0.0.0.0:80: Permission denied".
  static absl::StatusOr<TcpSocket> Listen(const SocketAddress& local,
                                          const TcpListenOptions& options = {});

  // A non-blocking TCP socket of `peer`'s family with `options` applied
  // (bound if options.local is set), not yet connected: Reactor::Connect
  // starts the handshake.
  static absl::StatusOr<TcpSocket> ForConnect(
      const SocketAddress& peer, const TcpConnectOptions& options = {});

  // getsockname(2) / getpeername(2).
  absl::StatusOr<SocketAddress> LocalAddress() const;
  absl::StatusOr<SocketAddress> PeerAddress() const;

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

#endif  // RACKBOOT_ENGINE_IO_TCP_SOCKET_H_
