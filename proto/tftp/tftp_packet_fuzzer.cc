// Fuzzes the TFTP codec. Any input: ParseTftpPacket must not crash; a parsed
// packet must write back and re-parse to the same value, and its options must
// parse or fail cleanly. The same bytes as a file: netascii encoding in blocks
// and decoding in chunks must give the bytes back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/tftp/netascii.h"
#include "proto/tftp/tftp_options.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

void CheckPacket(absl::Span<const uint8_t> input) {
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(input);
  if (!packet.ok()) {
    if (packet.status().message().empty()) __builtin_trap();
    return;
  }
  if (const auto* request = std::get_if<TftpRequest>(&*packet)) {
    (void)ParseRequestedOptions(request->options);
  } else if (const auto* oack = std::get_if<TftpOack>(&*packet)) {
    (void)ParseRequestedOptions(oack->options);
  }
  // The rewrite is at most one byte longer (an ERROR gains its final NUL).
  std::vector<uint8_t> out(input.size() + 1);
  absl::StatusOr<size_t> size = WriteTftpPacket(*packet, absl::MakeSpan(out));
  if (!size.ok()) __builtin_trap();
  absl::StatusOr<TftpPacket> again =
      ParseTftpPacket(absl::MakeConstSpan(out.data(), *size));
  if (!again.ok() || !(*again == *packet)) __builtin_trap();
}

void CheckNetascii(absl::Span<const uint8_t> input) {
  if (input.empty()) return;
  // The first byte picks the block size, so splits land everywhere.
  const size_t block_size = 1 + input[0] % 32;
  NetasciiEncoder encoder;
  NetasciiDecoder decoder;
  std::vector<uint8_t> block(block_size);
  std::vector<uint8_t> decoded(block_size + 1);
  std::string wire;
  std::string data;
  size_t offset = 0;
  for (;;) {
    NetasciiResult encoded =
        encoder.Encode(input.subspan(offset), absl::MakeSpan(block));
    offset += encoded.consumed;
    wire.append(block.begin(), block.begin() + encoded.produced);
    // A decoder output of one block plus one byte takes a whole block.
    NetasciiResult r =
        decoder.Decode(absl::MakeConstSpan(block.data(), encoded.produced),
                       absl::MakeSpan(decoded));
    if (r.consumed != encoded.produced) __builtin_trap();
    data.append(decoded.begin(), decoded.begin() + r.produced);
    if (encoded.produced < block_size) break;
  }
  if (offset != input.size() || encoder.has_pending()) __builtin_trap();
  if (decoder.Finish(absl::MakeSpan(decoded)) != 0) __builtin_trap();
  const absl::string_view original(reinterpret_cast<const char*>(input.data()),
                                   input.size());
  if (data != original) __builtin_trap();
  if (wire != ToNetascii(original) || wire.size() != NetasciiSize(input)) {
    __builtin_trap();
  }
  // Arbitrary bytes as a (possibly malformed) wire stream: no crash.
  (void)FromNetascii(original);
}

}  // namespace
}  // namespace rackboot

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);
  rackboot::CheckPacket(input);
  rackboot::CheckNetascii(input);
  return 0;
}
