// Zero-copy sends (SendOptions::zero_copy): TFTP-shaped GSO windows from a
// file mapping arrive intact on loopback, the batch's keep_alive is released
// only after the kernel's notification (IORING_CQE_F_NOTIF), and a kernel
// that refuses SENDMSG_ZC gets the same bytes by copy. epoll copies and must
// deliver the same.
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/io/udp_socket.h"
#include "glog/logging.h"
#include "gtest/gtest.h"

namespace rackboot::io {
namespace {

class NullHandler : public ReactorHandler {
 public:
  void OnDatagram(SocketToken, absl::Span<const uint8_t>, const SocketAddress&,
                  absl::Time) override {}
};

UdpSocket BindLoopback(int recv_buffer_bytes = 0) {
  UdpSocketOptions options;
  options.recv_buffer_bytes = recv_buffer_bytes;
  absl::StatusOr<UdpSocket> socket =
      UdpSocket::Bind(SocketAddress::Ipv4Loopback(0), options);
  CHECK(socket.ok()) << socket.status();
  return std::move(*socket);
}

SocketAddress AddressOf(int fd) {
  UdpSocket borrowed(fd);
  absl::StatusOr<SocketAddress> address = borrowed.LocalAddress();
  borrowed.Release();
  CHECK(address.ok()) << address.status();
  return *address;
}

std::string RecvWithTimeout(int fd, int timeout_ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return "";
  std::string buffer(70000, '\0');
  ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0) return "";
  buffer.resize(n);
  return buffer;
}

bool RunUntil(Reactor& reactor, const std::function<bool()>& done) {
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > give_up) return false;
    CHECK(reactor.RunOnce(absl::Milliseconds(10)).ok());
  }
  return true;
}

// A file mapping as FileCache makes one (MAP_SHARED of a file, here a memfd),
// so the kernel pins page-cache pages, not anonymous ones.
class MappedBytes {
 public:
  explicit MappedBytes(size_t size) : size_(size) {
    int fd = memfd_create("reactor_zero_copy_test", MFD_CLOEXEC);
    CHECK_GE(fd, 0);
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) {
      bytes[i] = static_cast<uint8_t>((i * 7919) >> 3);
    }
    CHECK_EQ(::write(fd, bytes.data(), size), static_cast<ssize_t>(size));
    void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    ::close(fd);
    data_ = static_cast<const uint8_t*>(p);
  }
  ~MappedBytes() { munmap(const_cast<uint8_t*>(data_), size_); }
  const uint8_t* data() const { return data_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

// TFTP's default-sized window: 64 datagrams of 4 + 1432 bytes (the last
// shorter), with zero_copy and GSO.
constexpr int kWindow = 64;
constexpr size_t kSlice = 1432;
constexpr size_t kLastSlice = 700;
// ceil(64 / kMaxZeroCopySegments = 7): zero-copy GSO messages per window.
constexpr uint64_t kZeroCopyMessages = 10;

struct Window {
  std::vector<std::array<uint8_t, 4>> headers;
  std::vector<OutDatagram> datagrams;
};

Window MakeWindow(const MappedBytes& file, uint16_t first_block) {
  Window w;
  w.headers.resize(kWindow);
  w.datagrams.resize(kWindow);
  for (int i = 0; i < kWindow; ++i) {
    const uint16_t block = static_cast<uint16_t>(first_block + i);
    w.headers[i] = {0, 3, static_cast<uint8_t>(block >> 8),
                    static_cast<uint8_t>(block)};
    const size_t length = i + 1 == kWindow ? kLastSlice : kSlice;
    w.datagrams[i] = {w.headers[i],
                      absl::MakeConstSpan(file.data() + i * kSlice, length)};
  }
  return w;
}

// Receives one window from `fd` and checks every byte and the order.
void ExpectWindow(int fd, const MappedBytes& file, uint16_t first_block) {
  for (int i = 0; i < kWindow; ++i) {
    std::string got = RecvWithTimeout(fd);
    const size_t length = i + 1 == kWindow ? kLastSlice : kSlice;
    ASSERT_EQ(got.size(), 4 + length) << "datagram " << i;
    const uint16_t block = static_cast<uint16_t>(first_block + i);
    EXPECT_EQ(static_cast<uint8_t>(got[2]), block >> 8);
    ASSERT_EQ(static_cast<uint8_t>(got[3]), static_cast<uint8_t>(block))
        << "order at " << i;
    ASSERT_EQ(std::memcmp(got.data() + 4, file.data() + i * kSlice, length), 0)
        << "payload of datagram " << i;
  }
}

struct Pair {
  UdpSocket receiver;
  SocketToken token;
};

Pair Connect(Reactor& reactor, NullHandler* handler) {
  Pair p{BindLoopback(8 << 20), {}};
  UdpSocket sender = BindLoopback();
  CHECK(sender.Connect(AddressOf(p.receiver.fd())).ok());
  absl::StatusOr<SocketToken> token = reactor.Watch(std::move(sender), handler);
  CHECK(token.ok()) << token.status();
  p.token = *token;
  return p;
}

class ZeroCopyTest : public ::testing::TestWithParam<IoBackend> {};

INSTANTIATE_TEST_SUITE_P(Backends, ZeroCopyTest,
                         ::testing::Values(IoBackend::kIoUring,
                                           IoBackend::kEpoll),
                         [](const ::testing::TestParamInfo<IoBackend>& info) {
                           return std::string(IoBackendName(info.param)) ==
                                          "io_uring"
                                      ? "IoUring"
                                      : "Epoll";
                         });

TEST_P(ZeroCopyTest, GsoWindowArrivesIntact) {
  absl::StatusOr<std::unique_ptr<Reactor>> created = CreateReactor(GetParam());
  ASSERT_TRUE(created.ok()) << created.status();
  Reactor& reactor = **created;
  MappedBytes file(kWindow * kSlice);
  NullHandler handler;
  Pair pair = Connect(reactor, &handler);
  Window window = MakeWindow(file, 1);
  SendOptions options;
  options.gso = true;
  options.zero_copy = true;
  ASSERT_TRUE(reactor.Send(pair.token, window.datagrams, options).ok());
  const bool uring = GetParam() == IoBackend::kIoUring;
  ASSERT_TRUE(RunUntil(reactor,
                       [&] {
                         return reactor.counters().datagrams_sent == kWindow &&
                                (!uring ||
                                 reactor.counters().zero_copy_notifications ==
                                     kZeroCopyMessages);
                       }))
      << "sent " << reactor.counters().datagrams_sent << ", notifications "
      << reactor.counters().zero_copy_notifications << ", errors "
      << reactor.counters().send_errors;
  EXPECT_EQ(reactor.counters().send_errors, 0u);
  EXPECT_EQ(reactor.counters().zero_copy_fallbacks, 0u);
  // io_uring: 7 datagrams per zero-copy message; epoll ignores zero_copy and
  // sends 64 KiB GSO groups by copy.
  EXPECT_EQ(reactor.counters().send_operations, uring ? kZeroCopyMessages : 2u);
  ExpectWindow(pair.receiver.fd(), file, 1);
}

// The batch's keep_alive must outlive the kernel's use of the pages: it may
// go only with the last notification, not with the last send result.
TEST(ZeroCopyIoUringTest, KeepAliveReleasedOnlyAfterNotifications) {
  absl::StatusOr<std::unique_ptr<Reactor>> created =
      CreateReactor(IoBackend::kIoUring);
  ASSERT_TRUE(created.ok()) << created.status();
  Reactor& reactor = **created;
  MappedBytes file(kWindow * kSlice);
  NullHandler handler;
  Pair pair = Connect(reactor, &handler);
  Window window = MakeWindow(file, 1);

  bool released = false;
  uint64_t notifications_at_release = 0;
  uint64_t sent_at_release = 0;
  std::shared_ptr<const void> keep_alive(
      static_cast<const void*>(file.data()), [&](const void*) {
        released = true;
        notifications_at_release = reactor.counters().zero_copy_notifications;
        sent_at_release = reactor.counters().datagrams_sent;
      });
  std::weak_ptr<const void> watch = keep_alive;
  SendOptions options;
  options.gso = true;
  options.zero_copy = true;
  options.keep_alive = std::move(keep_alive);
  ASSERT_TRUE(reactor.Send(pair.token, window.datagrams, options).ok());
  options.keep_alive.reset();  // The reactor holds the only reference now.
  EXPECT_EQ(watch.use_count(), 1);
  ASSERT_TRUE(RunUntil(reactor, [&] { return released; }))
      << "keep_alive never released; notifications "
      << reactor.counters().zero_copy_notifications;
  EXPECT_EQ(sent_at_release, uint64_t{kWindow});
  EXPECT_EQ(notifications_at_release, kZeroCopyMessages);
  ExpectWindow(pair.receiver.fd(), file, 1);
}

// A kernel that refuses SENDMSG_ZC (here: an invalid flag, EINVAL, as before
// Linux 6.0): the same bytes leave by copy, and later batches copy at once.
TEST(ZeroCopyIoUringTest, FallsBackToCopyWhenRefused) {
  ReactorOptions reactor_options;
  reactor_options.refuse_zero_copy_for_testing = true;
  absl::StatusOr<std::unique_ptr<Reactor>> created =
      CreateReactor(IoBackend::kIoUring, reactor_options);
  ASSERT_TRUE(created.ok()) << created.status();
  Reactor& reactor = **created;
  MappedBytes file(kWindow * kSlice);
  NullHandler handler;
  Pair pair = Connect(reactor, &handler);
  auto owner = std::make_shared<int>(0);

  Window window = MakeWindow(file, 1);
  SendOptions options;
  options.gso = true;
  options.zero_copy = true;
  options.keep_alive = owner;
  ASSERT_TRUE(reactor.Send(pair.token, window.datagrams, options).ok());
  ASSERT_TRUE(RunUntil(
      reactor, [&] { return reactor.counters().datagrams_sent == kWindow; }))
      << "errors " << reactor.counters().send_errors << " by errno: " << [&] {
           std::string s;
           for (int e = 0; e < ReactorCounters::kMaxErrno; ++e)
             if (reactor.counters().send_errors_by_errno[e])
               s += std::to_string(e) + " ";
           return s;
         }();
  // Every message of the first batch was queued as zero copy, refused, and
  // sent again by copy.
  EXPECT_EQ(reactor.counters().zero_copy_fallbacks, kZeroCopyMessages);
  EXPECT_EQ(reactor.counters().send_errors, 0u);
  ExpectWindow(pair.receiver.fd(), file, 1);

  Window second = MakeWindow(file, 1 + kWindow);
  const uint64_t operations = reactor.counters().send_operations;
  ASSERT_TRUE(reactor.Send(pair.token, second.datagrams, options).ok());
  options.keep_alive.reset();
  ASSERT_TRUE(RunUntil(reactor, [&] {
    return reactor.counters().datagrams_sent == 2 * kWindow &&
           owner.use_count() == 1;
  }));
  EXPECT_EQ(reactor.counters().zero_copy_fallbacks, kZeroCopyMessages);
  EXPECT_EQ(reactor.counters().send_operations - operations, 2u);  // 64 KiB
  // The refused sends still had notifications (the kernel allocates one
  // before it checks the request); the copies have none.
  EXPECT_EQ(reactor.counters().zero_copy_notifications, kZeroCopyMessages);
  ExpectWindow(pair.receiver.fd(), file, 1 + kWindow);
}

}  // namespace
}  // namespace rackboot::io
