#include "tools/mirror/yum_repo.h"

namespace rackboot::mirror {
absl::StatusOr<Repomd> ParseRepomd(absl::string_view) {
  return absl::UnimplementedError("ParseRepomd");
}
absl::Status ParsePrimary(absl::string_view,
                          const std::function<absl::Status(const YumPackage&)>&,
                          int64_t) {
  return absl::UnimplementedError("ParsePrimary");
}
}  // namespace rackboot::mirror
