#include "engine/install/install_templates.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/site/http_urls.h"
#include "engine/site/inventory.h"

namespace rackboot::install {
namespace {

using site::InstallFamily;

absl::StatusOr<std::shared_ptr<const Template>> ParseBuiltin(
    absl::string_view file) {
  const absl::string_view text = BuiltinTemplate(file);
  if (text.empty()) {
    return absl::InternalError(
        absl::StrCat("no built-in template ", file, ".mustache"));
  }
  absl::StatusOr<Template> t =
      Template::Parse(absl::StrCat("builtin:", file), std::string(text));
  if (!t.ok()) return t.status();
  return std::make_shared<const Template>(*std::move(t));
}

absl::StatusOr<std::string> RenderFor(const Template& t,
                                      const HostRenderInput& input) {
  absl::StatusOr<TemplateValues> values = HostValues(input);
  if (!values.ok()) return values.status();
  return t.Render(*values);
}

}  // namespace

std::vector<std::string> InstallFileNames(InstallFamily family) {
  switch (family) {
    case InstallFamily::kNone:
      return {};
    case InstallFamily::kDebianPreseed:
      return {"preseed.cfg"};
    case InstallFamily::kRhelKickstart:
      return {"ks.cfg"};
    case InstallFamily::kUbuntuAutoinstall:
      return {"user-data", "meta-data"};
  }
  return {};
}

std::string BuiltinTemplateFor(InstallFamily family, absl::string_view file) {
  switch (family) {
    case InstallFamily::kNone:
      return "";
    case InstallFamily::kDebianPreseed:
      return file == "preseed.cfg" ? "debian-preseed.cfg" : "";
    case InstallFamily::kRhelKickstart:
      return file == "ks.cfg" ? "rhel-kickstart.cfg" : "";
    case InstallFamily::kUbuntuAutoinstall:
      if (file == "user-data") return "ubuntu-user-data";
      if (file == "meta-data") return "ubuntu-meta-data";
      return "";
  }
  return "";
}

absl::StatusOr<std::shared_ptr<const InstallTemplates>> InstallTemplates::Load(
    const site::SiteConfig& site) {
  std::shared_ptr<InstallTemplates> t(new InstallTemplates);
  for (auto [slot, file] :
       {std::pair{&t->pxelinux_, "pxelinux.cfg"},
        std::pair{&t->grub_, "grub.cfg"}, std::pair{&t->ipxe_, "ipxe"}}) {
    absl::StatusOr<std::shared_ptr<const Template>> parsed = ParseBuiltin(file);
    if (!parsed.ok()) return parsed.status();
    *slot = *std::move(parsed);
  }
  for (InstallFamily family :
       {InstallFamily::kDebianPreseed, InstallFamily::kRhelKickstart,
        InstallFamily::kUbuntuAutoinstall}) {
    for (const std::string& file : InstallFileNames(family)) {
      const std::string name = BuiltinTemplateFor(family, file);
      // A family whose built-in is not there (yet) answers NotFound.
      if (BuiltinTemplate(name).empty()) continue;
      absl::StatusOr<std::shared_ptr<const Template>> parsed =
          ParseBuiltin(name);
      if (!parsed.ok()) return parsed.status();
      t->builtin_[name] = *std::move(parsed);
    }
  }
  for (size_t i = 0; i < site.profiles.size(); ++i) {
    const site::BootProfile& profile = site.profiles[i];
    if (profile.template_file.empty()) continue;
    const std::string where =
        site.Where(absl::StrCat("profile[", i, "].template_file"));
    if (profile.family == InstallFamily::kNone) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": profile ", profile.name,
          " has no family, so no install file for a template to replace"));
    }
    absl::StatusOr<std::string> text =
        site::ReadSmallFile(profile.template_file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", text.status().message()));
    }
    absl::StatusOr<Template> parsed =
        Template::Parse(profile.template_file, *std::move(text));
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", parsed.status().message()));
    }
    t->custom_[profile.name] =
        std::make_shared<const Template>(*std::move(parsed));
  }

  // Render every template once for a stand-in armed host of each profile:
  // every key is always present, so a missing value (a typo in a template
  // or an append) shows now, with its template, line and key.
  site::InventoryHost stand_in;
  stand_in.hostname = "stand-in";
  stand_in.mac = *site::ParseMac("52:54:00:00:00:00");
  HostRenderInput input;
  input.site = &site;
  input.host = &stand_in;
  input.armed = true;
  input.token = std::string(32, '0');
  input.http_base = site::HttpBaseUrl(site).value_or("http://192.0.2.1");
  std::vector<const site::BootProfile*> profiles = {nullptr};
  for (const site::BootProfile& p : site.profiles) profiles.push_back(&p);
  for (const site::BootProfile* profile : profiles) {
    input.profile = profile;
    for (const Template* menu :
         {t->pxelinux_.get(), t->grub_.get(), t->ipxe_.get()}) {
      absl::StatusOr<std::string> out = RenderFor(*menu, input);
      if (!out.ok()) return out.status();
    }
    if (profile == nullptr) continue;
    for (const std::string& file : InstallFileNames(profile->family)) {
      const Template* tmpl = t->FamilyTemplate(*profile, file);
      if (tmpl == nullptr) continue;
      absl::StatusOr<std::string> out = RenderFor(*tmpl, input);
      if (!out.ok()) return out.status();
    }
  }
  return std::shared_ptr<const InstallTemplates>(std::move(t));
}

const Template* InstallTemplates::FamilyTemplate(
    const site::BootProfile& profile, absl::string_view file) const {
  const std::vector<std::string> files = InstallFileNames(profile.family);
  if (!files.empty() && file == files.front()) {
    auto it = custom_.find(profile.name);
    if (it != custom_.end()) return it->second.get();
  }
  auto it = builtin_.find(BuiltinTemplateFor(profile.family, file));
  return it == builtin_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::string> InstallTemplates::PxelinuxConfig(
    const HostRenderInput& input) const {
  return RenderFor(*pxelinux_, input);
}

absl::StatusOr<std::string> InstallTemplates::GrubConfig(
    const HostRenderInput& input) const {
  return RenderFor(*grub_, input);
}

absl::StatusOr<std::string> InstallTemplates::IpxeScript(
    const HostRenderInput& input) const {
  return RenderFor(*ipxe_, input);
}

absl::StatusOr<std::string> InstallTemplates::InstallFile(
    const HostRenderInput& input, absl::string_view file) const {
  if (!input.armed || input.token.empty() || input.profile == nullptr) {
    return absl::NotFoundError("host not armed for install");
  }
  const Template* tmpl = FamilyTemplate(*input.profile, file);
  if (tmpl == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("profile ", input.profile->name, " (family ",
                     site::InstallFamilyName(input.profile->family),
                     ") has no install file ", file));
  }
  return RenderFor(*tmpl, input);
}

absl::StatusOr<std::vector<RenderedHostFile>> RenderHostFiles(
    const InstallTemplates& templates, const HostRenderInput& input) {
  std::vector<RenderedHostFile> files;
  std::string dashed = absl::StrCat("01-", site::FormatMac(input.host->mac));
  for (char& c : dashed) {
    if (c == ':') c = '-';
  }
  absl::StatusOr<std::string> pxe = templates.PxelinuxConfig(input);
  if (!pxe.ok()) return pxe.status();
  files.push_back({absl::StrCat("pxelinux.cfg/", dashed), *std::move(pxe)});
  absl::StatusOr<std::string> grub = templates.GrubConfig(input);
  if (!grub.ok()) return grub.status();
  files.push_back({absl::StrCat("grub/grub.cfg-", dashed), *std::move(grub)});
  absl::StatusOr<std::string> ipxe = templates.IpxeScript(input);
  if (!ipxe.ok()) return ipxe.status();
  files.push_back({site::IpxeScriptPath(input.host->mac), *std::move(ipxe)});
  if (input.armed && !input.token.empty() && input.profile != nullptr) {
    // The token names a directory of gen's output: only the 32 lowercase hex
    // digits host_states makes, never a path.
    if (input.token.size() != 32 ||
        input.token.find_first_not_of("0123456789abcdef") !=
            std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(input.host->hostname, ": malformed install token"));
    }
    for (const std::string& file : InstallFileNames(input.profile->family)) {
      absl::StatusOr<std::string> bytes = templates.InstallFile(input, file);
      if (!bytes.ok()) return bytes.status();
      files.push_back({absl::StrCat("install/", input.token, "/", file),
                       *std::move(bytes), /*secret=*/true});
    }
  }
  return files;
}

}  // namespace rackboot::install
