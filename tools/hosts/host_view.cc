#include "tools/hosts/host_view.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rackboot::hosts {
namespace {

using Json = nlohmann::json;

// The string member `key` of `object`: "" for null or absent when
// `optional`, else an error naming the key.
absl::Status GetString(const Json& object, const char* key, bool optional,
                       std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (optional) {
      out->clear();
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("a host has no \"", key, "\""));
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a host's \"", key, "\" is not a string"));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }

// "2026-11-30T13:05:00Z" -> "2026-11-30 13:05:00"; "-" for "" (null).
absl::StatusOr<std::string> TableTime(const std::string& rfc3339) {
  if (rfc3339.empty()) return std::string("-");
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a host's time \"", TerminalSafe(rfc3339), "\" is not RFC 3339"));
  }
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::UTCTimeZone());
}

}  // namespace

const std::vector<std::string>& PhaseNames() {
  static const auto* names = new std::vector<std::string>{
      "unknown", "armed",     "dhcp",   "booting", "installing",
      "done",    "installed", "failed", "stalled"};
  return *names;
}

std::string FormatTable(const std::vector<HostRow>& rows,
                        const std::vector<std::string>& notes) {
  std::string out;
  absl::StrAppendFormat(&out, "%-20s %-17s %-15s %-10s %-10s %-24s %-19s %s\n",
                        "HOST", "MAC", "IP", "PROFILE", "STATE", "LAST PHASE",
                        "WHEN (UTC)", "APPLIED");
  for (const HostRow& r : rows) {
    absl::StrAppendFormat(&out,
                          "%-20s %-17s %-15s %-10s %-10s %-24s %-19s %s\n",
                          r.name, r.mac, Dash(r.address), Dash(r.profile),
                          r.state, Dash(r.phase), Dash(r.when), r.applied);
  }
  for (const std::string& note : notes) absl::StrAppend(&out, note, "\n");
  return out;
}

absl::StatusOr<HostRow> RowFromApiHost(const Json& host) {
  if (!host.is_object()) {
    return absl::InvalidArgumentError("a host is not a JSON object");
  }
  HostRow row;
  std::string since;
  for (auto [key, out, optional] :
       std::initializer_list<std::tuple<const char*, std::string*, bool>>{
           {"name", &row.name, false},
           {"mac", &row.mac, true},
           {"address", &row.address, true},
           {"profile", &row.profile, true},
           {"state", &row.state, false},
           {"phase", &row.phase, false},
           {"reason", &row.reason, true},
           {"phase_since", &since, true}}) {
    if (absl::Status s = GetString(host, key, optional, out); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::string> when = TableTime(since);
  if (!when.ok()) return when.status();
  row.when = *when;
  // The daemon's text goes to a terminal.
  for (std::string* field : {&row.name, &row.mac, &row.address, &row.profile,
                             &row.state, &row.phase, &row.reason}) {
    *field = TerminalSafe(*field);
  }
  row.applied = "yes";
  return row;
}

absl::StatusOr<std::vector<HostRow>> RowsFromApiHosts(const Json& answer) {
  if (!answer.is_object() || !answer.contains("hosts") ||
      !answer["hosts"].is_array()) {
    return absl::InvalidArgumentError("the answer has no \"hosts\" array");
  }
  std::vector<HostRow> rows;
  for (const Json& host : answer["hosts"]) {
    absl::StatusOr<HostRow> row = RowFromApiHost(host);
    if (!row.ok()) return row.status();
    rows.push_back(*std::move(row));
  }
  // A daemon that cannot read host-states.tsv applies no state: every host
  // boots from its local disk (fail closed).
  if (answer.contains("degraded") && answer["degraded"].is_string()) {
    for (HostRow& row : rows) row.applied = "no (degraded)";
  }
  return rows;
}

std::string PhaseFromFiles(site::HostState state,
                           const site::BringUpPhase* last) {
  const bool armed = state == site::HostState::kInstall;
  // Only the installer's report records "done" (issue 14).
  if (last != nullptr && last->phase == "done") return "done";
  if (state == site::HostState::kInstalled) return "installed";
  if (last == nullptr) return armed ? "armed" : "unknown";
  const std::string& p = last->phase;
  if (p == "dhcp") return "dhcp";
  if (absl::StartsWith(p, "tftp ") || absl::StartsWith(p, "http ")) {
    return "booting";
  }
  if (p == "installing") return armed ? "installing" : "unknown";
  if (p == "failed") return armed ? "failed" : "unknown";
  return armed ? "armed" : "unknown";
}

std::string TokenNote(const site::HostStateEntry& entry, absl::Time now) {
  if (entry.state != site::HostState::kInstall) return "";
  if (entry.token.empty()) {
    return "no install token yet (rackbootd makes one when it reads the "
           "states; re-arm if it stays so)";
  }
  const std::string when = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", entry.token_expires, absl::UTCTimeZone());
  if (now >= entry.token_expires) {
    return absl::StrCat("install token expired at ", when,
                        " (re-arm to install)");
  }
  return absl::StrCat("install token expires ", when);
}

Json JsonTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return nullptr;
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", t, absl::UTCTimeZone());
}

Json HostJsonFromFiles(const site::SiteConfig& config,
                       const site::InventoryHost& host, site::HostState state,
                       const site::BringUpPhase* last) {
  std::string group;
  for (const auto& [column, value] : host.extra) {
    if (absl::EqualsIgnoreCase(column, "rack") && !value.empty()) group = value;
  }
  if (group.empty() && host.address.has_value()) {
    if (const site::Subnet* subnet = config.SubnetFor(*host.address)) {
      group = subnet->CidrString();
    }
  }
  Json out = Json::object();
  out["name"] = host.hostname;
  out["mac"] = site::FormatMac(host.mac);
  out["address"] = host.address.has_value() ? host.address->ToString() : "";
  out["profile"] = host.profile;
  out["state"] = std::string(site::HostStateName(state));
  out["group"] = group;
  out["phase"] = PhaseFromFiles(state, last);
  out["reason"] = "";
  out["phase_since"] = last != nullptr ? JsonTime(last->when) : Json(nullptr);
  out["last_seen"] = last != nullptr ? JsonTime(last->when) : Json(nullptr);
  out["transfer"] = nullptr;
  return out;
}

std::string TerminalSafe(absl::string_view text) {
  if (text.size() > 512) text = text.substr(0, 512);
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      absl::StrAppend(&out, absl::CEscape(absl::string_view(
                                reinterpret_cast<const char*>(&c), 1)));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace rackboot::hosts
