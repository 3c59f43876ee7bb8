#include "engine/daemon/transfer_table.h"

#include <algorithm>
#include <utility>

namespace rackboot::daemon {

TransferTable::TransferTable(int shards) {
  const int n = std::max(shards, 1);
  shards_.reserve(n);
  for (int i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
  per_shard_cap_ = std::max<size_t>(kMaxListed / n, 1);
}

TransferTable::~TransferTable() {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (Slot* slot = shard->head; slot != nullptr;) {
      Slot* next = slot->next_;
      delete slot;
      slot = next;
    }
    shard->head = shard->tail = nullptr;
  }
}

TransferTable::Shard& TransferTable::ShardFor(int shard) const {
  const size_t n = shards_.size();
  return *shards_[static_cast<size_t>(shard < 0 ? -shard : shard) % n];
}

TransferTable::Slot* TransferTable::Begin(int shard, Transport transport,
                                          const io::SocketAddress& client,
                                          std::string file, uint64_t size,
                                          absl::Time now) {
  Shard& s = ShardFor(shard);
  // Allocated outside the lock: readers only wait for the list links.
  Slot* slot =
      new Slot(TransferInfo{transport, client, std::move(file), 0, size, now});
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.count >= per_shard_cap_) {
    delete slot;
    return nullptr;
  }
  slot->prev_ = s.tail;
  if (s.tail != nullptr) {
    s.tail->next_ = slot;
  } else {
    s.head = slot;
  }
  s.tail = slot;
  ++s.count;
  ++s.by_transport[transport == Transport::kTftp ? 0 : 1];
  return slot;
}

void TransferTable::End(int shard, Slot* slot) {
  if (slot == nullptr) return;
  Shard& s = ShardFor(shard);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    (slot->prev_ != nullptr ? slot->prev_->next_ : s.head) = slot->next_;
    (slot->next_ != nullptr ? slot->next_->prev_ : s.tail) = slot->prev_;
    --s.count;
    --s.by_transport[slot->info_.transport == Transport::kTftp ? 0 : 1];
  }
  delete slot;
}

std::vector<TransferInfo> TransferTable::Snapshot() const {
  std::vector<TransferInfo> out;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    out.reserve(out.size() + shard->count);
    for (const Slot* slot = shard->head; slot != nullptr; slot = slot->next_) {
      TransferInfo info = slot->info_;
      info.bytes = slot->bytes_.load(std::memory_order_relaxed);
      out.push_back(std::move(info));
    }
  }
  return out;
}

size_t TransferTable::Active(Transport transport) const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->by_transport[transport == Transport::kTftp ? 0 : 1];
  }
  return total;
}

}  // namespace rackboot::daemon
