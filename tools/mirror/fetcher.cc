#include "tools/mirror/fetcher.h"

namespace rackboot::mirror {

Fetcher::Fetcher(FetchOptions options) : options_(std::move(options)) {}

std::vector<FetchOutcome> Fetcher::Run(
    const std::vector<FetchJob>& jobs,
    const std::function<void(const FetchProgress&)>& progress,
    const std::atomic<bool>* cancel) {
  (void)cancel;
  std::vector<FetchOutcome> out(jobs.size());
  for (auto& o : out) o.status = absl::UnimplementedError("fetcher: skeleton");
  if (progress) progress(FetchProgress{});
  return out;
}

std::string StripUrlCredentials(const std::string& url) { return url; }

}  // namespace rackboot::mirror
