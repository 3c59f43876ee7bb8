// SocketAddress: an IPv4 or IPv6 address plus a UDP port, as a plain value.
//
// A value type (copyable, comparable, hashable, 28 bytes) that any thread may
// use. It converts to and from the kernel's sockaddr forms and to and from
// text:
//
//   absl::StatusOr<SocketAddress> a = SocketAddress::Parse("198.18.0.1:69");
//   absl::StatusOr<SocketAddress> b = SocketAddress::Parse("[2001:db8::1]:69");
//   a->ToString();  // "198.18.0.1:69"
//   bind(fd, a->sockaddr_ptr(), a->sockaddr_len());
#ifndef RACKBOOT_ENGINE_IO_SOCKET_ADDRESS_H_
#define RACKBOOT_ENGINE_IO_SOCKET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::io {

class SocketAddress {
 public:
  // 0.0.0.0:0.
  SocketAddress();

  // Parses "a.b.c.d:port" or "[ipv6]:port" (port 0..65535). Errors are
  // InvalidArgument and quote the text.
  static absl::StatusOr<SocketAddress> Parse(absl::string_view text);

  // An IPv4 address from its four bytes in network order ({127, 0, 0, 1}).
  static SocketAddress Ipv4(std::array<uint8_t, 4> address, uint16_t port);
  static SocketAddress Ipv4Loopback(uint16_t port) {
    return Ipv4({127, 0, 0, 1}, port);
  }
  static SocketAddress Ipv4Any(uint16_t port) {
    return Ipv4({0, 0, 0, 0}, port);
  }

  // Reads a sockaddr_in or sockaddr_in6 the kernel filled in. Returns false
  // (and leaves *out alone) for other families or a too-short length.
  static bool FromSockaddr(const sockaddr* address, socklen_t length,
                           SocketAddress* out);

  int family() const { return storage_.v4.sin_family; }
  bool is_ipv4() const { return family() == AF_INET; }
  uint16_t port() const { return ntohs(storage_.v4.sin_port); }
  SocketAddress WithPort(uint16_t port) const;

  // For bind(), connect(), sendmsg(): valid as long as this value lives.
  const sockaddr* sockaddr_ptr() const {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  socklen_t sockaddr_len() const {
    return is_ipv4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  }

  // "198.18.0.1:69" or "[2001:db8::1]:69".
  std::string ToString() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);
  friend bool operator!=(const SocketAddress& a, const SocketAddress& b) {
    return !(a == b);
  }
  template <typename H>
  friend H AbslHashValue(H h, const SocketAddress& a) {
    if (a.is_ipv4()) {
      return H::combine(std::move(h), a.storage_.v4.sin_addr.s_addr,
                        a.storage_.v4.sin_port);
    }
    return H::combine(H::combine_contiguous(
                          std::move(h), a.storage_.v6.sin6_addr.s6_addr, 16),
                      a.storage_.v6.sin6_port, a.storage_.v6.sin6_scope_id);
  }

 private:
  union Storage {
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage storage_;
};

}  // namespace rackboot::io

#endif  // RACKBOOT_ENGINE_IO_SOCKET_ADDRESS_H_
