#include "engine/site/boot_renderer.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "engine/log/log_text.h"
#include "engine/site/http_urls.h"

namespace rackboot::site {
namespace {

// "01-52-54-00-c6-12-01" (ARP type 1, then the MAC with dashes), as pxelinux
// and GRUB ask.
absl::optional<MacAddress> MacFromConfigName(absl::string_view name) {
  if (!absl::StartsWith(name, "01-") || name.size() != 3 + 17)
    return absl::nullopt;
  absl::StatusOr<MacAddress> mac = ParseMac(name.substr(3));
  if (!mac.ok()) return absl::nullopt;
  return *mac;
}

}  // namespace

bool BootRenderer::IsHostAddress(const InventoryHost& host,
                                 const io::SocketAddress& client) const {
  if (!client.is_ipv4()) return false;
  const auto* in = reinterpret_cast<const sockaddr_in*>(client.sockaddr_ptr());
  const Ipv4Address address(ntohl(in->sin_addr.s_addr));
  if (host.address.has_value() && *host.address == address) return true;
  if (!lease_owner_) return false;
  absl::optional<MacAddress> owner = lease_owner_(address);
  return owner.has_value() && *owner == host.mac;
}

void BootRenderer::LogRefused(absl::string_view path, const InventoryHost& host,
                              const io::SocketAddress& client) {
  uint64_t suppressed = 0;
  if (refused_log_.Allow(absl::Now(), &suppressed)) {
    LOG(WARNING) << "per-host file " << log::Quoted(path) << " of "
                 << host.hostname << " asked by " << client.ToString()
                 << ", which is neither its reserved address nor its lease: "
                    "not rendered for it"
                 << log::SuppressedNote(suppressed);
  }
}

absl::optional<std::string> BootRenderer::Render(
    absl::string_view path, const io::SocketAddress& client) {
  const size_t slash = path.rfind('/');
  const absl::string_view dir =
      slash == absl::string_view::npos ? "" : path.substr(0, slash);
  const absl::string_view base =
      slash == absl::string_view::npos ? path : path.substr(slash + 1);
  const std::string lower = absl::AsciiStrToLower(base);
  if (absl::EndsWith(dir, "pxelinux.cfg")) {
    absl::optional<MacAddress> mac = MacFromConfigName(lower);
    if (!mac.has_value()) return absl::nullopt;
    const InventoryHost* host = inventory_->FindByMac(*mac);
    if (host == nullptr) return absl::nullopt;
    if (!IsHostAddress(*host, client)) {
      LogRefused(path, *host, client);
      return absl::nullopt;
    }
    return PxelinuxConfig(*host);
  }
  if (dir == "ipxe" && absl::EndsWith(lower, ".ipxe")) {
    absl::optional<MacAddress> mac =
        MacFromConfigName(lower.substr(0, lower.size() - 5));
    if (!mac.has_value()) return absl::nullopt;
    const InventoryHost* host = inventory_->FindByMac(*mac);
    if (host == nullptr) return absl::nullopt;
    if (!IsHostAddress(*host, client)) {
      LogRefused(path, *host, client);
      return absl::nullopt;
    }
    return IpxeScript(*host);
  }
  if (absl::StartsWith(lower, "grub.cfg-")) {
    absl::optional<MacAddress> mac = MacFromConfigName(lower.substr(9));
    if (!mac.has_value()) return absl::nullopt;
    const InventoryHost* host = inventory_->FindByMac(*mac);
    if (host == nullptr) return absl::nullopt;
    if (!IsHostAddress(*host, client)) {
      LogRefused(path, *host, client);
      return absl::nullopt;
    }
    return GrubConfig(*host);
  }
  return absl::nullopt;
}

const BootProfile* BootRenderer::InstallProfile(
    const InventoryHost& host) const {
  if (states_->Get(host.hostname) != HostState::kInstall) return nullptr;
  for (const BootProfile& profile : site_->profiles) {
    if (profile.name == host.profile) return &profile;
  }
  return nullptr;
}

std::string BootRenderer::Expand(const std::string& text,
                                 const InventoryHost& host,
                                 const BootProfile& profile) const {
  return absl::StrReplaceAll(
      text, {{"{hostname}", host.hostname},
             {"{mac}", FormatMac(host.mac)},
             {"{ip}", host.address.has_value() ? host.address->ToString() : ""},
             {"{server}", site_->server.address.has_value()
                              ? site_->server.address->ToString()
                              : ""},
             {"{profile}", profile.name}});
}

std::string BootRenderer::PxelinuxConfig(const InventoryHost& host) const {
  const BootProfile* profile = InstallProfile(host);
  std::string out = absl::StrCat(
      "# Rendered by rackbootd for ", host.hostname, " (", FormatMac(host.mac),
      "): ", HostStateName(states_->Get(host.hostname)), "\n");
  if (profile == nullptr) {
    absl::StrAppend(&out,
                    "DEFAULT local\nPROMPT 0\nLABEL local\n  LOCALBOOT 0\n");
    return out;
  }
  absl::StrAppend(
      &out, "DEFAULT install\nPROMPT 0\nTIMEOUT 0\nLABEL install\n  KERNEL ",
      profile->kernel, "\n");
  if (!profile->initrd.empty())
    absl::StrAppend(&out, "  INITRD ", profile->initrd, "\n");
  absl::StrAppend(&out, "  APPEND ", Expand(profile->append, host, *profile),
                  "\n");
  return out;
}

std::string BootRenderer::GrubConfig(const InventoryHost& host) const {
  const BootProfile* profile = InstallProfile(host);
  std::string out = absl::StrCat(
      "# Rendered by rackbootd for ", host.hostname, " (", FormatMac(host.mac),
      "): ", HostStateName(states_->Get(host.hostname)), "\n");
  if (profile == nullptr) {
    // Back to the firmware, which tries the next boot device: the local disk.
    absl::StrAppend(&out, "exit\n");
    return out;
  }
  absl::StrAppend(&out, "set timeout=0\nmenuentry \"install ", host.hostname,
                  "\" {\n  linux /", profile->kernel, " ",
                  Expand(profile->append, host, *profile), "\n");
  if (!profile->initrd.empty())
    absl::StrAppend(&out, "  initrd /", profile->initrd, "\n");
  absl::StrAppend(&out, "}\n");
  return out;
}

std::string BootRenderer::IpxeScript(const InventoryHost& host) const {
  const BootProfile* profile = InstallProfile(host);
  std::string out =
      absl::StrCat("#!ipxe\n# Rendered by rackbootd for ", host.hostname, " (",
                   FormatMac(host.mac),
                   "): ", HostStateName(states_->Get(host.hostname)), "\n");
  if (profile == nullptr) {
    // Leaves iPXE with an error, so the firmware tries its next boot device:
    // the local disk (as LOCALBOOT 0 and GRUB's exit).
    absl::StrAppend(&out, "echo rackboot: ", host.hostname,
                    " is not armed for install: booting the next device\n",
                    "exit 1\n");
    return out;
  }
  // Absolute URLs into /boot/ while HTTP is served; otherwise paths from the
  // root of wherever the script came from (tftp://server/ then).
  auto url = [&](const std::string& file) {
    return absl::StrCat(http_base_.has_value() ? *http_base_ + "/boot/" : "/",
                        UrlPath(file));
  };
  std::string args = Expand(profile->append, host, *profile);
  if (!profile->initrd.empty()) {
    // iPXE names an image after its URL's last segment; the EFI stub of a
    // kernel booted by ipxe.efi/snponly.efi loads its initrd by that name from
    // initrd=, and a BIOS kernel ignores the word.
    const size_t slash = profile->initrd.rfind('/');
    const std::string name = slash == std::string::npos
                                 ? profile->initrd
                                 : profile->initrd.substr(slash + 1);
    args =
        absl::StrCat("initrd=", UrlPath(name), args.empty() ? "" : " ", args);
  }
  absl::StrAppend(&out, "kernel ", url(profile->kernel),
                  args.empty() ? "" : " ", args, "\n");
  if (!profile->initrd.empty())
    absl::StrAppend(&out, "initrd ", url(profile->initrd), "\n");
  absl::StrAppend(&out, "boot\n");
  return out;
}

}  // namespace rackboot::site
