#include "tools/load/http_download.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rackboot::load {
namespace {

constexpr size_t kMaxPath = 2048;

// tchar (RFC 9110 5.6.2).
bool IsTokenChar(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
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

// Field values and reason phrases: VCHAR, SP, HT, obs-text; no other CTL.
bool IsFieldText(absl::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

bool IsVisibleAscii(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// 1*DIGIT without sign or overflow.
bool ParseDecimal(absl::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

const char* HttpDownloadResultName(HttpDownloadResult result) {
  switch (result) {
    case HttpDownloadResult::kRunning:
      return "running";
    case HttpDownloadResult::kOk:
      return "ok";
    case HttpDownloadResult::kBadRequest:
      return "bad_request";
    case HttpDownloadResult::kConnectFailed:
      return "connect_failed";
    case HttpDownloadResult::kConnectTimeout:
      return "connect_timeout";
    case HttpDownloadResult::kFirstByteTimeout:
      return "first_byte_timeout";
    case HttpDownloadResult::kStalled:
      return "stalled";
    case HttpDownloadResult::kClosedBeforeResponse:
      return "closed_before_response";
    case HttpDownloadResult::kTruncated:
      return "truncated";
    case HttpDownloadResult::kHeadTooLarge:
      return "head_too_large";
    case HttpDownloadResult::kMalformed:
      return "malformed";
    case HttpDownloadResult::kBadStatus:
      return "bad_status";
    case HttpDownloadResult::kNoLength:
      return "no_length";
    case HttpDownloadResult::kChunked:
      return "chunked";
    case HttpDownloadResult::kSizeMismatch:
      return "size_mismatch";
    case HttpDownloadResult::kContentMismatch:
      return "content_mismatch";
    case HttpDownloadResult::kExtraBytes:
      return "extra_bytes";
  }
  return "unknown";
}

HttpDownload::HttpDownload(HttpDownloadOptions options, absl::Time now)
    : options_(std::move(options)) {
  stats_.started = now;
  const std::string& path = options_.path;
  if (path.empty() || path[0] != '/' || path.size() > kMaxPath ||
      !IsVisibleAscii(path)) {
    Finish(HttpDownloadResult::kBadRequest, now,
           "the path must be 1..2048 visible ASCII bytes starting with '/'");
    return;
  }
  if (options_.host.empty() || options_.host.size() > 255 ||
      !IsVisibleAscii(options_.host)) {
    Finish(HttpDownloadResult::kBadRequest, now, "bad Host value");
    return;
  }
  if (options_.connected) {
    stats_.connected = now;
    QueueRequest(now);
  } else {
    deadline_ = now + options_.connect_timeout;
  }
}

void HttpDownload::QueueRequest(absl::Time now) {
  request_ =
      absl::StrCat("GET ", options_.path, " HTTP/1.1\r\nHost: ", options_.host,
                   "\r\nUser-Agent: rackboot-load\r\nAccept: "
                   "*/*\r\nConnection: keep-alive\r\n\r\n");
  request_sent_ = 0;
  phase_ = Phase::kWaiting;
  deadline_ = now + options_.first_byte_timeout;
}

void HttpDownload::OnConnected(absl::Time now) {
  if (finished() || phase_ != Phase::kConnecting) return;
  stats_.connected = now;
  QueueRequest(now);
}

void HttpDownload::OnConnectFailed(absl::string_view reason, absl::Time now) {
  if (finished()) return;
  Finish(HttpDownloadResult::kConnectFailed, now, std::string(reason));
}

absl::Span<const uint8_t> HttpDownload::Transmit() const {
  if (finished() || request_sent_ >= request_.size()) return {};
  return absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(request_.data()) + request_sent_,
      request_.size() - request_sent_);
}

void HttpDownload::Sent(size_t n) {
  request_sent_ = std::min(request_.size(), request_sent_ + n);
}

absl::Time HttpDownload::Deadline() const {
  return finished() ? absl::InfiniteFuture() : deadline_;
}

void HttpDownload::OnBytes(absl::Span<const uint8_t> bytes, absl::Time now) {
  if (finished() || bytes.empty()) return;
  if (phase_ == Phase::kConnecting) {
    // Only a broken runner feeds bytes before the connect completed.
    Finish(HttpDownloadResult::kMalformed, now, "bytes before the connect");
    return;
  }
  if (phase_ == Phase::kWaiting) {
    stats_.first_byte = now;
    phase_ = Phase::kHead;
  }
  deadline_ = now + options_.stall_timeout;
  if (phase_ == Phase::kHead) {
    const size_t taken = TakeHead(bytes, now);
    bytes.remove_prefix(taken);
    if (finished() || phase_ != Phase::kBody) return;
  }
  TakeBody(bytes, now);  // also ends a Content-Length: 0 response
}

size_t HttpDownload::TakeHead(absl::Span<const uint8_t> bytes, absl::Time now) {
  // Byte by byte: at most max_head_bytes per response, and it finds a bare
  // CR or LF where it is, not when the limit runs out.
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (head_.size() >= options_.max_head_bytes) {
      Finish(HttpDownloadResult::kHeadTooLarge, now,
             absl::StrCat("response head over ", options_.max_head_bytes,
                          " bytes"));
      return i;
    }
    const char c = static_cast<char>(bytes[i]);
    const char prev = head_.empty() ? '\0' : head_.back();
    if (prev == '\r' && c != '\n') {
      Finish(HttpDownloadResult::kMalformed, now, "bare CR in the head");
      return i;
    }
    if (c == '\n' && prev != '\r') {
      Finish(HttpDownloadResult::kMalformed, now, "bare LF in the head");
      return i;
    }
    if (c == '\0') {
      Finish(HttpDownloadResult::kMalformed, now, "NUL in the head");
      return i;
    }
    head_.push_back(c);
    if (c == '\n' && head_.size() >= 4 && head_[head_.size() - 2] == '\r' &&
        head_[head_.size() - 3] == '\n') {
      ParseHead(now);
      return i + 1;
    }
  }
  return bytes.size();
}

void HttpDownload::ParseHead(absl::Time now) {
  stats_.head_bytes = head_.size();
  std::string head;
  head.swap(head_);  // released when this returns
  absl::string_view rest(head);
  rest.remove_suffix(4);  // the last field's CRLF and the empty line
  std::vector<absl::string_view> lines = absl::StrSplit(rest, "\r\n");
  // Status line (RFC 9112 4): HTTP-version SP 3DIGIT SP [reason].
  const absl::string_view status_line = lines[0];
  if (status_line.size() < 12 ||
      (!absl::StartsWith(status_line, "HTTP/1.1 ") &&
       !absl::StartsWith(status_line, "HTTP/1.0 ")) ||
      !absl::ascii_isdigit(status_line[9]) ||
      !absl::ascii_isdigit(status_line[10]) ||
      !absl::ascii_isdigit(status_line[11]) ||
      (status_line.size() > 12 && status_line[12] != ' ') ||
      !IsFieldText(status_line)) {
    Finish(HttpDownloadResult::kMalformed, now,
           absl::StrCat("bad status line '",
                        absl::CHexEscape(status_line.substr(0, 64)), "'"));
    return;
  }
  const bool http10 = status_line[7] == '0';
  stats_.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 +
                  (status_line[11] - '0');
  bool keep_alive_token = false, close_token = false, transfer_encoding = false;
  absl::optional<uint64_t> length;
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    if (line.empty() || line[0] == ' ' || line[0] == '\t') {
      Finish(HttpDownloadResult::kMalformed, now,
             "obs-fold or empty field line");
      return;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      Finish(HttpDownloadResult::kMalformed, now, "field line without a name");
      return;
    }
    const absl::string_view name = line.substr(0, colon);
    for (unsigned char c : name) {
      if (!IsTokenChar(c)) {
        // Also whitespace before the colon (RFC 9112 5.1: reject).
        Finish(HttpDownloadResult::kMalformed, now,
               absl::StrCat("bad field name '",
                            absl::CHexEscape(name.substr(0, 64)), "'"));
        return;
      }
    }
    const absl::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsFieldText(value)) {
      Finish(HttpDownloadResult::kMalformed, now, "control byte in a field");
      return;
    }
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      // A list ("5, 5") or repeated fields must agree (RFC 9110 8.6).
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        uint64_t n = 0;
        if (!ParseDecimal(TrimOws(part), &n) ||
            (length.has_value() && *length != n)) {
          Finish(HttpDownloadResult::kMalformed, now,
                 absl::StrCat("bad Content-Length '",
                              absl::CHexEscape(value.substr(0, 64)), "'"));
          return;
        }
        length = n;
      }
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      transfer_encoding = true;
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      for (absl::string_view token : absl::StrSplit(value, ',')) {
        token = TrimOws(token);
        if (absl::EqualsIgnoreCase(token, "close")) close_token = true;
        if (absl::EqualsIgnoreCase(token, "keep-alive")) {
          keep_alive_token = true;
        }
      }
    }
  }
  keep_ = !close_token && (!http10 || keep_alive_token);
  if (stats_.status != 200) {
    Finish(HttpDownloadResult::kBadStatus, now,
           absl::StrCat("status ", stats_.status));
    return;
  }
  if (transfer_encoding) {
    Finish(HttpDownloadResult::kChunked, now,
           "Transfer-Encoding (chunked) responses are not supported");
    return;
  }
  if (!length.has_value()) {
    Finish(HttpDownloadResult::kNoLength, now, "no Content-Length");
    return;
  }
  stats_.content_length = length;
  if (options_.expected_size.has_value() &&
      *options_.expected_size != *length) {
    Finish(HttpDownloadResult::kSizeMismatch, now,
           absl::StrCat("Content-Length ", *length, ", expected ",
                        *options_.expected_size));
    return;
  }
  phase_ = Phase::kBody;
}

void HttpDownload::TakeBody(absl::Span<const uint8_t> bytes, absl::Time now) {
  const uint64_t length = *stats_.content_length;
  const uint64_t want = length - stats_.bytes;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(want, bytes.size()));
  if (n > 0) {
    if (options_.verify &&
        !options_.verify(stats_.bytes, bytes.subspan(0, n))) {
      Finish(HttpDownloadResult::kContentMismatch, now,
             absl::StrCat("content differs within bytes ", stats_.bytes, "..",
                          stats_.bytes + n));
      return;
    }
    stats_.bytes += n;
  }
  if (bytes.size() > n) {
    Finish(HttpDownloadResult::kExtraBytes, now,
           absl::StrCat(bytes.size() - n, " bytes after the ", length,
                        "-byte body"));
    return;
  }
  if (stats_.bytes == length) Finish(HttpDownloadResult::kOk, now);
}

void HttpDownload::OnClosed(absl::string_view reason, absl::Time now) {
  if (finished()) return;
  const std::string why =
      reason.empty() ? "closed by the server" : std::string(reason);
  switch (phase_) {
    case Phase::kConnecting:
      Finish(HttpDownloadResult::kConnectFailed, now, why);
      return;
    case Phase::kWaiting:
      Finish(HttpDownloadResult::kClosedBeforeResponse, now, why);
      return;
    case Phase::kHead:
      Finish(HttpDownloadResult::kTruncated, now,
             absl::StrCat(why, " within the response head"));
      return;
    case Phase::kBody:
    case Phase::kDone:
      Finish(HttpDownloadResult::kTruncated, now,
             absl::StrCat(why, " after ", stats_.bytes, " of ",
                          stats_.content_length.value_or(0), " body bytes"));
      return;
  }
}

void HttpDownload::OnDeadline(absl::Time now) {
  if (finished() || now < deadline_) return;
  switch (phase_) {
    case Phase::kConnecting:
      Finish(HttpDownloadResult::kConnectTimeout, now,
             absl::StrCat("no connection within ",
                          absl::FormatDuration(options_.connect_timeout)));
      return;
    case Phase::kWaiting:
      Finish(HttpDownloadResult::kFirstByteTimeout, now,
             absl::StrCat("no response byte within ",
                          absl::FormatDuration(options_.first_byte_timeout)));
      return;
    case Phase::kHead:
    case Phase::kBody:
    case Phase::kDone:
      Finish(HttpDownloadResult::kStalled, now,
             absl::StrCat("no byte for ",
                          absl::FormatDuration(options_.stall_timeout),
                          " after ", stats_.bytes, " body bytes"));
      return;
  }
}

void HttpDownload::Finish(HttpDownloadResult result, absl::Time now,
                          std::string message) {
  result_ = result;
  phase_ = Phase::kDone;
  error_message_ = std::move(message);
  stats_.finished = now;
  deadline_ = absl::InfiniteFuture();
  std::string().swap(head_);
  std::string().swap(request_);
  request_sent_ = 0;
}

}  // namespace rackboot::load
