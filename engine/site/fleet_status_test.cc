#include "engine/site/fleet_status.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1796043900);  // 13:05 UTC

Inventory MakeInventory(absl::string_view text) {
  absl::StatusOr<Inventory> inventory = Inventory::Parse(text, "inv.csv");
  EXPECT_TRUE(inventory.ok()) << inventory.status();
  return *std::move(inventory);
}

SiteConfig MakeSite() {
  SiteConfig site;
  Subnet subnet;
  subnet.network = Ipv4Address(198, 18, 0, 0);
  subnet.prefix_length = 24;
  site.dhcp.subnets.push_back(subnet);
  return site;
}

constexpr absl::string_view kInventory =
    "mac,hostname,ip,profile,state,rack\n"
    "52:54:00:00:00:01,node001,198.18.0.11,rocky9,install,r1\n"
    "52:54:00:00:00:02,node002,198.18.0.12,rocky9,localboot,\n"
    "52:54:00:00:00:03,node003,,rocky9,installed,r2\n";

HostStateMap StatesOf(const Inventory& inventory) {
  HostStateMap states;
  for (const InventoryHost& host : inventory.hosts())
    states[host.hostname] = {host.initial_state, absl::InfinitePast()};
  return states;
}

io::SocketAddress Client(uint8_t last) {
  return io::SocketAddress::Ipv4({198, 18, 0, last}, 2000);
}

daemon::FileDelivered File(const std::string& name, bool complete,
                           uint8_t client = 11) {
  daemon::FileDelivered file;
  file.transport = daemon::Transport::kTftp;
  file.client = Client(client);
  file.file = name;
  file.complete = complete;
  file.file_size = 1000;
  file.bytes = complete ? 1000 : 512;
  return file;
}

class FleetStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_ = MakeInventory(kInventory);
    states_ = StatesOf(inventory_);
    fleet_.SetInventory(site_, inventory_, states_, kStart, /*initial=*/true);
    fleet_.SetPublisher(
        [this](const HostEvent& event) { published_.push_back(event); });
  }
  std::string PhaseOf(absl::string_view name) {
    absl::optional<HostStatus> host = fleet_.Host(name);
    return host.has_value() ? host->phase : "(absent)";
  }

  SiteConfig site_ = MakeSite();
  Inventory inventory_;
  HostStateMap states_;
  FleetStatus fleet_;
  std::vector<HostEvent> published_;
};

TEST_F(FleetStatusTest, StartsFromStatesWithGroups) {
  std::vector<HostStatus> hosts = fleet_.Hosts();
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[0].name, "node001");
  EXPECT_EQ(hosts[0].phase, "armed");
  EXPECT_EQ(hosts[0].state, "install");
  EXPECT_EQ(hosts[0].group, "r1");  // the rack column
  EXPECT_EQ(hosts[0].address, "198.18.0.11");
  EXPECT_EQ(hosts[0].mac, "52:54:00:00:00:01");
  EXPECT_EQ(hosts[0].profile, "rocky9");
  EXPECT_EQ(hosts[0].phase_since, kStart);
  EXPECT_EQ(hosts[0].last_seen, absl::InfinitePast());
  EXPECT_TRUE(hosts[0].timeline.empty());
  EXPECT_EQ(hosts[1].phase, "unknown");
  EXPECT_EQ(hosts[1].group, "198.18.0.0/24");  // no rack: its subnet
  EXPECT_EQ(hosts[2].phase, "installed");
  EXPECT_EQ(hosts[2].address, "");
  EXPECT_EQ(fleet_.last_id(), 0u);  // the first inventory is no event
  absl::flat_hash_map<std::string, int> counts = fleet_.PhaseCounts();
  EXPECT_EQ(counts.size(), 9u);
  EXPECT_EQ(counts["armed"], 1);
  EXPECT_EQ(counts["unknown"], 1);
  EXPECT_EQ(counts["installed"], 1);
  EXPECT_EQ(counts["stalled"], 0);
  absl::flat_hash_map<std::string, int> states = fleet_.StateCounts();
  EXPECT_EQ(states["install"], 1);
  EXPECT_EQ(states["localboot"], 1);
  EXPECT_EQ(states["installed"], 1);
  EXPECT_FALSE(fleet_.Host("nope").has_value());
  EXPECT_EQ(fleet_.Host("NODE001")->name, "node001");
}

TEST_F(FleetStatusTest, ArmedHostGoesThroughInstallToInstalled) {
  const absl::Time t = kStart + absl::Seconds(5);
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 50), t);
  EXPECT_EQ(PhaseOf("node001"), "dhcp");
  EXPECT_EQ(fleet_.Host("node001")->address, "198.18.0.50");
  fleet_.OnFile("node001", File("pxelinux.0", true, 50), FileRole::kOther,
                t + absl::Seconds(1));
  EXPECT_EQ(PhaseOf("node001"), "booting");
  fleet_.OnFile("node001", File("vmlinuz", true, 50), FileRole::kOther,
                t + absl::Seconds(2));
  EXPECT_EQ(PhaseOf("node001"), "booting");
  EXPECT_EQ(fleet_.Host("node001")->phase_since, t + absl::Seconds(1));
  fleet_.OnFile("node001", File("initrd.img", true, 50), FileRole::kLastFile,
                t + absl::Seconds(3));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  HostStateMap states = states_;
  states["node001"].state = HostState::kInstalled;
  fleet_.SetStates(states, t + absl::Seconds(60), "host-states.tsv");
  HostStatus host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "installed");
  EXPECT_EQ(host.state, "installed");
  EXPECT_EQ(host.last_seen, t + absl::Seconds(60));
  ASSERT_EQ(host.timeline.size(), 5u);
  const char* kinds[] = {"lease", "file", "file", "file", "state"};
  const char* phases[] = {"dhcp", "booting", "booting", "installing",
                          "installed"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(host.timeline[i].kind, kinds[i]) << i;
    EXPECT_EQ(host.timeline[i].phase, phases[i]) << i;
    EXPECT_EQ(host.timeline[i].id, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(host.timeline[i].host, "node001");
    EXPECT_EQ(host.timeline[i].address, "198.18.0.50");
  }
  EXPECT_EQ(host.timeline[0].detail, "lease 198.18.0.50");
  EXPECT_EQ(host.timeline[3].detail, "tftp initrd.img 1000 bytes");
  EXPECT_EQ(host.timeline[4].detail,
            "installed by host-states.tsv (install -> installed)");
  // Every event went to the publisher, in order.
  ASSERT_EQ(published_.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(published_[i].id, i + 1u);
  // Setting the same states again changes nothing.
  fleet_.SetStates(states, t + absl::Seconds(61), "host-states.tsv");
  EXPECT_EQ(published_.size(), 5u);
}

// "done" comes only from the installer: a host that is not armed and gets
// its local-disk config boots its disk (the phase its state implies), and
// its profile's last file alone is just booting.
TEST_F(FleetStatusTest, UnarmedHostIsNeverDoneFromItsFiles) {
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 12), kStart);
  fleet_.OnFile("node002", File("pxelinux.0", true, 12), FileRole::kOther,
                kStart);
  EXPECT_EQ(PhaseOf("node002"), "booting");
  fleet_.OnFile("node002", File("pxelinux.cfg/01-52-54-00-00-00-02", true, 12),
                FileRole::kHostConfig, kStart);
  EXPECT_EQ(PhaseOf("node002"), "unknown");  // its config boots its disk
  // Its profile's last file, not armed: booting, not done.
  fleet_.OnFile("node002", File("initrd.img", true, 12), FileRole::kLastFile,
                kStart);
  EXPECT_EQ(PhaseOf("node002"), "booting");
  // An installed host handed its local config: installed.
  fleet_.OnLease("node003", Ipv4Address(198, 18, 0, 13), kStart);
  fleet_.OnFile("node003", File("grub.cfg-01-52-54-00-00-00-03", true, 13),
                FileRole::kHostConfig, kStart);
  EXPECT_EQ(PhaseOf("node003"), "installed");
  // An armed host's config is only a step: booting.
  fleet_.OnFile("node001", File("pxelinux.cfg/01-52-54-00-00-00-01", true),
                FileRole::kHostConfig, kStart);
  EXPECT_EQ(PhaseOf("node001"), "booting");
  EXPECT_EQ(fleet_.PhaseCounts()["done"], 0);
}

// Shards report completions out of order: the initrd (the last file) before
// the kernel fetched first. A later non-last file is progress, never a step
// back from installing or done; only a lease with a boot file (or a state
// change) starts a new cycle.
TEST_F(FleetStatusTest, OutOfOrderFilesNeverStepBack) {
  const absl::Time t = kStart + absl::Seconds(5);
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), t);
  fleet_.OnFile("node001", File("pxelinux.0", true), FileRole::kOther, t);
  fleet_.OnFile("node001", File("initrd.img", true), FileRole::kLastFile,
                t + absl::Seconds(1));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  fleet_.OnFile("node001", File("vmlinuz", true), FileRole::kOther,
                t + absl::Seconds(2));
  HostStatus host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "installing");
  EXPECT_EQ(host.phase_since, t + absl::Seconds(1));
  EXPECT_EQ(host.last_seen, t + absl::Seconds(2));
  ASSERT_EQ(host.timeline.size(), 4u);
  EXPECT_EQ(host.timeline[3].detail, "tftp vmlinuz 1000 bytes");
  EXPECT_EQ(host.timeline[3].phase, "installing");
  // Its config, fetched late, is no step back either.
  fleet_.OnFile("node001", File("pxelinux.cfg/01-52-54-00-00-00-01", true),
                FileRole::kHostConfig, t + absl::Seconds(3));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  // Still progress: the installing bound starts over from the last file,
  // and a stalled installer that fetches a file recovers to installing.
  fleet_.Tick(t + absl::Seconds(3) + absl::Hours(2));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  fleet_.Tick(t + absl::Seconds(4) + absl::Hours(2));
  EXPECT_EQ(PhaseOf("node001"), "stalled");
  fleet_.OnFile("node001", File("repo/Packages/a.rpm", true), FileRole::kOther,
                t + absl::Hours(3));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  EXPECT_EQ(fleet_.Host("node001")->reason, "");
  // Done (the installer said so, the host installed) stays done on any file.
  HostStateMap installed = states_;
  installed["node001"].state = HostState::kInstalled;
  fleet_.SetStates(installed, t + absl::Hours(3), "installer");
  fleet_.OnInstaller("node001", "done", "", t + absl::Hours(3));
  fleet_.OnFile("node001", File("initrd.img", true), FileRole::kLastFile,
                t + absl::Hours(3));
  fleet_.OnFile("node001", File("vmlinuz", true), FileRole::kOther,
                t + absl::Hours(3));
  EXPECT_EQ(PhaseOf("node001"), "done");
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 12), t);
  fleet_.OnFile("node002", File("vmlinuz", true, 12), FileRole::kOther, t);
  // A new lease starts a new boot: dhcp, then booting again.
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 12), t + absl::Seconds(10));
  EXPECT_EQ(PhaseOf("node002"), "dhcp");
  fleet_.OnFile("node002", File("pxelinux.0", true, 12), FileRole::kOther,
                t + absl::Seconds(11));
  EXPECT_EQ(PhaseOf("node002"), "booting");
  // So does re-arming.
  HostStateMap states = states_;
  states["node001"].state = HostState::kLocalboot;
  fleet_.SetStates(states, t + absl::Hours(4), "host-states.tsv");
  EXPECT_EQ(PhaseOf("node001"), "done");  // what the installer said stays
  states["node001"].state = HostState::kInstall;
  fleet_.SetStates(states, t + absl::Hours(4), "host-states.tsv");
  fleet_.OnFile("node001", File("pxelinux.0", true), FileRole::kOther,
                t + absl::Hours(4));
  EXPECT_EQ(PhaseOf("node001"), "booting");
}

// A lease without a boot file (an OS booted from disk, an installer renewing
// its address): the host is seen (last_seen, address, a "lease" event in
// its timeline) but its phase stays, and it is no progress.
TEST_F(FleetStatusTest, LeaseWithoutBootFileIsSeenNotProgress) {
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 40), kStart,
                 /*boot_file=*/false);
  HostStatus host = *fleet_.Host("node002");
  EXPECT_EQ(host.phase, "unknown");
  EXPECT_EQ(host.phase_since, kStart);
  EXPECT_EQ(host.last_seen, kStart);
  EXPECT_EQ(host.address, "198.18.0.40");
  ASSERT_EQ(host.timeline.size(), 1u);
  EXPECT_EQ(host.timeline[0].kind, "lease");
  EXPECT_EQ(host.timeline[0].phase, "unknown");
  EXPECT_EQ(host.timeline[0].detail, "lease 198.18.0.40 without a boot file");
  ASSERT_EQ(published_.size(), 1u);
  // An installer renewing its lease does not hold off its stall.
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), kStart);
  fleet_.OnFile("node001", File("initrd.img", true), FileRole::kLastFile,
                kStart);
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11),
                 kStart + absl::Hours(1), /*boot_file=*/false);
  EXPECT_EQ(PhaseOf("node001"), "installing");
  fleet_.Tick(kStart + absl::Hours(2) + absl::Seconds(1));
  EXPECT_EQ(PhaseOf("node001"), "stalled");
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11),
                 kStart + absl::Hours(3), /*boot_file=*/false);
  EXPECT_EQ(PhaseOf("node001"), "stalled");
  EXPECT_EQ(fleet_.Host("node001")->last_seen, kStart + absl::Hours(3));
}

TEST_F(FleetStatusTest, FailedTransferIsAnEventButNoProgress) {
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), kStart);
  fleet_.OnFile("node001", File("vmlinuz", true), FileRole::kOther, kStart);
  const absl::Time later = kStart + absl::Minutes(9);
  fleet_.OnFile("node001", File("initrd.img", false), FileRole::kOther, later);
  HostStatus host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "booting");
  EXPECT_EQ(host.phase_since, kStart);
  EXPECT_EQ(host.last_seen, later);
  EXPECT_EQ(host.timeline.back().kind, "transfer_failed");
  EXPECT_EQ(host.timeline.back().detail,
            "tftp initrd.img failed at 512 of 1000 bytes");
  // The failure does not hold off the stall: 10 minutes after the last
  // complete file it is stalled, and the reason names the failure.
  fleet_.Tick(kStart + absl::Minutes(10));
  EXPECT_EQ(PhaseOf("node001"), "booting");
  fleet_.Tick(kStart + absl::Minutes(10) + absl::Seconds(1));
  host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "stalled");
  EXPECT_EQ(host.reason,
            "no progress in booting for 10m1s (bound 10m); last: tftp "
            "initrd.img failed at 512 of 1000 bytes");
}

TEST_F(FleetStatusTest, StallsPerPhaseOnceAndRecovers) {
  StallBounds bounds;
  bounds.dhcp = absl::Seconds(90);
  bounds.booting = absl::Minutes(5);
  bounds.installing = absl::Hours(1);
  fleet_.SetStallBounds(bounds);
  // Unknown, armed and installed hosts never stall.
  fleet_.Tick(kStart + absl::Hours(100));
  EXPECT_EQ(fleet_.PhaseCounts()["stalled"], 0);
  const absl::Time t = kStart + absl::Hours(101);
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), t);
  fleet_.Tick(t + absl::Seconds(90));
  EXPECT_EQ(PhaseOf("node001"), "dhcp");
  fleet_.Tick(t + absl::Seconds(91));
  HostStatus host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "stalled");
  EXPECT_EQ(host.reason, "no progress in dhcp for 1m31s (bound 1m30s)");
  EXPECT_EQ(host.phase_since, t + absl::Seconds(91));
  EXPECT_EQ(host.timeline.back().kind, "stalled");
  EXPECT_EQ(host.timeline.back().phase, "stalled");
  EXPECT_EQ(host.timeline.back().detail, host.reason);
  const size_t events = published_.size();
  fleet_.Tick(t + absl::Seconds(300));  // still stalled: no second event
  EXPECT_EQ(published_.size(), events);
  EXPECT_EQ(fleet_.PhaseCounts()["stalled"], 1);
  // Recovery: a file reached it.
  fleet_.OnFile("node001", File("vmlinuz", true), FileRole::kOther,
                t + absl::Seconds(301));
  host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "booting");
  EXPECT_EQ(host.reason, "");
  fleet_.Tick(t + absl::Seconds(301) + absl::Minutes(5) + absl::Seconds(1));
  EXPECT_EQ(PhaseOf("node001"), "stalled");
  EXPECT_EQ(fleet_.Host("node001")->reason,
            "no progress in booting for 5m1s (bound 5m)");
  const absl::Time u = t + absl::Hours(1);
  fleet_.OnFile("node001", File("initrd.img", true), FileRole::kLastFile, u);
  EXPECT_EQ(PhaseOf("node001"), "installing");
  fleet_.Tick(u + absl::Hours(1));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  fleet_.Tick(u + absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(PhaseOf("node001"), "stalled");
  EXPECT_EQ(fleet_.Host("node001")->reason,
            "no progress in installing for 1h1s (bound 1h)");
  // Recovery by a state change: the installer reported done.
  HostStateMap states = states_;
  states["node001"].state = HostState::kInstalled;
  fleet_.SetStates(states, u + absl::Hours(2), "api 127.0.0.1:5555");
  EXPECT_EQ(PhaseOf("node001"), "installed");
  EXPECT_EQ(fleet_.Host("node001")->reason, "");
  // A new lease also takes a stalled host out: dhcp again.
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 12), u);
  fleet_.Tick(u + absl::Hours(3));
  EXPECT_EQ(PhaseOf("node002"), "stalled");
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 12), u + absl::Hours(4));
  EXPECT_EQ(PhaseOf("node002"), "dhcp");
}

// [status] stall_* come with the site: at start and with each reload.
TEST_F(FleetStatusTest, StallBoundsComeFromTheSite) {
  SiteConfig site = MakeSite();
  site.status.stall_dhcp = absl::Seconds(30);
  fleet_.SetInventory(site, inventory_, states_, kStart);
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), kStart);
  fleet_.Tick(kStart + absl::Seconds(30));
  EXPECT_EQ(PhaseOf("node001"), "dhcp");
  fleet_.Tick(kStart + absl::Seconds(31));
  EXPECT_EQ(PhaseOf("node001"), "stalled");
  EXPECT_EQ(fleet_.Host("node001")->reason,
            "no progress in dhcp for 31s (bound 30s)");
}

TEST_F(FleetStatusTest, ArmAndDisarm) {
  HostStateMap states = states_;
  states["node002"].state = HostState::kInstall;
  fleet_.SetStates(states, kStart, "api 127.0.0.1:5555");
  EXPECT_EQ(PhaseOf("node002"), "armed");
  EXPECT_EQ(fleet_.Host("node002")->timeline.back().detail,
            "armed by api 127.0.0.1:5555 (localboot -> install)");
  // Disarmed before anything was seen: unknown again.
  states["node002"].state = HostState::kLocalboot;
  fleet_.SetStates(states, kStart, "host-states.tsv");
  EXPECT_EQ(PhaseOf("node002"), "unknown");
  EXPECT_EQ(fleet_.Host("node002")->timeline.back().detail,
            "disarmed by host-states.tsv (install -> localboot)");
  // Disarmed while installing: only the installer says done, so unknown.
  fleet_.OnFile("node001", File("initrd.img", true), FileRole::kLastFile,
                kStart);
  EXPECT_EQ(PhaseOf("node001"), "installing");
  states["node001"].state = HostState::kLocalboot;
  fleet_.SetStates(states, kStart, "host-states.tsv");
  EXPECT_EQ(PhaseOf("node001"), "unknown");
  // Re-armed: armed, whatever was seen before.
  states["node001"].state = HostState::kInstall;
  fleet_.SetStates(states, kStart, "host-states.tsv");
  EXPECT_EQ(PhaseOf("node001"), "armed");
}

TEST_F(FleetStatusTest, ReloadKeepsAddsAndRemovesHosts) {
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), kStart);
  Inventory next = MakeInventory(
      "mac,hostname,ip,profile,state\n"
      "52:54:00:00:00:01,node001,198.18.0.11,alma9,install\n"
      "52:54:00:00:00:04,node004,,rocky9,install\n");
  HostStateMap states = StatesOf(next);
  fleet_.SetInventory(site_, next, states, kStart + absl::Seconds(1));
  std::vector<HostStatus> hosts = fleet_.Hosts();
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "node001");
  EXPECT_EQ(hosts[0].phase, "dhcp");           // kept
  EXPECT_EQ(hosts[0].profile, "alma9");        // updated
  EXPECT_EQ(hosts[0].group, "198.18.0.0/24");  // no rack column any more
  EXPECT_EQ(fleet_.Host("node001")->timeline.size(), 1u);
  EXPECT_EQ(hosts[1].name, "node004");
  EXPECT_EQ(hosts[1].phase, "armed");
  EXPECT_EQ(hosts[1].group, "");  // no address, no rack
  // An event per added and per removed host, in name order of each.
  ASSERT_EQ(published_.size(), 4u);
  EXPECT_EQ(published_[1].kind, "inventory");
  EXPECT_EQ(published_[1].host, "node004");
  EXPECT_EQ(published_[1].phase, "armed");
  EXPECT_EQ(published_[1].detail, "added to the inventory");
  EXPECT_EQ(published_[2].host, "node002");
  EXPECT_EQ(published_[2].detail, "removed from the inventory");
  EXPECT_EQ(published_[2].phase, "");
  EXPECT_EQ(published_[3].host, "node003");
  // Events for a removed host are ignored.
  fleet_.OnLease("node002", Ipv4Address(198, 18, 0, 12), kStart);
  EXPECT_EQ(published_.size(), 4u);
  EXPECT_FALSE(fleet_.Host("node002").has_value());
}

TEST_F(FleetStatusTest, TimelineIsBoundedOldestFirst) {
  for (int i = 0; i < 100; ++i) {
    fleet_.OnFile("node002", File(absl::StrCat("f", i), true, 12),
                  FileRole::kOther, kStart + absl::Seconds(i));
  }
  HostStatus host = *fleet_.Host("node002");
  ASSERT_EQ(host.timeline.size(), FleetStatus::kTimelineEvents);
  EXPECT_EQ(host.timeline.front().detail, "tftp f68 1000 bytes");
  EXPECT_EQ(host.timeline.back().detail, "tftp f99 1000 bytes");
  EXPECT_EQ(host.timeline.front().id, 69u);
  EXPECT_EQ(host.timeline.back().id, 100u);
}

TEST_F(FleetStatusTest, RingKeepsTheLastEventsWithIncreasingIds) {
  EXPECT_EQ(fleet_.oldest_id(), 0u);
  EXPECT_TRUE(fleet_.EventsAfter(0, 10).empty());
  const int kEvents = 5000;
  for (int i = 0; i < kEvents; ++i) {
    fleet_.OnFile(i % 2 ? "node001" : "node002", File("f", true),
                  FileRole::kOther, kStart);
  }
  EXPECT_EQ(fleet_.last_id(), 5000u);
  EXPECT_EQ(fleet_.oldest_id(), 5000u - FleetStatus::kRingEvents + 1);
  std::vector<HostEvent> all = fleet_.EventsAfter(0, 100000);
  ASSERT_EQ(all.size(), FleetStatus::kRingEvents);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].id, fleet_.oldest_id() + i);
  }
  std::vector<HostEvent> some = fleet_.EventsAfter(4990, 5);
  ASSERT_EQ(some.size(), 5u);
  EXPECT_EQ(some[0].id, 4991u);
  EXPECT_EQ(some[4].id, 4995u);
  EXPECT_EQ(some[0].host, "node002");
  EXPECT_TRUE(fleet_.EventsAfter(5000, 5).empty());
  EXPECT_TRUE(fleet_.EventsAfter(9000, 5).empty());
}

TEST_F(FleetStatusTest, ClientTextIsEscapedAndCut) {
  std::string name = "pxelinux.cfg/\n\x1b[31mE1130 forged\xff\"";
  name += std::string(500, 'a');
  fleet_.OnFile("node002", File(name, true, 12), FileRole::kOther, kStart);
  const std::string detail = fleet_.Host("node002")->timeline.back().detail;
  EXPECT_LE(detail.size(), FleetStatus::kMaxDetail);
  for (char c : detail) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << static_cast<int>(c);
  }
  EXPECT_EQ(detail.substr(0, 40), "tftp pxelinux.cfg/\\x0a\\x1b[31mE1130 forg");
}

TEST(FleetStatusThreads, ConcurrentEventsPublishInIdOrder) {
  Inventory inventory = MakeInventory(kInventory);
  FleetStatus fleet;
  fleet.SetInventory(MakeSite(), inventory, StatesOf(inventory), kStart, true);
  std::vector<uint64_t> ids;  // only the publisher writes it, under its lock
  fleet.SetPublisher(
      [&ids](const HostEvent& event) { ids.push_back(event.id); });
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
      }
      for (int i = 0; i < 2000; ++i) {
        if (t == 0) {
          fleet.Tick(kStart + absl::Hours(1));
        } else if (t == 1) {
          fleet.OnLease("node001", Ipv4Address(198, 18, 0, 11), kStart);
        } else {
          fleet.OnFile("node002", File("f", i % 3 != 0, 12), FileRole::kOther,
                       kStart);
          (void)fleet.Hosts();
          (void)fleet.EventsAfter(0, 10);
        }
      }
    });
  }
  go = true;
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(ids.size(), fleet.last_id());
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], i + 1);
}

}  // namespace
}  // namespace rackboot::site

namespace rackboot::site {
namespace {

TEST_F(FleetStatusTest, InstallerReportsProgressFailureAndDone) {
  const absl::Time t = kStart + absl::Seconds(5);
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), t);
  fleet_.OnFile("node001", File("initrd.img", true), FileRole::kLastFile, t);
  EXPECT_EQ(PhaseOf("node001"), "installing");
  // Progress: the installing bound starts over.
  fleet_.OnInstaller("node001", "installing", "partitioning",
                     t + absl::Minutes(90));
  fleet_.Tick(t + absl::Hours(3));
  EXPECT_EQ(PhaseOf("node001"), "installing");
  HostStatus host = *fleet_.Host("node001");
  EXPECT_EQ(host.timeline.back().kind, "installer");
  EXPECT_EQ(host.timeline.back().detail, "installing: partitioning");
  EXPECT_EQ(host.timeline.back().phase, "installing");
  // Failed: the reason is its detail, escaped; it stays armed and never
  // stalls.
  fleet_.OnInstaller("node001", "failed", "disk /dev/sda\nnot found",
                     t + absl::Hours(4));
  host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "failed");
  EXPECT_EQ(host.state, "install");
  EXPECT_EQ(host.reason, "disk /dev/sda\\x0anot found");
  fleet_.Tick(t + absl::Hours(40));
  EXPECT_EQ(PhaseOf("node001"), "failed");
  // Long details are cut.
  fleet_.OnInstaller("node001", "failed", std::string(5000, 'x'),
                     t + absl::Hours(41));
  EXPECT_LE(fleet_.Host("node001")->reason.size(), FleetStatus::kMaxDetail);
  // Unknown phases and hosts are ignored.
  const size_t events = published_.size();
  fleet_.OnInstaller("node001", "rebooting", "", t + absl::Hours(42));
  fleet_.OnInstaller("nope", "done", "", t + absl::Hours(42));
  EXPECT_EQ(published_.size(), events);
  // Done: installed by the installer, then phase done.
  HostStateMap states = states_;
  states["node001"].state = HostState::kInstalled;
  fleet_.SetStates(states, t + absl::Hours(43), "installer");
  fleet_.OnInstaller("node001", "done", "", t + absl::Hours(43));
  host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "done");
  EXPECT_EQ(host.state, "installed");
  EXPECT_EQ(host.reason, "");
  EXPECT_EQ(host.timeline.back().detail, "done");
  EXPECT_EQ(fleet_.PhaseCounts()["done"], 1);
  // Its next network boot: a new cycle, and its local config: installed.
  fleet_.OnLease("node001", Ipv4Address(198, 18, 0, 11), t + absl::Hours(44));
  fleet_.OnFile("node001", File("pxelinux.cfg/01-52-54-00-00-00-01", true),
                FileRole::kHostConfig, t + absl::Hours(44));
  EXPECT_EQ(PhaseOf("node001"), "installed");
}

TEST_F(FleetStatusTest, ExpiredTokenShowsFailedUntilReArmed) {
  HostStateMap states = states_;
  HostStateEntry armed(HostState::kInstall, kStart);
  armed.token = "0123456789abcdef0123456789abcdef";
  armed.token_expires = kStart + absl::Hours(6);
  states["node001"] = armed;
  fleet_.SetStates(states, kStart, "api 127.0.0.1:5555");
  EXPECT_EQ(PhaseOf("node001"), "armed");
  EXPECT_EQ(fleet_.Host("node001")->token_expires, kStart + absl::Hours(6));
  EXPECT_EQ(fleet_.Host("node002")->token_expires, absl::InfinitePast());
  fleet_.Tick(kStart + absl::Hours(6) - absl::Seconds(1));
  EXPECT_EQ(PhaseOf("node001"), "armed");
  fleet_.Tick(kStart + absl::Hours(6));
  HostStatus host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "failed");
  // kStart + 6h = 2026-11-30T19:05:00Z.
  EXPECT_EQ(host.reason, "install token expired at 2026-11-30T19:05:00Z");
  EXPECT_EQ(host.timeline.back().kind, "token");
  EXPECT_EQ(host.timeline.back().detail, host.reason);
  const size_t events = published_.size();
  fleet_.Tick(kStart + absl::Hours(7));  // once
  EXPECT_EQ(published_.size(), events);
  // Re-armed (a new token, same state): armed again, a "state" event.
  armed.changed = kStart + absl::Hours(8);
  armed.token = "fedcba9876543210fedcba9876543210";
  armed.token_expires = kStart + absl::Hours(14);
  states["node001"] = armed;
  fleet_.SetStates(states, kStart + absl::Hours(8), "api 127.0.0.1:5555");
  host = *fleet_.Host("node001");
  EXPECT_EQ(host.phase, "armed");
  EXPECT_EQ(host.reason, "");
  EXPECT_EQ(host.timeline.back().detail,
            "armed again by api 127.0.0.1:5555 (install -> install)");
  fleet_.Tick(kStart + absl::Hours(9));
  EXPECT_EQ(PhaseOf("node001"), "armed");
  // An armed host without a token (armed by its inventory column, not yet
  // issued one) is not reported expired.
  EXPECT_EQ(fleet_.Host("node001")->state, "install");
  fleet_.Tick(kStart + absl::Hours(1000));
  EXPECT_EQ(PhaseOf("node003"), "installed");
}

}  // namespace
}  // namespace rackboot::site
