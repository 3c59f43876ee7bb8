// Fuzzes ParseTreeinfo and ParseTreeinfoImages: whatever they accept names
// only safe paths (CheckMirrorPath), well-formed sha256s, and printable
// evidence.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tools/mirror/media_recognizer.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

namespace {
void CheckPrintable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rackboot::mirror;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (absl::string_view hint : {"", "x86_64"}) {
    auto m = ParseTreeinfo(text, hint);
    if (m.ok()) {
      if (m->family != "rhel-kickstart" || m->distro.empty()) abort();
      if (!m->kernel.empty() && !CheckMirrorPath(m->kernel).ok()) abort();
      if (!m->initrd.empty() && !CheckMirrorPath(m->initrd).ok()) abort();
      for (const auto& e : m->evidence) CheckPrintable(e);
    }
    auto images = ParseTreeinfoImages(text, hint);
    if (images.ok()) {
      for (const auto& f : *images) {
        if (!CheckMirrorPath(f.path).ok()) abort();
        if (!f.sha256.empty() && !IsSha256Hex(f.sha256)) abort();
      }
    }
  }
  return 0;
}
