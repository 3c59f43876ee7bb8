// TftpClientCounts: transfers running per client IP address, across every
// shard of a TftpService, so that one address cannot take more than its share
// of the service's descriptors.
//
// Shared because SO_REUSEPORT spreads requests by the 4-tuple: one address
// sending from many source ports lands on every shard, so a per-shard cap
// would let it hold `cap` transfers per shard. Taken once when a transfer
// starts and once when it ends (never per datagram), under one mutex: at the
// 1,500 requests/s of the attack in issue 11 that is nothing.
//
// Thread-safe; owned by the TftpService, borrowed by its shards.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_ADMISSION_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_ADMISSION_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/io/socket_address.h"

namespace rackboot {

class TftpClientCounts {
 public:
  // `max_per_client` 0: no cap.
  explicit TftpClientCounts(size_t max_per_client)
      : max_per_client_(max_per_client) {}

  // Counts one more transfer for `client`'s address (its port is ignored);
  // false, counting nothing, when the address already runs the maximum.
  bool TryAcquire(const io::SocketAddress& client) {
    absl::MutexLock lock(&mu_);
    uint32_t& n = running_[client.WithPort(0)];
    if (max_per_client_ != 0 && n >= max_per_client_) return false;
    ++n;
    return true;
  }
  // Ends one transfer counted by TryAcquire.
  void Release(const io::SocketAddress& client) {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(client.WithPort(0));
    if (it == running_.end()) return;
    if (--it->second == 0) running_.erase(it);
  }
  size_t Running(const io::SocketAddress& client) {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(client.WithPort(0));
    return it == running_.end() ? 0 : it->second;
  }
  size_t max_per_client() const { return max_per_client_; }

 private:
  const size_t max_per_client_;
  absl::Mutex mu_;
  absl::flat_hash_map<io::SocketAddress, uint32_t> running_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_ADMISSION_H_
