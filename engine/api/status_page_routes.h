// StatusPageRoutes: the operator's status page at "/" (and "/index.html"):
// one self-contained HTML page (engine/api/status_page.html, embedded at build
// time) that draws the fleet from the API under /api/v1/ and /metrics.
//
// The answer carries a Content-Security-Policy that allows only the page's own
// inline script and style (by hash), connections to the daemon itself and
// data: images, so that server text the page shows can never run as code even
// if the page had a bug, and the page cannot reach anything outside the daemon.
//
//   api::StatusPageRoutes page;  // rackbootd.cc, beside the API's routes
//   options.routes.push_back({"/", &page});
//   options.routes.push_back({"/index.html", &page});
//
// Immutable after construction: any shard thread may call Route.
#ifndef RACKBOOT_ENGINE_API_STATUS_PAGE_ROUTES_H_
#define RACKBOOT_ENGINE_API_STATUS_PAGE_ROUTES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "engine/http/http_routes.h"

namespace rackboot::api {

class StatusPageRoutes : public http::HttpRoutes {
 public:
  StatusPageRoutes();

  // GET or HEAD of "/" or "/index.html": 200 text/html with the page. Any
  // other path: 404 (only reached when registered under a wider prefix).
  http::HttpRouteResult Route(const http::HttpRequest& request) override;

  // The Content-Security-Policy value sent with the page.
  const std::string& content_security_policy() const { return csp_; }
  // The page itself.
  static absl::string_view Html();

 private:
  const std::string csp_;
};

}  // namespace rackboot::api

#endif  // RACKBOOT_ENGINE_API_STATUS_PAGE_ROUTES_H_
