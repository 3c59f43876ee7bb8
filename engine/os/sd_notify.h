// SdNotify: the sending side of systemd's service notification protocol
// (sd_notify(3)), without libsystemd: newline-separated "KEY=value"
// assignments ("READY=1\nSTATUS=serving 212 hosts") in one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET, plus what $WATCHDOG_USEC and
// $WATCHDOG_PID ask for. The protocol is small and stable (systemd documents
// it as an interface); implementing it here keeps the daemon free of a
// library it would link for one sendto().
//
//   absl::StatusOr<SdNotify> notify = SdNotify::FromEnvironment();
//   if (!notify.ok()) ... // NOTIFY_SOCKET or WATCHDOG_* hold garbage
//   notify->Send("READY=1\nSTATUS=serving");   // OK, nothing sent, when
//                                              // NOTIFY_SOCKET is unset
//   if (notify->watchdog()) ... // send "WATCHDOG=1" more often than that
//
// Addresses: "/path" (a socket file) and "@name" (Linux's abstract namespace:
// a leading NUL byte, no file). Other forms (vsock:...) are refused: systemd
// passes one of the two to a system service.
//
// Everything read from the environment is checked and bounded: the socket
// name fits sun_path, WATCHDOG_USEC is decimal in [kMinWatchdog,
// kMaxWatchdog], WATCHDOG_PID a positive decimal pid; anything else is an
// error naming the variable, not a guess. A watchdog meant for another
// process (WATCHDOG_PID set and not ours, as after a fork) is off, not an
// error. The environment is not changed (unsetenv is not thread-safe, and
// rackbootd starts no child that could mistake it for its own).
//
// Threads: FromEnvironment before other threads change the environment; Send
// from any thread (one sendto on a socket made once). Movable; owns its
// socket.
#ifndef RACKBOOT_ENGINE_OS_SD_NOTIFY_H_
#define RACKBOOT_ENGINE_OS_SD_NOTIFY_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace rackboot::os {

class SdNotify {
 public:
  // One datagram at most (systemd reads up to its page-sized buffer; a
  // longer one would be cut or refused by it, so it is refused here first).
  static constexpr size_t kMaxMessage = 4096;
  // STATUS= text at most, in bytes (StatusAssignment cuts to it): one line
  // of `systemctl status`.
  static constexpr size_t kMaxStatus = 400;
  // WATCHDOG_USEC bounds: below 100 ms the daemon could not promise pings
  // (its main loop and every shard must turn within a third of it); above
  // 1e15 µs (31 years) it is no watchdog but a typo.
  static constexpr absl::Duration kMinWatchdog = absl::Milliseconds(100);
  static constexpr int64_t kMaxWatchdogUsec = 1'000'000'000'000'000;

  // Disabled: Send is a no-op, no watchdog.
  SdNotify() = default;
  ~SdNotify();
  SdNotify(SdNotify&& other) noexcept;
  SdNotify& operator=(SdNotify&& other) noexcept;
  SdNotify(const SdNotify&) = delete;
  SdNotify& operator=(const SdNotify&) = delete;

  // From this process's NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
  static absl::StatusOr<SdNotify> FromEnvironment();
  // The same from given values (null: unset), with `self` as our pid; for
  // tests and FromEnvironment. An empty NOTIFY_SOCKET counts as unset.
  // Errors (InvalidArgument) name the variable and quote its value escaped
  // and cut; a failing socket() is the system's error.
  static absl::StatusOr<SdNotify> FromValues(const char* notify_socket,
                                             const char* watchdog_usec,
                                             const char* watchdog_pid,
                                             pid_t self);

  // A socket to notify (NOTIFY_SOCKET was set).
  bool enabled() const { return fd_ >= 0; }
  // NOTIFY_SOCKET as given ("/run/systemd/notify", "@..."), "" if disabled.
  const std::string& socket_name() const { return socket_name_; }
  // The watchdog interval systemd expects pings within, when it asked this
  // process for one (and notifications are enabled).
  absl::optional<absl::Duration> watchdog() const { return watchdog_; }

  // Sends `message` ("KEY=value" lines) as one datagram, without blocking
  // (MSG_DONTWAIT: the daemon's main loop must not wait on systemd; a full
  // queue means systemd is not reading anyway) and without SIGPIPE
  // (MSG_NOSIGNAL). OK without sending when disabled. InvalidArgument for
  // an empty message, one over kMaxMessage bytes or one holding a NUL byte;
  // otherwise sendto's error (EAGAIN: Unavailable).
  absl::Status Send(absl::string_view message) const;

 private:
  int fd_ = -1;
  sockaddr_un address_{};
  socklen_t address_length_ = 0;
  std::string socket_name_;
  absl::optional<absl::Duration> watchdog_;
};

// "STATUS=<text>" safe to send: a newline would end the assignment (and start
// another the text chose), so tabs, CR and LF become spaces; other bytes that
// are not printable ASCII (controls, DEL, non-ASCII, which systemd would
// refuse unless valid UTF-8) become '?'; the text is cut to
// SdNotify::kMaxStatus bytes.
std::string StatusAssignment(absl::string_view text);

// "MONOTONIC_USEC=<CLOCK_MONOTONIC now, µs>": sent with RELOADING=1, so
// systemd (Type=notify-reload) can tell this reload from an older one.
std::string MonotonicUsecAssignment();

}  // namespace rackboot::os

#endif  // RACKBOOT_ENGINE_OS_SD_NOTIFY_H_
