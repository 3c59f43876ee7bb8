#include "engine/daemon/transfer_table.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rackboot::daemon {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796043900);

TEST(TransferTableTest, BeginProgressEnd) {
  TransferTable table(2);
  EXPECT_TRUE(table.Snapshot().empty());
  const io::SocketAddress a = io::SocketAddress::Ipv4({198, 18, 0, 10}, 2000);
  const io::SocketAddress b = io::SocketAddress::Ipv4({198, 18, 0, 11}, 2001);
  TransferTable::Slot* first =
      table.Begin(0, Transport::kTftp, a, "vmlinuz", 5000, kNow);
  TransferTable::Slot* second = table.Begin(
      1, Transport::kHttp, b, "initrd.img", 9000, kNow + absl::Seconds(1));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  first->SetBytes(1468);
  second->SetBytes(65536);
  std::vector<TransferInfo> now = table.Snapshot();
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].transport, Transport::kTftp);
  EXPECT_EQ(now[0].client, a);
  EXPECT_EQ(now[0].file, "vmlinuz");
  EXPECT_EQ(now[0].bytes, 1468u);
  EXPECT_EQ(now[0].size, 5000u);
  EXPECT_EQ(now[0].started, kNow);
  EXPECT_EQ(now[1].transport, Transport::kHttp);
  EXPECT_EQ(now[1].bytes, 65536u);
  EXPECT_EQ(table.Active(Transport::kTftp), 1u);
  EXPECT_EQ(table.Active(Transport::kHttp), 1u);
  table.End(0, first);
  now = table.Snapshot();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].file, "initrd.img");
  EXPECT_EQ(table.Active(Transport::kTftp), 0u);
  table.End(1, nullptr);  // no-op
  // A shard index beyond the table shares a list (modulo).
  TransferTable::Slot* third =
      table.Begin(5, Transport::kTftp, a, "x", 1, kNow);
  EXPECT_EQ(table.Snapshot().size(), 2u);
  table.End(5, third);
  table.End(1, second);
  EXPECT_TRUE(table.Snapshot().empty());
}

TEST(TransferTableTest, MiddleOfTheListUnlinks) {
  TransferTable table(1);
  const io::SocketAddress a = io::SocketAddress::Ipv4({198, 18, 0, 10}, 2000);
  std::vector<TransferTable::Slot*> slots;
  for (int i = 0; i < 5; ++i) {
    slots.push_back(
        table.Begin(0, Transport::kTftp, a, std::to_string(i), 10, kNow));
  }
  table.End(0, slots[2]);
  table.End(0, slots[0]);
  table.End(0, slots[4]);
  std::vector<TransferInfo> now = table.Snapshot();
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].file, "1");
  EXPECT_EQ(now[1].file, "3");
  table.End(0, slots[1]);
  table.End(0, slots[3]);
  EXPECT_TRUE(table.Snapshot().empty());
  // Slots left listed at destruction are freed by the table (ASan checks).
  table.Begin(0, Transport::kHttp, a, "left", 1, kNow);
}

// Shards begin, progress and end while readers take snapshots (run under
// TSan to check the per-packet store and the list locking).
TEST(TransferTableTest, ShardsAndReadersConcurrently) {
  TransferTable table(4);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      for (const TransferInfo& info : table.Snapshot()) {
        ASSERT_LE(info.bytes, info.size);
      }
    }
  });
  std::vector<std::thread> shards;
  for (int s = 0; s < 4; ++s) {
    shards.emplace_back([&table, s] {
      const io::SocketAddress a =
          io::SocketAddress::Ipv4({198, 18, 0, static_cast<uint8_t>(s)}, 69);
      for (int i = 0; i < 2000; ++i) {
        TransferTable::Slot* slot =
            table.Begin(s, Transport::kTftp, a, "f", 100, kNow);
        for (uint64_t b = 0; b <= 100; b += 10) slot->SetBytes(b);
        table.End(s, slot);
      }
    });
  }
  for (std::thread& t : shards) t.join();
  stop = true;
  reader.join();
  EXPECT_TRUE(table.Snapshot().empty());
}

}  // namespace
}  // namespace rackboot::daemon
