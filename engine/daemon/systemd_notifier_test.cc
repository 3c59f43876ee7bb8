// SystemdNotifier against a real notify socket and real shard groups: the
// messages of each daemon event as systemd receives them, WATCHDOG=1 only
// while the shards answer, the startup failure as STATUS= and ERRNO=, and the
// status line's words.
#include "engine/daemon/systemd_notifier.h"

#include <errno.h>
#include <glog/logging.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/daemon/idle_service.h"
#include "engine/daemon/shard_group.h"
#include "engine/io/reactor.h"
#include "engine/os/notify_test_receiver.h"
#include "gtest/gtest.h"

namespace rackboot::daemon {
namespace {

using os::NotifyTestReceiver;

std::unique_ptr<SystemdNotifier> NotifierFor(const NotifyTestReceiver& r,
                                             const char* watchdog_usec) {
  absl::StatusOr<os::SdNotify> notify = os::SdNotify::FromValues(
      r.name().c_str(), watchdog_usec, nullptr, getpid());
  EXPECT_TRUE(notify.ok()) << notify.status();
  return std::make_unique<SystemdNotifier>(*std::move(notify));
}

TEST(DaemonStatusLine, SaysWhatIsServed) {
  DaemonCounts counts;
  counts.hosts = 212;
  counts.installing = 3;
  counts.tftp_transfers = 14;
  counts.http_transfers = 2;
  EXPECT_EQ(DaemonStatusLine(counts),
            "serving 212 hosts, 3 installing, 14 TFTP transfers, 2 HTTP "
            "transfers");
  counts.hosts = 1;
  counts.stalled = 1;
  counts.failed = 2;
  counts.tftp_transfers = 1;
  counts.http_transfers = -1;
  counts.degraded = "host-states.tsv unreadable: every host boots its disk";
  EXPECT_EQ(DaemonStatusLine(counts),
            "serving 1 host, 3 installing, 1 stalled, 2 failed, 1 TFTP "
            "transfer; host-states.tsv unreadable: every host boots its disk");
  DaemonCounts no_site;
  no_site.tftp_transfers = 0;
  EXPECT_EQ(DaemonStatusLine(no_site),
            "serving without an inventory, 0 TFTP transfers");
}

TEST(ErrnoNamedIn, FindsTheLongestDescription) {
  EXPECT_EQ(ErrnoNamedIn("cannot start TFTP: bind 0.0.0.0:69: Address "
                         "already in use (shard 0 of shard)"),
            EADDRINUSE);
  EXPECT_EQ(ErrnoNamedIn("open /srv/tftp: Permission denied"), EACCES);
  EXPECT_EQ(ErrnoNamedIn("io_uring_queue_init: Operation not permitted"),
            EPERM);
  EXPECT_EQ(ErrnoNamedIn("site.toml:3: tftp.root: not found in tftp.root"),
            absl::nullopt);
  EXPECT_EQ(ErrnoNamedIn(""), absl::nullopt);
}

TEST(SystemdNotifier, TickIntervalIsAThirdOfTheWatchdogAtMostASecond) {
  NotifyTestReceiver receiver(NotifyTestReceiver::AbstractName("tick"));
  EXPECT_EQ(NotifierFor(receiver, nullptr)->tick_interval(), absl::Seconds(1));
  EXPECT_EQ(NotifierFor(receiver, "2000000")->tick_interval(),
            absl::Milliseconds(2000) / 3);
  EXPECT_EQ(NotifierFor(receiver, "30000000")->tick_interval(),
            absl::Seconds(1));
}

TEST(SystemdNotifier, WithoutNotifySocketNothingIsSent) {
  SystemdNotifier notifier{os::SdNotify()};
  EXPECT_FALSE(notifier.enabled());
  EXPECT_EQ(notifier.tick_interval(), absl::Seconds(1));
  notifier.Ready({}, "serving");
  notifier.Tick(absl::Now(), "serving");
  notifier.Stopping("SIGTERM");  // no socket, no crash
}

TEST(SystemdNotifier, TheDaemonsLifeAsSystemdSeesIt) {
  NotifyTestReceiver receiver(NotifyTestReceiver::TempPath("notifier"));
  ASSERT_TRUE(receiver.bound());
  IdleService service;
  ShardGroupOptions options;
  options.name = "shard";
  options.shards = 2;
  options.io = io::IoBackend::kEpoll;
  ShardGroup shards(options);
  ASSERT_TRUE(shards.Start({&service}).ok());
  {
    std::unique_ptr<SystemdNotifier> notifier =
        NotifierFor(receiver, "300000");  // 0.3 s: ticks of 100 ms
    EXPECT_EQ(notifier->tick_interval(), absl::Milliseconds(100));
    notifier->Ready({&shards, nullptr}, "serving 2 hosts");
    EXPECT_EQ(receiver.Next(), "READY=1\nSTATUS=serving 2 hosts");

    // Ticks every 100 ms with `status` until a message holds `want`, for at
    // most 5 s; false if none did. Messages before it are dropped.
    auto tick_until = [&](absl::string_view status, absl::string_view want) {
      for (int i = 0; i < 50; ++i) {
        notifier->Tick(absl::Now(), status);
        if (absl::StrContains(receiver.Next(100), want)) return true;
      }
      return false;
    };
    // Every shard answers: pings; STATUS= when the line changes.
    EXPECT_TRUE(tick_until("serving 2 hosts", "WATCHDOG=1"));
    EXPECT_TRUE(tick_until("serving 2 hosts, 1 installing",
                           "STATUS=serving 2 hosts, 1 installing"));
    int pings = 0;
    for (int i = 0; i < 5; ++i) {
      pings += tick_until("serving 2 hosts, 1 installing", "WATCHDOG=1");
    }
    EXPECT_EQ(pings, 5);
    // Unchanged, the line is not sent again.
    notifier->Tick(absl::Now(), "serving 2 hosts, 1 installing");
    std::string message = receiver.Next(200);
    EXPECT_FALSE(absl::StrContains(message, "STATUS=")) << message;

    // Shard 1 blocked: the status names it, and no ping comes.
    absl::Notification release, blocked;
    ASSERT_TRUE(shards.Post(1, [&] {
      blocked.Notify();
      release.WaitForNotification();
    }));
    ASSERT_TRUE(blocked.WaitForNotificationWithTimeout(absl::Seconds(5)));
    EXPECT_TRUE(tick_until(
        "serving 2 hosts, 1 installing",
        "STATUS=serving 2 hosts, 1 installing; not answering: shard-1 for "));
    for (int i = 0; i < 5; ++i) {
      notifier->Tick(absl::Now(), "serving 2 hosts, 1 installing");
      message = receiver.Next(100);
      EXPECT_FALSE(absl::StrContains(message, "WATCHDOG=1")) << message;
    }
    release.Notify();
    EXPECT_TRUE(tick_until("serving 2 hosts, 1 installing", "WATCHDOG=1"))
        << "no ping after the shard was released";
    while (receiver.Next(50) != "<none>") {
    }

    // SIGHUP: RELOADING=1 with the monotonic clock, then READY=1 with the
    // outcome, which stays on the status line.
    const absl::Time before = io::MonotonicNow();
    notifier->Reloading();
    message = receiver.Next();
    ASSERT_TRUE(absl::StartsWith(message, "RELOADING=1\nMONOTONIC_USEC="))
        << message;
    EXPECT_TRUE(absl::EndsWith(message, "\nSTATUS=reloading")) << message;
    const int64_t usec = std::stoll(message.substr(27));
    EXPECT_GE(usec, absl::ToUnixMicros(before));
    EXPECT_LE(usec, absl::ToUnixMicros(io::MonotonicNow()));
    notifier->Reloaded(absl::InvalidArgumentError("site.toml:3: bad\nmore"),
                       "serving 2 hosts");
    EXPECT_EQ(receiver.Next(),
              "READY=1\nSTATUS=serving 2 hosts; reload refused: "
              "site.toml:3: bad more");
    notifier->Reloading();
    receiver.Next();
    notifier->Reloaded(absl::OkStatus(), "serving 3 hosts");
    EXPECT_EQ(receiver.Next(),
              "READY=1\nSTATUS=serving 3 hosts; reload applied");

    notifier->Stopping("SIGTERM");
    EXPECT_EQ(receiver.Next(), "STOPPING=1\nSTATUS=stopping (SIGTERM)");
  }
  // After Ready, destruction sends nothing.
  EXPECT_EQ(receiver.Next(200), "<none>");
  shards.Stop();
}

TEST(SystemdNotifier, AStartupFailureSendsTheLastErrorAndItsErrno) {
  NotifyTestReceiver receiver(NotifyTestReceiver::AbstractName("fail"));
  ASSERT_TRUE(receiver.bound());
  {
    std::unique_ptr<SystemdNotifier> notifier = NotifierFor(receiver, nullptr);
    LOG(ERROR) << "an earlier error that startup survived";
    LOG(WARNING) << "a warning is not the cause";
    LOG(ERROR) << "cannot start TFTP: bind 127.0.0.1:69: Address already in "
                  "use (shard 0 of shard)";
  }
  EXPECT_EQ(receiver.Next(),
            "STATUS=cannot start: cannot start TFTP: bind 127.0.0.1:69: "
            "Address already in use (shard 0 of shard)\nERRNO=98");
  {
    // A configuration error: its lines as one, no errno.
    std::unique_ptr<SystemdNotifier> notifier = NotifierFor(receiver, nullptr);
    LOG(ERROR) << "configuration error:\nsite.toml:4: tftp.root: missing";
  }
  EXPECT_EQ(receiver.Next(),
            "STATUS=cannot start: configuration error: site.toml:4: "
            "tftp.root: missing");
  {
    // No error logged: an exit before Ready that is no failure (a mode that
    // serves nothing, --help): nothing said.
    std::unique_ptr<SystemdNotifier> notifier = NotifierFor(receiver, nullptr);
    LOG(WARNING) << "only a warning";
  }
  EXPECT_EQ(receiver.Next(200), "<none>");
  {
    // Errors after Ready are not a startup failure.
    std::unique_ptr<SystemdNotifier> notifier = NotifierFor(receiver, nullptr);
    notifier->Ready({}, "serving");
    EXPECT_EQ(receiver.Next(), "READY=1\nSTATUS=serving");
    LOG(ERROR) << "later: Permission denied";
  }
  EXPECT_EQ(receiver.Next(200), "<none>");
}

}  // namespace
}  // namespace rackboot::daemon
