// An apt repository's Release file (the signed text of dists/SUITE/InRelease or
// of Release + Release.gpg) and a debian-installer SHA256SUMS file: what the
// suite says it is and the SHA-256 and size of every index it lists. Parse
// only text gpgv verified (or a SHA256SUMS whose own SHA-256 a verified Release
// lists). Pure functions, any thread.
#ifndef RACKBOOT_TOOLS_MIRROR_APT_RELEASE_H_
#define RACKBOOT_TOOLS_MIRROR_APT_RELEASE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace rackboot::mirror {

// Bounds on what a Release may list (Debian's bookworm lists about 600 files).
inline constexpr size_t kMaxReleaseFiles = 100000;
inline constexpr size_t kMaxReleaseBytes = 16 << 20;
// No index or installer image is near this; a larger Size is an error.
inline constexpr int64_t kMaxIndexFileBytes = int64_t{4} << 30;

struct ReleaseFileEntry {
  std::string path;  // relative to dists/SUITE/, passed CheckMirrorPath
  int64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
};

struct AptRelease {
  std::string origin;
  std::string label;
  std::string suite;
  std::string codename;
  std::string version;
  std::vector<std::string> architectures;
  std::vector<std::string> components;
  bool acquire_by_hash = false;
  std::string valid_until_text;  // as written, "" when absent
  // Parsed Valid-Until; nullopt when absent or not an RFC 2822 date (then the
  // text is kept and a warning is the caller's).
  absl::optional<absl::Time> valid_until;
  std::vector<ReleaseFileEntry> sha256_files;  // the SHA256 section, in order

  // The SHA256 entry for `path` (relative to dists/SUITE/), nullptr if none.
  const ReleaseFileEntry* FindFile(absl::string_view path) const;
  bool HasArchitecture(absl::string_view arch) const;
  bool HasComponent(absl::string_view component) const;
};

// InvalidArgument (naming the field and the text, escaped) for a Release that
// is not one stanza, has no SHA256 section, an SHA256 line that is not
// "<64 hex> <size> <path>", a path that fails CheckMirrorPath, a size over
// kMaxIndexFileBytes, or more than kMaxReleaseFiles entries.
absl::StatusOr<AptRelease> ParseAptRelease(absl::string_view text);

struct Sha256SumsEntry {
  std::string path;  // relative to the SHA256SUMS file's directory, "./" cut
  std::string sha256;
};

// A sha256sum(1) listing as debian-installer publishes it:
// "<64 hex>  ./netboot/debian-installer/amd64/linux" (a '*' binary marker is
// accepted). Every path passes CheckMirrorPath; at most kMaxReleaseFiles
// lines; blank lines skipped; anything else is InvalidArgument naming the line.
absl::StatusOr<std::vector<Sha256SumsEntry>> ParseSha256Sums(
    absl::string_view text);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_APT_RELEASE_H_
