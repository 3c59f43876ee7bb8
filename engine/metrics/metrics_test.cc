#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/metrics/exporters.h"
#include "engine/metrics/metrics_registry.h"
#include "gtest/gtest.h"

namespace rackboot::metrics {
namespace {

TEST(MetricsRegistryTest, CountersSumTheShards) {
  MetricsRegistry registry(4);
  CounterFamily* bytes = registry.Counter("rackboot_transfer_bytes_total",
                                          "Bytes.", {"transport"});
  std::vector<std::thread> threads;
  for (int shard = 0; shard < 4; ++shard) {
    threads.emplace_back([bytes, shard] {
      CounterCell cell = bytes->Cell({"tftp"}, shard);
      for (int i = 0; i < 100000; ++i) cell.Add(3);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(registry.Value("rackboot_transfer_bytes_total", {"tftp"}),
            4 * 100000 * 3);
  EXPECT_EQ(registry.Total("rackboot_transfer_bytes_total"), 1200000);
}

TEST(MetricsRegistryTest, ShardCellsAreOnDistinctCacheLines) {
  MetricsRegistry registry(2);
  CounterFamily* f = registry.Counter("rackboot_x_total", "X.", {});
  // Cells are 8-word blocks aligned to 64 bytes: write one shard and look at
  // the other's value, then check the addresses through the values' effect.
  CounterCell a = f->Cell({}, 0), b = f->Cell({}, 1);
  a.Add(5);
  EXPECT_EQ(a.value(), 5u);
  EXPECT_EQ(b.value(), 0u);
  HistogramFamily* h =
      registry.Histogram("rackboot_h_seconds", "H.", {}, {0.1, 1});
  HistogramCell h0 = h->Cell({}, 0), h1 = h->Cell({}, 1);
  h0.Observe(0.05);
  h1.Observe(0.5);
  h1.Observe(7);
  std::string text = PrometheusText(registry);
  EXPECT_NE(text.find("rackboot_h_seconds_bucket{le=\"0.1\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rackboot_h_seconds_bucket{le=\"1\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("rackboot_h_seconds_bucket{le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("rackboot_h_seconds_sum 7.55\n"), std::string::npos);
  EXPECT_NE(text.find("rackboot_h_seconds_count 3\n"), std::string::npos);
}

TEST(MetricsRegistryTest, RedeclaringReturnsTheSameFamily) {
  MetricsRegistry registry(2);
  CounterFamily* a = registry.Counter("rackboot_transfers_total", "T.",
                                      {"transport", "result"});
  CounterFamily* b = registry.Counter("rackboot_transfers_total", "T.",
                                      {"transport", "result"});
  EXPECT_EQ(a, b);
  EXPECT_DEATH(registry.Gauge("rackboot_transfers_total", "T.", {}),
               "declared twice");
}

TEST(MetricsRegistryTest, GaugesGoDownAndTouchedSeriesShowAtZero) {
  MetricsRegistry registry(2);
  GaugeFamily* active =
      registry.Gauge("rackboot_transfers_active", "A.", {"transport"});
  active->Touch({"http"});
  GaugeCell c0 = active->Cell({"tftp"}, 0), c1 = active->Cell({"tftp"}, 1);
  c0.Add(1);
  c0.Add(1);
  c1.Add(1);
  c0.Add(-1);
  EXPECT_EQ(registry.Value("rackboot_transfers_active", {"tftp"}), 2);
  const std::string text = PrometheusText(registry);
  EXPECT_NE(text.find("rackboot_transfers_active{transport=\"http\"} 0\n"),
            std::string::npos)
      << text;
}

TEST(MetricsRegistryTest, CollectorsRunOnReadAndCanBeRemoved) {
  MetricsRegistry registry(1);
  int calls = 0;
  const uint64_t id = registry.AddCollector(
      "rackboot_hosts", "Hosts by phase.", MetricType::kGauge, {"phase"},
      [&calls](std::vector<Sample>* out) {
        ++calls;
        out->push_back({{"armed"}, 3});
        out->push_back({{"done"}, 997});
        out->push_back({{"bad", "arity"}, 1});  // dropped
      });
  EXPECT_EQ(registry.Value("rackboot_hosts", {"done"}), 997);
  EXPECT_EQ(calls, 1);
  const std::string text = PrometheusText(registry);
  EXPECT_EQ(text,
            "# HELP rackboot_hosts Hosts by phase.\n"
            "# TYPE rackboot_hosts gauge\n"
            "rackboot_hosts{phase=\"armed\"} 3\n"
            "rackboot_hosts{phase=\"done\"} 997\n");
  registry.RemoveCollector(id);
  EXPECT_EQ(PrometheusText(registry), "");
}

TEST(ExportersTest, EscapesHelpAndLabelValues) {
  MetricsRegistry registry(1);
  registry.AddCollector("rackboot_y", "Back\\slash\nnewline.",
                        MetricType::kGauge, {"l"},
                        [](std::vector<Sample>* out) {
                          out->push_back({{"a\"b\\c\nd"}, 0.25});
                        });
  EXPECT_EQ(PrometheusText(registry),
            "# HELP rackboot_y Back\\\\slash\\nnewline.\n"
            "# TYPE rackboot_y gauge\n"
            "rackboot_y{l=\"a\\\"b\\\\c\\nd\"} 0.25\n");
}

TEST(ExportersTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12345678901234), "12345678901234");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
}

TEST(ExportersTest, JsonShape) {
  MetricsRegistry registry(2);
  registry.Counter("rackboot_c_total", "C.", {"transport"})
      ->Cell({"tftp"}, 1)
      .Add(7);
  registry.Histogram("rackboot_d_seconds", "D.", {}, {1})
      ->Cell({}, 0)
      .Observe(2);
  const nlohmann::json j = MetricsJson(registry);
  const nlohmann::json& c = j["metrics"]["rackboot_c_total"];
  EXPECT_EQ(c["type"], "counter");
  EXPECT_EQ(c["labels"], nlohmann::json::array({"transport"}));
  EXPECT_EQ(c["samples"][0]["labels"]["transport"], "tftp");
  EXPECT_EQ(c["samples"][0]["value"], 7);
  const nlohmann::json& d = j["metrics"]["rackboot_d_seconds"]["samples"][0];
  EXPECT_EQ(d["count"], 1);
  EXPECT_EQ(d["sum"], 2);
  EXPECT_EQ(d["buckets"][0]["le"], "1");
  EXPECT_EQ(d["buckets"][0]["count"], 0);
  EXPECT_EQ(d["buckets"][1]["le"], "+Inf");
  EXPECT_EQ(d["buckets"][1]["count"], 1);
}

TEST(ProcessMetricsTest, ReadsProcSelf) {
  MetricsRegistry registry(1);
  RegisterProcessMetrics(registry);
  std::thread named([] {
    pthread_setname_np(pthread_self(), "metrics-probe");
    volatile uint64_t x = 0;
    for (int i = 0; i < 50000000; ++i) x = x + static_cast<uint64_t>(i);
  });
  named.join();  // a joined thread leaves /proc/self/task: check the others
  EXPECT_GT(registry.Value("rackboot_process_resident_memory_bytes", {}),
            1 << 20);
  EXPECT_GE(registry.Value("rackboot_process_open_fds", {}), 3);
  EXPECT_GT(registry.Value("rackboot_process_max_fds", {}), 0);
  EXPECT_GT(registry.Value("rackboot_process_cpu_seconds_total", {}), 0);
  // This thread is gtest's main: its name is the binary's (metrics_test).
  std::string text = PrometheusText(registry);
  EXPECT_NE(
      text.find("rackboot_thread_cpu_seconds_total{thread=\"metrics_test\"}"),
      std::string::npos)
      << text;
}

}  // namespace
}  // namespace rackboot::metrics
