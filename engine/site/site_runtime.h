// SiteRuntime: the site side of rackbootd while it runs: the inventory and
// site.toml as applied (one swappable SiteGeneration), the host states, the
// bring-up tracker the services emit into, and the reload and polling that
// keep them current.
//
//   bool config_error = false;
//   absl::StatusOr<std::unique_ptr<SiteRuntime>> runtime =
//       SiteRuntime::Open(site, /*dhcp=*/true, config_error);  // checks all
//   ... DhcpService::Create(options, (*runtime)->current()) ...
//   (*runtime)->SetDhcp(dhcp.get());        // before TFTP or HTTP start
//   ... each second: PollStates(now); FlushBringUp();   SIGHUP: Reload(...)
//   (*runtime)->Stop();
//
// Install tokens: the store's tokens live site.install.token_ttl; an armed
// host without one (armed by its inventory column) is issued one at Open and
// after each reload; an expired one is never renewed (FleetStatus shows the
// host failed; the operator re-arms). Installers report with the token
// (ReportInstall, StoreInstallLog), from their host's own address only.
//
// Threads: Open, SetDhcp, Reload, PollStates, FlushBringUp and Stop run on
// the main thread; SetHostState, ReportInstall, StoreInstallLog, InstallLog
// and WriteStatus on any (the API runs on HTTP shards). current() and tracker()
// are read by every service's threads (CurrentSite and BringUpTracker are
// thread-safe), and LeaseOwner()'s lookups run on TFTP and HTTP shards
// (lock-free lease reads).
#ifndef RACKBOOT_ENGINE_SITE_SITE_RUNTIME_H_
#define RACKBOOT_ENGINE_SITE_SITE_RUNTIME_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/dhcp/dhcp_service.h"
#include "engine/install/host_values.h"
#include "engine/io/socket_address.h"
#include "engine/site/boot_renderer.h"
#include "engine/site/bring_up_log.h"
#include "engine/site/bring_up_tracker.h"
#include "engine/site/fleet_status.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "engine/site/site_reload.h"

namespace rackboot::site {

// An installer's report (POST /api/v1/hosts/{name}/phase and /done).
struct InstallerReport {
  std::string hostname, token;
  std::string phase;   // "installing" | "failed" | "done"
  std::string detail;  // <= 200 bytes kept, escaped before kept or logged
  io::SocketAddress client;
};

// What /install/<token>/<file> renders from: the armed host owning a valid
// token. The input's pointers point into `generation`, so they stay valid
// while it is held.
struct InstallTarget {
  std::shared_ptr<const SiteGeneration> generation;
  install::HostRenderInput input;
};

// The startup checks of a site and its inventory, also run on each SIGHUP
// before anything is applied: the inventory against the site, and (with
// DHCP) the DHCP server's configuration. Warns of hosts whose profile is
// missing (unless !warn). Returns the DHCP configuration (mode kOff without
// DHCP).
absl::StatusOr<dhcp::DhcpServerConfig> CheckSite(const SiteConfig& site,
                                                 const Inventory& inventory,
                                                 bool dhcp, bool warn = true);

// Every host of `inventory` armed for install that `site` could not install
// (CheckArmedHost), one per line; OK if none. `states` holds host-states.tsv's
// entries: a store's Snapshot, or the file's lines as
// HostStateStore::ParseStates reads them (rackbootd --check-config, which
// opens no store). A host is armed by its entry when the entry stands
// (HostStateStore::EntryStands), else by its inventory state column;
// `states_path` names the file in the message.
absl::Status CheckArmedHosts(const SiteConfig& site, const Inventory& inventory,
                             const HostStateMap& states,
                             absl::string_view states_path);

class SiteRuntime {
 public:
  // Loads the inventory, runs CheckSite, opens the host states and the
  // bring-up log in server.state_dir, refuses armed hosts this site cannot
  // install, and publishes the first generation. Sets `config_error` when a
  // failure is the configuration's (exit 78) rather than the system's.
  static absl::StatusOr<std::unique_ptr<SiteRuntime>> Open(
      const SiteConfig& site, bool dhcp, bool& config_error);
  ~SiteRuntime();

  // The DHCP server's configuration Open checked (mode kOff without DHCP).
  const dhcp::DhcpServerConfig& dhcp_config() const { return dhcp_config_; }
  // The DHCP thread's HostDirectory and the shards' RenderedFiles.
  CurrentSite* current() { return current_.get(); }
  // Where every service emits its bring-up events.
  BringUpTracker* tracker() { return tracker_.get(); }
  // The live bring-up model (phases, timelines, events). Any thread.
  FleetStatus* fleet() { return fleet_.get(); }

  // Once DHCP is created, before any TFTP or HTTP shard starts: its leases
  // say which host holds an address (per-host files, bring-up), and reloads
  // update its configuration. REQUIRES: dhcp outlives every service.
  void SetDhcp(dhcp::DhcpService* dhcp) {
    dhcp_.store(dhcp, std::memory_order_release);
  }

  // The DHCP service SetDhcp gave (null without DHCP). Any thread.
  dhcp::DhcpService* dhcp() const {
    return dhcp_.load(std::memory_order_acquire);
  }

  // The inventory host at `address`: the one whose MAC holds its bound,
  // unexpired lease, else the one it is reserved for; "" for none. Any
  // thread (lock-free lease reads).
  std::string HostnameAt(Ipv4Address address);

  // The API's arm (kInstall) and disarm (kLocalboot): `rackboot arm`'s
  // checks, then the store's Set (durable before it returns; the per-host
  // boot files render from it at once) and host-states.applied rewritten.
  // `by` names who for the logs and timelines ("api 127.0.0.1:5555").
  // NotFound: no such inventory host; FailedPrecondition: this site cannot
  // install it (why, as `rackboot arm` says); other errors: the file could
  // not be written and the previous state stays. Any thread; blocks on the
  // fsync.
  absl::Status SetHostState(absl::string_view hostname, HostState state,
                            absl::string_view by);

  // An installer's report, checked before anything changes. NotFound: no
  // such inventory host. PermissionDenied: the token is not the host's
  // current one (malformed, another host's, revoked by done or a re-arm),
  // it expired, or `client` is not the host's own address (its reservation
  // or its lease, BootRenderer::IsHostAddress). InvalidArgument: bad phase.
  // The messages never hold the token. installing: progress in the live
  // model and bring-up.tsv; failed: phase failed, reason = detail (the host
  // stays armed); done: the host is set installed (the token revoked, so
  // its next network boot gets the local-disk config), then phase done.
  // Any thread; done blocks on the fsync.
  absl::Status ReportInstall(const InstallerReport& report, absl::Time now);

  // The installer's log: <state_dir>/install-logs/<hostname>.log, mode 0600,
  // replaced each time (temp file, rename). The same checks as
  // ReportInstall (the token is revoked at done, so the log goes first);
  // larger than kMaxInstallLog: InvalidArgument. Any thread.
  static constexpr size_t kMaxInstallLog = 4 << 20;
  absl::Status StoreInstallLog(absl::string_view hostname,
                               absl::string_view token,
                               const io::SocketAddress& client,
                               absl::string_view text);
  // The stored log of an inventory host; NotFound when none (or no such
  // host). Any thread.
  absl::StatusOr<std::string> InstallLog(absl::string_view hostname) const;

  // For /install/<token>/<file>: the render input of the armed host owning
  // `token`, when the token is valid at `now` and `client` is that host's
  // own address. Errors as ReportInstall's (PermissionDenied for a token no
  // host holds, expired, or another address; NotFound when its owner left
  // the inventory); the route answers 404 to all and logs which. Any thread;
  // no disk access.
  absl::StatusOr<InstallTarget> ResolveInstallToken(
      absl::string_view token, const io::SocketAddress& client, absl::Time now);

  // host-states.applied from what the store applies now. When it cannot be
  // written the store removes it, so `rackboot hosts` says it cannot confirm
  // the states rather than showing stale ones.
  void WriteStatus();

  // OK, or why host-states.tsv could not be read at the last poll (then
  // every host boots from its local disk). Any thread.
  absl::Status StatesDegraded() const { return states_->Degraded(); }

  // Once a second: follows the operator's arm/disarm (host-states.tsv is
  // rewritten by `rackboot arm`), so a change applies without a restart.
  // Fails closed: while the file cannot be read (and so the store is
  // degraded, every host local boot) it is retried every second, logged at
  // the change, then once a minute or when the error changes.
  void PollStates(absl::Time now);

  // Once a second and at Stop: persists the bring-up phases recorded by the
  // services' threads.
  void FlushBringUp();

  // On SIGHUP: site.toml (with the command line's flags on top) and the
  // inventory are read and checked as at startup; if they pass, what a
  // running daemon can change is applied (hosts, profiles, DHCP settings and
  // boot files), without touching leases, sockets or transfers in progress;
  // the rest is logged as needing a restart. Returns why the files were
  // refused (then nothing changed), or OK when they were applied.
  absl::Status Reload(absl::StatusOr<SiteConfig> loaded, bool dhcp_on);

  // After the services stopped: the last bring-up flush, and the status file
  // is removed (no daemon applies the states now).
  void Stop();

 private:
  SiteRuntime() = default;

  // Every armed host `site` could not install (CheckArmedHost), one per
  // line; OK if none. A host is armed by host-states.tsv, else by its state
  // column. At start (an error: exit 78), before a SIGHUP applies new files
  // (an error: they are refused), and after each host-states.tsv reload
  // (logged: the daemon keeps running).
  absl::Status CheckArmedHosts(const SiteConfig& site,
                               const Inventory& inventory) const;
  absl::Status CheckArmedHosts() const;

  // The MAC whose bound, unexpired lease holds an address: per-host boot
  // files go to that address (besides the host's reservation), and its
  // bring-up events count for that host. Proxy mode leases nothing, so there
  // it is the reservation only. Any thread; lock-free.
  BootRenderer::LeaseOwner LeaseOwner();

  // Makes a token for every armed host that has none (armed by its
  // inventory `state` column, or by a hand-written line); never renews an
  // expired one (the operator re-arms). At Open, after each host-states
  // reload and after a SIGHUP reload. Logs what it could not write.
  void IssueMissingTokens(const Inventory& inventory, absl::Time now);

  // ReportInstall's and StoreInstallLog's checks: the inventory host named
  // `hostname` whose current, unexpired token `token` is, asked from its own
  // address. REQUIRES: generation is current_->Get().
  absl::StatusOr<const InventoryHost*> CheckInstaller(
      const SiteGeneration& generation, absl::string_view hostname,
      absl::string_view token, const io::SocketAddress& client,
      absl::Time now) const;

  std::unique_ptr<HostStateStore> states_;
  std::string state_dir_;
  int state_dir_fd_ = -1;  // for install-logs/, reachable after dropping root
  // Serializes SetHostState's check-then-set, and the writers of
  // host-states.applied (its temporary file has one name).
  absl::Mutex set_mu_;
  absl::Mutex status_mu_;
  absl::Mutex log_mu_;  // StoreInstallLog's temp files
  std::unique_ptr<BringUpLog> bring_up_;
  std::unique_ptr<CurrentSite> current_;
  std::unique_ptr<BringUpTracker> tracker_;
  std::unique_ptr<FleetStatus> fleet_;
  dhcp::DhcpServerConfig dhcp_config_;
  std::atomic<dhcp::DhcpService*> dhcp_{nullptr};  // null when DHCP is off
  // Main thread: host-states.tsv could not be read at the last poll, and
  // when that was last logged.
  bool degraded_ = false;
  absl::Time degraded_logged_ = absl::InfinitePast();
  std::string degraded_message_;  // the error last logged
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_SITE_RUNTIME_H_
