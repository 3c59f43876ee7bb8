// Recognition of installer media and repository trees from their own
// metadata: .treeinfo (RHEL-like trees and DVDs), .disk/info (Debian and
// Ubuntu media), dists/*/Release (apt trees on disk), repodata/repomd.xml
// (yum). Unknown media is an error that says what was found and what was
// expected, never a guess. The parsers take hostile text (fuzzed). Pure
// functions over files or text, any thread.
#ifndef RACKBOOT_TOOLS_MIRROR_MEDIA_RECOGNIZER_H_
#define RACKBOOT_TOOLS_MIRROR_MEDIA_RECOGNIZER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/mirror/mirror_plan.h"

namespace rackboot::mirror {

// The media at `tree_root` (an extracted ISO, a directory, a staged
// repository). FailedPrecondition "unrecognised media at ROOT: found <up to 10
// top-level entries>; expected .treeinfo (RHEL-like), .disk/info
// (Debian/Ubuntu media), dists/*/Release (apt) or repodata/repomd.xml (yum)".
absl::StatusOr<MediaInfo> RecognizeMedia(const std::string& tree_root);

// A .treeinfo (INI). kind "treeinfo", family "rhel-kickstart", distro/release
// from [release] (or [general] family/version), arch from [tree]/[general],
// kernel/initrd from [images-ARCH] (ARCH = arch_hint when given, else the
// tree's arch). InvalidArgument when it names no product or an image path is
// unsafe.
absl::StatusOr<MediaInfo> ParseTreeinfo(absl::string_view text,
                                        absl::string_view arch_hint);

// The files a network install of a .treeinfo tree needs: every image of
// [images-ARCH] (ARCH as in ParseTreeinfo) and [stage2] mainimage, each with
// its sha256 from [checksums] ("path = sha256:HEX") when listed (else empty),
// size -1, url empty. InvalidArgument for an unsafe path or a malformed
// checksum.
absl::StatusOr<std::vector<PlannedFile>> ParseTreeinfoImages(
    absl::string_view text, absl::string_view arch_hint);

// A .disk/info line: "Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64
// NETINST ..." or "Ubuntu-Server 24.04 LTS "Noble Numbat" - Release amd64".
// kind "debian-iso", family debian-preseed or ubuntu-autoinstall, distro,
// release, arch; kernel/initrd left empty (RecognizeMedia probes for them).
absl::StatusOr<MediaInfo> ParseDiskInfo(absl::string_view text);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_MEDIA_RECOGNIZER_H_
