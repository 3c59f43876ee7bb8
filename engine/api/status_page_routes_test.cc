#include "engine/api/status_page_routes.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "engine/http/http_routes.h"
#include "gtest/gtest.h"

namespace rackboot::api {
namespace {

http::HttpRequest Get(absl::string_view path) {
  http::HttpRequest request;
  request.method = "GET";
  request.path = path;
  return request;
}

std::string Header(const http::HttpRouteResult& result,
                   absl::string_view name) {
  for (const auto& [n, v] : result.headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

TEST(StatusPageRoutes, ServesThePageWithItsPolicy) {
  StatusPageRoutes page;
  for (absl::string_view path : {"/", "/index.html"}) {
    http::HttpRouteResult result = page.Route(Get(path));
    EXPECT_EQ(result.status, 200) << path;
    EXPECT_EQ(result.kind, http::HttpRouteKind::kStatusPage);
    ASSERT_TRUE(result.has_body);
    EXPECT_EQ(result.body, StatusPageRoutes::Html());
    EXPECT_EQ(result.content_type, "text/html; charset=utf-8");
    EXPECT_TRUE(absl::StartsWith(result.body, "<!DOCTYPE html>"));
    EXPECT_EQ(Header(result, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(result, "Content-Security-Policy"),
              page.content_security_policy());
  }
}

TEST(StatusPageRoutes, PolicyAllowsOnlyThePagesOwnCodeAndTheDaemon) {
  StatusPageRoutes page;
  const std::string& csp = page.content_security_policy();
  EXPECT_TRUE(absl::StartsWith(csp, "default-src 'none'; "));
  EXPECT_TRUE(absl::StrContains(csp, "script-src 'sha256-")) << csp;
  EXPECT_TRUE(absl::StrContains(csp, "style-src 'sha256-")) << csp;
  EXPECT_TRUE(absl::StrContains(csp, "connect-src 'self';")) << csp;
  EXPECT_FALSE(absl::StrContains(csp, "unsafe")) << csp;
  EXPECT_FALSE(absl::StrContains(csp, "*")) << csp;
}

TEST(StatusPageRoutes, PageIsSelfContained) {
  absl::string_view html = StatusPageRoutes::Html();
  EXPECT_FALSE(absl::StrContains(html, "http://"));
  EXPECT_FALSE(absl::StrContains(html, "https://"));
  EXPECT_FALSE(absl::StrContains(html, "innerHTML"));
  EXPECT_FALSE(absl::StrContains(html, "<script src"));
  // What the API contract and the browser test rely on.
  EXPECT_TRUE(absl::StrContains(html, "/api/v1/events"));
  EXPECT_TRUE(absl::StrContains(html, "/api/v1/hosts"));
  EXPECT_TRUE(absl::StrContains(html, "/metrics?format=json"));
  EXPECT_TRUE(absl::StrContains(html, "dataset.host"));
  EXPECT_TRUE(absl::StrContains(html, "dataset.phase"));
}

TEST(StatusPageRoutes, OtherPathsAreNotFound) {
  StatusPageRoutes page;
  for (absl::string_view path : {"/x", "/index.htm", "//", "/status"}) {
    http::HttpRouteResult result = page.Route(Get(path));
    EXPECT_EQ(result.status, 404) << path;
    EXPECT_FALSE(result.has_body);
  }
}

}  // namespace
}  // namespace rackboot::api
