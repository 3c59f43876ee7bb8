// Fuzzes the Packages parser, the dependency-field parser, the selection
// (closure over whatever the input declares, udebs by ABI) and dpkg's version
// order, which must be a total order on the versions it sees: reflexive,
// antisymmetric and transitive.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tools/mirror/apt_packages.h"
#include "tools/mirror/apt_selection.h"
#include "tools/mirror/mirror_path.h"

namespace {

int Sign(int x) { return (x > 0) - (x < 0); }

void CheckOrder(const std::vector<std::string>& versions) {
  using rackboot::mirror::CompareDebianVersions;
  // Bounded so one input stays fast: pairs of 16 versions, triples of the
  // first 8, each version at most 128 bytes.
  size_t n = versions.size() < 16 ? versions.size() : 16;
  for (size_t i = 0; i < n; ++i) {
    if (CompareDebianVersions(versions[i], versions[i]) != 0) abort();
    for (size_t j = 0; j < n; ++j) {
      int ij = CompareDebianVersions(versions[i], versions[j]);
      if (ij < -1 || ij > 1) abort();
      if (ij != -CompareDebianVersions(versions[j], versions[i])) abort();
      for (size_t k = 0; k < n && i < 8 && j < 8; ++k) {
        int jk = CompareDebianVersions(versions[j], versions[k]);
        int ik = CompareDebianVersions(versions[i], versions[k]);
        // a <= b <= c => a <= c, with equality only when both are equal.
        if (ij <= 0 && jk <= 0 && ik > 0) abort();
        if (ij == 0 && jk == 0 && ik != 0) abort();
        if (ij < 0 && jk <= 0 && Sign(ik) >= 0) abort();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rackboot::mirror;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> versions;
  // Each line as a version and as a dependency field too.
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (++lines > 24) break;
    versions.emplace_back(line.substr(0, 128));
    auto groups = ParseDependencyField(line);
    if (groups.ok()) {
      for (const auto& group : *groups) {
        if (group.empty()) abort();
        for (const auto& alternative : group) {
          if (alternative.name.empty()) abort();
        }
      }
    }
  }
  Deb822Limits limits;
  limits.max_stanzas = 512;
  auto parsed = ParseAptPackages(text, "Packages", limits);
  if (parsed.ok()) {
    AptPackageIndex index;
    for (const AptPackage& package : parsed->packages) {
      if (!CheckMirrorPath(package.filename).ok()) abort();
      if (package.size < 0 || package.size > kMaxPoolFileBytes) abort();
      versions.push_back(package.version.substr(0, 128));
      index.Add(package);
    }
    for (const AptPackage& package : parsed->packages) {
      const AptPackage* kept = index.Find(package.name);
      if (kept == nullptr) abort();
      if (CompareDebianVersions(kept->version, package.version) < 0) abort();
    }
    AptSelectionRequest request;
    request.all = true;
    request.recommends = true;
    auto selection = SelectAptPackages(index, request);
    if (!selection.ok() || selection->packages.size() != index.size()) abort();
    if (selection->warnings.size() > kMaxSelectionWarnings + 1) abort();
    UdebSelection udebs = SelectInstallerUdebs(index);
    if (udebs.udebs.size() > index.size()) abort();
  }
  std::string abi = BzImageKernelAbi(text);
  if (abi.size() > 256 || abi.find(' ') != std::string::npos) abort();
  CheckOrder(versions);
  return 0;
}
