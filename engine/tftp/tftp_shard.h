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
// Owned by the thread that runs its reactor; every member runs on that thread.
// The FileCache and TftpCounters are shared with the other shards and outlive
// them.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_SHARD_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_SHARD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/files/file_cache.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/tftp/tftp_counters.h"
#include "engine/tftp/tftp_session.h"

namespace rackboot {

// A finished transfer, as reported to TftpShardOptions::on_finished.
struct TftpTransferReport {
  io::SocketAddress client;
  std::string file;  // relative to the root
  bool complete = false;
  uint64_t bytes = 0;
};

struct TftpShardOptions {
  io::SocketAddress listen = io::SocketAddress::Ipv4Any(69);
  std::string
      bind_to_device;  // SO_BINDTODEVICE for every socket; empty: any interface
  TftpLimits limits;
  // Send each window as one UDP GSO sendmsg (see docs/benchmarks.md for the
  // measurement).
  bool gso = true;
  // Transfers one shard runs at once; requests beyond it get ERROR 0 "server
  // busy".
  size_t max_transfers = 16384;
  // Called on the shard's thread after each transfer ends (the daemon records
  // bring-up phases with it); must be thread-safe, since every shard calls it.
  // May be empty.
  std::function<void(const TftpTransferReport&)> on_finished;
};

class TftpShard : public io::ReactorHandler {
 public:
  // REQUIRES: reactor, files and counters outlive the shard.
  TftpShard(io::Reactor* reactor, FileCache* files, TftpCounters* counters,
            const TftpShardOptions& options);
  ~TftpShard() override;

  // Binds the request socket and starts serving.
  absl::Status Start();

  // The request socket's address (its port when the options asked for port 0).
  io::SocketAddress local_address() const { return local_address_; }
  size_t active_transfers() const { return transfers_.size(); }

  void OnDatagram(io::SocketToken token, absl::Span<const uint8_t> bytes,
                  const io::SocketAddress& from, absl::Time now) override;
  void OnDeadline(io::SocketToken token, absl::Time now) override;

 private:
  struct Transfer {
    io::SocketAddress client;
    // Shared with the reactor while a send is in flight: its windows borrow the
    // session's file mapping (or netascii copy) without copying.
    std::shared_ptr<TftpSession> session;
    TftpTransferStats
        reported;  // what has been added to the shared counters so far
  };

  void OnRequest(absl::Span<const uint8_t> bytes, const io::SocketAddress& from,
                 absl::Time now);
  void Refuse(const io::SocketAddress& client, uint16_t code,
              absl::string_view message, absl::string_view why);
  // Sends what the session queued, re-arms its deadline, and ends it when it
  // has finished.
  void Flush(io::SocketToken token, Transfer& transfer, absl::Time now);
  void Finish(io::SocketToken token, Transfer& transfer, absl::Time now);
  // The largest blksize the path to `client` carries (IP_MTU minus IP, UDP and
  // TFTP headers).
  static uint16_t PathBlockSizeLimit(const io::SocketAddress& client);

  io::Reactor* const reactor_;
  FileCache* const files_;
  TftpCounters* const counters_;
  const TftpShardOptions options_;
  io::SocketToken listen_token_;
  io::SocketAddress local_address_;
  absl::flat_hash_map<io::SocketToken, Transfer> transfers_;
  // Clients with a transfer running: a retransmitted RRQ must not start a
  // second one.
  absl::flat_hash_map<io::SocketAddress, io::SocketToken> by_client_;
  std::vector<io::OutDatagram> out_;  // reused for every send
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_SHARD_H_
