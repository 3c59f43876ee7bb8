// Fuzzes the deb822 stanza parser with tight limits (so the bounds are hit)
// and checks what it returns: every field name non-empty and every view inside
// the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tools/mirror/deb822.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto inside = [&](absl::string_view part) {
    return part.empty() ||
           (part.data() >= text.data() &&
            part.data() + part.size() <= text.data() + text.size());
  };
  for (size_t field_bytes : {size_t{64}, size_t{64 * 1024}}) {
    rackboot::mirror::Deb822Limits limits;
    limits.max_field_bytes = field_bytes;
    limits.max_fields_per_stanza = 16;
    limits.max_stanzas = 64;
    auto stanzas = rackboot::mirror::ParseDeb822(text, limits);
    if (!stanzas.ok()) continue;
    for (const auto& stanza : *stanzas) {
      if (stanza.fields.empty() || stanza.fields.size() > 16) abort();
      for (const auto& field : stanza.fields) {
        if (field.name.empty() || !inside(field.name) || !inside(field.value)) {
          abort();
        }
        if (field.value.size() > field_bytes) abort();
        if (stanza.Find(field.name) == nullptr) abort();
        for (absl::string_view line :
             rackboot::mirror::Deb822Lines(field.value)) {
          if (line.empty() || !inside(line)) abort();
        }
      }
    }
  }
  return 0;
}
