#include "engine/site/inventory.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/site/site_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr MacAddress kMac1 = {0x52, 0x54, 0x00, 0x12, 0x00, 0x01};

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Inventory> inv = Inventory::Parse(text, "inventory.csv");
  if (inv.ok()) return "(parsed)";
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(inv.status().message());
}

TEST(MacTest, Formats) {
  for (const char* text : {"52:54:00:12:00:01", "52-54-00-12-00-01",
                           "5254.0012.0001", "52:54:00:12:00:01"}) {
    absl::StatusOr<MacAddress> mac = ParseMac(text);
    ASSERT_TRUE(mac.ok()) << text << ": " << mac.status();
    EXPECT_EQ(*mac, kMac1);
  }
  absl::StatusOr<MacAddress> upper = ParseMac("AA:bB:Cc:0D:eE:FF");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(FormatMac(*upper), "aa:bb:cc:0d:ee:ff");
  EXPECT_EQ(FormatMac(kMac1), "52:54:00:12:00:01");
  for (const char* bad :
       {"", "52:54:00:12:00", "52:54:00:12:00:01:02", "52:54-00:12:00:01",
        "5254.0012.000g", "525400120001", "52:54:00:12:00:0x",
        "52.54.00.12.00.01", " 52:54:00:12:00:01"}) {
    absl::StatusOr<MacAddress> mac = ParseMac(bad);
    EXPECT_FALSE(mac.ok()) << bad;
    if (!mac.ok()) {
      EXPECT_THAT(mac.status().message(), HasSubstr("not a MAC address"));
    }
  }
}

TEST(HostStateTest, Names) {
  EXPECT_EQ(HostStateName(HostState::kInstall), "install");
  EXPECT_EQ(HostStateName(HostState::kInstalled), "installed");
  EXPECT_EQ(HostStateName(HostState::kLocalboot), "localboot");
  EXPECT_EQ(*ParseHostState("Install"), HostState::kInstall);
  EXPECT_EQ(*ParseHostState("installed"), HostState::kInstalled);
  EXPECT_EQ(*ParseHostState("LOCALBOOT"), HostState::kLocalboot);
  EXPECT_THAT(ParseHostState("armed").status().message(),
              HasSubstr("\"armed\": expected install, installed or localboot"));
}

TEST(InventoryTest, ExampleParses) {
  absl::StatusOr<Inventory> inv = Inventory::Load("examples/inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  ASSERT_EQ(inv->hosts().size(), 6u);
  const InventoryHost& h1 = inv->hosts()[0];
  EXPECT_EQ(h1.mac, kMac1);
  EXPECT_EQ(h1.hostname, "node001");
  EXPECT_EQ(h1.address, Ipv4Address(198, 18, 1, 1));
  EXPECT_EQ(h1.profile, "rocky9");
  EXPECT_EQ(h1.initial_state, HostState::kInstall);
  EXPECT_THAT(h1.extra,
              ElementsAre(Pair("rack", "r01"), Pair("serial", "SN1001")));
  EXPECT_EQ(h1.line, 21);
  EXPECT_FALSE(h1.gateway.has_value());  // the subnet's, when rendering
  EXPECT_TRUE(h1.dns.empty());
  EXPECT_EQ(h1.disk, "");
  const InventoryHost& h2 = inv->hosts()[1];
  EXPECT_EQ(h2.gateway, Ipv4Address(198, 18, 0, 254));
  EXPECT_THAT(h2.dns, ElementsAre(Ipv4Address(198, 18, 0, 1),
                                  Ipv4Address(198, 19, 0, 1)));
  EXPECT_EQ(h2.disk, "/dev/nvme0n1");
  EXPECT_THAT(inv->hosts()[3].dns, ElementsAre(Ipv4Address(198, 19, 0, 1),
                                               Ipv4Address(198, 18, 0, 1)));
  EXPECT_EQ(inv->hosts()[3].disk, "/dev/disk/by-id/ata-SAMSUNG_MZ7LH480_S45N");
  EXPECT_EQ(inv->hosts()[1].initial_state, HostState::kInstalled);
  EXPECT_EQ(inv->hosts()[2].initial_state, HostState::kLocalboot);
  EXPECT_THAT(
      inv->hosts()[2].extra,
      ElementsAre(Pair("rack", "r01"), Pair("serial", "SN1003, spare")));
  // Empty state: localboot.
  EXPECT_EQ(inv->hosts()[3].initial_state, HostState::kLocalboot);
  EXPECT_EQ(FormatMac(inv->hosts()[3].mac), "52:54:00:12:00:04");
  EXPECT_FALSE(inv->hosts()[4].address.has_value());
  EXPECT_THAT(inv->hosts()[4].extra,
              ElementsAre(Pair("rack", "r02"), Pair("serial", "SN \"1005\"")));

  EXPECT_EQ(inv->FindByMac(kMac1), &inv->hosts()[0]);
  EXPECT_EQ(inv->FindByHostname("node004"), &inv->hosts()[3]);
  EXPECT_EQ(inv->FindByHostname("NODE004"), &inv->hosts()[3]);
  EXPECT_EQ(inv->FindByAddress(Ipv4Address(198, 19, 0, 10)), &inv->hosts()[3]);
  EXPECT_EQ(inv->FindByHostname("node999"), nullptr);
  EXPECT_EQ(inv->FindByAddress(Ipv4Address(198, 18, 9, 9)), nullptr);
  EXPECT_EQ(inv->FindByMac(MacAddress{0x52, 0, 0, 0, 0, 9}), nullptr);

  // And it fits the example site.
  absl::StatusOr<SiteConfig> site = LoadSiteConfig("examples/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_TRUE(ValidateInventory(*inv, *site).ok())
      << ValidateInventory(*inv, *site);
}

TEST(InventoryTest, MinimalColumnsAndDefaults) {
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "\xEF\xBB\xBFHostName , MAC\r\n\r\n  # a comment\r\nNode-7 , "
      "52:54:00:12:00:01\r\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  ASSERT_EQ(inv->hosts().size(), 1u);
  const InventoryHost& h = inv->hosts()[0];
  EXPECT_EQ(h.hostname, "node-7");
  EXPECT_EQ(h.mac, kMac1);
  EXPECT_FALSE(h.address.has_value());
  EXPECT_EQ(h.profile, "");
  EXPECT_EQ(h.initial_state, HostState::kLocalboot);
  EXPECT_TRUE(h.extra.empty());
  EXPECT_EQ(h.line, 4);

  // A header alone is an empty inventory.
  inv = Inventory::Parse("mac,hostname\n", "inventory.csv");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->hosts().empty());
}

TEST(InventoryTest, Quoting) {
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,note,empty\n"
      "\"52:54:00:12:00:01\" , \"n1\",\"a, \"\"b\"\", c\",\"\"\n"
      "52:54:00:12:00:02,n2,  spaced  out  ,\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->hosts()[0].extra,
              ElementsAre(Pair("note", "a, \"b\", c"), Pair("empty", "")));
  EXPECT_THAT(inv->hosts()[1].extra,
              ElementsAre(Pair("note", "spaced  out"), Pair("empty", "")));

  EXPECT_EQ(ErrorOf("mac,hostname\n\"52:54:00:12:00:01,n1\n"),
            "inventory.csv:2: field 1: unterminated quote");
  EXPECT_EQ(ErrorOf("mac,hostname\n\"52:54:00:12:00:01\"x,n1\n"),
            "inventory.csv:2: field 1: text after the closing quote");
  EXPECT_THAT(ErrorOf("mac,hostname\n52:54:00:12:00:01,n\"1\n"),
              HasSubstr("inventory.csv:2: field 2: \"n\\\"1\": a quote inside "
                        "an unquoted field"));
}

TEST(InventoryTest, HeaderErrors) {
  EXPECT_THAT(ErrorOf("hostname,ip\nn1,198.18.0.1\n"),
              HasSubstr("inventory.csv:1: header: required column \"mac\" "
                        "missing"));
  EXPECT_THAT(ErrorOf("# only comments\n\n"),
              HasSubstr("inventory.csv: no header line"));
  EXPECT_THAT(ErrorOf("mac,hostname,MAC\n"),
              HasSubstr("inventory.csv:1: header: column 3: \"MAC\": "
                        "duplicate of column 1"));
  EXPECT_THAT(ErrorOf("mac,,hostname\n"),
              HasSubstr("header: column 2: \"\": not a column name"));
}

TEST(InventoryTest, FieldErrorsNameLineColumnAndValue) {
  const std::string header = "mac,hostname,ip,profile,state\n";
  EXPECT_EQ(
      ErrorOf(header + "52:54:00:zz:00:01,n1,,,\n"),
      "inventory.csv:2: mac: \"52:54:00:zz:00:01\": not a MAC address "
      "(expected aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff)");
  EXPECT_EQ(ErrorOf(header + "01:00:5e:00:00:01,n1,,,\n"),
            "inventory.csv:2: mac: \"01:00:5e:00:00:01\": a group (multicast) "
            "address, not a network card's");
  EXPECT_THAT(ErrorOf(header + "00:00:00:00:00:00,n1,,,\n"),
              HasSubstr("the all-zero address"));
  EXPECT_THAT(ErrorOf(header + "52:54:00:12:00:01,node_1,,,\n"),
              HasSubstr("inventory.csv:2: hostname: \"node_1\": character "
                        "\"_\" not allowed"));
  EXPECT_THAT(ErrorOf(header + "52:54:00:12:00:01,,,,\n"),
              HasSubstr("inventory.csv:2: hostname: \"\": empty name"));
  EXPECT_THAT(
      ErrorOf(header + "52:54:00:12:00:01," + std::string(64, 'a') + ",,,\n"),
      HasSubstr("label longer than 63 characters"));
  EXPECT_THAT(ErrorOf(header + "52:54:00:12:00:01,-n1,,,\n"),
              HasSubstr("starts or ends with '-'"));
  EXPECT_EQ(ErrorOf(header + "52:54:00:12:00:01,n1,198.18.0.256,,\n"),
            "inventory.csv:2: ip: \"198.18.0.256\": not an IPv4 address");
  EXPECT_EQ(ErrorOf(header + "52:54:00:12:00:01,n1,,,armed\n"),
            "inventory.csv:2: state: \"armed\": expected install, installed "
            "or localboot");
  EXPECT_THAT(ErrorOf(header + "52:54:00:12:00:01,n1,,../../etc,\n"),
              HasSubstr("inventory.csv:2: profile: \"../../etc\": expected"));
  EXPECT_EQ(ErrorOf(header + "52:54:00:12:00:01,n1,,\n"),
            "inventory.csv:2: 4 fields, but the header has 5 columns");
  EXPECT_THAT(ErrorOf(header + "52:54:00:12:00:01,n1,,rocky\x01,\n"),
              HasSubstr("profile: \"rocky\\x01\": control characters"));
}

TEST(InventoryTest, EveryBadLineIsReported) {
  const std::string message =
      ErrorOf("mac,hostname\nbad,n1\n52:54:00:12:00:02,n_2\n");
  EXPECT_THAT(message, HasSubstr("inventory.csv:2: mac"));
  EXPECT_THAT(message, HasSubstr("\ninventory.csv:3: hostname"));
}

TEST(InventoryTest, DuplicatesNameBothLines) {
  EXPECT_EQ(ErrorOf("mac,hostname\n52:54:00:12:00:01,n1\n# x\n"
                    "52-54-00-12-00-01,n2\n"),
            "inventory.csv:4: mac: \"52-54-00-12-00-01\": duplicate of line 2");
  EXPECT_EQ(ErrorOf("mac,hostname\n52:54:00:12:00:01,n1\n"
                    "52:54:00:12:00:02,N1\n"),
            "inventory.csv:3: hostname: \"n1\": duplicate of line 2");
  EXPECT_EQ(ErrorOf("mac,hostname,ip\n52:54:00:12:00:01,n1,198.18.0.5\n"
                    "52:54:00:12:00:02,n2,198.18.0.5\n"),
            "inventory.csv:3: ip: \"198.18.0.5\": duplicate of line 2");
  // Two hosts without an ip are fine.
  EXPECT_TRUE(Inventory::Parse("mac,hostname,ip\n52:54:00:12:00:01,n1,\n"
                               "52:54:00:12:00:02,n2,\n",
                               "i")
                  .ok());
}

TEST(InventoryTest, ManyErrorsAreCapped) {
  std::string text = "mac,hostname\n";
  for (int i = 0; i < 60; ++i) absl::StrAppend(&text, "bad,n", i, "\n");
  EXPECT_THAT(ErrorOf(text), HasSubstr("inventory.csv: 10 more errors"));
}

TEST(InventoryTest, ValidateAgainstSite) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[server]\naddress = \"198.18.0.1\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\n"
      "pool = \"198.18.0.100-198.18.0.200\"\nrouter = \"198.18.0.254\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,ip\n"
      "52:54:00:12:00:01,in-pool,198.18.0.150\n"
      "52:54:00:12:00:02,outside-pool,198.18.0.10\n"
      "52:54:00:12:00:03,no-ip,\n"
      "52:54:00:12:00:04,elsewhere,10.1.2.3\n"
      "52:54:00:12:00:05,broadcast,198.18.0.255\n"
      "52:54:00:12:00:06,router,198.18.0.254\n"
      "52:54:00:12:00:07,server,198.18.0.1\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  absl::Status s = ValidateInventory(*inv, *site);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "inventory.csv:5: ip: \"10.1.2.3\": not in any subnet of site.toml "
            "(198.18.0.0/24)\n"
            "inventory.csv:6: ip: \"198.18.0.255\": the network or broadcast "
            "address of 198.18.0.0/24\n"
            "inventory.csv:7: ip: \"198.18.0.254\": the router of "
            "198.18.0.0/24\n"
            "inventory.csv:8: ip: \"198.18.0.1\": the server's own address");

  absl::StatusOr<SiteConfig> no_subnets = ParseSiteConfig("", "site.toml");
  s = ValidateInventory(*inv, *no_subnets);
  EXPECT_THAT(s.message(),
              HasSubstr("inventory.csv:2: ip: \"198.18.0.150\": no "
                        "[[dhcp.subnet]] in site.toml"));
}

TEST(InventoryTest, LoadErrorNamesPath) {
  absl::StatusOr<Inventory> inv = Inventory::Load("/nonexistent/inv.csv");
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(), HasSubstr("/nonexistent/inv.csv"));
}

// Issue 11 item 6: an armed host whose profile is not a [[profile]] silently
// got a local-boot configuration.
TEST(CheckArmedHostTest, ProfileMustExistWhenRackbootdRenders) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[tftp]\nroot = \"/srv/tftp\"\n[dhcp]\nmode = \"authoritative\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\npool = "
      "\"198.18.0.100-198.18.0.199\"\n"
      "[[profile]]\nname = \"rocky9\"\nkernel = \"k\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:12:00:01,good,,rocky9,install\n"
      "52:54:00:12:00:02,unknown,,debian12,install\n"
      "52:54:00:12:00:03,none,198.18.0.3,,install\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(
      CheckArmedHost(*site, *inv, inv->hosts()[0], "its state column").ok());
  absl::Status s =
      CheckArmedHost(*site, *inv, inv->hosts()[1], "its state column");
  EXPECT_THAT(s.message(),
              HasSubstr("inventory.csv:3: unknown is armed for install (its "
                        "state column) but its profile \"debian12\" is not a "
                        "[[profile]] of site.toml"));
  s = CheckArmedHost(*site, *inv, inv->hosts()[2], "host-states.tsv");
  EXPECT_THAT(s.message(),
              HasSubstr("inventory.csv:4: none is armed for install "
                        "(host-states.tsv) but has no profile"));
  // Without a TFTP root another server renders the boot files: not checked.
  site->tftp.root.clear();
  EXPECT_TRUE(CheckArmedHost(*site, *inv, inv->hosts()[1], "x").ok());
}

TEST(CheckArmedHostTest, WithoutLeasesAnArmedHostNeedsItsReservation) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[tftp]\nroot = \"/srv/tftp\"\n[dhcp]\nmode = \"proxy\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\n"
      "[[profile]]\nname = \"rocky9\"\nkernel = \"k\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:12:00:01,reserved,198.18.0.5,rocky9,install\n"
      "52:54:00:12:00:02,floating,,rocky9,install\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(CheckArmedHost(*site, *inv, inv->hosts()[0], "x").ok());
  EXPECT_THAT(CheckArmedHost(*site, *inv, inv->hosts()[1], "x").message(),
              HasSubstr("inventory.csv:3: floating is armed for install (x) "
                        "but has no ip: with dhcp.mode = \"proxy\""));
}

TEST(CheckArmedHostTest, TheExampleSiteCanInstallEveryArmedHost) {
  absl::StatusOr<SiteConfig> site = LoadSiteConfig("examples/site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::StatusOr<Inventory> inv = Inventory::Load("examples/inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  for (const InventoryHost& host : inv->hosts()) {
    EXPECT_NE(FindProfile(*site, host.profile), nullptr) << host.hostname;
    EXPECT_TRUE(CheckArmedHost(*site, *inv, host, "test").ok())
        << CheckArmedHost(*site, *inv, host, "test");
  }
}

// ---- Issue 14: gateway, dns and disk columns; family profiles need HTTP. ----

TEST(InventoryInstallColumnsTest, Parse) {
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "MAC,hostname,ip,Gateway,DNS,Disk,rack\n"
      "52:54:00:12:00:01,a,198.18.0.5,198.18.0.254,198.18.0.1; 198.18.0.2 "
      "198.18.0.3,/dev/disk/by-path/pci-0000:00:1f.2-ata-1,r1\n"
      "52:54:00:12:00:02,b,,,,,r2\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  const InventoryHost& a = inv->hosts()[0];
  EXPECT_EQ(a.gateway, Ipv4Address(198, 18, 0, 254));
  EXPECT_THAT(
      a.dns, ElementsAre(Ipv4Address(198, 18, 0, 1), Ipv4Address(198, 18, 0, 2),
                         Ipv4Address(198, 18, 0, 3)));
  EXPECT_EQ(a.disk, "/dev/disk/by-path/pci-0000:00:1f.2-ata-1");
  EXPECT_THAT(a.extra, ElementsAre(Pair("rack", "r1")));  // not in extra
  const InventoryHost& b = inv->hosts()[1];
  EXPECT_FALSE(b.gateway.has_value());  // defaults come when rendering
  EXPECT_TRUE(b.dns.empty());
  EXPECT_EQ(b.disk, "");
}

TEST(InventoryInstallColumnsTest, BadValuesNameLineColumnAndValue) {
  auto error = [](const std::string& gateway, const std::string& dns,
                  const std::string& disk) {
    return ErrorOf(
        "mac,hostname,ip,gateway,dns,disk\n"
        "52:54:00:12:00:01,a,198.18.0.5," +
        gateway + "," + dns + "," + disk + "\n");
  };
  EXPECT_EQ(error("198.18.0.300", "", ""),
            "inventory.csv:2: gateway: \"198.18.0.300\": not an IPv4 address");
  EXPECT_EQ(error("0.0.0.0", "", ""),
            "inventory.csv:2: gateway: \"0.0.0.0\": not a host address");
  EXPECT_EQ(error("198.18.0.1;reboot", "", ""),
            "inventory.csv:2: gateway: \"198.18.0.1;reboot\": not an IPv4 "
            "address");
  EXPECT_EQ(error("", "198.18.0.1;$(reboot)", ""),
            "inventory.csv:2: dns: \"198.18.0.1;$(reboot)\": \"$(reboot)\" is "
            "not an IPv4 address (expected up to 3 addresses separated by "
            "spaces or ';')");
  EXPECT_THAT(error("", "198.18.0.1&198.18.0.2", ""),
              HasSubstr("inventory.csv:2: dns: \"198.18.0.1&198.18.0.2\""));
  EXPECT_THAT(error("", "198.18.0.1,198.18.0.2", ""),
              HasSubstr("7 fields, but the header has 6 columns"));
  EXPECT_THAT(error("", "\"198.18.0.1,198.18.0.2\"", ""),
              HasSubstr("\"198.18.0.1,198.18.0.2\" is not an IPv4 address"));
  EXPECT_EQ(error("", "198.18.0.1 198.18.0.2;198.18.0.3 198.18.0.4", ""),
            "inventory.csv:2: dns: \"198.18.0.1 198.18.0.2;198.18.0.3 "
            "198.18.0.4\": 4 addresses: at most 3");
  EXPECT_THAT(error("", "255.255.255.255", ""),
              HasSubstr("\"255.255.255.255\" is not an IPv4 address"));
  for (const char* bad :
       {"sda", "/dev/sda;reboot", "/dev/sda b", "/dev/../etc/shadow",
        "/dev/$(x)", "/dev/`x`", "/dev/a&b", "/dev/"}) {
    EXPECT_THAT(error("", "", bad),
                HasSubstr(absl::StrCat("inventory.csv:2: disk: ", Quote(bad),
                                       ": expected a device path /dev/...")))
        << bad;
  }
  EXPECT_THAT(error("", "", "\"/dev/a\"\"b\""),
              HasSubstr("disk: \"/dev/a\\\"b\": expected a device path"));
  EXPECT_THAT(error("", "", "/dev/" + std::string(251, 'a')),
              HasSubstr("disk: \"/dev/" + std::string(251, 'a') +
                        "\": longer than 255 bytes"));
  // A newline cannot be in a field (lines end there); a control character
  // is refused for every column.
  EXPECT_THAT(error("", "", "/dev/a\tb"), HasSubstr("control characters"));
}

TEST(InventoryInstallColumnsTest, GatewayMustBeInTheHostsSubnet) {
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\nrouter = \"198.18.0.254\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.19.0.0/24\"\n",
      "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,ip,gateway\n"
      "52:54:00:12:00:01,ok,198.18.0.5,198.18.0.1\n"
      "52:54:00:12:00:02,other-subnet,198.18.0.6,198.19.0.1\n"
      "52:54:00:12:00:03,no-ip,,198.18.0.1\n"
      "52:54:00:12:00:04,broadcast,198.18.0.8,198.18.0.255\n"
      "52:54:00:12:00:05,itself,198.18.0.9,198.18.0.9\n"
      "52:54:00:12:00:06,default,198.18.0.10,\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(ValidateInventory(*inv, *site).message(),
            "inventory.csv:3: gateway: \"198.19.0.1\": not inside "
            "198.18.0.0/24, the subnet of the host's ip 198.18.0.6\n"
            "inventory.csv:4: gateway: \"198.18.0.1\": given without an ip: "
            "the gateway is for the host's static address (a host without "
            "one gets its gateway from DHCP)\n"
            "inventory.csv:5: gateway: \"198.18.0.255\": the network or "
            "broadcast address of 198.18.0.0/24\n"
            "inventory.csv:6: gateway: \"198.18.0.9\": the host's own ip");
}

// Install files are served only over HTTP (/install/<token>/): arming a host
// of a family profile without http.listen could never install it.
TEST(CheckArmedHostTest, AFamilyProfileNeedsHttp) {
  const std::string kSite =
      "[tftp]\nroot = \"/srv/tftp\"\n[dhcp]\nmode = \"proxy\"\n"
      "[[dhcp.subnet]]\ncidr = \"198.18.0.0/24\"\n"
      "[[profile]]\nname = \"rocky9\"\nfamily = \"rhel-kickstart\"\n"
      "kernel = \"k\"\n"
      "[[profile]]\nname = \"bootonly\"\nkernel = \"k\"\n";
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(kSite, "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  absl::StatusOr<Inventory> inv = Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:12:00:01,ks,198.18.0.5,rocky9,install\n"
      "52:54:00:12:00:02,plain,198.18.0.6,bootonly,install\n",
      "inventory.csv");
  ASSERT_TRUE(inv.ok()) << inv.status();
  absl::Status s = CheckArmedHost(*site, *inv, inv->hosts()[0], "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "inventory.csv:2: ks is armed for install (x) but its profile "
            "\"rocky9\" (family \"rhel-kickstart\", site.toml:7) installs from "
            "files served only over HTTP, and http.listen is not set: set "
            "[http] listen in site.toml, or disarm it (rackboot disarm ks)");
  // Boot-only profiles need no HTTP.
  EXPECT_TRUE(CheckArmedHost(*site, *inv, inv->hosts()[1], "x").ok());
  // Checked without a TFTP root too: `rackboot gen` output needs it as well.
  site->tftp.root.clear();
  EXPECT_FALSE(CheckArmedHost(*site, *inv, inv->hosts()[0], "x").ok());
  site = ParseSiteConfig(kSite + "[http]\nlisten = \"198.18.0.1:8080\"\n",
                         "site.toml");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_TRUE(CheckArmedHost(*site, *inv, inv->hosts()[0], "x").ok())
      << CheckArmedHost(*site, *inv, inv->hosts()[0], "x");
}

}  // namespace
}  // namespace rackboot::site
