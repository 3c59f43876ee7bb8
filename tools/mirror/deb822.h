// Deb822 stanza parser: the RFC 822-like "Field: value" paragraphs of apt's
// Release and Packages files (Debian Policy 5.1). Used by apt_release and
// apt_packages on text gpgv already verified; the text still comes from the
// network, so every count and size is bounded. Pure functions, any thread; the
// views returned point into the caller's text, which must outlive them.
#ifndef RACKBOOT_TOOLS_MIRROR_DEB822_H_
#define RACKBOOT_TOOLS_MIRROR_DEB822_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::mirror {

struct Deb822Limits {
  // Debian's largest stanzas have about 30 fields.
  size_t max_fields_per_stanza = 256;
  // One field's raw value, continuation lines included. Not 64 KiB: bookworm's
  // librust-winapi-dev has a 75,649-byte Provides line (measured on the real
  // main/binary-amd64/Packages); 1 MiB leaves room and still bounds a field.
  // Release is parsed with its own bound (apt_release).
  size_t max_field_bytes = 1024 * 1024;
  // Debian's main/binary-amd64 has about 64,000 stanzas.
  size_t max_stanzas = 1000000;
};

struct Deb822Field {
  absl::string_view name;
  // The value with the blanks after the colon and at the very end trimmed; a
  // multi-line value keeps its '\n' and the leading blank of each continuation
  // line (use Deb822Lines to walk it).
  absl::string_view value;
};

struct Deb822Stanza {
  std::vector<Deb822Field> fields;
  // The first field of that name, compared case-insensitively (field names are
  // case-insensitive in deb822); nullptr when absent.
  const absl::string_view* Find(absl::string_view name) const;
  // The value or "" when absent.
  absl::string_view Get(absl::string_view name) const;
};

// Calls `on_stanza` for each stanza of `text` in order (stanzas are separated
// by lines that are empty or hold only blanks; '#' comment lines are skipped;
// "\r\n" line ends are accepted). A non-OK status from `on_stanza` stops the
// walk and comes back. InvalidArgument (naming the line number and the
// offending text, escaped) for a line without a colon, a continuation line
// before any field, an empty or malformed field name, a field repeated within
// a stanza; ResourceExhausted when a limit is passed.
absl::Status ForEachDeb822Stanza(
    absl::string_view text, const Deb822Limits& limits,
    const std::function<absl::Status(const Deb822Stanza&)>& on_stanza);

// All stanzas at once (small files: Release, tests).
absl::StatusOr<std::vector<Deb822Stanza>> ParseDeb822(
    absl::string_view text, const Deb822Limits& limits = {});

// The lines of a multi-line value, each trimmed of surrounding blanks, empty
// lines dropped (the first line is the text right after the colon, often
// empty, as in a Release's "SHA256:").
std::vector<absl::string_view> Deb822Lines(absl::string_view value);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_DEB822_H_
