#include "engine/site/fleet_status.h"

#include <netinet/in.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"

namespace rackboot::site {
namespace {

constexpr std::array<Phase, kPhaseCount> kAllPhases = {
    Phase::kUnknown,   Phase::kArmed,      Phase::kDhcp,
    Phase::kBooting,   Phase::kInstalling, Phase::kDone,
    Phase::kInstalled, Phase::kFailed,     Phase::kStalled};

// The phase a host's state implies when nothing was observed since.
Phase PhaseForState(HostState state) {
  switch (state) {
    case HostState::kInstall:
      return Phase::kArmed;
    case HostState::kInstalled:
      return Phase::kInstalled;
    case HostState::kLocalboot:
      return Phase::kUnknown;
  }
  return Phase::kUnknown;
}

Ipv4Address AddressOf(const io::SocketAddress& client) {
  if (!client.is_ipv4()) return Ipv4Address();
  const auto* in = reinterpret_cast<const sockaddr_in*>(client.sockaddr_ptr());
  return Ipv4Address(ntohl(in->sin_addr.s_addr));
}

// An armed host's token expiry as the snapshot gives it; InfinitePast when it
// has no token (never valid, but nothing to report as expired either).
absl::Time TokenExpiry(const HostStateEntry& entry) {
  if (entry.state != HostState::kInstall || entry.token.empty()) {
    return absl::InfinitePast();
  }
  return entry.token_expires;
}

// A duration for a reason: "10m", "2h5m", "95s" (whole seconds).
std::string ShortDuration(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

}  // namespace

absl::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kUnknown:
      return "unknown";
    case Phase::kArmed:
      return "armed";
    case Phase::kDhcp:
      return "dhcp";
    case Phase::kBooting:
      return "booting";
    case Phase::kInstalling:
      return "installing";
    case Phase::kDone:
      return "done";
    case Phase::kInstalled:
      return "installed";
    case Phase::kFailed:
      return "failed";
    case Phase::kStalled:
      return "stalled";
  }
  return "unknown";
}

const std::array<Phase, kPhaseCount>& AllPhases() { return kAllPhases; }

FleetStatus::FleetStatus(StallBounds bounds) : bounds_(bounds) {
  ring_.reserve(kRingEvents);
}

void FleetStatus::SetStallBounds(StallBounds bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  bounds_ = bounds;
}

void FleetStatus::SetPublisher(
    std::function<void(const HostEvent&)> publisher) {
  std::lock_guard<std::mutex> lock(publish_mu_);
  publisher_ = std::move(publisher);
}

HostEvent FleetStatus::AddEvent(const std::string& name, Record* record,
                                absl::string_view kind, std::string detail,
                                absl::Time now) {
  HostEvent event;
  event.id = next_id_++;
  event.time = now;
  event.host = name;
  event.kind = std::string(kind);
  if (detail.size() > kMaxDetail) {
    detail.resize(kMaxDetail - 3);
    detail += "...";
  }
  event.detail = std::move(detail);
  if (record != nullptr) {
    event.phase = std::string(PhaseName(record->phase));
    if (!record->address.IsUnspecified())
      event.address = record->address.ToString();
    record->last_seen = now;
    if (record->timeline.size() == kTimelineEvents)
      record->timeline.pop_front();
    record->timeline.push_back(event);
  }
  if (ring_.size() < kRingEvents) {
    ring_.push_back(event);
  } else {
    ring_[(event.id - 1) % kRingEvents] = event;
  }
  return event;
}

void FleetStatus::SetPhase(Record* record, Phase phase, absl::Time now) {
  if (phase != Phase::kStalled) record->reason.clear();
  if (record->phase == phase) return;
  record->phase = phase;
  record->phase_since = now;
}

void FleetStatus::PublishAndUnlock(std::unique_lock<std::mutex>& lock,
                                   std::vector<HostEvent> events) {
  // Hand over hand: the publish lock is taken before the model's is released,
  // so events leave in id order while updates to the model go on.
  std::unique_lock<std::mutex> publishing(publish_mu_);
  lock.unlock();
  if (!publisher_) return;
  for (const HostEvent& event : events) publisher_(event);
}

void FleetStatus::SetInventory(const SiteConfig& site,
                               const Inventory& inventory,
                               const HostStateMap& states, absl::Time now,
                               bool initial) {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<HostEvent> events;
  subnets_ = site.dhcp.subnets;
  bounds_.dhcp = site.status.stall_dhcp;
  bounds_.booting = site.status.stall_booting;
  bounds_.installing = site.status.stall_installing;
  std::map<std::string, Record, std::less<>> next;
  for (const InventoryHost& host : inventory.hosts()) {
    auto old = hosts_.find(host.hostname);
    const bool added = old == hosts_.end();
    Record record;
    if (!added) record = std::move(old->second);
    record.mac = FormatMac(host.mac);
    record.profile = log::Escaped(host.profile, 64);
    record.rack.clear();
    for (const auto& [column, value] : host.extra) {
      if (absl::AsciiStrToLower(column) == "rack") {
        record.rack = log::Escaped(value, 64);
      }
    }
    record.reserved = host.address.value_or(Ipv4Address());
    if (added) {
      auto state = states.find(host.hostname);
      record.state =
          state != states.end() ? state->second.state : host.initial_state;
      if (state != states.end()) {
        record.state_changed = state->second.changed;
        record.token_expires = TokenExpiry(state->second);
      }
      record.state_known = true;
      record.phase = PhaseForState(record.state);
      record.phase_since = now;
      record.progress = now;
    }
    auto [it, inserted] = next.emplace(host.hostname, std::move(record));
    if (added && !initial) {
      events.push_back(AddEvent(host.hostname, &it->second, "inventory",
                                "added to the inventory", now));
    }
  }
  for (auto& [name, record] : hosts_) {
    if (next.contains(name)) continue;
    events.push_back(AddEvent(name, nullptr, "inventory",
                              "removed from the inventory", now));
  }
  hosts_ = std::move(next);
  PublishAndUnlock(lock, std::move(events));
}

void FleetStatus::SetStates(const HostStateMap& states, absl::Time now,
                            absl::string_view by) {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<HostEvent> events;
  const std::string who = log::Escaped(by, 80);
  for (auto& [name, record] : hosts_) {
    auto it = states.find(name);
    if (it == states.end()) continue;
    const HostState state = it->second.state;
    const absl::Time expires = TokenExpiry(it->second);
    // Arming an armed host again makes a new token: progress starts over.
    const bool rearmed = record.state_known && record.state == state &&
                         state == HostState::kInstall &&
                         (record.state_changed != it->second.changed ||
                          record.token_expires != expires);
    record.state_changed = it->second.changed;
    record.token_expires = expires;
    if (record.state_known && record.state == state && !rearmed) continue;
    const HostState old = record.state;
    record.state = state;
    record.state_known = true;
    record.progress = now;
    switch (state) {
      case HostState::kInstall:
        SetPhase(&record, Phase::kArmed, now);
        break;
      case HostState::kInstalled:
        SetPhase(&record, Phase::kInstalled, now);
        break;
      case HostState::kLocalboot: {
        // Not armed any more: nothing is being installed. Only the installer
        // says done, so one disarmed mid-install is unknown, not done.
        const Phase was =
            record.phase == Phase::kStalled ? record.stalled_in : record.phase;
        if (was == Phase::kArmed || was == Phase::kInstalled ||
            was == Phase::kInstalling || was == Phase::kFailed) {
          SetPhase(&record, Phase::kUnknown, now);
        } else if (record.phase == Phase::kStalled) {
          SetPhase(&record, was, now);  // progress: the bound starts over
        }
        break;
      }
    }
    const char* verb = rearmed                          ? "armed again"
                       : state == HostState::kInstall   ? "armed"
                       : state == HostState::kInstalled ? "installed"
                                                        : "disarmed";
    events.push_back(
        AddEvent(name, &record, "state",
                 absl::StrCat(verb, " by ", who, " (", HostStateName(old),
                              " -> ", HostStateName(state), ")"),
                 now));
  }
  PublishAndUnlock(lock, std::move(events));
}

void FleetStatus::OnLease(absl::string_view host, Ipv4Address address,
                          absl::Time now, bool boot_file) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  Record& record = it->second;
  if (!address.IsUnspecified()) record.address = address;
  std::string detail = address.IsUnspecified()
                           ? std::string("proxyDHCP offer acked")
                           : absl::StrCat("lease ", address.ToString());
  if (boot_file) {
    record.progress = now;
    SetPhase(&record, Phase::kDhcp, now);
  } else {
    // Seen, but no boot: a disk-booted OS or an installer renewing its
    // address. Not progress either, or a hung installer that renews its
    // lease would never stall.
    detail += " without a boot file";
  }
  std::vector<HostEvent> events;
  events.push_back(
      AddEvent(it->first, &record, "lease", std::move(detail), now));
  PublishAndUnlock(lock, std::move(events));
}

void FleetStatus::OnFile(absl::string_view host,
                         const daemon::FileDelivered& event, FileRole role,
                         absl::Time now) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  Record& record = it->second;
  if (Ipv4Address address = AddressOf(event.client); !address.IsUnspecified()) {
    record.address = address;
  }
  const std::string file = log::Escaped(event.file, 120);
  std::vector<HostEvent> events;
  if (!event.complete) {
    std::string detail = absl::StrCat(daemon::TransportName(event.transport),
                                      " ", file, " failed at ", event.bytes,
                                      " of ", event.file_size, " bytes");
    record.last_failure = detail;
    events.push_back(AddEvent(it->first, &record, "transfer_failed",
                              std::move(detail), now));
    PublishAndUnlock(lock, std::move(events));
    return;
  }
  record.progress = now;
  record.last_failure.clear();
  const bool armed = record.state == HostState::kInstall;
  // What it was doing before any stall: the phase progress takes it back to.
  const Phase was =
      record.phase == Phase::kStalled ? record.stalled_in : record.phase;
  Phase phase = Phase::kBooting;
  if (role == FileRole::kLastFile && armed) {
    phase = Phase::kInstalling;
  } else if (role == FileRole::kHostConfig && !armed) {
    // Its local-disk config: it boots its disk, nothing is installed.
    phase = PhaseForState(record.state);
  } else if (was == Phase::kInstalling || was == Phase::kDone ||
             was == Phase::kFailed) {
    // Shards report completions out of order (an initrd before the kernel
    // fetched first), and an installer fetches more files: any other file
    // is progress in the phase the installer reached, never a step back.
    // Only a lease or a state change starts a new boot.
    phase = was;
  }
  SetPhase(&record, phase, now);
  events.push_back(
      AddEvent(it->first, &record, "file",
               absl::StrCat(daemon::TransportName(event.transport), " ", file,
                            " ", event.file_size, " bytes"),
               now));
  PublishAndUnlock(lock, std::move(events));
}

void FleetStatus::OnInstaller(absl::string_view host, absl::string_view phase,
                              absl::string_view detail, absl::Time now) {
  Phase next;
  if (phase == "installing") {
    next = Phase::kInstalling;
  } else if (phase == "failed") {
    next = Phase::kFailed;
  } else if (phase == "done") {
    next = Phase::kDone;
  } else {
    return;
  }
  std::string text = log::Escaped(detail, kMaxDetail);
  std::unique_lock<std::mutex> lock(mu_);
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  Record& record = it->second;
  record.progress = now;
  record.last_failure.clear();
  SetPhase(&record, next, now);
  if (next == Phase::kFailed) {
    record.reason =
        text.empty() ? std::string("the installer reported failure") : text;
    if (record.reason.size() > kMaxDetail) {
      record.reason.resize(kMaxDetail - 3);
      record.reason += "...";
    }
  }
  std::string event_detail =
      text.empty() ? std::string(phase) : absl::StrCat(phase, ": ", text);
  std::vector<HostEvent> events;
  events.push_back(
      AddEvent(it->first, &record, "installer", std::move(event_detail), now));
  PublishAndUnlock(lock, std::move(events));
}

void FleetStatus::Tick(absl::Time now) {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<HostEvent> events;
  for (auto& [name, record] : hosts_) {
    if (record.state == HostState::kInstall &&
        record.token_expires != absl::InfinitePast() &&
        now >= record.token_expires && record.phase != Phase::kFailed) {
      // Rendered as not armed from now on (local menu, no install files);
      // the operator re-arms to make a new token.
      SetPhase(&record, Phase::kFailed, now);
      record.reason = absl::StrCat(
          "install token expired at ",
          absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", record.token_expires,
                           absl::UTCTimeZone()));
      events.push_back(AddEvent(name, &record, "token", record.reason, now));
      continue;
    }
    absl::Duration bound;
    switch (record.phase) {
      case Phase::kDhcp:
        bound = bounds_.dhcp;
        break;
      case Phase::kBooting:
        bound = bounds_.booting;
        break;
      case Phase::kInstalling:
        bound = bounds_.installing;
        break;
      default:
        continue;
    }
    const absl::Duration idle = now - record.progress;
    if (idle <= bound) continue;
    record.stalled_in = record.phase;
    record.reason = absl::StrCat("no progress in ", PhaseName(record.phase),
                                 " for ", ShortDuration(idle), " (bound ",
                                 ShortDuration(bound), ")");
    if (!record.last_failure.empty()) {
      absl::StrAppend(&record.reason, "; last: ", record.last_failure);
    }
    if (record.reason.size() > kMaxDetail) {
      record.reason.resize(kMaxDetail - 3);
      record.reason += "...";
    }
    SetPhase(&record, Phase::kStalled, now);
    events.push_back(AddEvent(name, &record, "stalled", record.reason, now));
  }
  PublishAndUnlock(lock, std::move(events));
}

std::string FleetStatus::GroupOf(const Record& record) const {
  if (!record.rack.empty()) return record.rack;
  for (Ipv4Address address : {record.address, record.reserved}) {
    if (address.IsUnspecified()) continue;
    for (const Subnet& subnet : subnets_) {
      if (subnet.Contains(address)) return subnet.CidrString();
    }
  }
  return "";
}

HostStatus FleetStatus::StatusOf(const std::string& name,
                                 const Record& record) const {
  HostStatus status;
  status.name = name;
  status.mac = record.mac;
  const Ipv4Address address =
      record.address.IsUnspecified() ? record.reserved : record.address;
  if (!address.IsUnspecified()) status.address = address.ToString();
  status.profile = record.profile;
  status.state = std::string(HostStateName(record.state));
  status.group = GroupOf(record);
  status.phase = std::string(PhaseName(record.phase));
  status.reason = record.reason;
  status.phase_since = record.phase_since;
  status.last_seen = record.last_seen;
  if (record.state == HostState::kInstall) {
    status.token_expires = record.token_expires;
  }
  return status;
}

std::vector<HostStatus> FleetStatus::Hosts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HostStatus> hosts;
  hosts.reserve(hosts_.size());
  for (const auto& [name, record] : hosts_) {
    hosts.push_back(StatusOf(name, record));
  }
  return hosts;
}

absl::optional<HostStatus> FleetStatus::Host(absl::string_view name) const {
  const std::string lower = absl::AsciiStrToLower(name);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(lower);
  if (it == hosts_.end()) return absl::nullopt;
  HostStatus status = StatusOf(it->first, it->second);
  status.timeline.assign(it->second.timeline.begin(),
                         it->second.timeline.end());
  return status;
}

absl::flat_hash_map<std::string, int> FleetStatus::PhaseCounts() const {
  std::array<int, kPhaseCount> counts{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, record] : hosts_) {
      ++counts[static_cast<int>(record.phase)];
    }
  }
  absl::flat_hash_map<std::string, int> out;
  for (Phase phase : kAllPhases) {
    out[PhaseName(phase)] = counts[static_cast<int>(phase)];
  }
  return out;
}

absl::flat_hash_map<std::string, int> FleetStatus::StateCounts() const {
  std::array<int, 3> counts{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, record] : hosts_) {
      ++counts[static_cast<int>(record.state)];
    }
  }
  absl::flat_hash_map<std::string, int> out;
  for (HostState state :
       {HostState::kInstall, HostState::kInstalled, HostState::kLocalboot}) {
    out[HostStateName(state)] = counts[static_cast<int>(state)];
  }
  return out;
}

std::vector<HostEvent> FleetStatus::EventsAfter(uint64_t after,
                                                size_t max) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HostEvent> events;
  const uint64_t last = next_id_ - 1;
  const uint64_t oldest = last - ring_.size() + 1;  // 1 when empty
  uint64_t id = std::max(after + 1, oldest);
  for (; id <= last && events.size() < max; ++id) {
    events.push_back(ring_[(id - 1) % kRingEvents]);
  }
  return events;
}

uint64_t FleetStatus::oldest_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (ring_.empty()) return 0;
  return next_id_ - ring_.size();
}

uint64_t FleetStatus::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_ - 1;
}

}  // namespace rackboot::site
