// SiteHostDirectory: the DHCP server's view of the inventory and the host
// states, and the translation of a SiteConfig into the DHCP server's
// configuration.
//
// The DHCP package knows nothing of files, CSV or TOML; this adapter answers
// its questions from an Inventory (immutable) and a HostStateStore
// (thread-safe; changed by the operator while the daemon runs). Only the
// `install` state yields an install boot; every other state boots from local
// disk (the product's first safety rule), and so does every host while the
// host states cannot be read (HostStateStore fails closed). Called on the
// DHCP thread; borrows both. The daemon builds one per SiteGeneration
// (site_reload.h) and asks it through CurrentSite.
#ifndef RACKBOOT_ENGINE_SITE_SITE_HOST_DIRECTORY_H_
#define RACKBOOT_ENGINE_SITE_SITE_HOST_DIRECTORY_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

class SiteHostDirectory : public dhcp::HostDirectory {
 public:
  // REQUIRES: both outlive this object.
  SiteHostDirectory(const Inventory* inventory, HostStateStore* states)
      : inventory_(inventory), states_(states) {}

  absl::optional<Host> FindByMac(
      const std::array<uint8_t, 6>& mac) const override;
  absl::optional<std::array<uint8_t, 6>> ReservedFor(
      Ipv4Address address) const override;
  void RecordDiscovered(const std::array<uint8_t, 6>& mac,
                        const std::string& detail, absl::Time now) override;

 private:
  const Inventory* const inventory_;
  HostStateStore* const states_;
};

// The DHCP server's configuration from the site's. Errors: what DHCP needs and
// the site lacks (server.address, server.interface), or an inventory
// reservation inside a pool (reserved addresses must lie outside the pools, so
// no dynamic client can ever be offered one).
absl::StatusOr<dhcp::DhcpServerConfig> DhcpServerConfigFromSite(
    const SiteConfig& site, const Inventory& inventory);

// The boot files DHCP hands out, from [boot] and the HTTP base URL
// (HttpBaseUrl; nullopt while HTTP is not served). Without HTTP: the keys as
// they are (boot.ipxe_bios, ipxe_uefi and uefi_http unused). With HTTP:
// ipxe_bios / ipxe_uefi replace bios / uefi_x64 where set (PXE ROMs chainload
// iPXE over TFTP), uefi_http becomes the URL <base>/boot/<file>, and iPXE
// gets boot.ipxe_script or else its per-host script
// <base>/boot/ipxe/01-<mac>.ipxe (BootRenderer).
dhcp::BootFiles DhcpBootFiles(const BootConfig& boot,
                              const absl::optional<std::string>& http_base);

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_SITE_HOST_DIRECTORY_H_
