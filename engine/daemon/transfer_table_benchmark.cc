// What the TransferTable costs a shard: the per-window progress store
// (SetBytes), a transfer's Begin+End, and both while another thread takes
// Snapshots (the API's reader) of 1,000 listed transfers.
#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "engine/daemon/transfer_table.h"

namespace rackboot::daemon {
namespace {

const io::SocketAddress kClient =
    io::SocketAddress::Ipv4({198, 18, 0, 10}, 2000);

void BM_SetBytes(benchmark::State& state) {
  TransferTable table(2);
  TransferTable::Slot* slot = table.Begin(0, Transport::kTftp, kClient,
                                          "vmlinuz", 1 << 30, absl::Now());
  uint64_t bytes = 0;
  for (auto _ : state) {
    slot->SetBytes(bytes += 1468);
    benchmark::ClobberMemory();
  }
  table.End(0, slot);
}
BENCHMARK(BM_SetBytes);

// With `state.range(0)` 1: a reader snapshots 1,000 listed transfers in a
// loop on another thread meanwhile (far more often than the API would).
void BM_BeginEnd(benchmark::State& state) {
  TransferTable table(2);
  std::vector<TransferTable::Slot*> listed;
  for (int i = 0; i < 1000; ++i) {
    listed.push_back(table.Begin(i % 2, Transport::kTftp, kClient, "initrd.img",
                                 1 << 26, absl::Now()));
  }
  std::atomic<bool> stop{false};
  std::thread reader;
  if (state.range(0) == 1) {
    reader = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        benchmark::DoNotOptimize(table.Snapshot());
      }
    });
  }
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    TransferTable::Slot* slot =
        table.Begin(0, Transport::kTftp, kClient, "vmlinuz", 5 << 20, now);
    slot->SetBytes(1468);
    table.End(0, slot);
  }
  stop = true;
  if (reader.joinable()) reader.join();
  for (size_t i = 0; i < listed.size(); ++i) table.End(i % 2, listed[i]);
}
BENCHMARK(BM_BeginEnd)->Arg(0)->Arg(1);

void BM_Snapshot1000(benchmark::State& state) {
  TransferTable table(4);
  std::vector<TransferTable::Slot*> listed;
  for (int i = 0; i < 1000; ++i) {
    listed.push_back(table.Begin(i % 4, Transport::kHttp, kClient, "initrd.img",
                                 1 << 26, absl::Now()));
  }
  for (auto _ : state) benchmark::DoNotOptimize(table.Snapshot());
  for (size_t i = 0; i < listed.size(); ++i) table.End(i % 4, listed[i]);
}
BENCHMARK(BM_Snapshot1000);

}  // namespace
}  // namespace rackboot::daemon
