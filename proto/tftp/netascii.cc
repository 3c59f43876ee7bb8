#include "proto/tftp/netascii.h"

#include <algorithm>

namespace rackboot {
namespace {

constexpr uint8_t kCr = '\r';
constexpr uint8_t kLf = '\n';
constexpr uint8_t kNul = '\0';

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

}  // namespace

NetasciiResult NetasciiEncoder::Encode(absl::Span<const uint8_t> in,
                                       absl::Span<uint8_t> out) {
  NetasciiResult r;
  while (r.produced < out.size()) {
    if (pending_) {
      out[r.produced++] = *pending_;
      pending_.reset();
      continue;
    }
    if (r.consumed == in.size()) break;
    const uint8_t b = in[r.consumed++];
    if (b == kLf || b == kCr) {
      out[r.produced++] = kCr;
      pending_ = b == kLf ? kLf : kNul;
    } else {
      out[r.produced++] = b;
    }
  }
  return r;
}

NetasciiResult NetasciiDecoder::Decode(absl::Span<const uint8_t> in,
                                       absl::Span<uint8_t> out) {
  NetasciiResult r;
  while (r.consumed < in.size()) {
    const uint8_t b = in[r.consumed];
    if (pending_cr_) {
      if (r.produced == out.size()) break;
      pending_cr_ = false;
      if (b == kLf || b == kNul) {
        out[r.produced++] = b == kLf ? kLf : kCr;
        ++r.consumed;
      } else {
        out[r.produced++] = kCr;  // Malformed: keep the CR, then decode `b`.
      }
      continue;
    }
    if (b == kCr) {
      pending_cr_ = true;
      ++r.consumed;
      continue;
    }
    if (r.produced == out.size()) break;
    out[r.produced++] = b;
    ++r.consumed;
  }
  return r;
}

size_t NetasciiDecoder::Finish(absl::Span<uint8_t> out) {
  if (!pending_cr_ || out.empty()) return 0;
  out[0] = kCr;
  pending_cr_ = false;
  return 1;
}

std::string ToNetascii(absl::string_view data) {
  std::string wire(NetasciiSize(AsBytes(data)), '\0');
  NetasciiEncoder encoder;
  encoder.Encode(
      AsBytes(data),
      absl::MakeSpan(reinterpret_cast<uint8_t*>(wire.data()), wire.size()));
  return wire;
}

std::string FromNetascii(absl::string_view wire) {
  std::string data(wire.size(), '\0');
  auto out =
      absl::MakeSpan(reinterpret_cast<uint8_t*>(data.data()), data.size());
  NetasciiDecoder decoder;
  size_t size = decoder.Decode(AsBytes(wire), out).produced;
  size += decoder.Finish(out.subspan(size));
  data.resize(size);
  return data;
}

uint64_t NetasciiSize(absl::Span<const uint8_t> data) {
  return data.size() + static_cast<uint64_t>(std::count_if(
                           data.begin(), data.end(),
                           [](uint8_t b) { return b == kCr || b == kLf; }));
}

}  // namespace rackboot
