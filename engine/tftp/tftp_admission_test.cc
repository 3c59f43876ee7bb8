#include "engine/tftp/tftp_admission.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot {
namespace {

io::SocketAddress Address(const std::string& text) {
  return *io::SocketAddress::Parse(text);
}

TEST(TftpClientCountsTest, CapsEachAddressWhateverItsPort) {
  TftpClientCounts counts(2);
  EXPECT_TRUE(counts.TryAcquire(Address("198.18.0.1:1000")));
  EXPECT_TRUE(counts.TryAcquire(Address("198.18.0.1:1001")));
  EXPECT_FALSE(counts.TryAcquire(Address("198.18.0.1:1002")));
  EXPECT_EQ(counts.Running(Address("198.18.0.1:7")), 2u);
  // Other addresses, in whatever stripe, are counted apart.
  for (int i = 2; i < 200; ++i) {
    EXPECT_TRUE(
        counts.TryAcquire(Address(absl::StrCat("198.18.0.", i % 250, ":69"))))
        << i;
  }
  counts.Release(Address("198.18.0.1:1000"));
  EXPECT_EQ(counts.Running(Address("198.18.0.1:0")), 1u);
  EXPECT_TRUE(counts.TryAcquire(Address("198.18.0.1:1003")));
  counts.Release(Address("198.18.0.77:1"));  // never acquired: ignored
  EXPECT_EQ(counts.Running(Address("198.18.0.77:1")), 0u);
}

// Shards acquire and release at once; every count returns to zero and the
// cap holds for the shared address throughout.
TEST(TftpClientCountsTest, ConcurrentShards) {
  TftpClientCounts counts(4);
  std::vector<std::thread> shards;
  std::atomic<bool> over_cap{false};
  for (int t = 0; t < 4; ++t) {
    shards.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const io::SocketAddress own =
            Address(absl::StrCat("198.18.", t, ".", i % 200, ":69"));
        const io::SocketAddress shared = Address("198.19.0.1:69");
        if (counts.TryAcquire(own)) counts.Release(own);
        if (counts.TryAcquire(shared)) {
          if (counts.Running(shared) > 4) over_cap = true;
          counts.Release(shared);
        }
      }
    });
  }
  for (std::thread& t : shards) t.join();
  EXPECT_FALSE(over_cap);
  EXPECT_EQ(counts.Running(Address("198.19.0.1:69")), 0u);
  EXPECT_EQ(counts.Running(Address("198.18.1.5:69")), 0u);
}

}  // namespace
}  // namespace rackboot
