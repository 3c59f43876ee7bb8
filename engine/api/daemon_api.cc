#include "engine/api/daemon_api.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/dhcp/dhcp_service.h"
#include "engine/dhcp/lease.h"
#include "glog/logging.h"

namespace rackboot::api {
namespace {

ApiHost ToApi(site::HostStatus h) {
  ApiHost a;
  a.name = std::move(h.name);
  a.mac = std::move(h.mac);
  a.address = std::move(h.address);
  a.profile = std::move(h.profile);
  a.state = std::move(h.state);
  a.group = std::move(h.group);
  a.phase = std::move(h.phase);
  a.reason = std::move(h.reason);
  a.phase_since = h.phase_since;
  a.last_seen = h.last_seen;
  for (site::HostEvent& e : h.timeline) {
    a.timeline.push_back(ApiEvent{e.id, e.time, std::move(e.host),
                                  std::move(e.kind), std::move(e.phase),
                                  std::move(e.detail), std::move(e.address)});
  }
  return a;
}

const char* LeaseStateName(dhcp::LeaseState state) {
  switch (state) {
    case dhcp::LeaseState::kFree:
      return "free";
    case dhcp::LeaseState::kOffered:
      return "offered";
    case dhcp::LeaseState::kBound:
      return "bound";
    case dhcp::LeaseState::kReleased:
      return "released";
    case dhcp::LeaseState::kDeclined:
      return "declined";
  }
  return "unknown";
}

// The address part of "198.18.0.21:2070".
absl::optional<dhcp::Ipv4Address> ClientIp(const io::SocketAddress& client) {
  if (!client.is_ipv4()) return absl::nullopt;
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(client.sockaddr_ptr());
  return dhcp::Ipv4Address(ntohl(v4->sin_addr.s_addr));
}

}  // namespace

std::vector<ApiTransfer> DaemonApi::TransfersWithHosts() {
  std::vector<ApiTransfer> out;
  if (transfers_ == nullptr) return out;
  for (daemon::TransferInfo& t : transfers_->Snapshot()) {
    ApiTransfer a;
    a.transport = std::string(daemon::TransportName(t.transport));
    a.client = t.client.ToString();
    a.file = std::move(t.file);
    a.bytes = t.bytes;
    a.size = t.size;
    a.started = t.started;
    if (runtime_ != nullptr) {
      if (absl::optional<dhcp::Ipv4Address> ip = ClientIp(t.client)) {
        a.host = runtime_->HostnameAt(*ip);
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::string DaemonApi::Degraded() {
  const absl::Status degraded = runtime_->StatesDegraded();
  return degraded.ok() ? std::string() : std::string(degraded.message());
}

std::vector<ApiHost> DaemonApi::Hosts() {
  std::vector<ApiHost> out;
  if (fleet_ == nullptr) return out;
  // A host's transfer: its most recent one.
  absl::flat_hash_map<std::string, ApiTransfer> by_host;
  for (ApiTransfer& t : TransfersWithHosts()) {
    if (t.host.empty()) continue;
    auto [it, added] = by_host.try_emplace(t.host, t);
    if (!added && t.started > it->second.started) it->second = std::move(t);
  }
  for (site::HostStatus& h : fleet_->Hosts()) {
    ApiHost a = ToApi(std::move(h));
    if (auto it = by_host.find(a.name); it != by_host.end()) {
      a.transfer = it->second;
    }
    out.push_back(std::move(a));
  }
  return out;
}

absl::optional<ApiHost> DaemonApi::Host(absl::string_view name) {
  if (fleet_ == nullptr) return absl::nullopt;
  absl::optional<site::HostStatus> h = fleet_->Host(name);
  if (!h.has_value()) return absl::nullopt;
  ApiHost a = ToApi(*std::move(h));
  for (ApiTransfer& t : TransfersWithHosts()) {
    if (t.host == a.name &&
        (!a.transfer.has_value() || t.started > a.transfer->started)) {
      a.transfer = std::move(t);
    }
  }
  return a;
}

std::vector<ApiLease> DaemonApi::Leases(size_t max, bool* truncated) {
  *truncated = false;
  std::vector<ApiLease> out;
  if (runtime_ == nullptr || runtime_->dhcp() == nullptr) return out;
  const dhcp::LeaseTable& table = runtime_->dhcp()->leases();
  std::shared_ptr<const site::SiteGeneration> site = runtime_->current()->Get();
  const absl::Time now = absl::Now();
  for (const dhcp::AddressRange& range : table.ranges()) {
    for (uint64_t a = range.first.value(); a <= range.last.value(); ++a) {
      const dhcp::Ipv4Address address(static_cast<uint32_t>(a));
      absl::optional<dhcp::Lease> lease = table.Lookup(address);
      if (!lease.has_value() || lease->state == dhcp::LeaseState::kFree) {
        continue;
      }
      if (out.size() == max) {
        *truncated = true;
        return out;
      }
      ApiLease l;
      l.mac = site::FormatMac(lease->mac);
      l.address = address.ToString();
      l.state = LeaseStateName(lease->state);
      // A bound or offered lease past its time is free for the next client.
      if ((lease->state == dhcp::LeaseState::kBound ||
           lease->state == dhcp::LeaseState::kOffered) &&
          lease->expires <= now) {
        l.state = "expired";
      }
      l.expires = lease->expires;
      if (const site::InventoryHost* host =
              site->inventory.FindByMac(lease->mac)) {
        l.host = host->hostname;
      }
      if (const site::Subnet* subnet = site->site.SubnetFor(address)) {
        l.subnet = subnet->CidrString();
      }
      out.push_back(std::move(l));
    }
  }
  return out;
}

std::vector<ApiTransfer> DaemonApi::Transfers() { return TransfersWithHosts(); }

absl::StatusOr<ApiHost> DaemonApi::SetState(absl::string_view name, bool arm,
                                            absl::string_view source) {
  if (runtime_ == nullptr) {
    return absl::NotFoundError("no inventory: rackbootd runs without a site");
  }
  if (absl::Status s = runtime_->SetHostState(
          name, arm ? site::HostState::kInstall : site::HostState::kLocalboot,
          source);
      !s.ok()) {
    return s;
  }
  absl::optional<ApiHost> host = Host(name);
  if (!host.has_value()) return absl::NotFoundError("host gone");
  host->timeline.clear();
  return *std::move(host);
}

absl::StatusOr<ApiHost> DaemonApi::InstallerReport(
    const ApiInstallerReport& report) {
  if (runtime_ == nullptr) {
    return absl::NotFoundError("no inventory: rackbootd runs without a site");
  }
  site::InstallerReport r;
  r.hostname = report.hostname;
  r.token = report.token;
  r.phase = report.phase;
  r.detail = report.detail;
  r.client = report.client;
  if (absl::Status s = runtime_->ReportInstall(r, absl::Now()); !s.ok()) {
    return s;
  }
  absl::optional<ApiHost> host = Host(report.hostname);
  if (!host.has_value()) return absl::NotFoundError("host gone");
  host->timeline.clear();
  return *std::move(host);
}

absl::Status DaemonApi::CheckInstallerToken(absl::string_view name,
                                            absl::string_view token,
                                            const io::SocketAddress& client) {
  if (runtime_ == nullptr) {
    return absl::NotFoundError("no inventory: rackbootd runs without a site");
  }
  absl::StatusOr<site::InstallTarget> target =
      runtime_->ResolveInstallToken(token, client, absl::Now());
  if (!target.ok()) return target.status();
  if (target->input.host == nullptr || target->input.host->hostname != name) {
    return absl::PermissionDeniedError("the token is another host's");
  }
  return absl::OkStatus();
}

absl::Status DaemonApi::StoreInstallLog(absl::string_view name,
                                        absl::string_view token,
                                        const io::SocketAddress& client,
                                        absl::string_view text) {
  if (runtime_ == nullptr) {
    return absl::NotFoundError("no inventory: rackbootd runs without a site");
  }
  return runtime_->StoreInstallLog(name, token, client, text);
}

absl::StatusOr<std::string> DaemonApi::InstallLog(absl::string_view name) {
  if (runtime_ == nullptr) {
    return absl::NotFoundError("no inventory: rackbootd runs without a site");
  }
  return runtime_->InstallLog(name);
}

static_assert(kMaxInstallLog == site::SiteRuntime::kMaxInstallLog,
              "the route's and the runtime's log limits differ");

absl::StatusOr<std::string> DaemonInstallModel::InstallFile(
    absl::string_view token, absl::string_view file,
    const io::SocketAddress& client) {
  if (runtime_ == nullptr) {
    return absl::NotFoundError("no inventory: rackbootd runs without a site");
  }
  absl::StatusOr<site::InstallTarget> target =
      runtime_->ResolveInstallToken(token, client, absl::Now());
  if (!target.ok()) return target.status();
  if (target->generation == nullptr ||
      target->generation->templates == nullptr) {
    return absl::FailedPreconditionError("no install templates loaded");
  }
  // The input's pointers stay valid while `target` holds the generation.
  return target->generation->templates->InstallFile(target->input, file);
}

absl::StatusOr<std::shared_ptr<http::HttpStream>> DaemonApi::Subscribe(
    absl::string_view last_event_id) {
  if (hub_ == nullptr || fleet_ == nullptr) {
    return absl::UnavailableError("no bring-up events without a site");
  }
  return hub_->Subscribe(EventBacklog(*fleet_, last_event_id));
}

DaemonApiServer::DaemonApiServer(site::SiteRuntime* runtime,
                                 site::FleetStatus* fleet,
                                 daemon::TransferTable* transfers)
    : fleet_(fleet),
      model_(runtime, fleet, transfers, &hub_),
      routes_(&model_),
      install_model_(runtime),
      install_routes_(&install_model_) {
  if (fleet_ != nullptr) fleet_->SetPublisher(hub_.FleetPublisher());
}

DaemonApiServer::~DaemonApiServer() {
  if (fleet_ != nullptr) fleet_->SetPublisher({});
}

namespace {

absl::StatusOr<std::string> ReadSiteToken(const site::SiteConfig& site) {
  absl::StatusOr<std::string> token = ReadTokenFile(site.api.token_file);
  if (token.ok()) return token;
  const std::string where = site.key_lines.count("api.token_file") > 0
                                ? site.Where("api.token_file")
                                : std::string("--api_token_file");
  return absl::Status(token.status().code(),
                      absl::StrCat(where, ": ", token.status().message()));
}

}  // namespace

absl::Status DaemonApiServer::LoadToken(const site::SiteConfig& site) {
  if (site.api.token_file.empty()) {
    routes_.SetToken(absl::nullopt);
    LOG(INFO) << "api: no [api] token_file: writes from loopback only";
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> token = ReadSiteToken(site);
  if (!token.ok()) return token.status();
  routes_.SetToken(*std::move(token));
  LOG(INFO) << "api: writes need the bearer token of " << site.api.token_file;
  return absl::OkStatus();
}

void DaemonApiServer::ReloadToken(const site::SiteConfig& site) {
  if (site.api.token_file.empty()) {
    routes_.SetToken(absl::nullopt);
    LOG(INFO) << "reload: no [api] token_file: API writes from loopback only";
    return;
  }
  absl::StatusOr<std::string> token = ReadSiteToken(site);
  if (!token.ok()) {
    LOG(ERROR) << "reload: " << token.status().message()
               << "; keeping the API token in use";
    return;
  }
  routes_.SetToken(*std::move(token));
  LOG(INFO) << "reload: API token read from " << site.api.token_file;
}

}  // namespace rackboot::api
