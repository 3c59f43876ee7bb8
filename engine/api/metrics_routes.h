// MetricsRoutes: GET /metrics, the registry's Prometheus text exposition
// (format 0.0.4), or its JSON form with ?format=json or an Accept header that
// asks for application/json (no Accept field reaches routes yet: the query is
// the way). Mounted by rackbootd at "/metrics" through
// HttpServiceOptions::routes; GET and HEAD only (405 otherwise, by
// HttpRoutes::AcceptsMethod's default).
//
// Borrows the registry (main's, which outlives the HTTP service). Route runs
// on any HTTP shard thread; it reads the registry (MetricsRegistry::Collect)
// and keeps no state of its own. Its server CPU per scrape is
// metrics_benchmark's BM_PrometheusText (under 1 ms with 1,000 hosts; docs/
// metrics.md).
#ifndef RACKBOOT_ENGINE_API_METRICS_ROUTES_H_
#define RACKBOOT_ENGINE_API_METRICS_ROUTES_H_

#include "engine/http/http_routes.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::api {

class MetricsRoutes : public http::HttpRoutes {
 public:
  explicit MetricsRoutes(const metrics::MetricsRegistry* registry)
      : registry_(registry) {}

  http::HttpRouteResult Route(const http::HttpRequest& request) override;

 private:
  const metrics::MetricsRegistry* const registry_;
};

// Whether a raw query string ("a=b&format=json") asks for JSON.
bool WantsJson(absl::string_view query);

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_METRICS_ROUTES_H_
