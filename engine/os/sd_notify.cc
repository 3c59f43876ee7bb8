#include "engine/os/sd_notify.h"

#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rackboot::os {
namespace {

// The value of an environment variable as an error message shows it: quoted,
// non-printable bytes as \xNN, cut to 64 bytes (it is the environment's
// text, not ours).
std::string Shown(absl::string_view value) {
  std::string out = "\"";
  size_t shown = 0;
  for (char c : value) {
    if (shown == 64) {
      out += "...";
      break;
    }
    ++shown;
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    }
  }
  out += "\"";
  return out;
}

// A non-negative decimal with digits only (no sign, space or 0x, which
// strtoull would take), at most 18 digits, so it fits int64_t.
absl::optional<int64_t> Decimal(absl::string_view text) {
  if (text.empty() || text.size() > 18) return absl::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

SdNotify::~SdNotify() {
  if (fd_ >= 0) close(fd_);
}

SdNotify::SdNotify(SdNotify&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(other.address_),
      address_length_(other.address_length_),
      socket_name_(std::move(other.socket_name_)),
      watchdog_(std::exchange(other.watchdog_, absl::nullopt)) {}

SdNotify& SdNotify::operator=(SdNotify&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = other.address_;
    address_length_ = other.address_length_;
    socket_name_ = std::move(other.socket_name_);
    watchdog_ = std::exchange(other.watchdog_, absl::nullopt);
  }
  return *this;
}

absl::StatusOr<SdNotify> SdNotify::FromEnvironment() {
  return FromValues(std::getenv("NOTIFY_SOCKET"), std::getenv("WATCHDOG_USEC"),
                    std::getenv("WATCHDOG_PID"), getpid());
}

absl::StatusOr<SdNotify> SdNotify::FromValues(const char* notify_socket,
                                              const char* watchdog_usec,
                                              const char* watchdog_pid,
                                              pid_t self) {
  SdNotify notify;
  if (notify_socket == nullptr || *notify_socket == '\0') return notify;
  const absl::string_view name = notify_socket;
  // sun_path holds 108 bytes: a path needs its NUL, an abstract name's
  // leading NUL replaces the '@'.
  const size_t limit = name[0] == '@' ? sizeof(notify.address_.sun_path)
                                      : sizeof(notify.address_.sun_path) - 1;
  if ((name[0] != '/' && name[0] != '@') || name.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NOTIFY_SOCKET=", Shown(name),
        ": not a socket path (/...) or an abstract socket name (@...)"));
  }
  if (name.size() > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET=", Shown(name), ": longer than ", limit,
                     " bytes, which a unix socket address cannot hold"));
  }
  if (watchdog_pid != nullptr) {
    const absl::optional<int64_t> pid = Decimal(watchdog_pid);
    if (!pid || *pid <= 0 || *pid > 0x7fffffff) {
      return absl::InvalidArgumentError(absl::StrCat(
          "WATCHDOG_PID=", Shown(watchdog_pid), ": not a process id"));
    }
    // Set for another process (we were forked from the one systemd
    // watches): the pings are not ours to send.
    if (*pid != self) watchdog_usec = nullptr;
  }
  if (watchdog_usec != nullptr) {
    const absl::optional<int64_t> usec = Decimal(watchdog_usec);
    if (!usec) {
      return absl::InvalidArgumentError(
          absl::StrCat("WATCHDOG_USEC=", Shown(watchdog_usec),
                       ": not a number of microseconds"));
    }
    if (*usec < absl::ToInt64Microseconds(kMinWatchdog) ||
        *usec > kMaxWatchdogUsec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "WATCHDOG_USEC=", *usec, ": outside ",
          absl::ToInt64Microseconds(kMinWatchdog), "..", kMaxWatchdogUsec,
          " (set WatchdogSec= to 1s or more, or remove it)"));
    }
    notify.watchdog_ = absl::Microseconds(*usec);
  }

  notify.address_.sun_family = AF_UNIX;
  std::memcpy(notify.address_.sun_path, name.data(), name.size());
  if (name[0] == '@') {
    notify.address_.sun_path[0] = '\0';
    // No trailing NUL: every byte of an abstract name counts.
    notify.address_length_ =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  } else {
    notify.address_length_ = static_cast<socklen_t>(
        offsetof(sockaddr_un, sun_path) + name.size() + 1);
  }
  notify.fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (notify.fd_ < 0) {
    return absl::ErrnoToStatus(errno, "socket(AF_UNIX) for NOTIFY_SOCKET");
  }
  notify.socket_name_ = std::string(name);
  return notify;
}

absl::Status SdNotify::Send(absl::string_view message) const {
  if (fd_ < 0) return absl::OkStatus();
  if (message.empty() || message.size() > kMaxMessage) {
    return absl::InvalidArgumentError(
        absl::StrCat("sd_notify message of ", message.size(), " bytes (1..",
                     kMaxMessage, ")"));
  }
  if (message.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("sd_notify message holds a NUL byte");
  }
  const ssize_t sent =
      sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&address_), address_length_);
  if (sent < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("sendto ", Shown(socket_name_)));
  }
  if (static_cast<size_t>(sent) != message.size()) {
    return absl::InternalError(absl::StrCat("sendto ", Shown(socket_name_),
                                            ": sent ", sent, " of ",
                                            message.size(), " bytes"));
  }
  return absl::OkStatus();
}

std::string StatusAssignment(absl::string_view text) {
  std::string out = "STATUS=";
  const absl::string_view cut = text.substr(0, SdNotify::kMaxStatus);
  out.reserve(out.size() + cut.size());
  for (char c : cut) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (u < 0x20 || u >= 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string MonotonicUsecAssignment() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::StrCat("MONOTONIC_USEC=",
                      static_cast<uint64_t>(now.tv_sec) * 1'000'000 +
                          static_cast<uint64_t>(now.tv_nsec) / 1000);
}

}  // namespace rackboot::os
