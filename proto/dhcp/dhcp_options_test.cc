#include "proto/dhcp/dhcp_options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::dhcp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(std::initializer_list<uint8_t> b) { return b; }

std::vector<uint8_t> Bytes(absl::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::vector<uint8_t> ToVector(absl::Span<const uint8_t> s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

TEST(NamesTest, OptionsMessageTypesAndArchitectures) {
  EXPECT_EQ(DhcpOptionName(kOptionMessageType), "message type");
  EXPECT_EQ(OptionLabel(53), "option 53 (message type)");
  EXPECT_EQ(OptionLabel(200), "option 200");
  EXPECT_EQ(DhcpMessageTypeName(DhcpMessageType::kInform), "DHCPINFORM");
  EXPECT_EQ(PxeArchName(static_cast<uint16_t>(PxeArch::kEfiX64)), "x64 UEFI");
  EXPECT_EQ(PxeArchName(static_cast<uint16_t>(PxeArch::kEfiArm64)),
            "ARM 64-bit UEFI");
  EXPECT_EQ(PxeArchName(static_cast<uint16_t>(PxeArch::kEfiX64Http)),
            "x64 UEFI HTTP");
  EXPECT_EQ(PxeArchName(1000), "");
  EXPECT_EQ(Ipv4Address(192, 168, 1, 254).ToString(), "192.168.1.254");
  EXPECT_EQ(Ipv4Address(192, 168, 1, 254).value(), 0xc0a801feu);
  EXPECT_LT(Ipv4Address(10, 0, 0, 1), Ipv4Address(10, 0, 0, 2));
}

TEST(DhcpOptionsTest, KeepsFirstAppearanceOrderAndConcatenates) {
  DhcpOptions o;
  o.Append(12, Bytes("ho"));
  o.Append(53, Bytes({1}));
  o.Append(12, Bytes("st"));  // RFC 3396: concatenated to the first
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o.at(0).code, 12);
  EXPECT_EQ(o.at(1).code, 53);
  EXPECT_EQ(*o.HostName(), "host");
  EXPECT_EQ(ToVector(o.at(1).data), Bytes({1}));
}

TEST(DhcpOptionsTest, SetReplacesInPlaceAndRemove) {
  DhcpOptions o;
  o.SetU8(53, 1);
  o.SetString(12, "a");
  o.SetString(60, "PXEClient");
  o.SetString(12, "longer-name");  // new size: keeps position 1
  o.SetU8(53, 2);                  // same size
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o.at(1).code, 12);
  EXPECT_EQ(*o.HostName(), "longer-name");
  EXPECT_EQ(*o.MessageType(), DhcpMessageType::kOffer);
  EXPECT_TRUE(o.Remove(12));
  EXPECT_FALSE(o.Remove(12));
  EXPECT_FALSE(o.Has(12));
  EXPECT_EQ(o.size(), 2u);
  EXPECT_EQ(*o.VendorClassId(), "PXEClient");
  o.Clear();
  EXPECT_TRUE(o.empty());
}

TEST(DhcpOptionsTest, SetAndAppendFromOwnStorage) {
  DhcpOptions o;
  o.SetString(12, "abc");
  o.Set(15, *o.Find(12));  // the span points into o's own storage
  o.Append(12, *o.Find(12));
  EXPECT_EQ(*o.DomainName(), "abc");
  EXPECT_EQ(*o.HostName(), "abcabc");
}

TEST(DhcpOptionsTest, EqualityIgnoresOrder) {
  DhcpOptions a, b;
  a.SetU8(53, 1);
  a.SetString(12, "x");
  b.SetString(12, "x");
  b.SetU8(53, 1);
  EXPECT_EQ(a, b);
  b.SetString(12, "y");
  EXPECT_FALSE(a == b);
}

TEST(DhcpOptionsTest, GenericTypedGetters) {
  DhcpOptions o;
  o.SetU8(200, 7);
  o.SetU16(201, 0x1234);
  o.SetU32(202, 0xdeadbeef);
  o.SetIpv4(203, Ipv4Address(10, 1, 2, 3));
  const Ipv4Address list[] = {Ipv4Address(1, 1, 1, 1), Ipv4Address(8, 8, 8, 8)};
  o.SetIpv4List(204, list);
  o.SetBytes(205, Bytes({}));
  EXPECT_EQ(*o.GetU8(200), 7);
  EXPECT_EQ(*o.GetU16(201), 0x1234);
  EXPECT_EQ(*o.GetU32(202), 0xdeadbeefu);
  EXPECT_EQ(*o.GetIpv4(203), Ipv4Address(10, 1, 2, 3));
  EXPECT_THAT(*o.GetIpv4List(204), ElementsAre(list[0], list[1]));
  EXPECT_TRUE(o.GetBytes(205)->empty());
  EXPECT_EQ(ToVector(*o.Find(201)), Bytes({0x12, 0x34}));

  EXPECT_EQ(o.GetU16(200).status().message(),
            "option 200: length 1, expected 2");
  EXPECT_EQ(o.GetU32(201).status().message(),
            "option 201: length 2, expected 4");
  EXPECT_EQ(o.GetU8(202).status().message(),
            "option 202: length 4, expected 1");
  EXPECT_EQ(o.GetIpv4List(201).status().message(),
            "option 201: length 2, expected a non-zero multiple of 4");
  EXPECT_EQ(o.GetIpv4List(205).status().message(),
            "option 205: length 0, expected a non-zero multiple of 4");
  EXPECT_EQ(o.GetString(205).status().message(),
            "option 205: empty (length 0)");
  EXPECT_TRUE(absl::IsInvalidArgument(o.GetU8(205).status()));
  absl::Status absent = o.GetU8(99).status();
  EXPECT_TRUE(absl::IsNotFound(absent));
  EXPECT_EQ(absent.message(), "option 99: absent");
}

TEST(DhcpOptionsTest, StringsDropTrailingNuls) {
  DhcpOptions o;
  o.SetBytes(kOptionHostName, Bytes({'p', 'c', 0, 0}));
  o.SetBytes(kOptionDomainName, Bytes({0}));
  EXPECT_EQ(*o.HostName(), "pc");
  EXPECT_EQ(o.DomainName().status().message(),
            "option 15 (domain name): empty (only NUL bytes)");
}

TEST(DhcpOptionsTest, NamedAccessors) {
  DhcpOptions o;
  o.SetIpv4(kOptionSubnetMask, Ipv4Address(255, 255, 255, 0));
  const Ipv4Address routers[] = {Ipv4Address(10, 0, 0, 1)};
  o.SetIpv4List(kOptionRouter, routers);
  const Ipv4Address dns[] = {Ipv4Address(10, 0, 0, 2),
                             Ipv4Address(10, 0, 0, 3)};
  o.SetIpv4List(kOptionDnsServer, dns);
  o.SetString(kOptionHostName, "node1");
  o.SetString(kOptionDomainName, "lab.example");
  o.SetIpv4(kOptionBroadcastAddress, Ipv4Address(10, 0, 0, 255));
  o.SetIpv4(kOptionRequestedAddress, Ipv4Address(10, 0, 0, 50));
  o.SetU32(kOptionLeaseTime, 3600);
  o.SetU8(kOptionOverload, 3);
  o.SetU8(kOptionMessageType, 1);
  o.SetIpv4(kOptionServerIdentifier, Ipv4Address(10, 0, 0, 1));
  o.SetBytes(kOptionParameterRequestList, Bytes({1, 3, 6, 66, 67}));
  o.SetU16(kOptionMaxMessageSize, 1472);
  o.SetU32(kOptionRenewalTime, 1800);
  o.SetU32(kOptionRebindingTime, 3150);
  o.SetString(kOptionVendorClassId, "PXEClient:Arch:00007:UNDI:003016");
  o.SetBytes(kOptionClientId, Bytes({1, 0x52, 0x54, 0, 0x12, 0x34, 0x56}));
  o.SetString(kOptionTftpServerName, "10.0.0.1");
  o.SetString(kOptionBootfileName, "ipxe.efi");
  o.SetString(kOptionUserClass, "iPXE");
  o.SetBytes(kOptionClientArchitecture, Bytes({0, 7, 0, 11}));
  o.SetBytes(kOptionClientNetworkInterface, Bytes({1, 3, 16}));
  std::vector<uint8_t> uuid = {0};
  for (uint8_t i = 0; i < 16; ++i) uuid.push_back(i);
  o.SetBytes(kOptionClientMachineId, uuid);
  o.SetBytes(kOptionIpxeEncapsulated, Bytes({0x13, 1, 1, 255}));

  EXPECT_EQ(*o.SubnetMask(), Ipv4Address(255, 255, 255, 0));
  EXPECT_THAT(*o.Routers(), ElementsAre(routers[0]));
  EXPECT_THAT(*o.DnsServers(), ElementsAre(dns[0], dns[1]));
  EXPECT_EQ(*o.HostName(), "node1");
  EXPECT_EQ(*o.DomainName(), "lab.example");
  EXPECT_EQ(*o.BroadcastAddress(), Ipv4Address(10, 0, 0, 255));
  EXPECT_EQ(*o.RequestedAddress(), Ipv4Address(10, 0, 0, 50));
  EXPECT_EQ(*o.LeaseTime(), 3600u);
  EXPECT_EQ(*o.Overload(), 3);
  EXPECT_EQ(*o.MessageType(), DhcpMessageType::kDiscover);
  EXPECT_EQ(*o.ServerIdentifier(), Ipv4Address(10, 0, 0, 1));
  EXPECT_THAT(*o.ParameterRequestList(), ElementsAre(1, 3, 6, 66, 67));
  EXPECT_EQ(*o.MaxMessageSize(), 1472);
  EXPECT_EQ(*o.T1(), 1800u);
  EXPECT_EQ(*o.T2(), 3150u);
  EXPECT_EQ(*o.VendorClassId(), "PXEClient:Arch:00007:UNDI:003016");
  EXPECT_THAT(*o.ClientId(), ElementsAre(1, 0x52, 0x54, 0, 0x12, 0x34, 0x56));
  EXPECT_EQ(*o.TftpServerName(), "10.0.0.1");
  EXPECT_EQ(*o.BootfileName(), "ipxe.efi");
  EXPECT_THAT(*o.UserClass(), ElementsAre("iPXE"));
  EXPECT_TRUE(o.UserClassContains("iPXE"));
  EXPECT_FALSE(o.UserClassContains("gPXE"));
  EXPECT_THAT(*o.ClientArchitectures(), ElementsAre(7, 11));
  EXPECT_EQ(*o.ClientNetworkInterface(), (ClientNetworkInterfaceId{1, 3, 16}));
  std::array<uint8_t, 16> id = *o.ClientMachineId();
  EXPECT_EQ(id[0], 0);
  EXPECT_EQ(id[15], 15);
  EXPECT_THAT(*o.Ipxe(), ElementsAre(0x13, 1, 1, 255));
}

TEST(DhcpOptionsTest, NamedAccessorErrors) {
  DhcpOptions o;
  EXPECT_TRUE(absl::IsNotFound(o.MessageType().status()));
  EXPECT_FALSE(o.UserClassContains("iPXE"));
  o.SetBytes(kOptionMessageType, Bytes({1, 1}));
  EXPECT_EQ(o.MessageType().status().message(),
            "option 53 (message type): length 2, expected 1");
  o.SetU8(kOptionMessageType, 9);
  EXPECT_EQ(o.MessageType().status().message(),
            "option 53 (message type): value 9, expected 1..8");
  o.SetU8(kOptionOverload, 0);
  EXPECT_EQ(o.Overload().status().message(),
            "option 52 (overload): value 0, expected 1, 2 or 3");
  o.SetU8(kOptionOverload, 4);
  EXPECT_THAT(o.Overload().status().message(), HasSubstr("value 4"));
  o.SetU16(kOptionMaxMessageSize, 575);
  EXPECT_EQ(o.MaxMessageSize().status().message(),
            "option 57 (max message size): value 575, the minimum is 576");
  o.SetU16(kOptionMaxMessageSize, 576);
  EXPECT_EQ(*o.MaxMessageSize(), 576);
  o.SetBytes(kOptionParameterRequestList, Bytes({}));
  EXPECT_EQ(
      o.ParameterRequestList().status().message(),
      "option 55 (parameter request list): length 0, expected at least 1");
  o.SetBytes(kOptionClientId, Bytes({1}));
  EXPECT_EQ(o.ClientId().status().message(),
            "option 61 (client id): length 1, expected at least 2");
  o.SetBytes(kOptionClientArchitecture, Bytes({0, 7, 0}));
  EXPECT_EQ(o.ClientArchitectures().status().message(),
            "option 93 (client system architecture): length 3, expected a "
            "non-zero multiple of 2");
  o.SetBytes(kOptionClientNetworkInterface, Bytes({2, 3, 16}));
  EXPECT_EQ(o.ClientNetworkInterface().status().message(),
            "option 94 (client network interface id): type 2, expected 1 "
            "(UNDI)");
  o.SetBytes(kOptionClientNetworkInterface, Bytes({1, 3}));
  EXPECT_THAT(o.ClientNetworkInterface().status().message(),
              HasSubstr("length 2, expected 3"));
  o.SetBytes(kOptionClientMachineId, Bytes({0, 1, 2}));
  EXPECT_THAT(
      o.ClientMachineId().status().message(),
      HasSubstr("option 97 (client machine id): length 3, expected 17"));
  std::vector<uint8_t> uuid(17, 0);
  uuid[0] = 1;
  o.SetBytes(kOptionClientMachineId, uuid);
  EXPECT_EQ(o.ClientMachineId().status().message(),
            "option 97 (client machine id): type 1, expected 0");
  o.SetBytes(kOptionUserClass, Bytes({}));
  EXPECT_THAT(o.UserClass().status().message(), HasSubstr("length 0"));
  EXPECT_FALSE(o.UserClassContains(""));
}

TEST(DhcpOptionsTest, UserClassRfc3004AndRawForms) {
  DhcpOptions o;
  // RFC 3004: two classes.
  o.SetBytes(kOptionUserClass,
             Bytes({4, 'i', 'P', 'X', 'E', 3, 'l', 'a', 'b'}));
  EXPECT_THAT(*o.UserClass(), ElementsAre("iPXE", "lab"));
  EXPECT_TRUE(o.UserClassContains("lab"));
  // A length byte running past the end: the raw form.
  o.SetBytes(kOptionUserClass, Bytes({5, 'i', 'P', 'X', 'E'}));
  EXPECT_EQ(o.UserClass()->size(), 1u);
  EXPECT_EQ(o.UserClass()->front().size(), 5u);
  // A zero length is not RFC 3004 either.
  o.SetBytes(kOptionUserClass, Bytes({0, 'a'}));
  EXPECT_EQ(o.UserClass()->size(), 1u);
  o.SetString(kOptionUserClass, "MSFT 5.0");
  EXPECT_TRUE(o.UserClassContains("MSFT 5.0"));
}

TEST(SubOptionsTest, PadEndFormat) {
  const std::vector<uint8_t> data = {0, 1, 2, 'a', 'b', 0, 3, 0, 255, 9, 9};
  auto subs = ParseSubOptions(data, SubOptionFormat::kPadEnd, 43);
  ASSERT_TRUE(subs.ok()) << subs.status();
  ASSERT_EQ(subs->size(), 2u);
  EXPECT_EQ((*subs)[0].code, 1);
  EXPECT_THAT((*subs)[0].data, ElementsAre('a', 'b'));
  EXPECT_EQ((*subs)[1].code, 3);
  EXPECT_TRUE((*subs)[1].data.empty());
  // No end: the data ends the list.
  EXPECT_EQ(
      ParseSubOptions(Bytes({1, 1, 7}), SubOptionFormat::kPadEnd, 175)->size(),
      1u);
  EXPECT_TRUE(ParseSubOptions({}, SubOptionFormat::kPadEnd, 43)->empty());
}

TEST(SubOptionsTest, TlvFormatTreatsEveryCodeAsData) {
  const std::vector<uint8_t> data = {0, 1, 'x', 255, 0};
  auto subs = ParseSubOptions(data, SubOptionFormat::kTlv, 82);
  ASSERT_TRUE(subs.ok());
  ASSERT_EQ(subs->size(), 2u);
  EXPECT_EQ((*subs)[0].code, 0);
  EXPECT_EQ((*subs)[1].code, 255);
}

TEST(SubOptionsTest, Errors) {
  EXPECT_EQ(ParseSubOptions(Bytes({1, 5, 'a'}), SubOptionFormat::kTlv, 82)
                .status()
                .message(),
            "option 82 (relay agent info): sub-option 1 at offset 0: length 5 "
            "runs past the end (1 bytes left)");
  EXPECT_EQ(ParseSubOptions(Bytes({1, 0, 2}), SubOptionFormat::kPadEnd, 175)
                .status()
                .message(),
            "option 175 (ipxe encapsulated): sub-option 2 at offset 2: length "
            "byte missing");
  std::vector<uint8_t> out;
  EXPECT_THAT(AppendSubOption(1, std::vector<uint8_t>(256), out).message(),
              HasSubstr("256 bytes do not fit"));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(AppendSubOption(1, std::vector<uint8_t>(255), out).ok());
  EXPECT_EQ(out.size(), 257u);
}

TEST(PxeVendorOptionsTest, RoundTrip) {
  PxeVendorOptions pxe;
  pxe.discovery_control = 8;
  pxe.boot_servers.push_back(
      {0x8000, {Ipv4Address(10, 0, 0, 1), Ipv4Address(10, 0, 0, 2)}});
  pxe.boot_menu.push_back({0x8000, "Install Linux"});
  pxe.boot_menu.push_back({0, "Local disk"});
  pxe.menu_prompt = PxeVendorOptions::MenuPrompt{5, "Press F8"};
  pxe.boot_item = PxeVendorOptions::BootItem{0x8000, 0};
  pxe.other.push_back({200, {1, 2, 3}});
  absl::StatusOr<std::vector<uint8_t>> wire = WritePxeVendorOptions(pxe);
  ASSERT_TRUE(wire.ok()) << wire.status();
  // Sub-option 6 first, the end option last.
  EXPECT_THAT(std::vector<uint8_t>(wire->begin(), wire->begin() + 3),
              ElementsAre(6, 1, 8));
  EXPECT_EQ(wire->back(), 255);
  absl::StatusOr<PxeVendorOptions> back = ParsePxeVendorOptions(*wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, pxe);
}

TEST(PxeVendorOptionsTest, ParsesWhatDnsmasqSends) {
  // A PXE menu reply as dnsmasq builds it: discovery control, menu, prompt,
  // boot item, end.
  const std::vector<uint8_t> option43 = {6,   1,   3,  //
                                         9,   8,   0x80, 0x00, 5,   'L',
                                         'i', 'n', 'u',  'x',             //
                                         10,  4,   10,   'P',  'X', 'E',  //
                                         71,  4,   0x80, 0x00, 0,   0,    //
                                         255};
  absl::StatusOr<PxeVendorOptions> pxe = ParsePxeVendorOptions(option43);
  ASSERT_TRUE(pxe.ok()) << pxe.status();
  EXPECT_EQ(pxe->discovery_control, 3);
  ASSERT_EQ(pxe->boot_menu.size(), 1u);
  EXPECT_EQ(pxe->boot_menu[0].type, 0x8000);
  EXPECT_EQ(pxe->boot_menu[0].description, "Linux");
  EXPECT_EQ(pxe->menu_prompt->timeout, 10);
  EXPECT_EQ(pxe->menu_prompt->prompt, "PXE");
  EXPECT_EQ(pxe->boot_item->type, 0x8000);
  EXPECT_EQ(pxe->boot_item->layer, 0);
  EXPECT_EQ(*WritePxeVendorOptions(*pxe), option43);
}

TEST(PxeVendorOptionsTest, Errors) {
  EXPECT_EQ(ParsePxeVendorOptions(Bytes({6, 2, 0, 0})).status().message(),
            "option 43 (vendor specific): PXE sub-option 6: length 2, "
            "expected 1");
  EXPECT_THAT(ParsePxeVendorOptions(Bytes({8, 2, 0, 1})).status().message(),
              HasSubstr("PXE sub-option 8: truncated entry"));
  EXPECT_THAT(ParsePxeVendorOptions(Bytes({8, 7, 0, 1, 2, 10, 0, 0, 1}))
                  .status()
                  .message(),
              HasSubstr("PXE sub-option 8: 2 addresses run past the end"));
  EXPECT_THAT(
      ParsePxeVendorOptions(Bytes({9, 4, 0, 1, 9, 'a'})).status().message(),
      HasSubstr("PXE sub-option 9: description length 9 runs past"));
  EXPECT_THAT(ParsePxeVendorOptions(Bytes({10, 0})).status().message(),
              HasSubstr("PXE sub-option 10: length 0"));
  EXPECT_THAT(ParsePxeVendorOptions(Bytes({71, 2, 0, 0})).status().message(),
              HasSubstr("PXE sub-option 71: length 2, expected 4"));
  EXPECT_THAT(ParsePxeVendorOptions(Bytes({71, 9})).status().message(),
              HasSubstr("length 9 runs past the end"));
  PxeVendorOptions big;
  big.menu_prompt = PxeVendorOptions::MenuPrompt{1, std::string(255, 'x')};
  EXPECT_THAT(
      WritePxeVendorOptions(big).status().message(),
      HasSubstr("option 43 (vendor specific): sub-option 10: 256 bytes"));
  PxeVendorOptions many;
  for (int i = 0; i < 20; ++i)
    many.boot_menu.push_back({1, "0123456789abcdef"});
  EXPECT_THAT(WritePxeVendorOptions(many).status().message(),
              HasSubstr("sub-option 9"));
}

TEST(RelayAgentInfoTest, EchoIsByteExact) {
  // Sub-options in an unusual order, with an unknown one: kept as they were.
  const std::vector<uint8_t> option82 = {
      2, 6, 0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e,  // remote id (MAC)
      9, 3, 1,    2,    3,                       // unknown, raw
      1, 4, 'e',  't',  '0',  '/',               // circuit id
      5, 0};                                     // zero-length
  absl::StatusOr<RelayAgentInfo> info = ParseRelayAgentInfo(option82);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(*info->CircuitId(), ElementsAre('e', 't', '0', '/'));
  EXPECT_EQ(info->RemoteId()->size(), 6u);
  EXPECT_FALSE(info->Get(7).has_value());
  EXPECT_EQ(info->sub_options.size(), 4u);
  EXPECT_EQ(*WriteRelayAgentInfo(*info), option82);
}

TEST(RelayAgentInfoTest, Errors) {
  EXPECT_THAT(ParseRelayAgentInfo(Bytes({1, 4, 'a'})).status().message(),
              HasSubstr("option 82 (relay agent info): sub-option 1 at offset "
                        "0: length 4 runs past the end"));
  EXPECT_THAT(ParseRelayAgentInfo(Bytes({1})).status().message(),
              HasSubstr("length byte missing"));
  RelayAgentInfo info;
  info.sub_options.push_back({1, std::vector<uint8_t>(300)});
  EXPECT_THAT(WriteRelayAgentInfo(info).status().message(),
              HasSubstr("option 82 (relay agent info): sub-option 1: 300"));
}

}  // namespace
}  // namespace rackboot::dhcp

namespace rackboot::dhcp {
namespace {

TEST(Ipv4AddressTest, ParsesDottedQuadsOnly) {
  EXPECT_EQ(*Ipv4Address::Parse("198.18.0.1"), Ipv4Address(198, 18, 0, 1));
  EXPECT_EQ(*Ipv4Address::Parse("0.0.0.0"), Ipv4Address());
  EXPECT_EQ(Ipv4Address::Parse("255.255.255.255")->value(), 0xffffffffu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
                          "a.b.c.d", "1..2.3", "1.2.3.0004", "-1.2.3.4"}) {
    auto parsed = Ipv4Address::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.status().message().find("not an IPv4 address"),
                std::string::npos);
    }
  }
}

}  // namespace
}  // namespace rackboot::dhcp
