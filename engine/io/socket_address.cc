#include "engine/io/socket_address.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rackboot::io {

SocketAddress::SocketAddress() {
  std::memset(&storage_, 0, sizeof(storage_));
  storage_.v4.sin_family = AF_INET;
}

SocketAddress SocketAddress::Ipv4(std::array<uint8_t, 4> address,
                                  uint16_t port) {
  SocketAddress a;
  std::memcpy(&a.storage_.v4.sin_addr.s_addr, address.data(), 4);
  a.storage_.v4.sin_port = htons(port);
  return a;
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(absl::string_view text) {
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad socket address \"", text, "\": ", why));
  };
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return error("expected host:port");
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  uint32_t port = 0;
  if (port_text.empty() || !absl::SimpleAtoi(port_text, &port) ||
      port > 65535) {
    return error("bad port");
  }
  SocketAddress a;
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return error("unclosed '['");
    std::string h(host.substr(1, host.size() - 2));
    std::memset(&a.storage_, 0, sizeof(a.storage_));
    a.storage_.v6.sin6_family = AF_INET6;
    a.storage_.v6.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, h.c_str(), &a.storage_.v6.sin6_addr) != 1) {
      return error("bad IPv6 address");
    }
    return a;
  }
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &a.storage_.v4.sin_addr) != 1) {
    return error("bad IPv4 address");
  }
  a.storage_.v4.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

bool SocketAddress::FromSockaddr(const sockaddr* address, socklen_t length,
                                 SocketAddress* out) {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    std::memset(&out->storage_, 0, sizeof(out->storage_));
    std::memcpy(&out->storage_.v4, address, sizeof(sockaddr_in));
    return true;
  }
  if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    std::memcpy(&out->storage_.v6, address, sizeof(sockaddr_in6));
    return true;
  }
  return false;
}

SocketAddress SocketAddress::WithPort(uint16_t port) const {
  SocketAddress a = *this;
  a.storage_.v4.sin_port = htons(port);  // Same offset in sockaddr_in6.
  return a;
}

std::string SocketAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN];
  if (is_ipv4()) {
    inet_ntop(AF_INET, &storage_.v4.sin_addr, buffer, sizeof(buffer));
    return absl::StrCat(buffer, ":", port());
  }
  inet_ntop(AF_INET6, &storage_.v6.sin6_addr, buffer, sizeof(buffer));
  return absl::StrCat("[", buffer, "]:", port());
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  if (a.family() != b.family()) return false;
  if (a.is_ipv4()) {
    return a.storage_.v4.sin_addr.s_addr == b.storage_.v4.sin_addr.s_addr &&
           a.storage_.v4.sin_port == b.storage_.v4.sin_port;
  }
  return std::memcmp(&a.storage_.v6.sin6_addr, &b.storage_.v6.sin6_addr, 16) ==
             0 &&
         a.storage_.v6.sin6_port == b.storage_.v6.sin6_port &&
         a.storage_.v6.sin6_scope_id == b.storage_.v6.sin6_scope_id;
}

}  // namespace rackboot::io
