#include "engine/site/site_runtime.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/site/site_files.h"
#include "glog/logging.h"

namespace rackboot::site {

absl::StatusOr<dhcp::DhcpServerConfig> CheckSite(const SiteConfig& site,
                                                 const Inventory& inventory,
                                                 bool dhcp, bool warn) {
  absl::Status valid = ValidateInventory(inventory, site);
  if (!valid.ok()) return valid;
  for (const InventoryHost& host : inventory.hosts()) {
    if (!warn) break;
    bool known = site.profiles.empty();
    for (const BootProfile& profile : site.profiles)
      known |= profile.name == host.profile;
    LOG_IF(WARNING, !known)
        << inventory.filename() << ":" << host.line << ": " << host.hostname
        << "'s profile '" << host.profile << "' is not a [[profile]] of "
        << site.path << "; it boots from its local disk and cannot be armed";
  }
  if (!dhcp) return dhcp::DhcpServerConfig();
  return DhcpServerConfigFromSite(site, inventory);
}

absl::StatusOr<std::unique_ptr<SiteRuntime>> SiteRuntime::Open(
    const SiteConfig& site, bool dhcp, bool& config_error) {
  auto ConfigError = [&config_error](absl::Status status) {
    config_error = true;
    return status;
  };
  std::unique_ptr<SiteRuntime> runtime(new SiteRuntime());
  absl::StatusOr<Inventory> inventory = Inventory::Load(site.server.inventory);
  if (!inventory.ok()) return ConfigError(inventory.status());
  absl::StatusOr<dhcp::DhcpServerConfig> server =
      CheckSite(site, *inventory, dhcp);
  if (!server.ok()) return ConfigError(server.status());
  runtime->dhcp_config_ = *std::move(server);
  absl::StatusOr<std::unique_ptr<HostStateStore>> states =
      HostStateStore::Open(site.server.state_dir, *inventory);
  if (!states.ok()) {
    // A line of host-states.tsv that does not parse is the operator's to fix;
    // a state directory that cannot be made or read is the system's.
    if (states.status().code() == absl::StatusCode::kDataLoss ||
        states.status().code() == absl::StatusCode::kInvalidArgument) {
      return ConfigError(states.status());
    }
    return states.status();
  }
  runtime->states_ = *std::move(states);
  // An armed host this site cannot install is a configuration error, not a
  // silent local boot; an unarmed one with an unknown profile is only worth a
  // warning (CheckSite; `rackboot arm` refuses it).
  if (absl::Status armed = runtime->CheckArmedHosts(site, *inventory);
      !armed.ok()) {
    return ConfigError(armed);
  }
  absl::StatusOr<std::unique_ptr<BringUpLog>> bring_up =
      BringUpLog::Open(site.server.state_dir);
  if (!bring_up.ok()) return bring_up.status();
  runtime->bring_up_ = *std::move(bring_up);
  size_t armed = 0;
  for (const InventoryHost& host : inventory->hosts()) {
    if (runtime->states_->Get(host.hostname) == HostState::kInstall) ++armed;
  }
  LOG(INFO) << "inventory: " << inventory->hosts().size() << " hosts from "
            << site.server.inventory << ", " << armed << " armed for install";
  runtime->fleet_ = std::make_unique<FleetStatus>();
  runtime->fleet_->SetInventory(site, *inventory, *runtime->states_->Snapshot(),
                                absl::Now(), /*initial=*/true);
  runtime->current_ = std::make_unique<CurrentSite>(
      MakeSiteGeneration(site, *std::move(inventory), runtime->states_.get(),
                         runtime->LeaseOwner()));
  runtime->tracker_ = std::make_unique<BringUpTracker>(
      runtime->current_.get(), runtime->bring_up_.get(), runtime->LeaseOwner(),
      runtime->fleet_.get());
  return runtime;
}

absl::Status SiteRuntime::CheckArmedHosts(const SiteConfig& site,
                                          const Inventory& inventory) const {
  std::shared_ptr<const HostStateMap> snapshot = states_->Snapshot();
  std::vector<std::string> errors;
  for (const InventoryHost& host : inventory.hosts()) {
    auto it = snapshot->find(host.hostname);
    const bool from_file =
        it != snapshot->end() && it->second.changed != absl::InfinitePast();
    const HostState state =
        it != snapshot->end() ? it->second.state : host.initial_state;
    if (state != HostState::kInstall) continue;
    const std::string armed_by =
        from_file ? states_->states_path() : std::string("its state column");
    absl::Status s = CheckArmedHost(site, inventory, host, armed_by);
    if (!s.ok()) errors.emplace_back(s.message());
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(errors, "\n"));
}

absl::Status SiteRuntime::CheckArmedHosts() const {
  std::shared_ptr<const SiteGeneration> now = current_->Get();
  return CheckArmedHosts(now->site, now->inventory);
}

BootRenderer::LeaseOwner SiteRuntime::LeaseOwner() {
  return [this](Ipv4Address address) -> absl::optional<MacAddress> {
    const dhcp::DhcpService* dhcp = dhcp_.load(std::memory_order_acquire);
    if (dhcp == nullptr) return absl::nullopt;
    absl::optional<dhcp::Lease> lease = dhcp->leases().Lookup(address);
    if (!lease.has_value() || lease->state != dhcp::LeaseState::kBound ||
        lease->expires <= absl::Now()) {
      return absl::nullopt;
    }
    return lease->mac;
  };
}

std::string SiteRuntime::HostnameAt(Ipv4Address address) {
  std::shared_ptr<const SiteGeneration> now = current_->Get();
  if (absl::optional<MacAddress> mac = LeaseOwner()(address)) {
    if (const InventoryHost* host = now->inventory.FindByMac(*mac)) {
      return host->hostname;
    }
  }
  if (const InventoryHost* host = now->inventory.FindByAddress(address)) {
    return host->hostname;
  }
  return "";
}

absl::Status SiteRuntime::SetHostState(absl::string_view hostname,
                                       HostState state, absl::string_view by) {
  absl::MutexLock lock(&set_mu_);
  std::shared_ptr<const SiteGeneration> now = current_->Get();
  const InventoryHost* host = now->inventory.FindByHostname(hostname);
  if (host == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no host '", hostname, "' in the inventory"));
  }
  if (state == HostState::kInstall) {
    if (absl::Status s = CheckArmedHost(now->site, now->inventory, *host, by);
        !s.ok()) {
      return absl::FailedPreconditionError(s.message());
    }
  }
  if (absl::Status s = states_->Set(host->hostname, state); !s.ok()) {
    return s;
  }
  LOG(INFO) << "host state: " << host->hostname << " set to "
            << HostStateName(state) << " by " << by;
  fleet_->SetStates(*states_->Snapshot(), absl::Now(), by);
  WriteStatus();
  return absl::OkStatus();
}

void SiteRuntime::FlushBringUp() {
  absl::Status flushed = tracker_->Flush();
  LOG_IF_EVERY_N(ERROR, !flushed.ok(), 60) << "bring-up log: " << flushed;
}

void SiteRuntime::WriteStatus() {
  absl::MutexLock lock(&status_mu_);
  absl::Status written = states_->WriteAppliedStatus();
  LOG_IF(ERROR, !written.ok())
      << "cannot write the status file (removed it; `rackboot hosts` "
         "shows the states as unconfirmed): "
      << written.message();
}

void SiteRuntime::PollStates(absl::Time now) {
  if (!states_->ChangedOnDisk()) return;
  absl::Status reloaded = states_->Reload();
  if (reloaded.ok()) {
    if (degraded_) {
      LOG(WARNING) << "host states readable again: " << states_->states_path()
                   << " applies from now on";
    } else {
      LOG(INFO) << "host states reloaded from " << states_->states_path();
    }
    // Armed while running (not through `rackboot arm`, which refuses): the
    // host stays armed, but it cannot install; say so.
    if (absl::Status armed = CheckArmedHosts(); !armed.ok())
      LOG(ERROR) << armed.message();
    fleet_->SetStates(*states_->Snapshot(), now, "host-states.tsv");
    degraded_ = false;
    degraded_message_.clear();
    WriteStatus();
    return;
  }
  if (!degraded_) {
    LOG(ERROR) << "host states unreadable: " << reloaded.message()
               << "; every host boots from disk until it is readable";
    degraded_ = true;
    degraded_logged_ = now;
    WriteStatus();
  } else if (now - degraded_logged_ >= absl::Minutes(1) ||
             reloaded.message() != degraded_message_) {
    LOG(ERROR) << "host states still unreadable: " << reloaded.message()
               << "; every host boots from disk (retried every second)";
    degraded_logged_ = now;
    if (reloaded.message() != degraded_message_) WriteStatus();
  }
  degraded_message_ = std::string(reloaded.message());
}

void SiteRuntime::Reload(absl::StatusOr<SiteConfig> loaded, bool dhcp_on) {
  std::shared_ptr<const SiteGeneration> running = current_->Get();
  const std::string keeping = "; keeping the running configuration";
  if (!loaded.ok()) {
    LOG(ERROR) << "reload: " << loaded.status().message() << keeping;
    return;
  }
  SiteConfig effective = EffectiveSite(running->site, *loaded);
  absl::StatusOr<Inventory> inventory =
      Inventory::Load(effective.server.inventory);
  if (!inventory.ok()) {
    LOG(ERROR) << "reload: " << inventory.status().message() << keeping;
    return;
  }
  // The files as written must pass the startup checks, and so must what
  // will run (the files with the settings only a restart changes kept).
  absl::StatusOr<dhcp::DhcpServerConfig> checked =
      CheckSite(*loaded, *inventory, dhcp_on);
  if (checked.ok()) {
    checked = CheckSite(effective, *inventory, dhcp_on, /*warn=*/false);
  }
  if (checked.ok()) {
    if (absl::Status files = CheckSiteFiles(effective); !files.ok()) {
      checked = files;
    } else if (absl::Status armed = CheckArmedHosts(effective, *inventory);
               !armed.ok()) {
      checked = armed;
    }
  }
  if (!checked.ok()) {
    LOG(ERROR) << "reload: " << checked.status().message() << keeping;
    return;
  }
  SiteChanges changes =
      CompareSites(running->site, running->inventory, *loaded, *inventory);
  for (const std::string& change : changes.needs_restart) {
    LOG(WARNING) << "reload: " << change << " needs a restart, not applied";
  }
  for (const std::string& change : changes.applied) {
    LOG(INFO) << "reload: " << change;
  }
  // Host states first: a host the new inventory adds is local boot until
  // its state is known.
  states_->SetInventory(*inventory);
  fleet_->SetInventory(effective, *inventory, *states_->Snapshot(),
                       absl::Now());
  if (dhcp::DhcpService* dhcp = dhcp_.load(std::memory_order_acquire)) {
    dhcp->UpdateConfig(*std::move(checked));
  }
  const size_t hosts = inventory->hosts().size();
  const size_t profiles = effective.profiles.size();
  current_->Publish(MakeSiteGeneration(std::move(effective),
                                       *std::move(inventory), states_.get(),
                                       LeaseOwner()));
  WriteStatus();
  LOG(INFO) << "reload: "
            << (changes.applied.empty() ? "nothing to apply" : "applied")
            << "; running with " << hosts << " hosts and " << profiles
            << " profiles";
}

void SiteRuntime::Stop() {
  FlushBringUp();
  states_->RemoveAppliedStatus();  // no daemon applies them now
}

}  // namespace rackboot::site
