// BringUpTracker: the same phases from TFTP and HTTP deliveries, hosts found by
// lease or reservation, DHCP ACKs with and without a boot file, and many
// emitter threads at once.
#include "engine/site/bring_up_tracker.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::site {
namespace {

constexpr char kSite[] = R"(
[tftp]
root = "/srv/tftp"
[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "a"
[[profile]]
name = "tiny"
kernel = "tiny-kernel"
append = "b"
)";

// node001 has a reservation; node002 and node003 get their address by lease.
constexpr char kInventory[] =
    "mac,hostname,ip,profile,state\n"
    "52:54:00:c6:12:01,node001,198.18.0.21,lab,install\n"
    "52:54:00:c6:12:02,node002,,lab,install\n"
    "52:54:00:c6:12:03,node003,,tiny,install\n";

constexpr MacAddress kNode2 = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x02};
constexpr MacAddress kNode3 = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x03};

class BringUpTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bring_up_tracker_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<SiteConfig> site = ParseSiteConfig(kSite, "site.toml");
    ASSERT_TRUE(site.ok()) << site.status();
    absl::StatusOr<Inventory> inventory =
        Inventory::Parse(kInventory, "inventory.csv");
    ASSERT_TRUE(inventory.ok()) << inventory.status();
    current_ = std::make_unique<CurrentSite>(
        MakeSiteGeneration(*site, *inventory, /*states=*/nullptr,
                           *install::InstallTemplates::Load(*site)));
    absl::StatusOr<std::unique_ptr<BringUpLog>> log = BringUpLog::Open(dir_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    // Leases: 198.18.16.2 is node002's, 198.18.16.3 node003's.
    tracker_ = std::make_unique<BringUpTracker>(
        current_.get(), log_.get(),
        [](Ipv4Address address) -> absl::optional<MacAddress> {
          if (address == Ipv4Address(198, 18, 16, 2)) return kNode2;
          if (address == Ipv4Address(198, 18, 16, 3)) return kNode3;
          return absl::nullopt;
        });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static daemon::FileDelivered File(daemon::Transport transport,
                                    const std::string& client,
                                    const std::string& file,
                                    bool complete = true) {
    daemon::FileDelivered event;
    event.transport = transport;
    event.client = *io::SocketAddress::Parse(client);
    event.file = file;
    event.complete = complete;
    event.bytes = 1000;
    event.file_size = 1000;
    return event;
  }
  std::string Phase(const std::string& host) {
    auto phases = log_->Phases();
    auto it = phases.find(host);
    return it == phases.end() ? "" : it->second.phase;
  }

  std::string dir_;
  std::unique_ptr<CurrentSite> current_;
  std::unique_ptr<BringUpLog> log_;
  std::unique_ptr<BringUpTracker> tracker_;
};

using daemon::Transport;

TEST_F(BringUpTrackerTest, HttpCountsLikeTftp) {
  // node002 by its lease: the loader over TFTP, kernel and initrd over HTTP.
  tracker_->OnFileDelivered(
      File(Transport::kTftp, "198.18.16.2:2000", "undionly.kpxe"));
  EXPECT_EQ(Phase("node002"), "tftp undionly.kpxe");
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40000", "vmlinuz"));
  EXPECT_EQ(Phase("node002"), "http vmlinuz");
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40000", "initrd.img"));
  // Armed: its installer runs; only the installer's report says done.
  EXPECT_EQ(Phase("node002"), "installing");
  // A file completing after the last one (shards finish out of order) is no
  // step back; the next lease with a boot file starts a new cycle.
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40001", "vmlinuz"));
  EXPECT_EQ(Phase("node002"), "installing");
  // node003's profile has no initrd: its kernel is the last file, over TFTP.
  tracker_->OnFileDelivered(
      File(Transport::kTftp, "198.18.16.3:2000", "tiny-kernel"));
  EXPECT_EQ(Phase("node003"), "installing");
  // The installer's reports.
  tracker_->OnInstaller("node002", "failed", "no disk", absl::Now());
  EXPECT_EQ(Phase("node002"), "failed");
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40001", "vmlinuz"));
  EXPECT_EQ(Phase("node002"), "failed");
  tracker_->OnInstaller("node002", "done", "", absl::Now());
  EXPECT_EQ(Phase("node002"), "done");
  tracker_->OnInstaller("node002", "bogus", "", absl::Now());
  EXPECT_EQ(Phase("node002"), "done");
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40001", "initrd.img"));
  EXPECT_EQ(Phase("node002"), "installing");  // armed still (no store here)
  // The file reaches bring-up.tsv at the flush.
  ASSERT_TRUE(tracker_->Flush().ok());
  absl::StatusOr<std::map<std::string, BringUpPhase>> read =
      BringUpLog::Read(dir_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->at("node002").phase, "installing");
  EXPECT_EQ(read->at("node003").phase, "installing");
  std::map<std::string, int64_t> metrics;
  for (const daemon::Metric& m : tracker_->Metrics()) metrics[m.name] = m.value;
  EXPECT_EQ(metrics["bring_up_files_tftp"], 2);
  EXPECT_EQ(metrics["bring_up_files_http"], 5);
  EXPECT_EQ(metrics["bring_up_hosts_installing"], 3);
  EXPECT_EQ(metrics["bring_up_hosts_done"], 1);
}

// With the host states: the last boot file of a host that is not armed is
// just a file, never done (before issue 14 it was "done").
TEST_F(BringUpTrackerTest, UnarmedHostsLastFileIsNotDone) {
  absl::StatusOr<Inventory> inventory =
      Inventory::Parse(kInventory, "inventory.csv");
  ASSERT_TRUE(inventory.ok());
  absl::StatusOr<std::unique_ptr<HostStateStore>> states =
      HostStateStore::Open(dir_ + "/state", *inventory);
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_TRUE((*states)->Set("node002", HostState::kLocalboot).ok());
  ASSERT_TRUE((*states)->Set("node003", HostState::kInstalled).ok());
  BringUpTracker tracker(
      current_.get(), log_.get(),
      [](Ipv4Address address) -> absl::optional<MacAddress> {
        if (address == Ipv4Address(198, 18, 16, 2)) return kNode2;
        if (address == Ipv4Address(198, 18, 16, 3)) return kNode3;
        return absl::nullopt;
      },
      /*fleet=*/nullptr, states->get());
  tracker.OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40000", "initrd.img"));
  EXPECT_EQ(Phase("node002"), "http initrd.img");
  tracker.OnFileDelivered(
      File(Transport::kTftp, "198.18.16.3:2000", "tiny-kernel"));
  EXPECT_EQ(Phase("node003"), "tftp tiny-kernel");
  // node001 is armed (its column): installing.
  tracker.OnFileDelivered(
      File(Transport::kHttp, "198.18.0.21:40000", "initrd.img"));
  EXPECT_EQ(Phase("node001"), "installing");
}

TEST_F(BringUpTrackerTest, IncompleteAndUnknownClientsChangeNothing) {
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40000", "initrd.img", false));
  tracker_->OnFileDelivered(
      File(Transport::kTftp, "198.18.99.9:2000", "initrd.img"));
  tracker_->OnFileDelivered(File(Transport::kTftp, "[::1]:2000", "vmlinuz"));
  EXPECT_TRUE(log_->Phases().empty());
}

TEST_F(BringUpTrackerTest, ReservationWithoutLease) {
  // proxyDHCP leases nothing: node001's reservation names it.
  tracker_->OnFileDelivered(
      File(Transport::kHttp, "198.18.0.21:40000", "vmlinuz"));
  EXPECT_EQ(Phase("node001"), "http vmlinuz");
}

TEST_F(BringUpTrackerTest, AckWithBootFileIsDhcp) {
  daemon::LeaseAcked ack;
  ack.mac = kNode2;
  ack.address = Ipv4Address(198, 18, 16, 2);
  tracker_->OnLeaseAcked(ack);  // no boot file: a renewal, not a boot
  EXPECT_EQ(Phase("node002"), "");
  ack.boot_file = "undionly.kpxe";
  tracker_->OnLeaseAcked(ack);
  EXPECT_EQ(Phase("node002"), "dhcp");
  ack.mac = {2, 0, 0, 0, 0, 1};  // not in the inventory
  tracker_->OnLeaseAcked(ack);
  EXPECT_EQ(log_->Phases().size(), 1u);
}

// The same events reach the live model: leases, files with their role, and
// failed transfers (which bring-up.tsv leaves out).
TEST_F(BringUpTrackerTest, FeedsTheFleetStatus) {
  absl::StatusOr<Inventory> inventory =
      Inventory::Parse(kInventory, "inventory.csv");
  ASSERT_TRUE(inventory.ok());
  HostStateMap states;
  for (const InventoryHost& host : inventory->hosts())
    states[host.hostname] = {host.initial_state, absl::InfinitePast()};
  FleetStatus fleet;
  fleet.SetInventory(current_->Get()->site, *inventory, states, absl::Now(),
                     /*initial=*/true);
  BringUpTracker tracker(
      current_.get(), log_.get(),
      [](Ipv4Address address) -> absl::optional<MacAddress> {
        if (address == Ipv4Address(198, 18, 16, 2)) return kNode2;
        return absl::nullopt;
      },
      &fleet);
  EXPECT_EQ(fleet.Host("node002")->phase, "armed");
  daemon::LeaseAcked ack;
  ack.mac = kNode2;
  ack.address = Ipv4Address(198, 18, 16, 2);
  ack.boot_file = "undionly.kpxe";
  tracker.OnLeaseAcked(ack);
  EXPECT_EQ(fleet.Host("node002")->phase, "dhcp");
  EXPECT_EQ(fleet.Host("node002")->address, "198.18.16.2");
  tracker.OnFileDelivered(File(Transport::kTftp, "198.18.16.2:2000",
                               "pxelinux.cfg/01-52-54-00-c6-12-02"));
  EXPECT_EQ(fleet.Host("node002")->phase, "booting");  // armed: a step
  tracker.OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40000", "initrd.img", false));
  HostStatus host = *fleet.Host("node002");
  EXPECT_EQ(host.phase, "booting");
  EXPECT_EQ(host.timeline.back().kind, "transfer_failed");
  EXPECT_EQ(host.timeline.back().detail,
            "http initrd.img failed at 1000 of 1000 bytes");
  tracker.OnFileDelivered(
      File(Transport::kHttp, "198.18.16.2:40000", "initrd.img"));
  host = *fleet.Host("node002");
  EXPECT_EQ(host.phase, "installing");
  ASSERT_EQ(host.timeline.size(), 4u);
  EXPECT_EQ(host.timeline[0].kind, "lease");
  EXPECT_EQ(host.timeline[3].detail, "http initrd.img 1000 bytes");
  // The kernel's completion, reported after the initrd's by another shard:
  // still installing.
  tracker.OnFileDelivered(
      File(Transport::kTftp, "198.18.16.2:2000", "vmlinuz"));
  EXPECT_EQ(fleet.Host("node002")->phase, "installing");
  // A lease without a boot file (the installer's own DHCP): seen, in the
  // timeline, phase kept; bring-up.tsv records no phase for it.
  ack.boot_file.clear();
  const std::string logged = Phase("node002");
  tracker.OnLeaseAcked(ack);
  host = *fleet.Host("node002");
  EXPECT_EQ(host.phase, "installing");
  ASSERT_EQ(host.timeline.size(), 6u);
  EXPECT_EQ(host.timeline[5].kind, "lease");
  EXPECT_EQ(host.timeline[5].detail, "lease 198.18.16.2 without a boot file");
  EXPECT_EQ(host.last_seen, host.timeline[5].time);
  EXPECT_EQ(Phase("node002"), logged);
  // node001 by its reservation; clients of no host change nothing.
  tracker.OnFileDelivered(
      File(Transport::kTftp, "198.18.0.21:2000", "vmlinuz"));
  EXPECT_EQ(fleet.Host("node001")->phase, "booting");
  const uint64_t events = fleet.last_id();
  tracker.OnFileDelivered(
      File(Transport::kTftp, "198.18.99.9:2000", "vmlinuz", false));
  tracker.OnFileDelivered(File(Transport::kTftp, "[::1]:2000", "vmlinuz"));
  EXPECT_EQ(fleet.last_id(), events);
}

TEST_F(BringUpTrackerTest, ManyEmittersAtOnce) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 1000; ++i) {
        tracker_->OnFileDelivered(
            File(t % 2 ? Transport::kTftp : Transport::kHttp,
                 "198.18.16.2:1000", "vmlinuz"));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::map<std::string, int64_t> metrics;
  for (const daemon::Metric& m : tracker_->Metrics()) metrics[m.name] = m.value;
  EXPECT_EQ(metrics["bring_up_files_tftp"] + metrics["bring_up_files_http"],
            8000);
  EXPECT_NE(Phase("node002"), "");
}

}  // namespace
}  // namespace rackboot::site
