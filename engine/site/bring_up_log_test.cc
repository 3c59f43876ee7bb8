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
  (*log)->Record("node1", "dhcp", t);
  (*log)->Record("node1", "tftp pxelinux.0", t + absl::Seconds(1));
  (*log)->Record("node2", "done", t + absl::Seconds(2));
  // Recorded in memory only, until Flush.
  EXPECT_TRUE(BringUpLog::Read(dir)->empty());
  EXPECT_EQ((*log)->Phases().size(), 2u);
  ASSERT_TRUE((*log)->Flush().ok());
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
        (*log)->Record("node" + std::to_string(i), "tftp x", t);
        if (j % 10 == 0) {
          ASSERT_TRUE((*log)->Flush().ok());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE((*log)->Flush().ok());
  EXPECT_EQ(BringUpLog::Read(dir)->size(), 4u);
  EXPECT_TRUE((*log)->Flush().ok());  // nothing pending: no write
  EXPECT_FALSE(BringUpLog::Open("/nonexistent/dir").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rackboot::site
