// LogRateLimiter: lets at most `burst` lines of one kind through per interval
// and counts the rest, so that a flood of bad datagrams costs a few log lines,
// not one each, and the next line that gets through says how many were
// dropped:
//
//   uint64_t suppressed = 0;
//   if (refused_log_.Allow(now, &suppressed)) {
//     LOG(INFO) << "tftp refused client=" << ... << SuppressedNote(suppressed);
//   }
//
// Periodic callers (the daemon's once-a-second loop) can also emit a summary
// with TakeSuppressed() when no further line of the kind arrives.
//
// Thread-safe and lock-free (relaxed atomics); under contention from several
// threads the burst is approximate, which is fine for logging. One instance per
// kind of line; owned by whoever writes that kind of line.
#ifndef RACKBOOT_ENGINE_LOG_LOG_RATE_LIMITER_H_
#define RACKBOOT_ENGINE_LOG_LOG_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace rackboot::log {

class LogRateLimiter {
 public:
  // REQUIRES: burst >= 1, interval > 0.
  explicit LogRateLimiter(uint32_t burst = 10,
                          absl::Duration interval = absl::Seconds(10));

  LogRateLimiter(const LogRateLimiter&) = delete;
  LogRateLimiter& operator=(const LogRateLimiter&) = delete;

  // Whether a line may be written at `now`. When it returns true, `*suppressed`
  // (if not null) is the number of lines refused since the last one allowed,
  // and that count restarts at zero.
  bool Allow(absl::Time now, uint64_t* suppressed = nullptr);

  // The lines refused since the last allowed line (or the last call), and
  // restarts that count.
  uint64_t TakeSuppressed();

 private:
  const uint32_t burst_;
  const int64_t interval_ns_;
  std::atomic<int64_t> window_start_ns_{INT64_MIN / 2};
  std::atomic<uint32_t> in_window_{0};
  std::atomic<uint64_t> suppressed_{0};
};

// " (N similar suppressed)" for N > 0, "" for 0: the tail of a rate-limited
// line.
std::string SuppressedNote(uint64_t suppressed);

}  // namespace rackboot::log

#endif  // RACKBOOT_ENGINE_LOG_LOG_RATE_LIMITER_H_
