// InstallTemplates: the parsed templates of one site generation — the three
// boot menus (pxelinux, GRUB, iPXE), each install family's files (built in,
// or a profile's template_file) and each profile's `append` — and the
// renders of one host's files from them. Used by the daemon's BootRenderer
// and install routes (live, per request) and by `rackboot gen` (every host),
// so both produce the same bytes.
//
// Immutable after Load; shared (shared_ptr) by the SiteGeneration that holds
// it; any thread may render concurrently.
#ifndef RACKBOOT_ENGINE_INSTALL_INSTALL_TEMPLATES_H_
#define RACKBOOT_ENGINE_INSTALL_INSTALL_TEMPLATES_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/install/host_values.h"
#include "engine/install/template.h"
#include "engine/site/site_config.h"

namespace rackboot::install {

// The install files of a family, as served under /install/<token>/:
// debian-preseed: {"preseed.cfg"}; rhel-kickstart: {"ks.cfg"};
// ubuntu-autoinstall: {"user-data", "meta-data"}; kNone: {}. The first one
// is the file a profile's template_file replaces.
std::vector<std::string> InstallFileNames(site::InstallFamily family);

// The built-in template of a family's install file ("debian-preseed.cfg" for
// preseed.cfg: engine/install/templates/<that>.mustache); "" when `file` is
// not one of the family's.
std::string BuiltinTemplateFor(site::InstallFamily family,
                               absl::string_view file);

class InstallTemplates {
 public:
  // Parses the built-ins, each profile's template_file (read here; errors
  // name "site.toml:<line>: profile[i].template_file" and the template's own
  // <file>:<line>) and each profile's `append`, and renders each of them once
  // for a stand-in host so a missing value is a load error, not a failure at
  // the first boot.
  static absl::StatusOr<std::shared_ptr<const InstallTemplates>> Load(
      const site::SiteConfig& site);

  absl::StatusOr<std::string> PxelinuxConfig(const HostRenderInput&) const;
  absl::StatusOr<std::string> GrubConfig(const HostRenderInput&) const;
  absl::StatusOr<std::string> IpxeScript(const HostRenderInput&) const;
  // An armed host's install file; NotFound when its family has no file of
  // that name (or the host is not armed / has no family / no template).
  absl::StatusOr<std::string> InstallFile(const HostRenderInput&,
                                          absl::string_view file) const;

 private:
  InstallTemplates() = default;
  const Template* FamilyTemplate(const site::BootProfile& profile,
                                 absl::string_view file) const;

  std::shared_ptr<const Template> pxelinux_, grub_, ipxe_;
  // Built-in family templates by their built-in name ("debian-preseed.cfg").
  std::map<std::string, std::shared_ptr<const Template>, std::less<>> builtin_;
  // A profile's template_file, by profile name.
  std::map<std::string, std::shared_ptr<const Template>, std::less<>> custom_;
};

struct RenderedHostFile {
  std::string path;
  std::string bytes;
  bool secret = false;
};

// Every file of one host, paths relative to gen's --out and to the daemon's
// URL space: pxelinux.cfg/01-<mac>, grub/grub.cfg-01-<mac>,
// ipxe/01-<mac>.ipxe, and when armed with a family install/<token>/<file>
// (secret = true: mode 0600 in gen).
absl::StatusOr<std::vector<RenderedHostFile>> RenderHostFiles(
    const InstallTemplates& templates, const HostRenderInput& input);

}  // namespace rackboot::install

#endif  // RACKBOOT_ENGINE_INSTALL_INSTALL_TEMPLATES_H_
