// TFTP datagrams as typed values: RRQ, WRQ, DATA, ACK, ERROR (RFC 1350) and
// OACK (RFC 2347), with a parser and writers into caller-owned buffers.
//
// Plain values and free functions: no I/O, no shared state, any thread may call
// them. The caller owns every buffer; a parsed TftpData borrows its payload
// from the datagram it was parsed from.
//
//   absl::StatusOr<TftpPacket> packet = ParseTftpPacket(datagram);
//   if (!packet.ok()) { count and log packet.status(); drop; }
//   if (auto* ack = std::get_if<TftpAck>(&*packet)) { ... ack->block ... }
//
//   std::array<uint8_t, kTftpHeaderSize> header;
//   WriteDataHeader(block, header);  // then sendmsg(header, file slice)
//
// Leniency, decided once here (RFC 1122 section 1.2.2, "be liberal in what you
// accept", where the extra bytes carry no meaning):
//   - ACK longer than 4 bytes: the extra bytes are ignored.
//   - ERROR without the final NUL: the message runs to the end of the datagram
//     (some embedded clients omit it); bytes after the NUL are ignored.
//   - RRQ/WRQ/OACK followed by NUL padding after the last option: ignored.
// Everything else malformed is an InvalidArgument error whose message names the
// packet type and the problem.
#ifndef RACKBOOT_PROTO_TFTP_TFTP_PACKET_H_
#define RACKBOOT_PROTO_TFTP_TFTP_PACKET_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rackboot {

// RFC 1350 section 5; OACK from RFC 2347.
enum class TftpOpcode : uint16_t {
  kRrq = 1,
  kWrq = 2,
  kData = 3,
  kAck = 4,
  kError = 5,
  kOack = 6,
};

// RFC 1350 appendix "Error Codes"; 8 from RFC 2347.
enum class TftpErrorCode : uint16_t {
  kNotDefined = 0,
  kFileNotFound = 1,
  kAccessViolation = 2,
  kDiskFull = 3,
  kIllegalOperation = 4,
  kUnknownTransferId = 5,
  kFileExists = 6,
  kNoSuchUser = 7,
  kOptionRefused = 8,
};

// "File not found", ... ; "Unknown error" for codes above 8.
absl::string_view TftpErrorCodeName(uint16_t code);
// "RRQ", "DATA", ... ; "unknown" for anything else.
absl::string_view TftpOpcodeName(uint16_t opcode);

// Opcode plus block number (DATA, ACK) or opcode plus error code (ERROR).
inline constexpr size_t kTftpHeaderSize = 4;
// RFC 1350 section 6: without a blksize option a DATA block holds 512 bytes.
inline constexpr size_t kTftpDefaultBlockSize = 512;
// RFC 2348: the largest block size that can be negotiated.
inline constexpr size_t kTftpMaxBlockSize = 65464;
// Our bound; RFC 1350 sets none. Boot file names come from the DHCP `file`
// field (128 octets, RFC 2131) or option 67, so 512 bytes leaves room while a
// 64 KiB name is refused here rather than handed to the file layer.
inline constexpr size_t kTftpMaxFilenameSize = 512;
// Bounds the work per request (duplicate detection is quadratic). RFC 2348,
// 2349 and 7440 define four options; clients send a handful at most.
inline constexpr size_t kTftpMaxOptions = 32;

// RFC 1350 section 5 transfer modes. "mail" is obsolete and refused.
enum class TftpMode { kOctet, kNetascii };
// "octet" or "netascii", the spelling written into requests.
absl::string_view TftpModeName(TftpMode mode);

// One RFC 2347 option as the peer sent it: the client's spelling and order are
// kept so that an OACK can echo them. Names compare case-insensitively.
struct TftpOption {
  std::string name;
  std::string value;
  bool operator==(const TftpOption&) const = default;
};

// RRQ (write == false) or WRQ (write == true), RFC 1350 section 5 and RFC 2347.
struct TftpRequest {
  bool write = false;
  std::string filename;  // Non-empty, at most kTftpMaxFilenameSize bytes.
  TftpMode mode = TftpMode::kOctet;
  std::vector<TftpOption> options;  // No two names equal ignoring case.
  bool operator==(const TftpRequest&) const = default;
};

// DATA, RFC 1350 section 5.
struct TftpData {
  uint16_t block = 0;
  // Borrowed: valid as long as the datagram it was parsed from. At most
  // kTftpMaxBlockSize bytes.
  absl::Span<const uint8_t> payload;
  bool operator==(const TftpData& other) const {
    return block == other.block && payload == other.payload;
  }
};

// ACK, RFC 1350 section 5. Block 0 acknowledges an OACK (RFC 2347).
struct TftpAck {
  uint16_t block = 0;
  bool operator==(const TftpAck&) const = default;
};

// ERROR, RFC 1350 section 5. `code` is kept as sent, even above 8.
struct TftpError {
  uint16_t code = 0;
  std::string message;  // Contains no NUL.
  bool operator==(const TftpError&) const = default;
};

// OACK, RFC 2347: the options the server accepted, with their final values.
struct TftpOack {
  std::vector<TftpOption> options;
  bool operator==(const TftpOack&) const = default;
};

using TftpPacket =
    std::variant<TftpRequest, TftpData, TftpAck, TftpError, TftpOack>;

// Parses one datagram. A TftpData in the result borrows from `datagram`.
// Errors (InvalidArgument) name the packet type and the problem, e.g.
// "RRQ: file name not NUL-terminated", "unknown opcode 7".
absl::StatusOr<TftpPacket> ParseTftpPacket(absl::Span<const uint8_t> datagram);

// Writers. Each returns the number of bytes written at the start of `out`.
// Writers that can fail return ResourceExhausted when `out` is too small and
// InvalidArgument for a value that ParseTftpPacket would reject (a NUL inside a
// string, an empty or too long file name, a duplicate option, a payload above
// kTftpMaxBlockSize), so whatever is written parses back to the same value.

// The 4-byte DATA header; the payload follows by scatter-gather. Returns 4.
size_t WriteDataHeader(uint16_t block, std::span<uint8_t, kTftpHeaderSize> out);
// A whole DATA datagram (header and copied payload), for tests and clients.
absl::StatusOr<size_t> WriteData(uint16_t block,
                                 absl::Span<const uint8_t> payload,
                                 absl::Span<uint8_t> out);
// Returns 4.
size_t WriteAck(uint16_t block, std::span<uint8_t, kTftpHeaderSize> out);
absl::StatusOr<size_t> WriteError(uint16_t code, absl::string_view message,
                                  absl::Span<uint8_t> out);
absl::StatusOr<size_t> WriteOack(absl::Span<const TftpOption> options,
                                 absl::Span<uint8_t> out);
absl::StatusOr<size_t> WriteRequest(const TftpRequest& request,
                                    absl::Span<uint8_t> out);
// Any packet; dispatches to the writers above.
absl::StatusOr<size_t> WriteTftpPacket(const TftpPacket& packet,
                                       absl::Span<uint8_t> out);

}  // namespace rackboot

#endif  // RACKBOOT_PROTO_TFTP_TFTP_PACKET_H_
