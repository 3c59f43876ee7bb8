// A FetchFilesFn for tests of the sources (testonly): serves `base_url/PATH`
// from `dir/PATH`, copies into `staging_root/PATH` and checks size and sha256
// as the real fetcher does (NotFound for a missing file, PermissionDenied
// for a file with no read bits, DataLoss for a mismatch). Records every path it
// was asked for. Single thread.
#ifndef RACKBOOT_TOOLS_MIRROR_TEST_FETCH_H_
#define RACKBOOT_TOOLS_MIRROR_TEST_FETCH_H_

#include <string>
#include <vector>

#include "tools/mirror/mirror_plan.h"

namespace rackboot::mirror {

FetchFilesFn MakeDirectoryFetch(const std::string& base_url,
                                const std::string& dir,
                                const std::string& staging_root,
                                std::vector<std::string>* fetched);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_TEST_FETCH_H_
