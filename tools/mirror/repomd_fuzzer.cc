// Fuzzes ParseRepomd and checks what it returns against the documented bounds:
// at most kMaxRepomdData entries, no field over kMaxYumTextBytes, checksums
// lower case, sizes not negative unless absent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tools/mirror/yum_repo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view xml(reinterpret_cast<const char*>(data), size);
  auto r = rackboot::mirror::ParseRepomd(xml);
  if (!r.ok()) return 0;
  if (r->data.size() > static_cast<size_t>(rackboot::mirror::kMaxRepomdData)) {
    abort();
  }
  if (r->revision.size() > rackboot::mirror::kMaxYumTextBytes) abort();
  for (const auto& d : r->data) {
    if (d.location.empty()) abort();
    for (const auto* s :
         {&d.type, &d.location, &d.checksum_type, &d.checksum}) {
      if (s->size() > rackboot::mirror::kMaxYumTextBytes) abort();
    }
    for (char c : d.checksum) {
      if (c >= 'A' && c <= 'Z') abort();
    }
    if (d.size < -1) abort();
  }
  return 0;
}
