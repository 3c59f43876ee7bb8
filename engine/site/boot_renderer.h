// BootRenderer: per-host boot configurations, rendered by the daemon from the
// inventory and the host's state, never read from disk.
//
// pxelinux asks for pxelinux.cfg/01-<mac> before anything else, GRUB's
// network boot for grub.cfg-01-<mac> in its prefix directory, and iPXE for
// ipxe/01-<mac>.ipxe (the URL DHCP hands it: http_urls.h); the TFTP and HTTP
// services ask this renderer first for every file (RenderedFiles), so all
// three are answered from the current state, with the generation's
// InstallTemplates (engine/install: the same bytes `rackboot gen` writes):
//   - every inventory host gets a menu with the entries install (only when
//     armed), local (pxelinux LOCALBOOT 0, GRUB exit, iPXE exit 1) and rescue
//     (debian-preseed and rhel-kickstart profiles); the default is install
//     when armed, else local, so a firmware that was handed a boot loader
//     boots from disk unless the host is armed;
//   - armed means state install AND an install token valid now (the token
//     from the state snapshot, not expired): a host whose token expired gets
//     the local default and no install entry;
//   - names of MACs outside the inventory are not rendered (the disk may hold
//     a default).
// A per-host file is rendered only for a request from that host's own
// address: its inventory reservation (`ip`) or the address its current DHCP
// lease holds (the injected LeaseOwner lookup; without authoritative DHCP
// there are no leases and the reservation is the only source). Any other
// client is answered as for a MAC outside the inventory (not rendered, so the
// disk is asked and normally says "File not found"): nobody can read another
// host's name, state, token and kernel arguments, nor learn which MACs are
// listed. Refusals and render errors are logged, rate-limited, with the name
// escaped.
// The state is read at each request, so arming or disarming applies to the next
// boot; while host-states.tsv cannot be read the store fails closed (its
// snapshot has every host local boot, no token) and every host gets the
// local-boot default. Thread-safe: every TFTP shard calls Render; the
// Inventory and templates are immutable and the HostStateStore thread-safe.
// The daemon builds one renderer per SiteGeneration (site_reload.h), so a
// SIGHUP swaps the renderer with the inventory, profiles and templates it
// reads.
#ifndef RACKBOOT_ENGINE_SITE_BOOT_RENDERER_H_
#define RACKBOOT_ENGINE_SITE_BOOT_RENDERER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/files/file_cache.h"
#include "engine/install/host_values.h"
#include "engine/install/install_templates.h"
#include "engine/io/socket_address.h"
#include "engine/log/log_rate_limiter.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

class BootRenderer : public RenderedFiles {
 public:
  // REQUIRES: all four outlive the renderer.
  BootRenderer(const SiteConfig* site, const Inventory* inventory,
               const HostStateStore* states,
               const install::InstallTemplates* templates)
      : site_(site),
        inventory_(inventory),
        states_(states),
        templates_(templates) {}

  // The MAC of the client whose bound lease holds `address` now, if any.
  // Called from every TFTP shard: must be thread-safe and should not block
  // (the daemon reads its lease table lock-free).
  using LeaseOwner = std::function<absl::optional<MacAddress>(Ipv4Address)>;
  // Call before the first Render. Unset: reservations only.
  void set_lease_owner(LeaseOwner lease_owner) {
    lease_owner_ = std::move(lease_owner);
  }

  // Where the boot tree is served over HTTP, "http://198.18.0.1:8080"
  // (HttpBaseUrl); the iPXE script names kernel and initrd beneath
  // <base>/boot/. Unset: paths from the root of wherever the script came
  // from. Call before the first Render.
  void set_http_base(absl::optional<std::string> base) {
    http_base_ = std::move(base);
  }

  absl::optional<std::string> Render(absl::string_view relative_path,
                                     const io::SocketAddress& client) override;
  // Whether `relative_path` has the shape of a per-host file (a MAC-named
  // pxelinux, GRUB or iPXE config), whatever the inventory says: Render
  // answers nothing else. Lets CurrentSite skip its lock for every other
  // file (pxelinux.0, kernels) on a shard's request path.
  static bool MayRender(absl::string_view relative_path);

  // Whether `client` speaks from `host`'s own address (see above).
  bool IsHostAddress(const InventoryHost& host,
                     const io::SocketAddress& client) const;

  // What `host`'s files are rendered from at `now`: its profile (if it
  // exists), armed = state install && token != "" && now < token_expires
  // (from one snapshot of the store), the token when armed, the HTTP base.
  install::HostRenderInput InputFor(const InventoryHost& host,
                                    absl::Time now) const;

  // The configurations themselves, for tests and `rackboot` tools.
  absl::StatusOr<std::string> PxelinuxConfig(const InventoryHost& host,
                                             absl::Time now) const;
  absl::StatusOr<std::string> GrubConfig(const InventoryHost& host,
                                         absl::Time now) const;
  absl::StatusOr<std::string> IpxeScript(const InventoryHost& host,
                                         absl::Time now) const;

 private:
  enum class Kind { kPxelinux, kGrub, kIpxe };
  absl::optional<std::string> RenderFor(Kind kind, absl::string_view path,
                                        const InventoryHost& host,
                                        const io::SocketAddress& client);
  // Logs (rate-limited) a request for `host`'s file from another address.
  void LogRefused(absl::string_view path, const InventoryHost& host,
                  const io::SocketAddress& client);

  const SiteConfig* const site_;
  const Inventory* const inventory_;
  const HostStateStore* const states_;
  const install::InstallTemplates* const templates_;
  LeaseOwner lease_owner_;
  absl::optional<std::string> http_base_;
  log::LogRateLimiter refused_log_;
  log::LogRateLimiter error_log_;
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_BOOT_RENDERER_H_
