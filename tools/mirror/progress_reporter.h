// ProgressReporter: what `rackboot mirror` shows a person while it works. On a
// terminal a live bar redrawn in place (at most every 200 ms); otherwise (a
// log, a pipe) one line every 5 s:
//   rackboot-mirror: files 120/1000, 45.0/120.0 MiB, 12.3 MiB/s, ETA 6s, 0
//   failed, 2 retries
// The clock and the stream are injected so tests can drive it. Owned by
// main; called from the main thread only (the fetcher's progress callback
// runs there).
#ifndef RACKBOOT_TOOLS_MIRROR_PROGRESS_REPORTER_H_
#define RACKBOOT_TOOLS_MIRROR_PROGRESS_REPORTER_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "absl/time/time.h"

namespace rackboot::mirror {

struct ProgressSnapshot {
  int64_t files_total = 0, files_done = 0, files_failed = 0;
  int64_t bytes_total = 0, bytes_done = 0;
  int64_t retries = 0;
};

class ProgressReporter {
 public:
  // `terminal`: draw the live bar (isatty(2) in main). `clock` defaults to
  // absl::Now.
  ProgressReporter(std::FILE* out, bool terminal,
                   std::function<absl::Time()> clock = nullptr);

  // The current totals; prints when it is time to.
  void Update(const ProgressSnapshot& snapshot);
  // A log line (warnings, phases): on a terminal the bar is cleared first.
  void Note(const std::string& line);
  // Prints the final state once (a line; on a terminal, ends the bar).
  void Finish();

  // The status line without prefix decoration, for tests and the log mode.
  std::string FormatLine(const ProgressSnapshot& s, absl::Time now) const;

 private:
  std::FILE* out_;
  bool terminal_;
  std::function<absl::Time()> clock_;
  absl::Time start_;
  absl::Time last_print_ = absl::InfinitePast();
  ProgressSnapshot last_;
  bool any_ = false;
  bool bar_drawn_ = false;
};

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_PROGRESS_REPORTER_H_
