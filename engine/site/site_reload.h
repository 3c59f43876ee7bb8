// What the daemon swaps on SIGHUP: one immutable SiteGeneration (site.toml as
// applied, the inventory, and the DHCP directory and boot renderer built over
// them), published through CurrentSite, which the DHCP thread and the shards
// (TFTP, HTTP) ask.
//
//   auto templates = install::InstallTemplates::Load(site);  // may fail
//   CurrentSite current(
//       MakeSiteGeneration(site, inventory, &states, *templates));
//   dhcp::DhcpService::Create(options, &current);    // a HostDirectory
//   FileCache files(std::move(root), &current);      // a RenderedFiles
//   ... SIGHUP: validate, then
//   current.Publish(MakeSiteGeneration(EffectiveSite(running, loaded), ...));
//
// A reader copies the shared_ptr to the current generation under a short
// lock and uses it to the end of its request, so a request never sees half of
// an old inventory and half of a new one, and a generation is freed when its
// last reader lets go. CompareSites says what a reload changes, in words for
// the log, and which settings it cannot apply without a restart (sockets,
// paths opened at startup, the lease table's address ranges).
//
// Thread-safe: Get, Publish and the HostDirectory / RenderedFiles methods may
// be called from any thread. Owned by the daemon's SiteRuntime.
#ifndef RACKBOOT_ENGINE_SITE_SITE_RELOAD_H_
#define RACKBOOT_ENGINE_SITE_SITE_RELOAD_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/files/file_cache.h"
#include "engine/install/install_templates.h"
#include "engine/site/boot_renderer.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "engine/site/site_host_directory.h"

namespace rackboot::site {

// Immutable once made; the directory and renderer point into it, so it is
// only ever held by shared_ptr and never moved.
struct SiteGeneration {
  SiteConfig site;
  Inventory inventory;
  // Loaded from `site` (InstallTemplates::Load) by whoever makes the
  // generation, since loading can fail; never null.
  std::shared_ptr<const install::InstallTemplates> templates;
  std::unique_ptr<SiteHostDirectory> directory;
  std::unique_ptr<BootRenderer> renderer;
};

// REQUIRES: states outlives the generation; templates is not null (loaded
// from `site`). `lease_owner` (may be empty: reservations only) tells the
// renderer which host a leased address belongs to, so that per-host files go
// only to their host.
std::shared_ptr<const SiteGeneration> MakeSiteGeneration(
    SiteConfig site, Inventory inventory, HostStateStore* states,
    std::shared_ptr<const install::InstallTemplates> templates,
    BootRenderer::LeaseOwner lease_owner = {});

class CurrentSite : public dhcp::HostDirectory, public RenderedFiles {
 public:
  explicit CurrentSite(std::shared_ptr<const SiteGeneration> generation)
      : generation_(std::move(generation)) {}

  std::shared_ptr<const SiteGeneration> Get() const;
  void Publish(std::shared_ptr<const SiteGeneration> generation);

  // dhcp::HostDirectory, from the current generation.
  absl::optional<Host> FindByMac(
      const std::array<uint8_t, 6>& mac) const override;
  absl::optional<std::array<uint8_t, 6>> ReservedFor(
      Ipv4Address address) const override;
  void RecordDiscovered(const std::array<uint8_t, 6>& mac,
                        const std::string& detail, absl::Time now) override;
  // RenderedFiles, from the current generation.
  absl::optional<std::string> Render(absl::string_view relative_path,
                                     const io::SocketAddress& client) override;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const SiteGeneration> generation_ ABSL_GUARDED_BY(mu_);
};

// `loaded` with every setting a running daemon cannot change taken from
// `running`: server.interface, server.address, server.state_dir,
// server.inventory, server.user, dhcp.mode, dhcp.allow_other_dhcp, the
// subnets (when their address ranges changed: the lease table is sized for
// them), and everything under [tftp] and [http].
SiteConfig EffectiveSite(const SiteConfig& running, const SiteConfig& loaded);

struct SiteChanges {
  // Applied by the reload, one log line each, e.g.
  //   "hosts added: node050"
  //   "hosts changed: node041 (profile rocky9 -> alma9)"
  //   "dhcp changed: lease_seconds 3600 -> 600"
  std::vector<std::string> applied;
  // Changed in the files but kept as they run, e.g.
  //   "tftp.root (/srv/tftp -> /srv/other)"
  std::vector<std::string> needs_restart;
};

// What replacing (running site, inventory) with (loaded site, inventory)
// changes.
SiteChanges CompareSites(const SiteConfig& running_site,
                         const Inventory& running_inventory,
                         const SiteConfig& loaded_site,
                         const Inventory& loaded_inventory);

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_SITE_RELOAD_H_
