// rackbootd: the Rackboot engine's daemon. main() parses flags and
// configuration, starts the services and handles signals; protocol logic lives
// in the libraries beside this file.
//
// Today it parses its flags and exits: the TFTP and DHCP services arrive with
// their issues.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

DEFINE_string(config, "",
              "Path of the site configuration (site.toml). Flags given on the "
              "command line "
              "override single keys of it.");

namespace {

constexpr char kUsage[] =
    "rackbootd: serves DHCP (PXE-aware) and TFTP for network-booting racks of "
    "servers.\n"
    "\n"
    "Usage: rackbootd [--config=site.toml] [FLAGS]\n";

// gflags' own --help lists every flag of every linked library (glog's among
// them); operators want the daemon's flags, so --help prints those defined in
// engine/ and points at the rest.
void PrintHelp() {
  std::fputs(kUsage, stdout);
  std::fputs("\nFlags:\n", stdout);
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& flag : flags) {
    if (flag.filename.find("engine/") == std::string::npos) continue;
    std::printf("  --%s (%s, default \"%s\")\n      %s\n", flag.name.c_str(),
                flag.type.c_str(), flag.default_value.c_str(),
                flag.description.c_str());
  }
  std::fputs(
      "\nLogging flags come from glog (--v, --logtostderr, --log_dir, ...); "
      "--helpfull lists every flag.\n",
      stdout);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      PrintHelp();
      return 0;
    }
  }
  gflags::SetUsageMessage(kUsage);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (argc > 1) {
    LOG(ERROR) << "unexpected argument '" << argv[1]
               << "'; rackbootd takes only flags (see --help)";
    return 2;
  }
  LOG(INFO) << "rackbootd: no service is built yet (TFTP and DHCP arrive with "
               "their issues); exiting";
  return 0;
}
