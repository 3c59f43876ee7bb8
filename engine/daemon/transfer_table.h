// TransferTable: the file transfers in progress, TFTP and HTTP, for
// GET /api/v1/transfers and a host's "transfer" field (the API joins them to
// hosts by client address).
//
//   TransferTable transfers(tftp_shards + http_shards);   // rackbootd owns it
//   // shard thread, when a transfer starts:
//   TransferTable::Slot* slot = transfers.Begin(shard, Transport::kTftp,
//                                               client, "vmlinuz", size, now);
//   slot->SetBytes(acked);          // per packet: one relaxed atomic store
//   transfers.End(shard, slot);     // when it ends; slot is gone
//   // any thread: transfers.Snapshot()
//
// Each shard index has its own slot list and mutex: Begin and End take that
// shard's mutex, which only readers (Snapshot, a few times a second) contend
// for; the packet path touches only its slot's atomic, in the session's own
// cache line. Shard indexes are taken modulo shards(), so two services may
// share lists (the mutex keeps that correct; it only costs contention).
// Begin/End/SetBytes on the thread that owns the transfer; Snapshot from any
// thread. The table must outlive every slot's user.
#ifndef RACKBOOT_ENGINE_DAEMON_TRANSFER_TABLE_H_
#define RACKBOOT_ENGINE_DAEMON_TRANSFER_TABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/daemon/events.h"
#include "engine/io/socket_address.h"

namespace rackboot::daemon {

struct TransferInfo {
  Transport transport = Transport::kTftp;
  io::SocketAddress client;
  std::string file;    // relative to the boot tree ("repo/..." for mirrors)
  uint64_t bytes = 0;  // acknowledged (TFTP) or handed to the kernel (HTTP)
  uint64_t size = 0;   // on the wire
  absl::Time started;
};

class TransferTable {
 public:
  // Live transfers listed at most (each shard's list is capped at its share
  // of it; a transfer past it runs unlisted: Begin returns null).
  static constexpr size_t kMaxListed = 1 << 20;

  class Slot {
   public:
    // The transfer's progress; any value, last one wins.
    void SetBytes(uint64_t bytes) {
      bytes_.store(bytes, std::memory_order_relaxed);
    }

   private:
    friend class TransferTable;
    explicit Slot(TransferInfo info) : info_(std::move(info)) {}
    const TransferInfo info_;
    std::atomic<uint64_t> bytes_{0};
    Slot* prev_ = nullptr;  // the shard's list, under its mutex
    Slot* next_ = nullptr;
  };

  explicit TransferTable(int shards);
  ~TransferTable();
  TransferTable(const TransferTable&) = delete;
  TransferTable& operator=(const TransferTable&) = delete;

  int shards() const { return static_cast<int>(shards_.size()); }

  // Lists a transfer; null when the shard's list is full (then End(null) is
  // a no-op, and so is SetBytes on nothing: callers check).
  Slot* Begin(int shard, Transport transport, const io::SocketAddress& client,
              std::string file, uint64_t size, absl::Time now);
  // Unlists and frees `slot` (null: nothing).
  void End(int shard, Slot* slot);

  // Any thread: every listed transfer, oldest first within a shard.
  std::vector<TransferInfo> Snapshot() const;
  // Any thread: how many are listed, per transport.
  size_t Active(Transport transport) const;

 private:
  struct alignas(64) Shard {
    mutable std::mutex mu;
    Slot* head = nullptr;  // oldest
    Slot* tail = nullptr;
    size_t count = 0;
    size_t by_transport[2] = {0, 0};
  };
  Shard& ShardFor(int shard) const;

  std::vector<std::unique_ptr<Shard>> shards_;
  size_t per_shard_cap_;
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_TRANSFER_TABLE_H_
