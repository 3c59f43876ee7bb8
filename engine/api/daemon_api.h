// DaemonApi: rackbootd's ApiModel (api_model.h) over the running daemon: the
// fleet model (hosts, phases, timelines), the transfer table, the DHCP lease
// table (lock-free reads), the host-state store (arm, disarm) and the event
// hub (SSE). Plus DaemonApiServer, the small object rackbootd keeps for all
// of it: the hub, the fleet's publisher into it, the routes, the token.
//
//   DaemonApiServer api(runtime.get(), &transfers);     // runtime may be null
//   if (absl::Status s = api.LoadToken(site); !s.ok()) -> exit 78
//   http_options.routes.push_back({"/install/", api.install_routes()});
//   http_options.routes.push_back({"/api/v1/", api.routes()});
//   once a second: api.Tick(now);     SIGHUP: api.ReloadToken(site);
//
// Threads: the ApiModel methods on any HTTP shard; the rest on the main
// thread. Everything borrowed must outlive the object, which must outlive
// the HTTP service (its routes are borrowed there).
#ifndef RACKBOOT_ENGINE_API_DAEMON_API_H_
#define RACKBOOT_ENGINE_API_DAEMON_API_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/api/api_model.h"
#include "engine/api/api_routes.h"
#include "engine/api/event_hub.h"
#include "engine/api/install_routes.h"
#include "engine/daemon/transfer_table.h"
#include "engine/site/fleet_status.h"
#include "engine/site/site_config.h"
#include "engine/site/site_runtime.h"

namespace rackboot::api {

class DaemonApi : public ApiModel {
 public:
  // Any of them may be null: without a site there are no hosts or leases,
  // without a hub no events (503).
  DaemonApi(site::SiteRuntime* runtime, site::FleetStatus* fleet,
            daemon::TransferTable* transfers, EventHub* hub)
      : runtime_(runtime), fleet_(fleet), transfers_(transfers), hub_(hub) {}

  std::vector<ApiHost> Hosts() override;
  std::string Degraded() override;
  absl::optional<ApiHost> Host(absl::string_view name) override;
  std::vector<ApiLease> Leases(size_t max, bool* truncated) override;
  std::vector<ApiTransfer> Transfers() override;
  absl::StatusOr<ApiHost> SetState(absl::string_view name, bool arm,
                                   absl::string_view source) override;
  absl::StatusOr<std::shared_ptr<http::HttpStream>> Subscribe(
      absl::string_view last_event_id) override;
  // SiteRuntime::ReportInstall, StoreInstallLog, InstallLog; the token check
  // before a large log is SiteRuntime::ResolveInstallToken (the host owning
  // the token must be `name`).
  absl::StatusOr<ApiHost> InstallerReport(
      const ApiInstallerReport& report) override;
  absl::Status CheckInstallerToken(absl::string_view name,
                                   absl::string_view token,
                                   const io::SocketAddress& client) override;
  absl::Status StoreInstallLog(absl::string_view name, absl::string_view token,
                               const io::SocketAddress& client,
                               absl::string_view text) override;
  absl::StatusOr<std::string> InstallLog(absl::string_view name) override;

 private:
  // The transfers with their hosts (client address -> inventory host).
  std::vector<ApiTransfer> TransfersWithHosts();

  site::SiteRuntime* const runtime_;
  site::FleetStatus* const fleet_;
  daemon::TransferTable* const transfers_;
  EventHub* const hub_;
};

// rackbootd's InstallModel: SiteRuntime::ResolveInstallToken (the armed
// host owning the token, valid now, asked from its own address), then that
// generation's InstallTemplates::InstallFile. Any thread.
class DaemonInstallModel : public InstallModel {
 public:
  explicit DaemonInstallModel(site::SiteRuntime* runtime) : runtime_(runtime) {}
  absl::StatusOr<std::string> InstallFile(
      absl::string_view token, absl::string_view file,
      const io::SocketAddress& client) override;

 private:
  site::SiteRuntime* const runtime_;
};

class DaemonApiServer {
 public:
  DaemonApiServer(site::SiteRuntime* runtime, site::FleetStatus* fleet,
                  daemon::TransferTable* transfers);
  ~DaemonApiServer();  // disconnects the fleet's publisher first

  // At start (before root is dropped): reads [api] token_file if set.
  // Errors name site.toml:line or --api_token_file (exit 78).
  absl::Status LoadToken(const site::SiteConfig& site);
  // On SIGHUP: reads it again; on failure keeps the token in use (logged).
  void ReloadToken(const site::SiteConfig& site);
  // Once a second: the hub's keepalives.
  void Tick(absl::Time now) { hub_.Tick(now); }

  http::HttpRoutes* routes() { return &routes_; }
  // GET /install/<token>/<file> (install_routes.h).
  http::HttpRoutes* install_routes() { return &install_routes_; }
  EventHub& hub() { return hub_; }

 private:
  site::FleetStatus* const fleet_;
  EventHub hub_;
  DaemonApi model_;
  ApiRoutes routes_;
  DaemonInstallModel install_model_;
  InstallRoutes install_routes_;
};

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_DAEMON_API_H_
