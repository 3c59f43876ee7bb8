#include "tools/mirror/apt_packages.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/log/log_text.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' ||
         c == '-' || c == '.' || c == '_';
}

// Removes one bracketed part "(...)", "[...]" or "<...>" from the front of
// `rest` (after blanks); false when it is not closed.
bool SkipBracketed(absl::string_view* rest, char open, char close) {
  absl::string_view s = absl::StripLeadingAsciiWhitespace(*rest);
  if (s.empty() || s.front() != open) return true;
  size_t end = s.find(close);
  if (end == absl::string_view::npos) return false;
  // No nesting in Debian's syntax: another opener inside is malformed.
  if (s.substr(1, end - 1).find(open) != absl::string_view::npos) return false;
  *rest = s.substr(end + 1);
  return true;
}

absl::StatusOr<DependencyAlternative> ParseAlternative(
    absl::string_view text, absl::string_view field) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("dependency ", log::Quoted(field, 160), ": ", why));
  };
  absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s.empty()) return bad("empty alternative");
  size_t i = 0;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  if (i == 0 || !absl::ascii_isalnum(static_cast<unsigned char>(s[0]))) {
    return bad(absl::StrCat("bad package name in ", log::Quoted(s, 80)));
  }
  DependencyAlternative alternative;
  alternative.name = std::string(s.substr(0, i));
  absl::string_view rest = s.substr(i);
  if (absl::ConsumePrefix(&rest, ":")) {
    size_t j = 0;
    while (j < rest.size() && IsNameChar(rest[j])) ++j;
    if (j == 0) return bad("empty architecture qualifier");
    alternative.arch_qualifier = std::string(rest.substr(0, j));
    rest = rest.substr(j);
  }
  // The version constraint is syntax-checked and dropped (see the header).
  if (!SkipBracketed(&rest, '(', ')')) return bad("unclosed '('");
  if (!SkipBracketed(&rest, '[', ']')) return bad("unclosed '['");
  for (int profiles = 0; profiles < 64; ++profiles) {
    absl::string_view before = rest;
    if (!SkipBracketed(&rest, '<', '>')) return bad("unclosed '<'");
    if (rest.size() == before.size()) break;
  }
  if (!absl::StripAsciiWhitespace(rest).empty()) {
    return bad(absl::StrCat("unexpected ", log::Quoted(rest, 80)));
  }
  return alternative;
}

bool ParseSize(absl::string_view text, int64_t* size) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, size) && *size <= kMaxPoolFileBytes;
}

// dpkg's lib/dpkg/version.c order(): digits 0 (they end a non-digit part),
// letters themselves, '~' below everything, other bytes after the letters,
// the end 0.
int Order(absl::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (absl::ascii_isdigit(c)) return 0;
  if (absl::ascii_isalpha(c)) return c;
  if (c == '~') return -1;
  if (c != 0) return c + 256;
  return 0;
}

bool DigitAt(absl::string_view s, size_t i) {
  return i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]));
}

// dpkg's verrevcmp over bounded views: a position past the end reads as the
// terminating NUL did.
int VerRevCmp(absl::string_view a, absl::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !DigitAt(a, i)) ||
           (j < b.size() && !DigitAt(b, j))) {
      int ac = Order(a, i);
      int bc = Order(b, j);
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (DigitAt(a, i) && DigitAt(b, j)) {
      if (first_diff == 0) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (DigitAt(a, i)) return 1;
    if (DigitAt(b, j)) return -1;
    if (first_diff != 0) return first_diff;
  }
  return 0;
}

struct VersionParts {
  absl::string_view epoch;  // digits, leading zeros cut; "" is 0
  absl::string_view upstream;
  absl::string_view revision;
};

VersionParts SplitVersion(absl::string_view v) {
  VersionParts parts;
  size_t colon = v.find(':');
  if (colon != absl::string_view::npos && colon > 0) {
    absl::string_view epoch = v.substr(0, colon);
    bool digits = true;
    for (char c : epoch)
      digits &= absl::ascii_isdigit(static_cast<unsigned char>(c));
    if (digits) {
      while (!epoch.empty() && epoch.front() == '0') epoch.remove_prefix(1);
      parts.epoch = epoch;
      v = v.substr(colon + 1);
    }
  }
  size_t dash = v.rfind('-');
  if (dash != absl::string_view::npos) {
    parts.upstream = v.substr(0, dash);
    parts.revision = v.substr(dash + 1);
  } else {
    parts.upstream = v;
  }
  return parts;
}

int Sign(int x) { return (x > 0) - (x < 0); }

}  // namespace

absl::StatusOr<std::vector<DependencyGroup>> ParseDependencyField(
    absl::string_view value) {
  std::vector<DependencyGroup> groups;
  size_t terms = 0;
  for (absl::string_view group_text : absl::StrSplit(value, ',')) {
    // An empty group (a trailing comma) is tolerated as apt does.
    if (absl::StripAsciiWhitespace(group_text).empty()) continue;
    DependencyGroup group;
    for (absl::string_view alternative_text : absl::StrSplit(group_text, '|')) {
      if (++terms > kMaxDependencyTerms) {
        return absl::InvalidArgumentError(
            absl::StrCat("dependency field with more than ",
                         kMaxDependencyTerms, " alternatives"));
      }
      absl::StatusOr<DependencyAlternative> alternative =
          ParseAlternative(alternative_text, value);
      if (!alternative.ok()) return alternative.status();
      group.push_back(*std::move(alternative));
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

absl::StatusOr<ParsedPackages> ParseAptPackages(absl::string_view text,
                                                absl::string_view index_name,
                                                const Deb822Limits& limits) {
  ParsedPackages parsed;
  absl::Status status = ForEachDeb822Stanza(
      text, limits, [&](const Deb822Stanza& stanza) -> absl::Status {
        AptPackage package;
        package.name = std::string(stanza.Get("Package"));
        auto bad = [&](absl::string_view why) {
          return absl::InvalidArgumentError(absl::StrCat(
              index_name, ": package ", log::Quoted(package.name), ": ", why));
        };
        if (package.name.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(index_name, ": a stanza without Package"));
        }
        for (char c : package.name) {
          if (!IsNameChar(c)) return bad("bad package name");
        }
        package.version = std::string(stanza.Get("Version"));
        package.architecture = std::string(stanza.Get("Architecture"));
        package.priority = std::string(stanza.Get("Priority"));
        const absl::string_view* filename = stanza.Find("Filename");
        const absl::string_view* size = stanza.Find("Size");
        const absl::string_view* sha256 = stanza.Find("SHA256");
        if (filename == nullptr || size == nullptr || sha256 == nullptr) {
          parsed.warnings.push_back(
              absl::StrCat(index_name, ": package ", log::Quoted(package.name),
                           " skipped: no Filename, Size or SHA256"));
          return absl::OkStatus();
        }
        absl::Status path_ok = CheckMirrorPath(*filename);
        if (!path_ok.ok()) return bad(path_ok.message());
        package.filename = std::string(*filename);
        if (!ParseSize(*size, &package.size)) {
          return bad(absl::StrCat("Size ", log::Quoted(*size, 40),
                                  " is not a number up to ",
                                  kMaxPoolFileBytes));
        }
        package.sha256 = absl::AsciiStrToLower(*sha256);
        if (!IsSha256Hex(package.sha256)) {
          return bad(absl::StrCat("SHA256 ", log::Quoted(*sha256, 80),
                                  " is not 64 hex digits"));
        }
        struct {
          const char* field;
          std::vector<DependencyGroup>* groups;
        } dependency_fields[] = {{"Depends", &package.depends},
                                 {"Pre-Depends", &package.pre_depends},
                                 {"Recommends", &package.recommends}};
        for (const auto& field : dependency_fields) {
          absl::StatusOr<std::vector<DependencyGroup>> groups =
              ParseDependencyField(stanza.Get(field.field));
          if (!groups.ok()) {
            return bad(
                absl::StrCat(field.field, ": ", groups.status().message()));
          }
          *field.groups = *std::move(groups);
        }
        absl::StatusOr<std::vector<DependencyGroup>> provides =
            ParseDependencyField(stanza.Get("Provides"));
        if (!provides.ok()) {
          return bad(absl::StrCat("Provides: ", provides.status().message()));
        }
        for (const DependencyGroup& group : *provides) {
          for (const DependencyAlternative& alternative : group) {
            package.provides.push_back(alternative.name);
          }
        }
        parsed.packages.push_back(std::move(package));
        return absl::OkStatus();
      });
  if (!status.ok()) {
    if (absl::IsInvalidArgument(status) &&
        !absl::StartsWith(status.message(), index_name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_name, ": ", status.message()));
    }
    return status;
  }
  return parsed;
}

int CompareDebianVersions(absl::string_view a, absl::string_view b) {
  VersionParts pa = SplitVersion(a);
  VersionParts pb = SplitVersion(b);
  if (pa.epoch.size() != pb.epoch.size()) {
    return pa.epoch.size() < pb.epoch.size() ? -1 : 1;
  }
  int c = pa.epoch.compare(pb.epoch);
  if (c != 0) return Sign(c);
  c = VerRevCmp(pa.upstream, pb.upstream);
  if (c != 0) return Sign(c);
  return Sign(VerRevCmp(pa.revision, pb.revision));
}

}  // namespace rackboot::mirror
