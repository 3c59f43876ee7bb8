// Fuzz target for the inventory.csv parser: any input either fails with an
// InvalidArgument status naming the file, or parses into an Inventory whose
// every host is found by its MAC, hostname and ip, whose MACs format and
// parse back to themselves, whose gateway/dns/disk columns hold what they
// may (at most 3 dns servers, a disk path CheckDiskPath accepts), and which
// validates against a site without a
// crash. A violated invariant traps so libFuzzer (or the seed replay test)
// reports it.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::site {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzOne(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Inventory> inv = Inventory::Parse(text, "inventory.csv");
  if (!inv.ok()) {
    Check(inv.status().code() == absl::StatusCode::kInvalidArgument);
    Check(absl::StartsWith(inv.status().message(), "inventory.csv"));
    return;
  }
  for (const InventoryHost& host : inv->hosts()) {
    Check(inv->FindByMac(host.mac) == &host);
    Check(inv->FindByHostname(host.hostname) == &host);
    Check(CheckDnsName(host.hostname).ok());
    if (host.address) Check(inv->FindByAddress(*host.address) == &host);
    absl::StatusOr<MacAddress> mac = ParseMac(FormatMac(host.mac));
    Check(mac.ok() && *mac == host.mac);
    absl::StatusOr<HostState> state =
        ParseHostState(HostStateName(host.initial_state));
    Check(state.ok() && *state == host.initial_state);
    Check(host.dns.size() <= 3);
    for (const Ipv4Address& a : host.dns) {
      Check(!a.IsUnspecified() && a.value() != 0xffffffff);
    }
    if (host.gateway) {
      Check(!host.gateway->IsUnspecified() &&
            host.gateway->value() != 0xffffffff);
    }
    Check(host.disk.empty() || CheckDiskPath(host.disk).ok());
    for (const auto& [column, value] : host.extra) {
      Check(!absl::EqualsIgnoreCase(column, "gateway") &&
            !absl::EqualsIgnoreCase(column, "dns") &&
            !absl::EqualsIgnoreCase(column, "disk"));
    }
  }
  static const SiteConfig* const site = [] {
    absl::StatusOr<SiteConfig> s = ParseSiteConfig(
        "[server]\naddress = \"198.18.0.1\"\n[[dhcp.subnet]]\n"
        "cidr = \"198.18.0.0/16\"\nrouter = \"198.18.0.254\"\n",
        "site.toml");
    Check(s.ok());
    return new SiteConfig(*s);
  }();
  (void)ValidateInventory(*inv, *site);
}

}  // namespace
}  // namespace rackboot::site

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::site::FuzzOne(data, size);
  return 0;
}
