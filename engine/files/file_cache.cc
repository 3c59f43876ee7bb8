#include "engine/files/file_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rackboot {

MappedFile::~MappedFile() {
  if (data_ != nullptr && owned_.empty()) {
    munmap(const_cast<uint8_t*>(data_), size_);
  }
  if (descriptors_ != nullptr) {
    // Closed before it is counted free, so the cache never holds more.
    fd_ = UniqueFd();
    descriptors_->fetch_sub(1);
  }
}

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Map(
    OpenedFile file, bool keep_descriptor,
    std::shared_ptr<std::atomic<size_t>> descriptors) {
  const FileIdentity identity = FileIdentity::Of(file.stat);
  const uint64_t size = static_cast<uint64_t>(file.stat.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd.get(), 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      const std::string message =
          absl::StrCat("mmap ", file.relative_path, ": ", std::strerror(err));
      // Out of memory or map count: the server is busy, not the file bad.
      return err == ENOMEM || err == EAGAIN || err == ENFILE
                 ? absl::ResourceExhaustedError(message)
                 : absl::InternalError(message);
    }
    // Transfers read front to back; let the kernel read ahead generously.
    madvise(p, size, MADV_SEQUENTIAL);
    data = static_cast<const uint8_t*>(p);
  }
  auto mapped = std::shared_ptr<MappedFile>(
      new MappedFile(data, size, identity, std::move(file.relative_path),
                     keep_descriptor ? std::move(file.fd) : UniqueFd()));
  if (keep_descriptor) mapped->descriptors_ = std::move(descriptors);
  return std::shared_ptr<const MappedFile>(std::move(mapped));
}

std::shared_ptr<const MappedFile> MappedFile::FromMemory(
    std::string contents, std::string relative_path) {
  auto file = std::shared_ptr<MappedFile>(
      new MappedFile(nullptr, contents.size(), FileIdentity{},
                     std::move(relative_path), UniqueFd()));
  file->owned_ = std::move(contents);
  if (!file->owned_.empty()) {
    file->data_ = reinterpret_cast<const uint8_t*>(file->owned_.data());
  }
  return file;
}

namespace {

// Drops the kept reference of every entry unused for longer than
// `keep_unused`, then, while more than `max_kept` remain kept, of the least
// recently used. `kept` counts the entries with a kept reference. Shared by
// FileCache (keyed by identity) and FileCacheFront (keyed by path).
template <typename Map>
void ReleaseKept(Map& entries, absl::Time now, absl::Duration keep_unused,
                 size_t max_kept, size_t& kept) {
  std::vector<absl::Time> kept_times;
  for (auto& [key, e] : entries) {
    if (e.kept != nullptr && now - e.last_used > keep_unused) {
      e.kept.reset();
      --kept;
    }
    if (e.kept != nullptr) kept_times.push_back(e.last_used);
  }
  if (kept <= max_kept) return;
  // Keep the max_kept most recently used.
  auto nth = kept_times.end() - max_kept;
  std::nth_element(kept_times.begin(), nth, kept_times.end());
  const absl::Time cutoff = max_kept == 0 ? absl::InfiniteFuture() : *nth;
  for (auto& [key, e] : entries) {
    if (kept <= max_kept) break;
    if (e.kept != nullptr && e.last_used <= cutoff) {
      e.kept.reset();
      --kept;
    }
  }
}

// How often the maps are swept of what expired at the latest (also when one
// has doubled since its last sweep, or kept more than kMaxKept).
constexpr absl::Duration kSweepInterval = absl::Seconds(1);

}  // namespace

absl::StatusOr<std::shared_ptr<const MappedFile>> FileCache::Rendered(
    absl::string_view requested, const io::SocketAddress& client) {
  if (rendered_ == nullptr) return nullptr;
  absl::StatusOr<std::string> name = root_.Normalize(requested);
  if (!name.ok()) return name.status();
  absl::optional<std::string> contents = rendered_->Render(*name, client);
  if (!contents.has_value()) return nullptr;
  return MappedFile::FromMemory(*std::move(contents), *std::move(name));
}

absl::StatusOr<std::shared_ptr<const MappedFile>> FileCache::Open(
    absl::string_view requested, const io::SocketAddress& client) {
  absl::StatusOr<std::shared_ptr<const MappedFile>> rendered =
      Rendered(requested, client);
  if (!rendered.ok() || *rendered != nullptr) return rendered;
  absl::StatusOr<OpenedFile> file = root_.OpenFile(requested);
  if (!file.ok()) return file.status();
  return Share(*std::move(file), /*keep=*/keep_unused_ > absl::ZeroDuration());
}

absl::StatusOr<std::shared_ptr<const MappedFile>> FileCache::Share(
    OpenedFile file, bool keep) {
  const FileIdentity identity = FileIdentity::Of(file.stat);
  const absl::Time now = absl::Now();
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = mapped_[identity];
  std::shared_ptr<const MappedFile> mapping = entry.live.lock();
  if (mapping == nullptr) {
    // A descriptor slot, if one is free: past max_descriptors_ the mapping
    // is served without its descriptor.
    bool keep_fd = false;
    if (max_descriptors_ > 0) {
      keep_fd = descriptors_->fetch_add(1) < max_descriptors_;
      if (!keep_fd) descriptors_->fetch_sub(1);
    }
    std::string path = file.relative_path;
    absl::StatusOr<std::shared_ptr<const MappedFile>> mapped = MappedFile::Map(
        std::move(file), keep_fd, keep_fd ? descriptors_ : nullptr);
    if (!mapped.ok()) {
      if (keep_fd) descriptors_->fetch_sub(1);
      if (entry.kept == nullptr) mapped_.erase(identity);
      return mapped.status();
    }
    mapping = *std::move(mapped);
    entry.live = mapping;
    // A new version of a path: stop keeping the old one (running transfers
    // still hold it).
    auto [newest, inserted] = newest_.try_emplace(std::move(path), identity);
    if (!inserted && !(newest->second == identity)) {
      auto old = mapped_.find(newest->second);
      if (old != mapped_.end() && old->second.kept != nullptr) {
        old->second.kept.reset();
        --kept_;
      }
      newest->second = identity;
      replaced_.fetch_add(1, std::memory_order_release);
    }
  }
  entry.last_used = now;
  if (keep && entry.kept == nullptr) {
    entry.kept = mapping;
    ++kept_;
  }
  // Expiry, amortised: a walk at most once per kSweepInterval, when the map
  // has doubled, or when kept mappings pass kMaxKept (then down to 7/8 of
  // it, so the next walk for that reason is kMaxKept/8 keeps away).
  if (now >= next_sweep_ || mapped_.size() >= 2 * swept_size_ + 16 ||
      kept_ > kMaxKept) {
    Sweep(now, kept_ > kMaxKept ? kMaxKept - kMaxKept / 8 : kMaxKept);
  }
  return mapping;
}

void FileCache::Sweep(absl::Time now, size_t max_kept) {
  ReleaseKept(mapped_, now, keep_unused_, max_kept, kept_);
  absl::erase_if(mapped_, [](const auto& e) {
    return e.second.kept == nullptr && e.second.live.expired();
  });
  absl::erase_if(newest_,
                 [this](const auto& e) { return !mapped_.contains(e.second); });
  swept_size_ = mapped_.size();
  next_sweep_ = now + kSweepInterval;
}

bool FileCache::IsNewest(const std::string& path,
                         const FileIdentity& identity) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = newest_.find(path);
  return it == newest_.end() || it->second == identity;
}

size_t FileCache::LiveMappings() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t live = 0;
  for (const auto& [identity, entry] : mapped_) {
    if (!entry.live.expired()) ++live;
  }
  return live;
}

size_t FileCache::KeptMappings() {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_;
}

absl::StatusOr<std::shared_ptr<const MappedFile>> FileCacheFront::Open(
    absl::string_view requested, const io::SocketAddress& client,
    absl::Time now) {
  absl::StatusOr<std::shared_ptr<const MappedFile>> rendered =
      cache_->Rendered(requested, client);
  if (!rendered.ok() || *rendered != nullptr) return rendered;
  absl::StatusOr<OpenedFile> file = cache_->root_.OpenFile(requested);
  if (!file.ok()) return file.status();
  const FileIdentity identity = FileIdentity::Of(file->stat);
  const bool keep = cache_->keep_unused_ > absl::ZeroDuration();
  DropReplaced();
  Entry& entry = by_path_[file->relative_path];
  std::shared_ptr<const MappedFile> mapping;
  if (entry.identity == identity) {
    mapping = entry.kept != nullptr ? entry.kept : entry.live.lock();
  }
  if (mapping != nullptr) {
    ++hits_;
  } else {
    ++misses_;
    // New to this shard, replaced on disk (the old version is no longer kept
    // here; its transfers hold it), or ended: the shared mapping of this
    // version, under the cache's lock.
    const std::string path = file->relative_path;
    absl::StatusOr<std::shared_ptr<const MappedFile>> shared =
        cache_->Share(*std::move(file), /*keep=*/false);
    if (!shared.ok()) {
      if (entry.kept == nullptr && entry.live.expired()) by_path_.erase(path);
      return shared.status();
    }
    auto holder =
        std::make_shared<std::shared_ptr<const MappedFile>>(*std::move(shared));
    mapping = std::shared_ptr<const MappedFile>(holder, holder->get());
    if (entry.kept != nullptr) --kept_;
    entry.kept.reset();
    entry.identity = identity;
    entry.live = mapping;
  }
  entry.last_used = now;
  if (keep && entry.kept == nullptr) {
    entry.kept = mapping;
    ++kept_;
  }
  if (now >= next_sweep_ || by_path_.size() >= 2 * swept_size_ + 16 ||
      kept_ > FileCache::kMaxKept) {
    Sweep(now, kept_ > FileCache::kMaxKept
                   ? FileCache::kMaxKept - FileCache::kMaxKept / 8
                   : FileCache::kMaxKept);
  }
  return mapping;
}

void FileCacheFront::DropReplaced() {
  const uint64_t replaced = cache_->replaced_.load(std::memory_order_acquire);
  if (replaced == seen_replaced_) return;
  seen_replaced_ = replaced;
  for (auto& [path, e] : by_path_) {
    if (e.kept != nullptr && !cache_->IsNewest(path, e.identity)) {
      e.kept.reset();
      --kept_;
    }
  }
}

void FileCacheFront::Maintain(absl::Time now) {
  DropReplaced();
  if (now >= next_sweep_) Sweep(now, FileCache::kMaxKept);
}

void FileCacheFront::Sweep(absl::Time now, size_t max_kept) {
  const absl::Duration keep_unused = cache_->keep_unused_;
  ReleaseKept(by_path_, now, keep_unused, max_kept, kept_);
  absl::erase_if(by_path_, [](const auto& e) {
    return e.second.kept == nullptr && e.second.live.expired();
  });
  swept_size_ = by_path_.size();
  next_sweep_ = now + kSweepInterval;
}

}  // namespace rackboot
