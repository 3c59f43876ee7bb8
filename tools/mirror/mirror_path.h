// CheckMirrorPath: the one rule for every relative path a mirror source names
// (apt's Filename: and Release entries, yum's location href, an ISO's entry
// names, a directory walk). Those names come from the network or from media a
// stranger made; a path that passes lands beneath the mirror's root and nowhere
// else. Pure function, any thread.
#ifndef RACKBOOT_TOOLS_MIRROR_MIRROR_PATH_H_
#define RACKBOOT_TOOLS_MIRROR_MIRROR_PATH_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rackboot::mirror {

inline constexpr size_t kMaxMirrorPathBytes = 1024;
inline constexpr int kMaxMirrorPathDepth = 32;
inline constexpr size_t kMaxMirrorPathComponentBytes = 255;

// OK for a '/'-separated relative path: not empty, at most kMaxMirrorPathBytes
// bytes and kMaxMirrorPathDepth components of at most 255 bytes; no leading
// '/', no empty, "." or ".." component, no byte below 0x20, no 0x7f, no
// backslash; no component starting with ".rackboot" (the mirror's own
// bookkeeping, never served). Otherwise InvalidArgument naming the path
// (escaped) and the rule it broke.
absl::Status CheckMirrorPath(absl::string_view path);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_MIRROR_PATH_H_
