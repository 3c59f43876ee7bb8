#include "engine/log/utf8.h"

#include <cstdint>

namespace rackboot::log {

size_t Utf8SequenceLength(absl::string_view s) {
  if (s.empty()) return 0;
  const auto byte = [&s](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto in = [](uint8_t b, uint8_t lo, uint8_t hi) {
    return b >= lo && b <= hi;
  };
  const uint8_t c = byte(0);
  size_t n;
  // The table of RFC 3629 section 4: the lead byte fixes the length and the
  // second byte's range, which is what rules out overlong forms, surrogates
  // and code points above U+10FFFF.
  uint8_t lo = 0x80, hi = 0xbf;
  if (in(c, 0xc2, 0xdf)) {
    n = 2;
  } else if (in(c, 0xe0, 0xef)) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong below U+0800
    if (c == 0xed) hi = 0x9f;  // surrogates U+D800-U+DFFF
  } else if (in(c, 0xf0, 0xf4)) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong below U+10000
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || !in(byte(1), lo, hi)) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (!in(byte(i), 0x80, 0xbf)) return 0;
  }
  return n;
}

bool IsWellFormedUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace rackboot::log
