#include "engine/cli/flag_help.h"

#include <gflags/gflags.h>

#include <string>
#include <vector>

namespace rackboot::cli {

void PrintFlagHelp(absl::string_view usage, absl::string_view path_fragment,
                   std::FILE* out) {
  std::fwrite(usage.data(), 1, usage.size(), out);
  std::fputs("\nFlags:\n", out);
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);  // sorted by name
  for (const gflags::CommandLineFlagInfo& flag : flags) {
    if (flag.filename.find(std::string(path_fragment)) == std::string::npos) {
      continue;
    }
    std::fprintf(out, "  --%s (%s, default \"%s\")\n      %s\n",
                 flag.name.c_str(), flag.type.c_str(),
                 flag.default_value.c_str(), flag.description.c_str());
  }
  std::fputs(
      "\nLogging flags come from glog (--v, --minloglevel, --log_dir, ...); "
      "--helpfull lists every flag.\n",
      out);
}

}  // namespace rackboot::cli
