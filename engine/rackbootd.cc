// rackbootd: the Rackboot engine's daemon. main() reads site.toml (flags
// override single keys), checks it with the inventory, starts the DHCP service
// (authoritative or proxyDHCP) and the TFTP service, drops root, and then,
// on the main thread, waits for signals while following the host states:
//   - SIGINT, SIGTERM: stop (leases are durable; the status file is removed);
//   - SIGHUP: reload site.toml and inventory.csv; applied only when they pass
//     the startup checks, without dropping leases or transfers (SiteRuntime);
//   - once a second: re-read host-states.tsv when `rackboot arm` changed it.
//     When it cannot be read the daemon fails closed: every host boots from
//     disk until it can, and <state_dir>/host-states.applied says so.
// Protocol logic lives in the libraries it links.
#include <arpa/inet.h>
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/cli/flag_help.h"
#include "engine/dhcp/dhcp_service.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/os/privileges.h"
#include "engine/site/boot_renderer.h"
#include "engine/site/bring_up_log.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "engine/site/site_files.h"
#include "engine/site/site_host_directory.h"
#include "engine/site/site_reload.h"
#include "engine/tftp/tftp_service.h"

DEFINE_string(config, "",
              "Site configuration (site.toml; see examples/site.toml). "
              "Flags given on the command line override single keys of it; "
              "SIGHUP reloads it.");
DEFINE_string(tftp_root, "",
              "tftp.root: directory served over TFTP, read-only. "
              "Files are opened strictly beneath it "
              "(symlinks leading out, '..' and non-regular files are refused). "
              "Empty: no TFTP service.");
DEFINE_string(tftp_listen, "0.0.0.0:69",
              "tftp.listen: address and port of the TFTP request socket. "
              "Each transfer then uses a port of its own (RFC 1350).");
DEFINE_int32(tftp_max_blksize, 1468,
             "tftp.max_blksize: largest block size a client may negotiate "
             "(RFC 2348), 8..65464. "
             "The default fits a 1500-byte Ethernet MTU; "
             "the path MTU to each client lowers it further.");
DEFINE_int32(
    tftp_max_windowsize, 64,
    "tftp.max_windowsize: largest window a client may negotiate (RFC 7440), "
    "1..65535 blocks.");
DEFINE_int32(
    tftp_timeout_ms, 1000,
    "Retransmission timeout when the client asks for none (RFC 2349 timeout "
    "overrides it); doubles on each consecutive timeout up to "
    "--tftp_max_timeout_ms.");
DEFINE_int32(tftp_max_retries, 6,
             "Consecutive timeouts after which a transfer is abandoned.");
DEFINE_int32(tftp_max_timeout_ms, 3000,
             "tftp.max_timeout_ms: ceiling of every retransmission interval, "
             "100..255000; a client's RFC 2349 timeout above it is refused "
             "(left out of the OACK). A silent confirmed transfer ends after "
             "about --tftp_max_retries times this.");
DEFINE_int32(tftp_max_transfers, 16384,
             "tftp.max_transfers: transfers at once, all shards; lowered so "
             "that 256 descriptors stay free below RLIMIT_NOFILE. Past it: "
             "ERROR 0 \"Server busy\".");
DEFINE_int32(tftp_max_unconfirmed, 1024,
             "tftp.max_unconfirmed: transfers whose client has not "
             "acknowledged anything yet; a new request beyond them closes the "
             "oldest (SYN-backlog style), so a flood cannot lock out real "
             "clients.");
DEFINE_int32(tftp_max_per_client, 8,
             "tftp.max_per_client: transfers per client IP address across all "
             "shards, 0 for no cap. Past it: ERROR 0 \"Server busy\".");
DEFINE_int32(tftp_unconfirmed_retries, 2,
             "Retransmissions (1 s apart) to a client that has not "
             "acknowledged anything yet before its transfer is abandoned.");
DEFINE_bool(tftp_gso, true,
            "Send each window with UDP segmentation offload (one system call "
            "per window).");
DEFINE_bool(tftp_zero_copy, false,
            "Send windows by io_uring SENDMSG_ZC (pages pinned, not copied; at "
            "most 7 datagrams per system call). Off by default: measured "
            "costlier than copying whole GSO windows (docs/benchmarks.md).");
DEFINE_string(
    interface, "",
    "server.interface: serve only on this network interface (SO_BINDTODEVICE). "
    "Required for DHCP.");
DEFINE_string(
    address, "",
    "server.address: this server's address on that interface (DHCP server "
    "identifier and next-server).");
DEFINE_string(
    state_dir, "/var/lib/rackboot",
    "server.state_dir: lease journal, host states and discovered hosts.");
DEFINE_string(inventory, "inventory.csv",
              "server.inventory: the hosts (mac,hostname,ip,profile,state).");
DEFINE_string(
    dhcp_mode, "off",
    "dhcp.mode: 'authoritative' (addresses from the subnets' pools), 'proxy' "
    "(PXE boot answers beside another DHCP server) or 'off'.");
DEFINE_bool(allow_other_dhcp, false,
            "dhcp.allow_other_dhcp: start in authoritative mode even when "
            "another DHCP server answers on the interface "
            "(a loud warning instead of a refusal).");
DEFINE_string(io, "auto",
              "I/O backend: 'auto' (io_uring, or epoll with one log line when "
              "the kernel refuses io_uring, e.g. kernel.io_uring_disabled), "
              "'uring' (io_uring or a startup error) or 'epoll'.");
DEFINE_string(user, "nobody",
              "server.user: the user rackbootd becomes once its sockets are "
              "bound, when started as root (it keeps no capabilities; the "
              "state directory is given to this user, the TFTP root must be "
              "readable by it). 'root' keeps root: not recommended.");
DEFINE_int32(dhcp_commit_window_us, 2000,
             "Group commit window of the lease journal, in microseconds: how "
             "long the journal gathers DHCPACKs into one fdatasync before it "
             "syncs (each ACK still leaves only after its lease is on disk). "
             "Larger saves CPU under load and adds at most this much to each "
             "ACK's latency; 0 syncs as soon as the disk is free.");
DEFINE_int32(threads, 0,
             "TFTP worker threads (shards), 0 for one per CPU core.");

namespace {

constexpr char kUsage[] =
    "rackbootd: serves PXE-aware DHCP and TFTP for network-booting racks of "
    "servers.\n"
    "\n"
    "Usage: rackbootd --config=site.toml [FLAGS]\n"
    "       rackbootd --tftp_root=DIR [FLAGS]            (TFTP only)\n"
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
    "in use, io_uring, privileges).\n";

void PrintHelp() { rackboot::cli::PrintFlagHelp(kUsage, "engine/"); }

absl::StatusOr<rackboot::io::IoBackend> IoBackendFromFlag() {
  if (FLAGS_io == "auto") return rackboot::io::IoBackend::kAuto;
  if (FLAGS_io == "uring" || FLAGS_io == "io_uring")
    return rackboot::io::IoBackend::kIoUring;
  if (FLAGS_io == "epoll") return rackboot::io::IoBackend::kEpoll;
  return absl::InvalidArgumentError(
      absl::StrCat("--io=", FLAGS_io, ": use 'auto', 'uring' or 'epoll'"));
}

// Whether a flag was given on the command line (it then overrides site.toml).
bool FlagGiven(const char* name) {
  return FLAGS_config.empty() ||
         !gflags::GetCommandLineFlagInfoOrDie(name).is_default;
}

// site.toml (or the defaults, without --config) with the flags given on top.
absl::StatusOr<rackboot::site::SiteConfig> LoadSite() {
  namespace site = rackboot::site;
  site::SiteConfig config;
  if (!FLAGS_config.empty()) {
    absl::StatusOr<site::SiteConfig> loaded =
        site::LoadSiteConfig(FLAGS_config);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  } else {
    config.path = "(command line)";
  }
  if (FlagGiven("interface")) config.server.interface = FLAGS_interface;
  if (FlagGiven("address") && !FLAGS_address.empty()) {
    absl::StatusOr<rackboot::dhcp::Ipv4Address> address =
        rackboot::dhcp::Ipv4Address::Parse(FLAGS_address);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--address: ", address.status().message()));
    }
    config.server.address = *address;
  }
  if (FlagGiven("state_dir")) config.server.state_dir = FLAGS_state_dir;
  if (FlagGiven("inventory")) config.server.inventory = FLAGS_inventory;
  if (FlagGiven("user")) config.server.user = FLAGS_user;
  if (FlagGiven("dhcp_mode")) {
    if (FLAGS_dhcp_mode == "authoritative") {
      config.dhcp.mode = site::DhcpMode::kAuthoritative;
    } else if (FLAGS_dhcp_mode == "proxy") {
      config.dhcp.mode = site::DhcpMode::kProxy;
    } else if (FLAGS_dhcp_mode == "off") {
      config.dhcp.mode = site::DhcpMode::kOff;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--dhcp_mode=", FLAGS_dhcp_mode,
                       ": use 'authoritative', 'proxy' or 'off'"));
    }
  }
  if (FlagGiven("allow_other_dhcp"))
    config.dhcp.allow_other_dhcp = FLAGS_allow_other_dhcp;
  if (FlagGiven("tftp_root")) {
    config.tftp.root = FLAGS_tftp_root;
    // Errors about the root then name --tftp_root, not site.toml's line.
    config.key_lines.erase("tftp.root");
  }
  if (FlagGiven("tftp_listen")) config.tftp.listen = FLAGS_tftp_listen;
  if (FlagGiven("tftp_max_blksize"))
    config.tftp.max_blksize = FLAGS_tftp_max_blksize;
  if (FlagGiven("tftp_max_windowsize"))
    config.tftp.max_windowsize = FLAGS_tftp_max_windowsize;
  if (FlagGiven("tftp_max_timeout_ms"))
    config.tftp.max_timeout_ms = FLAGS_tftp_max_timeout_ms;
  if (FlagGiven("tftp_max_transfers"))
    config.tftp.max_transfers = FLAGS_tftp_max_transfers;
  if (FlagGiven("tftp_max_unconfirmed"))
    config.tftp.max_unconfirmed = FLAGS_tftp_max_unconfirmed;
  if (FlagGiven("tftp_max_per_client"))
    config.tftp.max_per_client = FLAGS_tftp_max_per_client;
  return config;
}

absl::StatusOr<rackboot::TftpServiceOptions> TftpOptions(
    const rackboot::site::SiteConfig& site) {
  rackboot::TftpServiceOptions options;
  options.root = site.tftp.root;
  absl::StatusOr<rackboot::io::SocketAddress> listen =
      rackboot::io::SocketAddress::Parse(site.tftp.listen);
  if (!listen.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_listen (tftp.listen): ", listen.status().message()));
  }
  options.shard.listen = *listen;
  if (site.tftp.max_blksize < 8 || site.tftp.max_blksize > 65464) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_max_blksize=", site.tftp.max_blksize, " is outside 8..65464"));
  }
  if (site.tftp.max_windowsize < 1 || site.tftp.max_windowsize > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tftp_max_windowsize=", site.tftp.max_windowsize,
                     " is outside 1..65535"));
  }
  if (FLAGS_tftp_timeout_ms < 10 || FLAGS_tftp_timeout_ms > 255000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_timeout_ms=", FLAGS_tftp_timeout_ms, " is outside 10..255000"));
  }
  if (FLAGS_tftp_max_retries < 0 || FLAGS_tftp_max_retries > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_max_retries=", FLAGS_tftp_max_retries, " is outside 0..100"));
  }
  if (site.tftp.max_timeout_ms < 100 || site.tftp.max_timeout_ms > 255000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tftp_max_timeout_ms=", site.tftp.max_timeout_ms,
                     " is outside 100..255000"));
  }
  if (site.tftp.max_transfers < 1 || site.tftp.max_unconfirmed < 1 ||
      site.tftp.max_per_client < 0) {
    return absl::InvalidArgumentError(
        "--tftp_max_transfers and --tftp_max_unconfirmed must be at least 1, "
        "--tftp_max_per_client at least 0");
  }
  if (FLAGS_tftp_unconfirmed_retries < 0 ||
      FLAGS_tftp_unconfirmed_retries > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_unconfirmed_retries=", FLAGS_tftp_unconfirmed_retries,
        " is outside 0..100"));
  }
  options.shard.limits.max_blksize = site.tftp.max_blksize;
  options.shard.limits.max_windowsize = site.tftp.max_windowsize;
  options.shard.limits.max_timeout =
      absl::Milliseconds(site.tftp.max_timeout_ms);
  options.shard.limits.initial_timeout =
      std::min(absl::Milliseconds(FLAGS_tftp_timeout_ms),
               options.shard.limits.max_timeout);
  options.shard.limits.max_retries = FLAGS_tftp_max_retries;
  options.shard.limits.unconfirmed_retries = FLAGS_tftp_unconfirmed_retries;
  options.max_transfers = static_cast<size_t>(site.tftp.max_transfers);
  options.max_unconfirmed = static_cast<size_t>(site.tftp.max_unconfirmed);
  options.max_per_client = static_cast<size_t>(site.tftp.max_per_client);
  options.shard.gso = FLAGS_tftp_gso;
  options.shard.zero_copy = FLAGS_tftp_zero_copy;
  options.shard.bind_to_device = site.server.interface;
  absl::StatusOr<rackboot::io::IoBackend> io = IoBackendFromFlag();
  if (!io.ok()) return io.status();
  options.io = *io;
  if (FLAGS_threads < 0 || FLAGS_threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads=", FLAGS_threads, " is outside 0..1024"));
  }
  options.threads = FLAGS_threads;
  return options;
}

// The startup checks of a site and its inventory, also run on each SIGHUP
// before anything is applied: the inventory against the site, and (with
// DHCP) the DHCP server's configuration. Warns of hosts whose profile is
// missing (unless !warn). Returns the DHCP configuration (mode kOff without
// DHCP).
absl::StatusOr<rackboot::dhcp::DhcpServerConfig> CheckSite(
    const rackboot::site::SiteConfig& site,
    const rackboot::site::Inventory& inventory, bool dhcp, bool warn = true) {
  namespace site_ns = rackboot::site;
  absl::Status valid = site_ns::ValidateInventory(inventory, site);
  if (!valid.ok()) return valid;
  for (const site_ns::InventoryHost& host : inventory.hosts()) {
    if (!warn) break;
    bool known = site.profiles.empty();
    for (const site_ns::BootProfile& profile : site.profiles)
      known |= profile.name == host.profile;
    LOG_IF(WARNING, !known)
        << inventory.filename() << ":" << host.line << ": " << host.hostname
        << "'s profile '" << host.profile << "' is not a [[profile]] of "
        << site.path << "; it boots from its local disk and cannot be armed";
  }
  if (!dhcp) return rackboot::dhcp::DhcpServerConfig();
  return site_ns::DhcpServerConfigFromSite(site, inventory);
}

// The site side of the daemon: the inventory and site.toml as applied (one
// swappable generation), host states, what it renders and records, and the
// DHCP service. Kept alive while the services run; Reload and PollStates run
// on the main thread, the callbacks on the DHCP and TFTP threads.
struct SiteRuntime {
  std::unique_ptr<rackboot::site::HostStateStore> states;
  std::unique_ptr<rackboot::site::BringUpLog> bring_up;
  // The DHCP thread's HostDirectory and the TFTP shards' RenderedFiles.
  std::unique_ptr<rackboot::site::CurrentSite> current;
  std::unique_ptr<rackboot::dhcp::DhcpService> dhcp;  // null when DHCP is off
  // Main thread: host-states.tsv could not be read at the last poll, and
  // when that was last logged.
  bool degraded = false;
  absl::Time degraded_logged = absl::InfinitePast();
  std::string degraded_message;  // the error last logged

  // Every armed host `site` could not install (CheckArmedHost), one per line;
  // OK if none. A host is armed by host-states.tsv, else by its state column.
  // Main thread: at start (an error: exit 78), before a SIGHUP applies new
  // files (an error: they are refused), and after each host-states.tsv reload
  // (logged: the daemon keeps running).
  absl::Status CheckArmedHosts(
      const rackboot::site::SiteConfig& site,
      const rackboot::site::Inventory& inventory) const {
    namespace site_ns = rackboot::site;
    std::shared_ptr<const site_ns::HostStateMap> snapshot = states->Snapshot();
    std::vector<std::string> errors;
    for (const site_ns::InventoryHost& host : inventory.hosts()) {
      auto it = snapshot->find(host.hostname);
      const bool from_file =
          it != snapshot->end() && it->second.changed != absl::InfinitePast();
      const site_ns::HostState state =
          it != snapshot->end() ? it->second.state : host.initial_state;
      if (state != site_ns::HostState::kInstall) continue;
      const std::string armed_by =
          from_file ? states->states_path() : std::string("its state column");
      absl::Status s = site_ns::CheckArmedHost(site, inventory, host, armed_by);
      if (!s.ok()) errors.emplace_back(s.message());
    }
    if (errors.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrJoin(errors, "\n"));
  }
  absl::Status CheckArmedHosts() const {
    std::shared_ptr<const rackboot::site::SiteGeneration> now = current->Get();
    return CheckArmedHosts(now->site, now->inventory);
  }

  // The MAC whose bound, unexpired lease holds an address: per-host boot files
  // go to that address (besides the host's reservation). Proxy mode leases
  // nothing, so there it is the reservation only (CheckArmedHost insists on
  // one for armed hosts). Any TFTP shard; `dhcp` is set before TFTP starts
  // and the lease table is read lock-free.
  rackboot::site::BootRenderer::LeaseOwner LeaseOwner() {
    return [this](rackboot::dhcp::Ipv4Address address)
               -> absl::optional<rackboot::site::MacAddress> {
      if (dhcp == nullptr) return absl::nullopt;
      absl::optional<rackboot::dhcp::Lease> lease =
          dhcp->leases().Lookup(address);
      if (!lease.has_value() ||
          lease->state != rackboot::dhcp::LeaseState::kBound ||
          lease->expires <= absl::Now()) {
        return absl::nullopt;
      }
      return lease->mac;
    };
  }

  void Record(const rackboot::site::InventoryHost& host,
              absl::string_view phase) {
    bring_up->Record(host.hostname, phase, absl::Now());
  }

  // Main thread, once a second: persists the bring-up phases recorded by
  // the DHCP and TFTP threads.
  void FlushBringUp() {
    absl::Status flushed = bring_up->Flush();
    LOG_IF_EVERY_N(ERROR, !flushed.ok(), 60) << "bring-up log: " << flushed;
  }

  // Main thread: host-states.applied from what the store applies now. When
  // it cannot be written the store removes it, so `rackboot hosts` says it
  // cannot confirm the states rather than showing stale ones.
  void WriteStatus() {
    absl::Status written = states->WriteAppliedStatus();
    LOG_IF(ERROR, !written.ok())
        << "cannot write the status file (removed it; `rackboot hosts` "
           "shows the states as unconfirmed): "
        << written.message();
  }

  // Main thread, once a second: follows the operator's arm/disarm
  // (host-states.tsv is rewritten by `rackboot arm`), so a change applies
  // without a restart. Fails closed: while the file cannot be read (and so
  // the store is degraded, every host local boot) it is retried every
  // second, logged at the change, then once a minute or when the error
  // changes.
  void PollStates(absl::Time now) {
    if (!states->ChangedOnDisk()) return;
    absl::Status reloaded = states->Reload();
    if (reloaded.ok()) {
      if (degraded) {
        LOG(WARNING) << "host states readable again: " << states->states_path()
                     << " applies from now on";
      } else {
        LOG(INFO) << "host states reloaded from " << states->states_path();
      }
      // Armed while running (not through `rackboot arm`, which refuses): the
      // host stays armed, but it cannot install; say so.
      if (absl::Status armed = CheckArmedHosts(); !armed.ok())
        LOG(ERROR) << armed.message();
      degraded = false;
      degraded_message.clear();
      WriteStatus();
      return;
    }
    if (!degraded) {
      LOG(ERROR) << "host states unreadable: " << reloaded.message()
                 << "; every host boots from disk until it is readable";
      degraded = true;
      degraded_logged = now;
      WriteStatus();
    } else if (now - degraded_logged >= absl::Minutes(1) ||
               reloaded.message() != degraded_message) {
      LOG(ERROR) << "host states still unreadable: " << reloaded.message()
                 << "; every host boots from disk (retried every second)";
      degraded_logged = now;
      if (reloaded.message() != degraded_message) WriteStatus();
    }
    degraded_message = std::string(reloaded.message());
  }

  // Main thread, on SIGHUP: site.toml (with the command line's flags on top)
  // and the inventory are read and checked as at startup; if they pass, what
  // a running daemon can change is applied (hosts, profiles, DHCP settings
  // and boot files), without touching leases, sockets or transfers in
  // progress; the rest is logged as needing a restart.
  void Reload(absl::StatusOr<rackboot::site::SiteConfig> loaded, bool dhcp_on) {
    namespace site_ns = rackboot::site;
    std::shared_ptr<const site_ns::SiteGeneration> running = current->Get();
    const std::string keeping = "; keeping the running configuration";
    if (!loaded.ok()) {
      LOG(ERROR) << "reload: " << loaded.status().message() << keeping;
      return;
    }
    site_ns::SiteConfig effective =
        site_ns::EffectiveSite(running->site, *loaded);
    absl::StatusOr<site_ns::Inventory> inventory =
        site_ns::Inventory::Load(effective.server.inventory);
    if (!inventory.ok()) {
      LOG(ERROR) << "reload: " << inventory.status().message() << keeping;
      return;
    }
    // The files as written must pass the startup checks, and so must what
    // will run (the files with the settings only a restart changes kept).
    absl::StatusOr<rackboot::dhcp::DhcpServerConfig> checked =
        CheckSite(*loaded, *inventory, dhcp_on);
    if (checked.ok()) {
      checked = CheckSite(effective, *inventory, dhcp_on, /*warn=*/false);
    }
    if (checked.ok()) {
      if (absl::Status files = site_ns::CheckSiteFiles(effective);
          !files.ok()) {
        checked = files;
      } else if (absl::Status armed = CheckArmedHosts(effective, *inventory);
                 !armed.ok()) {
        checked = armed;
      }
    }
    if (!checked.ok()) {
      LOG(ERROR) << "reload: " << checked.status().message() << keeping;
      return;
    }
    site_ns::SiteChanges changes = site_ns::CompareSites(
        running->site, running->inventory, *loaded, *inventory);
    for (const std::string& change : changes.needs_restart) {
      LOG(WARNING) << "reload: " << change << " needs a restart, not applied";
    }
    for (const std::string& change : changes.applied) {
      LOG(INFO) << "reload: " << change;
    }
    // Host states first: a host the new inventory adds is local boot until
    // its state is known.
    states->SetInventory(*inventory);
    if (dhcp != nullptr) dhcp->UpdateConfig(*std::move(checked));
    const size_t hosts = inventory->hosts().size();
    const size_t profiles = effective.profiles.size();
    current->Publish(site_ns::MakeSiteGeneration(std::move(effective),
                                                 *std::move(inventory),
                                                 states.get(), LeaseOwner()));
    WriteStatus();
    LOG(INFO) << "reload: "
              << (changes.applied.empty() ? "nothing to apply" : "applied")
              << "; running with " << hosts << " hosts and " << profiles
              << " profiles";
  }

  // DHCP thread: an armed host got its boot file.
  void OnDhcpReply(const rackboot::dhcp::DhcpReply& reply) {
    if (reply.type != rackboot::dhcp::DhcpMessageType::kAck ||
        !reply.message.options.BootfileName().ok()) {
      return;
    }
    absl::optional<std::array<uint8_t, 6>> mac = reply.message.MacAddress();
    if (!mac.has_value()) return;
    std::shared_ptr<const rackboot::site::SiteGeneration> now = current->Get();
    const rackboot::site::InventoryHost* host = now->inventory.FindByMac(*mac);
    if (host != nullptr) Record(*host, "dhcp");
  }

  // A TFTP shard: a file reached a host; "done" once its profile's last file
  // (the initrd, else the kernel) arrived. The client is found through its
  // lease, read lock-free.
  void OnTftpFinished(const rackboot::TftpTransferReport& report) {
    if (!report.complete || dhcp == nullptr || !report.client.is_ipv4()) return;
    const auto* in =
        reinterpret_cast<const sockaddr_in*>(report.client.sockaddr_ptr());
    absl::optional<rackboot::dhcp::Lease> lease = dhcp->leases().Lookup(
        rackboot::dhcp::Ipv4Address(ntohl(in->sin_addr.s_addr)));
    if (!lease.has_value() ||
        lease->state != rackboot::dhcp::LeaseState::kBound)
      return;
    std::shared_ptr<const rackboot::site::SiteGeneration> now = current->Get();
    const rackboot::site::InventoryHost* host =
        now->inventory.FindByMac(lease->mac);
    if (host == nullptr) return;
    for (const rackboot::site::BootProfile& profile : now->site.profiles) {
      if (profile.name != host->profile) continue;
      const std::string& last =
          profile.initrd.empty() ? profile.kernel : profile.initrd;
      if (report.file == last) {
        Record(*host, "done");
        return;
      }
    }
    Record(*host, absl::StrCat("tftp ", report.file));
  }
};

// Sets `config_error` when the failure is the configuration's (exit 78)
// rather than the system's (exit 1).
absl::StatusOr<std::unique_ptr<SiteRuntime>> StartSite(
    const rackboot::site::SiteConfig& site, bool start_dhcp,
    bool& config_error) {
  namespace site_ns = rackboot::site;
  auto ConfigError = [&config_error](absl::Status status) {
    config_error = true;
    return status;
  };
  auto runtime = std::make_unique<SiteRuntime>();
  absl::StatusOr<site_ns::Inventory> inventory =
      site_ns::Inventory::Load(site.server.inventory);
  if (!inventory.ok()) return ConfigError(inventory.status());
  absl::StatusOr<rackboot::dhcp::DhcpServerConfig> server =
      CheckSite(site, *inventory, start_dhcp);
  if (!server.ok()) return ConfigError(server.status());
  absl::StatusOr<std::unique_ptr<site_ns::HostStateStore>> states =
      site_ns::HostStateStore::Open(site.server.state_dir, *inventory);
  if (!states.ok()) {
    // A line of host-states.tsv that does not parse is the operator's to fix;
    // a state directory that cannot be made or read is the system's.
    if (states.status().code() == absl::StatusCode::kDataLoss ||
        states.status().code() == absl::StatusCode::kInvalidArgument) {
      return ConfigError(states.status());
    }
    return states.status();
  }
  runtime->states = *std::move(states);
  // An armed host this site cannot install is a configuration error, not a
  // silent local boot; an unarmed one with an unknown profile is only worth a
  // warning (CheckSite; `rackboot arm` refuses it).
  if (absl::Status armed = runtime->CheckArmedHosts(site, *inventory);
      !armed.ok()) {
    return ConfigError(armed);
  }
  absl::StatusOr<std::unique_ptr<site_ns::BringUpLog>> bring_up =
      site_ns::BringUpLog::Open(site.server.state_dir);
  if (!bring_up.ok()) return bring_up.status();
  runtime->bring_up = *std::move(bring_up);
  size_t armed = 0;
  for (const site_ns::InventoryHost& host : inventory->hosts()) {
    if (runtime->states->Get(host.hostname) == site_ns::HostState::kInstall)
      ++armed;
  }
  LOG(INFO) << "inventory: " << inventory->hosts().size() << " hosts from "
            << site.server.inventory << ", " << armed << " armed for install";
  runtime->current =
      std::make_unique<site_ns::CurrentSite>(site_ns::MakeSiteGeneration(
          site, *std::move(inventory), runtime->states.get(),
          runtime->LeaseOwner()));
  if (!start_dhcp) return runtime;

  rackboot::dhcp::DhcpServiceOptions options;
  options.server = *std::move(server);
  options.shard.interface = site.server.interface;
  SiteRuntime* self = runtime.get();
  options.shard.on_reply = [self](const rackboot::dhcp::DhcpReply& reply) {
    self->OnDhcpReply(reply);
  };
  options.state_dir = site.server.state_dir;
  options.allow_other_dhcp = site.dhcp.allow_other_dhcp;
  options.probe_wait = absl::Seconds(site.dhcp.probe_seconds);
  options.commit_window = absl::Microseconds(FLAGS_dhcp_commit_window_us);
  absl::StatusOr<rackboot::io::IoBackend> io = IoBackendFromFlag();
  if (!io.ok()) return ConfigError(io.status());
  options.io = *io;
  absl::StatusOr<std::unique_ptr<rackboot::dhcp::DhcpService>> service =
      rackboot::dhcp::DhcpService::Start(options, runtime->current.get());
  if (!service.ok()) return service.status();
  runtime->dhcp = *std::move(service);
  return runtime;
}

// Architecture principle 5: once every socket is bound and every directory
// open, become server.user with no capabilities.
// Sets `config_error` when the failure is the configuration's (an unknown
// user, a TFTP root that user cannot read) rather than the system's.
absl::Status DropRoot(const rackboot::site::SiteConfig& site, bool tftp,
                      bool uses_state_dir, bool& config_error) {
  if (site.server.user == "root") {
    LOG(WARNING) << "running as root (server.user = \"root\"): a flaw in a "
                    "packet parser would have root's rights; name an "
                    "unprivileged user with --user (server.user)";
    return absl::OkStatus();
  }
  absl::StatusOr<rackboot::os::UserIds> user =
      rackboot::os::LookUpUser(site.server.user);
  if (!user.ok()) {
    config_error = true;
    return user.status();
  }
  if (geteuid() != 0) {
    LOG(INFO) << "running as uid " << geteuid() << ": no root to drop";
    return absl::OkStatus();
  }
  if (tftp) {
    if (absl::Status s = rackboot::os::CheckReadableBy(site.tftp.root, *user);
        !s.ok()) {
      config_error = true;
      // Named like the other root errors: site.toml:line, or the flag.
      const std::string where = site.key_lines.count("tftp.root") > 0
                                    ? site.Where("tftp.root")
                                    : std::string("--tftp_root");
      return absl::Status(s.code(),
                          absl::StrCat(where, ": TFTP root ", s.message()));
    }
  }
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
            << user->uid << ", gid " << user->gid << ") without capabilities";
  return absl::OkStatus();
}

// Exit statuses. Every configuration error (site.toml, inventory.csv,
// host-states.tsv, a flag's value, a boot file missing from tftp.root) exits
// 78, EX_CONFIG of sysexits.h, so that a service manager need not retry it
// (systemd: RestartPreventExitStatus=78); failures of the system (a port in
// use, io_uring, privileges) exit 1.
constexpr int kExitConfig = EX_CONFIG;
constexpr int kExitFailure = 1;

// gflags prints its own message and calls exit(1) on an unknown flag or a
// value that does not parse; while it parses, this handler turns that exit
// into 78 like every other configuration error.
bool parsing_flags = false;
void ExitConfigIfParsingFlags() {
  if (parsing_flags) _exit(kExitConfig);
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals and SIGHUP first, in every thread (the services
  // inherit the mask): a SIGHUP during startup (the probe takes seconds) must
  // not kill the daemon. The loop below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      PrintHelp();
      return 0;
    }
  }
  gflags::SetUsageMessage(kUsage);
  FLAGS_logtostderr = true;
  // gflags' own help flags (--helpfull, --version, ...) also exit through it:
  // leave their status alone.
  bool gflags_help = false;
  for (int i = 1; i < argc; ++i) {
    gflags_help |= std::strncmp(argv[i], "--help", 6) == 0 ||
                   std::strncmp(argv[i], "-help", 5) == 0 ||
                   std::strcmp(argv[i], "--version") == 0 ||
                   std::strcmp(argv[i], "-version") == 0;
  }
  if (!gflags_help) {
    std::atexit(ExitConfigIfParsingFlags);
    parsing_flags = true;
  }
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  parsing_flags = false;
  google::InitGoogleLogging(argv[0]);
  if (argc > 1) {
    LOG(ERROR) << "unexpected argument '" << argv[1]
               << "'; rackbootd takes only flags (see --help)";
    return kExitConfig;
  }
  absl::StatusOr<rackboot::site::SiteConfig> site = LoadSite();
  if (!site.ok()) {
    LOG(ERROR) << site.status().message();
    return kExitConfig;
  }
  const bool dhcp = site->dhcp.mode != rackboot::site::DhcpMode::kOff;
  const bool tftp = !site->tftp.root.empty();
  if (!dhcp && !tftp) {
    LOG(ERROR)
        << "nothing to serve: give --tftp_root (tftp.root) and/or --dhcp_mode "
           "(dhcp.mode) with --config=site.toml (see --help)";
    return kExitConfig;
  }
  if (FLAGS_dhcp_commit_window_us < 0 ||
      FLAGS_dhcp_commit_window_us > 1000000) {
    LOG(ERROR) << "--dhcp_commit_window_us=" << FLAGS_dhcp_commit_window_us
               << ": must be between 0 and 1000000 (one second)";
    return kExitConfig;
  }
  absl::StatusOr<rackboot::TftpServiceOptions> tftp_options =
      TftpOptions(*site);
  if (!tftp_options.ok()) {
    LOG(ERROR) << tftp_options.status().message() << " (see --help)";
    return kExitConfig;
  }
  // The root and every boot file site.toml names, before anything is served.
  if (absl::Status files = rackboot::site::CheckSiteFiles(*site); !files.ok()) {
    LOG(ERROR) << "configuration error:\n" << files.message();
    return kExitConfig;
  }

  // The inventory matters to DHCP and to the per-host boot files the TFTP
  // service renders.
  std::unique_ptr<SiteRuntime> runtime;
  if (dhcp || !site->profiles.empty()) {
    bool config_error = false;
    absl::StatusOr<std::unique_ptr<SiteRuntime>> started =
        StartSite(*site, dhcp, config_error);
    if (!started.ok()) {
      LOG(ERROR) << "cannot start " << (dhcp ? "DHCP" : "the site") << ": "
                 << started.status().message();
      return config_error ? kExitConfig : kExitFailure;
    }
    runtime = *std::move(started);
  }
  std::unique_ptr<rackboot::TftpService> tftp_service;
  if (tftp) {
    if (runtime) {
      tftp_options->rendered = runtime->current.get();
      SiteRuntime* self = runtime.get();
      tftp_options->shard.on_finished =
          [self](const rackboot::TftpTransferReport& report) {
            self->OnTftpFinished(report);
          };
    }
    absl::StatusOr<std::unique_ptr<rackboot::TftpService>> started =
        rackboot::TftpService::Start(*tftp_options);
    if (!started.ok()) {
      LOG(ERROR) << "cannot start TFTP: " << started.status().message();
      return kExitFailure;
    }
    tftp_service = *std::move(started);
  }
  bool user_error = false;
  if (absl::Status dropped =
          DropRoot(*site, tftp, runtime != nullptr, user_error);
      !dropped.ok()) {
    LOG(ERROR) << "cannot drop root privileges: " << dropped.message();
    return user_error ? kExitConfig : kExitFailure;
  }
  std::string ready = "rackbootd: ready";
  if (tftp)
    absl::StrAppend(&ready, ", TFTP on ", tftp_service->address().ToString());
  if (dhcp) {
    absl::StrAppend(&ready, ", DHCP ",
                    rackboot::site::DhcpModeName(site->dhcp.mode), " on ",
                    site->server.interface);
  }
  std::printf("%s\n", ready.c_str());
  std::fflush(stdout);

  if (runtime) runtime->WriteStatus();

  // Wait for a stop signal; reload on SIGHUP; meanwhile follow the
  // operator's arm/disarm once a second (SiteRuntime::PollStates).
  int signal_number = 0;
  const timespec tick{1, 0};
  for (;;) {
    signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGHUP) {
      if (runtime) {
        LOG(INFO) << "SIGHUP: reloading " << site->path << " and "
                  << site->server.inventory;
        // The startup checks of the TFTP keys too, although they need a
        // restart: a file that would not start is refused now, not later.
        absl::StatusOr<rackboot::site::SiteConfig> loaded = LoadSite();
        if (loaded.ok() && tftp) {
          absl::StatusOr<rackboot::TftpServiceOptions> checked =
              TftpOptions(*loaded);
          if (!checked.ok()) loaded = checked.status();
        }
        runtime->Reload(std::move(loaded), dhcp);
      } else {
        LOG(WARNING) << "SIGHUP: serving TFTP only, without a site to "
                        "reload; restart to apply changes to "
                     << site->path;
      }
      continue;
    }
    if (signal_number > 0) break;
    if (runtime) {
      runtime->PollStates(absl::Now());
      runtime->FlushBringUp();
    }
  }
  LOG(INFO) << "rackbootd: " << strsignal(signal_number) << ", stopping";
  if (tftp_service) {
    tftp_service->Stop();
    rackboot::TftpCounters& c = tftp_service->counters();
    // WARNING, so that load tests run with --minloglevel=1 still get the
    // totals.
    LOG(WARNING) << "tftp totals: completed=" << c.transfers_completed.load()
                 << " failed=" << c.transfers_failed.load()
                 << " refused=" << c.requests_refused.load()
                 << " bytes=" << c.bytes_sent.load()
                 << " retransmits=" << c.retransmits.load()
                 << " unknown_tid=" << c.unknown_tid.load()
                 << " busy=" << c.requests_busy.load()
                 << " evicted=" << c.transfers_evicted.load();
  }
  if (runtime && runtime->dhcp) {
    runtime->dhcp->Stop();
    rackboot::dhcp::DhcpServiceCounters c = runtime->dhcp->counters();
    LOG(WARNING) << "dhcp totals: discovers=" << c.server.received[1]
                 << " requests=" << c.server.received[3]
                 << " offers=" << c.server.offers << " acks=" << c.server.acks
                 << " naks=" << c.server.naks
                 << " pxe_install=" << c.server.pxe_install
                 << " pxe_localboot=" << c.server.pxe_localboot
                 << " pxe_unknown=" << c.server.pxe_unknown
                 << " journal_records=" << c.journal_records
                 << " journal_syncs=" << c.journal_syncs;
  }
  if (runtime) {
    runtime->FlushBringUp();
    runtime->states->RemoveAppliedStatus();  // no daemon applies them now
  }
  return 0;
}
