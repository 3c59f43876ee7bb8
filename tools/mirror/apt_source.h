// PlanAptSource: the plan of an apt repository mirror.
// Fetches dists/SUITE/InRelease (or Release + Release.gpg) through the
// caller's FetchFilesFn, checks its signature with gpgv, then the indexes and
// installer images with the SHA-256 and size the signed Release lists, selects
// packages and returns every file of the tree. Pool files are planned, not
// fetched. Main thread of `rackboot mirror`; blocking.
#ifndef RACKBOOT_TOOLS_MIRROR_APT_SOURCE_H_
#define RACKBOOT_TOOLS_MIRROR_APT_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/mirror/mirror_plan.h"
#include "tools/mirror/signature_verifier.h"

namespace rackboot::mirror {

struct AptSourceOptions {
  std::string base_url;  // no trailing '/'
  std::string
      suite;  // codename or suite; must equal Release's Codename or Suite
  std::vector<std::string> components = {"main"};
  std::string arch = "amd64";
  std::vector<std::string> packages;    // named (+ closure)
  std::vector<std::string> priorities;  // e.g. required, important (+ closure)
  bool all = false;
  bool installer = false;
  // Named udebs of C/debian-installer/binary-ARCH (exact names, each must
  // exist) plus their Depends/Pre-Depends closure within that index; no
  // netboot images. Not with `installer` (which takes every udeb of its ABI).
  std::vector<std::string> udebs;
  bool recommends = false;
  std::string keyring = kDebianArchiveKeyring;
};

struct AptSourceResult {
  MirrorPlan plan;  // EVERY file of the tree: InRelease, Release, Release.gpg
                    // (when the server has them), the indexes (+ by-hash
                    // copies when Release says Acquire-By-Hash: yes),
                    // installer images, pool files; with sha256+size
  MediaInfo media;  // kind "apt", family "debian-preseed" (Origin Debian) or
                    // "ubuntu-autoinstall" (Origin Ubuntu), distro=Origin,
                    // release=Version or Codename, arch, kernel/initrd when
                    // --installer
  std::vector<std::string> warnings;  // unsatisfied dependencies (named),
                                      // Valid-Until passed, ...
  int packages_selected = 0;
  int udebs_selected = 0;  // --installer's or --udebs' (with the closure)
};

// `staging_root`: where `fetch` puts each file (<staging_root>/<path>); the
// metadata is read back from there. Errors name the file and the fix; nothing
// is planned on any error.
absl::StatusOr<AptSourceResult> PlanAptSource(const AptSourceOptions& options,
                                              const std::string& staging_root,
                                              const FetchFilesFn& fetch);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_APT_SOURCE_H_
