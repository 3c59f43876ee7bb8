// LogFormat: how rackbootd's log records reach stderr, chosen once at startup
// by --log_format, and the glog set-up for it.
//   - kGlog: glog's own lines ("I1201 05:39:59.757714 20305 file.cc:176] x"),
//     as when a person runs the daemon in a terminal or a test reads its log.
//   - kJournal: "<N>message" lines for systemd's journal (engine/log/
//     journal_format.h): journald adds the time, pid and unit, and reads the
//     priority from "<N>", so `journalctl -p warning` works.
// "auto" picks kJournal when stderr is the journal: systemd sets
// JOURNAL_STREAM to "<device>:<inode>" of the stream it connected, and a
// process whose stderr has that device and inode writes to the journal
// (systemd.exec(5), "$JOURNAL_STREAM"). A child whose stderr was redirected
// elsewhere (a file, a pipe to a test) does not match and gets kGlog.
//
// Log files only when asked: --log_dir (glog's flag, on the command line, or
// glog's GOOGLE_LOG_DIR environment variable) makes glog write its files there
// (rackbootd.INFO, .WARNING, ... in glog's format) besides stderr; without it
// none is written anywhere (glog's default directory, /tmp, included).
//
//   google::InitGoogleLogging(argv[0]);
//   if (absl::Status s = rackboot::log::SetUpLogging(FLAGS_log_format);
//       !s.ok()) { ... exit 78 ... }
//
// SetUpLogging runs once on the main thread before any other thread logs;
// ActiveLogFormat and LogFilesAsked may then be called from any thread.
#ifndef RACKBOOT_ENGINE_LOG_LOG_FORMAT_H_
#define RACKBOOT_ENGINE_LOG_LOG_FORMAT_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::log {

enum class LogFormat { kGlog, kJournal };

// Whether `journal_stream` (JOURNAL_STREAM's value, or null when unset) names
// the stream open at `fd`: "<st_dev>:<st_ino>" in decimal, equal to fstat's.
// False for anything unset, malformed or different.
bool IsJournalStream(const char* journal_stream, int fd);

// The format `flag_value` asks for: "glog", "journal", or "auto" (journal iff
// IsJournalStream(journal_stream, fd)). Anything else: InvalidArgumentError
// naming --log_format and the values it takes.
absl::StatusOr<LogFormat> ChooseLogFormat(absl::string_view flag_value,
                                          const char* journal_stream, int fd);

// ChooseLogFormat(flag_value, getenv("JOURNAL_STREAM"), stderr), then sets
// glog up for it:
//   - kJournal: glog's own stderr output off (--logtostderr, --alsologtostderr,
//     --logtostdout off, --stderrthreshold above FATAL); a LogSink writes every
//     record glog logs (at or above --minloglevel) to stderr, one write(2)
//     per record; FATAL records name their source file:line.
//   - kGlog: glog as configured by its flags (rackbootd: --logtostderr).
//   - either: glog's log files on when LogFilesAsked() (for kGlog stderr keeps
//     every line, through --alsologtostderr), and off for every severity
//     otherwise.
// REQUIRES: google::InitGoogleLogging ran; called once, before other threads
// log. On error nothing is changed.
absl::Status SetUpLogging(absl::string_view flag_value);

// The format SetUpLogging chose (kGlog before it ran, and in tools that do not
// call it). Any thread.
LogFormat ActiveLogFormat();

// Whether glog writes log files: --log_dir given on the command line (or glog's
// GOOGLE_LOG_DIR set) and not empty. A --log_dir that glog took from
// TEST_TMPDIR (its default under `bazel test`) does not count. Any thread
// after flags are parsed.
bool LogFilesAsked();

}  // namespace rackboot::log

#endif  // RACKBOOT_ENGINE_LOG_LOG_FORMAT_H_
