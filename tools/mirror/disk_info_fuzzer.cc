// Fuzzes ParseDiskInfo: what it accepts has a family, a bounded release and
// printable evidence (it ends up in messages and --json).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tools/mirror/media_recognizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = rackboot::mirror::ParseDiskInfo(text);
  if (!m.ok()) return 0;
  if (m->family != "debian-preseed" && m->family != "ubuntu-autoinstall") {
    abort();
  }
  if (m->release.empty() || m->release.size() > 32) abort();
  for (const auto& e : m->evidence) {
    for (unsigned char c : e) {
      if (c < 0x20 || c > 0x7e) abort();
    }
  }
  return 0;
}
