#include "engine/site/inventory.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace rackboot::site {
namespace {

constexpr size_t kMaxErrors = 50;
constexpr size_t kMaxColumns = 256;
constexpr size_t kMaxDns = 3;  // what resolv.conf and the installers take

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

absl::string_view TrimBlanks(absl::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Splits one CSV line. A field is trimmed; a field in double quotes may hold
// commas, and "" inside it is a literal quote. Quoted fields do not span
// lines.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(absl::string_view line) {
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    if (fields.size() >= kMaxColumns) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxColumns, " fields"));
    }
    while (i < line.size() && IsBlank(line[i])) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field += line[i++];
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat("field ", fields.size() + 1, ": unterminated quote"));
      }
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i < line.size() && line[i] != ',') {
        return absl::InvalidArgumentError(absl::StrCat(
            "field ", fields.size() + 1, ": text after the closing quote"));
      }
    } else {
      const size_t comma = line.find(',', i);
      const size_t end = comma == absl::string_view::npos ? line.size() : comma;
      const absl::string_view raw = TrimBlanks(line.substr(i, end - i));
      if (raw.find('"') != absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("field ", fields.size() + 1, ": ", Quote(raw),
                         ": a quote inside an unquoted field (quote the "
                         "whole field and double the inner quotes)"));
      }
      field = std::string(raw);
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // the comma; a trailing comma makes a last, empty field
    if (i == line.size()) {
      fields.emplace_back();
      break;
    }
  }
  return fields;
}

bool HasControlChar(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses exactly `n` hex digit pairs from `hex` (no separators).
bool ParseHexBytes(absl::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Profile names become template and file names: keep them to a safe set.
bool IsProfileName(absl::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() == '.' || s.front() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

struct Columns {
  int mac = -1;
  int hostname = -1;
  int ip = -1;
  int profile = -1;
  int state = -1;
  int gateway = -1;
  int dns = -1;
  int disk = -1;
  std::vector<std::string> names;  // as written
};

class Errors {
 public:
  explicit Errors(absl::string_view filename) : filename_(filename) {}
  void Add(int line, absl::string_view what) {
    ++count_;
    if (errors_.size() < kMaxErrors) {
      errors_.push_back(line > 0
                            ? absl::StrCat(filename_, ":", line, ": ", what)
                            : absl::StrCat(filename_, ": ", what));
    }
  }
  void Add(int line, absl::string_view column, absl::string_view value,
           absl::string_view what) {
    Add(line, absl::StrCat(column, ": ", Quote(value), ": ", what));
  }
  size_t count() const { return count_; }
  absl::Status Result() const {
    if (count_ == 0) return absl::OkStatus();
    std::string message = absl::StrJoin(errors_, "\n");
    if (count_ > errors_.size()) {
      absl::StrAppend(&message, "\n", filename_, ": ", count_ - errors_.size(),
                      " more errors");
    }
    return absl::InvalidArgumentError(message);
  }

 private:
  std::string filename_;
  std::vector<std::string> errors_;
  size_t count_ = 0;
};

}  // namespace

std::string FormatMac(const MacAddress& mac) {
  std::string out;
  out.reserve(17);
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i > 0) out += ':';
    absl::StrAppend(&out, absl::Hex(mac[i], absl::kZeroPad2));
  }
  return out;
}

absl::StatusOr<MacAddress> ParseMac(absl::string_view text) {
  MacAddress mac{};
  bool ok = false;
  if (text.size() == 17 && (text[2] == ':' || text[2] == '-')) {
    // aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff, one separator throughout.
    const char sep = text[2];
    ok = true;
    for (size_t i = 0; i < 6 && ok; ++i) {
      if (i > 0 && text[3 * i - 1] != sep) ok = false;
      if (ok) ok = ParseHexBytes(text.substr(3 * i, 2), &mac[i], 1);
    }
  } else if (text.size() == 14 && text[4] == '.' && text[9] == '.') {
    // aabb.ccdd.eeff (Cisco).
    ok = ParseHexBytes(text.substr(0, 4), &mac[0], 2) &&
         ParseHexBytes(text.substr(5, 4), &mac[2], 2) &&
         ParseHexBytes(text.substr(10, 4), &mac[4], 2);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(text),
                     ": not a MAC address (expected aa:bb:cc:dd:ee:ff, "
                     "aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff)"));
  }
  return mac;
}

absl::string_view HostStateName(HostState state) {
  switch (state) {
    case HostState::kInstall:
      return "install";
    case HostState::kInstalled:
      return "installed";
    case HostState::kLocalboot:
      return "localboot";
  }
  return "?";
}

absl::StatusOr<HostState> ParseHostState(absl::string_view text) {
  for (HostState s :
       {HostState::kInstall, HostState::kInstalled, HostState::kLocalboot}) {
    if (absl::EqualsIgnoreCase(text, HostStateName(s))) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Quote(text), ": expected install, installed or localboot"));
}

absl::StatusOr<Inventory> Inventory::Parse(absl::string_view text,
                                           absl::string_view filename) {
  Errors errors(filename);
  Inventory inv;
  inv.filename_ = std::string(filename);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM

  // Line of the first occurrence of each key, for duplicate messages.
  absl::flat_hash_map<MacAddress, int> mac_lines;
  absl::flat_hash_map<std::string, int> hostname_lines;
  absl::flat_hash_map<Ipv4Address, int> address_lines;

  absl::optional<Columns> columns;
  int line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == absl::string_view::npos) end = text.size();
    absl::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const absl::string_view trimmed = TrimBlanks(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;

    absl::StatusOr<std::vector<std::string>> fields = SplitCsvLine(line);
    if (!fields.ok()) {
      errors.Add(line_number, fields.status().message());
      if (!columns) break;  // without a header nothing else can be checked
      continue;
    }

    if (!columns) {
      // The header.
      Columns c;
      bool header_ok = true;
      for (size_t i = 0; i < fields->size(); ++i) {
        const std::string& name = (*fields)[i];
        const std::string lower = absl::AsciiStrToLower(name);
        c.names.push_back(name);  // even a bad one: indexes stay aligned
        if (name.empty() || HasControlChar(name)) {
          errors.Add(line_number,
                     absl::StrCat("header: column ", i + 1, ": ", Quote(name),
                                  ": not a column name"));
          header_ok = false;
          continue;
        }
        for (size_t j = 0; j < i; ++j) {
          if (absl::EqualsIgnoreCase(c.names[j], name)) {
            errors.Add(line_number,
                       absl::StrCat("header: column ", i + 1, ": ", Quote(name),
                                    ": duplicate of column ", j + 1));
            header_ok = false;
          }
        }
        const int index = static_cast<int>(i);
        if (lower == "mac") c.mac = index;
        if (lower == "hostname") c.hostname = index;
        if (lower == "ip") c.ip = index;
        if (lower == "profile") c.profile = index;
        if (lower == "state") c.state = index;
        if (lower == "gateway") c.gateway = index;
        if (lower == "dns") c.dns = index;
        if (lower == "disk") c.disk = index;
      }
      using Required = std::pair<int, absl::string_view>;
      for (auto [index, name] :
           {Required{c.mac, "mac"}, Required{c.hostname, "hostname"}}) {
        if (index < 0) {
          errors.Add(line_number,
                     absl::StrCat("header: required column \"", name,
                                  "\" missing (the first line that is not a "
                                  "comment names the columns, e.g. "
                                  "mac,hostname,ip,profile,state)"));
          header_ok = false;
        }
      }
      if (!header_ok) break;
      columns = std::move(c);
      continue;
    }

    // A host.
    const Columns& c = *columns;
    if (fields->size() != c.names.size()) {
      errors.Add(line_number,
                 absl::StrCat(fields->size(), " fields, but the header has ",
                              c.names.size(), " columns"));
      continue;
    }
    const size_t errors_before = errors.count();
    for (size_t i = 0; i < fields->size(); ++i) {
      if (HasControlChar((*fields)[i])) {
        errors.Add(line_number, c.names[i], (*fields)[i],
                   "control characters not allowed");
      }
    }
    if (errors.count() != errors_before) continue;

    InventoryHost host;
    host.line = line_number;
    const std::string& mac_text = (*fields)[c.mac];
    absl::StatusOr<MacAddress> mac = ParseMac(mac_text);
    if (!mac.ok()) {
      errors.Add(line_number, absl::StrCat("mac: ", mac.status().message()));
    } else if (((*mac)[0] & 1) != 0) {
      errors.Add(line_number, "mac", mac_text,
                 "a group (multicast) address, not a network card's");
    } else if (*mac == MacAddress{}) {
      errors.Add(line_number, "mac", mac_text, "the all-zero address");
    } else {
      host.mac = *mac;
    }

    host.hostname = absl::AsciiStrToLower((*fields)[c.hostname]);
    if (absl::Status s = CheckDnsName(host.hostname); !s.ok()) {
      errors.Add(line_number, "hostname", (*fields)[c.hostname], s.message());
    }

    if (c.ip >= 0 && !(*fields)[c.ip].empty()) {
      absl::StatusOr<Ipv4Address> a = Ipv4Address::Parse((*fields)[c.ip]);
      if (!a.ok()) {
        errors.Add(line_number, "ip", (*fields)[c.ip], "not an IPv4 address");
      } else if (a->IsUnspecified() || a->value() == 0xffffffff) {
        errors.Add(line_number, "ip", (*fields)[c.ip], "not a host address");
      } else {
        host.address = *a;
      }
    }

    if (c.profile >= 0) {
      host.profile = (*fields)[c.profile];
      if (!host.profile.empty() && !IsProfileName(host.profile)) {
        errors.Add(line_number, "profile", host.profile,
                   "expected 1..64 of [A-Za-z0-9._-], not starting with "
                   "'.' or '-'");
      }
    }

    if (c.state >= 0 && !(*fields)[c.state].empty()) {
      absl::StatusOr<HostState> state = ParseHostState((*fields)[c.state]);
      if (!state.ok()) {
        errors.Add(line_number,
                   absl::StrCat("state: ", state.status().message()));
      } else {
        host.initial_state = *state;
      }
    }

    if (c.gateway >= 0 && !(*fields)[c.gateway].empty()) {
      const std::string& text = (*fields)[c.gateway];
      absl::StatusOr<Ipv4Address> a = Ipv4Address::Parse(text);
      if (!a.ok()) {
        errors.Add(line_number, "gateway", text, "not an IPv4 address");
      } else if (a->IsUnspecified() || a->value() == 0xffffffff) {
        errors.Add(line_number, "gateway", text, "not a host address");
      } else {
        host.gateway = *a;
      }
    }

    if (c.dns >= 0 && !(*fields)[c.dns].empty()) {
      const std::string& text = (*fields)[c.dns];
      std::vector<Ipv4Address> dns;
      bool dns_ok = true;
      for (absl::string_view item :
           absl::StrSplit(text, absl::ByAnyChar(" ;"), absl::SkipEmpty())) {
        absl::StatusOr<Ipv4Address> a = Ipv4Address::Parse(item);
        if (!a.ok() || a->IsUnspecified() || a->value() == 0xffffffff) {
          errors.Add(
              line_number, "dns", text,
              absl::StrCat(Quote(item),
                           " is not an IPv4 address (expected up to ", kMaxDns,
                           " addresses separated by spaces or ';')"));
          dns_ok = false;
          break;
        }
        dns.push_back(*a);
      }
      if (dns_ok && dns.size() > kMaxDns) {
        errors.Add(line_number, "dns", text,
                   absl::StrCat(dns.size(), " addresses: at most ", kMaxDns));
      } else if (dns_ok) {
        host.dns = std::move(dns);
      }
    }

    if (c.disk >= 0 && !(*fields)[c.disk].empty()) {
      const std::string& text = (*fields)[c.disk];
      if (absl::Status s = CheckDiskPath(text); !s.ok()) {
        errors.Add(line_number, "disk", text, s.message());
      } else {
        host.disk = text;
      }
    }

    for (size_t i = 0; i < fields->size(); ++i) {
      const int index = static_cast<int>(i);
      if (index == c.mac || index == c.hostname || index == c.ip ||
          index == c.profile || index == c.state || index == c.gateway ||
          index == c.dns || index == c.disk) {
        continue;
      }
      host.extra.emplace_back(c.names[i], (*fields)[i]);
    }
    if (errors.count() != errors_before) continue;

    // Uniqueness.
    bool unique = true;
    if (auto [it, inserted] = mac_lines.try_emplace(host.mac, line_number);
        !inserted) {
      errors.Add(line_number, "mac", mac_text,
                 absl::StrCat("duplicate of line ", it->second));
      unique = false;
    }
    if (auto [it, inserted] =
            hostname_lines.try_emplace(host.hostname, line_number);
        !inserted) {
      errors.Add(line_number, "hostname", host.hostname,
                 absl::StrCat("duplicate of line ", it->second));
      unique = false;
    }
    if (host.address) {
      if (auto [it, inserted] =
              address_lines.try_emplace(*host.address, line_number);
          !inserted) {
        errors.Add(line_number, "ip", host.address->ToString(),
                   absl::StrCat("duplicate of line ", it->second));
        unique = false;
      }
    }
    if (!unique) continue;

    const size_t index = inv.hosts_.size();
    inv.by_mac_.emplace(host.mac, index);
    inv.by_hostname_.emplace(host.hostname, index);
    if (host.address) inv.by_address_.emplace(*host.address, index);
    inv.hosts_.push_back(std::move(host));
  }

  if (!columns && errors.count() == 0) {
    errors.Add(0,
               "no header line (expected e.g. mac,hostname,ip,profile,state)");
  }
  if (absl::Status s = errors.Result(); !s.ok()) return s;
  return inv;
}

absl::StatusOr<Inventory> Inventory::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

const InventoryHost* Inventory::FindByMac(const MacAddress& mac) const {
  auto it = by_mac_.find(mac);
  return it == by_mac_.end() ? nullptr : &hosts_[it->second];
}

const InventoryHost* Inventory::FindByHostname(
    absl::string_view hostname) const {
  auto it = by_hostname_.find(hostname);
  if (it == by_hostname_.end() &&
      std::any_of(hostname.begin(), hostname.end(), absl::ascii_isupper)) {
    it = by_hostname_.find(absl::AsciiStrToLower(hostname));
  }
  return it == by_hostname_.end() ? nullptr : &hosts_[it->second];
}

const InventoryHost* Inventory::FindByAddress(Ipv4Address address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : &hosts_[it->second];
}

absl::Status ValidateInventory(const Inventory& inventory,
                               const SiteConfig& site) {
  Errors errors(inventory.filename());
  for (const InventoryHost& host : inventory.hosts()) {
    if (host.gateway) {
      // The gateway configures the installed system's static address: it
      // must be reachable from that address, i.e. a host of its subnet.
      const std::string text = host.gateway->ToString();
      const Subnet* subnet =
          host.address ? site.SubnetFor(*host.address) : nullptr;
      if (!host.address) {
        errors.Add(host.line, "gateway", text,
                   "given without an ip: the gateway is for the host's static "
                   "address (a host without one gets its gateway from DHCP)");
      } else if (subnet != nullptr && !subnet->Contains(*host.gateway)) {
        errors.Add(host.line, "gateway", text,
                   absl::StrCat("not inside ", subnet->CidrString(),
                                ", the subnet of the host's ip ",
                                host.address->ToString()));
      } else if (subnet != nullptr && !subnet->IsHostAddress(*host.gateway)) {
        errors.Add(host.line, "gateway", text,
                   absl::StrCat("the network or broadcast address of ",
                                subnet->CidrString()));
      } else if (*host.gateway == *host.address) {
        errors.Add(host.line, "gateway", text, "the host's own ip");
      }
      // An ip in no subnet is reported below.
    }
    if (!host.address) continue;
    const Ipv4Address a = *host.address;
    const std::string text = a.ToString();
    const Subnet* subnet = site.SubnetFor(a);
    if (subnet == nullptr) {
      std::vector<std::string> cidrs;
      for (const Subnet& s : site.dhcp.subnets) cidrs.push_back(s.CidrString());
      errors.Add(host.line, "ip", text,
                 cidrs.empty()
                     ? absl::StrCat("no [[dhcp.subnet]] in ", site.path)
                     : absl::StrCat("not in any subnet of ", site.path, " (",
                                    absl::StrJoin(cidrs, ", "), ")"));
    } else if (!subnet->IsHostAddress(a)) {
      errors.Add(host.line, "ip", text,
                 absl::StrCat("the network or broadcast address of ",
                              subnet->CidrString()));
    } else if (subnet->router && *subnet->router == a) {
      errors.Add(host.line, "ip", text,
                 absl::StrCat("the router of ", subnet->CidrString()));
    } else if (site.server.address && *site.server.address == a) {
      errors.Add(host.line, "ip", text, "the server's own address");
    }
  }
  return errors.Result();
}

const BootProfile* FindProfile(const SiteConfig& site, absl::string_view name) {
  for (const BootProfile& profile : site.profiles) {
    if (profile.name == name) return &profile;
  }
  return nullptr;
}

absl::Status CheckArmedHost(const SiteConfig& site, const Inventory& inventory,
                            const InventoryHost& host,
                            absl::string_view armed_by) {
  const std::string where =
      absl::StrCat(inventory.filename(), ":", host.line, ": ", host.hostname,
                   " is armed for install (", armed_by, ")");
  const BootProfile* profile = FindProfile(site, host.profile);
  // Checked whatever serves the boot files: the install files of a family
  // (preseed.cfg, ks.cfg, user-data) exist only at rackbootd's
  // http://<server>/install/<token>/, for `rackboot gen` output too.
  if (profile != nullptr && profile->family != InstallFamily::kNone &&
      site.http.listen.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, " but its profile ", Quote(profile->name), " (family \"",
        InstallFamilyName(profile->family), "\", ", site.path, ":",
        profile->line,
        ") installs from files served only over HTTP, and http.listen is "
        "not set: set [http] listen in ",
        site.path, ", or disarm it (rackboot disarm ", host.hostname, ")"));
  }
  if (site.tftp.root.empty()) return absl::OkStatus();
  if (profile == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, " but ",
        host.profile.empty()
            ? std::string("has no profile")
            : absl::StrCat("its profile ", Quote(host.profile),
                           " is not a [[profile]] of ", site.path),
        ", so it would boot from its local disk: add a [[profile]] with name "
        "= ",
        Quote(host.profile.empty() ? "NAME" : host.profile), " to ", site.path,
        host.profile.empty() ? " and name it in its profile column" : "",
        ", or disarm it (rackboot disarm ", host.hostname, ")"));
  }
  if (site.dhcp.mode != DhcpMode::kAuthoritative && !host.address.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, " but has no ip: with dhcp.mode = \"",
        DhcpModeName(site.dhcp.mode), "\" (", site.path,
        ") rackbootd leases no addresses, and serves a host's per-host boot "
        "files only to its reserved address; put the address the DHCP server "
        "gives it in its ip column"));
  }
  return absl::OkStatus();
}

}  // namespace rackboot::site
