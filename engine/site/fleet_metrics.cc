#include "engine/site/fleet_metrics.h"

#include <string>
#include <vector>

namespace rackboot::site {

FleetMetrics::FleetMetrics(const FleetStatus* fleet,
                           metrics::MetricsRegistry* registry)
    : registry_(registry) {
  hosts_ = registry_->AddCollector(
      "rackboot_hosts",
      "Inventory hosts by bring-up phase (stalled: no progress within the "
      "phase's [status] bound).",
      metrics::MetricType::kGauge, {"phase"},
      [fleet](std::vector<metrics::Sample>* out) {
        absl::flat_hash_map<std::string, int> counts = fleet->PhaseCounts();
        for (Phase phase : AllPhases()) {
          const std::string name(PhaseName(phase));
          out->push_back({{name}, static_cast<double>(counts[name])});
        }
      });
  by_state_ = registry_->AddCollector(
      "rackboot_hosts_by_state",
      "Inventory hosts by the state the daemon applies (install: armed).",
      metrics::MetricType::kGauge, {"state"},
      [fleet](std::vector<metrics::Sample>* out) {
        absl::flat_hash_map<std::string, int> counts = fleet->StateCounts();
        for (const char* state : {"install", "installed", "localboot"}) {
          out->push_back({{state}, static_cast<double>(counts[state])});
        }
      });
}

FleetMetrics::~FleetMetrics() {
  registry_->RemoveCollector(hosts_);
  registry_->RemoveCollector(by_state_);
}

}  // namespace rackboot::site
