// DhcpService: the DHCP service of rackbootd: lease table, lease journal,
// server and shard, run by a daemon::ShardGroup of exactly one shard (DHCP
// has exactly one writer, the lease table's owner: architecture principle 2;
// engine/daemon/shard_group.h says why it is a group of its own).
//
//   absl::StatusOr<std::unique_ptr<DhcpService>> dhcp =
//       DhcpService::Create(options, &hosts);
//   daemon::ShardGroup dhcp_thread({.name = "dhcp", .shards = 1, ...});
//   dhcp_thread.Start({dhcp->get()});
//   ... (*dhcp)->leases().Lookup(address)   // any thread, lock-free
//   dhcp_thread.Stop();                     // the journal is synced
//
// Create checks the segment for another DHCP server first (authoritative
// mode), replays the journal into the table and compacts it when it has
// grown; StartShard binds the ports on the DHCP thread. Create and the
// accessors belong to one controlling thread; leases() and UpdateConfig may be
// called from any thread.
#ifndef RACKBOOT_ENGINE_DHCP_DHCP_SERVICE_H_
#define RACKBOOT_ENGINE_DHCP_DHCP_SERVICE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/daemon/events.h"
#include "engine/daemon/service.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/dhcp/dhcp_shard.h"
#include "engine/dhcp/lease_journal.h"
#include "engine/dhcp/lease_table.h"
#include "engine/io/reactor.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::dhcp {

struct DhcpServiceOptions {
  DhcpServerConfig server;
  DhcpShardOptions shard;
  std::string state_dir;  // the journal lives in <state_dir>/leases.journal
  io::IoBackend io = io::IoBackend::kAuto;
  // Authoritative mode: broadcast two DISCOVERs first (at 0 and probe_wait /
  // 2), listen probe_wait in all, and refuse to start if anyone offers
  // (dhcp_probe.h says why 5 s).
  bool probe = true;
  absl::Duration probe_wait = absl::Seconds(5);
  bool allow_other_dhcp = false;  // then a loud warning instead of a refusal
  uint64_t compact_after_bytes = uint64_t{64} << 20;
  // LeaseJournal::Options::commit_window: how long the journal gathers ACKs
  // into one fdatasync.
  absl::Duration commit_window = absl::Milliseconds(2);
  // Receives a LeaseAcked for every DHCPACK sent (bring-up phases);
  // borrowed, thread-safe, may be null. Besides shard.on_reply.
  daemon::EventSink* events = nullptr;
  // The daemon's registry (borrowed, outlives the service): DHCP declares its
  // families (docs/metrics.md: messages, PXE decisions, leases per subnet,
  // journal syncs and commit latency), readable while it runs. Null: a
  // registry of the service's own.
  metrics::MetricsRegistry* metrics = nullptr;
};

// A snapshot of the service's counters, taken on the service's thread.
struct DhcpServiceCounters {
  DhcpServerCounters server;
  DhcpShardCounters shard;
  uint64_t journal_records = 0;
  uint64_t journal_syncs = 0;
};

class DhcpService : public daemon::Service {
 public:
  // REQUIRES: hosts outlives the service; it is called on the service's thread.
  static absl::StatusOr<std::unique_ptr<DhcpService>> Create(
      const DhcpServiceOptions& options, HostDirectory* hosts);
  ~DhcpService() override;

  // daemon::Service. StartShard accepts shard 0 only (a group of one shard)
  // and binds the server ports there; StopShard makes every appended lease
  // durable.
  absl::string_view name() const override { return "dhcp"; }
  absl::Status StartShard(int shard, io::Reactor& reactor) override;
  void StopShard(int shard, io::Reactor& reactor) override;
  std::string Ready() const override;
  // The "dhcp totals" of the stop log: discovers, requests, offers, acks,
  // naks, pxe_install, pxe_localboot, pxe_unknown, journal_records,
  // journal_syncs. REQUIRES: the group stopped.
  std::vector<daemon::Metric> Metrics() const override;

  // Any thread: the server takes `config` before its next request (see
  // DhcpServer::UpdateConfig); leases and the journal are untouched.
  void UpdateConfig(DhcpServerConfig config) {
    server_->UpdateConfig(std::move(config));
  }

  // Readers on any thread (TFTP, the API): lock-free lease lookups.
  const LeaseTable& leases() const { return *leases_; }
  // Valid after the group stopped, or from the service's own thread; the
  // registry's DHCP families (metrics()) are the running view.
  DhcpServiceCounters counters() const;
  metrics::MetricsRegistry& metrics() { return *metrics_; }

 private:
  DhcpService() = default;
  // Declares the DHCP families (all written by the DHCP thread or the
  // journal's writer: one shard each) and fills shard_metrics_.
  void DeclareMetrics(metrics::MetricsRegistry* registry);
  // Main thread, once the table and journal exist: leases per subnet and the
  // journal's counts, computed on read.
  void AddCollectors();

  DhcpServiceOptions options_;
  std::unique_ptr<LeaseTable> leases_;
  std::unique_ptr<LeaseJournal> journal_;
  std::unique_ptr<LeaseLog> log_;
  std::unique_ptr<DhcpServer> server_;
  std::unique_ptr<DhcpShard> shard_;  // while the DHCP thread runs
  DhcpShardCounters shard_counters_;  // the shard's, once it stopped
  std::unique_ptr<metrics::MetricsRegistry> own_metrics_;  // if none given
  metrics::MetricsRegistry* metrics_ = nullptr;
  DhcpShardMetrics shard_metrics_;    // given to the shard
  std::vector<uint64_t> collectors_;  // removed by the destructor
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_DHCP_SERVICE_H_
