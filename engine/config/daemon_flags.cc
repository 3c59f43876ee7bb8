#include "engine/config/daemon_flags.h"

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/io/socket_address.h"
#include "engine/log/log_format.h"

// The flags, each named after the site.toml key it overrides (if any).
DEFINE_string(config, "",
              "Site configuration (site.toml; see examples/site.toml). "
              "Flags given on the command line override single keys of it; "
              "SIGHUP reloads it.");
DEFINE_string(check_config, "",
              "Check this site.toml (with the other flags laid over it, as at "
              "start) and exit without serving: no socket is opened, nothing "
              "is written. Problems go to stderr, one per line with file:line "
              "and what to fix; a summary to stdout. Exit status 0: valid; "
              "1: problems found; 64: a bad command line. Run it as root or "
              "as the service user, as rackbootd is started (the systemd "
              "unit's ExecReload does, before SIGHUP). Spelt --check-config "
              "or --check_config.");
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
             "Worker threads (shards) that serve TFTP and HTTP, 0 for one per "
             "CPU core. DHCP runs on a thread of its own.");
DEFINE_string(http_listen, "",
              "http.listen: address and port (TCP) of the HTTP service, which "
              "serves tftp.root under /boot/ and --http_repo_root under "
              "/repo/. Empty: no HTTP service.");
DEFINE_string(http_repo_root, "",
              "http.repo_root: directory served read-only under /repo/ "
              "(install mirrors). Empty: no /repo/ route.");
DEFINE_int32(http_max_connections, 4096,
             "http.max_connections: HTTP connections open at once, "
             "1..1048576; past it a new connection gets 503.");
DEFINE_int32(http_header_timeout_ms, 10000,
             "http.header_timeout_ms: a request's header block must arrive "
             "within this time, 100..3600000 ms, or the connection closes.");
DEFINE_int32(http_idle_timeout_ms, 30000,
             "http.idle_timeout_ms: a keep-alive connection without a request "
             "closes after this time, 100..3600000 ms.");
DEFINE_string(api_token_file, "",
              "api.token_file: file holding the bearer token that API writes "
              "(POST /api/v1/hosts/NAME/arm, /disarm) need; mode 0600. Empty: "
              "no token, writes from loopback clients only.");

DEFINE_string(
    log_format, "auto",
    "How log records reach stderr: 'journal' (one line each, \"<N>message\" "
    "with N the syslog priority: INFO 6, WARNING 4, ERROR 3, FATAL 2; no "
    "glog prefix, since journald adds time, pid and priority; newlines and "
    "control characters escaped, 4 KiB at most), 'glog' (glog's "
    "\"I1201 05:39:59.757714 20305 file.cc:176] \" prefix), or 'auto': "
    "journal when stderr is systemd's journal (JOURNAL_STREAM names it), glog "
    "otherwise. Log files only with --log_dir=DIR (glog's files, in glog's "
    "format, besides stderr).");

namespace rackboot::config {

static_assert(kExitConfig == EX_CONFIG);
static_assert(kExitUsage == EX_USAGE);

namespace {

// gflags prints its own message and calls exit(1) on an unknown flag or a
// value that does not parse; while it parses, this handler turns that exit
// into 78 like every other configuration error (64 with --check-config).
bool parsing_flags = false;
int bad_command_line_status = kExitConfig;
void ExitConfigIfParsingFlags() {
  if (parsing_flags) _exit(bad_command_line_status);
}

// Whether argv[i] is --check-config[=...] (either spelling, one or two
// dashes); rewrites the hyphenated one to gflags' check_config in place.
bool TakeCheckConfig(char* arg) {
  char* name = arg;
  if (*name != '-') return false;
  ++name;
  if (*name == '-') ++name;
  if (std::strncmp(name, "check-config", 12) != 0 &&
      std::strncmp(name, "check_config", 12) != 0) {
    return false;
  }
  if (name[12] != '\0' && name[12] != '=') return false;
  name[5] = '_';
  return true;
}

absl::StatusOr<io::IoBackend> IoBackendFromFlag() {
  if (FLAGS_io == "auto") return io::IoBackend::kAuto;
  if (FLAGS_io == "uring" || FLAGS_io == "io_uring")
    return io::IoBackend::kIoUring;
  if (FLAGS_io == "epoll") return io::IoBackend::kEpoll;
  return absl::InvalidArgumentError(
      absl::StrCat("--io=", FLAGS_io, ": use 'auto', 'uring' or 'epoll'"));
}

// Whether a flag was given on the command line (it then overrides site.toml).
bool FlagGiven(const char* name) {
  return FLAGS_config.empty() ||
         !gflags::GetCommandLineFlagInfoOrDie(name).is_default;
}

// "--flag=value is outside min..max" unless min <= value <= max.
absl::Status InRange(const char* flag, int value, int min, int max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", value, " is outside ", min, "..", max));
}

}  // namespace

absl::optional<int> ParseCommandLine(int& argc, char**& argv, const char* usage,
                                     void (*print_help)()) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      print_help();
      return 0;
    }
  }
  gflags::SetUsageMessage(usage);
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
  bool checking = false;
  for (int i = 1; i < argc; ++i) checking |= TakeCheckConfig(argv[i]);
  if (checking) bad_command_line_status = kExitUsage;
  if (!gflags_help) {
    std::atexit(ExitConfigIfParsingFlags);
    parsing_flags = true;
  }
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  parsing_flags = false;
  google::InitGoogleLogging(argv[0]);
  if (absl::Status s = log::SetUpLogging(FLAGS_log_format); !s.ok()) {
    LOG(ERROR) << s.message() << " (see --help)";
    return kExitConfig;
  }
  if (argc > 1) {
    LOG(ERROR) << "unexpected argument '" << argv[1]
               << "'; rackbootd takes only flags (see --help)";
    return bad_command_line_status;
  }
  if (checking) {
    if (FLAGS_check_config.empty()) {
      LOG(ERROR) << "--check-config needs the site.toml to check: "
                    "--check-config=/etc/rackboot/site.toml";
      return kExitUsage;
    }
    if (!FLAGS_config.empty() && FLAGS_config != FLAGS_check_config) {
      LOG(ERROR) << "--config=" << FLAGS_config
                 << " and --check-config=" << FLAGS_check_config
                 << " name two files: give one";
      return kExitUsage;
    }
    FLAGS_config = FLAGS_check_config;
  }
  return absl::nullopt;
}

bool CheckConfigRequested() { return !FLAGS_check_config.empty(); }

absl::StatusOr<site::SiteConfig> LoadSite() {
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
    absl::StatusOr<dhcp::Ipv4Address> address =
        dhcp::Ipv4Address::Parse(FLAGS_address);
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
  if (FlagGiven("http_listen")) {
    config.http.listen = FLAGS_http_listen;
    if (!config.http.listen.empty()) {
      if (absl::Status s = site::ParseListenAddress(config.http.listen,
                                                    config.http.listen_address,
                                                    config.http.listen_port);
          !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--http_listen=", FLAGS_http_listen, ": ", s.message()));
      }
    }
  }
  if (FlagGiven("http_repo_root")) {
    config.http.repo_root = FLAGS_http_repo_root;
    config.key_lines.erase("http.repo_root");  // errors name the flag
  }
  using site::HttpConfig;
  if (FlagGiven("http_max_connections")) {
    if (absl::Status s = InRange(
            "http_max_connections", FLAGS_http_max_connections,
            HttpConfig::kMaxConnectionsMin, HttpConfig::kMaxConnectionsMax);
        !s.ok()) {
      return s;
    }
    config.http.max_connections = FLAGS_http_max_connections;
  }
  if (FlagGiven("http_header_timeout_ms")) {
    if (absl::Status s =
            InRange("http_header_timeout_ms", FLAGS_http_header_timeout_ms,
                    HttpConfig::kTimeoutMsMin, HttpConfig::kTimeoutMsMax);
        !s.ok()) {
      return s;
    }
    config.http.header_timeout_ms = FLAGS_http_header_timeout_ms;
  }
  if (FlagGiven("http_idle_timeout_ms")) {
    if (absl::Status s =
            InRange("http_idle_timeout_ms", FLAGS_http_idle_timeout_ms,
                    HttpConfig::kTimeoutMsMin, HttpConfig::kTimeoutMsMax);
        !s.ok()) {
      return s;
    }
    config.http.idle_timeout_ms = FLAGS_http_idle_timeout_ms;
  }
  if (FlagGiven("api_token_file")) {
    config.api.token_file = FLAGS_api_token_file;
    config.key_lines.erase("api.token_file");  // errors name the flag
  }
  return config;
}

absl::StatusOr<DaemonFlags> CheckDaemonFlags() {
  DaemonFlags flags;
  absl::StatusOr<io::IoBackend> io = IoBackendFromFlag();
  if (!io.ok()) return io.status();
  flags.io = *io;
  if (absl::Status s = InRange("threads", FLAGS_threads, 0, 1024); !s.ok()) {
    return s;
  }
  flags.threads = FLAGS_threads;
  if (FLAGS_dhcp_commit_window_us < 0 ||
      FLAGS_dhcp_commit_window_us > 1000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dhcp_commit_window_us=", FLAGS_dhcp_commit_window_us,
                     ": must be between 0 and 1000000 (one second)"));
  }
  flags.dhcp_commit_window = absl::Microseconds(FLAGS_dhcp_commit_window_us);
  return flags;
}

const std::string& ConfigPath() { return FLAGS_config; }

absl::StatusOr<TftpServiceOptions> TftpOptions(const site::SiteConfig& site) {
  TftpServiceOptions options;
  absl::StatusOr<io::SocketAddress> listen =
      io::SocketAddress::Parse(site.tftp.listen);
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
  return options;
}

}  // namespace rackboot::config
