#include "engine/daemon/shard_group.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot::daemon {

ShardGroup::ShardGroup(ShardGroupOptions options)
    : options_(std::move(options)),
      shard_count_(options_.shards > 0
                       ? options_.shards
                       : static_cast<int>(std::max(
                             1u, std::thread::hardware_concurrency()))) {}

ShardGroup::~ShardGroup() { Stop(); }

absl::Status ShardGroup::Start(std::vector<Service*> services) {
  CHECK(shards_.empty()) << "ShardGroup::Start called twice";
  services_ = std::move(services);
  shards_.resize(shard_count_);
  io::IoBackend backend = options_.io;
  for (int i = 0; i < shard_count_; ++i) {
    shards_[i].thread =
        std::thread([this, i, backend] { RunShard(i, backend); });
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&shards_[i].start_done));
      status = shards_[i].start_status;
      if (i == 0 && status.ok()) backend = shards_[0].reactor->backend();
    }
    if (!status.ok()) {
      Stop();
      return absl::Status(status.code(),
                          absl::StrCat(status.message(), " (shard ", i, " of ",
                                       options_.name, ")"));
    }
  }
  backend_ = backend;
  return absl::OkStatus();
}

void ShardGroup::RunShard(int index, io::IoBackend backend) {
  const std::string thread_name =
      absl::StrCat(options_.name, "-", index).substr(0, 15);
  pthread_setname_np(pthread_self(), thread_name.c_str());
  absl::StatusOr<std::unique_ptr<io::Reactor>> reactor =
      io::CreateReactor(backend, options_.reactor);
  if (!reactor.ok()) {
    absl::MutexLock lock(&mu_);
    shards_[index].start_status = reactor.status();
    shards_[index].start_done = true;
    return;
  }
  size_t started = 0;
  absl::Status status;
  for (Service* service : services_) {
    status = service->StartShard(index, **reactor);
    if (!status.ok()) {
      status = absl::Status(
          status.code(), absl::StrCat(service->name(), ": ", status.message()));
      break;
    }
    ++started;
  }
  {
    absl::MutexLock lock(&mu_);
    // A Stop that came before the reactor was published could not reach
    // it; stopping it now makes Run return at once.
    if (stopping_) (*reactor)->Stop();
    shards_[index].reactor = reactor->get();
    shards_[index].start_status = status;
    shards_[index].start_done = true;
  }
  if (status.ok()) {
    absl::Status ran = (*reactor)->Run();
    LOG_IF(ERROR, !ran.ok())
        << options_.name << " " << index << " stopped: " << ran;
  }
  for (size_t k = started; k-- > 0;) {
    services_[k]->StopShard(index, **reactor);
  }
  {
    absl::MutexLock lock(&mu_);
    shards_[index].reactor = nullptr;
  }
  reactor->reset();
}

bool ShardGroup::Post(int shard, std::function<void()> function) {
  absl::MutexLock lock(&mu_);
  if (shard < 0 || static_cast<size_t>(shard) >= shards_.size() ||
      shards_[shard].reactor == nullptr) {
    return false;
  }
  // Under mu_: the shard's thread clears `reactor` under it before
  // destroying the reactor, so the pointer is alive for this call.
  shards_[shard].reactor->Post(std::move(function));
  return true;
}

void ShardGroup::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Shard& shard : shards_) {
      if (shard.reactor != nullptr) shard.reactor->Stop();
    }
  }
  for (Shard& shard : shards_) {
    if (shard.thread.joinable()) shard.thread.join();
  }
}

}  // namespace rackboot::daemon
