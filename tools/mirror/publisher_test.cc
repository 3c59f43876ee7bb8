#include "tools/mirror/publisher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

namespace fs = std::filesystem;

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(
        tmp != nullptr ? tmp : "/tmp", "/pub-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = root_ + "/deb12";
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void Write(const std::string& path, const std::string& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  static ino_t Inode(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  // One run: the files (path -> bytes) written into staging the way a
  // fetcher does, unless reusable.
  PublishResult Run(const std::map<std::string, std::string>& files,
                    bool prune = false, int64_t* reused = nullptr) {
    auto pub = Publisher::Open(dir_);
    EXPECT_TRUE(pub.ok()) << pub.status();
    if (!pub.ok()) return {};
    for (const auto& [path, bytes] : files) {
      PlannedFile f{path, "http://x/" + path,
                    static_cast<int64_t>(bytes.size()), Sha256Hex(bytes)};
      if ((*pub)->TryReuse(f)) continue;
      Write((*pub)->StagingPath(path), bytes);
      (*pub)->Record(
          ManifestEntry{path, static_cast<int64_t>(bytes.size()), f.sha256, 0});
    }
    if (reused != nullptr) *reused = (*pub)->reused();
    Manifest header;
    header.source = "http://x";
    header.kind = "apt";
    auto r = (*pub)->Publish(header, prune);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : PublishResult{};
  }

  std::string root_, dir_;
};

TEST_F(PublisherTest, PublishesThenUpToDateWithoutSwap) {
  PublishResult a = Run({{"a.txt", "alpha"}, {"d/b.txt", "beta"}});
  EXPECT_TRUE(a.published);
  EXPECT_FALSE(a.up_to_date);
  EXPECT_EQ(a.files, 2);
  EXPECT_EQ(Read(dir_ + "/a.txt"), "alpha");
  EXPECT_EQ(Read(dir_ + "/d/b.txt"), "beta");
  auto m = ParseManifest(Read(dir_ + "/" + kManifestName));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].path, "a.txt");
  EXPECT_EQ(m->files[0].sha256, Sha256Hex("alpha"));
  EXPECT_EQ(m->kind, "apt");

  const ino_t before = Inode(dir_);
  const ino_t file_before = Inode(dir_ + "/a.txt");
  int64_t reused = 0;
  PublishResult b =
      Run({{"a.txt", "alpha"}, {"d/b.txt", "beta"}}, false, &reused);
  EXPECT_TRUE(b.up_to_date);
  EXPECT_FALSE(b.published);
  EXPECT_EQ(reused, 2);
  EXPECT_EQ(Inode(dir_), before) << "an up-to-date run must not swap";
  EXPECT_EQ(Inode(dir_ + "/a.txt"), file_before);
  EXPECT_FALSE(fs::exists(root_ + "/.rackboot-mirror-deb12/staging"));
}

TEST_F(PublisherTest, ChangedFileSwapsAndReusesTheRest) {
  Run({{"a.txt", "alpha"}, {"b.txt", "beta"}});
  const ino_t before = Inode(dir_);
  const ino_t a_before = Inode(dir_ + "/a.txt");
  int64_t reused = 0;
  PublishResult r =
      Run({{"a.txt", "alpha"}, {"b.txt", "beta 2"}}, false, &reused);
  EXPECT_TRUE(r.published);
  EXPECT_EQ(reused, 1);
  EXPECT_NE(Inode(dir_), before);
  EXPECT_EQ(Inode(dir_ + "/a.txt"), a_before) << "reused by hard link";
  EXPECT_EQ(Read(dir_ + "/b.txt"), "beta 2");
  EXPECT_FALSE(fs::exists(root_ + "/.rackboot-mirror-deb12/old"));
}

TEST_F(PublisherTest, KeepsWithoutPruneDropsWithPrune) {
  Run({{"a.txt", "alpha"}, {"gone.txt", "old"}});
  PublishResult kept = Run({{"a.txt", "alpha"}, {"new.txt", "n"}});
  EXPECT_EQ(kept.kept, 1);
  EXPECT_EQ(kept.pruned, 0);
  EXPECT_EQ(Read(dir_ + "/gone.txt"), "old");
  EXPECT_EQ(kept.files, 3);
  PublishResult pruned = Run({{"a.txt", "alpha"}, {"new.txt", "n"}}, true);
  EXPECT_TRUE(pruned.published);
  EXPECT_EQ(pruned.pruned, 1);
  EXPECT_EQ(pruned.kept, 0);
  EXPECT_FALSE(fs::exists(dir_ + "/gone.txt"));
  EXPECT_EQ(pruned.files, 2);
}

TEST_F(PublisherTest, DedupesByHashAcrossNames) {
  Run({{"pool/x.deb", "same bytes"}});
  const ino_t x = Inode(dir_ + "/pool/x.deb");
  int64_t reused = 0;
  Run({{"pool/x.deb", "same bytes"}, {"by-hash/SHA256/abc", "same bytes"}},
      false, &reused);
  EXPECT_EQ(reused, 2);
  EXPECT_EQ(Inode(dir_ + "/by-hash/SHA256/abc"), x);
}

TEST_F(PublisherTest, StaleStagingJunkIsRemovedAndCompleteFilesResumed) {
  Run({{"a.txt", "alpha"}});
  // An interrupted run left a complete file, a .part and an unrelated file.
  const std::string staging = root_ + "/.rackboot-mirror-deb12/staging";
  Write(staging + "/b.txt", "beta");
  Write(staging + "/c.txt.part", "gam");
  Write(staging + "/junk/old.txt", "junk");
  int64_t reused = 0;
  PublishResult r =
      Run({{"a.txt", "alpha"}, {"b.txt", "beta"}}, false, &reused);
  EXPECT_TRUE(r.published);
  EXPECT_EQ(reused, 2) << "a.txt from the tree, b.txt from staging";
  EXPECT_TRUE(fs::exists(dir_ + "/b.txt"));
  EXPECT_FALSE(fs::exists(dir_ + "/c.txt.part"));
  EXPECT_FALSE(fs::exists(dir_ + "/junk"));
}

// A directory source's interrupted copy is resumed by size and mtime (no
// sha256 in the plan); a staged copy with another mtime is copied again.
TEST_F(PublisherTest, DirectoryCopyResumedBySizeAndMtime) {
  auto pub = Publisher::Open(dir_);
  ASSERT_TRUE(pub.ok()) << pub.status();
  const std::string staged = (*pub)->StagingPath("pool/a.deb");
  Write(staged, "abc");
  struct timespec times[2] = {{0, UTIME_OMIT}, {1700000000, 5}};
  ASSERT_EQ(utimensat(AT_FDCWD, staged.c_str(), times, 0), 0);
  const int64_t mtime = int64_t{1700000000} * 1000000000 + 5;
  EXPECT_FALSE((*pub)->TryReuse(
      PlannedFile{"pool/a.deb", "/src/pool/a.deb", 3, ""}, mtime + 1));
  EXPECT_TRUE((*pub)->TryReuse(
      PlannedFile{"pool/a.deb", "/src/pool/a.deb", 3, ""}, mtime));
  ASSERT_NE((*pub)->Recorded("pool/a.deb"), nullptr);
  EXPECT_EQ((*pub)->Recorded("pool/a.deb")->sha256, Sha256Hex("abc"));
}

TEST_F(PublisherTest, SecondRunFailsAtOnceOnTheLock) {
  auto first = Publisher::Open(dir_);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Publisher::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another rackboot mirror holds"),
            std::string::npos)
      << second.status();
}

TEST_F(PublisherTest, RefusesAForeignNonEmptyDirectory) {
  Write(dir_ + "/precious.txt", "mine");
  auto pub = Publisher::Open(dir_);
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.status().message().find("not a rackboot mirror"),
            std::string::npos);
  EXPECT_EQ(Read(dir_ + "/precious.txt"), "mine");
}

TEST_F(PublisherTest, ParentMustExist) {
  dir_ = root_ + "/missing/deb12";
  auto pub = Publisher::Open(dir_);
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.status().message().find("make it first"), std::string::npos);
}

// A reader keeps opening DIR/.rackboot-manifest.json (and a file named in
// it) while trees are published: it sees one complete manifest or another,
// never a missing or torn one.
TEST_F(PublisherTest, ReaderNeverSeesAHalfTree) {
  Run({{"a.txt", "v0"}});
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    while (!stop.load()) {
      std::string text = Read(dir_ + "/" + kManifestName);
      auto m = ParseManifest(text);
      if (!m.ok() || m->files.size() != 1) {
        if (bad.fetch_add(1) == 0) first_bad = text;
        continue;
      }
      std::string a = Read(dir_ + "/a.txt");
      if (Sha256Hex(a) != m->files[0].sha256) {
        // The tree may have been swapped between the two reads; re-read the
        // manifest: a match with the new one is fine.
        auto again = ParseManifest(Read(dir_ + "/" + kManifestName));
        if (!again.ok() || again->files.empty()) bad.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  });
  for (int i = 1; i <= 30; ++i) {
    PublishResult r = Run({{"a.txt", absl::StrCat("v", i)}});
    ASSERT_TRUE(r.published);
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0) << first_bad;
  EXPECT_GT(reads.load(), 0);
}

TEST_F(PublisherTest, DiskFullMessageNamesFreeBytes) {
  std::string m = DiskFullMessage("/x/y.part", root_);
  EXPECT_NE(m.find("disk full writing /x/y.part: "), std::string::npos) << m;
  EXPECT_NE(m.find(" bytes free on the filesystem of " + root_),
            std::string::npos)
      << m;
  EXPECT_GE(FreeBytes(root_), 0);
}

}  // namespace
}  // namespace rackboot::mirror
