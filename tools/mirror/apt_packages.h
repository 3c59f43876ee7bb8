// An apt Packages index (binary-ARCH/Packages and debian-installer's udeb
// index): the stanzas the mirror needs (name, version, pool file with size and
// SHA-256, dependency fields), Debian's dependency-field syntax and dpkg's
// version order. Parse only indexes whose SHA-256 a verified Release lists.
// Pure functions, any thread.
#ifndef RACKBOOT_TOOLS_MIRROR_APT_PACKAGES_H_
#define RACKBOOT_TOOLS_MIRROR_APT_PACKAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/mirror/deb822.h"

namespace rackboot::mirror {

// No .deb is near this (the largest in Debian are a few GiB).
inline constexpr int64_t kMaxPoolFileBytes = int64_t{16} << 30;
// Alternatives (or provided names) in one dependency field: bookworm's
// librust-winapi-dev Provides about 1,500 names.
inline constexpr size_t kMaxDependencyTerms = 65536;

// One alternative of a dependency: "name[:arch] [(op version)] [<profiles>]".
// The version constraint is parsed for syntax and dropped: the mirror keeps one
// version per name (the highest), which satisfies what an archive's own
// dependencies ask for.
struct DependencyAlternative {
  std::string name;
  std::string arch_qualifier;  // "any", "amd64", ... or ""
};
// "a | b | c": the first that exists satisfies the group.
using DependencyGroup = std::vector<DependencyAlternative>;

// "a (>= 1), b:any | c [amd64] <!nocheck>, ..." => groups. InvalidArgument
// naming the field text (escaped) for an empty alternative, a bad package name,
// an unclosed '(' '[' '<', or more than kMaxDependencyTerms alternatives.
absl::StatusOr<std::vector<DependencyGroup>> ParseDependencyField(
    absl::string_view value);

struct AptPackage {
  std::string name;
  std::string version;
  std::string architecture;
  std::string priority;  // "" when the stanza has none
  std::string filename;  // relative to the repository root, CheckMirrorPath'd
  int64_t size = 0;
  std::string sha256;
  std::vector<DependencyGroup> depends;
  std::vector<DependencyGroup> pre_depends;
  std::vector<DependencyGroup> recommends;
  std::vector<std::string> provides;  // names only (versions dropped)
};

struct ParsedPackages {
  std::vector<AptPackage> packages;  // in index order, duplicates kept
  // Stanzas skipped because they lack Filename, Size or SHA256 (named).
  std::vector<std::string> warnings;
};

// Every stanza of a Packages index. A stanza without Package is an error; one
// without Filename, Size or SHA256 is skipped with a warning; a Filename that
// fails CheckMirrorPath, a Size that is not a decimal in [0,
// kMaxPoolFileBytes], an SHA256 that is not 64 hex digits, a bad dependency
// field: InvalidArgument naming the package (escaped). `index_name` names the
// file in messages.
absl::StatusOr<ParsedPackages> ParseAptPackages(
    absl::string_view text, absl::string_view index_name,
    const Deb822Limits& limits = {});

// dpkg's version order (Debian Policy 5.6.12): epoch numerically, then the
// upstream version and the Debian revision each compared in alternating
// non-digit parts (letters before non-letters, '~' before everything, even the
// end) and digit parts (numerically, any length). Negative, zero or positive
// like strcmp. Defined for every string (a malformed version compares as its
// parts would), and antisymmetric: Compare(a,b) == -Compare(b,a).
int CompareDebianVersions(absl::string_view a, absl::string_view b);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_APT_PACKAGES_H_
