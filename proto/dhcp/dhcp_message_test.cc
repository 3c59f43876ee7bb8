#include "proto/dhcp/dhcp_message.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::dhcp {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

std::vector<uint8_t> Bytes(absl::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// Builds datagrams byte by byte, the way clients lay them out.
class Packet {
 public:
  explicit Packet(uint8_t op = kBootRequest) : b_(kOffsetOptions, 0) {
    b_[kOffsetOp] = op;
    b_[kOffsetHtype] = 1;
    b_[kOffsetHlen] = 6;
    Put32(kOffsetXid, 0x3903f326);
    std::copy(kMac, kMac + 6, b_.begin() + kOffsetChaddr);
    Put32(kOffsetCookie, kMagicCookie);
  }
  Packet& Byte(size_t offset, uint8_t v) {
    b_[offset] = v;
    return *this;
  }
  Packet& Put32(size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) b_[offset + i] = uint8_t(v >> (24 - 8 * i));
    return *this;
  }
  Packet& Opt(uint8_t code, std::vector<uint8_t> data) {
    b_.push_back(code);
    b_.push_back(uint8_t(data.size()));
    b_.insert(b_.end(), data.begin(), data.end());
    return *this;
  }
  Packet& Str(uint8_t code, absl::string_view s) { return Opt(code, Bytes(s)); }
  Packet& Raw(std::vector<uint8_t> data) {
    b_.insert(b_.end(), data.begin(), data.end());
    return *this;
  }
  Packet& Pad(size_t n) {
    b_.insert(b_.end(), n, 0);
    return *this;
  }
  Packet& End() {
    b_.push_back(kOptionEnd);
    return *this;
  }
  Packet& PadTo(size_t size) {
    if (b_.size() < size) b_.resize(size, 0);
    return *this;
  }
  // Writes bytes into the header (sname or file).
  Packet& At(size_t offset, std::vector<uint8_t> data) {
    std::copy(data.begin(), data.end(), b_.begin() + offset);
    return *this;
  }
  std::vector<uint8_t> bytes() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

std::vector<uint8_t> ClientIdFromMac() {
  return {1, kMac[0], kMac[1], kMac[2], kMac[3], kMac[4], kMac[5]};
}

// ISC dhclient 4.4: 53, 50, 12, 55, end, zero padded to 300 bytes.
std::vector<uint8_t> DhclientDiscover() {
  return Packet()
      .Opt(kOptionMessageType, {1})
      .Opt(kOptionRequestedAddress, {192, 168, 122, 45})
      .Str(kOptionHostName, "debian")
      .Opt(kOptionParameterRequestList,
           {1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42})
      .End()
      .PadTo(300)
      .bytes();
}

// BusyBox udhcpc 1.36: 53, 61, 57 (576), 60, 12, 55, end, padded to 300.
std::vector<uint8_t> UdhcpcDiscover() {
  return Packet()
      .Byte(kOffsetSecs + 1, 3)
      .Opt(kOptionMessageType, {1})
      .Opt(kOptionClientId, ClientIdFromMac())
      .Opt(kOptionMaxMessageSize, {0x02, 0x40})
      .Str(kOptionVendorClassId, "udhcp 1.36.1")
      .Str(kOptionHostName, "router")
      .Opt(kOptionParameterRequestList, {1, 3, 6, 12, 15, 28, 42})
      .End()
      .PadTo(300)
      .bytes();
}

std::vector<uint8_t> Uuid() {
  std::vector<uint8_t> id = {0};
  for (uint8_t i = 0; i < 16; ++i) id.push_back(0xa0 + i);
  return id;
}

// iPXE 1.21 on x64 UEFI: broadcast flag, no padding after end.
std::vector<uint8_t> IpxeDiscover() {
  return Packet()
      .Byte(kOffsetFlags, 0x80)
      .Opt(kOptionMessageType, {1})
      .Opt(kOptionMaxMessageSize, {0x05, 0xc0})
      .Opt(kOptionClientArchitecture, {0x00, 0x07})
      .Opt(kOptionClientNetworkInterface, {1, 3, 10})
      .Str(kOptionVendorClassId, "PXEClient:Arch:00007:UNDI:003010")
      .Str(kOptionUserClass, "iPXE")
      .Opt(kOptionParameterRequestList,
           {1,   3,   6,   7,   12,  15,  17,  26,  43,  60,  66, 67,
            119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203})
      .Opt(kOptionIpxeEncapsulated,
           {0xb1, 5, 1,    0x80, 0x86, 0x10, 0x0e, 0xeb, 1, 1,
            0x13, 1, 1,    0x11, 1,    1,    0x19, 1,    1, 0x18,
            1,    1, 0x23, 1,    1,    0x15, 1,    1})
      .Opt(kOptionClientId, ClientIdFromMac())
      .Opt(kOptionClientMachineId, Uuid())
      .End()
      .bytes();
}

std::vector<uint8_t> Rewrite(const DhcpMessage& m) {
  absl::StatusOr<std::vector<uint8_t>> out =
      SerializeDhcpMessage(m, DhcpWriteOptions::SameSizeAs(m));
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<uint8_t>();
}

DhcpMessage MustParse(const std::vector<uint8_t>& datagram) {
  absl::StatusOr<DhcpMessage> m = ParseDhcpMessage(datagram);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : DhcpMessage();
}

std::string ParseError(const std::vector<uint8_t>& datagram) {
  absl::StatusOr<DhcpMessage> m = ParseDhcpMessage(datagram);
  EXPECT_FALSE(m.ok());
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(ParseTest, DhclientDiscover) {
  const std::vector<uint8_t> datagram = DhclientDiscover();
  DhcpMessage m = MustParse(datagram);
  EXPECT_EQ(m.op, kBootRequest);
  EXPECT_EQ(m.xid, 0x3903f326u);
  EXPECT_FALSE(m.IsBroadcast());
  EXPECT_EQ(m.MacAddress(),
            (std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  EXPECT_EQ(m.HardwareAddressString(), "52:54:00:12:34:56");
  EXPECT_EQ(*m.options.MessageType(), DhcpMessageType::kDiscover);
  EXPECT_EQ(*m.options.RequestedAddress(), Ipv4Address(192, 168, 122, 45));
  EXPECT_EQ(*m.options.HostName(), "debian");
  EXPECT_EQ(m.options.ParameterRequestList()->size(), 13u);
  EXPECT_EQ(m.wire.original_size, 300u);
  EXPECT_EQ(m.wire.overload, 0);
  EXPECT_EQ(Rewrite(m), datagram);
  // Default write options: the 300-byte BOOTP minimum, the same bytes.
  EXPECT_EQ(*SerializeDhcpMessage(m), datagram);
}

TEST(ParseTest, UdhcpcDiscover) {
  const std::vector<uint8_t> datagram = UdhcpcDiscover();
  DhcpMessage m = MustParse(datagram);
  EXPECT_EQ(m.secs, 3);
  EXPECT_EQ(*m.options.MaxMessageSize(), 576);
  EXPECT_EQ(*m.options.VendorClassId(), "udhcp 1.36.1");
  EXPECT_THAT(*m.options.ClientId(),
              ElementsAre(1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56));
  EXPECT_EQ(Rewrite(m), datagram);
}

TEST(ParseTest, IpxeDiscover) {
  const std::vector<uint8_t> datagram = IpxeDiscover();
  DhcpMessage m = MustParse(datagram);
  EXPECT_TRUE(m.IsBroadcast());
  const DhcpOptions& o = m.options;
  EXPECT_EQ(*o.MaxMessageSize(), 1472);
  EXPECT_THAT(*o.ClientArchitectures(),
              ElementsAre(static_cast<uint16_t>(PxeArch::kEfiX64)));
  EXPECT_EQ(*o.ClientNetworkInterface(), (ClientNetworkInterfaceId{1, 3, 10}));
  EXPECT_EQ(o.VendorClassId()->substr(0, 9), "PXEClient");
  EXPECT_TRUE(o.UserClassContains("iPXE"));
  EXPECT_EQ((*o.ClientMachineId())[0], 0xa0);
  absl::StatusOr<std::vector<DhcpSubOption>> ipxe =
      ParseSubOptions(*o.Ipxe(), SubOptionFormat::kPadEnd, 175);
  ASSERT_TRUE(ipxe.ok()) << ipxe.status();
  EXPECT_EQ(ipxe->size(), 8u);
  EXPECT_EQ((*ipxe)[0].code, 0xb1);
  EXPECT_EQ(m.wire.original_size, datagram.size());
  EXPECT_EQ(Rewrite(m), datagram);
}

TEST(ParseTest, ByteExactWithPadsDuplicatesAndOddSizes) {
  const std::vector<uint8_t> datagram =
      Packet()
          .Pad(3)
          .Str(kOptionHostName, "ab")
          .Opt(kOptionMessageType, {3})
          .Pad(1)
          .Str(kOptionHostName, "cd")  // RFC 3396: "abcd"
          .Opt(200, std::vector<uint8_t>{})
          .Opt(201, std::vector<uint8_t>(255, 7))
          .Opt(kOptionRelayAgentInfo, {1, 2, 'e', '0', 2, 1, 9})
          .End()
          .PadTo(700)
          .bytes();
  DhcpMessage m = MustParse(datagram);
  EXPECT_EQ(*m.options.HostName(), "abcd");
  EXPECT_EQ(m.options.at(0).code, kOptionHostName);
  EXPECT_TRUE(m.options.GetBytes(200)->empty());
  EXPECT_EQ(m.options.GetBytes(201)->size(), 255u);
  EXPECT_EQ(*WriteRelayAgentInfo(*ParseRelayAgentInfo(
                *m.options.GetBytes(kOptionRelayAgentInfo))),
            std::vector<uint8_t>({1, 2, 'e', '0', 2, 1, 9}));
  EXPECT_EQ(Rewrite(m), datagram);

  // Same lengths, new contents: still the recorded layout.
  m.options.SetString(kOptionHostName, "wxyz");
  std::vector<uint8_t> expected = datagram;
  expected[243 + 2] = 'w';
  expected[243 + 3] = 'x';
  expected[243 + 4 + 3 + 1 + 2] = 'y';
  expected[243 + 4 + 3 + 1 + 3] = 'z';
  EXPECT_EQ(Rewrite(m), expected);

  // A new option: the writer lays options out itself, 53 first.
  m.options.SetU8(202, 1);
  std::vector<uint8_t> out = Rewrite(m);
  EXPECT_THAT(std::vector<uint8_t>(out.begin() + 240, out.begin() + 249),
              ElementsAre(53, 1, 3, 12, 4, 'w', 'x', 'y', 'z'));
  EXPECT_EQ(out.size(), 700u);
  EXPECT_EQ(MustParse(out), m);
}

TEST(ParseTest, HeaderFieldsAndTraps) {
  std::vector<uint8_t> datagram =
      Packet(kBootReply)
          .Byte(kOffsetHops, 2)
          .Put32(kOffsetCiaddr, 0x0a000005)
          .Put32(kOffsetYiaddr, 0x0a000006)
          .Put32(kOffsetSiaddr, 0x0a000001)
          .Put32(kOffsetGiaddr, 0x0a0000fe)
          .At(kOffsetSname, std::vector<uint8_t>(64, 's'))
          .At(kOffsetFile, Bytes("pxelinux.0"))
          .Opt(kOptionMessageType, {2})
          .End()
          .bytes();
  DhcpMessage m = MustParse(datagram);
  EXPECT_EQ(m.op, kBootReply);
  EXPECT_EQ(m.hops, 2);
  EXPECT_EQ(m.ciaddr, Ipv4Address(10, 0, 0, 5));
  EXPECT_EQ(m.yiaddr, Ipv4Address(10, 0, 0, 6));
  EXPECT_EQ(m.siaddr, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(m.giaddr, Ipv4Address(10, 0, 0, 254));
  // sname fills its field: no NUL, still read within the field.
  EXPECT_EQ(m.ServerName(), std::string(64, 's'));
  EXPECT_EQ(m.BootFileName(), "pxelinux.0");
  EXPECT_EQ(Rewrite(m), datagram);

  // hlen 0 (InfiniBand style) is accepted; no MAC address then.
  datagram[kOffsetHlen] = 0;
  m = MustParse(datagram);
  EXPECT_FALSE(m.MacAddress().has_value());
  EXPECT_EQ(m.HardwareAddressString(), "");
  datagram[kOffsetHlen] = 16;
  EXPECT_EQ(MustParse(datagram).HardwareAddressString().size(), 16u * 3 - 1);
}

TEST(MessageTest, HelpersAndFieldSetters) {
  DhcpMessage m;
  EXPECT_FALSE(m.IsBroadcast());
  m.SetBroadcast(true);
  EXPECT_EQ(m.flags, 0x8000);
  m.flags |= 1;
  m.SetBroadcast(false);
  EXPECT_EQ(m.flags, 1);
  EXPECT_TRUE(m.SetBootFileName(std::string(128, 'f')).ok());
  EXPECT_EQ(m.BootFileName().size(), 128u);
  EXPECT_EQ(m.SetBootFileName(std::string(129, 'f')).message(),
            "boot file name of 129 bytes does not fit in 128");
  EXPECT_TRUE(m.SetServerName("tftp.lab").ok());
  EXPECT_EQ(m.ServerName(), "tftp.lab");
  EXPECT_FALSE(m.SetServerName(std::string(65, 's')).ok());
  m.htype = 6;  // IEEE 802 (token ring), not Ethernet
  EXPECT_FALSE(m.MacAddress().has_value());
}

// An OFFER as a PXE server writes it.
DhcpMessage PxeOffer() {
  DhcpMessage m;
  m.op = kBootReply;
  m.xid = 0x12345678;
  m.flags = kFlagBroadcast;
  m.yiaddr = Ipv4Address(10, 0, 0, 50);
  m.siaddr = Ipv4Address(10, 0, 0, 1);
  std::copy(kMac, kMac + 6, m.chaddr.begin());
  EXPECT_TRUE(m.SetBootFileName("ipxe.efi").ok());
  m.options.SetIpv4(kOptionServerIdentifier, Ipv4Address(10, 0, 0, 1));
  m.options.SetU8(kOptionMessageType, 2);  // set second, written first
  m.options.SetU32(kOptionLeaseTime, 3600);
  m.options.SetIpv4(kOptionSubnetMask, Ipv4Address(255, 255, 255, 0));
  m.options.SetString(kOptionVendorClassId, "PXEClient");
  PxeVendorOptions pxe;
  pxe.discovery_control = 8;
  m.options.SetBytes(kOptionVendorSpecific, *WritePxeVendorOptions(pxe));
  return m;
}

TEST(WriteTest, PxeOffer) {
  DhcpMessage m = PxeOffer();
  std::vector<uint8_t> buffer(1500, 0xaa);  // garbage the writer must cover
  absl::StatusOr<size_t> n = WriteDhcpMessage(m, {}, absl::MakeSpan(buffer));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 300u);  // padded to the BOOTP minimum
  buffer.resize(*n);
  EXPECT_EQ(buffer, *SerializeDhcpMessage(m));
  EXPECT_THAT(
      std::vector<uint8_t>(buffer.begin() + 236, buffer.begin() + 249),
      ElementsAre(0x63, 0x82, 0x53, 0x63, 53, 1, 2, 54, 4, 10, 0, 0, 1));
  EXPECT_EQ(buffer[kOffsetFlags], 0x80);
  DhcpMessage back = MustParse(buffer);
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.BootFileName(), "ipxe.efi");
  EXPECT_EQ(
      ParsePxeVendorOptions(*back.options.GetBytes(43))->discovery_control, 8);

  DhcpWriteOptions no_padding;
  no_padding.min_size = 0;
  std::vector<uint8_t> tight = *SerializeDhcpMessage(m, no_padding);
  EXPECT_EQ(tight.back(), kOptionEnd);
  EXPECT_EQ(tight.size(), 240u + 3 + 6 + 6 + 6 + 11 + 6 + 1);
}

TEST(WriteTest, SplitsLongOptionsRfc3396) {
  DhcpMessage m;
  std::vector<uint8_t> big(600);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i);
  m.options.SetBytes(kOptionVendorSpecific, big);
  m.options.SetBytes(kOptionBootfileName, std::vector<uint8_t>(255, 'b'));
  DhcpWriteOptions w;
  w.max_message_size = 1500;
  std::vector<uint8_t> out = *SerializeDhcpMessage(m, w);
  // 43 as 255 + 255 + 90, then 67 as one instance of exactly 255.
  EXPECT_EQ(out[240], 43);
  EXPECT_EQ(out[241], 255);
  EXPECT_EQ(out[240 + 257], 43);
  EXPECT_EQ(out[240 + 258], 255);
  EXPECT_EQ(out[240 + 514], 43);
  EXPECT_EQ(out[240 + 515], 90);
  EXPECT_EQ(out[240 + 606], 67);
  EXPECT_EQ(out[240 + 607], 255);
  EXPECT_EQ(out[240 + 606 + 257], kOptionEnd);
  DhcpMessage back = MustParse(out);
  EXPECT_EQ(back, m);
  EXPECT_THAT(*back.options.GetBytes(43), ElementsAreArray(big));
  EXPECT_EQ(Rewrite(back), out);
}

TEST(WriteTest, RespectsMaxMessageSize) {
  DhcpMessage m;
  m.options.SetU8(kOptionMessageType, 5);
  m.options.SetBytes(200, std::vector<uint8_t>(350, 1));
  DhcpWriteOptions w;
  w.max_message_size = 1500;
  absl::StatusOr<std::vector<uint8_t>> out = SerializeDhcpMessage(m, w);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 240u + 3 + 257 + 97 + 1);
  EXPECT_LE(out->size(), 1500u - 28);
  EXPECT_EQ(MustParse(*out), m);

  // At 576 (IP datagram, so 548 bytes of DHCP) the options need overload;
  // values below 576 are raised to it.
  for (size_t mms : {0, 300, 576}) {
    w.max_message_size = mms;
    out = SerializeDhcpMessage(m, w);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_LE(out->size(), 548u);
    EXPECT_EQ(MustParse(*out), m);
    EXPECT_EQ(MustParse(*out).wire.overload, 1);
  }

  // The caller's buffer also bounds the message.
  std::vector<uint8_t> small(100);
  EXPECT_EQ(WriteDhcpMessage(m, {}, absl::MakeSpan(small)).status().message(),
            "output buffer of 100 bytes is too small");
}

// 53 + 12 (200 bytes) + 15 (101 bytes) take 308 bytes: one more than the
// options field of a 576-byte message holds before its end option.
DhcpMessage LargeAck() {
  DhcpMessage m;
  m.op = kBootReply;
  m.options.SetString(kOptionHostName, std::string(200, 'h'));
  m.options.SetU8(kOptionMessageType, 5);
  m.options.SetString(kOptionDomainName, std::string(101, 'd'));
  return m;
}

TEST(WriteTest, OverloadsIntoFile) {
  DhcpMessage m = LargeAck();
  std::vector<uint8_t> out = *SerializeDhcpMessage(m);
  // 53, then 52 = 1 (file), then 12; 15 went into the file field.
  EXPECT_THAT(std::vector<uint8_t>(out.begin() + 240, out.begin() + 248),
              ElementsAre(53, 1, 5, 52, 1, 1, 12, 200));
  EXPECT_EQ(out[kOffsetFile], 15);
  EXPECT_EQ(out[kOffsetFile + 103], kOptionEnd);
  EXPECT_EQ(out[kOffsetSname], 0);
  EXPECT_EQ(out.size(), 240u + 3 + 3 + 202 + 1);
  DhcpMessage back = MustParse(out);
  EXPECT_EQ(back.wire.overload, 1);
  EXPECT_FALSE(back.options.Has(kOptionOverload));
  EXPECT_EQ(back, m);
  EXPECT_EQ(Rewrite(back), out);
}

TEST(WriteTest, OverloadsIntoFileThenSname) {
  DhcpMessage m = LargeAck();
  m.options.SetString(kOptionTftpServerName, std::string(40, 't'));
  std::vector<uint8_t> out = *SerializeDhcpMessage(m);
  EXPECT_EQ(out[245], 3);  // option 52: file and sname
  EXPECT_EQ(out[kOffsetFile], 15);
  EXPECT_EQ(out[kOffsetSname], 66);
  EXPECT_EQ(out[kOffsetSname + 42], kOptionEnd);
  DhcpMessage back = MustParse(out);
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.wire.overload, 3);
  EXPECT_EQ(Rewrite(back), out);
}

TEST(WriteTest, OverloadOnlyIntoUnusedFields) {
  DhcpMessage m;
  m.options.SetU8(kOptionMessageType, 5);
  m.options.SetString(kOptionHostName, std::string(243, 'h'));
  m.options.SetString(kOptionDomainName, std::string(60, 'd'));  // 62 bytes
  ASSERT_TRUE(m.SetBootFileName("pxelinux.0").ok());
  std::vector<uint8_t> out = *SerializeDhcpMessage(m);
  EXPECT_EQ(out[245], 2);  // sname only
  EXPECT_EQ(out[kOffsetSname], 15);
  EXPECT_EQ(out[kOffsetSname + 62], kOptionEnd);
  DhcpMessage back = MustParse(out);
  EXPECT_EQ(back.BootFileName(), "pxelinux.0");
  EXPECT_EQ(back, m);

  ASSERT_TRUE(m.SetServerName("boot").ok());
  absl::StatusOr<std::vector<uint8_t>> failed = SerializeDhcpMessage(m);
  EXPECT_THAT(failed.status().message(),
              HasSubstr("options do not fit: they need 311 bytes, 308 fit"));
  EXPECT_THAT(failed.status().message(),
              HasSubstr("file and sname are in use"));

  // Larger than the three fields together.
  DhcpMessage huge;
  huge.options.SetBytes(200, std::vector<uint8_t>(700, 1));
  EXPECT_THAT(SerializeDhcpMessage(huge).status().message(),
              HasSubstr("options do not fit"));
}

TEST(WriteTest, RejectsPadAndEndAsData) {
  DhcpMessage m;
  m.options.SetU8(kOptionEnd, 1);
  EXPECT_EQ(SerializeDhcpMessage(m).status().message(),
            "option 255 (end) holds data; it has no length byte on the wire");
  m.options.Clear();
  m.options.SetBytes(kOptionPad, {});
  EXPECT_THAT(std::string(SerializeDhcpMessage(m).status().message()),
              StartsWith("option 0 (pad)"));
}

TEST(OverloadParseTest, FileAndSnameInRfc3396Order) {
  // Host name split over options, file and sname: concatenated in that order
  // although sname comes first in the datagram.
  const std::vector<uint8_t> datagram =
      Packet()
          .At(kOffsetFile, {12, 2, 'c', 'd', 67, 3, 'a', '.', 'b', 255})
          .At(kOffsetSname, {0, 12, 2, 'e', 'f', 255})
          .Opt(kOptionMessageType, {1})
          .Opt(kOptionOverload, {3})
          .Str(kOptionHostName, "ab")
          .End()
          .bytes();
  DhcpMessage m = MustParse(datagram);
  EXPECT_EQ(*m.options.HostName(), "abcdef");
  EXPECT_EQ(*m.options.BootfileName(), "a.b");
  EXPECT_EQ(m.wire.overload, 3);
  EXPECT_FALSE(m.options.Has(kOptionOverload));
  // The fields held options, not names.
  EXPECT_EQ(m.BootFileName(), "");
  EXPECT_EQ(m.ServerName(), "");
  EXPECT_EQ(Rewrite(m), datagram);
}

TEST(OverloadParseTest, SplitOverloadOptionIsRewrittenExactly) {
  // Found by libFuzzer: 52 as an instance of length 1 and one of length 0
  // concatenates to a valid overload value (RFC 3396).
  const std::vector<uint8_t> datagram =
      Packet()
          .At(kOffsetFile, {kOptionEnd})
          .Opt(kOptionOverload, {1})
          .Pad(2)
          .Opt(kOptionOverload, std::vector<uint8_t>{})
          .Opt(kOptionMessageType, {1})
          .End()
          .bytes();
  DhcpMessage m = MustParse(datagram);
  EXPECT_EQ(m.wire.overload, 1);
  EXPECT_EQ(Rewrite(m), datagram);
}

TEST(OverloadParseTest, Errors) {
  auto with_overload = [](uint8_t value) {
    return Packet()
        .At(kOffsetFile, Bytes("pxelinux.0"))
        .At(kOffsetSname, Bytes("server"))
        .Opt(kOptionMessageType, {1})
        .Opt(kOptionOverload, {value})
        .End()
        .bytes();
  };
  // A file name where options should be: 'p' (112) with length 'x' (120),
  // then zeros (pad) without an end option.
  EXPECT_EQ(ParseError(with_overload(1)),
            "file field (overloaded by option 52) ends without option 255 "
            "(end)");
  EXPECT_EQ(ParseError(with_overload(2)),
            "option 115 at offset 44: length 101 runs past the end of the "
            "sname field (overloaded) (62 bytes left)");
  EXPECT_EQ(ParseError(with_overload(0)),
            "option 52 (overload): value 0, expected 1, 2 or 3");
  EXPECT_EQ(ParseError(with_overload(4)),
            "option 52 (overload): value 4, expected 1, 2 or 3");
  // An empty (all pad) file field has no end option.
  std::vector<uint8_t> datagram = with_overload(1);
  std::fill_n(datagram.begin() + kOffsetFile, kFileSize, 0);
  EXPECT_EQ(ParseError(datagram),
            "file field (overloaded by option 52) ends without option 255 "
            "(end)");
  datagram = with_overload(2);
  std::fill_n(datagram.begin() + kOffsetSname, kSnameSize, 0);
  EXPECT_EQ(ParseError(datagram),
            "sname field (overloaded by option 52) ends without option 255 "
            "(end)");
  // Option 52 belongs in the options field only.
  datagram = with_overload(1);
  std::vector<uint8_t> nested = {52, 1, 2, 255};
  std::copy(nested.begin(), nested.end(), datagram.begin() + kOffsetFile);
  EXPECT_EQ(ParseError(datagram),
            "option 52 (overload) at offset 108 inside the file field "
            "(overloaded): it must be in the options field (RFC 2131 4.1)");
  // Two 52s concatenate to length 2.
  EXPECT_EQ(ParseError(Packet()
                           .Opt(kOptionOverload, {1})
                           .Opt(kOptionOverload, {1})
                           .End()
                           .bytes()),
            "option 52 (overload): length 2, expected 1");
}

TEST(BadInputTest, TruncatedAtEveryLength) {
  const std::vector<uint8_t> full = IpxeDiscover();
  for (size_t len = 0; len < full.size(); ++len) {
    // A heap copy of exactly `len` bytes: ASan catches any read beyond.
    std::vector<uint8_t> prefix(full.begin(), full.begin() + len);
    absl::StatusOr<DhcpMessage> m = ParseDhcpMessage(prefix);
    ASSERT_FALSE(m.ok()) << len;
    const std::string error(m.status().message());
    if (len < 240) {
      EXPECT_EQ(error, absl::StrCat("truncated: ", len,
                                    " bytes, a DHCP message needs at least "
                                    "240 (236-byte header and the 4-byte "
                                    "magic cookie)"));
    } else {
      EXPECT_TRUE(error == "options end without option 255 (end)" ||
                  error.find("runs past the end of the options") !=
                      std::string::npos ||
                  error.find("length byte missing at the end of the options") !=
                      std::string::npos)
          << len << ": " << error;
    }
  }
  EXPECT_TRUE(ParseDhcpMessage(full).ok());
  EXPECT_TRUE(ParseDhcpMessage({}).status().message().find("truncated: 0") ==
              0);
}

TEST(BadInputTest, HeaderChecks) {
  std::vector<uint8_t> d = DhclientDiscover();
  d[kOffsetCookie + 3] = 0x64;
  EXPECT_EQ(ParseError(d),
            "bad magic cookie 0x63825364, expected 0x63825363 (RFC 2131 "
            "section 3; plain BOOTP is not supported)");
  d = DhclientDiscover();
  d[kOffsetOp] = 3;
  EXPECT_EQ(ParseError(d), "op 3: expected 1 (BOOTREQUEST) or 2 (BOOTREPLY)");
  d = DhclientDiscover();
  d[kOffsetHlen] = 17;
  EXPECT_EQ(ParseError(d), "hlen 17: chaddr holds at most 16 bytes");
  EXPECT_THAT(ParseError(std::vector<uint8_t>(70000, 0)),
              HasSubstr("70000 bytes is too large"));
}

TEST(BadInputTest, OptionErrors) {
  EXPECT_EQ(
      ParseError(
          Packet().Opt(kOptionMessageType, {1}).Raw({12, 10, 'a'}).bytes()),
      "option 12 (host name) at offset 243: length 10 runs past the end "
      "of the options (1 bytes left)");
  EXPECT_EQ(ParseError(Packet().Opt(kOptionMessageType, {1}).Raw({61}).bytes()),
            "option 61 (client id) at offset 243: length byte missing at the "
            "end of the options");
  // No end option, with or without padding after the last option.
  EXPECT_EQ(ParseError(Packet().Opt(kOptionMessageType, {1}).bytes()),
            "options end without option 255 (end)");
  EXPECT_EQ(
      ParseError(Packet().Opt(kOptionMessageType, {1}).PadTo(300).bytes()),
      "options end without option 255 (end)");
  EXPECT_EQ(ParseError(Packet().bytes()),
            "options end without option 255 (end)");
}

TEST(BadInputTest, ZeroLengthAnd255ByteOptionsAreLegalTlvs) {
  DhcpMessage m = MustParse(Packet()
                                .Opt(kOptionMessageType, std::vector<uint8_t>{})
                                .Str(kOptionHostName, std::string(255, 'n'))
                                .End()
                                .bytes());
  EXPECT_TRUE(m.options.Has(kOptionMessageType));
  EXPECT_EQ(m.options.MessageType().status().message(),
            "option 53 (message type): length 0, expected 1");
  EXPECT_EQ(m.options.HostName()->size(), 255u);
}

TEST(BadInputTest, DuplicatesConcatenate) {
  DhcpMessage m = MustParse(Packet()
                                .Opt(kOptionMessageType, {1})
                                .Opt(kOptionParameterRequestList, {1, 3})
                                .Opt(kOptionMessageType, {3})
                                .Opt(kOptionParameterRequestList, {6})
                                .End()
                                .bytes());
  EXPECT_THAT(*m.options.ParameterRequestList(), ElementsAre(1, 3, 6));
  EXPECT_EQ(m.options.MessageType().status().message(),
            "option 53 (message type): length 2, expected 1");
}

TEST(BadInputTest, MaxMessageSizeBelow576) {
  DhcpMessage m = MustParse(
      Packet().Opt(kOptionMaxMessageSize, {0x01, 0x2c}).End().bytes());
  EXPECT_EQ(m.options.MaxMessageSize().status().message(),
            "option 57 (max message size): value 300, the minimum is 576");
}

TEST(BadInputTest, BytesAfterEndAreIgnored) {
  // Some clients leave garbage after the end option; it is not an option.
  DhcpMessage m = MustParse(
      Packet().Opt(kOptionMessageType, {1}).End().Raw({7, 200}).bytes());
  EXPECT_EQ(m.options.size(), 1u);
  EXPECT_EQ(m.wire.original_size, 246u);
}

// Datagrams captured from real clients and servers (tests/data/README.md).
TEST(CapturedPacketsTest, ParseAndRewriteByteForByte) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  ASSERT_NE(srcdir, nullptr);
  const std::filesystem::path dir = std::filesystem::path(srcdir) /
                                    (workspace ? workspace : "rackboot") /
                                    "tests/data/dhcp";
  // The captures are part of the repository: without them this test would
  // check nothing, so their absence is a failure, not a skip.
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " is missing";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> datagram((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
    DhcpMessage m = MustParse(datagram);
    ++count;
    EXPECT_TRUE(m.options.MessageType().ok());
    EXPECT_TRUE(m.MacAddress().has_value());
    EXPECT_EQ(Rewrite(m), datagram);
    if (name.find("ipxe-") == 0) {
      EXPECT_TRUE(m.options.UserClassContains("iPXE"));
      EXPECT_TRUE(m.options.ClientArchitectures().ok());
      EXPECT_TRUE(m.options.ClientNetworkInterface().ok());
      EXPECT_TRUE(m.options.ClientMachineId().ok());
      EXPECT_TRUE(m.options.MaxMessageSize().ok());
      EXPECT_TRUE(ParseSubOptions(*m.options.Ipxe(), SubOptionFormat::kPadEnd,
                                  kOptionIpxeEncapsulated)
                      .ok());
    }
    if (m.op == kBootReply) {
      EXPECT_TRUE(m.options.ServerIdentifier().ok());
      EXPECT_TRUE(m.options.LeaseTime().ok());
    }
    // The writer's own layout parses back to the same message.
    DhcpMessage canonical = m;
    canonical.wire = {};
    EXPECT_EQ(MustParse(*SerializeDhcpMessage(canonical)), m);
  }
  EXPECT_GT(count, 0);
}

}  // namespace
}  // namespace rackboot::dhcp
