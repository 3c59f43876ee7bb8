#include "tools/mirror/directory_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"
#include "tools/mirror/mirror_path.h"

namespace rackboot::mirror {
namespace {

struct Walk {
  std::string root;  // absolute, no trailing '/'
  std::vector<DirectoryEntry>* out;
  std::vector<std::string>* warnings;
  int64_t entries = 0;
  int64_t skipped_links = 0;
  int64_t skipped_special = 0;
};

void Warn(Walk& w, std::string line) {
  if (w.warnings != nullptr && w.warnings->size() < 100) {
    w.warnings->push_back(std::move(line));
  }
}

// `dirfd` is open on root/prefix; every step below it is an openat with
// O_NOFOLLOW, so a symlink swapped in mid-walk is refused by the kernel.
absl::Status WalkDir(Walk& w, int dirfd, const std::string& prefix, int depth) {
  if (depth > kMaxMirrorPathDepth) {
    return absl::ResourceExhaustedError(
        absl::StrCat("directory source: ", log::Quoted(prefix),
                     " is nested deeper than ", kMaxMirrorPathDepth));
  }
  DIR* d = fdopendir(dirfd);
  if (d == nullptr) {
    close(dirfd);
    return absl::InternalError(absl::StrCat("cannot read ", log::Quoted(prefix),
                                            ": ", std::strerror(errno)));
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (++w.entries > kMaxDirectoryEntries) {
      closedir(d);
      return absl::ResourceExhaustedError(absl::StrCat(
          "directory source: more than ", kMaxDirectoryEntries, " entries"));
    }
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  absl::Status status;
  for (const std::string& name : names) {
    const std::string rel =
        prefix.empty() ? name : absl::StrCat(prefix, "/", name);
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      Warn(w, absl::StrCat("skipped ", log::Quoted(rel), ": ",
                           std::strerror(errno)));
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      ++w.skipped_links;
      continue;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      ++w.skipped_special;
      continue;
    }
    absl::Status path_ok = CheckMirrorPath(rel);
    if (!path_ok.ok()) {
      Warn(w, absl::StrCat("skipped: ", path_ok.message()));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      int child = openat(dirfd, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        Warn(w, absl::StrCat("skipped ", log::Quoted(rel), ": ",
                             std::strerror(errno)));
        continue;
      }
      status = WalkDir(w, child, rel, depth + 1);
      if (!status.ok()) break;
      continue;
    }
    DirectoryEntry e;
    e.file.path = rel;
    e.file.url = absl::StrCat(w.root, "/", rel);
    e.file.size = st.st_size;
    e.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    w.out->push_back(std::move(e));
  }
  closedir(d);
  return status;
}

}  // namespace

absl::StatusOr<std::vector<DirectoryEntry>> ListDirectorySource(
    const std::string& root, std::vector<std::string>* warnings) {
  std::string abs = root;
  if (abs.empty() || abs[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::InternalError("getcwd failed");
    }
    abs = absl::StrCat(cwd, "/", root);
  }
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  int fd = open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(
        "directory source ", log::Quoted(root), ": ", std::strerror(errno)));
  }
  std::vector<DirectoryEntry> out;
  Walk w{abs == "/" ? "" : abs, &out, warnings};
  absl::Status s = WalkDir(w, fd, "", 0);
  if (!s.ok()) return s;
  if (w.skipped_links > 0) {
    Warn(w, absl::StrCat("skipped ", w.skipped_links,
                         " symlink(s) in the directory source (only regular "
                         "files are mirrored)"));
  }
  if (w.skipped_special > 0) {
    Warn(w,
         absl::StrCat("skipped ", w.skipped_special,
                      " device/fifo/socket entries in the directory source"));
  }
  std::sort(out.begin(), out.end(),
            [](const DirectoryEntry& a, const DirectoryEntry& b) {
              return a.file.path < b.file.path;
            });
  return out;
}

}  // namespace rackboot::mirror
