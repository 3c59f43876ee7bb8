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
// request-and-transfer iterations per second of real time).
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

}  // namespace
}  // namespace rackboot
