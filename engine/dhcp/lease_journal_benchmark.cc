// LeaseJournal benchmarks on the local disk: what one fdatasync costs,
// records/s and syncs/s with group commit at several batch sizes, and how long
// Compact of 1,000,000 leases blocks.
//
//   bazel run -c opt //engine/dhcp:lease_journal_benchmark
// The journal lives in $RACKBOOT_BENCH_DIR (default
// /var/tmp/rackboot_journal_bench), which should be on the disk the daemon will
// use (not tmpfs).
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/dhcp/lease_journal.h"
#include "engine/dhcp/lease_table.h"

namespace rackboot::dhcp {
namespace {

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("RACKBOOT_BENCH_DIR");
  const std::string dir =
      absl::StrCat(base ? base : "/var/tmp/rackboot_journal_bench", "/", name);
  const std::string cmd = "rm -rf '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::abort();
  return dir;
}

Lease LeaseFor(uint64_t n) {
  Lease lease;
  lease.address =
      Ipv4Address(0xAC100000u + static_cast<uint32_t>(n % 1000000) + 1);
  lease.state = LeaseState::kBound;
  uint8_t mac[6];
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(n >> (8 * i));
  lease.client = ClientKey::FromHardware(1, mac);
  std::copy(mac, mac + 6, lease.mac.begin());
  lease.expires = absl::FromUnixSeconds(1700000000) +
                  absl::Seconds(static_cast<int64_t>(n));
  return lease;
}

std::unique_ptr<LeaseJournal> OpenFresh(const std::string& name) {
  auto journal =
      LeaseJournal::Open({.directory = BenchDir(name)}, [](const Lease&) {});
  if (!journal.ok()) std::abort();
  return *std::move(journal);
}

// One record, then wait for it: the latency of write + fdatasync (no sharing).
void BM_SyncOneRecord(benchmark::State& state) {
  auto journal = OpenFresh("sync_one");
  uint64_t n = 0;
  for (auto _ : state) {
    journal->Append(LeaseFor(n++));
    if (!journal->SyncNow().ok()) std::abort();
  }
  state.counters["syncs/s"] = benchmark::Counter(
      static_cast<double>(journal->syncs()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SyncOneRecord)->UseRealTime();

// A shard loop that appends `batch` records per iteration and commits, never
// waiting for the disk (the writer thread syncs whatever accumulated). Counts
// records/s that became durable and the syncs they needed.
void BM_GroupCommit(benchmark::State& state) {
  auto journal = OpenFresh(absl::StrCat("group_", state.range(0)));
  const int batch = static_cast<int>(state.range(0));
  uint64_t n = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) journal->Append(LeaseFor(n++));
    journal->Commit();
    // Bound the backlog (a shard holds a bounded number of ACKs): at most 64k
    // records ahead.
    while (journal->durable() + 65536 < n) {
    }
  }
  if (!journal->SyncNow().ok()) std::abort();
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["syncs/s"] = benchmark::Counter(
      static_cast<double>(journal->syncs()), benchmark::Counter::kIsRate);
  state.counters["records/sync"] = static_cast<double>(journal->records()) /
                                   static_cast<double>(journal->syncs());
}
BENCHMARK(BM_GroupCommit)->Arg(1)->Arg(16)->Arg(256)->UseRealTime()->MinTime(2);

// Compact of 1,000,000 live leases from a LeaseTable (what the shard does): the
// time the shard is blocked.
void BM_Compact1M(benchmark::State& state) {
  auto table = *LeaseTable::Create(
      {*AddressRange::Hosts(Ipv4Address(172, 16, 0, 0), 12)});
  for (uint64_t n = 0; n < 1000000; ++n) table->Put(LeaseFor(n));
  auto journal = OpenFresh("compact");
  for (auto _ : state) {
    absl::Status s =
        journal->Compact([&](absl::FunctionRef<void(const Lease&)> sink) {
          for (const AddressRange& r : table->ranges()) {
            for (uint32_t a = r.first.value(); a <= r.last.value(); ++a) {
              const Lease* lease = table->Find(Ipv4Address(a));
              if (lease->state != LeaseState::kFree) sink(*lease);
            }
          }
        });
    if (!s.ok()) std::abort();
  }
  state.counters["file_MB"] = static_cast<double>(journal->file_bytes()) / 1e6;
}
BENCHMARK(BM_Compact1M)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace rackboot::dhcp
