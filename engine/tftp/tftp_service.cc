#include "engine/tftp/tftp_service.h"

#include <dirent.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/metrics/transfer_metrics.h"
#include "engine/os/descriptor_limit.h"
#include "glog/logging.h"

namespace rackboot {
namespace {

// Descriptors each shard holds besides its transfers: the request socket, the
// reactor's ring or epoll descriptor and its wake eventfd, and the probe
// socket that reads each new client's path MTU (PathBlockSizeLimit).
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
  service->counters_ =
      std::make_unique<TftpCounters>(static_cast<int>(threads));
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
  service->DeclareMetrics(options.metrics, threads);
  LOG(INFO) << "tftp: descriptor limit " << limit << ", " << open_now
            << " open, " << options.descriptor_reserve << " reserved: at most "
            << service->max_transfers_ << " transfers ("
            << shard_options.max_transfers << " per shard), "
            << shard_options.max_unconfirmed * threads << " unconfirmed, "
            << options.max_per_client << " per client address";
  return service;
}

void TftpService::DeclareMetrics(metrics::MetricsRegistry* registry,
                                 size_t shards) {
  if (registry == nullptr) {
    own_metrics_ =
        std::make_unique<metrics::MetricsRegistry>(static_cast<int>(shards));
    registry = own_metrics_.get();
  }
  metrics_ = registry;
  const int n = static_cast<int>(shards);
  const metrics::TransferFamilies transfers =
      metrics::DeclareTransferFamilies(*registry, n);

  metrics::CounterFamily* datagrams = registry->Counter(
      "rackboot_tftp_datagrams_sent_total",
      "TFTP DATA datagrams sent, retransmissions included.", {}, n);
  metrics::CounterFamily* retransmits = registry->Counter(
      "rackboot_tftp_retransmits_total",
      "TFTP DATA datagrams sent again (timeout or duplicate ACK).", {}, n);
  cells_.resize(shards);
  for (int i = 0; i < n; ++i) {
    TftpShardMetrics& m = cells_[i];
    m.active = transfers.active->Cell({"tftp"}, i);
    m.completed = transfers.total->Cell({"tftp", "complete"}, i);
    m.failed = transfers.total->Cell({"tftp", "failed"}, i);
    m.bytes = transfers.bytes->Cell({"tftp"}, i);
    m.datagrams = datagrams->Cell({}, i);
    m.retransmits = retransmits->Cell({}, i);
    m.duration = transfers.duration->Cell({"tftp"}, i);
  }
  // Counted once per request (TftpCounters: each shard its own, summed here;
  // readable any time, also with the metric cells compiled out).
  struct Rare {
    const char* name;
    const char* help;
    uint64_t (TftpCounters::*sum)() const;
  };
  static constexpr Rare kRare[] = {
      {"rackboot_tftp_requests_refused_total",
       "TFTP requests answered with an ERROR before any data (busy included).",
       &TftpCounters::requests_refused},
      {"rackboot_tftp_requests_busy_total",
       "TFTP requests refused with ERROR 0 \"Server busy\" (a cap reached).",
       &TftpCounters::requests_busy},
      {"rackboot_tftp_transfers_evicted_total",
       "Unconfirmed TFTP transfers closed to make room for a new request.",
       &TftpCounters::transfers_evicted},
      {"rackboot_tftp_unknown_tid_total",
       "Datagrams from a stranger to a transfer's port (answered ERROR 5).",
       &TftpCounters::unknown_tid},
      {"rackboot_tftp_malformed_total",
       "Undecodable datagrams on the TFTP request port.",
       &TftpCounters::malformed},
  };
  for (const Rare& rare : kRare) {
    const TftpCounters* counters = counters_.get();
    auto sum = rare.sum;
    collectors_.push_back(registry->AddCollector(
        rare.name, rare.help, metrics::MetricType::kCounter, {},
        [counters, sum](std::vector<metrics::Sample>* out) {
          out->push_back({{}, static_cast<double>((counters->*sum)())});
        }));
  }
}

uint64_t TftpService::bytes_sent() const {
  uint64_t n = 0;
  for (const TftpShardMetrics& m : cells_) n += m.bytes.value();
  return n;
}

uint64_t TftpService::retransmits() const {
  uint64_t n = 0;
  for (const TftpShardMetrics& m : cells_) n += m.retransmits.value();
  return n;
}

TftpService::~TftpService() {
  for (uint64_t id : collectors_) metrics_->RemoveCollector(id);
}

absl::Status TftpService::StartShard(int shard, io::Reactor& reactor) {
  if (shard < 0 || shard >= static_cast<int>(shards_.size())) {
    return absl::InternalError(absl::StrCat(
        "shard ", shard, " beyond the ", shards_.size(), " it was made for"));
  }
  TftpShardOptions options = shard_options_;
  options.transfer_list = shard_options_.transfer_list + shard;
  options.metrics = cells_[shard];
  options.shard = shard;
  // With port 0 the first shard picks the port; the others join it.
  if (shard > 0) options.listen = address_;
  auto tftp_shard =
      std::make_unique<TftpShard>(&reactor, files_, counters_.get(), options);
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
  const TftpCounters& c = *counters_;
  auto get = [](uint64_t v) { return static_cast<int64_t>(v); };
  return {{"completed", get(c.transfers_completed())},
          {"failed", get(c.transfers_failed())},
          {"refused", get(c.requests_refused())},
          {"bytes", static_cast<int64_t>(bytes_sent())},
          {"retransmits", static_cast<int64_t>(retransmits())},
          {"unknown_tid", get(c.unknown_tid())},
          {"busy", get(c.requests_busy())},
          {"evicted", get(c.transfers_evicted())}};
}

}  // namespace rackboot
