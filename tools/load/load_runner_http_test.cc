// LoadRunner's http steps end to end over loopback TCP, on both reactor
// backends, against a small blocking server in this process whose answers
// each test chooses (good, closing, lying about the length, silent).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/load/load_runner.h"

namespace rackboot::load {
namespace {

std::string Content(size_t n, int seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<char>((i * 131 + seed) ^ (i >> 9));
  }
  return out;
}

// What the server does with one request: the bytes to write back, and
// whether to close the connection after them.
struct Answer {
  std::string bytes;
  bool close = false;
  bool silent = false;  // write nothing, keep the connection open
};

// A blocking loopback HTTP server: one thread per connection.
class TestServer {
 public:
  explicit TestServer(std::function<Answer(const std::string& path)> answer)
      : answer_(std::move(answer)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listen_fd_, 1024), 0);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TestServer() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
    for (std::thread& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      open_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          close(fd);
          return;
        }
        in.append(buf, static_cast<size_t>(n));
      }
      const std::string head = in.substr(0, end);
      in.erase(0, end + 4);
      ++requests_;
      const size_t sp = head.find(' ');
      const std::string path =
          head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
      const Answer a = answer_(path);
      if (a.silent) continue;
      size_t off = 0;
      while (off < a.bytes.size()) {
        const ssize_t n =
            send(fd, a.bytes.data() + off, a.bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      if (a.close) {
        shutdown(fd, SHUT_WR);
        // Drain until the client closes, so that no reset races the data.
        while (recv(fd, buf, sizeof(buf), 0) > 0) {
        }
        close(fd);
        return;
      }
    }
  }

  std::function<Answer(const std::string&)> answer_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::thread> workers_;
};

std::string Ok(const std::string& body, absl::string_view extra = "") {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(),
                      "\r\n", extra, "\r\n", body);
}

class LoadRunnerHttpTest : public ::testing::TestWithParam<io::IoBackend> {
 protected:
  absl::StatusOr<LoadReport> Run(const TestServer& server,
                                 absl::string_view flow, uint64_t clients,
                                 std::vector<std::string> verify = {},
                                 absl::Duration timeout = absl::Seconds(5)) {
    LoadOptions o;
    o.clients = clients;
    o.flow = *ParseFlow(flow);
    o.http_server = *ParseHttpServer(absl::StrCat("127.0.0.1:", server.port()));
    o.io = GetParam();
    o.verify = std::move(verify);
    o.http_first_byte_timeout = timeout;
    o.http_stall_timeout = timeout;
    o.duration = absl::Seconds(30);
    absl::StatusOr<std::unique_ptr<LoadRunner>> runner = LoadRunner::Create(o);
    if (!runner.ok()) return runner.status();
    return (*runner)->Run();
  }

  std::string WriteFile(const std::string& content) {
    const std::string path =
        absl::StrCat(testing::TempDir(), "/copy", files_++, ".bin");
    FILE* f = fopen(path.c_str(), "wb");
    fwrite(content.data(), 1, content.size(), f);
    fclose(f);
    return path;
  }

 private:
  int files_ = 0;
};

TEST_P(LoadRunnerHttpTest, EveryHostDownloadsBothFilesOnOneConnection) {
  const std::string kernel = Content(300 * 1024 + 17, 1);
  const std::string initrd = Content(1024 * 1024 + 3, 2);
  TestServer server([&](const std::string& path) {
    return Answer{Ok(path == "/boot/vmlinuz" ? kernel : initrd)};
  });
  absl::StatusOr<LoadReport> r =
      Run(server, "http:/boot/vmlinuz,http:/boot/initrd.img", 40,
          {WriteFile(kernel), WriteFile(initrd)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->completed, 40u);
  EXPECT_EQ(r->failed, 0u) << FormatSummary(*r);
  EXPECT_EQ(r->http.files, 80u);
  EXPECT_EQ(r->http.bytes, 40 * (kernel.size() + initrd.size()));
  EXPECT_EQ(r->http.connections, 40u);
  EXPECT_EQ(r->http.reused, 40u);
  EXPECT_EQ(server.connections(), 40);
  EXPECT_EQ(server.requests(), 80);
  ASSERT_EQ(r->phases.size(), 2u);
  EXPECT_EQ(r->phases[1].bytes, 40 * initrd.size());
  EXPECT_EQ(r->phases[1].latency.count(), 40u);
}

TEST_P(LoadRunnerHttpTest, ConnectionCloseMeansANewConnectionPerStep) {
  const std::string body = Content(5000, 3);
  TestServer server([&](const std::string&) {
    return Answer{Ok(body, "Connection: close\r\n"), /*close=*/true};
  });
  absl::StatusOr<LoadReport> r = Run(server, "http:/a,http:/b", 10);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->completed, 10u) << FormatSummary(*r);
  EXPECT_EQ(r->http.connections, 20u);
  EXPECT_EQ(r->http.reused, 0u);
}

TEST_P(LoadRunnerHttpTest, WrongAnswersFailWithTheirReason) {
  const std::string body = Content(100000, 4);
  TestServer server([&](const std::string& path) -> Answer {
    if (path == "/short") {  // announces more than it sends, then closes
      return {absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ",
                           body.size() + 10, "\r\n\r\n", body),
              /*close=*/true};
    }
    if (path == "/long") return {Ok(body) + "trailing junk"};
    if (path == "/changed") {
      std::string b = body;
      b[77777] ^= 1;
      return {Ok(b)};
    }
    if (path == "/silent") return {"", false, /*silent=*/true};
    return {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
  });
  const std::string copy = WriteFile(body);
  struct Case {
    const char* flow;
    const char* kind;
    bool verify;
  };
  for (const Case& c : {Case{"http:/short", "http-truncated", false},
                        Case{"http:/long", "http-extra-bytes", false},
                        Case{"http:/changed", "content-mismatch", true},
                        Case{"http:/silent", "http-first-byte-timeout", false},
                        Case{"http:/nothing", "http-status 404", false}}) {
    absl::StatusOr<LoadReport> r = Run(
        server, c.flow, 5,
        c.verify ? std::vector<std::string>{copy} : std::vector<std::string>{},
        absl::Milliseconds(300));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->completed, 0u) << c.flow << "\n" << FormatSummary(*r);
    EXPECT_EQ(r->failed, 5u) << c.flow;
    EXPECT_EQ(r->phases[0].errors[c.kind], 5u) << c.flow << "\n"
                                               << FormatSummary(*r);
    EXPECT_EQ(r->http.failed, 5u) << c.flow;
  }
}

TEST_P(LoadRunnerHttpTest, NobodyListeningIsAConnectFailure) {
  uint16_t port = 0;
  {
    TestServer gone([](const std::string&) { return Answer{}; });
    port = gone.port();
  }
  LoadOptions o;
  o.clients = 3;
  o.flow = *ParseFlow("http:/x");
  o.http_server = *ParseHttpServer(absl::StrCat("127.0.0.1:", port));
  o.io = GetParam();
  absl::StatusOr<std::unique_ptr<LoadRunner>> runner = LoadRunner::Create(o);
  ASSERT_TRUE(runner.ok()) << runner.status();
  absl::StatusOr<LoadReport> r = (*runner)->Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->failed, 3u);
  EXPECT_EQ(r->errors["http-connect-failed"], 3u) << FormatSummary(*r);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadRunnerHttpTest,
                         ::testing::Values(io::IoBackend::kEpoll,
                                           io::IoBackend::kIoUring),
                         [](const auto& info) {
                           return std::string(io::IoBackendName(info.param));
                         });

}  // namespace
}  // namespace rackboot::load
