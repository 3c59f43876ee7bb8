// The metrics' costs: one increment on a shard cell (the packet paths' cost
// per counted event), and a whole /metrics body (PrometheusText and the JSON
// form) with families the size of a 1,000-host daemon: the daemon's own
// families (docs/metrics.md), leases of 4 subnets, hosts by phase (9 phases)
// and state, and 64 threads' CPU. Issue 13's target: /metrics in under 1 ms
// of server CPU with 1,000 hosts; BM_PrometheusText's "cpu" column is that
// (the route adds only the HTTP head). Run: bazel run -c opt
// //engine/metrics:metrics_benchmark
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/metrics/exporters.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::metrics {
namespace {

void BM_CounterAdd(benchmark::State& state) {
  MetricsRegistry registry(4);
  CounterCell cell =
      registry.Counter("rackboot_transfer_bytes_total", "B.", {"transport"})
          ->Cell({"tftp"}, 1);
  for (auto _ : state) {
    cell.Add(1468);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CounterAdd);

void BM_HistogramObserve(benchmark::State& state) {
  MetricsRegistry registry(4);
  HistogramCell cell =
      registry
          .Histogram("rackboot_transfer_duration_seconds", "D.", {"transport"},
                     TransferDurationBuckets())
          ->Cell({"tftp"}, 1);
  double v = 0.001;
  for (auto _ : state) {
    cell.Observe(v);
    v = v < 100 ? v * 1.7 : 0.001;
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_HistogramObserve);

// A registry shaped like the daemon's with 1,000 inventory hosts.
void Fill(MetricsRegistry& registry) {
  const int shards = registry.shards();
  const char* types[] = {"discover", "request", "decline",
                         "release",  "inform",  "other"};
  const char* outcomes[] = {"offer", "ack", "nak", "ignored"};
  CounterFamily* dhcp = registry.Counter("rackboot_dhcp_messages_total", "M.",
                                         {"type", "outcome"}, 1);
  for (const char* t : types) {
    for (const char* o : outcomes) dhcp->Cell({t, o}, 0).Add(1000);
  }
  registry.AddCollector("rackboot_dhcp_leases", "L.", MetricType::kGauge,
                        {"subnet", "state"}, [](std::vector<Sample>* out) {
                          for (int i = 0; i < 4; ++i) {
                            const std::string subnet =
                                "198.18." + std::to_string(i) + ".0/24";
                            out->push_back({{subnet, "bound"}, 250});
                            out->push_back({{subnet, "free"}, 3});
                          }
                        });
  registry.Counter("rackboot_lease_journal_syncs_total", "S.", {}, 1)
      ->Cell({}, 0)
      .Add(400);
  registry
      .Histogram("rackboot_lease_journal_commit_seconds", "C.", {},
                 CommitLatencyBuckets(), 1)
      ->Cell({}, 0)
      .Observe(0.002);
  for (const char* transport : {"tftp", "http"}) {
    for (int s = 0; s < shards; ++s) {
      registry.Gauge("rackboot_transfers_active", "A.", {"transport"})
          ->Cell({transport}, s)
          .Add(3);
      registry
          .Counter("rackboot_transfers_total", "T.", {"transport", "result"})
          ->Cell({transport, "complete"}, s)
          .Add(1000);
      registry
          .Counter("rackboot_transfers_total", "T.", {"transport", "result"})
          ->Cell({transport, "failed"}, s)
          .Add(3);
      registry.Counter("rackboot_transfer_bytes_total", "B.", {"transport"})
          ->Cell({transport}, s)
          .Add(1 << 30);
      registry
          .Histogram("rackboot_transfer_duration_seconds", "D.", {"transport"},
                     TransferDurationBuckets())
          ->Cell({transport}, s)
          .Observe(1.5);
    }
  }
  for (const char* code : {"2xx", "3xx", "4xx", "5xx"}) {
    registry.Counter("rackboot_http_responses_total", "R.", {"code"})
        ->Cell({code}, 0)
        .Add(1000);
  }
  registry.Counter("rackboot_tftp_retransmits_total", "R.")->Cell({}, 0).Add(9);
  registry.AddCollector(
      "rackboot_hosts", "H.", MetricType::kGauge, {"phase"},
      [](std::vector<Sample>* out) {
        for (const char* p :
             {"unknown", "armed", "dhcp", "booting", "installing", "done",
              "installed", "failed", "stalled"}) {
          out->push_back({{p}, 111});
        }
      });
  registry.AddCollector(
      "rackboot_hosts_by_state", "S.", MetricType::kGauge, {"state"},
      [](std::vector<Sample>* out) {
        for (const char* s : {"install", "installed", "localboot"}) {
          out->push_back({{s}, 333});
        }
      });
  registry.AddCollector(
      "rackboot_thread_cpu_seconds_total_fake", "T.", MetricType::kCounter,
      {"thread"}, [](std::vector<Sample>* out) {
        for (int i = 0; i < 64; ++i) {
          out->push_back({{"shard-" + std::to_string(i)}, 12.5 * i});
        }
      });
}

void BM_PrometheusText(benchmark::State& state) {
  MetricsRegistry registry(static_cast<int>(state.range(0)));
  Fill(registry);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = PrometheusText(registry);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_PrometheusText)->Arg(2)->Arg(64)->Unit(benchmark::kMicrosecond);

// The same with the process collectors (reads /proc/self: RSS, descriptors,
// every thread's stat file).
void BM_PrometheusTextWithProcess(benchmark::State& state) {
  MetricsRegistry registry(2);
  Fill(registry);
  RegisterProcessMetrics(registry);
  for (auto _ : state) {
    std::string text = PrometheusText(registry);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_PrometheusTextWithProcess)->Unit(benchmark::kMicrosecond);

void BM_MetricsJson(benchmark::State& state) {
  MetricsRegistry registry(2);
  Fill(registry);
  for (auto _ : state) {
    std::string text = MetricsJson(registry).dump();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_MetricsJson)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rackboot::metrics
