// Fuzzes the Release parser and the SHA256SUMS parser with the same input and
// checks what they accept: every path passes CheckMirrorPath, every checksum
// is 64 lowercase hex digits, every size is within the bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tools/mirror/apt_release.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rackboot::mirror;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto release = ParseAptRelease(text);
  if (release.ok()) {
    for (const ReleaseFileEntry& entry : release->sha256_files) {
      if (!CheckMirrorPath(entry.path).ok()) abort();
      if (!IsSha256Hex(entry.sha256)) abort();
      if (entry.size < 0 || entry.size > kMaxIndexFileBytes) abort();
      if (release->FindFile(entry.path) == nullptr) abort();
    }
    for (const std::string& arch : release->architectures) {
      if (!release->HasArchitecture(arch)) abort();
    }
  }
  auto sums = ParseSha256Sums(text);
  if (sums.ok()) {
    for (const Sha256SumsEntry& entry : *sums) {
      if (!CheckMirrorPath(entry.path).ok()) abort();
      if (!IsSha256Hex(entry.sha256)) abort();
    }
  }
  return 0;
}
