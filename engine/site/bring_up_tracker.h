// BringUpTracker: turns the services' bring-up events (engine/daemon/events.h)
// into each inventory host's phase, kept by a BringUpLog
// (<state_dir>/bring-up.tsv).
//
// The rules, whatever the transport (a kernel over HTTP counts exactly like
// one over TFTP):
//   - a DHCPACK with a boot file to an inventory host: "dhcp";
//   - a file that reached a host completely: "<transport> <file>", or
//     "installing" when it is the last file of the profile (its initrd, else
//     its kernel) of a host that is armed (state install). Incomplete
//     transfers change no phase. Once installing, failed or done, files
//     change nothing until the next lease.
//   - the installer's reports (OnInstaller, after SiteRuntime checked its
//     token): "installing", "failed", "done". Only the installer says done.
// The same events feed the live model (FleetStatus, when one is given):
// leases (also those without a boot file: seen, no phase), complete files
// with their role (the profile's last file, the host's rendered config) and
// failed transfers, all by inventory hostname.
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
  // REQUIRES: current, log, fleet and states outlive the tracker.
  // `lease_owner` may be empty (reservations only); it is called on the
  // emitters' threads. `states` says which hosts are armed; null: their
  // inventory `state` column.
  BringUpTracker(const CurrentSite* current, BringUpLog* log,
                 BootRenderer::LeaseOwner lease_owner,
                 FleetStatus* fleet = nullptr,
                 const HostStateStore* states = nullptr);

  void OnFileDelivered(const daemon::FileDelivered& event) override;
  void OnLeaseAcked(const daemon::LeaseAcked& event) override;

  // An installer's report for inventory host `hostname` (token checked by
  // the caller): `phase` "installing", "failed" or "done"; into bring-up.tsv
  // and the live model (FleetStatus::OnInstaller). Any thread.
  void OnInstaller(absl::string_view hostname, absl::string_view phase,
                   absl::string_view detail, absl::Time now);

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
  const HostStateStore* const states_;   // may be null
  std::atomic<uint64_t> files_tftp_{0};  // complete files, by transport
  std::atomic<uint64_t> files_http_{0};
  std::atomic<uint64_t> files_incomplete_{0};
  std::atomic<uint64_t> leases_acked_{0};
  std::atomic<uint64_t> hosts_installing_{0};  // last file to armed host
  std::atomic<uint64_t> hosts_done_{0};        // installers' "done" reports
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_BRING_UP_TRACKER_H_
