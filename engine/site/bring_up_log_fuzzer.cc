// Fuzz target for the bring-up.tsv parser (BringUpLog::Parse, what Read and
// Open take): any input parses (bad lines are ignored) into hostname ->
// phase entries without a tab or newline in either, which, written back in
// the file's format (hostname<TAB>phase<TAB>unix seconds), parse to the same
// entries. A violated invariant traps so libFuzzer (or the seed replay test)
// reports it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/site/bring_up_log.h"

namespace rackboot::site {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzOne(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const std::map<std::string, BringUpPhase> phases = BringUpLog::Parse(text);
  std::string written;
  for (const auto& [hostname, phase] : phases) {
    for (absl::string_view field :
         {absl::string_view(hostname), absl::string_view(phase.phase)}) {
      Check(!absl::StrContains(field, '\t'));
      Check(!absl::StrContains(field, '\n'));
    }
    absl::StrAppend(&written, hostname, "\t", phase.phase, "\t",
                    absl::ToUnixSeconds(phase.when), "\n");
  }
  Check(BringUpLog::Parse(written) == phases);
}

}  // namespace
}  // namespace rackboot::site

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::site::FuzzOne(data, size);
  return 0;
}
