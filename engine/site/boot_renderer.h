// BootRenderer: per-host boot configurations, rendered by the daemon from the
// inventory and the host's state, never read from disk.
//
// pxelinux asks for pxelinux.cfg/01-<mac> before anything else, and GRUB's
// network boot for grub.cfg-01-<mac> in its prefix directory; the TFTP service
// asks this renderer first for every file (RenderedFiles), so both are answered
// from the current state:
//   - a host armed for install gets its profile's entry: kernel, initrd and
//     command line, with {hostname}, {mac}, {ip}, {server} and {profile}
//     substituted;
//   - every other inventory host gets a local-boot configuration (pxelinux
//     LOCALBOOT 0, GRUB exit), so even a firmware that was handed a boot
//     loader boots from disk;
//   - names of MACs outside the inventory are not rendered (the disk may hold
//     a default).
// The state is read at each request, so arming or disarming applies to the next
// boot. Thread-safe: every TFTP shard calls Render; the Inventory is immutable
// and the HostStateStore thread-safe.
#ifndef RACKBOOT_ENGINE_SITE_BOOT_RENDERER_H_
#define RACKBOOT_ENGINE_SITE_BOOT_RENDERER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "engine/files/file_cache.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

class BootRenderer : public RenderedFiles {
 public:
  // REQUIRES: all three outlive the renderer.
  BootRenderer(const SiteConfig* site, const Inventory* inventory,
               const HostStateStore* states)
      : site_(site), inventory_(inventory), states_(states) {}

  absl::optional<std::string> Render(absl::string_view relative_path) override;

  // The configurations themselves, for tests and `rackboot` tools.
  std::string PxelinuxConfig(const InventoryHost& host) const;
  std::string GrubConfig(const InventoryHost& host) const;

 private:
  // The profile `host` installs with, when it is armed and its profile exists.
  const BootProfile* InstallProfile(const InventoryHost& host) const;
  std::string Expand(const std::string& text, const InventoryHost& host,
                     const BootProfile& profile) const;

  const SiteConfig* const site_;
  const Inventory* const inventory_;
  const HostStateStore* const states_;
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_BOOT_RENDERER_H_
