// TftpCounters: totals of the TFTP service, kept per shard and summed when
// read (the status API, /metrics, the stop log).
//
// Each shard writes only its own TftpShardCounts, on cache lines of its own,
// with a relaxed load and store (one writer: no read-modify-write, and no
// line another shard writes), once per request or transfer. What is counted
// per packet is in the shards' metric cells (TftpShardMetrics). The per-file
// table is touched once per finished transfer under the shard's own mutex,
// which only readers contend for. Any thread may read.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_COUNTERS_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_COUNTERS_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace rackboot {

// One shard's counts. Written only on that shard's thread; any thread reads.
struct alignas(64) TftpShardCounts {
  std::atomic<int64_t> transfers_active{0};
  std::atomic<uint64_t> transfers_completed{0};
  std::atomic<uint64_t> transfers_failed{0};  // started, then timed out/aborted
  std::atomic<uint64_t> requests_refused{0};  // an ERROR before any data
  // Of those, refused with ERROR 0 "Server busy": a cap (per client address,
  // transfers, descriptors) was reached, or the kernel ran out of descriptors.
  std::atomic<uint64_t> requests_busy{0};
  // Unconfirmed transfers (no valid ACK yet) closed to make room for a new
  // request, oldest first; not counted as failed.
  std::atomic<uint64_t> transfers_evicted{0};
  std::atomic<uint64_t> unknown_tid{0};  // datagrams answered with ERROR 5
  std::atomic<uint64_t> malformed{
      0};  // undecodable datagrams on the request port

  // The single writer's increment.
  template <typename T>
  static void Add(std::atomic<T>& counter, T n) {
    counter.store(counter.load(std::memory_order_relaxed) + n,
                  std::memory_order_relaxed);
  }

  // Completed downloads per file (relative path beneath the root).
  void CountDownload(const std::string& path) {
    absl::MutexLock lock(&mu);
    ++downloads[path];
  }

  absl::Mutex mu;
  absl::flat_hash_map<std::string, uint64_t> downloads ABSL_GUARDED_BY(mu);
};

class TftpCounters {
 public:
  explicit TftpCounters(int shards = 1)
      : shards_(std::max(1, shards)),
        counts_(std::make_unique<TftpShardCounts[]>(shards_)) {}

  // Shard `i`'s counts (0 <= i < shards()).
  TftpShardCounts& shard(int i) { return counts_[i]; }
  int shards() const { return shards_; }

  // Sums over the shards.
  int64_t transfers_active() const {
    return Sum(&TftpShardCounts::transfers_active);
  }
  uint64_t transfers_completed() const {
    return Sum(&TftpShardCounts::transfers_completed);
  }
  uint64_t transfers_failed() const {
    return Sum(&TftpShardCounts::transfers_failed);
  }
  uint64_t requests_refused() const {
    return Sum(&TftpShardCounts::requests_refused);
  }
  uint64_t requests_busy() const {
    return Sum(&TftpShardCounts::requests_busy);
  }
  uint64_t transfers_evicted() const {
    return Sum(&TftpShardCounts::transfers_evicted);
  }
  uint64_t unknown_tid() const { return Sum(&TftpShardCounts::unknown_tid); }
  uint64_t malformed() const { return Sum(&TftpShardCounts::malformed); }

  uint64_t Downloads(const std::string& path) {
    uint64_t n = 0;
    for (int i = 0; i < shards_; ++i) {
      absl::MutexLock lock(&counts_[i].mu);
      auto it = counts_[i].downloads.find(path);
      if (it != counts_[i].downloads.end()) n += it->second;
    }
    return n;
  }

 private:
  template <typename T>
  T Sum(std::atomic<T> TftpShardCounts::*field) const {
    T n = 0;
    for (int i = 0; i < shards_; ++i) {
      n += (counts_[i].*field).load(std::memory_order_relaxed);
    }
    return n;
  }

  const int shards_;
  const std::unique_ptr<TftpShardCounts[]> counts_;
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_COUNTERS_H_
