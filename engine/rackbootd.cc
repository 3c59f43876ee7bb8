// rackbootd: the Rackboot engine's daemon, as wiring. main() reads site.toml
// with the flags on top (engine/config), checks it with the inventory
// (engine/site), makes the services (engine/daemon: DHCP on a thread of its
// own, TFTP and HTTP on one shard group, one reactor per core for both),
// drops root, and then, on the main thread, waits for signals while following
// the host states:
//   - SIGINT, SIGTERM: stop (leases are durable; the status file is removed);
//   - SIGHUP: reload site.toml and inventory.csv; applied only when they pass
//     the startup checks, without dropping leases or transfers (SiteRuntime);
//   - once a second: re-read host-states.tsv when `rackboot arm` changed it,
//     and write the bring-up phases the services reported.
// Under systemd (NOTIFY_SOCKET) it tells the manager READY=1, STATUS=,
// WATCHDOG=1, RELOADING=1 and STOPPING=1 (engine/daemon/systemd_notifier.h);
// the loop then ticks at least every third of WATCHDOG_USEC.
// Protocol logic lives in the libraries it links; the flags are defined in
// engine/config/daemon_flags.cc.
#include <glog/logging.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/api/daemon_api.h"
#include "engine/api/metrics_routes.h"
#include "engine/api/status_page_routes.h"
#include "engine/cli/flag_help.h"
#include "engine/config/daemon_flags.h"
#include "engine/config/startup_checks.h"
#include "engine/daemon/service.h"
#include "engine/daemon/shard_group.h"
#include "engine/daemon/systemd_notifier.h"
#include "engine/daemon/transfer_table.h"
#include "engine/dhcp/dhcp_service.h"
#include "engine/files/file_cache.h"
#include "engine/files/file_root.h"
#include "engine/http/http_service.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/metrics/metrics_registry.h"
#include "engine/os/capabilities.h"
#include "engine/os/privileges.h"
#include "engine/os/time_zone.h"
#include "engine/site/fleet_metrics.h"
#include "engine/site/site_config.h"
#include "engine/site/site_runtime.h"
#include "engine/tftp/tftp_service.h"

namespace {

constexpr char kUsage[] =
    "rackbootd: serves PXE-aware DHCP, TFTP and HTTP for network-booting "
    "racks of\nservers.\n"
    "\n"
    "Usage: rackbootd --config=site.toml [FLAGS]\n"
    "       rackbootd --tftp_root=DIR [--http_listen=ADDR:PORT] [FLAGS]   "
    "(no DHCP)\n"
    "       rackbootd --check-config=site.toml [FLAGS]   (check, serve "
    "nothing)\n"
    "Example: rackbootd --config=/etc/rackboot/site.toml --dhcp_mode=proxy\n"
    "\n"
    "Exit status: 0 after SIGINT or SIGTERM; 78 (EX_CONFIG) for any "
    "configuration error\n"
    "(site.toml, inventory.csv, host-states.tsv, a flag's value, a boot file "
    "missing\n"
    "from tftp.root, an armed host without a [[profile]]): fix it, restarting "
    "will not\n"
    "help (systemd: RestartPreventExitStatus=78); 1 for a failure of the "
    "system (a port\n"
    "in use, io_uring, privileges).\n"
    "\n"
    "Logs go to stderr: under systemd in the journal's format (\"<4>text\"; "
    "see\n--log_format), otherwise in glog's; log files only with "
    "--log_dir=DIR.\n"
    "\n"
    "--check-config=site.toml runs every check a start makes (files, "
    "inventory, users,\n"
    "profiles, boot files, host states, state directory, interface) "
    "without opening a\n"
    "socket or writing anything, as whoever runs it (root or the service "
    "user): one\n"
    "problem per line on stderr, a summary on stdout; exit 0 valid, 1 "
    "problems found,\n"
    "64 a bad command line. systemd: ExecReload=rackbootd "
    "--check-config=... then\n"
    "kill -HUP $MAINPID; SIGHUP applies only what passes the same checks.\n"
    "Started without root (User= with AmbientCapabilities="
    "CAP_NET_BIND_SERVICE), every\n"
    "capability is dropped once the sockets are bound.\n";

void PrintHelp() { rackboot::cli::PrintFlagHelp(kUsage, "engine/"); }

// "<name> totals: a=1 b=2" from a service's counters. WARNING, so that load
// tests run with --minloglevel=1 still get the totals.
void LogTotals(const rackboot::daemon::Service& service) {
  std::string line = absl::StrCat(service.name(), " totals:");
  for (const rackboot::daemon::Metric& metric : service.Metrics()) {
    absl::StrAppend(&line, " ", metric.name, "=", metric.value);
  }
  LOG(WARNING) << line;
}

// Architecture principle 5: once every socket is bound and every directory
// open, become server.user with no capabilities; started without root (the
// systemd unit: User= with AmbientCapabilities=CAP_NET_BIND_SERVICE), drop
// the capabilities. What that user must read was checked before binding
// (config::CheckStartup).
absl::Status DropRoot(const rackboot::site::SiteConfig& site,
                      bool uses_state_dir) {
  if (geteuid() == 0 && site.server.user == "root") {
    LOG(WARNING) << "running as root (server.user = \"root\"): a flaw in a "
                    "packet parser would have root's rights; name an "
                    "unprivileged user with --user (server.user)";
    return absl::OkStatus();
  }
  if (geteuid() == 0) {
    absl::StatusOr<rackboot::os::UserIds> user =
        rackboot::os::LookUpUser(site.server.user);
    if (!user.ok()) return user.status();
    if (uses_state_dir) {
      if (absl::Status s =
              rackboot::os::GiveDirectoryTo(site.server.state_dir, *user);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = rackboot::os::DropPrivileges(*user); !s.ok()) {
      return s;
    }
    LOG(INFO) << "dropped root: running as user " << user->name << " (uid "
              << user->uid << ", gid " << user->gid << ")";
  }
  // Setting the uids cleared every set but the inheritable one; a non-root
  // start still holds what it was given.
  absl::StatusOr<rackboot::os::DroppedCapabilities> dropped =
      rackboot::os::DropCapabilities();
  if (!dropped.ok()) return dropped.status();
  LOG(INFO) << "running as uid " << geteuid()
            << "; capabilities dropped after binding: " << dropped->Describe();
  return absl::OkStatus();
}

// The daemon's API (/api/v1/ on http.listen): its routes over the fleet
// model, the transfers and the leases, the event hub the fleet publishes to,
// and the bearer token. Made before HTTP (its routes are borrowed there), so
// declared before the services it must outlive. Fails (a configuration
// error) for a token file that is unreadable or readable by others.
absl::StatusOr<std::unique_ptr<rackboot::api::DaemonApiServer>> MakeApi(
    const rackboot::site::SiteConfig& site,
    rackboot::site::SiteRuntime* runtime,
    rackboot::daemon::TransferTable* transfers) {
  auto api = std::make_unique<rackboot::api::DaemonApiServer>(
      runtime, runtime ? runtime->fleet() : nullptr, transfers);
  if (absl::Status s = api->LoadToken(site); !s.ok()) return s;
  return api;
}

// systemd's STATUS= line: the fleet's hosts by phase and the transfers in
// progress ("serving 212 hosts, 3 installing, 14 TFTP transfers").
std::string StatusLine(rackboot::site::SiteRuntime* runtime,
                       const rackboot::daemon::TransferTable* transfers,
                       bool tftp, bool http) {
  rackboot::daemon::DaemonCounts counts;
  if (runtime) {
    const absl::flat_hash_map<std::string, int> phases =
        runtime->fleet()->PhaseCounts();
    counts.hosts = 0;
    for (const auto& [phase, n] : phases) counts.hosts += n;
    auto count = [&](const char* phase) {
      auto it = phases.find(phase);
      return it == phases.end() ? 0 : it->second;
    };
    counts.installing = count("installing");
    counts.stalled = count("stalled");
    counts.failed = count("failed");
    if (absl::Status s = runtime->StatesDegraded(); !s.ok()) {
      counts.degraded =
          absl::StrCat("every host boots from its disk: ", s.message());
    }
  }
  using rackboot::daemon::Transport;
  if (tftp) counts.tftp_transfers = transfers->Active(Transport::kTftp);
  if (http) counts.http_transfers = transfers->Active(Transport::kHttp);
  return rackboot::daemon::DaemonStatusLine(counts);
}

using rackboot::config::kExitConfig;   // 78: fix the configuration
using rackboot::config::kExitFailure;  // 1: a failure of the system

}  // namespace

int main(int argc, char** argv) {
  namespace config = rackboot::config;
  namespace daemon = rackboot::daemon;
  namespace site_ns = rackboot::site;
  // Block the stop signals and SIGHUP first, in every thread (the services
  // inherit the mask): a SIGHUP during startup (the probe takes seconds) must
  // not kill the daemon. The loop below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Before any thread or log line: the time zone read once, not per line.
  rackboot::os::PinTimeZone();
  if (absl::optional<int> exit_status =
          config::ParseCommandLine(argc, argv, kUsage, PrintHelp)) {
    return *exit_status;
  }
  if (config::CheckConfigRequested())
    return config::RunCheckConfig(stdout, stderr);
  // systemd's notifications (a no-op without NOTIFY_SOCKET). Made first, so
  // that any failed start below ends with STATUS= naming its error.
  absl::StatusOr<std::unique_ptr<daemon::SystemdNotifier>> systemd =
      daemon::SystemdNotifier::FromEnvironment();
  if (!systemd.ok()) {
    LOG(ERROR) << "systemd: " << systemd.status().message();
    return kExitConfig;
  }

  // The metrics every service registers in, served at GET /metrics; made
  // first so that it outlives the services.
  rackboot::metrics::MetricsRegistry metrics;
  rackboot::metrics::RegisterProcessMetrics(metrics);
  rackboot::api::MetricsRoutes metrics_routes(&metrics);

  // The configuration, checked whole before anything is served: the same
  // checks as --check-config and SIGHUP (engine/config/startup_checks.h).
  config::CommandLineCheck checked =
      config::CheckCommandLine(config::StartupCheckOptions());
  for (const std::string& warning : checked.report.warnings)
    LOG(WARNING) << warning;
  for (const config::StartupProblem& problem : checked.report.problems)
    LOG(ERROR) << problem.text;
  if (!checked.report.ok()) return checked.report.StartExitStatus();
  absl::StatusOr<site_ns::SiteConfig> site = *std::move(checked.site);
  absl::StatusOr<config::DaemonFlags> flags = checked.flags;
  const bool dhcp = site->dhcp.mode != site_ns::DhcpMode::kOff;
  const bool tftp = !site->tftp.root.empty();
  const bool http = !site->http.listen.empty();
  absl::StatusOr<rackboot::TftpServiceOptions> tftp_options =
      config::TftpOptions(*site);
  // The inventory matters to DHCP and to the per-host boot files the TFTP
  // and HTTP services render.
  std::unique_ptr<site_ns::SiteRuntime> runtime;
  if (dhcp || !site->profiles.empty()) {
    bool config_error = false;
    absl::StatusOr<std::unique_ptr<site_ns::SiteRuntime>> opened =
        site_ns::SiteRuntime::Open(*site, dhcp, config_error);
    if (!opened.ok()) {
      LOG(ERROR) << "cannot start " << (dhcp ? "DHCP" : "the site") << ": "
                 << opened.status().message();
      return config_error ? kExitConfig : kExitFailure;
    }
    runtime = *std::move(opened);
  }
  // rackboot_hosts{phase} and rackboot_hosts_by_state{state}, computed from
  // the fleet on each scrape; declared after the runtime and the registry,
  // so its collectors go before either.
  std::unique_ptr<site_ns::FleetMetrics> fleet_metrics;
  if (runtime) {
    fleet_metrics =
        std::make_unique<site_ns::FleetMetrics>(runtime->fleet(), &metrics);
  }
  daemon::EventSink* events = runtime ? runtime->tracker() : nullptr;

  // The boot tree, shared by TFTP and HTTP's /boot/: one mapping per file
  // version whoever serves it; per-host files rendered by the site.
  std::unique_ptr<rackboot::FileCache> files;
  if (tftp) {
    absl::StatusOr<rackboot::FileRoot> root =
        rackboot::FileRoot::Open(site->tftp.root);
    if (!root.ok()) {
      LOG(ERROR) << "cannot start TFTP: --tftp_root: "
                 << root.status().message();
      return kExitFailure;
    }
    files = std::make_unique<rackboot::FileCache>(
        *std::move(root), runtime ? runtime->current() : nullptr);
  }

  // DHCP: its own thread, the lease table's one writer (shard_group.h says
  // why it is not a shard of the group below). First, so that its sockets
  // and journal count in TFTP's descriptor budget.
  std::unique_ptr<rackboot::dhcp::DhcpService> dhcp_service;
  std::unique_ptr<daemon::ShardGroup> dhcp_thread;
  if (dhcp) {
    rackboot::dhcp::DhcpServiceOptions options;
    options.server = runtime->dhcp_config();
    options.shard.interface = site->server.interface;
    options.state_dir = site->server.state_dir;
    options.allow_other_dhcp = site->dhcp.allow_other_dhcp;
    options.probe_wait = absl::Seconds(site->dhcp.probe_seconds);
    options.commit_window = flags->dhcp_commit_window;
    options.events = events;
    options.metrics = &metrics;
    absl::StatusOr<std::unique_ptr<rackboot::dhcp::DhcpService>> created =
        rackboot::dhcp::DhcpService::Create(options, runtime->current());
    if (!created.ok()) {
      LOG(ERROR) << "cannot start DHCP: " << created.status().message();
      return kExitFailure;
    }
    dhcp_service = *std::move(created);
    daemon::ShardGroupOptions one;
    one.name = "dhcp";
    one.shards = 1;
    one.io = flags->io;
    dhcp_thread = std::make_unique<daemon::ShardGroup>(one);
    if (absl::Status started = dhcp_thread->Start({dhcp_service.get()});
        !started.ok()) {
      LOG(ERROR) << "cannot start DHCP: " << started.message();
      return kExitFailure;
    }
    runtime->SetDhcp(dhcp_service.get());
  }

  // The services on the shard group: each one a few lines here.
  daemon::ShardGroupOptions per_core;
  per_core.name = "shard";
  per_core.shards = flags->threads;
  // What DHCP's reactor got (kAuto resolved, its fallback logged once).
  per_core.io = dhcp_thread ? dhcp_thread->backend() : flags->io;
  // The status page at "/" (immutable; declared before the services, which
  // borrow it, so that it outlives them).
  rackboot::api::StatusPageRoutes status_page;
  // Declared before the group, so that on any return the group stops (and
  // each service's StopShard runs) before the services are destroyed.
  // The transfer table and the API, which the services borrow, before them.
  std::unique_ptr<daemon::TransferTable> transfers;
  std::unique_ptr<rackboot::api::DaemonApiServer> api;
  std::vector<std::unique_ptr<daemon::Service>> services;
  daemon::ShardGroup shards(per_core);
  // Transfers in progress: TFTP's shards use lists 0..n-1, HTTP's n..2n-1.
  transfers = std::make_unique<daemon::TransferTable>(2 * shards.shards());
  if (http) {
    absl::StatusOr<std::unique_ptr<rackboot::api::DaemonApiServer>> made =
        MakeApi(*site, runtime.get(), transfers.get());
    if (!made.ok()) {
      LOG(ERROR) << made.status().message();
      return kExitConfig;
    }
    api = *std::move(made);
  }
  if (tftp) {
    tftp_options->events = events;
    tftp_options->metrics = &metrics;
    tftp_options->shard.transfers = transfers.get();
    tftp_options->shard.transfer_list = 0;
    absl::StatusOr<std::unique_ptr<rackboot::TftpService>> created =
        rackboot::TftpService::Create(*tftp_options, files.get(),
                                      shards.shards());
    if (!created.ok()) {
      LOG(ERROR) << "cannot start TFTP: " << created.status().message();
      return kExitFailure;
    }
    services.push_back(*std::move(created));
  }
  if (http) {
    // /boot/ is tftp.root with the same per-host files, through HTTP's own
    // caches (they keep descriptors for sendfile; http_service.h says why);
    // every whole file becomes a FileDelivered over http.
    absl::StatusOr<rackboot::io::SocketAddress> listen =
        rackboot::io::SocketAddress::Parse(site->http.listen);
    if (!listen.ok()) {
      LOG(ERROR) << "http.listen " << site->http.listen << ": "
                 << listen.status().message();
      return kExitConfig;
    }
    rackboot::http::HttpServiceOptions options;
    options.listen = *listen;
    options.boot_root = site->tftp.root;
    options.rendered = runtime ? runtime->current() : nullptr;
    options.repo_root = site->http.repo_root;
    options.max_connections = static_cast<size_t>(site->http.max_connections);
    options.limits.header_timeout =
        absl::Milliseconds(site->http.header_timeout_ms);
    options.limits.idle_timeout =
        absl::Milliseconds(site->http.idle_timeout_ms);
    // The installer's log (4 MiB) is the largest body a route takes, and
    // only with its host's token (ApiRoutes::MaxRequestBodyFor); every other
    // route keeps its own cap (the API's writes 4 KiB, files none).
    options.limits.max_request_body = rackboot::api::kMaxInstallLog;
    options.bind_to_device = site->server.interface;
    options.events = events;
    options.metrics = &metrics;
    // /install/<token>/<file> first: an armed host's install files, only
    // to its own address (engine/api/install_routes.h).
    options.routes.emplace_back("/install/", api->install_routes());
    options.routes.push_back({"/metrics", &metrics_routes});
    options.transfers = transfers.get();
    options.transfer_list_base = shards.shards();
    options.routes.emplace_back("/api/v1/", api->routes());
    options.routes.push_back({"/", &status_page});
    options.routes.push_back({"/index.html", &status_page});
    absl::StatusOr<std::unique_ptr<rackboot::http::HttpService>> created =
        rackboot::http::HttpService::Create(options, shards.shards());
    if (!created.ok()) {
      LOG(ERROR) << "cannot start HTTP: " << created.status().message();
      return kExitFailure;
    }
    services.push_back(*std::move(created));
  }
  if (!services.empty()) {
    std::vector<daemon::Service*> started_services;
    for (const auto& service : services)
      started_services.push_back(service.get());
    if (absl::Status started = shards.Start(started_services); !started.ok()) {
      LOG(ERROR) << "cannot start " << started.message();
      return kExitFailure;
    }
  }

  if (absl::Status dropped = DropRoot(*site, runtime != nullptr);
      !dropped.ok()) {
    LOG(ERROR) << "cannot drop privileges: " << dropped.message();
    return kExitFailure;
  }
  std::string ready = "rackbootd: ready";
  for (const auto& service : services) {
    absl::StrAppend(&ready, ", ", service->Ready());
  }
  if (dhcp_service) absl::StrAppend(&ready, ", ", dhcp_service->Ready());
  std::printf("%s\n", ready.c_str());
  std::fflush(stdout);

  if (runtime) runtime->WriteStatus();
  auto status = [&] {
    return StatusLine(runtime.get(), transfers.get(), tftp, http);
  };
  // Every service bound, DHCP's probe done, root dropped: READY=1; the
  // watchdog probes every reactor thread from now on.
  (*systemd)->Ready({services.empty() ? nullptr : &shards, dhcp_thread.get()},
                    status());

  // Wait for a stop signal; reload on SIGHUP; meanwhile, each tick (a
  // second, less under a short systemd watchdog), follow the operator's
  // arm/disarm, write the bring-up phases, and tell systemd how it goes.
  int signal_number = 0;
  const absl::Duration tick = (*systemd)->tick_interval();
  absl::Time next_tick = rackboot::io::MonotonicNow() + tick;
  for (;;) {
    const timespec wait = absl::ToTimespec(std::max(
        absl::ZeroDuration(), next_tick - rackboot::io::MonotonicNow()));
    signal_number = sigtimedwait(&signals, nullptr, &wait);
    if (signal_number == SIGHUP) {
      (*systemd)->Reloading();
      absl::Status reloaded = absl::FailedPreconditionError(
          "serving without a site to reload; restart to apply changes");
      if (runtime) {
        LOG(INFO) << "SIGHUP: reloading " << site->path << " and "
                  << site->server.inventory;
        // The startup checks (--check-config's), of the keys that need a
        // restart too: a file that would not start is refused now.
        absl::StatusOr<site_ns::SiteConfig> loaded = config::LoadSite();
        if (loaded.ok()) {
          config::StartupCheckOptions reload;
          reload.reload = true;
          absl::Status checked =
              config::CheckStartup(*loaded, reload).AsStatus();
          if (!checked.ok()) loaded = checked;
        }
        if (loaded.ok() && api) api->ReloadToken(*loaded);
        reloaded = runtime->Reload(std::move(loaded), dhcp);
      } else {
        LOG(WARNING) << "SIGHUP: serving without a site to reload; restart "
                        "to apply changes to "
                     << site->path;
      }
      (*systemd)->Reloaded(reloaded, status());
      continue;
    }
    if (signal_number > 0) break;
    // A tick is due (sigtimedwait timed out; EINTR comes early: wait on).
    if (rackboot::io::MonotonicNow() < next_tick) continue;
    next_tick = rackboot::io::MonotonicNow() + tick;
    const absl::Time now = absl::Now();
    if (runtime) {
      runtime->PollStates(now);
      runtime->FlushBringUp();
      runtime->fleet()->Tick(now);
    }
    if (api) api->Tick(now);
    (*systemd)->Tick(rackboot::io::MonotonicNow(), status());
  }
  (*systemd)->Stopping(absl::StrCat("SIG", sigabbrev_np(signal_number)));
  LOG(INFO) << "rackbootd: " << strsignal(signal_number) << ", stopping";
  shards.Stop();
  for (const auto& service : services) LogTotals(*service);
  if (dhcp_thread) {
    dhcp_thread->Stop();  // the journal is synced
    LogTotals(*dhcp_service);
  }
  if (runtime) runtime->Stop();
  return 0;
}
