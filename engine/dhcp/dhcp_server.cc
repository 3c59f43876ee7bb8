#include "engine/dhcp/dhcp_server.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "engine/log/log_text.h"
#include "glog/logging.h"

namespace rackboot::dhcp {
namespace {

using log::Quoted;
using log::SuppressedNote;

// Up to 32 bytes as hex ("01:52:54:..."), "..." after a longer value: client
// bytes in a log line, bounded and printable.
std::string Hex(absl::Span<const uint8_t> bytes) {
  constexpr size_t kMax = 32;
  std::string out;
  for (size_t i = 0; i < std::min(bytes.size(), kMax); ++i) {
    if (i > 0) out.push_back(':');
    absl::StrAppendFormat(&out, "%02x", bytes[i]);
  }
  if (bytes.size() > kMax) out += "...";
  return out;
}

}  // namespace

std::string DescribeClient(const DhcpMessage& m) {
  // Every value the client chose is escaped or hex: a host name with a
  // newline must not start a forged log line (issue 11).
  std::string out = m.HardwareAddressString();
  const DhcpOptions& o = m.options;
  if (absl::StatusOr<absl::Span<const uint8_t>> id = o.ClientId(); id.ok()) {
    absl::StrAppend(&out, " client_id=", Hex(*id));
  }
  if (absl::StatusOr<absl::string_view> name = o.HostName(); name.ok()) {
    absl::StrAppend(&out, " hostname=", Quoted(*name, 64));
  }
  if (absl::StatusOr<absl::string_view> vendor = o.VendorClassId();
      vendor.ok()) {
    absl::StrAppend(&out, " vendor=", Quoted(*vendor, 64));
  }
  if (absl::optional<absl::Span<const uint8_t>> user =
          o.Find(kOptionUserClass)) {
    absl::StrAppend(
        &out, " user_class=",
        Quoted(absl::string_view(reinterpret_cast<const char*>(user->data()),
                                 user->size()),
               64));
  }
  if (!m.giaddr.IsUnspecified()) {
    absl::StrAppend(&out, " via relay ", m.giaddr.ToString());
  }
  if (absl::optional<absl::Span<const uint8_t>> relay =
          o.Find(kOptionRelayAgentInfo)) {
    absl::StrAppend(&out, " relay_info=", Hex(*relay));
  }
  return out;
}

struct DhcpServer::Client {
  Client(const DhcpMessage& m, const DhcpRequestContext& c)
      : message(m), context(c) {}
  const DhcpMessage& message;
  const DhcpRequestContext& context;
  DhcpMessageType type = DhcpMessageType::kDiscover;
  ClientKey key;
  absl::optional<std::array<uint8_t, 6>> mac;
  const DhcpSubnet* subnet = nullptr;
  absl::optional<HostDirectory::Host>
      host;                // the inventory's entry for this MAC
  bool pxe = false;        // option 60 PXEClient or HTTPClient
  bool http_boot = false;  // architecture 16: answer "HTTPClient" and a URL
  bool ipxe = false;       // user class iPXE, or option 175 present
  absl::optional<uint16_t> arch;
  bool answer = true;     // false: this client gets no reply at all
  std::string boot_file;  // empty: no boot file in the answer
};

DhcpServer::DhcpServer(DhcpServerConfig config, LeaseTable* leases,
                       HostDirectory* hosts, LeaseLog* log)
    : config_(std::move(config)), leases_(leases), hosts_(hosts), log_(log) {}

void DhcpServer::UpdateConfig(DhcpServerConfig config) {
  absl::MutexLock lock(&pending_mu_);
  pending_ = std::move(config);
  has_pending_.store(true, std::memory_order_release);
}

absl::optional<DhcpReply> DhcpServer::Handle(const DhcpMessage& request,
                                             const DhcpRequestContext& context,
                                             absl::Time now) {
  if (has_pending_.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&pending_mu_);
    if (pending_.has_value()) config_ = *std::move(pending_);
    pending_.reset();
    has_pending_.store(false, std::memory_order_relaxed);
  }
  if (request.op != kBootRequest) {
    ++counters_.not_for_us;
    return absl::nullopt;
  }
  absl::StatusOr<DhcpMessageType> type = request.options.MessageType();
  if (!type.ok() || static_cast<int>(*type) < 1 ||
      static_cast<int>(*type) > 8) {
    ++counters_.received[0];  // BOOTP without option 53, or garbage: not ours
                              // to answer
    return absl::nullopt;
  }
  ++counters_.received[static_cast<int>(*type)];
  Client client(request, context);
  client.type = *type;
  client.mac = request.MacAddress();
  if (client.mac.has_value()) client.host = hosts_->FindByMac(*client.mac);
  absl::StatusOr<absl::Span<const uint8_t>> id = request.options.ClientId();
  if (id.ok() && !id->empty() && !client.host.has_value()) {
    client.key = ClientKey::FromClientId(*id);
  } else {
    // An inventory host is one machine whatever client identifier its
    // current boot stage sends (PXE ROM, iPXE and the installer each pick
    // their own): its leases are keyed by its MAC, so it keeps its
    // reservation, or its pool address, across the stages.
    client.key = ClientKey::FromHardware(
        request.htype,
        absl::MakeConstSpan(request.chaddr.data(),
                            std::min<size_t>(request.hlen, kChaddrSize)));
  }
  // RFC 2131 4.3.1: the subnet is the relay's (giaddr), else the client's own
  // address's (renewing, informing), else the one the server itself is on.
  Ipv4Address where = !request.giaddr.IsUnspecified() ? request.giaddr
                      : !request.ciaddr.IsUnspecified()
                          ? request.ciaddr
                          : config_.server_address;
  for (const DhcpSubnet& subnet : config_.subnets) {
    if (subnet.Contains(where)) {
      client.subnet = &subnet;
      break;
    }
  }
  absl::StatusOr<absl::string_view> vendor = request.options.VendorClassId();
  if (vendor.ok()) {
    client.pxe = absl::StartsWith(*vendor, "PXEClient");
    client.http_boot = absl::StartsWith(*vendor, "HTTPClient");
    client.pxe = client.pxe || client.http_boot;
  }
  absl::StatusOr<std::vector<uint16_t>> arch =
      request.options.ClientArchitectures();
  if (arch.ok() && !arch->empty()) client.arch = (*arch)[0];
  // iPXE sends user class "iPXE" and its own option 175 (an iPXE built
  // without the user class still sends 175). Either marks it as iPXE, and as
  // a PXE client: the inventory policy below applies to it like to any ROM.
  client.ipxe = request.options.UserClassContains("iPXE") ||
                request.options.Find(kOptionIpxeEncapsulated).has_value();
  client.pxe = client.pxe || client.ipxe;
  if (!Decide(client, now)) return absl::nullopt;

  if (config_.mode == DhcpMode::kProxy) return OnProxy(client);
  if (context.local_port != 67) {
    ++counters_.not_for_us;  // port 4011 is only for proxyDHCP
    return absl::nullopt;
  }
  if (client.subnet == nullptr) {
    ++counters_.no_subnet;
    uint64_t suppressed = 0;
    if (no_subnet_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "dhcp: " << DhcpMessageTypeName(client.type) << " from "
                   << DescribeClient(request) << " for " << where.ToString()
                   << ": no subnet configured there"
                   << SuppressedNote(suppressed);
    }
    return absl::nullopt;
  }
  switch (client.type) {
    case DhcpMessageType::kDiscover:
      return OnDiscover(client, now);
    case DhcpMessageType::kRequest:
      return OnRequest(client, now);
    case DhcpMessageType::kDecline:
      return OnDecline(client, now);
    case DhcpMessageType::kRelease:
      return OnRelease(client, now);
    case DhcpMessageType::kInform:
      return OnInform(client);
    default:  // OFFER, ACK, NAK: server messages
      ++counters_.not_for_us;
      return absl::nullopt;
  }
}

bool DhcpServer::Decide(Client& client, absl::Time now) {
  if (!client.pxe)
    return true;  // an ordinary DHCP client: an address, no boot answer
  if (!client.host.has_value()) {
    ++counters_.pxe_unknown;
    uint64_t suppressed = 0;
    if (unknown_log_.Allow(now, &suppressed)) {
      LOG(INFO) << "dhcp: " << DhcpMessageTypeName(client.type)
                << " from unknown PXE client " << DescribeClient(client.message)
                << ": "
                << (config_.unknown_pxe == UnknownPxePolicy::kIgnore
                        ? "ignored (dhcp.unknown_pxe = ignore)"
                    : config_.unknown_pxe == UnknownPxePolicy::kDiscover
                        ? "recorded in discovered.tsv, not answered"
                    : config_.mode == DhcpMode::kProxy
                        ? "not answered (proxyDHCP)"
                        : "an address without a boot file")
                << SuppressedNote(suppressed);
    }
    switch (config_.unknown_pxe) {
      case UnknownPxePolicy::kIgnore:
        return false;
      case UnknownPxePolicy::kDiscover:
        if (client.mac.has_value()) {
          // Escaped: the detail goes into a tab-separated file and to the
          // operator's terminal; no tab, newline or escape may pass.
          hosts_->RecordDiscovered(
              *client.mac,
              absl::StrCat(
                  "arch=", client.arch.value_or(0), client.ipxe ? " ipxe" : "",
                  " ",
                  log::Escaped(
                      client.message.options.VendorClassId().value_or(""), 64)),
              now);
        }
        return false;
      case UnknownPxePolicy::kLocalBoot:
        return config_.mode !=
               DhcpMode::kProxy;  // an address without a boot file
    }
  }
  if (client.host->purpose == BootPurpose::kLocalBoot) {
    // In proxy mode there is nothing to say: no boot file is the local-boot
    // answer.
    return config_.mode != DhcpMode::kProxy;
  }
  const BootFiles& boot = config_.boot;
  if (client.ipxe && !boot.ipxe_script.empty()) {
    // iPXE is already running: hand it the script, never iPXE again (no
    // chainload loop).
    client.boot_file = boot.ipxe_script;
    if (client.mac.has_value()) {
      const std::array<uint8_t, 6>& m = *client.mac;
      client.boot_file = absl::StrReplaceAll(
          client.boot_file,
          {{"{mac}", absl::StrFormat("01-%02x-%02x-%02x-%02x-%02x-%02x", m[0],
                                     m[1], m[2], m[3], m[4], m[5])}});
    }
  } else {
    switch (client.arch.value_or(0)) {
      case 0:
        client.boot_file = boot.bios;
        break;
      case 6:
        client.boot_file = boot.uefi_ia32;
        break;
      case 7:
      case 9:  // RFC 4578's table and IANA disagree; firmware sends both for
               // x64 UEFI
        client.boot_file = boot.uefi_x64;
        break;
      case 11:
        client.boot_file = boot.arm64;
        break;
      case 15:  // UEFI HTTP boot: x86, x64 (16) and ARM64 (19)
      case 16:
      case 19:
        client.boot_file = boot.http_boot_url;
        client.http_boot = true;
        break;
      default:
        break;
    }
  }
  if (client.boot_file.empty()) {
    uint64_t suppressed = 0;
    if (no_boot_file_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "dhcp: " << Quoted(client.host->hostname)
                   << " is armed for install "
                   << "but no boot file is configured for architecture "
                   << client.arch.value_or(0) << (client.ipxe ? " (iPXE)" : "")
                   << "; answering without one" << SuppressedNote(suppressed);
    }
    return config_.mode != DhcpMode::kProxy;
  }
  return true;
}

bool DhcpServer::Owns(const Client& client, const Lease& lease) const {
  if (lease.state == LeaseState::kFree) return false;
  if (lease.client == client.key) return true;
  // An inventory host's lease recorded under a client identifier (journaled
  // before leases of inventory hosts were keyed by MAC, or while the MAC was
  // not yet in the inventory) is still that host's.
  return client.host.has_value() && client.mac.has_value() &&
         lease.mac == *client.mac;
}

bool DhcpServer::Available(const Client& client, Ipv4Address address,
                           absl::Time now) const {
  const DhcpSubnet& subnet = *client.subnet;
  if (!subnet.Contains(address) || address == subnet.network ||
      address == subnet.broadcast() || address == config_.server_address) {
    return false;
  }
  const Lease* lease = leases_->Find(address);
  if (lease == nullptr) return false;  // not an address this server manages
  if (lease->Holds(now) && !Owns(client, *lease)) return false;
  // A reservation belongs to its host alone.
  absl::optional<std::array<uint8_t, 6>> owner = hosts_->ReservedFor(address);
  if (owner.has_value() && owner != client.mac) return false;
  return true;
}

absl::optional<Ipv4Address> DhcpServer::ChooseAddress(const Client& client,
                                                      absl::Time now) {
  const DhcpSubnet& subnet = *client.subnet;
  if (client.host.has_value() && client.host->reserved.has_value()) {
    if (Available(client, *client.host->reserved, now)) {
      return client.host->reserved;
    }
    const Lease* holder = leases_->Find(*client.host->reserved);
    uint64_t suppressed = 0;
    if (reservation_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "dhcp: " << Quoted(client.host->hostname)
                   << "'s reserved address "
                   << client.host->reserved->ToString()
                   << (holder == nullptr ? " is not in a served subnet"
                       : holder->Holds(now)
                           ? absl::StrCat(" is held by another client (",
                                          holder->client.ToString(), ")")
                           : " is not usable on this subnet")
                   << "; offering another address"
                   << SuppressedNote(suppressed);
    }
  }
  const Lease* previous = leases_->FindByClient(client.key);
  if (previous != nullptr && previous->state != LeaseState::kDeclined &&
      Available(client, previous->address, now)) {
    return previous->address;
  }
  if (!subnet.pool.has_value()) return absl::nullopt;
  const auto [first, last] = *subnet.pool;
  absl::StatusOr<Ipv4Address> requested =
      client.message.options.RequestedAddress();
  if (requested.ok() && *requested >= first && *requested <= last &&
      Available(client, *requested, now)) {
    return *requested;
  }
  return leases_->AllocateFree(first, last, now);
}

absl::optional<DhcpReply> DhcpServer::OnDiscover(const Client& client,
                                                 absl::Time now) {
  absl::optional<Ipv4Address> address = ChooseAddress(client, now);
  if (!address.has_value()) {
    ++counters_.pool_exhausted;
    uint64_t suppressed = 0;
    if (pool_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "dhcp: no free address for "
                   << DescribeClient(client.message) << " in "
                   << client.subnet->network.ToString() << "/"
                   << client.subnet->prefix_length
                   << SuppressedNote(suppressed);
    }
    return absl::nullopt;
  }
  const Lease* existing = leases_->Find(*address);
  if (!(existing->state == LeaseState::kBound && Owns(client, *existing) &&
        existing->Holds(now))) {
    // Held briefly so that concurrent DISCOVERs are not offered the same
    // address. Not journaled: an offer lost in a crash costs the client one
    // more DISCOVER.
    Lease offer;
    offer.address = *address;
    offer.state = LeaseState::kOffered;
    offer.client = client.key;
    if (client.mac.has_value()) offer.mac = *client.mac;
    offer.expires = now + config_.offer_time;
    leases_->Put(offer);
  }
  DhcpReply reply = Reply(client, DhcpMessageType::kOffer);
  reply.message.yiaddr = *address;
  AddSubnetOptions(client, reply);
  AddBootOptions(client, reply);
  Deliver(client, reply);
  ++counters_.offers;
  return reply;
}

absl::optional<DhcpReply> DhcpServer::OnRequest(const Client& client,
                                                absl::Time now) {
  const DhcpMessage& request = client.message;
  absl::StatusOr<Ipv4Address> server_id = request.options.ServerIdentifier();
  absl::StatusOr<Ipv4Address> requested = request.options.RequestedAddress();
  const Lease* mine = leases_->FindByClient(client.key);
  Ipv4Address address;
  if (server_id.ok()) {
    // SELECTING (RFC 2131 4.3.2): the client chose among the offers.
    if (*server_id != config_.server_address) {
      ++counters_.not_for_us;
      if (mine != nullptr && mine->state == LeaseState::kOffered) {
        leases_->Erase(mine->address);  // it took another server's offer
      }
      return absl::nullopt;
    }
    if (!requested.ok()) {
      ++counters_.malformed;
      return Nak(client, "SELECTING without a requested address", now);
    }
    address = *requested;
  } else if (requested.ok()) {
    // INIT-REBOOT: the client asks to keep a lease it remembers. Authoritative
    // for the subnet, the server NAKs what it cannot confirm so the client
    // starts over.
    address = *requested;
    const bool reserved_here =
        client.host.has_value() && client.host->reserved == address;
    const Lease* there = leases_->Find(address);
    const bool own_lease =
        (mine != nullptr && mine->address == address) ||
        (there != nullptr && client.host.has_value() && Owns(client, *there));
    if (!reserved_here && !own_lease) {
      return Nak(client, "no lease on record for that address", now);
    }
  } else if (!request.ciaddr.IsUnspecified()) {
    // RENEWING (unicast) or REBINDING (broadcast): extend the lease on ciaddr.
    address = request.ciaddr;
  } else {
    ++counters_.malformed;
    return absl::nullopt;  // no address named anywhere: nothing to answer (RFC
                           // 2131 4.3.2)
  }
  if (!client.subnet->Contains(address))
    return Nak(client, "address not on this subnet", now);
  if (!Available(client, address, now))
    return Nak(client, "address belongs to another client", now);
  const bool reserved_here =
      client.host.has_value() && client.host->reserved == address;
  const bool in_pool = client.subnet->pool.has_value() &&
                       address >= client.subnet->pool->first &&
                       address <= client.subnet->pool->second;
  if (!reserved_here && !in_pool)
    return Nak(client, "address outside the pool", now);
  DhcpReply reply = Reply(client, DhcpMessageType::kAck);
  reply.message.yiaddr = address;
  reply.message.ciaddr = request.ciaddr;
  AddSubnetOptions(client, reply);
  AddBootOptions(client, reply);
  reply.durable_seq = Bind(client, address, now);
  Deliver(client, reply);
  ++counters_.acks;
  // Counted on the ACK: one per boot stage that completes DHCP, not per
  // DISCOVER, REQUEST or retransmission.
  if (client.pxe && client.host.has_value()) {
    if (!client.boot_file.empty()) {
      ++counters_.pxe_install;
    } else if (client.host->purpose == BootPurpose::kLocalBoot) {
      ++counters_.pxe_localboot;
    }
  }
  return reply;
}

uint64_t DhcpServer::Bind(const Client& client, Ipv4Address address,
                          absl::Time now) {
  Lease lease;
  lease.address = address;
  lease.state = LeaseState::kBound;
  lease.client = client.key;
  if (client.mac.has_value()) lease.mac = *client.mac;
  lease.expires = now + config_.lease_time;
  leases_->Put(lease);
  return log_->Append(lease);
}

absl::optional<DhcpReply> DhcpServer::OnDecline(const Client& client,
                                                absl::Time now) {
  // RFC 2131 4.3.3: the client found the address in use (ARP); keep it out of
  // circulation.
  absl::StatusOr<Ipv4Address> address =
      client.message.options.RequestedAddress();
  if (!address.ok()) {
    ++counters_.malformed;
    return absl::nullopt;
  }
  const Lease* lease = leases_->Find(*address);
  if (lease == nullptr || !Owns(client, *lease)) return absl::nullopt;
  Lease declined = *lease;
  declined.state = LeaseState::kDeclined;
  declined.expires = now + config_.decline_time;
  leases_->Put(declined);
  log_->Append(declined);
  ++counters_.declines;
  uint64_t suppressed = 0;
  if (decline_log_.Allow(now, &suppressed)) {
    LOG(WARNING) << "dhcp: " << DescribeClient(client.message) << " declined "
                 << address->ToString()
                 << " (in use by another host?); quarantined for "
                 << absl::FormatDuration(config_.decline_time)
                 << SuppressedNote(suppressed);
  }
  return absl::nullopt;
}

absl::optional<DhcpReply> DhcpServer::OnRelease(const Client& client,
                                                absl::Time now) {
  const Lease* lease = leases_->Find(client.message.ciaddr);
  if (lease == nullptr || !Owns(client, *lease) ||
      lease->state != LeaseState::kBound) {
    return absl::nullopt;
  }
  // Remembered for the client: its next DISCOVER gets the same address if still
  // free.
  Lease released = *lease;
  released.state = LeaseState::kReleased;
  released.expires = now;
  leases_->Put(released);
  log_->Append(released);
  ++counters_.releases;
  return absl::nullopt;
}

absl::optional<DhcpReply> DhcpServer::OnInform(const Client& client) {
  // RFC 2131 4.3.5: configuration only; no yiaddr, no lease time.
  DhcpReply reply = Reply(client, DhcpMessageType::kAck);
  reply.message.ciaddr = client.message.ciaddr;
  AddSubnetOptions(client, reply);
  reply.message.options.Remove(kOptionLeaseTime);
  reply.message.options.Remove(kOptionRenewalTime);
  reply.message.options.Remove(kOptionRebindingTime);
  Deliver(client, reply);
  ++counters_.informs;
  return reply;
}

absl::optional<DhcpReply> DhcpServer::OnProxy(const Client& client) {
  // proxyDHCP (PXE specification 2.1, section 2.2.5): boot information without
  // addresses, for PXE clients only; the site's own DHCP server hands out the
  // address.
  if (!client.pxe || client.boot_file.empty()) {
    ++counters_.not_for_us;
    return absl::nullopt;
  }
  DhcpReply reply;
  if (client.type == DhcpMessageType::kDiscover &&
      client.context.local_port == 67) {
    reply = Reply(client, DhcpMessageType::kOffer);
  } else if (client.type == DhcpMessageType::kRequest &&
             client.context.local_port == 4011) {
    reply = Reply(client, DhcpMessageType::kAck);
  } else {
    ++counters_.not_for_us;  // the DHCP server's business
    return absl::nullopt;
  }
  AddBootOptions(client, reply);
  // PXE_DISCOVERY_CONTROL bit 3: download the boot file named here, skip boot
  // server discovery and menus.
  PxeVendorOptions vendor;
  vendor.discovery_control = 8;
  absl::StatusOr<std::vector<uint8_t>> encoded = WritePxeVendorOptions(vendor);
  if (encoded.ok())
    reply.message.options.SetBytes(kOptionVendorSpecific, *encoded);
  Deliver(client, reply);
  if (client.context.local_port == 4011) {
    reply.delivery = DhcpReply::Delivery::kUnicast;
    reply.to = client.context.source;
    reply.port = client.context.source_port;
  }
  if (reply.type == DhcpMessageType::kOffer) {
    ++counters_.offers;
    // The OFFER is the answer every proxyDHCP client uses; the port 4011 ACK,
    // which not every client asks for, is not counted again.
    ++counters_.pxe_install;
  } else {
    ++counters_.acks;
  }
  return reply;
}

DhcpReply DhcpServer::Reply(const Client& client, DhcpMessageType type) const {
  const DhcpMessage& request = client.message;
  DhcpReply reply;
  reply.type = type;
  DhcpMessage& m = reply.message;
  m.op = kBootReply;
  m.htype = request.htype;
  m.hlen = request.hlen;
  m.xid = request.xid;
  m.flags = request.flags;
  m.giaddr = request.giaddr;
  m.chaddr = request.chaddr;
  m.options.SetU8(kOptionMessageType, static_cast<uint8_t>(type));
  m.options.SetIpv4(kOptionServerIdentifier, config_.server_address);
  absl::StatusOr<uint16_t> max_size = request.options.MaxMessageSize();
  if (max_size.ok()) reply.max_message_size = *max_size;
  return reply;
}

void DhcpServer::AddSubnetOptions(const Client& client,
                                  DhcpReply& reply) const {
  const DhcpSubnet& subnet = *client.subnet;
  DhcpOptions& o = reply.message.options;
  const int64_t lease = absl::ToInt64Seconds(config_.lease_time);
  o.SetU32(kOptionLeaseTime, static_cast<uint32_t>(lease));
  o.SetU32(kOptionRenewalTime,
           static_cast<uint32_t>(lease / 2));  // RFC 2131 4.4.5
  o.SetU32(kOptionRebindingTime, static_cast<uint32_t>(lease * 7 / 8));
  o.SetIpv4(kOptionSubnetMask, subnet.netmask());
  o.SetIpv4(kOptionBroadcastAddress, subnet.broadcast());
  if (subnet.router.has_value()) o.SetIpv4List(kOptionRouter, {*subnet.router});
  if (!subnet.dns.empty()) o.SetIpv4List(kOptionDnsServer, subnet.dns);
  if (!subnet.domain.empty()) o.SetString(kOptionDomainName, subnet.domain);
  if (client.host.has_value() && !client.host->hostname.empty()) {
    o.SetString(kOptionHostName, client.host->hostname);
  }
}

void DhcpServer::AddBootOptions(const Client& client, DhcpReply& reply) const {
  if (client.boot_file.empty()) return;
  DhcpMessage& m = reply.message;
  m.siaddr = config_.server_address;  // next-server: the TFTP server
  // Classic PXE ROMs read the file field; newer clients option 67. Send both
  // when it fits.
  if (client.boot_file.size() < kFileSize)
    (void)m.SetBootFileName(client.boot_file);
  m.options.SetString(kOptionTftpServerName, config_.server_address.ToString());
  m.options.SetString(kOptionBootfileName, client.boot_file);
  // Option 60 only where the firmware needs it. UEFI HTTP boot takes an
  // offer only with "HTTPClient" (UEFI 2.9 24.7); proxyDHCP answers are
  // "PXEClient" with option 43 (PXE 2.1 2.2.5, OnProxy). An authoritative PXE
  // answer leaves it out: "PXEClient" without option 43 tells a PXE client to
  // ask a boot server on port 4011 for its file (a "BINL" offer: EDK2 does,
  // NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c, and stops with PXE-E16 when nobody
  // answers there), while an offer with a boot file and no option 60 is
  // booted directly by every ROM, as ISC dhcpd's and dnsmasq's are.
  if (client.http_boot) {
    m.options.SetString(kOptionVendorClassId, "HTTPClient");
  } else if (config_.mode == DhcpMode::kProxy) {
    m.options.SetString(kOptionVendorClassId, "PXEClient");
  }
  absl::optional<absl::Span<const uint8_t>> uuid =
      client.message.options.Find(kOptionClientMachineId);
  if (uuid.has_value()) m.options.SetBytes(kOptionClientMachineId, *uuid);
}

void DhcpServer::Deliver(const Client& client, DhcpReply& reply) const {
  const DhcpMessage& request = client.message;
  DhcpMessage& m = reply.message;
  // RFC 2131 4.1, in its order of precedence.
  if (!request.giaddr.IsUnspecified()) {
    reply.delivery = DhcpReply::Delivery::kUnicast;
    reply.to = request.giaddr;
    reply.port = 67;
    if (reply.type == DhcpMessageType::kNak) m.SetBroadcast(true);
  } else if (reply.type == DhcpMessageType::kNak) {
    reply.delivery = DhcpReply::Delivery::kBroadcast;
  } else if (!request.ciaddr.IsUnspecified()) {
    reply.delivery = DhcpReply::Delivery::kUnicast;
    reply.to = request.ciaddr;
    reply.port = 68;
  } else if (request.IsBroadcast() || !client.mac.has_value() ||
             m.yiaddr.IsUnspecified()) {
    reply.delivery = DhcpReply::Delivery::kBroadcast;
  } else {
    reply.delivery = DhcpReply::Delivery::kUnicastHw;
    reply.to = m.yiaddr;
    reply.mac = *client.mac;
  }
  // RFC 3046 2.2: the relay agent information comes back unchanged, as the last
  // option.
  absl::optional<absl::Span<const uint8_t>> relay =
      request.options.Find(kOptionRelayAgentInfo);
  if (relay.has_value() && !request.giaddr.IsUnspecified()) {
    m.options.SetBytes(kOptionRelayAgentInfo, *relay);
  }
}

DhcpReply DhcpServer::Nak(const Client& client, absl::string_view why,
                          absl::Time now) {
  ++counters_.naks;
  uint64_t suppressed = 0;
  if (nak_log_.Allow(now, &suppressed)) {
    LOG(INFO) << "dhcp: NAK to " << DescribeClient(client.message) << ": "
              << why << SuppressedNote(suppressed);
  }
  DhcpReply reply = Reply(client, DhcpMessageType::kNak);
  reply.message.options.SetString(56, why);  // RFC 2132 9.9: message
  Deliver(client, reply);
  return reply;
}

}  // namespace rackboot::dhcp
