// InstallRoutes over a fake model: the one answer that serves, and the one
// 404 every refusal gets, whatever the reason.
#include "engine/api/install_routes.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/http/log_redact.h"
#include "gtest/gtest.h"

// Cases below name only the fields they set.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace rackboot::api {
namespace {

constexpr absl::string_view kToken = "0123456789abcdef0123456789abcdef";

class FakeInstallModel : public InstallModel {
 public:
  absl::StatusOr<std::string> InstallFile(
      absl::string_view token, absl::string_view file,
      const io::SocketAddress& client) override {
    ++calls;
    last_file = std::string(file);
    if (token != kToken) {
      // A model may name the token it refuses: the route cuts it.
      return absl::PermissionDeniedError(
          absl::StrCat("token ", token, " has no armed host"));
    }
    if (client.ToString() != "198.18.0.21:4000") {
      return absl::PermissionDeniedError("not the host's address");
    }
    if (file == "ks.cfg") return absl::NotFoundError("no such file");
    return absl::StrCat("# ", file, "\n");
  }
  int calls = 0;
  std::string last_file;
};

http::HttpRequest Get(absl::string_view path, absl::string_view query = "",
                      absl::string_view method = "GET") {
  http::HttpRequest r;
  r.method = method;
  r.path = path;
  r.query = query;
  r.client = io::SocketAddress::Ipv4({198, 18, 0, 21}, 4000);
  r.now = absl::Now();
  return r;
}

TEST(InstallRoutesTest, ServesTheFileToItsHost) {
  FakeInstallModel model;
  InstallRoutes routes(&model);
  const std::string path = absl::StrCat("/install/", kToken, "/preseed.cfg");
  http::HttpRouteResult r = routes.Route(Get(path));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.has_body);
  EXPECT_EQ(r.body, "# preseed.cfg\n");
  EXPECT_EQ(r.kind, http::HttpRouteKind::kInstall);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  bool no_store = false;
  for (const auto& [name, value] : r.headers) {
    no_store |= name == "Cache-Control" && value == "no-store";
  }
  EXPECT_TRUE(no_store);
  EXPECT_EQ(model.last_file, "preseed.cfg");
  // HEAD: the same answer (the connection sends its head only).
  r = routes.Route(Get(path, "", "HEAD"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "# preseed.cfg\n");
  for (const char* file : {"user-data", "meta-data"}) {
    EXPECT_EQ(
        routes.Route(Get(absl::StrCat("/install/", kToken, "/", file))).status,
        200)
        << file;
  }
}

// Every refusal: the same status, body, type and fields; the reason only in
// `error` (the log line), and never the whole token there.
TEST(InstallRoutesTest, EveryRefusalIsTheSame404) {
  FakeInstallModel model;
  InstallRoutes routes(&model);
  const std::string upper = absl::AsciiStrToUpper(kToken);
  struct Case {
    std::string path, query;
    io::SocketAddress client = io::SocketAddress::Ipv4({198, 18, 0, 21}, 4000);
    bool reaches_model = false;
  };
  const io::SocketAddress other =
      io::SocketAddress::Ipv4({198, 18, 0, 22}, 4000);
  std::vector<Case> cases = {
      {"/install/", ""},
      {absl::StrCat("/install/", kToken), ""},
      {absl::StrCat("/install/", kToken, "/"), ""},
      {absl::StrCat("/install/", upper, "/preseed.cfg"), ""},
      {absl::StrCat("/install/", kToken.substr(1), "/preseed.cfg"), ""},
      {absl::StrCat("/install/", kToken, "0/preseed.cfg"), ""},
      {"/install/0123456789abcdef0123456789abcdeg/preseed.cfg", ""},
      {absl::StrCat("/install/", kToken, "/other.cfg"), ""},
      {absl::StrCat("/install/", kToken, "/preseed.cfg/x"), ""},
      {absl::StrCat("/install/", kToken, "//preseed.cfg"), ""},
      {absl::StrCat("/install/", kToken, "/preseed.cfg"), "a=1"},
      {"/install/ffffffffffffffffffffffffffffffff/preseed.cfg", "", {}, true},
      {absl::StrCat("/install/", kToken, "/preseed.cfg"), "", other, true},
      {absl::StrCat("/install/", kToken, "/ks.cfg"), "", {}, true},
  };
  cases[11].client = io::SocketAddress::Ipv4({198, 18, 0, 21}, 4000);
  cases[13].client = io::SocketAddress::Ipv4({198, 18, 0, 21}, 4000);
  std::string body;
  for (const Case& c : cases) {
    const int before = model.calls;
    http::HttpRequest request = Get(c.path, c.query);
    request.client = c.client;
    http::HttpRouteResult r = routes.Route(request);
    EXPECT_EQ(r.status, 404) << c.path;
    EXPECT_TRUE(r.has_body) << c.path;
    EXPECT_EQ(r.body, "not found\n") << c.path;
    EXPECT_EQ(r.content_type, "text/plain") << c.path;
    ASSERT_EQ(r.headers.size(), 1u) << c.path;
    EXPECT_EQ(r.headers[0].first, "Cache-Control");
    EXPECT_EQ(r.headers[0].second, "no-store");
    EXPECT_TRUE(r.file == nullptr && r.stream == nullptr);
    EXPECT_EQ(model.calls > before, c.reaches_model) << c.path;
    EXPECT_TRUE(absl::StartsWith(r.error, "install: ")) << r.error;
    EXPECT_FALSE(absl::StrContains(r.error, kToken)) << r.error;
    EXPECT_FALSE(absl::StrContains(r.error, "ffffffffffffffffffffffffffffffff"))
        << r.error;
  }
  // The model's reason reaches the log line, its token cut.
  http::HttpRouteResult r = routes.Route(
      Get("/install/ffffffffffffffffffffffffffffffff/preseed.cfg"));
  EXPECT_TRUE(absl::StrContains(
      r.error,
      absl::StrCat("token ffffff", http::kRedactedMark, " has no armed host")))
      << r.error;
}

TEST(InstallRoutesTest, ShapeChecks) {
  EXPECT_TRUE(IsInstallTokenShape(kToken));
  EXPECT_FALSE(IsInstallTokenShape(""));
  EXPECT_FALSE(IsInstallTokenShape(absl::AsciiStrToUpper(kToken)));
  EXPECT_FALSE(IsInstallTokenShape(absl::StrCat(kToken, "0")));
  for (const char* f : {"preseed.cfg", "ks.cfg", "user-data", "meta-data"}) {
    EXPECT_TRUE(IsInstallFileName(f)) << f;
  }
  for (const char* f : {"", "vendor-data", "../ks.cfg", "ks.cfg/", "KS.CFG"}) {
    EXPECT_FALSE(IsInstallFileName(f)) << f;
  }
}

}  // namespace
}  // namespace rackboot::api
