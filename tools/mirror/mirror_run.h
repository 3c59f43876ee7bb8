// RunMirror: one `rackboot mirror` run from parsed options to a published
// tree. Detects the source (ISO file, directory, apt or yum URL), plans it
// with the source's module, makes every planned file present in staging
// (reused by SHA-256 from the published tree or staging, else fetched by the
// Fetcher, copied with copy_file_range, or extracted from the ISO), recognises
// the media, publishes atomically (Publisher) and copies the installer kernel
// and initrd into --boot_dir. mirror_main.cc parses flags and prints; this
// file does the work. Main thread; `cancel` is set by the signal handler.
#ifndef RACKBOOT_TOOLS_MIRROR_MIRROR_RUN_H_
#define RACKBOOT_TOOLS_MIRROR_MIRROR_RUN_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "tools/mirror/mirror_plan.h"
#include "tools/mirror/progress_reporter.h"

namespace rackboot::mirror {

struct MirrorOptions {
  std::string from;
  std::string to;
  std::string suite;
  std::vector<std::string> components = {"main"};
  std::string arch = "amd64";
  std::vector<std::string> packages;
  std::vector<std::string> priorities;
  bool all = false;
  bool installer = false;
  std::vector<std::string> udebs;  // apt: named udebs + closure
  bool recommends = false;
  std::string keyring;  // empty: apt uses Debian's keyring, yum checks none
  bool prune = false;
  std::string boot_dir;
  int connections = 16;
  int per_host = 6;
  int retries = 5;   // attempts after the first
  int timeout = 30;  // seconds without progress (and the connect bound)
};

enum class SourceKind { kIso, kDirectory, kApt, kYum };
const char* SourceKindName(SourceKind kind);

struct MirrorSummary {
  bool ok = false;
  bool published = false;
  bool up_to_date = false;
  std::string to;
  std::string source;  // credentials stripped
  std::string kind;
  MediaInfo media;
  int64_t files = 0, fetched = 0, reused = 0, bytes_fetched = 0, retries = 0;
  int64_t kept = 0, pruned = 0;
  double seconds = 0;
  std::vector<std::string> warnings;
  std::string error;  // when !ok
  std::string name;   // basename of --to: the profile and /repo/<name>
  std::vector<std::string> boot_files;  // copied into --boot_dir
};

// Checks the options that need no I/O (the URL scheme, an apt selection,
// positive limits). InvalidArgument with the fix: the command line is wrong
// (exit 64).
absl::Status ValidateMirrorOptions(const MirrorOptions& options);

// Does the run; `summary` is filled as far as it got (also on error: the
// source, kind, warnings). Cancelled when `cancel` turned true.
absl::Status RunMirror(const MirrorOptions& options, ProgressReporter* progress,
                       const std::atomic<bool>* cancel, MirrorSummary* summary);

// The --json object and the text summary with the profile stub.
nlohmann::json SummaryJson(const MirrorSummary& summary);
std::string SummaryText(const MirrorSummary& summary);
std::string ProfileStub(const MirrorSummary& summary);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_MIRROR_RUN_H_
