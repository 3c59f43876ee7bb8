#include "engine/site/bring_up_log.h"

#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

TEST(BringUpLogTest, RecordsPersistAndAreReadByAnotherProcessView) {
  char tmpl[] = "/tmp/bring_up_log_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  EXPECT_TRUE(BringUpLog::Read(dir)->empty());
  auto log = BringUpLog::Open(dir);
  ASSERT_TRUE(log.ok()) << log.status();
  const absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE((*log)->Record("node1", "dhcp", t).ok());
  ASSERT_TRUE(
      (*log)->Record("node1", "tftp pxelinux.0", t + absl::Seconds(1)).ok());
  ASSERT_TRUE((*log)->Record("node2", "done", t + absl::Seconds(2)).ok());
  auto read = BringUpLog::Read(dir);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 2u);
  EXPECT_EQ(read->at("node1"),
            (BringUpPhase{"tftp pxelinux.0", t + absl::Seconds(1)}));
  EXPECT_EQ(read->at("node2").phase, "done");
  // A new daemon run starts from what was recorded.
  EXPECT_EQ((*BringUpLog::Open(dir))->Phases(), *read);
  // Shards record concurrently; the file stays whole.
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 50; ++j) {
        ASSERT_TRUE(
            (*log)->Record("node" + std::to_string(i), "tftp x", t).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(BringUpLog::Read(dir)->size(), 4u);
  EXPECT_FALSE(
      BringUpLog::Open("/nonexistent/dir").ok() &&
      (*BringUpLog::Open("/nonexistent/dir"))->Record("a", "b", t).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rackboot::site
