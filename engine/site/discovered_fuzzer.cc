// Fuzz target for the discovered.tsv parser (HostStateStore::ParseDiscovered,
// what Open reads): any input either fails with a DataLoss status naming
// discovered.tsv:line, or parses into one entry per MAC which, written back
// in the file's format (mac<TAB>unix seconds<TAB>detail), parses to the same
// entries in the same order. A violated invariant traps so libFuzzer (or the
// seed replay test) reports it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
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
  absl::StatusOr<std::vector<DiscoveredHost>> hosts =
      HostStateStore::ParseDiscovered(text, "discovered.tsv");
  if (!hosts.ok()) {
    Check(hosts.status().code() == absl::StatusCode::kDataLoss);
    Check(absl::StartsWith(hosts.status().message(), "discovered.tsv:"));
    return;
  }
  absl::flat_hash_set<MacAddress> macs;
  std::string written;
  for (const DiscoveredHost& host : *hosts) {
    Check(macs.insert(host.mac).second);
    Check(!absl::StrContains(host.detail, '\n'));
    absl::StrAppend(&written, FormatMac(host.mac), "\t",
                    absl::ToUnixSeconds(host.first_seen), "\t", host.detail,
                    "\n");
  }
  absl::StatusOr<std::vector<DiscoveredHost>> again =
      HostStateStore::ParseDiscovered(written, "discovered.tsv");
  Check(again.ok());
  Check(again->size() == hosts->size());
  for (size_t i = 0; i < hosts->size(); ++i) {
    Check((*again)[i].mac == (*hosts)[i].mac);
    Check((*again)[i].first_seen == (*hosts)[i].first_seen);
    Check((*again)[i].detail == (*hosts)[i].detail);
  }
}

}  // namespace
}  // namespace rackboot::site

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::site::FuzzOne(data, size);
  return 0;
}
