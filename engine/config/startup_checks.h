// Startup checks: everything rackbootd checks before it serves, in one
// function that binds no socket and writes no file, so that
// `rackbootd --check-config=site.toml`, the daemon's own start and each SIGHUP
// reload refuse the same things in the same words.
//
//   StartupReport report = CheckStartup(*site, StartupCheckOptions());
//   for (const StartupProblem& problem : report.problems)
//     std::cerr << problem.text << "\n";   // "site.toml:31: boot.bios: ..."
//   return report.ok() ? 0 : 1;
//
// Checked, each problem on a line of its own naming file:line (or the flag)
// and what to fix, all of them rather than the first:
//   - something to serve; the TFTP settings' ranges (TftpOptions);
//     http.listen parses;
//   - the TFTP root and every boot file site.toml names, the repository root
//     (CheckSiteFiles);
//   - with DHCP or [[profile]]s: inventory.csv, the inventory against the
//     site and the DHCP settings (site::CheckSite), the templates
//     (InstallTemplates::Load), host-states.tsv and discovered.tsv parse,
//     every armed host is installable (site::CheckArmedHosts), and its boot
//     menus and install files render (of the unarmed hosts, the first of
//     each profile: a render costs about 0.1 ms);
//   - server.user exists; started as root (which drops to that user after
//     binding), the TFTP root and the repository root are readable by it;
//   - the API token file (with http.listen): readable, mode 0600, and started
//     as root, owned by server.user (SIGHUP re-reads it after the drop);
//   - the state directory (with DHCP or profiles) is a directory, or can be
//     created; started without root, writable by this process; the lease
//     journal is not read;
//   - server.interface exists (/sys/class/net; nothing is opened on it).
// What it cannot know without binding: a port in use, io_uring refused,
// another DHCP server on the segment (the probe sends packets).
//
// "Started as" is the calling process (StartupCheckOptions::euid): the daemon
// checks itself; --check-config checks as if the daemon were started by
// whoever runs it, so run it as root or as the service user, as the daemon is
// started (the systemd unit's ExecReload runs it as the service user).
//
// Thread-compatible; reads the flags only through TftpOptions (main thread).
#ifndef RACKBOOT_ENGINE_CONFIG_STARTUP_CHECKS_H_
#define RACKBOOT_ENGINE_CONFIG_STARTUP_CHECKS_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/config/daemon_flags.h"
#include "engine/site/site_config.h"

namespace rackboot::config {

struct StartupProblem {
  std::string text;  // one line: "site.toml:31: boot.bios: ...: not found ..."
  // The system's (exit 1 at start: a missing interface, a state directory
  // that cannot be created), not the configuration's (exit 78).
  bool system = false;
};

struct StartupReport {
  std::vector<StartupProblem> problems;
  // Worth saying, not refusing: an unarmed host with an unknown profile, a
  // non-root start as another user than server.user.
  std::vector<std::string> warnings;
  size_t hosts = 0;     // in inventory.csv (0 when it is not read)
  size_t profiles = 0;  // [[profile]] sections
  size_t armed = 0;     // hosts armed for install now

  bool ok() const { return problems.empty(); }
  // The daemon's exit status for these problems: 0 when none, 78
  // (kExitConfig) when one is the configuration's, else 1 (the system's).
  int StartExitStatus() const;
  // OK, or every problem, one per line (what a refused reload logs).
  absl::Status AsStatus() const;
  // Adds `status`'s message, one problem per line (each prefixed by
  // `prefix`); nothing for OK.
  void Add(const absl::Status& status, bool system = false,
           const std::string& prefix = "");
};

struct StartupCheckOptions {
  // Who starts the daemon: 0 is root, which drops to server.user after
  // binding; any other uid runs as itself.
  uid_t euid = geteuid();
  // Whether a host is armed now (its token's expiry is compared with it).
  absl::Time now = absl::Now();
  // A running daemon's SIGHUP: the state directory is neither checked nor
  // read by its path (it is open already, a dropped user may not reach it by
  // path, and a new one needs a restart); SiteRuntime::Reload checks the
  // armed hosts against its open store instead.
  bool reload = false;
};

// The checks above on `site` (site.toml with the flags laid over it,
// LoadSite).
StartupReport CheckStartup(const site::SiteConfig& site,
                           const StartupCheckOptions& options);

// What main needs from the command line: site.toml with the flags on top and
// the flag-only settings, checked with CheckStartup.
struct CommandLineCheck {
  absl::optional<site::SiteConfig> site;  // when it parsed
  DaemonFlags flags;
  StartupReport report;
};
CommandLineCheck CheckCommandLine(const StartupCheckOptions& options);

// `rackbootd --check-config=PATH` after ParseCommandLine: CheckCommandLine as
// this process, each problem on a line of `err` (warnings as
// "warning: ..."), then one summary line on `out`:
//   /etc/rackboot/site.toml: OK (212 hosts, 3 profiles, 5 armed)
//   /etc/rackboot/site.toml: 2 problems
// Returns the exit status: 0 valid, 1 problems found (64, a bad command
// line, is ParseCommandLine's).
int RunCheckConfig(std::FILE* out, std::FILE* err);

}  // namespace rackboot::config

#endif  // RACKBOOT_ENGINE_CONFIG_STARTUP_CHECKS_H_
