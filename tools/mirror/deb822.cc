#include "tools/mirror/deb822.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/log/log_text.h"

namespace rackboot::mirror {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

absl::string_view TrimBlanks(absl::string_view s) {
  while (!s.empty() && (IsBlank(s.front()) || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (IsBlank(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsBlankLine(absl::string_view line) {
  for (char c : line) {
    if (!IsBlank(c) && c != '\r') return false;
  }
  return true;
}

// Policy 5.1: a field name is printable US-ASCII except ':' and space, not
// starting with '#' or '-'.
bool IsFieldName(absl::string_view name) {
  if (name.empty() || name.front() == '#' || name.front() == '-') return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f || c == ':') return false;
  }
  return true;
}

}  // namespace

const absl::string_view* Deb822Stanza::Find(absl::string_view name) const {
  for (const Deb822Field& field : fields) {
    if (absl::EqualsIgnoreCase(field.name, name)) return &field.value;
  }
  return nullptr;
}

absl::string_view Deb822Stanza::Get(absl::string_view name) const {
  const absl::string_view* value = Find(name);
  return value == nullptr ? absl::string_view() : *value;
}

absl::Status ForEachDeb822Stanza(
    absl::string_view text, const Deb822Limits& limits,
    const std::function<absl::Status(const Deb822Stanza&)>& on_stanza) {
  Deb822Stanza stanza;
  size_t stanzas = 0;
  size_t line_number = 0;
  // The raw extent of the field being read: from after its colon to the end of
  // its last continuation line.
  const char* value_begin = nullptr;
  const char* value_end = nullptr;
  auto bad = [&](absl::string_view why, absl::string_view line) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", line_number, ": ", why, ": ", log::Quoted(line, 120)));
  };
  auto finish_field = [&]() {
    if (value_begin == nullptr) return;
    stanza.fields.back().value =
        TrimBlanks(absl::string_view(value_begin, value_end - value_begin));
    value_begin = value_end = nullptr;
  };
  auto finish_stanza = [&]() -> absl::Status {
    finish_field();
    if (stanza.fields.empty()) return absl::OkStatus();
    if (++stanzas > limits.max_stanzas) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", limits.max_stanzas, " stanzas"));
    }
    absl::Status status = on_stanza(stanza);
    stanza.fields.clear();
    return status;
  };

  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    size_t next = end == absl::string_view::npos ? text.size() : end + 1;
    if (end == absl::string_view::npos) end = text.size();
    absl::string_view line = text.substr(pos, end - pos);
    pos = next;
    ++line_number;
    if (IsBlankLine(line)) {
      absl::Status status = finish_stanza();
      if (!status.ok()) return status;
      continue;
    }
    if (line.front() == '#') continue;
    if (IsBlank(line.front())) {
      if (value_begin == nullptr) {
        return bad("continuation line before any field", line);
      }
      value_end = line.data() + line.size();
      if (static_cast<size_t>(value_end - value_begin) >
          limits.max_field_bytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("line ", line_number, ": field ",
                         log::Quoted(stanza.fields.back().name),
                         " longer than ", limits.max_field_bytes, " bytes"));
      }
      continue;
    }
    finish_field();
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return bad("no ':' in field", line);
    absl::string_view name = line.substr(0, colon);
    if (!IsFieldName(name)) return bad("bad field name", line);
    if (stanza.Find(name) != nullptr) return bad("field repeated", line);
    if (stanza.fields.size() >= limits.max_fields_per_stanza) {
      return absl::ResourceExhaustedError(
          absl::StrCat("line ", line_number, ": more than ",
                       limits.max_fields_per_stanza, " fields in a stanza"));
    }
    if (line.size() - colon - 1 > limits.max_field_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("line ", line_number, ": field ", log::Quoted(name),
                       " longer than ", limits.max_field_bytes, " bytes"));
    }
    stanza.fields.push_back(Deb822Field{name, absl::string_view()});
    value_begin = line.data() + colon + 1;
    value_end = line.data() + line.size();
  }
  return finish_stanza();
}

absl::StatusOr<std::vector<Deb822Stanza>> ParseDeb822(
    absl::string_view text, const Deb822Limits& limits) {
  std::vector<Deb822Stanza> stanzas;
  absl::Status status =
      ForEachDeb822Stanza(text, limits, [&](const Deb822Stanza& stanza) {
        stanzas.push_back(stanza);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return stanzas;
}

std::vector<absl::string_view> Deb822Lines(absl::string_view value) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(value, '\n')) {
    line = TrimBlanks(line);
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace rackboot::mirror
