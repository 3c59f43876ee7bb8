#include "engine/site/bring_up_tracker.h"

#include <netinet/in.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rackboot::site {

BringUpTracker::BringUpTracker(const CurrentSite* current, BringUpLog* log,
                               BootRenderer::LeaseOwner lease_owner,
                               FleetStatus* fleet, const HostStateStore* states)
    : current_(current),
      log_(log),
      lease_owner_(std::move(lease_owner)),
      fleet_(fleet),
      states_(states) {}

namespace {

// Whether `file` is `host`'s rendered config: pxelinux.cfg/01-<mac>,
// grub.cfg-01-<mac> or ipxe/01-<mac>.ipxe (BootRenderer's names).
bool IsHostConfig(absl::string_view file, const InventoryHost& host) {
  std::string dashed = FormatMac(host.mac);
  std::replace(dashed.begin(), dashed.end(), ':', '-');
  return absl::StrContains(absl::AsciiStrToLower(file),
                           absl::StrCat("01-", dashed));
}

}  // namespace

const InventoryHost* BringUpTracker::HostAt(
    const SiteGeneration& generation, const io::SocketAddress& client) const {
  if (!client.is_ipv4()) return nullptr;
  const auto* in = reinterpret_cast<const sockaddr_in*>(client.sockaddr_ptr());
  const Ipv4Address address(ntohl(in->sin_addr.s_addr));
  if (lease_owner_) {
    if (absl::optional<MacAddress> mac = lease_owner_(address)) {
      return generation.inventory.FindByMac(*mac);
    }
  }
  return generation.inventory.FindByAddress(address);
}

void BringUpTracker::OnFileDelivered(const daemon::FileDelivered& event) {
  if (!event.complete) {
    files_incomplete_.fetch_add(1, std::memory_order_relaxed);
    if (fleet_ == nullptr) return;
    // Not a phase, but the live view shows it (and a stall names it).
    std::shared_ptr<const SiteGeneration> now = current_->Get();
    if (const InventoryHost* host = HostAt(*now, event.client)) {
      fleet_->OnFile(host->hostname, event, FileRole::kOther, absl::Now());
    }
    return;
  }
  (event.transport == daemon::Transport::kTftp ? files_tftp_ : files_http_)
      .fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const SiteGeneration> now = current_->Get();
  const InventoryHost* host = HostAt(*now, event.client);
  if (host == nullptr) return;
  const absl::Time time = absl::Now();
  if (const BootProfile* profile = FindProfile(now->site, host->profile)) {
    const std::string& last =
        profile->initrd.empty() ? profile->kernel : profile->initrd;
    const bool armed =
        (states_ != nullptr ? states_->Get(host->hostname)
                            : host->initial_state) == HostState::kInstall;
    if (event.file == last && armed) {
      // The installer runs; only its own report says done.
      hosts_installing_.fetch_add(1, std::memory_order_relaxed);
      log_->Record(host->hostname, "installing", time);
      if (fleet_ != nullptr) {
        fleet_->OnFile(host->hostname, event, FileRole::kLastFile, time);
      }
      return;
    }
  }
  log_->RecordUnlessInstalling(
      host->hostname,
      absl::StrCat(daemon::TransportName(event.transport), " ", event.file),
      time);
  if (fleet_ != nullptr) {
    fleet_->OnFile(host->hostname, event,
                   IsHostConfig(event.file, *host) ? FileRole::kHostConfig
                                                   : FileRole::kOther,
                   time);
  }
}

void BringUpTracker::OnLeaseAcked(const daemon::LeaseAcked& event) {
  leases_acked_.fetch_add(1, std::memory_order_relaxed);
  // Without a boot file (a renewal, an OS booted from disk) it is no bring-up
  // phase, but the live view shows the host was seen.
  if (event.boot_file.empty() && fleet_ == nullptr) return;
  std::shared_ptr<const SiteGeneration> now = current_->Get();
  const InventoryHost* host = now->inventory.FindByMac(event.mac);
  if (host == nullptr) return;
  const absl::Time time = absl::Now();
  const bool boot = !event.boot_file.empty();
  if (boot) log_->Record(host->hostname, "dhcp", time);
  if (fleet_ != nullptr) {
    fleet_->OnLease(host->hostname, event.address, time, boot);
  }
}

void BringUpTracker::OnInstaller(absl::string_view hostname,
                                 absl::string_view phase,
                                 absl::string_view detail, absl::Time now) {
  if (phase != "installing" && phase != "failed" && phase != "done") return;
  if (phase == "done") hosts_done_.fetch_add(1, std::memory_order_relaxed);
  log_->Record(hostname, phase, now);
  if (fleet_ != nullptr) fleet_->OnInstaller(hostname, phase, detail, now);
}

std::vector<daemon::Metric> BringUpTracker::Metrics() const {
  auto get = [](const std::atomic<uint64_t>& c) {
    return static_cast<int64_t>(c.load(std::memory_order_relaxed));
  };
  return {{"bring_up_files_tftp", get(files_tftp_)},
          {"bring_up_files_http", get(files_http_)},
          {"bring_up_files_incomplete", get(files_incomplete_)},
          {"bring_up_leases_acked", get(leases_acked_)},
          {"bring_up_hosts_installing", get(hosts_installing_)},
          {"bring_up_hosts_done", get(hosts_done_)}};
}

}  // namespace rackboot::site
