// ApiModel: what the /api/v1/ routes read and change, as plain values shaped
// like the JSON they become (docs/api.md). ApiRoutes (api_routes.h) turns
// requests into calls of this interface and its answers into JSON; the daemon's
// implementation (DaemonApi, daemon_api.h) reads the fleet model, the transfer
// table, the DHCP lease table and the host-state store; tests use a fake.
//
// Keeping the routes on this seam lets every route and every error be tested
// without a daemon, and keeps the JSON in one place whatever the engine's own
// types look like.
//
// Threads: every method may be called from any HTTP shard thread at once;
// implementations are thread-safe. SetState blocks for the host-state store's
// fsync (an operator's write, not a packet path).
#ifndef RACKBOOT_ENGINE_API_API_MODEL_H_
#define RACKBOOT_ENGINE_API_API_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/io/socket_address.h"

namespace rackboot::http {
class HttpStream;
}

namespace rackboot::api {

// The nine phases, in the order the page and `counts` list them.
inline constexpr const char* kPhases[] = {"unknown", "armed",      "dhcp",
                                          "booting", "installing", "done",
                                          "failed",  "installed",  "stalled"};

// One transfer in progress (GET transfers; a host's "transfer").
struct ApiTransfer {
  std::string transport;  // "tftp" or "http"
  std::string client;     // "198.18.0.21:2070"
  std::string file;
  uint64_t bytes = 0;
  uint64_t size = 0;  // 0 when unknown
  absl::Time started = absl::InfinitePast();
  std::string host;  // inventory name, "" for none (JSON null)
};

// One bring-up event (a timeline entry, an SSE event).
struct ApiEvent {
  uint64_t id = 0;
  absl::Time time = absl::InfinitePast();
  std::string host;
  std::string kind;
  std::string phase;
  std::string detail;
  std::string address;
};

// One inventory host.
struct ApiHost {
  std::string name, mac, address, profile, state, group, phase, reason;
  absl::Time phase_since = absl::InfinitePast();  // JSON null when unknown
  absl::Time last_seen = absl::InfinitePast();
  absl::optional<ApiTransfer> transfer;
  std::vector<ApiEvent> timeline;  // only in the single-host view
};

// One lease (GET leases).
struct ApiLease {
  std::string mac, address, state;  // state "bound", "offered", ...
  absl::Time expires = absl::InfinitePast();
  std::string host;    // inventory name, "" for none (JSON null)
  std::string subnet;  // "198.18.0.0/24", "" if in no subnet
};

// An installer report's detail is cut to this many bytes.
inline constexpr size_t kMaxInstallerDetail = 200;
// An installer log (POST .../log) may be this large.
inline constexpr uint64_t kMaxInstallLog = uint64_t{4} << 20;

// One installer report (POST .../phase, .../done), authenticated by the
// host's install token, not by the API's bearer token.
struct ApiInstallerReport {
  std::string hostname;
  std::string token;
  std::string phase;   // "installing", "failed" or "done"
  std::string detail;  // at most kMaxInstallerDetail bytes (client text)
  io::SocketAddress client;
};

class ApiModel {
 public:
  virtual ~ApiModel() = default;

  // Every inventory host, sorted by name, without timelines.
  virtual std::vector<ApiHost> Hosts() = 0;
  // Why the daemon applies no host state ("" when it does): host-states.tsv
  // could not be read at the last poll, so every host boots from its local
  // disk until it can (fail closed). GET hosts carries it as "degraded".
  virtual std::string Degraded() { return ""; }
  // One host with its timeline; nullopt when the inventory has no such name.
  virtual absl::optional<ApiHost> Host(absl::string_view name) = 0;
  // Leases that are not free, at most `max` (*truncated set when more).
  virtual std::vector<ApiLease> Leases(size_t max, bool* truncated) = 0;
  virtual std::vector<ApiTransfer> Transfers() = 0;
  // Arms (install) or disarms (localboot) `name` and applies it before
  // returning (the state file written and fsynced, the per-host boot files
  // rendered from the new state). `source` says who, for the host's
  // timeline ("api 127.0.0.1:5555"). Errors: NotFound (no such host),
  // FailedPrecondition (the site cannot install it: the message says why,
  // as `rackboot arm`), anything else (the state file could not be written;
  // the previous state stays).
  virtual absl::StatusOr<ApiHost> SetState(absl::string_view name, bool arm,
                                           absl::string_view source) = 0;
  // A live stream of events as Server-Sent Events, resuming after
  // `last_event_id` (the request's Last-Event-ID or ?after=; "" for live
  // events only): the events the model still holds after it first, or an
  // `event: reset` when some were lost. ResourceExhausted past the
  // subscriber cap (503).
  virtual absl::StatusOr<std::shared_ptr<http::HttpStream>> Subscribe(
      absl::string_view last_event_id) = 0;

  // An installer's report, checked and applied (SiteRuntime::ReportInstall:
  // "done" sets the host installed and revokes its token before returning);
  // the host after it. Errors: NotFound (no such host), PermissionDenied
  // (the token is not the host's current one, has expired, or `client` is
  // not the host's address), InvalidArgument (a bad phase), anything else
  // (the state file could not be written). Messages never repeat the token.
  virtual absl::StatusOr<ApiHost> InstallerReport(
      const ApiInstallerReport& report) = 0;
  // Before a large installer log is read: whether `token` is `name`'s
  // current token, valid now, asked from its address (the errors of
  // InstallerReport), without changing anything.
  virtual absl::Status CheckInstallerToken(absl::string_view name,
                                           absl::string_view token,
                                           const io::SocketAddress& client) = 0;
  // Keeps `text` as `name`'s installer log (replacing the previous one), with
  // InstallerReport's checks. InvalidArgument past 4 MiB.
  virtual absl::Status StoreInstallLog(absl::string_view name,
                                       absl::string_view token,
                                       const io::SocketAddress& client,
                                       absl::string_view text) = 0;
  // The log StoreInstallLog kept for `name`; NotFound when there is none (or
  // no such host).
  virtual absl::StatusOr<std::string> InstallLog(absl::string_view name) = 0;
};

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_API_MODEL_H_
