// LineWriter: INFO log lines that a hot path writes often (a line per DHCP
// OFFER and ACK), formatted on the caller's thread into a shared buffer and
// written by a thread of its own in batches, instead of one glog LogMessage
// each. glog costs a line a global mutex, an ostream, a mktime() that stats
// /etc/localtime, and a write(2) on the caller's thread; here a line costs one
// uncontended mutex and an append, and the writer makes one write(2) per
// gather window (Options::gather) for every line queued meanwhile.
//
//   log::LineWriter lines;  // owned by the shard
//   if (FLAGS_minloglevel <= google::GLOG_INFO) {
//     lines.Info(__FILE__, __LINE__, absl::StrCat("dhcp DHCPACK ", ...));
//   }
//
// The lines take the format the daemon logs in (engine/log/log_format.h).
// With glog's they look exactly like glog's (`I20261201 05:39:59.757714 20305
// dhcp_shard.cc:176] text`, with the caller's time and thread id) and go where
// glog would put an INFO line: when glog writes to stderr only (rackbootd's
// default --logtostderr, with the prefix on), straight to fd 2 in whole-line
// chunks of at most PIPE_BUF bytes, so that a concurrent glog line never lands
// inside one of them (journald reads stderr through a pipe or a socket);
// otherwise (--log_dir, --logtostdout, --log_prefix=false) each line is handed
// to glog on the writer thread, which keeps the cost off the caller's thread.
// With the journal's they are INFO records, "<6>text" (journal_format.h),
// straight to fd 2 the same way, or through glog (and so its journal sink)
// when glog also writes log files (--log_dir). A line reaches the log at most
// one gather window (default 20 ms) after Info.
//
// The text is written as given: client-controlled parts must already be
// escaped (//engine/log:log_text) and the text must be one line.
//
// Thread-safe: Info and Flush may be called from any thread. The destructor
// writes everything queued, then stops the writer thread.
#ifndef RACKBOOT_ENGINE_LOG_LINE_WRITER_H_
#define RACKBOOT_ENGINE_LOG_LINE_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/log/log_format.h"

namespace rackboot::log {

class LineWriter {
 public:
  struct Options {
    // How long the writer gathers lines after the first one before it writes.
    absl::Duration gather = absl::Milliseconds(20);
    // Write the formatted lines to this descriptor (tests); unset: where glog
    // writes INFO lines, as the header comment says.
    absl::optional<int> fd;
    // The format of the lines; unset: ActiveLogFormat().
    absl::optional<LogFormat> format;
  };

  LineWriter() : LineWriter(Options()) {}
  explicit LineWriter(Options options);
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;
  ~LineWriter();

  // Queues the INFO line `text` as logged from `file`:`line` (glog shows the
  // file's base name) now, by the calling thread. `file` must outlive the
  // writer (__FILE__ does).
  void Info(const char* file, int line, absl::string_view text);

  // Blocks until every line queued before the call has been written.
  void Flush();

  // Whether lines go straight to a descriptor (true) or through glog.
  bool direct() const { return fd_ >= 0; }

  // Lines written so far (for tests and the benchmark). Any thread.
  uint64_t lines_written() const;

  // While this much text (or this many lines through glog) waits, counting
  // the batch the writer is writing as well as the lines queued behind it,
  // Info drops its line instead of queueing it; the next batch ends with a line
  // saying how many were dropped. A reader of stderr that stalls (a stuck
  // journald) then costs neither unbounded memory nor a blocked DHCP thread.
  static constexpr size_t kMaxPendingBytes = size_t{4} << 20;
  static constexpr size_t kMaxPendingLines = 32768;

 private:
  struct GlogLine {
    const char* file;
    int line;
    std::string text;
  };
  void WriterLoop();
  void WriteDirect(absl::string_view bytes);

  const absl::Duration gather_;
  const bool journal_;  // "<6>text" lines rather than glog's
  const int fd_;        // -1: through glog

  // A plain mutex and condition variables rather than absl::Mutex: an
  // absl::Mutex with a waiter re-evaluates the waiter's condition on every
  // unlock, which Info would pay per line. Everything below is guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable wake_writer_;  // first line while idle, Flush, stop
  std::condition_variable written_cv_;   // a batch was written (Flush waits)
  std::string pending_;                  // direct: whole lines
  std::vector<GlogLine> pending_glog_;   // through glog
  uint64_t queued_ = 0;                  // lines queued so far
  uint64_t written_ = 0;                 // lines written so far
  uint64_t dropped_ = 0;                 // lines dropped since the last batch
  size_t writing_bytes_ = 0;  // the batch being written, out of pending_
  size_t writing_lines_ = 0;  // and out of pending_glog_
  bool idle_ = false;  // the writer waits for a first line: Info wakes it
  bool flush_now_ = false;
  bool stop_ = false;

  std::thread writer_;  // last: started once the fields above exist
};

}  // namespace rackboot::log

#endif  // RACKBOOT_ENGINE_LOG_LINE_WRITER_H_
