#include "engine/site/boot_renderer.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

namespace {

// The kind and MAC a per-host file's name carries; false for any other name.
bool ParseConfigName(absl::string_view path, int* kind,
                     absl::optional<MacAddress>* mac) {
  const size_t slash = path.rfind('/');
  const absl::string_view dir =
      slash == absl::string_view::npos ? "" : path.substr(0, slash);
  const absl::string_view base =
      slash == absl::string_view::npos ? path : path.substr(slash + 1);
  const std::string lower = absl::AsciiStrToLower(base);
  if (absl::EndsWith(dir, "pxelinux.cfg")) {
    *kind = 0;
    *mac = MacFromConfigName(lower);
  } else if (dir == "ipxe" && absl::EndsWith(lower, ".ipxe")) {
    *kind = 1;
    *mac = MacFromConfigName(lower.substr(0, lower.size() - 5));
  } else if (absl::StartsWith(lower, "grub.cfg-")) {
    *kind = 2;
    *mac = MacFromConfigName(lower.substr(9));
  } else {
    return false;
  }
  return mac->has_value();
}

}  // namespace

bool BootRenderer::MayRender(absl::string_view relative_path) {
  int kind = 0;
  absl::optional<MacAddress> mac;
  return ParseConfigName(relative_path, &kind, &mac);
}

absl::optional<std::string> BootRenderer::Render(
    absl::string_view path, const io::SocketAddress& client) {
  int parsed = 0;
  absl::optional<MacAddress> mac;
  if (!ParseConfigName(path, &parsed, &mac)) return absl::nullopt;
  static constexpr Kind kKinds[] = {Kind::kPxelinux, Kind::kIpxe, Kind::kGrub};
  const Kind kind = kKinds[parsed];
  const InventoryHost* host = inventory_->FindByMac(*mac);
  if (host == nullptr) return absl::nullopt;
  return RenderFor(kind, path, *host, client);
}

absl::optional<std::string> BootRenderer::RenderFor(
    Kind kind, absl::string_view path, const InventoryHost& host,
    const io::SocketAddress& client) {
  if (!IsHostAddress(host, client)) {
    LogRefused(path, host, client);
    return absl::nullopt;
  }
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> out;
  switch (kind) {
    case Kind::kPxelinux:
      out = PxelinuxConfig(host, now);
      break;
    case Kind::kGrub:
      out = GrubConfig(host, now);
      break;
    case Kind::kIpxe:
      out = IpxeScript(host, now);
      break;
  }
  if (!out.ok()) {
    // Nothing is served rather than a half-right menu; the disk is asked.
    uint64_t suppressed = 0;
    if (error_log_.Allow(now, &suppressed)) {
      LOG(ERROR) << "per-host file " << log::Quoted(path) << " of "
                 << host.hostname
                 << " not rendered: " << log::Escaped(out.status().message())
                 << log::SuppressedNote(suppressed);
    }
    return absl::nullopt;
  }
  return *std::move(out);
}

install::HostRenderInput BootRenderer::InputFor(const InventoryHost& host,
                                                absl::Time now) const {
  install::HostRenderInput input;
  input.site = site_;
  input.host = &host;
  input.profile = FindProfile(*site_, host.profile);
  input.http_base = http_base_.value_or("");
  // One snapshot: state and token agree. A degraded store's snapshot has
  // every host local boot without a token.
  std::shared_ptr<const HostStateMap> snapshot = states_->Snapshot();
  auto it = snapshot->find(host.hostname);
  if (it != snapshot->end() && ArmedNow(it->second, now)) {
    input.armed = true;
    input.token = it->second.token;
  }
  return input;
}

absl::StatusOr<std::string> BootRenderer::PxelinuxConfig(
    const InventoryHost& host, absl::Time now) const {
  return templates_->PxelinuxConfig(InputFor(host, now));
}

absl::StatusOr<std::string> BootRenderer::GrubConfig(const InventoryHost& host,
                                                     absl::Time now) const {
  return templates_->GrubConfig(InputFor(host, now));
}

absl::StatusOr<std::string> BootRenderer::IpxeScript(const InventoryHost& host,
                                                     absl::Time now) const {
  return templates_->IpxeScript(InputFor(host, now));
}

}  // namespace rackboot::site
