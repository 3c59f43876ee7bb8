// Inventory: the hosts this site knows, parsed from inventory.csv. Only a
// host listed here can ever be installed (product.md, "Safety first").
//
//   mac,hostname,ip,profile,state,rack
//   52:54:00:00:10:01,node001,198.18.1.1,rocky9,install,r1
//
//   absl::StatusOr<Inventory> inv =
//   Inventory::Load("/etc/rackboot/inventory.csv"); const InventoryHost* host =
//   inv->FindByMac(mac);   // O(1)
//
// Format: the first line that is neither blank nor a comment ('#' as its
// first non-blank character) names the columns (case-insensitive; mac and
// hostname required; ip, profile, state, gateway, dns and disk optional; any
// other column is kept per host in `extra`). Every row has exactly as many
// fields as the header. Fields are trimmed of spaces and tabs; a field in
// double quotes may hold commas, and "" inside it is one quote. A UTF-8 byte
// order mark and CRLF line ends (spreadsheet exports) are accepted.
//
//   mac       aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff, any case;
//             not a group (multicast) or all-zero address
//   hostname  RFC 1123 labels [a-z0-9-] separated by dots, 1..63 per label;
//             stored lowercase (names compare case-insensitively)
//   ip        optional reservation (must lie in a subnet: ValidateInventory)
//   state     install | installed | localboot; empty or absent: localboot,
//             so nothing installs unless the operator armed it
//   gateway   optional IPv4 gateway of the static address (needs ip; inside
//             its subnet: ValidateInventory); empty: the subnet's router
//   dns       optional, at most 3 IPv4 addresses separated by spaces or ';';
//             empty: the subnet's dns
//   disk      optional install disk, as [[profile]] disk (CheckDiskPath);
//             empty: the profile's
// (Defaults are taken when rendering, by install::HostValues: the parser
// leaves empty columns empty.)
//
// MACs, hostnames and ips are unique; a duplicate is an error naming both
// lines. Errors name file:line, the column and the value, e.g.
//   inventory.csv:7: mac: "52:54:00:zz:00:01": not a MAC address (...)
//   inventory.csv:9: hostname: "node001": duplicate of line 4
// and all of them are reported (up to 50), one per line of the message.
//
// An Inventory is a value owned by its user; it is immutable after Parse, so
// any thread may read a const Inventory concurrently. Pointers it returns are
// valid as long as the Inventory lives and is not assigned to.
#ifndef RACKBOOT_ENGINE_SITE_INVENTORY_H_
#define RACKBOOT_ENGINE_SITE_INVENTORY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

using MacAddress = std::array<uint8_t, 6>;

// "52:54:00:0a:0b:0c" (lowercase, colons).
std::string FormatMac(const MacAddress& mac);
// Accepts aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff and aabb.ccdd.eeff in any
// case. The error quotes the text.
absl::StatusOr<MacAddress> ParseMac(absl::string_view text);

// What a known host gets when it network-boots.
enum class HostState {
  kInstall,    // armed: the next PXE boot installs it (then it disarms)
  kInstalled,  // installed: boots from local disk
  kLocalboot,  // never install: boots from local disk (the default)
};
absl::string_view HostStateName(HostState state);  // "install", ...
// Case-insensitive; the error lists the accepted words.
absl::StatusOr<HostState> ParseHostState(absl::string_view text);

struct InventoryHost {
  MacAddress mac{};
  std::string hostname;                             // lowercase
  absl::optional<Ipv4Address> address;              // the `ip` column, if given
  std::string profile;                              // "" if absent
  HostState initial_state = HostState::kLocalboot;  // the `state` column
  // Static network settings for the installed system (issue 14): the
  // `gateway` column, else (when rendering) the subnet's router; the `dns`
  // column (at most 3, separated by spaces or ';'), else the subnet's dns.
  absl::optional<Ipv4Address> gateway;
  std::vector<Ipv4Address> dns;
  std::string disk;  // the `disk` column ("/dev/nvme0n1"), else the profile's
  // Other columns in file order: (column name as written, value).
  std::vector<std::pair<std::string, std::string>> extra;
  int line = 0;  // in the inventory file
};

class Inventory {
 public:
  Inventory() = default;  // empty

  // Parses inventory.csv text; `filename` is for error messages.
  static absl::StatusOr<Inventory> Parse(absl::string_view text,
                                         absl::string_view filename);
  // Reads and parses `path`; errors name it.
  static absl::StatusOr<Inventory> Load(const std::string& path);

  // O(1) lookups; nullptr when absent.
  const InventoryHost* FindByMac(const MacAddress& mac) const;
  // Case-insensitive.
  const InventoryHost* FindByHostname(absl::string_view hostname) const;
  const InventoryHost* FindByAddress(Ipv4Address address) const;

  absl::Span<const InventoryHost> hosts() const { return hosts_; }
  const std::string& filename() const { return filename_; }

 private:
  std::string filename_;
  std::vector<InventoryHost> hosts_;
  // Indexes into hosts_ (indexes, not pointers, so moves keep them valid).
  absl::flat_hash_map<MacAddress, size_t> by_mac_;
  absl::flat_hash_map<std::string, size_t> by_hostname_;
  absl::flat_hash_map<Ipv4Address, size_t> by_address_;
};

// Checks the inventory against the site: every reserved ip lies in a
// configured subnet (inside or outside its pool), is a host address there
// (not its network or broadcast address), and is not the subnet's router or
// the server's own address; a gateway needs an ip, and is a host address of
// that ip's subnet other than the ip itself. All problems are reported, each
// naming file:line and the address.
absl::Status ValidateInventory(const Inventory& inventory,
                               const SiteConfig& site);

// The [[profile]] of `site` named `name`, or nullptr.
const BootProfile* FindProfile(const SiteConfig& site, absl::string_view name);

// Whether `host`, armed for install, can be installed by this site; the error
// says why not, naming inventory.csv:line, where the armed state comes from
// (`armed_by`: "its state column", "host-states.tsv") and site.toml. Only
// checked when rackbootd renders the per-host boot files (tftp.root set),
// except the first rule, checked always:
//   - a profile with a family needs http.listen: install files (preseed.cfg,
//     ks.cfg, user-data) are served only over HTTP;
//   - its profile must be a [[profile]] of site.toml, otherwise it would get
//     a local-boot configuration while armed;
//   - without authoritative DHCP (no leases tell which address a host has)
//     it needs a reserved `ip`: per-host files are served only to the host's
//     own address (BootRenderer).
// rackbootd refuses to start (exit 78) on such a host, and `rackboot arm`
// refuses to arm one.
absl::Status CheckArmedHost(const SiteConfig& site, const Inventory& inventory,
                            const InventoryHost& host,
                            absl::string_view armed_by);

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_INVENTORY_H_
