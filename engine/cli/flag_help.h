// --help for Rackboot's binaries. gflags' own --help lists every flag of every
// linked library (glog's among them); an operator wants the binary's own
// flags, so this prints the usage text and only the flags defined in files
// whose path contains a given fragment, then points at --helpfull.
// Stateless; any thread (called once, from main, before flags are parsed).
#ifndef RACKBOOT_ENGINE_CLI_FLAG_HELP_H_
#define RACKBOOT_ENGINE_CLI_FLAG_HELP_H_

#include <cstdio>

#include "absl/strings/string_view.h"

namespace rackboot::cli {

// Writes `usage`, then "Flags:" and every flag defined under `path_fragment`
// (e.g. "engine/", "tools/load/") with its type, default and description.
void PrintFlagHelp(absl::string_view usage, absl::string_view path_fragment,
                   std::FILE* out = stdout);

}  // namespace rackboot::cli

#endif  // RACKBOOT_ENGINE_CLI_FLAG_HELP_H_
