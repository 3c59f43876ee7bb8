// The daemon's command line laid over site.toml: every rackbootd flag is
// defined here (gflags; `rackbootd --help` lists them), and this is the one
// place that turns flags and site.toml into the settings the services take.
//
//   absl::StatusOr<site::SiteConfig> site = config::LoadSite();  // exit 78
//   absl::StatusOr<config::DaemonFlags> flags = config::CheckDaemonFlags();
//   absl::StatusOr<TftpServiceOptions> tftp = config::TftpOptions(*site);
//
// A flag given on the command line overrides its site.toml key; without
// --config every flag counts, defaults included. Errors name the flag and the
// value ("--tftp_max_blksize=7 is outside 8..65464"); site.toml's own errors
// name file:line (engine/site/site_config.h). The daemon exits 78 for any of
// them. Called from main after gflags parsed the command line (also on
// SIGHUP, from the main thread); not thread-safe (reads the flags).
#ifndef RACKBOOT_ENGINE_CONFIG_DAEMON_FLAGS_H_
#define RACKBOOT_ENGINE_CONFIG_DAEMON_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/io/reactor.h"
#include "engine/site/site_config.h"
#include "engine/tftp/tftp_service.h"

namespace rackboot::config {

// Exit statuses. Every configuration error (site.toml, inventory.csv,
// host-states.tsv, a flag's value, a boot file missing from tftp.root) exits
// 78, EX_CONFIG of sysexits.h, so that a service manager need not retry it
// (systemd: RestartPreventExitStatus=78); failures of the system (a port in
// use, io_uring, privileges) exit 1.
inline constexpr int kExitConfig = 78;
inline constexpr int kExitFailure = 1;
// --check-config only: a bad command line (an unknown flag, a value that does
// not parse, a stray argument), EX_USAGE of sysexits.h; its other statuses
// are 0 (valid) and 1 (problems found): RunCheckConfig (startup_checks.h).
inline constexpr int kExitUsage = 64;

// Parses the command line into the flags (gflags) and starts logging to
// stderr in --log_format's format (engine/log/log_format.h). Returns the status
// main should exit with, if any: 0 after --help (which calls `print_help`: the
// daemon's own flags only), 78 for an unknown flag, a value that does not parse
// (gflags' own exit(1) is turned into 78), a --log_format it does not know, or
// a stray argument. gflags' --helpfull and --version keep their status.
// With --check-config=PATH (also spelt --check_config) those exit 64 instead,
// as do an empty PATH and a --config naming another file; PATH becomes
// --config.
absl::optional<int> ParseCommandLine(int& argc, char**& argv, const char* usage,
                                     void (*print_help)());

// Whether --check-config was given (after ParseCommandLine).
bool CheckConfigRequested();

// site.toml (--config; or the defaults, without it) with the flags given on
// top. The key_lines of keys a flag replaced are erased, so later checks name
// the flag (--tftp_root, --http_repo_root) rather than a line.
absl::StatusOr<site::SiteConfig> LoadSite();

// The settings that are flags only, checked.
struct DaemonFlags {
  io::IoBackend io = io::IoBackend::kAuto;                    // --io
  int threads = 0;                                            // --threads
  absl::Duration dhcp_commit_window = absl::Milliseconds(2);  // --dhcp_...
};
absl::StatusOr<DaemonFlags> CheckDaemonFlags();

// The TFTP service's options from `site` and the TFTP-only flags
// (--tftp_timeout_ms, --tftp_max_retries, --tftp_unconfirmed_retries,
// --tftp_gso, --tftp_zero_copy); checks every range. Also run on SIGHUP so that
// a file which would not start is refused at once.
absl::StatusOr<TftpServiceOptions> TftpOptions(const site::SiteConfig& site);

// --config as given ("" without one).
const std::string& ConfigPath();

}  // namespace rackboot::config

#endif  // RACKBOOT_ENGINE_CONFIG_DAEMON_FLAGS_H_
