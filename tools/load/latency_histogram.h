// LatencyHistogram: a log-linear histogram of durations for `rackboot load`
// (DHCP DORA, each TFTP download, whole clients), with percentiles.
//
// Microsecond resolution. Values below 64 us have a bucket each; above, every
// power of two is split into 32 equal buckets, so a percentile is within about
// 3% of the exact value (the exact maximum is kept aside). Recording is O(1)
// and never allocates after the first call (one array of ~2,000 counters).
// A plain value owned by its user; not thread-safe (the load runner is one
// thread).
//
//   LatencyHistogram h;
//   h.Record(absl::Milliseconds(12));
//   h.Percentile(99);  // an absl::Duration; zero when empty
#ifndef RACKBOOT_TOOLS_LOAD_LATENCY_HISTOGRAM_H_
#define RACKBOOT_TOOLS_LOAD_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace rackboot::load {

class LatencyHistogram {
 public:
  // Negative durations (a clock that went backwards) count as zero.
  void Record(absl::Duration latency);
  void RecordMicros(uint64_t micros);
  // Adds every value of `other`.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // The smallest bucket bound with at least `percent` % of the values at or
  // below it, clamped to [min(), max()]. Zero when empty. percent in [0, 100].
  absl::Duration Percentile(double percent) const;
  absl::Duration min() const { return absl::Microseconds(min_); }
  absl::Duration max() const { return absl::Microseconds(max_); }
  absl::Duration mean() const;

  // The bucket layout, exposed for tests.
  static int BucketOf(uint64_t micros);
  static uint64_t BucketUpperBound(int bucket);  // largest value in it
  static constexpr int kSubBucketBits = 5;
  static constexpr int kLinearLimit = 2 << kSubBucketBits;  // 64
  static constexpr int kBuckets =
      kLinearLimit + (64 - kSubBucketBits - 1) * (1 << kSubBucketBits);

 private:
  std::vector<uint64_t> counts_;  // kBuckets once anything was recorded
  uint64_t count_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace rackboot::load

#endif  // RACKBOOT_TOOLS_LOAD_LATENCY_HISTOGRAM_H_
