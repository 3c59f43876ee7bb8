#include "engine/http/http_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/files/file_root.h"
#include "engine/io/tcp_socket.h"
#include "engine/metrics/transfer_metrics.h"
#include "engine/os/descriptor_limit.h"
#include "glog/logging.h"

namespace rackboot::http {
namespace {

// Descriptors kept free for everything that is not an HTTP connection or a
// kept file descriptor (TFTP sizes its own budget the same way; the reactors
// back off on EMFILE anyway, so this only keeps the cap honest).
constexpr size_t kDescriptorReserve = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<FileCache>> OpenHttpFileCache(
    const std::string& dir, RenderedFiles* rendered, absl::string_view key) {
  absl::StatusOr<FileRoot> root = FileRoot::Open(dir);
  if (!root.ok()) {
    return absl::Status(
        root.status().code(),
        absl::StrCat("http: ", key, " ", dir, ": ", root.status().message()));
  }
  return std::make_unique<FileCache>(*std::move(root), rendered,
                                     FileCache::kDefaultKeepUnused,
                                     FileCache::kDefaultMaxDescriptors);
}

absl::StatusOr<std::unique_ptr<HttpService>> HttpService::Create(
    const HttpServiceOptions& options, int shards) {
  std::unique_ptr<HttpService> service(new HttpService());
  service->options_ = options;
  if (!options.boot_root.empty()) {
    absl::StatusOr<std::unique_ptr<FileCache>> boot =
        OpenHttpFileCache(options.boot_root, options.rendered, "tftp.root");
    if (!boot.ok()) return boot.status();
    service->boot_ = *std::move(boot);
  }
  if (!options.repo_root.empty()) {
    absl::StatusOr<std::unique_ptr<FileCache>> repo =
        OpenHttpFileCache(options.repo_root, nullptr, "http.repo_root");
    if (!repo.ok()) return repo.status();
    service->repo_ = *std::move(repo);
  }
  // FileRoutes answers 404 for a missing cache.
  service->files_ =
      std::make_unique<FileRoutes>(service->boot_.get(), service->repo_.get());
  std::vector<std::pair<std::string, HttpRoutes*>> prefixes = {
      {"/boot/", service->files_.get()}, {"/repo/", service->files_.get()}};
  for (const auto& route : options.routes) prefixes.push_back(route);
  absl::StatusOr<std::unique_ptr<PrefixRoutes>> routes =
      PrefixRoutes::Create(std::move(prefixes));
  if (!routes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("http: ", routes.status().message()));
  }
  service->routes_ = *std::move(routes);
  const size_t limit = os::RaiseDescriptorLimit();
  // Besides the reserve, each cache may keep kDefaultMaxDescriptors.
  const size_t fixed = kDescriptorReserve + FileCache::kDefaultMaxDescriptors *
                                                ((service->boot_ ? 1 : 0) +
                                                 (service->repo_ ? 1 : 0));
  size_t max_connections = std::max<size_t>(1, options.max_connections);
  if (limit > fixed + 1 && max_connections > limit - fixed) {
    LOG(WARNING) << "http: max_connections " << max_connections
                 << " lowered to " << limit - fixed
                 << " by the descriptor limit " << limit
                 << " (ulimit -n, systemd LimitNOFILE=)";
    max_connections = limit - fixed;
  }
  service->budget_ = std::make_unique<HttpConnectionBudget>(max_connections);
  service->shards_.resize(static_cast<size_t>(std::max(1, shards)));
  service->DeclareMetrics(options.metrics, std::max(1, shards));
  return service;
}

void HttpService::DeclareMetrics(metrics::MetricsRegistry* registry,
                                 int shards) {
  if (registry == nullptr) {
    own_metrics_ = std::make_unique<metrics::MetricsRegistry>(shards);
    registry = own_metrics_.get();
  }
  metrics_ = registry;
  // The transfer families are TFTP's too (the same declaration returns the
  // same family).
  const metrics::TransferFamilies transfers =
      metrics::DeclareTransferFamilies(*registry, shards);

  metrics::CounterFamily* responses =
      registry->Counter("rackboot_http_responses_total",
                        "HTTP responses by status class.", {"code"}, shards);
  static constexpr absl::string_view kClasses[] = {"2xx", "3xx", "4xx", "5xx"};
  cells_.resize(static_cast<size_t>(shards));
  for (int i = 0; i < shards; ++i) {
    HttpShardMetrics& m = cells_[static_cast<size_t>(i)];
    m.active = transfers.active->Cell({"http"}, i);
    m.completed = transfers.total->Cell({"http", "complete"}, i);
    m.failed = transfers.total->Cell({"http", "failed"}, i);
    m.bytes = transfers.bytes->Cell({"http"}, i);
    m.duration = transfers.duration->Cell({"http"}, i);
    for (int k = 0; k < 4; ++k)
      m.responses[k] = responses->Cell({kClasses[k]}, i);
  }
  // Counted once per connection (service-wide atomics, readable any time).
  struct PerConnection {
    const char* name;
    const char* help;
    metrics::MetricType type;
    std::atomic<uint64_t> HttpCounters::*field;
  };
  static constexpr PerConnection kPerConnection[] = {
      {"rackboot_http_connections_total", "HTTP connections accepted.",
       metrics::MetricType::kCounter, &HttpCounters::connections_accepted},
      {"rackboot_http_connections_refused_total",
       "HTTP connections answered 503 past http.max_connections.",
       metrics::MetricType::kCounter, &HttpCounters::connections_refused},
      {"rackboot_http_connections_open", "HTTP connections open.",
       metrics::MetricType::kGauge, &HttpCounters::connections_open},
  };
  for (const PerConnection& p : kPerConnection) {
    std::atomic<uint64_t>* value = &(counters_.*p.field);
    collectors_.push_back(registry->AddCollector(
        p.name, p.help, p.type, {}, [value](std::vector<metrics::Sample>* out) {
          out->push_back(
              {{},
               static_cast<double>(value->load(std::memory_order_relaxed))});
        }));
  }
}

HttpService::~HttpService() {
  for (uint64_t id : collectors_) metrics_->RemoveCollector(id);
}

absl::Status HttpService::StartShard(int shard, io::Reactor& reactor) {
  if (shard < 0 || shard >= static_cast<int>(shards_.size())) {
    return absl::InternalError(absl::StrCat(
        "shard ", shard, " beyond the ", shards_.size(), " it was made for"));
  }
  io::TcpListenOptions listen_options;
  listen_options.reuse_port = true;
  listen_options.bind_to_device = options_.bind_to_device;
  // With port 0 the first shard picks the port; the others join it.
  const io::SocketAddress address = shard == 0 ? options_.listen : address_;
  absl::StatusOr<io::TcpSocket> listener =
      io::TcpSocket::Listen(address, listen_options);
  if (!listener.ok()) {
    return absl::Status(listener.status().code(),
                        absl::StrCat("http: ", listener.status().message()));
  }
  absl::StatusOr<io::SocketAddress> local = listener->LocalAddress();
  if (!local.ok()) return local.status();
  HttpShardOptions shard_options;
  shard_options.limits = options_.limits;
  shard_options.events = options_.events;
  shard_options.transfers = options_.transfers;
  shard_options.transfer_list = options_.transfer_list_base + shard;
  shard_options.metrics = cells_[static_cast<size_t>(shard)];
  auto http_shard = std::make_unique<HttpShard>(
      &reactor, routes_.get(), &counters_, budget_.get(), shard_options);
  if (absl::Status s = http_shard->Listen(*std::move(listener)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("http: ", s.message()));
  }
  if (shard == 0) {
    address_ = *local;
    std::string extra_routes;
    for (const auto& route : options_.routes) {
      absl::StrAppend(&extra_routes, ", ", route.first);
    }
    LOG(INFO) << "http: serving /boot/ on " << address_.ToString()
              << (repo_ ? absl::StrCat(", /repo/ from ", options_.repo_root)
                        : std::string())
              << extra_routes << " with " << shards_.size() << " shard(s) on "
              << io::IoBackendName(reactor.backend()) << ", at most "
              << budget_->max() << " connections, header timeout "
              << absl::FormatDuration(options_.limits.header_timeout)
              << ", idle timeout "
              << absl::FormatDuration(options_.limits.idle_timeout);
  }
  shards_[shard] = std::move(http_shard);
  return absl::OkStatus();
}

void HttpService::StopShard(int shard, io::Reactor& reactor) {
  (void)reactor;
  // The shard closes its connections and listener on its reactor, which is
  // still alive.
  shards_[shard].reset();
}

std::string HttpService::Ready() const {
  return absl::StrCat("HTTP on ", address_.ToString());
}

std::vector<daemon::Metric> HttpService::Metrics() const {
  const HttpCounters& c = counters_;
  auto get = [](const std::atomic<uint64_t>& v) {
    return static_cast<int64_t>(v.load(std::memory_order_relaxed));
  };
  return {{"connections", get(c.connections_accepted)},
          {"refused", get(c.connections_refused)},
          {"responses", get(c.responses)},
          {"2xx", get(c.responses_2xx)},
          {"3xx", get(c.responses_3xx)},
          {"4xx", get(c.responses_4xx)},
          {"5xx", get(c.responses_5xx)},
          {"incomplete", get(c.responses_incomplete)},
          {"files", get(c.files_delivered)},
          {"bytes", get(c.bytes_sent)}};
}

}  // namespace rackboot::http
