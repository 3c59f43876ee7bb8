#include "engine/log/log_rate_limiter.h"

#include "gtest/gtest.h"

namespace rackboot::log {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(LogRateLimiterTest, BurstThenSuppressedThenSummaryInNextWindow) {
  LogRateLimiter limiter(3, absl::Seconds(10));
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow(kStart + absl::Milliseconds(i), &suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 50'000; ++i) {
    EXPECT_FALSE(limiter.Allow(kStart + absl::Seconds(1)));
  }
  // The next window lets a line through and reports what was dropped.
  ASSERT_TRUE(limiter.Allow(kStart + absl::Seconds(10), &suppressed));
  EXPECT_EQ(suppressed, 50'000u);
  EXPECT_EQ(SuppressedNote(suppressed), " (50000 similar suppressed)");
  ASSERT_TRUE(limiter.Allow(kStart + absl::Seconds(11), &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogRateLimiterTest, TakeSuppressedForPeriodicSummary) {
  LogRateLimiter limiter(1, absl::Seconds(60));
  EXPECT_TRUE(limiter.Allow(kStart));
  EXPECT_FALSE(limiter.Allow(kStart));
  EXPECT_FALSE(limiter.Allow(kStart));
  EXPECT_EQ(limiter.TakeSuppressed(), 2u);
  EXPECT_EQ(limiter.TakeSuppressed(), 0u);
}

TEST(LogRateLimiterTest, NoteIsEmptyWhenNothingWasSuppressed) {
  EXPECT_EQ(SuppressedNote(0), "");
  EXPECT_EQ(SuppressedNote(1), " (1 similar suppressed)");
}

}  // namespace
}  // namespace rackboot::log
