// LeaseTable micro benchmarks: allocate in a 1M-slot table, renew (Put of an
// existing lease), lock-free Lookup by address (the reader path), FindByClient.
//
//   bazel run -c opt //engine/dhcp:lease_table_benchmark
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/dhcp/lease_table.h"

namespace rackboot::dhcp {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

ClientKey Client(uint32_t n) {
  uint8_t mac[6] = {0x52,
                    0x54,
                    static_cast<uint8_t>(n >> 24),
                    static_cast<uint8_t>(n >> 16),
                    static_cast<uint8_t>(n >> 8),
                    static_cast<uint8_t>(n)};
  return ClientKey::FromHardware(1, mac);
}

Lease LeaseFor(Ipv4Address address, uint32_t n, absl::Time expires) {
  Lease lease;
  lease.address = address;
  lease.state = LeaseState::kBound;
  lease.client = Client(n);
  lease.mac = {0x52,
               0x54,
               static_cast<uint8_t>(n >> 24),
               static_cast<uint8_t>(n >> 16),
               static_cast<uint8_t>(n >> 8),
               static_cast<uint8_t>(n)};
  lease.expires = expires;
  return lease;
}

// 172.16.0.0/12: 1,048,574 slots.
AddressRange Big() {
  return *AddressRange::Hosts(Ipv4Address(172, 16, 0, 0), 12);
}

// A 1M-slot table with `filled` bound leases.
std::unique_ptr<LeaseTable> Filled(uint32_t filled) {
  auto table = *LeaseTable::Create({Big()});
  const AddressRange r = Big();
  for (uint32_t i = 0; i < filled; ++i) {
    table->Put(
        LeaseFor(Ipv4Address(r.first.value() + i), i, kNow + absl::Hours(1)));
  }
  return table;
}

// AllocateFree + Put(offered) until the 1M table is full, then start over with
// a new table (outside the timing). Measures the allocator across every fill
// level, including nearly full.
void BM_Allocate(benchmark::State& state) {
  const AddressRange r = Big();
  std::unique_ptr<LeaseTable> table = *LeaseTable::Create({r});
  uint32_t n = 0;
  for (auto _ : state) {
    absl::optional<Ipv4Address> a = table->AllocateFree(r.first, r.last, kNow);
    if (!a) {
      state.PauseTiming();
      table = *LeaseTable::Create({r});
      state.ResumeTiming();
      a = table->AllocateFree(r.first, r.last, kNow);
    }
    table->Put(LeaseFor(*a, n++, kNow + absl::Minutes(1)));
  }
  state.counters["slots"] = static_cast<double>(table->size());
}
BENCHMARK(BM_Allocate);

// AllocateFree on a full pool (every call returns nullopt).
void BM_AllocateFull(benchmark::State& state) {
  const AddressRange r = Big();
  auto table = Filled(static_cast<uint32_t>(r.size()));
  for (auto _ : state) {
    benchmark::DoNotOptimize(table->AllocateFree(r.first, r.last, kNow));
  }
}
BENCHMARK(BM_AllocateFull);

// Put of an existing lease with a later expiry (a DHCPREQUEST renewal), random
// addresses.
void BM_Renew(benchmark::State& state) {
  auto table = Filled(1000000);
  const AddressRange r = Big();
  std::mt19937 rng(1);
  int64_t t = 0;
  for (auto _ : state) {
    const uint32_t i = rng() % 1000000;
    table->Put(LeaseFor(Ipv4Address(r.first.value() + i), i,
                        kNow + absl::Hours(2) + absl::Microseconds(++t)));
  }
}
BENCHMARK(BM_Renew);

// The lock-free reader path: Lookup of random addresses in a 1M-lease table.
void BM_Lookup(benchmark::State& state) {
  static LeaseTable* table = Filled(1000000).release();
  const AddressRange r = Big();
  std::mt19937 rng(2 + static_cast<unsigned>(state.thread_index()));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        table->Lookup(Ipv4Address(r.first.value() + rng() % 1000000)));
  }
}
BENCHMARK(BM_Lookup)->Threads(1)->Threads(2);

void BM_FindByClient(benchmark::State& state) {
  auto table = Filled(1000000);
  std::vector<ClientKey> keys;
  for (uint32_t i = 0; i < 4096; ++i) keys.push_back(Client(i * 241));
  size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table->FindByClient(keys[k++ & 4095]));
  }
}
BENCHMARK(BM_FindByClient);

}  // namespace
}  // namespace rackboot::dhcp
