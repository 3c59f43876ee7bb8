// DHCPv4 options (RFC 2132) as typed values: option codes, message types, PXE
// architecture values, the `DhcpOptions` collection with typed getters and
// setters, and the encapsulated sub-option formats of options 43 (PXE), 82
// (relay agent information) and 175 (iPXE).
//
// Everything here is a plain value: the caller owns it, there is no shared
// state, and any thread may use its own instances. No I/O.
//
// Example:
//   DhcpOptions opts;
//   opts.SetU8(kOptionMessageType,
//   static_cast<uint8_t>(DhcpMessageType::kOffer));
//   opts.SetIpv4(kOptionServerIdentifier, Ipv4Address(10, 0, 0, 1));
//   absl::StatusOr<DhcpMessageType> type = opts.MessageType();
//
// Getters return absl::StatusOr: NotFound when the option is absent (test with
// Has() first when absence is normal), InvalidArgument when it is malformed,
// with a message naming the option and the problem, e.g.
// "option 53 (message type): length 2, expected 1".
#ifndef RACKBOOT_PROTO_DHCP_DHCP_OPTIONS_H_
#define RACKBOOT_PROTO_DHCP_DHCP_OPTIONS_H_

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace rackboot::dhcp {

// Option codes (RFC 2132 unless noted). Unscoped so a code converts to the
// uint8_t the wire and the DhcpOptions API use.
enum DhcpOptionCode : uint8_t {
  kOptionPad = 0,
  kOptionSubnetMask = 1,
  kOptionRouter = 3,
  kOptionDnsServer = 6,
  kOptionHostName = 12,
  kOptionDomainName = 15,
  kOptionBroadcastAddress = 28,
  kOptionVendorSpecific = 43,
  kOptionRequestedAddress = 50,
  kOptionLeaseTime = 51,
  kOptionOverload = 52,
  kOptionMessageType = 53,
  kOptionServerIdentifier = 54,
  kOptionParameterRequestList = 55,
  kOptionMaxMessageSize = 57,
  kOptionRenewalTime = 58,    // T1
  kOptionRebindingTime = 59,  // T2
  kOptionVendorClassId = 60,
  kOptionClientId = 61,
  kOptionTftpServerName = 66,
  kOptionBootfileName = 67,
  kOptionUserClass = 77,               // RFC 3004
  kOptionRelayAgentInfo = 82,          // RFC 3046
  kOptionClientArchitecture = 93,      // RFC 4578 2.1
  kOptionClientNetworkInterface = 94,  // RFC 4578 2.2
  kOptionClientMachineId = 97,         // RFC 4578 2.3
  kOptionIpxeEncapsulated = 175,       // iPXE's own option space
  kOptionEnd = 255,
};

// "message type" for known codes, "" otherwise.
absl::string_view DhcpOptionName(uint8_t code);

// Option 53 values (RFC 2132 9.6).
enum class DhcpMessageType : uint8_t {
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};

// "DHCPDISCOVER" ... "DHCPINFORM", or "" for other values.
absl::string_view DhcpMessageTypeName(DhcpMessageType type);

// Option 93 values: the IANA "Processor Architecture Types" registry, which
// corrects RFC 4578 2.1. The RFC's table labels 7 "EFI BC" and 9 "EFI x86-64";
// x64 UEFI firmware sends 7 (IANA: "x64 UEFI") and 9 is EFI byte code. Some
// old firmware sends 9 for x64, so a server usually treats 7 and 9 alike.
enum class PxeArch : uint16_t {
  kBiosX86 = 0,
  kNecPc98 = 1,
  kEfiItanium = 2,
  kDecAlpha = 3,
  kArcX86 = 4,
  kIntelLeanClient = 5,
  kEfiIa32 = 6,
  kEfiX64 = 7,  // RFC 4578: "EFI BC"
  kEfiXscale = 8,
  kEfiBc = 9,  // RFC 4578: "EFI x86-64"
  kEfiArm32 = 10,
  kEfiArm64 = 11,
  kPowerPcOpenFirmware = 12,
  kPowerPcEpapr = 13,
  kPowerOpalV3 = 14,
  kEfiIa32Http = 15,
  kEfiX64Http = 16,
  kEfiBcHttp = 17,
  kEfiArm32Http = 18,
  kEfiArm64Http = 19,
  kBiosX86Http = 20,
  kUbootArm32 = 21,
  kUbootArm64 = 22,
  kUbootArm32Http = 23,
  kUbootArm64Http = 24,
  kEfiRiscV32 = 25,
  kEfiRiscV32Http = 26,
  kEfiRiscV64 = 27,
  kEfiRiscV64Http = 28,
  kEfiRiscV128 = 29,
  kEfiRiscV128Http = 30,
  kS390Basic = 31,
  kS390Extended = 32,
  kEfiMips32 = 33,
  kEfiMips64 = 34,
  kEfiSunway32 = 35,
  kEfiSunway64 = 36,
  kEfiLoongArch32 = 37,
  kEfiLoongArch32Http = 38,
  kEfiLoongArch64 = 39,
  kEfiLoongArch64Http = 40,
  kArmRpiboot = 41,
};

// "x64 UEFI" etc. for registered values, "" otherwise.
absl::string_view PxeArchName(uint16_t arch);

// An IPv4 address in host byte order; the codec converts at the wire.
class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;
  constexpr explicit Ipv4Address(uint32_t host_order) : value_(host_order) {}
  constexpr Ipv4Address(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
      : value_(uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d) {}

  // Parses a dotted quad ("198.18.0.1"); the error names the text.
  static absl::StatusOr<Ipv4Address> Parse(absl::string_view text);

  constexpr uint32_t value() const { return value_; }
  constexpr bool IsUnspecified() const { return value_ == 0; }
  std::string ToString() const;  // dotted quad

  friend constexpr auto operator<=>(Ipv4Address, Ipv4Address) = default;
  template <typename H>
  friend H AbslHashValue(H h, Ipv4Address a) {
    return H::combine(std::move(h), a.value_);
  }

 private:
  uint32_t value_ = 0;
};

// Option 94 (RFC 4578 2.2): the UNDI version of the client's network device.
struct ClientNetworkInterfaceId {
  uint8_t type = 1;  // 1 = UNDI, the only defined type
  uint8_t major = 0;
  uint8_t minor = 0;
  bool operator==(const ClientNetworkInterfaceId&) const = default;
};

// One option as a borrowed view.
struct DhcpOptionView {
  uint8_t code;
  absl::Span<const uint8_t> data;
};

// The options of one message, keyed by code, in order of first appearance so
// a parsed message can be written back byte for byte. Each code appears once:
// RFC 3396 section 7 says several instances of a code are concatenated in
// order, so Append() extends an existing option. Data may exceed 255 bytes;
// the writer splits it into instances (RFC 3396 section 5).
//
// Spans returned by getters borrow this object's storage and are valid until
// the next mutation or destruction.
class DhcpOptions {
 public:
  DhcpOptions() = default;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // REQUIRES: i < size(). Options in first-appearance order.
  DhcpOptionView at(size_t i) const {
    return {entries_[i].code, DataOf(entries_[i])};
  }

  bool Has(uint8_t code) const { return FindEntry(code) != nullptr; }
  // The raw bytes of `code`, absent if the message does not carry it.
  absl::optional<absl::Span<const uint8_t>> Find(uint8_t code) const;

  // Adds an option at the end, or concatenates to an existing one (RFC 3396).
  void Append(uint8_t code, absl::Span<const uint8_t> data);
  // Replaces an option's data, keeping its position; adds it if absent.
  void Set(uint8_t code, absl::Span<const uint8_t> data);
  // Returns whether the option was present.
  bool Remove(uint8_t code);
  void Clear();
  // Capacity hints for the parser, so one datagram costs few allocations.
  void Reserve(size_t options, size_t bytes);

  // Typed setters (network byte order on the wire).
  void SetU8(uint8_t code, uint8_t value);
  void SetU16(uint8_t code, uint16_t value);
  void SetU32(uint8_t code, uint32_t value);
  void SetIpv4(uint8_t code, Ipv4Address address);
  void SetIpv4List(uint8_t code, absl::Span<const Ipv4Address> addresses);
  void SetString(uint8_t code, absl::string_view value);
  void SetBytes(uint8_t code, absl::Span<const uint8_t> value) {
    Set(code, value);
  }

  // Typed getters: NotFound if absent, InvalidArgument if malformed.
  absl::StatusOr<uint8_t> GetU8(uint8_t code) const;
  absl::StatusOr<uint16_t> GetU16(uint8_t code) const;
  absl::StatusOr<uint32_t> GetU32(uint8_t code) const;
  absl::StatusOr<Ipv4Address> GetIpv4(uint8_t code) const;
  // Length must be a non-zero multiple of 4 (RFC 2132: "minimum length 4").
  absl::StatusOr<std::vector<Ipv4Address>> GetIpv4List(uint8_t code) const;
  // NVT ASCII option: trailing NULs are dropped (RFC 2132 section 2 says a
  // receiver MUST be prepared for them); an empty result is an error (the
  // string options of RFC 2132 have "minimum length 1").
  absl::StatusOr<absl::string_view> GetString(uint8_t code) const;
  // Any length, including 0.
  absl::StatusOr<absl::Span<const uint8_t>> GetBytes(uint8_t code) const;

  // Named accessors for the options a boot server reads.
  absl::StatusOr<Ipv4Address> SubnetMask() const;
  absl::StatusOr<std::vector<Ipv4Address>> Routers() const;
  absl::StatusOr<std::vector<Ipv4Address>> DnsServers() const;
  absl::StatusOr<absl::string_view> HostName() const;
  absl::StatusOr<absl::string_view> DomainName() const;
  absl::StatusOr<Ipv4Address> BroadcastAddress() const;
  absl::StatusOr<Ipv4Address> RequestedAddress() const;
  absl::StatusOr<uint32_t> LeaseTime() const;  // seconds
  // 1 = file holds options, 2 = sname, 3 = both (RFC 2132 9.3).
  absl::StatusOr<uint8_t> Overload() const;
  // 1..8 (RFC 2132 9.6); other values are an error.
  absl::StatusOr<DhcpMessageType> MessageType() const;
  absl::StatusOr<Ipv4Address> ServerIdentifier() const;
  // Non-empty list of codes (RFC 2132 9.8).
  absl::StatusOr<absl::Span<const uint8_t>> ParameterRequestList() const;
  // At least 576 (RFC 2132 9.10).
  absl::StatusOr<uint16_t> MaxMessageSize() const;
  absl::StatusOr<uint32_t> T1() const;  // renewal time, seconds
  absl::StatusOr<uint32_t> T2() const;  // rebinding time, seconds
  absl::StatusOr<absl::string_view> VendorClassId() const;  // "PXEClient:..."
  // Type byte plus identifier: at least 2 bytes (RFC 2132 9.14).
  absl::StatusOr<absl::Span<const uint8_t>> ClientId() const;
  absl::StatusOr<absl::string_view> TftpServerName() const;
  absl::StatusOr<absl::string_view> BootfileName() const;
  // Option 77. RFC 3004 format is a sequence of (length, class) pairs; many
  // clients (iPXE sends "iPXE", also Windows and old dhclient) send one raw
  // string instead. Data that does not parse exactly as RFC 3004 is returned
  // as one raw class. Views borrow this object.
  absl::StatusOr<std::vector<absl::string_view>> UserClass() const;
  // True if option 77 is present, well formed and one class equals
  // `user_class`.
  bool UserClassContains(absl::string_view user_class) const;
  // Option 93: one or more 16-bit PxeArch values (RFC 4578 2.1).
  absl::StatusOr<std::vector<uint16_t>> ClientArchitectures() const;
  // Option 94: exactly 3 bytes, type 1 (RFC 4578 2.2).
  absl::StatusOr<ClientNetworkInterfaceId> ClientNetworkInterface() const;
  // Option 97: exactly 17 bytes, type 0 then a 16-byte UUID/GUID in wire
  // order (RFC 4578 2.3).
  absl::StatusOr<std::array<uint8_t, 16>> ClientMachineId() const;
  // Option 175 (iPXE encapsulated), raw.
  absl::StatusOr<absl::Span<const uint8_t>> Ipxe() const;

  // Order-insensitive: the same codes with the same data. Order only matters
  // for byte-exact rewriting, which DhcpWireInfo handles.
  bool operator==(const DhcpOptions& other) const;

 private:
  struct Entry {
    uint8_t code;
    uint32_t offset;  // into storage_
    uint32_t size;
  };

  const Entry* FindEntry(uint8_t code) const;
  Entry* FindEntry(uint8_t code);
  absl::Span<const uint8_t> DataOf(const Entry& e) const {
    return {storage_.data() + e.offset, e.size};
  }
  // The option's data, or the NotFound error naming it.
  absl::StatusOr<absl::Span<const uint8_t>> Require(uint8_t code) const;

  std::vector<Entry> entries_;
  // Data of every option; replaced data is left behind until Clear().
  std::vector<uint8_t> storage_;
};

// "option 53 (message type)" or "option 200".
std::string OptionLabel(uint8_t code);

// ---------------------------------------------------------------------------
// Encapsulated sub-options: code, length, data, as in the option field itself.

struct DhcpSubOption {
  uint8_t code;
  absl::Span<const uint8_t> data;
};

// An owned sub-option, for types that outlive the bytes they were parsed from.
struct OwnedSubOption {
  uint8_t code = 0;
  std::vector<uint8_t> data;
  bool operator==(const OwnedSubOption&) const = default;
};

enum class SubOptionFormat {
  // Options 43 and 175: 0 is a one-byte pad and 255 ends the list, as in the
  // options field (RFC 2132 8.4). A list without 255 ends with the data,
  // which is unambiguous since the parent option's length bounds it.
  kPadEnd,
  // Option 82: plain code/length/value triples, every code is data
  // (RFC 3046 2.0).
  kTlv,
};

// Parses `data` (the payload of option `parent`, named in errors). The views
// borrow `data`.
absl::StatusOr<std::vector<DhcpSubOption>> ParseSubOptions(
    absl::Span<const uint8_t> data, SubOptionFormat format, uint8_t parent);

// Appends code, length, data to `out`; InvalidArgument if data exceeds 255.
absl::Status AppendSubOption(uint8_t code, absl::Span<const uint8_t> data,
                             std::vector<uint8_t>& out);

// Option 43 in the PXE format (PXE specification 2.1, table 2-1), sent when
// the vendor class is "PXEClient". Unknown sub-options are kept raw.
struct PxeVendorOptions {
  struct BootServer {  // PXE_BOOT_SERVERS entry
    uint16_t type = 0;
    std::vector<Ipv4Address> addresses;
    bool operator==(const BootServer&) const = default;
  };
  struct MenuItem {  // PXE_BOOT_MENU entry
    uint16_t type = 0;
    std::string description;  // at most 255 bytes
    bool operator==(const MenuItem&) const = default;
  };
  struct MenuPrompt {     // PXE_MENU_PROMPT
    uint8_t timeout = 0;  // seconds; 0 = boot default, 255 = wait for a key
    std::string prompt;
    bool operator==(const MenuPrompt&) const = default;
  };
  struct BootItem {  // PXE_BOOT_ITEM
    uint16_t type = 0;
    uint16_t layer = 0;
    bool operator==(const BootItem&) const = default;
  };

  // Sub-option 6, PXE_DISCOVERY_CONTROL: bit 0 disables broadcast discovery,
  // bit 1 multicast, bit 2 restricts to boot_servers, bit 3 says "download
  // the bootfile named in the offer" (what most servers send: 8).
  absl::optional<uint8_t> discovery_control;
  std::vector<BootServer> boot_servers;    // 8; empty = absent
  std::vector<MenuItem> boot_menu;         // 9; empty = absent
  absl::optional<MenuPrompt> menu_prompt;  // 10
  absl::optional<BootItem> boot_item;      // 71
  std::vector<OwnedSubOption> other;       // anything else, in wire order

  bool operator==(const PxeVendorOptions&) const = default;
};

absl::StatusOr<PxeVendorOptions> ParsePxeVendorOptions(
    absl::Span<const uint8_t> option43);
// Writes 6, 8, 9, 10, 71, then `other`, then 255 (end). InvalidArgument if a
// sub-option would exceed 255 bytes.
absl::StatusOr<std::vector<uint8_t>> WritePxeVendorOptions(
    const PxeVendorOptions& pxe);

// Option 82 (RFC 3046). A server must echo it verbatim (RFC 3046 2.2), so the
// sub-options are kept raw and in wire order: Write(Parse(x)) == x.
struct RelayAgentInfo {
  static constexpr uint8_t kCircuitId = 1;
  static constexpr uint8_t kRemoteId = 2;

  std::vector<OwnedSubOption> sub_options;

  // First sub-option with the code; the view borrows this object.
  absl::optional<absl::Span<const uint8_t>> Get(uint8_t code) const;
  absl::optional<absl::Span<const uint8_t>> CircuitId() const {
    return Get(kCircuitId);
  }
  absl::optional<absl::Span<const uint8_t>> RemoteId() const {
    return Get(kRemoteId);
  }

  bool operator==(const RelayAgentInfo&) const = default;
};

absl::StatusOr<RelayAgentInfo> ParseRelayAgentInfo(
    absl::Span<const uint8_t> option82);
absl::StatusOr<std::vector<uint8_t>> WriteRelayAgentInfo(
    const RelayAgentInfo& info);

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_PROTO_DHCP_DHCP_OPTIONS_H_
