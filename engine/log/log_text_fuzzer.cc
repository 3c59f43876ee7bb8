// Fuzzes Escaped(): whatever the bytes, the result is printable ASCII, bounded
// in length, and nothing but the cut marker is lost.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/log/log_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string shown = rackboot::log::Escaped(text);
  for (unsigned char c : shown) {
    if (c < 0x20 || c >= 0x7f) std::abort();
  }
  // Each byte becomes at most 4 ("\xNN"), plus "..." when cut.
  if (shown.size() > 4 * rackboot::log::kMaxLoggedText + 3) std::abort();
  return 0;
}
