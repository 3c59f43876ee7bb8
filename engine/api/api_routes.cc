#include "engine/api/api_routes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "engine/api/install_routes.h"
#include "engine/http/http_stream.h"
#include "engine/http/log_redact.h"
#include "engine/log/log_text.h"
#include "engine/site/site_config.h"
#include "glog/logging.h"
#include "nlohmann/json.hpp"

namespace rackboot::api {
namespace {

using http::HttpRequest;
using http::HttpRouteResult;
using Json = nlohmann::json;

constexpr absl::string_view kPrefix = "/api/v1/";

// Client text may hold bytes that are not UTF-8: replaced, never thrown.
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The answers listing many objects are written directly (nlohmann's object
// trees cost ~16 us a host, most of GET /hosts for 1,000 hosts); errors and
// request bodies stay with nlohmann. Keys in the order docs/api.md lists them.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}
  void Begin(char c) {
    out_->push_back(c);
    first_ = true;
  }
  void End(char c) {
    out_->push_back(c);
    first_ = false;
  }
  void Key(absl::string_view key) {
    Comma();
    AppendJsonString(out_, key);
    out_->push_back(':');
    first_ = true;  // the value needs no comma
  }
  void String(absl::string_view key, absl::string_view value) {
    Key(key);
    AppendJsonString(out_, value);
    first_ = false;
  }
  void StringOrNull(absl::string_view key, absl::string_view value) {
    if (value.empty()) {
      Raw(key, "null");
    } else {
      String(key, value);
    }
  }
  void Number(absl::string_view key, uint64_t value) {
    Key(key);
    absl::StrAppend(out_, value);
    first_ = false;
  }
  void Time(absl::string_view key, absl::Time t) {
    if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
      Raw(key, "null");
    } else {
      String(key, FormatApiTime(t));
    }
  }
  void Raw(absl::string_view key, absl::string_view json) {
    Key(key);
    out_->append(json.data(), json.size());
    first_ = false;
  }
  // Before an array element.
  void Element() { Comma(); }

 private:
  void Comma() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  std::string* out_;
  bool first_ = true;
};

void WriteTransfer(JsonWriter& w, const ApiTransfer& t, bool with_client) {
  w.Begin('{');
  w.String("transport", t.transport);
  if (with_client) w.String("client", t.client);
  w.String("file", t.file);
  w.Number("bytes", t.bytes);
  w.Number("size", t.size);
  w.Time("started", t.started);
  if (with_client) w.StringOrNull("host", t.host);
  w.End('}');
}

void WriteEvent(JsonWriter& w, const ApiEvent& e) {
  w.Begin('{');
  w.Number("id", e.id);
  w.Time("time", e.time);
  w.String("host", e.host);
  w.String("kind", e.kind);
  w.String("phase", e.phase);
  w.String("detail", e.detail);
  w.String("address", e.address);
  w.End('}');
}

void WriteHost(JsonWriter& w, const ApiHost& h, bool timeline) {
  w.Begin('{');
  w.String("name", h.name);
  w.String("mac", h.mac);
  w.String("address", h.address);
  w.String("profile", h.profile);
  w.String("state", h.state);
  w.String("group", h.group);
  w.String("phase", h.phase);
  w.String("reason", h.reason);
  w.Time("phase_since", h.phase_since);
  w.Time("last_seen", h.last_seen);
  if (h.transfer.has_value()) {
    w.Key("transfer");
    WriteTransfer(w, *h.transfer, false);
  } else {
    w.Raw("transfer", "null");
  }
  if (timeline) {
    w.Key("timeline");
    w.Begin('[');
    for (const ApiEvent& e : h.timeline) {
      w.Element();
      WriteEvent(w, e);
    }
    w.End(']');
  }
  w.End('}');
}

HttpRouteResult TextResult(int status, std::string body) {
  HttpRouteResult r;
  r.status = status;
  r.kind = http::HttpRouteKind::kApi;
  r.has_body = true;
  r.body = std::move(body);
  r.body += '\n';
  r.content_type = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpRouteResult HostResult(const ApiHost& h, bool timeline) {
  std::string body;
  JsonWriter w(&body);
  WriteHost(w, h, timeline);
  return TextResult(200, std::move(body));
}

HttpRouteResult JsonResult(int status, const Json& body) {
  HttpRouteResult r;
  r.status = status;
  r.kind = http::HttpRouteKind::kApi;
  r.has_body = true;
  r.body = Dump(body);
  r.body += '\n';
  r.content_type = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// `detail` may carry client text: JSON escapes it for the body; the log line
// (r.error) gets it escaped by log::Escaped.
HttpRouteResult Error(int status, absl::string_view code,
                      absl::string_view detail) {
  HttpRouteResult r = JsonResult(status, Json{{"error", std::string(code)},
                                              {"detail", std::string(detail)}});
  r.error = absl::StrCat(code, ": ", log::Escaped(detail));
  return r;
}

// An installer's credential was refused: the answer says no more than this
// (not whether the host is armed, the token expired or the address is
// another's); the log line says which.
HttpRouteResult TokenRefused() {
  return Error(403, "forbidden", "install token refused");
}

HttpRouteResult MethodNotAllowed(absl::string_view method, const char* allow) {
  HttpRouteResult r = Error(405, "method_not_allowed",
                            absl::StrCat(log::Escaped(method, 16),
                                         " is not allowed here; use ", allow));
  r.headers.emplace_back("Allow", allow);
  return r;
}

bool IsRead(absl::string_view method) {
  return method == "GET" || method == "HEAD";
}

// The media type of a Content-Type value, without parameters.
absl::string_view MediaType(absl::string_view content_type) {
  return absl::StripAsciiWhitespace(content_type.substr(
      0, std::min(content_type.find(';'), content_type.size())));
}

// The token of "Authorization: Bearer <token>", "" if none.
absl::string_view BearerToken(absl::string_view authorization) {
  constexpr absl::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kBearer.size()),
                              kBearer)) {
    return "";
  }
  return absl::StripAsciiWhitespace(authorization.substr(kBearer.size()));
}

// A request path for a log line: escaped, tokens cut.
std::string LoggedPath(absl::string_view path) {
  return http::RedactTokens(log::Escaped(path));
}

// What is left of a path under the prefix, split on '/': "hosts/a/arm" ->
// {"hosts", "a", "arm"}. The path was decoded once by the connection
// (DecodeRequestPath refuses "..", encoded slashes, control characters).
std::vector<absl::string_view> Segments(absl::string_view path) {
  absl::string_view rest = path;
  if (absl::StartsWith(rest, kPrefix)) rest.remove_prefix(kPrefix.size());
  return absl::StrSplit(rest, '/');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> DecodeQueryPart(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) {
        return absl::InvalidArgumentError("a '%' escape is cut short");
      }
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            "a '%' escape is not two hexadecimal digits");
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("a control character in the query");
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

namespace {

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629 table 3.7:
// no overlongs, no surrogates, nothing past U+10FFFF), 0 if there is none.
size_t Utf8Length(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) -> int {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
  };
  const int c = b(0);
  const auto cont = [&](size_t k, int lo = 0x80, int hi = 0xbf) {
    return b(k) >= lo && b(k) <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8Length(s, i);
      if (n == 0) {
        out->append("\xef\xbf\xbd");  // U+FFFD
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  // Every byte is looked at whatever differs: the time says nothing of where.
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool IsLoopback(const io::SocketAddress& address) {
  const sockaddr* sa = address.sockaddr_ptr();
  if (sa->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) &&
           v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    return absl::InternalError(
        absl::StrCat(path, ": cannot stat: ", std::strerror(saved)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: mode %04o lets others than its owner read or change the API "
        "token; chmod 600 %s",
        path, st.st_mode & 07777, path));
  }
  std::string text;
  char buffer[2048];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > 4096) break;
  }
  const int saved = errno;
  ::close(fd);
  if (n < 0) {
    return absl::InternalError(
        absl::StrCat(path, ": read failed: ", std::strerror(saved)));
  }
  absl::string_view token = text;
  const size_t newline = token.find('\n');
  if (newline != absl::string_view::npos) token = token.substr(0, newline);
  token = absl::StripAsciiWhitespace(token);
  if (token.empty() || token.size() > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected a token of 1 to 1024 characters on its first line"));
  }
  for (char c : token) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": the token must be printable ASCII without spaces"));
    }
  }
  return std::string(token);
}

std::string FormatApiTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    if (part.empty()) continue;
    if (out.size() == 16) {
      return absl::InvalidArgumentError("more than 16 query parameters");
    }
    const size_t eq = part.find('=');
    absl::StatusOr<std::string> key = DecodeQueryPart(part.substr(0, eq));
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value =
        DecodeQueryPart(eq == absl::string_view::npos ? absl::string_view()
                                                      : part.substr(eq + 1));
    if (!value.ok()) return value.status();
    out.emplace_back(*std::move(key), *std::move(value));
  }
  return out;
}

void ApiRoutes::SetToken(absl::optional<std::string> token) {
  absl::MutexLock lock(&mu_);
  token_ = std::move(token);
}

namespace {

// {name} of POST /api/v1/hosts/{name}/log, "" for any other path.
absl::string_view LogRouteHost(absl::string_view path) {
  const std::vector<absl::string_view> seg = Segments(path);
  if (seg.size() != 3 || seg[0] != "hosts" || seg[2] != "log") return "";
  if (!site::CheckDnsName(seg[1]).ok()) return "";
  return seg[1];
}

// The installer's token from ?token= or the Authorization field; "" when
// there is none, or two that differ (or a malformed query).
std::string InstallerToken(absl::string_view query,
                           absl::string_view authorization) {
  std::string token;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      ParseQuery(query);
  if (!params.ok()) return "";
  for (const auto& [key, value] : *params) {
    if (key != "token") continue;
    if (!token.empty() && token != value) return "";
    token = value;
  }
  const absl::string_view bearer = BearerToken(authorization);
  if (!bearer.empty()) {
    if (!token.empty() && token != bearer) return "";
    token = std::string(bearer);
  }
  return token;
}

}  // namespace

uint64_t ApiRoutes::MaxRequestBody(absl::string_view method,
                                   absl::string_view path) {
  if (method != "POST") return 0;
  return LogRouteHost(path).empty() ? kMaxApiBody : kMaxInstallLog;
}

uint64_t ApiRoutes::MaxRequestBodyFor(const HttpRequest& head) {
  if (head.method != "POST") return 0;
  const absl::string_view name = LogRouteHost(head.path);
  if (name.empty()) return kMaxApiBody;
  const std::string token = InstallerToken(head.query, head.authorization);
  if (!IsInstallTokenShape(token) ||
      !model_->CheckInstallerToken(name, token, head.client).ok()) {
    return kMaxApiBody;
  }
  return kMaxInstallLog;
}

bool ApiRoutes::AcceptsMethod(absl::string_view method,
                              absl::string_view path) {
  (void)path;
  return method == "GET" || method == "HEAD" || method == "POST";
}

HttpRouteResult ApiRoutes::Route(const HttpRequest& request) {
  const std::vector<absl::string_view> seg = Segments(request.path);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> query =
      ParseQuery(request.query);
  if (!query.ok()) {
    return Error(400, "bad_request",
                 absl::StrCat("query: ", query.status().message()));
  }
  // Which parameters a route takes: any other is a mistake worth saying.
  auto check_params =
      [&](std::initializer_list<absl::string_view> known) -> absl::Status {
    for (const auto& [key, value] : *query) {
      bool ok = false;
      for (absl::string_view k : known) ok |= key == k;
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown query parameter \"", log::Escaped(key, 32), "\""));
      }
    }
    return absl::OkStatus();
  };

  const absl::string_view what = seg.empty() ? "" : seg[0];
  if (what == "hosts" && seg.size() == 1) {
    if (!IsRead(request.method))
      return MethodNotAllowed(request.method, "GET, HEAD");
    if (absl::Status s = check_params({"phase", "group", "q"}); !s.ok()) {
      return Error(400, "bad_request", s.message());
    }
    absl::optional<std::string> phase, group, q;
    for (const auto& [key, value] : *query) {
      if (key == "phase") phase = value;
      if (key == "group") group = value;
      if (key == "q") q = absl::AsciiStrToLower(value);
    }
    if (phase.has_value()) {
      bool known = false;
      for (const char* p : kPhases) known |= *phase == p;
      if (!known) {
        return Error(400, "bad_request",
                     absl::StrCat("phase \"", log::Escaped(*phase, 32),
                                  "\" is not one of unknown, armed, dhcp, "
                                  "booting, installing, done, failed, "
                                  "installed, stalled"));
      }
    }
    std::vector<ApiHost> hosts = model_->Hosts();
    uint64_t counts[std::size(kPhases)] = {};
    std::string body;
    body.reserve(hosts.size() * 320 + 256);
    JsonWriter w(&body);
    w.Begin('{');
    w.Key("hosts");
    w.Begin('[');
    for (const ApiHost& h : hosts) {
      for (size_t i = 0; i < std::size(kPhases); ++i) {
        if (h.phase == kPhases[i]) ++counts[i];
      }
      if (phase.has_value() && h.phase != *phase) continue;
      if (group.has_value() && h.group != *group) continue;
      if (q.has_value() && !absl::StrContains(h.name, *q) &&
          !absl::StrContains(h.mac, *q) && !absl::StrContains(h.address, *q)) {
        continue;
      }
      w.Element();
      WriteHost(w, h, false);
    }
    w.End(']');
    w.Key("counts");
    w.Begin('{');
    for (size_t i = 0; i < std::size(kPhases); ++i) {
      w.Number(kPhases[i], counts[i]);
    }
    w.End('}');
    w.StringOrNull("degraded", model_->Degraded());
    w.Time("time", absl::Now());
    w.End('}');
    return TextResult(200, std::move(body));
  }
  if (what == "hosts" && (seg.size() == 2 || seg.size() == 3)) {
    const absl::string_view name = seg[1];
    if (absl::Status s = site::CheckDnsName(name); !s.ok()) {
      return Error(400, "bad_request",
                   absl::StrCat("\"", log::Escaped(name, 64),
                                "\" is not a host name: ", s.message()));
    }
    if (seg.size() == 3 && seg[2] == "log") {
      if (request.method == "POST") return PostLog(request, name);
      if (absl::Status s = check_params({}); !s.ok()) {
        return Error(400, "bad_request", s.message());
      }
      // An installer's log can hold what its answer file held (password
      // hashes, the network layout): the operator's credential, as writes.
      {
        absl::optional<std::string> token;
        {
          absl::MutexLock lock(&mu_);
          token = token_;
        }
        if (absl::optional<HttpRouteResult> denied =
                OperatorDenied(request, token, /*write=*/false)) {
          return *std::move(denied);
        }
      }
      absl::StatusOr<std::string> text = model_->InstallLog(name);
      if (!text.ok()) {
        if (text.status().code() == absl::StatusCode::kNotFound) {
          return Error(404, "not_found",
                       absl::StrCat("no installer log for \"", name, "\""));
        }
        HttpRouteResult r = Error(500, "internal", text.status().message());
        LOG(ERROR) << "api: GET " << LoggedPath(request.path) << ": "
                   << r.error;
        return r;
      }
      HttpRouteResult r;
      r.status = 200;
      r.kind = http::HttpRouteKind::kApi;
      r.has_body = true;
      r.body = *std::move(text);
      // Installer output, shown as text whatever it holds.
      r.content_type = "text/plain; charset=utf-8";
      r.headers.emplace_back("Cache-Control", "no-store");
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      r.headers.emplace_back("Content-Security-Policy", "sandbox");
      return r;
    }
    if (seg.size() == 3 && (seg[2] == "phase" || seg[2] == "done")) {
      if (request.method != "POST") {
        return MethodNotAllowed(request.method, "POST");
      }
      return Installer(request, name, seg[2] == "done");
    }
    if (seg.size() == 3) {
      if (seg[2] != "arm" && seg[2] != "disarm") {
        return Error(404, "not_found",
                     absl::StrCat("no route ", log::Escaped(request.path)));
      }
      if (request.method != "POST") {
        return MethodNotAllowed(request.method, "POST");
      }
      if (absl::Status s = check_params({}); !s.ok()) {
        return Error(400, "bad_request", s.message());
      }
      return Write(request, name, seg[2] == "arm");
    }
    if (!IsRead(request.method))
      return MethodNotAllowed(request.method, "GET, HEAD");
    if (absl::Status s = check_params({}); !s.ok()) {
      return Error(400, "bad_request", s.message());
    }
    absl::optional<ApiHost> host = model_->Host(name);
    if (!host.has_value()) {
      return Error(404, "not_found",
                   absl::StrCat("no host \"", name, "\" in the inventory"));
    }
    return HostResult(*host, true);
  }
  if ((what == "leases" || what == "transfers" || what == "events") &&
      seg.size() == 1) {
    if (!IsRead(request.method))
      return MethodNotAllowed(request.method, "GET, HEAD");
    if (what == "events") return Events(request);
    if (absl::Status s = check_params({}); !s.ok()) {
      return Error(400, "bad_request", s.message());
    }
    std::string body;
    JsonWriter w(&body);
    w.Begin('{');
    if (what == "leases") {
      bool truncated = false;
      std::vector<ApiLease> leases =
          model_->Leases(kMaxLeasesListed, &truncated);
      body.reserve(leases.size() * 160 + 64);
      w.Key("leases");
      w.Begin('[');
      for (const ApiLease& l : leases) {
        w.Element();
        w.Begin('{');
        w.String("mac", l.mac);
        w.String("address", l.address);
        w.String("state", l.state);
        w.Time("expires", l.expires);
        w.StringOrNull("host", l.host);
        w.StringOrNull("subnet", l.subnet);
        w.End('}');
      }
      w.End(']');
      w.Raw("truncated", truncated ? "true" : "false");
    } else {
      w.Key("transfers");
      w.Begin('[');
      for (const ApiTransfer& t : model_->Transfers()) {
        w.Element();
        WriteTransfer(w, t, true);
      }
      w.End(']');
    }
    w.End('}');
    return TextResult(200, std::move(body));
  }
  return Error(404, "not_found",
               absl::StrCat("no route ", log::Escaped(request.path),
                            " (docs/api.md lists them)"));
}

// Whether `request` carries the operator's credential: the bearer token of
// [api] token_file when one is set, else a loopback client (and, for a
// write, a JSON content type, which no cross-site form can send). nullopt
// when it does, else the refusal to answer.
absl::optional<HttpRouteResult> ApiRoutes::OperatorDenied(
    const HttpRequest& request, const absl::optional<std::string>& token,
    bool write) {
  const absl::string_view type = absl::StripAsciiWhitespace(
      request.content_type.substr(0, std::min(request.content_type.find(';'),
                                              request.content_type.size())));
  const bool json_type = absl::EqualsIgnoreCase(type, "application/json");
  if (token.has_value()) {
    constexpr absl::string_view kBearer = "Bearer ";
    absl::string_view given = request.authorization;
    const bool bearer =
        given.size() > kBearer.size() &&
        absl::EqualsIgnoreCase(given.substr(0, kBearer.size()), kBearer);
    if (!bearer ||
        !ConstantTimeEquals(
            absl::StripAsciiWhitespace(given.substr(kBearer.size())), *token)) {
      HttpRouteResult r =
          Error(401, "unauthorized",
                request.authorization.empty()
                    ? absl::StrCat(write ? "writes" : "installer logs",
                                   " need \"Authorization: Bearer <token>\" "
                                   "with the token of [api] token_file")
                    : "the bearer token does not match [api] token_file");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rackboot\"");
      return r;
    }
  } else {
    if (!IsLoopback(request.client)) {
      return Error(403, "forbidden",
                   write ? "no [api] token_file is set, so writes are taken "
                           "from loopback (127.0.0.1, ::1) only"
                         : "no [api] token_file is set, so installer logs "
                           "are shown to loopback (127.0.0.1, ::1) only");
    }
    // A browser sends a cross-site form or no-cors fetch without this
    // header (it would need a CORS preflight, which is never granted).
    if (write && !json_type) {
      return Error(415, "unsupported_media_type",
                   "without [api] token_file, a write needs "
                   "\"Content-Type: application/json\" (so that no "
                   "web page can post to loopback)");
    }
  }
  return absl::nullopt;
}

HttpRouteResult ApiRoutes::Write(const HttpRequest& request,
                                 absl::string_view name, bool arm) {
  const std::string who = request.client.ToString();
  const std::string line =
      absl::StrCat("api: POST ", LoggedPath(request.path), " from ", who);
  absl::optional<std::string> token;
  {
    absl::MutexLock lock(&mu_);
    token = token_;
  }
  // Refusals a flood can repeat: rate-limited lines.
  auto refuse = [&](HttpRouteResult r) {
    uint64_t suppressed = 0;
    bool allow;
    {
      absl::MutexLock lock(&mu_);
      allow = refused_log_.Allow(request.now, &suppressed);
    }
    if (allow) {
      LOG(WARNING) << line << ": refused " << r.status << " " << r.error
                   << log::SuppressedNote(suppressed);
    }
    return r;
  };
  const absl::string_view type = absl::StripAsciiWhitespace(
      request.content_type.substr(0, std::min(request.content_type.find(';'),
                                              request.content_type.size())));
  const bool json_type = absl::EqualsIgnoreCase(type, "application/json");
  if (absl::optional<HttpRouteResult> denied =
          OperatorDenied(request, token, /*write=*/true)) {
    return refuse(*std::move(denied));
  }
  if (!request.content_type.empty() && !json_type) {
    return refuse(Error(415, "unsupported_media_type",
                        "the body must be application/json"));
  }
  if (!absl::StripAsciiWhitespace(request.body).empty()) {
    Json body = Json::parse(request.body.begin(), request.body.end(), nullptr,
                            /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      return refuse(Error(400, "bad_json", "the body is not valid JSON"));
    }
    if (!body.is_object()) {
      return refuse(Error(400, "bad_request",
                          "the body must be a JSON object ({} or none)"));
    }
  }
  absl::StatusOr<ApiHost> host =
      model_->SetState(name, arm, absl::StrCat("api ", who));
  if (!host.ok()) {
    switch (host.status().code()) {
      case absl::StatusCode::kNotFound:
        return refuse(
            Error(404, "not_found",
                  absl::StrCat("no host \"", name, "\" in the inventory")));
      case absl::StatusCode::kFailedPrecondition:
        return refuse(Error(409, "conflict", host.status().message()));
      default: {
        HttpRouteResult r = Error(500, "internal", host.status().message());
        LOG(ERROR) << line << ": " << r.status << " " << r.error;
        return r;
      }
    }
  }
  LOG(INFO) << line << ": " << (arm ? "armed" : "disarmed");
  return HostResult(*host, false);
}

HttpRouteResult ApiRoutes::Refuse(const HttpRequest& request,
                                  absl::string_view line, HttpRouteResult r,
                                  absl::string_view why) {
  uint64_t suppressed = 0;
  bool allow;
  {
    absl::MutexLock lock(&mu_);
    allow = refused_log_.Allow(request.now, &suppressed);
  }
  if (allow) {
    LOG(WARNING) << line << ": refused " << r.status << " " << r.error
                 << (why.empty() ? "" : " (") << why << (why.empty() ? "" : ")")
                 << log::SuppressedNote(suppressed);
  }
  return r;
}

namespace {

// The model's reason for a log line: escaped, bare tokens cut.
std::string Why(const absl::Status& status) {
  return http::RedactHexRuns(log::Escaped(status.message()));
}

}  // namespace

HttpRouteResult ApiRoutes::Installer(const HttpRequest& request,
                                     absl::string_view name, bool done) {
  const std::string line = absl::StrCat("api: POST ", LoggedPath(request.path),
                                        " from ", request.client.ToString());
  if (!request.query.empty()) {
    return Refuse(request, line,
                  Error(400, "bad_request",
                        "the installer's reports take no query parameters"));
  }
  if (!absl::EqualsIgnoreCase(MediaType(request.content_type),
                              "application/json")) {
    return Refuse(request, line,
                  Error(415, "unsupported_media_type",
                        "an installer report needs \"Content-Type: "
                        "application/json\""));
  }
  Json body = Json::parse(request.body.begin(), request.body.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Refuse(request, line,
                  Error(400, "bad_json", "the body is not valid JSON"));
  }
  if (!body.is_object()) {
    return Refuse(request, line,
                  Error(400, "bad_request", "the body must be a JSON object"));
  }
  // Optional string members; another type is the client's mistake.
  auto member = [&](const char* key,
                    std::string* out) -> absl::optional<HttpRouteResult> {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return absl::nullopt;
    if (!it->is_string()) {
      return Error(400, "bad_request",
                   absl::StrCat("\"", key, "\" must be a string"));
    }
    *out = it->get<std::string>();
    return absl::nullopt;
  };
  std::string token, phase, detail;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"token", &token},
                          {"phase", &phase},
                          {"detail", &detail}}) {
    if (absl::optional<HttpRouteResult> bad = member(key, out)) {
      return Refuse(request, line, *std::move(bad));
    }
  }
  if (done) {
    phase = "done";
  } else if (phase != "installing" && phase != "failed") {
    return Refuse(
        request, line,
        Error(400, "bad_request",
              absl::StrCat("\"phase\" must be \"installing\" or \"failed\" "
                           "(POST .../done reports the end), not \"",
                           log::Escaped(phase, 32), "\"")));
  }
  if (detail.size() > kMaxInstallerDetail) detail.resize(kMaxInstallerDetail);
  const absl::string_view bearer = BearerToken(request.authorization);
  if (!bearer.empty() && !token.empty() && bearer != token) {
    return Refuse(request, line, TokenRefused(), "two different tokens");
  }
  if (token.empty()) token = std::string(bearer);
  if (token.empty()) return Refuse(request, line, TokenRefused(), "no token");
  if (!IsInstallTokenShape(token)) {
    return Refuse(request, line, TokenRefused(),
                  "not a token (32 lowercase hex digits)");
  }
  ApiInstallerReport report;
  report.hostname = std::string(name);
  report.token = std::move(token);
  report.phase = phase;
  report.detail = std::move(detail);
  report.client = request.client;
  absl::StatusOr<ApiHost> host = model_->InstallerReport(report);
  if (!host.ok()) {
    switch (host.status().code()) {
      case absl::StatusCode::kNotFound:
        return Refuse(
            request, line,
            Error(404, "not_found",
                  absl::StrCat("no host \"", name, "\" in the inventory")));
      case absl::StatusCode::kPermissionDenied:
        return Refuse(request, line, TokenRefused(), Why(host.status()));
      case absl::StatusCode::kInvalidArgument:
        return Refuse(request, line,
                      Error(400, "bad_request", Why(host.status())));
      default: {
        HttpRouteResult r = Error(500, "internal", Why(host.status()));
        LOG(ERROR) << line << ": " << r.status << " " << r.error;
        return r;
      }
    }
  }
  LOG(INFO) << line << ": installer reports " << phase
            << (report.detail.empty() ? "" : " ")
            << (report.detail.empty()
                    ? std::string()
                    : http::RedactHexRuns(log::Quoted(report.detail)));
  return HostResult(*host, false);
}

HttpRouteResult ApiRoutes::PostLog(const HttpRequest& request,
                                   absl::string_view name) {
  const std::string line = absl::StrCat("api: POST ", LoggedPath(request.path),
                                        " from ", request.client.ToString());
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> query =
      ParseQuery(request.query);
  if (!query.ok()) {
    return Refuse(request, line,
                  Error(400, "bad_request",
                        absl::StrCat("query: ", query.status().message())));
  }
  for (const auto& [key, value] : *query) {
    if (key != "token") {
      return Refuse(request, line,
                    Error(400, "bad_request",
                          absl::StrCat("unknown query parameter \"",
                                       log::Escaped(key, 32), "\"")));
    }
  }
  // curl -H 'Content-Type: text/plain' --data-binary, busybox wget
  // --post-file (form type), or raw bytes.
  const absl::string_view type = MediaType(request.content_type);
  if (!type.empty() && !absl::EqualsIgnoreCase(type, "text/plain") &&
      !absl::EqualsIgnoreCase(type, "application/octet-stream") &&
      !absl::EqualsIgnoreCase(type, "application/x-www-form-urlencoded")) {
    return Refuse(
        request, line,
        Error(415, "unsupported_media_type", "an installer log is text/plain"));
  }
  const std::string token =
      InstallerToken(request.query, request.authorization);
  if (token.empty()) {
    return Refuse(request, line, TokenRefused(), "no token, or two different");
  }
  if (!IsInstallTokenShape(token)) {
    return Refuse(request, line, TokenRefused(),
                  "not a token (32 lowercase hex digits)");
  }
  if (absl::Status s =
          model_->StoreInstallLog(name, token, request.client, request.body);
      !s.ok()) {
    switch (s.code()) {
      case absl::StatusCode::kNotFound:
        return Refuse(
            request, line,
            Error(404, "not_found",
                  absl::StrCat("no host \"", name, "\" in the inventory")));
      case absl::StatusCode::kPermissionDenied:
        return Refuse(request, line, TokenRefused(), Why(s));
      case absl::StatusCode::kInvalidArgument:
        return Refuse(request, line, Error(400, "bad_request", Why(s)));
      default: {
        HttpRouteResult r = Error(500, "internal", Why(s));
        LOG(ERROR) << line << ": " << r.status << " " << r.error;
        return r;
      }
    }
  }
  LOG(INFO) << line << ": installer log of " << request.body.size()
            << " bytes kept";
  std::string body;
  JsonWriter w(&body);
  w.Begin('{');
  w.String("name", name);
  w.Number("bytes", request.body.size());
  w.End('}');
  return TextResult(200, std::move(body));
}

HttpRouteResult ApiRoutes::Events(const HttpRequest& request) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> query =
      ParseQuery(request.query);
  absl::string_view after_text = request.last_event_id;
  for (const auto& [key, value] : *query) {
    if (key != "after") {
      return Error(400, "bad_request",
                   absl::StrCat("unknown query parameter \"",
                                log::Escaped(key, 32), "\""));
    }
    if (after_text.empty()) after_text = value;
  }
  if (!after_text.empty()) {
    uint64_t after = 0;
    if (!absl::SimpleAtoi(after_text, &after)) {
      return Error(400, "bad_request",
                   "Last-Event-ID (or ?after=) must be an event id (a "
                   "decimal number)");
    }
  }
  if (request.method == "HEAD") {
    HttpRouteResult r = JsonResult(200, Json::object());
    r.body.clear();
    r.content_type = "text/event-stream";
    return r;
  }
  absl::StatusOr<std::shared_ptr<http::HttpStream>> stream =
      model_->Subscribe(after_text);
  if (!stream.ok()) {
    if (stream.status().code() == absl::StatusCode::kResourceExhausted) {
      HttpRouteResult r = Error(503, "busy",
                                absl::StrCat("too many event subscribers: ",
                                             stream.status().message()));
      r.headers.emplace_back("Retry-After", "5");
      return r;
    }
    return Error(503, "busy", stream.status().message());
  }
  HttpRouteResult r;
  r.status = 200;
  r.kind = http::HttpRouteKind::kApi;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.stream = *std::move(stream);
  return r;
}

}  // namespace rackboot::api
