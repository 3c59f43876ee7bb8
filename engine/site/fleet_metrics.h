// FleetMetrics: the fleet's gauges on the daemon's MetricsRegistry, computed
// on read from a FleetStatus: rackboot_hosts{phase} (all nine phases, so a
// dashboard's series never vanish) and rackboot_hosts_by_state{state}
// (install, installed, localboot). Labels are the fixed words, never a
// hostname.
//
//   site::FleetMetrics fleet_metrics(runtime->fleet(), &registry);  // main
//
// Owned by whoever made it (rackbootd's main); removes its collectors when
// destroyed, so it must go before the FleetStatus and the registry. The
// collectors run on the thread that reads the registry (an HTTP shard
// serving /metrics): one pass over the fleet under its lock each.
#ifndef RACKBOOT_ENGINE_SITE_FLEET_METRICS_H_
#define RACKBOOT_ENGINE_SITE_FLEET_METRICS_H_

#include <cstdint>

#include "engine/metrics/metrics_registry.h"
#include "engine/site/fleet_status.h"

namespace rackboot::site {

class FleetMetrics {
 public:
  // REQUIRES: fleet and registry outlive this object.
  FleetMetrics(const FleetStatus* fleet, metrics::MetricsRegistry* registry);
  ~FleetMetrics();
  FleetMetrics(const FleetMetrics&) = delete;
  FleetMetrics& operator=(const FleetMetrics&) = delete;

 private:
  metrics::MetricsRegistry* const registry_;
  uint64_t hosts_ = 0;
  uint64_t by_state_ = 0;
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_FLEET_METRICS_H_
