#include "engine/site/fleet_metrics.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "engine/metrics/exporters.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

TEST(FleetMetricsTest, HostsByPhaseAndState) {
  absl::StatusOr<Inventory> inventory = Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:00:00:01,node001,,p,install\n"
      "52:54:00:00:00:02,node002,,p,install\n"
      "52:54:00:00:00:03,node003,,p,installed\n",
      "inv.csv");
  ASSERT_TRUE(inventory.ok());
  HostStateMap states;
  for (const InventoryHost& host : inventory->hosts())
    states[host.hostname] = {host.initial_state, absl::InfinitePast()};
  SiteConfig site;
  site.status.stall_dhcp = absl::Seconds(30);
  const absl::Time t0 = absl::FromUnixSeconds(1796043900);
  FleetStatus fleet;
  fleet.SetInventory(site, *inventory, states, t0, /*initial=*/true);
  fleet.OnLease("node002", Ipv4Address(198, 18, 0, 2), t0);
  fleet.Tick(t0 + absl::Minutes(1));  // node002 stalls in dhcp
  metrics::MetricsRegistry registry(1);
  auto fleet_metrics = std::make_unique<FleetMetrics>(&fleet, &registry);
  const std::string text = metrics::PrometheusText(registry);
  EXPECT_TRUE(absl::StrContains(text, "# TYPE rackboot_hosts gauge\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "rackboot_hosts{phase=\"armed\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "rackboot_hosts{phase=\"stalled\"} 1\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "rackboot_hosts{phase=\"installed\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "rackboot_hosts{phase=\"failed\"} 0\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "rackboot_hosts_by_state{state=\"install\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "rackboot_hosts_by_state{state=\"localboot\"} 0\n"));
  // All nine phases, every scrape.
  size_t series = 0;
  for (size_t at = 0;
       (at = text.find("rackboot_hosts{", at)) != std::string::npos; ++at) {
    ++series;
  }
  EXPECT_EQ(series, 9u);
  fleet_metrics.reset();  // its collectors leave with it
  EXPECT_FALSE(
      absl::StrContains(metrics::PrometheusText(registry), "rackboot_hosts"));
}

}  // namespace
}  // namespace rackboot::site
