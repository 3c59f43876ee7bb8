// HttpService: the HTTP service of rackbootd, one HttpShard on every shard of
// the daemon's ShardGroup (engine/daemon), serving the URL space of
// http_routes.h: /boot/ over tftp.root (with the daemon's per-host rendered
// files) and /repo/ over http.repo_root.
//
// Both through FileCaches of its own that keep each mapped file's descriptor
// (FileCache max_descriptors), so file bodies leave by sendfile(2) from the
// page cache. The daemon's shared cache does not keep them: TFTP sends from
// the mapping, and kept descriptors would sit outside its descriptor budget.
// The cost of two caches over one tree is a second mapping (address space,
// not memory: the page cache is shared) of a file served by both protocols.
//
// Every shard listens on http.listen with SO_REUSEPORT (the kernel spreads
// connections); the connection cap (http.max_connections) is one count for
// the whole service.
//
//   options.boot_root = site.tftp.root;  options.rendered = &rendered;
//   absl::StatusOr<std::unique_ptr<HttpService>> http =
//       HttpService::Create(options, shards.shards());
//   shards.Start({tftp.get(), http->get()});
//   ...
//   shards.Stop();
//
// Create (main thread) opens the roots, so it must run before root is
// dropped; the Service methods run as daemon::Service says; counters() and
// Metrics() may be read from any thread while the shards run (atomics).
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_SERVICE_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_SERVICE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/daemon/events.h"
#include "engine/daemon/service.h"
#include "engine/files/file_cache.h"
#include "engine/http/http_connection.h"
#include "engine/http/http_routes.h"
#include "engine/http/http_shard.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::http {

struct HttpServiceOptions {
  // http.listen. Port 0 picks one (shard 0 binds, the others join it).
  io::SocketAddress listen;
  // tftp.root: served under /boot/; "" for none (404).
  std::string boot_root;
  // Per-host files rendered for /boot/ (the daemon's CurrentSite); borrowed,
  // thread-safe, may be null.
  RenderedFiles* rendered = nullptr;
  // http.repo_root: served under /repo/; "" for none (404).
  std::string repo_root;
  // http.max_connections: open at once across all shards; past it, 503. Also
  // lowered to what the descriptor limit leaves.
  size_t max_connections = 4096;
  // Timeouts and sizes (http.header_timeout_ms and http.idle_timeout_ms set
  // two of them; the rest keep HttpLimits' defaults).
  HttpLimits limits;
  // SO_BINDTODEVICE for the listeners (server.interface); "" for none.
  std::string bind_to_device;
  // Borrowed, thread-safe, may be null: a FileDelivered per whole file.
  daemon::EventSink* events = nullptr;
  // Transfers in progress (borrowed, outlives the service; null: none); the
  // shards use its lists transfer_list_base + shard index.
  daemon::TransferTable* transfers = nullptr;
  int transfer_list_base = 0;
  // Extra routes by path prefix beside /boot/ and /repo/ (PrefixRoutes
  // rules: "/api/v1/" a subtree, "/metrics" exact, "/" exactly "/"). The
  // routes are borrowed, thread-safe and must outlive the service. A prefix
  // given twice (or "/boot/", "/repo/") fails Create.
  std::vector<std::pair<std::string, HttpRoutes*>> routes;
  // The daemon's registry (borrowed, outlives the service): the service
  // declares its families there (docs/metrics.md) and gives every shard its
  // cells. Null: a registry of the service's own.
  metrics::MetricsRegistry* metrics = nullptr;
};

// A FileCache over `dir` as HTTP serves it: every mapping keeps its descriptor
// (up to FileCache::kDefaultMaxDescriptors), so bodies leave by sendfile(2).
// `key` names the setting in errors ("tftp.root"). `rendered` may be null.
absl::StatusOr<std::unique_ptr<FileCache>> OpenHttpFileCache(
    const std::string& dir, RenderedFiles* rendered, absl::string_view key);

class HttpService : public daemon::Service {
 public:
  // Main thread, before the shards start: opens boot_root and repo_root
  // (before root is dropped) and sizes the connection cap. Binds nothing yet.
  // REQUIRES: options.rendered (if any) outlives the service.
  static absl::StatusOr<std::unique_ptr<HttpService>> Create(
      const HttpServiceOptions& options, int shards);
  ~HttpService() override;

  // daemon::Service.
  absl::string_view name() const override { return "http"; }
  absl::Status StartShard(int shard, io::Reactor& reactor) override;
  void StopShard(int shard, io::Reactor& reactor) override;
  std::string Ready() const override;  // "HTTP on 198.18.0.1:80"
  // The "http totals" of the stop log.
  std::vector<daemon::Metric> Metrics() const override;

  // REQUIRES: shard 0 started.
  io::SocketAddress address() const { return address_; }
  size_t max_connections() const { return budget_->max(); }
  HttpCounters& counters() { return counters_; }
  metrics::MetricsRegistry& metrics() { return *metrics_; }

 private:
  HttpService() = default;
  // Declares the HTTP families in `registry` (or one of its own) and fills
  // cells_ for `shards` shards.
  void DeclareMetrics(metrics::MetricsRegistry* registry, int shards);

  HttpServiceOptions options_;
  std::unique_ptr<FileCache> boot_;    // null without boot_root
  std::unique_ptr<FileCache> repo_;    // null without repo_root
  std::unique_ptr<FileRoutes> files_;  // under /boot/ and /repo/
  std::unique_ptr<PrefixRoutes> routes_;
  std::unique_ptr<HttpConnectionBudget> budget_;
  HttpCounters counters_;
  std::unique_ptr<metrics::MetricsRegistry> own_metrics_;  // if none given
  metrics::MetricsRegistry* metrics_ = nullptr;
  std::vector<HttpShardMetrics> cells_;  // shard i's, given to shard i
  std::vector<uint64_t> collectors_;     // removed by the destructor
  // Shard i's HttpShard, made and destroyed on shard i's thread.
  std::vector<std::unique_ptr<HttpShard>> shards_;
  // Written by StartShard(0) before any other shard starts; read-only after.
  io::SocketAddress address_;
};

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_SERVICE_H_
