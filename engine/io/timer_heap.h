// TimerHeap: at most one pending deadline per small integer key, ordered by
// (deadline, order of setting). Internal to the reactors; one thread only.
//
// An indexed binary min-heap: Set, Cancel and Pop are O(log n), Earliest is
// O(1), and the heap never holds a cancelled entry, so a cancelled timer cannot
// fire. Memory: 24 bytes per pending timer plus 4 bytes per key ever used.
#ifndef RACKBOOT_ENGINE_IO_TIMER_HEAP_H_
#define RACKBOOT_ENGINE_IO_TIMER_HEAP_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace rackboot::io::internal {

class TimerHeap {
 public:
  struct Entry {
    absl::Time deadline;
    uint64_t sequence;  // Order of Set() calls: ties fire in that order.
    uint32_t key;
  };

  // Sets (or moves) `key`'s deadline.
  void Set(uint32_t key, absl::Time deadline);
  // Removes `key`'s deadline if it has one.
  void Cancel(uint32_t key);
  bool Has(uint32_t key) const {
    return key < position_.size() && position_[key] >= 0;
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // REQUIRES: !empty().
  const Entry& Top() const { return heap_.front(); }
  // absl::InfiniteFuture() when empty.
  absl::Time Earliest() const {
    return heap_.empty() ? absl::InfiniteFuture() : heap_.front().deadline;
  }
  // Removes and returns the earliest entry. REQUIRES: !empty().
  Entry Pop();
  uint64_t next_sequence() const { return next_sequence_; }

 private:
  static bool Less(const Entry& a, const Entry& b) {
    return a.deadline < b.deadline ||
           (a.deadline == b.deadline && a.sequence < b.sequence);
  }
  void Place(size_t index, const Entry& entry);
  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void RemoveAt(size_t index);

  std::vector<Entry> heap_;
  std::vector<int32_t> position_;  // key -> index in heap_, or -1.
  uint64_t next_sequence_ = 0;
};

}  // namespace rackboot::io::internal

#endif  // RACKBOOT_ENGINE_IO_TIMER_HEAP_H_
