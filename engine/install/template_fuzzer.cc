// Fuzzes Template::Parse + Render: any bytes as a template, rendered with a
// fixed set of values. Must never crash; a successful render may only hold
// bytes of the template's text and the values (no control characters come
// from values).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/install/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rackboot::install::Template;
  using rackboot::install::TemplateValues;
  static const TemplateValues* const values = [] {
    auto* v = new TemplateValues;
    (void)v->Set("hostname", "web01.example.net");
    (void)v->Set("empty", "");
    v->SetBool("yes", true);
    v->SetBool("no", false);
    (void)v->SetList("dns", {"198.18.0.1", "198.18.0.2"});
    (void)v->SetList("none", {});
    return v;
  }();
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = Template::Parse("fuzz", text);
  if (!parsed.ok()) return 0;
  auto rendered = parsed->Render(*values);
  if (rendered.ok()) {
    // Rendering adds no bytes that neither the text nor a value had: a
    // control character in the output must come from the template text.
    for (char c : *rendered) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 || u >= 0x7f) && text.find(c) == std::string::npos) {
        std::abort();
      }
    }
  }
  return 0;
}
