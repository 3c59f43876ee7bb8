// MetricsRegistry: the daemon's one set of metrics (counters, gauges,
// histograms), read while the daemon runs by GET /metrics (Prometheus text or
// JSON, exporters.h) and at stop for the totals log lines.
//
// Written on the packet paths without sharing a cache line between threads:
// every series has one cell per shard (writer thread), each cell on cache
// lines of its own, written by exactly one thread with a relaxed load and
// store (no locked instruction). Readers sum the shards' cells. Gauges that
// are cheaper to compute on read (leases per subnet, hosts by phase, process
// statistics) are Collectors: functions the registry calls when it is read.
//
// Ownership and threads: one registry per daemon, made by main before the
// services and destroyed after them. Families are declared (Counter, Gauge,
// Histogram) and cells fetched (CounterFamily::Cell, ...) during setup, on any
// thread (a mutex guards the lists); a cell is then written only by the thread
// of the shard it was fetched for. AddCollector/RemoveCollector and Collect on
// any thread. Label values must be bounded (constants such as "tftp", "2xx",
// a subnet from site.toml, a thread name): never a client-chosen value.
//
//   metrics::MetricsRegistry registry(/*shards=*/4);
//   metrics::CounterFamily* bytes = registry.Counter(
//       "rackboot_transfer_bytes_total", "Payload bytes sent.", {"transport"});
//   metrics::CounterCell tftp_bytes = bytes->Cell({"tftp"}, shard);  // setup
//   tftp_bytes.Add(n);                                  // shard thread only
//   std::string text = metrics::PrometheusText(registry);  // any thread
#ifndef RACKBOOT_ENGINE_METRICS_METRICS_REGISTRY_H_
#define RACKBOOT_ENGINE_METRICS_METRICS_REGISTRY_H_

#include <atomic>
#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace rackboot::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// "counter", "gauge", "histogram" (the Prometheus TYPE line's word).
absl::string_view MetricTypeName(MetricType type);

namespace internal {
// One shard's counter or gauge value, alone on its cache line.
struct alignas(64) Cell {
  std::atomic<uint64_t> value{0};
};
static_assert(sizeof(Cell) == 64);
}  // namespace internal

// A counter cell of one series for one shard. Default-constructed: writes
// nothing (a service run without a registry). Copyable handle; REQUIRES: only
// the shard's thread calls Add.
class CounterCell {
 public:
  CounterCell() = default;
  void Add(uint64_t n = 1) const {
    if (cell_ == nullptr) return;
    // One writer: a plain load and store, no read-modify-write instruction.
    cell_->store(cell_->load(std::memory_order_relaxed) + n,
                 std::memory_order_relaxed);
  }
  // This shard's share (tests, the stop log).
  uint64_t value() const {
    return cell_ ? cell_->load(std::memory_order_relaxed) : 0;
  }

 private:
  friend class Family;
  explicit CounterCell(std::atomic<uint64_t>* cell) : cell_(cell) {}
  std::atomic<uint64_t>* cell_ = nullptr;
};

// A gauge cell of one series for one shard: the shard's contribution, which
// may go up and down (transfers it runs); the gauge is the sum over shards.
class GaugeCell {
 public:
  GaugeCell() = default;
  void Add(int64_t n) const {
    if (cell_ == nullptr) return;
    cell_->store(
        cell_->load(std::memory_order_relaxed) + static_cast<uint64_t>(n),
        std::memory_order_relaxed);
  }
  void Set(int64_t v) const {
    if (cell_ != nullptr) {
      cell_->store(static_cast<uint64_t>(v), std::memory_order_relaxed);
    }
  }
  int64_t value() const {
    return cell_ ? static_cast<int64_t>(cell_->load(std::memory_order_relaxed))
                 : 0;
  }

 private:
  friend class Family;
  explicit GaugeCell(std::atomic<uint64_t>* cell) : cell_(cell) {}
  std::atomic<uint64_t>* cell_ = nullptr;
};

// A histogram cell of one series for one shard: bucket counts (one per upper
// bound, plus +Inf) and the sum, on cache lines only this shard writes.
class HistogramCell {
 public:
  HistogramCell() = default;
  void Observe(double v) const {
    if (words_ == nullptr) return;
    size_t i = 0;
    while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
    Bump(words_[i], 1);
    std::atomic<uint64_t>& sum = words_[bounds_->size() + 1];
    sum.store(
        std::bit_cast<uint64_t>(
            std::bit_cast<double>(sum.load(std::memory_order_relaxed)) + v),
        std::memory_order_relaxed);
  }

 private:
  friend class Family;
  HistogramCell(std::atomic<uint64_t>* words, const std::vector<double>* bounds)
      : words_(words), bounds_(bounds) {}
  static void Bump(std::atomic<uint64_t>& w, uint64_t n) {
    w.store(w.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<uint64_t>* words_ = nullptr;
  const std::vector<double>* bounds_ = nullptr;
};

// One series as read: label values (in the family's label order) and its
// value; for a histogram the cumulative bucket counts (one per bound, then
// +Inf), the sum and the count (== the +Inf bucket).
struct SeriesSnapshot {
  std::vector<std::string> label_values;
  double value = 0;
  std::vector<uint64_t> buckets;
  double sum = 0;
  uint64_t count = 0;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms: bucket upper bounds, ascending
  std::vector<SeriesSnapshot> series;
};

// What a collector reports: one value per label set (gauges, counters).
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
};
using CollectFn = std::function<void(std::vector<Sample>* out)>;

// A family of series sharing name, help, type and label names. Made by the
// registry; lives as long as it.
class Family {
 public:
  Family(std::string name, std::string help, MetricType type,
         std::vector<std::string> label_names, std::vector<double> bounds,
         int shards);
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  int shards() const { return shards_; }

  // Makes the series `label_values` exist (it is exported, at 0, before its
  // first write): setup, so that a scrape shows every bounded label value.
  void Touch(absl::Span<const absl::string_view> label_values);

  FamilySnapshot Snapshot() const;

 protected:
  // The cell of series `label_values` for `shard` (the series is made on first
  // use). REQUIRES: label_values.size() == label_names().size(), 0 <= shard <
  // shards() (checked: a wrong call is a programming error).
  std::atomic<uint64_t>* Words(absl::Span<const absl::string_view> label_values,
                               int shard);
  CounterCell MakeCounterCell(std::atomic<uint64_t>* w) const {
    return CounterCell(w);
  }
  GaugeCell MakeGaugeCell(std::atomic<uint64_t>* w) const {
    return GaugeCell(w);
  }
  HistogramCell MakeHistogramCell(std::atomic<uint64_t>* w) const {
    return HistogramCell(w, &bounds_);
  }

 private:
  struct Series;
  // Words per shard, rounded up to whole cache lines: 1 for counters and
  // gauges; bounds + 1 buckets + 1 sum for histograms.
  size_t stride() const;

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  const int shards_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
};

class CounterFamily : public Family {
 public:
  using Family::Family;
  CounterCell Cell(absl::Span<const absl::string_view> label_values,
                   int shard) {
    return MakeCounterCell(Words(label_values, shard));
  }
};

class GaugeFamily : public Family {
 public:
  using Family::Family;
  GaugeCell Cell(absl::Span<const absl::string_view> label_values, int shard) {
    return MakeGaugeCell(Words(label_values, shard));
  }
};

class HistogramFamily : public Family {
 public:
  using Family::Family;
  HistogramCell Cell(absl::Span<const absl::string_view> label_values,
                     int shard) {
    return MakeHistogramCell(Words(label_values, shard));
  }
};

// Bucket bounds, seconds: transfers (10 ms .. 10 min) and journal commits
// (100 us .. 1 s).
std::vector<double> TransferDurationBuckets();
std::vector<double> CommitLatencyBuckets();

class MetricsRegistry {
 public:
  // `shards`: the cells per series of a family declared without its own
  // count (the daemon passes its per-core shard count).
  explicit MetricsRegistry(int shards = 1);
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  int shards() const { return shards_; }

  // Declares a family, or returns the one declared before under `name` (TFTP
  // and HTTP share rackboot_transfers_total). A second declaration with
  // another type, other labels or a collector of that name is a programming
  // error (CHECK). `shards` 0: the registry's count; a family written by one
  // thread only (DHCP, the journal's writer) passes 1.
  CounterFamily* Counter(absl::string_view name, absl::string_view help,
                         std::vector<std::string> label_names = {},
                         int shards = 0);
  GaugeFamily* Gauge(absl::string_view name, absl::string_view help,
                     std::vector<std::string> label_names = {}, int shards = 0);
  HistogramFamily* Histogram(absl::string_view name, absl::string_view help,
                             std::vector<std::string> label_names,
                             std::vector<double> bounds, int shards = 0);

  // A family computed on read: `fn` runs on the reading thread (an HTTP
  // shard serving /metrics) for every Collect, so it must be cheap, thread-
  // safe and bounded (no I/O but /proc). Returns an id for RemoveCollector,
  // which the owner calls before `fn`'s captures die. `type`: kCounter or
  // kGauge.
  uint64_t AddCollector(absl::string_view name, absl::string_view help,
                        MetricType type, std::vector<std::string> label_names,
                        CollectFn fn);
  // Waits for a Collect running `fn` to finish.
  void RemoveCollector(uint64_t id);

  // Every family and collector now, in declaration order. Any thread.
  std::vector<FamilySnapshot> Collect() const;

  // The sum over shards and label sets of a counter or gauge family (0 if
  // undeclared): the stop log's totals. Any thread.
  double Total(absl::string_view name) const;
  // The value of one series (0 if absent).
  double Value(absl::string_view name,
               absl::Span<const absl::string_view> label_values) const;

 private:
  struct Collector;
  struct Entry;
  Family* Declare(absl::string_view name, absl::string_view help,
                  MetricType type, std::vector<std::string> label_names,
                  std::vector<double> bounds, int shards);

  const int shards_;
  // Collect holds it shared while collectors run; RemoveCollector
  // exclusively, so a removed collector is never running.
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

// The process's own gauges, computed on read from /proc/self: resident
// memory, open descriptors, the descriptor limit, CPU seconds, and CPU
// seconds per thread by thread name (/proc/self/task/*/stat, summed over
// threads of the same name). Call once, from main.
void RegisterProcessMetrics(MetricsRegistry& registry);

}  // namespace rackboot::metrics

#endif  // RACKBOOT_ENGINE_METRICS_METRICS_REGISTRY_H_
