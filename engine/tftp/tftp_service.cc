#include "engine/tftp/tftp_service.h"

#include <dirent.h>
#include <sys/resource.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot {
namespace {

// Descriptors each shard holds besides its transfers: the request socket, the
// reactor's ring or epoll descriptor and its wake eventfd, and the short-lived
// probe socket (PathBlockSizeLimit) of a transfer being started.
constexpr size_t kDescriptorsPerShard = 4;

// Every transfer holds a socket: 10,000 transfers need more than the usual soft
// limit of 1,024 descriptors. The hard limit is the administrator's bound; take
// all of it. Returns the soft limit in force.
size_t RaiseDescriptorLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    struct rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return size_t{1} << 20;
  return static_cast<size_t>(limit.rlim_cur);
}

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

absl::StatusOr<std::unique_ptr<TftpService>> TftpService::Start(
    const TftpServiceOptions& options) {
  absl::StatusOr<FileRoot> root = FileRoot::Open(options.root);
  if (!root.ok()) {
    return absl::Status(root.status().code(),
                        absl::StrCat("--tftp_root: ", root.status().message()));
  }
  const size_t limit = RaiseDescriptorLimit();
  int threads = options.threads > 0
                    ? options.threads
                    : std::max(1u, std::thread::hardware_concurrency());
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
  service->max_transfers_ = std::min(options.max_transfers, limit - fixed);
  service->clients_ =
      std::make_unique<TftpClientCounts>(options.max_per_client);
  service->files_ =
      std::make_unique<FileCache>(*std::move(root), options.rendered);
  TftpShardOptions shard_options = options.shard;
  // SO_REUSEPORT spreads requests evenly by 4-tuple: each shard gets an equal
  // share of the caps; the per-address cap is shared (TftpClientCounts).
  shard_options.max_transfers =
      std::max<size_t>(1, service->max_transfers_ / threads);
  shard_options.max_unconfirmed = std::max<size_t>(
      1, std::min(options.max_unconfirmed, service->max_transfers_) / threads);
  shard_options.client_counts = service->clients_.get();
  LOG(INFO) << "tftp: descriptor limit " << limit << ", " << open_now
            << " open, " << options.descriptor_reserve << " reserved: at most "
            << service->max_transfers_ << " transfers ("
            << shard_options.max_transfers << " per shard), "
            << shard_options.max_unconfirmed * threads << " unconfirmed, "
            << options.max_per_client << " per client address";
  io::IoBackend backend = options.io;
  for (int i = 0; i < threads; ++i) {
    absl::StatusOr<std::unique_ptr<io::Reactor>> reactor =
        io::CreateReactor(backend);
    if (!reactor.ok()) return reactor.status();
    Shard shard;
    shard.reactor = *std::move(reactor);
    shard.shard =
        std::make_unique<TftpShard>(shard.reactor.get(), service->files_.get(),
                                    &service->counters_, shard_options);
    absl::Status started = shard.shard->Start();
    if (!started.ok()) {
      return absl::Status(started.code(),
                          absl::StrCat("tftp: ", started.message()));
    }
    if (i == 0) {
      // With port 0 the first shard picks the port; the others join it.
      service->address_ = shard.shard->local_address();
      service->backend_ = shard.reactor->backend();
      shard_options.listen = service->address_;
      // The first shard found out what the kernel allows (and said so once);
      // the others take the same backend without asking again.
      backend = service->backend_;
    }
    service->shards_.push_back(std::move(shard));
  }
  for (Shard& shard : service->shards_) {
    io::Reactor* reactor = shard.reactor.get();
    shard.thread = std::thread([reactor] {
      absl::Status status = reactor->Run();
      LOG_IF(ERROR, !status.ok()) << "tftp shard stopped: " << status;
    });
  }
  LOG(INFO) << "tftp: serving " << service->files_->root().path() << " on "
            << service->address_.ToString() << " with " << threads
            << " shard(s) on " << io::IoBackendName(service->backend_)
            << ", blksize cap " << options.shard.limits.max_blksize
            << ", windowsize cap " << options.shard.limits.max_windowsize
            << ", timeout cap "
            << absl::FormatDuration(options.shard.limits.max_timeout);
  return service;
}

TftpService::~TftpService() { Stop(); }

void TftpService::Stop() {
  for (Shard& shard : shards_) shard.reactor->Stop();
  for (Shard& shard : shards_) {
    if (shard.thread.joinable()) shard.thread.join();
  }
  // The shards unwatch their sockets on their reactors, so they go first.
  for (Shard& shard : shards_) shard.shard.reset();
}

}  // namespace rackboot
