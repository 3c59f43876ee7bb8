#include "engine/site/site_config.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The message of a failed parse of `text` as "site.toml".
std::string ErrorOf(const std::string& text) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(text, "site.toml");
  if (site.ok()) return "(parsed)";
  EXPECT_EQ(site.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(site.status().message());
}

TEST(SiteConfigTest, ExampleParsesToExpectedValues) {
  absl::StatusOr<SiteConfig> site = LoadSiteConfig("examples/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->path, "examples/site.toml");

  EXPECT_EQ(site->server.interface, "br0");
  ASSERT_TRUE(site->server.address.has_value());
  EXPECT_EQ(*site->server.address, Ipv4Address(198, 18, 0, 1));
  EXPECT_EQ(site->server.state_dir, "/var/lib/rackboot");  // absolute: kept
  EXPECT_EQ(site->server.inventory, "examples/inventory.csv");  // relative

  EXPECT_EQ(site->dhcp.mode, DhcpMode::kAuthoritative);
  EXPECT_EQ(site->dhcp.unknown_pxe, UnknownPxePolicy::kDiscover);
  EXPECT_EQ(site->dhcp.lease_seconds, 3600);
  EXPECT_EQ(site->dhcp.offer_seconds, 30);
  EXPECT_EQ(site->dhcp.decline_seconds, 600);
  EXPECT_FALSE(site->dhcp.allow_other_dhcp);
  EXPECT_EQ(site->dhcp.probe_seconds, 5);
  ASSERT_EQ(site->dhcp.subnets.size(), 2u);
  const Subnet& s = site->dhcp.subnets[0];
  EXPECT_EQ(s.network, Ipv4Address(198, 18, 0, 0));
  EXPECT_EQ(s.prefix_length, 16);
  EXPECT_EQ(s.netmask(), Ipv4Address(255, 255, 0, 0));
  EXPECT_EQ(s.broadcast(), Ipv4Address(198, 18, 255, 255));
  ASSERT_TRUE(s.pool.has_value());
  EXPECT_EQ(s.pool->first, Ipv4Address(198, 18, 16, 0));
  EXPECT_EQ(s.pool->last, Ipv4Address(198, 18, 255, 254));
  EXPECT_EQ(s.pool->size(), 240u * 256 - 1);
  EXPECT_EQ(s.router, Ipv4Address(198, 18, 0, 254));
  EXPECT_THAT(s.dns, ::testing::ElementsAre(Ipv4Address(198, 18, 0, 1)));
  EXPECT_EQ(s.domain, "lab.example");
  const Subnet& r = site->dhcp.subnets[1];
  EXPECT_EQ(r.CidrString(), "198.19.0.0/24");
  EXPECT_FALSE(r.pool.has_value());
  EXPECT_EQ(r.dns.size(), 2u);
  EXPECT_EQ(r.domain, "");

  EXPECT_EQ(site->tftp.root, "/srv/rackboot/tftp");
  EXPECT_EQ(site->tftp.listen, "0.0.0.0:69");
  EXPECT_EQ(site->tftp.listen_address, Ipv4Address(0, 0, 0, 0));
  EXPECT_EQ(site->tftp.listen_port, 69);
  EXPECT_EQ(site->tftp.max_blksize, 1468);
  EXPECT_EQ(site->tftp.max_windowsize, 64);
  EXPECT_EQ(site->tftp.max_timeout_ms, 3000);
  EXPECT_EQ(site->tftp.max_transfers, 16384);
  EXPECT_EQ(site->tftp.max_unconfirmed, 1024);
  EXPECT_EQ(site->tftp.max_per_client, 8);

  EXPECT_EQ(site->boot.bios, "pxelinux.0");
  EXPECT_EQ(site->boot.uefi_x64, "bootnetx64.efi");
  EXPECT_EQ(site->boot.uefi_ia32, "");
  EXPECT_EQ(site->boot.arm64, "grubaa64.efi");
  EXPECT_EQ(site->boot.http_boot_url, "");
  EXPECT_EQ(site->boot.ipxe_script, "");
  EXPECT_EQ(site->boot.ipxe_bios, "undionly.kpxe");
  EXPECT_EQ(site->boot.ipxe_uefi, "snponly.efi");
  EXPECT_EQ(site->boot.uefi_http, "snponly.efi");
  EXPECT_EQ(site->boot.menu_timeout, 5);
  // Copying the example must never give armed hosts a silent local boot: it
  // defines the profiles examples/inventory.csv names.
  ASSERT_EQ(site->profiles.size(), 3u);
  const BootProfile& debian = site->profiles[0];
  EXPECT_EQ(debian.name, "debian12");
  EXPECT_EQ(debian.family, InstallFamily::kDebianPreseed);
  EXPECT_EQ(debian.kernel, "debian12/linux");
  EXPECT_EQ(debian.initrd, "debian12/initrd.gz");
  EXPECT_EQ(debian.append, "console=tty0 console=ttyS0,115200n8");
  EXPECT_EQ(debian.source, "http://deb.debian.org/debian");
  EXPECT_EQ(debian.disk, "/dev/sda");
  EXPECT_EQ(debian.partitioning, "lvm");
  EXPECT_EQ(debian.timezone, "Etc/UTC");
  EXPECT_EQ(debian.locale, "en_US.UTF-8");
  EXPECT_EQ(debian.keyboard, "us");
  EXPECT_THAT(debian.packages,
              ::testing::ElementsAre("openssh-server", "curl"));
  EXPECT_THAT(debian.root_password_hash, ::testing::StartsWith("$6$"));
  ASSERT_EQ(debian.ssh_keys.size(), 1u);
  EXPECT_THAT(debian.ssh_keys[0], ::testing::StartsWith("ssh-ed25519 AAAA"));
  EXPECT_EQ(debian.template_file, "");
  const BootProfile& rocky = site->profiles[1];
  EXPECT_EQ(rocky.name, "rocky9");
  EXPECT_EQ(rocky.family, InstallFamily::kRhelKickstart);
  EXPECT_EQ(rocky.kernel, "rocky9/vmlinuz");
  EXPECT_EQ(rocky.initrd, "rocky9/initrd.img");
  EXPECT_EQ(rocky.source, "/repo/rocky9");
  EXPECT_EQ(rocky.disk, "");
  EXPECT_EQ(rocky.timezone, "Europe/Berlin");
  EXPECT_THAT(rocky.packages,
              ::testing::ElementsAre("@core", "vim-enhanced", "chrony"));
  EXPECT_EQ(rocky.root_password_hash, "");  // root locked
  const BootProfile& ubuntu = site->profiles[2];
  EXPECT_EQ(ubuntu.family, InstallFamily::kUbuntuAutoinstall);
  EXPECT_EQ(ubuntu.append,
            "url={{http_base}}/repo/ubuntu2404/"
            "ubuntu-24.04-live-server-amd64.iso");
  EXPECT_EQ(ubuntu.keyboard, "gb");
  EXPECT_EQ(ubuntu.partitioning, "plain");
  EXPECT_EQ(site->install.token_ttl, absl::Hours(6));
  // The line its documentation quotes.
  EXPECT_EQ(site->Where("profile[0].kernel"),
            "examples/site.toml:199: profile[0].kernel");
  EXPECT_EQ(site->Where("tftp.root"), "examples/site.toml:112: tftp.root");
  EXPECT_EQ(site->Where("boot.bios"), "examples/site.toml:139: boot.bios");

  EXPECT_EQ(site->http.listen, "0.0.0.0:8080");
  EXPECT_EQ(site->http.listen_port, 8080);
  EXPECT_EQ(site->http.repo_root, "/srv/rackboot/repo");
  EXPECT_EQ(site->http.max_connections, 4096);
  EXPECT_EQ(site->status.stall_dhcp, absl::Minutes(2));
  EXPECT_EQ(site->status.stall_installing, absl::Hours(2));
  EXPECT_THAT(site->Where("status.stall_booting"), HasSubstr("site.toml:"));
  EXPECT_EQ(site->http.header_timeout_ms, 10000);
  EXPECT_EQ(site->http.idle_timeout_ms, 30000);

  EXPECT_EQ(site->SubnetFor(Ipv4Address(198, 18, 200, 1)), &s);
  EXPECT_EQ(site->SubnetFor(Ipv4Address(198, 19, 0, 77)), &r);
  EXPECT_EQ(site->SubnetFor(Ipv4Address(198, 19, 1, 1)), nullptr);
  EXPECT_EQ(site->SubnetFor(Ipv4Address(10, 0, 0, 1)), nullptr);
}

TEST(SiteConfigTest, EmptyFileIsAllDefaults) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig("", "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->server.interface, "");
  EXPECT_FALSE(site->server.address.has_value());
  EXPECT_EQ(site->server.state_dir, "/var/lib/rackboot");
  EXPECT_EQ(site->server.inventory, "inventory.csv");
  EXPECT_EQ(site->server.user, "nobody");
  EXPECT_EQ(site->dhcp.mode, DhcpMode::kOff);
  EXPECT_EQ(site->dhcp.unknown_pxe, UnknownPxePolicy::kIgnore);
  EXPECT_EQ(site->dhcp.lease_seconds, 3600);
  EXPECT_EQ(site->dhcp.offer_seconds, 30);
  EXPECT_EQ(site->dhcp.decline_seconds, 600);
  EXPECT_FALSE(site->dhcp.allow_other_dhcp);
  EXPECT_TRUE(site->dhcp.subnets.empty());
  EXPECT_EQ(site->tftp.root, "");
  EXPECT_EQ(site->tftp.listen, "0.0.0.0:69");
  EXPECT_EQ(site->tftp.listen_port, 69);
  EXPECT_EQ(site->tftp.max_blksize, 1468);
  EXPECT_EQ(site->tftp.max_windowsize, 64);
  EXPECT_EQ(site->boot.bios, "");
  EXPECT_EQ(site->boot.uefi_x64, "");
  EXPECT_EQ(site->boot.arm64, "");
  EXPECT_EQ(site->boot.http_boot_url, "");
  EXPECT_EQ(site->boot.ipxe_script, "");
  EXPECT_EQ(site->boot.menu_timeout, 3);
  EXPECT_EQ(site->http.listen, "");  // HTTP off
  EXPECT_EQ(site->http.repo_root, "");
  EXPECT_EQ(site->http.max_connections, 4096);
  EXPECT_EQ(site->http.header_timeout_ms, 10000);
  EXPECT_EQ(site->http.idle_timeout_ms, 30000);
  EXPECT_EQ(site->api.token_file, "");  // no token: writes from loopback
  EXPECT_EQ(site->SubnetFor(Ipv4Address(198, 18, 0, 1)), nullptr);
}

TEST(SiteConfigTest, RelativePathsFollowTheFile) {
  const std::string text =
      "[server]\nstate_dir = \"state\"\n[tftp]\nroot = \"tftp\"\n"
      "[http]\nrepo_root = \"repo\"\n[api]\ntoken_file = \"token\"\n";
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(text, "/etc/rb/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->http.repo_root, "/etc/rb/repo");
  EXPECT_EQ(site->api.token_file, "/etc/rb/token");
  EXPECT_EQ(site->server.state_dir, "/etc/rb/state");
  EXPECT_EQ(site->server.inventory, "/etc/rb/inventory.csv");
  EXPECT_EQ(site->tftp.root, "/etc/rb/tftp");

  site = ParseSiteConfig(text, "/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->server.inventory, "/inventory.csv");

  site = ParseSiteConfig(text, "site.toml");  // no directory: unchanged
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->server.state_dir, "state");
}

TEST(SiteConfigTest, ApiSectionErrorsNameTheLine) {
  EXPECT_EQ(
      ErrorOf("[api]\ntoken = \"x\"\n"),
      "site.toml:2: api.token: unknown key (expected one of: token_file)");
  EXPECT_THAT(ErrorOf("[api]\ntoken_file = 3\n"),
              ::testing::HasSubstr("site.toml:2: api.token_file"));
  EXPECT_THAT(ErrorOf("[api]\ntoken_file = \"a\\nb\"\n"),
              ::testing::HasSubstr("site.toml:2: api.token_file"));
}

TEST(SiteConfigTest, SyntaxErrorNamesLineAndColumn) {
  const std::string message = ErrorOf("[dhcp]\nmode = \"off\"\nlease = 3 3\n");
  EXPECT_THAT(message, HasSubstr("site.toml:3:"));
  EXPECT_THAT(message, HasSubstr("syntax error"));
}

// Inputs that reach undefined behaviour or an abort inside toml++ 3.3 are
// rejected with ordinary errors first (see site_config.cc): site.toml is ASCII.
TEST(SiteConfigTest, TomlPlusPlusBugsAreSyntaxErrors) {
  const std::string kAscii =
      "syntax error: non-ASCII character; site.toml must be plain ASCII";
  EXPECT_THAT(ErrorOf("a = 1\n\xc8\xb1"),
              HasSubstr("site.toml:2:1: " + kAscii));
  EXPECT_THAT(ErrorOf("[&"), HasSubstr("site.toml:1:2: syntax error"));
  EXPECT_THAT(ErrorOf("[[ &"), HasSubstr("site.toml:1:"));
  EXPECT_THAT(ErrorOf("s = \"\"\"\\\n\xc2\xa7\"\"\"\n"),
              HasSubstr("site.toml:2:1: " + kAscii));
  EXPECT_THAT(ErrorOf("x = 1.\"\xc8\x86\"\n"),
              HasSubstr("site.toml:1:8: " + kAscii));
  // Found by libFuzzer: a quote after a malformed number, then non-ASCII.
  EXPECT_THAT(ErrorOf("serlksize = 1.+\"f{'[d[dhcpcdhod\xc4\x8f:gg\n"),
              HasSubstr("site.toml:1:32: " + kAscii));
  // Comments and strings too: the rule is simple and safe.
  EXPECT_THAT(ErrorOf("# caf\xc3\xa9\n"),
              HasSubstr("site.toml:1:6: " + kAscii));
  EXPECT_THAT(ErrorOf("[boot]\nmenu_prompt = \"d\xc3\xa9marrage\"\n"),
              HasSubstr("site.toml:2:17: " + kAscii));
}

TEST(SiteConfigTest, StatusStallBounds) {
  absl::StatusOr<SiteConfig> defaults = ParseSiteConfig("", "site.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->status.stall_dhcp, absl::Minutes(2));
  EXPECT_EQ(defaults->status.stall_booting, absl::Minutes(10));
  EXPECT_EQ(defaults->status.stall_installing, absl::Hours(2));
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[status]\nstall_dhcp = \"90s\"\nstall_booting = \"1h30m\"\n"
      "stall_installing = \"3h\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->status.stall_dhcp, absl::Seconds(90));
  EXPECT_EQ(site->status.stall_booting, absl::Minutes(90));
  EXPECT_EQ(site->status.stall_installing, absl::Hours(3));
  EXPECT_EQ(site->Where("status.stall_booting"),
            "site.toml:3: status.stall_booting");
  EXPECT_EQ(ErrorOf("[status]\n\nstall_dhcp = \"2x\"\n"),
            "site.toml:3: status.stall_dhcp: \"2x\": not a duration (e.g. "
            "\"90s\", \"10m\", \"2h\")");
  EXPECT_EQ(ErrorOf("[status]\nstall_booting = 600\n"),
            "site.toml:2: status.stall_booting: expected a string, got "
            "integer");
  EXPECT_EQ(ErrorOf("[status]\nstall_installing = \"5s\"\n"),
            "site.toml:2: status.stall_installing: \"5s\": must be "
            "10s..168h");
  EXPECT_EQ(ErrorOf("[status]\nstall_dhcp = \"-2m\"\n"),
            "site.toml:2: status.stall_dhcp: \"-2m\": must be 10s..168h");
  EXPECT_EQ(ErrorOf("[status]\nstall_dhcp = \"inf\"\n"),
            "site.toml:2: status.stall_dhcp: \"inf\": not a duration (e.g. "
            "\"90s\", \"10m\", \"2h\")");
  EXPECT_EQ(ErrorOf("[status]\nstall_dcp = \"2m\"\n"),
            "site.toml:2: status.stall_dcp: unknown key (did you mean "
            "\"stall_dhcp\"?)");
}

TEST(SiteConfigTest, UnknownKeysAreErrorsWithSuggestions) {
  EXPECT_EQ(ErrorOf("[server]\ninterface = \"br0\"\nadress = \"198.18.0.1\"\n"),
            "site.toml:3: server.adress: unknown key (did you mean "
            "\"address\"?)");
  EXPECT_THAT(ErrorOf("[dhcp]\nlease_second = 60\n"),
              HasSubstr("site.toml:2: dhcp.lease_second: unknown key (did you "
                        "mean \"lease_seconds\"?)"));
  EXPECT_THAT(ErrorOf("[web]\nport = 80\n"),
              HasSubstr("site.toml:1: web: unknown key (expected one of: "
                        "server, dhcp, tftp, boot, profile, http, status, "
                        "api, install)"));
  EXPECT_THAT(ErrorOf("[http]\nport = 80\n"),
              HasSubstr("site.toml:2: http.port: unknown key (expected one of: "
                        "listen, repo_root, max_connections"));
  EXPECT_THAT(ErrorOf("[[dhcp.subnet]]\ncidr = \"10.0.0.0/8\"\nrouters = "
                      "\"10.0.0.1\"\n"),
              HasSubstr("site.toml:3: dhcp.subnet[0].routers: unknown key "
                        "(did you mean \"router\"?)"));
}

TEST(SiteConfigTest, AllErrorsAreReported) {
  const std::string message =
      ErrorOf("[dhcp]\nmode = \"authorative\"\nunknown_pxe = \"install\"\n");
  EXPECT_THAT(message,
              HasSubstr("site.toml:2: dhcp.mode: \"authorative\": expected "
                        "authoritative, proxy or off"));
  EXPECT_THAT(message,
              HasSubstr("\nsite.toml:3: dhcp.unknown_pxe: \"install\": "
                        "expected ignore, localboot or discover"));
}

TEST(SiteConfigTest, TypeAndRangeErrors) {
  EXPECT_EQ(ErrorOf("[dhcp]\nlease_seconds = \"3600\"\n"),
            "site.toml:2: dhcp.lease_seconds: expected an integer, got string");
  EXPECT_EQ(ErrorOf("[dhcp]\n\nlease_seconds = 59\n"),
            "site.toml:3: dhcp.lease_seconds: 59: must be 60..31536000");
  EXPECT_THAT(ErrorOf("[dhcp]\nlease_seconds = 31536001\n"),
              HasSubstr("must be 60..31536000"));
  EXPECT_THAT(ErrorOf("[dhcp]\noffer_seconds = 0\n"),
              HasSubstr("dhcp.offer_seconds: 0: must be 1..3600"));
  EXPECT_THAT(ErrorOf("[dhcp]\nprobe_seconds = 2\n"),
              HasSubstr("dhcp.probe_seconds: 2: must be 5..60"));
  EXPECT_THAT(ErrorOf("[dhcp]\nallow_other_dhcp = \"yes\"\n"),
              HasSubstr("dhcp.allow_other_dhcp: expected true or false, got "
                        "string"));
  EXPECT_THAT(ErrorOf("[tftp]\nmax_blksize = 7\n"),
              HasSubstr("site.toml:2: tftp.max_blksize: 7: must be 8..65464"));
  EXPECT_THAT(ErrorOf("[tftp]\nmax_blksize = 65465\n"),
              HasSubstr("must be 8..65464"));
  EXPECT_THAT(ErrorOf("[tftp]\nmax_windowsize = 0\n"),
              HasSubstr("tftp.max_windowsize: 0: must be 1..65535"));
  EXPECT_THAT(ErrorOf("[tftp]\nmax_windowsize = 1.5\n"),
              HasSubstr("expected an integer, got float"));
  EXPECT_THAT(ErrorOf("[boot]\nmenu_timeout = 256\n"),
              HasSubstr("boot.menu_timeout: 256: must be 0..255"));
  EXPECT_THAT(ErrorOf("server = 1\n"),
              HasSubstr("site.toml:1: server: expected a table, got integer"));
  EXPECT_THAT(ErrorOf("[server]\naddress = \"198.18.0.300\"\n"),
              HasSubstr("site.toml:2: server.address: \"198.18.0.300\": not "
                        "an IPv4 address"));
  EXPECT_THAT(ErrorOf("[server]\ninterface = \"eth0/1\"\n"),
              HasSubstr("server.interface: \"eth0/1\": not an interface name"));
  EXPECT_THAT(ErrorOf("[server]\nuser = \"no body\"\n"),
              HasSubstr("server.user: \"no body\": not a user name"));
  EXPECT_THAT(ErrorOf("[server]\nstate_dir = \"\"\n"),
              HasSubstr("server.state_dir: \"\": expected a non-empty path"));
  EXPECT_THAT(ErrorOf("[tftp]\nlisten = \"0.0.0.0\"\n"),
              HasSubstr("tftp.listen: \"0.0.0.0\": expected address:port"));
  EXPECT_THAT(ErrorOf("[tftp]\nlisten = \"0.0.0.0:70000\"\n"),
              HasSubstr("port must be 1..65535"));
  EXPECT_THAT(ErrorOf("[boot]\nhttp_boot_url = \"bootx64.efi\"\n"),
              HasSubstr("boot.http_boot_url: \"bootx64.efi\": expected a URL"));
  EXPECT_THAT(ErrorOf("[boot]\nipxe_script = \"ftp://x/boot.ipxe\"\n"),
              HasSubstr("boot.ipxe_script"));
  EXPECT_EQ(ErrorOf("[http]\nlisten = \"0.0.0.0\"\n"),
            "site.toml:2: http.listen: \"0.0.0.0\": expected address:port, "
            "e.g. 0.0.0.0:69");
  EXPECT_THAT(ErrorOf("[http]\n\nlisten = \"1.2.3.4:0\"\n"),
              HasSubstr("site.toml:3: http.listen: \"1.2.3.4:0\": port must "
                        "be 1..65535"));
  EXPECT_THAT(ErrorOf("[http]\nmax_connections = 0\n"),
              HasSubstr("site.toml:2: http.max_connections: 0: must be "
                        "1..1048576"));
  EXPECT_THAT(ErrorOf("[http]\nheader_timeout_ms = 99\n"),
              HasSubstr("http.header_timeout_ms: 99: must be 100..3600000"));
  EXPECT_THAT(ErrorOf("[http]\nidle_timeout_ms = 3600001\n"),
              HasSubstr("http.idle_timeout_ms: 3600001: must be 100..3600000"));
  EXPECT_THAT(ErrorOf("[http]\nrepo_root = 5\n"),
              HasSubstr("http.repo_root: expected a string, got integer"));
  EXPECT_THAT(ErrorOf("[http]\nlisten_on = \"x\"\n"),
              HasSubstr("site.toml:2: http.listen_on: unknown key"));
  EXPECT_THAT(ErrorOf("[boot]\nbios = \"a\\nb\"\n"),
              HasSubstr("boot.bios: \"a\\x0ab\": control characters"));
}

TEST(SiteConfigTest, IpxeScriptMayBeAFileOrTftpUrl) {
  for (const char* value : {"boot.ipxe", "tftp://198.18.0.1/boot.ipxe",
                            "https://boot.lab.example/boot.ipxe"}) {
    absl::StatusOr<SiteConfig> site = ParseSiteConfig(
        absl::StrCat("[boot]\nipxe_script = \"", value, "\"\n"), "s.toml");
    ASSERT_TRUE(site.ok()) << site.status();
    EXPECT_EQ(site->boot.ipxe_script, value);
  }
}

TEST(SiteConfigTest, UefiHttpIsAFileAndExcludesHttpBootUrl) {
  EXPECT_THAT(ErrorOf("[boot]\nuefi_http = \"http://x/snponly.efi\"\n"),
              HasSubstr("boot.uefi_http: \"http://x/snponly.efi\": expected "
                        "a file name beneath tftp.root"));
  EXPECT_THAT(
      ErrorOf("[boot]\nhttp_boot_url = \"http://x/a.efi\"\n"
              "uefi_http = \"snponly.efi\"\n"),
      HasSubstr("site.toml:3: boot.uefi_http: \"snponly.efi\": set either"));
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[boot]\nipxe_bios = \"undionly.kpxe\"\nipxe_uefi = \"ipxe.efi\"\n"
      "uefi_http = \"efi/snponly.efi\"\n",
      "s.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->boot.ipxe_bios, "undionly.kpxe");
  EXPECT_EQ(site->boot.ipxe_uefi, "ipxe.efi");
  EXPECT_EQ(site->boot.uefi_http, "efi/snponly.efi");
  EXPECT_EQ(site->Where("boot.uefi_http"), "s.toml:4: boot.uefi_http");
}

TEST(SiteConfigTest, SubnetErrors) {
  auto subnet = [](const std::string& body) {
    return ErrorOf("[dhcp]\nmode = \"proxy\"\n[[dhcp.subnet]]\n" + body);
  };
  EXPECT_EQ(subnet("pool = \"10.0.0.10-10.0.0.20\"\n"),
            "site.toml:3: dhcp.subnet[0].cidr: required key missing (e.g. "
            "cidr = \"198.18.0.0/16\")");
  EXPECT_EQ(subnet("cidr = \"198.18.0.1/16\"\n"),
            "site.toml:4: dhcp.subnet[0].cidr: \"198.18.0.1/16\": host bits "
            "set (did you mean 198.18.0.0/16?)");
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/33\"\n"),
              HasSubstr("prefix length must be 0..32"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0\"\n"),
              HasSubstr("expected address/prefix-length"));
  EXPECT_EQ(subnet("cidr = \"198.18.0.0/24\"\npool = "
                   "\"198.18.0.10-198.18.0.5\"\n"),
            "site.toml:5: dhcp.subnet[0].pool: \"198.18.0.10-198.18.0.5\": "
            "start after end");
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\npool = "
                     "\"198.18.0.10-198.18.1.5\"\n"),
              HasSubstr("dhcp.subnet[0].pool: \"198.18.0.10-198.18.1.5\": "
                        "not inside 198.18.0.0/24"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\npool = "
                     "\"198.18.0.0-198.18.0.100\"\n"),
              HasSubstr("includes the network address 198.18.0.0"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\npool = "
                     "\"198.18.0.100-198.18.0.255\"\n"),
              HasSubstr("or the broadcast address 198.18.0.255"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\npool = \"198.18.0.100\"\n"),
              HasSubstr("expected first-last"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\nrouter = \"198.18.1.1\"\n"),
              HasSubstr("site.toml:5: dhcp.subnet[0].router: \"198.18.1.1\": "
                        "not inside 198.18.0.0/24"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\npool = "
                     "\"198.18.0.1-198.18.0.99\"\nrouter = \"198.18.0.1\"\n"),
              HasSubstr("dhcp.subnet[0].router: \"198.18.0.1\": inside the "
                        "pool"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\ndns = \"198.18.0.1\"\n"),
              HasSubstr("dhcp.subnet[0].dns: expected an array of addresses"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\ndns = [\"198.18.0.1\", "
                     "\"x\"]\n"),
              HasSubstr("site.toml:5: dhcp.subnet[0].dns[1]: \"x\": not an "
                        "IPv4 address"));
  EXPECT_THAT(subnet("cidr = \"198.18.0.0/24\"\ndomain = \"lab_example\"\n"),
              HasSubstr("dhcp.subnet[0].domain: \"lab_example\": character"));
  EXPECT_THAT(ErrorOf("[dhcp.subnet]\ncidr = \"198.18.0.0/24\"\n"),
              HasSubstr("dhcp.subnet: expected an array of tables"));
}

TEST(SiteConfigTest, PoolAtTheEdgesOfSmallSubnets) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/31\"\npool = "
      "\"198.18.0.0-198.18.0.1\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();  // RFC 3021: no network/broadcast
  EXPECT_EQ(site->dhcp.subnets[0].pool->size(), 2u);

  site = ParseSiteConfig(
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/30\"\npool = "
      "\"198.18.0.1-198.18.0.2\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
}

TEST(SiteConfigTest, OverlappingSubnets) {
  const std::string message = ErrorOf(
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/16\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.19.0.0/16\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.18.4.0/24\"\n");
  EXPECT_EQ(message,
            "site.toml:5: dhcp.subnet: 198.18.4.0/24: overlaps 198.18.0.0/16 "
            "(line 1)");
}

TEST(SiteConfigTest, CrossChecks) {
  EXPECT_THAT(ErrorOf("[dhcp]\nmode = \"authoritative\"\n"),
              HasSubstr("site.toml:2: dhcp.mode: \"authoritative\" needs at "
                        "least one [[dhcp.subnet]]"));
  EXPECT_THAT(ErrorOf("[server]\naddress = \"198.18.0.50\"\n"
                      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\n"
                      "pool = \"198.18.0.10-198.18.0.99\"\n"),
              HasSubstr("site.toml:2: server.address: \"198.18.0.50\": inside "
                        "dhcp.subnet[0].pool"));
  // Proxy mode needs no subnet.
  EXPECT_TRUE(ParseSiteConfig("[dhcp]\nmode = \"proxy\"\n", "s").ok());
}

// The option 43 menu was never sent; a site.toml that still has it is told
// what replaced it rather than silently ignored.
TEST(SiteConfigTest, RemovedBootMenuIsAnError) {
  EXPECT_THAT(ErrorOf("[[boot.menu]]\nlabel = \"x\"\nfile = \"y\"\n"
                      "arch = \"bios\"\n"),
              HasSubstr("site.toml:1: boot.menu: removed: rackbootd never "
                        "sent the option 43 PXE menu"));
  EXPECT_THAT(ErrorOf("[boot]\nmenu_prompt = \"F8\"\n"),
              HasSubstr("site.toml:2: boot.menu_prompt: removed"));
}

TEST(SiteConfigTest, ManyErrorsAreCapped) {
  std::string text = "[dhcp]\n";
  for (int i = 0; i < 80; ++i) absl::StrAppend(&text, "k", i, " = 1\n");
  const std::string message = ErrorOf(text);
  EXPECT_THAT(message, HasSubstr("site.toml: 30 more errors"));
}

TEST(SiteConfigTest, ArchitectureMapping) {
  EXPECT_EQ(BootArchForClientArch(0), BootArch::kBios);
  EXPECT_EQ(BootArchForClientArch(6), BootArch::kUefiIa32);
  EXPECT_EQ(BootArchForClientArch(7), BootArch::kUefiX64);
  EXPECT_EQ(BootArchForClientArch(9), BootArch::kUefiX64);
  EXPECT_EQ(BootArchForClientArch(11), BootArch::kArm64);
  EXPECT_EQ(BootArchForClientArch(16), BootArch::kHttp);
  EXPECT_EQ(BootArchForClientArch(2), absl::nullopt);   // Itanium
  EXPECT_EQ(BootArchForClientArch(10), absl::nullopt);  // ARM 32
  BootConfig boot;
  boot.uefi_x64 = "x64.efi";
  boot.http_boot_url = "http://h/x";
  EXPECT_EQ(boot.FileFor(BootArch::kUefiX64), "x64.efi");
  EXPECT_EQ(boot.FileFor(BootArch::kHttp), "http://h/x");
  EXPECT_EQ(boot.FileFor(BootArch::kBios), "");
}

TEST(SiteConfigTest, LoadErrorsNameThePath) {
  absl::StatusOr<SiteConfig> site = LoadSiteConfig("/nonexistent/site.toml");
  ASSERT_FALSE(site.ok());
  EXPECT_EQ(site.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(site.status().message(), HasSubstr("/nonexistent/site.toml"));
}

TEST(SiteConfigTest, CheckDnsNameAndEditDistance) {
  EXPECT_TRUE(CheckDnsName("node-01.lab.example").ok());
  EXPECT_FALSE(CheckDnsName("-node").ok());
  EXPECT_FALSE(CheckDnsName("node.").ok());
  EXPECT_FALSE(CheckDnsName("a..b").ok());
  EXPECT_FALSE(CheckDnsName(std::string(64, 'a')).ok());
  EXPECT_TRUE(CheckDnsName(std::string(63, 'a')).ok());
  EXPECT_EQ(EditDistance("adress", "address"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_THAT(ErrorOf("[tftp]\nzzzzzz = 1\n"), Not(HasSubstr("did you mean")));
}

// Checks made after parsing (the boot files against the disk) name
// site.toml:line through the recorded key lines.
TEST(SiteConfigTest, RecordsTheLineOfEveryKey) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[tftp]\nroot = \"/srv\"\n\n[boot]\nbios = \"p.0\"\n"
      "menu_timeout = 2\n\n\n"
      "[[profile]]\nname = \"x\"\nkernel = \"k\"\n"
      "[[profile]]\nname = \"y\"\nkernel = \"k\"\ninitrd = \"i\"\n",
      "/etc/rackboot/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->Where("tftp.root"), "/etc/rackboot/site.toml:2: tftp.root");
  EXPECT_EQ(site->Where("boot.bios"), "/etc/rackboot/site.toml:5: boot.bios");
  EXPECT_EQ(site->Where("boot.menu_timeout"),
            "/etc/rackboot/site.toml:6: boot.menu_timeout");
  EXPECT_EQ(site->Where("profile[0].kernel"),
            "/etc/rackboot/site.toml:11: profile[0].kernel");
  EXPECT_EQ(site->Where("profile[1].initrd"),
            "/etc/rackboot/site.toml:15: profile[1].initrd");
  EXPECT_EQ(site->Where("boot.arm64"), "boot.arm64");  // not in the file
}

// ---- Issue 14: the install keys of [[profile]] and [install]. ----

constexpr char kEd25519[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIPckLQcO/9RT8v52L4THnXSK1qfBZnXpPA4piQUOryFh "
    "admin@lab";
constexpr char kEcdsa[] =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNJNOQIRDBt0+oTdyx/"
    "cVxFnh/rdKYWnVWeb7dZ/mZ8MSujGiZg5FY6nEQmrdcknRPxtROzRqP/ei6nyw+i3LNM= ops "
    "key";
constexpr char kHash[] =
    "$6$rackbootsalt$egxj6mERT5inUA/DaDt6ssCJ71EenwbQdiNURYghHCMPMmfg9iwTzmXU5x"
    "DPZeT/lr1cHPGtRVqryqeG6zaRu1";

// site.toml text with one profile: name and kernel on lines 2 and 3, then
// `body` from line 4 on.
std::string WithProfile(const std::string& body) {
  return "[[profile]]\nname = \"p\"\nkernel = \"k\"\n" + body;
}

// The error of a profile with `key = <toml value>` on line 4.
std::string ProfileError(const std::string& key, const std::string& value) {
  return ErrorOf(WithProfile(key + " = " + value + "\n"));
}

// The parsed profile of `body`, which must be fine.
BootProfile ProfileOf(const std::string& body,
                      const std::string& rest = "[http]\nrepo_root = \"r\"\n") {
  absl::StatusOr<SiteConfig> site =
      ParseSiteConfig(WithProfile(body) + rest, "/etc/rb/site.toml");
  EXPECT_TRUE(site.ok()) << site.status();
  if (!site.ok() || site->profiles.empty()) return BootProfile{};
  return site->profiles[0];
}

TEST(ProfileInstallKeysTest, EveryKeyParses) {
  const BootProfile p = ProfileOf(absl::StrCat(
      "family = \"rhel-kickstart\"\ninitrd = \"i\"\n"
      "append = \"console=ttyS0 inst.sshd ds=nocloud-net;s={{install_url}} "
      "h={{hostname}}\"\n"
      "source = \"/repo/rocky-9.4/BaseOS_x86-64\"\n"
      "disk = \"/dev/disk/by-id/nvme-Samsung_SSD_980_S64D:1\"\n"
      "partitioning = \"lvm\"\ntimezone = \"America/Argentina/Buenos_Aires\"\n"
      "locale = \"sr_RS.UTF-8@latin\"\nkeyboard = \"de-latin1\"\n"
      "packages = [\"@core\", \"gcc-c++\", \"python3.11\", \"libstdc++_x\"]\n"
      "root_password_hash = \"",
      kHash, "\"\nssh_keys = [\"", kEd25519, "\", \"", kEcdsa,
      "\"]\ntemplate_file = \"templates/ks.mustache\"\n"));
  EXPECT_EQ(p.family, InstallFamily::kRhelKickstart);
  EXPECT_EQ(InstallFamilyName(p.family), "rhel-kickstart");
  EXPECT_EQ(p.append,
            "console=ttyS0 inst.sshd ds=nocloud-net;s={{install_url}} "
            "h={{hostname}}");
  EXPECT_EQ(p.source, "/repo/rocky-9.4/BaseOS_x86-64");
  EXPECT_EQ(p.disk, "/dev/disk/by-id/nvme-Samsung_SSD_980_S64D:1");
  EXPECT_EQ(p.partitioning, "lvm");
  EXPECT_EQ(p.timezone, "America/Argentina/Buenos_Aires");
  EXPECT_EQ(p.locale, "sr_RS.UTF-8@latin");
  EXPECT_EQ(p.keyboard, "de-latin1");
  EXPECT_THAT(p.packages, ::testing::ElementsAre("@core", "gcc-c++",
                                                 "python3.11", "libstdc++_x"));
  EXPECT_EQ(p.root_password_hash, kHash);
  EXPECT_THAT(p.ssh_keys, ::testing::ElementsAre(kEd25519, kEcdsa));
  // Relative to site.toml's directory, like every path.
  EXPECT_EQ(p.template_file, "/etc/rb/templates/ks.mustache");

  for (auto [word, family] :
       {std::pair{"debian-preseed", InstallFamily::kDebianPreseed},
        std::pair{"ubuntu-autoinstall", InstallFamily::kUbuntuAutoinstall}}) {
    EXPECT_EQ(ProfileOf(absl::StrCat("family = \"", word, "\"\n")).family,
              family);
  }
  // URLs, the rounds= form of SHA-crypt, an absolute template, "" = locked.
  EXPECT_EQ(ProfileOf("source = \"https://user@mirror.example:8443/el/9/"
                      "%7Eos_x~1+2\"\n")
                .source,
            "https://user@mirror.example:8443/el/9/%7Eos_x~1+2");
  EXPECT_EQ(ProfileOf("source = \"ftp://ftp.example/pub\"\n").source,
            "ftp://ftp.example/pub");
  EXPECT_EQ(ProfileOf("root_password_hash = \"$6$rounds=10000$s$abc\"\n")
                .root_password_hash,
            "$6$rounds=10000$s$abc");
  EXPECT_EQ(ProfileOf("root_password_hash = \"$y$j9T$salt$hash\"\n")
                .root_password_hash,
            "$y$j9T$salt$hash");
  EXPECT_EQ(ProfileOf("root_password_hash = \"\"\n").root_password_hash, "");
  EXPECT_EQ(ProfileOf("template_file = \"/srv/t.mustache\"\n").template_file,
            "/srv/t.mustache");
  EXPECT_EQ(ProfileOf("ssh_keys = [\"ssh-ed25519 "
                      "AAAAC3NzaC1lZDI1NTE5AAAAIPckLQcO/"
                      "9RT8v52L4THnXSK1qfBZnXpPA4piQUOryFh\"]\n")
                .ssh_keys.size(),
            1u);  // no comment
}

TEST(ProfileInstallKeysTest, Defaults) {
  const BootProfile p = ProfileOf("");
  EXPECT_EQ(p.family, InstallFamily::kNone);
  EXPECT_EQ(InstallFamilyName(p.family), "");
  EXPECT_EQ(p.append, "");
  EXPECT_EQ(p.source, "");
  EXPECT_EQ(p.disk, "");
  EXPECT_EQ(p.partitioning, "plain");
  EXPECT_EQ(p.timezone, "Etc/UTC");
  EXPECT_EQ(p.locale, "en_US.UTF-8");
  EXPECT_EQ(p.keyboard, "us");
  EXPECT_TRUE(p.packages.empty());
  EXPECT_EQ(p.root_password_hash, "");
  EXPECT_TRUE(p.ssh_keys.empty());
  EXPECT_EQ(p.template_file, "");
  EXPECT_EQ(ProfileOf("template_file = \"\"\n").template_file, "");
}

TEST(ProfileInstallKeysTest, UnknownKeysAndFamily) {
  EXPECT_EQ(ProfileError("famly", "\"rhel-kickstart\""),
            "site.toml:4: profile[0].famly: unknown key (did you mean "
            "\"family\"?)");
  EXPECT_EQ(ProfileError("family", "\"redhat\""),
            "site.toml:4: profile[0].family: \"redhat\": expected "
            "debian-preseed, rhel-kickstart or ubuntu-autoinstall");
  EXPECT_EQ(ProfileError("family", "1"),
            "site.toml:4: profile[0].family: expected a string, got integer");
  EXPECT_EQ(ProfileError("partitioning", "\"zfs\""),
            "site.toml:4: profile[0].partitioning: \"zfs\": expected plain or "
            "lvm");
}

// The placeholders BootRenderer substituted before issue 14 are refused with
// the Mustache spelling, so an old site.toml cannot render them literally.
TEST(ProfileInstallKeysTest, OldPlaceholdersSayToWriteMustache) {
  EXPECT_EQ(ProfileError("append", "\"ks=http://x/{hostname}.cfg\""),
            "site.toml:4: profile[0].append: \"{hostname}\": placeholders are "
            "now Mustache: write {{hostname}}");
  for (const char* name : {"mac", "ip", "server", "profile"}) {
    EXPECT_EQ(ProfileError("append",
                           absl::StrCat("\"a={{hostname}} b={", name, "}\"")),
              absl::StrCat("site.toml:4: profile[0].append: \"{", name,
                           "}\": placeholders are now Mustache: write {{", name,
                           "}}"));
  }
  // "{{hostname}}" contains "{hostname}": not an old placeholder; a
  // half-open one is reported (the first found).
  EXPECT_EQ(ProfileOf("append = \"h={{hostname}}{{ip}}\"\n").append,
            "h={{hostname}}{{ip}}");
  EXPECT_THAT(ProfileError("append", "\"{{hostname} {ip}}\""),
              HasSubstr("\"{hostname}\": placeholders are now Mustache"));
  EXPECT_THAT(ProfileError("append", "\"{{hostname}} {ip}}\""),
              HasSubstr("\"{ip}\": placeholders are now Mustache"));
}

TEST(ProfileInstallKeysTest, AppendRefusesWhatBreaksABootLoaderLine) {
  const std::string kWhere = "site.toml:4: profile[0].append: ";
  EXPECT_EQ(ProfileError("append", "\"a\\nb\""),
            kWhere +
                "\"a\\x0ab\": control characters not allowed (printable "
                "ASCII only)");
  EXPECT_THAT(ProfileError("append", "\"a\\u007fb\""),
              HasSubstr(kWhere + "\"a\\x7fb\": control characters"));
  EXPECT_THAT(ProfileError("append", "\"a\\tb\""),
              HasSubstr("control characters"));
  for (const char* bad : {"a\"b", "a'b", "a`reboot`", "a$(id)", "${x}", "a\\b",
                          "a&&b", "a|b", "a<b", "a>b", "a #b"}) {
    std::string toml;
    for (char c : std::string(bad)) {
      if (c == '"' || c == '\\') toml += '\\';
      toml += c;
    }
    EXPECT_THAT(ProfileError("append", "\"" + toml + "\""),
                HasSubstr(kWhere + Quote(bad) + ": character"))
        << bad;
  }
  EXPECT_THAT(ProfileError("append", "\"a;b\""), HasSubstr("(parsed)"));
  EXPECT_EQ(
      ProfileOf(absl::StrCat("append = \"", std::string(2000, 'a'), "\"\n"))
          .append.size(),
      2000u);
  EXPECT_EQ(
      ProfileError("append", absl::StrCat("\"", std::string(2001, 'a'), "\"")),
      kWhere + "\"" + std::string(40, 'a') + "\"...: longer than 2000 bytes");
}

TEST(ProfileInstallKeysTest, SourceIsARepoPathOrAUrl) {
  const std::string kWhere = "site.toml:4: profile[0].source: ";
  for (const char* bad : {"/repo/", "/repo/../etc", "/repo/a/./b", "/repo/a//b",
                          "/repo/a b", "/repo/a;b", "/repo/$x", "/repo/a/"}) {
    EXPECT_THAT(ProfileError("source", absl::StrCat("\"", bad, "\"")),
                HasSubstr(kWhere + Quote(bad) + ": expected /repo/<path>"))
        << bad;
  }
  for (const char* bad :
       {"http://mirror/a b", "http://m/a;reboot", "http://m/a&b", "http://m/$x",
        "http://m/`x`", "https://m/a'b", "http://", "http:///path"}) {
    std::string toml;
    for (char c : std::string(bad)) {
      if (c == '"' || c == '\\') toml += '\\';
      toml += c;
    }
    EXPECT_THAT(ProfileError("source", "\"" + toml + "\""),
                HasSubstr(kWhere + Quote(bad) +
                          ": expected a URL with a host, of the characters "
                          "[A-Za-z0-9._~:/@%+-] only"))
        << bad;
  }
  EXPECT_THAT(ProfileError("source", "\"http://m/a\\nb\""),
              HasSubstr(kWhere + "\"http://m/a\\x0ab\": expected a URL"));
  for (const char* bad :
       {"file:///srv/repo", "rocky9", "/srv/repo", "nfs://h/x"}) {
    EXPECT_THAT(ProfileError("source", absl::StrCat("\"", bad, "\"")),
                HasSubstr(kWhere + Quote(bad) +
                          ": expected \"/repo/<path>\" (beneath "
                          "http.repo_root) or an http://, https:// or ftp:// "
                          "URL"))
        << bad;
  }
  EXPECT_THAT(
      ProfileError("source",
                   absl::StrCat("\"http://m/", std::string(1020, 'a'), "\"")),
      HasSubstr("...: longer than 1024 bytes"));
  // "/repo/" is served from http.repo_root: without it, an error.
  EXPECT_EQ(ErrorOf(WithProfile("source = \"/repo/rocky9\"\n")),
            "site.toml:4: profile[0].source: \"/repo/rocky9\": a /repo/ "
            "source needs http.repo_root (the directory rackbootd serves "
            "under /repo/), or give an http://, https:// or ftp:// URL");
  EXPECT_EQ(ProfileError("source", "\"http://m/x\""), "(parsed)");
}

TEST(ProfileInstallKeysTest, DiskIsADevicePath) {
  EXPECT_EQ(ProfileOf("disk = \"/dev/nvme0n1\"\n").disk, "/dev/nvme0n1");
  EXPECT_EQ(ProfileOf("disk = \"\"\n").disk, "");  // the family's default
  for (const char* bad :
       {"sda", "/dev/", "/dev/sda;reboot", "/dev/sda b", "/dev/../etc/passwd",
        "/dev//sda", "/dev/sda/", "/dev/$(x)", "/dev/a`b`", "/dev/a&b",
        "/etc/sda", "/dev/a#b"}) {
    EXPECT_THAT(
        ProfileError("disk", absl::StrCat("'", bad, "'")),
        HasSubstr(absl::StrCat("site.toml:4: profile[0].disk: ", Quote(bad),
                               ": expected a device path /dev/...")))
        << bad;
  }
  EXPECT_THAT(ProfileError("disk", "\"/dev/a\\nb\""),
              HasSubstr("profile[0].disk: \"/dev/a\\x0ab\": expected"));
  EXPECT_THAT(ProfileError(
                  "disk", absl::StrCat("\"/dev/", std::string(251, 'a'), "\"")),
              HasSubstr("...: longer than 255 bytes"));
  EXPECT_EQ(ProfileError("disk",
                         absl::StrCat("\"/dev/", std::string(250, 'a'), "\"")),
            "(parsed)");
}

TEST(ProfileInstallKeysTest, TimezoneLocaleKeyboard) {
  struct Case {
    const char* key;
    const char* chars;
    size_t max;
  };
  for (const Case& c : {Case{"timezone", "[A-Za-z0-9/_+-]", 64},
                        Case{"locale", "[A-Za-z0-9_.@-]", 64},
                        Case{"keyboard", "[A-Za-z0-9_-]", 32}}) {
    for (std::string bad :
         {std::string(""), std::string("a b"), std::string("a;b"),
          std::string("a$b"), std::string("a`b"), std::string("a&b"),
          std::string("a\"b"), std::string("a\nb"),
          std::string(c.max + 1, 'a')}) {
      std::string toml;
      for (char ch : bad) {
        if (ch == '"' || ch == '\\') toml += '\\';
        toml += ch == '\n' ? std::string("\\n") : std::string(1, ch);
      }
      EXPECT_THAT(
          ProfileError(c.key, "\"" + toml + "\""),
          HasSubstr(absl::StrCat("site.toml:4: profile[0].", c.key, ": ")))
          << c.key << " " << bad;
      EXPECT_THAT(
          ProfileError(c.key, "\"" + toml + "\""),
          HasSubstr(absl::StrCat(": expected 1..", c.max, " of ", c.chars)))
          << c.key << " " << bad;
    }
    EXPECT_EQ(
        ProfileError(c.key, absl::StrCat("\"", std::string(c.max, 'a'), "\"")),
        "(parsed)");
  }
  EXPECT_EQ(ProfileError("timezone", "\"Etc/GMT+5\""), "(parsed)");
}

TEST(ProfileInstallKeysTest, Packages) {
  const std::string kWhere = "site.toml:4: profile[0].packages";
  EXPECT_EQ(ProfileError("packages", "\"vim\""),
            kWhere + ": expected an array of strings, got string");
  EXPECT_EQ(ProfileError("packages", "[\"vim\", 3]"),
            kWhere + "[1]: expected a string, got integer");
  for (const char* bad : {"vim;reboot", "a b", "$x", "`x`", "a&b", "-vim",
                          ".vim", "", "@", "a\"b", "a'b", "a/b"}) {
    std::string toml;
    for (char c : std::string(bad)) {
      if (c == '"' || c == '\\') toml += '\\';
      toml += c;
    }
    EXPECT_THAT(
        ProfileError("packages", "[\"ok\", \"" + toml + "\"]"),
        HasSubstr(kWhere + "[1]: " + Quote(bad) + ": expected a package name"))
        << bad;
  }
  EXPECT_THAT(ProfileError("packages", "[\"a\\nb\"]"),
              HasSubstr(kWhere + "[0]: \"a\\x0ab\": expected a package name"));
  EXPECT_THAT(
      ProfileError("packages",
                   absl::StrCat("[\"", std::string(129, 'a'), "\"]")),
      HasSubstr(kWhere + "[0]: \"" + std::string(40, 'a') + "\"...: expected"));
  EXPECT_EQ(
      ProfileOf(absl::StrCat("packages = [\"", std::string(128, 'a'), "\"]\n"))
          .packages.size(),
      1u);
  // Groups are kickstart's.
  EXPECT_EQ(ProfileError("packages", "[\"@core\"]"),
            kWhere +
                "[0]: \"@core\": an '@' group needs family = "
                "\"rhel-kickstart\"");
  EXPECT_EQ(ErrorOf(WithProfile("family = \"debian-preseed\"\n"
                                "packages = [\"@standard\"]\n")),
            "site.toml:5: profile[0].packages[0]: \"@standard\": an '@' group "
            "needs family = \"rhel-kickstart\"");
  // At most 1000.
  std::string many = "[";
  for (int i = 0; i < 1001; ++i) absl::StrAppend(&many, "\"p", i, "\",");
  many += "]";
  EXPECT_EQ(ProfileError("packages", many),
            kWhere + ": 1001 items: at most 1000");
  many.erase(many.rfind("\"p1000\","));
  many += "]";
  EXPECT_EQ(ProfileOf("packages = " + many + "\n").packages.size(), 1000u);
}

TEST(ProfileInstallKeysTest, RootPasswordHash) {
  const std::string kWhere = "site.toml:4: profile[0].root_password_hash: ";
  for (const char* bad :
       {"hunter2", "$6", "$6$", "$$abc", "$toolongid$x", "$6$a;reboot",
        "$6$a b", "$6$a'b", "$6$a\"b", "$6$`x`", "$6$a&b", "$6$a\\b"}) {
    std::string toml;
    for (char c : std::string(bad)) {
      if (c == '"' || c == '\\') toml += '\\';
      toml += c;
    }
    EXPECT_THAT(ProfileError("root_password_hash", "\"" + toml + "\""),
                HasSubstr(kWhere + Quote(bad) + ": expected a crypt(3) hash"))
        << bad;
  }
  EXPECT_THAT(ProfileError("root_password_hash", "\"$6$a\\nb\""),
              HasSubstr(kWhere + "\"$6$a\\x0ab\": expected a crypt(3)"));
  EXPECT_THAT(ProfileError("root_password_hash",
                           absl::StrCat("\"$6$", std::string(254, 'a'), "\"")),
              HasSubstr("...: expected a crypt(3) hash"));
  EXPECT_EQ(ProfileError("root_password_hash",
                         absl::StrCat("\"$6$", std::string(253, 'a'), "\"")),
            "(parsed)");
}

TEST(ProfileInstallKeysTest, SshKeys) {
  const std::string kWhere = "site.toml:4: profile[0].ssh_keys";
  EXPECT_EQ(ProfileError("ssh_keys", absl::StrCat("\"", kEd25519, "\"")),
            kWhere + ": expected an array of strings, got string");
  auto key_error = [](const std::string& key) {
    std::string toml;
    for (char c : key) {
      if (c == '"' || c == '\\') toml += '\\';
      toml += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return ProfileError("ssh_keys", "[\"" + toml + "\"]");
  };
  const std::string ed(kEd25519);
  const std::string blob = ed.substr(12, ed.rfind(' ') - 12);
  EXPECT_THAT(key_error("ssh-dss " + blob),
              HasSubstr(kWhere + "[0]: \"ssh-dss AAAA"));
  EXPECT_THAT(key_error("ssh-dss " + blob),
              HasSubstr("expected \"<type> <base64> [comment]\" with type "
                        "ssh-ed25519, ssh-rsa, "));
  EXPECT_THAT(key_error("ssh-ed25519"), HasSubstr("base64 is missing"));
  EXPECT_THAT(key_error(" ssh-ed25519 " + blob),
              HasSubstr("expected \"<type> <base64>"));
  for (const std::string& bad : std::vector<std::string>{
           "ssh-ed25519 AAAA$(id)", "ssh-ed25519 AAAA;reboot",
           "ssh-ed25519 AAA`x`", "ssh-ed25519 AAAA&", "ssh-ed25519 !!!!",
           "ssh-ed25519  " + blob}) {
    EXPECT_THAT(key_error(bad), HasSubstr(": the key is not base64")) << bad;
  }
  // A key under another type's name, or cut short.
  EXPECT_THAT(key_error("ssh-rsa " + blob),
              HasSubstr("the base64 is not a ssh-rsa key"));
  EXPECT_THAT(key_error("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB"),
              HasSubstr("the base64 is not a ssh-ed25519 key"));
  for (const char* comment : {"a;b", "a$b", "a`b`", "a&b", "a'b", "a\"b",
                              "a\\b", "a\nb", "a\tb", "a#b"}) {
    EXPECT_THAT(key_error("ssh-ed25519 " + blob + " " + comment),
                HasSubstr(kWhere + "[0]: "))
        << comment;
  }
  EXPECT_THAT(key_error("ssh-ed25519 " + blob + " a;b"),
              HasSubstr("the comment may hold only [A-Za-z0-9@._+-] and "
                        "spaces"));
  EXPECT_EQ(key_error("ssh-ed25519 " + blob + " two words@host"), "(parsed)");
  EXPECT_THAT(key_error("ssh-ed25519 " + blob + " " + std::string(2000, 'c')),
              HasSubstr("...: longer than 2048 bytes"));
  // At most 64.
  std::string keys = "[";
  for (int i = 0; i < 65; ++i) absl::StrAppend(&keys, "\"", kEd25519, "\",");
  EXPECT_EQ(ProfileError("ssh_keys", keys + "]"),
            kWhere + ": 65 items: at most 64");
  keys.erase(keys.size() - std::string(kEd25519).size() - 3);
  EXPECT_EQ(ProfileOf("ssh_keys = " + keys + "]\n").ssh_keys.size(), 64u);
}

TEST(ProfileInstallKeysTest, TemplateFileAndProfileCount) {
  EXPECT_EQ(ProfileError("template_file", "\"a\\nb\""),
            "site.toml:4: profile[0].template_file: \"a\\x0ab\": expected a "
            "path of at most 4096 bytes without control characters");
  EXPECT_THAT(ProfileError("template_file",
                           absl::StrCat("\"", std::string(4097, 'a'), "\"")),
              HasSubstr("...: expected a path of at most 4096 bytes"));
  EXPECT_EQ(ProfileError("template_file", "3"),
            "site.toml:4: profile[0].template_file: expected a string, got "
            "integer");
  std::string text;
  for (int i = 0; i < 1001; ++i) {
    absl::StrAppend(&text, "[[profile]]\nname = \"p", i,
                    "\"\nkernel = \"k\"\n");
  }
  EXPECT_EQ(ErrorOf(text), "site.toml:1: profile: 1001 profiles: at most 1000");
}

TEST(InstallSectionTest, TokenTtl) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig("", "site.toml");
  ASSERT_TRUE(site.ok());
  EXPECT_EQ(site->install.token_ttl, absl::Hours(6));
  for (auto [text, want] :
       {std::pair{"1m", absl::Minutes(1)}, std::pair{"90m", absl::Minutes(90)},
        std::pair{"1h30m", absl::Minutes(90)},
        std::pair{"720h", absl::Hours(720)}}) {
    site = ParseSiteConfig(
        absl::StrCat("[install]\ntoken_ttl = \"", text, "\"\n"), "site.toml");
    ASSERT_TRUE(site.ok()) << text << ": " << site.status();
    EXPECT_EQ(site->install.token_ttl, want) << text;
  }
  EXPECT_EQ(ErrorOf("[install]\ntoken_ttl = \"59s\"\n"),
            "site.toml:2: install.token_ttl: \"59s\": must be 1m..720h");
  EXPECT_EQ(ErrorOf("[install]\ntoken_ttl = \"721h\"\n"),
            "site.toml:2: install.token_ttl: \"721h\": must be 1m..720h");
  EXPECT_EQ(ErrorOf("[install]\ntoken_ttl = \"6 hours\"\n"),
            "site.toml:2: install.token_ttl: \"6 hours\": not a duration "
            "(e.g. \"90s\", \"10m\", \"2h\")");
  EXPECT_EQ(ErrorOf("[install]\ntoken_ttl = 3600\n"),
            "site.toml:2: install.token_ttl: expected a string, got integer");
  EXPECT_EQ(ErrorOf("[install]\ntoken_tl = \"1h\"\n"),
            "site.toml:2: install.token_tl: unknown key (did you mean "
            "\"token_ttl\"?)");
  EXPECT_EQ(ErrorOf("install = 1\n"),
            "site.toml:1: install: expected a table, got integer");
}

}  // namespace
}  // namespace rackboot::site
