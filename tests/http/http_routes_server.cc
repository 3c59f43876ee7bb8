// A small HTTP server for tests/http/http_routes_curl_test.sh: HttpService on
// one reactor (the same code rackbootd runs) with test routes added through
// HttpServiceOptions::routes, so real clients (curl) exercise POST bodies,
// generated answers and event streams before the daemon's own API routes
// exist:
//
//   POST /api/v1/echo      JSON {"method","content_type","authorization",
//                          "bytes","body"} of the request (bodies up to 4 KiB)
//   GET  /api/v1/echo      the same, without a body
//   GET  /api/v1/events    Server-Sent Events: "id: N\ndata: {...}\n\n" every
//                          50 ms from a producer thread, N counting from
//                          Last-Event-ID + 1; ?end=K ends the stream after
//                          event K (the server closes)
//   GET  /api/v1/inject    a route that tries to inject a header field
//   /boot/                 --root, as in rackbootd
//
// Usage: http_routes_server --root=DIR --port_file=FILE [--io=uring|epoll]
// Writes the bound port to FILE, serves until SIGTERM or SIGINT.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/http/fake_http_stream.h"
#include "engine/http/http_service.h"
#include "engine/io/reactor.h"
#include "glog/logging.h"

namespace rackboot::http {
namespace {

// JSON string escaping for the echo (enough for the test's bodies).
std::string Json(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

class TestApi : public HttpRoutes {
 public:
  TestApi() : producer_([this] { Produce(); }) {}
  ~TestApi() override {
    stop_ = true;
    producer_.join();
  }

  HttpRouteResult Route(const HttpRequest& request) override {
    HttpRouteResult r;
    r.kind = HttpRouteKind::kApi;
    if (request.path == "/api/v1/echo") {
      r.status = 200;
      r.has_body = true;
      r.content_type = "application/json";
      r.body = absl::StrCat("{\"method\":", Json(request.method),
                            ",\"content_type\":", Json(request.content_type),
                            ",\"authorization\":", Json(request.authorization),
                            ",\"query\":", Json(request.query),
                            ",\"bytes\":", request.body.size(),
                            ",\"body\":", Json(request.body), "}\n");
    } else if (request.path == "/api/v1/events") {
      uint64_t after = 0;
      (void)absl::SimpleAtoi(request.last_event_id, &after);
      uint64_t end = 0;
      absl::string_view query = request.query;
      if (absl::ConsumePrefix(&query, "end="))
        (void)absl::SimpleAtoi(query, &end);
      auto stream = std::make_shared<FakeHttpStream>();
      stream->Push(": hello\n\n");
      {
        absl::MutexLock lock(&mu_);
        subscribers_.push_back({stream, after, end});
      }
      r.status = 200;
      r.content_type = "text/event-stream";
      r.stream = std::move(stream);
    } else if (request.path == "/api/v1/inject") {
      r.status = 200;
      r.has_body = true;
      r.body = "injected?\n";
      r.headers = {{"X-Injected", "a\r\nSet-Cookie: evil=1"},
                   {"X-Fine", "yes"}};
    } else {
      r.status = 404;
      r.has_body = true;
      r.content_type = "application/json";
      r.body = "{\"error\":\"not_found\"}\n";
    }
    return r;
  }
  uint64_t MaxRequestBody(absl::string_view method,
                          absl::string_view path) override {
    return method == "POST" && path == "/api/v1/echo" ? 4096 : 0;
  }
  bool AcceptsMethod(absl::string_view method,
                     absl::string_view path) override {
    if (path == "/api/v1/echo") return true;
    return method == "GET" || method == "HEAD";
  }

 private:
  struct Subscriber {
    std::shared_ptr<FakeHttpStream> stream;
    uint64_t next;  // the last id sent
    uint64_t end;   // 0: endless
  };
  // Every 50 ms, one event to every subscriber the shard has not stopped.
  void Produce() {
    while (!stop_) {
      absl::SleepFor(absl::Milliseconds(50));
      absl::MutexLock lock(&mu_);
      std::vector<Subscriber> live;
      for (Subscriber& s : subscribers_) {
        if (s.stream->stopped()) continue;
        ++s.next;
        s.stream->Push(absl::StrCat(
            "id: ", s.next, "\nevent: host\ndata: {\"n\":", s.next, "}\n\n"));
        if (s.end != 0 && s.next >= s.end) {
          s.stream->End();
          continue;
        }
        live.push_back(s);
      }
      subscribers_ = std::move(live);
    }
  }

  absl::Mutex mu_;
  std::vector<Subscriber> subscribers_;
  std::atomic<bool> stop_{false};
  std::thread producer_;
};

io::Reactor* g_reactor = nullptr;
void OnSignal(int) {
  if (g_reactor != nullptr) g_reactor->Stop();
}

int Main(int argc, char** argv) {
  std::string root;
  std::string port_file;
  io::IoBackend backend = io::IoBackend::kAuto;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--root=")) {
      root = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--port_file=")) {
      port_file = std::string(a);
    } else if (a == "--io=uring") {
      backend = io::IoBackend::kIoUring;
    } else if (a == "--io=epoll") {
      backend = io::IoBackend::kEpoll;
    } else {
      std::fprintf(stderr,
                   "usage: %s --root=DIR --port_file=FILE [--io=uring|epoll]\n",
                   argv[0]);
      return 64;
    }
  }
  auto reactor = io::CreateReactor(backend);
  if (!reactor.ok()) {
    LOG(ERROR) << reactor.status();
    return 1;
  }
  TestApi api;
  HttpServiceOptions options;
  options.listen = io::SocketAddress::Ipv4Loopback(0);
  options.boot_root = root;
  options.routes = {{"/api/v1/", &api}};
  auto service = HttpService::Create(options, 1);
  if (!service.ok()) {
    LOG(ERROR) << service.status();
    return 1;
  }
  if (absl::Status s = (*service)->StartShard(0, **reactor); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  std::ofstream(port_file) << (*service)->address().port() << "\n";
  g_reactor = reactor->get();
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  absl::Status run = (*reactor)->Run();
  (*service)->StopShard(0, **reactor);
  LOG(INFO) << "http_routes_server: stopped ("
            << (*service)->counters().responses.load() << " responses)";
  return run.ok() ? 0 : 1;
}

}  // namespace
}  // namespace rackboot::http

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return rackboot::http::Main(argc, argv);
}
