#include "tools/mirror/iso_source.h"

namespace rackboot::mirror {
absl::StatusOr<std::vector<IsoEntry>> ListIso(const std::string&) {
  return absl::UnimplementedError("ListIso");
}
absl::StatusOr<IsoExtractResult> ExtractIso(
    const std::string&, const std::string&,
    const std::function<bool(const IsoEntry&)>&,
    const std::function<void(int64_t bytes)>&, const std::atomic<bool>*) {
  return absl::UnimplementedError("ExtractIso");
}
}  // namespace rackboot::mirror
