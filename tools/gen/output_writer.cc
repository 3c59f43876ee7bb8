#include "tools/gen/output_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace rackboot::gen {
namespace {

constexpr char kStagingPrefix[] = ".rackboot-gen-";
constexpr size_t kMaxPath = 1024;

// Closes a descriptor at scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) close(fd_);
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status Errno(absl::string_view what, absl::string_view path, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(path, ": ", what, ": ", std::strerror(err)));
}

bool IsPathChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

// The mode of a directory gen makes at `dir` (relative to the output).
mode_t DirMode(absl::string_view dir) {
  if (dir == "install") return 0711;
  if (absl::StartsWith(dir, "install/")) return 0700;
  return 0755;
}

// Opens (making it when `create`) each directory of `dir` beneath `root`,
// never following a symlink. `shown` prefixes the paths in errors.
absl::StatusOr<Fd> OpenDirs(int root, absl::string_view dir, bool create,
                            absl::string_view shown) {
  Fd current(fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (current.get() < 0) return Errno("dup", shown, errno);
  if (dir.empty()) return current;
  std::string so_far;
  for (absl::string_view segment : absl::StrSplit(dir, '/')) {
    if (!so_far.empty()) so_far += '/';
    absl::StrAppend(&so_far, segment);
    const std::string name(segment);
    const std::string where = absl::StrCat(shown, "/", so_far);
    if (create && mkdirat(current.get(), name.c_str(), DirMode(so_far)) != 0 &&
        errno != EEXIST) {
      return Errno("cannot make the directory", where, errno);
    }
    int next = openat(current.get(), name.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return absl::FailedPreconditionError(absl::StrCat(
            where,
            ": not a directory (a symlink or a file): gen writes only into "
            "real directories beneath --out; remove it"));
      }
      return Errno("cannot open the directory", where, errno);
    }
    current = Fd(next);
  }
  return current;
}

absl::Status WriteAll(int fd, absl::string_view bytes, absl::string_view path) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::pair<absl::string_view, absl::string_view> SplitDir(
    absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Removes a staging directory gen made (and everything in it). Best effort:
// it is ours, hidden, and the next run removes leftovers.
void RemoveTree(int parent, const std::string& name) {
  int fd = openat(parent, name.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    unlinkat(parent, name.c_str(), 0);
    return;
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return;
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* e = readdir(dir)) {
    const std::string entry = e->d_name;
    if (entry == "." || entry == "..") continue;
    entries.emplace_back(entry, e->d_type == DT_DIR);
  }
  for (const auto& [entry, is_dir] : entries) {
    if (is_dir) {
      RemoveTree(dirfd(dir), entry);
    } else {
      unlinkat(dirfd(dir), entry.c_str(), 0);
    }
  }
  closedir(dir);
  unlinkat(parent, name.c_str(), AT_REMOVEDIR);
}

// Leftover staging directories of interrupted runs.
void RemoveOldStaging(int out_fd) {
  int fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return;
  }
  std::vector<std::string> old;
  while (struct dirent* e = readdir(dir)) {
    if (absl::StartsWith(e->d_name, kStagingPrefix)) old.push_back(e->d_name);
  }
  closedir(dir);
  for (const std::string& name : old) RemoveTree(out_fd, name);
}

// The staging directory of this run, removed at scope exit.
class Staging {
 public:
  Staging(int out_fd, std::string name) : out_fd_(out_fd), name_(name) {}
  ~Staging() { RemoveTree(out_fd_, name_); }
  const std::string& name() const { return name_; }

 private:
  int out_fd_;
  std::string name_;
};

}  // namespace

bool IsToken(absl::string_view text) {
  if (text.size() != 32) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

std::string RedactedPath(absl::string_view path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  if (parts.size() >= 2 && parts[0] == "install" && IsToken(parts[1])) {
    parts[1] = absl::StrCat(parts[1].substr(0, 6), "\u2026");
  }
  return absl::StrJoin(parts, "/");
}

absl::Status CheckOutputPath(absl::string_view path) {
  if (path.empty() || path.size() > kMaxPath) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output path of ", path.size(), " bytes (1..", kMaxPath, ")"));
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("output path \"", RedactedPath(path),
                       "\": an empty, \".\" or \"..\" segment"));
    }
    if (absl::StartsWith(segment, kStagingPrefix)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output path \"", path, "\": ", kStagingPrefix, "* is gen's own"));
    }
    for (char c : segment) {
      if (!IsPathChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("output path \"", absl::CHexEscape(RedactedPath(path)),
                         "\": only [A-Za-z0-9._-] segments are written"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WriteReport> WriteOutputFiles(
    const std::string& out_dir, const std::vector<OutputFile>& files) {
  if (out_dir.empty()) {
    return absl::InvalidArgumentError("no output directory (--out=DIR)");
  }
  std::set<std::string> seen;
  for (const OutputFile& file : files) {
    if (absl::Status s = CheckOutputPath(file.path); !s.ok()) return s;
    if (!seen.insert(file.path).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output path \"", RedactedPath(file.path), "\" rendered twice"));
    }
  }
  // The output directory and its missing parents (like mkdir -p). Its own
  // path may hold symlinks (the operator chose it); beneath it, none.
  {
    std::string prefix = out_dir[0] == '/' ? "" : ".";
    for (absl::string_view segment :
         absl::StrSplit(out_dir, '/', absl::SkipEmpty())) {
      absl::StrAppend(&prefix, "/", segment);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno("cannot make the directory", prefix, errno);
      }
    }
  }
  Fd out(open(out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (out.get() < 0) return Errno("cannot open --out", out_dir, errno);
  RemoveOldStaging(out.get());

  std::string staging_path =
      absl::StrCat(out_dir, "/", kStagingPrefix, "XXXXXX");
  if (mkdtemp(staging_path.data()) == nullptr) {
    return Errno("cannot make a staging directory", staging_path, errno);
  }
  Staging staging(out.get(), std::string(SplitDir(staging_path).second));
  Fd stage(openat(out.get(), staging.name().c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (stage.get() < 0) return Errno("cannot open", staging_path, errno);

  // 1. Every file whole, with its mode, durable, in the staging directory.
  for (const OutputFile& file : files) {
    const auto [dir, base] = SplitDir(file.path);
    absl::StatusOr<Fd> parent =
        OpenDirs(stage.get(), dir, /*create=*/true, staging_path);
    if (!parent.ok()) return parent.status();
    const std::string name(base);
    const std::string shown =
        absl::StrCat(staging_path, "/", RedactedPath(file.path));
    Fd fd(openat(parent->get(), name.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Errno("cannot create", shown, errno);
    if (absl::Status s = WriteAll(fd.get(), file.bytes, shown); !s.ok()) {
      return s;
    }
    // fchmod, not the open mode: the umask must not loosen or tighten it.
    if (fchmod(fd.get(), file.secret ? 0600 : 0644) != 0) {
      return Errno("cannot chmod", shown, errno);
    }
    if (fsync(fd.get()) != 0) return Errno("cannot fsync", shown, errno);
  }

  // 2. Each renamed over its final name; then the directories fsynced.
  WriteReport report;
  std::map<std::string, Fd> touched;  // directory (relative) -> descriptor
  for (const OutputFile& file : files) {
    const auto [dir, base] = SplitDir(file.path);
    const std::string name(base);
    absl::StatusOr<Fd> from = OpenDirs(stage.get(), dir, false, staging_path);
    if (!from.ok()) return from.status();
    auto it = touched.find(std::string(dir));
    if (it == touched.end()) {
      absl::StatusOr<Fd> to = OpenDirs(out.get(), dir, true, out_dir);
      if (!to.ok()) return to.status();
      it = touched.emplace(std::string(dir), *std::move(to)).first;
    }
    if (renameat(from->get(), name.c_str(), it->second.get(), name.c_str()) !=
        0) {
      return Errno("cannot rename into place",
                   absl::StrCat(out_dir, "/", RedactedPath(file.path)), errno);
    }
    report.written.push_back(file.path);
  }
  for (const auto& [dir, fd] : touched) {
    if (fsync(fd.get()) != 0) {
      return Errno("cannot fsync the directory",
                   absl::StrCat(out_dir, "/", dir), errno);
    }
  }
  return report;
}

std::vector<std::string> UnwrittenHostFiles(
    const std::string& out_dir, const std::set<std::string>& written) {
  struct Kind {
    const char* dir;
    const char* prefix;
    const char* suffix;
  };
  static constexpr Kind kKinds[] = {{"pxelinux.cfg", "01-", ""},
                                    {"grub", "grub.cfg-01-", ""},
                                    {"ipxe", "01-", ".ipxe"}};
  std::vector<std::string> found;
  for (const Kind& kind : kKinds) {
    const std::string dir_path = absl::StrCat(out_dir, "/", kind.dir);
    DIR* dir = opendir(dir_path.c_str());
    if (dir == nullptr) continue;
    while (struct dirent* e = readdir(dir)) {
      const absl::string_view name = e->d_name;
      if (!absl::StartsWith(name, kind.prefix) ||
          !absl::EndsWith(name, kind.suffix)) {
        continue;
      }
      const std::string path = absl::StrCat(kind.dir, "/", name);
      if (written.count(path) == 0) found.push_back(path);
    }
    closedir(dir);
  }
  std::sort(found.begin(), found.end());
  return found;
}

absl::StatusOr<std::vector<std::string>> RemoveStaleInstallDirs(
    const std::string& out_dir, const std::set<std::string>& keep) {
  std::vector<std::string> removed;
  const std::string install_path = absl::StrCat(out_dir, "/install");
  Fd install(open(install_path.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (install.get() < 0) {
    if (errno == ENOENT) return removed;
    return Errno("cannot open", install_path, errno);
  }
  int list_fd = fcntl(install.get(), F_DUPFD_CLOEXEC, 0);
  if (list_fd < 0) return Errno("dup", install_path, errno);
  DIR* dir = fdopendir(list_fd);
  if (dir == nullptr) {
    close(list_fd);
    return Errno("cannot list", install_path, errno);
  }
  std::vector<std::string> stale;
  while (struct dirent* e = readdir(dir)) {
    if (IsToken(e->d_name) && keep.count(e->d_name) == 0) {
      stale.push_back(e->d_name);
    }
  }
  closedir(dir);
  std::vector<std::string> problems;
  for (const std::string& token : stale) {
    const std::string shown =
        absl::StrCat(install_path, "/", token.substr(0, 6), "\u2026");
    Fd fd(openat(install.get(), token.c_str(),
                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
      problems.push_back(absl::StrCat(shown, ": not a directory gen wrote"));
      continue;
    }
    int inner_fd = fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
    DIR* inner = inner_fd < 0 ? nullptr : fdopendir(inner_fd);
    if (inner == nullptr) {
      if (inner_fd >= 0) close(inner_fd);
      problems.push_back(absl::StrCat(shown, ": cannot list"));
      continue;
    }
    std::vector<std::string> names;
    bool only_files = true;
    while (struct dirent* e = readdir(inner)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode)) {
        only_files = false;
      }
      names.push_back(name);
    }
    closedir(inner);
    if (!only_files) {
      problems.push_back(absl::StrCat(
          shown, ": holds something other than files; left as it is"));
      continue;
    }
    for (const std::string& name : names) {
      if (unlinkat(fd.get(), name.c_str(), 0) != 0) {
        problems.push_back(absl::StrCat(
            shown, "/", name, ": cannot remove: ", std::strerror(errno)));
      }
    }
    if (unlinkat(install.get(), token.c_str(), AT_REMOVEDIR) != 0) {
      problems.push_back(
          absl::StrCat(shown, ": cannot remove: ", std::strerror(errno)));
      continue;
    }
    removed.push_back(absl::StrCat("install/", token.substr(0, 6), "\u2026"));
  }
  if (!problems.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "stale install directories (tokens no longer valid) not removed:\n",
        absl::StrJoin(problems, "\n")));
  }
  if (!removed.empty() && fsync(install.get()) != 0) {
    return Errno("cannot fsync the directory", install_path, errno);
  }
  return removed;
}

}  // namespace rackboot::gen
