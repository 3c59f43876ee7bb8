// BringUpTracker: turns the services' bring-up events (engine/daemon/events.h)
// into each inventory host's phase, kept by a BringUpLog
// (<state_dir>/bring-up.tsv).
//
// The rules, whatever the transport (a kernel over HTTP counts exactly like
// one over TFTP):
//   - a DHCPACK with a boot file to an inventory host: "dhcp";
//   - a file that reached a host completely: "<transport> <file>", or "done"
//     when it is the last file of the host's profile (its initrd, else its
//     kernel). Incomplete transfers change no phase.
// The same events feed the live model (FleetStatus, when one is given):
// leases, complete files with their role (the profile's last file, the
// host's rendered config) and failed transfers, all by inventory hostname.
// The host behind a client address is the owner of the address's bound lease
// (lease_owner, read lock-free), else the inventory host reserved at that
// address (proxyDHCP leases nothing; per-host files follow the same rule,
// BootRenderer).
//
// Owned by the daemon (SiteRuntime); borrows the CurrentSite, the BringUpLog
// and the FleetStatus, which outlive it. The On* methods run on any shard's
// thread: each takes the current generation under CurrentSite's short lock and
// records in memory under BringUpLog's; no I/O. Flush, on the main thread,
// writes.
#ifndef RACKBOOT_ENGINE_SITE_BRING_UP_TRACKER_H_
#define RACKBOOT_ENGINE_SITE_BRING_UP_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "engine/daemon/events.h"
#include "engine/daemon/service.h"
#include "engine/site/boot_renderer.h"
#include "engine/site/bring_up_log.h"
#include "engine/site/fleet_status.h"
#include "engine/site/site_reload.h"

namespace rackboot::site {

class BringUpTracker : public daemon::EventSink {
 public:
  // REQUIRES: current and log outlive the tracker. `lease_owner` may be
  // empty (reservations only); it is called on the emitters' threads.
  BringUpTracker(const CurrentSite* current, BringUpLog* log,
                 BootRenderer::LeaseOwner lease_owner,
                 FleetStatus* fleet = nullptr);

  void OnFileDelivered(const daemon::FileDelivered& event) override;
  void OnLeaseAcked(const daemon::LeaseAcked& event) override;

  // Main thread, once a second and at shutdown: persists what was recorded.
  absl::Status Flush() { return log_->Flush(); }

  // Any thread: events seen and phases recorded so far.
  std::vector<daemon::Metric> Metrics() const;

 private:
  const InventoryHost* HostAt(const SiteGeneration& generation,
                              const io::SocketAddress& client) const;

  const CurrentSite* const current_;
  BringUpLog* const log_;
  const BootRenderer::LeaseOwner lease_owner_;
  FleetStatus* const fleet_;             // may be null
  std::atomic<uint64_t> files_tftp_{0};  // complete files, by transport
  std::atomic<uint64_t> files_http_{0};
  std::atomic<uint64_t> files_incomplete_{0};
  std::atomic<uint64_t> leases_acked_{0};
  std::atomic<uint64_t> hosts_done_{0};  // "done" recorded
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_BRING_UP_TRACKER_H_
