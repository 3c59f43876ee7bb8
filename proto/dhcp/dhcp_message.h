// The DHCPv4 message (RFC 2131 section 2, on the BOOTP format of RFC 951):
// the fixed 236-byte header, the magic cookie and the options, with a parser
// and a writer. Bytes in, typed values out, and back; no I/O.
//
// `DhcpMessage` is a plain value owned by the caller; any thread may parse,
// read or write its own messages (no shared state).
//
// Example:
//   absl::StatusOr<DhcpMessage> request = ParseDhcpMessage(datagram);
//   if (!request.ok()) { count and drop: request.status().message() }
//   DhcpMessage offer = ...;
//   absl::StatusOr<size_t> n = WriteDhcpMessage(offer, {.max_message_size =
//       client_mms}, buffer);
//
// A parsed message that is written back unchanged with
// DhcpWriteOptions::SameSizeAs(message) reproduces the datagram byte for byte
// (see DhcpWireInfo for the one exception).
#ifndef RACKBOOT_PROTO_DHCP_DHCP_MESSAGE_H_
#define RACKBOOT_PROTO_DHCP_DHCP_MESSAGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::dhcp {

// Wire layout (RFC 2131 figure 1). Offsets are from the start of the UDP
// payload; multi-byte fields are in network byte order.
inline constexpr size_t kOffsetOp = 0;         // 1 byte
inline constexpr size_t kOffsetHtype = 1;      // 1
inline constexpr size_t kOffsetHlen = 2;       // 1
inline constexpr size_t kOffsetHops = 3;       // 1
inline constexpr size_t kOffsetXid = 4;        // 4
inline constexpr size_t kOffsetSecs = 8;       // 2
inline constexpr size_t kOffsetFlags = 10;     // 2
inline constexpr size_t kOffsetCiaddr = 12;    // 4
inline constexpr size_t kOffsetYiaddr = 16;    // 4
inline constexpr size_t kOffsetSiaddr = 20;    // 4
inline constexpr size_t kOffsetGiaddr = 24;    // 4
inline constexpr size_t kOffsetChaddr = 28;    // 16
inline constexpr size_t kOffsetSname = 44;     // 64
inline constexpr size_t kOffsetFile = 108;     // 128
inline constexpr size_t kOffsetCookie = 236;   // 4
inline constexpr size_t kOffsetOptions = 240;  // variable

inline constexpr size_t kChaddrSize = 16;
inline constexpr size_t kSnameSize = 64;
inline constexpr size_t kFileSize = 128;
inline constexpr size_t kDhcpHeaderSize = 236;        // the BOOTP header
inline constexpr uint32_t kMagicCookie = 0x63825363;  // RFC 2131 section 3
// Header plus cookie: the shortest datagram ParseDhcpMessage accepts.
inline constexpr size_t kDhcpMinSize = kDhcpHeaderSize + 4;
// RFC 951's 300-byte BOOTP message; many relays and old clients drop shorter
// replies, so servers pad to it (DhcpWriteOptions::min_size).
inline constexpr size_t kBootpMinSize = 300;
// The smallest option 57 value (RFC 2132 9.10): an IP datagram every host
// accepts. It counts the IPv4 and UDP headers, so a 576-byte message leaves
// a 312-byte options field (RFC 2131 section 2: 576 = 20 + 8 + 236 + 312).
inline constexpr size_t kMinMaxMessageSize = 576;
inline constexpr size_t kIpUdpHeaderSize = 20 + 8;
// Bigger than any UDP payload; the parser rejects larger spans.
inline constexpr size_t kMaxDatagramSize = 65535;

inline constexpr uint8_t kBootRequest = 1;    // op, client to server
inline constexpr uint8_t kBootReply = 2;      // op, server to client
inline constexpr uint8_t kHtypeEthernet = 1;  // ARP hardware type (RFC 1700)
inline constexpr uint16_t kFlagBroadcast = 0x8000;  // flags bit 15 (RFC 2131 2)

// How a parsed message was framed on the wire, so an unmodified message can be
// written back byte for byte: every option instance and pad run in wire
// order, the overload value and the datagram size. The writer replays it
// whenever the options still have the recorded lengths (their contents may
// change); otherwise it lays options out itself. Bytes after an end option
// are written as zeros (pad), so a datagram with non-zero garbage there is
// not reproduced exactly.
struct DhcpWireInfo {
  enum class Area : uint8_t { kOptions, kFile, kSname };
  struct Item {
    Area area;
    uint8_t code;    // kOptionPad: a run of `length` pad bytes
    uint8_t length;  // data length of this instance
  };
  std::vector<Item> items;
  uint8_t overload = 0;      // option 52's value, 0 if absent
  size_t original_size = 0;  // datagram length; 0 if not parsed
};

// One DHCP message. Header fields hold wire values, uninterpreted except
// where noted.
struct DhcpMessage {
  uint8_t op = kBootRequest;       // 1 BOOTREQUEST, 2 BOOTREPLY; parser checks
  uint8_t htype = kHtypeEthernet;  // hardware address type, 1 = Ethernet
  // Hardware address length. Trap: not always 6. Some clients send 0
  // (InfiniBand, RFC 4390: chaddr unused) or a value > 16 (the parser rejects
  // those: chaddr holds 16 bytes).
  uint8_t hlen = 6;
  uint8_t hops = 0;   // relay agents increment it
  uint32_t xid = 0;   // transaction id chosen by the client, echoed in replies
  uint16_t secs = 0;  // seconds since the client began acquiring
  // Bit 15 (kFlagBroadcast): the client cannot receive unicast before it is
  // configured, so the reply must be broadcast (RFC 2131 4.1). Others MBZ.
  uint16_t flags = 0;
  Ipv4Address ciaddr;  // client's address, only in BOUND/RENEW/REBINDING
  Ipv4Address yiaddr;  // "your" address: the one the server assigns
  Ipv4Address siaddr;  // next server in bootstrap (the TFTP server for PXE)
  Ipv4Address giaddr;  // relay agent's address; 0 if not relayed
  // Client hardware address; only the first hlen bytes are meaningful.
  std::array<uint8_t, kChaddrSize> chaddr{};
  // Server host name and boot file name. Traps: "null terminated" per RFC
  // 2131, but a full field carries no NUL, so read at most the field size;
  // when option 52 overloads them they hold options instead (the parser then
  // moves those into `options` and zeroes the field).
  std::array<uint8_t, kSnameSize> sname{};
  std::array<uint8_t, kFileSize> file{};
  // Option 52 is framing: the parser applies and removes it, the writer adds
  // it when needed and skips any the caller sets.
  DhcpOptions options;
  DhcpWireInfo wire;  // filled by the parser; ignored by operator==

  bool IsBroadcast() const { return (flags & kFlagBroadcast) != 0; }
  void SetBroadcast(bool on);
  // The Ethernet address, if htype is 1 and hlen is 6.
  absl::optional<std::array<uint8_t, 6>> MacAddress() const;
  // The first hlen bytes of chaddr as "aa:bb:cc:dd:ee:ff".
  std::string HardwareAddressString() const;
  // sname/file up to the first NUL or the end of the field.
  absl::string_view ServerName() const;
  absl::string_view BootFileName() const;
  // InvalidArgument if longer than the field (64 or 128 bytes); a name that
  // fills the field exactly is stored without a NUL.
  absl::Status SetServerName(absl::string_view name);
  absl::Status SetBootFileName(absl::string_view name);

  bool operator==(const DhcpMessage& other) const;
};

// Parses one UDP payload. Enforces: at least 240 bytes (header and cookie;
// plain RFC 951 BOOTP without the cookie is not DHCP and is rejected), the
// cookie, op 1 or 2, hlen <= 16, well-formed options ending with option 255
// (RFC 2131 4.1: "The last option must always be the 'end' option"; a list
// that runs out without it is rejected even if the rest is padding, since a
// truncated list would otherwise lose options silently), and option 52
// (RFC 2131 4.1, RFC 3396 section 7: the file field then the sname field
// continue the options, each ending with 255; option 52 only in the options
// field). Repeated options are concatenated (RFC 3396). Bytes after the end
// option are ignored. Typed option values are checked by the getters, not
// here.
absl::StatusOr<DhcpMessage> ParseDhcpMessage(
    absl::Span<const uint8_t> datagram);

struct DhcpWriteOptions {
  // The receiver's limit: the value of its option 57, which counts the IPv4
  // and UDP headers (RFC 2131 section 2), so the DHCP payload may be
  // max_message_size - 28 bytes. Values below 576 are treated as 576
  // (RFC 2132 9.10). Interpreting 57 with the headers is what ISC dhcpd and
  // dnsmasq do; it is never too large under either reading.
  size_t max_message_size = kMinMaxMessageSize;
  // Pads with zeros after the end option up to this size (but not beyond the
  // limit above); 0 for none.
  size_t min_size = kBootpMinSize;

  // The options that rewrite a parsed message at its original size.
  static DhcpWriteOptions SameSizeAs(const DhcpMessage& parsed);
};

// Writes `message` into `out` without allocating; returns the bytes written.
// The payload limit is min(out.size(), max_message_size - 28). Options go in
// stored order, except 53 first (some PXE ROMs look for it there); data over
// 255 bytes is split into consecutive instances (RFC 3396 section 5). If the
// options do not fit, and the file and/or sname fields are empty (all zero),
// they carry the rest with option 52 written after 53 (RFC 2131 4.1, RFC 2132
// 9.3): file first, then sname, as RFC 3396 section 7 concatenates them. An
// option instance is never split across fields. Errors: "does not fit",
// option 0 or 255 holding data.
absl::StatusOr<size_t> WriteDhcpMessage(const DhcpMessage& message,
                                        const DhcpWriteOptions& options,
                                        absl::Span<uint8_t> out);

// WriteDhcpMessage into a new vector of the written size.
absl::StatusOr<std::vector<uint8_t>> SerializeDhcpMessage(
    const DhcpMessage& message, const DhcpWriteOptions& options = {});

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_PROTO_DHCP_DHCP_MESSAGE_H_
