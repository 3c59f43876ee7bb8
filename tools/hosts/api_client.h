// ApiClient: the few HTTP requests rackboot-hosts makes to a running
// rackbootd's JSON API (docs/api.md), over libcurl, with bounded time and
// size. It only moves bytes: interpreting statuses and JSON is the caller's.
//
// One request at a time, on the calling thread (a blocking easy handle). Made
// and used by the tool's main thread only; curl_global_init must have run
// (main does it) before the first request.
#ifndef RACKBOOT_TOOLS_HOSTS_API_CLIENT_H_
#define RACKBOOT_TOOLS_HOSTS_API_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rackboot::hosts {

struct ApiAnswer {
  enum class Outcome {
    // An HTTP response arrived (any status): `status`, `body`, `content_type`.
    kAnswered,
    // Nothing accepted the connection (refused, unreachable, or no answer
    // to the connect within the connect timeout): no daemon runs there, so
    // the caller may fall back to the state files.
    kNoDaemon,
    // Connected, then failed: no complete response within the total timeout,
    // a reset, a body over the size cap. A daemon may be there but broken or
    // busy; falling back would hide that.
    kFailed,
  };
  Outcome outcome = Outcome::kFailed;
  long status = 0;
  std::string body;
  std::string content_type;  // "" if none
  std::string error;         // for kNoDaemon and kFailed: curl's reason
};

struct ApiOptions {
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration total_timeout = absl::Seconds(10);
  // A host list for 1,000 hosts is about 400 KiB; anything near this cap is
  // not our API.
  uint64_t max_body = 64 << 20;
};

// `base` is "http://127.0.0.1:8080" (no trailing slash), `path` begins with
// "/api/v1/". `method` is "GET" or "POST" (a POST sends the body "{}" as
// application/json). `token` non-empty adds "Authorization: Bearer <token>".
// Proxies from the environment are ignored (the API is on the site's own
// network; a proxy would see the token) and redirects are not followed.
ApiAnswer ApiRequest(absl::string_view base, absl::string_view method,
                     absl::string_view path, absl::string_view token,
                     const ApiOptions& options = {});

// The base URL of the API for [http] listen "addr:port": a wildcard address
// (0.0.0.0) is reached on 127.0.0.1. "" for an empty `listen`.
std::string ApiBaseForListen(absl::string_view listen);

// Checks and normalises a --api / RACKBOOT_API value: http:// or https://,
// a host, no query or fragment; a trailing '/' is dropped.
absl::StatusOr<std::string> NormaliseApiBase(absl::string_view url);

// Reads a bearer token file: its first line, without surrounding blanks. An
// empty token, a file over 4 KiB, or an unreadable file is an error naming the
// path.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace rackboot::hosts

#endif  // RACKBOOT_TOOLS_HOSTS_API_CLIENT_H_
