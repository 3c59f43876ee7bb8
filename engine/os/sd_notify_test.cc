// SdNotify against real AF_UNIX datagram sockets (a socket file and an
// abstract name), as systemd's manager receives them; the environment's
// garbage refused with the variable named; the message bounds.
#include "engine/os/sd_notify.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/os/notify_test_receiver.h"
#include "gtest/gtest.h"

namespace rackboot::os {
namespace {

using Receiver = NotifyTestReceiver;

std::string TempSocketPath() { return NotifyTestReceiver::TempPath("notify"); }

TEST(SdNotify, UnsetIsANoOp) {
  absl::StatusOr<SdNotify> notify =
      SdNotify::FromValues(nullptr, "1000000", nullptr, getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_FALSE(notify->enabled());
  EXPECT_FALSE(notify->watchdog().has_value());
  EXPECT_TRUE(notify->Send("READY=1").ok());
  // Empty counts as unset.
  notify = SdNotify::FromValues("", nullptr, nullptr, getpid());
  ASSERT_TRUE(notify.ok());
  EXPECT_FALSE(notify->enabled());
  // A default-constructed one too.
  EXPECT_TRUE(SdNotify().Send("STOPPING=1").ok());
}

TEST(SdNotify, SendsToASocketFile) {
  const std::string path = TempSocketPath();
  Receiver receiver(path);
  ASSERT_TRUE(receiver.bound()) << path << ": " << strerror(errno);
  absl::StatusOr<SdNotify> notify =
      SdNotify::FromValues(path.c_str(), nullptr, nullptr, getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_TRUE(notify->enabled());
  EXPECT_EQ(notify->socket_name(), path);
  ASSERT_TRUE(notify->Send("READY=1\nSTATUS=serving").ok());
  EXPECT_EQ(receiver.Next(), "READY=1\nSTATUS=serving");
  // Moved, it still sends; the moved-from one is disabled.
  SdNotify moved = *std::move(notify);
  ASSERT_TRUE(moved.Send("WATCHDOG=1").ok());
  EXPECT_EQ(receiver.Next(), "WATCHDOG=1");
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  const std::string name = NotifyTestReceiver::AbstractName("notify-test");
  Receiver receiver(name);
  ASSERT_TRUE(receiver.bound()) << strerror(errno);
  absl::StatusOr<SdNotify> notify =
      SdNotify::FromValues(name.c_str(), "30000000", nullptr, getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_EQ(notify->watchdog(), absl::Seconds(30));
  ASSERT_TRUE(notify->Send("STOPPING=1").ok());
  EXPECT_EQ(receiver.Next(), "STOPPING=1");
  // The largest message leaves whole.
  const std::string largest(SdNotify::kMaxMessage, 'x');
  ASSERT_TRUE(notify->Send(largest).ok());
  EXPECT_EQ(receiver.Next(), largest);
}

TEST(SdNotify, RefusesOversizeEmptyAndNulMessages) {
  const std::string path = TempSocketPath();
  Receiver receiver(path);
  ASSERT_TRUE(receiver.bound());
  absl::StatusOr<SdNotify> notify =
      SdNotify::FromValues(path.c_str(), nullptr, nullptr, getpid());
  ASSERT_TRUE(notify.ok());
  absl::Status s = notify->Send(std::string(SdNotify::kMaxMessage + 1, 'x'));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "sd_notify message of 4097 bytes (1..4096)");
  EXPECT_EQ(notify->Send("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(notify->Send(absl::string_view("A=1\0B=2", 7)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(receiver.Next(200), "<none>");  // nothing was sent
}

TEST(SdNotify, NoListenerIsTheSystemsError) {
  const std::string path = TempSocketPath() + "-gone";
  absl::StatusOr<SdNotify> notify =
      SdNotify::FromValues(path.c_str(), nullptr, nullptr, getpid());
  ASSERT_TRUE(notify.ok());
  absl::Status s = notify->Send("READY=1");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sendto \"" + path + "\""), std::string::npos)
      << s;
}

TEST(SdNotify, RefusesGarbageSocketNames) {
  const std::string too_long = "/" + std::string(107, 'a');  // 108 > 107
  const std::string abstract_max = "@" + std::string(107, 'a');
  struct Case {
    std::string value;
    std::string error;
  } cases[] = {
      {"relative/notify", "not a socket path"},
      {"@", "not a socket path"},
      {"/", "not a socket path"},
      {"vsock:2:1234", "not a socket path"},
      {"\x01\nREADY=1", "NOTIFY_SOCKET=\"\\x01\\x0aREADY=1\""},
      {too_long, "longer than 107 bytes"},
      {abstract_max + "b", "longer than 108 bytes"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SdNotify> notify =
        SdNotify::FromValues(c.value.c_str(), nullptr, nullptr, getpid());
    ASSERT_FALSE(notify.ok()) << c.value;
    EXPECT_EQ(notify.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(notify.status().message().find(c.error), std::string::npos)
        << notify.status();
  }
  // The longest of each that fits is fine.
  EXPECT_TRUE(SdNotify::FromValues(too_long.substr(0, 107).c_str(), nullptr,
                                   nullptr, getpid())
                  .ok());
  EXPECT_TRUE(
      SdNotify::FromValues(abstract_max.c_str(), nullptr, nullptr, getpid())
          .ok());
}

TEST(SdNotify, RefusesGarbageWatchdogValues) {
  const char* socket = "@rackboot-unused";
  const std::string long_text(200, '9');
  struct Case {
    const char* usec;
    const char* pid;
    std::string error;
  } cases[] = {
      {"", nullptr, "WATCHDOG_USEC=\"\": not a number"},
      {"abc", nullptr, "WATCHDOG_USEC=\"abc\": not a number"},
      {"-1000000", nullptr, "not a number"},
      {"+1000000", nullptr, "not a number"},
      {" 1000000", nullptr, "not a number"},
      {"1000000 ", nullptr, "not a number"},
      {"0x10000", nullptr, "not a number"},
      {"1e6", nullptr, "not a number"},
      {long_text.c_str(), nullptr, "\"" + std::string(64, '9') + "...\""},
      {"0", nullptr, "WATCHDOG_USEC=0: outside 100000..1000000000000000"},
      {"99999", nullptr, "outside"},
      {"1000000000000001", nullptr, "outside"},
      {"1000000", "", "WATCHDOG_PID=\"\": not a process id"},
      {"1000000", "0", "not a process id"},
      {"1000000", "-5", "not a process id"},
      {"1000000", "12x", "not a process id"},
      {"1000000", "99999999999", "not a process id"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SdNotify> notify =
        SdNotify::FromValues(socket, c.usec, c.pid, getpid());
    ASSERT_FALSE(notify.ok()) << c.usec;
    EXPECT_EQ(notify.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(notify.status().message().find(c.error), std::string::npos)
        << notify.status() << " want " << c.error;
  }
}

TEST(SdNotify, WatchdogForUsOnly) {
  const char* socket = "@rackboot-unused";
  const std::string self = std::to_string(getpid());
  // Ours: on, the bounds inclusive.
  absl::StatusOr<SdNotify> notify =
      SdNotify::FromValues(socket, "100000", self.c_str(), getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_EQ(notify->watchdog(), absl::Milliseconds(100));
  notify = SdNotify::FromValues(socket, "1000000000000000", nullptr, getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  // Another process's (we were forked): off, not an error, whatever
  // WATCHDOG_USEC holds.
  const std::string other = std::to_string(getpid() + 1);
  notify = SdNotify::FromValues(socket, "2000000", other.c_str(), getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_TRUE(notify->enabled());
  EXPECT_FALSE(notify->watchdog().has_value());
  notify = SdNotify::FromValues(socket, "junk", other.c_str(), getpid());
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_FALSE(notify->watchdog().has_value());
}

TEST(SdNotify, FromEnvironmentReadsTheThreeVariables) {
  const std::string name = NotifyTestReceiver::AbstractName("notify-env");
  Receiver receiver(name);
  ASSERT_TRUE(receiver.bound());
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  setenv("WATCHDOG_USEC", "2000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  absl::StatusOr<SdNotify> notify = SdNotify::FromEnvironment();
  ASSERT_TRUE(notify.ok()) << notify.status();
  EXPECT_EQ(notify->watchdog(), absl::Seconds(2));
  ASSERT_TRUE(notify->Send("WATCHDOG=1").ok());
  EXPECT_EQ(receiver.Next(), "WATCHDOG=1");
  setenv("WATCHDOG_USEC", "two seconds", 1);
  EXPECT_FALSE(SdNotify::FromEnvironment().ok());
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  notify = SdNotify::FromEnvironment();
  ASSERT_TRUE(notify.ok());
  EXPECT_FALSE(notify->enabled());
}

TEST(StatusAssignment, OneLineOfPrintableTextBounded) {
  EXPECT_EQ(StatusAssignment("serving 212 hosts, 3 installing"),
            "STATUS=serving 212 hosts, 3 installing");
  // A newline must not start an assignment of its own (READY=1 here).
  EXPECT_EQ(StatusAssignment("bad\nREADY=1\r\tx"), "STATUS=bad READY=1  x");
  EXPECT_EQ(StatusAssignment(absl::string_view("a\0b\x7f\xc3\xa9", 6)),
            "STATUS=a?b???");
  const std::string status = StatusAssignment(std::string(1000, 'y'));
  EXPECT_EQ(status.size(), 7 + SdNotify::kMaxStatus);
}

TEST(MonotonicUsecAssignment, IsTheMonotonicClockInMicroseconds) {
  timespec before{}, after{};
  clock_gettime(CLOCK_MONOTONIC, &before);
  const std::string assignment = MonotonicUsecAssignment();
  clock_gettime(CLOCK_MONOTONIC, &after);
  ASSERT_EQ(assignment.rfind("MONOTONIC_USEC=", 0), 0u) << assignment;
  const uint64_t usec = std::stoull(assignment.substr(15));
  EXPECT_GE(usec, static_cast<uint64_t>(before.tv_sec) * 1000000 +
                      before.tv_nsec / 1000);
  EXPECT_LE(usec, static_cast<uint64_t>(after.tv_sec) * 1000000 +
                      after.tv_nsec / 1000);
}

}  // namespace
}  // namespace rackboot::os
