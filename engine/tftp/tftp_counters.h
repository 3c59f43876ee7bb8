// TftpCounters: totals of the TFTP service, shared by every shard and read by
// the status API.
//
// Shards update the atomics with relaxed read-modify-writes once per request
// or transfer (what is counted per packet is in the shards' metric cells,
// TftpShardMetrics); the per-file table is touched once per finished transfer
// under a mutex. Any thread may read.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_COUNTERS_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace rackboot {

struct TftpCounters {
  std::atomic<int64_t> transfers_active{0};
  std::atomic<uint64_t> transfers_completed{0};
  std::atomic<uint64_t> transfers_failed{
      0};  // started, then timed out or aborted
  std::atomic<uint64_t> requests_refused{
      0};  // answered with an ERROR before any data
  // Of those, refused with ERROR 0 "Server busy": a cap (per client address,
  // transfers, descriptors) was reached, or the kernel ran out of descriptors.
  std::atomic<uint64_t> requests_busy{0};
  // Unconfirmed transfers (no valid ACK yet) closed to make room for a new
  // request, oldest first; not counted as failed.
  std::atomic<uint64_t> transfers_evicted{0};
  // Bytes, datagrams and retransmits are counted per window, so they live in
  // each shard's metric cells (TftpShardMetrics), not here: a shared atomic
  // written per packet by every shard would bounce its cache line.
  std::atomic<uint64_t> unknown_tid{0};  // datagrams answered with ERROR 5
  std::atomic<uint64_t> malformed{
      0};  // undecodable datagrams on the request port

  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  // Completed downloads per file (relative path beneath the root).
  void CountDownload(const std::string& path) {
    absl::MutexLock lock(&mu);
    ++downloads[path];
  }
  uint64_t Downloads(const std::string& path) {
    absl::MutexLock lock(&mu);
    auto it = downloads.find(path);
    return it == downloads.end() ? 0 : it->second;
  }

  absl::Mutex mu;
  absl::flat_hash_map<std::string, uint64_t> downloads ABSL_GUARDED_BY(mu);
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_COUNTERS_H_
