// HttpShard on a real reactor (both backends) with real loopback sockets: the
// reactor runs on its own thread, the test is the client with blocking
// sockets.
#include "engine/http/http_shard.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/files/file_cache.h"
#include "engine/files/file_root.h"
#include "engine/http/http_service.h"
#include "engine/metrics/transfer_metrics.h"
#include "gtest/gtest.h"

namespace rackboot::http {
namespace {

namespace fs = std::filesystem;

class RecordingSink : public daemon::EventSink {
 public:
  void OnFileDelivered(const daemon::FileDelivered& event) override {
    absl::MutexLock lock(&mu_);
    files_.push_back(event);
  }
  void OnLeaseAcked(const daemon::LeaseAcked&) override {}
  std::vector<daemon::FileDelivered> files() {
    absl::MutexLock lock(&mu_);
    return files_;
  }

 private:
  absl::Mutex mu_;
  std::vector<daemon::FileDelivered> files_;
};

// A blocking client socket connected to `port` on 127.0.0.1.
int Connect(uint16_t port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, absl::string_view s) {
  while (!s.empty()) {
    ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one response (Content-Length framing): status, head, body. Status 0
// on EOF or timeout before a whole response.
struct Response {
  int status = 0;
  std::string head;
  std::string body;
};
Response ReadResponse(int fd, std::string& buffer, int chunk = 1 << 16,
                      absl::Duration pause = absl::ZeroDuration()) {
  Response r;
  char tmp[1 << 16];
  size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return r;
    buffer.append(tmp, static_cast<size_t>(n));
  }
  r.head = buffer.substr(0, end + 4);
  buffer.erase(0, end + 4);
  (void)absl::SimpleAtoi(r.head.substr(9, 3), &r.status);
  uint64_t length = 0;
  size_t cl = r.head.find("Content-Length: ");
  if (cl != std::string::npos) {
    (void)absl::SimpleAtoi(
        r.head.substr(cl + 16, r.head.find("\r\n", cl) - cl - 16), &length);
  }
  while (buffer.size() < length) {
    ssize_t n = recv(fd, tmp, static_cast<size_t>(chunk), 0);
    if (n <= 0) {
      r.status = 0;
      return r;
    }
    buffer.append(tmp, static_cast<size_t>(n));
    if (pause > absl::ZeroDuration()) absl::SleepFor(pause);
  }
  r.body = buffer.substr(0, length);
  buffer.erase(0, length);
  return r;
}

// True when the server closes `fd` within 3 s.
bool ClosedByServer(int fd) {
  char tmp[4096];
  for (;;) {
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

class HttpShardTest : public ::testing::TestWithParam<io::IoBackend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/http_shard_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    big_.resize(4 << 20);
    for (size_t i = 0; i < big_.size(); ++i) {
      big_[i] = static_cast<char>((i * 7919) >> 3);
    }
    std::ofstream(dir_ / "big") << big_;
    std::ofstream(dir_ / "small") << "hello";
    // The cache HttpService builds: mappings keep their descriptor.
    auto cache = OpenHttpFileCache(dir_.string(), nullptr, "test");
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = *std::move(cache);
    routes_ = std::make_unique<FileRoutes>(cache_.get(), nullptr);
  }
  void TearDown() override {
    StopServer();
    fs::remove_all(dir_);
  }

  void StartServer(size_t max_connections, HttpLimits limits = {}) {
    auto reactor = io::CreateReactor(GetParam());
    ASSERT_TRUE(reactor.ok()) << reactor.status();
    reactor_ = *std::move(reactor);
    budget_ = std::make_unique<HttpConnectionBudget>(max_connections);
    HttpShardOptions options;
    options.limits = limits;
    options.events = &sink_;
    const metrics::TransferFamilies transfers =
        metrics::DeclareTransferFamilies(registry_, 1);
    options.metrics.active = transfers.active->Cell({"http"}, 0);
    options.metrics.completed = transfers.total->Cell({"http", "complete"}, 0);
    options.metrics.failed = transfers.total->Cell({"http", "failed"}, 0);
    options.metrics.bytes = transfers.bytes->Cell({"http"}, 0);
    options.metrics.duration = transfers.duration->Cell({"http"}, 0);
    options.metrics.responses[0] =
        registry_.Counter("rackboot_http_responses_total", "R.", {"code"}, 1)
            ->Cell({"2xx"}, 0);
    shard_ = std::make_unique<HttpShard>(reactor_.get(), routes_.get(),
                                         &counters_, budget_.get(), options);
    auto listener = io::TcpSocket::Listen(io::SocketAddress::Ipv4Loopback(0));
    ASSERT_TRUE(listener.ok()) << listener.status();
    auto local = listener->LocalAddress();
    ASSERT_TRUE(local.ok());
    port_ = local->port();
    ASSERT_TRUE(shard_->Listen(*std::move(listener)).ok());
    thread_ = std::thread([this] { run_status_ = reactor_->Run(); });
  }
  void StopServer() {
    if (!thread_.joinable()) return;
    reactor_->Stop();
    thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_;
    file_bytes_sent_ = reactor_->counters().tcp_file_bytes_sent;
    shard_.reset();
    reactor_.reset();
  }

  fs::path dir_;
  std::string big_;
  std::unique_ptr<FileCache> cache_;
  std::unique_ptr<FileRoutes> routes_;
  std::unique_ptr<io::Reactor> reactor_;
  std::unique_ptr<HttpConnectionBudget> budget_;
  HttpCounters counters_;
  metrics::MetricsRegistry registry_{1};
  RecordingSink sink_;
  std::unique_ptr<HttpShard> shard_;
  std::thread thread_;
  absl::Status run_status_;
  uint16_t port_ = 0;
  uint64_t file_bytes_sent_ = 0;  // the reactor's sendfile bytes, at stop
};

INSTANTIATE_TEST_SUITE_P(Backends, HttpShardTest,
                         ::testing::Values(io::IoBackend::kIoUring,
                                           io::IoBackend::kEpoll),
                         [](const auto& info) {
                           return std::string(io::IoBackendName(info.param));
                         });

TEST_P(HttpShardTest, ServesWholeFileBySendfileAndReportsTheDelivery) {
  StartServer(16);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /boot/big HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string buffer;
  Response r = ReadResponse(fd, buffer);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == big_) << "body differs (" << r.body.size() << " bytes)";
  // Keep-alive: a second request on the same connection.
  SendAll(fd, "GET /boot/small HTTP/1.1\r\nHost: t\r\n\r\n");
  r = ReadResponse(fd, buffer);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  // The metrics, read while the shard runs (its report may trail the
  // client's last byte by a moment).
  for (int i = 0; i < 200 && registry_.Value("rackboot_transfers_total",
                                             {"http", "complete"}) < 2;
       ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(registry_.Value("rackboot_transfers_total", {"http", "complete"}),
            2);
  EXPECT_EQ(registry_.Value("rackboot_transfers_active", {"http"}), 0);
  EXPECT_EQ(registry_.Value("rackboot_http_responses_total", {"2xx"}), 2);
  EXPECT_GT(registry_.Value("rackboot_transfer_bytes_total", {"http"}),
            static_cast<double>(big_.size()));
  EXPECT_EQ(registry_.Value("rackboot_transfer_duration_seconds", {"http"}), 2);
  close(fd);
  StopServer();
  EXPECT_EQ(counters_.responses_2xx.load(), 2u);
  EXPECT_EQ(counters_.files_delivered.load(), 2u);
  std::vector<daemon::FileDelivered> files = sink_.files();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].file, "big");
  EXPECT_EQ(files[0].transport, daemon::Transport::kHttp);
  EXPECT_TRUE(files[0].complete);
  EXPECT_EQ(files[0].file_size, big_.size());
  // Both bodies left by sendfile (each file kept its descriptor), none by a
  // send from the mapping.
  EXPECT_EQ(file_bytes_sent_, big_.size() + 5);
}

// The Date header is the wall clock (the reactor's clock is monotonic: it
// read 1970 before).
TEST_P(HttpShardTest, DateHeaderIsTheWallClock) {
  StartServer(16);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "HEAD /boot/small HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string head;
  char tmp[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    ASSERT_GT(n, 0);
    head.append(tmp, static_cast<size_t>(n));
  }
  close(fd);
  const size_t at = head.find("\r\nDate: ");
  ASSERT_NE(at, std::string::npos) << head;
  const size_t end = head.find("\r\n", at + 2);
  const std::string date = head.substr(at + 8, end - at - 8);
  absl::Time t;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", date,
                              absl::UTCTimeZone(), &t, &error))
      << date << ": " << error;
  EXPECT_LT(absl::AbsDuration(t - absl::Now()), absl::Minutes(1)) << date;
}

// Past max_connections: 503 and a close; a freed slot is served again.
TEST_P(HttpShardTest, AnswersBusyPastTheConnectionCap) {
  StartServer(2);
  std::string b1, b2, b3;
  int a = Connect(port_), b = Connect(port_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  SendAll(a, "GET /boot/small HTTP/1.1\r\nHost: t\r\n\r\n");
  SendAll(b, "GET /boot/small HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(ReadResponse(a, b1).status, 200);
  EXPECT_EQ(ReadResponse(b, b2).status, 200);
  int c = Connect(port_);
  ASSERT_GE(c, 0);
  SendAll(c, "GET /boot/small HTTP/1.1\r\nHost: t\r\n\r\n");
  Response r = ReadResponse(c, b3);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(absl::StrContains(r.head, "Connection: close")) << r.head;
  EXPECT_TRUE(ClosedByServer(c));
  close(c);
  close(a);
  // The slot comes back once the shard sees a's end.
  Response again;
  for (int i = 0; i < 50 && again.status != 200; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    int d = Connect(port_);
    std::string bd;
    SendAll(d, "GET /boot/small HTTP/1.1\r\nHost: t\r\n\r\n");
    again = ReadResponse(d, bd);
    close(d);
  }
  EXPECT_EQ(again.status, 200);
  close(b);
  StopServer();
  EXPECT_GE(counters_.connections_refused.load(), 1u);
}

// A download slower than send_timeout in total, but moving all the time, is
// not a stalled one: the shard reads the reactor's send queue before the
// connection judges the timeout. (Without that, the download was cut at the
// first send timeout.)
TEST_P(HttpShardTest, SlowButMovingDownloadOutlivesTheSendTimeout) {
  HttpLimits limits;
  limits.send_timeout = absl::Milliseconds(300);
  StartServer(16, limits);
  int fd = Connect(port_, /*rcvbuf=*/64 << 10);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /boot/big HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string buffer;
  const absl::Time start = absl::Now();
  // 4 MiB in 64 KiB reads 20 ms apart: over a second, never 300 ms still.
  Response r = ReadResponse(fd, buffer, 64 << 10, absl::Milliseconds(20));
  EXPECT_GT(absl::Now() - start, absl::Milliseconds(600));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == big_) << "cut at " << buffer.size();
  close(fd);
}

// A client that stops reading is cut at the send timeout, and its slot freed.
TEST_P(HttpShardTest, StalledDownloadIsClosedAtTheSendTimeout) {
  HttpLimits limits;
  limits.send_timeout = absl::Milliseconds(300);
  StartServer(16, limits);
  int fd = Connect(port_, /*rcvbuf=*/16 << 10);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /boot/big HTTP/1.1\r\nHost: t\r\n\r\n");
  absl::SleepFor(absl::Milliseconds(1200));
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  StopServer();
  EXPECT_EQ(counters_.responses_incomplete.load(), 1u);
  EXPECT_EQ(counters_.connections_open.load(), 0u);
}

// Pipelined requests are answered in order, one at a time.
TEST_P(HttpShardTest, AnswersPipelinedRequestsInOrder) {
  StartServer(16);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "GET /boot/small HTTP/1.1\r\nHost: t\r\n\r\n"
          "HEAD /boot/big HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET /boot/big HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET /boot/nothing HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string buffer;
  Response r = ReadResponse(fd, buffer);
  EXPECT_EQ(r.body, "hello");
  // HEAD: a Content-Length but no body; read only the head.
  size_t end;
  char tmp[4096];
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    ASSERT_GT(n, 0);
    buffer.append(tmp, static_cast<size_t>(n));
  }
  EXPECT_TRUE(absl::StartsWith(buffer, "HTTP/1.1 200"));
  buffer.erase(0, end + 4);
  r = ReadResponse(fd, buffer);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == big_);
  r = ReadResponse(fd, buffer);
  EXPECT_EQ(r.status, 404);
  close(fd);
}

}  // namespace
}  // namespace rackboot::http
