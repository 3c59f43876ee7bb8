#include "engine/http/http_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/http/log_redact.h"
#include "engine/log/log_text.h"
#include "llhttp/llhttp.h"

namespace rackboot::http {

struct HttpConnection::Parsed {
  std::string method;  // as received
  llhttp_method_t method_id = HTTP_GET;
  std::string target;  // as received
  int major = 1;
  int minor = 1;
  bool close = false;  // Connection: close (or HTTP/1.0 without
                       // keep-alive)
  int host_fields = 0;
  int range_fields = 0;
  std::string range;
  std::string if_none_match;  // several fields joined by ", "
  bool has_if_none_match = false;
  absl::optional<std::string> if_modified_since;
  absl::optional<std::string> if_range;
  absl::optional<uint64_t> content_length;
  bool chunked = false;
  // For the route (HttpRequest).
  std::string authorization;
  int authorization_fields = 0;
  std::string content_type;
  std::string last_event_id;
};

namespace {

constexpr absl::string_view kHttpDate = "%a, %d %b %Y %H:%M:%S GMT";

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return status < 300 ? "OK" : status < 400 ? "Redirect" : "Error";
  }
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

// RFC 9110 section 5.6.2: a field name is a token.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// RFC 9110 section 5.5: field-vchar, SP and HTAB (obs-text bytes allowed);
// never CR, LF, NUL or another control character, so a value cannot end
// the field or the head (response splitting).
bool IsFieldValue(absl::string_view s) {
  for (char c : s) {
    const uint8_t u = static_cast<uint8_t>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Fields this connection writes itself: a route's copy would contradict
// the framing (Content-Length, Transfer-Encoding, Connection) or repeat one.
bool IsOwnField(absl::string_view name) {
  for (absl::string_view own :
       {"content-length", "transfer-encoding", "connection", "date", "server",
        "content-type", "keep-alive", "upgrade", "trailer"}) {
    if (absl::EqualsIgnoreCase(name, own)) return true;
  }
  return false;
}

// Appends a route's extra fields to a head; refused ones go to *dropped
// (escaped, for the log) and are never sent. Sets *cache_control when the
// route gave its own Cache-Control.
void AppendRouteFields(
    const std::vector<std::pair<std::string, std::string>>& fields,
    std::string* head, std::string* dropped, bool* cache_control) {
  for (const auto& [name, value] : fields) {
    const absl::string_view v = TrimOws(value);
    absl::string_view why;
    if (!IsToken(name)) {
      why = "bad name";
    } else if (!IsFieldValue(value)) {
      why = "control character in value";
    } else if (IsOwnField(name)) {
      why = "written by the connection";
    }
    if (!why.empty()) {
      absl::StrAppend(dropped, dropped->empty() ? "" : ", ", log::Quoted(name),
                      " (", why, ")");
      continue;
    }
    if (absl::EqualsIgnoreCase(name, "cache-control")) *cache_control = true;
    absl::StrAppend(head, name, ": ", v, "\r\n");
  }
}

// The raw query of a request target ("" if none), without a fragment.
absl::string_view RawQuery(absl::string_view target) {
  const size_t q = target.find('?');
  if (q == absl::string_view::npos) return "";
  absl::string_view query = target.substr(q + 1);
  return query.substr(0, query.find('#'));
}

std::string HttpDate(absl::Time t) {
  return absl::FormatTime(kHttpDate, t, absl::UTCTimeZone());
}

// RFC 9110 section 5.6.7: recipients must accept IMF-fixdate and the two
// obsolete formats.
absl::optional<absl::Time> ParseHttpDate(absl::string_view text) {
  static constexpr absl::string_view kFormats[] = {
      kHttpDate,
      "%A, %d-%b-%y %H:%M:%S GMT",  // RFC 850
      "%a %b %e %H:%M:%S %Y",       // asctime
  };
  const std::string s(text);
  for (absl::string_view format : kFormats) {
    absl::Time t;
    std::string error;
    if (absl::ParseTime(std::string(format), s, absl::UTCTimeZone(), &t,
                        &error)) {
      return t;
    }
  }
  return absl::nullopt;
}

// The strong validator of a file version: its FileIdentity (inode, size,
// modification time), which changes whenever the served bytes can.
std::string ETagOf(const MappedFile& file) {
  const FileIdentity& id = file.identity();
  return absl::StrFormat("\"%x-%x-%x\"", static_cast<uint64_t>(id.inode),
                         static_cast<uint64_t>(id.size),
                         static_cast<uint64_t>(id.mtime_ns));
}

absl::Time MtimeSeconds(const MappedFile& file) {
  return absl::FromUnixSeconds(file.identity().mtime_ns / 1000000000);
}

// RFC 9110 section 13.1.2: If-None-Match uses the weak comparison.
bool NoneMatchHits(absl::string_view header, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',')) {
    tag = TrimOws(tag);
    if (tag == "*") return true;
    if (absl::StartsWith(tag, "W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

// Digits with saturation: "bytes=0-99999999999999999999" means "to the end".
bool ParseBytePos(absl::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

enum class RangeKind { kNone, kSatisfiable, kUnsatisfiable };

// RFC 9110 section 14.1.2: one byte range; anything else (several ranges, a
// malformed one, another unit) is ignored and the whole file served, as
// section 14.2 allows.
RangeKind ParseRange(absl::string_view value, uint64_t size, uint64_t* first,
                     uint64_t* last) {
  value = TrimOws(value);
  if (!absl::StartsWithIgnoreCase(value, "bytes=")) return RangeKind::kNone;
  value.remove_prefix(6);
  if (absl::StrContains(value, ',')) return RangeKind::kNone;
  value = TrimOws(value);
  const size_t dash = value.find('-');
  if (dash == absl::string_view::npos) return RangeKind::kNone;
  const absl::string_view a = value.substr(0, dash);
  const absl::string_view b = value.substr(dash + 1);
  if (a.empty()) {
    uint64_t n;
    if (!ParseBytePos(b, &n)) return RangeKind::kNone;
    // A suffix of zero bytes, or of an empty file, selects nothing.
    if (n == 0 || size == 0) return RangeKind::kUnsatisfiable;
    *first = n >= size ? 0 : size - n;
    *last = size - 1;
    return RangeKind::kSatisfiable;
  }
  uint64_t start;
  if (!ParseBytePos(a, &start)) return RangeKind::kNone;
  uint64_t end = UINT64_MAX;
  if (!b.empty()) {
    if (!ParseBytePos(b, &end)) return RangeKind::kNone;
    if (end < start) return RangeKind::kNone;  // invalid: ignored
  }
  if (start >= size) return RangeKind::kUnsatisfiable;
  *first = start;
  *last = std::min(end, size - 1);
  return RangeKind::kSatisfiable;
}

bool IsRfc9110Method(llhttp_method_t m) {
  switch (m) {
    case HTTP_POST:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_CONNECT:
    case HTTP_OPTIONS:
    case HTTP_TRACE:
    case HTTP_PATCH:
      return true;
    default:
      return false;
  }
}

// llhttp callbacks: the parse state rides in parser->data.
struct ParseState {
  std::vector<std::pair<std::string, std::string>>* fields = nullptr;
  std::string name;
  std::string value;
};

ParseState* StateOf(llhttp_t* p) { return static_cast<ParseState*>(p->data); }

int OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  StateOf(p)->name.append(at, n);
  return 0;
}
int OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  StateOf(p)->value.append(at, n);
  return 0;
}
int OnHeaderValueComplete(llhttp_t* p) {
  ParseState* s = StateOf(p);
  s->fields->emplace_back(std::move(s->name), std::move(s->value));
  s->name.clear();
  s->value.clear();
  return 0;
}
// The body (if any) is the connection's business, not llhttp's: it has the
// head only.
int OnHeadersComplete(llhttp_t*) { return 1; }
// Stop exactly at the end of the head, so that where llhttp thinks the
// message ends can be compared with where the pre-filter does.
int OnMessageComplete(llhttp_t*) { return HPE_PAUSED; }

const llhttp_settings_t* Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_header_field = OnHeaderField;
    s.on_header_value = OnHeaderValue;
    s.on_header_value_complete = OnHeaderValueComplete;
    s.on_headers_complete = OnHeadersComplete;
    s.on_message_complete = OnMessageComplete;
    return s;
  }();
  return &settings;
}

HttpPrefilterLimits PrefilterLimits(const HttpLimits& limits) {
  HttpPrefilterLimits p;
  p.max_head_bytes = limits.max_head_bytes;
  p.max_request_line = limits.max_request_line;
  p.max_header_fields = limits.max_header_fields;
  return p;
}

}  // namespace

std::string FormatReport(const HttpResponseReport& r) {
  return RedactTokens(FormatReportUnredacted(r));
}

std::string FormatReportUnredacted(const HttpResponseReport& r) {
  std::string line = absl::StrCat(
      r.method.empty() ? "-" : log::Escaped(r.method), " ",
      log::Quoted(r.target), " ", r.status, " ", r.bytes_sent, " bytes in ",
      absl::FormatDuration(r.duration), " to ", r.client.ToString());
  if (!r.file.empty()) {
    absl::StrAppend(&line, " (", RouteKindName(r.kind), " file ",
                    log::Quoted(r.file), ")");
  }
  if (r.stream) absl::StrAppend(&line, " stream");
  if (!r.complete) absl::StrAppend(&line, " incomplete");
  if (!r.error.empty()) absl::StrAppend(&line, ": ", r.error);
  if (!r.dropped.empty()) {
    absl::StrAppend(&line, "; route fields dropped: ", r.dropped);
  }
  return line;
}

HttpConnection::HttpConnection(HttpRoutes* routes, const HttpLimits& limits,
                               const io::SocketAddress& client, absl::Time now)
    : routes_(routes),
      limits_(limits),
      client_(client),
      prefilter_(PrefilterLimits(limits)),
      request_start_(now),
      idle_since_(now),
      last_progress_(now) {}

HttpConnection::~HttpConnection() {
  if (ready_.has_value() && ready_->stream != nullptr) ready_->stream->Stop();
}

bool HttpConnection::pause_reading() const {
  // A stream's client sends nothing that matters, but its close must be
  // seen: keep reading (OnBytes drops the bytes).
  if (streaming_ && close_ == HttpClose::kNo) return false;
  return close_ != HttpClose::kNo || in_.size() >= limits_.max_buffered_input;
}

absl::Time HttpConnection::Deadline() const {
  if (close_ == HttpClose::kNow) return absl::InfiniteFuture();
  if (out_ || ready_.has_value()) return last_progress_ + limits_.send_timeout;
  // A stream waiting for its producer: no header or idle timeout (an event
  // stream is idle by nature; the producer's keepalives test the peer).
  if (streaming_) return absl::InfiniteFuture();
  if (request_started_ || first_request_) {
    // From the first byte of the request (from accept for the first one):
    // a slow client cannot hold the connection by trickling a head.
    return request_start_ + limits_.header_timeout;
  }
  return idle_since_ + limits_.idle_timeout;
}

void HttpConnection::OnBytes(absl::Span<const uint8_t> bytes, absl::Time now) {
  if (close_ != HttpClose::kNo || bytes.empty()) return;
  // The response is a stream that ends with the connection: nothing the
  // client sends now can be answered.
  if (streaming_) return;
  if (in_.size() + bytes.size() > 4 * limits_.max_buffered_input) {
    // The caller kept reading while told to pause: nothing here can use it.
    CloseNow(now);
    return;
  }
  if (!request_started_ && in_.empty() && awaiting_body_ == nullptr) {
    request_started_ = true;
    request_start_ = now;
  }
  in_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  Process(now);
}

void HttpConnection::OnSendProgress(uint64_t bytes, absl::Time now) {
  if (current_.has_value()) current_->bytes_sent += bytes;
  last_progress_ = now;
}

void HttpConnection::OnSendDone(absl::Time now) {
  if (!out_) return;
  out_ = false;
  last_progress_ = now;
  if (current_.has_value()) {
    current_->bytes_sent = sent_size_;
    current_->duration = now - current_started_;
  }
  if (streaming_) {
    // The head or a chunk left; the stream's report ends with the stream.
    return;
  }
  FinishReport(/*complete=*/true);
  if (close_ == HttpClose::kAfterTransmit) {
    close_ = HttpClose::kNow;
    return;
  }
  idle_since_ = now;
  request_started_ = false;
  if (!in_.empty()) {
    // A pipelined request: its time starts now that it is looked at.
    request_started_ = true;
    request_start_ = now;
  }
  Process(now);
}

void HttpConnection::OnPeerClosed(absl::Time now) {
  if (close_ == HttpClose::kNow) return;
  peer_closed_ = true;
  if (streaming_) {
    // The usual end of an event stream: the client went away. What it was
    // sent is all it wanted, so the response is complete unless a chunk was
    // cut.
    if (current_.has_value()) {
      current_->duration = now - current_started_;
      current_->error = "stream closed by the client";
    }
    const bool cut = out_ || ready_.has_value();
    if (!cut) FinishReport(/*complete=*/true);
    CloseNow(now);
    return;
  }
  Process(now);
}

void HttpConnection::Abandon(absl::Time now, absl::string_view error) {
  if (close_ == HttpClose::kNow) return;
  if (current_.has_value()) current_->error = std::string(error);
  CloseNow(now);
}

void HttpConnection::OnStreamSend(uint64_t bytes, absl::Time now) {
  if (!streaming_ || close_ != HttpClose::kNo || out_ || ready_.has_value()) {
    return;
  }
  out_ = true;
  last_progress_ = now;
  sent_size_ += bytes;
  if (current_.has_value()) current_->body_bytes += bytes;
}

void HttpConnection::OnStreamEnd(absl::Time now) {
  if (!streaming_ || close_ == HttpClose::kNow) return;
  if (out_ || ready_.has_value()) {
    // Not everything was sent: the caller ends it before its time.
    if (current_.has_value()) current_->error = "stream ended";
    CloseNow(now);
    return;
  }
  if (current_.has_value()) {
    current_->bytes_sent = sent_size_;
    current_->duration = now - current_started_;
    current_->error = "stream ended by the server";
  }
  FinishReport(/*complete=*/true);
  CloseNow(now);
}

void HttpConnection::OnDeadline(absl::Time now) {
  if (now < Deadline() || close_ == HttpClose::kNow) return;
  if (out_ || ready_.has_value()) {
    // The client stopped reading (send_timeout without progress).
    if (current_.has_value()) current_->error = "send timeout";
    CloseNow(now);
  } else if (streaming_) {
    return;  // no deadline while a stream waits for its producer
  } else if (request_started_ && (!in_.empty() || awaiting_body_ != nullptr)) {
    RespondError(408, "header timeout", now, nullptr);
  } else {
    // Idle keep-alive, or a connection that never sent a byte: close
    // without a response (RFC 9112 section 9.5 lets a server close idle
    // connections at any time).
    CloseNow(now);
  }
}

absl::optional<HttpTransmit> HttpConnection::PollTransmit() {
  if (!ready_.has_value()) return absl::nullopt;
  out_ = true;
  absl::optional<HttpTransmit> t = std::move(ready_);
  ready_.reset();
  return t;
}

absl::optional<HttpResponseReport> HttpConnection::TakeReport() {
  if (reports_.empty()) return absl::nullopt;
  HttpResponseReport r = std::move(reports_.front());
  reports_.erase(reports_.begin());
  return r;
}

void HttpConnection::CloseNow(absl::Time now) {
  if (current_.has_value()) {
    current_->duration = now - current_started_;
    FinishReport(/*complete=*/false);
  }
  // A stream never handed out never started: its producer still needs to
  // hear that it is over.
  if (ready_.has_value() && ready_->stream != nullptr) ready_->stream->Stop();
  ready_.reset();
  out_ = false;
  close_ = HttpClose::kNow;
  streaming_ = false;
  in_.clear();
  in_.shrink_to_fit();
  awaiting_body_.reset();
  std::string().swap(body_);
}

void HttpConnection::FinishReport(bool complete) {
  if (!current_.has_value()) return;
  current_->complete = complete;
  current_->whole_file = complete && current_->whole_file;
  reports_.push_back(*std::move(current_));
  current_.reset();
}

void HttpConnection::Process(absl::Time now) {
  while (close_ == HttpClose::kNo && !out_ && !ready_.has_value()) {
    if (awaiting_body_ != nullptr) {
      // The body moves out of the input buffer as it arrives, so reading
      // is never paused for it (it is bounded by max_request_body).
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(body_expected_, in_.size()));
      body_.append(in_, 0, n);
      in_.erase(0, n);
      body_expected_ -= n;
      if (body_expected_ > 0) break;
      std::unique_ptr<Parsed> request = std::move(awaiting_body_);
      Respond(*request, now);
      if (body_.capacity() > 4096) {
        std::string().swap(body_);
      } else {
        body_.clear();
      }
      continue;
    }
    if (in_.empty() || scanned_ >= in_.size()) break;
    size_t used = 0;
    const HttpPrefilter::Result result = prefilter_.Scan(
        absl::Span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(in_.data()) + scanned_,
            in_.size() - scanned_),
        &used);
    if (result == HttpPrefilter::Result::kNeedMore) {
      scanned_ = in_.size();
      break;
    }
    if (result == HttpPrefilter::Result::kReject) {
      RespondError(prefilter_.status(), prefilter_.reason(), now, nullptr);
      break;
    }
    const size_t head_size = scanned_ + used;
    Parsed request;
    int status = 0;
    std::string error;
    const bool ok = ParseHead(head_size, &request, &status, &error);
    in_.erase(0, head_size);
    scanned_ = 0;
    prefilter_.Reset();
    if (!ok) {
      RespondError(status, std::move(error), now, &request);
      break;
    }
    Respond(request, now);
  }
  if (peer_closed_ && close_ == HttpClose::kNo && !out_ &&
      !ready_.has_value()) {
    // Nothing more can arrive, and nothing complete is left to answer.
    CloseNow(now);
  }
  if (!peer_closed_ && close_ == HttpClose::kNo && in_.capacity() > 4096 &&
      in_.empty()) {
    // An idle connection keeps no large buffer (issue 12: at most 16 KiB per
    // idle connection).
    in_.shrink_to_fit();
  }
}

bool HttpConnection::ParseHead(size_t head_size, Parsed* out, int* status,
                               std::string* error) {
  std::vector<std::pair<std::string, std::string>> fields;
  ParseState state;
  state.fields = &fields;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, Settings());
  parser.data = &state;
  const llhttp_errno_t err = llhttp_execute(&parser, in_.data(), head_size);
  // The method and target as sent: the pre-filter checked the request
  // line's shape (method SP target SP version, after any empty lines).
  const size_t start = prefilter_.leading_empty_lines() * 2;
  const size_t sp1 = in_.find(' ', start);
  const size_t sp2 = in_.find(' ', sp1 + 1);
  const size_t eol = in_.find('\r', sp2 + 1);
  out->method = in_.substr(start, sp1 - start);
  out->target = in_.substr(sp1 + 1, sp2 - sp1 - 1);
  const absl::string_view version =
      absl::string_view(in_).substr(sp2 + 1, eol - sp2 - 1);
  if (err != HPE_PAUSED) {
    *error = absl::StrCat("llhttp: ", llhttp_errno_name(err), " ",
                          llhttp_get_error_reason(&parser) != nullptr
                              ? llhttp_get_error_reason(&parser)
                              : "");
    // RFC 9110 sections 15.6.2 and 15.6.6: a method or an HTTP version
    // this server does not implement.
    const bool version_shaped =
        version.size() == 8 && absl::StartsWith(version, "HTTP/") &&
        absl::ascii_isdigit(version[5]) && version[6] == '.' &&
        absl::ascii_isdigit(version[7]);
    *status = err == HPE_INVALID_METHOD                      ? 501
              : err == HPE_INVALID_VERSION && version_shaped ? 505
                                                             : 400;
    return false;
  }
  // llhttp and the pre-filter must agree on where the head ends; if they
  // do not, one of them misreads the framing (the essence of smuggling).
  if (llhttp_get_error_pos(&parser) != in_.data() + head_size) {
    *status = 400;
    *error = "llhttp and the pre-filter disagree on the end of the head";
    return false;
  }
  out->method_id = static_cast<llhttp_method_t>(parser.method);
  out->major = parser.http_major;
  out->minor = parser.http_minor;
  out->host_fields = prefilter_.host_fields();
  out->content_length = prefilter_.content_length();
  out->chunked = prefilter_.chunked();
  bool keep_alive_token = false;
  for (auto& [name, value] : fields) {
    const absl::string_view v = TrimOws(value);
    if (absl::EqualsIgnoreCase(name, "connection")) {
      for (absl::string_view token : absl::StrSplit(v, ',')) {
        token = TrimOws(token);
        if (absl::EqualsIgnoreCase(token, "close")) out->close = true;
        if (absl::EqualsIgnoreCase(token, "keep-alive")) {
          keep_alive_token = true;
        }
      }
    } else if (absl::EqualsIgnoreCase(name, "range")) {
      ++out->range_fields;
      out->range = std::string(v);
    } else if (absl::EqualsIgnoreCase(name, "if-none-match")) {
      if (out->has_if_none_match) out->if_none_match.append(", ");
      out->if_none_match.append(v.data(), v.size());
      out->has_if_none_match = true;
    } else if (absl::EqualsIgnoreCase(name, "if-modified-since")) {
      if (!out->if_modified_since.has_value()) {
        out->if_modified_since = std::string(v);
      }
    } else if (absl::EqualsIgnoreCase(name, "if-range")) {
      out->if_range = std::string(v);
    } else if (absl::EqualsIgnoreCase(name, "authorization")) {
      ++out->authorization_fields;
      out->authorization = std::string(v);
    } else if (absl::EqualsIgnoreCase(name, "content-type")) {
      out->content_type = std::string(v);
    } else if (absl::EqualsIgnoreCase(name, "last-event-id")) {
      out->last_event_id = std::string(v);
    }
  }
  // RFC 9112 section 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only
  // with "keep-alive".
  if (out->major == 1 && out->minor == 0 && !keep_alive_token) {
    out->close = true;
  }
  return true;
}

void HttpConnection::Respond(const Parsed& request, absl::Time now) {
  // RFC 9110 section 6.2 / RFC 9112 section 2.3: only HTTP/1.x here
  // (llhttp 8.1 takes "HTTP/2.0" and a version-less HTTP/0.9 line).
  if (request.major != 1 || request.minor > 1) {
    RespondError(505, "unsupported HTTP version", now, &request);
    return;
  }
  // RFC 9112 section 3.2: an HTTP/1.1 request without Host is a 400.
  if (request.minor == 1 && request.host_fields != 1) {
    RespondError(400, "missing Host", now, &request);
    return;
  }
  const bool head = request.method_id == HTTP_HEAD;
  const bool get = request.method_id == HTTP_GET;
  const bool post = request.method_id == HTTP_POST;
  if (!get && !head && !post) {
    if (IsRfc9110Method(request.method_id)) {
      RespondError(405, "method not allowed", now, &request,
                   absl::StrCat("Allow: ", AllowFor(request.target), "\r\n"));
    } else {
      RespondError(501, "method not implemented", now, &request);
    }
    return;
  }
  absl::StatusOr<std::string> path = DecodeRequestPath(request.target);
  if (!path.ok()) {
    RespondError(400, std::string(path.status().message()), now, &request);
    return;
  }
  // Before any body is read: a POST where the route takes none is refused
  // with what it does take.
  if (!routes_->AcceptsMethod(request.method, *path)) {
    RespondError(405, "method not allowed", now, &request,
                 absl::StrCat("Allow: ", AllowFor(request.target), "\r\n"));
    return;
  }
  // RFC 9110 section 11.6.2: one Authorization; with two, a proxy and this
  // server could each judge a different one.
  if (request.authorization_fields > 1) {
    RespondError(400, "repeated Authorization", now, &request);
    return;
  }
  if (awaiting_body_ == nullptr &&
      (request.chunked || request.content_length.value_or(0) > 0)) {
    HttpRequest head;
    head.method = request.method;
    head.path = *path;
    head.query = RawQuery(request.target);
    head.authorization = request.authorization;
    head.content_type = request.content_type;
    head.last_event_id = request.last_event_id;
    head.client = client_;
    head.now = now + wall_offset_;
    const uint64_t max =
        std::min(routes_->MaxRequestBodyFor(head), limits_.max_request_body);
    if (request.chunked) {
      // RFC 9112 section 6.3: a server may refuse a body without
      // Content-Length with 411.
      RespondError(max > 0 ? 411 : 413, "chunked request body", now, &request);
      return;
    }
    if (*request.content_length > max) {
      RespondError(
          413,
          max == 0 ? std::string("request body not accepted")
                   : absl::StrCat("request body of ", *request.content_length,
                                  " bytes, at most ", max),
          now, &request);
      return;
    }
    // Read the body (Process), then answer.
    body_expected_ = *request.content_length;
    body_.clear();
    body_.reserve(static_cast<size_t>(body_expected_));
    awaiting_body_ = std::make_unique<Parsed>(request);
    awaiting_body_->content_length.reset();
    return;
  }

  HttpRequest route_request;
  route_request.method = request.method;
  route_request.path = *path;
  route_request.query = RawQuery(request.target);
  route_request.authorization = request.authorization;
  route_request.content_type = request.content_type;
  route_request.last_event_id = request.last_event_id;
  route_request.body = body_;
  route_request.client = client_;
  route_request.now = now + wall_offset_;
  HttpRouteResult route = routes_->Route(route_request);
  if (route.stream != nullptr) {
    RespondStream(request, std::move(route), now);
    return;
  }
  if (route.status == 200 && route.file != nullptr) {
    // A file: below.
  } else if (route.has_body ||
             (route.file == nullptr &&
              (route.status == 204 ||
               (route.status >= 300 && route.status < 400)))) {
    RespondGenerated(request, std::move(route), now);
    return;
  } else {
    std::string fields;
    std::string dropped;
    bool cache_control = false;
    AppendRouteFields(route.headers, &fields, &dropped, &cache_control);
    if (route.status < 400 || route.status > 599) {
      route.error =
          absl::StrCat("route answered ", route.status, " without a body",
                       route.error.empty() ? "" : ": ", route.error);
      route.status = 500;
    }
    RespondError(route.status, std::move(route.error), now, &request, fields,
                 std::move(dropped));
    if (current_.has_value()) current_->kind = route.kind;
    return;
  }
  const MappedFile& file = *route.file;
  const uint64_t size = file.size();
  // Files rendered in memory (per-host configs) have no identity (it is
  // zero): no validators, never cached.
  const bool validators = !(file.identity() == FileIdentity{});
  const std::string etag = validators ? ETagOf(file) : std::string();
  const absl::Time mtime = validators ? MtimeSeconds(file) : absl::Time();

  int status = 200;
  uint64_t first = 0;
  uint64_t last = size == 0 ? 0 : size - 1;
  bool unsatisfiable = false;
  if (validators && request.has_if_none_match) {
    // RFC 9110 section 13.2.2 step 3.
    if (NoneMatchHits(request.if_none_match, etag)) status = 304;
  } else if (validators && request.if_modified_since.has_value()) {
    // Step 4: only without If-None-Match.
    absl::optional<absl::Time> since =
        ParseHttpDate(*request.if_modified_since);
    if (since.has_value() && mtime <= *since) status = 304;
  }
  if (status == 200 && request.range_fields == 1) {
    // Step 5: If-Range keeps the Range only for the same version (strong
    // comparison for an ETag, the exact date otherwise).
    bool range_applies = true;
    if (request.if_range.has_value()) {
      const absl::string_view v = *request.if_range;
      if (!validators) {
        range_applies = false;
      } else if (absl::StartsWith(v, "\"") || absl::StartsWith(v, "W/")) {
        range_applies = v == etag;
      } else {
        absl::optional<absl::Time> t = ParseHttpDate(v);
        range_applies = t.has_value() && *t == mtime;
      }
    }
    if (range_applies) {
      switch (ParseRange(request.range, size, &first, &last)) {
        case RangeKind::kNone:
          break;
        case RangeKind::kSatisfiable:
          status = 206;
          break;
        case RangeKind::kUnsatisfiable:
          unsatisfiable = true;
          break;
      }
    }
  }
  if (unsatisfiable) {
    // RFC 9110 section 15.5.17.
    RespondError(416, "range not satisfiable", now, &request,
                 absl::StrCat("Content-Range: bytes */", size, "\r\n"));
    return;
  }

  // A client that closed its side still gets every complete request it sent
  // answered; the connection closes once none is left (Process).
  const bool close = request.close || (limits_.max_requests > 0 &&
                                       requests_ + 1 >= limits_.max_requests);
  const uint64_t length = size == 0 ? 0 : last - first + 1;
  std::string h = absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                               "\r\nDate: ", HttpDate(now + wall_offset_),
                               "\r\nServer: rackboot\r\n");
  if (validators) {
    absl::StrAppend(&h, "ETag: ", etag, "\r\nLast-Modified: ", HttpDate(mtime),
                    "\r\n");
  } else {
    absl::StrAppend(&h, "Cache-Control: no-store\r\n");
  }
  if (status != 304) {
    absl::StrAppend(&h, "Content-Type: ", ContentTypeFor(file.relative_path()),
                    "\r\nContent-Length: ", length,
                    "\r\nAccept-Ranges: bytes\r\n");
    if (status == 206) {
      absl::StrAppend(&h, "Content-Range: bytes ", first, "-", last, "/", size,
                      "\r\n");
    }
  }
  if (close) {
    absl::StrAppend(&h, "Connection: close\r\n");
  } else if (request.minor == 0) {
    absl::StrAppend(&h, "Connection: keep-alive\r\n");
  }
  absl::StrAppend(&h, "\r\n");

  HttpTransmit t;
  t.head = std::move(h);
  HttpResponseReport report;
  report.method = request.method;
  report.target = request.target;
  report.status = status;
  report.client = client_;
  report.kind = route.kind;
  report.file = file.relative_path();
  if (status != 304 && !head) {
    t.file.file = route.file;
    t.file.offset = first;
    t.file.length = length;
    report.body_bytes = length;
    report.whole_file = status == 200;
  }
  Queue(std::move(t), std::move(report), close, now);
}

std::string HttpConnection::AllowFor(absl::string_view target) {
  absl::StatusOr<std::string> path = DecodeRequestPath(target);
  if (!path.ok()) return "GET, HEAD";
  std::string allow;
  for (absl::string_view method : {"GET", "HEAD", "POST"}) {
    if (routes_->AcceptsMethod(method, *path)) {
      absl::StrAppend(&allow, allow.empty() ? "" : ", ", method);
    }
  }
  return allow;
}

namespace {

// The head of a generated or streamed response up to its framing fields:
// status line, Date, Server, the route's fields, Cache-Control, Content-Type.
std::string GeneratedHead(int status, absl::Time wall,
                          const HttpRouteResult& route,
                          absl::string_view default_type,
                          std::string* dropped) {
  std::string h =
      absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                   "\r\nDate: ", HttpDate(wall), "\r\nServer: rackboot\r\n");
  bool cache_control = false;
  AppendRouteFields(route.headers, &h, dropped, &cache_control);
  // Answers computed now (JSON of the live state, metrics) are stale at
  // once: no cache keeps them unless the route says otherwise.
  if (!cache_control) absl::StrAppend(&h, "Cache-Control: no-store\r\n");
  absl::string_view type = route.content_type;
  if (type.empty()) {
    type = default_type;
  } else if (!IsFieldValue(type)) {
    absl::StrAppend(dropped, dropped->empty() ? "" : ", ",
                    "\"Content-Type\" (control character in value)");
    type = default_type;
  }
  absl::StrAppend(&h, "Content-Type: ", TrimOws(type), "\r\n");
  return h;
}

}  // namespace

void HttpConnection::RespondGenerated(const Parsed& request,
                                      HttpRouteResult route, absl::Time now) {
  const bool head = request.method_id == HTTP_HEAD;
  int status = route.status;
  std::string dropped;
  if (status < 200 || status > 599) {
    // 1xx would be an interim answer the client waits past; nothing a
    // route means.
    route.error = absl::StrCat("route answered status ", status,
                               route.error.empty() ? "" : ": ", route.error);
    route.body.clear();
    route.has_body = false;
    status = 500;
  }
  // 408, 413 and 431 say the request itself was not read as sent: close.
  const bool close =
      request.close || status == 408 || status == 413 || status == 431 ||
      (limits_.max_requests > 0 && requests_ + 1 >= limits_.max_requests);
  // RFC 9110 sections 15.3.5 and 15.4.5: no content in 204 and 304.
  const bool no_content = status == 204 || status == 304;
  std::string h = GeneratedHead(status, now + wall_offset_, route,
                                "text/plain; charset=utf-8", &dropped);
  if (!no_content) {
    absl::StrAppend(&h, "Content-Length: ", route.body.size(), "\r\n");
  }
  if (close) {
    absl::StrAppend(&h, "Connection: close\r\n");
  } else if (request.minor == 0) {
    absl::StrAppend(&h, "Connection: keep-alive\r\n");
  }
  absl::StrAppend(&h, "\r\n");
  HttpTransmit t;
  t.head = std::move(h);
  HttpResponseReport report;
  report.method = request.method;
  report.target = request.target;
  report.status = status;
  report.client = client_;
  report.kind = route.kind;
  report.error = std::move(route.error);
  report.dropped = std::move(dropped);
  if (!head && !no_content) {
    report.body_bytes = route.body.size();
    t.inline_body = std::move(route.body);
  }
  Queue(std::move(t), std::move(report), close, now);
}

void HttpConnection::RespondStream(const Parsed& request, HttpRouteResult route,
                                   absl::Time now) {
  const bool head = request.method_id == HTTP_HEAD;
  if (request.method_id != HTTP_GET && !head) {
    // A body of unbounded length answers a read, never a write.
    route.stream->Stop();
    RespondError(500, "route answered a stream to a POST", now, &request);
    if (current_.has_value()) current_->kind = route.kind;
    return;
  }
  if (route.status < 200 || route.status > 299 || route.status == 204) {
    route.stream->Stop();
    RespondError(
        500, absl::StrCat("route answered a stream with status ", route.status),
        now, &request);
    if (current_.has_value()) current_->kind = route.kind;
    return;
  }
  std::string dropped;
  // RFC 9112 section 6.3: without Content-Length or chunked coding, the
  // body ends when the connection does.
  std::string h = GeneratedHead(route.status, now + wall_offset_, route,
                                "text/event-stream", &dropped);
  absl::StrAppend(&h, "Connection: close\r\n\r\n");
  HttpTransmit t;
  t.head = std::move(h);
  HttpResponseReport report;
  report.method = request.method;
  report.target = request.target;
  report.status = route.status;
  report.client = client_;
  report.kind = route.kind;
  report.error = std::move(route.error);
  report.dropped = std::move(dropped);
  if (head) {
    // The head alone; the stream never starts.
    route.stream->Stop();
    Queue(std::move(t), std::move(report), /*close=*/true, now);
    return;
  }
  report.stream = true;
  t.stream = std::move(route.stream);
  in_.clear();  // nothing after a stream request is answered
  Queue(std::move(t), std::move(report), /*close=*/false, now);
  streaming_ = true;
}

void HttpConnection::RespondError(int status, std::string error, absl::Time now,
                                  const Parsed* request,
                                  absl::string_view extra_fields,
                                  std::string dropped) {
  const std::string body =
      absl::StrCat(status, " ", ReasonPhrase(status), "\n");
  std::string h =
      absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                   "\r\nDate: ", HttpDate(now + wall_offset_),
                   "\r\nServer: rackboot\r\nContent-Type: text/plain; "
                   "charset=utf-8\r\nContent-Length: ",
                   body.size(), "\r\n", extra_fields);
  absl::StrAppend(&h, "Connection: close\r\n\r\n");
  HttpTransmit t;
  t.head = std::move(h);
  HttpResponseReport report;
  if (request != nullptr) {
    report.method = request->method;
    report.target = request->target;
  }
  report.status = status;
  report.client = client_;
  report.error = std::move(error);
  report.dropped = std::move(dropped);
  // By the method's text: a head llhttp refused (a HEAD with a bad version)
  // has no parsed method, and a body after it would be read as the next
  // response.
  if (request == nullptr || request->method != "HEAD") {
    t.inline_body = body;
    report.body_bytes = body.size();
  }
  // Whatever else the client sent is not read: the connection closes after
  // this answer.
  in_.clear();
  body_expected_ = 0;
  awaiting_body_.reset();
  Queue(std::move(t), std::move(report), /*close=*/true, now);
}

void HttpConnection::Queue(HttpTransmit transmit, HttpResponseReport report,
                           bool close, absl::Time now) {
  ++requests_;
  first_request_ = false;
  sent_size_ = transmit.size();
  current_started_ = request_started_ ? request_start_ : now;
  current_ = std::move(report);
  ready_ = std::move(transmit);
  last_progress_ = now;
  request_started_ = false;
  if (close) close_ = HttpClose::kAfterTransmit;
}

}  // namespace rackboot::http
