#include "tools/gen/host_plan.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace rackboot::gen {
namespace {

using site::HostState;
using site::HostStateEntry;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

site::SiteConfig Site() {
  absl::StatusOr<site::SiteConfig> s = site::ParseSiteConfig(
      R"([server]
address = "198.18.0.1"
state_dir = "/nonexistent/state"
inventory = "inventory.csv"
[[profile]]
name = "lab"
kernel = "vmlinuz"
)",
      "site.toml");
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

site::Inventory Inv() {
  absl::StatusOr<site::Inventory> inv = site::Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:00:00:01,node-a,,lab,install\n"
      "52:54:00:00:00:02,node-b,,lab,localboot\n"
      "52:54:00:00:00:03,node-c,,,localboot\n"
      "52:54:00:00:00:04,node-d,,nosuch,install\n",
      "inventory.csv");
  EXPECT_TRUE(inv.ok()) << inv.status();
  return *inv;
}

const absl::Time kNow = absl::FromUnixSeconds(1790000000);

TEST(HostPlanTest, ArmedOnlyWithATokenValidNow) {
  const site::SiteConfig site = Site();
  const site::Inventory inv = Inv();
  site::HostStateMap states;
  HostStateEntry a(HostState::kInstall, kNow - absl::Minutes(5));
  a.token = kToken;
  a.token_expires = kNow + absl::Hours(1);
  states["node-a"] = a;
  HostStateEntry b(HostState::kInstall, kNow - absl::Hours(7));
  b.token = "fedcba9876543210fedcba9876543210";
  b.token_expires = kNow;  // expired at this very second
  states["node-b"] = b;
  absl::StatusOr<std::vector<HostPlan>> plan =
      PlanHosts(site, inv, states, "/s/host-states.tsv", {}, kNow);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 4u);
  const HostPlan& pa = (*plan)[0];
  EXPECT_TRUE(pa.armed);
  EXPECT_EQ(pa.token, kToken);
  ASSERT_NE(pa.profile, nullptr);
  EXPECT_EQ(pa.profile->name, "lab");
  EXPECT_EQ(pa.state_from, "/s/host-states.tsv");
  const HostPlan& pb = (*plan)[1];
  EXPECT_FALSE(pb.armed);
  EXPECT_TRUE(pb.token.empty());
  EXPECT_NE(pb.not_armed_why.find("expired at 2026-"), std::string::npos)
      << pb.not_armed_why;
  EXPECT_NE(pb.not_armed_why.find("rackboot arm node-b"), std::string::npos);
  const HostPlan& pc = (*plan)[2];  // no profile, local boot
  EXPECT_EQ(pc.profile, nullptr);
  EXPECT_FALSE(pc.armed);
  EXPECT_TRUE(pc.not_armed_why.empty());
  // Armed by its state column: no token until a daemon or `arm` makes one.
  const HostPlan& pd = (*plan)[3];
  EXPECT_EQ(pd.state, HostState::kInstall);
  EXPECT_FALSE(pd.armed);
  EXPECT_EQ(pd.profile, nullptr);
  EXPECT_EQ(pd.state_from, "its state column");
  EXPECT_NE(pd.not_armed_why.find("no install token"), std::string::npos);
  // The valid tokens: node-a's only.
  EXPECT_EQ(ValidTokens(inv, states, kNow), std::vector<std::string>{kToken});
}

TEST(HostPlanTest, OnlyTheHostsAskedForAndUnknownNamesListed) {
  const site::SiteConfig site = Site();
  const site::Inventory inv = Inv();
  absl::StatusOr<std::vector<std::string>> only =
      ParseHostList("NODE-C, node-a,node-c");
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(*only, (std::vector<std::string>{"node-c", "node-a"}));
  absl::StatusOr<std::vector<HostPlan>> plan =
      PlanHosts(site, inv, {}, "p", *only, kNow);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].host->hostname, "node-a");  // inventory order
  EXPECT_EQ((*plan)[1].host->hostname, "node-c");
  plan = PlanHosts(site, inv, {}, "p", {"node-a", "ghost", "nobody"}, kNow);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(plan.status().message(),
            "--hosts names hosts not in inventory.csv: ghost, nobody");
  EXPECT_FALSE(ParseHostList("a,,b").ok());
  EXPECT_TRUE(ParseHostList("")->empty());
}

TEST(HostPlanTest, StatesFileAbsentIsTheInventorysStatesAndNothingIsMade) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(base != nullptr ? base : "/tmp") + "/no-such-state-dir";
  absl::StatusOr<site::HostStateMap> states = ReadHostStates(dir);
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_TRUE(states->empty());
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0) << "gen made the state directory";
}

TEST(HostPlanTest, ReadsTheStatesFileAndNamesADamagedLine) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(base != nullptr ? base : "/tmp");
  std::ofstream(HostStatesPath(dir)) << "node-b\tinstall\t1790000000\n";
  absl::StatusOr<site::HostStateMap> states = ReadHostStates(dir);
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_EQ(states->count("node-b"), 1u);
  EXPECT_EQ(states->at("node-b").state, HostState::kInstall);
  // With a token (lifecycle's 5-field lines): planned armed while valid.
  const site::SiteConfig site = Site();
  const site::Inventory inv = Inv();
  std::ofstream(HostStatesPath(dir))
      << "node-a\tinstall\t1790000000\t" << kToken << "\t1790003600\n";
  states = ReadHostStates(dir);
  ASSERT_TRUE(states.ok()) << states.status();
  absl::StatusOr<std::vector<HostPlan>> plan =
      PlanHosts(site, inv, *states, HostStatesPath(dir), {"node-a"}, kNow);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE((*plan)[0].armed);
  EXPECT_EQ((*plan)[0].token, kToken);
  plan = PlanHosts(site, inv, *states, HostStatesPath(dir), {"node-a"},
                   kNow + absl::Hours(1));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE((*plan)[0].armed);
  std::ofstream(HostStatesPath(dir)) << "node-b\tinstall\t1790000000\n"
                                     << "node-c\tarmed\t1\n";
  states = ReadHostStates(dir);
  ASSERT_FALSE(states.ok());
  EXPECT_NE(states.status().message().find(HostStatesPath(dir) + ":2"),
            std::string::npos)
      << states.status();
}

}  // namespace
}  // namespace rackboot::gen
