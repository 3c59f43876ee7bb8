#include "tools/mirror/apt_source.h"

namespace rackboot::mirror {

absl::StatusOr<AptSourceResult> PlanAptSource(const AptSourceOptions& options,
                                              const std::string& staging_root,
                                              const FetchFilesFn& fetch) {
  (void)options;
  (void)staging_root;
  (void)fetch;
  return absl::UnimplementedError("PlanAptSource: not yet");
}

}  // namespace rackboot::mirror
