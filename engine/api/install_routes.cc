#include "engine/api/install_routes.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/http/log_redact.h"
#include "engine/log/log_text.h"

namespace rackboot::api {
namespace {

constexpr absl::string_view kPrefix = "/install/";

// One answer for every refusal: nothing in it, its length or its fields
// differs by reason. `why` is for the log line only (the shard redacts and
// rate-limits it).
http::HttpRouteResult NotFound(std::string why) {
  http::HttpRouteResult r;
  r.status = 404;
  r.kind = http::HttpRouteKind::kInstall;
  r.has_body = true;
  r.body = "not found\n";
  r.content_type = "text/plain";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.error = absl::StrCat("install: ", std::move(why));
  return r;
}

}  // namespace

bool IsInstallFileName(absl::string_view file) {
  return file == "preseed.cfg" || file == "ks.cfg" || file == "user-data" ||
         file == "meta-data";
}

bool IsInstallTokenShape(absl::string_view token) {
  if (token.size() != 32) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

http::HttpRouteResult InstallRoutes::Route(const http::HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    // AcceptsMethod keeps POST away; this is the same answer if it did not.
    return NotFound("method");
  }
  absl::string_view rest = request.path;
  if (!absl::ConsumePrefix(&rest, kPrefix)) return NotFound("not /install/");
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return NotFound("no file in the path (never listed)");
  }
  const absl::string_view token = rest.substr(0, slash);
  const absl::string_view file = rest.substr(slash + 1);
  if (!IsInstallTokenShape(token)) {
    return NotFound("not a token (32 lowercase hex digits)");
  }
  if (file.empty()) return NotFound("no file in the path (never listed)");
  if (!IsInstallFileName(file)) {
    // The name is the client's: a token pasted into it is cut like any.
    return NotFound(absl::StrCat("no install file ",
                                 http::RedactHexRuns(log::Quoted(file, 64))));
  }
  if (!request.query.empty()) return NotFound("a query string");
  absl::StatusOr<std::string> bytes =
      model_->InstallFile(token, file, request.client);
  if (!bytes.ok()) {
    return NotFound(
        http::RedactHexRuns(log::Escaped(bytes.status().ToString())));
  }
  http::HttpRouteResult r;
  r.status = 200;
  r.kind = http::HttpRouteKind::kInstall;
  r.has_body = true;
  r.body = *std::move(bytes);
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace rackboot::api
