// ShardGroup: the per-core threads of rackbootd, each with its own reactor,
// and the services that run on all of them (architecture principle 2).
//
// One group carries every protocol that spreads over cores (TFTP now, HTTP
// next): shard i is one thread, one reactor (one io_uring), and on it each
// service's per-shard state and sockets. DHCP is not in this group: it runs
// in a group of its own with exactly one shard, because it has exactly one
// writer (the lease table's owner), whose ACKs wait for the lease journal's
// fdatasync; on a thread of its own that writer never queues behind a TFTP or
// HTTP shard's windows during a power-on storm, the shard group's threads
// stay even (SO_REUSEPORT spreads TFTP and HTTP equally over them, so a shard
// that also carried DHCP would be the slowest), and --threads sizes the
// file-serving shards alone.
//
//   ShardGroup shards({.name = "shard", .shards = 0, .io = IoBackend::kAuto});
//   std::vector<Service*> services = {tftp.get(), http.get()};
//   if (absl::Status s = shards.Start(services); !s.ok()) ...;  // all stopped
//   ...
//   shards.Stop();  // every reactor stops, StopShard on each thread, joined
//
// Start creates the shards one after another: shard i's thread creates its
// reactor, calls StartShard of every service in order, and only then does
// shard i + 1 start. So shard 0 picks the backend (kAuto falls back to epoll
// once, with one log line) and may pick ports that the others join, and a
// failure stops the group before more threads exist.
//
// Threads: Start, Stop and the accessors belong to one controlling thread;
// Stop and Post may also come from other threads once Start has returned. The
// services are borrowed and must outlive Stop.
#ifndef RACKBOOT_ENGINE_DAEMON_SHARD_GROUP_H_
#define RACKBOOT_ENGINE_DAEMON_SHARD_GROUP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/daemon/service.h"
#include "engine/io/reactor.h"

namespace rackboot::daemon {

struct ShardGroupOptions {
  // Names the threads ("<name>-<i>", at most 15 characters, for top and perf)
  // and the log lines.
  std::string name = "shard";
  int shards = 0;  // 0: one per online CPU
  io::IoBackend io = io::IoBackend::kAuto;
  io::ReactorOptions reactor;
};

class ShardGroup {
 public:
  explicit ShardGroup(ShardGroupOptions options);
  ~ShardGroup();  // Stops.
  ShardGroup(const ShardGroup&) = delete;
  ShardGroup& operator=(const ShardGroup&) = delete;

  // The number of shards Start makes (options.shards, or the CPUs online).
  // Known before Start, so a service's factory can size its per-shard share.
  int shards() const { return shard_count_; }

  // Starts every shard with `services` on it and returns once all run, or
  // returns the first error ("<service>: <message> (shard <i> of <name>)")
  // after stopping and joining every shard it started. Call once.
  absl::Status Start(std::vector<Service*> services);

  // Stops every reactor; each shard's thread then calls StopShard of its
  // services (last first) and destroys its reactor; joins the threads.
  // Idempotent.
  void Stop();

  // The backend shard 0 got (never kAuto). REQUIRES: Start succeeded.
  io::IoBackend backend() const { return backend_; }

  // options.name: "shard", "dhcp" (shard i's thread is "<name>-<i>").
  const std::string& name() const { return options_.name; }

  // Runs `function` on shard `shard`'s thread, through its reactor's Post
  // (after that iteration's completions, in the order posted). Returns false,
  // running nothing, when that shard's reactor does not exist: before Start
  // reached it, after Stop, or after its thread ended. Any thread once Start
  // has returned (the ShardWatchdog's probes come from the main thread). A
  // function still queued when the shard stops is destroyed without running, so
  // it must own (or share) what it touches.
  bool Post(int shard, std::function<void()> function);

 private:
  struct Shard {
    std::thread thread;
    // Set by the shard's thread while its reactor exists, so Stop can reach
    // it; null before and after.
    io::Reactor* reactor = nullptr;
    bool start_done = false;
    absl::Status start_status;
  };

  void RunShard(int index, io::IoBackend backend);

  const ShardGroupOptions options_;
  const int shard_count_;
  std::vector<Service*> services_;
  io::IoBackend backend_ = io::IoBackend::kAuto;
  absl::Mutex mu_;
  // Sized by Start before any thread runs; entries guarded by mu_ except
  // `thread` (controlling thread only).
  std::vector<Shard> shards_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_SHARD_GROUP_H_
