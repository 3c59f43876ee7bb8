// What HttpConnection costs per request, without sockets: a keep-alive GET as
// iPXE sends it, parsed (pre-filter, llhttp), routed through FileCache and
// answered with a head and a file slice. `./rackboot bench micro` runs it.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "engine/files/file_cache.h"
#include "engine/http/http_connection.h"
#include "engine/http/http_prefilter.h"
#include "engine/http/http_routes.h"

namespace rackboot::http {
namespace {

namespace fs = std::filesystem;

const std::string kRequest =
    "GET /boot/debian/vmlinuz HTTP/1.1\r\nConnection: keep-alive\r\n"
    "User-Agent: iPXE/1.21.1+ (g4bd0)\r\nHost: 198.18.0.1:8080\r\n\r\n";

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void BM_PrefilterScan(benchmark::State& state) {
  HttpPrefilter filter{HttpPrefilterLimits()};
  for (auto _ : state) {
    filter.Reset();
    size_t used;
    benchmark::DoNotOptimize(filter.Scan(Bytes(kRequest), &used));
  }
  state.SetBytesProcessed(state.iterations() * kRequest.size());
}
BENCHMARK(BM_PrefilterScan);

void BM_KeepAliveGet(benchmark::State& state) {
  char tmpl[] = "/tmp/http_connection_benchmark.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    state.SkipWithError("mkdtemp");
    return;
  }
  const fs::path top = tmpl;
  fs::create_directories(top / "debian");
  std::ofstream(top / "debian" / "vmlinuz") << std::string(1 << 20, 'k');
  FileCache cache(*FileRoot::Open(top.string()), nullptr,
                  FileCache::kDefaultKeepUnused,
                  FileCache::kDefaultMaxDescriptors);
  FileRoutes routes(&cache, nullptr);
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  HttpConnection conn(&routes, HttpLimits{.max_requests = 0},
                      io::SocketAddress(), now);
  for (auto _ : state) {
    conn.OnBytes(Bytes(kRequest), now);
    absl::optional<HttpTransmit> t = conn.PollTransmit();
    benchmark::DoNotOptimize(t);
    conn.OnSendDone(now);
    benchmark::DoNotOptimize(conn.TakeReport());
  }
  fs::remove_all(top);
}
BENCHMARK(BM_KeepAliveGet);

}  // namespace
}  // namespace rackboot::http
