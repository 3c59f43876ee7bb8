#include "tools/gen/host_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rackboot::gen {
namespace {

constexpr size_t kMaxStatesFile = 64 << 20;

std::string UtcTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

}  // namespace

std::string HostStatesPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/host-states.tsv");
}

absl::StatusOr<site::HostStateMap> ReadHostStates(
    const std::string& state_dir) {
  const std::string path = HostStatesPath(state_dir);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return site::HostStateMap();
    return absl::Status(
        absl::ErrnoToStatusCode(errno),
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return absl::Status(
          absl::ErrnoToStatusCode(err),
          absl::StrCat(path, ": cannot read: ", std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxStatesFile) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than 64 MiB"));
    }
  }
  close(fd);
  return site::HostStateStore::ParseStates(text, path);
}

absl::StatusOr<std::vector<std::string>> ParseHostList(absl::string_view text) {
  std::vector<std::string> names;
  if (text.empty()) return names;
  std::set<std::string> seen;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--hosts=", text,
          ": an empty host name (write hostnames separated by commas)"));
    }
    if (seen.insert(name).second) names.push_back(std::move(name));
  }
  return names;
}

absl::StatusOr<std::vector<HostPlan>> PlanHosts(
    const site::SiteConfig& site, const site::Inventory& inventory,
    const site::HostStateMap& states, const std::string& states_path,
    const std::vector<std::string>& only, absl::Time now) {
  std::vector<std::string> unknown;
  for (const std::string& name : only) {
    if (inventory.FindByHostname(name) == nullptr) unknown.push_back(name);
  }
  if (!unknown.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "--hosts names ", unknown.size() == 1 ? "a host" : "hosts", " not in ",
        inventory.filename(), ": ", absl::StrJoin(unknown, ", ")));
  }
  const std::set<std::string> wanted(only.begin(), only.end());
  std::vector<HostPlan> plan;
  for (const site::InventoryHost& host : inventory.hosts()) {
    if (!wanted.empty() && wanted.count(host.hostname) == 0) continue;
    HostPlan p;
    p.host = &host;
    p.profile = site::FindProfile(site, host.profile);
    auto it = states.find(host.hostname);
    const site::HostStateEntry* entry =
        it == states.end() || !site::HostStateStore::EntryStands(
                                  it->second, host.initial_state)
            ? nullptr
            : &it->second;
    p.state = entry != nullptr ? entry->state : host.initial_state;
    p.state_from = entry != nullptr ? states_path : "its state column";
    if (p.state == site::HostState::kInstall) {
      if (entry == nullptr || entry->token.empty()) {
        p.not_armed_why = absl::StrCat(
            "armed by ", p.state_from,
            " but has no install token yet: a running rackbootd issues one "
            "at start, or `rackboot arm ",
            host.hostname, "` makes one");
      } else if (now >= entry->token_expires) {
        p.not_armed_why =
            absl::StrCat("armed but its install token expired at ",
                         UtcTime(entry->token_expires), ": `rackboot arm ",
                         host.hostname, "` makes a new one");
      } else {
        p.armed = true;
        p.token = entry->token;
      }
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

std::vector<std::string> ValidTokens(const site::Inventory& inventory,
                                     const site::HostStateMap& states,
                                     absl::Time now) {
  std::vector<std::string> tokens;
  for (const site::InventoryHost& host : inventory.hosts()) {
    auto it = states.find(host.hostname);
    if (it == states.end()) continue;
    const site::HostStateEntry& e = it->second;
    if (site::ArmedNow(e, now)) {
      tokens.push_back(e.token);
    }
  }
  return tokens;
}

}  // namespace rackboot::gen
