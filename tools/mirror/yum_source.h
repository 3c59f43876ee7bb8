// PlanYumSource: the plan for mirroring a yum/dnf repository at a URL:
// repodata/repomd.xml (and repomd.xml.asc checked with gpgv when a keyring is
// given), every metadata file repomd.xml lists, checked by sha256 and size,
// the rpms primary.xml lists (all, or those named), and the installer images
// of an optional .treeinfo. Everything read from the server is hostile: paths
// pass CheckMirrorPath, counts and sizes are bounded. Main thread of
// `rackboot mirror`; blocks in `fetch`.
#ifndef RACKBOOT_TOOLS_MIRROR_YUM_SOURCE_H_
#define RACKBOOT_TOOLS_MIRROR_YUM_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/mirror/mirror_plan.h"

namespace rackboot::mirror {

struct YumSourceOptions {
  std::string base_url;               // repository root, no trailing '/'
  std::vector<std::string> packages;  // names to keep (no dependency closure)
  bool all = true;                    // every package (when `packages` empty)
  std::string keyring;                // empty: no signature check, a warning
};

struct YumSourceResult {
  // Every file of the tree: repodata/repomd.xml (+ .asc), every <data> file,
  // the selected rpms, .treeinfo and its images; each with sha256 + size
  // (repomd.xml and .treeinfo: as fetched).
  MirrorPlan plan;
  // kind "yum"; from .treeinfo when present (family "rhel-kickstart", kernel,
  // initrd).
  MediaInfo media;
  std::vector<std::string> warnings;
  int packages_selected = 0;
};

// NotFound (from `fetch`) when repodata/repomd.xml is absent: the CLI turns it
// into "no repodata/repomd.xml at URL ...". PermissionDenied when the
// signature does not verify; InvalidArgument for a checksum type other than
// sha256 ("repomd.xml uses TYPE; rackboot mirror verifies sha256"), an unsafe
// path, xml:base, an entity declaration; NotFound for a named package the
// repository does not have. Metadata files are fetched (via `fetch`) into
// `staging_root`; rpms are only planned.
absl::StatusOr<YumSourceResult> PlanYumSource(const YumSourceOptions& options,
                                              const std::string& staging_root,
                                              const FetchFilesFn& fetch);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_YUM_SOURCE_H_
