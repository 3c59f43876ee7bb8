// Fuzz target for the host-states.tsv parser (HostStateStore::ParseStates,
// what Open and Reload read): any input either fails with a DataLoss status
// naming host-states.tsv:line, or parses into entries whose hostnames are
// valid lowercase DNS names, whose tokens are "" or well formed (and only on
// install hosts), and which, written back in the file's format
// (hostname<TAB>state<TAB>unix seconds[<TAB>token<TAB>expiry]), parse to the
// same entries. A violated
// invariant traps so libFuzzer (or the seed replay test) reports it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"

namespace rackboot::site {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzOne(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<HostStateMap> entries =
      HostStateStore::ParseStates(text, "host-states.tsv");
  if (!entries.ok()) {
    Check(entries.status().code() == absl::StatusCode::kDataLoss);
    Check(absl::StartsWith(entries.status().message(), "host-states.tsv:"));
    return;
  }
  std::string written = "# written back\n";
  for (const auto& [hostname, entry] : *entries) {
    Check(CheckDnsName(hostname).ok());
    Check(absl::AsciiStrToLower(hostname) == hostname);
    absl::StrAppend(&written, hostname, "\t", HostStateName(entry.state), "\t",
                    absl::ToUnixSeconds(entry.changed));
    if (!entry.token.empty()) {
      Check(IsWellFormedToken(entry.token));
      Check(entry.state == HostState::kInstall);
      absl::StrAppend(&written, "\t", entry.token, "\t",
                      absl::ToUnixSeconds(entry.token_expires));
      if (entry.from_inventory) written.append("\tinventory");
    } else {
      Check(entry.token_expires == absl::InfinitePast());
      Check(!entry.from_inventory);  // the mark only follows a token
    }
    written.push_back('\n');
  }
  absl::StatusOr<HostStateMap> again =
      HostStateStore::ParseStates(written, "host-states.tsv");
  Check(again.ok());
  Check(again->size() == entries->size());
  for (const auto& [hostname, entry] : *entries) {
    auto it = again->find(hostname);
    Check(it != again->end());
    Check(it->second.state == entry.state);
    Check(it->second.changed == entry.changed);
    Check(it->second.token == entry.token);
    Check(it->second.token_expires == entry.token_expires);
    Check(it->second.from_inventory == entry.from_inventory);
  }
}

}  // namespace
}  // namespace rackboot::site

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::site::FuzzOne(data, size);
  return 0;
}
