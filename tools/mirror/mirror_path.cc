#include "tools/mirror/mirror_path.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/log/log_text.h"

namespace rackboot::mirror {

absl::Status CheckMirrorPath(absl::string_view path) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsafe path ", log::Quoted(path), ": ", why));
  };
  if (path.empty()) return refuse("empty");
  if (path.size() > kMaxMirrorPathBytes) {
    return refuse(absl::StrCat("longer than ", kMaxMirrorPathBytes, " bytes"));
  }
  if (path.front() == '/') return refuse("absolute");
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return refuse("control character");
    if (c == '\\') return refuse("backslash");
  }
  int depth = 0;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (++depth > kMaxMirrorPathDepth) {
      return refuse(
          absl::StrCat("deeper than ", kMaxMirrorPathDepth, " components"));
    }
    if (part.empty()) return refuse("empty component");
    if (part == "." || part == "..") return refuse("'.' or '..' component");
    if (part.size() > kMaxMirrorPathComponentBytes) {
      return refuse("component longer than 255 bytes");
    }
    if (absl::StartsWith(part, ".rackboot")) {
      return refuse("'.rackboot' names are the mirror's own");
    }
  }
  return absl::OkStatus();
}

}  // namespace rackboot::mirror
