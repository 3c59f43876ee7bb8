// TftpClientCounts: transfers running per client IP address, across every
// shard of a TftpService, so that one address cannot take more than its share
// of the service's descriptors.
//
// Shared because SO_REUSEPORT spreads requests by the 4-tuple: one address
// sending from many source ports lands on every shard, so a per-shard cap
// would let it hold `cap` transfers per shard. Taken once when a transfer
// starts and once when it ends (never per datagram). Striped: the addresses
// are spread by hash over kStripes maps, each with its own mutex on cache
// lines of its own, so two shards wait for each other only when their
// clients' addresses fall in the same stripe at the same moment (a lock, not
// lock-free; but no lock every request of every shard takes).
//
// Thread-safe; owned by the TftpService, borrowed by its shards.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_ADMISSION_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_ADMISSION_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "engine/io/socket_address.h"

namespace rackboot {

class TftpClientCounts {
 public:
  static constexpr size_t kStripes = 64;

  // `max_per_client` 0: no cap.
  explicit TftpClientCounts(size_t max_per_client)
      : max_per_client_(max_per_client) {}

  // Counts one more transfer for `client`'s address (its port is ignored);
  // false, counting nothing, when the address already runs the maximum.
  bool TryAcquire(const io::SocketAddress& client) {
    const io::SocketAddress address = client.WithPort(0);
    Stripe& stripe = StripeOf(address);
    absl::MutexLock lock(&stripe.mu);
    uint32_t& n = stripe.running[address];
    if (max_per_client_ != 0 && n >= max_per_client_) return false;
    ++n;
    return true;
  }
  // Ends one transfer counted by TryAcquire.
  void Release(const io::SocketAddress& client) {
    const io::SocketAddress address = client.WithPort(0);
    Stripe& stripe = StripeOf(address);
    absl::MutexLock lock(&stripe.mu);
    auto it = stripe.running.find(address);
    if (it == stripe.running.end()) return;
    if (--it->second == 0) stripe.running.erase(it);
  }
  size_t Running(const io::SocketAddress& client) {
    const io::SocketAddress address = client.WithPort(0);
    Stripe& stripe = StripeOf(address);
    absl::MutexLock lock(&stripe.mu);
    auto it = stripe.running.find(address);
    return it == stripe.running.end() ? 0 : it->second;
  }
  size_t max_per_client() const { return max_per_client_; }

 private:
  struct alignas(64) Stripe {
    absl::Mutex mu;
    absl::flat_hash_map<io::SocketAddress, uint32_t> running
        ABSL_GUARDED_BY(mu);
  };
  Stripe& StripeOf(const io::SocketAddress& address) {
    // High bits: the maps inside a stripe use the low ones (H2).
    const uint64_t hash = absl::Hash<io::SocketAddress>{}(address);
    return stripes_[(hash >> 40) % kStripes];
  }

  const size_t max_per_client_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_ADMISSION_H_
