// Host rows and host JSON for rackboot-hosts: the same table and the same
// JSON shapes (docs/api.md's HOST and GET /api/v1/hosts) whether the answer
// came from a running rackbootd's API or, as a fallback, from the state
// files. Pure functions (no I/O): the tool's main thread calls them, tests
// pin the formats.
#ifndef RACKBOOT_TOOLS_HOSTS_HOST_VIEW_H_
#define RACKBOOT_TOOLS_HOSTS_HOST_VIEW_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/site/bring_up_log.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "nlohmann/json.hpp"

namespace rackboot::hosts {

// One line of `rackboot hosts`. Every field is already text ("-" if none).
struct HostRow {
  std::string name, mac, address, profile, state;
  std::string phase;    // LAST PHASE: the API's live phase, or bring-up.tsv's
  std::string when;     // WHEN (UTC): since when / when it was recorded
  std::string applied;  // APPLIED
  std::string reason;   // why stalled or failed (API only), "" otherwise
};

// The table: the header, one line per row, then `notes` one per line.
std::string FormatTable(const std::vector<HostRow>& rows,
                        const std::vector<std::string>& notes);

// A row from one HOST object of the API. The API is the running daemon's own
// view, so APPLIED is "yes". Errors name the field that is missing or of the
// wrong type (a daemon of another version, or not rackbootd at all).
absl::StatusOr<HostRow> RowFromApiHost(const nlohmann::json& host);
// Every row of a GET /api/v1/hosts answer ({"hosts":[HOST...],...}). With a
// "degraded" reason (the daemon cannot read host-states.tsv, so every host
// boots from disk) APPLIED is "no (degraded)".
absl::StatusOr<std::vector<HostRow>> RowsFromApiHosts(
    const nlohmann::json& answer);

// The API phase closest to what the state files say (no stall detection, no
// transfer progress: only rackbootd knows those): bring-up.tsv's "done" (the
// installer's report) -> done; else installed for state installed; else
// from bring-up.tsv's last record: none -> armed (state install) or unknown,
// "dhcp" -> dhcp, "tftp F"/"http F" -> booting, "installing" / "failed" ->
// themselves while armed, else unknown.
std::string PhaseFromFiles(site::HostState state,
                           const site::BringUpPhase* last);

// What `rackboot hosts` says of an armed host's install token at `now`:
// "install token expires <RFC 3339>", "install token expired at <...>
// (re-arm to install)" or "no install token yet (...)"; "" when not armed.
// Never the token itself.
std::string TokenNote(const site::HostStateEntry& entry, absl::Time now);

// A HOST object built from the files, the same shape as the API's.
nlohmann::json HostJsonFromFiles(const site::SiteConfig& config,
                                 const site::InventoryHost& host,
                                 site::HostState state,
                                 const site::BringUpPhase* last);

// RFC 3339 UTC, seconds ("2026-11-30T13:05:00Z"); JSON null for an infinite
// time.
nlohmann::json JsonTime(absl::Time t);

// Text from a daemon, made safe to print on a terminal: control bytes and
// backslashes escaped (C style), at most 512 bytes.
std::string TerminalSafe(absl::string_view text);

// The API's phase names, in the order the counts list them.
const std::vector<std::string>& PhaseNames();

}  // namespace rackboot::hosts

#endif  // RACKBOOT_TOOLS_HOSTS_HOST_VIEW_H_
