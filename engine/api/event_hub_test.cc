#include "engine/api/event_hub.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rackboot::api {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796043900);  // 13:05:00 UTC

// What an HTTP shard does with a stream, without a reactor: counts wakes.
struct FakeShard {
  std::shared_ptr<http::HttpStream> stream;
  std::atomic<int> wakes{0};
  std::string received;
  bool ended = false;

  explicit FakeShard(std::shared_ptr<http::HttpStream> s)
      : stream(std::move(s)) {
    stream->Start([this] { wakes.fetch_add(1); });
  }
  // Reads everything ready, 64 KiB at a time as the shard does.
  void Drain() {
    while (!ended) {
      const size_t before = received.size();
      if (!stream->Read(&received, 64 * 1024)) ended = true;
      if (received.size() == before) break;
    }
  }
};

std::shared_ptr<http::HttpStream> MustSubscribe(EventHub& hub,
                                                std::string backlog = "") {
  absl::StatusOr<std::shared_ptr<http::HttpStream>> stream =
      hub.Subscribe(std::move(backlog));
  EXPECT_TRUE(stream.ok()) << stream.status();
  return stream.ok() ? *stream : nullptr;
}

TEST(EventHubTest, FormatsEventsAndWakesOncePerBatch) {
  EventHub hub;
  FakeShard shard(MustSubscribe(hub));
  EXPECT_EQ(shard.wakes, 0);  // nothing queued: no wake at Start
  hub.Publish(1, "host", R"({"id":1})");
  EXPECT_EQ(shard.wakes, 1);
  for (uint64_t id = 2; id <= 100; ++id) hub.Publish(id, "host", "{}");
  EXPECT_EQ(shard.wakes, 1);  // one wake for the whole batch
  shard.Drain();
  EXPECT_TRUE(absl::StartsWith(shard.received,
                               "id: 1\nevent: host\ndata: {\"id\":1}\n\n"
                               "id: 2\nevent: host\ndata: {}\n\n"));
  EXPECT_TRUE(
      absl::EndsWith(shard.received, "id: 100\nevent: host\ndata: {}\n\n"));
  hub.Publish(101, "host", "{}");
  EXPECT_EQ(shard.wakes, 2);  // empty -> non-empty again
  EXPECT_EQ(EventHub::FormatEvent(7, "host", "a\nb"),
            "id: 7\nevent: host\ndata: a\ndata: b\n\n");
  EXPECT_FALSE(shard.ended);
  shard.stream->Stop();
  hub.Publish(102, "host", "{}");
  EXPECT_EQ(shard.wakes, 2);  // never woken after Stop
  EXPECT_EQ(hub.subscribers(), 0u);
}

TEST(EventHubTest, BacklogFirstAndWokenAtStart) {
  EventHub hub;
  FakeShard shard(MustSubscribe(hub, "id: 5\nevent: host\ndata: {}\n\n"));
  EXPECT_EQ(shard.wakes, 1);
  hub.Publish(6, "host", "{}");
  EXPECT_EQ(shard.wakes, 1);
  shard.Drain();
  EXPECT_EQ(shard.received,
            "id: 5\nevent: host\ndata: {}\n\nid: 6\nevent: host\ndata: {}\n\n");
  // A backlog over the queue bound is cut to a reset.
  FakeShard big(
      MustSubscribe(hub, std::string(EventHub::kMaxQueueBytes + 1, 'x')));
  big.Drain();
  EXPECT_EQ(big.received, "event: reset\ndata: {}\n\n");
}

TEST(EventHubTest, SubscriberThatNeverReadsIsDroppedOthersUnaffected) {
  EventHub hub;
  FakeShard stuck(MustSubscribe(hub));  // never drains
  FakeShard reader(MustSubscribe(hub));
  const std::string data(1000, 'd');
  const size_t event_size = EventHub::FormatEvent(1, "host", data).size();
  const uint64_t events = 2 * EventHub::kMaxQueueBytes / event_size;
  for (uint64_t id = 1; id <= events; ++id) {
    hub.Publish(id, "host", data);
    if (id % 50 == 0) reader.Drain();
  }
  reader.Drain();
  EXPECT_EQ(hub.subscribers(), 1u);
  EXPECT_EQ(hub.dropped(), 1u);
  EXPECT_FALSE(reader.ended);
  EXPECT_EQ(
      reader.received.size(), 0u + [&] {
        size_t total = 0;
        for (uint64_t id = 1; id <= events; ++id)
          total += EventHub::FormatEvent(id, "host", data).size();
        return total;
      }());
  // The stuck one gets what it had queued (at most the bound), then its
  // stream ends.
  stuck.Drain();
  EXPECT_TRUE(stuck.ended);
  EXPECT_LE(stuck.received.size(), EventHub::kMaxQueueBytes);
  EXPECT_GT(stuck.received.size(), EventHub::kMaxQueueBytes - event_size - 1);
  EXPECT_TRUE(absl::StartsWith(stuck.received, "id: 1\n"));
  EXPECT_TRUE(absl::EndsWith(stuck.received, "\n\n"));  // whole events only
  stuck.stream->Stop();
  reader.stream->Stop();
}

TEST(EventHubTest, CapsSubscribersAndServesAThousand) {
  EventHub hub;  // default cap 1,024
  std::vector<std::unique_ptr<FakeShard>> shards;
  for (size_t i = 0; i < EventHub::kDefaultMaxSubscribers; ++i) {
    shards.push_back(std::make_unique<FakeShard>(MustSubscribe(hub)));
  }
  EXPECT_EQ(hub.subscribers(), 1024u);
  absl::StatusOr<std::shared_ptr<http::HttpStream>> refused = hub.Subscribe("");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  // Ending some frees their places.
  for (int i = 0; i < 24; ++i) {
    shards.back()->stream->Stop();
    shards.pop_back();
  }
  EXPECT_EQ(hub.subscribers(), 1000u);
  // A stream its shard let go without Stop is unlisted at the next publish.
  shards.back()->stream.reset();
  shards.pop_back();
  for (uint64_t id = 1; id <= 20; ++id) hub.Publish(id, "host", "{\"x\":1}");
  EXPECT_EQ(hub.subscribers(), 999u);
  EXPECT_TRUE(hub.Subscribe("").ok());  // nobody holds it: unlisted later
  const std::string expected = [] {
    std::string text;
    for (uint64_t id = 1; id <= 20; ++id)
      text += EventHub::FormatEvent(id, "host", "{\"x\":1}");
    return text;
  }();
  for (auto& shard : shards) {
    EXPECT_EQ(shard->wakes, 1);
    shard->Drain();
    ASSERT_EQ(shard->received, expected);
    shard->stream->Stop();
  }
  EXPECT_EQ(hub.subscribers(), 1u);
  hub.Publish(21, "host", "{}");
  EXPECT_EQ(hub.subscribers(), 0u);
  EXPECT_EQ(hub.dropped(), 0u);  // let go, not fallen behind
}

TEST(EventHubTest, KeepaliveEveryFifteenSeconds) {
  EventHub hub;
  FakeShard shard(MustSubscribe(hub));
  hub.Tick(kNow);
  hub.Tick(kNow + absl::Seconds(14));
  EXPECT_EQ(shard.wakes, 0);
  hub.Tick(kNow + absl::Seconds(15));
  EXPECT_EQ(shard.wakes, 1);
  shard.Drain();
  EXPECT_EQ(shard.received, ": keepalive\n\n");
  hub.Tick(kNow + absl::Seconds(29));
  hub.Tick(kNow + absl::Seconds(30));
  shard.Drain();
  EXPECT_EQ(shard.received, ": keepalive\n\n: keepalive\n\n");
  shard.stream->Stop();
}

TEST(EventHubTest, HubGoneEndsStreams) {
  auto hub = std::make_unique<EventHub>();
  FakeShard shard(MustSubscribe(*hub));
  hub->Publish(1, "host", "{}");
  hub.reset();
  shard.Drain();
  EXPECT_TRUE(shard.ended);
  EXPECT_EQ(shard.received, "id: 1\nevent: host\ndata: {}\n\n");
  shard.stream->Stop();  // after the hub: safe
}

// Publishers on several threads while shards on others drain (run under
// TSan): every subscriber gets every event, each publisher's in its order.
TEST(EventHubTest, ConcurrentPublishersAndReaders) {
  EventHub hub;
  constexpr int kPublishers = 4, kReaders = 8, kEach = 500;
  std::vector<std::unique_ptr<FakeShard>> shards;
  for (int i = 0; i < kReaders; ++i)
    shards.push_back(std::make_unique<FakeShard>(MustSubscribe(hub)));
  std::atomic<int> publishing{kPublishers};
  std::vector<std::thread> threads;
  for (int p = 0; p < kPublishers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        hub.Publish(p * kEach + i + 1, "host", absl::StrCat(p));
      }
      publishing.fetch_sub(1);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      FakeShard& shard = *shards[r];
      while (publishing.load() > 0) {
        shard.Drain();
        std::this_thread::yield();
      }
      shard.Drain();
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 100; ++i) hub.Tick(kNow + absl::Seconds(15 * i));
  });
  for (std::thread& t : threads) t.join();
  for (auto& shard : shards) {
    std::vector<int> next(kPublishers, 0);
    int events = 0;
    for (absl::string_view block :
         absl::StrSplit(shard->received, "\n\n", absl::SkipEmpty())) {
      if (block == ": keepalive") continue;
      std::vector<absl::string_view> lines = absl::StrSplit(block, '\n');
      ASSERT_EQ(lines.size(), 3u) << block;
      uint64_t id = 0;
      ASSERT_TRUE(absl::SimpleAtoi(lines[0].substr(4), &id));
      const int p = (id - 1) / kEach;
      ASSERT_EQ(lines[2], absl::StrCat("data: ", p));
      ASSERT_EQ(static_cast<int>(id - 1) % kEach, next[p]++);
      ++events;
    }
    EXPECT_EQ(events, kPublishers * kEach);
    shard->stream->Stop();
  }
  EXPECT_EQ(hub.dropped(), 0u);
}

site::Inventory TwoHosts() {
  return *site::Inventory::Parse(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:00:00:01,node001,198.18.0.11,rocky9,install\n"
      "52:54:00:00:00:02,node002,198.18.0.12,rocky9,localboot\n",
      "inv.csv");
}

TEST(EventHubTest, HostEventJsonAndBacklogFromTheRing) {
  site::FleetStatus fleet;
  site::Inventory inventory = TwoHosts();
  fleet.SetInventory(site::SiteConfig(), inventory, site::HostStateMap(), kNow,
                     true);
  EventHub hub;
  fleet.SetPublisher(hub.FleetPublisher());
  FakeShard live(MustSubscribe(hub));
  fleet.OnLease("node001", site::Ipv4Address(198, 18, 0, 50), kNow);
  live.Drain();
  EXPECT_EQ(live.received,
            "id: 1\nevent: host\ndata: {\"id\":1,\"time\":\"2026-11-30T13:05:"
            "00Z\",\"host\":\"node001\",\"kind\":\"lease\",\"phase\":\"dhcp\","
            "\"detail\":\"lease 198.18.0.50\",\"address\":\"198.18.0.50\"}"
            "\n\n");
  for (int i = 0; i < 9; ++i) {
    fleet.OnLease("node002", site::Ipv4Address(198, 18, 0, 12), kNow);
  }
  EXPECT_EQ(EventBacklog(fleet, ""), "");  // a new subscriber: live only
  EXPECT_EQ(EventBacklog(fleet, "10"), "");
  const std::string from8 = EventBacklog(fleet, "8");
  EXPECT_TRUE(absl::StartsWith(from8, "id: 9\nevent: host\ndata: {"));
  EXPECT_TRUE(absl::StrContains(from8, "\"id\":9,"));
  EXPECT_EQ(std::count(from8.begin(), from8.end(), '\n'), 2 * 4);
  EXPECT_EQ(EventBacklog(fleet, "11"), "event: reset\ndata: {}\n\n");
  EXPECT_EQ(EventBacklog(fleet, "x1"), "event: reset\ndata: {}\n\n");
  EXPECT_EQ(EventBacklog(fleet, "-1"), "event: reset\ndata: {}\n\n");
  // Off the ring: a reset.
  for (size_t i = 0; i < site::FleetStatus::kRingEvents; ++i) {
    fleet.OnLease("node002", site::Ipv4Address(198, 18, 0, 12), kNow);
  }
  EXPECT_EQ(EventBacklog(fleet, "1"), "event: reset\ndata: {}\n\n");
  // The whole ring (~4,096 events of ~200 bytes) is over the queue bound:
  // a reset too, rather than a subscriber dropped at once.
  EXPECT_EQ(EventBacklog(fleet, std::to_string(fleet.oldest_id() - 1)),
            "event: reset\ndata: {}\n\n");
  const std::string recent =
      EventBacklog(fleet, std::to_string(fleet.last_id() - 3));
  EXPECT_EQ(std::count(recent.begin(), recent.end(), '\n'), 3 * 4);
  fleet.SetPublisher({});
  live.stream->Stop();
}

}  // namespace
}  // namespace rackboot::api
