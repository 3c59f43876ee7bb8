// ShardWatchdog: tells whether every reactor thread of the daemon still turns
// its loop, so that systemd's watchdog (WATCHDOG=1) measures the threads that
// serve, not only the main thread that sends the pings.
//
// The main thread's loop calls Check once per tick. A check posts a probe to
// every shard of every group (ShardGroup::Post: the probe runs on the shard's
// own thread, between its reactor's completions); the probe stores the round's
// sequence number in that shard's atomic. The next check counts the shards
// whose number is the round's: when all answered it returns true (the caller
// sends WATCHDOG=1) and starts the next round; when one has not, it returns
// false and starts no round (the late shard's queue gets no second probe), so
// pings stop until the shard runs again. A shard stuck in a handler, a
// blocking call or a livelock therefore stops the pings within two ticks, and
// systemd, after WatchdogSec without one, kills and restarts the daemon
// (Restart=); a shard whose thread ended (its reactor failed) cannot take a
// probe at all and counts as late for good.
//
//   ShardWatchdog watchdog({&shards, &dhcp_thread});  // groups started
//   each tick: if (watchdog.Check(now)) notify.Send("WATCHDOG=1");
//
// A shard is late once a round stayed unanswered for `late_after` (the main
// loop's tick: a round just posted is not late, only unanswered). Late shards
// are logged (WARNING, at most once per 10 s per watchdog, with how long and
// which shards), and their recovery once (INFO); Late() names them for
// STATUS=.
//
// Threads: Check, Late and the destructor on one thread (the main one). The
// groups are borrowed and must outlive the watchdog; probes own their share of
// the answers, so a probe that runs (or is destroyed unrun) after the watchdog
// is gone touches nothing freed. The probes' cost: one Post per shard per
// tick (a mutex, an eventfd write) and one atomic store on the shard.
#ifndef RACKBOOT_ENGINE_DAEMON_SHARD_WATCHDOG_H_
#define RACKBOOT_ENGINE_DAEMON_SHARD_WATCHDOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/daemon/shard_group.h"
#include "engine/log/log_rate_limiter.h"

namespace rackboot::daemon {

class ShardWatchdog {
 public:
  // REQUIRES: every group started (ShardGroup::Start returned OK).
  explicit ShardWatchdog(std::vector<ShardGroup*> groups,
                         absl::Duration late_after = absl::Seconds(1));
  ShardWatchdog(const ShardWatchdog&) = delete;
  ShardWatchdog& operator=(const ShardWatchdog&) = delete;

  // True when every shard answered the last round's probe (the first check,
  // with no round before it, is true); then a new round is posted. False
  // while any shard has not; logs late shards (see above).
  bool Check(absl::Time now);

  // The shards that have not answered the current round and for how long,
  // "shard-1 for 3.2s, dhcp-0 for 3.2s" (at most 8 named, then "and N
  // more"); "" when none is late (or the round is younger than
  // `late_after`).
  std::string Late(absl::Time now) const;

  // Every shard watched.
  int shards() const { return static_cast<int>(names_.size()); }

 private:
  // Every shard answered round_.
  bool AllAnswered() const;

  struct Slot {
    std::atomic<uint64_t> answered{0};
  };
  // Per shard, in group order: "shard-0", "dhcp-0".
  struct Target {
    ShardGroup* group;
    int index;
  };

  std::vector<Target> targets_;
  std::vector<std::string> names_;
  // Shared with the probes in flight.
  std::shared_ptr<std::vector<Slot>> slots_;
  const absl::Duration late_after_;
  uint64_t round_ = 0;  // the last round posted; 0: none yet
  absl::Time round_posted_ = absl::InfinitePast();
  bool late_logged_ = false;  // a late line went out in this stall
  log::LogRateLimiter late_log_{1, absl::Seconds(10)};
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_SHARD_WATCHDOG_H_
