// DhcpServer: the DHCP service's decisions, as a state machine without I/O.
//
// Fed one parsed request plus where it came from and the wall-clock time, it
// updates the lease table, appends durable lease changes to the lease log, and
// returns the reply to send (if any) with how to deliver it and which log
// record must be on disk first. The shard that owns it does sockets, clocks and
// the journal's group commit (architecture principles 1 and 4), so every
// exchange below is tested without a socket.
//
//   DhcpServer server(config, &leases, &hosts, &journal);
//   absl::optional<DhcpReply> reply =
//       server.Handle(request, context, absl::Now());
//   if (reply) {
//     wait until journal.durable() >= reply->durable_seq;
//     send reply->message;
//   }
//
// What it implements (RFC 2131 unless noted):
//   - DISCOVER -> OFFER, the address held for `offer_time`; REQUEST in
//     SELECTING (server identifier present: ours -> ACK, another server's ->
//     our offer is dropped silently), INIT-REBOOT (requested address, no
//     ciaddr), RENEWING and REBINDING (ciaddr); NAK for an address that is
//     wrong for the client or its subnet; ACK with lease time, T1 and T2;
//     RELEASE; DECLINE (the address is quarantined for `decline_time`);
//     INFORM (configuration, no lease). Expired addresses are reused; a
//     returning client (client identifier, else hardware address) gets its
//     old address; an inventory address is a reservation.
//   - Any client in a subnet may get an address: only PXE boot answers are
//     gated. A PXE client (option 60 "PXEClient", or "HTTPClient" for UEFI
//     HTTP boot) is looked up by MAC:
//       unknown           -> `unknown_pxe`: kIgnore (no answer at all),
//                            kDiscover (recorded for the operator, no
//                            answer), kLocalBoot (an address, no boot file);
//       known, kLocalBoot -> an address and no boot file: the firmware moves
//                            on to the next boot device, the local disk (the
//                            product's first safety rule);
//       known, kInstall   -> the boot file for its architecture (option 93:
//                            0 BIOS; 7 and 9 UEFI x64, since firmware uses
//                            both; 6 UEFI IA32; 11 ARM64; 16 HTTP boot with a
//                            URL and option 60 "HTTPClient"), or the iPXE
//                            script when the user class says iPXE (so iPXE
//                            never chainloads itself in a loop).
//   - proxyDHCP (mode kProxy, beside another DHCP server): PXE clients only,
//     no addresses; the DISCOVER on port 67 gets a boot-information OFFER,
//     the REQUEST on port 4011 an ACK.
//   - Relays: replies go to giaddr port 67 with option 82 echoed unchanged
//     (RFC 3046 2.2).
//
// One thread (the DHCP shard); the lease table's readers run elsewhere without
// locks.
#ifndef RACKBOOT_ENGINE_DHCP_DHCP_SERVER_H_
#define RACKBOOT_ENGINE_DHCP_DHCP_SERVER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/dhcp/lease.h"
#include "engine/dhcp/lease_table.h"
#include "proto/dhcp/dhcp_message.h"

namespace rackboot::dhcp {

enum class DhcpMode { kOff, kAuthoritative, kProxy };
enum class UnknownPxePolicy { kIgnore, kLocalBoot, kDiscover };
// What the inventory says a known host should do when it network-boots.
enum class BootPurpose { kInstall, kLocalBoot };

struct DhcpSubnet {
  Ipv4Address network;
  int prefix_length = 24;
  absl::optional<std::pair<Ipv4Address, Ipv4Address>>
      pool;  // first, last (inclusive)
  absl::optional<Ipv4Address> router;
  std::vector<Ipv4Address> dns;
  std::string domain;

  Ipv4Address netmask() const {
    return Ipv4Address(
        prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length));
  }
  Ipv4Address broadcast() const {
    return Ipv4Address(network.value() | ~netmask().value());
  }
  bool Contains(Ipv4Address a) const {
    return (a.value() & netmask().value()) == network.value();
  }
};

// Boot files by client architecture; an empty name means "no boot file for that
// kind".
struct BootFiles {
  std::string bios;           // option 93 = 0
  std::string uefi_x64;       // 7, 9
  std::string uefi_ia32;      // 6
  std::string arm64;          // 11
  std::string http_boot_url;  // 16
  std::string ipxe_script;    // user class "iPXE", any architecture
};

struct DhcpServerConfig {
  DhcpMode mode = DhcpMode::kOff;
  UnknownPxePolicy unknown_pxe = UnknownPxePolicy::kIgnore;
  Ipv4Address
      server_address;  // server identifier, next-server (siaddr), option 66
  absl::Duration lease_time = absl::Hours(1);
  absl::Duration offer_time = absl::Seconds(30);
  absl::Duration decline_time = absl::Minutes(10);
  std::vector<DhcpSubnet> subnets;
  BootFiles boot;
};

// What the server needs to know of the inventory. Implemented over the site
// model by the daemon, and by a map in tests.
class HostDirectory {
 public:
  struct Host {
    std::string hostname;
    absl::optional<Ipv4Address> reserved;  // the inventory's ip column
    BootPurpose purpose = BootPurpose::kLocalBoot;
  };
  virtual ~HostDirectory() = default;
  virtual absl::optional<Host> FindByMac(
      const std::array<uint8_t, 6>& mac) const = 0;
  // The MAC of the host whose reservation `address` is, if any.
  virtual absl::optional<std::array<uint8_t, 6>> ReservedFor(
      Ipv4Address address) const = 0;
  // An unknown PXE client seen while unknown_pxe is kDiscover; `detail` says
  // what it asked for.
  virtual void RecordDiscovered(const std::array<uint8_t, 6>& mac,
                                const std::string& detail, absl::Time now) = 0;
};

// Where durable lease changes go (the shard adapts LeaseJournal to it). Append
// returns the record's sequence number; a reply that depends on it may leave
// once it is durable.
class LeaseLog {
 public:
  virtual ~LeaseLog() = default;
  virtual uint64_t Append(const Lease& lease) = 0;
};

// Where a request came from.
struct DhcpRequestContext {
  Ipv4Address source;  // the datagram's source address
  uint16_t source_port = 68;
  uint16_t local_port = 67;  // 67, or 4011 for proxyDHCP requests
};

struct DhcpReply {
  enum class Delivery {
    kBroadcast,  // 255.255.255.255:68
    kUnicastHw,  // to yiaddr:68 at chaddr, before the client has its address
    kUnicast,  // to `to`:`port` (ciaddr, a relay's giaddr, a proxyDHCP client)
  };
  DhcpMessageType type = DhcpMessageType::kOffer;
  DhcpMessage message;
  Delivery delivery = Delivery::kBroadcast;
  Ipv4Address to;
  uint16_t port = 68;
  std::array<uint8_t, 6> mac{};   // for kUnicastHw
  size_t max_message_size = 576;  // the client's option 57, for the writer
  // The reply may leave only when the lease log is durable up to here (0: at
  // once).
  uint64_t durable_seq = 0;
};

// Why requests went unanswered or were refused, and what was answered: the
// service's counters.
struct DhcpServerCounters {
  uint64_t received[9] = {};  // by message type 1..8; [0]: no or bad type
  uint64_t offers = 0, acks = 0, naks = 0, informs = 0;
  uint64_t pxe_install = 0;    // boot files handed out
  uint64_t pxe_localboot = 0;  // known hosts told to boot locally
  // Unknown PXE clients (ignored, discovered or local boot).
  uint64_t pxe_unknown = 0;
  uint64_t no_subnet = 0;  // nothing configured for where the client is
  uint64_t pool_exhausted = 0;
  // REQUEST for another server, or traffic we must not answer.
  uint64_t not_for_us = 0;
  uint64_t malformed = 0;  // a request whose options do not make sense
  uint64_t declines = 0, releases = 0;
};

class DhcpServer {
 public:
  // REQUIRES: leases, hosts and log outlive the server; config.mode != kOff.
  DhcpServer(DhcpServerConfig config, LeaseTable* leases, HostDirectory* hosts,
             LeaseLog* log);

  // Handles one request (op BOOTREQUEST). Returns the reply, or nullopt when
  // none is due.
  absl::optional<DhcpReply> Handle(const DhcpMessage& request,
                                   const DhcpRequestContext& context,
                                   absl::Time now);

  const DhcpServerCounters& counters() const { return counters_; }
  const DhcpServerConfig& config() const { return config_; }

 private:
  struct Client;  // what Handle learns about the requester

  absl::optional<DhcpReply> OnDiscover(const Client& client, absl::Time now);
  absl::optional<DhcpReply> OnRequest(const Client& client, absl::Time now);
  absl::optional<DhcpReply> OnDecline(const Client& client, absl::Time now);
  absl::optional<DhcpReply> OnRelease(const Client& client, absl::Time now);
  absl::optional<DhcpReply> OnInform(const Client& client);
  absl::optional<DhcpReply> OnProxy(const Client& client);

  // The address to offer `client`, or nullopt when the pool is exhausted.
  absl::optional<Ipv4Address> ChooseAddress(const Client& client,
                                            absl::Time now);
  // Whether `address` may be bound to `client` now (in its subnet, not someone
  // else's).
  bool Available(const Client& client, Ipv4Address address,
                 absl::Time now) const;
  DhcpReply Reply(const Client& client, DhcpMessageType type) const;
  void AddSubnetOptions(const Client& client, DhcpReply& reply) const;
  // PXE boot information; returns false when the client must get no answer at
  // all.
  bool Decide(Client& client, absl::Time now);
  void AddBootOptions(const Client& client, DhcpReply& reply) const;
  void Deliver(const Client& client, DhcpReply& reply) const;
  DhcpReply Nak(const Client& client, absl::string_view why);
  uint64_t Bind(const Client& client, Ipv4Address address, absl::Time now);

  const DhcpServerConfig config_;
  LeaseTable* const leases_;
  HostDirectory* const hosts_;
  LeaseLog* const log_;
  DhcpServerCounters counters_;
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_DHCP_SERVER_H_
