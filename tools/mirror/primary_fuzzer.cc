// Fuzzes ParsePrimary with a small package bound (so it is hit) and checks
// every package it hands out: fields bounded, size not negative unless absent,
// no more packages than the bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tools/mirror/yum_repo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view xml(reinterpret_cast<const char*>(data), size);
  int64_t count = 0;
  constexpr int64_t kMax = 64;
  (void)rackboot::mirror::ParsePrimary(
      xml,
      [&](const rackboot::mirror::YumPackage& p) {
        if (++count > kMax) abort();
        for (const auto* s :
             {&p.name, &p.arch, &p.checksum_type, &p.checksum, &p.location}) {
          if (s->size() > rackboot::mirror::kMaxYumTextBytes) abort();
        }
        if (p.size < -1) abort();
        return absl::OkStatus();
      },
      kMax);
  return 0;
}
