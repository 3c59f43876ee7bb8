// TftpService: the TFTP service of rackbootd, one TftpShard per worker thread.
//
// Each thread owns a reactor, a request socket bound to the same address with
// SO_REUSEPORT (the kernel spreads clients over the shards) and the transfers
// its shard started; nothing on the packet path is shared but the FileCache
// (touched once per transfer) and the counters.
//
//   absl::StatusOr<std::unique_ptr<TftpService>> tftp =
//   TftpService::Start(options);
//   ... (*tftp)->counters() ...
//   (*tftp)->Stop();
//
// Start, Stop and the accessors may be called from any one controlling thread;
// Stop may also be called from another thread while the service runs.
#ifndef RACKBOOT_ENGINE_TFTP_TFTP_SERVICE_H_
#define RACKBOOT_ENGINE_TFTP_TFTP_SERVICE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/files/file_cache.h"
#include "engine/io/reactor.h"
#include "engine/tftp/tftp_admission.h"
#include "engine/tftp/tftp_counters.h"
#include "engine/tftp/tftp_shard.h"

namespace rackboot {

struct TftpServiceOptions {
  std::string root;  // the directory served, read-only
  TftpShardOptions shard;
  int threads = 0;  // 0: one per online CPU
  io::IoBackend io = io::IoBackend::kAuto;
  // Per-host files rendered by the daemon, asked before the disk (may be null;
  // borrowed).
  RenderedFiles* rendered = nullptr;
  // Caps across all shards (each shard gets its share of the first two):
  // transfers at once, further lowered to the descriptor budget; unconfirmed
  // transfers (no valid ACK yet; a new request beyond them evicts the
  // oldest); transfers per client address (0: none).
  size_t max_transfers = 16384;
  size_t max_unconfirmed = 1024;
  size_t max_per_client = 8;
  // Descriptors kept free below RLIMIT_NOFILE for what is not a transfer:
  // host-state files, the lease journal, logs, DHCP sockets, the probe socket
  // of each new transfer.
  size_t descriptor_reserve = 256;
};

class TftpService {
 public:
  // Opens the root, binds every shard's request socket (so a bad address or a
  // busy port fails here, before any thread starts) and starts the threads.
  static absl::StatusOr<std::unique_ptr<TftpService>> Start(
      const TftpServiceOptions& options);
  ~TftpService();  // Stops.

  // Stops every shard and joins its thread; running transfers are dropped.
  // Idempotent.
  void Stop();

  io::SocketAddress address() const { return address_; }
  io::IoBackend backend() const { return backend_; }
  // Transfers the service runs at most (all shards), after the descriptor
  // budget.
  size_t max_transfers() const { return max_transfers_; }
  int threads() const { return static_cast<int>(shards_.size()); }
  TftpCounters& counters() { return counters_; }
  FileCache& files() { return *files_; }

 private:
  struct Shard {
    std::unique_ptr<io::Reactor> reactor;
    std::unique_ptr<TftpShard> shard;
    std::thread thread;
  };

  TftpService() = default;

  TftpCounters counters_;
  std::unique_ptr<TftpClientCounts> clients_;  // outlives the shards
  std::unique_ptr<FileCache> files_;
  std::vector<Shard> shards_;
  io::SocketAddress address_;
  io::IoBackend backend_ = io::IoBackend::kAuto;
  size_t max_transfers_ = 0;
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_TFTP_TFTP_SERVICE_H_
