#include "tools/hosts/host_view.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/hosts/api_client.h"

namespace rackboot::hosts {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

Json ApiHost() {
  return Json::parse(R"({"name":"node001","mac":"52:54:00:00:00:01",
    "address":"198.18.0.11","profile":"lab","state":"install","group":"r1",
    "phase":"stalled","reason":"no progress in dhcp for 2m10s",
    "phase_since":"2026-11-30T13:05:00Z","last_seen":"2026-11-30T13:05:00Z",
    "transfer":null})");
}

TEST(HostViewTest, ApiHostBecomesATableRowWithTheLivePhase) {
  absl::StatusOr<HostRow> row = RowFromApiHost(ApiHost());
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->phase, "stalled");
  EXPECT_EQ(row->when, "2026-11-30 13:05:00");
  EXPECT_EQ(row->applied, "yes");
  const std::string table = FormatTable({*row}, {"a note"});
  EXPECT_THAT(table, HasSubstr("HOST                 MAC"));
  EXPECT_THAT(table,
              HasSubstr("node001              52:54:00:00:00:01 198.18.0.11  "
                        "   lab        install    stalled                  "
                        "2026-11-30 13:05:00 yes\na note\n"));
}

TEST(HostViewTest, NullsAndEmptiesAreDashes) {
  Json host = ApiHost();
  host["address"] = "";
  host["profile"] = nullptr;
  host["phase_since"] = nullptr;
  absl::StatusOr<HostRow> row = RowFromApiHost(host);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_THAT(FormatTable({*row}, {}),
              HasSubstr("52:54:00:00:00:01 -               -          install "
                        "   stalled                  -                   yes"));
}

// A daemon of another version, or something that is not rackbootd: a clear
// error naming the field, never a crash (nlohmann would throw on get<>).
TEST(HostViewTest, WrongShapesAreErrorsNamingTheField) {
  Json host = ApiHost();
  host["phase"] = 3;
  EXPECT_THAT(std::string(RowFromApiHost(host).status().message()),
              HasSubstr("\"phase\" is not a string"));
  host = ApiHost();
  host.erase("name");
  EXPECT_THAT(std::string(RowFromApiHost(host).status().message()),
              HasSubstr("no \"name\""));
  host = ApiHost();
  host["phase_since"] = "yesterday";
  EXPECT_FALSE(RowFromApiHost(host).ok());
  EXPECT_FALSE(RowFromApiHost(Json::array()).ok());
  EXPECT_FALSE(RowsFromApiHosts(Json::parse(R"({"hosts":{}})")).ok());
  EXPECT_FALSE(RowsFromApiHosts(Json::parse(R"([1,2])")).ok());
  EXPECT_FALSE(RowsFromApiHosts(Json::parse(R"({"hosts":[1]})")).ok());
  absl::StatusOr<std::vector<HostRow>> rows = RowsFromApiHosts(
      Json::parse(R"({"hosts":[],"counts":{},"time":"2026-11-30T13:05:00Z"})"));
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

// A daemon that cannot read its host states applies none of them.
TEST(HostViewTest, DegradedDaemonAppliesNoState) {
  Json answer = Json::object();
  answer["hosts"] = Json::array({ApiHost()});
  answer["degraded"] = nullptr;
  absl::StatusOr<std::vector<HostRow>> rows = RowsFromApiHosts(answer);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->at(0).applied, "yes");
  answer["degraded"] = "host-states.tsv: Permission denied";
  rows = RowsFromApiHosts(answer);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->at(0).applied, "no (degraded)");
}

// Text from the daemon cannot drive the terminal.
TEST(HostViewTest, DaemonTextIsEscaped) {
  Json host = ApiHost();
  host["reason"] = "\x1b[2Jgone\n";
  absl::StatusOr<HostRow> row = RowFromApiHost(host);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->reason, "\\033[2Jgone\\n");
  EXPECT_EQ(TerminalSafe(std::string(600, 'x')).size(), 512u);
}

TEST(HostViewTest, PhasesFromTheFiles) {
  using site::HostState;
  const site::BringUpPhase dhcp{"dhcp", absl::FromUnixSeconds(1800000000)};
  const site::BringUpPhase tftp{"tftp vmlinuz", absl::FromUnixSeconds(1)};
  const site::BringUpPhase done{"done", absl::FromUnixSeconds(1)};
  EXPECT_EQ(PhaseFromFiles(HostState::kInstall, nullptr), "armed");
  EXPECT_EQ(PhaseFromFiles(HostState::kLocalboot, nullptr), "unknown");
  EXPECT_EQ(PhaseFromFiles(HostState::kInstalled, &dhcp), "installed");
  EXPECT_EQ(PhaseFromFiles(HostState::kInstall, &dhcp), "dhcp");
  EXPECT_EQ(PhaseFromFiles(HostState::kLocalboot, &tftp), "booting");
  // "done" is the installer's report only; the last boot file of an armed
  // host is "installing".
  EXPECT_EQ(PhaseFromFiles(HostState::kInstalled, &done), "done");
  EXPECT_EQ(PhaseFromFiles(HostState::kLocalboot, &done), "done");
  const site::BringUpPhase installing{"installing", absl::FromUnixSeconds(1)};
  const site::BringUpPhase failed{"failed", absl::FromUnixSeconds(1)};
  EXPECT_EQ(PhaseFromFiles(HostState::kInstall, &installing), "installing");
  EXPECT_EQ(PhaseFromFiles(HostState::kLocalboot, &installing), "unknown");
  EXPECT_EQ(PhaseFromFiles(HostState::kInstall, &failed), "failed");
  EXPECT_EQ(PhaseFromFiles(HostState::kLocalboot, &failed), "unknown");
}

TEST(HostViewTest, TokenNoteNeverShowsTheToken) {
  site::HostStateEntry entry(site::HostState::kInstall, absl::FromUnixSeconds(1));
  entry.token = "0123456789abcdef0123456789abcdef";
  entry.token_expires = absl::FromUnixSeconds(1796043900);
  EXPECT_EQ(TokenNote(entry, absl::FromUnixSeconds(1796043899)),
            "install token expires 2026-11-30T13:05:00Z");
  EXPECT_EQ(TokenNote(entry, absl::FromUnixSeconds(1796043900)),
            "install token expired at 2026-11-30T13:05:00Z (re-arm to "
            "install)");
  entry.token.clear();
  EXPECT_THAT(TokenNote(entry, absl::FromUnixSeconds(1)),
              ::testing::StartsWith("no install token yet"));
  entry.state = site::HostState::kInstalled;
  EXPECT_EQ(TokenNote(entry, absl::FromUnixSeconds(1)), "");
}

TEST(HostViewTest, HostJsonFromFilesHasTheApiShape) {
  absl::StatusOr<site::SiteConfig> config = site::ParseSiteConfig(
      "[dhcp]\nmode = \"authoritative\"\n[[dhcp.subnet]]\ncidr = "
      "\"198.18.0.0/24\"\n",
      "site.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<site::Inventory> inventory = site::Inventory::Parse(
      "mac,hostname,ip,profile\n52:54:00:00:00:01,node1,198.18.0.5,lab\n"
      "52:54:00:00:00:02,node2,,lab\n",
      "inventory.csv");
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  const site::BringUpPhase dhcp{"dhcp", absl::FromUnixSeconds(1800000000)};
  const Json host = HostJsonFromFiles(*config, inventory->hosts()[0],
                                      site::HostState::kInstall, &dhcp);
  EXPECT_EQ(host.dump(),
            R"({"address":"198.18.0.5","group":"198.18.0.0/24",)"
            R"("last_seen":"2027-01-15T08:00:00Z","mac":"52:54:00:00:00:01",)"
            R"("name":"node1","phase":"dhcp","phase_since":)"
            R"("2027-01-15T08:00:00Z","profile":"lab","reason":"",)"
            R"("state":"install","transfer":null})");
  const Json other = HostJsonFromFiles(*config, inventory->hosts()[1],
                                       site::HostState::kLocalboot, nullptr);
  EXPECT_EQ(other["group"], "");
  EXPECT_TRUE(other["phase_since"].is_null());
  EXPECT_EQ(other["phase"], "unknown");
  // The table's parser reads it back: the two paths share one shape.
  EXPECT_TRUE(RowFromApiHost(host).ok());
}

TEST(ApiClientTest, BaseUrls) {
  EXPECT_EQ(ApiBaseForListen("0.0.0.0:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(ApiBaseForListen("198.18.0.1:80"), "http://198.18.0.1:80");
  EXPECT_EQ(ApiBaseForListen(""), "");
  EXPECT_EQ(*NormaliseApiBase("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080");
  EXPECT_EQ(*NormaliseApiBase("https://boot.example"), "https://boot.example");
  EXPECT_FALSE(NormaliseApiBase("127.0.0.1:8080").ok());
  EXPECT_FALSE(NormaliseApiBase("ftp://x").ok());
  EXPECT_FALSE(NormaliseApiBase("http://x/api").ok());
  EXPECT_FALSE(NormaliseApiBase("http://user@x").ok());
  EXPECT_FALSE(NormaliseApiBase("http://").ok());
}

// Nothing listens on the port: kNoDaemon (the caller falls back), quickly.
TEST(ApiClientTest, RefusedIsNoDaemon) {
  const absl::Time start = absl::Now();
  // Port 1 on loopback: nothing listens there in a test sandbox.
  const ApiAnswer answer =
      ApiRequest("http://127.0.0.1:1", "GET", "/api/v1/hosts", "");
  EXPECT_EQ(answer.outcome, ApiAnswer::Outcome::kNoDaemon) << answer.error;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

}  // namespace
}  // namespace rackboot::hosts
