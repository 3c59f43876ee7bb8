#include "engine/site/site_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/log/log_text.h"
#include "engine/site/http_urls.h"
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
      CheckSite(site, *inventory, dhcp, /*warn=*/false);
  if (!server.ok()) return ConfigError(server.status());
  // The menus' and install files' templates (built in, each profile's
  // template_file and append): a template error is a configuration error.
  absl::StatusOr<std::shared_ptr<const install::InstallTemplates>> templates =
      install::InstallTemplates::Load(site);
  if (!templates.ok()) return ConfigError(templates.status());
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
  runtime->states_->set_token_ttl(site.install.token_ttl);
  runtime->state_dir_ = site.server.state_dir;
  runtime->state_dir_fd_ =
      ::open(site.server.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (runtime->state_dir_fd_ < 0) {
    return absl::InternalError(absl::StrCat(
        site.server.state_dir, ": cannot open: ", std::strerror(errno)));
  }
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
  runtime->IssueMissingTokens(*inventory, absl::Now());
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
                         *std::move(templates), runtime->LeaseOwner()));
  runtime->tracker_ = std::make_unique<BringUpTracker>(
      runtime->current_.get(), runtime->bring_up_.get(), runtime->LeaseOwner(),
      runtime->fleet_.get(), runtime->states_.get());
  return runtime;
}

SiteRuntime::~SiteRuntime() {
  if (state_dir_fd_ >= 0) ::close(state_dir_fd_);
}

void SiteRuntime::IssueMissingTokens(const Inventory& inventory,
                                     absl::Time now) {
  std::shared_ptr<const HostStateMap> snapshot = states_->Snapshot();
  if (!states_->Degraded().ok()) return;  // nothing is armed meanwhile
  for (const InventoryHost& host : inventory.hosts()) {
    auto it = snapshot->find(host.hostname);
    if (it == snapshot->end() || it->second.state != HostState::kInstall ||
        !it->second.token.empty()) {
      continue;
    }
    // Under set_mu_ like the API's arm, re-checked: an arm or an installer's
    // done may have landed since the snapshot.
    absl::MutexLock lock(&set_mu_);
    std::shared_ptr<const HostStateMap> fresh = states_->Snapshot();
    auto entry = fresh->find(host.hostname);
    if (entry == fresh->end() || entry->second.state != HostState::kInstall ||
        !entry->second.token.empty()) {
      continue;
    }
    // Armed by its state column (no file entry: changed is InfinitePast):
    // the token is recorded as the column's (from_inventory), so editing the
    // column away from install still disarms the host. Armed by an entry
    // without a token (written before tokens existed): an operator's arm.
    const bool by_column = entry->second.changed == absl::InfinitePast();
    if (absl::Status s =
            by_column ? states_->IssueInventoryToken(host.hostname, now)
                      : states_->Set(host.hostname, HostState::kInstall, now);
        !s.ok()) {
      LOG(ERROR) << "install token for " << host.hostname
                 << " (armed without one) not made: " << s.message()
                 << "; it boots from its disk until it has one";
      continue;
    }
    LOG(INFO) << "install token made for " << host.hostname
              << " (armed without one), expires "
              << absl::FormatTime(
                     "%Y-%m-%dT%H:%M:%SZ",
                     states_->Snapshot()->at(host.hostname).token_expires,
                     absl::UTCTimeZone());
  }
}

absl::StatusOr<const InventoryHost*> SiteRuntime::CheckInstaller(
    const SiteGeneration& generation, absl::string_view hostname,
    absl::string_view token, const io::SocketAddress& client,
    absl::Time now) const {
  const InventoryHost* host = generation.inventory.FindByHostname(hostname);
  if (host == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no host ", log::Quoted(hostname), " in the inventory"));
  }
  absl::optional<TokenOwner> owner = states_->FindToken(token);
  if (!owner.has_value() || owner->hostname != host->hostname) {
    // Never say whose it is, nor quote it.
    return absl::PermissionDeniedError(absl::StrCat(
        "install token refused: not ", host->hostname, "'s current token"));
  }
  if (now >= owner->expires) {
    return absl::PermissionDeniedError(absl::StrCat(
        "install token refused: ", host->hostname, "'s token expired at ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", owner->expires,
                         absl::UTCTimeZone())));
  }
  if (generation.renderer == nullptr ||
      !generation.renderer->IsHostAddress(*host, client)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "install token refused: ", client.ToString(), " is not ",
        host->hostname, "'s address (its reservation or its lease)"));
  }
  return host;
}

absl::Status SiteRuntime::ReportInstall(const InstallerReport& report,
                                        absl::Time now) {
  // Serialized with the API's arm and disarm: a done checked against the
  // token must not land after an operator's re-arm made a new one.
  absl::MutexLock lock(&set_mu_);
  std::shared_ptr<const SiteGeneration> generation = current_->Get();
  absl::StatusOr<const InventoryHost*> host = CheckInstaller(
      *generation, report.hostname, report.token, report.client, now);
  if (!host.ok()) return host.status();
  const std::string& name = (*host)->hostname;
  if (report.phase != "installing" && report.phase != "failed" &&
      report.phase != "done") {
    return absl::InvalidArgumentError(
        absl::StrCat("phase ", log::Quoted(report.phase, 32),
                     ": expected installing, failed or done"));
  }
  // Kept escaped by FleetStatus; escaped here for the log line.
  const absl::string_view raw_detail =
      absl::string_view(report.detail).substr(0, 200);
  const std::string detail = log::Escaped(raw_detail, 200);
  if (report.phase == "done") {
    if (absl::Status s = states_->Set(name, HostState::kInstalled, now);
        !s.ok()) {
      return s;
    }
    fleet_->SetStates(*states_->Snapshot(), now, "installer");
  }
  tracker_->OnInstaller(name, report.phase, raw_detail, now);
  LOG(INFO) << "installer: " << name << " " << report.phase
            << (detail.empty() ? "" : ": ") << detail << " (from "
            << report.client.ToString() << ")"
            << (report.phase == "done"
                    ? "; set installed, install token revoked"
                    : "");
  if (report.phase == "done") WriteStatus();
  return absl::OkStatus();
}

absl::StatusOr<InstallTarget> SiteRuntime::ResolveInstallToken(
    absl::string_view token, const io::SocketAddress& client, absl::Time now) {
  absl::optional<TokenOwner> owner = states_->FindToken(token);
  if (!owner.has_value()) {
    return absl::PermissionDeniedError(
        "install token refused: no armed host holds it");
  }
  InstallTarget target;
  target.generation = current_->Get();
  // The owner's checks, as for its reports (the token is looked up again
  // there: a re-arm in between is refused, not served).
  absl::StatusOr<const InventoryHost*> host =
      CheckInstaller(*target.generation, owner->hostname, token, client, now);
  if (!host.ok()) return host.status();
  const SiteConfig& site = target.generation->site;
  target.input.site = &site;
  target.input.host = *host;
  target.input.profile = FindProfile(site, (*host)->profile);
  target.input.armed = true;
  target.input.token = std::string(token);
  absl::optional<std::string> base = HttpBaseUrl(site);
  target.input.http_base = base.value_or("");
  return target;
}

absl::Status SiteRuntime::StoreInstallLog(absl::string_view hostname,
                                          absl::string_view token,
                                          const io::SocketAddress& client,
                                          absl::string_view text) {
  std::shared_ptr<const SiteGeneration> generation = current_->Get();
  absl::StatusOr<const InventoryHost*> host =
      CheckInstaller(*generation, hostname, token, client, absl::Now());
  if (!host.ok()) return host.status();
  if (text.size() > kMaxInstallLog) {
    return absl::InvalidArgumentError(
        absl::StrCat("install log of ", text.size(), " bytes: at most ",
                     kMaxInstallLog, " bytes"));
  }
  const std::string& name = (*host)->hostname;  // a checked DNS name
  const std::string dir = absl::StrCat(state_dir_, "/install-logs");
  if (::mkdirat(state_dir_fd_, "install-logs", 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat(dir, ": cannot create: ", std::strerror(errno)));
  }
  const std::string temp =
      absl::StrCat("install-logs/.", name, ".log.tmp.", ::getpid());
  const std::string final_name = absl::StrCat("install-logs/", name, ".log");
  auto Fail = [&](absl::string_view what) {
    const int err = errno;
    ::unlinkat(state_dir_fd_, temp.c_str(), 0);
    return absl::InternalError(absl::StrCat(state_dir_, "/", temp, ": ", what,
                                            ": ", std::strerror(err)));
  };
  // Two logs of one host at once: the same temp name; the lock keeps them
  // apart (rare, and cheap compared to the write).
  absl::MutexLock lock(&log_mu_);
  const int fd =
      ::openat(state_dir_fd_, temp.c_str(),
               O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Fail("cannot create");
  if (::fchmod(fd, 0600) != 0) {
    ::close(fd);
    return Fail("chmod");
  }
  absl::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Fail("write");
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return Fail("close");
  if (::renameat(state_dir_fd_, temp.c_str(), state_dir_fd_,
                 final_name.c_str()) != 0) {
    return Fail("rename");
  }
  LOG(INFO) << "installer: " << name << " log stored, " << text.size()
            << " bytes in " << dir << "/" << name << ".log (from "
            << client.ToString() << ")";
  return absl::OkStatus();
}

absl::StatusOr<std::string> SiteRuntime::InstallLog(
    absl::string_view hostname) const {
  std::shared_ptr<const SiteGeneration> generation = current_->Get();
  const InventoryHost* host = generation->inventory.FindByHostname(hostname);
  if (host == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no host ", log::Quoted(hostname), " in the inventory"));
  }
  const std::string name =
      absl::StrCat("install-logs/", host->hostname, ".log");
  const int fd =
      ::openat(state_dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("no install log of ", host->hostname));
    }
    return absl::InternalError(
        absl::StrCat(state_dir_, "/", name, ": ", std::strerror(errno)));
  }
  std::string text;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::InternalError(
          absl::StrCat(state_dir_, "/", name, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxInstallLog) break;  // written by us: never larger
  }
  ::close(fd);
  return text;
}

absl::Status CheckArmedHosts(const SiteConfig& site, const Inventory& inventory,
                             const HostStateMap& states,
                             absl::string_view states_path) {
  std::vector<std::string> errors;
  for (const InventoryHost& host : inventory.hosts()) {
    auto it = states.find(host.hostname);
    const bool stands =
        it != states.end() &&
        HostStateStore::EntryStands(it->second, host.initial_state);
    // An entry holding the column's token is the column's arm.
    const bool from_file = stands &&
                           it->second.changed != absl::InfinitePast() &&
                           !it->second.from_inventory;
    const HostState state = stands ? it->second.state : host.initial_state;
    if (state != HostState::kInstall) continue;
    const std::string armed_by =
        from_file ? std::string(states_path) : std::string("its state column");
    absl::Status s = CheckArmedHost(site, inventory, host, armed_by);
    if (!s.ok()) errors.emplace_back(s.message());
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(errors, "\n"));
}

absl::Status SiteRuntime::CheckArmedHosts(const SiteConfig& site,
                                          const Inventory& inventory) const {
  return site::CheckArmedHosts(site, inventory, *states_->Snapshot(),
                               states_->states_path());
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
    IssueMissingTokens(current_->Get()->inventory, now);
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

absl::Status SiteRuntime::Reload(absl::StatusOr<SiteConfig> loaded,
                                 bool dhcp_on) {
  std::shared_ptr<const SiteGeneration> running = current_->Get();
  const std::string keeping = "; keeping the running configuration";
  if (!loaded.ok()) {
    LOG(ERROR) << "reload: " << loaded.status().message() << keeping;
    return loaded.status();
  }
  SiteConfig effective = EffectiveSite(running->site, *loaded);
  absl::StatusOr<Inventory> inventory =
      Inventory::Load(effective.server.inventory);
  if (!inventory.ok()) {
    LOG(ERROR) << "reload: " << inventory.status().message() << keeping;
    return inventory.status();
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
    return checked.status();
  }
  // New templates are parsed (and test-rendered) before anything applies.
  absl::StatusOr<std::shared_ptr<const install::InstallTemplates>> templates =
      install::InstallTemplates::Load(effective);
  if (!templates.ok()) {
    LOG(ERROR) << "reload: " << templates.status().message() << keeping;
    return templates.status();
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
  states_->set_token_ttl(effective.install.token_ttl);
  IssueMissingTokens(*inventory, absl::Now());
  fleet_->SetInventory(effective, *inventory, *states_->Snapshot(),
                       absl::Now());
  fleet_->SetStates(*states_->Snapshot(), absl::Now(), "inventory reload");
  if (dhcp::DhcpService* dhcp = dhcp_.load(std::memory_order_acquire)) {
    dhcp->UpdateConfig(*std::move(checked));
  }
  const size_t hosts = inventory->hosts().size();
  const size_t profiles = effective.profiles.size();
  current_->Publish(MakeSiteGeneration(std::move(effective),
                                       *std::move(inventory), states_.get(),
                                       *std::move(templates), LeaseOwner()));
  WriteStatus();
  LOG(INFO) << "reload: "
            << (changes.applied.empty() ? "nothing to apply" : "applied")
            << "; running with " << hosts << " hosts and " << profiles
            << " profiles";
  return absl::OkStatus();
}

void SiteRuntime::Stop() {
  FlushBringUp();
  states_->RemoveAppliedStatus();  // no daemon applies them now
}

}  // namespace rackboot::site
