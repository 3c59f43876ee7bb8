#include "engine/files/file_cache.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

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

absl::StatusOr<std::shared_ptr<const MappedFile>> FileCache::Open(
    absl::string_view requested, const io::SocketAddress& client) {
  if (rendered_ != nullptr) {
    absl::StatusOr<std::string> name = root_.Normalize(requested);
    if (!name.ok()) return name.status();
    absl::optional<std::string> contents = rendered_->Render(*name, client);
    if (contents.has_value()) {
      return MappedFile::FromMemory(*std::move(contents), *std::move(name));
    }
  }
  absl::StatusOr<OpenedFile> file = root_.OpenFile(requested);
  if (!file.ok()) return file.status();
  const FileIdentity identity = FileIdentity::Of(file->stat);
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  Entry& entry = mapped_[identity];
  std::shared_ptr<const MappedFile> mapping = entry.live.lock();
  if (mapping == nullptr) {
    // A descriptor slot, if one is free: past max_descriptors_ the mapping
    // is served without its descriptor.
    bool keep = false;
    if (max_descriptors_ > 0) {
      keep = descriptors_->fetch_add(1) < max_descriptors_;
      if (!keep) descriptors_->fetch_sub(1);
    }
    absl::StatusOr<std::shared_ptr<const MappedFile>> mapped =
        MappedFile::Map(*std::move(file), keep, keep ? descriptors_ : nullptr);
    if (!mapped.ok()) {
      if (keep) descriptors_->fetch_sub(1);
      mapped_.erase(identity);
      return mapped.status();
    }
    mapping = *std::move(mapped);
    entry.live = mapping;
    // A new version of a path: stop keeping the old one (running transfers
    // still hold it).
    for (auto& [id, e] : mapped_) {
      if (e.kept != nullptr && !(id == identity) &&
          e.kept->relative_path() == mapping->relative_path()) {
        e.kept.reset();
      }
    }
  }
  entry.last_used = now;
  if (keep_unused_ > absl::ZeroDuration()) entry.kept = mapping;
  // Forget what no transfer holds and was not used lately (a replaced file's
  // old version ends here), and bound what is kept.
  size_t kept = 0;
  for (auto& [id, e] : mapped_) {
    if (e.kept != nullptr &&
        (now - e.last_used > keep_unused_ || ++kept > kMaxKept)) {
      e.kept.reset();
    }
  }
  absl::erase_if(mapped_, [](const auto& e) {
    return e.second.kept == nullptr && e.second.live.expired();
  });
  return mapping;
}

size_t FileCache::LiveMappings() {
  absl::MutexLock lock(&mu_);
  size_t live = 0;
  for (const auto& [identity, entry] : mapped_) {
    if (!entry.live.expired()) ++live;
  }
  return live;
}

}  // namespace rackboot
