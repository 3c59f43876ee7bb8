// Sender cost of a TFTP-like window: 16 datagrams of a 4-byte header plus a
// 1468-byte slice of an mmap'd 64 MiB file, to a receiver socket on loopback
// drained by another thread. Compares, for both reactor backends, UDP GSO
// (one sendmsg per window) with one sendmsg per datagram (io_uring: 16 SQEs,
// one submit; epoll: one sendmmsg), and the same system calls made directly
// without a reactor (the floor).
//
//   bazel run -c opt //engine/io:reactor_benchmark -- --benchmark_min_time=2
//
// Counters: bytes_per_second (real time), sender_cpu_s_per_GiB (the sending
// thread's CPU; on loopback it includes delivery into the receiving socket),
// process_cpu_s_per_GiB (also the receiver thread), delivered (fraction of
// sent datagrams the receiver read; below 1 the receiver fell behind).
#include <fcntl.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/io/udp_socket.h"
#include "glog/logging.h"

namespace rackboot::io {
namespace {

constexpr size_t kFileBytes = 64 << 20;
constexpr size_t kSlice = 1468;
constexpr size_t kHeader = 4;
constexpr int kWindow = 16;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The mmap'd file every window slices, made once.
const uint8_t* File() {
  static const uint8_t* file = [] {
    char path[] = "/tmp/reactor_benchmark.XXXXXX";
    int fd = mkstemp(path);
    CHECK_GE(fd, 0);
    unlink(path);
    std::vector<uint8_t> chunk(1 << 20);
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = i * 131;
    for (size_t done = 0; done < kFileBytes; done += chunk.size()) {
      CHECK_EQ(write(fd, chunk.data(), chunk.size()),
               static_cast<ssize_t>(chunk.size()));
    }
    void* map =
        mmap(nullptr, kFileBytes, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    CHECK(map != MAP_FAILED);
    close(fd);
    return static_cast<const uint8_t*>(map);
  }();
  return file;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// A socket on 127.0.0.1 drained by its own thread with recvmmsg.
class Receiver {
 public:
  Receiver() {
    UdpSocketOptions options;
    options.recv_buffer_bytes = 32 << 20;
    socket_ = *UdpSocket::Bind(SocketAddress::Ipv4Loopback(0), options);
    address_ = *socket_.LocalAddress();
    timeval timeout{0, 50000};
    setsockopt(socket_.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
               sizeof(timeout));
    thread_ = std::thread([this] { Drain(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
  }
  const SocketAddress& address() const { return address_; }
  uint64_t datagrams() const { return datagrams_.load(); }

 private:
  void Drain() {
    constexpr int kBatch = 64;
    std::vector<uint8_t> storage(kBatch * 2048);
    mmsghdr msgs[kBatch];
    iovec iovs[kBatch];
    while (!stop_) {
      for (int i = 0; i < kBatch; ++i) {
        iovs[i] = {storage.data() + i * 2048, 2048};
        std::memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(socket_.fd(), msgs, kBatch, MSG_WAITFORONE, nullptr);
      if (n > 0) datagrams_ += n;
    }
  }

  UdpSocket socket_;
  SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> datagrams_{0};
  std::thread thread_;
};

UdpSocket ConnectedSender(const SocketAddress& to) {
  UdpSocketOptions options;
  options.send_buffer_bytes = 4 << 20;
  UdpSocket socket = *UdpSocket::Bind(SocketAddress::Ipv4Loopback(0), options);
  CHECK(socket.Connect(to).ok());
  return socket;
}

// Fills `headers` and the 16 datagrams of window number `n`.
void MakeWindow(uint64_t n,
                std::array<std::array<uint8_t, 4>, kWindow>& headers,
                OutDatagram* window) {
  const uint8_t* file = File();
  const size_t windows_per_file = kFileBytes / (kSlice * kWindow);
  const size_t base = (n % windows_per_file) * kSlice * kWindow;
  for (int i = 0; i < kWindow; ++i) {
    uint16_t block = static_cast<uint16_t>(n * kWindow + i + 1);
    headers[i] = {0, 3, static_cast<uint8_t>(block >> 8),
                  static_cast<uint8_t>(block)};
    window[i] = {headers[i],
                 absl::MakeConstSpan(file + base + i * kSlice, kSlice)};
  }
}

void Report(benchmark::State& state, uint64_t windows, double thread_cpu,
            double process_cpu, uint64_t delivered) {
  const double bytes = double(windows) * kWindow * (kHeader + kSlice);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["sender_cpu_s_per_GiB"] = thread_cpu / (bytes / kGiB);
  state.counters["process_cpu_s_per_GiB"] = process_cpu / (bytes / kGiB);
  state.counters["delivered"] =
      windows == 0 ? 0 : double(delivered) / (double(windows) * kWindow);
}

void BM_Reactor(benchmark::State& state, IoBackend backend, bool gso) {
  File();
  absl::StatusOr<std::unique_ptr<Reactor>> created = CreateReactor(backend);
  if (!created.ok()) {
    state.SkipWithError(std::string(created.status().message()).c_str());
    return;
  }
  Reactor& reactor = **created;
  Receiver receiver;
  class Ignore : public ReactorHandler {
    void OnDatagram(SocketToken, absl::Span<const uint8_t>,
                    const SocketAddress&, absl::Time) override {}
  } handler;
  SocketToken token =
      *reactor.Watch(ConnectedSender(receiver.address()), &handler);
  std::array<std::array<uint8_t, 4>, kWindow> headers;
  OutDatagram window[kWindow];
  SendOptions options;
  options.gso = gso;
  uint64_t n = 0;
  const double thread_start = ThreadCpuSeconds();
  const double process_start = ProcessCpuSeconds();
  for (auto _ : state) {
    MakeWindow(n++, headers, window);
    CHECK(reactor.Send(token, window, options).ok());
    CHECK(reactor.RunOnce(absl::ZeroDuration()).ok());
  }
  // Let the last completions arrive.
  while (reactor.counters().datagrams_sent + reactor.counters().send_errors <
         n * kWindow) {
    CHECK(reactor.RunOnce(absl::Milliseconds(1)).ok());
  }
  const double thread_cpu = ThreadCpuSeconds() - thread_start;
  const double process_cpu = ProcessCpuSeconds() - process_start;
  usleep(100000);  // Let the receiver catch up before counting.
  Report(state, n, thread_cpu, process_cpu, receiver.datagrams());
  state.counters["send_syscalls_per_window"] =
      double(reactor.counters().send_system_calls) / n;
  state.counters["send_errors"] = reactor.counters().send_errors;
}

// The floor: the same windows with direct system calls, no reactor.
void BM_Direct(benchmark::State& state, bool gso) {
  File();
  Receiver receiver;
  UdpSocket sender = ConnectedSender(receiver.address());
  std::array<std::array<uint8_t, 4>, kWindow> headers;
  OutDatagram window[kWindow];
  iovec iovs[2 * kWindow];
  mmsghdr msgs[kWindow];
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(uint16_t))];
  uint64_t n = 0;
  const double thread_start = ThreadCpuSeconds();
  const double process_start = ProcessCpuSeconds();
  for (auto _ : state) {
    MakeWindow(n++, headers, window);
    for (int i = 0; i < kWindow; ++i) {
      iovs[2 * i] = {const_cast<uint8_t*>(window[i].header.data()), kHeader};
      iovs[2 * i + 1] = {const_cast<uint8_t*>(window[i].payload.data()),
                         kSlice};
    }
    if (gso) {
      msghdr msg{};
      msg.msg_iov = iovs;
      msg.msg_iovlen = 2 * kWindow;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_UDP;
      cmsg->cmsg_type = UDP_SEGMENT;
      cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t segment = kHeader + kSlice;
      std::memcpy(CMSG_DATA(cmsg), &segment, sizeof(segment));
      CHECK_GE(sendmsg(sender.fd(), &msg, 0), 0) << std::strerror(errno);
    } else {
      for (int i = 0; i < kWindow; ++i) {
        std::memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iovs[2 * i];
        msgs[i].msg_hdr.msg_iovlen = 2;
      }
      CHECK_EQ(sendmmsg(sender.fd(), msgs, kWindow, 0), kWindow);
    }
  }
  const double thread_cpu = ThreadCpuSeconds() - thread_start;
  const double process_cpu = ProcessCpuSeconds() - process_start;
  usleep(100000);
  Report(state, n, thread_cpu, process_cpu, receiver.datagrams());
}

BENCHMARK_CAPTURE(BM_Direct, sendmmsg, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Direct, gso, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_Reactor, io_uring_sendmsg_sqes, IoBackend::kIoUring, false)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Reactor, io_uring_gso, IoBackend::kIoUring, true)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Reactor, epoll_sendmmsg, IoBackend::kEpoll, false)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Reactor, epoll_gso, IoBackend::kEpoll, true)
    ->UseRealTime();

}  // namespace
}  // namespace rackboot::io
