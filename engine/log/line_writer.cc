#include "engine/log/line_writer.h"

#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/log/journal_format.h"
#include "glog/logging.h"

namespace rackboot::log {
namespace {

// The caller thread's glog prefix up to the seconds, rebuilt when the second
// changes (localtime_r once a second instead of glog's mktime per line).
struct PrefixCache {
  int64_t second = INT64_MIN;
  char head[32];  // "I20261201 05:39:59."
  size_t head_len = 0;
  char tid[16];  // " 20305 " (glog: at least five wide)
  size_t tid_len = 0;
};

thread_local PrefixCache prefix_cache;

void AppendPrefix(std::string* out, const char* file, int line) {
  PrefixCache& c = prefix_cache;
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (now.tv_sec != c.second) {
    c.second = now.tv_sec;
    const time_t t = now.tv_sec;
    tm local;
    localtime_r(&t, &local);
    const int n =
        FLAGS_log_year_in_prefix
            ? std::snprintf(
                  c.head, sizeof(c.head), "I%04d%02d%02d %02d:%02d:%02d.",
                  1900 + local.tm_year, 1 + local.tm_mon, local.tm_mday,
                  local.tm_hour, local.tm_min, local.tm_sec)
            : std::snprintf(c.head, sizeof(c.head), "I%02d%02d %02d:%02d:%02d.",
                            1 + local.tm_mon, local.tm_mday, local.tm_hour,
                            local.tm_min, local.tm_sec);
    c.head_len = static_cast<size_t>(n);
  }
  if (c.tid_len == 0) {
    c.tid_len = static_cast<size_t>(
        std::snprintf(c.tid, sizeof(c.tid), " %5u ",
                      static_cast<unsigned>(syscall(SYS_gettid))));
  }
  char micros[6];
  uint32_t us = static_cast<uint32_t>(now.tv_nsec / 1000);
  for (int i = 5; i >= 0; --i, us /= 10)
    micros[i] = static_cast<char>('0' + us % 10);
  const char* base = std::strrchr(file, '/');
  base = base == nullptr ? file : base + 1;
  absl::StrAppend(out, absl::string_view(c.head, c.head_len),
                  absl::string_view(micros, sizeof(micros)),
                  absl::string_view(c.tid, c.tid_len), base, ":", line, "] ");
}

// Where an INFO line goes when written directly (-1: through glog). glog's
// format: fd 2 when glog writes there alone, with its prefix. The journal's:
// fd 2 unless glog also writes files, which should hold the line too.
int DirectFd(bool journal) {
  if (journal) return LogFilesAsked() ? -1 : STDERR_FILENO;
  if (FLAGS_logtostderr && !FLAGS_logtostdout && FLAGS_log_prefix) {
    return STDERR_FILENO;
  }
  return -1;
}

}  // namespace

LineWriter::LineWriter(Options options)
    : gather_(options.gather),
      journal_(options.format.value_or(ActiveLogFormat()) ==
               LogFormat::kJournal),
      fd_(options.fd.has_value() ? *options.fd : DirectFd(journal_)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

LineWriter::~LineWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_writer_.notify_one();
  writer_.join();
}

void LineWriter::Info(const char* file, int line, absl::string_view text) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() + writing_bytes_ >= kMaxPendingBytes ||
        pending_glog_.size() + writing_lines_ >= kMaxPendingLines) {
      // The log does not drain (a stalled reader of stderr): drop rather
      // than grow without bound or block the caller, and say so later.
      ++dropped_;
      return;
    }
    if (fd_ >= 0 && journal_) {
      AppendJournalRecord(google::GLOG_INFO, text, &pending_);
    } else if (fd_ >= 0) {
      AppendPrefix(&pending_, file, line);
      absl::StrAppend(&pending_, text, "\n");
    } else {
      pending_glog_.push_back({file, line, std::string(text)});
    }
    ++queued_;
    // Only the first line of a batch wakes the writer; the rest join it.
    wake = idle_;
    idle_ = false;
  }
  if (wake) wake_writer_.notify_one();
}

void LineWriter::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = queued_;
  if (written_ >= target) return;
  flush_now_ = true;
  wake_writer_.notify_one();
  written_cv_.wait(lock, [this, target] { return written_ >= target; });
}

uint64_t LineWriter::lines_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

void LineWriter::WriteDirect(absl::string_view bytes) {
  // Whole lines, at most PIPE_BUF bytes per write where a line allows: a
  // write of at most PIPE_BUF bytes to a pipe is atomic, so glog's own lines
  // from other threads fall between ours, never inside one.
  while (!bytes.empty()) {
    size_t take = bytes.size();
    if (take > PIPE_BUF) {
      const size_t cut = bytes.substr(0, PIPE_BUF).rfind('\n');
      take = cut != absl::string_view::npos ? cut + 1 : bytes.find('\n') + 1;
      if (take == 0) take = bytes.size();  // no newline: cannot happen
    }
    absl::string_view chunk = bytes.substr(0, take);
    while (!chunk.empty()) {
      const ssize_t n = ::write(fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a log that cannot be written is dropped
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    bytes.remove_prefix(take);
  }
}

void LineWriter::WriterLoop() {
  std::string writing;
  std::vector<GlogLine> writing_glog;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (!stop_ && !flush_now_ && queued_ == written_) {
      idle_ = true;
      wake_writer_.wait(lock);
    }
    idle_ = false;
    if (queued_ == written_) {
      flush_now_ = false;
      if (stop_) break;
      continue;
    }
    if (!stop_ && !flush_now_) {
      // Gather: every line queued in the window shares this write. Info does
      // not wake the writer meanwhile (idle_ is false).
      wake_writer_.wait_for(lock, absl::ToChronoNanoseconds(gather_),
                            [this] { return stop_ || flush_now_; });
    }
    flush_now_ = false;
    writing.swap(pending_);
    writing_glog.swap(pending_glog_);
    // Still counted against the cap until written: a writer blocked on a
    // stalled reader must not let another full cap queue up behind it.
    writing_bytes_ = writing.size();
    writing_lines_ = writing_glog.size();
    const uint64_t upto = queued_;
    const uint64_t dropped = dropped_;
    dropped_ = 0;
    lock.unlock();
    if (dropped > 0) {
      const std::string note =
          absl::StrCat(dropped,
                       " log lines dropped: the log output did not keep up "
                       "(more than 4 MiB waiting)");
      if (fd_ >= 0 && journal_) {
        AppendJournalRecord(google::GLOG_WARNING, note, &writing);
      } else if (fd_ >= 0) {
        AppendPrefix(&writing, __FILE__, __LINE__);
        absl::StrAppend(&writing, note, "\n");
      } else {
        LOG(WARNING) << note;
      }
    }
    if (!writing.empty()) WriteDirect(writing);
    for (const GlogLine& l : writing_glog) {
      google::LogMessage(l.file, l.line, google::GLOG_INFO).stream() << l.text;
    }
    writing.clear();
    writing_glog.clear();
    lock.lock();
    writing_bytes_ = 0;
    writing_lines_ = 0;
    written_ = upto;
    written_cv_.notify_all();
  }
}

}  // namespace rackboot::log
