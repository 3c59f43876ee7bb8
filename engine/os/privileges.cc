#include "engine/os/privileges.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rackboot::os {
namespace {

absl::Status ErrnoError(int error, absl::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      absl::StrCat(what, ": ", std::strerror(error)));
}

}  // namespace

absl::StatusOr<UserIds> LookUpUser(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry;
  passwd* found = nullptr;
  const int rc =
      getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return ErrnoError(rc, absl::StrCat("user \"", name, "\""));
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "user \"", name, "\" does not exist: create it (useradd --system ",
        name, ") or name another one with --user (server.user)"));
  }
  return UserIds{name, found->pw_uid, found->pw_gid};
}

absl::Status CheckReadableBy(const std::string& directory,
                             const UserIds& user) {
  struct stat st;
  if (stat(directory.c_str(), &st) != 0) {
    return ErrnoError(errno, directory);
  }
  mode_t need = S_IROTH | S_IXOTH;
  int shift = 0;
  if (st.st_uid == user.uid) {
    shift = 6;
  } else if (st.st_gid == user.gid) {
    shift = 3;
  }
  need <<= shift;
  if ((st.st_mode & need) == need) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrFormat(
      "%s (mode %04o, owner uid %d) cannot be read by user %s, whom rackbootd "
      "runs as after binding its sockets: make it readable (chmod o+rx, and "
      "o+r on the files) or choose the user with --user (server.user)",
      directory, st.st_mode & 07777, st.st_uid, user.name));
}

absl::Status GiveDirectoryTo(const std::string& directory,
                             const UserIds& user) {
  const int dir_fd =
      open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir_fd < 0) return ErrnoError(errno, directory);
  if (fchown(dir_fd, user.uid, user.gid) != 0) {
    const int error = errno;
    close(dir_fd);
    return ErrnoError(error, absl::StrCat("chown ", directory));
  }
  DIR* dir = fdopendir(dir_fd);  // takes dir_fd
  if (dir == nullptr) {
    const int error = errno;
    close(dir_fd);
    return ErrnoError(error, directory);
  }
  absl::Status status;
  while (dirent* entry = readdir(dir)) {
    struct stat st;
    if (fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    if (fchownat(dir_fd, entry->d_name, user.uid, user.gid,
                 AT_SYMLINK_NOFOLLOW) != 0) {
      status = ErrnoError(
          errno, absl::StrCat("chown ", directory, "/", entry->d_name));
      break;
    }
  }
  closedir(dir);
  return status;
}

absl::Status DropPrivileges(const UserIds& user) {
  if (setgroups(0, nullptr) != 0) return ErrnoError(errno, "setgroups");
  if (setresgid(user.gid, user.gid, user.gid) != 0) {
    return ErrnoError(errno, absl::StrCat("setresgid ", user.gid));
  }
  if (setresuid(user.uid, user.uid, user.uid) != 0) {
    return ErrnoError(errno, absl::StrCat("setresuid ", user.uid));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ErrnoError(errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (user.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    return absl::InternalError(
        "root could be regained after dropping privileges");
  }
  return absl::OkStatus();
}

}  // namespace rackboot::os
