#include "engine/io/timer_heap.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot::io::internal {
namespace {

absl::Time Ms(int64_t ms) { return absl::UnixEpoch() + absl::Milliseconds(ms); }

TEST(TimerHeapTest, PopsInDeadlineThenSettingOrder) {
  TimerHeap heap;
  heap.Set(3, Ms(30));
  heap.Set(1, Ms(10));
  heap.Set(2, Ms(10));  // Same deadline as key 1, set later.
  heap.Set(7, Ms(5));
  EXPECT_EQ(heap.Earliest(), Ms(5));
  std::vector<uint32_t> order;
  while (!heap.empty()) order.push_back(heap.Pop().key);
  EXPECT_EQ(order, (std::vector<uint32_t>{7, 1, 2, 3}));
  EXPECT_EQ(heap.Earliest(), absl::InfiniteFuture());
}

TEST(TimerHeapTest, CancelAndMove) {
  TimerHeap heap;
  heap.Set(0, Ms(1));
  heap.Set(1, Ms(2));
  heap.Set(2, Ms(3));
  heap.Cancel(0);
  heap.Cancel(0);      // Twice: no effect.
  heap.Cancel(99);     // Never set.
  heap.Set(2, Ms(0));  // Move earlier.
  EXPECT_FALSE(heap.Has(0));
  EXPECT_EQ(heap.size(), 2u);
  EXPECT_EQ(heap.Pop().key, 2u);
  EXPECT_EQ(heap.Pop().key, 1u);
}

TEST(TimerHeapTest, MatchesSortedOrderUnderRandomOperations) {
  std::mt19937 random(42);
  TimerHeap heap;
  std::vector<int64_t> model(500, -1);
  for (int step = 0; step < 20000; ++step) {
    uint32_t key = random() % model.size();
    if (random() % 3 == 0) {
      heap.Cancel(key);
      model[key] = -1;
    } else {
      int64_t when = random() % 100000;
      heap.Set(key, Ms(when));
      model[key] = when;
    }
  }
  int64_t last = -1;
  size_t popped = 0;
  while (!heap.empty()) {
    TimerHeap::Entry e = heap.Pop();
    int64_t when = absl::ToInt64Milliseconds(e.deadline - absl::UnixEpoch());
    EXPECT_EQ(model[e.key], when);
    EXPECT_GE(when, last);
    last = when;
    model[e.key] = -1;
    ++popped;
  }
  EXPECT_EQ(std::count(model.begin(), model.end(), -1),
            static_cast<long>(model.size()));
  EXPECT_GT(popped, 0u);
}

}  // namespace
}  // namespace rackboot::io::internal
