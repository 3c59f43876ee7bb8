#include "engine/log/log_rate_limiter.h"

#include "absl/strings/str_cat.h"

namespace rackboot::log {

LogRateLimiter::LogRateLimiter(uint32_t burst, absl::Duration interval)
    : burst_(burst < 1 ? 1 : burst),
      interval_ns_(interval <= absl::ZeroDuration()
                       ? 1
                       : absl::ToInt64Nanoseconds(interval)) {}

bool LogRateLimiter::Allow(absl::Time now, uint64_t* suppressed) {
  const int64_t now_ns = absl::ToUnixNanos(now);
  int64_t start = window_start_ns_.load(std::memory_order_relaxed);
  if (now_ns - start >= interval_ns_ &&
      window_start_ns_.compare_exchange_strong(start, now_ns,
                                               std::memory_order_relaxed)) {
    in_window_.store(0, std::memory_order_relaxed);
  }
  if (in_window_.fetch_add(1, std::memory_order_relaxed) < burst_) {
    const uint64_t dropped = suppressed_.exchange(0, std::memory_order_relaxed);
    if (suppressed != nullptr) *suppressed = dropped;
    return true;
  }
  // Keep the in-window count from wrapping under a long flood.
  in_window_.store(burst_, std::memory_order_relaxed);
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

uint64_t LogRateLimiter::TakeSuppressed() {
  return suppressed_.exchange(0, std::memory_order_relaxed);
}

std::string SuppressedNote(uint64_t suppressed) {
  if (suppressed == 0) return "";
  return absl::StrCat(" (", suppressed, " similar suppressed)");
}

}  // namespace rackboot::log
