#include "engine/install/host_values.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::install {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
constexpr char kBase[] = "http://198.18.0.1:8080";

site::Ipv4Address Ip(const char* text) {
  return *site::Ipv4Address::Parse(text);
}

class HostValuesTest : public ::testing::Test {
 protected:
  HostValuesTest() {
    site_.path = "site.toml";
    site_.server.address = Ip("198.18.0.1");
    site::Subnet subnet;
    subnet.network = Ip("198.18.0.0");
    subnet.prefix_length = 24;
    subnet.router = Ip("198.18.0.254");
    subnet.dns = {Ip("198.18.0.53"), Ip("198.18.0.54")};
    subnet.domain = "lab.example";
    site_.dhcp.subnets.push_back(subnet);
    site_.boot.menu_timeout = 5;
    profile_.name = "deb12";
    profile_.family = site::InstallFamily::kDebianPreseed;
    profile_.kernel = "debian/linux";
    profile_.initrd = "debian/initrd.gz";
    profile_.append = "console=ttyS0 rackboot.host={{hostname}}";
    profile_.source = "/repo/debian";
    profile_.line = 12;
    host_.mac = *site::ParseMac("52:54:00:c6:12:01");
    host_.hostname = "web01";
    host_.address = Ip("198.18.0.10");
    host_.profile = "deb12";
  }

  HostRenderInput Input(bool armed) {
    HostRenderInput in;
    in.site = &site_;
    in.host = &host_;
    in.profile = &profile_;
    in.armed = armed;
    in.token = armed ? kToken : "";
    in.http_base = kBase;
    return in;
  }

  std::string Get(const TemplateValues& v, const char* key) {
    EXPECT_TRUE(v.Get(key).has_value()) << key;
    return v.Get(key).value_or("<none>");
  }

  site::SiteConfig site_;
  site::BootProfile profile_;
  site::InventoryHost host_;
};

TEST_F(HostValuesTest, DefaultsComeFromTheSubnet) {
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "hostname"), "web01");
  EXPECT_EQ(Get(*v, "short_hostname"), "web01");
  EXPECT_EQ(Get(*v, "domain"), "lab.example");
  EXPECT_EQ(Get(*v, "mac"), "52:54:00:c6:12:01");
  EXPECT_EQ(Get(*v, "mac_dashed"), "01-52-54-00-c6-12-01");
  EXPECT_EQ(Get(*v, "ip"), "198.18.0.10");
  EXPECT_EQ(Get(*v, "netmask"), "255.255.255.0");
  EXPECT_EQ(Get(*v, "prefix_length"), "24");
  EXPECT_EQ(Get(*v, "gateway"), "198.18.0.254");
  EXPECT_THAT(*v->GetList("dns"), ElementsAre("198.18.0.53", "198.18.0.54"));
  EXPECT_EQ(Get(*v, "dns_first"), "198.18.0.53");
  EXPECT_EQ(Get(*v, "dns_space"), "198.18.0.53 198.18.0.54");
  EXPECT_EQ(Get(*v, "dns_comma"), "198.18.0.53,198.18.0.54");
  EXPECT_EQ(v->GetBool("static"), true);
  EXPECT_EQ(Get(*v, "disk"), "/dev/sda");
  EXPECT_EQ(Get(*v, "server"), "198.18.0.1");
  EXPECT_EQ(Get(*v, "http_base"), kBase);
  EXPECT_EQ(Get(*v, "profile"), "deb12");
  EXPECT_EQ(Get(*v, "family"), "debian-preseed");
  EXPECT_EQ(v->GetBool("armed"), true);
  EXPECT_EQ(Get(*v, "token"), kToken);
  EXPECT_EQ(Get(*v, "install_url"),
            absl::StrCat(kBase, "/install/", kToken, "/"));
  EXPECT_EQ(Get(*v, "report_url"), absl::StrCat(kBase, "/api/v1/hosts/web01"));
  EXPECT_EQ(Get(*v, "kernel_url"), absl::StrCat(kBase, "/boot/debian/linux"));
  EXPECT_EQ(Get(*v, "initrd_url"),
            absl::StrCat(kBase, "/boot/debian/initrd.gz"));
  EXPECT_EQ(Get(*v, "initrd_name"), "initrd.gz");
  EXPECT_EQ(v->GetBool("has_initrd"), true);
  EXPECT_EQ(Get(*v, "repo_url"), absl::StrCat(kBase, "/repo/debian"));
  EXPECT_EQ(Get(*v, "repo_scheme"), "http");
  EXPECT_EQ(Get(*v, "repo_host"), "198.18.0.1:8080");
  EXPECT_EQ(Get(*v, "repo_dir"), "/repo/debian");
  EXPECT_EQ(v->GetBool("has_repo"), true);
  EXPECT_EQ(Get(*v, "timezone"), "Etc/UTC");
  EXPECT_EQ(Get(*v, "locale"), "en_US.UTF-8");
  EXPECT_EQ(Get(*v, "keyboard"), "us");
  EXPECT_THAT(*v->GetList("packages"), IsEmpty());
  EXPECT_EQ(v->GetBool("lvm"), false);
  EXPECT_EQ(v->GetBool("has_root_password"), false);
  EXPECT_EQ(v->GetBool("has_ssh_keys"), false);
  EXPECT_EQ(Get(*v, "menu_timeout"), "5");
  EXPECT_EQ(Get(*v, "menu_timeout_ds"), "50");
  EXPECT_EQ(Get(*v, "menu_timeout_ms"), "5000");
  EXPECT_EQ(v->GetBool("has_rescue"), true);
  EXPECT_EQ(Get(*v, "rescue_args"),
            "rescue/enable=true console=ttyS0 rackboot.host=web01");
}

TEST_F(HostValuesTest, HostColumnsOverrideTheSubnet) {
  host_.hostname = "web01.dc1.example";
  host_.gateway = Ip("198.18.0.1");
  host_.dns = {Ip("198.18.0.2")};
  host_.disk = "/dev/nvme0n1";
  profile_.disk = "/dev/vda";
  auto v = HostValues(Input(false));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "short_hostname"), "web01");
  EXPECT_EQ(Get(*v, "domain"), "dc1.example");
  EXPECT_EQ(Get(*v, "gateway"), "198.18.0.1");
  EXPECT_EQ(Get(*v, "dns_space"), "198.18.0.2");
  EXPECT_EQ(Get(*v, "disk"), "/dev/nvme0n1");
  host_.disk = "";
  EXPECT_EQ(Get(*HostValues(Input(false)), "disk"), "/dev/vda");
}

TEST_F(HostValuesTest, DebianStaticArmed) {
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "install_args"),
            absl::StrCat("auto=true priority=critical url=", kBase, "/install/",
                         kToken,
                         "/preseed.cfg netcfg/get_hostname=web01 "
                         "netcfg/get_domain=lab.example locale=en_US.UTF-8 "
                         "keymap=us netcfg/disable_autoconfig=true "
                         "netcfg/get_ipaddress=198.18.0.10 "
                         "netcfg/get_netmask=255.255.255.0 "
                         "netcfg/get_gateway=198.18.0.254 "
                         "netcfg/get_nameservers=198.18.0.53 "
                         "netcfg/confirm_static=true "
                         "console=ttyS0 rackboot.host=web01"));
}

TEST_F(HostValuesTest, DebianDhcpArmed) {
  host_.address.reset();
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetBool("static"), false);
  EXPECT_EQ(Get(*v, "ip"), "");
  EXPECT_EQ(Get(*v, "netmask"), "");
  EXPECT_EQ(Get(*v, "gateway"), "");
  EXPECT_EQ(Get(*v, "domain"), "");
  EXPECT_EQ(Get(*v, "install_args"),
            absl::StrCat("auto=true priority=critical url=", kBase, "/install/",
                         kToken,
                         "/preseed.cfg netcfg/get_hostname=web01 "
                         "netcfg/get_domain= locale=en_US.UTF-8 keymap=us "
                         "console=ttyS0 rackboot.host=web01"));
}

TEST_F(HostValuesTest, NotArmedHasNoInstallValues) {
  auto v = HostValues(Input(false));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetBool("armed"), false);
  EXPECT_EQ(Get(*v, "token"), "");
  EXPECT_EQ(Get(*v, "install_url"), "");
  EXPECT_EQ(Get(*v, "install_args"), "console=ttyS0 rackboot.host=web01");
  // A token handed in without armed is not used.
  HostRenderInput in = Input(false);
  in.token = kToken;
  EXPECT_EQ(Get(*HostValues(in), "token"), "");
  // Armed without a profile: nothing to install.
  in = Input(true);
  in.profile = nullptr;
  v = HostValues(in);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetBool("armed"), false);
  EXPECT_EQ(Get(*v, "token"), "");
  EXPECT_EQ(Get(*v, "kernel"), "");
  EXPECT_EQ(v->GetBool("has_rescue"), false);
}

TEST_F(HostValuesTest, RhelStaticAndDhcp) {
  profile_.family = site::InstallFamily::kRhelKickstart;
  profile_.source = "https://mirror.example/rocky/9/BaseOS/x86_64/os";
  profile_.append = "";
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "repo_scheme"), "https");
  EXPECT_EQ(Get(*v, "repo_host"), "mirror.example");
  EXPECT_EQ(Get(*v, "repo_dir"), "/rocky/9/BaseOS/x86_64/os");
  EXPECT_EQ(Get(*v, "install_args"),
            absl::StrCat("inst.ks=", kBase, "/install/", kToken,
                         "/ks.cfg inst.repo=https://mirror.example/rocky/9/"
                         "BaseOS/x86_64/os "
                         "ip=198.18.0.10::198.18.0.254:255.255.255.0:web01::"
                         "none nameserver=198.18.0.53"));
  EXPECT_EQ(Get(*v, "rescue_args"),
            "inst.rescue inst.repo=https://mirror.example/rocky/9/BaseOS/"
            "x86_64/os");
  host_.address.reset();
  profile_.source = "";
  v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetBool("has_repo"), false);
  EXPECT_EQ(
      Get(*v, "install_args"),
      absl::StrCat("inst.ks=", kBase, "/install/", kToken, "/ks.cfg ip=dhcp"));
}

TEST_F(HostValuesTest, UbuntuStaticAndDhcp) {
  profile_.family = site::InstallFamily::kUbuntuAutoinstall;
  profile_.append = "---";
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "disk"), "");  // subiquity picks the largest
  EXPECT_EQ(v->GetBool("has_rescue"), false);
  const std::string args =
      absl::StrCat("autoinstall ds=nocloud-net;s=", kBase, "/install/", kToken,
                   "/ ip=198.18.0.10::198.18.0.254:255.255.255.0:web01::none "
                   "nameserver=198.18.0.53 ---");
  EXPECT_EQ(Get(*v, "install_args"), args);
  EXPECT_EQ(
      Get(*v, "install_args_grub"),
      absl::StrCat("autoinstall 'ds=nocloud-net;s=", kBase, "/install/", kToken,
                   "/' ip=198.18.0.10::198.18.0.254:255.255.255.0:"
                   "web01::none nameserver=198.18.0.53 ---"));
  host_.address.reset();
  v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_THAT(Get(*v, "install_args"), HasSubstr("/ ip=dhcp ---"));
}

TEST_F(HostValuesTest, BootOnlyProfileIsJustTheAppend) {
  profile_.family = site::InstallFamily::kNone;
  profile_.append = "console=ttyS0 ip={{ip}} srv={{server}} p={{profile}}";
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "install_args"),
            "console=ttyS0 ip=198.18.0.10 srv=198.18.0.1 p=deb12");
  EXPECT_EQ(v->GetBool("has_rescue"), false);
  EXPECT_EQ(Get(*v, "family"), "");
  // No HTTP: paths from the root of the TFTP tree.
  HostRenderInput in = Input(true);
  in.http_base = "";
  v = HostValues(in);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "kernel_url"), "/debian/linux");
  EXPECT_EQ(Get(*v, "install_url"), "");
  EXPECT_EQ(Get(*v, "report_url"), "");
  EXPECT_EQ(v->GetBool("has_repo"), false);
}

TEST_F(HostValuesTest, ArmedFamilyNeedsHttp) {
  HostRenderInput in = Input(true);
  in.http_base = "";
  auto v = HostValues(in);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(v.status().message(), HasSubstr("http.listen"));
}

TEST_F(HostValuesTest, AppendErrorsNameTheProfile) {
  profile_.append = "console={{consol}}";
  auto v = HostValues(Input(true));
  EXPECT_EQ(v.status().message(),
            "site.toml:12: profile deb12 append:1: {{consol}}: no such value");
  profile_.append = "x={{hostname";
  EXPECT_THAT(HostValues(Input(true)).status().message(),
              HasSubstr("profile deb12 append:1: unclosed tag"));
  // A value that would break a line is refused, whoever checked it before.
  profile_.append = "";
  profile_.locale = "en\nUS";
  EXPECT_THAT(HostValues(Input(true)).status().message(), HasSubstr("locale"));
}

TEST_F(HostValuesTest, ListsAndFlagsOfTheProfile) {
  profile_.packages = {"openssh-server", "vim"};
  profile_.ssh_keys = {"ssh-ed25519 AAAAC3Nz op@lab"};
  profile_.root_password_hash = "$6$salt$hash";
  profile_.partitioning = "lvm";
  auto v = HostValues(Input(true));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Get(*v, "packages_space"), "openssh-server vim");
  EXPECT_THAT(*v->GetList("ssh_keys"),
              ElementsAre("ssh-ed25519 AAAAC3Nz op@lab"));
  EXPECT_EQ(v->GetBool("has_ssh_keys"), true);
  EXPECT_EQ(v->GetBool("has_root_password"), true);
  EXPECT_EQ(Get(*v, "root_password_hash"), "$6$salt$hash");
  EXPECT_EQ(v->GetBool("lvm"), true);
}

TEST(GrubQuoteArgsTest, QuotesWordsWithSemicolons) {
  EXPECT_EQ(GrubQuoteArgs("a ds=nocloud-net;s=http://x/ b"),
            "a 'ds=nocloud-net;s=http://x/' b");
  EXPECT_EQ(GrubQuoteArgs(""), "");
  EXPECT_EQ(GrubQuoteArgs("x=$y a'b c"), "'x=$y' 'a'\\''b' c");
}

}  // namespace
}  // namespace rackboot::install
