// ApiRoutes fed fuzzed requests. The input is lines (split on '\n', the
// last field takes the rest):
//   flags  byte 0: bit 0 a token is set ("tok"), bit 1 the client is not
//          loopback; byte 1: the method (GET, HEAD, POST by value % 3)
//   path, query, authorization, content type, Last-Event-ID, body
// Checks: any input bytes written by AppendJsonString parse back as a JSON
// string; every answer is a status the API documents; a JSON answer parses
// and an error carries "error" and "detail"; the model's SetState runs only
// for a POST to .../arm or .../disarm that passed the auth rules (the right
// token, or no token and a loopback client), and only with a body that is
// empty or a JSON object of at most 4 KiB; installer reports and logs are
// taken only with node001's install token from its address, and only a log
// POST with it may send more than 4 KiB (MaxRequestBodyFor).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/api/api_routes.h"
#include "engine/api/install_routes.h"
#include "engine/http/http_stream.h"
#include "nlohmann/json.hpp"

namespace {

constexpr absl::string_view kInstallToken = "0123456789abcdef0123456789abcdef";

using rackboot::api::ApiEvent;
using rackboot::api::ApiHost;
using rackboot::api::ApiLease;
using rackboot::api::ApiTransfer;

class Stream : public rackboot::http::HttpStream {
 public:
  void Start(std::function<void()>) override {}
  bool Read(std::string*, size_t) override { return false; }
  void Stop() override {}
};

class Model : public rackboot::api::ApiModel {
 public:
  std::vector<ApiHost> Hosts() override {
    ApiHost h;
    h.name = "node001";
    h.phase = "dhcp";
    return {h};
  }
  absl::optional<ApiHost> Host(absl::string_view name) override {
    if (name != "node001") return absl::nullopt;
    ApiHost h;
    h.name = "node001";
    h.timeline.push_back(ApiEvent{1, absl::Now(), "node001", "lease", "dhcp",
                                  std::string(name), ""});
    return h;
  }
  std::vector<ApiLease> Leases(size_t, bool* truncated) override {
    *truncated = false;
    return {};
  }
  std::vector<ApiTransfer> Transfers() override { return {}; }
  absl::StatusOr<ApiHost> SetState(absl::string_view name, bool,
                                   absl::string_view) override {
    ++set_calls;
    if (name != "node001") return absl::NotFoundError("no");
    return *Host(name);
  }
  absl::StatusOr<std::shared_ptr<rackboot::http::HttpStream>> Subscribe(
      absl::string_view) override {
    return std::make_shared<Stream>();
  }
  // node001's install token is kInstallToken, from 198.18.0.5 only.
  absl::Status Check(absl::string_view name, absl::string_view token,
                     const rackboot::io::SocketAddress& client) {
    if (!rackboot::api::IsInstallTokenShape(token)) std::abort();
    if (name != "node001") return absl::NotFoundError("no");
    if (token != kInstallToken) return absl::PermissionDeniedError("token");
    if (client.ToString() != "198.18.0.5:4000") {
      return absl::PermissionDeniedError("address");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<ApiHost> InstallerReport(
      const rackboot::api::ApiInstallerReport& report) override {
    if (report.detail.size() > rackboot::api::kMaxInstallerDetail) {
      std::abort();
    }
    if (report.phase != "installing" && report.phase != "failed" &&
        report.phase != "done") {
      std::abort();
    }
    if (absl::Status s = Check(report.hostname, report.token, report.client);
        !s.ok()) {
      return s;
    }
    ++applied;
    return *Host(report.hostname);
  }
  absl::Status CheckInstallerToken(
      absl::string_view name, absl::string_view token,
      const rackboot::io::SocketAddress& client) override {
    return Check(name, token, client);
  }
  absl::Status StoreInstallLog(absl::string_view name, absl::string_view token,
                               const rackboot::io::SocketAddress& client,
                               absl::string_view) override {
    if (absl::Status s = Check(name, token, client); !s.ok()) return s;
    ++applied;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> InstallLog(absl::string_view name) override {
    if (name != "node001") return absl::NotFoundError("no");
    return std::string("log\n");
  }
  int set_calls = 0;
  int applied = 0;  // installer reports and logs the model took
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  static const char* kMethods[] = {"GET", "HEAD", "POST"};
  const absl::string_view method = kMethods[data[1] % 3];
  const absl::string_view text(reinterpret_cast<const char*>(data) + 2,
                               size - 2);
  std::vector<absl::string_view> f =
      absl::StrSplit(text, absl::MaxSplits('\n', 5));
  f.resize(6);
  // The connection decodes paths and caps bodies before a route sees them.
  // Any bytes written as a JSON string parse back as one string.
  {
    std::string quoted;
    rackboot::api::AppendJsonString(&quoted, text);
    const nlohmann::json j = nlohmann::json::parse(quoted, nullptr, false);
    if (!j.is_string()) std::abort();
  }
  if (!absl::StartsWith(f[0], "/api/v1/")) return 0;
  if (f[5].size() > rackboot::api::kMaxApiBody) return 0;

  Model model;
  rackboot::api::ApiRoutes routes(&model);
  const bool token = flags & 1;
  if (token) routes.SetToken("tok");
  rackboot::http::HttpRequest request;
  request.method = method;
  request.path = f[0];
  request.query = f[1];
  request.authorization = f[2];
  request.content_type = f[3];
  request.last_event_id = f[4];
  request.body = f[5];
  request.client =
      (flags & 2) ? rackboot::io::SocketAddress::Ipv4({198, 18, 0, 5}, 4000)
                  : rackboot::io::SocketAddress::Ipv4Loopback(4000);
  request.now = absl::Now();
  rackboot::http::HttpRouteResult r = routes.Route(request);

  switch (r.status) {
    case 200:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 409:
    case 415:
    case 500:
    case 503:
      break;
    default:
      std::abort();
  }
  const bool log_read =
      absl::EndsWith(f[0], "/log") && method != "POST" && r.status == 200;
  if (r.has_body && !r.body.empty() && !log_read) {
    if (r.content_type != "application/json") std::abort();
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) std::abort();
    if (r.status >= 400 && (!j.contains("error") || !j.contains("detail"))) {
      std::abort();
    }
  }
  if (r.status == 200 && r.stream == nullptr && !r.has_body) std::abort();
  // The installer's routes: applied only with node001's token from its
  // address (in the body, the query or a bearer field), whatever the API
  // token and the client's loopback-ness.
  if (model.applied > 0) {
    if (method != "POST" || r.status != 200) std::abort();
    if (!absl::EndsWith(f[0], "/phase") && !absl::EndsWith(f[0], "/done") &&
        !absl::EndsWith(f[0], "/log")) {
      std::abort();
    }
    if (!(flags & 2)) std::abort();  // loopback is not node001's address
    if (!absl::StrContains(text, kInstallToken)) std::abort();
  }
  // The body limit: 4 MiB only for a log POST the model accepts.
  {
    const uint64_t max = routes.MaxRequestBodyFor(request);
    if (max > rackboot::api::kMaxApiBody &&
        (max != rackboot::api::kMaxInstallLog || method != "POST" ||
         !absl::EndsWith(f[0], "/log") || !(flags & 2) ||
         !absl::StrContains(text, kInstallToken))) {
      std::abort();
    }
  }
  if (model.set_calls > 0) {
    if (method != "POST") std::abort();
    if (!absl::EndsWith(f[0], "/arm") && !absl::EndsWith(f[0], "/disarm")) {
      std::abort();
    }
    if (token && f[2] != "Bearer tok" &&
        !absl::StartsWithIgnoreCase(f[2], "bearer ")) {
      std::abort();
    }
    if (!token && (flags & 2)) std::abort();
    const nlohmann::json body = nlohmann::json::parse(f[5], nullptr, false);
    const bool blank =
        f[5].find_first_not_of(" \t\r\n") == absl::string_view::npos;
    if (!blank && (body.is_discarded() || !body.is_object())) std::abort();
  }
  return 0;
}
