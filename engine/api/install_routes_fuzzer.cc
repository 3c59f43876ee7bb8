// InstallRoutes fed fuzzed requests. The input: byte 0 the method (GET, HEAD,
// POST by value % 3), byte 1 bit 0 whether the client is the host's address;
// then lines: path, query.
// Checks: 200 only for GET or HEAD of /install/<the token>/<a known file>
// without a query, from the host's address; every other answer is the one
// 404 (same body, type, fields); the model is asked only for a path of the
// right shape; no answer's log reason carries a run of 32 hex digits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "engine/api/install_routes.h"

namespace {

constexpr absl::string_view kToken = "0123456789abcdef0123456789abcdef";

class Model : public rackboot::api::InstallModel {
 public:
  absl::StatusOr<std::string> InstallFile(
      absl::string_view token, absl::string_view file,
      const rackboot::io::SocketAddress& client) override {
    ++calls;
    if (!rackboot::api::IsInstallTokenShape(token)) std::abort();
    if (!rackboot::api::IsInstallFileName(file)) std::abort();
    if (token != kToken) {
      return absl::PermissionDeniedError(absl::StrCat("token ", token));
    }
    if (client.ToString() != "198.18.0.21:4000") {
      return absl::PermissionDeniedError("address");
    }
    return std::string("bytes");
  }
  int calls = 0;
};

bool HasLongHexRun(absl::string_view s) {
  size_t run = 0;
  for (char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F');
    run = hex ? run + 1 : 0;
    if (run >= 32) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const char* kMethods[] = {"GET", "HEAD", "POST"};
  const absl::string_view method = kMethods[data[0] % 3];
  const bool own_address = data[1] & 1;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 2,
                               size - 2);
  std::vector<absl::string_view> f =
      absl::StrSplit(text, absl::MaxSplits('\n', 1));
  f.resize(2);
  Model model;
  rackboot::api::InstallRoutes routes(&model);
  rackboot::http::HttpRequest request;
  request.method = method;
  request.path = f[0];
  request.query = f[1];
  request.client = rackboot::io::SocketAddress::Ipv4(
      {198, 18, 0, static_cast<uint8_t>(own_address ? 21 : 22)}, 4000);
  request.now = absl::Now();
  const rackboot::http::HttpRouteResult r = routes.Route(request);
  absl::string_view rest = f[0];
  const bool shaped = absl::ConsumePrefix(&rest, "/install/") &&
                      rest.size() > 33 && rest[32] == '/' &&
                      rackboot::api::IsInstallTokenShape(rest.substr(0, 32)) &&
                      rackboot::api::IsInstallFileName(rest.substr(33)) &&
                      f[1].empty() && method != "POST";
  if (!shaped && model.calls != 0) std::abort();
  const bool serve = shaped && rest.substr(0, 32) == kToken && own_address;
  if (serve) {
    if (r.status != 200 || r.body != "bytes") std::abort();
  } else {
    if (r.status != 404 || r.body != "not found\n" ||
        r.content_type != "text/plain" || r.headers.size() != 1 ||
        r.headers[0].first != "Cache-Control" ||
        r.headers[0].second != "no-store") {
      std::abort();
    }
  }
  if (HasLongHexRun(r.error)) std::abort();
  return 0;
}
