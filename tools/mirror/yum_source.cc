#include "tools/mirror/yum_source.h"

namespace rackboot::mirror {
absl::StatusOr<YumSourceResult> PlanYumSource(const YumSourceOptions&,
                                              const std::string&,
                                              const FetchFilesFn&) {
  return absl::UnimplementedError("PlanYumSource");
}
}  // namespace rackboot::mirror
