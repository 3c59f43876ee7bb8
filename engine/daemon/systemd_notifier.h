// SystemdNotifier: what rackbootd tells systemd about itself (sd_notify(3)
// through os::SdNotify): READY=1 once every service is bound, a STATUS= line
// a person can read, WATCHDOG=1 while every reactor thread turns its loop
// (ShardWatchdog), RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1,
// and, when startup fails, STATUS= with the error and ERRNO= where the error
// names one. Without NOTIFY_SOCKET every call is a no-op (a run by hand, a
// test), and the daemon behaves as before.
//
//   absl::StatusOr<std::unique_ptr<SystemdNotifier>> systemd =
//       SystemdNotifier::FromEnvironment();      // early in main
//   ... startup; any `return` before Ready sends the last ERROR line logged
//   (*systemd)->Ready({&shards, dhcp_thread.get()}, status);
//   main loop, every tick_interval(): (*systemd)->Tick(now, status);
//   SIGHUP: Reloading(); ...reload...; Reloaded(result, status);
//   SIGTERM: Stopping("SIGTERM");
//
// The startup error comes from a glog sink that keeps the last ERROR line
// logged between construction and Ready (main logs each failure as it
// returns), so no failure path needs its own notification call.
//
// Threads: everything on the main thread; the sink may be called from any
// thread and takes its own lock. The groups given to Ready must outlive the
// notifier (or be stopped before its last Tick).
#ifndef RACKBOOT_ENGINE_DAEMON_SYSTEMD_NOTIFIER_H_
#define RACKBOOT_ENGINE_DAEMON_SYSTEMD_NOTIFIER_H_

#include <glog/logging.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/daemon/shard_group.h"
#include "engine/daemon/shard_watchdog.h"
#include "engine/log/log_rate_limiter.h"
#include "engine/os/sd_notify.h"

namespace rackboot::daemon {

// What the STATUS= line counts; -1: that part does not apply (no inventory,
// TFTP or HTTP off).
struct DaemonCounts {
  int64_t hosts = -1;  // inventory hosts
  int64_t installing = 0;
  int64_t stalled = 0;
  int64_t failed = 0;
  int64_t tftp_transfers = -1;
  int64_t http_transfers = -1;
  // Why every host boots from its disk (host-states.tsv unreadable); "" when
  // the states apply.
  std::string degraded;
};

// "serving 212 hosts, 3 installing, 1 stalled, 14 TFTP transfers, 2 HTTP
// transfers" (stalled and failed only when some are); "; <degraded>" after.
std::string DaemonStatusLine(const DaemonCounts& counts);

// The errno whose description (strerrordesc_np: "Address already in use")
// `text` contains, the longest such; nullopt when none does.
absl::optional<int> ErrnoNamedIn(absl::string_view text);

class SystemdNotifier {
 public:
  // The main loop's tick without a watchdog (and at most with one).
  static constexpr absl::Duration kTick = absl::Seconds(1);

  // From NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID: their garbage is an
  // error naming the variable (the daemon refuses to start: systemd would
  // not hear from it or would kill it, whatever it did).
  static absl::StatusOr<std::unique_ptr<SystemdNotifier>> FromEnvironment();
  explicit SystemdNotifier(os::SdNotify notify);
  // Before Ready, when an ERROR line was logged since construction:
  // "STATUS=cannot start: <the last one>" and ERRNO= (ErrnoNamedIn).
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // How often the main loop must call Tick: kTick, or a third of
  // WATCHDOG_USEC when that is shorter, so that a ping always lands within
  // the interval even when one round of probes is slow.
  absl::Duration tick_interval() const;
  // NOTIFY_SOCKET was set.
  bool enabled() const { return notify_.enabled(); }

  // Startup is done (every service bound, DHCP's probe over, root dropped):
  // READY=1 with `status`; with a watchdog, probes `groups` from now on
  // (null entries are skipped). Call once.
  void Ready(std::vector<ShardGroup*> groups, absl::string_view status);
  // Main loop, every tick: WATCHDOG=1 when every shard answered the last
  // probe; STATUS= when the line (plus late shards, plus the last reload's
  // outcome) changed.
  void Tick(absl::Time now, absl::string_view status);
  // SIGHUP received: RELOADING=1, MONOTONIC_USEC=, STATUS=reloading.
  void Reloading();
  // The reload ended: READY=1 and STATUS= `status` with "; reload applied"
  // or "; reload refused: <why>" (kept on later STATUS= lines until the next
  // reload).
  void Reloaded(const absl::Status& result, absl::string_view status);
  // A stop signal: STOPPING=1, STATUS=stopping (<why>).
  void Stopping(absl::string_view why);

 private:
  class ErrorSink : public google::LogSink {
   public:
    void send(google::LogSeverity severity, const char*, const char*, int,
              const google::LogMessageTime&, const char* message,
              size_t length) override;
    std::string last() const;

   private:
    mutable std::mutex mu_;
    std::string last_;  // guarded by mu_
  };

  void Send(const std::string& message);

  os::SdNotify notify_;
  ErrorSink errors_;
  bool sink_added_ = false;
  bool ready_ = false;
  std::unique_ptr<ShardWatchdog> watchdog_;
  std::string reload_note_;  // "; reload applied", ...
  std::string last_status_;  // the last STATUS= sent
  log::LogRateLimiter send_errors_{1, absl::Minutes(1)};
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_SYSTEMD_NOTIFIER_H_
