// rackboot-hosts: lists inventory hosts with their state and last bring-up
// phase, and arms or disarms them. A running rackbootd notices the change
// within a second; nothing restarts.
//
//   rackboot-hosts --config=site.toml list
//   rackboot-hosts --config=site.toml arm node001
//   rackboot-hosts --config=site.toml disarm node001
//
// It writes <state_dir>/host-states.tsv through HostStateStore, the same code
// (and the same file lock) the daemon uses, so the two never lose each other's
// changes.
#include <gflags/gflags.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/site/bring_up_log.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

DEFINE_string(config, "", "The site configuration (site.toml); required.");
DEFINE_string(state_dir, "",
              "Overrides server.state_dir of the site configuration.");
DEFINE_string(inventory, "",
              "Overrides server.inventory of the site configuration.");

namespace {

constexpr char kUsage[] =
    "Usage: rackboot-hosts --config=site.toml [--state_dir=DIR] "
    "[--inventory=FILE] COMMAND\n"
    "\n"
    "Commands:\n"
    "  list          every inventory host: state, last bring-up phase, when\n"
    "  arm HOST      set HOST to 'install': its next network boot installs it\n"
    "  disarm HOST   set HOST to 'localboot': its next network boot boots\n"
    "                from disk\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "rackboot-hosts: %s\n", message.c_str());
  return 1;
}

int List(const rackboot::site::Inventory& inventory,
         const rackboot::site::HostStateStore& states,
         const std::string& state_dir) {
  namespace site = rackboot::site;
  absl::StatusOr<std::map<std::string, site::BringUpPhase>> phases =
      site::BringUpLog::Read(state_dir);
  if (!phases.ok()) return Fail(std::string(phases.status().message()));
  std::printf("%-20s %-17s %-15s %-10s %-10s %-24s %s\n", "HOST", "MAC", "IP",
              "PROFILE", "STATE", "LAST PHASE", "WHEN (UTC)");
  for (const site::InventoryHost& host : inventory.hosts()) {
    auto phase = phases->find(host.hostname);
    const bool seen = phase != phases->end();
    std::printf(
        "%-20s %-17s %-15s %-10s %-10s %-24s %s\n", host.hostname.c_str(),
        site::FormatMac(host.mac).c_str(),
        host.address.has_value() ? host.address->ToString().c_str() : "-",
        host.profile.empty() ? "-" : host.profile.c_str(),
        std::string(site::HostStateName(states.Get(host.hostname))).c_str(),
        seen ? phase->second.phase.c_str() : "-",
        seen ? absl::FormatTime("%Y-%m-%d %H:%M:%S", phase->second.when,
                                absl::UTCTimeZone())
                   .c_str()
             : "-");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace site = rackboot::site;
  gflags::SetUsageMessage(kUsage);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (FLAGS_config.empty() || args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  absl::StatusOr<site::SiteConfig> config = site::LoadSiteConfig(FLAGS_config);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  if (!FLAGS_state_dir.empty()) config->server.state_dir = FLAGS_state_dir;
  if (!FLAGS_inventory.empty()) config->server.inventory = FLAGS_inventory;
  absl::StatusOr<site::Inventory> inventory =
      site::Inventory::Load(config->server.inventory);
  if (!inventory.ok()) return Fail(std::string(inventory.status().message()));
  absl::StatusOr<std::unique_ptr<site::HostStateStore>> states =
      site::HostStateStore::Open(config->server.state_dir, *inventory);
  if (!states.ok()) return Fail(std::string(states.status().message()));

  const std::string& command = args[0];
  if (command == "list" && args.size() == 1) {
    return List(*inventory, **states, config->server.state_dir);
  }
  if ((command == "arm" || command == "disarm") && args.size() == 2) {
    const site::InventoryHost* host = inventory->FindByHostname(args[1]);
    if (host == nullptr) {
      return Fail(absl::StrCat("no host '", args[1], "' in ",
                               config->server.inventory,
                               " (rackboot-hosts list shows them)"));
    }
    const site::HostState state = command == "arm"
                                      ? site::HostState::kInstall
                                      : site::HostState::kLocalboot;
    absl::Status set = (*states)->Set(host->hostname, state);
    if (!set.ok()) return Fail(std::string(set.message()));
    std::printf(
        "%s: %s (a running rackbootd applies it to the next network boot)\n",
        host->hostname.c_str(),
        std::string(site::HostStateName(state)).c_str());
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
