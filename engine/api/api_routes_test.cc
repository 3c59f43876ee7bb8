// ApiRoutes over a fake model: every route, every error, the auth rules.
#include "engine/api/api_routes.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/http/http_stream.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

// Requests below name only the fields they set.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace rackboot::api {
namespace {

using Json = nlohmann::json;

class FakeStream : public http::HttpStream {
 public:
  explicit FakeStream(std::string text) : text_(std::move(text)) {}
  void Start(std::function<void()>) override {}
  bool Read(std::string* out, size_t) override {
    out->append(text_);
    text_.clear();
    return true;
  }
  void Stop() override {}
  std::string text_;
};

class FakeModel : public ApiModel {
 public:
  FakeModel() {
    for (const char* name : {"node001", "node002", "web01"}) {
      ApiHost h;
      h.name = name;
      h.mac = absl::StrCat("52:54:00:00:00:0", hosts.size() + 1);
      h.address = absl::StrCat("198.18.0.", 10 + hosts.size());
      h.profile = "debian";
      h.state = "localboot";
      h.group = hosts.size() < 2 ? "r1" : "r2";
      h.phase = hosts.size() == 1 ? "stalled" : "unknown";
      hosts.push_back(h);
    }
    hosts[1].reason = "dhcp for 3m";
    hosts[0].transfer =
        ApiTransfer{"tftp", "198.18.0.10:2070",       "vmlinuz", 1000,
                    5000,   absl::FromUnixSeconds(1), ""};
  }
  std::vector<ApiHost> Hosts() override { return hosts; }
  std::string Degraded() override { return degraded; }
  absl::optional<ApiHost> Host(absl::string_view name) override {
    for (ApiHost h : hosts) {
      if (h.name == name) {
        ApiEvent e;
        e.id = 7;
        e.time = absl::FromUnixSeconds(1764507900) + absl::Milliseconds(123);
        e.host = h.name;
        e.kind = "lease";
        e.phase = "dhcp";
        e.detail = "lease 198.18.0.10";
        e.address = "198.18.0.10";
        h.timeline.push_back(e);
        return h;
      }
    }
    return absl::nullopt;
  }
  std::vector<ApiLease> Leases(size_t max, bool* truncated) override {
    *truncated = max < 2;
    return {{"52:54:00:00:00:01", "198.18.0.10", "bound",
             absl::FromUnixSeconds(1764507900), "node001", "198.18.0.0/24"},
            {"52:54:00:99:00:01", "198.18.0.100", "offered",
             absl::FromUnixSeconds(1764507900), "", "198.18.0.0/24"}};
  }
  std::vector<ApiTransfer> Transfers() override {
    return {ApiTransfer{"http", "198.18.0.10:40000", "initrd.img", 10, 20,
                        absl::FromUnixSeconds(1764507900), "node001"}};
  }
  absl::StatusOr<ApiHost> SetState(absl::string_view name, bool arm,
                                   absl::string_view source) override {
    ++set_calls;
    last_source = std::string(source);
    if (name == "web01" && arm) {
      return absl::FailedPreconditionError("web01: profile 'x' is not known");
    }
    for (ApiHost& h : hosts) {
      if (h.name == name) {
        h.state = arm ? "install" : "localboot";
        return h;
      }
    }
    return absl::NotFoundError("no such host");
  }
  absl::StatusOr<std::shared_ptr<http::HttpStream>> Subscribe(
      absl::string_view last_event_id) override {
    last_event_id_seen = std::string(last_event_id);
    if (full) return absl::ResourceExhaustedError("1024 subscribers");
    return std::make_shared<FakeStream>("id: 1\n");
  }

  // node001 is armed with kInstallToken and its address is 198.18.0.10;
  // web01's model fails (500).
  absl::Status Check(absl::string_view name, absl::string_view token,
                     const io::SocketAddress& client) {
    if (name == "web01") return absl::InternalError("disk on fire");
    bool known = false;
    for (const ApiHost& h : hosts) known |= h.name == name;
    if (!known) return absl::NotFoundError("no such host");
    if (name != "node001" || token != install_token) {
      // A model may name the token: the routes cut it in their logs.
      return absl::PermissionDeniedError(
          absl::StrCat("token ", token, " is not ", name, "'s"));
    }
    if (client.ToString().rfind("198.18.0.10:", 0) != 0) {
      return absl::PermissionDeniedError("not the host's address");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<ApiHost> InstallerReport(
      const ApiInstallerReport& report) override {
    ++report_calls;
    last_report = report;
    if (absl::Status s = Check(report.hostname, report.token, report.client);
        !s.ok()) {
      return s;
    }
    ApiHost& h = hosts[0];
    h.phase = report.phase;
    if (report.phase == "done") {
      h.state = "installed";
      install_token.clear();  // revoked
    }
    return h;
  }
  absl::Status CheckInstallerToken(absl::string_view name,
                                   absl::string_view token,
                                   const io::SocketAddress& client) override {
    return Check(name, token, client);
  }
  absl::Status StoreInstallLog(absl::string_view name, absl::string_view token,
                               const io::SocketAddress& client,
                               absl::string_view text) override {
    ++report_calls;
    if (absl::Status s = Check(name, token, client); !s.ok()) return s;
    logs[std::string(name)] = std::string(text);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> InstallLog(absl::string_view name) override {
    if (name == "web01") return absl::InternalError("disk on fire");
    auto it = logs.find(std::string(name));
    if (it == logs.end()) return absl::NotFoundError("no log");
    return it->second;
  }

  std::vector<ApiHost> hosts;
  std::string install_token = "0123456789abcdef0123456789abcdef";
  int report_calls = 0;
  ApiInstallerReport last_report;
  std::map<std::string, std::string> logs;
  std::string degraded;  // "": the states apply
  int set_calls = 0;
  std::string last_source;
  std::string last_event_id_seen;
  bool full = false;
};

struct Req {
  std::string method = "GET", path, query, authorization, content_type, body,
              last_event_id;
  io::SocketAddress client = io::SocketAddress::Ipv4Loopback(5555);
};

class ApiRoutesTest : public ::testing::Test {
 protected:
  http::HttpRouteResult Do(const Req& r) {
    http::HttpRequest request;
    request.method = r.method;
    request.path = r.path;
    request.query = r.query;
    request.authorization = r.authorization;
    request.content_type = r.content_type;
    request.last_event_id = r.last_event_id;
    request.body = r.body;
    request.client = r.client;
    request.now = absl::FromUnixSeconds(1764507900);
    return routes_.Route(request);
  }
  static Json Body(const http::HttpRouteResult& r) {
    EXPECT_TRUE(r.has_body);
    EXPECT_EQ(r.content_type, "application/json");
    Json j = Json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }
  static void ExpectError(const http::HttpRouteResult& r, int status,
                          const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    Json j = Body(r);
    EXPECT_EQ(j.value("error", ""), code) << r.body;
    EXPECT_FALSE(j.value("detail", "").empty()) << r.body;
  }
  static bool HasHeader(const http::HttpRouteResult& r, const std::string& name,
                        const std::string& value_part) {
    for (const auto& [n, v] : r.headers) {
      if (n == name && absl::StrContains(v, value_part)) return true;
    }
    return false;
  }
  static Req Post(std::string path) {
    Req r;
    r.method = "POST";
    r.path = std::move(path);
    r.content_type = "application/json";
    return r;
  }

  FakeModel model_;
  ApiRoutes routes_{&model_};
};

TEST_F(ApiRoutesTest, HostsListsEveryHostWithAllNineCounts) {
  http::HttpRouteResult r = Do({.path = "/api/v1/hosts"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.kind, http::HttpRouteKind::kApi);
  EXPECT_TRUE(HasHeader(r, "Cache-Control", "no-store"));
  Json j = Body(r);
  ASSERT_EQ(j["hosts"].size(), 3u);
  const Json& h = j["hosts"][0];
  EXPECT_EQ(h["name"], "node001");
  EXPECT_EQ(h["mac"], "52:54:00:00:00:01");
  EXPECT_EQ(h["address"], "198.18.0.10");
  EXPECT_EQ(h["group"], "r1");
  EXPECT_TRUE(h["phase_since"].is_null());
  EXPECT_TRUE(h["last_seen"].is_null());
  EXPECT_EQ(h["transfer"]["file"], "vmlinuz");
  EXPECT_EQ(h["transfer"]["bytes"], 1000);
  EXPECT_EQ(h["transfer"]["started"], "1970-01-01T00:00:01.000Z");
  EXPECT_FALSE(h.contains("timeline"));
  EXPECT_TRUE(j["hosts"][1]["transfer"].is_null());
  EXPECT_EQ(j["counts"].size(), 9u);
  EXPECT_EQ(j["counts"]["unknown"], 2);
  EXPECT_EQ(j["counts"]["stalled"], 1);
  EXPECT_EQ(j["counts"]["installed"], 0);
  EXPECT_EQ(j["time"].get<std::string>().size(), 24u);  // wall clock, UTC, ms
  EXPECT_TRUE(j["degraded"].is_null());
}

TEST_F(ApiRoutesTest, HostsSaysWhenTheDaemonAppliesNoState) {
  model_.degraded = "host-states.tsv:3: bad state \"x\"";
  Json j = Body(Do({.path = "/api/v1/hosts"}));
  EXPECT_EQ(j["degraded"], "host-states.tsv:3: bad state \"x\"");
}

TEST_F(ApiRoutesTest, HostsFilters) {
  EXPECT_EQ(
      Body(Do({.path = "/api/v1/hosts", .query = "phase=stalled"}))["hosts"]
          .size(),
      1u);
  EXPECT_EQ(
      Body(Do({.path = "/api/v1/hosts", .query = "group=r2"}))["hosts"].size(),
      1u);
  Json q = Body(Do({.path = "/api/v1/hosts", .query = "q=NODE&group=r1"}));
  EXPECT_EQ(q["hosts"].size(), 2u);
  EXPECT_EQ(q["counts"]["unknown"], 2);  // counts are the whole fleet's
  EXPECT_EQ(Body(Do({.path = "/api/v1/hosts",
                     .query = "q=198.18.0.12"}))["hosts"][0]["name"],
            "web01");
  ExpectError(Do({.path = "/api/v1/hosts", .query = "phase=sleeping"}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/hosts", .query = "colour=red"}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/hosts", .query = "q=%zz"}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/hosts", .query = "q=%0a"}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/hosts", .query = "q=%4"}), 400,
              "bad_request");
}

TEST_F(ApiRoutesTest, OneHostWithTimeline) {
  Json j = Body(Do({.path = "/api/v1/hosts/node002"}));
  EXPECT_EQ(j["name"], "node002");
  EXPECT_EQ(j["reason"], "dhcp for 3m");
  ASSERT_EQ(j["timeline"].size(), 1u);
  EXPECT_EQ(j["timeline"][0]["id"], 7);
  EXPECT_EQ(j["timeline"][0]["time"], "2025-11-30T13:05:00.123Z");
  EXPECT_EQ(j["timeline"][0]["kind"], "lease");
  ExpectError(Do({.path = "/api/v1/hosts/nosuch"}), 404, "not_found");
  EXPECT_EQ(Body(Do({.path = "/api/v1/hosts/nosuch"}))["detail"],
            "no host \"nosuch\" in the inventory");
  ExpectError(Do({.path = "/api/v1/hosts/bad_name!"}), 400, "bad_request");
  ExpectError(Do({.path = "/api/v1/hosts/" + std::string(300, 'a')}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/hosts/node001", .query = "x=1"}), 400,
              "bad_request");
}

TEST_F(ApiRoutesTest, LeasesAndTransfers) {
  Json l = Body(Do({.path = "/api/v1/leases"}));
  ASSERT_EQ(l["leases"].size(), 2u);
  EXPECT_EQ(l["leases"][0]["host"], "node001");
  EXPECT_TRUE(l["leases"][1]["host"].is_null());
  EXPECT_EQ(l["leases"][1]["state"], "offered");
  EXPECT_EQ(l["leases"][0]["expires"], "2025-11-30T13:05:00.000Z");
  EXPECT_EQ(l["truncated"], false);
  Json t = Body(Do({.path = "/api/v1/transfers"}));
  ASSERT_EQ(t["transfers"].size(), 1u);
  EXPECT_EQ(t["transfers"][0]["transport"], "http");
  EXPECT_EQ(t["transfers"][0]["client"], "198.18.0.10:40000");
  EXPECT_EQ(t["transfers"][0]["host"], "node001");
  EXPECT_EQ(t["transfers"][0]["size"], 20);
}

TEST_F(ApiRoutesTest, UnknownRoutesAndMethods) {
  ExpectError(Do({.path = "/api/v1/"}), 404, "not_found");
  ExpectError(Do({.path = "/api/v1/nothing"}), 404, "not_found");
  ExpectError(Do({.method = "POST", .path = "/api/v1/hosts/node001/reboot"}),
              404, "not_found");
  ExpectError(Do({.path = "/api/v1/hosts/a/b/c"}), 404, "not_found");
  http::HttpRouteResult r = Do(Post("/api/v1/hosts"));
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_TRUE(HasHeader(r, "Allow", "GET"));
  r = Do({.path = "/api/v1/hosts/node001/arm"});
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_TRUE(HasHeader(r, "Allow", "POST"));
  ExpectError(Do(Post("/api/v1/events")), 405, "method_not_allowed");
  EXPECT_EQ(model_.set_calls, 0);
  EXPECT_EQ(routes_.MaxRequestBody("POST", "/api/v1/hosts/a/arm"), 4096u);
  EXPECT_EQ(routes_.MaxRequestBody("GET", "/api/v1/hosts"), 0u);
  EXPECT_TRUE(routes_.AcceptsMethod("POST", "/api/v1/hosts/a/arm"));
  EXPECT_FALSE(routes_.AcceptsMethod("PUT", "/api/v1/hosts/a/arm"));
}

TEST_F(ApiRoutesTest, ArmAndDisarmFromLoopbackWithoutToken) {
  http::HttpRouteResult r = Do(Post("/api/v1/hosts/node001/arm"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "install");
  EXPECT_EQ(model_.last_source, "api 127.0.0.1:5555");
  Req empty_object = Post("/api/v1/hosts/node001/disarm");
  empty_object.body = "{}";
  r = Do(empty_object);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "localboot");
  EXPECT_EQ(model_.set_calls, 2);
}

TEST_F(ApiRoutesTest, WriteErrorsChangeNothing) {
  ExpectError(Do(Post("/api/v1/hosts/nosuch/arm")), 404, "not_found");
  ExpectError(Do(Post("/api/v1/hosts/web01/arm")), 409, "conflict");
  EXPECT_EQ(model_.set_calls, 2);
  Req bad = Post("/api/v1/hosts/node001/arm");
  for (const char* body : {"{", "not json", "{\"a\":}", "\xff\xfe"}) {
    bad.body = body;
    ExpectError(Do(bad), 400, "bad_json");
  }
  for (const char* body : {"[]", "1", "\"s\"", "null"}) {
    bad.body = body;
    ExpectError(Do(bad), 400, "bad_request");
  }
  bad.body = "";
  bad.content_type = "text/plain";
  ExpectError(Do(bad), 415, "unsupported_media_type");
  bad.content_type = "";  // a plain form or no-cors fetch has none or that
  ExpectError(Do(bad), 415, "unsupported_media_type");
  ExpectError(Do(Post("/api/v1/hosts/bad_name!/arm")), 400, "bad_request");
  EXPECT_EQ(model_.set_calls, 2);
}

TEST_F(ApiRoutesTest, NonLoopbackWithoutTokenIsForbidden) {
  Req r = Post("/api/v1/hosts/node001/arm");
  r.client = io::SocketAddress::Ipv4({198, 18, 0, 5}, 40000);
  ExpectError(Do(r), 403, "forbidden");
  EXPECT_EQ(model_.set_calls, 0);
  // Reads stay open.
  Req get;
  get.path = "/api/v1/hosts";
  get.client = r.client;
  EXPECT_EQ(Do(get).status, 200);
}

TEST_F(ApiRoutesTest, BearerToken) {
  routes_.SetToken("s3cret-token");
  Req r = Post("/api/v1/hosts/node001/arm");
  http::HttpRouteResult missing = Do(r);
  ExpectError(missing, 401, "unauthorized");
  EXPECT_TRUE(HasHeader(missing, "WWW-Authenticate", "Bearer"));
  for (const char* wrong :
       {"Bearer s3cret-tokeN", "Bearer s3cret-token2", "Bearer ",
        "Basic s3cret-token", "s3cret-token", "Bearer s3cret"}) {
    r.authorization = wrong;
    ExpectError(Do(r), 401, "unauthorized");
  }
  EXPECT_EQ(model_.set_calls, 0);
  r.authorization = "Bearer s3cret-token";
  EXPECT_EQ(Do(r).status, 200);
  // With a token, any address may write, and no content type is needed.
  r.client = io::SocketAddress::Ipv4({198, 18, 0, 5}, 40000);
  r.content_type = "";
  EXPECT_EQ(Do(r).status, 200);
  r.content_type = "application/x-www-form-urlencoded";
  ExpectError(Do(r), 415, "unsupported_media_type");
  routes_.SetToken(absl::nullopt);
  r.content_type = "application/json";
  ExpectError(Do(r), 403, "forbidden");
}

TEST_F(ApiRoutesTest, Events) {
  http::HttpRouteResult r = Do({.path = "/api/v1/events"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  ASSERT_NE(r.stream, nullptr);
  EXPECT_EQ(model_.last_event_id_seen, "");
  Do({.path = "/api/v1/events", .last_event_id = "42"});
  EXPECT_EQ(model_.last_event_id_seen, "42");
  Do({.path = "/api/v1/events", .query = "after=17"});
  EXPECT_EQ(model_.last_event_id_seen, "17");
  ExpectError(Do({.path = "/api/v1/events", .query = "after=x"}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/events", .last_event_id = "-1"}), 400,
              "bad_request");
  ExpectError(Do({.path = "/api/v1/events", .query = "since=1"}), 400,
              "bad_request");
  http::HttpRouteResult head = Do({.method = "HEAD", .path = "/api/v1/events"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.stream, nullptr);
  model_.full = true;
  ExpectError(Do({.path = "/api/v1/events"}), 503, "busy");
}

// The list a status page loads: 1,000 hosts. Prints the time to route and
// render it (a loose bound keeps a pathological regression out).
TEST_F(ApiRoutesTest, ThousandHostsRenderQuickly) {
  const ApiHost base = model_.hosts[0];
  model_.hosts.clear();
  for (int i = 0; i < 1000; ++i) {
    ApiHost h = base;
    h.name = absl::StrCat("node", 1000 + i);
    h.phase_since = absl::FromUnixSeconds(1764507900 + i);
    model_.hosts.push_back(h);
  }
  http::HttpRouteResult r;
  const absl::Time start = absl::Now();
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) r = Do({.path = "/api/v1/hosts"});
  const absl::Duration each = (absl::Now() - start) / kRounds;
  EXPECT_EQ(Body(r)["hosts"].size(), 1000u);
  std::printf("GET /api/v1/hosts, 1,000 hosts: %zu bytes in %.2f ms\n",
              r.body.size(), absl::ToDoubleMilliseconds(each));
  EXPECT_LT(each, absl::Milliseconds(200));
}

TEST(ApiHelpersTest, AppendJsonString) {
  const auto round_trip = [](absl::string_view in) {
    std::string out;
    AppendJsonString(&out, in);
    Json j = Json::parse(out, nullptr, false);
    EXPECT_TRUE(j.is_string()) << out;
    return j.is_string() ? j.get<std::string>() : std::string("(bad)");
  };
  EXPECT_EQ(round_trip("plain"), "plain");
  EXPECT_EQ(round_trip("q\"b\\s/"), "q\"b\\s/");
  EXPECT_EQ(round_trip(std::string("c\n\r\t\x01\x1f\x7f\0z", 10)),
            std::string("c\n\r\t\x01\x1f\x7f\0z", 10));
  EXPECT_EQ(round_trip("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  // Not UTF-8: a lone continuation byte, an overlong '/', a surrogate, a cut
  // sequence, past U+10FFFF.
  EXPECT_EQ(round_trip("a\x80"
                       "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(round_trip("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(round_trip("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(round_trip("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(round_trip("\xf4\x90\x80\x80").size(), 12u);
}

TEST_F(ApiRoutesTest, ClientTextInAnswersIsValidJson) {
  model_.hosts[0].reason = std::string("\"}\n\x00\xff<script>", 14);
  model_.hosts[0].group = "r\\1";
  Json j = Body(Do({.path = "/api/v1/hosts"}));
  EXPECT_EQ(j["hosts"][0]["group"], "r\\1");
  EXPECT_EQ(j["hosts"][0]["reason"].get<std::string>().substr(0, 4),
            std::string("\"}\n\0", 4));
}

TEST(ApiHelpersTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(ApiHelpersTest, IsLoopback) {
  EXPECT_TRUE(IsLoopback(io::SocketAddress::Ipv4({127, 0, 0, 1}, 1)));
  EXPECT_TRUE(IsLoopback(io::SocketAddress::Ipv4({127, 9, 8, 7}, 1)));
  EXPECT_FALSE(IsLoopback(io::SocketAddress::Ipv4({198, 18, 0, 1}, 1)));
  EXPECT_FALSE(IsLoopback(io::SocketAddress::Ipv4({128, 0, 0, 1}, 1)));
  EXPECT_TRUE(IsLoopback(*io::SocketAddress::Parse("[::1]:80")));
  EXPECT_TRUE(IsLoopback(*io::SocketAddress::Parse("[::ffff:127.0.0.1]:80")));
  EXPECT_FALSE(IsLoopback(*io::SocketAddress::Parse("[::ffff:10.0.0.1]:80")));
  EXPECT_FALSE(IsLoopback(*io::SocketAddress::Parse("[2001:db8::1]:80")));
}

TEST(ApiHelpersTest, ParseQuery) {
  auto q = ParseQuery("a=1&b=x%20y+z&&c");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[1].second, "x y z");
  EXPECT_EQ((*q)[2].first, "c");
  EXPECT_FALSE(ParseQuery("a=%").ok());
  std::string many;
  for (int i = 0; i < 17; ++i) absl::StrAppend(&many, "k", i, "=v&");
  EXPECT_FALSE(ParseQuery(many).ok());
}

TEST(ApiHelpersTest, ReadTokenFile) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/token";
  {
    std::ofstream f(path);
    f << "  abc-DEF_123  \nsecond line\n";
  }
  ::chmod(path.c_str(), 0600);
  absl::StatusOr<std::string> token = ReadTokenFile(path);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abc-DEF_123");
  ::chmod(path.c_str(), 0640);
  token = ReadTokenFile(path);
  ASSERT_FALSE(token.ok());
  EXPECT_TRUE(absl::StrContains(token.status().message(), "chmod 600"))
      << token.status();
  ::chmod(path.c_str(), 0600);
  {
    std::ofstream f(path);
    f << "has space\n";
  }
  EXPECT_FALSE(ReadTokenFile(path).ok());
  {
    std::ofstream f(path);
    f << "\n";
  }
  EXPECT_FALSE(ReadTokenFile(path).ok());
  EXPECT_FALSE(ReadTokenFile(dir + "/missing").ok());
  EXPECT_FALSE(ReadTokenFile(dir).ok());
}

// ---- The installer's routes (phase, done, log): the install token. ----

constexpr char kInstallToken[] = "0123456789abcdef0123456789abcdef";

io::SocketAddress HostAddress() {
  return io::SocketAddress::Ipv4({198, 18, 0, 10}, 40000);
}

Req Report(const std::string& verb, Json body) {
  Req r;
  r.method = "POST";
  r.path = absl::StrCat("/api/v1/hosts/node001/", verb);
  r.content_type = "application/json";
  r.body = body.dump();
  r.client = HostAddress();
  return r;
}

TEST_F(ApiRoutesTest, InstallerReportsPhaseThenDoneThenTheTokenIsGone) {
  // An operator token does not concern the installer's routes.
  routes_.SetToken("operator-secret");
  http::HttpRouteResult r =
      Do(Report("phase", {{"token", kInstallToken},
                          {"phase", "installing"},
                          {"detail", std::string(300, 'x')}}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["name"], "node001");
  EXPECT_EQ(Body(r)["phase"], "installing");
  EXPECT_EQ(model_.last_report.phase, "installing");
  EXPECT_EQ(model_.last_report.detail.size(), kMaxInstallerDetail);
  EXPECT_EQ(model_.last_report.client.ToString(), "198.18.0.10:40000");
  r = Do(Report("phase", {{"token", kInstallToken}, {"phase", "failed"}}));
  EXPECT_EQ(r.status, 200) << r.body;
  // The token may come as a bearer token instead.
  Req done = Report("done", Json::object());
  done.authorization = absl::StrCat("Bearer ", kInstallToken);
  r = Do(done);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "installed");
  EXPECT_EQ(model_.last_report.phase, "done");
  EXPECT_TRUE(model_.last_report.detail.empty());
  // Replayed after done: refused, and the answer says no more.
  r = Do(Report("done", {{"token", kInstallToken}}));
  ExpectError(r, 403, "forbidden");
  EXPECT_EQ(Body(r)["detail"], "install token refused");
}

TEST_F(ApiRoutesTest, InstallerReportErrors) {
  const Json ok = {{"token", kInstallToken}, {"phase", "installing"}};
  struct Case {
    Req req;
    int status;
    std::string code;
    bool reaches_model;
  };
  std::vector<Case> cases;
  auto add = [&](Req r, int status, const std::string& code,
                 bool reaches_model = false) {
    cases.push_back({std::move(r), status, code, reaches_model});
  };
  Req r = Report("phase", ok);
  r.content_type = "";
  add(r, 415, "unsupported_media_type");
  r.content_type = "text/plain";
  add(r, 415, "unsupported_media_type");
  r = Report("phase", ok);
  r.body = "{\"token\":";
  add(r, 400, "bad_json");
  r.body = "[]";
  add(r, 400, "bad_request");
  add(Report("phase", {{"token", kInstallToken}, {"phase", "done"}}), 400,
      "bad_request");
  add(Report("phase", {{"token", kInstallToken}}), 400, "bad_request");
  add(Report("phase", {{"token", kInstallToken}, {"phase", 3}}), 400,
      "bad_request");
  add(Report("phase", {{"token", 12}, {"phase", "installing"}}), 400,
      "bad_request");
  add(Report("done", {{"detail", {1}}}), 400, "bad_request");
  r = Report("phase", ok);
  r.query = "x=1";
  add(r, 400, "bad_request");
  add(Report("phase", {{"phase", "installing"}}), 403, "forbidden");
  add(Report("phase", {{"token", "0123456789ABCDEF0123456789ABCDEF"},
                       {"phase", "installing"}}),
      403, "forbidden");
  r = Report("phase", ok);
  r.authorization = "Bearer ffffffffffffffffffffffffffffffff";
  add(r, 403, "forbidden");  // two different tokens
  add(Report("phase", {{"token", "ffffffffffffffffffffffffffffffff"},
                       {"phase", "installing"}}),
      403, "forbidden", true);
  r = Report("phase", ok);
  r.client = io::SocketAddress::Ipv4({198, 18, 0, 11}, 40000);
  add(r, 403, "forbidden", true);
  r = Report("done", ok);
  r.path = "/api/v1/hosts/nosuch/done";
  add(r, 404, "not_found", true);
  r.path = "/api/v1/hosts/web01/done";
  add(r, 500, "internal", true);
  r.path = "/api/v1/hosts/bad_name!/done";
  add(r, 400, "bad_request");
  r = Report("done", ok);
  r.method = "GET";
  add(r, 405, "method_not_allowed");
  for (const Case& c : cases) {
    const int before = model_.report_calls;
    http::HttpRouteResult result = Do(c.req);
    ExpectError(result, c.status, c.code);
    EXPECT_EQ(model_.report_calls > before, c.reaches_model)
        << c.req.path << " " << c.req.body;
    if (c.status == 403) {
      EXPECT_EQ(Body(result)["detail"], "install token refused");
    }
    if (c.status == 405) {
      EXPECT_TRUE(HasHeader(result, "Allow", "POST"));
    }
  }
  EXPECT_EQ(model_.hosts[0].state, "localboot");  // nothing applied
}

TEST_F(ApiRoutesTest, InstallerLogPostedThenRead) {
  Req post;
  post.method = "POST";
  post.path = "/api/v1/hosts/node001/log";
  post.query = absl::StrCat("token=", kInstallToken);
  post.content_type = "text/plain";
  post.body = "line 1\n<script>x</script>\n\x01";
  post.client = HostAddress();
  http::HttpRouteResult r = Do(post);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["bytes"], post.body.size());
  r = Do({.path = "/api/v1/hosts/node001/log"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, post.body);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_TRUE(HasHeader(r, "X-Content-Type-Options", "nosniff"));
  EXPECT_TRUE(HasHeader(r, "Cache-Control", "no-store"));
  r = Do({.method = "HEAD", .path = "/api/v1/hosts/node001/log"});
  EXPECT_EQ(r.status, 200);
  // Bearer instead of ?token=, any of the types installers send.
  for (const char* type :
       {"", "application/octet-stream", "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8"}) {
    Req p = post;
    p.query = "";
    p.authorization = absl::StrCat("Bearer ", kInstallToken);
    p.content_type = type;
    EXPECT_EQ(Do(p).status, 200) << type;
  }
  ExpectError(Do({.path = "/api/v1/hosts/node002/log"}), 404, "not_found");
  ExpectError(Do({.path = "/api/v1/hosts/web01/log"}), 500, "internal");
  // The log is read with the operator's credential, as writes are: not by
  // the host itself (its install token is not one) nor by another address.
  ExpectError(
      Do({.path = "/api/v1/hosts/node001/log", .client = HostAddress()}), 403,
      "forbidden");
  ExpectError(Do({.path = "/api/v1/hosts/node001/log",
                  .authorization = absl::StrCat("Bearer ", kInstallToken),
                  .client = HostAddress()}),
              403, "forbidden");
  routes_.SetToken("operator-secret");
  ExpectError(Do({.path = "/api/v1/hosts/node001/log"}), 401, "unauthorized");
  EXPECT_EQ(Do({.path = "/api/v1/hosts/node001/log",
                .authorization = "Bearer operator-secret",
                .client = HostAddress()})
                .status,
            200);
  routes_.SetToken(absl::nullopt);
  ExpectError(Do({.path = "/api/v1/hosts/node001/log", .query = "x=1"}), 400,
              "bad_request");
  Req p = post;
  p.content_type = "application/json";
  ExpectError(Do(p), 415, "unsupported_media_type");
  p = post;
  p.query = "token=ffffffffffffffffffffffffffffffff";
  ExpectError(Do(p), 403, "forbidden");
  p.query = "";
  ExpectError(Do(p), 403, "forbidden");
  p.query = absl::StrCat("token=", kInstallToken, "&x=1");
  ExpectError(Do(p), 400, "bad_request");
  p = post;
  p.client = io::SocketAddress::Ipv4({198, 18, 0, 11}, 40000);
  ExpectError(Do(p), 403, "forbidden");
  p = post;
  p.path = "/api/v1/hosts/nosuch/log";
  ExpectError(Do(p), 404, "not_found");
}

// 4 MiB only for a log POST whose token the model accepts; 4 KiB for every
// other POST; nothing for reads.
TEST_F(ApiRoutesTest, InstallerLogBodyLimit) {
  const std::string query = absl::StrCat("token=", kInstallToken);
  http::HttpRequest head;
  head.method = "POST";
  head.path = "/api/v1/hosts/node001/log";
  head.query = query;
  head.client = HostAddress();
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), kMaxInstallLog);
  const std::string bearer = absl::StrCat("Bearer ", kInstallToken);
  head.query = "";
  head.authorization = bearer;
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), kMaxInstallLog);
  head.authorization = "";
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), kMaxApiBody);
  head.query = "token=ffffffffffffffffffffffffffffffff";
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), kMaxApiBody);
  head.query = query;
  head.client = io::SocketAddress::Ipv4({198, 18, 0, 11}, 40000);
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), kMaxApiBody);
  head.client = HostAddress();
  head.path = "/api/v1/hosts/node001/done";
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), kMaxApiBody);
  head.path = "/api/v1/hosts/node001/log";
  head.method = "GET";
  EXPECT_EQ(routes_.MaxRequestBodyFor(head), 0u);
  EXPECT_EQ(kMaxInstallLog, 4u << 20);
}

// Every glog line (any thread), for the redaction test.
class CapturingSink : public google::LogSink {
 public:
  void send(google::LogSeverity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message,
            size_t length) override {
    lines.emplace_back(message, length);
  }
  std::vector<std::string> lines;
};

// The API's log lines about installer requests never carry a whole token:
// not the one in ?token=, nor one a model's refusal names.
TEST_F(ApiRoutesTest, InstallerLinesNeverCarryAWholeToken) {
  const std::string wrong = "ffffffffffffffffffffffffffffffff";
  CapturingSink sink;
  google::AddLogSink(&sink);
  Do(Report("phase", {{"token", kInstallToken}, {"phase", "installing"}}));
  Do(Report("phase", {{"token", wrong}, {"phase", "installing"}}));
  Req post;
  post.method = "POST";
  post.path = "/api/v1/hosts/node001/log";
  post.client = HostAddress();
  for (const std::string& t : {std::string(kInstallToken), wrong}) {
    post.query = absl::StrCat("token=", t);
    Do(post);
    post.query = absl::StrCat("token=", t, "&bad=1");
    Do(post);
  }
  Do(Report("done", {{"token", kInstallToken}}));
  google::RemoveLogSink(&sink);
  ASSERT_GE(sink.lines.size(), 5u);
  bool cut_seen = false;
  for (const std::string& line : sink.lines) {
    EXPECT_FALSE(absl::StrContains(line, kInstallToken)) << line;
    EXPECT_FALSE(absl::StrContains(line, wrong)) << line;
    cut_seen |= absl::StrContains(line, "ffffff\xe2\x80\xa6");
  }
  EXPECT_TRUE(cut_seen);
}

}  // namespace
}  // namespace rackboot::api
