// HttpPrefilter: checks the bytes of a request head before llhttp sees them.
//
// llhttp 8.1.0 (Debian's node-llhttp) predates the fixes for request
// smuggling through bare CR and header folding (CVE-2023-30589,
// CVE-2024-27982) and is lenient in a few more places. Rather than patch
// generated code, every request head goes through this filter first, which
// is strict where RFC 9112 lets a server be (each rule cites its section):
//
//   - lines end in CRLF; a bare CR or a bare LF is refused (section 2.2)
//   - a field line starting with SP or HTAB (obs-fold, or whitespace between
//     the request line and the first field) is refused (sections 2.2, 5.2)
//   - NUL and other control characters but HTAB anywhere in the head are
//     refused (RFC 9110 section 5.5)
//   - the request line is exactly method SP target SP version (section 3)
//   - a field name is a token, with no whitespace before the colon (5.1)
//   - Content-Length is 1*DIGIT, at most once; Transfer-Encoding at most
//     once and only "chunked" (else 501); never both (sections 6.1, 6.3)
//   - Host at most once, and a plausible host[:port] (section 3.2)
//   - size limits: request line (414), whole head and field count (431)
//
// It works incrementally on the byte stream: Scan may be called with any
// split of the head and stops at the blank line that ends it, so the body and
// the next pipelined request are never scanned as head. One per connection,
// Reset between requests; one thread.
//
//   HttpPrefilter filter(limits);
//   size_t used;
//   switch (filter.Scan(bytes, &used)) {
//     case HttpPrefilter::Result::kNeedMore:  // all of bytes belong to the
//     head case HttpPrefilter::Result::kComplete:  // the head is bytes[0,
//     used) and
//                                             // what earlier calls consumed
//     case HttpPrefilter::Result::kReject:    // answer filter.status()
//   }
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_PREFILTER_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_PREFILTER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace rackboot::http {

struct HttpPrefilterLimits {
  size_t max_head_bytes = 8 * 1024;    // request line + fields + CRLFs
  size_t max_request_line = 4 * 1024;  // without its CRLF
  size_t max_header_fields = 64;
};

class HttpPrefilter {
 public:
  enum class Result { kNeedMore, kComplete, kReject };

  explicit HttpPrefilter(const HttpPrefilterLimits& limits) : limits_(limits) {}

  // Scans the next bytes of the head. *used is how many belong to it: all of
  // them for kNeedMore, through the final CRLF for kComplete. After kComplete
  // or kReject, Scan returns the same result until Reset.
  Result Scan(absl::Span<const uint8_t> bytes, size_t* used);

  // Starts a new request head.
  void Reset();

  // After kReject: the status to answer (400, 414, 431 or 501) and why.
  int status() const { return status_; }
  const std::string& reason() const { return reason_; }

  // What the head said, valid after kComplete.
  size_t head_bytes() const { return head_bytes_; }
  const absl::optional<uint64_t>& content_length() const {
    return content_length_;
  }
  bool chunked() const { return chunked_; }
  int host_fields() const { return host_fields_; }
  // Bytes of CRLF before the request line (RFC 9112 section 2.2 lets a server
  // ignore them; they count towards the head size).
  size_t leading_empty_lines() const { return leading_empty_lines_; }

 private:
  Result Reject(int status, std::string reason);
  bool EndLine();  // false after Reject

  const HttpPrefilterLimits limits_;
  Result result_ = Result::kNeedMore;
  int status_ = 0;
  std::string reason_;

  size_t head_bytes_ = 0;
  bool prev_cr_ = false;
  bool seen_request_line_ = false;
  std::string line_;  // the current line, without CRLF
  size_t fields_ = 0;
  absl::optional<uint64_t> content_length_;
  bool transfer_encoding_ = false;
  bool chunked_ = false;
  int host_fields_ = 0;
  size_t leading_empty_lines_ = 0;
};

// RFC 9110 section 5.6.2: `c` may appear in a token (a method, a field
// name): ALPHA, DIGIT or one of !#$%&'*+-.^_`|~. The one table the
// prefilter and HttpConnection's check of route fields share.
bool IsTokenChar(char c);

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_PREFILTER_H_
