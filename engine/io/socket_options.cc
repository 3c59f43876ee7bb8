#include "engine/io/socket_options.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace rackboot::io::internal {

absl::Status SetIntOption(int fd, int level, int name, int value,
                          absl::string_view what,
                          const SocketAddress& address) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat(what, " ", address.ToString()));
  }
  return absl::OkStatus();
}

void SetBufferSize(int fd, int name, int force_name, int bytes) {
  if (bytes <= 0) return;
  setsockopt(fd, SOL_SOCKET, name, &bytes, sizeof(bytes));
  int actual = 0;
  socklen_t length = sizeof(actual);
  getsockopt(fd, SOL_SOCKET, name, &actual, &length);
  // The kernel reports twice the value it was given (bookkeeping overhead).
  if (actual < bytes) {
    setsockopt(fd, SOL_SOCKET, force_name, &bytes, sizeof(bytes));
  }
}

}  // namespace rackboot::io::internal
