// Install tokens in log lines: a request path or query that carries one
// (/install/<token>/<file>, ?token=<token>) is logged with the token cut to
// its first 6 characters and "…", so that whoever reads the daemon's log
// (journald, a log collector) cannot fetch an armed host's install files or
// post its reports. Applied to every line engine/http and engine/api write
// about a request (FormatReport, the API's write lines).
//
//   LOG(INFO) << RedactTokens(FormatReport(r));
//   // GET "/install/0123456789abcdef0123456789abcdef/ks.cfg" ->
//   // GET "/install/012345…/ks.cfg"
//
// Stateless; any thread.
#ifndef RACKBOOT_ENGINE_HTTP_LOG_REDACT_H_
#define RACKBOOT_ENGINE_HTTP_LOG_REDACT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace rackboot::http {

// Characters of a token a redacted line keeps.
inline constexpr size_t kTokenShownChars = 6;
// What replaces the rest (UTF-8 U+2026, the only non-ASCII bytes a log line
// of the daemon carries, and never client text).
inline constexpr absl::string_view kRedactedMark = "\xe2\x80\xa6";

// `text` with the token segments redacted:
//   - the path segment after "install/" or "install%2f" (any case, anywhere
//     in the text: a raw target, a decoded path, an error that quotes one),
//     up to the next '/', '?', '#', '&', '"', '\\', space or the end;
//     and, further down that path (to the next '"' or space), every run of
//     32 or more hex digits (a token repeated behind a dot segment);
//   - the value after "token=" (any case), up to the next '&', '#', '"',
//     '\\', space or the end.
// A segment or value of at most kTokenShownChars characters is left as is.
// Works on raw and on log::Escaped text alike (escaping keeps hex digits and
// starts every escape with '\\').
std::string RedactTokens(absl::string_view text);

// `text` with every run of 32 or more hexadecimal digits cut the same way:
// for messages that may name a token without a path around it (the install
// routes' and the installer reports' refusal reasons). Not for whole request
// lines: /repo/ paths carry SHA-256 names (by-hash) an operator wants to see.
std::string RedactHexRuns(absl::string_view text);

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_LOG_REDACT_H_
