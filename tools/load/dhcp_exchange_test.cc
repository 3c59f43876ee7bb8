#include "tools/load/dhcp_exchange.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/dhcp/dhcp_server.h"
#include "engine/dhcp/lease_table.h"
#include "gtest/gtest.h"
#include "proto/dhcp/dhcp_message.h"

namespace rackboot::load {
namespace {

using dhcp::DhcpMessage;
using dhcp::DhcpMessageType;
using dhcp::Ipv4Address;
using Mac = std::array<uint8_t, 6>;

constexpr Mac kMac = {0x02, 0x4c, 0x44, 0x00, 0x01, 0x2a};
constexpr uint32_t kXid = 0xdeadbeef;
constexpr Ipv4Address kServer(198, 18, 0, 1);
constexpr Ipv4Address kOffered(198, 18, 0, 100);
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

DhcpExchangeOptions Options() {
  DhcpExchangeOptions options;
  options.mac = kMac;
  options.xid = kXid;
  options.client_arch = 7;
  options.timeout = absl::Seconds(2);
  options.max_retries = 2;
  return options;
}

DhcpMessage Parse(absl::Span<const uint8_t> datagram) {
  absl::StatusOr<DhcpMessage> m = dhcp::ParseDhcpMessage(datagram);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.value_or(DhcpMessage{});
}

// What the exchange queued, parsed; clears it.
DhcpMessage Sent(DhcpExchange& x) {
  EXPECT_FALSE(x.Transmit().empty());
  DhcpMessage m = Parse(x.Transmit());
  x.ClearTransmit();
  return m;
}

DhcpMessage Reply(DhcpMessageType type, Ipv4Address server = kServer,
                  uint32_t xid = kXid, Mac mac = kMac) {
  DhcpMessage m;
  m.op = dhcp::kBootReply;
  m.xid = xid;
  m.SetBroadcast(true);
  std::copy(mac.begin(), mac.end(), m.chaddr.begin());
  m.options.SetU8(dhcp::kOptionMessageType, static_cast<uint8_t>(type));
  m.options.SetIpv4(dhcp::kOptionServerIdentifier, server);
  if (type != DhcpMessageType::kNak) {
    m.yiaddr = kOffered;
    m.options.SetU32(dhcp::kOptionLeaseTime, 3600);
  }
  return m;
}

std::vector<uint8_t> Wire(const DhcpMessage& m) {
  absl::StatusOr<std::vector<uint8_t>> wire = dhcp::SerializeDhcpMessage(m);
  EXPECT_TRUE(wire.ok()) << wire.status();
  return wire.value_or(std::vector<uint8_t>{});
}

// An exchange past the OFFER, its REQUEST taken.
DhcpExchange Requesting(DhcpExchangeOptions options = Options()) {
  DhcpExchange x(options, kT0);
  x.ClearTransmit();
  x.OnDatagram(Wire(Reply(DhcpMessageType::kOffer)), kT0);
  EXPECT_EQ(Sent(x).options.MessageType().value_or(DhcpMessageType::kAck),
            DhcpMessageType::kRequest);
  return x;
}

TEST(DhcpExchangeTest, DiscoverLooksLikeAPxeRom) {
  DhcpExchange x(Options(), kT0);
  EXPECT_EQ(x.Deadline(), kT0 + absl::Seconds(2));
  EXPECT_EQ(x.stats().started, kT0);
  const DhcpMessage m = Sent(x);
  EXPECT_TRUE(x.Transmit().empty());
  EXPECT_EQ(m.op, dhcp::kBootRequest);
  EXPECT_EQ(m.htype, 1);
  EXPECT_EQ(m.hlen, 6);
  EXPECT_EQ(m.hops, 0);
  EXPECT_EQ(m.xid, kXid);
  EXPECT_EQ(m.secs, 0);
  EXPECT_TRUE(m.IsBroadcast());
  EXPECT_TRUE(m.giaddr.IsUnspecified());
  EXPECT_TRUE(m.ciaddr.IsUnspecified());
  EXPECT_EQ(m.MacAddress(), kMac);
  const dhcp::DhcpOptions& o = m.options;
  EXPECT_EQ(*o.MessageType(), DhcpMessageType::kDiscover);
  EXPECT_EQ(*o.MaxMessageSize(), 1472);
  const std::vector<uint8_t> prl = {1,  3,  6,  12, 15, 28, 43,
                                    60, 66, 67, 93, 94, 97};
  absl::Span<const uint8_t> got = *o.ParameterRequestList();
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), prl);
  EXPECT_EQ(*o.VendorClassId(), "PXEClient:Arch:00007:UNDI:002001");
  EXPECT_EQ(*o.ClientArchitectures(), std::vector<uint16_t>{7});
  const dhcp::ClientNetworkInterfaceId nic = *o.ClientNetworkInterface();
  EXPECT_EQ(nic.type, 1);
  EXPECT_EQ(nic.major, 2);
  EXPECT_EQ(nic.minor, 1);
  const std::array<uint8_t, 16> uuid = *o.ClientMachineId();
  EXPECT_EQ(uuid[10], kMac[0]);
  EXPECT_EQ(uuid[15], kMac[5]);
  absl::Span<const uint8_t> id = *o.ClientId();
  EXPECT_EQ(std::vector<uint8_t>(id.begin(), id.end()),
            (std::vector<uint8_t>{1, 0x02, 0x4c, 0x44, 0x00, 0x01, 0x2a}));
  EXPECT_FALSE(o.Has(dhcp::kOptionRequestedAddress));
  EXPECT_FALSE(o.Has(dhcp::kOptionServerIdentifier));

  // Another MAC gives another machine id.
  DhcpExchangeOptions other = Options();
  other.mac[5] = 0x2b;
  DhcpExchange y(other, kT0);
  EXPECT_NE(*Sent(y).options.ClientMachineId(), uuid);
}

TEST(DhcpExchangeTest, RelayedDiscoverCarriesGiaddrAndOneHop) {
  DhcpExchangeOptions options = Options();
  options.relay = Ipv4Address(198, 19, 7, 1);
  options.client_arch = 0;
  DhcpExchange x(options, kT0);
  const DhcpMessage m = Sent(x);
  EXPECT_EQ(m.giaddr, Ipv4Address(198, 19, 7, 1));
  EXPECT_EQ(m.hops, 1);
  EXPECT_EQ(*m.options.VendorClassId(), "PXEClient:Arch:00000:UNDI:002001");
}

TEST(DhcpExchangeTest, OfferLeadsToRequestWithAddressAndServer) {
  DhcpExchange x(Options(), kT0);
  const DhcpMessage discover = Sent(x);
  const absl::Time t = kT0 + absl::Milliseconds(1500);
  x.OnDatagram(Wire(Reply(DhcpMessageType::kOffer)), t);
  EXPECT_EQ(x.stats().offered, t);
  EXPECT_EQ(x.Deadline(), t + absl::Seconds(2));
  const DhcpMessage request = Sent(x);
  EXPECT_EQ(*request.options.MessageType(), DhcpMessageType::kRequest);
  EXPECT_EQ(*request.options.RequestedAddress(), kOffered);
  EXPECT_EQ(*request.options.ServerIdentifier(), kServer);
  EXPECT_EQ(request.xid, kXid);
  EXPECT_TRUE(request.IsBroadcast());
  EXPECT_TRUE(request.ciaddr.IsUnspecified());
  EXPECT_EQ(request.secs, 1);
  // Every option of the DISCOVER is there too.
  for (uint8_t code : {55, 57, 60, 61, 93, 94, 97}) {
    EXPECT_EQ(request.options.Find(code), discover.options.Find(code)) << +code;
  }

  // A second OFFER (another server) is late.
  x.OnDatagram(Wire(Reply(DhcpMessageType::kOffer, Ipv4Address(10, 0, 0, 9))),
               t);
  EXPECT_TRUE(x.Transmit().empty());
  EXPECT_EQ(x.stats().ignored, 1u);
}

TEST(DhcpExchangeTest, AckGivesTheLease) {
  DhcpExchange x = Requesting();
  DhcpMessage ack = Reply(DhcpMessageType::kAck);
  ack.siaddr = kServer;
  ASSERT_TRUE(ack.SetBootFileName("bootnetx64.efi").ok());
  const absl::Time t = kT0 + absl::Milliseconds(20);
  x.OnDatagram(Wire(ack), t);
  EXPECT_EQ(x.result(), DhcpExchangeResult::kOk);
  EXPECT_EQ(x.lease().address, kOffered);
  EXPECT_EQ(x.lease().server, kServer);
  EXPECT_EQ(x.lease().next_server, kServer);
  EXPECT_EQ(x.lease().boot_file, "bootnetx64.efi");
  EXPECT_EQ(x.lease().lease_seconds, 3600u);
  EXPECT_EQ(x.stats().finished, t);
  EXPECT_EQ(x.Deadline(), absl::InfiniteFuture());
  EXPECT_TRUE(x.Transmit().empty());
  EXPECT_STREQ(DhcpExchangeResultName(x.result()), "ok");
}

TEST(DhcpExchangeTest, BootFileAndNextServerFromOptions) {
  DhcpExchange x = Requesting();
  DhcpMessage ack = Reply(DhcpMessageType::kAck);
  ack.options.SetString(dhcp::kOptionTftpServerName, "198.18.0.7");
  ack.options.SetString(dhcp::kOptionBootfileName, "pxelinux.0");
  x.OnDatagram(Wire(ack), kT0);
  EXPECT_EQ(x.result(), DhcpExchangeResult::kOk);
  EXPECT_EQ(x.lease().next_server, Ipv4Address(198, 18, 0, 7));
  EXPECT_EQ(x.lease().boot_file, "pxelinux.0");
}

TEST(DhcpExchangeTest, AckWithoutBootInformation) {
  DhcpExchange x = Requesting();
  x.OnDatagram(Wire(Reply(DhcpMessageType::kAck)), kT0);
  EXPECT_EQ(x.result(), DhcpExchangeResult::kNoBootFile);
  EXPECT_EQ(x.lease().address, kOffered);

  // A next server alone is enough (the file may come from elsewhere).
  DhcpExchange y = Requesting();
  DhcpMessage ack = Reply(DhcpMessageType::kAck);
  ack.siaddr = kServer;
  y.OnDatagram(Wire(ack), kT0);
  EXPECT_EQ(y.result(), DhcpExchangeResult::kOk);
}

TEST(DhcpExchangeTest, NakEndsTheExchange) {
  DhcpExchange x = Requesting();
  // A NAK from a server we did not choose is not ours to take.
  x.OnDatagram(Wire(Reply(DhcpMessageType::kNak, Ipv4Address(10, 0, 0, 9))),
               kT0);
  EXPECT_FALSE(x.finished());
  x.OnDatagram(Wire(Reply(DhcpMessageType::kNak)), kT0);
  EXPECT_EQ(x.result(), DhcpExchangeResult::kNak);
  EXPECT_EQ(x.Deadline(), absl::InfiniteFuture());
}

TEST(DhcpExchangeTest, RepliesForOthersAreIgnored) {
  DhcpExchange x(Options(), kT0);
  x.ClearTransmit();
  Mac other = kMac;
  other[0] ^= 1;
  x.OnDatagram(Wire(Reply(DhcpMessageType::kOffer, kServer, kXid + 1)), kT0);
  x.OnDatagram(Wire(Reply(DhcpMessageType::kOffer, kServer, kXid, other)), kT0);
  DhcpMessage own = Reply(DhcpMessageType::kOffer);
  own.op = dhcp::kBootRequest;  // our broadcast, looped back
  x.OnDatagram(Wire(own), kT0);
  DhcpMessage no_server = Reply(DhcpMessageType::kOffer);
  no_server.options.Remove(dhcp::kOptionServerIdentifier);
  x.OnDatagram(Wire(no_server), kT0);
  x.OnDatagram(Wire(Reply(DhcpMessageType::kAck)), kT0);  // not yet
  EXPECT_EQ(x.stats().ignored, 5u);
  EXPECT_TRUE(x.Transmit().empty());
  EXPECT_FALSE(x.finished());

  const std::vector<uint8_t> garbage(100, 0xab);
  x.OnDatagram(garbage, kT0);
  std::vector<uint8_t> truncated = Wire(Reply(DhcpMessageType::kOffer));
  truncated.resize(239);
  x.OnDatagram(truncated, kT0);
  EXPECT_EQ(x.stats().malformed, 2u);
  EXPECT_FALSE(x.finished());
}

TEST(DhcpExchangeTest, DiscoverIsResentThenGivesUp) {
  DhcpExchange x(Options(), kT0);  // timeout 2 s, max_retries 2
  const std::vector<uint8_t> first(x.Transmit().begin(), x.Transmit().end());
  x.ClearTransmit();
  x.OnDeadline(kT0 + absl::Milliseconds(1999));
  EXPECT_TRUE(x.Transmit().empty());
  x.OnDeadline(kT0 + absl::Seconds(2));
  ASSERT_FALSE(x.Transmit().empty());
  // The same message but for secs.
  std::vector<uint8_t> again(x.Transmit().begin(), x.Transmit().end());
  EXPECT_EQ(Parse(again).secs, 2);
  again[dhcp::kOffsetSecs + 1] = 0;
  EXPECT_EQ(again, first);
  x.ClearTransmit();
  EXPECT_EQ(x.Deadline(), kT0 + absl::Seconds(4));
  x.OnDeadline(kT0 + absl::Seconds(4));
  EXPECT_EQ(Sent(x).secs, 4);
  EXPECT_EQ(x.stats().retransmits, 2u);
  x.OnDeadline(kT0 + absl::Seconds(6));
  EXPECT_EQ(x.result(), DhcpExchangeResult::kTimeout);
  EXPECT_TRUE(x.Transmit().empty());
  EXPECT_EQ(x.stats().timeouts, 3u);
  EXPECT_EQ(x.stats().finished, kT0 + absl::Seconds(6));
}

TEST(DhcpExchangeTest, RequestIsResentThenGivesUp) {
  DhcpExchange x = Requesting();  // OFFER at kT0
  x.OnDeadline(kT0 + absl::Seconds(2));
  EXPECT_EQ(*Sent(x).options.MessageType(), DhcpMessageType::kRequest);
  x.OnDeadline(kT0 + absl::Seconds(4));
  EXPECT_EQ(*Sent(x).options.MessageType(), DhcpMessageType::kRequest);
  x.OnDeadline(kT0 + absl::Seconds(6));
  EXPECT_EQ(x.result(), DhcpExchangeResult::kTimeout);
  EXPECT_EQ(x.stats().retransmits, 2u);
}

TEST(DhcpExchangeTest, MovedExchangeKeepsItsMessage) {
  DhcpExchange x(Options(), kT0);
  const std::vector<uint8_t> before(x.Transmit().begin(), x.Transmit().end());
  std::vector<DhcpExchange> many;
  many.push_back(std::move(x));
  EXPECT_EQ(std::vector<uint8_t>(many[0].Transmit().begin(),
                                 many[0].Transmit().end()),
            before);
}

// A full PXE DORA against the real server logic.
class FakeHosts : public dhcp::HostDirectory {
 public:
  absl::optional<Host> FindByMac(const Mac& mac) const override {
    auto it = hosts.find(mac);
    if (it == hosts.end()) return absl::nullopt;
    return it->second;
  }
  absl::optional<Mac> ReservedFor(Ipv4Address) const override {
    return absl::nullopt;
  }
  void RecordDiscovered(const Mac&, const std::string&, absl::Time) override {}
  std::map<Mac, Host> hosts;
};

class FakeLog : public dhcp::LeaseLog {
 public:
  uint64_t Append(const dhcp::Lease&) override { return ++records; }
  uint64_t records = 0;
};

TEST(DhcpExchangeServerTest, PxeDoraAgainstDhcpServer) {
  dhcp::DhcpServerConfig config;
  config.mode = dhcp::DhcpMode::kAuthoritative;
  config.server_address = kServer;
  dhcp::DhcpSubnet lab;
  lab.network = Ipv4Address(198, 18, 0, 0);
  lab.prefix_length = 24;
  lab.pool = {{kOffered, Ipv4Address(198, 18, 0, 110)}};
  config.subnets.push_back(lab);
  config.boot.bios = "pxelinux.0";
  config.boot.uefi_x64 = "bootnetx64.efi";
  std::vector<dhcp::AddressRange> ranges = {
      *dhcp::AddressRange::Hosts(Ipv4Address(198, 18, 0, 0), 24)};
  std::unique_ptr<dhcp::LeaseTable> leases = *dhcp::LeaseTable::Create(ranges);
  FakeHosts hosts;
  hosts.hosts[kMac] = {"node1", absl::nullopt, dhcp::BootPurpose::kInstall};
  FakeLog log;
  dhcp::DhcpServer server(config, leases.get(), &hosts, &log);

  DhcpExchange x(Options(), kT0);
  absl::Time now = kT0;
  for (int round = 0; round < 4 && !x.finished(); ++round) {
    absl::Span<const uint8_t> sent = x.Transmit();
    ASSERT_FALSE(sent.empty());
    absl::StatusOr<DhcpMessage> request = dhcp::ParseDhcpMessage(sent);
    ASSERT_TRUE(request.ok()) << request.status();
    x.ClearTransmit();
    absl::optional<dhcp::DhcpReply> reply = server.Handle(*request, {}, now);
    ASSERT_TRUE(reply.has_value()) << "round " << round;
    EXPECT_EQ(reply->delivery, dhcp::DhcpReply::Delivery::kBroadcast);
    absl::StatusOr<std::vector<uint8_t>> wire = dhcp::SerializeDhcpMessage(
        reply->message, {.max_message_size = reply->max_message_size});
    ASSERT_TRUE(wire.ok()) << wire.status();
    now += absl::Milliseconds(5);
    x.OnDatagram(*wire, now);
  }
  EXPECT_EQ(x.result(), DhcpExchangeResult::kOk);
  EXPECT_EQ(x.lease().address, kOffered);
  EXPECT_EQ(x.lease().server, kServer);
  EXPECT_EQ(x.lease().next_server, kServer);
  EXPECT_EQ(x.lease().boot_file, "bootnetx64.efi");
  EXPECT_EQ(x.lease().lease_seconds, 3600u);
  EXPECT_EQ(server.counters().acks, 1u);
  EXPECT_EQ(log.records, 1u);
}

}  // namespace
}  // namespace rackboot::load
