#include "proto/dhcp/dhcp_options.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rackboot::dhcp {
namespace {

uint16_t LoadU16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

uint32_t LoadU32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

absl::string_view AsString(absl::Span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

absl::Status Malformed(uint8_t code, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(OptionLabel(code), ": ", what));
}

absl::Status WrongLength(uint8_t code, size_t size,
                         absl::string_view expected) {
  return Malformed(code,
                   absl::StrCat("length ", size, ", expected ", expected));
}

}  // namespace

absl::string_view DhcpOptionName(uint8_t code) {
  switch (code) {
    case kOptionPad:
      return "pad";
    case kOptionSubnetMask:
      return "subnet mask";
    case kOptionRouter:
      return "router";
    case kOptionDnsServer:
      return "domain name server";
    case kOptionHostName:
      return "host name";
    case kOptionDomainName:
      return "domain name";
    case kOptionBroadcastAddress:
      return "broadcast address";
    case kOptionVendorSpecific:
      return "vendor specific";
    case kOptionRequestedAddress:
      return "requested address";
    case kOptionLeaseTime:
      return "lease time";
    case kOptionOverload:
      return "overload";
    case kOptionMessageType:
      return "message type";
    case kOptionServerIdentifier:
      return "server identifier";
    case kOptionParameterRequestList:
      return "parameter request list";
    case kOptionMaxMessageSize:
      return "max message size";
    case kOptionRenewalTime:
      return "renewal time (T1)";
    case kOptionRebindingTime:
      return "rebinding time (T2)";
    case kOptionVendorClassId:
      return "vendor class id";
    case kOptionClientId:
      return "client id";
    case kOptionTftpServerName:
      return "tftp server name";
    case kOptionBootfileName:
      return "bootfile name";
    case kOptionUserClass:
      return "user class";
    case kOptionRelayAgentInfo:
      return "relay agent info";
    case kOptionClientArchitecture:
      return "client system architecture";
    case kOptionClientNetworkInterface:
      return "client network interface id";
    case kOptionClientMachineId:
      return "client machine id";
    case kOptionIpxeEncapsulated:
      return "ipxe encapsulated";
    case kOptionEnd:
      return "end";
  }
  return "";
}

std::string OptionLabel(uint8_t code) {
  absl::string_view name = DhcpOptionName(code);
  if (name.empty()) return absl::StrCat("option ", code);
  return absl::StrCat("option ", code, " (", name, ")");
}

absl::string_view DhcpMessageTypeName(DhcpMessageType type) {
  switch (type) {
    case DhcpMessageType::kDiscover:
      return "DHCPDISCOVER";
    case DhcpMessageType::kOffer:
      return "DHCPOFFER";
    case DhcpMessageType::kRequest:
      return "DHCPREQUEST";
    case DhcpMessageType::kDecline:
      return "DHCPDECLINE";
    case DhcpMessageType::kAck:
      return "DHCPACK";
    case DhcpMessageType::kNak:
      return "DHCPNAK";
    case DhcpMessageType::kRelease:
      return "DHCPRELEASE";
    case DhcpMessageType::kInform:
      return "DHCPINFORM";
  }
  return "";
}

absl::string_view PxeArchName(uint16_t arch) {
  static constexpr absl::string_view kNames[] = {
      "x86 BIOS",
      "NEC/PC98",
      "Itanium",
      "DEC Alpha",
      "Arc x86",
      "Intel Lean Client",
      "x86 UEFI",
      "x64 UEFI",
      "EFI Xscale",
      "EBC",
      "ARM 32-bit UEFI",
      "ARM 64-bit UEFI",
      "PowerPC Open Firmware",
      "PowerPC ePAPR",
      "POWER OPAL v3",
      "x86 UEFI HTTP",
      "x64 UEFI HTTP",
      "EBC HTTP",
      "ARM 32-bit UEFI HTTP",
      "ARM 64-bit UEFI HTTP",
      "x86 BIOS HTTP",
      "ARM 32-bit U-Boot",
      "ARM 64-bit U-Boot",
      "ARM 32-bit U-Boot HTTP",
      "ARM 64-bit U-Boot HTTP",
      "RISC-V 32-bit UEFI",
      "RISC-V 32-bit UEFI HTTP",
      "RISC-V 64-bit UEFI",
      "RISC-V 64-bit UEFI HTTP",
      "RISC-V 128-bit UEFI",
      "RISC-V 128-bit UEFI HTTP",
      "s390 Basic",
      "s390 Extended",
      "MIPS 32-bit UEFI",
      "MIPS 64-bit UEFI",
      "Sunway 32-bit UEFI",
      "Sunway 64-bit UEFI",
      "LoongArch 32-bit UEFI",
      "LoongArch 32-bit UEFI HTTP",
      "LoongArch 64-bit UEFI",
      "LoongArch 64-bit UEFI HTTP",
      "ARM rpiboot",
  };
  return arch < std::size(kNames) ? kNames[arch] : "";
}

absl::StatusOr<Ipv4Address> Ipv4Address::Parse(absl::string_view text) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t start = i;
    uint32_t part = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' &&
           i - start < 3) {
      part = part * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start || part > 255) break;
    value = value << 8 | part;
    ++parts;
    if (parts < 4) {
      if (i >= text.size() || text[i] != '.') break;
      ++i;
    }
  }
  if (parts != 4 || i != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an IPv4 address (a.b.c.d)"));
  }
  return Ipv4Address(value);
}

std::string Ipv4Address::ToString() const {
  return absl::StrCat(value_ >> 24, ".", (value_ >> 16) & 0xff, ".",
                      (value_ >> 8) & 0xff, ".", value_ & 0xff);
}

// --- DhcpOptions ------------------------------------------------------------

const DhcpOptions::Entry* DhcpOptions::FindEntry(uint8_t code) const {
  for (const Entry& e : entries_) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

DhcpOptions::Entry* DhcpOptions::FindEntry(uint8_t code) {
  return const_cast<Entry*>(std::as_const(*this).FindEntry(code));
}

absl::optional<absl::Span<const uint8_t>> DhcpOptions::Find(
    uint8_t code) const {
  const Entry* e = FindEntry(code);
  if (e == nullptr) return absl::nullopt;
  return DataOf(*e);
}

void DhcpOptions::Append(uint8_t code, absl::Span<const uint8_t> data) {
  // `data` may point into storage_, which the insert below can reallocate.
  if (!data.empty() && data.data() >= storage_.data() &&
      data.data() < storage_.data() + storage_.size()) {
    std::vector<uint8_t> copy(data.begin(), data.end());
    Append(code, copy);
    return;
  }
  Entry* e = FindEntry(code);
  if (e == nullptr) {
    entries_.push_back({code, static_cast<uint32_t>(storage_.size()),
                        static_cast<uint32_t>(data.size())});
    storage_.insert(storage_.end(), data.begin(), data.end());
    return;
  }
  if (e->offset + e->size != storage_.size()) {
    // Not the last data stored: move it to the end so it can grow in place.
    // Rare (interleaved duplicates); the old bytes stay until Clear().
    const uint32_t old_offset = e->offset;
    e->offset = static_cast<uint32_t>(storage_.size());
    storage_.resize(storage_.size() + e->size);
    std::memmove(storage_.data() + e->offset, storage_.data() + old_offset,
                 e->size);
  }
  storage_.insert(storage_.end(), data.begin(), data.end());
  e->size += static_cast<uint32_t>(data.size());
}

void DhcpOptions::Set(uint8_t code, absl::Span<const uint8_t> data) {
  Entry* e = FindEntry(code);
  if (e == nullptr) {
    Append(code, data);
  } else if (e->size == data.size()) {
    if (!data.empty()) {
      std::memmove(storage_.data() + e->offset, data.data(), data.size());
    }
  } else {
    e->size = 0;
    e->offset = static_cast<uint32_t>(storage_.size());
    Append(code, data);
  }
}

bool DhcpOptions::Remove(uint8_t code) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [code](const Entry& e) { return e.code == code; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

void DhcpOptions::Clear() {
  entries_.clear();
  storage_.clear();
}

void DhcpOptions::Reserve(size_t options, size_t bytes) {
  entries_.reserve(options);
  storage_.reserve(bytes);
}

void DhcpOptions::SetU8(uint8_t code, uint8_t value) {
  Set(code, absl::MakeConstSpan(&value, 1));
}

void DhcpOptions::SetU16(uint8_t code, uint16_t value) {
  const uint8_t b[2] = {uint8_t(value >> 8), uint8_t(value)};
  Set(code, b);
}

void DhcpOptions::SetU32(uint8_t code, uint32_t value) {
  const uint8_t b[4] = {uint8_t(value >> 24), uint8_t(value >> 16),
                        uint8_t(value >> 8), uint8_t(value)};
  Set(code, b);
}

void DhcpOptions::SetIpv4(uint8_t code, Ipv4Address address) {
  SetU32(code, address.value());
}

void DhcpOptions::SetIpv4List(uint8_t code,
                              absl::Span<const Ipv4Address> addresses) {
  std::vector<uint8_t> b;
  b.reserve(addresses.size() * 4);
  for (Ipv4Address a : addresses) {
    const uint32_t v = a.value();
    b.insert(b.end(),
             {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
  }
  Set(code, b);
}

void DhcpOptions::SetString(uint8_t code, absl::string_view value) {
  Set(code, AsBytes(value));
}

absl::StatusOr<absl::Span<const uint8_t>> DhcpOptions::Require(
    uint8_t code) const {
  const Entry* e = FindEntry(code);
  if (e == nullptr) return absl::NotFoundError(OptionLabel(code) + ": absent");
  return DataOf(*e);
}

absl::StatusOr<uint8_t> DhcpOptions::GetU8(uint8_t code) const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(code);
  if (!d.ok()) return d.status();
  if (d->size() != 1) return WrongLength(code, d->size(), "1");
  return (*d)[0];
}

absl::StatusOr<uint16_t> DhcpOptions::GetU16(uint8_t code) const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(code);
  if (!d.ok()) return d.status();
  if (d->size() != 2) return WrongLength(code, d->size(), "2");
  return LoadU16(d->data());
}

absl::StatusOr<uint32_t> DhcpOptions::GetU32(uint8_t code) const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(code);
  if (!d.ok()) return d.status();
  if (d->size() != 4) return WrongLength(code, d->size(), "4");
  return LoadU32(d->data());
}

absl::StatusOr<Ipv4Address> DhcpOptions::GetIpv4(uint8_t code) const {
  absl::StatusOr<uint32_t> v = GetU32(code);
  if (!v.ok()) return v.status();
  return Ipv4Address(*v);
}

absl::StatusOr<std::vector<Ipv4Address>> DhcpOptions::GetIpv4List(
    uint8_t code) const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(code);
  if (!d.ok()) return d.status();
  if (d->empty() || d->size() % 4 != 0) {
    return WrongLength(code, d->size(), "a non-zero multiple of 4");
  }
  std::vector<Ipv4Address> out;
  out.reserve(d->size() / 4);
  for (size_t i = 0; i < d->size(); i += 4) {
    out.emplace_back(LoadU32(d->data() + i));
  }
  return out;
}

absl::StatusOr<absl::string_view> DhcpOptions::GetString(uint8_t code) const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(code);
  if (!d.ok()) return d.status();
  absl::string_view s = AsString(*d);
  while (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  if (s.empty()) {
    return Malformed(
        code, d->empty() ? "empty (length 0)" : "empty (only NUL bytes)");
  }
  return s;
}

absl::StatusOr<absl::Span<const uint8_t>> DhcpOptions::GetBytes(
    uint8_t code) const {
  return Require(code);
}

absl::StatusOr<Ipv4Address> DhcpOptions::SubnetMask() const {
  return GetIpv4(kOptionSubnetMask);
}
absl::StatusOr<std::vector<Ipv4Address>> DhcpOptions::Routers() const {
  return GetIpv4List(kOptionRouter);
}
absl::StatusOr<std::vector<Ipv4Address>> DhcpOptions::DnsServers() const {
  return GetIpv4List(kOptionDnsServer);
}
absl::StatusOr<absl::string_view> DhcpOptions::HostName() const {
  return GetString(kOptionHostName);
}
absl::StatusOr<absl::string_view> DhcpOptions::DomainName() const {
  return GetString(kOptionDomainName);
}
absl::StatusOr<Ipv4Address> DhcpOptions::BroadcastAddress() const {
  return GetIpv4(kOptionBroadcastAddress);
}
absl::StatusOr<Ipv4Address> DhcpOptions::RequestedAddress() const {
  return GetIpv4(kOptionRequestedAddress);
}
absl::StatusOr<uint32_t> DhcpOptions::LeaseTime() const {
  return GetU32(kOptionLeaseTime);
}

absl::StatusOr<uint8_t> DhcpOptions::Overload() const {
  absl::StatusOr<uint8_t> v = GetU8(kOptionOverload);
  if (v.ok() && (*v < 1 || *v > 3)) {
    return Malformed(kOptionOverload,
                     absl::StrCat("value ", *v, ", expected 1, 2 or 3"));
  }
  return v;
}

absl::StatusOr<DhcpMessageType> DhcpOptions::MessageType() const {
  absl::StatusOr<uint8_t> v = GetU8(kOptionMessageType);
  if (!v.ok()) return v.status();
  if (*v < 1 || *v > 8) {
    return Malformed(kOptionMessageType,
                     absl::StrCat("value ", *v, ", expected 1..8"));
  }
  return static_cast<DhcpMessageType>(*v);
}

absl::StatusOr<Ipv4Address> DhcpOptions::ServerIdentifier() const {
  return GetIpv4(kOptionServerIdentifier);
}

absl::StatusOr<absl::Span<const uint8_t>> DhcpOptions::ParameterRequestList()
    const {
  absl::StatusOr<absl::Span<const uint8_t>> d =
      Require(kOptionParameterRequestList);
  if (d.ok() && d->empty()) {
    return WrongLength(kOptionParameterRequestList, 0, "at least 1");
  }
  return d;
}

absl::StatusOr<uint16_t> DhcpOptions::MaxMessageSize() const {
  absl::StatusOr<uint16_t> v = GetU16(kOptionMaxMessageSize);
  if (v.ok() && *v < 576) {
    return Malformed(kOptionMaxMessageSize,
                     absl::StrCat("value ", *v, ", the minimum is 576"));
  }
  return v;
}

absl::StatusOr<uint32_t> DhcpOptions::T1() const {
  return GetU32(kOptionRenewalTime);
}
absl::StatusOr<uint32_t> DhcpOptions::T2() const {
  return GetU32(kOptionRebindingTime);
}
absl::StatusOr<absl::string_view> DhcpOptions::VendorClassId() const {
  return GetString(kOptionVendorClassId);
}

absl::StatusOr<absl::Span<const uint8_t>> DhcpOptions::ClientId() const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(kOptionClientId);
  if (d.ok() && d->size() < 2) {
    return WrongLength(kOptionClientId, d->size(), "at least 2");
  }
  return d;
}

absl::StatusOr<absl::string_view> DhcpOptions::TftpServerName() const {
  return GetString(kOptionTftpServerName);
}
absl::StatusOr<absl::string_view> DhcpOptions::BootfileName() const {
  return GetString(kOptionBootfileName);
}

absl::StatusOr<std::vector<absl::string_view>> DhcpOptions::UserClass() const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(kOptionUserClass);
  if (!d.ok()) return d.status();
  if (d->empty()) return WrongLength(kOptionUserClass, 0, "at least 1");
  // RFC 3004 section 4: UC_Len_i (>= 1) then that many bytes, covering the
  // option exactly.
  std::vector<absl::string_view> classes;
  size_t i = 0;
  while (i < d->size()) {
    const size_t len = (*d)[i];
    if (len == 0 || len > d->size() - i - 1) break;
    classes.push_back(AsString(d->subspan(i + 1, len)));
    i += 1 + len;
  }
  if (i == d->size()) return classes;
  // Not RFC 3004: the raw-string form ("iPXE").
  return std::vector<absl::string_view>{AsString(*d)};
}

bool DhcpOptions::UserClassContains(absl::string_view user_class) const {
  absl::StatusOr<std::vector<absl::string_view>> classes = UserClass();
  if (!classes.ok()) return false;
  return std::find(classes->begin(), classes->end(), user_class) !=
         classes->end();
}

absl::StatusOr<std::vector<uint16_t>> DhcpOptions::ClientArchitectures() const {
  absl::StatusOr<absl::Span<const uint8_t>> d =
      Require(kOptionClientArchitecture);
  if (!d.ok()) return d.status();
  if (d->empty() || d->size() % 2 != 0) {
    return WrongLength(kOptionClientArchitecture, d->size(),
                       "a non-zero multiple of 2");
  }
  std::vector<uint16_t> out;
  out.reserve(d->size() / 2);
  for (size_t i = 0; i < d->size(); i += 2) {
    out.push_back(LoadU16(d->data() + i));
  }
  return out;
}

absl::StatusOr<ClientNetworkInterfaceId> DhcpOptions::ClientNetworkInterface()
    const {
  absl::StatusOr<absl::Span<const uint8_t>> d =
      Require(kOptionClientNetworkInterface);
  if (!d.ok()) return d.status();
  if (d->size() != 3) {
    return WrongLength(kOptionClientNetworkInterface, d->size(), "3");
  }
  if ((*d)[0] != 1) {
    return Malformed(kOptionClientNetworkInterface,
                     absl::StrCat("type ", (*d)[0], ", expected 1 (UNDI)"));
  }
  return ClientNetworkInterfaceId{(*d)[0], (*d)[1], (*d)[2]};
}

absl::StatusOr<std::array<uint8_t, 16>> DhcpOptions::ClientMachineId() const {
  absl::StatusOr<absl::Span<const uint8_t>> d = Require(kOptionClientMachineId);
  if (!d.ok()) return d.status();
  if (d->size() != 17) {
    return WrongLength(kOptionClientMachineId, d->size(),
                       "17 (type 0 and a 16-byte UUID)");
  }
  if ((*d)[0] != 0) {
    return Malformed(kOptionClientMachineId,
                     absl::StrCat("type ", (*d)[0], ", expected 0"));
  }
  std::array<uint8_t, 16> id;
  std::copy(d->begin() + 1, d->end(), id.begin());
  return id;
}

absl::StatusOr<absl::Span<const uint8_t>> DhcpOptions::Ipxe() const {
  return Require(kOptionIpxeEncapsulated);
}

bool DhcpOptions::operator==(const DhcpOptions& other) const {
  if (entries_.size() != other.entries_.size()) return false;
  for (const Entry& e : entries_) {
    const Entry* o = other.FindEntry(e.code);
    if (o == nullptr) return false;
    absl::Span<const uint8_t> a = DataOf(e), b = other.DataOf(*o);
    if (!std::equal(a.begin(), a.end(), b.begin(), b.end())) return false;
  }
  return true;
}

// --- Sub-options
// --------------------------------------------------------------

absl::StatusOr<std::vector<DhcpSubOption>> ParseSubOptions(
    absl::Span<const uint8_t> data, SubOptionFormat format, uint8_t parent) {
  std::vector<DhcpSubOption> out;
  size_t i = 0;
  while (i < data.size()) {
    const uint8_t code = data[i];
    if (format == SubOptionFormat::kPadEnd) {
      if (code == kOptionPad) {
        ++i;
        continue;
      }
      if (code == kOptionEnd) break;
    }
    if (i + 1 >= data.size()) {
      return Malformed(parent, absl::StrCat("sub-option ", code, " at offset ",
                                            i, ": length byte missing"));
    }
    const size_t len = data[i + 1];
    if (len > data.size() - i - 2) {
      return Malformed(parent,
                       absl::StrCat("sub-option ", code, " at offset ", i,
                                    ": length ", len, " runs past the end (",
                                    data.size() - i - 2, " bytes left)"));
    }
    out.push_back({code, data.subspan(i + 2, len)});
    i += 2 + len;
  }
  return out;
}

absl::Status AppendSubOption(uint8_t code, absl::Span<const uint8_t> data,
                             std::vector<uint8_t>& out) {
  if (data.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("sub-option ", code, ": ", data.size(),
                     " bytes do not fit in one sub-option (255 at most)"));
  }
  out.push_back(code);
  out.push_back(static_cast<uint8_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  return absl::OkStatus();
}

namespace {

// PXE specification 2.1, table 2-1.
constexpr uint8_t kPxeDiscoveryControl = 6;
constexpr uint8_t kPxeBootServers = 8;
constexpr uint8_t kPxeBootMenu = 9;
constexpr uint8_t kPxeMenuPrompt = 10;
constexpr uint8_t kPxeBootItem = 71;

absl::Status BadPxe(uint8_t sub, absl::string_view what) {
  return Malformed(kOptionVendorSpecific,
                   absl::StrCat("PXE sub-option ", sub, ": ", what));
}

}  // namespace

absl::StatusOr<PxeVendorOptions> ParsePxeVendorOptions(
    absl::Span<const uint8_t> option43) {
  absl::StatusOr<std::vector<DhcpSubOption>> subs = ParseSubOptions(
      option43, SubOptionFormat::kPadEnd, kOptionVendorSpecific);
  if (!subs.ok()) return subs.status();
  PxeVendorOptions pxe;
  for (const DhcpSubOption& s : *subs) {
    const absl::Span<const uint8_t> d = s.data;
    switch (s.code) {
      case kPxeDiscoveryControl:
        if (d.size() != 1) {
          return BadPxe(s.code,
                        absl::StrCat("length ", d.size(), ", expected 1"));
        }
        pxe.discovery_control = d[0];
        break;
      case kPxeBootServers:
        // Entries of type (2), IP count (1), count addresses.
        for (size_t i = 0; i < d.size();) {
          if (d.size() - i < 3) return BadPxe(s.code, "truncated entry");
          PxeVendorOptions::BootServer server;
          server.type = LoadU16(&d[i]);
          const size_t count = d[i + 2];
          i += 3;
          if (d.size() - i < count * 4) {
            return BadPxe(s.code,
                          absl::StrCat(count, " addresses run past the end"));
          }
          for (size_t k = 0; k < count; ++k, i += 4) {
            server.addresses.emplace_back(LoadU32(&d[i]));
          }
          pxe.boot_servers.push_back(std::move(server));
        }
        break;
      case kPxeBootMenu:
        // Entries of type (2), description length (1), description.
        for (size_t i = 0; i < d.size();) {
          if (d.size() - i < 3) return BadPxe(s.code, "truncated entry");
          const uint16_t type = LoadU16(&d[i]);
          const size_t len = d[i + 2];
          i += 3;
          if (d.size() - i < len) {
            return BadPxe(s.code, absl::StrCat("description length ", len,
                                               " runs past the end"));
          }
          pxe.boot_menu.push_back(
              {type, std::string(AsString(d.subspan(i, len)))});
          i += len;
        }
        break;
      case kPxeMenuPrompt:
        if (d.empty()) return BadPxe(s.code, "length 0, expected at least 1");
        pxe.menu_prompt = PxeVendorOptions::MenuPrompt{
            d[0], std::string(AsString(d.subspan(1)))};
        break;
      case kPxeBootItem:
        if (d.size() != 4) {
          return BadPxe(s.code,
                        absl::StrCat("length ", d.size(), ", expected 4"));
        }
        pxe.boot_item =
            PxeVendorOptions::BootItem{LoadU16(&d[0]), LoadU16(&d[2])};
        break;
      default:
        pxe.other.push_back({s.code, std::vector<uint8_t>(d.begin(), d.end())});
    }
  }
  return pxe;
}

absl::StatusOr<std::vector<uint8_t>> WritePxeVendorOptions(
    const PxeVendorOptions& pxe) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> d;
  auto put16 = [&d](uint16_t v) {
    d.push_back(uint8_t(v >> 8));
    d.push_back(uint8_t(v));
  };
  absl::Status status;
  if (pxe.discovery_control) {
    status.Update(AppendSubOption(kPxeDiscoveryControl,
                                  {&*pxe.discovery_control, 1}, out));
  }
  if (!pxe.boot_servers.empty()) {
    d.clear();
    for (const PxeVendorOptions::BootServer& server : pxe.boot_servers) {
      if (server.addresses.size() > 255) {
        return BadPxe(kPxeBootServers, "more than 255 addresses");
      }
      put16(server.type);
      d.push_back(uint8_t(server.addresses.size()));
      for (Ipv4Address a : server.addresses) {
        put16(uint16_t(a.value() >> 16));
        put16(uint16_t(a.value()));
      }
    }
    status.Update(AppendSubOption(kPxeBootServers, d, out));
  }
  if (!pxe.boot_menu.empty()) {
    d.clear();
    for (const PxeVendorOptions::MenuItem& item : pxe.boot_menu) {
      if (item.description.size() > 255) {
        return BadPxe(kPxeBootMenu, "description longer than 255 bytes");
      }
      put16(item.type);
      d.push_back(uint8_t(item.description.size()));
      d.insert(d.end(), item.description.begin(), item.description.end());
    }
    status.Update(AppendSubOption(kPxeBootMenu, d, out));
  }
  if (pxe.menu_prompt) {
    d.assign(1, pxe.menu_prompt->timeout);
    d.insert(d.end(), pxe.menu_prompt->prompt.begin(),
             pxe.menu_prompt->prompt.end());
    status.Update(AppendSubOption(kPxeMenuPrompt, d, out));
  }
  if (pxe.boot_item) {
    d.clear();
    put16(pxe.boot_item->type);
    put16(pxe.boot_item->layer);
    status.Update(AppendSubOption(kPxeBootItem, d, out));
  }
  for (const OwnedSubOption& s : pxe.other) {
    status.Update(AppendSubOption(s.code, s.data, out));
  }
  if (!status.ok()) return Malformed(kOptionVendorSpecific, status.message());
  out.push_back(kOptionEnd);
  return out;
}

absl::optional<absl::Span<const uint8_t>> RelayAgentInfo::Get(
    uint8_t code) const {
  for (const OwnedSubOption& s : sub_options) {
    if (s.code == code) return absl::MakeConstSpan(s.data);
  }
  return absl::nullopt;
}

absl::StatusOr<RelayAgentInfo> ParseRelayAgentInfo(
    absl::Span<const uint8_t> option82) {
  absl::StatusOr<std::vector<DhcpSubOption>> subs =
      ParseSubOptions(option82, SubOptionFormat::kTlv, kOptionRelayAgentInfo);
  if (!subs.ok()) return subs.status();
  RelayAgentInfo info;
  info.sub_options.reserve(subs->size());
  for (const DhcpSubOption& s : *subs) {
    info.sub_options.push_back(
        {s.code, std::vector<uint8_t>(s.data.begin(), s.data.end())});
  }
  return info;
}

absl::StatusOr<std::vector<uint8_t>> WriteRelayAgentInfo(
    const RelayAgentInfo& info) {
  std::vector<uint8_t> out;
  for (const OwnedSubOption& s : info.sub_options) {
    absl::Status status = AppendSubOption(s.code, s.data, out);
    if (!status.ok()) return Malformed(kOptionRelayAgentInfo, status.message());
  }
  return out;
}

}  // namespace rackboot::dhcp
