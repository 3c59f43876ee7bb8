// The TFTP read-request path end to end on one thread: a client socket on
// loopback sends an RRQ to a TftpShard on a real reactor (io_uring or epoll),
// the reactor turns until the first DATA reaches the client (timed: RRQ to
// first DATA), then the client ACKs the one-block file and the reactor turns
// until the transfer is gone (the rest of the iteration). What the shard does
// per request is all here: the request parse, FileCache (openat2, fstat, the
// lookup), the transfer's socket and bind, the path MTU probe, the session,
// the first send; the per-transfer log line is off (minloglevel WARNING).
//
//   bazel run -c opt //engine/tftp:tftp_request_benchmark
//
// Counters: rrq_to_data_us (mean, per request), requests_per_s (whole
// request-and-transfer iterations per second of real time). Then the system
// calls of the path that are not the file's (the transfer's socket, the path
// MTU probe), one by one; the file's are in file_cache_benchmark.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "engine/files/file_cache.h"
#include "engine/io/reactor.h"
#include "engine/io/udp_socket.h"
#include "engine/tftp/tftp_counters.h"
#include "engine/tftp/tftp_shard.h"
#include "glog/logging.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> Rrq(const std::string& name) {
  TftpRequest request;
  request.filename = name;
  std::vector<uint8_t> out(512);
  out.resize(*WriteRequest(request, absl::MakeSpan(out)));
  return out;
}

void BM_RrqToFirstData(benchmark::State& state, io::IoBackend backend) {
  FLAGS_minloglevel = 1;  // no per-transfer INFO line
  char tmpl[] = "/tmp/tftp_request_benchmark.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  const fs::path dir = tmpl;
  std::ofstream(dir / "pxelinux.0") << std::string(100, 'p');  // one block
  {
    auto reactor = io::CreateReactor(backend);
    if (!reactor.ok()) {
      state.SkipWithError("no reactor for this backend");
      fs::remove_all(dir);
      return;
    }
    FileCache files(*FileRoot::Open(dir.string()));
    TftpCounters counters;
    TftpShardOptions options;
    options.listen = io::SocketAddress::Ipv4Loopback(0);
    auto shard =
        std::make_unique<TftpShard>(reactor->get(), &files, &counters, options);
    if (!shard->Start().ok()) std::abort();
    const io::SocketAddress server = shard->local_address();

    int client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    io::SocketAddress any = io::SocketAddress::Ipv4Loopback(0);
    if (bind(client, any.sockaddr_ptr(), any.sockaddr_len()) != 0) {
      std::abort();
    }
    const std::vector<uint8_t> rrq = Rrq("pxelinux.0");
    std::vector<uint8_t> buf(2048);
    double rrq_to_data_s = 0;
    for (auto _ : state) {
      const absl::Time start = absl::Now();
      sendto(client, rrq.data(), rrq.size(), 0, server.sockaddr_ptr(),
             server.sockaddr_len());
      sockaddr_storage from;
      socklen_t length = 0;
      ssize_t n = -1;
      while (n < 0) {
        if (!(*reactor)->RunOnce(absl::ZeroDuration()).ok()) std::abort();
        length = sizeof(from);
        n = recvfrom(client, buf.data(), buf.size(), MSG_DONTWAIT,
                     reinterpret_cast<sockaddr*>(&from), &length);
      }
      rrq_to_data_s += absl::ToDoubleSeconds(absl::Now() - start);
      if (n < 4 || buf[1] != 3) {
        state.SkipWithError("not a DATA");
        break;
      }
      const uint8_t ack[4] = {0, 4, buf[2], buf[3]};
      sendto(client, ack, sizeof(ack), 0, reinterpret_cast<sockaddr*>(&from),
             length);
      while (shard->active_transfers() > 0) {
        if (!(*reactor)->RunOnce(absl::ZeroDuration()).ok()) std::abort();
      }
    }
    // Let the reactor close what it still holds before it goes.
    for (int i = 0; i < 4; ++i) (void)(*reactor)->RunOnce(absl::ZeroDuration());
    state.counters["rrq_to_data_us"] = benchmark::Counter(
        rrq_to_data_s * 1e6 / std::max<int64_t>(1, state.iterations()));
    state.counters["requests_per_s"] =
        benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
    close(client);
    shard.reset();
  }
  fs::remove_all(dir);
}
BENCHMARK_CAPTURE(BM_RrqToFirstData, io_uring, io::IoBackend::kIoUring)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_RrqToFirstData, epoll, io::IoBackend::kEpoll)
    ->UseRealTime();

// The system calls of the request path that are not the file's, one by one,
// for docs/architecture.md ("The TFTP request path").

// The transfer's own socket: socket + bind to port 0 (the kernel picks the
// port) + close (at the transfer's end).
void BM_TransferSocket(benchmark::State& state) {
  const io::SocketAddress any = io::SocketAddress::Ipv4Loopback(0);
  for (auto _ : state) {
    auto socket = io::UdpSocket::Bind(any, io::UdpSocketOptions());
    if (!socket.ok()) state.SkipWithError("bind failed");
  }
}
BENCHMARK(BM_TransferSocket);

// The path MTU probe as it was per request: socket + connect + getsockopt
// (IP_MTU) + close.
void BM_PathMtuProbeNewSocket(benchmark::State& state) {
  const io::SocketAddress client = *io::SocketAddress::Parse("127.0.0.1:9");
  for (auto _ : state) {
    int mtu = 0;
    socklen_t length = sizeof(mtu);
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    connect(probe, client.sockaddr_ptr(), client.sockaddr_len());
    getsockopt(probe, IPPROTO_IP, IP_MTU, &mtu, &length);
    close(probe);
    benchmark::DoNotOptimize(mtu);
  }
}
BENCHMARK(BM_PathMtuProbeNewSocket);

// The same on the shard's kept probe socket: connect + getsockopt.
void BM_PathMtuProbeKept(benchmark::State& state) {
  const io::SocketAddress client = *io::SocketAddress::Parse("127.0.0.1:9");
  int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  for (auto _ : state) {
    int mtu = 0;
    socklen_t length = sizeof(mtu);
    connect(probe, client.sockaddr_ptr(), client.sockaddr_len());
    getsockopt(probe, IPPROTO_IP, IP_MTU, &mtu, &length);
    benchmark::DoNotOptimize(mtu);
  }
  close(probe);
}
BENCHMARK(BM_PathMtuProbeKept);

}  // namespace
}  // namespace rackboot
