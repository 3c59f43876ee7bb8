#include "engine/config/startup_checks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/api/api_routes.h"
#include "engine/install/install_templates.h"
#include "engine/io/socket_address.h"
#include "engine/os/privileges.h"
#include "engine/site/host_states.h"
#include "engine/site/http_urls.h"
#include "engine/site/inventory.h"
#include "engine/site/site_files.h"
#include "engine/site/site_runtime.h"

namespace rackboot::config {
namespace {

// Per-host render problems listed before "... and N more": a template that
// fails for every host should not print 100,000 lines.
constexpr size_t kMaxRenderProblems = 20;

// "site.toml:12: server.user" when the key came from the file, else the flag.
std::string WhereOrFlag(const site::SiteConfig& site, absl::string_view key,
                        absl::string_view flag) {
  return site.key_lines.count(std::string(key)) > 0 ? site.Where(key)
                                                    : std::string(flag);
}

bool Exists(const std::string& path, struct stat* st) {
  return ::stat(path.c_str(), st) == 0;
}

// The state directory: a directory, or creatable; without root, writable by
// this process (it writes the lease journal and host-states.tsv there).
void CheckStateDir(const site::SiteConfig& site,
                   const StartupCheckOptions& options, StartupReport& report) {
  const std::string& dir = site.server.state_dir;
  const std::string where =
      WhereOrFlag(site, "server.state_dir", "--state_dir");
  const std::string who = absl::StrCat("uid ", options.euid);
  struct stat st;
  if (Exists(dir, &st)) {
    if (!S_ISDIR(st.st_mode)) {
      report.problems.push_back(
          {absl::StrCat(where, ": ", site::Quote(dir), ": not a directory")});
      return;
    }
    if (options.euid != 0 &&
        ::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
      report.problems.push_back(
          {absl::StrCat(where, ": ", site::Quote(dir), ": not writable by ",
                        who,
                        ", which rackbootd runs as (started without root): "
                        "give it to that user (chown; the systemd unit's "
                        "StateDirectory= does) or start as root"),
           /*system=*/true});
    }
    return;
  }
  if (errno != ENOENT) {
    report.problems.push_back({absl::StrCat(where, ": ", site::Quote(dir), ": ",
                                            std::strerror(errno)),
                               /*system=*/true});
    return;
  }
  // Absent: HostStateStore::Open makes it with its parents, from the nearest
  // one that exists.
  std::string parent = dir;
  while (true) {
    const size_t slash = parent.find_last_of('/');
    std::string up = slash == std::string::npos ? std::string(".")
                     : slash == 0               ? std::string("/")
                                                : parent.substr(0, slash);
    parent.swap(up);
    if (Exists(parent, &st) || parent == "/" || parent == ".") break;
  }
  if (!Exists(parent, &st) || !S_ISDIR(st.st_mode)) {
    report.problems.push_back({absl::StrCat(
        where, ": ", site::Quote(dir),
        ": cannot be created: ", site::Quote(parent), " is not a directory")});
    return;
  }
  if (options.euid != 0 &&
      ::faccessat(AT_FDCWD, parent.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    report.problems.push_back(
        {absl::StrCat(where, ": ", site::Quote(dir),
                      " does not exist and cannot be created by ", who, " in ",
                      parent,
                      ": create it for the service user (install -d -o USER "
                      "DIR; the systemd unit's StateDirectory= does)"),
         /*system=*/true});
  }
}

// host-states.tsv (and discovered.tsv) as HostStateStore::Open would read
// them, without opening the store (which creates the directory and takes
// locks). Returns the entries; problems go to the report.
site::HostStateMap ReadStates(const site::SiteConfig& site,
                              StartupReport& report) {
  const std::string states_path =
      absl::StrCat(site.server.state_dir, "/host-states.tsv");
  const std::string discovered_path =
      absl::StrCat(site.server.state_dir, "/discovered.tsv");
  site::HostStateMap states;
  struct stat st;
  if (Exists(states_path, &st)) {
    absl::StatusOr<std::string> text = site::ReadSmallFile(states_path);
    if (!text.ok()) {
      report.Add(absl::Status(text.status().code(),
                              absl::StrCat(text.status().message(),
                                           " (run the check as root or as the "
                                           "service user)")),
                 /*system=*/true);
    } else {
      absl::StatusOr<site::HostStateMap> parsed =
          site::HostStateStore::ParseStates(*text, states_path);
      if (parsed.ok()) {
        states = *std::move(parsed);
      } else {
        report.Add(parsed.status());
      }
    }
  }
  if (Exists(discovered_path, &st)) {
    absl::StatusOr<std::string> text = site::ReadSmallFile(discovered_path);
    if (!text.ok()) {
      report.Add(text.status(), /*system=*/true);
    } else if (absl::StatusOr<std::vector<site::DiscoveredHost>> parsed =
                   site::HostStateStore::ParseDiscovered(*text,
                                                         discovered_path);
               !parsed.ok()) {
      report.Add(parsed.status());
    }
  }
  return states;
}

// The inventory and everything served from it: what SiteRuntime::Open checks
// before it opens the state store, and each host's rendered boot files.
void CheckInventory(const site::SiteConfig& site, bool dhcp,
                    const StartupCheckOptions& options, StartupReport& report) {
  absl::StatusOr<site::Inventory> inventory =
      site::Inventory::Load(site.server.inventory);
  if (!inventory.ok()) {
    report.Add(inventory.status());
    return;
  }
  report.hosts = inventory->hosts().size();
  report.Add(site::CheckSite(site, *inventory, dhcp, /*warn=*/false).status());
  for (const site::InventoryHost& host : inventory->hosts()) {
    if (site.profiles.empty() || site::FindProfile(site, host.profile)) {
      continue;
    }
    report.warnings.push_back(absl::StrCat(
        inventory->filename(), ":", host.line, ": ", host.hostname,
        "'s profile '", host.profile, "' is not a [[profile]] of ", site.path,
        "; it boots from its local disk and cannot be armed"));
  }
  absl::StatusOr<std::shared_ptr<const install::InstallTemplates>> templates =
      install::InstallTemplates::Load(site);
  report.Add(templates.status());

  const site::HostStateMap states =
      options.reload ? site::HostStateMap() : ReadStates(site, report);
  const std::string states_path =
      absl::StrCat(site.server.state_dir, "/host-states.tsv");
  // On reload the states are the running store's, not the file's: its own
  // CheckArmedHosts runs there.
  if (!options.reload) {
    report.Add(site::CheckArmedHosts(site, *inventory, states, states_path));
  }
  if (!templates.ok()) return;

  // Hosts' files as the daemon would render them now (BootRenderer: armed =
  // state install with a token valid now; the daemon issues a missing token
  // at start, so a stand-in takes its place here). Every armed host (its
  // install files use its own values), but of the others only the first of
  // each profile: their menus differ only in values the inventory parser
  // checked, and a render costs about 0.1 ms (100,000 hosts would add
  // seconds to every start and SIGHUP).
  const std::string base = site::HttpBaseUrl(site).value_or("");
  size_t render_problems = 0;
  std::set<std::string> unarmed_profiles;
  for (const site::InventoryHost& host : inventory->hosts()) {
    install::HostRenderInput input;
    input.site = &site;
    input.host = &host;
    input.profile = site::FindProfile(site, host.profile);
    input.http_base = base;
    auto it = states.find(host.hostname);
    const bool stands =
        it != states.end() &&
        site::HostStateStore::EntryStands(it->second, host.initial_state);
    const site::HostState state =
        stands ? it->second.state : host.initial_state;
    if (state == site::HostState::kInstall && !options.reload) {
      const bool has_token = stands && !it->second.token.empty();
      if (!has_token || options.now < it->second.token_expires) {
        ++report.armed;
        // A host CheckArmedHosts refused is reported there already.
        if (site::CheckArmedHost(site, *inventory, host, "").ok()) {
          input.armed = true;
          input.token = has_token ? it->second.token : std::string(32, '0');
        }
      }
    }
    if (!input.armed && !unarmed_profiles.insert(host.profile).second) {
      continue;
    }
    absl::StatusOr<std::vector<install::RenderedHostFile>> files =
        install::RenderHostFiles(**templates, input);
    if (files.ok()) continue;
    if (++render_problems <= kMaxRenderProblems) {
      report.problems.push_back({absl::StrCat(
          inventory->filename(), ":", host.line, ": ", host.hostname,
          ": its boot files do not render: ", files.status().message())});
    }
  }
  if (render_problems > kMaxRenderProblems) {
    report.problems.push_back({absl::StrCat(
        inventory->filename(), ": ", render_problems - kMaxRenderProblems,
        " more hosts whose boot files do not render")});
  }
}

// server.user and what it must reach after a root start drops to it.
void CheckUser(const site::SiteConfig& site, bool tftp, bool http,
               const StartupCheckOptions& options, StartupReport& report) {
  if (site.server.user == "root") return;  // the daemon warns at start
  absl::StatusOr<os::UserIds> user = os::LookUpUser(site.server.user);
  if (!user.ok()) {
    report.problems.push_back(
        {absl::StrCat(WhereOrFlag(site, "server.user", "--user"), ": ",
                      user.status().message())});
    return;
  }
  if (options.euid != 0) {
    // Runs as itself: its own reads (the boot files above) are the check.
    if (options.euid != user->uid) {
      report.warnings.push_back(absl::StrCat(
          "started as uid ", options.euid, ", not as server.user ",
          site.server.user, " (uid ", user->uid,
          "): without root rackbootd serves as whoever starts it"));
    }
    return;
  }
  if (tftp) {
    if (absl::Status s = os::CheckReadableBy(site.tftp.root, *user); !s.ok()) {
      report.problems.push_back(
          {absl::StrCat(WhereOrFlag(site, "tftp.root", "--tftp_root"),
                        ": TFTP root ", s.message())});
    }
  }
  if (http && !site.http.repo_root.empty()) {
    if (absl::Status s = os::CheckReadableBy(site.http.repo_root, *user);
        !s.ok()) {
      report.problems.push_back(
          {absl::StrCat(WhereOrFlag(site, "http.repo_root", "--http_repo_root"),
                        ": repository root ", s.message())});
    }
  }
  // The token is re-read on SIGHUP by the user the daemon dropped to; mode
  // 0600 lets only its owner read it.
  struct stat st;
  if (http && !site.api.token_file.empty() &&
      Exists(site.api.token_file, &st) && st.st_uid != user->uid) {
    report.problems.push_back(
        {absl::StrCat(WhereOrFlag(site, "api.token_file", "--api_token_file"),
                      ": ", site.api.token_file, " is owned by uid ", st.st_uid,
                      ", but rackbootd re-reads it on SIGHUP as user ",
                      user->name, " (after dropping root): chown ", user->name,
                      " ", site.api.token_file)});
  }
}

// server.interface names an interface of this host. Nothing is opened on it
// (if_nametoindex would open a socket): /sys/class/net lists them.
void CheckInterface(const site::SiteConfig& site, StartupReport& report) {
  const std::string& name = site.server.interface;
  if (name.empty()) return;
  const std::string where =
      WhereOrFlag(site, "server.interface", "--interface");
  if (name.size() > 15 || name == "." || name == ".." ||
      name.find('/') != std::string::npos) {
    report.problems.push_back(
        {absl::StrCat(where, ": ", site::Quote(name),
                      ": not an interface name (at most 15 bytes, no '/')")});
    return;
  }
  struct stat st;
  if (!Exists(absl::StrCat("/sys/class/net/", name), &st)) {
    report.problems.push_back(
        {absl::StrCat(where, ": ", site::Quote(name),
                      ": no such network interface here (`ip link` lists "
                      "them)"),
         /*system=*/true});
  }
}

}  // namespace

int StartupReport::StartExitStatus() const {
  if (problems.empty()) return 0;
  // A configuration to fix wins: restarting will not help with it.
  for (const StartupProblem& problem : problems) {
    if (!problem.system) return kExitConfig;
  }
  return kExitFailure;
}

absl::Status StartupReport::AsStatus() const {
  if (problems.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  for (const StartupProblem& problem : problems) lines.push_back(problem.text);
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

void StartupReport::Add(const absl::Status& status, bool system,
                        const std::string& prefix) {
  if (status.ok()) return;
  for (absl::string_view line :
       absl::StrSplit(status.message(), '\n', absl::SkipEmpty())) {
    problems.push_back({absl::StrCat(prefix, line), system});
  }
}

StartupReport CheckStartup(const site::SiteConfig& site,
                           const StartupCheckOptions& options) {
  StartupReport report;
  report.profiles = site.profiles.size();
  const bool dhcp = site.dhcp.mode != site::DhcpMode::kOff;
  const bool tftp = !site.tftp.root.empty();
  const bool http = !site.http.listen.empty();
  if (!dhcp && !tftp && !http) {
    report.problems.push_back(
        {"nothing to serve: give --tftp_root (tftp.root), --http_listen "
         "(http.listen) and/or --dhcp_mode (dhcp.mode) with "
         "--config=site.toml (see --help)"});
    return report;
  }
  if (tftp) {
    absl::StatusOr<TftpServiceOptions> tftp_options = TftpOptions(site);
    if (!tftp_options.ok()) {
      report.problems.push_back(
          {absl::StrCat(tftp_options.status().message(), " (see --help)")});
    }
  }
  if (http) {
    absl::StatusOr<io::SocketAddress> listen =
        io::SocketAddress::Parse(site.http.listen);
    if (!listen.ok()) {
      report.problems.push_back(
          {absl::StrCat(WhereOrFlag(site, "http.listen", "--http_listen"), ": ",
                        site.http.listen, ": ", listen.status().message())});
    }
  }
  report.Add(site::CheckSiteFiles(site));
  const bool runtime = dhcp || !site.profiles.empty();
  if (runtime) {
    if (!options.reload) CheckStateDir(site, options, report);
    CheckInventory(site, dhcp, options, report);
  }
  CheckUser(site, tftp, http, options, report);
  if (http && !site.api.token_file.empty()) {
    absl::StatusOr<std::string> token = api::ReadTokenFile(site.api.token_file);
    report.Add(
        token.status(), /*system=*/false,
        absl::StrCat(WhereOrFlag(site, "api.token_file", "--api_token_file"),
                     ": "));
  }
  CheckInterface(site, report);
  return report;
}

CommandLineCheck CheckCommandLine(const StartupCheckOptions& options) {
  CommandLineCheck out;
  absl::StatusOr<site::SiteConfig> site = LoadSite();
  if (!site.ok()) {
    out.report.Add(site.status());
    return out;
  }
  absl::StatusOr<DaemonFlags> flags = CheckDaemonFlags();
  if (flags.ok()) {
    out.flags = *flags;
  } else {
    out.report.problems.push_back(
        {absl::StrCat(flags.status().message(), " (see --help)")});
  }
  StartupReport checked = CheckStartup(*site, options);
  out.report.problems.insert(out.report.problems.end(),
                             checked.problems.begin(), checked.problems.end());
  out.report.warnings = std::move(checked.warnings);
  out.report.hosts = checked.hosts;
  out.report.profiles = checked.profiles;
  out.report.armed = checked.armed;
  out.site = *std::move(site);
  return out;
}

int RunCheckConfig(std::FILE* out, std::FILE* err) {
  const CommandLineCheck checked = CheckCommandLine(StartupCheckOptions());
  const StartupReport& report = checked.report;
  for (const std::string& warning : report.warnings) {
    std::fprintf(err, "warning: %s\n", warning.c_str());
  }
  for (const StartupProblem& problem : report.problems) {
    std::fprintf(err, "%s\n", problem.text.c_str());
  }
  std::fflush(err);
  const std::string& path = ConfigPath();
  if (report.ok()) {
    std::fprintf(out, "%s: OK (%zu hosts, %zu profiles, %zu armed)\n",
                 path.c_str(), report.hosts, report.profiles, report.armed);
  } else {
    std::fprintf(out, "%s: %zu problem%s\n", path.c_str(),
                 report.problems.size(),
                 report.problems.size() == 1 ? "" : "s");
  }
  std::fflush(out);
  return report.ok() ? 0 : kExitFailure;
}

}  // namespace rackboot::config
