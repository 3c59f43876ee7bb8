// Fuzz target for DhcpServer::Handle fed arbitrary datagrams, as the DHCP
// shard feeds it whatever arrives on port 67 (and 4011). A small inventory
// (an armed host with a reservation, a local-boot host with one, both at the
// MACs of the captured QEMU guests in tests/data/dhcp) and a small pool. Each
// input is parsed; what parses is handled in authoritative mode on port 67 and
// 4011, then, if it was offered an address, requested in SELECTING state; and
// once more in proxy mode. Invariants (a violation traps):
//  - no reply to anything but a BOOTREQUEST with a valid message type;
//  - a reply answers the request (op, xid, chaddr);
//  - no address outside the pools, except the requester's own reservation;
//    a reservation never goes to another MAC; proxyDHCP never gives one;
//  - an ACK's address is bound in the lease table to the requester's MAC;
//  - an OFFER requested at once is acknowledged with the same address;
//  - an install boot file only for the armed inventory host.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/dhcp/lease_table.h"
#include "proto/dhcp/dhcp_message.h"

namespace rackboot::dhcp {
namespace {

using Mac = std::array<uint8_t, 6>;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr Ipv4Address kServer(198, 18, 0, 1);
constexpr Mac kArmed = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x21};
constexpr Mac kLocal = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x22};
constexpr Ipv4Address kArmedAddress(198, 18, 0, 21);
constexpr Ipv4Address kLocalAddress(198, 18, 0, 22);

class Hosts : public HostDirectory {
 public:
  absl::optional<Host> FindByMac(const Mac& mac) const override {
    if (mac == kArmed)
      return Host{"armed", kArmedAddress, BootPurpose::kInstall};
    if (mac == kLocal) {
      return Host{"local", kLocalAddress, BootPurpose::kLocalBoot};
    }
    return absl::nullopt;
  }
  absl::optional<Mac> ReservedFor(Ipv4Address address) const override {
    if (address == kArmedAddress) return kArmed;
    if (address == kLocalAddress) return kLocal;
    return absl::nullopt;
  }
  void RecordDiscovered(const Mac&, const std::string& detail,
                        absl::Time) override {
    // The detail goes into a tab-separated file: printable ASCII only.
    for (char c : detail) Check(c >= 0x20 && c < 0x7f);
  }
};

class Log : public LeaseLog {
 public:
  uint64_t Append(const Lease&) override { return ++n; }
  uint64_t n = 0;
};

DhcpServerConfig Config(DhcpMode mode) {
  DhcpServerConfig config;
  config.mode = mode;
  config.unknown_pxe = UnknownPxePolicy::kDiscover;
  config.server_address = kServer;
  DhcpSubnet lab;
  lab.network = Ipv4Address(198, 18, 0, 0);
  lab.prefix_length = 24;
  lab.pool = {{Ipv4Address(198, 18, 0, 100), Ipv4Address(198, 18, 0, 103)}};
  lab.router = kServer;
  config.subnets.push_back(lab);
  DhcpSubnet remote;  // behind a relay
  remote.network = Ipv4Address(198, 19, 7, 0);
  remote.prefix_length = 24;
  remote.pool = {{Ipv4Address(198, 19, 7, 10), Ipv4Address(198, 19, 7, 11)}};
  config.subnets.push_back(remote);
  config.boot.bios = "pxelinux.0";
  config.boot.uefi_x64 = "bootnetx64.efi";
  config.boot.ipxe_script = "http://198.18.0.1/boot.ipxe";
  return config;
}

bool InPool(const DhcpServerConfig& config, Ipv4Address a) {
  for (const DhcpSubnet& s : config.subnets) {
    if (s.pool && a >= s.pool->first && a <= s.pool->second) return true;
  }
  return false;
}

// Checks one reply to `request`.
void CheckReply(const DhcpServer& server, const LeaseTable& leases,
                const DhcpMessage& request,
                const absl::optional<DhcpReply>& reply) {
  if (!reply.has_value()) return;
  absl::StatusOr<DhcpMessageType> type = request.options.MessageType();
  Check(request.op == kBootRequest && type.ok() &&
        static_cast<int>(*type) >= 1 && static_cast<int>(*type) <= 8);
  const DhcpMessage& m = reply->message;
  Check(m.op == kBootReply && m.xid == request.xid &&
        m.chaddr == request.chaddr);
  const absl::optional<Mac> mac = request.MacAddress();
  const Ipv4Address a = m.yiaddr;
  if (server.config().mode == DhcpMode::kProxy) {
    Check(a.IsUnspecified());
  } else if (!a.IsUnspecified()) {
    if (a == kArmedAddress) {
      Check(mac == kArmed);
    } else if (a == kLocalAddress) {
      Check(mac == kLocal);
    } else {
      Check(InPool(server.config(), a));
    }
    if (reply->type == DhcpMessageType::kAck) {
      absl::optional<Lease> lease = leases.Lookup(a);
      Check(lease.has_value() && lease->state == LeaseState::kBound);
      if (mac.has_value()) Check(lease->mac == *mac);
    }
  }
  if (m.options.Has(kOptionBootfileName)) Check(mac == kArmed);
}

void Run(DhcpMode mode, const DhcpMessage& request) {
  const DhcpServerConfig config = Config(mode);
  std::unique_ptr<LeaseTable> leases = *LeaseTable::Create(
      {*AddressRange::Hosts(Ipv4Address(198, 18, 0, 0), 24),
       *AddressRange::Hosts(Ipv4Address(198, 19, 7, 0), 24)});
  Hosts hosts;
  Log log;
  DhcpServer server(config, leases.get(), &hosts, &log);
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const DhcpRequestContext on67{
      .source = Ipv4Address(), .source_port = 68, .local_port = 67};
  const DhcpRequestContext on4011{.source = Ipv4Address(198, 18, 0, 150),
                                  .source_port = 68,
                                  .local_port = 4011};
  const absl::optional<DhcpReply> first = server.Handle(request, on67, now);
  CheckReply(server, *leases, request, first);
  CheckReply(server, *leases, request, server.Handle(request, on4011, now));
  if (mode != DhcpMode::kAuthoritative || !first.has_value() ||
      first->type != DhcpMessageType::kOffer ||
      first->message.yiaddr.IsUnspecified()) {
    return;
  }
  // The client takes the offer at once.
  now += absl::Seconds(1);
  DhcpMessage take = request;
  take.options.SetU8(kOptionMessageType,
                     static_cast<uint8_t>(DhcpMessageType::kRequest));
  take.options.SetIpv4(kOptionServerIdentifier, kServer);
  take.options.SetIpv4(kOptionRequestedAddress, first->message.yiaddr);
  absl::optional<DhcpReply> ack = server.Handle(take, on67, now);
  CheckReply(server, *leases, take, ack);
  Check(ack.has_value() && ack->type == DhcpMessageType::kAck &&
        ack->message.yiaddr == first->message.yiaddr);
}

void FuzzOne(const uint8_t* data, size_t size) {
  absl::StatusOr<DhcpMessage> request = ParseDhcpMessage({data, size});
  if (!request.ok()) return;  // the shard drops what does not parse
  Run(DhcpMode::kAuthoritative, *request);
  Run(DhcpMode::kProxy, *request);
}

}  // namespace
}  // namespace rackboot::dhcp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::dhcp::FuzzOne(data, size);
  return 0;
}
