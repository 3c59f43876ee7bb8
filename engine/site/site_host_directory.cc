#include "engine/site/site_host_directory.h"

#include "absl/strings/str_cat.h"
#include "engine/site/http_urls.h"
#include "glog/logging.h"

namespace rackboot::site {

absl::optional<dhcp::HostDirectory::Host> SiteHostDirectory::FindByMac(
    const std::array<uint8_t, 6>& mac) const {
  const InventoryHost* host = inventory_->FindByMac(mac);
  if (host == nullptr) return absl::nullopt;
  Host found;
  found.hostname = host->hostname;
  found.reserved = host->address;
  // A boot loader only for a host its menus would install: armed with a
  // valid token. One whose token expired (or is not issued yet) gets an
  // address without a boot file, like any local-boot host, rather than a
  // loader whose menu then boots the disk.
  std::shared_ptr<const HostStateMap> states = states_->Snapshot();
  auto it = states->find(host->hostname);
  found.purpose = it != states->end() && ArmedNow(it->second, absl::Now())
                      ? dhcp::BootPurpose::kInstall
                      : dhcp::BootPurpose::kLocalBoot;
  return found;
}

absl::optional<std::array<uint8_t, 6>> SiteHostDirectory::ReservedFor(
    Ipv4Address address) const {
  const InventoryHost* host = inventory_->FindByAddress(address);
  if (host == nullptr) return absl::nullopt;
  return host->mac;
}

void SiteHostDirectory::RecordDiscovered(const std::array<uint8_t, 6>& mac,
                                         const std::string& detail,
                                         absl::Time now) {
  absl::Status recorded = states_->RecordDiscovered(mac, detail, now);
  LOG_IF(ERROR, !recorded.ok())
      << "cannot record discovered host " << FormatMac(mac) << ": " << recorded;
}

absl::StatusOr<dhcp::DhcpServerConfig> DhcpServerConfigFromSite(
    const SiteConfig& site, const Inventory& inventory) {
  dhcp::DhcpServerConfig config;
  switch (site.dhcp.mode) {
    case DhcpMode::kOff:
      config.mode = dhcp::DhcpMode::kOff;
      return config;
    case DhcpMode::kAuthoritative:
      config.mode = dhcp::DhcpMode::kAuthoritative;
      break;
    case DhcpMode::kProxy:
      config.mode = dhcp::DhcpMode::kProxy;
      break;
  }
  if (site.server.interface.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        site.path, ": server.interface is required when dhcp.mode is ",
        DhcpModeName(site.dhcp.mode),
        ": DHCP is served only on the named interface"));
  }
  if (!site.server.address.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        site.path, ": server.address is required when dhcp.mode is ",
        DhcpModeName(site.dhcp.mode),
        ": it is the server identifier and next-server"));
  }
  if (config.mode == dhcp::DhcpMode::kAuthoritative &&
      site.dhcp.subnets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        site.path, ": authoritative DHCP needs at least one [[dhcp.subnet]]"));
  }
  switch (site.dhcp.unknown_pxe) {
    case UnknownPxePolicy::kIgnore:
      config.unknown_pxe = dhcp::UnknownPxePolicy::kIgnore;
      break;
    case UnknownPxePolicy::kLocalboot:
      config.unknown_pxe = dhcp::UnknownPxePolicy::kLocalBoot;
      break;
    case UnknownPxePolicy::kDiscover:
      config.unknown_pxe = dhcp::UnknownPxePolicy::kDiscover;
      break;
  }
  config.server_address = *site.server.address;
  config.lease_time = absl::Seconds(site.dhcp.lease_seconds);
  config.offer_time = absl::Seconds(site.dhcp.offer_seconds);
  config.decline_time = absl::Seconds(site.dhcp.decline_seconds);
  for (const Subnet& subnet : site.dhcp.subnets) {
    dhcp::DhcpSubnet out;
    out.network = subnet.network;
    out.prefix_length = subnet.prefix_length;
    if (subnet.pool.has_value())
      out.pool = {{subnet.pool->first, subnet.pool->last}};
    out.router = subnet.router;
    out.dns = subnet.dns;
    out.domain = subnet.domain;
    config.subnets.push_back(out);
    for (const InventoryHost& host : inventory.hosts()) {
      if (host.address.has_value() && subnet.pool.has_value() &&
          subnet.pool->Contains(*host.address)) {
        return absl::InvalidArgumentError(absl::StrCat(
            inventory.filename(), ":", host.line, ": ", host.hostname,
            "'s address ", host.address->ToString(), " lies inside the pool ",
            subnet.pool->ToString(), " of subnet ", subnet.CidrString(),
            "; reserved addresses must be outside the pools"));
      }
    }
  }
  config.boot = DhcpBootFiles(site.boot, HttpBaseUrl(site));
  return config;
}

dhcp::BootFiles DhcpBootFiles(const BootConfig& boot,
                              const absl::optional<std::string>& http_base) {
  dhcp::BootFiles files;
  files.bios = boot.bios;
  files.uefi_x64 = boot.uefi_x64;
  files.uefi_ia32 = boot.uefi_ia32;
  files.arm64 = boot.arm64;
  files.http_boot_url = boot.http_boot_url;
  files.ipxe_script = boot.ipxe_script;
  if (!http_base.has_value()) return files;
  // HTTP is served: ROMs get iPXE, iPXE gets its script over HTTP, and
  // firmware that boots from HTTP gets a URL into the boot tree.
  if (!boot.ipxe_bios.empty()) files.bios = boot.ipxe_bios;
  if (!boot.ipxe_uefi.empty()) files.uefi_x64 = boot.ipxe_uefi;
  if (!boot.uefi_http.empty()) {
    files.http_boot_url =
        absl::StrCat(*http_base, "/boot/", UrlPath(boot.uefi_http));
  }
  if (files.ipxe_script.empty()) {
    // "{mac}": the DHCP server puts the client's own name in (IpxeScriptPath).
    files.ipxe_script = absl::StrCat(*http_base, "/boot/ipxe/{mac}.ipxe");
  }
  return files;
}

}  // namespace rackboot::site
