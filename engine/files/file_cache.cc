#include "engine/files/file_cache.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rackboot {

MappedFile::~MappedFile() {
  if (data_ != nullptr && owned_.empty()) {
    munmap(const_cast<uint8_t*>(data_), size_);
  }
}

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Map(
    const OpenedFile& file) {
  const FileIdentity identity = FileIdentity::Of(file.stat);
  const uint64_t size = static_cast<uint64_t>(file.stat.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd.get(), 0);
    if (p == MAP_FAILED) {
      return absl::InternalError(absl::StrCat("mmap ", file.relative_path, ": ",
                                              std::strerror(errno)));
    }
    // Transfers read front to back; let the kernel read ahead generously.
    madvise(p, size, MADV_SEQUENTIAL);
    data = static_cast<const uint8_t*>(p);
  }
  return std::shared_ptr<const MappedFile>(
      new MappedFile(data, size, identity, file.relative_path));
}

std::shared_ptr<const MappedFile> MappedFile::FromMemory(
    std::string contents, std::string relative_path) {
  auto file = std::shared_ptr<MappedFile>(new MappedFile(
      nullptr, contents.size(), FileIdentity{}, std::move(relative_path)));
  file->owned_ = std::move(contents);
  if (!file->owned_.empty()) {
    file->data_ = reinterpret_cast<const uint8_t*>(file->owned_.data());
  }
  return file;
}

absl::StatusOr<std::shared_ptr<const MappedFile>> FileCache::Open(
    absl::string_view requested) {
  if (rendered_ != nullptr) {
    absl::StatusOr<std::string> name = root_.Normalize(requested);
    if (!name.ok()) return name.status();
    absl::optional<std::string> contents = rendered_->Render(*name);
    if (contents.has_value()) {
      return MappedFile::FromMemory(*std::move(contents), *std::move(name));
    }
  }
  absl::StatusOr<OpenedFile> file = root_.OpenFile(requested);
  if (!file.ok()) return file.status();
  const FileIdentity identity = FileIdentity::Of(file->stat);
  absl::MutexLock lock(&mu_);
  auto it = mapped_.find(identity);
  if (it != mapped_.end()) {
    if (std::shared_ptr<const MappedFile> live = it->second.lock()) {
      return live;
    }
  }
  absl::StatusOr<std::shared_ptr<const MappedFile>> mapped =
      MappedFile::Map(*file);
  if (!mapped.ok()) return mapped.status();
  // Drop entries whose transfers have all finished, so the map stays as small
  // as what is live.
  absl::erase_if(mapped_,
                 [](const auto& entry) { return entry.second.expired(); });
  mapped_[identity] = *mapped;
  return mapped;
}

size_t FileCache::LiveMappings() {
  absl::MutexLock lock(&mu_);
  size_t live = 0;
  for (const auto& [identity, weak] : mapped_) {
    if (!weak.expired()) ++live;
  }
  return live;
}

}  // namespace rackboot
