// TftpShard: the TFTP service on one reactor thread.
//
// A shard owns a request socket (the service's port with SO_REUSEPORT, so the
// kernel spreads requests over shards) and one socket per transfer: RFC 1350
// section 4 has the server answer from a fresh port, its transfer ID. The
// sockets are not connected, so a datagram from any other address reaches the
// shard and is answered with ERROR 5 while the transfer goes on. Each transfer
// is a TftpSession (no I/O); the shard moves its datagrams between the reactor
// and the session and logs one line per finished transfer.
//
// Admission, like a SYN backlog: a transfer whose client has not sent a valid
// ACK yet is "unconfirmed" (the address may be spoofed or silent). A new
// request is refused with ERROR 0 "Server busy" when its address already runs
// TftpClientCounts' maximum; otherwise, when the shard's unconfirmed budget or
// its transfer cap is full, the oldest unconfirmed transfer is evicted (its
// client sent ERROR 0) and the new transfer takes over its socket. Confirmed
// transfers are never evicted; when only they fill the shard, new requests
// get busy. The cap counts the reactor's open sockets, those unwatched but
// not yet closed included, so the descriptor budget holds at every instant.
// A flood of requests from many addresses therefore recycles the unconfirmed
// budget, and a real client, which ACKs within milliseconds, gets through.
//
// Owned by the thread that runs its reactor; every member runs on that thread.
// The FileCache and TftpCounters are shared with the other shards and outlive
// them; the shard opens files through a FileCacheFront of its own (no lock on
// a hit) and writes only its own TftpShardCounts. The request path, syscall by
// syscall, is in docs/architecture.md ("The TFTP request path").
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_SHARD_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_SHARD_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/daemon/transfer_table.h"
#include "engine/files/file_cache.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/log/log_rate_limiter.h"
#include "engine/metrics/metrics_registry.h"
#include "engine/tftp/tftp_admission.h"
#include "engine/tftp/tftp_counters.h"
#include "engine/tftp/tftp_session.h"

namespace rackboot {

// A finished transfer, as reported to TftpShardOptions::on_finished.
struct TftpTransferReport {
  io::SocketAddress client;
  std::string file;  // relative to the root
  bool complete = false;
  uint64_t bytes = 0;       // acknowledged by the client (all once complete)
  uint64_t bytes_sent = 0;  // DATA payload sent, retransmissions included
  uint64_t file_size = 0;   // on the wire (netascii expands)
};

// One shard's cells of the TFTP metrics (docs/metrics.md), written only on
// that shard's thread; default cells write nothing.
struct TftpShardMetrics {
  metrics::GaugeCell active;         // rackboot_transfers_active{tftp}
  metrics::CounterCell completed;    // rackboot_transfers_total{complete}
  metrics::CounterCell failed;       // rackboot_transfers_total{failed}
  metrics::CounterCell bytes;        // DATA payload, retransmits included
  metrics::CounterCell datagrams;    // DATA datagrams sent
  metrics::CounterCell retransmits;  // DATA datagrams sent again
  metrics::HistogramCell duration;   // seconds, request to end
};

struct TftpShardOptions {
  io::SocketAddress listen = io::SocketAddress::Ipv4Any(69);
  std::string
      bind_to_device;  // SO_BINDTODEVICE for every socket; empty: any interface
  TftpLimits limits;
  // Send each window as one UDP GSO sendmsg (see docs/benchmarks.md for the
  // measurement).
  bool gso = true;
  // Send windows by zero copy (io::SendOptions::zero_copy: io_uring
  // SENDMSG_ZC, at most 7 datagrams per sendmsg; epoll copies). Off: copying
  // whole GSO windows measured cheaper (docs/benchmarks.md, "Send path").
  bool zero_copy = false;
  // Transfers one shard runs at once (its share of the service's descriptor
  // budget); unconfirmed ones beyond it are evicted, then requests get
  // ERROR 0 "Server busy".
  size_t max_transfers = 16384;
  // Unconfirmed transfers one shard keeps; a request beyond it evicts the
  // oldest. At least 1.
  size_t max_unconfirmed = 512;
  // Transfers per client address across the service (borrowed, thread-safe,
  // outlives the shard); null: no cap.
  TftpClientCounts* client_counts = nullptr;
  // Called on the shard's thread after each transfer ends (the daemon records
  // bring-up phases with it); must be thread-safe, since every shard calls it.
  // May be empty.
  std::function<void(const TftpTransferReport&)> on_finished;
  // Transfers in progress for the API (borrowed, outlives the shard; null:
  // none), and this shard's list in it (TftpService sets it per shard).
  daemon::TransferTable* transfers = nullptr;
  int transfer_list = 0;
  // This shard's metric cells (TftpService fills them per shard).
  TftpShardMetrics metrics;
  // This shard's counts in the TftpCounters (0 <= shard < its shards()).
  int shard = 0;
};

class TftpShard : public io::ReactorHandler {
 public:
  // REQUIRES: reactor, files and counters outlive the shard;
  // options.shard < counters->shards().
  TftpShard(io::Reactor* reactor, FileCache* files, TftpCounters* counters,
            const TftpShardOptions& options);
  ~TftpShard() override;

  // Binds the request socket and starts serving.
  absl::Status Start();

  // The request socket's address (its port when the options asked for port 0).
  io::SocketAddress local_address() const { return local_address_; }
  size_t active_transfers() const { return transfers_.size(); }
  size_t unconfirmed_transfers() const { return unconfirmed_.size(); }

  void OnDatagram(io::SocketToken token, absl::Span<const uint8_t> bytes,
                  const io::SocketAddress& from, absl::Time now) override;
  void OnDeadline(io::SocketToken token, absl::Time now) override;

 private:
  struct Transfer {
    io::SocketAddress client;
    // Shared with the reactor while a send is in flight: its windows borrow the
    // session's file mapping (or netascii copy) without a user-space copy.
    std::shared_ptr<TftpSession> session;
    TftpTransferStats
        reported;  // what has been added to the metric cells so far
    // Its place in unconfirmed_ while no valid ACK came (`listed`).
    std::list<io::SocketToken>::iterator unconfirmed;
    bool listed = false;
    // Its entry in options_.transfers (null: none): progress is one relaxed
    // store per Flush.
    daemon::TransferTable::Slot* slot = nullptr;
  };

  void OnRequest(absl::Span<const uint8_t> bytes, const io::SocketAddress& from,
                 absl::Time now);
  // Starts a transfer for an RRQ whose client's count is already taken;
  // false (the caller releases it) when refused.
  bool StartTransfer(const TftpRequest& request, const io::SocketAddress& from,
                     absl::Time now);
  // ERROR to `client` from the request port, and a rate-limited log line.
  void Refuse(const io::SocketAddress& client, uint16_t code,
              absl::string_view message, absl::string_view why, absl::Time now);
  void Busy(const io::SocketAddress& client, absl::string_view why,
            absl::Time now);
  // Ends the oldest unconfirmed transfer to make room; returns its socket's
  // token, still watched, for the new transfer.
  io::SocketToken EvictOldestUnconfirmed(absl::Time now);
  // Forgets a transfer: maps, counts, and its socket unless `keep_socket`.
  // `token` must be in transfers_.
  void Drop(io::SocketToken token, bool keep_socket = false);
  // Sends what the session queued, re-arms its deadline, and ends it when it
  // has finished.
  void Flush(io::SocketToken token, Transfer& transfer, absl::Time now);
  void Finish(io::SocketToken token, Transfer& transfer, absl::Time now);
  // The largest blksize the path to `client` carries (IP_MTU minus IP, UDP and
  // TFTP headers), asked of probe_fd_.
  uint16_t PathBlockSizeLimit(const io::SocketAddress& client);

  io::Reactor* const reactor_;
  FileCacheFront files_;
  TftpShardCounts* const counters_;
  const TftpShardOptions options_;
  io::SocketToken listen_token_;
  io::SocketAddress local_address_;
  absl::flat_hash_map<io::SocketToken, Transfer> transfers_;
  // Clients with a transfer running: a retransmitted RRQ must not start a
  // second one.
  absl::flat_hash_map<io::SocketAddress, io::SocketToken> by_client_;
  // Unconfirmed transfers, oldest first (requests arrive in time order).
  std::list<io::SocketToken> unconfirmed_;
  std::vector<io::OutDatagram> out_;  // reused for every send
  // IP_MTU is only known on a connected socket and the transfer's socket must
  // stay unconnected, so a probe socket is connected to each new client and
  // asked. Kept for the shard's life (opened on first use): two system calls
  // per request instead of four. Counted in the service's descriptor budget.
  UniqueFd probe_fd_;
  // Once a second: files_.Maintain (replaced and unused mappings released
  // even while no request comes).
  io::TimerId maintain_timer_;
  void Maintain(absl::Time now);
  // Lines a flood can repeat: 10 of each kind per 10 s, then a count.
  log::LogRateLimiter refused_log_;
  log::LogRateLimiter ignored_log_;
  log::LogRateLimiter unconfirmed_log_;  // evictions, unconfirmed failures
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_SHARD_H_
