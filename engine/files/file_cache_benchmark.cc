// The file side of a TFTP read request: what a shard does between an RRQ and
// its first DATA to find the file. One open of an already mapped file through
// FileCache::Open (openat2 + fstat + close, then the lookup under the cache's
// mutex) and through a per-thread FileCacheFront (the same system calls, then
// a lookup without a lock, as TFTP shards do), from 1, 2 and 4 threads at
// once, with 10 and 200 files in the cache; and the system calls alone
// (FileRoot::OpenFile and close) as the floor.
//
//   bazel run -c opt //engine/files:file_cache_benchmark
//
// Every thread opens the files round-robin, all starting from the same one
// (a boot storm asks every shard for the same pxelinux.0). Time is real time
// per open per thread; with more threads than idle cores the figures measure
// the machine, not the cache.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "engine/files/file_cache.h"

namespace rackboot {
namespace {

namespace fs = std::filesystem;

// A directory of `n` small files named f0..f<n-1>, made once per n.
const std::string& Root(int n) {
  static auto* roots = new std::vector<std::string>(512);
  std::string& root = (*roots)[n];
  if (root.empty()) {
    char tmpl[] = "/tmp/file_cache_benchmark.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    root = tmpl;
    for (int i = 0; i < n; ++i) {
      std::ofstream(fs::path(root) / ("f" + std::to_string(i)))
          << std::string(4096, 'x');
    }
  }
  return root;
}

std::vector<std::string> Names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("f" + std::to_string(i));
  return names;
}

// One cache shared by every thread of a run, with every file mapped and kept.
FileCache* SharedCache(int n) {
  static auto* caches = new std::vector<std::unique_ptr<FileCache>>(512);
  std::unique_ptr<FileCache>& cache = (*caches)[n];
  if (cache == nullptr) {
    cache = std::make_unique<FileCache>(*FileRoot::Open(Root(n)));
    for (const std::string& name : Names(n)) {
      if (!cache->Open(name).ok()) std::abort();
    }
  }
  return cache.get();
}

void BM_FileCacheOpen(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  FileCache* cache = SharedCache(n);
  const std::vector<std::string> names = Names(n);
  size_t i = 0;
  for (auto _ : state) {
    auto file = cache->Open(names[i++ % names.size()]);
    if (!file.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(file);
  }
}
BENCHMARK(BM_FileCacheOpen)
    ->Arg(10)
    ->Arg(200)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

// The same opens through a per-thread FileCacheFront, as a TFTP shard makes
// them: a hit takes no lock.
void BM_FileCacheFrontOpen(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  FileCacheFront front(SharedCache(n));
  const std::vector<std::string> names = Names(n);
  const absl::Time now = absl::Now();
  size_t i = 0;
  for (auto _ : state) {
    auto file = front.Open(names[i++ % names.size()], io::SocketAddress(), now);
    if (!file.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(file);
  }
}
BENCHMARK(BM_FileCacheFrontOpen)
    ->Arg(10)
    ->Arg(200)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

// The floor: openat2 beneath the root, fstat, close; no cache.
void BM_FileRootOpenFile(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  static auto* root = new FileRoot(*FileRoot::Open(Root(10)));
  const std::vector<std::string> names = Names(n);
  size_t i = 0;
  for (auto _ : state) {
    auto file = root->OpenFile(names[i++ % names.size()]);
    if (!file.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(file);
  }
}
BENCHMARK(BM_FileRootOpenFile)->Arg(10)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace rackboot
