#include "engine/http/http_prefilter.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rackboot::http {
namespace {

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

void HttpPrefilter::Reset() {
  result_ = Result::kNeedMore;
  status_ = 0;
  reason_.clear();
  head_bytes_ = 0;
  prev_cr_ = false;
  seen_request_line_ = false;
  line_.clear();
  // A long field line of one request is no reason to keep its buffer on an
  // idle connection.
  if (line_.capacity() > 256) line_.shrink_to_fit();
  fields_ = 0;
  content_length_.reset();
  transfer_encoding_ = false;
  chunked_ = false;
  host_fields_ = 0;
  leading_empty_lines_ = 0;
}

HttpPrefilter::Result HttpPrefilter::Reject(int status, std::string reason) {
  result_ = Result::kReject;
  status_ = status;
  reason_ = std::move(reason);
  return result_;
}

HttpPrefilter::Result HttpPrefilter::Scan(absl::Span<const uint8_t> bytes,
                                          size_t* used) {
  *used = 0;
  if (result_ != Result::kNeedMore) return result_;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const uint8_t c = bytes[i];
    ++head_bytes_;
    *used = i + 1;
    if (head_bytes_ > limits_.max_head_bytes &&
        (seen_request_line_ || line_.size() < limits_.max_request_line)) {
      return Reject(431, "request head too large");
    }
    if (prev_cr_) {
      // RFC 9112 section 2.2: a bare CR must be treated as invalid (llhttp
      // 8.1 takes it as a line end: CVE-2023-30589).
      if (c != '\n') return Reject(400, "bare CR in the request head");
      prev_cr_ = false;
      if (line_.empty()) {
        if (!seen_request_line_) {
          // RFC 9112 section 2.2: empty lines before the request line may be
          // ignored; they still count towards the head size.
          ++leading_empty_lines_;
          continue;
        }
        result_ = Result::kComplete;
        return result_;
      }
      if (!EndLine()) return result_;
      continue;
    }
    if (c == '\r') {
      prev_cr_ = true;
      continue;
    }
    // RFC 9112 section 2.2 lets a recipient accept a bare LF as a line end;
    // proxies in front of us may not, so it is refused.
    if (c == '\n') return Reject(400, "bare LF in the request head");
    // RFC 9110 section 5.5: NUL (and CR, LF) in a field are invalid and
    // dangerous; other controls have no business in a request head either.
    if (c == 0) return Reject(400, "NUL in the request head");
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return Reject(400, "control character in the request head");
    }
    if (line_.empty() && (c == ' ' || c == '\t')) {
      // RFC 9112 section 5.2: obs-fold must be rejected (or replaced) by a
      // server; section 2.2: whitespace before the first field line too.
      // llhttp 8.1 joins folded lines (CVE-2024-27982 territory).
      return Reject(400, seen_request_line_
                             ? "obs-fold (field line starting with whitespace)"
                             : "whitespace before the request line");
    }
    if (!seen_request_line_ && line_.size() >= limits_.max_request_line) {
      return Reject(414, "request line too long");
    }
    line_.push_back(static_cast<char>(c));
  }
  return result_;
}

bool HttpPrefilter::EndLine() {
  const absl::string_view line = line_;
  if (!seen_request_line_) {
    seen_request_line_ = true;
    // RFC 9112 section 3: request-line = method SP request-target SP
    // HTTP-version. Recipients MAY split on other whitespace; we do not.
    const size_t sp1 = line.find(' ');
    const size_t sp2 =
        sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == absl::string_view::npos || sp2 == sp1 + 1 ||
        sp2 + 1 == line.size() ||
        line.find(' ', sp2 + 1) != absl::string_view::npos ||
        line.find('\t') != absl::string_view::npos) {
      Reject(400, "malformed request line");
      return false;
    }
    for (char ch : line.substr(0, sp1)) {
      if (!IsTokenChar(ch)) {
        Reject(400, "malformed method");
        return false;
      }
    }
    line_.clear();
    return true;
  }
  if (++fields_ > limits_.max_header_fields) {
    Reject(431, "too many header fields");
    return false;
  }
  // RFC 9112 section 5.1: field-name ":" OWS field-value OWS, and no
  // whitespace between the name and the colon (a server MUST reject that).
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) {
    Reject(400, "malformed field line");
    return false;
  }
  const absl::string_view name = line.substr(0, colon);
  for (char ch : name) {
    if (!IsTokenChar(ch)) {
      Reject(400, "malformed field name");
      return false;
    }
  }
  const absl::string_view value = TrimOws(line.substr(colon + 1));
  if (absl::EqualsIgnoreCase(name, "content-length")) {
    // RFC 9112 section 6.3 (4, 5): CL with TE, or an invalid CL (a list, two
    // lines, a sign), is unrecoverable framing. llhttp 8.1 takes "1, 1".
    if (content_length_.has_value()) {
      Reject(400, "repeated Content-Length");
      return false;
    }
    if (transfer_encoding_) {
      Reject(400, "both Transfer-Encoding and Content-Length");
      return false;
    }
    uint64_t n = 0;
    if (value.empty() || value.size() > 18 ||
        value.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(value, &n)) {
      Reject(400, "invalid Content-Length");
      return false;
    }
    content_length_ = n;
  } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
    // RFC 9112 section 6.1: a server that does not understand a transfer
    // coding SHOULD answer 501; section 6.3 (3): with Content-Length too,
    // the message must be handled as an error.
    if (transfer_encoding_) {
      Reject(400, "repeated Transfer-Encoding");
      return false;
    }
    if (content_length_.has_value()) {
      Reject(400, "both Content-Length and Transfer-Encoding");
      return false;
    }
    transfer_encoding_ = true;
    if (!absl::EqualsIgnoreCase(value, "chunked")) {
      Reject(501, "unsupported Transfer-Encoding");
      return false;
    }
    chunked_ = true;
  } else if (absl::EqualsIgnoreCase(name, "host")) {
    // RFC 9112 section 3.2: more than one Host field line is a 400.
    if (++host_fields_ > 1) {
      Reject(400, "repeated Host");
      return false;
    }
    // Section 3.2 too: an invalid Host value is a 400. uri-host [":" port]
    // (RFC 3986 section 3.2.2) has no whitespace, '/', '?', '#', '@' or '\'.
    if (value.find_first_of(" \t/?#@\\") != absl::string_view::npos) {
      Reject(400, "invalid Host");
      return false;
    }
  }
  line_.clear();
  return true;
}

}  // namespace rackboot::http
