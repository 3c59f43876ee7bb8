// InstallRoutes: GET/HEAD /install/<token>/<file>, an armed host's install
// files (preseed.cfg, ks.cfg, user-data, meta-data) for its installer, as an
// http::HttpRoutes the daemon puts under the "/install/" prefix. What to
// serve comes from an InstallModel: the daemon's resolves the token to its
// armed host (valid now, asked from that host's own address) and renders the
// file (engine/install); tests use a fake.
//
// The URL is the secret (128 random bits in 32 lowercase hex digits), so the
// route says nothing a guesser could use: every refusal (a path of the wrong
// shape, an unknown file name, a token that is unknown, expired, revoked or
// asked from another address, a render error) is the same 404 "not found"
// with the same body, never a listing, and the reason goes to the daemon's
// log only (the HTTP report line: rate-limited, escaped, the token cut to
// its first 6 hex digits). Answers carry Cache-Control: no-store so no proxy
// keeps an install file.
//
//   InstallRoutes install(&model);          // model borrowed
//   options.routes.push_back({"/install/", &install});
//
// Threads: Route runs on every HTTP shard at once; the model is thread-safe;
// the routes hold no state.
#ifndef RACKBOOT_ENGINE_API_INSTALL_ROUTES_H_
#define RACKBOOT_ENGINE_API_INSTALL_ROUTES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/http/http_routes.h"
#include "engine/io/socket_address.h"

namespace rackboot::api {

// What /install/ serves. Any thread.
class InstallModel {
 public:
  virtual ~InstallModel() = default;
  // The bytes of `file` for the armed host owning `token` when `client` is
  // that host's address and the token is valid now. Any error is a refusal
  // (404 to the client); its message is logged (with long hex runs cut), so
  // it must say why without repeating the token.
  virtual absl::StatusOr<std::string> InstallFile(
      absl::string_view token, absl::string_view file,
      const io::SocketAddress& client) = 0;
};

class InstallRoutes : public http::HttpRoutes {
 public:
  // `model` is borrowed and must outlive the routes.
  explicit InstallRoutes(InstallModel* model) : model_(model) {}

  // GET and HEAD only (the default AcceptsMethod: others are 405 before
  // Route), no body.
  http::HttpRouteResult Route(const http::HttpRequest& request) override;

 private:
  InstallModel* const model_;
};

// The install file names any family serves: preseed.cfg (debian-preseed),
// ks.cfg (rhel-kickstart), user-data and meta-data (ubuntu-autoinstall).
bool IsInstallFileName(absl::string_view file);

// 32 lowercase hex digits: the only shape a token has.
bool IsInstallTokenShape(absl::string_view token);

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_INSTALL_ROUTES_H_
