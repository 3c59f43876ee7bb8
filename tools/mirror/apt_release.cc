#include "tools/mirror/apt_release.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/log/log_text.h"
#include "tools/mirror/deb822.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

std::vector<std::string> Words(absl::string_view value) {
  std::vector<std::string> words;
  for (absl::string_view word :
       absl::StrSplit(value, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    words.emplace_back(word);
  }
  return words;
}

bool ParseSize(absl::string_view text, int64_t* size) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, size);
}

// RFC 2822 dates as apt writes them: "Sat, 07 Dec 2024 08:52:54 UTC".
absl::optional<absl::Time> ParseReleaseDate(absl::string_view text) {
  for (absl::string_view zone : {" UTC", " GMT", " Z", " +0000"}) {
    if (absl::ConsumeSuffix(&text, zone)) break;
  }
  std::string s(text);
  absl::Time time;
  std::string error;
  for (const char* format : {"%a, %d %b %Y %H:%M:%S", "%d %b %Y %H:%M:%S",
                             "%a, %d %b %Y %H:%M:%S %z"}) {
    if (absl::ParseTime(format, s, absl::UTCTimeZone(), &time, &error)) {
      return time;
    }
  }
  return absl::nullopt;
}

}  // namespace

const ReleaseFileEntry* AptRelease::FindFile(absl::string_view path) const {
  for (const ReleaseFileEntry& entry : sha256_files) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

bool AptRelease::HasArchitecture(absl::string_view arch) const {
  return std::find(architectures.begin(), architectures.end(), arch) !=
         architectures.end();
}

bool AptRelease::HasComponent(absl::string_view component) const {
  return std::find(components.begin(), components.end(), component) !=
         components.end();
}

absl::StatusOr<AptRelease> ParseAptRelease(absl::string_view text) {
  if (text.size() > kMaxReleaseBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("Release is larger than ", kMaxReleaseBytes, " bytes"));
  }
  Deb822Limits limits;
  limits.max_field_bytes = kMaxReleaseBytes;
  limits.max_stanzas = 1;
  absl::StatusOr<std::vector<Deb822Stanza>> stanzas = ParseDeb822(text, limits);
  if (!stanzas.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Release: ", stanzas.status().message()));
  }
  if (stanzas->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Release: expected one stanza, found ", stanzas->size()));
  }
  const Deb822Stanza& stanza = stanzas->front();
  AptRelease release;
  release.origin = std::string(stanza.Get("Origin"));
  release.label = std::string(stanza.Get("Label"));
  release.suite = std::string(stanza.Get("Suite"));
  release.codename = std::string(stanza.Get("Codename"));
  release.version = std::string(stanza.Get("Version"));
  release.architectures = Words(stanza.Get("Architectures"));
  release.components = Words(stanza.Get("Components"));
  release.acquire_by_hash =
      absl::EqualsIgnoreCase(stanza.Get("Acquire-By-Hash"), "yes");
  release.valid_until_text = std::string(stanza.Get("Valid-Until"));
  if (!release.valid_until_text.empty()) {
    release.valid_until = ParseReleaseDate(release.valid_until_text);
  }
  const absl::string_view* sha256 = stanza.Find("SHA256");
  if (sha256 == nullptr) {
    return absl::InvalidArgumentError(
        "Release has no SHA256 section (MD5Sum/SHA1 alone are not trusted)");
  }
  for (absl::string_view line : Deb822Lines(*sha256)) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Release SHA256 line ", log::Quoted(line, 160), ": ", why));
    };
    if (parts.size() != 3) return bad("expected \"<sha256> <size> <path>\"");
    ReleaseFileEntry entry;
    entry.sha256 = absl::AsciiStrToLower(parts[0]);
    if (!IsSha256Hex(entry.sha256)) return bad("not 64 hex digits");
    if (!ParseSize(parts[1], &entry.size) || entry.size > kMaxIndexFileBytes) {
      return bad(absl::StrCat("size not a number up to ", kMaxIndexFileBytes));
    }
    absl::Status path_ok = CheckMirrorPath(parts[2]);
    if (!path_ok.ok()) return bad(path_ok.message());
    entry.path = std::string(parts[2]);
    if (release.sha256_files.size() >= kMaxReleaseFiles) {
      return bad(absl::StrCat("more than ", kMaxReleaseFiles, " files"));
    }
    release.sha256_files.push_back(std::move(entry));
  }
  return release;
}

absl::StatusOr<std::vector<Sha256SumsEntry>> ParseSha256Sums(
    absl::string_view text) {
  std::vector<Sha256SumsEntry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("SHA256SUMS line ", line_number, " ",
                       log::Quoted(line, 160), ": ", why));
    };
    if (line.size() < 66 || line[64] != ' ') {
      return bad("expected \"<sha256>  <path>\"");
    }
    Sha256SumsEntry entry;
    entry.sha256 = absl::AsciiStrToLower(line.substr(0, 64));
    if (!IsSha256Hex(entry.sha256)) return bad("not 64 hex digits");
    absl::string_view path = line.substr(65);
    // sha256sum writes "  path" (text) or " *path" (binary).
    if (!absl::ConsumePrefix(&path, " ")) absl::ConsumePrefix(&path, "*");
    while (absl::ConsumePrefix(&path, "./")) {
    }
    absl::Status path_ok = CheckMirrorPath(path);
    if (!path_ok.ok()) return bad(path_ok.message());
    if (entries.size() >= kMaxReleaseFiles) {
      return bad(absl::StrCat("more than ", kMaxReleaseFiles, " lines"));
    }
    entry.path = std::string(path);
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace rackboot::mirror
