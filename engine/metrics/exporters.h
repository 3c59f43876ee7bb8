// Exporters of a MetricsRegistry: the Prometheus text exposition format
// (0.0.4) that GET /metrics serves, and a JSON form (GET /metrics?format=json)
// for the status page and scripts. Both read the registry once (Collect) and
// may run on any thread; neither keeps state.
//
// JSON shape (docs/metrics.md):
//   {"metrics": {"rackboot_transfer_bytes_total": {
//       "type": "counter", "help": "...", "labels": ["transport"],
//       "samples": [{"labels": {"transport": "tftp"}, "value": 1234}]},
//     "rackboot_transfer_duration_seconds": {"type": "histogram", ...,
//       "samples": [{"labels": {...}, "count": 3, "sum": 0.42,
//                    "buckets": [{"le": "0.01", "count": 0}, ...,
//                                {"le": "+Inf", "count": 3}]}]}}}
#ifndef RACKBOOT_ENGINE_METRICS_EXPORTERS_H_
#define RACKBOOT_ENGINE_METRICS_EXPORTERS_H_

#include <string>
#include <vector>

#include "engine/metrics/metrics_registry.h"
#include "nlohmann/json.hpp"

namespace rackboot::metrics {

// Content-Type of PrometheusText's output.
inline constexpr char kPrometheusContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

std::string PrometheusText(const MetricsRegistry& registry);
std::string PrometheusText(const std::vector<FamilySnapshot>& families);

nlohmann::json MetricsJson(const MetricsRegistry& registry);
nlohmann::json MetricsJson(const std::vector<FamilySnapshot>& families);

// A sample value as Prometheus writes it: integers without a fraction,
// "+Inf", "-Inf", "NaN", otherwise the shortest exact form.
std::string FormatValue(double v);

}  // namespace rackboot::metrics

#endif  // RACKBOOT_ENGINE_METRICS_EXPORTERS_H_
