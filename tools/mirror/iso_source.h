// The ISO source: an installer image read with libarchive's ISO9660 reader
// (Rock Ridge and Joliet names), no loop mount, no root. The image is hostile
// media: every entry name passes CheckMirrorPath, only regular files are
// written (symlinks, devices, hard links to elsewhere skipped and counted),
// the total written is bounded by twice the image size (a zisofs bomb), and
// a sha256sum.txt / SHA256SUMS inside the image cross-checks what was written.
// Main thread of `rackboot mirror`; each call opens the image itself.
#ifndef RACKBOOT_TOOLS_MIRROR_ISO_SOURCE_H_
#define RACKBOOT_TOOLS_MIRROR_ISO_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/mirror/mirror_plan.h"

namespace rackboot::mirror {

// At most this many entries are read from one image.
inline constexpr int64_t kMaxIsoEntries = 1'000'000;

struct IsoEntry {
  std::string path;  // relative, passed CheckMirrorPath
  int64_t size = 0;
};

// Every regular file of the image, in image order. InvalidArgument when the
// file is not an ISO9660 image or an entry name is unsafe.
absl::StatusOr<std::vector<IsoEntry>> ListIso(const std::string& iso_path);

struct IsoExtractResult {
  // Every regular file: path, size, sha256 of what was written (sha256 empty
  // when `want` said no and nothing was written).
  std::vector<PlannedFile> files;
  int64_t skipped_links = 0;  // symlinks, devices, fifos
  std::vector<std::string> warnings;
};

// Known limit of libarchive 3.6 (Debian 12): in a zisofs-compressed file it
// stops at the first all-zero block (xorriso stores those as empty blocks),
// and reports that shorter size; installer media do not use zisofs, and a
// sha256sum.txt in the image catches it.
//
// Writes each wanted regular file to staging_root/path (path.part, fsync,
// rename; parents made 0755). DataLoss when a file disagrees with the image's
// sha256sum.txt / SHA256SUMS; ResourceExhausted when the total passes 2x the
// image size; ResourceExhausted "disk full writing ..." on ENOSPC; Cancelled
// when *cancel turns true (files already renamed stay). `on_bytes` (may be
// null) gets each written block's size.
absl::StatusOr<IsoExtractResult> ExtractIso(
    const std::string& iso_path, const std::string& staging_root,
    const std::function<bool(const IsoEntry&)>& want,
    const std::function<void(int64_t bytes)>& on_bytes,
    const std::atomic<bool>* cancel);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_ISO_SOURCE_H_
