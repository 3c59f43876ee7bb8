#include "engine/io/reactor.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/io/socket_address.h"
#include "engine/io/udp_socket.h"
#include "glog/logging.h"
#include "gtest/gtest.h"

namespace rackboot::io {
namespace {

void CheckOk(const absl::Status& status) { CHECK(status.ok()) << status; }

// A handler made of two functions.
class FnHandler : public ReactorHandler {
 public:
  std::function<void(SocketToken, absl::Span<const uint8_t>,
                     const SocketAddress&, absl::Time)>
      on_datagram;
  std::function<void(SocketToken, absl::Time)> on_deadline;

  void OnDatagram(SocketToken token, absl::Span<const uint8_t> bytes,
                  const SocketAddress& from, absl::Time now) override {
    if (on_datagram) on_datagram(token, bytes, from, now);
  }
  void OnDeadline(SocketToken token, absl::Time now) override {
    if (on_deadline) on_deadline(token, now);
  }
};

UdpSocket BindLoopback(int recv_buffer_bytes = 0) {
  UdpSocketOptions options;
  options.recv_buffer_bytes = recv_buffer_bytes;
  absl::StatusOr<UdpSocket> socket =
      UdpSocket::Bind(SocketAddress::Ipv4Loopback(0), options);
  CheckOk(socket.status());
  return std::move(*socket);
}

SocketAddress AddressOf(int fd) {
  UdpSocket borrowed(fd);
  absl::StatusOr<SocketAddress> address = borrowed.LocalAddress();
  borrowed.Release();
  CheckOk(address.status());
  return *address;
}

void SendTo(const UdpSocket& from, const SocketAddress& to,
            absl::string_view bytes) {
  ASSERT_EQ(::sendto(from.fd(), bytes.data(), bytes.size(), 0,
                     to.sockaddr_ptr(), to.sockaddr_len()),
            static_cast<ssize_t>(bytes.size()))
      << std::strerror(errno);
}

// Receives one datagram, waiting at most `timeout_ms`. Empty on timeout.
std::string RecvWithTimeout(int fd, int timeout_ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return "";
  std::string buffer(70000, '\0');
  ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0) return "";
  buffer.resize(n);
  return buffer;
}

// Runs the loop until `done` or 10 s pass.
bool RunUntil(Reactor& reactor, const std::function<bool()>& done) {
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > give_up) return false;
    CheckOk(reactor.RunOnce(absl::Milliseconds(10)));
  }
  return true;
}

class ReactorTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  std::unique_ptr<Reactor> MakeReactor(ReactorOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Reactor>> reactor =
        CreateReactor(GetParam(), options);
    CheckOk(reactor.status());
    CHECK((*reactor)->backend() == GetParam());
    return std::move(*reactor);
  }
};

std::string BackendName(const ::testing::TestParamInfo<IoBackend>& info) {
  return info.param == IoBackend::kIoUring ? "IoUring" : "Epoll";
}

INSTANTIATE_TEST_SUITE_P(Backends, ReactorTest,
                         ::testing::Values(IoBackend::kIoUring,
                                           IoBackend::kEpoll),
                         BackendName);

TEST_P(ReactorTest, ReceivesBurstOfThousandDatagrams) {
  auto reactor = MakeReactor();
  UdpSocket server = BindLoopback(8 << 20);
  SocketAddress server_address = AddressOf(server.fd());
  std::vector<int> seen(1000, 0);
  int received = 0;
  FnHandler handler;
  handler.on_datagram = [&](SocketToken, absl::Span<const uint8_t> bytes,
                            const SocketAddress&, absl::Time) {
    ASSERT_EQ(bytes.size(), 100u);
    int index;
    std::memcpy(&index, bytes.data(), sizeof(index));
    ASSERT_LT(index, 1000);
    ++seen[index];
    ++received;
  };
  ASSERT_TRUE(reactor->Watch(std::move(server), &handler).ok());
  UdpSocket client = BindLoopback();
  for (int i = 0; i < 1000; ++i) {
    std::string datagram(100, 'x');
    std::memcpy(datagram.data(), &i, sizeof(i));
    SendTo(client, server_address, datagram);
  }
  ASSERT_TRUE(RunUntil(*reactor, [&] { return received == 1000; })) << received;
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], 1) << i;
  EXPECT_EQ(reactor->counters().datagrams_received, 1000u);
  EXPECT_EQ(reactor->counters().bytes_received, 100000u);
}

TEST_P(ReactorTest, Echoes) {
  auto reactor = MakeReactor();
  UdpSocket server = BindLoopback();
  SocketAddress server_address = AddressOf(server.fd());
  FnHandler handler;
  handler.on_datagram = [&](SocketToken token, absl::Span<const uint8_t> bytes,
                            const SocketAddress& from, absl::Time) {
    SendOptions options;
    options.to = from;
    OutDatagram reply{bytes, {}};  // Header bytes are copied by Send().
    EXPECT_TRUE(reactor->Send(token, {&reply, 1}, options).ok());
  };
  ASSERT_TRUE(reactor->Watch(std::move(server), &handler).ok());
  UdpSocket client = BindLoopback();
  for (int i = 0; i < 3; ++i) {
    std::string ping = absl::StrCat("ping ", i);
    SendTo(client, server_address, ping);
    ASSERT_TRUE(RunUntil(*reactor, [&] {
      return reactor->counters().datagrams_sent == static_cast<uint64_t>(i + 1);
    }));
    EXPECT_EQ(RecvWithTimeout(client.fd()), ping);
  }
}

TEST_P(ReactorTest, TruncatedDatagramIsCountedAndDropped) {
  ReactorOptions options;
  options.recv_buffer_size = 512;
  auto reactor = MakeReactor(options);
  UdpSocket server = BindLoopback();
  SocketAddress server_address = AddressOf(server.fd());
  std::vector<size_t> sizes;
  FnHandler handler;
  handler.on_datagram = [&](SocketToken, absl::Span<const uint8_t> bytes,
                            const SocketAddress&,
                            absl::Time) { sizes.push_back(bytes.size()); };
  ASSERT_TRUE(reactor->Watch(std::move(server), &handler).ok());
  UdpSocket client = BindLoopback();
  SendTo(client, server_address, std::string(1000, 'b'));
  SendTo(client, server_address, "small");
  ASSERT_TRUE(RunUntil(*reactor, [&] { return sizes.size() == 1; }));
  EXPECT_EQ(sizes[0], 5u);
  EXPECT_EQ(reactor->counters().datagrams_truncated, 1u);
}

class WindowTest
    : public ::testing::TestWithParam<std::tuple<IoBackend, bool>> {};

INSTANTIATE_TEST_SUITE_P(
    BackendsAndGso, WindowTest,
    ::testing::Combine(::testing::Values(IoBackend::kIoUring,
                                         IoBackend::kEpoll),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<IoBackend, bool>>& info) {
      return absl::StrCat(
          std::get<0>(info.param) == IoBackend::kIoUring ? "IoUring" : "Epoll",
          std::get<1>(info.param) ? "Gso" : "NoGso");
    });

// A TFTP-like window: 64 datagrams of a 4-byte header plus a 1468-byte slice
// of one "file"; the last slice is shorter. Arrival must be byte-exact and in
// order.
TEST_P(WindowTest, SendsWindowOfHeaderPlusSlice) {
  const auto [backend, gso] = GetParam();
  absl::StatusOr<std::unique_ptr<Reactor>> created = CreateReactor(backend);
  ASSERT_TRUE(created.ok()) << created.status();
  Reactor& reactor = **created;

  constexpr int kWindow = 64;
  constexpr size_t kSlice = 1468;
  constexpr size_t kLastSlice = 300;
  auto file = std::make_shared<std::vector<uint8_t>>(kWindow * kSlice);
  for (size_t i = 0; i < file->size(); ++i) {
    (*file)[i] = static_cast<uint8_t>((i * 7919) >> 3);
  }
  UdpSocket receiver = BindLoopback(8 << 20);
  SocketAddress receiver_address = AddressOf(receiver.fd());
  UdpSocket sender = BindLoopback();
  ASSERT_TRUE(sender.Connect(receiver_address).ok());
  FnHandler handler;
  absl::StatusOr<SocketToken> token =
      reactor.Watch(std::move(sender), &handler);
  ASSERT_TRUE(token.ok());

  std::vector<std::array<uint8_t, 4>> headers(kWindow);
  std::vector<OutDatagram> window(kWindow);
  for (int i = 0; i < kWindow; ++i) {
    headers[i] = {0, 3, static_cast<uint8_t>((i + 1) >> 8),
                  static_cast<uint8_t>(i + 1)};
    size_t length = i + 1 == kWindow ? kLastSlice : kSlice;
    window[i] = {headers[i],
                 absl::MakeConstSpan(file->data() + i * kSlice, length)};
  }
  SendOptions options;
  options.gso = gso;
  options.keep_alive = file;
  ASSERT_TRUE(reactor.Send(*token, window, std::move(options)).ok());
  headers.assign(kWindow, {0xde, 0xad, 0xbe, 0xef});  // Headers were copied.
  ASSERT_TRUE(RunUntil(reactor, [&] {
    return reactor.counters().datagrams_sent == kWindow;
  })) << reactor.counters().send_errors;
  EXPECT_EQ(reactor.counters().send_errors, 0u);
  // GSO: 64 x 1472 bytes exceed one 64 KiB send, so two sendmsg calls.
  // Without: 64 sendmsg SQEs (io_uring) or one sendmmsg (epoll).
  const bool uring = backend == IoBackend::kIoUring;
  EXPECT_EQ(reactor.counters().send_operations, gso ? 2u : uring ? 64u : 1u);
  // io_uring: all SQEs leave with the loop's one io_uring_enter.
  EXPECT_EQ(reactor.counters().send_system_calls, uring ? 1u : gso ? 2u : 1u);

  for (int i = 0; i < kWindow; ++i) {
    std::string got = RecvWithTimeout(receiver.fd());
    size_t length = i + 1 == kWindow ? kLastSlice : kSlice;
    ASSERT_EQ(got.size(), 4 + length) << "datagram " << i;
    EXPECT_EQ(static_cast<uint8_t>(got[2]), (i + 1) >> 8);
    EXPECT_EQ(static_cast<uint8_t>(got[3]), static_cast<uint8_t>(i + 1))
        << "order at " << i;
    ASSERT_EQ(std::memcmp(got.data() + 4, file->data() + i * kSlice, length), 0)
        << "payload of datagram " << i;
  }
  // The reactor released its reference to the payload owner.
  EXPECT_EQ(file.use_count(), 1);
}

TEST_P(ReactorTest, RejectsMalformedGsoBatch) {
  auto reactor = MakeReactor();
  FnHandler handler;
  absl::StatusOr<SocketToken> token = reactor->Watch(BindLoopback(), &handler);
  ASSERT_TRUE(token.ok());
  uint8_t a[10] = {}, b[20] = {};
  OutDatagram batch[] = {{a, {}}, {b, {}}};  // Last larger than the first.
  SendOptions options;
  options.gso = true;
  EXPECT_EQ(reactor->Send(*token, batch, options).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ReactorTest, UnwatchFromInsideHandler) {
  auto reactor = MakeReactor();
  UdpSocket server = BindLoopback();
  SocketAddress server_address = AddressOf(server.fd());
  int calls = 0;
  FnHandler handler;
  handler.on_datagram = [&](SocketToken token, absl::Span<const uint8_t>,
                            const SocketAddress&, absl::Time) {
    ++calls;
    reactor->Unwatch(token);
    reactor->Unwatch(token);  // Stale now: ignored.
    EXPECT_EQ(reactor->fd(token), -1);
    EXPECT_EQ(reactor->Send(token, {}).code(), absl::StatusCode::kNotFound);
  };
  absl::StatusOr<SocketToken> token =
      reactor->Watch(std::move(server), &handler);
  ASSERT_TRUE(token.ok());
  reactor->SetDeadline(*token, reactor->Now() + absl::Milliseconds(1));
  handler.on_deadline = [&](SocketToken, absl::Time) {
    ADD_FAILURE() << "deadline of an unwatched socket fired";
  };
  UdpSocket client = BindLoopback();
  for (int i = 0; i < 5; ++i) SendTo(client, server_address, "x");
  ASSERT_TRUE(RunUntil(*reactor, [&] { return calls > 0; }));
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(reactor->RunOnce(absl::Milliseconds(2)).ok());
  EXPECT_EQ(calls, 1);

  // The reactor keeps working: a new socket (reusing the slot) gets its data,
  // and the old token does not name it.
  UdpSocket second = BindLoopback();
  SocketAddress second_address = AddressOf(second.fd());
  int second_calls = 0;
  FnHandler second_handler;
  second_handler.on_datagram = [&](SocketToken, absl::Span<const uint8_t>,
                                   const SocketAddress&,
                                   absl::Time) { ++second_calls; };
  absl::StatusOr<SocketToken> second_token =
      reactor->Watch(std::move(second), &second_handler);
  ASSERT_TRUE(second_token.ok());
  EXPECT_NE(*second_token, *token);
  EXPECT_EQ(reactor->fd(*token), -1);
  SendTo(client, second_address, "y");
  ASSERT_TRUE(RunUntil(*reactor, [&] { return second_calls == 1; }));
}

TEST_P(ReactorTest, UnwatchAnotherSocketFromHandler) {
  auto reactor = MakeReactor();
  UdpSocket a = BindLoopback();
  UdpSocket b = BindLoopback();
  SocketAddress a_address = AddressOf(a.fd());
  SocketAddress b_address = AddressOf(b.fd());
  SocketToken b_token;
  int a_calls = 0, b_calls = 0;
  FnHandler a_handler, b_handler;
  a_handler.on_datagram = [&](SocketToken, absl::Span<const uint8_t>,
                              const SocketAddress&, absl::Time) {
    ++a_calls;
    reactor->Unwatch(b_token);
  };
  b_handler.on_datagram = [&](SocketToken, absl::Span<const uint8_t>,
                              const SocketAddress&, absl::Time) { ++b_calls; };
  ASSERT_TRUE(reactor->Watch(std::move(a), &a_handler).ok());
  b_token = *reactor->Watch(std::move(b), &b_handler);
  UdpSocket client = BindLoopback();
  SendTo(client, a_address, "a");
  ASSERT_TRUE(RunUntil(*reactor, [&] { return a_calls == 1; }));
  SendTo(client, b_address, "b");
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(reactor->RunOnce(absl::Milliseconds(2)).ok());
  EXPECT_EQ(b_calls, 0);
}

TEST_P(ReactorTest, WatchesTwoThousandSockets) {
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 2100) GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low";

  constexpr int kSockets = 2000;
  auto reactor = MakeReactor();
  std::vector<SocketAddress> addresses;
  std::vector<SocketToken> tokens;
  absl::flat_hash_map<uint64_t, int> index_of;
  std::vector<int> received(kSockets, 0);
  FnHandler handler;
  handler.on_datagram = [&](SocketToken token, absl::Span<const uint8_t> bytes,
                            const SocketAddress&, absl::Time) {
    int index = index_of.at(token.value());
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), absl::StrCat(index));
    ++received[index];
  };
  for (int i = 0; i < kSockets; ++i) {
    UdpSocket socket = BindLoopback();
    addresses.push_back(AddressOf(socket.fd()));
    absl::StatusOr<SocketToken> token =
        reactor->Watch(std::move(socket), &handler);
    ASSERT_TRUE(token.ok()) << token.status();
    index_of[token->value()] = i;
    tokens.push_back(*token);
  }
  UdpSocket client = BindLoopback();
  for (int i = 0; i < kSockets; ++i) {
    SendTo(client, addresses[i], absl::StrCat(i));
  }
  int total = 0;
  ASSERT_TRUE(RunUntil(*reactor, [&] {
    total = 0;
    for (int r : received) total += r;
    return total == kSockets;
  })) << total;
  for (int i = 0; i < kSockets; ++i) EXPECT_EQ(received[i], 1) << i;
  for (SocketToken token : tokens) reactor->Unwatch(token);
}

TEST_P(ReactorTest, DeadlinesFireInOrderAndCancelledOnesDoNot) {
  auto reactor = MakeReactor();
  FnHandler handler;
  std::vector<SocketToken> tokens;
  for (int i = 0; i < 4; ++i) {
    tokens.push_back(*reactor->Watch(BindLoopback(), &handler));
  }
  std::vector<std::pair<int, absl::Duration>> fired;  // (index, lateness)
  std::vector<absl::Time> deadlines(4);
  handler.on_deadline = [&](SocketToken token, absl::Time now) {
    for (int i = 0; i < 4; ++i) {
      if (tokens[i] == token) {
        EXPECT_GE(now, deadlines[i]);
        EXPECT_GE(MonotonicNow(), deadlines[i]);
        fired.push_back({i, now - deadlines[i]});
      }
    }
  };
  const absl::Time start = MonotonicNow();
  deadlines = {start + absl::Milliseconds(30), start + absl::Milliseconds(10),
               start + absl::Milliseconds(20), start + absl::Milliseconds(15)};
  for (int i = 0; i < 4; ++i) reactor->SetDeadline(tokens[i], deadlines[i]);
  reactor->CancelDeadline(tokens[3]);
  // Moving a deadline replaces it.
  deadlines[2] = start + absl::Milliseconds(40);
  reactor->SetDeadline(tokens[2], deadlines[2]);
  ASSERT_TRUE(RunUntil(*reactor, [&] { return fired.size() >= 3; }));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(reactor->RunOnce(absl::Milliseconds(5)).ok());
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0].first, 1);
  EXPECT_EQ(fired[1].first, 0);
  EXPECT_EQ(fired[2].first, 2);
  for (const auto& [index, lateness] : fired) {
    // Generous: the machine may be loaded; typical lateness is < 1 ms.
    EXPECT_LT(lateness, absl::Milliseconds(50)) << index;
  }
}

TEST_P(ReactorTest, DeadlineWakesAnIdleRun) {
  auto reactor = MakeReactor();
  FnHandler handler;
  SocketToken token = *reactor->Watch(BindLoopback(), &handler);
  absl::Time deadline = MonotonicNow() + absl::Milliseconds(5);
  int count = 0;
  handler.on_deadline = [&](SocketToken t, absl::Time now) {
    EXPECT_GE(now, deadline);
    if (++count < 3) {
      deadline = now + absl::Milliseconds(2);
      reactor->SetDeadline(t, deadline);  // Re-arm from the callback.
    } else {
      reactor->Stop();
    }
  };
  reactor->SetDeadline(token, deadline);
  ASSERT_TRUE(reactor->Run().ok());
  EXPECT_EQ(count, 3);
}

TEST_P(ReactorTest, StopFromAnotherThread) {
  auto reactor = MakeReactor();
  FnHandler handler;
  ASSERT_TRUE(reactor->Watch(BindLoopback(), &handler).ok());
  absl::Notification started;
  std::thread stopper([&] {
    started.WaitForNotification();
    reactor->Stop();
  });
  started.Notify();
  ASSERT_TRUE(reactor->Run().ok());  // Returns only because of Stop().
  stopper.join();
}

TEST_P(ReactorTest, BufferExhaustionIsCountedAndRecovers) {
  ReactorOptions options;
  options.recv_buffer_count = 16;
  auto reactor = MakeReactor(options);
  UdpSocket server = BindLoopback(4 << 20);
  SocketAddress server_address = AddressOf(server.fd());
  int received = 0;
  FnHandler handler;
  handler.on_datagram = [&](SocketToken, absl::Span<const uint8_t>,
                            const SocketAddress&, absl::Time) { ++received; };
  ASSERT_TRUE(reactor->Watch(std::move(server), &handler).ok());
  // Arm the receive first (io_uring submits it in RunOnce).
  ASSERT_TRUE(reactor->RunOnce(absl::ZeroDuration()).ok());
  UdpSocket client = BindLoopback();
  for (int i = 0; i < 200; ++i) SendTo(client, server_address, "data");
  ASSERT_TRUE(RunUntil(*reactor, [&] { return received == 200; })) << received;
  if (GetParam() == IoBackend::kIoUring) {
    // 200 datagrams into 16 buffers: the multishot receive ran dry at least
    // once and was re-armed; nothing was lost (the socket queue held them).
    EXPECT_GT(reactor->counters().recv_buffer_exhausted, 0u);
  }
  SendTo(client, server_address, "after");
  ASSERT_TRUE(RunUntil(*reactor, [&] { return received == 201; }));
}

// Captures WARNING lines for the fallback test.
class WarningSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message,
            size_t length) override {
    if (severity == google::GLOG_WARNING) {
      lines.emplace_back(message, length);
    }
  }
  std::vector<std::string> lines;
};

// open_sockets() counts what holds a descriptor: watched sockets and unwatched
// ones the reactor has not closed yet (TFTP's descriptor budget relies on it).
TEST_P(ReactorTest, OpenSocketsCountsUntilClosed) {
  auto reactor = MakeReactor();
  FnHandler handler;
  std::vector<SocketToken> tokens;
  for (int i = 0; i < 3; ++i) {
    tokens.push_back(*reactor->Watch(BindLoopback(), &handler));
  }
  ASSERT_TRUE(reactor->RunOnce(absl::ZeroDuration()).ok());
  EXPECT_EQ(reactor->open_sockets(), 3u);
  reactor->Unwatch(tokens[0]);
  EXPECT_GE(reactor->open_sockets(), 2u);
  EXPECT_TRUE(RunUntil(*reactor, [&] { return reactor->open_sockets() == 2; }));
}

// Captures WARNING and ERROR lines.
class ProblemSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message,
            size_t length) override {
    if (severity >= google::GLOG_WARNING) lines.emplace_back(message, length);
  }
  std::vector<std::string> lines;
};

// A service stops its reactor thread, then drops its sockets from the
// controlling thread (TftpService::Stop). With more sockets than the
// submission queue holds, io_uring logged "io_uring_submit: File exists" once
// per socket (18,958 lines for 20,000 TFTP transfers at SIGTERM).
TEST_P(ReactorTest, UnwatchManyFromAnotherThreadAfterRunIsQuiet) {
  ReactorOptions options;
  options.sq_entries = 32;
  auto reactor = MakeReactor(options);
  FnHandler handler;
  std::vector<SocketToken> tokens;
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<SocketToken> token =
        reactor->Watch(BindLoopback(), &handler);
    ASSERT_TRUE(token.ok()) << token.status();
    tokens.push_back(*token);
  }
  std::thread runner([&] {
    for (int i = 0; i < 3; ++i)
      CheckOk(reactor->RunOnce(absl::Milliseconds(1)));
  });
  runner.join();
  ProblemSink sink;
  google::AddLogSink(&sink);
  for (SocketToken token : tokens) reactor->Unwatch(token);
  reactor.reset();
  google::RemoveLogSink(&sink);
  EXPECT_TRUE(sink.lines.empty())
      << sink.lines.size() << " lines, first: " << sink.lines[0];
}

TEST(CreateReactorTest, AutoFallsBackToEpollWithOneWarning) {
  WarningSink sink;
  google::AddLogSink(&sink);
  ReactorOptions options;
  options.force_io_uring_failure_for_testing = true;
  absl::StatusOr<std::unique_ptr<Reactor>> reactor =
      CreateReactor(IoBackend::kAuto, options);
  google::RemoveLogSink(&sink);
  ASSERT_TRUE(reactor.ok());
  EXPECT_EQ((*reactor)->backend(), IoBackend::kEpoll);
  ASSERT_EQ(sink.lines.size(), 1u);
  EXPECT_NE(sink.lines[0].find("io_uring"), std::string::npos) << sink.lines[0];
}

// kIoUring (--io=uring) never falls back: an error that says io_uring was
// required and why it is unavailable, and no warning about epoll.
TEST(CreateReactorTest, IoUringOnlyFailsWithoutFallingBack) {
  WarningSink sink;
  google::AddLogSink(&sink);
  ReactorOptions options;
  options.force_io_uring_failure_for_testing = true;
  absl::StatusOr<std::unique_ptr<Reactor>> reactor =
      CreateReactor(IoBackend::kIoUring, options);
  google::RemoveLogSink(&sink);
  ASSERT_FALSE(reactor.ok());
  EXPECT_NE(reactor.status().message().find(
                "io_uring unavailable and io_uring was required"),
            absl::string_view::npos)
      << reactor.status();
  EXPECT_NE(reactor.status().message().find(
                "disabled by force_io_uring_failure_for_testing"),
            absl::string_view::npos)
      << reactor.status();
  EXPECT_TRUE(sink.lines.empty());
}

TEST(CreateReactorTest, AutoPrefersIoUringWhenAvailable) {
  absl::StatusOr<std::unique_ptr<Reactor>> uring =
      CreateReactor(IoBackend::kIoUring);
  if (!uring.ok()) GTEST_SKIP() << uring.status();
  absl::StatusOr<std::unique_ptr<Reactor>> reactor =
      CreateReactor(IoBackend::kAuto);
  ASSERT_TRUE(reactor.ok());
  EXPECT_EQ((*reactor)->backend(), IoBackend::kIoUring);
}

}  // namespace
}  // namespace rackboot::io
