#include "engine/dhcp/dhcp_server.h"

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "proto/dhcp/dhcp_message.h"

namespace rackboot::dhcp {
namespace {

using Mac = std::array<uint8_t, 6>;

class FakeHosts : public HostDirectory {
 public:
  absl::optional<Host> FindByMac(const Mac& mac) const override {
    auto it = hosts.find(mac);
    if (it == hosts.end()) return absl::nullopt;
    return it->second;
  }
  absl::optional<Mac> ReservedFor(Ipv4Address address) const override {
    for (const auto& [mac, host] : hosts) {
      if (host.reserved == address) return mac;
    }
    return absl::nullopt;
  }
  void RecordDiscovered(const Mac& mac, const std::string& detail,
                        absl::Time) override {
    discovered.emplace_back(mac, detail);
  }
  std::map<Mac, Host> hosts;
  std::vector<std::pair<Mac, std::string>> discovered;
};

class FakeLog : public LeaseLog {
 public:
  uint64_t Append(const Lease& lease) override {
    records.push_back(lease);
    return records.size();
  }
  std::vector<Lease> records;
};

constexpr Ipv4Address kServer(198, 18, 0, 1);
constexpr Mac kMacA = {0x52, 0x54, 0, 0, 0, 0x0a};
constexpr Mac kMacB = {0x52, 0x54, 0, 0, 0, 0x0b};
constexpr Mac kMacC = {0x52, 0x54, 0, 0, 0, 0x0c};

DhcpServerConfig Config() {
  DhcpServerConfig config;
  config.mode = DhcpMode::kAuthoritative;
  config.server_address = kServer;
  config.lease_time = absl::Hours(1);
  config.offer_time = absl::Seconds(30);
  config.decline_time = absl::Minutes(10);
  DhcpSubnet lab;
  lab.network = Ipv4Address(198, 18, 0, 0);
  lab.prefix_length = 24;
  lab.pool = {{Ipv4Address(198, 18, 0, 100), Ipv4Address(198, 18, 0, 102)}};
  lab.router = kServer;
  lab.dns = {kServer};
  lab.domain = "lab.example";
  config.subnets.push_back(lab);
  DhcpSubnet remote;  // behind a relay
  remote.network = Ipv4Address(198, 19, 7, 0);
  remote.prefix_length = 24;
  remote.pool = {{Ipv4Address(198, 19, 7, 10), Ipv4Address(198, 19, 7, 20)}};
  remote.router = Ipv4Address(198, 19, 7, 1);
  config.subnets.push_back(remote);
  config.boot.bios = "pxelinux.0";
  config.boot.uefi_x64 = "bootnetx64.efi";
  config.boot.arm64 = "grubaa64.efi";
  config.boot.http_boot_url = "http://198.18.0.1:8080/boot/bootx64.efi";
  config.boot.ipxe_script = "http://198.18.0.1:8080/boot.ipxe";
  return config;
}

class DhcpServerTest : public ::testing::Test {
 protected:
  DhcpServerTest() {
    std::vector<AddressRange> ranges = {
        *AddressRange::Hosts(Ipv4Address(198, 18, 0, 0), 24),
        *AddressRange::Hosts(Ipv4Address(198, 19, 7, 0), 24)};
    leases_ = *LeaseTable::Create(ranges);
  }

  void Start(DhcpServerConfig config = Config()) {
    server_ =
        std::make_unique<DhcpServer>(config, leases_.get(), &hosts_, &log_);
  }

  static DhcpMessage Message(DhcpMessageType type, const Mac& mac,
                             uint32_t xid = 0x1234) {
    DhcpMessage m;
    m.op = kBootRequest;
    m.xid = xid;
    std::copy(mac.begin(), mac.end(), m.chaddr.begin());
    m.options.SetU8(kOptionMessageType, static_cast<uint8_t>(type));
    return m;
  }
  static DhcpMessage Pxe(DhcpMessageType type, const Mac& mac, uint16_t arch) {
    DhcpMessage m = Message(type, mac);
    m.options.SetString(kOptionVendorClassId,
                        absl::StrCat(arch == 16 ? "HTTPClient" : "PXEClient",
                                     ":Arch:0000", arch, ":UNDI:003016"));
    m.options.SetU16(kOptionClientArchitecture, arch);
    return m;
  }
  absl::optional<DhcpReply> Handle(const DhcpMessage& m,
                                   DhcpRequestContext ctx = {}) {
    // Every reply must also be writable within the client's limit.
    absl::optional<DhcpReply> reply = server_->Handle(m, ctx, now_);
    if (reply.has_value()) {
      absl::StatusOr<std::vector<uint8_t>> wire = SerializeDhcpMessage(
          reply->message, {.max_message_size = reply->max_message_size});
      EXPECT_TRUE(wire.ok()) << wire.status();
    }
    return reply;
  }
  // DISCOVER, then REQUEST of the offered address; returns the ACK.
  DhcpReply Dora(const DhcpMessage& discover) {
    absl::optional<DhcpReply> offer = Handle(discover);
    EXPECT_TRUE(offer.has_value());
    if (!offer) return {};
    DhcpMessage request = discover;
    request.options.SetU8(kOptionMessageType,
                          static_cast<uint8_t>(DhcpMessageType::kRequest));
    request.options.SetIpv4(kOptionServerIdentifier, kServer);
    request.options.SetIpv4(kOptionRequestedAddress, offer->message.yiaddr);
    absl::optional<DhcpReply> ack = Handle(request);
    EXPECT_TRUE(ack.has_value());
    return ack.value_or(DhcpReply{});
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::unique_ptr<LeaseTable> leases_;
  FakeHosts hosts_;
  FakeLog log_;
  std::unique_ptr<DhcpServer> server_;
};

TEST_F(DhcpServerTest, DiscoverRequestAck) {
  Start();
  DhcpMessage discover = Message(DhcpMessageType::kDiscover, kMacA);
  discover.options.SetU16(kOptionMaxMessageSize, 1472);
  absl::optional<DhcpReply> offer = Handle(discover);
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->type, DhcpMessageType::kOffer);
  EXPECT_EQ(offer->message.op, kBootReply);
  EXPECT_EQ(offer->message.xid, 0x1234u);
  EXPECT_EQ(offer->message.yiaddr, Ipv4Address(198, 18, 0, 100));
  EXPECT_EQ(offer->max_message_size, 1472u);
  const DhcpOptions& o = offer->message.options;
  EXPECT_EQ(*o.ServerIdentifier(), kServer);
  EXPECT_EQ(*o.LeaseTime(), 3600u);
  EXPECT_EQ(*o.T1(), 1800u);
  EXPECT_EQ(*o.T2(), 3150u);
  EXPECT_EQ(*o.SubnetMask(), Ipv4Address(255, 255, 255, 0));
  EXPECT_EQ(*o.Routers(), std::vector<Ipv4Address>{kServer});
  EXPECT_EQ(*o.DnsServers(), std::vector<Ipv4Address>{kServer});
  EXPECT_EQ(*o.DomainName(), "lab.example");
  EXPECT_FALSE(o.Has(kOptionBootfileName));  // not a PXE client
  // Without the broadcast flag the offer goes to the new address at the
  // client's MAC.
  EXPECT_EQ(offer->delivery, DhcpReply::Delivery::kUnicastHw);
  EXPECT_EQ(offer->mac, kMacA);
  EXPECT_EQ(offer->durable_seq, 0u);
  EXPECT_TRUE(log_.records.empty());  // offers are not journaled

  DhcpReply ack = Dora(discover);
  EXPECT_EQ(ack.type, DhcpMessageType::kAck);
  EXPECT_EQ(ack.message.yiaddr, Ipv4Address(198, 18, 0, 100));
  ASSERT_EQ(log_.records.size(), 1u);
  EXPECT_EQ(ack.durable_seq, 1u);  // may leave once record 1 is on disk
  EXPECT_EQ(log_.records[0].state, LeaseState::kBound);
  EXPECT_EQ(log_.records[0].mac, kMacA);
  EXPECT_EQ(log_.records[0].expires, now_ + absl::Hours(1));
  EXPECT_EQ(leases_->Lookup(Ipv4Address(198, 18, 0, 100))->state,
            LeaseState::kBound);
}

TEST_F(DhcpServerTest, BroadcastFlagIsHonoured) {
  Start();
  DhcpMessage discover = Message(DhcpMessageType::kDiscover, kMacA);
  discover.SetBroadcast(true);
  EXPECT_EQ(Handle(discover)->delivery, DhcpReply::Delivery::kBroadcast);
}

TEST_F(DhcpServerTest,
       ConcurrentDiscoversGetDifferentAddressesUntilThePoolRunsOut) {
  Start();
  EXPECT_EQ(Handle(Message(DhcpMessageType::kDiscover, kMacA))->message.yiaddr,
            Ipv4Address(198, 18, 0, 100));
  EXPECT_EQ(Handle(Message(DhcpMessageType::kDiscover, kMacB))->message.yiaddr,
            Ipv4Address(198, 18, 0, 101));
  EXPECT_EQ(Handle(Message(DhcpMessageType::kDiscover, kMacC))->message.yiaddr,
            Ipv4Address(198, 18, 0, 102));
  EXPECT_FALSE(Handle(Message(DhcpMessageType::kDiscover, {2, 0, 0, 0, 0, 9}))
                   .has_value());
  EXPECT_EQ(server_->counters().pool_exhausted, 1u);
  // Offers lapse: after offer_time the addresses are free again.
  now_ += absl::Seconds(31);
  EXPECT_TRUE(Handle(Message(DhcpMessageType::kDiscover, {2, 0, 0, 0, 0, 9}))
                  .has_value());
}

TEST_F(DhcpServerTest, ReturningClientGetsItsAddressByMacOrClientId) {
  Start();
  DhcpMessage b = Message(DhcpMessageType::kDiscover, kMacB);
  Dora(Message(DhcpMessageType::kDiscover, kMacA));
  DhcpMessage with_id = Message(DhcpMessageType::kDiscover, kMacC);
  const uint8_t id[] = {0xff, 1, 2, 3, 4};
  with_id.options.SetBytes(kOptionClientId, id);
  Ipv4Address c_address = Dora(with_id).message.yiaddr;
  Ipv4Address b_address = Dora(b).message.yiaddr;
  // RELEASE, then come back: same address.
  DhcpMessage release = Message(DhcpMessageType::kRelease, kMacB);
  release.ciaddr = b_address;
  release.options.SetIpv4(kOptionServerIdentifier, kServer);
  EXPECT_FALSE(Handle(release).has_value());
  EXPECT_EQ(leases_->Lookup(b_address)->state, LeaseState::kReleased);
  EXPECT_EQ(Handle(b)->message.yiaddr, b_address);
  // The client identifier wins over the hardware address (RFC 2131 4.2): a new
  // NIC, same id.
  DhcpMessage same_id =
      Message(DhcpMessageType::kDiscover, {2, 0, 0, 0, 0, 0x77});
  same_id.options.SetBytes(kOptionClientId, id);
  EXPECT_EQ(Handle(same_id)->message.yiaddr, c_address);
}

TEST_F(DhcpServerTest, InventoryAddressIsAReservation) {
  hosts_.hosts[kMacB] = {"node-b", Ipv4Address(198, 18, 0, 50),
                         BootPurpose::kLocalBoot};
  Start();
  EXPECT_EQ(Dora(Message(DhcpMessageType::kDiscover, kMacB)).message.yiaddr,
            Ipv4Address(198, 18, 0, 50));
  EXPECT_EQ(Handle(Message(DhcpMessageType::kDiscover, kMacB))
                ->message.options.HostName()
                .value_or(""),
            "node-b");
  // Nobody else may take it, even by asking for it.
  DhcpMessage thief = Message(DhcpMessageType::kRequest, kMacC);
  thief.options.SetIpv4(kOptionRequestedAddress, Ipv4Address(198, 18, 0, 50));
  EXPECT_EQ(Handle(thief)->type, DhcpMessageType::kNak);
}

TEST_F(DhcpServerTest, RequestForAnotherServerDropsOurOffer) {
  Start();
  DhcpMessage discover = Message(DhcpMessageType::kDiscover, kMacA);
  Ipv4Address offered = Handle(discover)->message.yiaddr;
  DhcpMessage request = Message(DhcpMessageType::kRequest, kMacA);
  request.options.SetIpv4(kOptionServerIdentifier, Ipv4Address(198, 18, 0, 2));
  request.options.SetIpv4(kOptionRequestedAddress, Ipv4Address(198, 18, 0, 77));
  EXPECT_FALSE(Handle(request).has_value());
  EXPECT_EQ(leases_->Lookup(offered)->state, LeaseState::kFree);
  EXPECT_EQ(server_->counters().not_for_us, 1u);
}

TEST_F(DhcpServerTest, InitRebootIsAckedOnlyForTheClientsOwnLease) {
  Start();
  Ipv4Address mine =
      Dora(Message(DhcpMessageType::kDiscover, kMacA)).message.yiaddr;
  DhcpMessage reboot = Message(DhcpMessageType::kRequest, kMacA);
  reboot.options.SetIpv4(kOptionRequestedAddress, mine);
  absl::optional<DhcpReply> ack = Handle(reboot);
  EXPECT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_EQ(ack->message.yiaddr, mine);
  reboot.options.SetIpv4(kOptionRequestedAddress, Ipv4Address(198, 18, 0, 101));
  absl::optional<DhcpReply> nak = Handle(reboot);
  EXPECT_EQ(nak->type, DhcpMessageType::kNak);
  EXPECT_EQ(nak->delivery, DhcpReply::Delivery::kBroadcast);
  EXPECT_TRUE(nak->message.yiaddr.IsUnspecified());
  // From another network (moved laptop): NAK, so the client starts over.
  reboot.options.SetIpv4(kOptionRequestedAddress, Ipv4Address(10, 1, 2, 3));
  EXPECT_EQ(Handle(reboot)->type, DhcpMessageType::kNak);
}

TEST_F(DhcpServerTest, RenewingIsAnsweredToCiaddrAndExtendsTheLease) {
  Start();
  Ipv4Address mine =
      Dora(Message(DhcpMessageType::kDiscover, kMacA)).message.yiaddr;
  now_ += absl::Minutes(30);
  DhcpMessage renew = Message(DhcpMessageType::kRequest, kMacA);
  renew.ciaddr = mine;
  absl::optional<DhcpReply> ack = Handle(renew);
  ASSERT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_EQ(ack->delivery, DhcpReply::Delivery::kUnicast);
  EXPECT_EQ(ack->to, mine);
  EXPECT_EQ(ack->port, 68);
  EXPECT_EQ(leases_->Lookup(mine)->expires, now_ + absl::Hours(1));
  EXPECT_EQ(log_.records.size(), 2u);
  // Someone else renewing that address is refused.
  DhcpMessage other = Message(DhcpMessageType::kRequest, kMacB);
  other.ciaddr = mine;
  EXPECT_EQ(Handle(other)->type, DhcpMessageType::kNak);
}

TEST_F(DhcpServerTest, UpdateConfigAppliesAtTheNextRequestAndKeepsLeases) {
  Start();
  const Ipv4Address a =
      Dora(Message(DhcpMessageType::kDiscover, kMacA)).message.yiaddr;
  const Ipv4Address b =
      Dora(Message(DhcpMessageType::kDiscover, kMacB)).message.yiaddr;
  DhcpServerConfig changed = Config();
  changed.lease_time = absl::Minutes(10);
  // A pool that keeps a's address but not b's.
  changed.subnets[0].pool = {{a, Ipv4Address(198, 18, 0, 100)}};
  if (a != Ipv4Address(198, 18, 0, 100)) {
    changed.subnets[0].pool = {{a, a}};
  }
  changed.boot.bios = "other.0";
  server_->UpdateConfig(changed);
  EXPECT_EQ(leases_->bound_count(), 2u);

  now_ += absl::Minutes(30);
  DhcpMessage renew = Message(DhcpMessageType::kRequest, kMacA);
  renew.ciaddr = a;
  absl::optional<DhcpReply> ack = Handle(renew);
  ASSERT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_EQ(ack->message.yiaddr, a);  // the same address after the reload
  EXPECT_EQ(leases_->Lookup(a)->expires, now_ + absl::Minutes(10));
  EXPECT_EQ(server_->config().boot.bios, "other.0");
  // b's lease lies outside the new pool: kept, but not renewed.
  EXPECT_EQ(leases_->Lookup(b)->state, LeaseState::kBound);
  DhcpMessage renew_b = Message(DhcpMessageType::kRequest, kMacB);
  renew_b.ciaddr = b;
  EXPECT_EQ(Handle(renew_b)->type, DhcpMessageType::kNak);
}

TEST_F(DhcpServerTest, DeclinedAddressIsQuarantined) {
  Start();
  Ipv4Address declined =
      Dora(Message(DhcpMessageType::kDiscover, kMacA)).message.yiaddr;
  DhcpMessage decline = Message(DhcpMessageType::kDecline, kMacA);
  decline.options.SetIpv4(kOptionRequestedAddress, declined);
  decline.options.SetIpv4(kOptionServerIdentifier, kServer);
  EXPECT_FALSE(Handle(decline).has_value());
  EXPECT_EQ(log_.records.back().state, LeaseState::kDeclined);
  // Neither the decliner nor anyone else gets it during the quarantine.
  EXPECT_NE(Handle(Message(DhcpMessageType::kDiscover, kMacA))->message.yiaddr,
            declined);
  EXPECT_NE(Handle(Message(DhcpMessageType::kDiscover, kMacB))->message.yiaddr,
            declined);
  now_ += absl::Minutes(11);
  EXPECT_EQ(Handle(Message(DhcpMessageType::kDiscover, kMacC))->message.yiaddr,
            declined);
}

TEST_F(DhcpServerTest, ExpiredLeasesAreReused) {
  DhcpServerConfig config = Config();
  config.subnets[0].pool = {
      {Ipv4Address(198, 18, 0, 100), Ipv4Address(198, 18, 0, 100)}};
  Start(config);
  Dora(Message(DhcpMessageType::kDiscover, kMacA));
  EXPECT_FALSE(Handle(Message(DhcpMessageType::kDiscover, kMacB)).has_value());
  now_ += absl::Hours(1) + absl::Seconds(1);
  EXPECT_EQ(Dora(Message(DhcpMessageType::kDiscover, kMacB)).message.yiaddr,
            Ipv4Address(198, 18, 0, 100));
}

TEST_F(DhcpServerTest, InformGetsConfigurationWithoutALease) {
  Start();
  DhcpMessage inform = Message(DhcpMessageType::kInform, kMacA);
  inform.ciaddr = Ipv4Address(198, 18, 0, 9);
  absl::optional<DhcpReply> ack = Handle(inform);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_TRUE(ack->message.yiaddr.IsUnspecified());
  EXPECT_FALSE(ack->message.options.Has(kOptionLeaseTime));
  EXPECT_TRUE(ack->message.options.Has(kOptionRouter));
  EXPECT_EQ(ack->to, Ipv4Address(198, 18, 0, 9));
  EXPECT_TRUE(log_.records.empty());
}

TEST_F(DhcpServerTest, RelayedExchangeUsesTheRelaysSubnetAndEchoesOption82) {
  Start();
  DhcpMessage discover = Message(DhcpMessageType::kDiscover, kMacA);
  discover.giaddr = Ipv4Address(198, 19, 7, 1);
  discover.hops = 1;
  const uint8_t agent[] = {1, 4, 'p', 'o', 'r', 't', 2, 2, 0x12, 0x34};
  discover.options.SetBytes(kOptionRelayAgentInfo, agent);
  absl::optional<DhcpReply> offer = Handle(discover);
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->message.yiaddr, Ipv4Address(198, 19, 7, 10));
  EXPECT_EQ(offer->message.giaddr, Ipv4Address(198, 19, 7, 1));
  EXPECT_EQ(*offer->message.options.Routers(),
            std::vector<Ipv4Address>{Ipv4Address(198, 19, 7, 1)});
  EXPECT_EQ(offer->delivery, DhcpReply::Delivery::kUnicast);
  EXPECT_EQ(offer->to, Ipv4Address(198, 19, 7, 1));
  EXPECT_EQ(offer->port, 67);
  const DhcpOptions& o = offer->message.options;
  ASSERT_TRUE(o.Has(kOptionRelayAgentInfo));
  EXPECT_EQ(o.at(o.size() - 1).code, kOptionRelayAgentInfo);  // last
  absl::Span<const uint8_t> echoed = *o.Find(kOptionRelayAgentInfo);
  EXPECT_EQ(std::vector<uint8_t>(echoed.begin(), echoed.end()),
            std::vector<uint8_t>(std::begin(agent), std::end(agent)));
  // No subnet behind an unknown relay: no answer.
  discover.giaddr = Ipv4Address(203, 0, 113, 1);
  EXPECT_FALSE(Handle(discover).has_value());
  EXPECT_EQ(server_->counters().no_subnet, 1u);
}

TEST_F(DhcpServerTest, UnknownPxeClientGetsNothingByDefault) {
  Start();
  EXPECT_FALSE(Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 0)).has_value());
  EXPECT_EQ(server_->counters().pxe_unknown, 1u);
  // An ordinary client from the same network still gets an address.
  EXPECT_TRUE(Handle(Message(DhcpMessageType::kDiscover, kMacA)).has_value());
}

TEST_F(DhcpServerTest, UnknownPxeClientCanBeDiscoveredOrSentToLocalDisk) {
  DhcpServerConfig config = Config();
  config.unknown_pxe = UnknownPxePolicy::kDiscover;
  Start(config);
  EXPECT_FALSE(Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 7)).has_value());
  ASSERT_EQ(hosts_.discovered.size(), 1u);
  EXPECT_EQ(hosts_.discovered[0].first, kMacA);
  EXPECT_NE(hosts_.discovered[0].second.find("arch=7"), std::string::npos);

  config.unknown_pxe = UnknownPxePolicy::kLocalBoot;
  Start(config);
  absl::optional<DhcpReply> offer =
      Handle(Pxe(DhcpMessageType::kDiscover, kMacB, 0));
  ASSERT_TRUE(offer.has_value());
  EXPECT_FALSE(offer->message.options.Has(kOptionBootfileName));
  EXPECT_TRUE(offer->message.BootFileName().empty());
}

TEST_F(DhcpServerTest, OnlyArmedHostsGetAnInstallBootFile) {
  hosts_.hosts[kMacA] = {"armed", absl::nullopt, BootPurpose::kInstall};
  hosts_.hosts[kMacB] = {"installed", absl::nullopt, BootPurpose::kLocalBoot};
  Start();
  absl::optional<DhcpReply> armed =
      Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 0));
  ASSERT_TRUE(armed.has_value());
  EXPECT_EQ(*armed->message.options.BootfileName(), "pxelinux.0");
  EXPECT_EQ(armed->message.BootFileName(), "pxelinux.0");
  EXPECT_EQ(armed->message.siaddr, kServer);
  EXPECT_EQ(*armed->message.options.TftpServerName(), "198.18.0.1");
  // No option 60 "PXEClient" without option 43: EDK2 would take the offer as
  // a BINL one and ask port 4011 for the file (PXE-E16 in OVMF).
  EXPECT_FALSE(armed->message.options.Has(kOptionVendorClassId));
  EXPECT_FALSE(armed->message.options.Has(kOptionVendorSpecific));
  absl::optional<DhcpReply> installed =
      Handle(Pxe(DhcpMessageType::kDiscover, kMacB, 0));
  ASSERT_TRUE(
      installed.has_value());  // an address, so the firmware moves on quickly
  EXPECT_FALSE(installed->message.options.Has(kOptionBootfileName));
  EXPECT_TRUE(installed->message.siaddr.IsUnspecified());
  // Counted on ACKs, not on OFFERs.
  EXPECT_EQ(server_->counters().pxe_install, 0u);
  EXPECT_EQ(server_->counters().pxe_localboot, 0u);
}

// Issue 11: pxe_install counted twice for one boot (DISCOVER and REQUEST) and
// once for a boot that got no OFFER at all.
TEST_F(DhcpServerTest, PxeCountersCountOneBootOnce) {
  hosts_.hosts[kMacA] = {"armed", absl::nullopt, BootPurpose::kInstall};
  hosts_.hosts[kMacB] = {"installed", absl::nullopt, BootPurpose::kLocalBoot};
  Start();
  // A retransmitted DISCOVER and a full exchange: one install.
  EXPECT_TRUE(Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 0)).has_value());
  DhcpReply ack = Dora(Pxe(DhcpMessageType::kDiscover, kMacA, 0));
  EXPECT_EQ(ack.type, DhcpMessageType::kAck);
  EXPECT_EQ(*ack.message.options.BootfileName(), "pxelinux.0");
  EXPECT_EQ(server_->counters().pxe_install, 1u);
  Dora(Pxe(DhcpMessageType::kDiscover, kMacB, 0));
  EXPECT_EQ(server_->counters().pxe_localboot, 1u);
  EXPECT_EQ(server_->counters().pxe_install, 1u);
  // A PXE DISCOVER on port 4011 in authoritative mode gets nothing: no count.
  EXPECT_FALSE(
      Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 0),
             {.source = Ipv4Address(), .source_port = 68, .local_port = 4011})
          .has_value());
  // From a relay with no subnet configured: no OFFER, no count.
  DhcpMessage lost = Pxe(DhcpMessageType::kDiscover, kMacA, 0);
  lost.giaddr = Ipv4Address(203, 0, 113, 1);
  EXPECT_FALSE(Handle(lost).has_value());
  EXPECT_EQ(server_->counters().pxe_install, 1u);
  EXPECT_EQ(server_->counters().acks, 2u);
}

// Issue 11: an inventory host kept its reserved address only while it sent
// the same client identifier; the PXE ROM, iPXE and the installer each send
// their own.
TEST_F(DhcpServerTest, InventoryHostGetsItsReservationWhateverClientIdItSends) {
  const Ipv4Address reserved(198, 18, 0, 50);
  hosts_.hosts[kMacA] = {"node-a", reserved, BootPurpose::kInstall};
  Start();
  const std::vector<std::vector<uint8_t>> ids = {
      {0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},   // UUID
      {0x01, 0x52, 0x54, 0, 0, 0, 0x0a},                               // iPXE
      {},                                                              // none
      {0xff, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0x52, 0x54, 0, 0, 0, 0x0a}  // DUID
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    DhcpMessage discover = Pxe(DhcpMessageType::kDiscover, kMacA, 7);
    discover.xid = 0x100 + static_cast<uint32_t>(i);
    if (!ids[i].empty()) discover.options.SetBytes(kOptionClientId, ids[i]);
    DhcpReply ack = Dora(discover);
    EXPECT_EQ(ack.type, DhcpMessageType::kAck) << i;
    EXPECT_EQ(ack.message.yiaddr, reserved) << "client id #" << i;
    now_ += absl::Seconds(20);  // the earlier stage's lease is still bound
  }
  // INIT-REBOOT and RENEWING with yet another identifier: ACKed.
  DhcpMessage reboot = Message(DhcpMessageType::kRequest, kMacA);
  const uint8_t other[] = {0x01, 9, 9, 9};
  reboot.options.SetBytes(kOptionClientId, other);
  reboot.options.SetIpv4(kOptionRequestedAddress, reserved);
  EXPECT_EQ(Handle(reboot)->type, DhcpMessageType::kAck);
  DhcpMessage renew = Message(DhcpMessageType::kRequest, kMacA);
  renew.options.SetBytes(kOptionClientId, ids[1]);
  renew.ciaddr = reserved;
  EXPECT_EQ(Handle(renew)->type, DhcpMessageType::kAck);
  // Nothing of the pool was taken on the way.
  for (uint8_t last = 100; last <= 102; ++last) {
    EXPECT_EQ(leases_->Lookup(Ipv4Address(198, 18, 0, last))->state,
              LeaseState::kFree);
  }
  EXPECT_EQ(server_->counters().pxe_install, 4u);
}

// A lease journaled under a client identifier (before inventory hosts were
// keyed by MAC, or before the MAC was added to the inventory) is still the
// host's: its reservation and its pool address come back to it.
TEST_F(DhcpServerTest, LeaseHeldUnderAnOldClientIdIsTheHostsOwn) {
  const Ipv4Address reserved(198, 18, 0, 50);
  const Ipv4Address pool(198, 18, 0, 101);
  hosts_.hosts[kMacA] = {"node-a", reserved, BootPurpose::kLocalBoot};
  hosts_.hosts[kMacB] = {"node-b", absl::nullopt, BootPurpose::kLocalBoot};
  const uint8_t old_id[] = {0x01, 7, 7, 7};
  for (auto [address, mac] : {std::pair{reserved, kMacA}, {pool, kMacB}}) {
    Lease lease;
    lease.address = address;
    lease.state = LeaseState::kBound;
    lease.client = ClientKey::FromClientId(old_id);
    lease.mac = mac;
    lease.expires = now_ + absl::Minutes(30);
    leases_->Put(lease);
  }
  Start();
  DhcpMessage a = Message(DhcpMessageType::kDiscover, kMacA);
  const uint8_t new_id[] = {0x01, 8, 8, 8};
  a.options.SetBytes(kOptionClientId, new_id);
  EXPECT_EQ(Dora(a).message.yiaddr, reserved);
  EXPECT_EQ(leases_->Lookup(reserved)->client,
            ClientKey::FromHardware(1, kMacA));
  // node-b asks for its old pool address by INIT-REBOOT: its own.
  DhcpMessage b = Message(DhcpMessageType::kRequest, kMacB);
  b.options.SetIpv4(kOptionRequestedAddress, pool);
  EXPECT_EQ(Handle(b)->type, DhcpMessageType::kAck);
  // Released under the old identifier's lease, still recognised.
  DhcpMessage release = Message(DhcpMessageType::kRelease, kMacB);
  release.ciaddr = pool;
  EXPECT_FALSE(Handle(release).has_value());
  EXPECT_EQ(leases_->Lookup(pool)->state, LeaseState::kReleased);
}

// Outside the inventory RFC 2131 4.2 holds: two client identifiers are two
// clients, even behind one MAC, and neither gets the other's address.
TEST_F(DhcpServerTest, NonInventoryClientsKeepClientIdIdentity) {
  Start();
  DhcpMessage first = Message(DhcpMessageType::kDiscover, kMacC);
  const uint8_t id1[] = {0x01, 1};
  const uint8_t id2[] = {0x01, 2};
  first.options.SetBytes(kOptionClientId, id1);
  DhcpMessage second = first;
  second.options.SetBytes(kOptionClientId, id2);
  const Ipv4Address a1 = Dora(first).message.yiaddr;
  const Ipv4Address a2 = Dora(second).message.yiaddr;
  EXPECT_NE(a1, a2);
  // The second may not take the first's address by asking for it.
  DhcpMessage steal = Message(DhcpMessageType::kRequest, kMacC);
  steal.options.SetBytes(kOptionClientId, id2);
  steal.options.SetIpv4(kOptionRequestedAddress, a1);
  steal.options.SetIpv4(kOptionServerIdentifier, kServer);
  EXPECT_EQ(Handle(steal)->type, DhcpMessageType::kNak);
}

// A reserved address still held by another machine (the reservation was added
// while a dynamic client had it) is not handed out twice: the host gets a
// pool address until the other lease ends.
TEST_F(DhcpServerTest, ReservationHeldByAnotherMachineIsNotHandedOutTwice) {
  const Ipv4Address reserved(198, 18, 0, 50);
  Lease other;
  other.address = reserved;
  other.state = LeaseState::kBound;
  other.client = ClientKey::FromHardware(1, kMacC);
  other.mac = kMacC;
  other.expires = now_ + absl::Minutes(30);
  leases_->Put(other);
  hosts_.hosts[kMacA] = {"node-a", reserved, BootPurpose::kLocalBoot};
  Start();
  const Ipv4Address got =
      Dora(Message(DhcpMessageType::kDiscover, kMacA)).message.yiaddr;
  EXPECT_NE(got, reserved);
  DhcpMessage insist = Message(DhcpMessageType::kRequest, kMacA);
  insist.options.SetIpv4(kOptionRequestedAddress, reserved);
  insist.options.SetIpv4(kOptionServerIdentifier, kServer);
  EXPECT_EQ(Handle(insist)->type, DhcpMessageType::kNak);
  EXPECT_EQ(leases_->Lookup(reserved)->mac, kMacC);
  // Once it has expired, the host gets its reservation.
  now_ += absl::Hours(1);
  EXPECT_EQ(Dora(Message(DhcpMessageType::kDiscover, kMacA)).message.yiaddr,
            reserved);
}

// Random exchanges of a few machines, each switching among client
// identifiers: no address is ever acknowledged to two machines at once, and
// an inventory host is always offered its reservation.
TEST_F(DhcpServerTest, NoAddressIsAcknowledgedToTwoMachines) {
  const Ipv4Address reserved(198, 18, 0, 50);
  hosts_.hosts[kMacA] = {"node-a", reserved, BootPurpose::kInstall};
  hosts_.hosts[kMacB] = {"node-b", absl::nullopt, BootPurpose::kLocalBoot};
  Start();
  const Mac macs[] = {kMacA, kMacB, kMacC, {2, 0, 0, 0, 0, 0xd}};
  std::map<uint32_t, std::pair<Mac, absl::Time>> bound;  // address -> holder
  uint32_t state = 12345;
  auto next = [&state](uint32_t n) {
    state = state * 1103515245 + 12345;
    return (state >> 16) % n;
  };
  for (int step = 0; step < 4000; ++step) {
    const Mac& mac = macs[next(4)];
    const uint32_t kind = next(4);
    DhcpMessage m = Message(kind == 0   ? DhcpMessageType::kDiscover
                            : kind == 3 ? DhcpMessageType::kRelease
                                        : DhcpMessageType::kRequest,
                            mac, static_cast<uint32_t>(step));
    if (const uint32_t id = next(4); id > 0) {
      // Identifiers are per machine: two machines sending one identifier
      // are one client to RFC 2131 4.2 (ReturningClientGetsItsAddress...).
      const uint8_t bytes[] = {0x01, mac[5], static_cast<uint8_t>(id)};
      m.options.SetBytes(kOptionClientId, bytes);
    }
    const Ipv4Address any(198, 18, 0, next(2) ? 50 : 100 + next(3));
    if (kind == 1) m.options.SetIpv4(kOptionRequestedAddress, any);
    if (kind == 2 || kind == 3) m.ciaddr = any;
    absl::optional<DhcpReply> reply = Handle(m);
    if (kind == 3 && leases_->Lookup(any)->state == LeaseState::kReleased) {
      bound.erase(any.value());
    }
    if (reply.has_value() && reply->type == DhcpMessageType::kAck) {
      const Ipv4Address a = reply->message.yiaddr;
      auto it = bound.find(a.value());
      if (it != bound.end() && it->second.second > now_) {
        ASSERT_EQ(it->second.first, mac)
            << a.ToString() << " acknowledged to two machines at step " << step;
      }
      bound[a.value()] = {mac, now_ + absl::Hours(1)};
      if (a == reserved) {
        EXPECT_EQ(mac, kMacA);
      }
    }
    // node-a's reservation is never held by another machine, so every offer
    // to node-a is its reservation, whatever client identifier it sent. (A
    // RENEWING node-a may still keep a free pool address it names: RFC 2131.)
    if (reply.has_value() && reply->type == DhcpMessageType::kOffer &&
        mac == kMacA) {
      EXPECT_EQ(reply->message.yiaddr, reserved) << "step " << step;
    }
    now_ += absl::Seconds(next(3) == 0 ? 1200 : 1);
  }
  EXPECT_GT(server_->counters().acks, 100u);
}

TEST_F(DhcpServerTest, BootFileFollowsTheArchitecture) {
  hosts_.hosts[kMacA] = {"armed", absl::nullopt, BootPurpose::kInstall};
  Start();
  const std::map<uint16_t, std::string> expected = {
      {0, "pxelinux.0"},
      {7, "bootnetx64.efi"},
      {9, "bootnetx64.efi"},
      {11, "grubaa64.efi"},
      {16, "http://198.18.0.1:8080/boot/bootx64.efi"}};
  for (const auto& [arch, file] : expected) {
    absl::optional<DhcpReply> offer =
        Handle(Pxe(DhcpMessageType::kDiscover, kMacA, arch));
    ASSERT_TRUE(offer.has_value()) << arch;
    EXPECT_EQ(*offer->message.options.BootfileName(), file) << arch;
    if (arch == 16) {
      EXPECT_EQ(*offer->message.options.VendorClassId(), "HTTPClient");
    } else {
      EXPECT_FALSE(offer->message.options.Has(kOptionVendorClassId)) << arch;
    }
  }
  // iPXE (any architecture) gets the script, never an iPXE binary again.
  DhcpMessage ipxe = Pxe(DhcpMessageType::kDiscover, kMacA, 7);
  ipxe.options.SetString(kOptionUserClass, "iPXE");
  EXPECT_EQ(*Handle(ipxe)->message.options.BootfileName(),
            "http://198.18.0.1:8080/boot.ipxe");
  // An architecture with no file configured: an address, no boot file.
  EXPECT_FALSE(Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 6))
                   ->message.options.Has(kOptionBootfileName));
}

// The lab's chain while HTTP is served (site adapter: DhcpBootFiles): PXE
// ROMs get iPXE over TFTP, iPXE gets its per-host script over HTTP, UEFI
// HTTP boot a URL.
DhcpServerConfig IpxeConfig() {
  DhcpServerConfig config = Config();
  config.boot.bios = "undionly.kpxe";
  config.boot.uefi_x64 = "snponly.efi";
  config.boot.arm64.clear();
  config.boot.http_boot_url = "http://198.18.0.1:8080/boot/snponly.efi";
  config.boot.ipxe_script = "http://198.18.0.1:8080/boot/ipxe/{mac}.ipxe";
  return config;
}

// What the firmware and iPXE send (as captured from QEMU's guests).
enum class Kind { kPxeBios, kPxeUefi, kIpxeBios, kIpxeUefi, kHttpClient };
DhcpMessage ClientOf(Kind kind, DhcpMessageType type, const Mac& mac) {
  DhcpMessage m;
  m.op = kBootRequest;
  m.xid = 0x4321;
  std::copy(mac.begin(), mac.end(), m.chaddr.begin());
  m.options.SetU8(kOptionMessageType, static_cast<uint8_t>(type));
  switch (kind) {
    case Kind::kPxeBios:
      m.options.SetString(kOptionVendorClassId,
                          "PXEClient:Arch:00000:UNDI:002001");
      m.options.SetU16(kOptionClientArchitecture, 0);
      break;
    case Kind::kPxeUefi:
      m.options.SetString(kOptionVendorClassId,
                          "PXEClient:Arch:00007:UNDI:003000");
      m.options.SetU16(kOptionClientArchitecture, 7);
      break;
    case Kind::kIpxeBios:
    case Kind::kIpxeUefi: {
      const uint16_t arch = kind == Kind::kIpxeBios ? 0 : 7;
      m.options.SetString(
          kOptionVendorClassId,
          absl::StrCat("PXEClient:Arch:0000", arch, ":UNDI:002001"));
      m.options.SetU16(kOptionClientArchitecture, arch);
      m.options.SetString(kOptionUserClass, "iPXE");
      m.options.SetBytes(kOptionIpxeEncapsulated,
                         std::vector<uint8_t>{0x13, 1, 1, 0x15, 1, 1});
      break;
    }
    case Kind::kHttpClient:
      m.options.SetString(kOptionVendorClassId,
                          "HTTPClient:Arch:00016:UNDI:003000");
      m.options.SetU16(kOptionClientArchitecture, 16);
      break;
  }
  return m;
}

TEST_F(DhcpServerTest, IpxeChainForEachClientKind) {
  hosts_.hosts[kMacA] = {"armed", Ipv4Address(198, 18, 0, 21),
                         BootPurpose::kInstall};
  Start(IpxeConfig());
  const std::string script =
      "http://198.18.0.1:8080/boot/ipxe/01-52-54-00-00-00-0a.ipxe";
  const struct {
    Kind kind;
    std::string file;
    std::string vendor;
  } cases[] = {
      {Kind::kPxeBios, "undionly.kpxe", ""},
      {Kind::kPxeUefi, "snponly.efi", ""},
      // iPXE asking again gets its script, never iPXE: no chainload loop.
      {Kind::kIpxeBios, script, ""},
      {Kind::kIpxeUefi, script, ""},
      {Kind::kHttpClient, "http://198.18.0.1:8080/boot/snponly.efi",
       "HTTPClient"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    for (DhcpReply reply :
         {*Handle(ClientOf(c.kind, DhcpMessageType::kDiscover, kMacA)),
          Dora(ClientOf(c.kind, DhcpMessageType::kDiscover, kMacA))}) {
      const DhcpMessage& m = reply.message;
      EXPECT_EQ(m.yiaddr, Ipv4Address(198, 18, 0, 21));
      EXPECT_EQ(*m.options.BootfileName(), c.file);
      EXPECT_EQ(m.BootFileName(), c.file);  // the file field, for old ROMs
      // Option 60 only for HTTP boot (see OnlyArmedHostsGetAnInstallBootFile).
      EXPECT_EQ(m.options.VendorClassId().value_or(""), c.vendor);
      EXPECT_EQ(m.siaddr, kServer);  // next-server: TFTP for undionly.kpxe
    }
  }
  // Option 175 alone (an iPXE built without the user class) is iPXE too.
  DhcpMessage bare =
      ClientOf(Kind::kIpxeBios, DhcpMessageType::kDiscover, kMacA);
  bare.options.Remove(kOptionUserClass);
  EXPECT_EQ(*Handle(bare)->message.options.BootfileName(), script);
  // Each stage that completed DHCP with a boot file: 5 kinds + none here.
  EXPECT_EQ(server_->counters().pxe_install, 5u);
}

TEST_F(DhcpServerTest, IpxeAndHttpBootDoNotBypassTheSafetyPolicy) {
  hosts_.hosts[kMacB] = {"installed", Ipv4Address(198, 18, 0, 22),
                         BootPurpose::kLocalBoot};
  Start(IpxeConfig());
  const Kind kinds[] = {Kind::kPxeBios, Kind::kPxeUefi, Kind::kIpxeBios,
                        Kind::kIpxeUefi, Kind::kHttpClient};
  // Not armed: an address and no boot file, whatever the client is, so the
  // firmware goes on to the local disk.
  for (Kind kind : kinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    DhcpReply ack = Dora(ClientOf(kind, DhcpMessageType::kDiscover, kMacB));
    EXPECT_EQ(ack.type, DhcpMessageType::kAck);
    EXPECT_EQ(ack.message.yiaddr, Ipv4Address(198, 18, 0, 22));
    EXPECT_FALSE(ack.message.options.Has(kOptionBootfileName));
    EXPECT_EQ(ack.message.BootFileName(), "");
  }
  EXPECT_EQ(server_->counters().pxe_install, 0u);
  EXPECT_EQ(server_->counters().pxe_localboot, 5u);
  // Unknown (default policy ignore): no answer at all, iPXE included, even
  // one that sends no option 60 (it is a PXE client by its user class).
  for (Kind kind : kinds) {
    EXPECT_FALSE(
        Handle(ClientOf(kind, DhcpMessageType::kDiscover, kMacC)).has_value());
  }
  DhcpMessage no_vendor =
      ClientOf(Kind::kIpxeBios, DhcpMessageType::kDiscover, kMacC);
  no_vendor.options.Remove(kOptionVendorClassId);
  EXPECT_FALSE(Handle(no_vendor).has_value());
  EXPECT_EQ(server_->counters().pxe_unknown, 6u);
  // unknown_pxe = localboot: an address, no boot file, no script.
  DhcpServerConfig local = IpxeConfig();
  local.unknown_pxe = UnknownPxePolicy::kLocalBoot;
  server_->UpdateConfig(local);
  for (Kind kind : kinds) {
    absl::optional<DhcpReply> offer =
        Handle(ClientOf(kind, DhcpMessageType::kDiscover, kMacC));
    ASSERT_TRUE(offer.has_value());
    EXPECT_FALSE(offer->message.options.Has(kOptionBootfileName));
  }
}

TEST_F(DhcpServerTest, ProxyDhcpAnswersBootInformationWithoutAddresses) {
  hosts_.hosts[kMacA] = {"armed", absl::nullopt, BootPurpose::kInstall};
  hosts_.hosts[kMacB] = {"installed", absl::nullopt, BootPurpose::kLocalBoot};
  DhcpServerConfig config = Config();
  config.mode = DhcpMode::kProxy;
  Start(config);
  absl::optional<DhcpReply> offer =
      Handle(Pxe(DhcpMessageType::kDiscover, kMacA, 0));
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->type, DhcpMessageType::kOffer);
  EXPECT_TRUE(offer->message.yiaddr.IsUnspecified());
  EXPECT_FALSE(offer->message.options.Has(kOptionLeaseTime));
  EXPECT_EQ(*offer->message.options.BootfileName(), "pxelinux.0");
  absl::StatusOr<PxeVendorOptions> vendor = ParsePxeVendorOptions(
      *offer->message.options.Find(kOptionVendorSpecific));
  ASSERT_TRUE(vendor.ok());
  EXPECT_EQ(vendor->discovery_control, 8);
  EXPECT_TRUE(leases_->FindByClient(ClientKey::FromHardware(1, kMacA)) ==
              nullptr);

  DhcpMessage request = Pxe(DhcpMessageType::kRequest, kMacA, 0);
  request.ciaddr = Ipv4Address(198, 18, 0, 60);  // from the main DHCP server
  absl::optional<DhcpReply> ack =
      Handle(request, {.source = Ipv4Address(198, 18, 0, 60),
                       .source_port = 68,
                       .local_port = 4011});
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_EQ(ack->delivery, DhcpReply::Delivery::kUnicast);
  EXPECT_EQ(ack->to, Ipv4Address(198, 18, 0, 60));
  EXPECT_TRUE(log_.records.empty());
  // Ordinary clients, hosts that boot locally, and REQUESTs on port 67 are the
  // main server's.
  EXPECT_FALSE(Handle(Message(DhcpMessageType::kDiscover, kMacC)).has_value());
  EXPECT_FALSE(Handle(Pxe(DhcpMessageType::kDiscover, kMacB, 0)).has_value());
  EXPECT_FALSE(Handle(Pxe(DhcpMessageType::kRequest, kMacA, 0)).has_value());
}

TEST_F(DhcpServerTest, IgnoresWhatIsNotARequest) {
  Start();
  DhcpMessage reply = Message(DhcpMessageType::kOffer, kMacA);
  EXPECT_FALSE(Handle(reply).has_value());
  reply.op = kBootReply;
  EXPECT_FALSE(Handle(reply).has_value());
  DhcpMessage bootp = Message(DhcpMessageType::kDiscover, kMacA);
  bootp.options.Remove(kOptionMessageType);
  EXPECT_FALSE(Handle(bootp).has_value());
  DhcpMessage bad_type = Message(DhcpMessageType::kDiscover, kMacA);
  bad_type.options.SetU8(kOptionMessageType, 42);
  EXPECT_FALSE(Handle(bad_type).has_value());
  DhcpMessage empty_request = Message(DhcpMessageType::kRequest, kMacA);
  EXPECT_FALSE(Handle(empty_request).has_value());
  EXPECT_TRUE(log_.records.empty());
}

}  // namespace
}  // namespace rackboot::dhcp
