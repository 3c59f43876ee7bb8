// The RFC 2347 options a client requested, parsed and range-checked: blksize
// (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440).
//
// Plain values and free functions; any thread may call them. This is
// validation only: which values the server accepts, lowers or refuses, and
// what it echoes in the OACK (WriteOack in tftp_packet.h), is negotiation
// policy and belongs to the engine.
//
//   absl::StatusOr<TftpRequestedOptions> requested =
//       ParseRequestedOptions(request.options);
//   if (!requested.ok()) { reply ERROR 8, or retry leniently (below) }
//
// Invalid values are errors rather than silently dropped. RFC 2347
// ("Negotiation Protocol") leaves it to each option's specification whether
// the server omits an invalid option from the OACK, answers another value or
// sends ERROR 8; RFC 2348, 2349 and 7440 give only the valid ranges. So the
// caller decides: refuse the request with ERROR 8 and the error's message, or
// call ParseRequestedOption per option and leave out those that fail (what
// tftp-hpa does for a blksize below 8). Unknown options are never errors: RFC
// 2347 says options the server does not support are omitted from the OACK.
#ifndef RACKBOOT_PROTO_TFTP_TFTP_OPTIONS_H_
#define RACKBOOT_PROTO_TFTP_TFTP_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {

// Valid ranges, inclusive.
inline constexpr uint16_t kTftpMinBlksize = 8;          // RFC 2348
inline constexpr uint16_t kTftpMaxBlksize = 65464;      // RFC 2348
inline constexpr uint8_t kTftpMinTimeoutSeconds = 1;    // RFC 2349
inline constexpr uint8_t kTftpMaxTimeoutSeconds = 255;  // RFC 2349
inline constexpr uint16_t kTftpMinWindowsize = 1;       // RFC 7440
inline constexpr uint16_t kTftpMaxWindowsize = 65535;   // RFC 7440

struct TftpRequestedOptions {
  // RFC 2348: data bytes per block, 8..65464.
  std::optional<uint16_t> blksize;
  // RFC 2349: 0 in an RRQ (the client asks the size), the file size in a WRQ.
  // Any value is accepted here; a non-zero tsize in an RRQ is harmless since
  // the server answers with the real size.
  std::optional<uint64_t> tsize;
  // RFC 2349: retransmission timeout, 1..255 seconds.
  std::optional<uint8_t> timeout_seconds;
  // RFC 7440: blocks per window, 1..65535.
  std::optional<uint16_t> windowsize;
  // Names of options not understood, in the client's spelling, for logging.
  std::vector<std::string> ignored;

  bool operator==(const TftpRequestedOptions&) const = default;
};

// Parses every option; stops at the first invalid one. Names match
// case-insensitively (RFC 2347). Values must be plain decimal digits: no sign,
// no spaces, no hex, at most 20 digits. Errors (InvalidArgument) name the
// option and the value, e.g. "blksize 70000 out of range 8..65464".
// Duplicates cannot occur: ParseTftpPacket already refuses them.
absl::StatusOr<TftpRequestedOptions> ParseRequestedOptions(
    absl::Span<const TftpOption> options);

// Parses one option into `out` (unknown names go to out.ignored); on error
// `out` is unchanged. For callers that skip invalid options instead of
// refusing the request.
absl::Status ParseRequestedOption(const TftpOption& option,
                                  TftpRequestedOptions& out);

}  // namespace rackboot

#endif  // RACKBOOT_PROTO_TFTP_TFTP_OPTIONS_H_
