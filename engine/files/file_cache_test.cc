#include "engine/files/file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace rackboot {
namespace {

namespace fs = std::filesystem;

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/file_cache_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Write("kernel", "version one");
    Write("empty", "");
    auto root = FileRoot::Open(dir_.string());
    ASSERT_TRUE(root.ok());
    // Nothing kept after use: these tests follow what transfers hold.
    cache_ = std::make_unique<FileCache>(*std::move(root), nullptr,
                                         absl::ZeroDuration());
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& contents) {
    std::ofstream(dir_ / name) << contents;
  }
  static std::string Contents(const MappedFile& file) {
    return std::string(file.bytes().begin(), file.bytes().end());
  }

  fs::path dir_;
  std::unique_ptr<FileCache> cache_;
};

TEST_F(FileCacheTest, SharesOneMappingAmongTransfers) {
  auto a = cache_->Open("kernel");
  auto b = cache_->Open("/kernel");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(Contents(**a), "version one");
  EXPECT_EQ(cache_->LiveMappings(), 1u);
}

// HTTP sends file ranges by sendfile from the descriptor the mapping keeps.
TEST_F(FileCacheTest, MappedFileKeepsItsReadOnlyDescriptor) {
  cache_ = std::make_unique<FileCache>(*FileRoot::Open(dir_.string()), nullptr,
                                       absl::ZeroDuration(),
                                       FileCache::kDefaultMaxDescriptors);
  auto a = cache_->Open("kernel");
  ASSERT_TRUE(a.ok());
  const int fd = (*a)->fd();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  char buf[32] = {};
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 8), 3);
  EXPECT_EQ(std::string(buf, 3), "one");
  // Shared with the mapping: a second transfer gets the same descriptor.
  auto b = cache_->Open("kernel");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->fd(), fd);
  auto empty = cache_->Open("empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_GE((*empty)->fd(), 0);
  // Closed with the last holder.
  a->reset();
  b->reset();
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(MappedFile::FromMemory("x", "rendered")->fd(), -1);
}

// Descriptors are bounded: past max_descriptors a mapping comes without one,
// and a slot frees when its mapping ends, even after the cache is gone.
TEST_F(FileCacheTest, KeptDescriptorsAreBounded) {
  Write("initrd", "initrd");
  auto cache = std::make_unique<FileCache>(*FileRoot::Open(dir_.string()),
                                           nullptr, absl::ZeroDuration(), 1);
  auto kernel = cache->Open("kernel");
  auto initrd = cache->Open("initrd");
  ASSERT_TRUE(kernel.ok() && initrd.ok());
  EXPECT_GE((*kernel)->fd(), 0);
  EXPECT_EQ((*initrd)->fd(), -1);
  EXPECT_EQ(Contents(**initrd), "initrd");
  EXPECT_EQ(cache->OpenDescriptors(), 1u);
  kernel->reset();
  EXPECT_EQ(cache->OpenDescriptors(), 0u);
  initrd->reset();
  auto again = cache->Open("initrd");
  ASSERT_TRUE(again.ok());
  EXPECT_GE((*again)->fd(), 0);
  const int fd = (*again)->fd();
  cache.reset();  // the mapping outlives its cache
  EXPECT_EQ(Contents(**again), "initrd");
  again->reset();
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
}

// TFTP's cache sends from the mapping and keeps no descriptor (its admission
// budget counts one per transfer).
TEST_F(FileCacheTest, WithoutKeepDescriptorsTheDescriptorIsClosed) {
  auto a = cache_->Open("kernel");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->fd(), -1);
  EXPECT_EQ(Contents(**a), "version one");
}

TEST_F(FileCacheTest, ReplacedFileIsNewForNewTransfersOnly) {
  auto running = cache_->Open("kernel");
  ASSERT_TRUE(running.ok());
  // Replace by rename, as package managers and `install` do.
  Write("kernel.new", "version two, longer");
  fs::rename(dir_ / "kernel.new", dir_ / "kernel");
  auto fresh = cache_->Open("kernel");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(running->get(), fresh->get());
  EXPECT_EQ(Contents(**running), "version one");
  EXPECT_EQ(Contents(**fresh), "version two, longer");
  EXPECT_EQ(cache_->LiveMappings(), 2u);
  running->reset();
  EXPECT_EQ(cache_->LiveMappings(), 1u);
}

TEST_F(FileCacheTest, MappingEndsWithItsLastTransfer) {
  {
    auto a = cache_->Open("kernel");
    ASSERT_TRUE(a.ok());
  }
  EXPECT_EQ(cache_->LiveMappings(), 0u);
  auto again = cache_->Open("kernel");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Contents(**again), "version one");
}

TEST_F(FileCacheTest, RecentlyUsedMappingsAreKeptForTheNextTransfer) {
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  const MappedFile* first = nullptr;
  {
    auto a = cache.Open("kernel");
    ASSERT_TRUE(a.ok());
    first = a->get();
  }
  EXPECT_EQ(cache.LiveMappings(),
            1u);  // no transfer holds it, yet it stays mapped
  EXPECT_EQ(cache.Open("kernel")->get(), first);
  // A replaced file is mapped anew and the old version is no longer kept.
  Write("kernel.new", "version two");
  fs::rename(dir_ / "kernel.new", dir_ / "kernel");
  auto fresh = cache.Open("kernel");
  EXPECT_EQ(Contents(**fresh), "version two");
  EXPECT_EQ(cache.LiveMappings(), 1u);
}

TEST_F(FileCacheTest, EmptyFileHasNoBytes) {
  auto empty = cache_->Open("empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ((*empty)->size(), 0u);
  EXPECT_TRUE((*empty)->bytes().empty());
}

TEST_F(FileCacheTest, PassesOpenErrorsThrough) {
  EXPECT_EQ(cache_->Open("missing").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(cache_->Open("../etc/passwd").status().code(),
            absl::StatusCode::kPermissionDenied);
}

class FakeRendered : public RenderedFiles {
 public:
  absl::optional<std::string> Render(absl::string_view path,
                                     const io::SocketAddress& client) override {
    asked.emplace_back(path);
    clients.push_back(client.ToString());
    if (path == "pxelinux.cfg/01-52-54-00-00-00-01")
      return std::string("DEFAULT install\n");
    if (path == "kernel") return std::string("rendered wins");
    return absl::nullopt;
  }
  std::vector<std::string> asked;
  std::vector<std::string> clients;
};

TEST_F(FileCacheTest, RenderedFilesComeFirstAndOthersFromDisk) {
  FakeRendered rendered;
  FileCache cache(*FileRoot::Open(dir_.string()), &rendered);
  auto config = cache.Open("/pxelinux.cfg/01-52-54-00-00-00-01");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(Contents(**config), "DEFAULT install\n");
  EXPECT_EQ((*config)->relative_path(), "pxelinux.cfg/01-52-54-00-00-00-01");
  EXPECT_EQ(Contents(**cache.Open("kernel")), "rendered wins");
  EXPECT_EQ(Contents(**cache.Open("empty")), "");
  EXPECT_EQ(cache.Open("pxelinux.cfg/01-52-54-00-00-00-02").status().code(),
            absl::StatusCode::kNotFound);
  // Names are normalized before the renderer sees them; bad ones never reach
  // it.
  EXPECT_EQ(rendered.asked.front(), "pxelinux.cfg/01-52-54-00-00-00-01");
  EXPECT_FALSE(cache.Open("").ok());
  EXPECT_EQ(rendered.asked.size(), 4u);
}

// The renderer hears who asks (per-host files are only for their host); a
// caller that names nobody is 0.0.0.0:0.
TEST_F(FileCacheTest, RendererGetsTheClientAddress) {
  FakeRendered rendered;
  FileCache cache(*FileRoot::Open(dir_.string()), &rendered);
  ASSERT_TRUE(cache
                  .Open("pxelinux.cfg/01-52-54-00-00-00-01",
                        *io::SocketAddress::Parse("198.18.0.21:2070"))
                  .ok());
  ASSERT_TRUE(cache.Open("kernel").ok());
  ASSERT_EQ(rendered.clients.size(), 2u);
  EXPECT_EQ(rendered.clients[0], "198.18.0.21:2070");
  EXPECT_EQ(rendered.clients[1], io::SocketAddress().ToString());
}

// The cache's own keeping is bounded and expires, though no Open walks the
// map: past kMaxKept it releases the least recently used.
TEST_F(FileCacheTest, CacheKeepsAtMostMaxKept) {
  const size_t n = FileCache::kMaxKept + 40;
  for (size_t i = 0; i < n; ++i) Write(absl::StrCat("f", i), "x");
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(cache.Open(absl::StrCat("f", i)).ok());
    ASSERT_LE(cache.KeptMappings(), FileCache::kMaxKept);
  }
  EXPECT_LE(cache.LiveMappings(), FileCache::kMaxKept);
  EXPECT_GE(cache.LiveMappings(), FileCache::kMaxKept * 7 / 8);
  // The most recent is kept.
  const MappedFile* last = cache.Open(absl::StrCat("f", n - 1))->get();
  EXPECT_EQ(cache.Open(absl::StrCat("f", n - 1))->get(), last);
}

TEST_F(FileCacheTest, CacheReleasesKeptMappingsAfterKeepUnused) {
  Write("initrd", "initrd");
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr,
                  absl::Milliseconds(50));
  ASSERT_TRUE(cache.Open("kernel").ok());
  EXPECT_EQ(cache.LiveMappings(), 1u);
  // Expiry runs at most once a second (amortised), then takes what is older
  // than keep_unused.
  absl::SleepFor(absl::Milliseconds(1100));
  ASSERT_TRUE(cache.Open("initrd").ok());
  EXPECT_EQ(cache.LiveMappings(), 1u);
  EXPECT_EQ(cache.KeptMappings(), 1u);
}

// A shard's front shares the one mapping of a version with the cache and the
// other fronts; a repeated open is answered by the front alone.
TEST_F(FileCacheTest, FrontsShareOneMappingPerVersion) {
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  FileCacheFront a(&cache);
  FileCacheFront b(&cache);
  const absl::Time now = absl::Now();
  auto from_a = a.Open("kernel", io::SocketAddress(), now);
  auto from_b = b.Open("/kernel", io::SocketAddress(), now);
  auto direct = cache.Open("kernel");
  ASSERT_TRUE(from_a.ok() && from_b.ok() && direct.ok());
  EXPECT_EQ(from_a->get(), from_b->get());
  EXPECT_EQ(from_a->get(), direct->get());
  EXPECT_EQ(Contents(**from_a), "version one");
  EXPECT_EQ(cache.LiveMappings(), 1u);
  EXPECT_EQ(a.misses(), 1u);
  auto again = a.Open("kernel", io::SocketAddress(), now);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), from_a->get());
  EXPECT_EQ(a.hits(), 1u);
  EXPECT_EQ(a.misses(), 1u);
}

// The identity is looked up on every open, hit or not: a replaced file is
// served new at once, and the front stops keeping the old version.
TEST_F(FileCacheTest, FrontServesAReplacedFileNew) {
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  FileCacheFront front(&cache);
  const absl::Time now = absl::Now();
  auto running = front.Open("kernel", io::SocketAddress(), now);
  ASSERT_TRUE(running.ok());
  Write("kernel.new", "version two, longer");
  fs::rename(dir_ / "kernel.new", dir_ / "kernel");
  auto fresh = front.Open("kernel", io::SocketAddress(), now);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(Contents(**running), "version one");
  EXPECT_EQ(Contents(**fresh), "version two, longer");
  EXPECT_EQ(cache.LiveMappings(), 2u);
  running->reset();  // its last transfer ends; nobody keeps it
  EXPECT_EQ(cache.LiveMappings(), 1u);
  EXPECT_EQ(front.kept(), 1u);
}

// Shard A kept version one; shard B maps version two: A stops keeping the old
// version at its next open or Maintain, without waiting for keep_unused.
TEST_F(FileCacheTest, FrontDropsAVersionReplacedThroughAnotherFront) {
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  FileCacheFront a(&cache);
  FileCacheFront b(&cache);
  const absl::Time now = absl::Now();
  ASSERT_TRUE(a.Open("kernel", {}, now).ok());
  Write("kernel.new", "version two");
  fs::rename(dir_ / "kernel.new", dir_ / "kernel");
  ASSERT_TRUE(b.Open("kernel", {}, now).ok());
  EXPECT_EQ(cache.LiveMappings(), 2u);
  a.Maintain(now);
  EXPECT_EQ(a.kept(), 0u);
  EXPECT_EQ(cache.LiveMappings(), 1u);
}

TEST_F(FileCacheTest, FrontKeepsUnusedMappingsThenReleasesThem) {
  Write("initrd", "initrd");
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Minutes(1));
  FileCacheFront front(&cache);
  const absl::Time t0 = absl::Now();
  const MappedFile* first = front.Open("kernel", {}, t0)->get();
  EXPECT_EQ(cache.LiveMappings(), 1u);  // no transfer holds it: kept
  EXPECT_EQ(front.Open("kernel", {}, t0 + absl::Seconds(30))->get(), first);
  EXPECT_EQ(front.misses(), 1u);
  // Two minutes on, an open of another file sweeps the unused one out.
  ASSERT_TRUE(front.Open("initrd", {}, t0 + absl::Minutes(2)).ok());
  EXPECT_EQ(front.kept(), 1u);
  EXPECT_EQ(cache.LiveMappings(), 1u);
  EXPECT_EQ(front.entries(), 1u);
}

TEST_F(FileCacheTest, FrontKeepsAtMostMaxKept) {
  const size_t n = FileCache::kMaxKept + 40;
  for (size_t i = 0; i < n; ++i) Write(absl::StrCat("f", i), "x");
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  FileCacheFront front(&cache);
  absl::Time now = absl::Now();
  for (size_t i = 0; i < n; ++i) {
    now += absl::Milliseconds(1);
    ASSERT_TRUE(front.Open(absl::StrCat("f", i), {}, now).ok());
    ASSERT_LE(front.kept(), FileCache::kMaxKept);
  }
  EXPECT_LE(cache.LiveMappings(), FileCache::kMaxKept);
  EXPECT_EQ(cache.KeptMappings(), 0u);  // the front keeps, not the cache
  // The newest ones stayed.
  const uint64_t misses = front.misses();
  ASSERT_TRUE(front.Open(absl::StrCat("f", n - 1), {}, now).ok());
  EXPECT_EQ(front.misses(), misses);
}

TEST_F(FileCacheTest, FrontPassesErrorsAndRenderedFiles) {
  FakeRendered rendered;
  FileCache cache(*FileRoot::Open(dir_.string()), &rendered);
  FileCacheFront front(&cache);
  const absl::Time now = absl::Now();
  EXPECT_EQ(front.Open("missing", {}, now).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(front.Open("../etc/passwd", {}, now).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto config = front.Open("pxelinux.cfg/01-52-54-00-00-00-01",
                           *io::SocketAddress::Parse("198.18.0.21:2070"), now);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(Contents(**config), "DEFAULT install\n");
  EXPECT_EQ(rendered.clients.back(), "198.18.0.21:2070");
  EXPECT_EQ(front.entries(), 0u);
}

// Shards open concurrently, each through its own front, while the HTTP side
// opens through the cache and the file is replaced under them: every open
// sees a whole version, and at the end one mapping per version is alive.
// Run under --config=tsan too.
TEST_F(FileCacheTest, ConcurrentFrontsAndCache) {
  for (int i = 0; i < 8; ++i) Write(absl::StrCat("f", i), absl::StrCat("f", i));
  FileCache cache(*FileRoot::Open(dir_.string()), nullptr, absl::Hours(1));
  constexpr int kThreads = 4;
  constexpr int kOpens = 2000;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  std::vector<std::vector<std::shared_ptr<const MappedFile>>> held(kThreads +
                                                                   1);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      FileCacheFront front(&cache);
      absl::Time now = absl::Now();
      for (int i = 0; i < kOpens; ++i) {
        now += absl::Microseconds(10);
        const int f = (i + t) % 8;
        auto file =
            front.Open(f == 0 ? "kernel" : absl::StrCat("f", f), {}, now);
        if (!file.ok()) {
          failed = true;
          continue;
        }
        const std::string got = Contents(**file);
        if (f != 0 && got != absl::StrCat("f", f)) failed = true;
        if (f == 0 && got.rfind("version ", 0) != 0) failed = true;
        if (i % 100 == 0) held[t].push_back(*std::move(file));
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kOpens; ++i) {
      auto file = cache.Open(absl::StrCat("f", i % 8));
      if (!file.ok()) failed = true;
      if (i % 100 == 0) held[kThreads].push_back(*std::move(file));
    }
  });
  for (int v = 0; v < 20; ++v) {
    Write("kernel.new", absl::StrCat("version ", v));
    fs::rename(dir_ / "kernel.new", dir_ / "kernel");
    absl::SleepFor(absl::Milliseconds(1));
  }
  for (std::thread& t : threads) t.join();
  EXPECT_FALSE(failed);
  // One mapping per identity among everything still held.
  absl::flat_hash_map<FileIdentity, const MappedFile*> by_identity;
  for (const auto& list : held) {
    for (const auto& file : list) {
      auto [it, inserted] =
          by_identity.try_emplace(file->identity(), file.get());
      EXPECT_EQ(it->second, file.get());
    }
  }
}

}  // namespace
}  // namespace rackboot
