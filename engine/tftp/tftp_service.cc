#include "engine/tftp/tftp_service.h"

#include <sys/resource.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot {
namespace {

// Every transfer holds a socket: 10,000 transfers need more than the usual soft
// limit of 1,024 descriptors. The hard limit is the administrator's bound; take
// all of it.
void RaiseDescriptorLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  LOG(INFO) << "tftp: up to " << limit.rlim_cur << " open descriptors";
}

}  // namespace

absl::StatusOr<std::unique_ptr<TftpService>> TftpService::Start(
    const TftpServiceOptions& options) {
  absl::StatusOr<FileRoot> root = FileRoot::Open(options.root);
  if (!root.ok()) {
    return absl::Status(root.status().code(),
                        absl::StrCat("--tftp_root: ", root.status().message()));
  }
  RaiseDescriptorLimit();
  std::unique_ptr<TftpService> service(new TftpService());
  service->files_ =
      std::make_unique<FileCache>(*std::move(root), options.rendered);
  int threads = options.threads > 0
                    ? options.threads
                    : std::max(1u, std::thread::hardware_concurrency());
  TftpShardOptions shard_options = options.shard;
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
            << ", windowsize cap " << options.shard.limits.max_windowsize;
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
