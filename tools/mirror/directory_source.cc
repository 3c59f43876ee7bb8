#include "tools/mirror/directory_source.h"

namespace rackboot::mirror {
absl::StatusOr<std::vector<DirectoryEntry>> ListDirectorySource(
    const std::string&, std::vector<std::string>*) {
  return absl::UnimplementedError("ListDirectorySource");
}
}  // namespace rackboot::mirror
