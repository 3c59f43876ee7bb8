// TftpService: the TFTP service of rackbootd, one TftpShard on every shard of
// the daemon's ShardGroup (engine/daemon).
//
// On each shard it binds a request socket to the same address with
// SO_REUSEPORT (the kernel spreads clients over the shards) and runs the
// transfers its shard started. Nothing on the packet path is shared; per
// request, a shard takes the FileCache's lock only when its own front misses
// (a file new to the shard or replaced), and one stripe of the per-client
// counts (TftpClientCounts) once when a transfer starts and once when it ends;
// its counters and metric cells are its own.
//
//   FileCache files(*FileRoot::Open(root), &rendered);   // owned by main
//   daemon::ShardGroup shards({...});
//   absl::StatusOr<std::unique_ptr<TftpService>> tftp =
//       TftpService::Create(options, &files, shards.shards());
//   shards.Start({tftp->get(), ...});
//   ... (*tftp)->counters() ...
//   shards.Stop();
//
// Create, the accessors and the Service methods run as daemon::Service says;
// counters() (atomics), the metrics and Metrics() may be read from any thread
// while the shards run.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_SERVICE_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/daemon/events.h"
#include "engine/daemon/service.h"
#include "engine/files/file_cache.h"
#include "engine/io/reactor.h"
#include "engine/metrics/metrics_registry.h"
#include "engine/tftp/tftp_admission.h"
#include "engine/tftp/tftp_counters.h"
#include "engine/tftp/tftp_shard.h"

namespace rackboot {

struct TftpServiceOptions {
  TftpShardOptions shard;
  // Caps across all shards (each shard gets its share of the first two):
  // transfers at once, further lowered to the descriptor budget; unconfirmed
  // transfers (no valid ACK yet; a new request beyond them evicts the
  // oldest); transfers per client address (0: none).
  size_t max_transfers = 16384;
  size_t max_unconfirmed = 1024;
  size_t max_per_client = 8;
  // Descriptors kept free below RLIMIT_NOFILE for what is not a transfer:
  // host-state files, the lease journal, logs, DHCP sockets, the file a shard
  // is opening (each shard's probe socket is counted with the shard).
  size_t descriptor_reserve = 256;
  // Receives a FileDelivered for every transfer that ends (bring-up phases);
  // borrowed, thread-safe, may be null. Besides shard.on_finished.
  daemon::EventSink* events = nullptr;
  // The daemon's registry (borrowed, outlives the service): the service
  // declares its families there (docs/metrics.md) and gives every shard its
  // cells. Null: a registry of the service's own (tests, tools).
  metrics::MetricsRegistry* metrics = nullptr;
};

class TftpService : public daemon::Service {
 public:
  // Main thread, before the shards start: raises RLIMIT_NOFILE and sizes the
  // descriptor budget for `shards` shards (the descriptors open now count:
  // create the services that hold descriptors for good first). Binds nothing
  // yet (StartShard does). REQUIRES: files outlives the service.
  static absl::StatusOr<std::unique_ptr<TftpService>> Create(
      const TftpServiceOptions& options, FileCache* files, int shards);
  ~TftpService() override;

  // daemon::Service. StartShard(0) binds tftp.listen (its port when 0 there
  // picks one the other shards join).
  absl::string_view name() const override { return "tftp"; }
  absl::Status StartShard(int shard, io::Reactor& reactor) override;
  void StopShard(int shard, io::Reactor& reactor) override;
  std::string Ready() const override;
  // The "tftp totals" of the stop log: completed, failed, refused, bytes,
  // retransmits, unknown_tid, busy, evicted.
  std::vector<daemon::Metric> Metrics() const override;

  // The request sockets' address. REQUIRES: shard 0 started.
  io::SocketAddress address() const { return address_; }
  // Transfers the service runs at most (all shards), after the descriptor
  // budget.
  size_t max_transfers() const { return max_transfers_; }
  int shards() const { return static_cast<int>(shards_.size()); }
  TftpCounters& counters() { return *counters_; }
  // Sums of the shards' metric cells; any thread.
  uint64_t bytes_sent() const;
  uint64_t retransmits() const;
  metrics::MetricsRegistry& metrics() { return *metrics_; }
  FileCache& files() { return *files_; }

 private:
  TftpService() = default;
  // Declares the TFTP families in `registry` (or a registry of its own) and
  // fills cells_ for `shards` shards.
  void DeclareMetrics(metrics::MetricsRegistry* registry, size_t shards);

  FileCache* files_ = nullptr;
  std::unique_ptr<TftpCounters> counters_;  // one TftpShardCounts per shard
  std::unique_ptr<metrics::MetricsRegistry> own_metrics_;  // if none given
  metrics::MetricsRegistry* metrics_ = nullptr;
  std::vector<TftpShardMetrics> cells_;        // shard i's, given to shard i
  std::vector<uint64_t> collectors_;           // removed by the destructor
  std::unique_ptr<TftpClientCounts> clients_;  // outlives the shards
  // Shard i's TftpShard, made and destroyed on shard i's thread.
  std::vector<std::unique_ptr<TftpShard>> shards_;
  TftpShardOptions shard_options_;  // listen: shard 0's address once bound
  size_t max_transfers_ = 0;
  // Written by StartShard(0) before any other shard starts (ShardGroup
  // starts shards in order); read-only afterwards.
  io::SocketAddress address_;
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_SERVICE_H_
