#include "engine/site/http_urls.h"

#include "engine/site/site_host_directory.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

TEST(HttpBaseUrlTest, ListenAddressOrServerAddress) {
  const Ipv4Address server(198, 18, 0, 1);
  EXPECT_EQ(HttpBaseUrl("0.0.0.0:8080", server), "http://198.18.0.1:8080");
  // A specific listen address is the one clients can reach.
  EXPECT_EQ(HttpBaseUrl("198.18.0.5:8080", server), "http://198.18.0.5:8080");
  EXPECT_EQ(HttpBaseUrl("0.0.0.0:80", server), "http://198.18.0.1");
  // HTTP off, or no address a client could use: no URL at all.
  EXPECT_EQ(HttpBaseUrl("", server), absl::nullopt);
  EXPECT_EQ(HttpBaseUrl("0.0.0.0:8080", absl::nullopt), absl::nullopt);
  EXPECT_EQ(HttpBaseUrl("0.0.0.0", server), absl::nullopt);
  EXPECT_EQ(HttpBaseUrl("0.0.0.0:0", server), absl::nullopt);
  EXPECT_EQ(HttpBaseUrl("host:80", server), absl::nullopt);
}

TEST(HttpBaseUrlTest, FromTheSiteHttpListen) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[server]\naddress = \"198.18.0.1\"\n[http]\nlisten = "
      "\"0.0.0.0:8080\"\n",
      "s.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(HttpBaseUrl(*site), "http://198.18.0.1:8080");
  site->http.listen.clear();  // HTTP off
  EXPECT_EQ(HttpBaseUrl(*site), absl::nullopt);
}

TEST(UrlPathTest, EncodesWhatAUrlPathCannotCarry) {
  EXPECT_EQ(UrlPath("rocky9/vmlinuz-5.14_x86~1.img"),
            "rocky9/vmlinuz-5.14_x86~1.img");
  EXPECT_EQ(UrlPath("/vmlinuz"), "vmlinuz");
  EXPECT_EQ(UrlPath("a b?c#d%e"), "a%20b%3Fc%23d%25e");
}

TEST(IpxeScriptPathTest, PxelinuxStyleName) {
  EXPECT_EQ(IpxeScriptPath({0x52, 0x54, 0x00, 0xc6, 0x12, 0x01}),
            "ipxe/01-52-54-00-c6-12-01.ipxe");
}

BootConfig LabBoot() {
  BootConfig boot;
  boot.bios = "pxelinux.0";
  boot.uefi_x64 = "grubnetx64.efi";
  boot.ipxe_bios = "undionly.kpxe";
  boot.ipxe_uefi = "snponly.efi";
  boot.uefi_http = "snponly.efi";
  return boot;
}

TEST(DhcpBootFilesTest, WithoutHttpTheTftpLoaders) {
  const dhcp::BootFiles files = DhcpBootFiles(LabBoot(), absl::nullopt);
  EXPECT_EQ(files.bios, "pxelinux.0");
  EXPECT_EQ(files.uefi_x64, "grubnetx64.efi");
  EXPECT_EQ(files.http_boot_url, "");
  // iPXE (QEMU's NIC ROM) is then a PXE client like any other.
  EXPECT_EQ(files.ipxe_script, "");
}

TEST(DhcpBootFilesTest, WithHttpIpxeAndUrls) {
  const dhcp::BootFiles files =
      DhcpBootFiles(LabBoot(), std::string("http://198.18.0.1:8080"));
  EXPECT_EQ(files.bios, "undionly.kpxe");
  EXPECT_EQ(files.uefi_x64, "snponly.efi");
  EXPECT_EQ(files.http_boot_url, "http://198.18.0.1:8080/boot/snponly.efi");
  EXPECT_EQ(files.ipxe_script, "http://198.18.0.1:8080/boot/ipxe/{mac}.ipxe");

  // Keys left empty keep the TFTP loaders; an explicit script or URL wins.
  BootConfig boot;
  boot.bios = "pxelinux.0";
  boot.ipxe_script = "tftp://198.18.0.1/menu.ipxe";
  boot.http_boot_url = "http://198.18.0.9/bootx64.efi";
  const dhcp::BootFiles other =
      DhcpBootFiles(boot, std::string("http://198.18.0.1:8080"));
  EXPECT_EQ(other.bios, "pxelinux.0");
  EXPECT_EQ(other.ipxe_script, "tftp://198.18.0.1/menu.ipxe");
  EXPECT_EQ(other.http_boot_url, "http://198.18.0.9/bootx64.efi");
}

}  // namespace
}  // namespace rackboot::site
