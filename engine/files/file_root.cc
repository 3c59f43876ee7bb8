#include "engine/files/file_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"

namespace rackboot {
namespace {

// glibc 2.36 has no wrapper for openat2.
int OpenAt2(int dirfd, const char* path, const struct open_how& how) {
  return static_cast<int>(
      syscall(SYS_openat2, dirfd, path, &how, sizeof(struct open_how)));
}

absl::Status ErrnoStatus(int err, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EXDEV:  // RESOLVE_BENEATH: the path would leave the root
      return absl::PermissionDeniedError(
          absl::StrCat(what, ": leads outside the root"));
    case EACCES:
    case EPERM:
    case ELOOP:
      return absl::PermissionDeniedError(message);
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(message);
    case ENOSYS:
      // Linux has had openat2 since 5.6: ENOSYS comes from a seccomp filter.
      // systemd's RestrictSUIDSGID=yes answers every openat2 so, since it
      // cannot read the mode inside struct open_how.
      return absl::FailedPreconditionError(absl::StrCat(
          message,
          " (openat2 is blocked, likely by a seccomp filter such as "
          "systemd's RestrictSUIDSGID=yes; rackbootd needs it to keep every "
          "file beneath its root)"));
    case EMFILE:  // out of descriptors or memory: the server is busy, the
    case ENFILE:  // file is fine (TFTP answers ERROR 0 "Server busy")
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<FileRoot> FileRoot::Open(const std::string& directory) {
  char resolved[PATH_MAX];
  if (realpath(directory.c_str(), resolved) == nullptr) {
    return ErrnoStatus(errno,
                       absl::StrCat("file root ", log::Quoted(directory)));
  }
  int fd = open(resolved, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno,
                       absl::StrCat("file root ", log::Quoted(directory)));
  }
  std::string path = resolved;
  if (path == "/") path.clear();
  return FileRoot(UniqueFd(fd), std::move(path));
}

absl::StatusOr<std::string> FileRoot::Normalize(
    absl::string_view requested) const {
  if (requested.empty()) return absl::InvalidArgumentError("empty file name");
  if (requested.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("file name contains NUL");
  }
  std::string name;
  name.reserve(requested.size());
  for (char c : requested) {
    if (c == '\\') c = '/';  // Windows-style clients (WDS, some firmware)
    if (c == '/' && !name.empty() && name.back() == '/') continue;
    name.push_back(c);
  }
  // Clients configured with the server's absolute paths (as with tftp-hpa
  // without -s).
  if (!path_.empty() && name.size() > path_.size() &&
      name.compare(0, path_.size(), path_) == 0 && name[path_.size()] == '/') {
    name.erase(0, path_.size());
  }
  size_t first = name.find_first_not_of('/');
  if (first == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("file name '", requested, "' names no file"));
  }
  name.erase(0, first);
  return name;
}

absl::StatusOr<OpenedFile> FileRoot::OpenFile(
    absl::string_view requested) const {
  absl::StatusOr<std::string> name = Normalize(requested);
  if (!name.ok()) return name.status();
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  // O_NONBLOCK: opening a FIFO must not hang the shard; it is refused below
  // anyway.
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = OpenAt2(fd_.get(), name->c_str(), how);
  if (fd < 0) return ErrnoStatus(errno, *name);
  OpenedFile file{UniqueFd(fd), {}, *std::move(name)};
  if (fstat(fd, &file.stat) != 0) {
    return ErrnoStatus(errno, file.relative_path);
  }
  if (!S_ISREG(file.stat.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(file.relative_path, ": not a regular file"));
  }
  return file;
}

}  // namespace rackboot
