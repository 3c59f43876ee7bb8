#include "engine/tftp/tftp_service.h"

#include <dirent.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/os/descriptor_limit.h"
#include "glog/logging.h"

namespace rackboot {
namespace {

// Descriptors each shard holds besides its transfers: the request socket, the
// reactor's ring or epoll descriptor and its wake eventfd, and the short-lived
// probe socket (PathBlockSizeLimit) of a transfer being started.
constexpr size_t kDescriptorsPerShard = 4;

// Descriptors open now (the DHCP service, the journal, the logs, ...).
size_t OpenDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 64;  // no /proc: a generous guess
  size_t n = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // not the directory's own descriptor
}

}  // namespace

absl::StatusOr<std::unique_ptr<TftpService>> TftpService::Create(
    const TftpServiceOptions& options, FileCache* files, int shards) {
  const size_t limit = os::RaiseDescriptorLimit();
  const size_t threads = static_cast<size_t>(std::max(1, shards));
  // Transfers fit below the limit with the reserve kept free, whatever the
  // clients do: past this budget they are refused, never the host-state
  // reload or the journal.
  const size_t open_now = OpenDescriptors();
  // Strictly below limit - reserve: the reserve stays whole.
  const size_t fixed = open_now + options.descriptor_reserve +
                       kDescriptorsPerShard * threads + 1;
  if (limit < fixed + threads) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tftp: descriptor limit ", limit, " leaves no room for transfers (",
        open_now, " open, ", options.descriptor_reserve,
        " reserved); raise it (ulimit -n, systemd LimitNOFILE=)"));
  }
  std::unique_ptr<TftpService> service(new TftpService());
  service->files_ = files;
  service->max_transfers_ = std::min(options.max_transfers, limit - fixed);
  service->clients_ =
      std::make_unique<TftpClientCounts>(options.max_per_client);
  service->shards_.resize(threads);
  TftpShardOptions& shard_options = service->shard_options_;
  shard_options = options.shard;
  // SO_REUSEPORT spreads requests evenly by 4-tuple: each shard gets an equal
  // share of the caps; the per-address cap is shared (TftpClientCounts).
  shard_options.max_transfers =
      std::max<size_t>(1, service->max_transfers_ / threads);
  shard_options.max_unconfirmed = std::max<size_t>(
      1, std::min(options.max_unconfirmed, service->max_transfers_) / threads);
  shard_options.client_counts = service->clients_.get();
  if (daemon::EventSink* events = options.events) {
    // Every shard reports each transfer's end; the sink turns it into a
    // bring-up phase (cheap, no I/O: it runs on the shard's thread).
    std::function<void(const TftpTransferReport&)> also =
        options.shard.on_finished;
    shard_options.on_finished = [events,
                                 also](const TftpTransferReport& report) {
      daemon::FileDelivered event;
      event.transport = daemon::Transport::kTftp;
      event.client = report.client;
      event.file = report.file;
      event.complete = report.complete;
      event.bytes = report.bytes;
      event.file_size = report.file_size;
      events->OnFileDelivered(event);
      if (also) also(report);
    };
  }
  LOG(INFO) << "tftp: descriptor limit " << limit << ", " << open_now
            << " open, " << options.descriptor_reserve << " reserved: at most "
            << service->max_transfers_ << " transfers ("
            << shard_options.max_transfers << " per shard), "
            << shard_options.max_unconfirmed * threads << " unconfirmed, "
            << options.max_per_client << " per client address";
  return service;
}

TftpService::~TftpService() = default;

absl::Status TftpService::StartShard(int shard, io::Reactor& reactor) {
  if (shard < 0 || shard >= static_cast<int>(shards_.size())) {
    return absl::InternalError(absl::StrCat(
        "shard ", shard, " beyond the ", shards_.size(), " it was made for"));
  }
  TftpShardOptions options = shard_options_;
  options.transfer_list = shard_options_.transfer_list + shard;
  // With port 0 the first shard picks the port; the others join it.
  if (shard > 0) options.listen = address_;
  auto tftp_shard =
      std::make_unique<TftpShard>(&reactor, files_, &counters_, options);
  if (absl::Status started = tftp_shard->Start(); !started.ok()) {
    return started;
  }
  if (shard == 0) {
    address_ = tftp_shard->local_address();
    LOG(INFO) << "tftp: serving " << files_->root().path() << " on "
              << address_.ToString() << " with " << shards_.size()
              << " shard(s) on " << io::IoBackendName(reactor.backend())
              << ", blksize cap " << options.limits.max_blksize
              << ", windowsize cap " << options.limits.max_windowsize
              << ", timeout cap "
              << absl::FormatDuration(options.limits.max_timeout);
  }
  shards_[shard] = std::move(tftp_shard);
  return absl::OkStatus();
}

void TftpService::StopShard(int shard, io::Reactor& reactor) {
  (void)reactor;
  // The shard unwatches its sockets on its reactor, which is still alive.
  shards_[shard].reset();
}

std::string TftpService::Ready() const {
  return absl::StrCat("TFTP on ", address_.ToString());
}

std::vector<daemon::Metric> TftpService::Metrics() const {
  const TftpCounters& c = counters_;
  auto get = [](const std::atomic<uint64_t>& v) {
    return static_cast<int64_t>(v.load(std::memory_order_relaxed));
  };
  return {{"completed", get(c.transfers_completed)},
          {"failed", get(c.transfers_failed)},
          {"refused", get(c.requests_refused)},
          {"bytes", get(c.bytes_sent)},
          {"retransmits", get(c.retransmits)},
          {"unknown_tid", get(c.unknown_tid)},
          {"busy", get(c.requests_busy)},
          {"evicted", get(c.transfers_evicted)}};
}

}  // namespace rackboot
