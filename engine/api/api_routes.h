// ApiRoutes: the daemon's JSON API under /api/v1/ (docs/api.md), an
// http::HttpRoutes that PrefixRoutes hands every request under that prefix:
//
//   GET  /api/v1/hosts[?phase=&group=&q=]   every inventory host, counts
//   GET  /api/v1/hosts/{name}               one host with its timeline
//   POST /api/v1/hosts/{name}/arm           state install, applied first
//   POST /api/v1/hosts/{name}/disarm        state localboot, applied first
//   GET  /api/v1/leases                     DHCP leases in use
//   GET  /api/v1/transfers                  TFTP and HTTP transfers running
//   GET  /api/v1/events[?after=N]           Server-Sent Events
//   POST /api/v1/hosts/{name}/phase         installer: installing, failed
//   POST /api/v1/hosts/{name}/done          installer: installed, token revoked
//   POST /api/v1/hosts/{name}/log?token=    installer: its log (<= 4 MiB)
//   GET  /api/v1/hosts/{name}/log           the log the installer posted
//                                           (operator credential, as writes)
//
// Reads are open (the same network already sees every DHCP packet). Writes
// need `Authorization: Bearer <token>` when a token is set ([api]
// token_file), compared in constant time; without a token they are taken
// from loopback clients only, and (so that a web page the operator visits
// cannot post to 127.0.0.1 with a plain form) only with
// `Content-Type: application/json`. Every write is logged with its source
// address and outcome; refusals are rate-limited. The installer's routes
// (phase, done, POST log) take neither: the host's install token (the JSON
// body's "token", ?token= for the log, or "Authorization: Bearer <token>")
// from the host's own address is their credential, checked by the model;
// a refusal says "install token refused" and nothing more. Errors are JSON
// {"error": code, "detail": sentence} with their status.
//
//   ApiRoutes api(&model);                  // model borrowed
//   api.SetToken(token);                    // at start and on SIGHUP
//   options.routes.push_back({"/api/v1/", &api});
//
// Threads: Route, MaxRequestBody and AcceptsMethod run on every HTTP shard
// at once; SetToken on any thread (the main thread's SIGHUP). The model is
// thread-safe; the token sits behind a mutex held for a copy.
#ifndef RACKBOOT_ENGINE_API_API_ROUTES_H_
#define RACKBOOT_ENGINE_API_API_ROUTES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "engine/api/api_model.h"
#include "engine/http/http_routes.h"
#include "engine/io/socket_address.h"
#include "engine/log/log_rate_limiter.h"

namespace rackboot::api {

// Request bodies beyond this are refused (413) before they are read.
inline constexpr uint64_t kMaxApiBody = 4096;
// GET leases lists at most this many ("truncated": true beyond).
inline constexpr size_t kMaxLeasesListed = 10000;

class ApiRoutes : public http::HttpRoutes {
 public:
  // `model` is borrowed and must outlive the routes.
  explicit ApiRoutes(ApiModel* model) : model_(model) {}

  // The bearer token writes need; nullopt: none (writes from loopback only).
  void SetToken(absl::optional<std::string> token);

  http::HttpRouteResult Route(const http::HttpRequest& request) override;
  uint64_t MaxRequestBody(absl::string_view method,
                          absl::string_view path) override;
  // POST .../log: kMaxInstallLog when the request carries a token the model
  // accepts for that host from that client (CheckInstallerToken), else
  // kMaxApiBody, so that nobody without a token makes a shard buffer 4 MiB.
  uint64_t MaxRequestBodyFor(const http::HttpRequest& head) override;
  // POST anywhere under the prefix reaches Route, which answers a route that
  // does not take it with a JSON 405 (and Allow).
  bool AcceptsMethod(absl::string_view method, absl::string_view path) override;

 private:
  static absl::optional<http::HttpRouteResult> OperatorDenied(
      const http::HttpRequest& request,
      const absl::optional<std::string>& token, bool write);
  http::HttpRouteResult Write(const http::HttpRequest& request,
                              absl::string_view name, bool arm);
  http::HttpRouteResult Events(const http::HttpRequest& request);
  // POST .../phase and .../done (`done` true).
  http::HttpRouteResult Installer(const http::HttpRequest& request,
                                  absl::string_view name, bool done);
  http::HttpRouteResult PostLog(const http::HttpRequest& request,
                                absl::string_view name);
  // A refusal's WARNING line (rate-limited), then `r`.
  http::HttpRouteResult Refuse(const http::HttpRequest& request,
                               absl::string_view line, http::HttpRouteResult r,
                               absl::string_view why = "");

  ApiModel* const model_;
  absl::Mutex mu_;
  absl::optional<std::string> token_ ABSL_GUARDED_BY(mu_);
  log::LogRateLimiter refused_log_ ABSL_GUARDED_BY(mu_);
};

// ---- The pieces, exposed for tests, the fuzzer and the daemon. ----

// Equal lengths and bytes, in time that depends on the lengths only.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool IsLoopback(const io::SocketAddress& address);

// The token in `path` ([api] token_file): the first line, surrounding
// whitespace removed; 1..1024 printable ASCII characters without spaces.
// Refuses a file that is not regular, or that its group or others may read
// or write (mode & 077), naming the path and what to run.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// RFC 3339 UTC with milliseconds ("2026-11-30T13:05:00.123Z"): events of
// the same second keep their order and spacing on the page and in clients.
std::string FormatApiTime(absl::Time t);

// Appends `s` as a JSON string (RFC 8259): quotes, backslashes and control
// characters escaped; bytes that are not well-formed UTF-8 become U+FFFD.
void AppendJsonString(std::string* out, absl::string_view s);

// "a=1&b=x%20y" -> pairs, percent- and '+'-decoded. InvalidArgument for a
// malformed escape, a control character, or more than 16 parameters.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query);

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_API_ROUTES_H_
