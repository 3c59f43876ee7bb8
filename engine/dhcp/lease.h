// Lease: one address binding as the DHCP service keeps it in memory and in its
// journal, and ClientKey: how a client is recognised across messages (RFC 2131
// section 4.2: the client identifier, option 61, when sent; otherwise the
// hardware type and address). DhcpServer keys inventory hosts by hardware
// address whatever option 61 says (reservations are by MAC); Lease::mac lets
// it recognise a host's lease journaled under an identifier.
//
// Plain values; any thread may copy them. Times are wall-clock (absl::Time from
// absl::Now()), because leases outlive the process: a restart must see the same
// expiry.
#ifndef RACKBOOT_ENGINE_DHCP_LEASE_H_
#define RACKBOOT_ENGINE_DHCP_LEASE_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::dhcp {

// At most 32 bytes of identity: option 61 is rarely longer (type + MAC, or a
// DUID); longer identifiers are cut, which only matters for clients that differ
// after byte 32.
class ClientKey {
 public:
  static constexpr size_t kMaxSize = 32;

  ClientKey() = default;
  // From option 61's bytes.
  static ClientKey FromClientId(absl::Span<const uint8_t> id) {
    return ClientKey(0, id);
  }
  // From htype and chaddr (the first hlen bytes), when no option 61 was sent.
  static ClientKey FromHardware(uint8_t htype,
                                absl::Span<const uint8_t> chaddr) {
    return ClientKey(htype == 0 ? 0xff : htype, chaddr);
  }

  bool empty() const { return size_ == 0; }
  // 0 for a client identifier, else the hardware type of a hardware address.
  uint8_t kind() const { return kind_; }
  absl::Span<const uint8_t> bytes() const { return {bytes_.data(), size_}; }
  std::string ToString() const {
    std::string out = kind_ == 0 ? "id:" : "hw:";
    for (size_t i = 0; i < size_; ++i) {
      if (i) out += ':';
      absl::StrAppendFormat(&out, "%02x", bytes_[i]);
    }
    return out;
  }

  friend bool operator==(const ClientKey& a, const ClientKey& b) {
    return a.kind_ == b.kind_ && a.size_ == b.size_ &&
           std::memcmp(a.bytes_.data(), b.bytes_.data(), a.size_) == 0;
  }
  template <typename H>
  friend H AbslHashValue(H h, const ClientKey& k) {
    return H::combine(
        H::combine_contiguous(std::move(h), k.bytes_.data(), k.size_), k.kind_,
        k.size_);
  }

 private:
  ClientKey(uint8_t kind, absl::Span<const uint8_t> bytes)
      : kind_(kind),
        size_(static_cast<uint8_t>(std::min(bytes.size(), kMaxSize))) {
    if (size_ > 0) std::memcpy(bytes_.data(), bytes.data(), size_);
  }

  uint8_t kind_ = 0;
  uint8_t size_ = 0;
  std::array<uint8_t, kMaxSize> bytes_{};
};

enum class LeaseState : uint8_t {
  kFree = 0,     // never used, or expired and reclaimed
  kOffered = 1,  // held for a client between OFFER and REQUEST (not journaled)
  kBound = 2,    // acknowledged; journaled before the ACK left
  kReleased =
      3,  // RELEASE received: free, but remembered for the client's return
  kDeclined = 4,  // DECLINE received: quarantined until `expires` (RFC 2131
                  // section 3.1.5)
};

struct Lease {
  Ipv4Address address;
  LeaseState state = LeaseState::kFree;
  ClientKey client;
  std::array<uint8_t, 6>
      mac{};  // chaddr, for unicast delivery and the operator's views
  absl::Time expires = absl::InfinitePast();

  bool operator==(const Lease&) const = default;
  // Whether the address is taken at `now` (bound or offered and not expired, or
  // quarantined).
  bool Holds(absl::Time now) const {
    return state != LeaseState::kFree && state != LeaseState::kReleased &&
           expires > now;
  }
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_LEASE_H_
