#include "tools/load/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rackboot::load {

int LatencyHistogram::BucketOf(uint64_t micros) {
  if (micros < static_cast<uint64_t>(kLinearLimit)) {
    return static_cast<int>(micros);
  }
  // exponent >= kSubBucketBits + 1: the leading one bit's position.
  const int exponent = 63 - std::countl_zero(micros);
  const int shift = exponent - kSubBucketBits;
  const int sub =
      static_cast<int>((micros >> shift) & ((1 << kSubBucketBits) - 1));
  return kLinearLimit +
         (exponent - kSubBucketBits - 1) * (1 << kSubBucketBits) + sub;
}

uint64_t LatencyHistogram::BucketUpperBound(int bucket) {
  if (bucket < kLinearLimit) return static_cast<uint64_t>(bucket);
  const int octave = (bucket - kLinearLimit) >> kSubBucketBits;
  const int sub = (bucket - kLinearLimit) & ((1 << kSubBucketBits) - 1);
  const int exponent = octave + kSubBucketBits + 1;
  const int shift = exponent - kSubBucketBits;
  const uint64_t lower = (uint64_t{1} << exponent) | (uint64_t(sub) << shift);
  return lower + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t micros = absl::ToInt64Microseconds(latency);
  RecordMicros(micros < 0 ? 0 : static_cast<uint64_t>(micros));
}

void LatencyHistogram::RecordMicros(uint64_t micros) {
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  ++counts_[BucketOf(micros)];
  if (count_ == 0 || micros < min_) min_ = micros;
  if (micros > max_) max_ = micros;
  ++count_;
  sum_ += static_cast<double>(micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

absl::Duration LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return absl::ZeroDuration();
  percent = std::clamp(percent, 0.0, 100.0);
  // The rank of the value asked for, 1-based: p50 of 4 values is the 2nd.
  uint64_t rank = static_cast<uint64_t>(
      std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t bound = std::clamp(BucketUpperBound(i), min_, max_);
      return absl::Microseconds(bound);
    }
  }
  return max();
}

absl::Duration LatencyHistogram::mean() const {
  if (count_ == 0) return absl::ZeroDuration();
  return absl::Microseconds(sum_ / static_cast<double>(count_));
}

}  // namespace rackboot::load
