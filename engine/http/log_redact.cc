#include "engine/http/log_redact.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace rackboot::http {
namespace {

// Whether `text` at `i` starts with `word`, ignoring ASCII case.
bool StartsAt(absl::string_view text, size_t i, absl::string_view word) {
  return i + word.size() <= text.size() &&
         absl::EqualsIgnoreCase(text.substr(i, word.size()), word);
}

// Appends text[from, end) redacted: its first kTokenShownChars bytes and the
// mark when longer, else unchanged.
void AppendRedacted(std::string* out, absl::string_view value) {
  if (value.size() <= kTokenShownChars) {
    out->append(value.data(), value.size());
    return;
  }
  out->append(value.data(), kTokenShownChars);
  out->append(kRedactedMark.data(), kRedactedMark.size());
}

bool IsHex(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c));
}

}  // namespace

std::string RedactTokens(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  // Inside an install path (from "install/" to the next '"' or space): a
  // client may repeat its token in a later segment ("/install/T/%2e%2e/T/"),
  // so every run of 32 or more hex digits there is cut as well.
  bool in_install_path = false;
  while (i < text.size()) {
    if (text[i] == '"' || text[i] == ' ') in_install_path = false;
    if (in_install_path && IsHex(text[i])) {
      size_t end = i;
      while (end < text.size() && IsHex(text[end])) ++end;
      const absl::string_view run = text.substr(i, end - i);
      if (run.size() >= 32) {
        AppendRedacted(&out, run);
      } else {
        out.append(run.data(), run.size());
      }
      i = end;
      continue;
    }
    size_t start = absl::string_view::npos;
    absl::string_view stops;
    if (StartsAt(text, i, "install/")) {
      start = i + 8;
      stops = "/?#&\"\\ ";
    } else if (StartsAt(text, i, "install%2f")) {
      start = i + 10;
      stops = "/?#&\"\\ %";
    } else if (StartsAt(text, i, "token=")) {
      start = i + 6;
      stops = "&#\"\\ ";
    }
    if (start == absl::string_view::npos) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    if (!StartsAt(text, i, "token=")) in_install_path = true;
    out.append(text.data() + i, start - i);
    size_t end = start;
    while (end < text.size() &&
           stops.find(text[end]) == absl::string_view::npos)
      ++end;
    AppendRedacted(&out, text.substr(start, end - start));
    i = end;
  }
  return out;
}

std::string RedactHexRuns(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!IsHex(text[i])) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && IsHex(text[end])) ++end;
    const absl::string_view run = text.substr(i, end - i);
    if (run.size() >= 32) {
      AppendRedacted(&out, run);
    } else {
      out.append(run.data(), run.size());
    }
    i = end;
  }
  return out;
}

}  // namespace rackboot::http
