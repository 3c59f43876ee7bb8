// DhcpService: the DHCP service of rackbootd: lease table, lease journal,
// server and shard on one thread of their own (DHCP has exactly one writer;
// architecture principle 2).
//
//   absl::StatusOr<std::unique_ptr<DhcpService>> dhcp =
//   DhcpService::Start(options, &hosts);
//   ... (*dhcp)->leases().Lookup(address)   // any thread, lock-free
//   (*dhcp)->Stop();
//
// Start checks the segment for another DHCP server first (authoritative mode),
// replays the journal into the table, compacts it when it has grown, and starts
// the thread. Start, Stop and the accessors belong to one controlling thread;
// leases() may be read from any thread.
#ifndef RACKBOOT_ENGINE_DHCP_DHCP_SERVICE_H_
#define RACKBOOT_ENGINE_DHCP_DHCP_SERVICE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/dhcp/dhcp_shard.h"
#include "engine/dhcp/lease_journal.h"
#include "engine/dhcp/lease_table.h"
#include "engine/io/reactor.h"

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
};

// A snapshot of the service's counters, taken on the service's thread.
struct DhcpServiceCounters {
  DhcpServerCounters server;
  DhcpShardCounters shard;
  uint64_t journal_records = 0;
  uint64_t journal_syncs = 0;
};

class DhcpService {
 public:
  // REQUIRES: hosts outlives the service; it is called on the service's thread.
  static absl::StatusOr<std::unique_ptr<DhcpService>> Start(
      const DhcpServiceOptions& options, HostDirectory* hosts);
  ~DhcpService();  // Stops.

  // Stops the thread and makes every appended lease durable. Idempotent.
  void Stop();

  // Readers on any thread (TFTP, the API): lock-free lease lookups.
  const LeaseTable& leases() const { return *leases_; }
  // Valid after Stop(), or from the service's own thread.
  DhcpServiceCounters counters() const;
  io::IoBackend backend() const { return reactor_->backend(); }

 private:
  DhcpService() = default;

  std::unique_ptr<LeaseTable> leases_;
  std::unique_ptr<LeaseJournal> journal_;
  std::unique_ptr<LeaseLog> log_;
  std::unique_ptr<DhcpServer> server_;
  std::unique_ptr<io::Reactor> reactor_;
  std::unique_ptr<DhcpShard> shard_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_DHCP_SERVICE_H_
