// DhcpShard: the DHCP service on its reactor thread: sockets, delivery and
// group commit around the DhcpServer state machine.
//
// The shard owns the server port (67, plus 4011 in proxy mode), both bound to
// the configured interface only.
// For each request it asks the DhcpServer, then delivers the reply as RFC 2131
// section 4.1 says: to a relay, to ciaddr, as a broadcast, or to a client
// without an address by its MAC (an ARP entry is written first, as dnsmasq
// does, so that an ordinary UDP send reaches it). A reply that acknowledges a
// lease waits in a queue until its journal record is on disk; the journal's
// writer thread syncs many records at once and wakes the shard with a
// Reactor::Post(), which then sends every reply whose record is durable
// (architecture principle 4). Its line per OFFER and ACK is formatted here and
// written in batches by a log::LineWriter thread (a glog line each cost about
// a third of the shard's CPU above a bare responder's under perfdhcp).
//
// Owned by the thread that runs its reactor; every member runs there. The
// LeaseTable it writes is read lock-free by other threads.
#ifndef RACKBOOT_ENGINE_DHCP_DHCP_SHARD_H_
#define RACKBOOT_ENGINE_DHCP_DHCP_SHARD_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/dhcp/dhcp_server.h"
#include "engine/dhcp/lease_journal.h"
#include "engine/dhcp/lease_table.h"
#include "engine/io/reactor.h"
#include "engine/log/line_writer.h"
#include "engine/log/log_rate_limiter.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::dhcp {

// The DHCP shard's metric cells (docs/metrics.md), written on its thread
// only; default cells write nothing. Filled by DhcpService.
struct DhcpShardMetrics {
  // rackboot_dhcp_messages_total{type, outcome}: [DhcpTypeIndex][outcome],
  // outcome 0 offer, 1 ack, 2 nak, 3 ignored (no reply).
  static constexpr int kTypes = 6;  // discover request decline release inform
                                    // other
  static constexpr int kOutcomes = 4;
  metrics::CounterCell messages[kTypes][kOutcomes];
  metrics::CounterCell malformed;  // datagrams that did not parse
  // The server's own counters, published after every request (deltas of
  // DhcpServerCounters): pxe install, localboot, unknown; unanswered for no
  // subnet, pool exhausted, not for us, malformed request.
  metrics::CounterCell pxe_install, pxe_localboot, pxe_unknown;
  metrics::CounterCell no_subnet, pool_exhausted, not_for_us, bad_request;
};

// The label values of DhcpShardMetrics::messages.
inline constexpr const char* kDhcpMetricTypes[DhcpShardMetrics::kTypes] = {
    "discover", "request", "decline", "release", "inform", "other"};
inline constexpr const char* kDhcpMetricOutcomes[DhcpShardMetrics::kOutcomes] =
    {"offer", "ack", "nak", "ignored"};

struct DhcpShardOptions {
  std::string
      interface;  // SO_BINDTODEVICE for every socket; required unless testing
  uint16_t server_port = 67;
  uint16_t client_port = 68;
  uint16_t proxy_port = 4011;  // proxy mode only
  // Tests run server and clients on other ports inside a namespace.
  bool write_arp_entries = true;
  // Called on the DHCP thread for every reply sent (the daemon records bring-up
  // phases with it). May be empty.
  std::function<void(const DhcpReply&)> on_reply;
  DhcpShardMetrics metrics;
};

// Counters beyond the server's own.
struct DhcpShardCounters {
  uint64_t malformed = 0;  // datagrams that did not parse as DHCP
  uint64_t replies_sent = 0;
  uint64_t replies_held = 0;    // queued for the journal at some point
  uint64_t arp_failures = 0;    // fell back to broadcast
  uint64_t journal_stalls = 0;  // replies dropped because the journal failed
  uint64_t compactions = 0;
};

// Every lease worth keeping across a restart, for journal compaction: bound,
// released (remembered for the client's return) and declined (quarantined);
// offers are not journaled. REQUIRES: the table's writer thread.
void ForEachLiveLease(const LeaseTable& table,
                      absl::FunctionRef<void(const Lease&)> emit);

class DhcpShard : public io::ReactorHandler {
 public:
  // REQUIRES: every pointer outlives the shard.
  DhcpShard(io::Reactor* reactor, DhcpServer* server, LeaseTable* leases,
            LeaseJournal* journal, const DhcpShardOptions& options);
  ~DhcpShard() override;

  // Binds the sockets and watches the journal. Errors name the port and the
  // interface.
  absl::Status Start();

  void OnDatagram(io::SocketToken token, absl::Span<const uint8_t> bytes,
                  const io::SocketAddress& from, absl::Time now) override;

  const DhcpShardCounters& counters() const { return counters_; }
  size_t held_replies() const { return held_.size(); }

 private:
  struct HeldReply {
    uint64_t seq;
    io::SocketToken via;
    std::vector<uint8_t> bytes;
    io::SocketAddress to;
  };

  absl::StatusOr<io::SocketToken> BindPort(uint16_t port);
  // Where `reply` goes; writes an ARP entry for a client without an address.
  io::SocketAddress Destination(const DhcpReply& reply);
  void SendBytes(io::SocketToken via, absl::Span<const uint8_t> bytes,
                 const io::SocketAddress& to);
  void ReleaseDurable();
  bool WriteArpEntry(Ipv4Address address, const std::array<uint8_t, 6>& mac);

  io::Reactor* const reactor_;
  DhcpServer* const server_;
  LeaseTable* const leases_;
  LeaseJournal* const journal_;
  const DhcpShardOptions options_;
  io::SocketToken server_token_;
  io::SocketToken proxy_token_;
  std::deque<HeldReply> held_;
  std::vector<uint8_t> buffer_;
  DhcpShardCounters counters_;
  // The server's counters as last published to the metric cells.
  DhcpServerCounters published_;
  // Adds what the server counted since the last call to the metric cells.
  void PublishServerCounters();
  bool arp_denied_ = false;  // SIOCSARP failed with EPERM: broadcast
  // Undecodable datagrams: a few lines per 10 s, then "N similar suppressed".
  log::LogRateLimiter malformed_log_;
  std::string reply_line_;  // scratch for the line per reply
  // The line per reply (INFO), written off this thread; destroyed first, so
  // the last lines are written when the shard stops.
  log::LineWriter reply_log_;
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_DHCP_SHARD_H_
