// Parsers for a yum/dnf repository's metadata: repodata/repomd.xml (the index
// of metadata files, each with its checksum and size) and primary.xml (one
// <package> per rpm: name, arch, checksum, size, location). Both come from the
// network and are hostile: expat parses them streaming, with every DOCTYPE and
// entity declaration refused (no billion laughs, no external entities), every
// count and text field bounded, and xml:base refused. Pure functions, any
// thread.
#ifndef RACKBOOT_TOOLS_MIRROR_YUM_REPO_H_
#define RACKBOOT_TOOLS_MIRROR_YUM_REPO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::mirror {

// Bounds on what a repository may make the parsers hold.
inline constexpr int64_t kMaxYumPackages = 1'000'000;
inline constexpr size_t kMaxYumTextBytes = 4096;
inline constexpr int kMaxRepomdData = 256;
inline constexpr int kMaxYumXmlDepth = 64;

// One <data type="..."> entry of repomd.xml.
struct RepomdData {
  std::string type;      // "primary", "filelists", "other", ...
  std::string location;  // location href, e.g. "repodata/abc-primary.xml.gz"
  std::string checksum_type;  // as written: "sha256", "sha1", ...
  std::string checksum;       // hex, lower-cased
  int64_t size = -1;          // <size>, -1 when absent
};

struct Repomd {
  std::string revision;
  std::vector<RepomdData> data;
};

// The entries of repomd.xml. InvalidArgument for malformed XML, a DOCTYPE or
// entity declaration, an xml:base attribute, a text field over
// kMaxYumTextBytes, more than kMaxRepomdData entries. Paths and checksum types
// are NOT judged here (PlanYumSource does: CheckMirrorPath, sha256 only).
absl::StatusOr<Repomd> ParseRepomd(absl::string_view xml);

// One <package type="rpm"> of primary.xml.
struct YumPackage {
  std::string name;
  std::string arch;
  std::string checksum_type;  // <checksum type=...>
  std::string checksum;       // hex, lower-cased
  int64_t size = -1;          // <size package="...">
  std::string location;       // <location href="...">
};

// Streams primary.xml: `on_package` is called once per complete <package>, in
// document order; a non-OK status from it stops the parse and is returned.
// Same refusals as ParseRepomd, plus more than `max_packages` packages.
absl::Status ParsePrimary(
    absl::string_view xml,
    const std::function<absl::Status(const YumPackage&)>& on_package,
    int64_t max_packages = kMaxYumPackages);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_YUM_REPO_H_
