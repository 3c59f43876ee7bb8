// SiteConfig: the parsed, validated contents of site.toml, the one file that
// says what this Rackboot engine serves, where, and to whom.
//
//   absl::StatusOr<SiteConfig> site =
//   LoadSiteConfig("/etc/rackboot/site.toml"); if (!site.ok()) { std::cerr <<
//   site.status().message(); return 1; } const Subnet* subnet =
//   site->SubnetFor(Ipv4Address(198, 18, 3, 4));
//
// Every key is optional and defaults to the value that is safe on a shared
// network (DHCP off, unknown PXE clients ignored, no boot files). Unknown keys
// and sections are errors, so a misspelt safety setting cannot silently fall
// back to its default. Errors name the file, the line, the dotted key and the
// offending value, one problem per line of the status message:
//
//   site.toml:12: dhcp.subnet[0].pool: "198.18.0.10-198.18.0.5": start after
//   end site.toml:3: server.adress: unknown key (did you mean "address"?)
//   site.toml:5: dhcp.mode: "authorative": expected authoritative, proxy or off
//   site.toml:4:9: syntax error: ...
//
// examples/site.toml documents every key; keep it in step with this parser.
//
// A SiteConfig is a plain value: the caller owns it; it is immutable once
// parsed, so any thread may read a const SiteConfig concurrently. The parser
// itself keeps no state and may run on any thread.
#ifndef RACKBOOT_ENGINE_SITE_SITE_CONFIG_H_
#define RACKBOOT_ENGINE_SITE_SITE_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::site {

using ::rackboot::dhcp::Ipv4Address;

// [dhcp] mode.
enum class DhcpMode {
  kOff,            // no DHCP at all (default: safe on any network)
  kProxy,          // proxyDHCP: boot options only, never addresses (PXE spec)
  kAuthoritative,  // hands out addresses from the subnets' pools
};
// `s` in double quotes with quotes, backslashes and control characters escaped:
// how error messages show a value the operator wrote.
std::string Quote(absl::string_view s);

absl::string_view DhcpModeName(DhcpMode mode);  // "off", "proxy", ...

// [dhcp] unknown_pxe: what a PXE client whose MAC is not in the inventory
// gets. Whatever the policy, an unknown host is never installed.
enum class UnknownPxePolicy {
  kIgnore,     // no answer at all (default)
  kLocalboot,  // a boot-from-local-disk menu
  kDiscover,   // no answer, but its MAC is recorded in discovered.tsv
};
absl::string_view UnknownPxePolicyName(UnknownPxePolicy policy);

// An inclusive range of addresses, first <= last.
struct Ipv4Range {
  Ipv4Address first;
  Ipv4Address last;

  bool Contains(Ipv4Address a) const { return first <= a && a <= last; }
  uint64_t size() const { return uint64_t{last.value()} - first.value() + 1; }
  std::string ToString() const;  // "198.18.16.0-198.18.255.254"
  bool operator==(const Ipv4Range&) const = default;
};

// One [[dhcp.subnet]]: a directly attached or relayed IPv4 network.
struct Subnet {
  Ipv4Address network;    // host bits are zero (enforced by the parser)
  int prefix_length = 0;  // 0..32

  // Addresses leased dynamically; absent: reservations (inventory ip) only.
  // Lies inside the subnet and excludes its network and broadcast addresses
  // (for prefixes up to /30; a /31 or /32 has neither, RFC 3021).
  absl::optional<Ipv4Range> pool;
  absl::optional<Ipv4Address> router;  // option 3; inside the subnet
  std::vector<Ipv4Address> dns;        // option 6, in order
  std::string domain;                  // option 15; "" = not sent
  int line = 0;                        // of its [[dhcp.subnet]] header

  Ipv4Address netmask() const;    // e.g. 255.255.0.0 for /16
  Ipv4Address broadcast() const;  // the last address of the subnet
  bool Contains(Ipv4Address a) const;
  // True if `a` is neither the network nor the broadcast address (always true
  // for /31 and /32, which have neither: RFC 3021).
  bool IsHostAddress(Ipv4Address a) const;
  std::string CidrString() const;  // "198.18.0.0/16"
};

// [server]
struct ServerConfig {
  // Serve only on this interface. "" (default) means no interface binding,
  // with which the daemon must refuse authoritative DHCP.
  std::string interface;
  // Our address on that interface: DHCP next-server (siaddr), TFTP server
  // name, HTTP host. Absent by default.
  absl::optional<Ipv4Address> address;
  // Leases, host states, discovered hosts. Relative paths in site.toml are
  // resolved against the directory of site.toml (as are all paths below).
  std::string state_dir = "/var/lib/rackboot";
  // Path of inventory.csv (resolved as above; default "inventory.csv" beside
  // site.toml).
  std::string inventory = "inventory.csv";
  // The user rackbootd becomes once its sockets are bound, when started as
  // root (architecture principle 5). "root" keeps root (not recommended).
  std::string user = "nobody";
};

// [dhcp]
struct DhcpConfig {
  DhcpMode mode = DhcpMode::kOff;
  UnknownPxePolicy unknown_pxe = UnknownPxePolicy::kIgnore;
  int64_t lease_seconds = 3600;   // 60..31536000 (one year)
  int64_t offer_seconds = 30;     // 1..3600: how long an OFFER holds an address
  int64_t decline_seconds = 600;  // 0..86400: quarantine after a DECLINE
  bool allow_other_dhcp = false;  // false: warn (and the daemon may refuse)
  // 5..60: how long authoritative mode probes for another DHCP server before
  // it starts (two DISCOVERs, the second halfway through).
  int64_t probe_seconds = 5;
  std::vector<Subnet> subnets;  // pairwise disjoint, in file order
};

// [tftp]
struct TftpConfig {
  std::string root;  // "" (default): no TFTP service
  std::string listen = "0.0.0.0:69";
  Ipv4Address listen_address;  // parsed from `listen`
  uint16_t listen_port = 69;   // parsed from `listen`; 1..65535
  int max_blksize = 1468;      // 8..65464 (RFC 2348); 1468 fits a 1500 MTU
  int max_windowsize = 64;     // 1..65535 (RFC 7440)
  // Limits under abuse (docs/tftp.md "Limits"):
  int max_timeout_ms = 3000;   // 100..255000: cap of RFC 2349 timeout, backoff
  int max_transfers = 16384;   // 1..1048576, lowered to the descriptor budget
  int max_unconfirmed = 1024;  // 1..1048576: transfers with no ACK yet
  int max_per_client = 8;      // 0..65535 per client address; 0: no cap
};

// [http]: the HTTP service (boot tree under /boot/, mirrors under /repo/;
// docs/http.md). Off unless `listen` is given.
struct HttpConfig {
  // Valid ranges of the limits, shared by the parser and the flag overlay.
  static constexpr int kMaxConnectionsMin = 1, kMaxConnectionsMax = 1048576;
  static constexpr int kTimeoutMsMin = 100, kTimeoutMsMax = 3600000;

  std::string listen;          // "" (default): no HTTP service; "addr:port"
  Ipv4Address listen_address;  // parsed from `listen`
  uint16_t listen_port = 0;    // parsed from `listen`; 1..65535
  // Directory served read-only under /repo/ (install mirrors); "" (default):
  // no /repo/ route.
  std::string repo_root;
  int max_connections = 4096;     // open at once; past it: 503
  int header_timeout_ms = 10000;  // a request's whole header block must arrive
  int idle_timeout_ms = 30000;    // a keep-alive connection with no request
};

// [status]: the live bring-up view (FleetStatus). A host with no progress
// (a lease, a complete file, a state change) in a phase for longer than the
// phase's bound is shown stalled. Durations: "90s", "10m", "2h", "1h30m".
struct StatusConfig {
  static constexpr absl::Duration kStallMin = absl::Seconds(10);
  static constexpr absl::Duration kStallMax = absl::Hours(7 * 24);
  absl::Duration stall_dhcp = absl::Minutes(2);
  absl::Duration stall_booting = absl::Minutes(10);
  absl::Duration stall_installing = absl::Hours(2);
};

// [api]: the JSON API under /api/v1/ (docs/api.md), served on http.listen.
struct ApiConfig {
  // A file holding the bearer token writes (arm, disarm) need: the first
  // line, mode 0600 or stricter (rackbootd refuses it otherwise). "" (default):
  // no token, writes only from loopback clients.
  std::string token_file;
};

// "address:port" as tftp.listen and http.listen take it (an IPv4 address,
// a port 1..65535); the error says what is wrong without repeating the text.
absl::Status ParseListenAddress(absl::string_view text, Ipv4Address& address,
                                uint16_t& port);

// The architectures a boot file is chosen for. How DHCP option 93 (client
// system architecture, RFC 4578 2.1 and the IANA "Processor Architecture
// Types" registry) maps to them: see BootArchForClientArch().
enum class BootArch {
  kBios,      // 0: x86 BIOS
  kUefiIa32,  // 6: EFI IA32
  kUefiX64,   // 7 (EFI BC) and 9 (EFI x86-64): both are x64 UEFI in the wild
  kArm64,     // 11: ARM 64-bit UEFI
  kHttp,      // 15, 16, 19: UEFI HTTP boot (x86, x64, ARM64)
};
absl::string_view BootArchName(BootArch arch);  // "bios", "uefi_x64", ...

// Maps an option 93 value to the boot file slot it uses; nullopt for
// architectures Rackboot has no slot for. Note 2 is EFI Itanium (IA-64) in
// the IANA registry, not IA32: some old documents say otherwise, and an IA32
// loader would not run on it, so 2 maps to nothing.
absl::optional<BootArch> BootArchForClientArch(uint16_t option93);

// [boot]: boot file per architecture. "" (the default for each) means
// clients of that architecture get no boot file, so no answer.
struct BootConfig {
  std::string bios;           // option 93 = 0
  std::string uefi_x64;       // 7 or 9
  std::string uefi_ia32;      // 6
  std::string arm64;          // 11
  std::string http_boot_url;  // 15/16/19: an http:// or https:// URL
  // For iPXE clients (user class, option 77, "iPXE", or option 175 present):
  // a URL (http, https or tftp) or a file name beneath the TFTP root. "":
  // while HTTP is served ([http] listen), the per-host script rackbootd
  // renders, http://<server>:<port>/boot/ipxe/01-<mac>.ipxe; without HTTP,
  // iPXE is treated like any other client of its architecture.
  std::string ipxe_script;
  // iPXE itself, beneath the TFTP root, handed over TFTP to PXE ROMs that are
  // not iPXE yet instead of `bios` / `uefi_x64`, while HTTP is served: iPXE
  // then asks again, as iPXE, and gets the script (above), never iPXE again.
  // "" = no iPXE for that architecture. E.g. undionly.kpxe, snponly.efi.
  std::string ipxe_bios;  // option 93 = 0
  std::string ipxe_uefi;  // 7, 9
  // UEFI HTTP boot (15/16/19, vendor class "HTTPClient") while HTTP is
  // served: a file beneath the TFTP root, answered as the full URL
  // http://<server>:<port>/boot/<file>. Exclusive with http_boot_url (an
  // explicit URL, for files served elsewhere).
  std::string uefi_http;
  // Seconds the generated per-host menus (pxelinux, GRUB, iPXE: install,
  // local disk, rescue) wait before their default entry; 0..255, 0 boots the
  // default at once. (The option 43 PXE menu, [[boot.menu]] and menu_prompt,
  // was removed in issue 14: the parser says so.)
  int menu_timeout = 3;

  // The boot file configured for `arch` ("" if none). For kHttp, the URL.
  const std::string& FileFor(BootArch arch) const;
};

// How a profile installs: which answer-file format its installer reads.
enum class InstallFamily {
  kNone,               // no `family`: boot only (kernel, initrd, append), no
                       // install files
  kDebianPreseed,      // "debian-preseed": preseed.cfg, d-i's url=
  kRhelKickstart,      // "rhel-kickstart": ks.cfg, inst.ks=
  kUbuntuAutoinstall,  // "ubuntu-autoinstall": user-data + meta-data,
                       // ds=nocloud-net;s=
};
// "" for kNone, else the site.toml word.
absl::string_view InstallFamilyName(InstallFamily family);

// [[profile]]: what an armed host of this profile boots and installs;
// inventory hosts name it in their `profile` column. Paths (kernel, initrd)
// are relative to the TFTP root; template_file is resolved like every path
// in site.toml. Every string below was checked by the parser against the
// characters its key allows (docs/install.md), so none can break out of
// the line, quote or shell command it is rendered into; every size and
// count is bounded. A value that fails is a site.toml:line error naming
// "profile[i].<key>" and the quoted value.
struct BootProfile {
  std::string name;  // 1..64 bytes; unique
  InstallFamily family = InstallFamily::kNone;
  std::string kernel;  // required; at most 255 bytes
  std::string initrd;  // "" = none
  // Extra kernel arguments after the family's own (url=, inst.ks=, ...): a
  // Mustache template over the host's values ({{hostname}}, {{ip}}, ...),
  // parsed as one by the install templates. Printable ASCII, at most 2000
  // bytes, none of " ' ` $ \ & | < > # (boot loader script syntax); ';' is
  // allowed. The old single-brace {hostname} {mac} {ip} {server} {profile}
  // are refused with the Mustache spelling in the error.
  std::string append;
  // Install source: "/repo/<path>" (segments [A-Za-z0-9._-], beneath
  // http.repo_root, served by rackbootd; needs http.repo_root) or an
  // http://, https:// or ftp:// URL of [A-Za-z0-9._~:/@%+-]; at most 1024
  // bytes. "" = none.
  std::string source;
  // "/dev/sda" (CheckDiskPath); the inventory `disk` overrides; "" = the
  // family's default.
  std::string disk;
  std::string partitioning = "plain";  // or "lvm"
  std::string timezone = "Etc/UTC";    // [A-Za-z0-9/_+-]{1,64}
  std::string locale = "en_US.UTF-8";  // [A-Za-z0-9_.@-]{1,64}
  std::string keyboard = "us";         // [A-Za-z0-9_-]{1,32}
  // At most 1000 of [A-Za-z0-9][A-Za-z0-9+._-]{0,127}; "@group" only with
  // family rhel-kickstart.
  std::vector<std::string> packages;
  // crypt(3) "$id$...", [A-Za-z0-9./$=] (the '=' of "rounds=N"), at most 256
  // bytes; "" = root locked.
  std::string root_password_hash;
  // authorized_keys lines for root, at most 64: "<type> <base64> [comment]",
  // type ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521,
  // sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com; the
  // base64 must decode to a key of that type; comment [A-Za-z0-9@._+-] and
  // spaces; each at most 2048 bytes.
  std::vector<std::string> ssh_keys;
  // A Mustache template for the family's answer file (the ks.cfg,
  // preseed.cfg or user-data), "" = the built-in one. At most 4096 bytes, no
  // control characters; relative to site.toml's directory. Read by
  // install::InstallTemplates::Load, not by the parser.
  std::string template_file;
  int line = 0;
  bool operator==(const BootProfile&) const = default;
};

// [install]: one-shot installs (docs/install.md). token_ttl is a duration
// string as in [status] ("90s", "10m", "6h", "1h30m"), 1m..720h (30 days).
struct InstallConfig {
  static constexpr absl::Duration kTokenTtlMin = absl::Minutes(1);
  static constexpr absl::Duration kTokenTtlMax = absl::Hours(30 * 24);
  // How long the install token made when a host is armed stays valid.
  absl::Duration token_ttl = absl::Hours(6);
};

// The whole of site.toml.
struct SiteConfig {
  std::string path;  // the file it was parsed from, as given
  ServerConfig server;
  DhcpConfig dhcp;
  TftpConfig tftp;
  BootConfig boot;
  std::vector<BootProfile> profiles;
  HttpConfig http;
  StatusConfig status;
  ApiConfig api;
  InstallConfig install;

  // The line of every key given in the file, by dotted path as errors name
  // them ("tftp.root", "boot.bios", "profile[0].kernel",
  // "profile[1].packages"), for checks made after parsing (the boot files
  // against the disk: CheckSiteFiles) to name site.toml:line. A key given by
  // a command-line flag instead is erased by the daemon.
  std::map<std::string, int> key_lines;

  // "site.toml:12: boot.bios" for a key read from the file, else just `key`.
  std::string Where(absl::string_view key) const;

  // The subnet containing `a`, or nullptr. Subnets do not overlap, so there is
  // at most one. Linear in the number of subnets (a handful per site).
  // The pointer is valid as long as this SiteConfig is neither destroyed nor
  // modified.
  const Subnet* SubnetFor(Ipv4Address a) const;
};

// Parses and validates site.toml text. `filename` is used in error messages
// and to resolve relative paths (against its directory; a filename without
// a directory leaves them relative to the working directory).
absl::StatusOr<SiteConfig> ParseSiteConfig(absl::string_view toml_text,
                                           absl::string_view filename);

// Reads `path` and parses it. Errors name the path.
absl::StatusOr<SiteConfig> LoadSiteConfig(const std::string& path);

// Reads a whole (small) text file; the error names the path. Shared by the
// site loaders; refuses files over 64 MiB.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

// Checks a DNS name: dot-separated RFC 1123 labels of [A-Za-z0-9-], 1..63
// bytes each, not starting or ending with '-', 253 bytes at most. The error
// says what is wrong (without the name, which the caller adds).
absl::Status CheckDnsName(absl::string_view name);

// Checks a disk device path, as [[profile]] disk and the inventory's disk
// column take it: "/dev/" then [A-Za-z0-9/_.:-], no empty, "." or ".."
// segment, at most 255 bytes ("/dev/sda", "/dev/disk/by-id/nvme-X_1").
// The error says what is wrong (without the path, which the caller adds).
absl::Status CheckDiskPath(absl::string_view path);

// Levenshtein distance between two short strings (for "did you mean").
int EditDistance(absl::string_view a, absl::string_view b);

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_SITE_CONFIG_H_
