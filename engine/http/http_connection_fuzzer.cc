// Drives HttpConnection (pre-filter, llhttp, router, FileCache) over a small
// temporary boot tree with a fuzzed script of events, and checks what any
// input must keep true:
//   - at most one transmit is out; none after close() == kNow;
//   - every head is "HTTP/1.1 <code> ..." ending in CRLF CRLF, with exactly
//     one Content-Length (none for 204, 304 and a stream's head, which says
//     "Connection: close") that equals the body's length (GET) or is the
//     only thing a HEAD gets; no field a route tried to inject (a value
//     with CR LF in it) appears as a field of its own;
//   - a file slice lies inside its file, and its file is one of the tree's
//     (never the file beside the root that a symlink points to);
//   - an open connection always has a finite deadline (but a stream waiting
//     for its producer), and the script ends with the connection closed;
//   - a route sees a body only for a method it takes, never larger than it
//     allows, and a stream is handed out only for GET.
//
// The routes: FileRoutes under /boot/ and /repo/, and under /api/ a fuzz
// route: /api/echo takes POST bodies (at most 64 bytes) and echoes them,
// /api/s/NNN answers NNN with a JSON body, /api/e/NNN without one, /api/h
// answers fields with CR LF in them, /api/events a stream.
//
// Script: each byte b is one event.
//   b < 0x80          the next b + 1 bytes arrive from the client
//   0x80              the transmit out (if any) is sent completely
//   0x81              part of it is sent (OnSendProgress)
//   0x82              the client closes its side
//   0x83..0x86        time passes: 1 s, 11 s, 31 s, 61 s (then OnDeadline
//                     if due)
//   0x87              a stream sends a chunk (OnStreamSend) if none is out
//   0x88              the stream ends (OnStreamEnd) if no chunk is out
//   other             nothing (the caller is slow)
// After every event a ready transmit is polled (and held until 0x80); at the
// end everything is sent and time runs until the connection is closed.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "engine/files/file_cache.h"
#include "engine/http/http_connection.h"
#include "engine/http/http_routes.h"

namespace {

using rackboot::FileCache;
using rackboot::FileRoot;
using rackboot::MappedFile;
using namespace rackboot::http;  // NOLINT
namespace fs = std::filesystem;

#define CHECK_OR_DIE(cond)                                            \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                  \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

// A stream nothing produces for: the fuzzer plays the shard's part through
// the connection's stream calls.
class NullStream : public HttpStream {
 public:
  void Start(std::function<void()>) override {}
  bool Read(std::string*, size_t) override { return true; }
  void Stop() override {}
};

class FuzzApiRoutes : public HttpRoutes {
 public:
  HttpRouteResult Route(const HttpRequest& request) override {
    CHECK_OR_DIE(request.method == "GET" || request.method == "HEAD" ||
                 request.method == "POST");
    CHECK_OR_DIE(AcceptsMethod(request.method, request.path));
    CHECK_OR_DIE(request.body.size() <=
                 MaxRequestBody(request.method, request.path));
    CHECK_OR_DIE(request.body.size() <= 48);  // HttpLimits::max_request_body
    HttpRouteResult r;
    r.kind = HttpRouteKind::kApi;
    absl::string_view path = request.path;
    int code = 0;
    if (path == "/api/echo") {
      r.status = 200;
      r.has_body = true;
      r.content_type = "application/json";
      r.body = std::string(request.body);
    } else if (absl::ConsumePrefix(&path, "/api/s/") &&
               absl::SimpleAtoi(path, &code)) {
      r.status = code;
      r.has_body = true;
      r.body = "{\"error\":\"x\"}";
    } else if (absl::ConsumePrefix(&path, "/api/e/") &&
               absl::SimpleAtoi(path, &code)) {
      r.status = code;
      r.headers = {{"WWW-Authenticate", "Bearer"}, {"X-Bad", "a\r\nX-Evil: 1"}};
    } else if (path == "/api/h") {
      r.status = 200;
      r.has_body = true;
      r.body = std::string(request.query);
      r.content_type = "text/plain\r\nX-Evil: 2";
      r.headers = {{"X-Evil\r\nX-Evil", "3"},
                   {"X-Q", std::string(request.query)},
                   {"Content-Length", "0"}};
    } else if (path == "/api/events") {
      r.status = 200;
      r.content_type = "text/event-stream";
      r.stream = std::make_shared<NullStream>();
    }
    return r;
  }
  uint64_t MaxRequestBody(absl::string_view method,
                          absl::string_view path) override {
    return method == "POST" && path == "/api/echo" ? 64 : 0;
  }
  bool AcceptsMethod(absl::string_view method,
                     absl::string_view path) override {
    return path == "/api/echo" || method == "GET" || method == "HEAD";
  }
};

struct Tree {
  fs::path top;
  std::unique_ptr<FileCache> boot;
  std::unique_ptr<FileCache> repo;
  std::unique_ptr<FileRoutes> files;
  FuzzApiRoutes api;
  std::unique_ptr<PrefixRoutes> routes;

  Tree() {
    char tmpl[] = "/tmp/http_connection_fuzzer.XXXXXX";
    CHECK_OR_DIE(mkdtemp(tmpl) != nullptr);
    top = tmpl;
    fs::create_directories(top / "boot" / "sub");
    fs::create_directories(top / "repo");
    std::ofstream(top / "secret") << "SECRET";
    std::ofstream(top / "boot" / "ten") << "0123456789";
    std::ofstream(top / "boot" / "empty") << "";
    std::ofstream(top / "boot" / "sub" / "a.cfg") << "default local\n";
    std::ofstream(top / "boot" / "big") << std::string(5000, 'b');
    std::ofstream(top / "repo" / "r.deb") << "deb";
    fs::create_symlink("../secret", top / "boot" / "escape");
    fs::create_symlink("ten", top / "boot" / "link");
    boot = std::make_unique<FileCache>(*FileRoot::Open((top / "boot").string()),
                                       nullptr, FileCache::kDefaultKeepUnused,
                                       FileCache::kDefaultMaxDescriptors);
    repo =
        std::make_unique<FileCache>(*FileRoot::Open((top / "repo").string()));
    files = std::make_unique<FileRoutes>(boot.get(), repo.get());
    routes = *PrefixRoutes::Create(
        {{"/boot/", files.get()}, {"/repo/", files.get()}, {"/api/", &api}});
  }
  ~Tree() {
    std::error_code ignored;
    fs::remove_all(top, ignored);
  }
};

Tree& TheTree() {
  static Tree* tree = [] {
    static Tree t;
    return &t;
  }();
  return *tree;
}

bool KnownFile(const std::string& path) {
  return path == "ten" || path == "empty" || path == "sub/a.cfg" ||
         path == "big" || path == "r.deb";
}

// What a polled transmit must look like; returns the Content-Length (or -1
// for a 204, a 304 or a stream).
int64_t CheckTransmit(const HttpTransmit& t) {
  CHECK_OR_DIE(absl::StartsWith(t.head, "HTTP/1.1 "));
  CHECK_OR_DIE(absl::EndsWith(t.head, "\r\n\r\n"));
  CHECK_OR_DIE(t.inline_body.empty() || t.file.file == nullptr);
  int status = 0;
  CHECK_OR_DIE(absl::SimpleAtoi(t.head.substr(9, 3), &status));
  CHECK_OR_DIE(status >= 200 && status <= 599);
  int64_t content_length = -1;
  int count = 0;
  for (absl::string_view line : absl::StrSplit(t.head, "\r\n")) {
    if (absl::StartsWithIgnoreCase(line, "content-length:")) {
      ++count;
      CHECK_OR_DIE(absl::SimpleAtoi(line.substr(15), &content_length));
    }
    // Response header fields never carry a bare CR or LF of client text.
    CHECK_OR_DIE(line.find('\r') == absl::string_view::npos &&
                 line.find('\n') == absl::string_view::npos);
    // Nor a field a route smuggled in a value.
    CHECK_OR_DIE(!absl::StartsWithIgnoreCase(line, "x-evil"));
  }
  // (A HEAD of a stream route has no stream; the field is the route's, not
  // an echo of client text, which cannot hold CR LF.)
  const bool stream_head =
      t.stream != nullptr ||
      absl::StrContains(t.head, "\r\nContent-Type: text/event-stream\r\n");
  if (stream_head) {
    CHECK_OR_DIE(absl::StrContains(t.head, "\r\nConnection: close\r\n"));
    CHECK_OR_DIE(t.inline_body.empty() && t.file.file == nullptr);
  }
  CHECK_OR_DIE(count ==
               (status == 304 || status == 204 || stream_head ? 0 : 1));
  if (t.file.file != nullptr) {
    const MappedFile& f = *t.file.file;
    CHECK_OR_DIE(t.file.offset <= f.size());
    CHECK_OR_DIE(t.file.length <= f.size() - t.file.offset);
    CHECK_OR_DIE(KnownFile(f.relative_path()));
    CHECK_OR_DIE(static_cast<int64_t>(t.file.length) == content_length);
    CHECK_OR_DIE(status == 200 || status == 206);
  }
  if (!t.inline_body.empty()) {
    CHECK_OR_DIE(static_cast<int64_t>(t.inline_body.size()) == content_length);
  }
  return content_length;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Tree& tree = TheTree();
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  HttpLimits limits;
  limits.max_buffered_input = 2048;  // small, to reach pause and overflow
  limits.max_requests = 20;
  limits.max_request_body = 48;  // below the echo route's 64
  HttpConnection conn(tree.routes.get(), limits,
                      rackboot::io::SocketAddress::Ipv4({198, 18, 0, 7}, 999),
                      now);
  bool out = false;
  int64_t out_length = -1;
  uint64_t out_body = 0;

  auto check_report = [&]() {
    while (auto r = conn.TakeReport()) {
      CHECK_OR_DIE(r->status >= 200 && r->status <= 599);
      if (r->whole_file) CHECK_OR_DIE(KnownFile(r->file));
      CHECK_OR_DIE(!FormatReport(*r).empty());
    }
  };
  auto after_event = [&]() {
    if (conn.close() == HttpClose::kNow) {
      CHECK_OR_DIE(!conn.PollTransmit().has_value());
      CHECK_OR_DIE(conn.Deadline() == absl::InfiniteFuture());
      out = false;
    } else if (!conn.streaming() || out) {
      CHECK_OR_DIE(conn.Deadline() != absl::InfiniteFuture());
    }
    if (auto t = conn.PollTransmit()) {
      CHECK_OR_DIE(!out);  // one at a time
      out_length = CheckTransmit(*t);
      out_body = t->inline_body.size() + t->file.length;
      if (out_length >= 0 && out_body > 0) {
        CHECK_OR_DIE(static_cast<uint64_t>(out_length) == out_body);
      }
      out = true;
    }
    check_report();
  };
  auto send_done = [&]() {
    if (!out) return;
    out = false;
    conn.OnSendDone(now);
    // The first report is the transmit just sent: a HEAD never has a body
    // (it would be read as the next response).
    if (auto r = conn.TakeReport()) {
      CHECK_OR_DIE(r->complete);
      if (r->method == "HEAD") CHECK_OR_DIE(out_body == 0);
      CHECK_OR_DIE(r->bytes_sent > 0);
    }
  };

  size_t i = 0;
  while (i < size) {
    const uint8_t op = data[i++];
    if (op < 0x80) {
      const size_t n = std::min<size_t>(op + 1, size - i);
      conn.OnBytes(absl::Span<const uint8_t>(data + i, n), now);
      i += n;
    } else if (op == 0x80) {
      send_done();
    } else if (op == 0x81) {
      if (out) conn.OnSendProgress(1, now);
    } else if (op == 0x82) {
      conn.OnPeerClosed(now);
    } else if (op >= 0x83 && op <= 0x86) {
      static constexpr int kSeconds[] = {1, 11, 31, 61};
      now += absl::Seconds(kSeconds[op - 0x83]);
      if (now >= conn.Deadline()) conn.OnDeadline(now);
    } else if (op == 0x87) {
      if (conn.streaming() && !out && conn.close() == HttpClose::kNo) {
        conn.OnStreamSend(100, now);
        out = true;
        out_body = 100;
        out_length = -1;
        CHECK_OR_DIE(conn.Deadline() != absl::InfiniteFuture());
      }
    } else if (op == 0x88) {
      if (conn.streaming() && !out) {
        conn.OnStreamEnd(now);
        CHECK_OR_DIE(conn.close() == HttpClose::kNow);
      }
    }
    after_event();
  }
  // The end: send everything, let time run; the connection must settle.
  for (int round = 0; round < 100 && conn.close() != HttpClose::kNow; ++round) {
    send_done();
    after_event();
    if (!out && conn.streaming()) {
      conn.OnStreamEnd(now);
      after_event();
    } else if (!out && conn.close() == HttpClose::kNo) {
      now = std::max(now, conn.Deadline());
      conn.OnDeadline(now);
      after_event();
    }
  }
  CHECK_OR_DIE(conn.close() == HttpClose::kNow);
  return 0;
}
