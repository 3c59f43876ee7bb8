// Fuzz target for the host-states.applied parser
// (HostStateStore::ParseAppliedStatus, what `rackboot hosts` reads): any input
// either fails with a DataLoss status naming host-states.applied, or parses
// into a status with a positive pid, lowercase hostnames and no control
// character in the degraded reason that was not in the input; written back in
// the file's format it parses to the same status. A violated invariant traps
// so libFuzzer (or the seed replay test) reports it.
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
  absl::StatusOr<HostStateStore::AppliedStatus> status =
      HostStateStore::ParseAppliedStatus(text, "host-states.applied");
  if (!status.ok()) {
    Check(status.status().code() == absl::StatusCode::kDataLoss);
    Check(absl::StartsWith(status.status().message(), "host-states.applied"));
    return;
  }
  Check(status->pid > 0);
  Check(!status->running);
  std::string written =
      absl::StrCat("# written back\npid\t", status->pid, "\n");
  // A file without a `written` line leaves it InfinitePast, which has no
  // line of its own to write back.
  if (status->written != absl::InfinitePast()) {
    absl::StrAppend(&written, "written\t", absl::ToUnixSeconds(status->written),
                    "\n");
  }
  if (!status->degraded.empty()) {
    Check(status->degraded.find('\n') == std::string::npos);
    Check(status->degraded.find('\t') == std::string::npos);
    absl::StrAppend(&written, "degraded\t", status->degraded, "\n");
  }
  for (const auto& [hostname, state] : status->hosts) {
    Check(absl::AsciiStrToLower(hostname) == hostname);
    Check(hostname.find('\n') == std::string::npos);
    Check(hostname.find('\t') == std::string::npos);
    absl::StrAppend(&written, "host\t", hostname, "\t", HostStateName(state),
                    "\n");
  }
  absl::StatusOr<HostStateStore::AppliedStatus> again =
      HostStateStore::ParseAppliedStatus(written, "host-states.applied");
  Check(again.ok());
  Check(again->pid == status->pid);
  Check(again->written == status->written);
  Check(again->degraded == status->degraded);
  Check(again->hosts == status->hosts);
}

}  // namespace
}  // namespace rackboot::site

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::site::FuzzOne(data, size);
  return 0;
}
