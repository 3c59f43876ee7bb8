// DhcpExchange: one simulated PXE client's DHCP DORA (DISCOVER, OFFER,
// REQUEST, ACK), as a state machine without I/O, for `rackboot load`.
//
// The runner owns the sockets and the clock and routes each reply to its
// exchange by xid and chaddr; the exchange says what to send and when it next
// wants to be woken. One thread.
//
//   DhcpExchange x(options, now);          // queues the DISCOVER
//   send x.Transmit() (to the server's port 67, or broadcast); ClearTransmit
//   ... on a reply with x.xid():   x.OnDatagram(bytes, now);
//   ... when now >= x.Deadline():  x.OnDeadline(now);
//   done once x.finished(); x.result(), x.lease() say how it ended.
//
// What the client sends, as a PXE ROM does: option 53, 57 (1472), 55
// (1 3 6 12 15 28 43 60 66 67 93 94 97), 60
// "PXEClient:Arch:<arch>:UNDI:002001", 93 (client architecture), 94, 97 (client
// machine id) and 61. The broadcast flag is set (replies come to
// 255.255.255.255:68, since the simulated addresses are never configured). With
// a relay address, giaddr is set and hops is 1, as a relay agent forwards it,
// and replies come to giaddr:67. REQUEST carries 50 (the offered address) and
// 54 (the offering server). Retransmission: no answer within `timeout` resends
// the same message (secs updated), up to max_retries times; RFC 2131 4.1's
// randomised backoff is left out on purpose: a load tool needs repeatable
// timing.
//
// As implemented: each resend counts a timeout and a retransmit; the timeout
// after the max_retries-th resend gives up, so with no answer a DISCOVER fails
// at started + (max_retries + 1) * timeout, and a REQUEST that long after its
// OFFER. The first OFFER with our xid and chaddr, a yiaddr and an option 54
// is taken; in REQUESTING only an ACK or NAK from that server (option 54
// equal, or absent) counts. Every other parsed reply (another xid or chaddr,
// op 1, no option 53, the wrong type for the state) counts as ignored. secs
// is the whole seconds since the constructor's `now`. The message lives in a
// buffer inside the exchange; resends patch secs in place (no allocation).
#ifndef RACKBOOT_TOOLS_LOAD_DHCP_EXCHANGE_H_
#define RACKBOOT_TOOLS_LOAD_DHCP_EXCHANGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::load {

struct DhcpExchangeOptions {
  std::array<uint8_t, 6> mac{};
  uint32_t xid = 0;
  uint16_t client_arch = 0;  // option 93: 0 BIOS, 7 UEFI x64, ...
  dhcp::Ipv4Address relay;   // giaddr; 0.0.0.0 for a directly attached client
  absl::Duration timeout = absl::Seconds(2);
  int max_retries = 3;
};

enum class DhcpExchangeResult : uint8_t {
  kRunning,
  kOk,          // ACK received
  kNak,         // the server answered NAK
  kTimeout,     // no OFFER or no ACK after max_retries resends
  kNoBootFile,  // ACK without a boot file name or next server (PXE not served)
};
const char* DhcpExchangeResultName(DhcpExchangeResult result);

// What the ACK gave the client.
struct DhcpLease {
  dhcp::Ipv4Address address;      // yiaddr
  dhcp::Ipv4Address server;       // option 54
  dhcp::Ipv4Address next_server;  // siaddr, else option 66 if an address
  std::string boot_file;          // file field, else option 67
  uint32_t lease_seconds = 0;
};

struct DhcpExchangeStats {
  uint64_t retransmits = 0;  // DISCOVER or REQUEST resent
  uint64_t timeouts = 0;
  uint64_t malformed = 0;  // replies that did not parse
  uint64_t ignored = 0;    // parsed but not for this state (late OFFER)
  absl::Time started;
  absl::Time offered;   // first OFFER accepted
  absl::Time finished;  // ACK, NAK or give-up
};

class DhcpExchange {
 public:
  DhcpExchange(const DhcpExchangeOptions& options, absl::Time now);
  DhcpExchange(DhcpExchange&&) = default;
  DhcpExchange& operator=(DhcpExchange&&) = default;

  uint32_t xid() const { return options_.xid; }
  const std::array<uint8_t, 6>& mac() const { return options_.mac; }

  // A reply (op 2) with this xid. Replies for another chaddr are ignored.
  void OnDatagram(absl::Span<const uint8_t> datagram, absl::Time now);
  void OnDeadline(absl::Time now);

  // The message to send now (at most one), or empty. Valid until the next
  // non-const call.
  absl::Span<const uint8_t> Transmit() const;
  void ClearTransmit();

  absl::Time Deadline() const;  // InfiniteFuture() once finished
  bool finished() const { return result_ != DhcpExchangeResult::kRunning; }
  DhcpExchangeResult result() const { return result_; }
  const DhcpLease& lease() const { return lease_; }
  const DhcpExchangeStats& stats() const { return stats_; }

 private:
  DhcpExchangeOptions options_;
  DhcpExchangeResult result_ = DhcpExchangeResult::kRunning;
  DhcpLease lease_;
  DhcpExchangeStats stats_;
  // The implementation adds what it needs below.

  // Option 97's value for `mac`: type 0, then 16 bytes derived from the MAC.
  static std::array<uint8_t, 17> MachineId(const std::array<uint8_t, 6>& mac);
  // A DISCOVER or REQUEST is about 350 bytes; 548 is what a 576-byte IP
  // datagram carries (RFC 2131 section 2), which every server accepts.
  static constexpr size_t kOutSize = 576 - 28;

  // Writes the DISCOVER or REQUEST into out_ (secs from `now`).
  void Queue(dhcp::DhcpMessageType type, absl::Time now);
  void SetSecs(absl::Time now);
  void Finish(DhcpExchangeResult result, absl::Time now);

  absl::Time deadline_ = absl::InfiniteFuture();
  dhcp::Ipv4Address offered_;  // yiaddr of the OFFER taken
  dhcp::Ipv4Address server_;   // its option 54
  int retries_ = 0;            // resends of the current message
  bool requesting_ = false;    // an OFFER was taken; REQUEST sent
  bool pending_ = true;        // out_ is to be sent
  uint16_t out_size_ = 0;
  std::array<uint8_t, kOutSize> out_{};
};

}  // namespace rackboot::load

#endif  // RACKBOOT_TOOLS_LOAD_DHCP_EXCHANGE_H_
