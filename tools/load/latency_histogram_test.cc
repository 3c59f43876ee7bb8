#include "tools/load/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot::load {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), absl::ZeroDuration());
  EXPECT_EQ(h.max(), absl::ZeroDuration());
  EXPECT_EQ(h.mean(), absl::ZeroDuration());
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int i = 1; i <= 4; ++i) h.RecordMicros(i * 10);
  EXPECT_EQ(h.Percentile(50), absl::Microseconds(20));
  EXPECT_EQ(h.Percentile(75), absl::Microseconds(30));
  EXPECT_EQ(h.Percentile(100), absl::Microseconds(40));
  EXPECT_EQ(h.Percentile(0), absl::Microseconds(10));
  EXPECT_EQ(h.min(), absl::Microseconds(10));
  EXPECT_EQ(h.mean(), absl::Microseconds(25));
}

TEST(LatencyHistogramTest, BucketsAreContiguousAndMonotonic) {
  // Every value maps into a bucket whose upper bound is at least the value,
  // and the previous bucket's bound is below it.
  std::vector<uint64_t> values = {
      0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 1'000'000, UINT64_MAX};
  for (int shift = 0; shift < 64; ++shift) {
    values.push_back(uint64_t{1} << shift);
    values.push_back((uint64_t{1} << shift) - 1);
  }
  for (uint64_t v : values) {
    const int b = LatencyHistogram::BucketOf(v);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, LatencyHistogram::kBuckets) << v;
    EXPECT_GE(LatencyHistogram::BucketUpperBound(b), v) << v;
    if (b > 0) {
      EXPECT_LT(LatencyHistogram::BucketUpperBound(b - 1), v) << v;
    }
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(UINT64_MAX),
            LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogramTest, PercentilesWithinThreePercent) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(9.0, 1.5);  // ~8 ms median
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.RecordMicros(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100 * values.size()));
    const double exact = static_cast<double>(values[rank - 1]);
    const double got = absl::ToDoubleMicroseconds(h.Percentile(p));
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(got, exact * 1.035 + 1) << p;
  }
  EXPECT_EQ(h.max(), absl::Microseconds(values.back()));
  EXPECT_EQ(h.Percentile(100), h.max());
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b, both;
  for (int i = 0; i < 1000; ++i) {
    a.RecordMicros(i);
    both.RecordMicros(i);
    b.RecordMicros(i * 1000);
    both.RecordMicros(i * 1000);
  }
  a.Merge(b);
  a.Merge(LatencyHistogram());
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.max(), both.max());
  EXPECT_EQ(a.min(), both.min());
  for (double p : {1.0, 50.0, 90.0, 99.0}) {
    EXPECT_EQ(a.Percentile(p), both.Percentile(p)) << p;
  }
  LatencyHistogram empty;
  empty.Merge(b);
  EXPECT_EQ(empty.min(), b.min());
}

TEST(LatencyHistogramTest, NegativeCountsAsZero) {
  LatencyHistogram h;
  h.Record(absl::Milliseconds(-3));
  h.Record(absl::Milliseconds(2));
  EXPECT_EQ(h.min(), absl::ZeroDuration());
  EXPECT_EQ(h.max(), absl::Milliseconds(2));
}

}  // namespace
}  // namespace rackboot::load
