// CheckSiteFiles: checks the files site.toml names against the disk before
// the daemon serves anything, so that a boot file that is missing, or a path
// that would leave the TFTP root, stops the start with site.toml:line instead
// of showing up later as a client's "File not found".
//
//   if (absl::Status s = CheckSiteFiles(site); !s.ok()) { ...exit 78... }
//
// Checked when tftp.root is set (rackbootd serves the files; without a root
// they are served by another machine and cannot be checked here):
//   - tftp.root opens as a directory;
//   - boot.bios, boot.uefi_x64, boot.uefi_ia32, boot.arm64, boot.ipxe_script
//     (when it is a file name, not a URL), boot.ipxe_bios, boot.ipxe_uefi,
//     boot.uefi_http, and every
//     [[profile]]'s kernel and initrd are regular files beneath it, opened by
//     FileRoot's rules (openat2 RESOLVE_BENEATH: '..' or a symlink that climbs
//     out is refused); a leading '/' means the root, as in TFTP requests, so
//     an absolute host path outside the root is reported as not found there.
// And when HTTP listens with http.repo_root set, that root opens as a
// directory (named site.toml:line or --http_repo_root).
// Every problem is reported, one per line of the InvalidArgument message, each
// naming site.toml:line and the key (SiteConfig::Where).
//
// Stateless; any thread. It reads the disk (one open per named file).
#ifndef RACKBOOT_ENGINE_SITE_SITE_FILES_H_
#define RACKBOOT_ENGINE_SITE_SITE_FILES_H_

#include "absl/status/status.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

absl::Status CheckSiteFiles(const SiteConfig& site);

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_SITE_FILES_H_
