// Service: one protocol of rackbootd (TFTP, DHCP, later HTTP) as the daemon
// runs it on a ShardGroup's threads.
//
// A service is made on the main thread by its own factory (TftpService::Create,
// DhcpService::Create, ...), which does everything that may fail before a
// thread starts and needs no reactor: opening roots, replaying the journal,
// probing the segment, sizing budgets. ShardGroup::Start then calls
// StartShard once per shard, on that shard's thread, with that shard's
// reactor: there the service binds its sockets (SO_REUSEPORT spreads clients
// over the shards) and keeps its per-shard state. Every service of a group
// shares the group's threads and reactors: one io_uring per core for all
// protocols (architecture principle 2).
//
// Adding a service to the daemon (engine/rackbootd.cc, "The services"):
//   1. a class implementing Service, made by a factory that returns
//      absl::StatusOr<std::unique_ptr<YourService>>;
//   2. in main: create it after the FileCache, push it into `services`;
//      ShardGroup::Start starts it on every shard with the others;
//   3. emit bring-up events into the daemon's EventSink (events.h).
//
// Threads: StartShard and StopShard run on the shard's thread (shard i's
// calls always on the same thread); Ready and Metrics on the controlling
// (main) thread; the factory and destructor there too, the destructor after
// the group stopped.
#ifndef RACKBOOT_ENGINE_DAEMON_SERVICE_H_
#define RACKBOOT_ENGINE_DAEMON_SERVICE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/io/reactor.h"

namespace rackboot::daemon {

// One counter as name and value ("tftp_transfers_completed", 12), for the
// stop-time totals lines only. The running view is engine/metrics: each
// service declares its families in the daemon's MetricsRegistry (given in its
// options) and GET /metrics reads them; Metrics() stays as the adapter that
// keeps the "<service> totals:" log lines.
struct Metric {
  std::string name;
  int64_t value = 0;
  bool operator==(const Metric&) const = default;
};

class Service {
 public:
  virtual ~Service() = default;

  // Short lower-case name for logs: "tftp", "dhcp", "http".
  virtual absl::string_view name() const = 0;

  // Shard `shard`'s thread, before its reactor runs: set up this service on
  // `reactor` (bind and Watch sockets, make the shard's state). Shards start
  // one after another in order (shard 0 first), so shard 0 may pick an
  // ephemeral port that later shards join. A non-OK status makes
  // ShardGroup::Start stop every shard already started and return it.
  // `reactor` outlives the matching StopShard.
  virtual absl::Status StartShard(int shard, io::Reactor& reactor) = 0;

  // Shard `shard`'s thread, after its reactor stopped running (or after a
  // later service failed to start on it): release what StartShard made
  // (unwatch sockets, drop sessions). Called only for shards whose StartShard
  // returned OK, in the reverse order of the services. The reactor is still
  // alive and is destroyed right after.
  virtual void StopShard(int shard, io::Reactor& reactor) = 0;

  // Main thread, after ShardGroup::Start succeeded: what the ready line says
  // ("TFTP on 0.0.0.0:69").
  virtual std::string Ready() const = 0;

  // Main thread: the counters now. REQUIRES: the group stopped, unless the
  // service documents that its counters may be read while it runs (TFTP's are
  // atomics; DHCP's belong to its thread).
  virtual std::vector<Metric> Metrics() const = 0;
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_SERVICE_H_
