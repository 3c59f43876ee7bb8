#include "tools/mirror/publisher.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE (_GNU_SOURCE)
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxManifestBytes = int64_t{1} << 30;

absl::Status Errno(absl::string_view what, const std::string& path, int err) {
  return absl::InternalError(
      absl::StrCat(what, " ", log::Quoted(path), ": ", std::strerror(err)));
}

absl::Status FsyncPath(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Errno("cannot fsync", path, err);
  return absl::OkStatus();
}

absl::Status MakeParents(const std::string& file) {
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot make the directory of ",
                                            log::Quoted(file), ": ",
                                            ec.message()));
  }
  return absl::OkStatus();
}

bool SizeOnDisk(const std::string& path, int64_t* size, ino_t* ino = nullptr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = st.st_size;
  if (ino != nullptr) *ino = st.st_ino;
  return true;
}

absl::StatusOr<std::string> ReadFileBounded(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (static_cast<int64_t>(text.size()) > kMaxManifestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is larger than 1 GiB"));
  }
  return text;
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace

int64_t FreeBytes(const std::string& dir) {
  struct statvfs sv;
  std::string probe = dir;
  if (statvfs(probe.c_str(), &sv) != 0) {
    probe = fs::path(dir).parent_path().string();
    if (probe.empty()) probe = ".";
    if (statvfs(probe.c_str(), &sv) != 0) return -1;
  }
  return static_cast<int64_t>(sv.f_bavail) * static_cast<int64_t>(sv.f_frsize);
}

std::string DiskFullMessage(const std::string& path, const std::string& dir) {
  return absl::StrCat("disk full writing ", path, ": ", FreeBytes(dir),
                      " bytes free on the filesystem of ", dir);
}

absl::StatusOr<Manifest> ParseManifest(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("files") ||
      !j["files"].is_array()) {
    return absl::DataLossError("manifest is not a rackboot mirror manifest");
  }
  Manifest m;
  if (j.value("version", 0) != 1) {
    return absl::DataLossError("manifest version is not 1");
  }
  m.source = j.value("source", "");
  m.kind = j.value("kind", "");
  if (j.contains("media") && j["media"].is_object()) m.media = j["media"];
  if (j.contains("options") && j["options"].is_object()) {
    m.options = j["options"];
  }
  for (const nlohmann::json& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() ||
        !f.contains("size") || !f["size"].is_number_integer() ||
        !f.contains("sha256") || !f["sha256"].is_string()) {
      return absl::DataLossError("manifest has a malformed file entry");
    }
    ManifestEntry e;
    e.path = f["path"].get<std::string>();
    e.size = f["size"].get<int64_t>();
    e.sha256 = f["sha256"].get<std::string>();
    if (f.contains("mtime_ns") && f["mtime_ns"].is_number_integer()) {
      e.mtime_ns = f["mtime_ns"].get<int64_t>();
    }
    m.files.push_back(std::move(e));
  }
  std::sort(m.files.begin(), m.files.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) {
              return a.path < b.path;
            });
  return m;
}

std::string SerializeManifest(const Manifest& manifest) {
  nlohmann::json j;
  j["version"] = 1;
  j["source"] = manifest.source;
  j["kind"] = manifest.kind;
  j["media"] = manifest.media;
  j["options"] = manifest.options;
  nlohmann::json files = nlohmann::json::array();
  for (const ManifestEntry& e : manifest.files) {
    nlohmann::json f{{"path", e.path}, {"size", e.size}, {"sha256", e.sha256}};
    if (e.mtime_ns != 0) f["mtime_ns"] = e.mtime_ns;
    files.push_back(std::move(f));
  }
  j["files"] = std::move(files);
  // Paths come from the network: invalid UTF-8 is replaced, never thrown.
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Open(
    const std::string& to) {
  std::string dir = to;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return absl::InvalidArgumentError("--to is empty");
  fs::path p(dir);
  std::unique_ptr<Publisher> pub(new Publisher());
  pub->dir_ = dir;
  pub->name_ = p.filename().string();
  pub->parent_ = p.has_parent_path() ? p.parent_path().string() : ".";
  if (pub->name_.empty() || pub->name_ == "." || pub->name_ == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("--to=", log::Escaped(to),
                     " must name a directory (e.g. /srv/repo/debian12)"));
  }
  struct stat st;
  if (stat(pub->parent_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the parent of --to, ", log::Quoted(pub->parent_),
                     ", is not a directory: make it first"));
  }
  pub->bookkeeping_ =
      absl::StrCat(pub->parent_, "/.rackboot-mirror-", pub->name_);
  pub->staging_ = pub->bookkeeping_ + "/staging";
  pub->old_ = pub->bookkeeping_ + "/old";
  if (mkdir(pub->bookkeeping_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Errno("cannot make", pub->bookkeeping_, errno);
  }
  const std::string lock = pub->bookkeeping_ + "/lock";
  pub->lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pub->lock_fd_ < 0) return Errno("cannot open", lock, errno);
  if (flock(pub->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another rackboot mirror holds ", lock, ": wait for it to finish"));
    }
    return Errno("cannot lock", lock, errno);
  }

  if (lstat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--to=", log::Escaped(dir), " exists and is not a directory"));
    }
    pub->dir_exists_ = true;
    const std::string manifest = absl::StrCat(dir, "/", kManifestName);
    if (access(manifest.c_str(), F_OK) == 0) {
      absl::StatusOr<std::string> text = ReadFileBounded(manifest);
      if (!text.ok()) return text.status();
      absl::StatusOr<Manifest> m = ParseManifest(*text);
      if (!m.ok()) {
        return absl::DataLossError(
            absl::StrCat(manifest, ": ", m.status().message(),
                         "; move the directory away to mirror into it afresh"));
      }
      pub->published_ = std::move(*m);
      pub->has_published_ = true;
    } else {
      std::error_code ec;
      if (!fs::is_empty(dir, ec)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "--to=", log::Escaped(dir), " holds files but no ", kManifestName,
            ": it is not a rackboot mirror; give a new or empty directory"));
      }
    }
  }
  for (const ManifestEntry& e : pub->published_.files) {
    pub->published_by_path_[e.path] = &e;
    if (!e.sha256.empty()) {
      pub->by_sha_.emplace(e.sha256, absl::StrCat(dir, "/", e.path));
    }
  }
  RemoveTree(pub->old_);
  if (mkdir(pub->staging_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Errno("cannot make", pub->staging_, errno);
  }
  unlink(absl::StrCat(pub->staging_, "/", kManifestName).c_str());
  return pub;
}

Publisher::~Publisher() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

std::string Publisher::StagingPath(const std::string& rel) const {
  return absl::StrCat(staging_, "/", rel);
}

bool Publisher::LinkInto(const std::string& from, const std::string& rel) {
  const std::string to = StagingPath(rel);
  if (from == to) return true;
  if (!MakeParents(to).ok()) return false;
  unlink(to.c_str());
  return link(from.c_str(), to.c_str()) == 0;
}

bool Publisher::IsRecorded(const std::string& path) const {
  return recorded_.count(path) != 0;
}

const ManifestEntry* Publisher::Recorded(const std::string& path) const {
  auto it = recorded_.find(path);
  return it == recorded_.end() ? nullptr : &it->second;
}

void Publisher::Record(const ManifestEntry& entry) {
  recorded_[entry.path] = entry;
  if (!entry.sha256.empty()) {
    by_sha_.emplace(entry.sha256, StagingPath(entry.path));
  }
}

bool Publisher::TryReuse(const PlannedFile& file, int64_t mtime_ns) {
  if (const ManifestEntry* r = Recorded(file.path); r != nullptr) {
    if ((file.sha256.empty() || file.sha256 == r->sha256) &&
        (file.size < 0 || file.size == r->size)) {
      return true;
    }
  }
  int64_t disk = 0;
  auto pub = published_by_path_.find(file.path);
  if (pub != published_by_path_.end()) {
    const ManifestEntry& e = *pub->second;
    const std::string from = absl::StrCat(dir_, "/", e.path);
    bool same;
    if (!file.sha256.empty()) {
      same = e.sha256 == file.sha256 && (file.size < 0 || file.size == e.size);
    } else {
      same = mtime_ns != 0 && e.mtime_ns == mtime_ns && e.size == file.size;
    }
    if (same && SizeOnDisk(from, &disk) && disk == e.size &&
        LinkInto(from, file.path)) {
      ManifestEntry r = e;
      r.mtime_ns = mtime_ns != 0 ? mtime_ns : e.mtime_ns;
      Record(r);
      ++reused_;
      return true;
    }
  }
  const std::string staged = StagingPath(file.path);
  if (file.sha256.empty()) {
    // A directory source's copy staged by an interrupted run carries the
    // source file's mtime (CopyFileAtomically sets it): same size and mtime,
    // hashed here for the manifest.
    struct stat st;
    if (mtime_ns != 0 && lstat(staged.c_str(), &st) == 0 &&
        S_ISREG(st.st_mode) && st.st_size == file.size &&
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                st.st_mtim.tv_nsec ==
            mtime_ns) {
      absl::StatusOr<std::string> sha = Sha256OfFile(staged);
      if (sha.ok()) {
        Record(ManifestEntry{file.path, st.st_size, *sha, mtime_ns});
        ++reused_;
        return true;
      }
    }
    return false;
  }
  // A complete copy staged by an interrupted run.
  if (SizeOnDisk(staged, &disk) && (file.size < 0 || disk == file.size)) {
    absl::StatusOr<std::string> sha = Sha256OfFile(staged);
    if (sha.ok() && *sha == file.sha256) {
      Record(ManifestEntry{file.path, disk, file.sha256, mtime_ns});
      ++reused_;
      return true;
    }
  }
  // The same bytes under another name (apt's by-hash copies).
  auto same = by_sha_.find(file.sha256);
  if (same != by_sha_.end() && SizeOnDisk(same->second, &disk) &&
      (file.size < 0 || disk == file.size) &&
      LinkInto(same->second, file.path)) {
    Record(ManifestEntry{file.path, disk, file.sha256, mtime_ns});
    ++reused_;
    return true;
  }
  return false;
}

absl::StatusOr<PublishResult> Publisher::Publish(Manifest header, bool prune) {
  PublishResult result;
  // Carry over, or prune, what the plan no longer names.
  for (const ManifestEntry& e : published_.files) {
    if (recorded_.count(e.path) != 0) continue;
    if (prune) {
      ++result.pruned;
      continue;
    }
    const std::string from = absl::StrCat(dir_, "/", e.path);
    if (!LinkInto(from, e.path)) {
      return Errno("cannot link the kept file", from, errno);
    }
    recorded_[e.path] = e;
    ++result.kept;
  }
  header.files.clear();
  for (const auto& [path, e] : recorded_) header.files.push_back(e);
  result.files = static_cast<int64_t>(header.files.size());

  auto same_set = [&] {
    if (!has_published_ || published_.files.size() != header.files.size()) {
      return false;
    }
    for (size_t i = 0; i < header.files.size(); ++i) {
      const ManifestEntry& a = header.files[i];
      const ManifestEntry& b = published_.files[i];
      if (a.path != b.path || a.size != b.size || a.sha256 != b.sha256) {
        return false;
      }
    }
    return true;
  };
  if (same_set()) {
    RemoveTree(staging_);
    result.up_to_date = true;
    return result;
  }

  // Stale staging files (an earlier run's plan, .part leftovers) go; every
  // directory is fsynced (deepest first: a directory's entry in its parent is
  // synced after its own entries).
  std::set<std::string> wanted;
  for (const ManifestEntry& e : header.files)
    wanted.insert(StagingPath(e.path));
  std::vector<std::string> dirs;
  std::vector<std::string> junk;
  {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(staging_, ec), end;
         !ec && it != end; it.increment(ec)) {
      const std::string path = it->path().string();
      std::error_code sec;
      if (it->is_directory(sec) && !it->is_symlink(sec)) {
        dirs.push_back(path);
      } else if (wanted.count(path) == 0) {
        junk.push_back(path);
      }
    }
    if (ec) {
      return absl::InternalError(absl::StrCat(
          "cannot walk ", log::Quoted(staging_), ": ", ec.message()));
    }
  }
  for (const std::string& j : junk) unlink(j.c_str());
  std::sort(dirs.begin(), dirs.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() > b.size();
            });
  for (const std::string& d : dirs) rmdir(d.c_str());  // only empty ones go

  // The manifest, last, fsynced.
  const std::string manifest = StagingPath(kManifestName);
  const std::string tmp = manifest + ".part";
  {
    const std::string text = SerializeManifest(header);
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot write", tmp, errno);
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = write(fd, text.data() + off, text.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        close(fd);
        if (err == ENOSPC || err == EDQUOT) {
          return absl::ResourceExhaustedError(DiskFullMessage(tmp, dir_));
        }
        return Errno("cannot write", tmp, err);
      }
      off += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0) {
      int err = errno;
      close(fd);
      if (err == ENOSPC || err == EDQUOT) {
        return absl::ResourceExhaustedError(DiskFullMessage(tmp, dir_));
      }
      return Errno("cannot fsync", tmp, err);
    }
    close(fd);
    if (rename(tmp.c_str(), manifest.c_str()) != 0) {
      return Errno("cannot rename", tmp, errno);
    }
  }
  // Every staging file and directory durable before the swap (the fetcher
  // leaves file data to this step). One syncfs of the filesystem does it in
  // one journal commit; an fsync per directory (a pool of 1,000 packages has
  // 1,000) cost a commit each: 1.1 s of a 2.9 s cold run. An fsync of every
  // file and directory stays the fallback.
  {
    int fd = open(staging_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", staging_, errno);
    const bool synced = syncfs(fd) == 0;
    close(fd);
    if (!synced) {
      for (const std::string& f : wanted) {
        if (access(f.c_str(), F_OK) != 0) continue;
        if (absl::Status s = FsyncPath(f); !s.ok()) return s;
      }
      for (const std::string& d : dirs) {
        if (access(d.c_str(), F_OK) != 0) continue;
        if (absl::Status s = FsyncPath(d); !s.ok()) return s;
      }
      if (absl::Status s = FsyncPath(staging_); !s.ok()) return s;
    }
  }

  // The swap.
  if (dir_exists_) {
    if (renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, dir_.c_str(),
                  RENAME_EXCHANGE) != 0) {
      return Errno(absl::StrCat("cannot swap ", staging_, " with"), dir_,
                   errno);
    }
  } else if (rename(staging_.c_str(), dir_.c_str()) != 0) {
    return Errno(absl::StrCat("cannot rename ", staging_, " to"), dir_, errno);
  }
  if (absl::Status s = FsyncPath(parent_); !s.ok()) return s;
  if (absl::Status s = FsyncPath(bookkeeping_); !s.ok()) return s;
  result.published = true;
  has_published_ = true;
  if (dir_exists_) {
    // staging/ now holds the previous tree.
    if (mkdir(old_.c_str(), 0755) == 0 || errno == EEXIST) {
      const std::string old_tree = old_ + "/tree";
      if (rename(staging_.c_str(), old_tree.c_str()) == 0) {
        RemoveTree(old_tree);
      } else {
        RemoveTree(staging_);
      }
      RemoveTree(old_);
    }
  }
  dir_exists_ = true;
  return result;
}

}  // namespace rackboot::mirror
