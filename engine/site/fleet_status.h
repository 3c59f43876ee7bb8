// FleetStatus: the live bring-up model of every inventory host, for the API
// (GET /api/v1/hosts, .../hosts/{name}, events), the status page and the
// metrics (rackboot_hosts{phase}). Where BringUpLog persists one line per
// host, FleetStatus keeps what an operator watching a bring-up needs: the
// host's phase and since when, why it is stalled, its last address, and a
// short timeline, plus a daemon-wide ring of the last events with increasing
// ids (Server-Sent Events resume from it with Last-Event-ID).
//
// Phases (the page's colours, the API's "phase"):
//   unknown     not armed, not installed, and no boot in progress: never
//               seen since the daemon started, or handed its local-disk
//               config (it boots its disk), or disarmed
//   armed       state install, nothing seen since it was armed
//   dhcp        a DHCPACK with a boot file reached it
//   booting     a boot file reached it since that lease, the profile's last
//               one not yet
//   installing  armed, and the profile's last boot file (initrd, else kernel)
//               reached it, or its installer reported progress (OnInstaller)
//   done        its installer reported done (only that: the state is then
//               installed, and the next network boot starts a new cycle)
//   installed   its state is installed (and nothing in progress since, or
//               it was handed its local-disk config)
//   failed      its installer reported failure (`reason` is its detail), or
//               its install token expired while armed (`reason` "install
//               token expired at <RFC 3339 time>"); it stays armed
//   stalled     no progress in dhcp, booting or installing for longer than
//               that phase's bound (StallBounds, site.toml [status]);
//               `reason` says which phase and for how long
// Progress is a lease with a boot file, a complete file, an installer report
// or a state change; a transfer that failed, or a lease without a boot file,
// is an event but no progress, so a host retrying a file that never arrives
// ends stalled. Any progress takes a stalled host back to the phase the event
// implies ("recovery"). Only a lease with a boot file or a state change
// starts a new cycle: once installing, done or failed, a host stays there on
// any file (shards report completions out of order, installers fetch more).
//
// Event kinds: "lease", "file", "transfer_failed", "state" (arm, re-arm,
// disarm, installed, by the host-states poll, the API or the installer),
// "installer" (the installer's own reports: installing, failed, done),
// "token" (the install token of an armed host expired), "stalled",
// "inventory" (a host added to or removed by an inventory reload; after a
// removal its phase is "").
//
//   FleetStatus fleet;                       // SiteRuntime owns it
//   fleet.SetInventory(site, inventory, *states->Snapshot(), now);
//   fleet.SetPublisher([&hub](const HostEvent& e) { ...hub.Publish... });
//   tracker: fleet.OnLease("node001", address, now); fleet.OnFile(...);
//   main loop, once a second: fleet.Tick(now);
//   API: fleet.Hosts(); fleet.Host("node001"); fleet.EventsAfter(id, 500);
//
// Thread-safe: every method may be called from any thread. Updates hold one
// mutex for a map lookup and a few string copies (no I/O, no allocation
// proportional to the fleet); Hosts() and the counts take one pass over
// the fleet under it, Tick one more. The publisher runs after the model's lock
// is released but under a second lock that keeps events in id order, so it must
// not call back into FleetStatus. Memory is bounded: per host 32 events, the
// ring 4,096, details cut to kMaxDetail bytes of escaped (printable ASCII)
// text.
#ifndef RACKBOOT_ENGINE_SITE_FLEET_STATUS_H_
#define RACKBOOT_ENGINE_SITE_FLEET_STATUS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/daemon/events.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

enum class Phase {
  kUnknown,
  kArmed,
  kDhcp,
  kBooting,
  kInstalling,
  kDone,
  kInstalled,
  kFailed,
  kStalled,
};
inline constexpr int kPhaseCount = 9;
// "unknown", "armed", ...: the API's and the page's words.
absl::string_view PhaseName(Phase phase);
// Every phase in the order above (for counts with all nine keys).
const std::array<Phase, kPhaseCount>& AllPhases();

// One entry of a host's timeline and of GET /api/v1/events.
struct HostEvent {
  uint64_t id = 0;  // increasing, daemon-wide (SSE id:)
  absl::Time time;
  std::string host;     // inventory hostname ("" for unknown clients)
  std::string kind;     // "lease", "file", "transfer_failed", "state", ...
  std::string phase;    // the host's phase after the event
  std::string detail;   // "tftp vmlinuz 5242880 bytes", "armed by api ..."
  std::string address;  // dotted quad or ""
};

struct HostStatus {
  std::string name;
  std::string mac;      // "52:54:00:00:10:01"
  std::string address;  // last lease or client address, else reservation
  std::string profile;
  std::string state;  // install | installed | localboot
  // The inventory's "rack" column if any, else the subnet holding its
  // address ("198.18.0.0/24"), else "".
  std::string group;
  std::string phase;
  std::string reason;  // why stalled, "" otherwise
  absl::Time phase_since = absl::InfinitePast();
  absl::Time last_seen = absl::InfinitePast();  // last event of this host
  // An armed host's install token expiry (never the token); InfinitePast
  // when not armed or without a token.
  absl::Time token_expires = absl::InfinitePast();
  std::vector<HostEvent> timeline;  // oldest first; only from Host()
};

// What a delivered file is to the host that fetched it (BringUpTracker
// decides; FleetStatus knows the host's state).
enum class FileRole {
  kOther,       // a boot loader, a module, a mirror file: booting
  kHostConfig,  // its rendered per-host config (pxelinux.cfg/01-<mac>, ...):
                // when it is not armed, that config boots its disk: the
                // phase its state implies (installed, else unknown);
                // booting when armed
  kLastFile,    // its profile's last boot file (initrd, else kernel):
                // installing when armed, else booting
};

// site.toml [status]: how long a host may stay in a phase without progress.
struct StallBounds {
  absl::Duration dhcp = absl::Minutes(2);
  absl::Duration booting = absl::Minutes(10);
  absl::Duration installing = absl::Hours(2);
};

class FleetStatus {
 public:
  static constexpr size_t kTimelineEvents = 32;
  static constexpr size_t kRingEvents = 4096;
  static constexpr size_t kMaxDetail = 200;  // bytes of escaped text

  explicit FleetStatus(StallBounds bounds = {});
  FleetStatus(const FleetStatus&) = delete;
  FleetStatus& operator=(const FleetStatus&) = delete;

  void SetStallBounds(StallBounds bounds);
  // Called with every new event, in id order (see the threads note above).
  // Empty: none. Set it before events flow, or at any time.
  void SetPublisher(std::function<void(const HostEvent&)> publisher);

  // The inventory at start and after each reload: hosts it adds start in the
  // phase their state implies (armed, installed, else unknown; an "inventory"
  // event each unless `initial`), hosts it removes are forgotten (an
  // "inventory" event), hosts it keeps keep their phase and timeline with
  // mac, profile and group updated. `states` is the store's snapshot. The
  // stall bounds become site.status's ([status] stall_*), so a reload
  // applies them.
  void SetInventory(const SiteConfig& site, const Inventory& inventory,
                    const HostStateMap& states, absl::Time now,
                    bool initial = false);
  // The host states as the store applies them now: a "state" event per host
  // whose state differs from the last call's, or that was armed again (a new
  // install token). To install: armed (progress starts over); to installed:
  // installed; to localboot: a host armed, installing, failed or
  // installed goes back to unknown, others keep what was observed. `by`
  // says who changed them, for the detail ("host-states.tsv", "api
  // 127.0.0.1:5555", "installer"). The tokens' expiry is kept (not the
  // tokens) for Tick.

  void SetStates(const HostStateMap& states, absl::Time now,
                 absl::string_view by);

  // From BringUpTracker (any shard's thread). `host` is an inventory
  // hostname; events for names not in the inventory are ignored.
  // A DHCPACK with a boot file: dhcp (a new boot cycle starts). Without
  // one (`boot_file` false: an OS booted from disk, an installer renewing):
  // a "lease" event and the address, but the phase stays and it is no
  // progress.
  void OnLease(absl::string_view host, Ipv4Address address, absl::Time now,
               bool boot_file = true);
  // A file transfer ended. Complete: the phase its role implies (FileRole).
  // Incomplete: a "transfer_failed" event, no phase change.
  void OnFile(absl::string_view host, const daemon::FileDelivered& event,
              FileRole role, absl::Time now);

  // The installer's report (SiteRuntime::ReportInstall checked its token):
  // `phase` "installing" (progress), "failed" (`detail` is the reason) or
  // "done"; an "installer" event. Other phases and hosts not in the
  // inventory are ignored. `detail` is escaped and cut to kMaxDetail.
  void OnInstaller(absl::string_view host, absl::string_view phase,
                   absl::string_view detail, absl::Time now);

  // Main thread, once a second: marks stalled the hosts past their phase's
  // bound (one "stalled" event each), and failed the armed hosts whose
  // install token expired (one "token" event each, reason "install token
  // expired at <time>").
  void Tick(absl::Time now);

  // All inventory hosts, sorted by name, without timelines.
  std::vector<HostStatus> Hosts() const;
  // One host with its timeline; nullopt if not in the inventory.
  // Case-insensitive (names are stored lowercase).
  absl::optional<HostStatus> Host(absl::string_view name) const;
  // All nine phases as keys.
  absl::flat_hash_map<std::string, int> PhaseCounts() const;
  // "install", "installed", "localboot" as keys.
  absl::flat_hash_map<std::string, int> StateCounts() const;
  // Events with id > after (at most `max`, oldest first) from the ring.
  std::vector<HostEvent> EventsAfter(uint64_t after, size_t max) const;
  // The oldest id the ring still holds (0 when empty) and the last id given
  // (0 when none): a Last-Event-ID below oldest_id()-1 missed events.
  uint64_t oldest_id() const;
  uint64_t last_id() const;

 private:
  struct Record {
    std::string mac, profile, rack;
    Ipv4Address address;   // last lease or client address; 0: none
    Ipv4Address reserved;  // the inventory's ip; 0: none
    HostState state = HostState::kLocalboot;
    bool state_known = false;
    // The state's last change and the install token's expiry, from the
    // store's snapshot: a new arm of an armed host changes them.
    absl::Time state_changed = absl::InfinitePast();
    absl::Time token_expires = absl::InfinitePast();  // none: InfinitePast
    Phase phase = Phase::kUnknown;
    Phase stalled_in = Phase::kUnknown;  // the phase it stalled in
    std::string reason;
    absl::Time phase_since = absl::InfinitePast();
    absl::Time progress = absl::InfinitePast();  // last progress
    absl::Time last_seen = absl::InfinitePast();
    std::string last_failure;  // the last transfer_failed detail, for reason
    std::deque<HostEvent> timeline;
  };

  // REQUIRES mu_. Records an event for `name` (appends to the timeline and
  // the ring) and returns it for publishing.
  HostEvent AddEvent(const std::string& name, Record* record,
                     absl::string_view kind, std::string detail,
                     absl::Time now);
  void SetPhase(Record* record, Phase phase, absl::Time now);
  std::string GroupOf(const Record& record) const;
  HostStatus StatusOf(const std::string& name, const Record& record) const;
  // Publishes `events` in order; called with mu_ held, releases it.
  void PublishAndUnlock(std::unique_lock<std::mutex>& lock,
                        std::vector<HostEvent> events);

  // std::mutex, not absl::Mutex: Debian's Abseil is not built for TSan, and
  // the tests run these classes under it.
  mutable std::mutex mu_;
  StallBounds bounds_;
  std::map<std::string, Record, std::less<>> hosts_;  // by hostname, sorted
  std::vector<Subnet> subnets_;                       // for groups by subnet
  std::vector<HostEvent> ring_;                       // circular, kRingEvents
  uint64_t next_id_ = 1;
  // Held while publishing so events leave in id order.
  std::mutex publish_mu_;
  std::function<void(const HostEvent&)> publisher_;  // guarded by publish_mu_
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_FLEET_STATUS_H_
