#include "engine/log/log_format.h"

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/log/journal_format.h"

namespace rackboot::log {
namespace {

static_assert(google::GLOG_INFO == 0 && google::GLOG_WARNING == 1 &&
                  google::GLOG_ERROR == 2 && google::GLOG_FATAL == 3,
              "AppendJournalRecord numbers severities as glog does");

std::atomic<LogFormat> active_format{LogFormat::kGlog};

// Every record glog logs, as one journal line on stderr. glog calls send()
// with its log mutex held (one record at a time, from any thread that logs),
// so send() must not log; it writes the record with one write(2), which a
// record of at most PIPE_BUF bytes makes atomic against the LineWriter's
// direct writes to the same descriptor.
class JournalSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char* /*full_filename*/,
            const char* base_filename, int line,
            const google::LogMessageTime& /*time*/, const char* message,
            size_t message_len) override {
    thread_local std::string record;
    record.clear();
    absl::string_view text(message, message_len);
    if (severity >= google::GLOG_FATAL) {
      // A failed CHECK is a bug to report: where it is matters. Other
      // records speak for themselves, and journald has no use for a source
      // location read from stderr (CODE_FILE= needs the native protocol).
      thread_local std::string located;
      located = absl::StrCat(text, " [", base_filename, ":", line, "]");
      text = located;
    }
    AppendJournalRecord(severity, text, &record);
    absl::string_view rest = record;
    while (!rest.empty()) {
      const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a log that cannot be written is dropped
      rest.remove_prefix(static_cast<size_t>(n));
    }
  }
};

// A decimal number of digits only (SimpleAtoi would also take "+1", " 1").
bool ParseDecimal(absl::string_view text, uint64_t* value) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(text, value);
}

}  // namespace

bool IsJournalStream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  const absl::string_view value(journal_stream);
  const size_t colon = value.find(':');
  if (colon == absl::string_view::npos) return false;
  uint64_t dev, ino;
  if (!ParseDecimal(value.substr(0, colon), &dev) ||
      !ParseDecimal(value.substr(colon + 1), &ino)) {
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == dev &&
         static_cast<uint64_t>(st.st_ino) == ino;
}

absl::StatusOr<LogFormat> ChooseLogFormat(absl::string_view flag_value,
                                          const char* journal_stream, int fd) {
  if (flag_value == "glog") return LogFormat::kGlog;
  if (flag_value == "journal") return LogFormat::kJournal;
  if (flag_value == "auto") {
    return IsJournalStream(journal_stream, fd) ? LogFormat::kJournal
                                               : LogFormat::kGlog;
  }
  // The value is the operator's: bounded in the message.
  const size_t kShown = 64;
  return absl::InvalidArgumentError(absl::StrCat(
      "--log_format=", flag_value.substr(0, kShown),
      flag_value.size() > kShown ? "..." : "",
      ": use 'auto' (journal when stderr is systemd's journal), 'journal' or "
      "'glog'"));
}

bool LogFilesAsked() {
  if (FLAGS_log_dir.empty()) return false;
  gflags::CommandLineFlagInfo info;
  const bool given =
      gflags::GetCommandLineFlagInfo("log_dir", &info) && !info.is_default;
  return given || std::getenv("GOOGLE_LOG_DIR") != nullptr;
}

absl::Status SetUpLogging(absl::string_view flag_value) {
  absl::StatusOr<LogFormat> format =
      ChooseLogFormat(flag_value, std::getenv("JOURNAL_STREAM"), STDERR_FILENO);
  if (!format.ok()) return format.status();
  const bool files = LogFilesAsked();
  if (*format == LogFormat::kJournal) {
    // glog writes nothing to stderr or stdout itself; the sink does (sinks
    // get every record, whichever of glog's branches runs).
    FLAGS_logtostdout = false;
    FLAGS_logtostderr = false;
    FLAGS_alsologtostderr = false;
    FLAGS_stderrthreshold = google::NUM_SEVERITIES;
    static JournalSink* const sink = new JournalSink;  // outlives every logger
    google::AddLogSink(sink);
  } else if (files && FLAGS_logtostderr) {
    // glog writes files only when not --logtostderr; keep stderr whole.
    FLAGS_logtostderr = false;
    FLAGS_alsologtostderr = true;
  }
  if (!files) {
    // "" turns a severity's file off (glog: SetLogDestination), so that
    // --logtostderr=false alone cannot make glog write files to /tmp.
    for (int severity = 0; severity < google::NUM_SEVERITIES; ++severity) {
      google::SetLogDestination(severity, "");
    }
  }
  active_format.store(*format, std::memory_order_release);
  return absl::OkStatus();
}

LogFormat ActiveLogFormat() {
  return active_format.load(std::memory_order_acquire);
}

}  // namespace rackboot::log
