#include "tools/mirror/media_recognizer.h"

namespace rackboot::mirror {
absl::StatusOr<MediaInfo> RecognizeMedia(const std::string&) {
  return absl::UnimplementedError("RecognizeMedia");
}
absl::StatusOr<MediaInfo> ParseTreeinfo(absl::string_view, absl::string_view) {
  return absl::UnimplementedError("ParseTreeinfo");
}
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ParseTreeinfoChecksums(absl::string_view) {
  return absl::UnimplementedError("ParseTreeinfoChecksums");
}
absl::StatusOr<MediaInfo> ParseDiskInfo(absl::string_view) {
  return absl::UnimplementedError("ParseDiskInfo");
}
}  // namespace rackboot::mirror
