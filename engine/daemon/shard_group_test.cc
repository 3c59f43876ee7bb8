// ShardGroup with test services on real reactors (both backends): threads
// start, every service starts on every shard on that shard's thread, the
// reactors run, Stop stops every shard and joins, and a service that fails to
// start stops the others cleanly.
#include "engine/daemon/shard_group.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/io/udp_socket.h"
#include "gtest/gtest.h"

namespace rackboot::daemon {
namespace {

// Records every call; on each shard it watches a UDP socket on 127.0.0.1
// (port 0) that echoes datagrams, so a test can see the reactor run.
class EchoService : public Service {
 public:
  explicit EchoService(std::string name, int fail_on_shard = -1)
      : name_(std::move(name)), fail_on_shard_(fail_on_shard) {}

  absl::string_view name() const override { return name_; }

  absl::Status StartShard(int shard, io::Reactor& reactor) override {
    absl::MutexLock lock(&mu_);
    events_.push_back("start " + std::to_string(shard));
    start_threads_[shard] = std::this_thread::get_id();
    if (shard == fail_on_shard_) {
      return absl::UnavailableError("port taken");
    }
    absl::StatusOr<io::UdpSocket> socket =
        io::UdpSocket::Bind(io::SocketAddress::Ipv4Loopback(0));
    if (!socket.ok()) return socket.status();
    absl::StatusOr<io::SocketAddress> local = socket->LocalAddress();
    if (!local.ok()) return local.status();
    auto echo = std::make_unique<Echo>(this, &reactor);
    absl::StatusOr<io::SocketToken> token =
        reactor.Watch(*std::move(socket), echo.get());
    if (!token.ok()) return token.status();
    echo->token = *token;
    echoes_by_shard_[shard] = std::move(echo);
    addresses_[shard] = *local;
    return absl::OkStatus();
  }

  void StopShard(int shard, io::Reactor& reactor) override {
    absl::MutexLock lock(&mu_);
    events_.push_back("stop " + std::to_string(shard));
    EXPECT_EQ(start_threads_[shard], std::this_thread::get_id());
    Echo& echo = *echoes_by_shard_.at(shard);
    EXPECT_EQ(echo.reactor, &reactor);
    reactor.Unwatch(echo.token);
  }

  std::string Ready() const override { return name_; }
  std::vector<Metric> Metrics() const override {
    absl::MutexLock lock(&mu_);
    return {{name_ + "_echoes", echoes_}};
  }

  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::map<int, std::thread::id> start_threads() const {
    absl::MutexLock lock(&mu_);
    return start_threads_;
  }
  std::map<int, io::SocketAddress> addresses() const {
    absl::MutexLock lock(&mu_);
    return addresses_;
  }

 private:
  // One shard's socket: answers on the shard's own reactor.
  struct Echo : io::ReactorHandler {
    Echo(EchoService* service, io::Reactor* reactor)
        : service(service), reactor(reactor) {}
    void OnDatagram(io::SocketToken token, absl::Span<const uint8_t> bytes,
                    const io::SocketAddress& from, absl::Time) override {
      {
        absl::MutexLock lock(&service->mu_);
        ++service->echoes_;
      }
      io::OutDatagram out{bytes, {}};
      io::SendOptions options;
      options.to = from;
      EXPECT_TRUE(reactor->Send(token, {&out, 1}, options).ok());
    }
    EchoService* const service;
    io::Reactor* const reactor;
    io::SocketToken token;
  };

  const std::string name_;
  const int fail_on_shard_;
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::thread::id> start_threads_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::unique_ptr<Echo>> echoes_by_shard_ ABSL_GUARDED_BY(mu_);
  std::map<int, io::SocketAddress> addresses_ ABSL_GUARDED_BY(mu_);
  int64_t echoes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Sends "ping" to `to` and waits up to `wait_ms` for the echo.
bool Echoes(const io::SocketAddress& to, int wait_ms = 2000) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char ping[] = "ping";
  sendto(fd, ping, 4, 0, to.sockaddr_ptr(), to.sockaddr_len());
  pollfd p{fd, POLLIN, 0};
  char reply[16] = {};
  const bool ok = poll(&p, 1, wait_ms) == 1 &&
                  recv(fd, reply, sizeof(reply), 0) == 4 &&
                  std::string(reply, 4) == "ping";
  close(fd);
  return ok;
}

class ShardGroupTest : public ::testing::TestWithParam<io::IoBackend> {
 protected:
  ShardGroupOptions Options() const {
    ShardGroupOptions options;
    options.name = "test";
    options.shards = 3;
    options.io = GetParam();
    return options;
  }
};

TEST_P(ShardGroupTest, EveryServiceStartsOnEveryShardOnItsOwnThread) {
  EchoService a("a"), b("b");
  {
    ShardGroup group(Options());
    EXPECT_EQ(group.shards(), 3);
    ASSERT_TRUE(group.Start({&a, &b}).ok());
    EXPECT_EQ(group.backend(), GetParam());
    // One thread per shard, shared by both services, none of them this one.
    std::set<std::thread::id> threads;
    for (int shard = 0; shard < 3; ++shard) {
      EXPECT_EQ(a.start_threads().at(shard), b.start_threads().at(shard));
      threads.insert(a.start_threads().at(shard));
    }
    EXPECT_EQ(threads.size(), 3u);
    EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
    // Shards start in order, each with every service before the next shard.
    EXPECT_EQ(a.events(),
              (std::vector<std::string>{"start 0", "start 1", "start 2"}));
    // Every shard's reactor runs: each socket answers.
    for (const auto& [shard, address] : a.addresses()) {
      EXPECT_TRUE(Echoes(address)) << "a on shard " << shard;
    }
    for (const auto& [shard, address] : b.addresses()) {
      EXPECT_TRUE(Echoes(address)) << "b on shard " << shard;
    }
    group.Stop();
    // Stop joined: every shard stopped its services, last service first.
    EXPECT_EQ(a.events().size(), 6u);
    EXPECT_EQ(b.events().size(), 6u);
    EXPECT_EQ(a.Metrics(), (std::vector<Metric>{{"a_echoes", 3}}));
    group.Stop();  // idempotent
  }
  // The sockets were unwatched and closed with their reactors.
  for (const auto& [shard, address] : a.addresses()) {
    EXPECT_FALSE(Echoes(address, 200));
  }
}

TEST_P(ShardGroupTest, AFailingServiceStopsTheOthersCleanly) {
  EchoService a("a"), b("b", /*fail_on_shard=*/1);
  ShardGroup group(Options());
  absl::Status started = group.Start({&a, &b});
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(started.message(), "b: port taken (shard 1 of test)");
  // Shard 2 never started; shard 1 stopped a (which started there) but not
  // b (which failed); shard 0 stopped both.
  std::vector<std::string> a_events = a.events();
  std::sort(a_events.begin(), a_events.end());
  EXPECT_EQ(a_events, (std::vector<std::string>{"start 0", "start 1", "stop 0",
                                                "stop 1"}));
  std::vector<std::string> b_events = b.events();
  std::sort(b_events.begin(), b_events.end());
  EXPECT_EQ(b_events,
            (std::vector<std::string>{"start 0", "start 1", "stop 0"}));
  for (const auto& [shard, address] : a.addresses()) {
    EXPECT_FALSE(Echoes(address, 200)) << "a on shard " << shard;
  }
  group.Stop();  // nothing left to stop
}

TEST(ShardGroupDefaults, OneShardPerCpu) {
  ShardGroup group({});
  EXPECT_EQ(group.shards(), static_cast<int>(std::max(
                                1u, std::thread::hardware_concurrency())));
}

INSTANTIATE_TEST_SUITE_P(Backends, ShardGroupTest,
                         ::testing::Values(io::IoBackend::kIoUring,
                                           io::IoBackend::kEpoll),
                         [](const auto& info) {
                           return std::string(io::IoBackendName(info.param));
                         });

}  // namespace
}  // namespace rackboot::daemon
