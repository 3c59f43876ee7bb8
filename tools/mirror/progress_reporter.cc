#include "tools/mirror/progress_reporter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace rackboot::mirror {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string Eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  int64_t s = static_cast<int64_t>(std::ceil(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60, "s");
  return absl::StrCat(s / 3600, "h", (s % 3600) / 60, "m");
}

}  // namespace

ProgressReporter::ProgressReporter(std::FILE* out, bool terminal,
                                   std::function<absl::Time()> clock)
    : out_(out), terminal_(terminal), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return absl::Now(); };
  start_ = clock_();
}

std::string ProgressReporter::FormatLine(const ProgressSnapshot& s,
                                         absl::Time now) const {
  const double elapsed = absl::ToDoubleSeconds(now - start_);
  const double rate = elapsed > 0 ? s.bytes_done / elapsed : 0.0;
  // Files of unknown size (InRelease, a directory entry that grew) add to the
  // bytes done but not to the known total: never show done above total.
  const int64_t total = std::max(s.bytes_total, s.bytes_done);
  const int64_t left = total - s.bytes_done;
  std::string eta = left == 0 ? "0s" : (rate > 0 ? Eta(left / rate) : "?");
  return absl::StrFormat(
      "files %d/%d, %.1f/%.1f MiB, %.1f MiB/s, ETA %s, %d failed, %d retries",
      s.files_done, s.files_total, s.bytes_done / kMiB, total / kMiB,
      rate / kMiB, eta, s.files_failed, s.retries);
}

void ProgressReporter::Update(const ProgressSnapshot& snapshot) {
  last_ = snapshot;
  any_ = true;
  const absl::Time now = clock_();
  const absl::Duration every =
      terminal_ ? absl::Milliseconds(200) : absl::Seconds(5);
  if (now - last_print_ < every) return;
  // The first log line comes 5 s in, not at once: short runs stay quiet.
  if (!terminal_ && last_print_ == absl::InfinitePast() &&
      now - start_ < every) {
    return;
  }
  last_print_ = now;
  const std::string line = FormatLine(snapshot, now);
  if (terminal_) {
    constexpr int kWidth = 24;
    const double frac =
        snapshot.bytes_total > 0
            ? std::min(1.0, static_cast<double>(snapshot.bytes_done) /
                                snapshot.bytes_total)
            : (snapshot.files_total > 0
                   ? static_cast<double>(snapshot.files_done) /
                         snapshot.files_total
                   : 0.0);
    const int fill = static_cast<int>(frac * kWidth);
    std::string bar(fill, '#');
    bar.append(kWidth - fill, '.');
    std::fprintf(out_, "\r[%s] %3d%% %s\x1b[K", bar.c_str(),
                 static_cast<int>(frac * 100), line.c_str());
    bar_drawn_ = true;
  } else {
    std::fprintf(out_, "rackboot-mirror: %s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressReporter::Note(const std::string& line) {
  if (terminal_ && bar_drawn_) std::fputs("\r\x1b[K", out_);
  std::fprintf(out_, "rackboot-mirror: %s\n", line.c_str());
  if (terminal_ && bar_drawn_) last_print_ = absl::InfinitePast();
  std::fflush(out_);
}

void ProgressReporter::Finish() {
  if (!any_) return;
  if (terminal_ && bar_drawn_) std::fputs("\r\x1b[K", out_);
  std::fprintf(out_, "rackboot-mirror: %s\n",
               FormatLine(last_, clock_()).c_str());
  std::fflush(out_);
  any_ = false;
  bar_drawn_ = false;
}

}  // namespace rackboot::mirror
