#include "proto/dhcp/dhcp_message.h"

#include <algorithm>
#include <bitset>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rackboot::dhcp {
namespace {

using Area = DhcpWireInfo::Area;

uint16_t LoadU16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

uint32_t LoadU32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}

void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

void StoreU32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

template <size_t N>
absl::string_view FieldString(const std::array<uint8_t, N>& a) {
  const auto* p = reinterpret_cast<const char*>(a.data());
  return absl::string_view(p, strnlen(p, N));
}

template <size_t N>
absl::Status SetField(std::array<uint8_t, N>& a, absl::string_view name,
                      absl::string_view what) {
  if (name.size() > N) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " of ", name.size(), " bytes does not fit in ", N));
  }
  a.fill(0);
  std::memcpy(a.data(), name.data(), name.size());
  return absl::OkStatus();
}

// Where each option area lies in the datagram, and what errors call it.
struct AreaSpec {
  Area area;
  size_t offset;
  size_t size;  // 0: up to the end of the datagram
  absl::string_view name;
  absl::string_view missing_end;
};

constexpr AreaSpec kOptionsArea = {Area::kOptions, kOffsetOptions, 0, "options",
                                   "options end without option 255 (end)"};
constexpr AreaSpec kFileArea = {
    Area::kFile, kOffsetFile, kFileSize, "file field (overloaded)",
    "file field (overloaded by option 52) ends without option 255 (end)"};
constexpr AreaSpec kSnameArea = {
    Area::kSname, kOffsetSname, kSnameSize, "sname field (overloaded)",
    "sname field (overloaded by option 52) ends without option 255 (end)"};

// Walks one option area (RFC 2131 4.1, RFC 2132 section 2): pad is one byte,
// end stops, anything else is code, length, data. Offsets in errors are from
// the start of the datagram.
absl::Status ParseArea(absl::Span<const uint8_t> datagram, const AreaSpec& spec,
                       DhcpMessage& msg) {
  const size_t end = spec.size == 0 ? datagram.size() : spec.offset + spec.size;
  size_t i = spec.offset;
  while (true) {
    if (i >= end) return absl::InvalidArgumentError(spec.missing_end);
    const uint8_t code = datagram[i];
    if (code == kOptionEnd) return absl::OkStatus();
    if (code == kOptionPad) {
      std::vector<DhcpWireInfo::Item>& items = msg.wire.items;
      if (!items.empty() && items.back().area == spec.area &&
          items.back().code == kOptionPad && items.back().length < 255) {
        ++items.back().length;
      } else {
        items.push_back({spec.area, kOptionPad, 1});
      }
      ++i;
      continue;
    }
    if (i + 1 >= end) {
      return absl::InvalidArgumentError(
          absl::StrCat(OptionLabel(code), " at offset ", i,
                       ": length byte missing at the end of the ", spec.name));
    }
    const size_t len = datagram[i + 1];
    if (len > end - i - 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(OptionLabel(code), " at offset ", i, ": length ", len,
                       " runs past the end of the ", spec.name, " (",
                       end - i - 2, " bytes left)"));
    }
    if (code == kOptionOverload && spec.area != Area::kOptions) {
      return absl::InvalidArgumentError(absl::StrCat(
          OptionLabel(code), " at offset ", i, " inside the ", spec.name,
          ": it must be in the options field (RFC 2131 4.1)"));
    }
    msg.options.Append(code, datagram.subspan(i + 2, len));
    msg.wire.items.push_back({spec.area, code, static_cast<uint8_t>(len)});
    i += 2 + len;
  }
}

// Bytes one option takes on the wire once split into <= 255-byte instances.
size_t EncodedSize(size_t data_size) {
  const size_t instances = data_size == 0 ? 1 : (data_size + 254) / 255;
  return data_size + 2 * instances;
}

// Where the writer puts options: [pos, limit) of `out`, one byte beyond
// `limit` kept for the end option.
struct Region {
  size_t pos = 0;
  size_t limit = 0;
  uint8_t overload_bit = 0;  // option 52's bit for this field
  bool used = false;
};

absl::Status CheckWritable(const DhcpOptions& options) {
  for (size_t i = 0; i < options.size(); ++i) {
    const uint8_t code = options.at(i).code;
    if (code == kOptionPad || code == kOptionEnd) {
      return absl::InvalidArgumentError(absl::StrCat(
          OptionLabel(code), " holds data; it has no length byte on the wire"));
    }
  }
  return absl::OkStatus();
}

// Replays msg.wire if the options still have the recorded lengths and the
// result fits `limit`. Returns the offset after the main area's end option, or
// 0 if the layout does not apply.
size_t Replay(const DhcpMessage& msg, uint8_t* out, size_t limit) {
  const DhcpWireInfo& wire = msg.wire;
  if (wire.original_size == 0) return 0;
  if ((wire.overload & 1) && !AllZero(msg.file)) return 0;
  if ((wire.overload & 2) && !AllZero(msg.sname)) return 0;
  // Check that the instances add up to each option's data, and the sizes.
  std::array<uint32_t, 256> bytes{};
  std::bitset<256> seen;
  size_t area_size[3] = {0, 0, 0};
  for (const DhcpWireInfo::Item& item : wire.items) {
    size_t& size = area_size[static_cast<int>(item.area)];
    if (item.code == kOptionPad) {
      size += item.length;
    } else {
      if (item.code == kOptionOverload ? item.area != Area::kOptions
                                       : !msg.options.Has(item.code)) {
        return 0;
      }
      bytes[item.code] += item.length;
      seen[item.code] = true;
      size += 2 + item.length;
    }
  }
  for (size_t i = 0; i < msg.options.size(); ++i) {
    const DhcpOptionView o = msg.options.at(i);
    if (o.code == kOptionOverload) continue;
    if (!seen[o.code] || bytes[o.code] != o.data.size()) return 0;
  }
  // Option 52 is not in msg.options: its one byte of data is wire.overload.
  if (bytes[kOptionOverload] != (wire.overload != 0 ? 1u : 0u)) return 0;
  // Each area's items and its end option must fit; file and sname may hold
  // options only if option 52 says so.
  const bool file = wire.overload & 1, sname = wire.overload & 2;
  if (kOffsetOptions + area_size[0] + 1 > limit ||
      (file ? area_size[1] + 1 > kFileSize : area_size[1] > 0) ||
      (sname ? area_size[2] + 1 > kSnameSize : area_size[2] > 0)) {
    return 0;
  }
  // Write. `bytes` becomes each option's read cursor.
  bytes.fill(0);
  size_t pos[3] = {kOffsetOptions, kOffsetFile, kOffsetSname};
  for (const DhcpWireInfo::Item& item : wire.items) {
    size_t& p = pos[static_cast<int>(item.area)];
    if (item.code == kOptionPad) {
      std::memset(out + p, 0, item.length);
      p += item.length;
    } else {
      const uint8_t* data = item.code == kOptionOverload
                                ? &wire.overload
                                : msg.options.Find(item.code)->data();
      out[p] = item.code;
      out[p + 1] = item.length;
      if (item.length > 0) {
        std::memcpy(out + p + 2, data + bytes[item.code], item.length);
      }
      bytes[item.code] += item.length;
      p += 2 + item.length;
    }
  }
  if (file) out[pos[1]] = kOptionEnd;
  if (sname) out[pos[2]] = kOptionEnd;
  out[pos[0]] = kOptionEnd;
  return pos[0] + 1;
}

// Writes one option's instances into the current region, moving on to the
// next region when an instance does not fit. False if none is left.
bool Place(uint8_t code, absl::Span<const uint8_t> data, uint8_t* out,
           absl::Span<Region> regions, size_t& current) {
  size_t done = 0;
  do {
    const size_t len = std::min<size_t>(data.size() - done, 255);
    while (regions[current].limit - regions[current].pos < 2 + len) {
      if (++current == regions.size()) return false;
    }
    Region& r = regions[current];
    out[r.pos] = code;
    out[r.pos + 1] = static_cast<uint8_t>(len);
    if (len > 0) std::memcpy(out + r.pos + 2, data.data() + done, len);
    r.pos += 2 + len;
    r.used = true;
    done += len;
  } while (done < data.size());
  return true;
}

}  // namespace

void DhcpMessage::SetBroadcast(bool on) {
  flags = on ? (flags | kFlagBroadcast) : (flags & ~kFlagBroadcast);
}

absl::optional<std::array<uint8_t, 6>> DhcpMessage::MacAddress() const {
  if (htype != kHtypeEthernet || hlen != 6) return absl::nullopt;
  std::array<uint8_t, 6> mac;
  std::copy_n(chaddr.begin(), 6, mac.begin());
  return mac;
}

std::string DhcpMessage::HardwareAddressString() const {
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(hlen, kChaddrSize); ++i) {
    if (i > 0) s.push_back(':');
    absl::StrAppendFormat(&s, "%02x", chaddr[i]);
  }
  return s;
}

absl::string_view DhcpMessage::ServerName() const { return FieldString(sname); }
absl::string_view DhcpMessage::BootFileName() const {
  return FieldString(file);
}

absl::Status DhcpMessage::SetServerName(absl::string_view name) {
  return SetField(sname, name, "server name");
}

absl::Status DhcpMessage::SetBootFileName(absl::string_view name) {
  return SetField(file, name, "boot file name");
}

bool DhcpMessage::operator==(const DhcpMessage& o) const {
  return op == o.op && htype == o.htype && hlen == o.hlen && hops == o.hops &&
         xid == o.xid && secs == o.secs && flags == o.flags &&
         ciaddr == o.ciaddr && yiaddr == o.yiaddr && siaddr == o.siaddr &&
         giaddr == o.giaddr && chaddr == o.chaddr && sname == o.sname &&
         file == o.file && options == o.options;
}

absl::StatusOr<DhcpMessage> ParseDhcpMessage(
    absl::Span<const uint8_t> datagram) {
  if (datagram.size() < kDhcpMinSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "truncated: ", datagram.size(),
        " bytes, a DHCP message needs at least 240 (236-byte header and the "
        "4-byte magic cookie)"));
  }
  if (datagram.size() > kMaxDatagramSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("datagram of ", datagram.size(), " bytes is too large"));
  }
  const uint8_t* d = datagram.data();
  DhcpMessage msg;
  msg.op = d[kOffsetOp];
  if (msg.op != kBootRequest && msg.op != kBootReply) {
    return absl::InvalidArgumentError(absl::StrCat(
        "op ", msg.op, ": expected 1 (BOOTREQUEST) or 2 (BOOTREPLY)"));
  }
  msg.htype = d[kOffsetHtype];
  msg.hlen = d[kOffsetHlen];
  if (msg.hlen > kChaddrSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("hlen ", msg.hlen, ": chaddr holds at most 16 bytes"));
  }
  const uint32_t cookie = LoadU32(d + kOffsetCookie);
  if (cookie != kMagicCookie) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bad magic cookie 0x%08x, expected 0x63825363 (RFC 2131 section 3; "
        "plain BOOTP is not supported)",
        cookie));
  }
  msg.hops = d[kOffsetHops];
  msg.xid = LoadU32(d + kOffsetXid);
  msg.secs = LoadU16(d + kOffsetSecs);
  msg.flags = LoadU16(d + kOffsetFlags);
  msg.ciaddr = Ipv4Address(LoadU32(d + kOffsetCiaddr));
  msg.yiaddr = Ipv4Address(LoadU32(d + kOffsetYiaddr));
  msg.siaddr = Ipv4Address(LoadU32(d + kOffsetSiaddr));
  msg.giaddr = Ipv4Address(LoadU32(d + kOffsetGiaddr));
  std::memcpy(msg.chaddr.data(), d + kOffsetChaddr, kChaddrSize);
  std::memcpy(msg.sname.data(), d + kOffsetSname, kSnameSize);
  std::memcpy(msg.file.data(), d + kOffsetFile, kFileSize);

  msg.options.Reserve(24, datagram.size() - kOffsetOptions);
  msg.wire.items.reserve(24);
  if (absl::Status s = ParseArea(datagram, kOptionsArea, msg); !s.ok()) {
    return s;
  }
  if (msg.options.Has(kOptionOverload)) {
    absl::StatusOr<uint8_t> overload = msg.options.Overload();
    if (!overload.ok()) return overload.status();
    msg.wire.overload = *overload;
    msg.options.Remove(kOptionOverload);
    // RFC 3396 section 7: options field, then file, then sname.
    if (*overload & 1) {
      if (absl::Status s = ParseArea(datagram, kFileArea, msg); !s.ok()) {
        return s;
      }
      msg.file.fill(0);
    }
    if (*overload & 2) {
      if (absl::Status s = ParseArea(datagram, kSnameArea, msg); !s.ok()) {
        return s;
      }
      msg.sname.fill(0);
    }
  }
  msg.wire.original_size = datagram.size();
  return msg;
}

DhcpWriteOptions DhcpWriteOptions::SameSizeAs(const DhcpMessage& parsed) {
  DhcpWriteOptions o;
  o.max_message_size = std::max(parsed.wire.original_size + kIpUdpHeaderSize,
                                kMinMaxMessageSize);
  o.min_size = parsed.wire.original_size;
  return o;
}

absl::StatusOr<size_t> WriteDhcpMessage(const DhcpMessage& message,
                                        const DhcpWriteOptions& options,
                                        absl::Span<uint8_t> out) {
  const size_t limit = std::min(
      out.size(), std::max(options.max_message_size, kMinMaxMessageSize) -
                      kIpUdpHeaderSize);
  if (limit < kDhcpMinSize + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("output buffer of ", out.size(), " bytes is too small"));
  }
  if (absl::Status s = CheckWritable(message.options); !s.ok()) return s;

  uint8_t* o = out.data();
  o[kOffsetOp] = message.op;
  o[kOffsetHtype] = message.htype;
  o[kOffsetHlen] = message.hlen;
  o[kOffsetHops] = message.hops;
  StoreU32(o + kOffsetXid, message.xid);
  StoreU16(o + kOffsetSecs, message.secs);
  StoreU16(o + kOffsetFlags, message.flags);
  StoreU32(o + kOffsetCiaddr, message.ciaddr.value());
  StoreU32(o + kOffsetYiaddr, message.yiaddr.value());
  StoreU32(o + kOffsetSiaddr, message.siaddr.value());
  StoreU32(o + kOffsetGiaddr, message.giaddr.value());
  std::memcpy(o + kOffsetChaddr, message.chaddr.data(), kChaddrSize);
  std::memcpy(o + kOffsetSname, message.sname.data(), kSnameSize);
  std::memcpy(o + kOffsetFile, message.file.data(), kFileSize);
  StoreU32(o + kOffsetCookie, kMagicCookie);

  size_t end = Replay(message, o, limit);
  if (end == 0) {
    const DhcpOptions& opts = message.options;
    size_t needed = 0;
    for (size_t i = 0; i < opts.size(); ++i) {
      if (opts.at(i).code != kOptionOverload) {
        needed += EncodedSize(opts.at(i).data.size());
      }
    }
    const bool overload = kOffsetOptions + needed + 1 > limit;
    // Options go into the options field, then (overloading) file and sname.
    Region regions[3];
    size_t count = 0;
    regions[count++] = {kOffsetOptions, limit - 1 - (overload ? 3 : 0)};
    const bool use_file = overload && AllZero(message.file);
    const bool use_sname = overload && AllZero(message.sname);
    if (use_file) {
      regions[count++] = {kOffsetFile, kOffsetFile + kFileSize - 1, 1};
    }
    if (use_sname) {
      regions[count++] = {kOffsetSname, kOffsetSname + kSnameSize - 1, 2};
    }
    const absl::Span<Region> areas(regions, count);
    size_t current = 0;
    bool fits = true;
    if (absl::optional<absl::Span<const uint8_t>> type =
            opts.Find(kOptionMessageType)) {
      fits = Place(kOptionMessageType, *type, o, areas, current);
    }
    size_t overload_pos = 0;
    if (overload) {
      // Room was kept for option 52 in the options field (RFC 2131 4.1).
      overload_pos = regions[0].pos;
      regions[0].pos += 3;
      regions[0].limit += 3;
    }
    for (size_t i = 0; fits && i < opts.size(); ++i) {
      const DhcpOptionView v = opts.at(i);
      if (v.code == kOptionMessageType || v.code == kOptionOverload) continue;
      fits = Place(v.code, v.data, o, areas, current);
    }
    if (!fits) {
      return absl::InvalidArgumentError(
          absl::StrCat("options do not fit: they need ", needed + 1, " bytes, ",
                       limit - kOffsetOptions,
                       " fit in the options field (max message size ",
                       options.max_message_size, ", buffer ", out.size(), ")",
                       use_file || use_sname ? " and the free file/sname fields"
                                             : "; file and sname are in use"));
    }
    uint8_t overload_value = 0;
    for (size_t i = 1; i < count; ++i) {
      if (!regions[i].used) continue;
      o[regions[i].pos] = kOptionEnd;
      overload_value |= regions[i].overload_bit;
    }
    if (overload) {
      o[overload_pos] = kOptionOverload;
      o[overload_pos + 1] = 1;
      o[overload_pos + 2] = overload_value;
    }
    o[regions[0].pos] = kOptionEnd;
    end = regions[0].pos + 1;
  }
  const size_t size = std::max(end, std::min(options.min_size, limit));
  std::memset(o + end, 0, size - end);
  return size;
}

absl::StatusOr<std::vector<uint8_t>> SerializeDhcpMessage(
    const DhcpMessage& message, const DhcpWriteOptions& options) {
  std::vector<uint8_t> out(
      std::max(options.max_message_size, kMinMaxMessageSize) -
      kIpUdpHeaderSize);
  absl::StatusOr<size_t> size =
      WriteDhcpMessage(message, options, absl::MakeSpan(out));
  if (!size.ok()) return size.status();
  out.resize(*size);
  return out;
}

}  // namespace rackboot::dhcp
