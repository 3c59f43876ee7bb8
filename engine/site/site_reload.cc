#include "engine/site/site_reload.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/site/http_urls.h"

namespace rackboot::site {
namespace {

std::string AddressText(const absl::optional<Ipv4Address>& a) {
  return a.has_value() ? a->ToString() : "none";
}

std::string Quoted(const std::string& s) { return s.empty() ? "\"\"" : s; }

// "what old -> new" into `out` when they differ.
void Note(std::vector<std::string>& out, absl::string_view what,
          const std::string& old_value, const std::string& new_value) {
  if (old_value == new_value) return;
  out.push_back(
      absl::StrCat(what, " ", Quoted(old_value), " -> ", Quoted(new_value)));
}

std::string DnsText(const std::vector<Ipv4Address>& dns) {
  std::vector<std::string> parts;
  for (const Ipv4Address& a : dns) parts.push_back(a.ToString());
  return parts.empty() ? "none" : absl::StrJoin(parts, ",");
}

bool SameRanges(const std::vector<Subnet>& a, const std::vector<Subnet>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].network != b[i].network ||
        a[i].prefix_length != b[i].prefix_length) {
      return false;
    }
  }
  return true;
}

std::string SubnetsText(const std::vector<Subnet>& subnets) {
  std::vector<std::string> parts;
  for (const Subnet& s : subnets) parts.push_back(s.CidrString());
  return parts.empty() ? "none" : absl::StrJoin(parts, ",");
}

// The differences between two hosts of one hostname, e.g.
// "profile rocky9 -> alma9, ip 198.18.0.41 -> 198.18.0.42".
std::string HostDiff(const InventoryHost& a, const InventoryHost& b) {
  std::vector<std::string> d;
  Note(d, "mac", FormatMac(a.mac), FormatMac(b.mac));
  Note(d, "ip", AddressText(a.address), AddressText(b.address));
  Note(d, "profile", a.profile, b.profile);
  Note(d, "state", std::string(HostStateName(a.initial_state)),
       std::string(HostStateName(b.initial_state)));
  if (a.extra != b.extra) d.push_back("other columns");
  return absl::StrJoin(d, ", ");
}

std::string BootText(const BootConfig& b) {
  return absl::StrCat(
      "bios=", b.bios, " uefi_x64=", b.uefi_x64, " uefi_ia32=", b.uefi_ia32,
      " arm64=", b.arm64, " http_boot_url=", b.http_boot_url,
      " ipxe_script=", b.ipxe_script, " ipxe_bios=", b.ipxe_bios,
      " ipxe_uefi=", b.ipxe_uefi, " uefi_http=", b.uefi_http);
}

}  // namespace

std::shared_ptr<const SiteGeneration> MakeSiteGeneration(
    SiteConfig site, Inventory inventory, HostStateStore* states,
    std::shared_ptr<const install::InstallTemplates> templates,
    BootRenderer::LeaseOwner lease_owner) {
  auto generation = std::make_shared<SiteGeneration>();
  generation->site = std::move(site);
  generation->inventory = std::move(inventory);
  generation->templates = std::move(templates);
  generation->directory =
      std::make_unique<SiteHostDirectory>(&generation->inventory, states);
  generation->renderer =
      std::make_unique<BootRenderer>(&generation->site, &generation->inventory,
                                     states, generation->templates.get());
  generation->renderer->set_lease_owner(std::move(lease_owner));
  generation->renderer->set_http_base(HttpBaseUrl(generation->site));
  return generation;
}

std::shared_ptr<const SiteGeneration> CurrentSite::Get() const {
  absl::ReaderMutexLock lock(&mu_);
  return generation_;
}

void CurrentSite::Publish(std::shared_ptr<const SiteGeneration> generation) {
  std::shared_ptr<const SiteGeneration> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(generation_);
    generation_ = std::move(generation);
  }
  // `old` is freed here, outside mu_, unless a reader still holds it.
}

absl::optional<dhcp::HostDirectory::Host> CurrentSite::FindByMac(
    const std::array<uint8_t, 6>& mac) const {
  return Get()->directory->FindByMac(mac);
}

absl::optional<std::array<uint8_t, 6>> CurrentSite::ReservedFor(
    Ipv4Address address) const {
  return Get()->directory->ReservedFor(address);
}

void CurrentSite::RecordDiscovered(const std::array<uint8_t, 6>& mac,
                                   const std::string& detail, absl::Time now) {
  Get()->directory->RecordDiscovered(mac, detail, now);
}

absl::optional<std::string> CurrentSite::Render(
    absl::string_view relative_path, const io::SocketAddress& client) {
  // Every TFTP request of every shard asks; most names (pxelinux.0, kernels)
  // cannot be per-host files, and those need neither the lock nor a
  // reference to the generation (both written by every shard).
  if (!BootRenderer::MayRender(relative_path)) return absl::nullopt;
  return Get()->renderer->Render(relative_path, client);
}

SiteConfig EffectiveSite(const SiteConfig& running, const SiteConfig& loaded) {
  SiteConfig out = loaded;
  out.server.interface = running.server.interface;
  out.server.address = running.server.address;
  out.server.state_dir = running.server.state_dir;
  out.server.inventory = running.server.inventory;
  out.server.user = running.server.user;
  out.dhcp.mode = running.dhcp.mode;
  out.dhcp.allow_other_dhcp = running.dhcp.allow_other_dhcp;
  if (!SameRanges(running.dhcp.subnets, loaded.dhcp.subnets)) {
    out.dhcp.subnets = running.dhcp.subnets;
  }
  out.tftp = running.tftp;
  out.http = running.http;
  return out;
}

SiteChanges CompareSites(const SiteConfig& running_site,
                         const Inventory& running_inventory,
                         const SiteConfig& loaded_site,
                         const Inventory& loaded_inventory) {
  SiteChanges changes;

  // Hosts, by hostname (the key of their state).
  std::vector<std::string> added, removed, changed;
  for (const InventoryHost& host : loaded_inventory.hosts()) {
    const InventoryHost* old = running_inventory.FindByHostname(host.hostname);
    if (old == nullptr) {
      added.push_back(host.hostname);
    } else if (std::string diff = HostDiff(*old, host); !diff.empty()) {
      changed.push_back(absl::StrCat(host.hostname, " (", diff, ")"));
    }
  }
  for (const InventoryHost& host : running_inventory.hosts()) {
    if (loaded_inventory.FindByHostname(host.hostname) == nullptr) {
      removed.push_back(host.hostname);
    }
  }
  if (!added.empty()) {
    changes.applied.push_back(
        absl::StrCat("hosts added: ", absl::StrJoin(added, ", ")));
  }
  if (!removed.empty()) {
    changes.applied.push_back(
        absl::StrCat("hosts removed: ", absl::StrJoin(removed, ", ")));
  }
  if (!changed.empty()) {
    changes.applied.push_back(
        absl::StrCat("hosts changed: ", absl::StrJoin(changed, "; ")));
  }

  // Profiles, by name.
  std::vector<std::string> p_added, p_removed, p_changed;
  auto find = [](const std::vector<BootProfile>& v, const std::string& name) {
    auto it = std::find_if(v.begin(), v.end(), [&](const BootProfile& p) {
      return p.name == name;
    });
    return it == v.end() ? nullptr : &*it;
  };
  for (const BootProfile& p : loaded_site.profiles) {
    const BootProfile* old = find(running_site.profiles, p.name);
    if (old == nullptr) {
      p_added.push_back(p.name);
    } else if (old->kernel != p.kernel || old->initrd != p.initrd ||
               old->append != p.append) {
      p_changed.push_back(p.name);
    }
  }
  for (const BootProfile& p : running_site.profiles) {
    if (find(loaded_site.profiles, p.name) == nullptr) {
      p_removed.push_back(p.name);
    }
  }
  if (!p_added.empty()) {
    changes.applied.push_back(
        absl::StrCat("profiles added: ", absl::StrJoin(p_added, ", ")));
  }
  if (!p_removed.empty()) {
    changes.applied.push_back(
        absl::StrCat("profiles removed: ", absl::StrJoin(p_removed, ", ")));
  }
  if (!p_changed.empty()) {
    changes.applied.push_back(
        absl::StrCat("profiles changed: ", absl::StrJoin(p_changed, ", ")));
  }

  // DHCP settings the running server takes.
  std::vector<std::string> dhcp;
  const DhcpConfig& od = running_site.dhcp;
  const DhcpConfig& nd = loaded_site.dhcp;
  Note(dhcp, "unknown_pxe", std::string(UnknownPxePolicyName(od.unknown_pxe)),
       std::string(UnknownPxePolicyName(nd.unknown_pxe)));
  Note(dhcp, "lease_seconds", absl::StrCat(od.lease_seconds),
       absl::StrCat(nd.lease_seconds));
  Note(dhcp, "offer_seconds", absl::StrCat(od.offer_seconds),
       absl::StrCat(nd.offer_seconds));
  Note(dhcp, "decline_seconds", absl::StrCat(od.decline_seconds),
       absl::StrCat(nd.decline_seconds));
  if (SameRanges(od.subnets, nd.subnets)) {
    for (size_t i = 0; i < od.subnets.size(); ++i) {
      const Subnet& a = od.subnets[i];
      const Subnet& b = nd.subnets[i];
      const std::string where = absl::StrCat("subnet ", a.CidrString());
      Note(dhcp, where + " pool",
           a.pool.has_value() ? a.pool->ToString() : "none",
           b.pool.has_value() ? b.pool->ToString() : "none");
      Note(dhcp, where + " router", AddressText(a.router),
           AddressText(b.router));
      Note(dhcp, where + " dns", DnsText(a.dns), DnsText(b.dns));
      Note(dhcp, where + " domain", a.domain, b.domain);
    }
  } else {
    changes.needs_restart.push_back(
        absl::StrCat("dhcp subnets (", SubnetsText(od.subnets), " -> ",
                     SubnetsText(nd.subnets), ")"));
  }
  if (!dhcp.empty()) {
    changes.applied.push_back(
        absl::StrCat("dhcp changed: ", absl::StrJoin(dhcp, ", ")));
  }
  if (BootText(running_site.boot) != BootText(loaded_site.boot) ||
      running_site.boot.menu_timeout != loaded_site.boot.menu_timeout) {
    changes.applied.push_back("boot files changed ([boot])");
  }
  {
    const StatusConfig& os = running_site.status;
    const StatusConfig& ns = loaded_site.status;
    std::vector<std::string> status;
    auto Bound = [&status](absl::string_view key, absl::Duration a,
                           absl::Duration b) {
      if (a == b) return;
      status.push_back(absl::StrCat(key, " ", absl::FormatDuration(a), " -> ",
                                    absl::FormatDuration(b)));
    };
    Bound("stall_dhcp", os.stall_dhcp, ns.stall_dhcp);
    Bound("stall_booting", os.stall_booting, ns.stall_booting);
    Bound("stall_installing", os.stall_installing, ns.stall_installing);
    if (!status.empty()) {
      changes.applied.push_back(
          absl::StrCat("status changed: ", absl::StrJoin(status, ", ")));
    }
  }

  // What only a restart applies: "what (old -> new)".
  std::vector<std::string>& r = changes.needs_restart;
  auto Note = [](std::vector<std::string>& out, absl::string_view what,
                 const std::string& old_value, const std::string& new_value) {
    if (old_value == new_value) return;
    out.push_back(absl::StrCat(what, " (", Quoted(old_value), " -> ",
                               Quoted(new_value), ")"));
  };
  Note(r, "server.interface", running_site.server.interface,
       loaded_site.server.interface);
  Note(r, "server.address", AddressText(running_site.server.address),
       AddressText(loaded_site.server.address));
  Note(r, "server.state_dir", running_site.server.state_dir,
       loaded_site.server.state_dir);
  Note(r, "server.inventory", running_site.server.inventory,
       loaded_site.server.inventory);
  Note(r, "server.user", running_site.server.user, loaded_site.server.user);
  Note(r, "dhcp.mode", std::string(DhcpModeName(od.mode)),
       std::string(DhcpModeName(nd.mode)));
  Note(r, "dhcp.allow_other_dhcp", od.allow_other_dhcp ? "true" : "false",
       nd.allow_other_dhcp ? "true" : "false");
  Note(r, "tftp.root", running_site.tftp.root, loaded_site.tftp.root);
  Note(r, "tftp.listen", running_site.tftp.listen, loaded_site.tftp.listen);
  Note(r, "tftp.max_blksize", absl::StrCat(running_site.tftp.max_blksize),
       absl::StrCat(loaded_site.tftp.max_blksize));
  Note(r, "tftp.max_windowsize", absl::StrCat(running_site.tftp.max_windowsize),
       absl::StrCat(loaded_site.tftp.max_windowsize));
  const HttpConfig& oh = running_site.http;
  const HttpConfig& nh = loaded_site.http;
  Note(r, "http.listen", oh.listen, nh.listen);
  Note(r, "http.repo_root", oh.repo_root, nh.repo_root);
  Note(r, "http.max_connections", absl::StrCat(oh.max_connections),
       absl::StrCat(nh.max_connections));
  Note(r, "http.header_timeout_ms", absl::StrCat(oh.header_timeout_ms),
       absl::StrCat(nh.header_timeout_ms));
  Note(r, "http.idle_timeout_ms", absl::StrCat(oh.idle_timeout_ms),
       absl::StrCat(nh.idle_timeout_ms));
  return changes;
}

}  // namespace rackboot::site
