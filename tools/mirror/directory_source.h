// The directory source: every regular file under a local tree (an unpacked
// DVD, an NFS export), walked with openat and O_NOFOLLOW so that a symlink in
// the tree can never lead the mirror outside it. Symlinks and special files
// are skipped and counted; depth and count are bounded; every relative path
// passes CheckMirrorPath. Main thread of `rackboot mirror`.
#ifndef RACKBOOT_TOOLS_MIRROR_DIRECTORY_SOURCE_H_
#define RACKBOOT_TOOLS_MIRROR_DIRECTORY_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/mirror/mirror_plan.h"

namespace rackboot::mirror {

inline constexpr int64_t kMaxDirectoryEntries = 1'000'000;

struct DirectoryEntry {
  // path relative to root, url = absolute path of the file, size from stat,
  // sha256 empty (the copier computes it).
  PlannedFile file;
  int64_t mtime_ns = 0;
};

// Sorted by path. `warnings` (may be null) gets one line for skipped
// symlinks/special files (with the count) and one per unsafe name skipped.
// A subtree deeper than kMaxMirrorPathDepth fails CheckMirrorPath and is
// skipped with a warning. NotFound when root is not a directory;
// ResourceExhausted past kMaxDirectoryEntries.
absl::StatusOr<std::vector<DirectoryEntry>> ListDirectorySource(
    const std::string& root, std::vector<std::string>* warnings);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_DIRECTORY_SOURCE_H_
