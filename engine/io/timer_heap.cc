#include "engine/io/timer_heap.h"

namespace rackboot::io::internal {

void TimerHeap::Place(size_t index, const Entry& entry) {
  heap_[index] = entry;
  position_[entry.key] = static_cast<int32_t>(index);
}

void TimerHeap::SiftUp(size_t index) {
  Entry entry = heap_[index];
  while (index > 0) {
    size_t parent = (index - 1) / 2;
    if (!Less(entry, heap_[parent])) break;
    Place(index, heap_[parent]);
    index = parent;
  }
  Place(index, entry);
}

void TimerHeap::SiftDown(size_t index) {
  Entry entry = heap_[index];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * index + 1;
    if (child >= n) break;
    if (child + 1 < n && Less(heap_[child + 1], heap_[child])) ++child;
    if (!Less(heap_[child], entry)) break;
    Place(index, heap_[child]);
    index = child;
  }
  Place(index, entry);
}

void TimerHeap::Set(uint32_t key, absl::Time deadline) {
  if (key >= position_.size()) position_.resize(key + 1, -1);
  Entry entry{deadline, next_sequence_++, key};
  int32_t at = position_[key];
  if (at >= 0) {
    heap_[at] = entry;
    SiftUp(at);
    SiftDown(position_[key]);
    return;
  }
  heap_.push_back(entry);
  SiftUp(heap_.size() - 1);
}

void TimerHeap::RemoveAt(size_t index) {
  position_[heap_[index].key] = -1;
  Entry last = heap_.back();
  heap_.pop_back();
  if (index == heap_.size()) return;
  Place(index, last);
  SiftUp(index);
  SiftDown(position_[last.key]);
}

void TimerHeap::Cancel(uint32_t key) {
  if (!Has(key)) return;
  RemoveAt(position_[key]);
}

TimerHeap::Entry TimerHeap::Pop() {
  Entry top = heap_.front();
  RemoveAt(0);
  return top;
}

}  // namespace rackboot::io::internal
