// FileRoot: opens files by client-supplied name strictly beneath one directory.
//
// The kernel does the containment check: every open is an openat2(2) relative
// to the root's descriptor with RESOLVE_BENEATH, so "..", absolute symlinks and
// symlinks that climb out of the root fail inside the kernel, whatever the name
// looks like (no user-space path checks to get wrong, no race with a concurrent
// rename). Only regular files are returned.
//
//   absl::StatusOr<FileRoot> root = FileRoot::Open("/srv/tftp");
//   absl::StatusOr<OpenedFile> f = root->OpenFile("pxelinux.cfg/default");
//
// A FileRoot owns its directory descriptor. It is immutable after Open, so any
// thread may call it concurrently.
#ifndef RACKBOOT_ENGINE_FILES_FILE_ROOT_H_
#define RACKBOOT_ENGINE_FILES_FILE_ROOT_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot {

// A move-only owner of a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// A regular file opened beneath a root, with the fstat taken right after
// opening.
struct OpenedFile {
  UniqueFd fd;
  struct stat stat;
  std::string
      relative_path;  // as resolved beneath the root, for logs and counters
};

class FileRoot {
 public:
  // Opens `directory` (which must exist and be a directory) as the root.
  static absl::StatusOr<FileRoot> Open(const std::string& directory);

  // Turns a name as clients send it into a path relative to the root, the way
  // tftp-hpa (-s), atftpd and dnsmasq do: backslashes become '/', the root's
  // own absolute path prefix and any leading '/' are removed, and repeated '/'
  // collapse. Names that are empty or contain NUL are refused
  // (InvalidArgument). ".." is left in place: containment is the kernel's job.
  absl::StatusOr<std::string> Normalize(absl::string_view requested) const;

  // Normalizes `requested` and opens it read-only beneath the root. Errors:
  //   NotFound            no such file
  //   PermissionDenied    the name leads outside the root, or the file is not
  //                       readable
  //   FailedPrecondition  not a regular file (directory, device, FIFO, socket)
  //   InvalidArgument     an unusable name
  //   ResourceExhausted   out of descriptors or memory (EMFILE, ENFILE,
  //                       ENOMEM): not the file's fault
  absl::StatusOr<OpenedFile> OpenFile(absl::string_view requested) const;

  const std::string& path() const { return path_; }

 private:
  FileRoot(UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;  // absolute, without a trailing '/'
};

}  // namespace rackboot

#endif  // RACKBOOT_ENGINE_FILES_FILE_ROOT_H_
