// The data every part of `rackboot mirror` passes along: what a source says the
// published tree must hold (MirrorPlan of PlannedFile), and what the media says
// it is (MediaInfo). Plain values, no I/O; built by one source on the main
// thread and handed to the fetcher and the publisher.
#ifndef RACKBOOT_TOOLS_MIRROR_MIRROR_PLAN_H_
#define RACKBOOT_TOOLS_MIRROR_MIRROR_PLAN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace rackboot::mirror {

// One file of the published tree.
struct PlannedFile {
  // Relative '/'-separated path in the tree; passed CheckMirrorPath.
  std::string path;
  // Where its bytes come from: an http(s):// or ftp:// URL for network sources,
  // an absolute local path for a directory source, empty for an ISO entry (the
  // ISO reader writes it).
  std::string url;
  // Expected size in bytes, -1 when the source does not say.
  int64_t size = -1;
  // Expected SHA-256 (64 lowercase hex digits), empty when the source does not
  // say (then the fetcher computes it and the manifest records what arrived).
  std::string sha256;
};

struct MirrorPlan {
  std::vector<PlannedFile> files;
};

// What the media or repository says about itself (.treeinfo, .disk/info,
// dists/*/Release, repodata/repomd.xml). Printed as the profile stub and in
// --json.
struct MediaInfo {
  std::string
      kind;  // "apt", "yum", "debian-iso", "treeinfo" (RHEL-like tree or DVD)
  std::string family;  // the install family of site.toml: "debian-preseed",
                       // "rhel-kickstart", "ubuntu-autoinstall"; empty for a
                       // package repository without installer
  std::string
      distro;  // "Debian", "Ubuntu", "Rocky Linux", ... as the media names it
  std::string release;  // "12", "12.5", "9.3", "bookworm" (suite or version as
                        // the media says)
  std::string arch;     // "amd64", "x86_64"
  // Installer kernel and initrd paths in the tree (relative), empty when the
  // media has none.
  std::string kernel;
  std::string initrd;
  // What the recognition read, one "file: fact" line each, for messages and
  // --json.
  std::vector<std::string> evidence;
};

// Makes every file of `files` present and verified at <staging root>/<path>
// (the staging root is the one the caller of a source passed along): reused
// from the published tree or from an earlier interrupted run when its SHA-256
// matches, else fetched from its url, its size and SHA-256 checked when given.
// The first failure comes back naming the file; a 404/410 (or an FTP 550) is
// NotFound, so a source can probe for optional files. Sources call it for their
// metadata (InRelease, Packages.xz, repomd.xml ...); `rackboot mirror` supplies
// it.
using FetchFilesFn =
    std::function<absl::Status(const std::vector<PlannedFile>& files)>;

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_MIRROR_PLAN_H_
