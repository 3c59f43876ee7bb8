#include "engine/api/metrics_routes.h"

#include <vector>

#include "absl/strings/str_split.h"
#include "engine/metrics/exporters.h"

namespace rackboot::api {

bool WantsJson(absl::string_view query) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (pair == "format=json") return true;
  }
  return false;
}

http::HttpRouteResult MetricsRoutes::Route(const http::HttpRequest& request) {
  http::HttpRouteResult result;
  result.kind = http::HttpRouteKind::kMetrics;
  if (request.path != "/metrics") {
    result.status = 404;
    return result;
  }
  result.status = 200;
  result.has_body = true;
  if (WantsJson(request.query)) {
    result.content_type = "application/json";
    result.body = metrics::MetricsJson(*registry_).dump();
    result.body.push_back('\n');
  } else {
    result.content_type = metrics::kPrometheusContentType;
    result.body = metrics::PrometheusText(*registry_);
  }
  return result;
}

}  // namespace rackboot::api
