#include "engine/install/template.h"

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rackboot::install {
namespace km = ::kainjow::mustache;
namespace {

bool IsKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-';
}

bool IsValidKey(absl::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), IsKeyChar);
}

absl::Status CheckValue(absl::string_view key, absl::string_view value) {
  if (!IsValidKey(key)) {
    return absl::InvalidArgumentError(
        absl::StrCat("template value key \"", absl::CEscape(key),
                     "\": keys are [A-Za-z0-9_-]+"));
  }
  if (!IsSafeValue(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("template value ", key,
                     ": holds a control character, a newline or a non-ASCII "
                     "byte (refused: it could break a line of the output)"));
  }
  return absl::OkStatus();
}

int LineAt(absl::string_view text, size_t pos) {
  pos = std::min(pos, text.size());
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

absl::string_view Trim(absl::string_view s) {
  return absl::StripAsciiWhitespace(s);
}

}  // namespace

bool IsSafeValue(absl::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

absl::Status TemplateValues::Set(absl::string_view key,
                                 absl::string_view value) {
  if (absl::Status s = CheckValue(key, value); !s.ok()) return s;
  Value v;
  v.kind = Kind::kString;
  v.text = std::string(value);
  values_.insert_or_assign(std::string(key), std::move(v));
  return absl::OkStatus();
}

void TemplateValues::SetBool(absl::string_view key, bool value) {
  Value v;
  v.kind = Kind::kBool;
  v.flag = value;
  values_.insert_or_assign(std::string(key), std::move(v));
}

absl::Status TemplateValues::SetList(absl::string_view key,
                                     const std::vector<std::string>& items) {
  for (const std::string& item : items) {
    if (absl::Status s = CheckValue(key, item); !s.ok()) return s;
  }
  if (!IsValidKey(key)) return CheckValue(key, "");
  Value v;
  v.kind = Kind::kList;
  v.items = items;
  values_.insert_or_assign(std::string(key), std::move(v));
  return absl::OkStatus();
}

bool TemplateValues::Has(absl::string_view key) const {
  return values_.find(key) != values_.end();
}

absl::optional<std::string> TemplateValues::Get(absl::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.kind != Kind::kString) {
    return absl::nullopt;
  }
  return it->second.text;
}

absl::optional<bool> TemplateValues::GetBool(absl::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.kind != Kind::kBool) {
    return absl::nullopt;
  }
  return it->second.flag;
}

absl::optional<std::vector<std::string>> TemplateValues::GetList(
    absl::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.kind != Kind::kList) {
    return absl::nullopt;
  }
  return it->second.items;
}

absl::StatusOr<Template> Template::Parse(std::string name, std::string text) {
  if (text.size() > kMaxTemplateBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": template is ", text.size(),
                     " bytes, more than the limit of ", kMaxTemplateBytes));
  }
  Template t;
  t.name_ = std::move(name);
  const absl::string_view in(text);
  auto error = [&](size_t pos, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(t.name_, ":", LineAt(in, pos), ": ", what));
  };
  struct Open {
    std::string key;
    int line;
  };
  std::vector<Open> open;
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t start = in.find("{{", pos);
    if (start == absl::string_view::npos) {
      absl::StrAppend(&out, in.substr(pos));
      break;
    }
    absl::StrAppend(&out, in.substr(pos, start - pos));
    const bool triple = start + 2 < in.size() && in[start + 2] == '{';
    const absl::string_view close = triple ? "}}}" : "}}";
    const size_t body = start + (triple ? 3 : 2);
    const size_t end = in.find(close, body);
    if (end == absl::string_view::npos) {
      return error(start, "unclosed tag: \"{{\" without \"}}\"");
    }
    const absl::string_view contents = Trim(in.substr(body, end - body));
    pos = end + close.size();
    const int line = LineAt(in, start);
    if (contents.empty()) return error(start, "empty tag {{}}");
    char sigil = contents[0];
    if (triple) sigil = '&';
    // A section tag or comment alone on its line takes the line with it (the
    // Mustache spec's "standalone" rule). kainjow 4.1 applies it only to
    // sections that render, leaving a blank line for a false one, so do it
    // here for all of them.
    if (!triple &&
        (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!')) {
      size_t from = 0;
      if (start > 0) {
        const size_t newline = in.rfind('\n', start - 1);
        if (newline != absl::string_view::npos) from = newline + 1;
      }
      size_t to = pos;
      while (to < in.size() && (in[to] == ' ' || in[to] == '\t')) ++to;
      if (to < in.size() && in[to] == '\r') ++to;
      const bool ends_line = to == in.size() || in[to] == '\n';
      const bool starts_line =
          in.substr(from, start - from).find_first_not_of(" \t") ==
          absl::string_view::npos;
      if (starts_line && ends_line) {
        out.erase(out.size() - (start - from));
        pos = to == in.size() ? to : to + 1;
      }
    }
    if (sigil == '!') continue;  // A comment renders nothing.
    if (sigil == '=') {
      return error(start,
                   "delimiter changes ({{=...=}}) are not allowed: tags are "
                   "always {{ }}");
    }
    if (sigil == '>' || sigil == '<') {
      return error(start,
                   "partials ({{>name}}) are not allowed: a template cannot "
                   "read other files");
    }
    absl::string_view key = contents;
    if (!triple &&
        (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '&')) {
      key = Trim(contents.substr(1));
    } else {
      sigil = triple ? '&' : 'v';
    }
    const bool variable = sigil == 'v' || sigil == '&';
    if (!(variable && key == ".") && !IsValidKey(key)) {
      return error(start,
                   absl::StrCat("bad tag {{", absl::CEscape(contents),
                                "}}: names are [A-Za-z0-9_-]+ (or . inside a "
                                "list section)"));
    }
    const std::string k(key);
    switch (sigil) {
      case '#':
      case '^':
        open.push_back({k, line});
        t.tags_.push_back(
            {sigil == '#' ? TagKind::kSection : TagKind::kInverted, k, line});
        absl::StrAppend(&out, "{{", std::string(1, sigil), k, "?}}");
        break;
      case '/':
        if (open.empty()) {
          return error(start,
                       absl::StrCat("{{/", k, "}} closes no open section"));
        }
        if (open.back().key != k) {
          return error(start,
                       absl::StrCat("{{/", k, "}} closes {{#", open.back().key,
                                    "}} opened at line ", open.back().line));
        }
        open.pop_back();
        t.tags_.push_back({TagKind::kEnd, k, line});
        absl::StrAppend(&out, "{{/", k, "?}}");
        break;
      default:
        t.tags_.push_back({TagKind::kVariable, k, line});
        absl::StrAppend(&out, "{{&", k, "}}");
        break;
    }
  }
  if (!open.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(t.name_, ":", open.back().line, ": {{#", open.back().key,
                     "}} is never closed"));
  }
  // Our scan accepts only what kainjow parses the same way; check anyway so
  // a disagreement is a parse error, not a render surprise.
  km::mustache check(out);
  if (!check.is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat(
        t.name_,
        ": template rejected by the Mustache parser: ", check.error_message()));
  }
  t.kainjow_text_ = std::move(out);
  return t;
}

absl::StatusOr<std::string> Template::Render(
    const TemplateValues& values) const {
  using Kind = TemplateValues::Kind;
  // Check every tag against the values, with the enclosing sections.
  struct Scope {
    bool inverted;
    bool list;
  };
  std::vector<Scope> scopes;
  auto missing = [&](const Tag& tag, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ":", tag.line, ": {{", tag.key, "}}: ", what));
  };
  for (const Tag& tag : tags_) {
    if (tag.kind == TagKind::kEnd) {
      scopes.pop_back();
      continue;
    }
    if (tag.key == ".") {
      // "." is the item of the innermost section, which must be a list
      // section: kainjow pushes a bool (or, for an inverted section, the
      // false value) there too, and "." would render nothing.
      const bool in_list =
          !scopes.empty() && !scopes.back().inverted && scopes.back().list;
      if (!in_list) return missing(tag, "\".\" outside a list section");
      continue;
    }
    auto it = values.values().find(tag.key);
    if (it == values.values().end()) return missing(tag, "no such value");
    const Kind kind = it->second.kind;
    if (tag.kind == TagKind::kVariable) {
      if (kind != Kind::kString) {
        return missing(tag, kind == Kind::kBool
                                ? "a bool, not a string (use a section)"
                                : "a list, not a string (use {{#key}}{{.}})");
      }
      continue;
    }
    scopes.push_back({tag.kind == TagKind::kInverted, kind == Kind::kList});
  }

  km::data data{km::data::type::object};
  for (const auto& [key, value] : values.values()) {
    switch (value.kind) {
      case Kind::kString:
        data.set(key, km::data(value.text));
        data.set(key + "?", km::data(!value.text.empty()));
        break;
      case Kind::kBool:
        data.set(key, km::data(value.flag));
        data.set(key + "?", km::data(value.flag));
        break;
      case Kind::kList: {
        km::list list;
        for (const std::string& item : value.items) {
          list.push_back(km::data(item));
        }
        data.set(key, km::data(list));
        data.set(key + "?", km::data(list));
        break;
      }
    }
  }
  km::mustache renderer(kainjow_text_);
  renderer.set_custom_escape([](const std::string& s) { return s; });
  std::string out = renderer.render(data);
  if (!renderer.is_valid()) {
    return absl::InternalError(absl::StrCat(
        name_, ": Mustache render failed: ", renderer.error_message()));
  }
  return out;
}

}  // namespace rackboot::install
