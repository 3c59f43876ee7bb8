// One log record in the form systemd's journal reads from a service's stderr:
// "<N>message\n", N the syslog priority (journald strips the prefix and stores
// the priority; it adds the time, pid and unit itself, so glog's prefix would
// only repeat them). Each record is exactly one line, whatever the message
// holds: journald ends a record at a newline or a NUL, so an embedded one
// would forge a record of its own (with a priority of its choosing, since
// journald reads "<N>" at the start of every line). Control characters and
// bytes that are not UTF-8 are escaped, and a record is bounded in size.
//
//   std::string line;
//   rackboot::log::AppendJournalRecord(google::GLOG_WARNING, "disk 91% full",
//                                      &line);
//   // line == "<4>disk 91% full\n"
//
// Pure and stateless: any thread.
#ifndef RACKBOOT_ENGINE_LOG_JOURNAL_FORMAT_H_
#define RACKBOOT_ENGINE_LOG_JOURNAL_FORMAT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace rackboot::log {

// The longest record written, prefix and newline included. PIPE_BUF on Linux:
// one write(2) of a record to a pipe (or to journald's stream socket, where a
// write this small is one segment) never interleaves with another thread's,
// and journald's own line limit (LineMax=48K) never splits it.
inline constexpr size_t kMaxJournalRecord = 4096;

// The smallest max_bytes AppendJournalRecord honours (a prefix, the cut
// marker with a 20-digit size, the newline); smaller values count as this.
inline constexpr size_t kMinJournalRecord = 64;

// The syslog priority (RFC 5424 section 6.2.1) of a glog severity (0 INFO,
// 1 WARNING, 2 ERROR, 3 FATAL, as glog/log_severity.h numbers them):
// INFO 6 (informational), WARNING 4 (warning), ERROR 3 (error), FATAL 2
// (critical: the process aborts). Below 0 counts as INFO, above 3 as FATAL.
int SyslogPriority(int glog_severity);

// Appends "<N>" + the escaped message + "\n" to *out, at most `max_bytes`
// bytes in all (at least kMinJournalRecord). Escaping:
//   - newline, carriage return and tab as \n, \r, \t; every other byte below
//     0x20 (NUL included) and DEL as \xNN;
//   - bytes that do not form valid UTF-8 (RFC 3629: no overlong forms, no
//     surrogates, nothing above U+10FFFF), and the C1 controls U+0080-U+009F
//     (a terminal reads U+009B as an escape sequence's start), as \xNN per
//     byte; journald would store a message that is not UTF-8 as a blob that
//     journalctl shows as "[N bytes blob data]";
//   - everything else, backslash included, as is. The result is meant to be
//     read, not decoded: a literal "\n" in the message looks like an escaped
//     newline, and that forges nothing.
// A message whose escaped form does not fit is cut between characters (never
// inside an escape or a UTF-8 sequence) and ends with
// " ...[cut: message of N bytes]".
void AppendJournalRecord(int glog_severity, absl::string_view message,
                         std::string* out,
                         size_t max_bytes = kMaxJournalRecord);

// AppendJournalRecord into a new string.
std::string JournalRecord(int glog_severity, absl::string_view message,
                          size_t max_bytes = kMaxJournalRecord);

}  // namespace rackboot::log

#endif  // RACKBOOT_ENGINE_LOG_JOURNAL_FORMAT_H_
