#include "engine/api/metrics_routes.h"

#include "engine/metrics/metrics_registry.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace rackboot::api {
namespace {

TEST(MetricsRoutesTest, TextByDefaultJsonOnAsk) {
  metrics::MetricsRegistry registry(2);
  registry.Counter("rackboot_tftp_retransmits_total", "Retransmitted.")
      ->Cell({}, 1)
      .Add(4);
  MetricsRoutes routes(&registry);
  http::HttpRequest request;
  request.method = "GET";
  request.path = "/metrics";
  http::HttpRouteResult text = routes.Route(request);
  EXPECT_EQ(text.status, 200);
  EXPECT_TRUE(text.has_body);
  EXPECT_EQ(text.kind, http::HttpRouteKind::kMetrics);
  EXPECT_EQ(text.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(text.body.find("rackboot_tftp_retransmits_total 4\n"),
            std::string::npos)
      << text.body;

  request.query = "x=1&format=json";
  http::HttpRouteResult json = routes.Route(request);
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  nlohmann::json parsed = nlohmann::json::parse(json.body);
  EXPECT_EQ(parsed["metrics"]["rackboot_tftp_retransmits_total"]["samples"][0]
                  ["value"],
            4);

  request.query = "format=jsonx";
  EXPECT_EQ(routes.Route(request).content_type,
            "text/plain; version=0.0.4; charset=utf-8");
  request.path = "/metrics/x";
  EXPECT_EQ(routes.Route(request).status, 404);
}

}  // namespace
}  // namespace rackboot::api
