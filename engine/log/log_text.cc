#include "engine/log/log_text.h"

#include "absl/strings/str_cat.h"

namespace rackboot::log {

std::string Escaped(absl::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out;
  out.reserve(text.size() + (cut ? 3 : 0));
  for (unsigned char c : text) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (cut) out.append("...");
  return out;
}

std::string Quoted(absl::string_view text, size_t max_bytes) {
  return absl::StrCat("\"", Escaped(text, max_bytes), "\"");
}

}  // namespace rackboot::log
