// Text for log lines that comes from clients (file names, host names, option
// strings, error messages): escaped so that it can never start a line of its
// own, forge a glog prefix or reach a terminal as an escape sequence, and cut
// to a bounded length.
//
//   LOG(INFO) << "tftp refused file=" <<
//   rackboot::log::Quoted(request.filename);
//   // tftp refused file="pxelinux.cfg/x\nE1130 forged" -> one line, \n shown
//
// Stateless; any thread.
#ifndef RACKBOOT_ENGINE_LOG_LOG_TEXT_H_
#define RACKBOOT_ENGINE_LOG_LOG_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace rackboot::log {

// The longest client text a log line shows; the rest is replaced by "...".
inline constexpr size_t kMaxLoggedText = 256;

// `text` with every byte outside printable ASCII (0x20-0x7e) written as \xNN,
// and with backslash and double quote escaped (\\ and \"); at most
// `max_bytes` bytes of `text` are shown, followed by "..." when it was longer.
// The result is printable ASCII only: no newline, carriage return, escape or
// NUL can survive.
std::string Escaped(absl::string_view text, size_t max_bytes = kMaxLoggedText);

// Escaped(text) in double quotes: "pxelinux.0", "a\x0ab".
std::string Quoted(absl::string_view text, size_t max_bytes = kMaxLoggedText);

}  // namespace rackboot::log

#endif  // RACKBOOT_ENGINE_LOG_LOG_TEXT_H_
