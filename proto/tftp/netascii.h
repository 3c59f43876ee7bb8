// Netascii (RFC 764 via RFC 1350 section 5): on the wire, LF is CR LF and a
// bare CR is CR NUL. The encoder turns file bytes into wire bytes for a
// "netascii" RRQ; the decoder turns received WRQ blocks back into file bytes.
//
// A file goes out block by block and a CR LF pair may straddle two DATA blocks
// (tftp-hpa splits them too), so both directions are streaming: each object
// carries at most one byte of state between calls. The objects are small
// copyable values owned by one transfer; use one from one thread at a time. To
// retransmit a block or a window, copy the encoder (and remember the input
// offset) where the block starts and encode again from the copy.
//
//   NetasciiEncoder encoder;
//   size_t offset = 0;
//   for (;;) {  // one DATA block per iteration
//     auto [consumed, produced] = encoder.Encode(file.subspan(offset), block);
//     offset += consumed;
//     send(block.first(produced));
//     if (produced < block.size()) break;  // short block: transfer complete
//   }
#ifndef RACKBOOT_PROTO_TFTP_NETASCII_H_
#define RACKBOOT_PROTO_TFTP_NETASCII_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rackboot {

struct NetasciiResult {
  size_t consumed = 0;  // Input bytes used.
  size_t produced = 0;  // Output bytes written at the start of `out`.
};

class NetasciiEncoder {
 public:
  // Encodes from `in` into `out` until `out` is full or `in` is used up. When
  // an expansion's second byte does not fit, it is kept and written first on
  // the next call, so the output fills every block exactly. The stream is
  // complete when `in` was fully consumed and !has_pending().
  NetasciiResult Encode(absl::Span<const uint8_t> in, absl::Span<uint8_t> out);

  bool has_pending() const { return pending_.has_value(); }

 private:
  std::optional<uint8_t> pending_;  // LF of CR LF, or NUL of CR NUL.
};

// Decoding of a malformed stream: a CR followed by anything but LF or NUL is
// kept as a CR and the byte after it decoded normally, as tftp-hpa does, and
// a CR at the very end of the stream is kept by Finish. Nothing is an error:
// the peer's file is stored as close to what it sent as possible.
class NetasciiDecoder {
 public:
  // Decodes from `in` into `out` until `out` is full or `in` is used up. A CR
  // at the end of `in` is consumed and held until the next byte arrives.
  // Decoding never expands, so an `out` of in.size() + 1 bytes always takes
  // all of `in` (the + 1 for a CR held from the previous call).
  NetasciiResult Decode(absl::Span<const uint8_t> in, absl::Span<uint8_t> out);

  // At the end of the stream: writes a held CR into `out` if there is one and
  // room for it. Returns the number of bytes written (0 or 1).
  size_t Finish(absl::Span<uint8_t> out);

  bool has_pending() const { return pending_cr_; }

 private:
  bool pending_cr_ = false;
};

// Whole-buffer conversions, for tests and small files.
std::string ToNetascii(absl::string_view data);
std::string FromNetascii(absl::string_view wire);

// The number of bytes `data` takes on the wire in netascii: the tsize (RFC
// 2349) to announce for a netascii RRQ.
uint64_t NetasciiSize(absl::Span<const uint8_t> data);

}  // namespace rackboot

#endif  // RACKBOOT_PROTO_TFTP_NETASCII_H_
