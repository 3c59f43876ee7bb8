// ShardWatchdog on real ShardGroups and reactors (both backends): healthy
// shards answer every round; a shard blocked by a posted task that waits on a
// latch stops the pings (and is named, and logged) until it is released; a
// stopped group never answers; ShardGroup::Post reaches the named shard.
#include "engine/daemon/shard_watchdog.h"

#include <glog/logging.h>
#include <pthread.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/daemon/idle_service.h"
#include "engine/daemon/shard_group.h"
#include "gtest/gtest.h"

namespace rackboot::daemon {
namespace {

// Captures WARNING and INFO lines of the watchdog.
class WatchdogSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message,
            size_t length) override {
    std::string line(message, length);
    if (line.rfind("watchdog:", 0) != 0) return;
    absl::MutexLock lock(&mu_);
    lines_.push_back((severity == google::GLOG_WARNING ? "W " : "I ") + line);
  }
  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_;
};

// Calls watchdog.Check every 20 ms until it returns `want`, for at most
// `limit`; whether it did.
bool CheckUntil(ShardWatchdog& watchdog, bool want,
                absl::Duration limit = absl::Seconds(5)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (watchdog.Check(absl::Now()) == want) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

class ShardWatchdogTest : public ::testing::TestWithParam<io::IoBackend> {
 protected:
  ShardGroupOptions Options(std::string name, int shards) const {
    ShardGroupOptions options;
    options.name = std::move(name);
    options.shards = shards;
    options.io = GetParam();
    return options;
  }
  IdleService service_;
};

TEST_P(ShardWatchdogTest, PostRunsOnTheNamedShardsThread) {
  ShardGroup group(Options("post", 2));
  EXPECT_FALSE(group.Post(0, [] {}));  // not started
  ASSERT_TRUE(group.Start({&service_}).ok());
  EXPECT_EQ(group.name(), "post");
  for (int shard = 0; shard < 2; ++shard) {
    absl::Notification ran;
    std::string thread;
    ASSERT_TRUE(group.Post(shard, [&] {
      char name[16] = {};
      pthread_getname_np(pthread_self(), name, sizeof(name));
      thread = name;
      ran.Notify();
    }));
    ASSERT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
    EXPECT_EQ(thread, "post-" + std::to_string(shard));
  }
  EXPECT_FALSE(group.Post(2, [] {}));
  EXPECT_FALSE(group.Post(-1, [] {}));
  group.Stop();
  EXPECT_FALSE(group.Post(0, [] {}));
}

TEST_P(ShardWatchdogTest, HealthyShardsAnswerEveryRound) {
  ShardGroup shards(Options("shard", 2));
  ShardGroup dhcp(Options("dhcp", 1));
  ASSERT_TRUE(shards.Start({&service_}).ok());
  ASSERT_TRUE(dhcp.Start({&service_}).ok());
  ShardWatchdog watchdog({&shards, &dhcp});
  EXPECT_EQ(watchdog.shards(), 3);
  EXPECT_EQ(watchdog.Late(absl::Now()), "");
  EXPECT_TRUE(watchdog.Check(absl::Now()));  // no round before: a ping
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(CheckUntil(watchdog, true)) << "round " << round;
  }
  // A round just posted is unanswered but not late (younger than a tick).
  EXPECT_EQ(watchdog.Late(absl::Now()), "");
}

// Releases `latch` when the test ends, also when an assertion returned
// early: a shard still blocked would hang the group's Stop (it joins).
struct ReleaseAtEnd {
  ~ReleaseAtEnd() {
    if (!latch.HasBeenNotified()) latch.Notify();
  }
  absl::Notification latch;
};

TEST_P(ShardWatchdogTest, ABlockedShardStopsThePingsUntilReleased) {
  WatchdogSink sink;
  google::AddLogSink(&sink);
  ShardGroup shards(Options("shard", 2));
  ShardGroup dhcp(Options("dhcp", 1));
  ASSERT_TRUE(shards.Start({&service_}).ok());
  ASSERT_TRUE(dhcp.Start({&service_}).ok());
  ReleaseAtEnd release;  // after the groups: destroyed (released) first
  ShardWatchdog watchdog({&shards, &dhcp}, absl::Milliseconds(100));
  ASSERT_TRUE(watchdog.Check(absl::Now()));  // round 1 posted

  // Shard 1 runs round 1's probe, then a task that waits on the latch.
  absl::Notification blocked;
  ASSERT_TRUE(shards.Post(1, [&] {
    blocked.Notify();
    release.latch.WaitForNotification();
  }));
  ASSERT_TRUE(blocked.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // Round 1 was answered everywhere (shard 1 ran it before blocking): one
  // more ping, and round 2 is posted, which shard 1 cannot run.
  ASSERT_TRUE(CheckUntil(watchdog, true));
  const absl::Time stuck = absl::Now();
  int checks = 0;
  while (absl::Now() - stuck < absl::Milliseconds(500)) {
    EXPECT_FALSE(watchdog.Check(absl::Now()))
        << "a ping while shard-1 is stuck";
    ++checks;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(checks, 10);
  // Only shard 1 is named (the others answered round 2 long ago).
  const std::string late = watchdog.Late(absl::Now());
  EXPECT_EQ(late.rfind("shard-1 for ", 0), 0u) << late;
  EXPECT_EQ(late.find("shard-0"), std::string::npos) << late;
  EXPECT_EQ(late.find("dhcp-0"), std::string::npos) << late;

  release.latch.Notify();
  ASSERT_TRUE(CheckUntil(watchdog, true, absl::Seconds(5)))
      << "no ping after shard-1 was released";
  EXPECT_TRUE(CheckUntil(watchdog, true));  // and they go on
  google::RemoveLogSink(&sink);
  // Logged once (rate-limited to one line per 10 s), then the recovery.
  const std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0].rfind("W watchdog: not answering: shard-1 for ", 0), 0u)
      << lines[0];
  EXPECT_NE(lines[0].find("no WATCHDOG=1"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("I watchdog: every shard answers again, after ", 0),
            0u)
      << lines[1];
}

TEST_P(ShardWatchdogTest, AStoppedGroupNeverAnswers) {
  ShardGroup shards(Options("shard", 2));
  ShardGroup dhcp(Options("dhcp", 1));
  ASSERT_TRUE(shards.Start({&service_}).ok());
  ASSERT_TRUE(dhcp.Start({&service_}).ok());
  ShardWatchdog watchdog({&shards, &dhcp}, absl::Milliseconds(100));
  ASSERT_TRUE(watchdog.Check(absl::Now()));
  ASSERT_TRUE(CheckUntil(watchdog, true));
  // DHCP's thread ends (as when its reactor fails): its probes cannot run.
  dhcp.Stop();
  // The round in flight may have been answered before the stop: once the
  // other shards answered it too, at most one more ping, then none.
  absl::SleepFor(absl::Milliseconds(200));
  watchdog.Check(absl::Now());
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(watchdog.Check(absl::Now()));
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(watchdog.Late(absl::Now()).rfind("dhcp-0 for ", 0), 0u)
      << watchdog.Late(absl::Now());
}

TEST_P(ShardWatchdogTest, LateNamesAtMostEightShards) {
  ShardGroup shards(Options("s", 10));
  ASSERT_TRUE(shards.Start({&service_}).ok());
  ShardWatchdog watchdog({&shards}, absl::ZeroDuration());
  shards.Stop();
  ASSERT_TRUE(watchdog.Check(absl::Now()));  // posts to nobody
  const std::string late = watchdog.Late(absl::Now());
  EXPECT_EQ(late.rfind("s-0 for 0, s-1 for 0, ", 0), 0u) << late;
  EXPECT_NE(late.find("s-7 for 0 and 2 more"), std::string::npos) << late;
  EXPECT_EQ(late.find("s-8"), std::string::npos) << late;
}

INSTANTIATE_TEST_SUITE_P(Backends, ShardWatchdogTest,
                         ::testing::Values(io::IoBackend::kIoUring,
                                           io::IoBackend::kEpoll),
                         [](const auto& info) {
                           return std::string(io::IoBackendName(info.param));
                         });

}  // namespace
}  // namespace rackboot::daemon
