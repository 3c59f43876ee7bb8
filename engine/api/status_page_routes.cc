#include "engine/api/status_page_routes.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "engine/api/status_page_data.h"

namespace rackboot::api {
namespace {

std::string MakePolicy() {
  // default-src 'none' shuts everything the page does not name; the page
  // needs its script and style (by hash), fetch and EventSource to the
  // daemon itself, and data: for its empty favicon. No framing, no <base>,
  // no form posts anywhere.
  return absl::StrCat("default-src 'none'; script-src '",
                      internal::kStatusPageScriptHash, "'; style-src '",
                      internal::kStatusPageStyleHash,
                      "'; connect-src 'self'; img-src data:; base-uri 'none'; "
                      "form-action 'none'; frame-ancestors 'none'");
}

}  // namespace

StatusPageRoutes::StatusPageRoutes() : csp_(MakePolicy()) {}

absl::string_view StatusPageRoutes::Html() { return internal::kStatusPageHtml; }

http::HttpRouteResult StatusPageRoutes::Route(
    const http::HttpRequest& request) {
  http::HttpRouteResult result;
  result.kind = http::HttpRouteKind::kStatusPage;
  if (request.path != "/" && request.path != "/index.html") {
    result.status = 404;
    result.error = "no such page";
    return result;
  }
  // PrefixRoutes and the connection only pass GET and HEAD here
  // (AcceptsMethod's default); HEAD sends the same head without the body.
  result.status = 200;
  result.has_body = true;
  result.body = std::string(internal::kStatusPageHtml);
  result.content_type = "text/html; charset=utf-8";
  result.headers = {
      {"Content-Security-Policy", csp_},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      // The page is small and changes with the binary: always the current one.
      {"Cache-Control", "no-store"},
  };
  return result;
}

}  // namespace rackboot::api
