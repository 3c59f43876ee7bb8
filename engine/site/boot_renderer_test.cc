#include "engine/site/boot_renderer.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

constexpr char kSite[] = R"(
[server]
interface = "br0"
address = "198.18.0.1"
[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "console=ttyS0 hostname={{hostname}} ip={{ip}} mac={{mac}} from={{server}} p={{profile}}"
[[profile]]
name = "deb"
family = "debian-preseed"
kernel = "debian/linux"
initrd = "debian/initrd.gz"
)";

constexpr char kInventory[] =
    "mac,hostname,ip,profile,state\n"
    "52:54:00:c6:12:01,armed,198.18.0.21,lab,install\n"
    "52:54:00:c6:12:02,done,198.18.0.22,lab,installed\n"
    "52:54:00:c6:12:03,never,,lab,localboot\n"
    "52:54:00:c6:12:04,noprofile,,missing,install\n"
    "52:54:00:c6:12:05,debhost,198.18.0.25,deb,installed\n";

class BootRendererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/boot_renderer_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto site = ParseSiteConfig(kSite, "site.toml");
    ASSERT_TRUE(site.ok()) << site.status();
    site_ = *site;
    auto inventory = Inventory::Parse(kInventory, "inventory.csv");
    ASSERT_TRUE(inventory.ok()) << inventory.status();
    inventory_ = *inventory;
    auto states = HostStateStore::Open(dir_, inventory_);
    ASSERT_TRUE(states.ok()) << states.status();
    states_ = *std::move(states);
    // The inventory's `state` arms hosts without a token (the daemon issues
    // one at startup): arm them here as it does.
    ASSERT_TRUE(states_->Set("armed", HostState::kInstall).ok());
    ASSERT_TRUE(states_->Set("noprofile", HostState::kInstall).ok());
    auto templates = install::InstallTemplates::Load(site_);
    ASSERT_TRUE(templates.ok()) << templates.status();
    templates_ = *templates;
    renderer_ = std::make_unique<BootRenderer>(&site_, &inventory_,
                                               states_.get(), templates_.get());
    // A fake lease table: hosts without a reservation got .103 and .104.
    leases_[*Ipv4Address::Parse("198.18.0.103")] =
        *ParseMac("52:54:00:c6:12:03");
    leases_[*Ipv4Address::Parse("198.18.0.104")] =
        *ParseMac("52:54:00:c6:12:04");
    renderer_->set_lease_owner(
        [this](Ipv4Address a) -> absl::optional<MacAddress> {
          auto it = leases_.find(a);
          if (it == leases_.end()) return absl::nullopt;
          return it->second;
        });
  }

  // A TFTP client at `ip`, port 2070.
  static io::SocketAddress From(const std::string& ip) {
    return *io::SocketAddress::Parse(ip + ":2070");
  }
  // The address each host asks from: its reservation or its lease.
  static io::SocketAddress Own(const std::string& mac_suffix) {
    if (mac_suffix == "01") return From("198.18.0.21");
    if (mac_suffix == "02") return From("198.18.0.22");
    return From("198.18.0.1" + mac_suffix);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  SiteConfig site_;
  Inventory inventory_;
  std::unique_ptr<HostStateStore> states_;
  std::shared_ptr<const install::InstallTemplates> templates_;
  std::unique_ptr<BootRenderer> renderer_;
  std::map<Ipv4Address, MacAddress> leases_;
};

TEST_F(BootRendererTest, ArmedHostGetsItsProfile) {
  absl::optional<std::string> config =
      renderer_->Render("pxelinux.cfg/01-52-54-00-c6-12-01", Own("01"));
  ASSERT_TRUE(config.has_value());
  EXPECT_NE(config->find("DEFAULT install"), std::string::npos) << *config;
  EXPECT_NE(config->find("KERNEL vmlinuz"), std::string::npos);
  EXPECT_NE(config->find("INITRD initrd.img"), std::string::npos);
  EXPECT_NE(config->find("APPEND console=ttyS0 hostname=armed ip=198.18.0.21 "
                         "mac=52:54:00:c6:12:01 from=198.18.0.1 p=lab"),
            std::string::npos)
      << *config;
  absl::optional<std::string> grub =
      renderer_->Render("grub/grub.cfg-01-52-54-00-c6-12-01", Own("01"));
  ASSERT_TRUE(grub.has_value());
  EXPECT_NE(grub->find("linux /vmlinuz console=ttyS0 hostname=armed"),
            std::string::npos)
      << *grub;
  EXPECT_NE(grub->find("initrd /initrd.img"), std::string::npos);
  // Case and directory prefixes as firmware sends them.
  EXPECT_TRUE(
      renderer_->Render("boot/pxelinux.cfg/01-52-54-00-C6-12-01", Own("01"))
          .has_value());
}

TEST_F(BootRendererTest, EveryOtherHostBootsFromDisk) {
  for (const char* mac : {"02", "03", "04"}) {
    absl::optional<std::string> config = renderer_->Render(
        absl::StrCat("pxelinux.cfg/01-52-54-00-c6-12-", mac), Own(mac));
    ASSERT_TRUE(config.has_value()) << mac;
    EXPECT_NE(config->find("LOCALBOOT 0"), std::string::npos) << *config;
    EXPECT_EQ(config->find("KERNEL"), std::string::npos);
    absl::optional<std::string> grub = renderer_->Render(
        absl::StrCat("grub.cfg-01-52-54-00-c6-12-", mac), Own(mac));
    EXPECT_NE(grub->find("exit"), std::string::npos);
    EXPECT_EQ(grub->find("linux"), std::string::npos);
  }
}

TEST_F(BootRendererTest, IpxeScriptOverHttp) {
  renderer_->set_http_base("http://198.18.0.1:8080");
  absl::optional<std::string> script =
      renderer_->Render("ipxe/01-52-54-00-c6-12-01.ipxe", Own("01"));
  ASSERT_TRUE(script.has_value());
  EXPECT_EQ(*script,
            "#!ipxe\n"
            "# Rackboot boot menu for armed (52:54:00:c6:12:01): armed, "
            "installs lab\n"
            "menu Rackboot: armed\n"
            "item install Install lab\n"
            "item local Boot the local disk\n"
            "choose --timeout 3000 --default install target && goto "
            "${target} || goto install\n"
            ":install\n"
            "kernel http://198.18.0.1:8080/boot/vmlinuz initrd=initrd.img "
            "console=ttyS0 hostname=armed ip=198.18.0.21 "
            "mac=52:54:00:c6:12:01 from=198.18.0.1 p=lab\n"
            "initrd http://198.18.0.1:8080/boot/initrd.img\n"
            "boot\n"
            ":local\n"
            "# Leaves iPXE with an error, so the firmware tries its next boot "
            "device: the\n"
            "# local disk (as LOCALBOOT 0 and GRUB's exit).\n"
            "echo rackboot: armed: booting the next device (the local disk)\n"
            "exit 1\n");
  // Without HTTP: from the root of wherever the script came from.
  renderer_->set_http_base(absl::nullopt);
  script = renderer_->Render("ipxe/01-52-54-00-C6-12-01.ipxe", Own("01"));
  ASSERT_TRUE(script.has_value());
  EXPECT_NE(script->find("\nkernel /vmlinuz initrd=initrd.img console"),
            std::string::npos)
      << *script;
  EXPECT_NE(script->find("\ninitrd /initrd.img\n"), std::string::npos);
}

TEST_F(BootRendererTest, IpxeScriptOfEveryOtherHostExits) {
  renderer_->set_http_base("http://198.18.0.1:8080");
  for (const char* mac : {"02", "03", "04"}) {
    absl::optional<std::string> script = renderer_->Render(
        absl::StrCat("ipxe/01-52-54-00-c6-12-", mac, ".ipxe"), Own(mac));
    ASSERT_TRUE(script.has_value()) << mac;
    EXPECT_NE(script->find("--default local target"), std::string::npos)
        << *script;
    EXPECT_NE(script->find("\nexit 1\n"), std::string::npos) << *script;
    EXPECT_EQ(script->find("kernel"), std::string::npos) << *script;
    EXPECT_EQ(script->find("\nboot\n"), std::string::npos) << *script;
  }
  // Only to the host's own address; unknown MACs and other names: nothing.
  EXPECT_FALSE(renderer_->Render("ipxe/01-52-54-00-c6-12-01.ipxe", Own("02"))
                   .has_value());
  EXPECT_FALSE(renderer_->Render("ipxe/01-52-54-00-c6-12-99.ipxe", Own("01"))
                   .has_value());
  EXPECT_FALSE(
      renderer_->Render("ipxe/52-54-00-c6-12-01.ipxe", Own("01")).has_value());
  EXPECT_FALSE(
      renderer_->Render("01-52-54-00-c6-12-01.ipxe", Own("01")).has_value());
}

TEST_F(BootRendererTest, StateChangesApplyToTheNextRequest) {
  ASSERT_TRUE(states_->Set("armed", HostState::kInstalled).ok());
  EXPECT_NE(renderer_->Render("pxelinux.cfg/01-52-54-00-c6-12-01", Own("01"))
                ->find("LOCALBOOT"),
            std::string::npos);
  ASSERT_TRUE(states_->Set("done", HostState::kInstall).ok());
  EXPECT_NE(renderer_->Render("pxelinux.cfg/01-52-54-00-c6-12-02", Own("02"))
                ->find("hostname=done"),
            std::string::npos);
}

TEST_F(BootRendererTest, LeavesEverythingElseToTheDisk) {
  for (const char* name :
       {"pxelinux.0", "pxelinux.cfg/default",
        "pxelinux.cfg/01-52-54-00-c6-12-99", "pxelinux.cfg/C612",
        "pxelinux.cfg/01-zz-54-00-c6-12-01", "grub.cfg",
        "grub/grub.cfg-01-52-54-00-c6-12", "vmlinuz"}) {
    EXPECT_FALSE(renderer_->Render(name, Own("01")).has_value()) << name;
  }
}

// Issue 11 item 8: anyone could read any host's file (hostname, state, kernel
// arguments) and so enumerate the inventory.
TEST_F(BootRendererTest, PerHostFilesOnlyToTheirOwnAddress) {
  const std::string pxe = "pxelinux.cfg/01-52-54-00-c6-12-";
  const std::string grub = "grub/grub.cfg-01-52-54-00-c6-12-";
  for (const char* mac : {"01", "02", "03", "04"}) {
    // The owner: by reservation (01, 02) or by its lease (03, 04).
    EXPECT_TRUE(renderer_->Render(pxe + mac, Own(mac)).has_value()) << mac;
    EXPECT_TRUE(renderer_->Render(grub + mac, Own(mac)).has_value()) << mac;
    // Anyone else, another inventory host included, gets what an unknown MAC
    // gets: not rendered (the disk answers, normally File not found).
    for (const io::SocketAddress& other :
         {From("198.18.0.50"), From("198.18.0.103") /* 03's lease */,
          From("198.18.0.22") /* 02's reservation */, From("127.0.0.1"),
          io::SocketAddress(), *io::SocketAddress::Parse("[::1]:69")}) {
      if (other.ToString() == Own(mac).ToString()) continue;
      EXPECT_FALSE(renderer_->Render(pxe + mac, other).has_value())
          << mac << " from " << other.ToString();
      EXPECT_FALSE(renderer_->Render(grub + mac, other).has_value())
          << mac << " from " << other.ToString();
    }
  }
  // A lease that moves to another host takes the file with it.
  leases_[*Ipv4Address::Parse("198.18.0.103")] = *ParseMac("52:54:00:c6:12:04");
  EXPECT_FALSE(renderer_->Render(pxe + "03", From("198.18.0.103")).has_value());
  EXPECT_TRUE(renderer_->Render(pxe + "04", From("198.18.0.103")).has_value());
}

TEST_F(BootRendererTest, WithoutLeasesOnlyTheReservation) {
  BootRenderer proxy(&site_, &inventory_, states_.get(),
                     templates_.get());  // no lease owner
  EXPECT_TRUE(
      proxy.Render("pxelinux.cfg/01-52-54-00-c6-12-01", Own("01")).has_value());
  EXPECT_FALSE(
      proxy.Render("pxelinux.cfg/01-52-54-00-c6-12-03", Own("03")).has_value());
}

// Armed = state install AND a token valid now: an expired token gives the
// local default and no install entry on every firmware.
TEST_F(BootRendererTest, ExpiredTokenIsNotArmed) {
  const absl::Time now = absl::Now();
  const InventoryHost* host = inventory_.FindByHostname("armed");
  ASSERT_NE(host, nullptr);
  EXPECT_TRUE(renderer_->InputFor(*host, now).armed);
  EXPECT_EQ(renderer_->InputFor(*host, now).token.size(), 32u);
  states_->set_token_ttl(absl::Minutes(1));
  ASSERT_TRUE(states_->Set("armed", HostState::kInstall, now).ok());
  const absl::Time later = now + absl::Minutes(2);
  install::HostRenderInput input = renderer_->InputFor(*host, later);
  EXPECT_FALSE(input.armed);
  EXPECT_EQ(input.token, "");
  for (auto out : {renderer_->PxelinuxConfig(*host, later),
                   renderer_->GrubConfig(*host, later),
                   renderer_->IpxeScript(*host, later)}) {
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->find("install"), out->find("installs"));  // no entry
    EXPECT_EQ(out->find("vmlinuz"), std::string::npos) << *out;
  }
  EXPECT_NE(renderer_->PxelinuxConfig(*host, later)->find("DEFAULT local"),
            std::string::npos);
  // Still valid a second before expiry.
  EXPECT_TRUE(renderer_->InputFor(*host, now + absl::Seconds(59)).armed);
}

// The inventory's state column arms a host, but until the daemon issued its
// token it is not armed: nothing to install without a token.
TEST_F(BootRendererTest, ArmedWithoutATokenBootsLocally) {
  auto states = HostStateStore::Open(dir_ + "/fresh", inventory_);
  ASSERT_TRUE(states.ok()) << states.status();
  BootRenderer fresh(&site_, &inventory_, states->get(), templates_.get());
  EXPECT_EQ((*states)->Get("armed"), HostState::kInstall);
  absl::StatusOr<std::string> pxe =
      fresh.PxelinuxConfig(*inventory_.FindByHostname("armed"), absl::Now());
  ASSERT_TRUE(pxe.ok());
  EXPECT_NE(pxe->find("DEFAULT local"), std::string::npos) << *pxe;
  EXPECT_EQ(pxe->find("KERNEL"), std::string::npos) << *pxe;
}

// While host-states.tsv cannot be read the store fails closed: no host is
// armed, every menu defaults to the local disk.
TEST_F(BootRendererTest, DegradedStoreBootsEveryHostLocally) {
  const std::string path = dir_ + "/host-states.tsv";
  {
    FILE* f = fopen(path.c_str(), "a");
    ASSERT_NE(f, nullptr);
    fputs("this line does not parse\n", f);
    fclose(f);
  }
  EXPECT_FALSE(states_->Reload().ok());
  ASSERT_FALSE(states_->Degraded().ok());
  absl::optional<std::string> config =
      renderer_->Render("pxelinux.cfg/01-52-54-00-c6-12-01", Own("01"));
  ASSERT_TRUE(config.has_value());
  EXPECT_NE(config->find("DEFAULT local"), std::string::npos) << *config;
  EXPECT_EQ(config->find("KERNEL"), std::string::npos) << *config;
}

// An armed host of an install family gets its install URL (with its current
// token) on the command line; without HTTP (where its files are served)
// nothing is rendered and the disk is asked, never a menu pointing nowhere.
TEST_F(BootRendererTest, InstallFamilyNeedsHttpElseNothingIsRendered) {
  ASSERT_TRUE(states_->Set("debhost", HostState::kInstall).ok());
  const std::string token = (*states_->Snapshot()).at("debhost").token;
  ASSERT_EQ(token.size(), 32u);
  const std::string pxe = "pxelinux.cfg/01-52-54-00-c6-12-05";
  const io::SocketAddress own = From("198.18.0.25");
  EXPECT_FALSE(renderer_->Render(pxe, own).has_value());
  renderer_->set_http_base("http://198.18.0.1:8080");
  absl::optional<std::string> config = renderer_->Render(pxe, own);
  ASSERT_TRUE(config.has_value());
  EXPECT_NE(config->find(absl::StrCat("url=http://198.18.0.1:8080/install/",
                                      token, "/preseed.cfg ")),
            std::string::npos)
      << *config;
  EXPECT_NE(config->find("LABEL rescue\n"), std::string::npos) << *config;
  // Re-arming replaces the token: the next render carries the new one only.
  ASSERT_TRUE(states_->Set("debhost", HostState::kInstall).ok());
  const std::string fresh = (*states_->Snapshot()).at("debhost").token;
  ASSERT_NE(fresh, token);
  config = renderer_->Render(pxe, own);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->find(token), std::string::npos) << *config;
  EXPECT_NE(config->find(fresh), std::string::npos) << *config;
  // Installed: local default, no token anywhere.
  ASSERT_TRUE(states_->Set("debhost", HostState::kInstalled).ok());
  config = renderer_->Render(pxe, own);
  ASSERT_TRUE(config.has_value());
  EXPECT_NE(config->find("DEFAULT local"), std::string::npos) << *config;
  EXPECT_EQ(config->find("/install/"), std::string::npos) << *config;
}

// A host whose profile is missing from site.toml gets the local menu even
// when armed.
TEST_F(BootRendererTest, ArmedWithAnUnknownProfileBootsLocally) {
  absl::optional<std::string> config =
      renderer_->Render("pxelinux.cfg/01-52-54-00-c6-12-04", Own("04"));
  ASSERT_TRUE(config.has_value());
  EXPECT_NE(config->find("DEFAULT local"), std::string::npos) << *config;
  EXPECT_EQ(config->find("KERNEL"), std::string::npos) << *config;
}

}  // namespace
}  // namespace rackboot::site

namespace rackboot::site {
namespace {

TEST(BootProfileConfigTest, ErrorsNameTheKeyAndLine) {
  auto missing = ParseSiteConfig("[[profile]]\nname = \"a\"\n", "site.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(
                "site.toml:1: profile[0].kernel: required key missing"),
            std::string::npos)
      << missing.status();
  auto twice = ParseSiteConfig(
      "[[profile]]\nname = \"a\"\nkernel = \"k\"\n[[profile]]\nname = "
      "\"a\"\nkernel = \"k\"\n",
      "site.toml");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("already defined on line 1"),
            std::string::npos)
      << twice.status();
  auto unknown = ParseSiteConfig(
      "[[profile]]\nname = \"a\"\nkernel = \"k\"\nkernal = \"x\"\n",
      "site.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("profile[0].kernal"),
            std::string::npos)
      << unknown.status();
}

}  // namespace
// CurrentSite skips its lock for names Render can never answer: MayRender
// must be true for every shape Render answers.
TEST(BootRendererNamesTest, MayRenderOnlyPerHostShapes) {
  EXPECT_TRUE(BootRenderer::MayRender("pxelinux.cfg/01-52-54-00-00-00-01"));
  EXPECT_TRUE(
      BootRenderer::MayRender("bios/pxelinux.cfg/01-52-54-00-00-00-01"));
  EXPECT_TRUE(BootRenderer::MayRender("grub.cfg-01-52-54-00-00-00-01"));
  EXPECT_TRUE(BootRenderer::MayRender("grub/grub.cfg-01-52-54-00-00-00-01"));
  EXPECT_TRUE(BootRenderer::MayRender("ipxe/01-52-54-00-00-00-01.ipxe"));
  EXPECT_TRUE(BootRenderer::MayRender("pxelinux.cfg/01-52-54-00-00-00-0A"));
  EXPECT_FALSE(BootRenderer::MayRender("pxelinux.0"));
  EXPECT_FALSE(BootRenderer::MayRender("ldlinux.c32"));
  EXPECT_FALSE(BootRenderer::MayRender("pxelinux.cfg/default"));
  EXPECT_FALSE(BootRenderer::MayRender("debian/linux"));
  EXPECT_FALSE(BootRenderer::MayRender("ipxe/boot.ipxe"));
}

}  // namespace rackboot::site
