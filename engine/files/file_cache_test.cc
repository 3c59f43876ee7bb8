#include "engine/files/file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace rackboot
