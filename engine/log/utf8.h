// UTF-8 well-formedness (RFC 3629 section 4), shared by everything that must
// tell text from bytes a client made up: the journal formatter escapes what is
// not UTF-8, the HTTP router refuses a decoded path that is not (an overlong
// %c0%af is a '/' to some decoders). Pure functions; any thread.
#ifndef RACKBOOT_ENGINE_LOG_UTF8_H_
#define RACKBOOT_ENGINE_LOG_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace rackboot::log {

// Length (2-4) of the well-formed multi-byte UTF-8 sequence at the start of
// `s`, or 0 when there is none: an ASCII or stray continuation byte, a
// truncated sequence, an overlong form, a surrogate (U+D800-U+DFFF) or a code
// point above U+10FFFF. Callers handle ASCII themselves (it is the fast path).
size_t Utf8SequenceLength(absl::string_view s);

// True when all of `s` is well-formed UTF-8 (ASCII included; empty is).
bool IsWellFormedUtf8(absl::string_view s);

}  // namespace rackboot::log

#endif  // RACKBOOT_ENGINE_LOG_UTF8_H_
