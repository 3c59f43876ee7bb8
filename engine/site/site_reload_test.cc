#include "engine/site/site_reload.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSite[] = R"(
[server]
interface = "br0"
address = "198.18.0.1"
[dhcp]
mode = "authoritative"
lease_seconds = 3600
[[dhcp.subnet]]
cidr = "198.18.0.0/16"
pool = "198.18.16.0-198.18.31.254"
router = "198.18.0.254"
[tftp]
root = "/srv/tftp"
[boot]
bios = "pxelinux.0"
[[profile]]
name = "lab"
kernel = "vmlinuz"
append = "a"
[[profile]]
name = "other"
kernel = "vmlinuz2"
append = "b"
)";

constexpr char kInventory[] =
    "mac,hostname,ip,profile,state\n"
    "52:54:00:c6:12:01,node001,198.18.0.21,lab,install\n"
    "52:54:00:c6:12:02,node002,198.18.0.22,lab,installed\n";

SiteConfig Site(const std::string& text) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(text, "site.toml");
  EXPECT_TRUE(site.ok()) << site.status();
  return site.ok() ? *site : SiteConfig();
}

std::shared_ptr<const install::InstallTemplates> Templates(
    const std::string& text) {
  auto templates = install::InstallTemplates::Load(Site(text));
  EXPECT_TRUE(templates.ok()) << templates.status();
  return *templates;
}

Inventory Inv(const std::string& text) {
  absl::StatusOr<Inventory> inv = Inventory::Parse(text, "inventory.csv");
  EXPECT_TRUE(inv.ok()) << inv.status();
  return inv.ok() ? *inv : Inventory();
}

TEST(CompareSitesTest, NothingChanged) {
  SiteChanges c =
      CompareSites(Site(kSite), Inv(kInventory), Site(kSite), Inv(kInventory));
  EXPECT_TRUE(c.applied.empty());
  EXPECT_TRUE(c.needs_restart.empty());
}

TEST(CompareSitesTest, SaysWhatChanged) {
  std::string site = absl::StrReplaceAll(
      kSite, {{"lease_seconds = 3600", "lease_seconds = 600"},
              {"198.18.16.0-198.18.31.254", "198.18.16.0-198.18.47.254"},
              {"kernel = \"vmlinuz2\"", "kernel = \"vmlinuz3\""},
              {"root = \"/srv/tftp\"", "root = \"/srv/other\""},
              {"interface = \"br0\"", "interface = \"br1\""}});
  SiteChanges c =
      CompareSites(Site(kSite), Inv(kInventory), Site(site),
                   Inv("mac,hostname,ip,profile,state\n"
                       "52:54:00:c6:12:01,node001,198.18.0.23,other,install\n"
                       "52:54:00:c6:12:03,node003,,lab,\n"));
  EXPECT_THAT(
      c.applied,
      ElementsAre("hosts added: node003", "hosts removed: node002",
                  "hosts changed: node001 (ip 198.18.0.21 -> 198.18.0.23, "
                  "profile lab -> other)",
                  "profiles changed: other",
                  "dhcp changed: lease_seconds 3600 -> 600, subnet "
                  "198.18.0.0/16 pool 198.18.16.0-198.18.31.254 -> "
                  "198.18.16.0-198.18.47.254"));
  EXPECT_THAT(c.needs_restart,
              ElementsAre("server.interface (br0 -> br1)",
                          "tftp.root (/srv/tftp -> /srv/other)"));
}

TEST(CompareSitesTest, StallBoundsApplyOnReload) {
  const std::string site =
      absl::StrCat(kSite, "\n[status]\nstall_booting = \"20m\"\n");
  SiteChanges c =
      CompareSites(Site(kSite), Inv(kInventory), Site(site), Inv(kInventory));
  EXPECT_THAT(c.applied,
              ElementsAre("status changed: stall_booting 10m -> 20m"));
  EXPECT_TRUE(c.needs_restart.empty());
}

TEST(CompareSitesTest, NewSubnetRangesNeedARestart) {
  std::string site =
      absl::StrReplaceAll(kSite, {{"198.18.0.0/16", "198.18.0.0/15"}});
  SiteChanges c =
      CompareSites(Site(kSite), Inv(kInventory), Site(site), Inv(kInventory));
  EXPECT_TRUE(c.applied.empty());
  EXPECT_THAT(c.needs_restart,
              ElementsAre("dhcp subnets (198.18.0.0/16 -> 198.18.0.0/15)"));
  SiteConfig effective = EffectiveSite(Site(kSite), Site(site));
  ASSERT_EQ(effective.dhcp.subnets.size(), 1u);
  EXPECT_EQ(effective.dhcp.subnets[0].CidrString(), "198.18.0.0/16");
}

TEST(EffectiveSiteTest, KeepsWhatOnlyARestartChanges) {
  std::string text = absl::StrReplaceAll(
      kSite, {{"lease_seconds = 3600", "lease_seconds = 600"},
              {"root = \"/srv/tftp\"", "root = \"/srv/other\""},
              {"address = \"198.18.0.1\"", "address = \"198.18.0.2\""},
              {"mode = \"authoritative\"", "mode = \"proxy\""}});
  SiteConfig effective = EffectiveSite(Site(kSite), Site(text));
  EXPECT_EQ(effective.dhcp.lease_seconds, 600);
  EXPECT_EQ(effective.tftp.root, "/srv/tftp");
  EXPECT_EQ(effective.server.address->ToString(), "198.18.0.1");
  EXPECT_EQ(effective.dhcp.mode, DhcpMode::kAuthoritative);
}

class CurrentSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/site_reload_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto states = HostStateStore::Open(dir_, Inv(kInventory));
    ASSERT_TRUE(states.ok()) << states.status();
    states_ = *std::move(states);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::unique_ptr<HostStateStore> states_;
};

TEST_F(CurrentSiteTest, ReadersSeeOneGenerationAndTheNewOneAfterPublish) {
  CurrentSite current(MakeSiteGeneration(Site(kSite), Inv(kInventory),
                                         states_.get(), Templates(kSite)));
  const MacAddress node003 = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x03};
  EXPECT_FALSE(current.FindByMac(node003).has_value());
  std::shared_ptr<const SiteGeneration> held = current.Get();

  const std::string inventory = absl::StrCat(
      kInventory, "52:54:00:c6:12:03,node003,198.18.0.23,other,install\n");
  states_->SetInventory(Inv(inventory));
  // Its install token (the daemon issues it after a reload): armed means
  // state install and a valid token.
  ASSERT_TRUE(states_->Set("node003", HostState::kInstall).ok());
  current.Publish(MakeSiteGeneration(Site(kSite), Inv(inventory), states_.get(),
                                     Templates(kSite)));
  absl::optional<dhcp::HostDirectory::Host> host = current.FindByMac(node003);
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->hostname, "node003");
  EXPECT_EQ(host->purpose, dhcp::BootPurpose::kInstall);
  EXPECT_EQ(host->reserved->ToString(), "198.18.0.23");
  absl::optional<std::string> rendered =
      current.Render("pxelinux.cfg/01-52-54-00-c6-12-03",
                     io::SocketAddress::Ipv4({198, 18, 0, 23}, 2070));
  ASSERT_TRUE(rendered.has_value());
  EXPECT_THAT(*rendered, HasSubstr("KERNEL vmlinuz2"));
  // A boot loader over DHCP only while the token is valid: expired, the host
  // gets an address without one, like a local-boot host.
  ASSERT_TRUE(states_
                  ->Set("node003", HostState::kInstall,
                        absl::Now() - absl::Hours(7))  // expired an hour ago
                  .ok());
  host = current.FindByMac(node003);
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->purpose, dhcp::BootPurpose::kLocalBoot);
  // The old generation is intact for whoever still holds it.
  EXPECT_EQ(held->inventory.hosts().size(), 2u);
  EXPECT_EQ(held->inventory.FindByMac(node003), nullptr);
}

TEST_F(CurrentSiteTest, ConcurrentReadersWhilePublishing) {
  CurrentSite current(MakeSiteGeneration(Site(kSite), Inv(kInventory),
                                         states_.get(), Templates(kSite)));
  const MacAddress node001 = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x01};
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        if (!current.FindByMac(node001).has_value()) ++misses;
        if (!current
                 .Render("pxelinux.cfg/01-52-54-00-c6-12-01",
                         io::SocketAddress::Ipv4({198, 18, 0, 21}, 2070))
                 .has_value())
          ++misses;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    current.Publish(MakeSiteGeneration(Site(kSite), Inv(kInventory),
                                       states_.get(), Templates(kSite)));
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(misses.load(), 0);
}

}  // namespace
}  // namespace rackboot::site
