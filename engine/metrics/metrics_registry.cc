#include "engine/metrics/metrics_registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace rackboot::metrics {

absl::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::vector<double> TransferDurationBuckets() {
  return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

std::vector<double> CommitLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,   0.025,   0.05,   0.1,   0.25,   1};
}

// ---- Family ----

// One label set's cells: `shards` blocks of `stride` words, each block
// starting on a cache line of its own (operator new with 64-byte alignment),
// so two shards never write the same line.
struct Family::Series {
  std::vector<std::string> label_values;
  std::atomic<uint64_t>* words = nullptr;
  size_t count = 0;

  Series(std::vector<std::string> values, size_t n)
      : label_values(std::move(values)), count(n) {
    words = static_cast<std::atomic<uint64_t>*>(::operator new (
        n * sizeof(std::atomic<uint64_t>), std::align_val_t{64}));
    for (size_t i = 0; i < n; ++i) new (&words[i]) std::atomic<uint64_t>(0);
  }
  ~Series() { ::operator delete (words, std::align_val_t{64}); }
  Series(const Series&) = delete;
  Series& operator=(const Series&) = delete;
};

Family::Family(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, std::vector<double> bounds,
               int shards)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      shards_(std::max(1, shards)) {}

Family::~Family() = default;

size_t Family::stride() const {
  const size_t words = type_ == MetricType::kHistogram ? bounds_.size() + 2 : 1;
  return (words + 7) / 8 * 8;  // whole 64-byte lines
}

std::atomic<uint64_t>* Family::Words(
    absl::Span<const absl::string_view> label_values, int shard) {
  CHECK_EQ(label_values.size(), label_names_.size())
      << name_ << ": wrong number of label values";
  CHECK(shard >= 0 && shard < shards_)
      << name_ << ": shard " << shard << " of " << shards_;
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<Series>& s : series_) {
    if (std::equal(s->label_values.begin(), s->label_values.end(),
                   label_values.begin(), label_values.end())) {
      return s->words + stride() * static_cast<size_t>(shard);
    }
  }
  std::vector<std::string> values(label_values.begin(), label_values.end());
  series_.push_back(std::make_unique<Series>(
      std::move(values), stride() * static_cast<size_t>(shards_)));
  return series_.back()->words + stride() * static_cast<size_t>(shard);
}

void Family::Touch(absl::Span<const absl::string_view> label_values) {
  (void)Words(label_values, 0);
}

FamilySnapshot Family::Snapshot() const {
  FamilySnapshot out;
  out.name = name_;
  out.help = help_;
  out.type = type_;
  out.label_names = label_names_;
  out.bounds = bounds_;
  const size_t step = stride();
  absl::MutexLock lock(&mu_);
  out.series.reserve(series_.size());
  for (const std::unique_ptr<Series>& s : series_) {
    SeriesSnapshot snap;
    snap.label_values = s->label_values;
    if (type_ == MetricType::kHistogram) {
      const size_t n = bounds_.size() + 1;
      snap.buckets.assign(n, 0);
      for (int shard = 0; shard < shards_; ++shard) {
        const std::atomic<uint64_t>* w = s->words + step * shard;
        for (size_t i = 0; i < n; ++i) {
          snap.buckets[i] += w[i].load(std::memory_order_relaxed);
        }
        snap.sum += std::bit_cast<double>(w[n].load(std::memory_order_relaxed));
      }
      // Cumulative, as Prometheus wants; the count is the +Inf bucket, so
      // the two always agree even when a shard writes while we read.
      for (size_t i = 1; i < n; ++i) snap.buckets[i] += snap.buckets[i - 1];
      snap.count = snap.buckets.back();
    } else {
      uint64_t sum = 0;
      for (int shard = 0; shard < shards_; ++shard) {
        sum += s->words[step * shard].load(std::memory_order_relaxed);
      }
      // Gauges are two's-complement contributions that may be negative on
      // one shard (a transfer started on one thread, ended on another never
      // happens today, but the sum is right either way).
      snap.value = type_ == MetricType::kGauge
                       ? static_cast<double>(static_cast<int64_t>(sum))
                       : static_cast<double>(sum);
    }
    out.series.push_back(std::move(snap));
  }
  return out;
}

// ---- MetricsRegistry ----

struct MetricsRegistry::Collector {
  uint64_t id = 0;
  std::string name, help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  CollectFn fn;
};

struct MetricsRegistry::Entry {
  std::unique_ptr<Family> family;        // or
  std::unique_ptr<Collector> collector;  // one of them
  absl::string_view name() const {
    return family ? family->name() : collector->name;
  }
};

MetricsRegistry::MetricsRegistry(int shards) : shards_(std::max(1, shards)) {}
MetricsRegistry::~MetricsRegistry() = default;

Family* MetricsRegistry::Declare(absl::string_view name, absl::string_view help,
                                 MetricType type,
                                 std::vector<std::string> label_names,
                                 std::vector<double> bounds, int shards) {
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<Entry>& e : entries_) {
    if (e->name() != name) continue;
    CHECK(e->family != nullptr) << name << ": already a collector";
    CHECK(e->family->type() == type && e->family->label_names() == label_names)
        << name << ": declared twice with different type or labels";
    return e->family.get();
  }
  auto entry = std::make_unique<Entry>();
  const int n = shards > 0 ? shards : shards_;
  std::string n_name(name), n_help(help);
  switch (type) {
    case MetricType::kCounter:
      entry->family = std::make_unique<CounterFamily>(
          n_name, n_help, type, std::move(label_names), std::move(bounds), n);
      break;
    case MetricType::kGauge:
      entry->family = std::make_unique<GaugeFamily>(
          n_name, n_help, type, std::move(label_names), std::move(bounds), n);
      break;
    case MetricType::kHistogram:
      entry->family = std::make_unique<HistogramFamily>(
          n_name, n_help, type, std::move(label_names), std::move(bounds), n);
      break;
  }
  entries_.push_back(std::move(entry));
  return entries_.back()->family.get();
}

CounterFamily* MetricsRegistry::Counter(absl::string_view name,
                                        absl::string_view help,
                                        std::vector<std::string> label_names,
                                        int shards) {
  return static_cast<CounterFamily*>(Declare(
      name, help, MetricType::kCounter, std::move(label_names), {}, shards));
}

GaugeFamily* MetricsRegistry::Gauge(absl::string_view name,
                                    absl::string_view help,
                                    std::vector<std::string> label_names,
                                    int shards) {
  return static_cast<GaugeFamily*>(Declare(name, help, MetricType::kGauge,
                                           std::move(label_names), {}, shards));
}

HistogramFamily* MetricsRegistry::Histogram(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> label_names, std::vector<double> bounds,
    int shards) {
  CHECK(std::is_sorted(bounds.begin(), bounds.end())) << name;
  return static_cast<HistogramFamily*>(
      Declare(name, help, MetricType::kHistogram, std::move(label_names),
              std::move(bounds), shards));
}

uint64_t MetricsRegistry::AddCollector(absl::string_view name,
                                       absl::string_view help, MetricType type,
                                       std::vector<std::string> label_names,
                                       CollectFn fn) {
  CHECK(type != MetricType::kHistogram) << name << ": collectors are scalar";
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<Entry>& e : entries_) {
    CHECK(e->name() != name) << name << ": declared twice";
  }
  auto entry = std::make_unique<Entry>();
  entry->collector = std::make_unique<Collector>();
  Collector& c = *entry->collector;
  c.id = next_id_++;
  c.name = std::string(name);
  c.help = std::string(help);
  c.type = type;
  c.label_names = std::move(label_names);
  c.fn = std::move(fn);
  entries_.push_back(std::move(entry));
  return c.id;
}

void MetricsRegistry::RemoveCollector(uint64_t id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [id](const std::unique_ptr<Entry>& e) {
                                  return e->collector && e->collector->id == id;
                                }),
                 entries_.end());
}

std::vector<FamilySnapshot> MetricsRegistry::Collect() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<FamilySnapshot> out;
  out.reserve(entries_.size());
  for (const std::unique_ptr<Entry>& e : entries_) {
    if (e->family) {
      out.push_back(e->family->Snapshot());
      continue;
    }
    const Collector& c = *e->collector;
    FamilySnapshot snap;
    snap.name = c.name;
    snap.help = c.help;
    snap.type = c.type;
    snap.label_names = c.label_names;
    std::vector<Sample> samples;
    c.fn(&samples);
    snap.series.reserve(samples.size());
    for (Sample& s : samples) {
      if (s.label_values.size() != c.label_names.size()) {
        LOG_FIRST_N(ERROR, 1) << c.name << ": collector sample with "
                              << s.label_values.size() << " label values, "
                              << "dropped";
        continue;
      }
      SeriesSnapshot series;
      series.label_values = std::move(s.label_values);
      series.value = s.value;
      snap.series.push_back(std::move(series));
    }
    out.push_back(std::move(snap));
  }
  return out;
}

double MetricsRegistry::Total(absl::string_view name) const {
  FamilySnapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = std::find_if(
        entries_.begin(), entries_.end(),
        [name](const std::unique_ptr<Entry>& e) { return e->name() == name; });
    if (it == entries_.end() || !(*it)->family) return 0;
    snap = (*it)->family->Snapshot();
  }
  double total = 0;
  for (const SeriesSnapshot& s : snap.series) {
    total += snap.type == MetricType::kHistogram ? s.count : s.value;
  }
  return total;
}

double MetricsRegistry::Value(
    absl::string_view name,
    absl::Span<const absl::string_view> label_values) const {
  for (const FamilySnapshot& f : Collect()) {
    if (f.name != name) continue;
    for (const SeriesSnapshot& s : f.series) {
      if (std::equal(s.label_values.begin(), s.label_values.end(),
                     label_values.begin(), label_values.end())) {
        return f.type == MetricType::kHistogram ? s.count : s.value;
      }
    }
  }
  return 0;
}

// ---- Process metrics ----
namespace {

// Reads a small /proc file whole; "" on failure.
std::string ReadSmallFile(const char* path) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[1024];
  std::string out;
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > 16384) break;
  }
  close(fd);
  return out;
}

// From a /proc/<pid>/stat line: the command name (between the parentheses,
// which may itself hold spaces and parentheses) and utime + stime in clock
// ticks (fields 14 and 15).
bool ParseStat(absl::string_view stat, std::string* comm, uint64_t* ticks) {
  const size_t open_paren = stat.find('(');
  const size_t close_paren = stat.rfind(')');
  if (open_paren == absl::string_view::npos ||
      close_paren == absl::string_view::npos || close_paren < open_paren) {
    return false;
  }
  if (comm != nullptr) {
    *comm =
        std::string(stat.substr(open_paren + 1, close_paren - open_paren - 1));
  }
  // After ") ": field 3 (state) is index 0 here; utime is field 14 -> 11.
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(close_paren + 1), ' ', absl::SkipEmpty());
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return false;
  }
  *ticks = utime + stime;
  return true;
}

// A thread name as a label value: printable ASCII only (names are ours, set
// by pthread_setname_np, but a library could name a thread anything).
std::string CleanName(const std::string& name) {
  std::string out;
  for (char c : name) {
    out.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '_');
  }
  return out.empty() ? "unnamed" : out;
}

double TicksPerSecond() {
  static const double ticks = [] {
    const long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<double>(t) : 100.0;
  }();
  return ticks;
}

}  // namespace

void RegisterProcessMetrics(MetricsRegistry& registry) {
  registry.AddCollector(
      "rackboot_process_resident_memory_bytes",
      "Resident memory of rackbootd (/proc/self/statm).", MetricType::kGauge,
      {}, [](std::vector<Sample>* out) {
        const std::string statm = ReadSmallFile("/proc/self/statm");
        std::vector<absl::string_view> f =
            absl::StrSplit(statm, ' ', absl::SkipEmpty());
        uint64_t pages = 0;
        if (f.size() >= 2 && absl::SimpleAtoi(f[1], &pages)) {
          out->push_back({{},
                          static_cast<double>(pages) *
                              static_cast<double>(sysconf(_SC_PAGESIZE))});
        }
      });
  registry.AddCollector(
      "rackboot_process_open_fds", "Open file descriptors of rackbootd.",
      MetricType::kGauge, {}, [](std::vector<Sample>* out) {
        DIR* dir = opendir("/proc/self/fd");
        if (dir == nullptr) return;
        double n = 0;
        while (const dirent* entry = readdir(dir)) {
          if (entry->d_name[0] != '.') ++n;
        }
        closedir(dir);
        out->push_back({{}, n - 1});  // not the directory's own descriptor
      });
  registry.AddCollector(
      "rackboot_process_max_fds",
      "The descriptor limit of rackbootd (RLIMIT_NOFILE, soft).",
      MetricType::kGauge, {}, [](std::vector<Sample>* out) {
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
          out->push_back({{}, static_cast<double>(limit.rlim_cur)});
        }
      });
  registry.AddCollector(
      "rackboot_process_cpu_seconds_total",
      "CPU time of rackbootd, user and system.", MetricType::kCounter, {},
      [](std::vector<Sample>* out) {
        uint64_t ticks = 0;
        if (ParseStat(ReadSmallFile("/proc/self/stat"), nullptr, &ticks)) {
          out->push_back({{}, static_cast<double>(ticks) / TicksPerSecond()});
        }
      });
  registry.AddCollector(
      "rackboot_thread_cpu_seconds_total",
      "CPU time per thread name, user and system (/proc/self/task/*/stat; "
      "threads of one name summed).",
      MetricType::kCounter, {"thread"}, [](std::vector<Sample>* out) {
        DIR* dir = opendir("/proc/self/task");
        if (dir == nullptr) return;
        std::map<std::string, uint64_t> by_name;
        while (const dirent* entry = readdir(dir)) {
          if (entry->d_name[0] == '.') continue;
          const std::string path =
              absl::StrCat("/proc/self/task/", entry->d_name, "/stat");
          std::string comm;
          uint64_t ticks = 0;
          if (ParseStat(ReadSmallFile(path.c_str()), &comm, &ticks)) {
            by_name[CleanName(comm)] += ticks;
          }
        }
        closedir(dir);
        for (const auto& [name, ticks] : by_name) {
          out->push_back(
              {{name}, static_cast<double>(ticks) / TicksPerSecond()});
        }
      });
}

}  // namespace rackboot::metrics
