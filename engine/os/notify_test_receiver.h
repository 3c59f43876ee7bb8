// NotifyTestReceiver: a bound AF_UNIX datagram socket standing in for
// systemd's notify socket in tests (what the manager would receive from
// SdNotify). Test-only; one thread.
#ifndef RACKBOOT_ENGINE_OS_NOTIFY_TEST_RECEIVER_H_
#define RACKBOOT_ENGINE_OS_NOTIFY_TEST_RECEIVER_H_

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"

namespace rackboot::os {

class NotifyTestReceiver {
 public:
  // `name`: "/path" or "@abstract", as NOTIFY_SOCKET says it.
  explicit NotifyTestReceiver(const std::string& name) : name_(name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(),
                std::min(name.size(), sizeof(address.sun_path)));
    socklen_t length = offsetof(sockaddr_un, sun_path) + name.size() + 1;
    if (name[0] == '@') {
      address.sun_path[0] = '\0';
      length = offsetof(sockaddr_un, sun_path) + name.size();
    } else {
      unlink(name.c_str());
    }
    bound_ = fd_ >= 0 &&
             bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0;
  }
  ~NotifyTestReceiver() {
    if (fd_ >= 0) close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  NotifyTestReceiver(const NotifyTestReceiver&) = delete;
  NotifyTestReceiver& operator=(const NotifyTestReceiver&) = delete;

  bool bound() const { return bound_; }
  const std::string& name() const { return name_; }

  // The next datagram within `wait_ms`, or "<none>".
  std::string Next(int wait_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) != 1) return "<none>";
    char buffer[8192];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    return n < 0 ? "<error>" : std::string(buffer, static_cast<size_t>(n));
  }

  // A socket file path for `tag`, unique to this process: /tmp/rb-<tag>-<r>
  // with a random <r> (TEST_TMPDIR is often too deep for sun_path, and
  // concurrent test runs in pid namespaces share pids, and /tmp).
  static std::string TempPath(const std::string& tag) {
    return absl::StrCat("/tmp/rb-", tag, "-", Unique());
  }
  // "@rackboot-<tag>-<r>": an abstract name unique in the same way.
  static std::string AbstractName(const std::string& tag) {
    return absl::StrCat("@rackboot-", tag, "-", Unique());
  }

 private:
  static std::string Unique() {
    std::random_device random;
    return absl::StrCat(absl::Hex(random(), absl::kZeroPad8),
                        absl::Hex(random(), absl::kZeroPad8));
  }

  const std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

}  // namespace rackboot::os

#endif  // RACKBOOT_ENGINE_OS_NOTIFY_TEST_RECEIVER_H_
