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
//     old address; an inventory address is a reservation. An inventory host
//     is recognised by its MAC (chaddr) alone, whatever client identifier it
//     sends: its PXE ROM, iPXE and the installer each send their own, and
//     each must get the host's reserved address (and a lease the host holds
//     under an identifier it no longer sends is still its own). Clients
//     outside the inventory keep RFC 2131 4.2 (identifier, else hardware
//     address).
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
//                            both; 6 UEFI IA32; 11 ARM64; 15, 16, 19 HTTP
//                            boot with a URL and option 60 "HTTPClient"), or
//                            the iPXE script when the client is iPXE (user
//                            class "iPXE", or option 175 present), so a ROM
//                            handed iPXE as its boot file gets the script
//                            when iPXE asks again, never iPXE in a loop.
//     iPXE is a PXE client for this policy whatever its option 60 says: an
//     unknown or unarmed iPXE gets what any unknown or unarmed PXE client
//     gets, never the script.
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
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/dhcp/lease.h"
#include "engine/dhcp/lease_table.h"
#include "engine/log/log_rate_limiter.h"
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
  std::string http_boot_url;  // 15, 16, 19: a URL, answered with "HTTPClient"
  // iPXE (user class "iPXE" or option 175), any architecture; "{mac}" is
  // replaced by "01-<mac with dashes>" (the per-host script's name). Empty:
  // iPXE gets the file of its architecture like any PXE client.
  std::string ipxe_script;
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
// service's counters. Each counts exactly what its comment says (docs/dhcp.md
// lists them too).
struct DhcpServerCounters {
  // Requests by option 53 message type 1..8; [0]: BOOTREQUESTs without a
  // valid type (BOOTP, garbage), which are never answered.
  uint64_t received[9] = {};
  // Replies built: OFFERs, ACKs (DHCPINFORM answers are in `informs`, not
  // here), NAKs. proxyDHCP answers count as offers and acks.
  uint64_t offers = 0, acks = 0, naks = 0, informs = 0;
  // Install boot files handed out, once per boot stage that completes DHCP:
  // ACKs that carry a boot file (authoritative), OFFERs that carry one
  // (proxyDHCP, whose port 4011 ACK is not counted again). A DISCOVER, an
  // OFFER, a retransmission or an unanswered request never counts.
  uint64_t pxe_install = 0;
  // ACKs without a boot file to PXE clients in the inventory that are not
  // armed (they boot from disk). proxyDHCP does not answer them: 0 there.
  uint64_t pxe_localboot = 0;
  // Messages (every DISCOVER and REQUEST) from PXE clients whose MAC is not in
  // the inventory, whatever dhcp.unknown_pxe did with them.
  uint64_t pxe_unknown = 0;
  uint64_t no_subnet = 0;       // requests from where no subnet is configured
  uint64_t pool_exhausted = 0;  // DISCOVERs for which no address was free
  // Non-requests, REQUESTs for another server, port 4011 outside proxyDHCP,
  // proxyDHCP traffic that is the main server's business.
  uint64_t not_for_us = 0;
  uint64_t malformed = 0;  // a request whose options do not make sense
  uint64_t declines = 0, releases = 0;  // ones that changed a lease
};

// The requester as a log line shows it: MAC, then client identifier (hex),
// host name (option 12), vendor class (60), user class (77) (escaped and
// quoted), relay and relay agent information (hex). Printable ASCII only,
// bounded.
std::string DescribeClient(const DhcpMessage& m);

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

  // Any thread (the daemon's SIGHUP): `config` replaces the configuration
  // at the start of the next Handle, on the server's thread, so no request
  // sees two. The mode and the subnets' address ranges must not change (the
  // lease table is sized for them). Leases stay: one outside a changed pool
  // is kept until it expires, and its client's next renewal is NAKed
  // ("address outside the pool"), so it gets an address of the new pool.
  void UpdateConfig(DhcpServerConfig config);

  const DhcpServerCounters& counters() const { return counters_; }
  // The server's thread only.
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
  DhcpReply Nak(const Client& client, absl::string_view why, absl::Time now);
  // Whether `lease` (in any state but kFree) is the client's own: the same
  // key, or, for an inventory host, the same MAC under another key.
  bool Owns(const Client& client, const Lease& lease) const;
  uint64_t Bind(const Client& client, Ipv4Address address, absl::Time now);

  DhcpServerConfig config_;  // replaced only on the server's thread
  // UpdateConfig's handover; has_pending_ is checked once per Handle without
  // taking the lock.
  std::atomic<bool> has_pending_{false};
  absl::Mutex pending_mu_;
  absl::optional<DhcpServerConfig> pending_ ABSL_GUARDED_BY(pending_mu_);
  LeaseTable* const leases_;
  HostDirectory* const hosts_;
  LeaseLog* const log_;
  DhcpServerCounters counters_;
  // Lines a flood can repeat: a few per 10 s each, then "N similar
  // suppressed".
  log::LogRateLimiter no_subnet_log_, pool_log_, nak_log_, unknown_log_,
      decline_log_, no_boot_file_log_, reservation_log_;
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_DHCP_SERVER_H_
