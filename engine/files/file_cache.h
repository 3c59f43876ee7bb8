// FileCache: maps each served file once and shares the mapping among every
// transfer of it; FileCacheFront: one shard's lock-free view of it.
//
// A transfer holds a std::shared_ptr<const MappedFile> for its whole life; DATA
// datagrams are slices of MappedFile::bytes() handed to the kernel by
// scatter-gather, so file data is never copied in user space (the kernel
// copies it into socket buffers, unless the send is zero-copy). The cache keys
// mappings by the file's identity (device, inode, size, modification time),
// looked up anew on every open (openat2 + fstat): a file replaced on disk (a
// new inode, as `mv`, `cp` into a temporary and rename, or a package manager
// leave it) is served new to new transfers while running transfers finish on
// the mapping they started with. A file rewritten in place keeps its inode,
// and its pages change under running transfers as they would under any
// server; replace boot files by rename.
//
// Two ways in:
//   - FileCache::Open, thread-safe: the identity's entry in one map under one
//     mutex (the HTTP shards, tools, tests). Each call holds the mutex for a
//     hash lookup, never a walk: expired entries are swept at most once a
//     second or when the map has doubled, kept ones when they pass kMaxKept.
//   - FileCacheFront::Open, one per shard thread (TFTP): the same openat2 +
//     fstat, then the front's own map by path, which no other thread touches.
//     A hit (the file at that path still has the identity the front last saw)
//     takes no lock and writes no memory another shard reads: the transfer's
//     reference is counted in a control block of the front's own. Only a miss
//     (a file new to this shard, a replaced one, a mapping that ended) goes to
//     the FileCache, so a file version is still mapped once for all shards.
//
// Mappings no transfer holds are kept for keep_unused after their last use (by
// the FileCache for its own callers, by each front for its shard), at most
// kMaxKept each.
#ifndef RACKBOOT_ENGINE_FILES_FILE_CACHE_H_
#define RACKBOOT_ENGINE_FILES_FILE_CACHE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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
  friend class FileCacheFront;
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
  // was not kept. Any thread.
  absl::StatusOr<std::shared_ptr<const MappedFile>> Open(
      absl::string_view requested,
      const io::SocketAddress& client = io::SocketAddress());

  const FileRoot& root() const { return root_; }
  absl::Duration keep_unused() const { return keep_unused_; }

  // Mappings currently alive (held by a transfer or kept, here or by a
  // front).
  size_t LiveMappings();
  // Mappings this cache keeps for its own Open callers (fronts keep their
  // own); at most kMaxKept.
  size_t KeptMappings();
  // Descriptors mappings keep open now (at most max_descriptors()).
  size_t OpenDescriptors() const { return descriptors_->load(); }
  size_t max_descriptors() const { return max_descriptors_; }

 private:
  friend class FileCacheFront;
  struct Entry {
    std::weak_ptr<const MappedFile> live;
    std::shared_ptr<const MappedFile>
        kept;  // released keep_unused_ after last_used
    absl::Time last_used;
  };

  // The rendered file for `requested` if the source has one; nullptr when it
  // is not rendered (then it is on disk).
  absl::StatusOr<std::shared_ptr<const MappedFile>> Rendered(
      absl::string_view requested, const io::SocketAddress& client);
  // The shared mapping of `file`'s version: the live one, else a new one.
  // `keep`: this cache keeps it after its last use (its own callers; a
  // front keeps what it uses itself).
  absl::StatusOr<std::shared_ptr<const MappedFile>> Share(OpenedFile file,
                                                          bool keep);
  // Releases kept mappings unused for keep_unused_, then the oldest ones
  // beyond `max_kept`, and forgets entries nothing holds. Called with mu_
  // held.
  void Sweep(absl::Time now, size_t max_kept);
  // False when a newer version of `path` than `identity` has been mapped.
  bool IsNewest(const std::string& path, const FileIdentity& identity);

  const FileRoot root_;
  RenderedFiles* const rendered_;
  const absl::Duration keep_unused_;
  const size_t max_descriptors_;
  // Shared with the mappings, which may outlive the cache.
  const std::shared_ptr<std::atomic<size_t>> descriptors_ =
      std::make_shared<std::atomic<size_t>>(0);
  // A std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which then could not see this lock (--config=tsan).
  // On a line of its own (and so what follows): fronts read the members
  // above on every open, this part is written under the lock.
  // Everything below up to replaced_ is guarded by mu_. Not annotated with
  // ABSL_GUARDED_BY: libstdc++'s std::mutex carries no capability attribute,
  // and clang's -Wthread-safety-attributes (the fuzz build) rejects it.
  alignas(64) std::mutex mu_;
  absl::flat_hash_map<FileIdentity, Entry> mapped_;
  // Each path's newest version mapped: a new one ends keeping the old.
  absl::flat_hash_map<std::string, FileIdentity> newest_;
  size_t kept_ = 0;
  absl::Time next_sweep_ = absl::InfinitePast();
  size_t swept_size_ = 0;  // mapped_.size() after it
  // Counts new versions of known paths: a front that sees it change drops
  // the old versions it keeps. Written under mu_ (rarely: a file replaced);
  // fronts read it once per open, on a line no open writes.
  alignas(64) std::atomic<uint64_t> replaced_{0};
};

// One shard's view of a FileCache. Not thread-safe: one thread (the shard's)
// calls it; the FileCache must outlive it. Mappings it hands out may outlive
// it.
class FileCacheFront {
 public:
  explicit FileCacheFront(FileCache* cache) : cache_(cache) {}
  FileCacheFront(const FileCacheFront&) = delete;
  FileCacheFront& operator=(const FileCacheFront&) = delete;

  // As FileCache::Open (a rendered file first, then `requested` beneath the
  // root), with `now` from the caller's clock (the reactor's) for keeping.
  // Every call opens and fstats the file; a hit then takes no lock.
  absl::StatusOr<std::shared_ptr<const MappedFile>> Open(
      absl::string_view requested, const io::SocketAddress& client,
      absl::Time now);

  // What Open also does, for a shard that may get no request for a while
  // (call it about once a second, e.g. from a reactor timer): stops keeping
  // versions of files replaced since (another shard mapped the new one), and
  // releases mappings unused for keep_unused (at most once a second).
  void Maintain(absl::Time now);

  // Mappings this front keeps while no transfer holds them; at most
  // FileCache::kMaxKept.
  size_t kept() const { return kept_; }
  // Entries in the front's map (kept, held by a transfer, or not swept yet).
  size_t entries() const { return by_path_.size(); }
  // Opens answered without the FileCache's lock, and those that took it.
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    FileIdentity identity;
    // The front's handle on the shared mapping: an aliasing shared_ptr whose
    // control block belongs to this front, so a transfer's reference count is
    // written only by this shard.
    std::weak_ptr<const MappedFile> live;
    std::shared_ptr<const MappedFile> kept;
    absl::Time last_used;
  };
  void Sweep(absl::Time now, size_t max_kept);
  // Drops kept versions the cache has seen replaced, when replaced_ moved.
  void DropReplaced();

  FileCache* const cache_;
  uint64_t seen_replaced_ = 0;
  absl::flat_hash_map<std::string, Entry> by_path_;
  size_t kept_ = 0;
  absl::Time next_sweep_ = absl::InfinitePast();
  size_t swept_size_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_FILES_FILE_CACHE_H_
