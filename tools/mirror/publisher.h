// Publisher: the published tree of `rackboot mirror` and how it changes. The
// next tree is built in a staging directory beside DIR, every file and
// directory fsynced, then swapped with DIR by one renameat2(RENAME_EXCHANGE),
// so a reader (rackbootd, vsftpd) sees the old tree or the new one, never a
// mix. Bookkeeping lives in <parent>/.rackboot-mirror-<name>/: `lock` (flock,
// held for the object's life), `staging/` (kept across interruptions for
// resume), `old/` (the previous tree after a swap, removed). Files are reused
// by SHA-256 (hard links) from the published tree and from staging. One
// object per run, owned by RunMirror; main thread only.
#ifndef RACKBOOT_TOOLS_MIRROR_PUBLISHER_H_
#define RACKBOOT_TOOLS_MIRROR_PUBLISHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/mirror/mirror_plan.h"

namespace rackboot::mirror {

inline constexpr char kManifestName[] = ".rackboot-manifest.json";

// One file of a tree as its manifest records it.
struct ManifestEntry {
  std::string path;
  int64_t size = 0;
  std::string sha256;
  // Source file's mtime (directory and ISO sources: reuse without hashing);
  // 0 when not recorded.
  int64_t mtime_ns = 0;
};

struct Manifest {
  std::string source;
  std::string kind;
  nlohmann::json media = nlohmann::json::object();
  nlohmann::json options = nlohmann::json::object();
  std::vector<ManifestEntry> files;  // sorted by path
};

// Parses a manifest's JSON text (bounded: the caller read at most 1 GiB).
absl::StatusOr<Manifest> ParseManifest(const std::string& text);
std::string SerializeManifest(const Manifest& manifest);

struct PublishResult {
  bool up_to_date = false;  // the file set equals the published one: no swap
  bool published = false;
  int64_t files = 0;  // in the tree now
  int64_t kept = 0;   // carried over from the published tree (no --prune)
  int64_t pruned = 0;
};

// Bytes free for an unprivileged writer on the filesystem of `dir` (or of
// its parent when `dir` does not exist yet); -1 when unknown.
int64_t FreeBytes(const std::string& dir);
// "disk full writing PATH: N bytes free on the filesystem of DIR".
std::string DiskFullMessage(const std::string& path, const std::string& dir);

class Publisher {
 public:
  // Takes the lock (a second holder fails at once: FailedPrecondition
  // "another rackboot mirror holds LOCK"), reads DIR's manifest when DIR
  // exists, keeps staging/ for resume (its manifest removed), removes old/.
  // DIR's parent must exist; DIR, when it exists, must be a directory that is
  // empty or holds a manifest (anything else is never swapped away).
  static absl::StatusOr<std::unique_ptr<Publisher>> Open(const std::string& to);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& staging() const { return staging_; }
  const std::string& bookkeeping() const { return bookkeeping_; }
  std::string StagingPath(const std::string& rel) const;
  // The published tree's manifest (null when there is none).
  const Manifest* published_manifest() const {
    return has_published_ ? &published_ : nullptr;
  }

  // Makes staging/<file.path> present without transfer when it can: already
  // recorded in this run; the published tree's copy (same sha256 and size,
  // or, for a file without sha256, same size and source mtime); a complete
  // staged copy from an interrupted run whose sha256 matches; any recorded or
  // published file with the same sha256 (hard link); without sha256, a
  // staged copy with the source's size and mtime (hashed for the manifest).
  // Records it and returns
  // true; false when it must be fetched.
  bool TryReuse(const PlannedFile& file, int64_t mtime_ns = 0);
  // A file written into staging by a fetcher/copier/extractor, verified.
  void Record(const ManifestEntry& entry);
  bool IsRecorded(const std::string& path) const;
  const ManifestEntry* Recorded(const std::string& path) const;
  int64_t reused() const { return reused_; }

  // Completes the tree (carry-over or prune), and when its file set differs
  // from the published one: removes stale staging files, writes the
  // manifest, fsyncs, swaps, removes the old tree. When it is the same:
  // removes staging and reports up_to_date.
  absl::StatusOr<PublishResult> Publish(Manifest header, bool prune);

 private:
  Publisher() = default;
  bool LinkInto(const std::string& from, const std::string& rel);

  std::string dir_, parent_, name_, bookkeeping_, staging_, old_;
  int lock_fd_ = -1;
  bool dir_exists_ = false;
  bool has_published_ = false;
  Manifest published_;
  std::map<std::string, const ManifestEntry*> published_by_path_;
  std::map<std::string, std::string> by_sha_;  // sha256 -> absolute file path
  std::map<std::string, ManifestEntry> recorded_;
  int64_t reused_ = 0;
};

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_PUBLISHER_H_
