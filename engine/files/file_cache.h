// FileCache: maps each served file once and shares the mapping among every
// transfer of it.
//
// A transfer holds a std::shared_ptr<const MappedFile> for its whole life; DATA
// datagrams are slices of MappedFile::bytes() handed to the kernel by
// scatter-gather, so file data is never copied in user space (the kernel
// copies it into socket buffers, unless the send is zero-copy). The cache keys
// mappings by the file's identity (device, inode, size, modification time),
// looked up anew on every open: a file replaced on disk (a new inode, as `mv`,
// `cp` into a temporary and rename, or a package manager leave it) is served
// new to new transfers while running transfers finish on the mapping they
// started with. A file rewritten in place keeps its inode, and its pages change
// under running transfers as they would under any server; replace boot files by
// rename.
//
// The cache holds only weak references: a mapping lives as long as some
// transfer uses it. Thread-safe: every shard calls Open concurrently (once per
// transfer, not per datagram).
#ifndef RACKBOOT_ENGINE_FILES_FILE_CACHE_H_
#define RACKBOOT_ENGINE_FILES_FILE_CACHE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "engine/files/file_root.h"
#include "engine/io/socket_address.h"

namespace rackboot {

// Identifies one version of one file.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;

  static FileIdentity Of(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size,
            int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
  }

  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const FileIdentity& id) {
    return H::combine(std::move(h), id.device, id.inode, id.size, id.mtime_ns);
  }
};

// A read-only private mapping of a whole file, and the read-only descriptor it
// was mapped from. Immutable; any thread may read it.
//
// A FileCache with max_descriptors > 0 keeps the descriptor open for the
// mapping's life so that a stream sender (HTTP) can hand file ranges to the
// kernel by sendfile/splice without a CPU copy. The cost is one descriptor
// per distinct file version mapped, not one per transfer (transfers of the
// same version share the MappedFile), and never more than max_descriptors:
// past it a mapping is made without its descriptor (fd() == -1) and served
// from the mapping. Whoever budgets descriptors (TFTP's admission) must count
// max_descriptors. A cache with max_descriptors == 0 (the default, and
// TFTP's) closes each descriptor once mapped.
class MappedFile {
 public:
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The file's contents; valid as long as this object lives.
  absl::Span<const uint8_t> bytes() const { return {data_, size_}; }
  uint64_t size() const { return size_; }
  const FileIdentity& identity() const { return identity_; }
  const std::string& relative_path() const { return relative_path_; }
  // The read-only descriptor of the file on disk, for sendfile/splice; -1 for
  // a file rendered in memory or mapped without keeping it (then send from
  // bytes()). Owned by this object: do not close it.
  int fd() const { return fd_.get(); }

  // Maps `file` (which may be empty), keeping its descriptor if
  // `keep_descriptor`.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Map(
      OpenedFile file, bool keep_descriptor = true) {
    return Map(std::move(file), keep_descriptor, nullptr);
  }

  // A file rendered in memory (a per-host boot configuration), served exactly
  // like a mapped one. Its identity is zero: it is never shared through the
  // cache.
  static std::shared_ptr<const MappedFile> FromMemory(
      std::string contents, std::string relative_path);

 private:
  friend class FileCache;
  // `descriptors` (may be null) counts the kept descriptor until this
  // mapping ends.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Map(
      OpenedFile file, bool keep_descriptor,
      std::shared_ptr<std::atomic<size_t>> descriptors);

  MappedFile(const uint8_t* data, uint64_t size, FileIdentity identity,
             std::string relative_path, UniqueFd fd)
      : data_(data),
        size_(size),
        identity_(identity),
        relative_path_(std::move(relative_path)),
        fd_(std::move(fd)) {}

  const uint8_t* data_;  // nullptr when size_ == 0
  std::string
      owned_;  // the contents of a rendered file (then data_ points here)
  uint64_t size_;
  FileIdentity identity_;
  std::string relative_path_;
  UniqueFd fd_;                                       // -1 for a rendered file
  std::shared_ptr<std::atomic<size_t>> descriptors_;  // the cache's count
};

// Files that exist only as the daemon renders them (pxelinux.cfg/01-<mac> from
// the inventory and the host's state). Asked first, for every request, with the
// normalized name and the requesting client's address (per-host files are only
// for their host); nullopt means "not mine", and the name is looked up on disk.
// Must be thread-safe: every shard asks it.
class RenderedFiles {
 public:
  virtual ~RenderedFiles() = default;
  virtual absl::optional<std::string> Render(
      absl::string_view relative_path, const io::SocketAddress& client) = 0;
};

class FileCache {
 public:
  // Mappings no transfer holds stay mapped this long after their last use, so
  // that a boot file fetched by one host after another is mapped (and its page
  // tables filled) once, not once per download; at most kMaxKept of them.
  // Profiled before this: mmap, page faults and munmap were about 18% of a
  // single download's CPU.
  static constexpr absl::Duration kDefaultKeepUnused = absl::Minutes(5);
  static constexpr size_t kMaxKept = 256;

  // `rendered` (may be null) is borrowed and must outlive the cache.
  // `max_descriptors`: up to this many mappings keep their descriptor
  // (fd() >= 0) for senders that use sendfile/splice (see MappedFile); HTTP's
  // caches want it (e.g. kDefaultMaxDescriptors), TFTP, which sends from the
  // mapping, does not (0).
  static constexpr size_t kDefaultMaxDescriptors = 256;
  explicit FileCache(FileRoot root, RenderedFiles* rendered = nullptr,
                     absl::Duration keep_unused = kDefaultKeepUnused,
                     size_t max_descriptors = 0)
      : root_(std::move(root)),
        rendered_(rendered),
        keep_unused_(keep_unused),
        max_descriptors_(max_descriptors) {}

  // A rendered file if the RenderedFiles source has one by that name for
  // `client` (the address the request came from; the default, 0.0.0.0:0, is
  // nobody's, so per-host files are refused); otherwise opens `requested`
  // beneath the root (FileRoot::OpenFile's errors) and returns the shared
  // mapping of its current version, mapping it if no transfer holds it and it
  // was not kept.
  absl::StatusOr<std::shared_ptr<const MappedFile>> Open(
      absl::string_view requested,
      const io::SocketAddress& client = io::SocketAddress());

  const FileRoot& root() const { return root_; }

  // Mappings currently alive (held by a transfer or kept).
  size_t LiveMappings();
  // Descriptors mappings keep open now (at most max_descriptors()).
  size_t OpenDescriptors() const { return descriptors_->load(); }
  size_t max_descriptors() const { return max_descriptors_; }

 private:
  struct Entry {
    std::weak_ptr<const MappedFile> live;
    std::shared_ptr<const MappedFile>
        kept;  // released keep_unused_ after last_used
    absl::Time last_used;
  };

  const FileRoot root_;
  RenderedFiles* const rendered_;
  const absl::Duration keep_unused_;
  const size_t max_descriptors_;
  // Shared with the mappings, which may outlive the cache.
  const std::shared_ptr<std::atomic<size_t>> descriptors_ =
      std::make_shared<std::atomic<size_t>>(0);
  absl::Mutex mu_;
  absl::flat_hash_map<FileIdentity, Entry> mapped_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_FILES_FILE_CACHE_H_
