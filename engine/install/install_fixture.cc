#include "engine/install/install_fixture.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/install/host_values.h"
#include "engine/site/http_urls.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::install {

std::string FixtureToken(size_t index) {
  // Recognisably fake (no randomness), still 32 lowercase hex digits.
  return absl::StrFormat("90d0e0f0%024x", 0x14000 + index);
}

absl::StatusOr<std::map<std::string, RenderedHostFile>> RenderFixture(
    const std::string& site_toml_path) {
  absl::StatusOr<site::SiteConfig> site = site::LoadSiteConfig(site_toml_path);
  if (!site.ok()) return site.status();
  absl::StatusOr<site::Inventory> inventory =
      site::Inventory::Load(site->server.inventory);
  if (!inventory.ok()) return inventory.status();
  if (absl::Status s = site::ValidateInventory(*inventory, *site); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<const InstallTemplates>> templates =
      InstallTemplates::Load(*site);
  if (!templates.ok()) return templates.status();
  const std::string http_base = site::HttpBaseUrl(*site).value_or("");

  std::map<std::string, RenderedHostFile> files;
  size_t index = 0;
  for (const site::InventoryHost& host : inventory->hosts()) {
    HostRenderInput input;
    input.site = &*site;
    input.host = &host;
    input.profile = site::FindProfile(*site, host.profile);
    input.armed = host.initial_state == site::HostState::kInstall;
    input.token = input.armed ? FixtureToken(index) : "";
    input.http_base = http_base;
    ++index;
    absl::StatusOr<std::vector<RenderedHostFile>> rendered =
        RenderHostFiles(**templates, input);
    if (!rendered.ok()) {
      return absl::Status(
          rendered.status().code(),
          absl::StrCat(host.hostname, ": ", rendered.status().message()));
    }
    for (RenderedHostFile& file : *rendered) {
      std::string key = absl::StrCat(host.hostname, "/", file.path);
      files.emplace(std::move(key), std::move(file));
    }
  }
  return files;
}

}  // namespace rackboot::install
