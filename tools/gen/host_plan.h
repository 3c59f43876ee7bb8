// What `rackboot gen` renders for each host: the hosts it was asked for,
// each one's state (host-states.tsv, else the inventory's state column),
// and whether it is armed now: state install with an install token that is
// valid at `now`, exactly as rackbootd decides it (BootRenderer), so gen and
// the daemon render the same files for the same host.
//
//   absl::StatusOr<site::HostStateMap> states = ReadHostStates(state_dir);
//   absl::StatusOr<std::vector<HostPlan>> plan =
//       PlanHosts(site, inventory, *states, {"node001"}, absl::Now());
//
// gen never writes the state directory: ReadHostStates only reads the file
// (no lock, no directory made), which host-states.tsv's atomic rewrite
// (rename) makes safe while a daemon or `rackboot arm` changes it.
//
// Stateless functions; any thread. A HostPlan points into the inventory and
// the site it was planned from: they must outlive it.
#ifndef RACKBOOT_TOOLS_GEN_HOST_PLAN_H_
#define RACKBOOT_TOOLS_GEN_HOST_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::gen {

struct HostPlan {
  const site::InventoryHost* host = nullptr;
  const site::BootProfile* profile = nullptr;  // null: none, or not known
  site::HostState state = site::HostState::kLocalboot;
  bool armed = false;  // state install and `token` valid at `now`
  std::string token;   // the valid token when armed, else ""
  // Why a host in state install is not rendered armed (it gets its
  // local-boot menus and no install files), "" otherwise: "no install token
  // ...", "install token expired at ...". Printed as a warning naming it.
  std::string not_armed_why;
  // Where the state comes from, for CheckArmedHost's message: the states
  // file's path, or "its state column".
  std::string state_from;
};

// <state_dir>/host-states.tsv parsed (HostStateStore::ParseStates). A file
// that does not exist (nor its directory) is an empty map: every host has
// its inventory state. Other read errors name the path; a damaged line is
// DataLoss naming path:line.
absl::StatusOr<site::HostStateMap> ReadHostStates(const std::string& state_dir);

// The path ReadHostStates reads.
std::string HostStatesPath(const std::string& state_dir);

// `--hosts=a,b` as hostnames (lowercased, duplicates dropped, in the order
// given); InvalidArgument for an empty name. "" = every host (empty list).
absl::StatusOr<std::vector<std::string>> ParseHostList(absl::string_view text);

// The plan of every inventory host named in `only` (all when empty), in
// inventory order. NotFound naming every name the inventory does not have.
absl::StatusOr<std::vector<HostPlan>> PlanHosts(
    const site::SiteConfig& site, const site::Inventory& inventory,
    const site::HostStateMap& states, const std::string& states_path,
    const std::vector<std::string>& only, absl::Time now);

// Every token valid at `now` of any inventory host (whether asked for or
// not): the install/<token>/ directories gen must keep in --out.
std::vector<std::string> ValidTokens(const site::Inventory& inventory,
                                     const site::HostStateMap& states,
                                     absl::Time now);

}  // namespace rackboot::gen

#endif  // RACKBOOT_TOOLS_GEN_HOST_PLAN_H_
