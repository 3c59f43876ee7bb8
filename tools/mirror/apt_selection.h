// Which packages of an apt suite the mirror takes: named packages, whole
// priorities or everything, plus the dependency closure (Depends, Pre-Depends,
// Recommends on request; a virtual name is satisfied by a package that
// Provides it); and the debian-installer udebs a netboot install of one kernel
// ABI needs. Pure functions over parsed indexes, any thread.
#ifndef RACKBOOT_TOOLS_MIRROR_APT_SELECTION_H_
#define RACKBOOT_TOOLS_MIRROR_APT_SELECTION_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/mirror/apt_packages.h"

namespace rackboot::mirror {

// At most this many unsatisfied-dependency warnings are listed; the rest are
// counted in one last warning.
inline constexpr size_t kMaxSelectionWarnings = 100;

// One version per package name: the highest by CompareDebianVersions (the
// first seen on a tie), so version constraints need no solver. Owns copies of
// the packages.
class AptPackageIndex {
 public:
  void Add(AptPackage package);
  const AptPackage* Find(absl::string_view name) const;
  // Packages that list `name` in Provides, by package name.
  std::vector<const AptPackage*> Providers(absl::string_view name) const;
  // Every package, by name.
  std::vector<const AptPackage*> All() const;
  size_t size() const { return by_name_.size(); }

 private:
  std::map<std::string, AptPackage, std::less<>> by_name_;
  std::multimap<std::string, std::string, std::less<>> providers_;
};

struct AptSelectionRequest {
  std::vector<std::string> packages;    // named: each must exist
  std::vector<std::string> priorities;  // every package of these priorities
  bool all = false;
  bool recommends = false;  // follow Recommends too
  // Names the suite in the "not in" error: "bookworm main,contrib amd64".
  std::string where;
};

struct AptSelection {
  std::vector<const AptPackage*> packages;  // by name, each once
  // Unsatisfied dependencies: "P depends on X | Y: no package or provider".
  std::vector<std::string> warnings;
};

// NotFound "package NAME is not in WHERE" for a named package that is neither
// a package nor provided by one (then the first provider is taken). The
// closure follows Depends and Pre-Depends (and Recommends when asked): for
// each group the first alternative that is a package, else the first package
// providing it; cycles end because each package is visited once.
absl::StatusOr<AptSelection> SelectAptPackages(
    const AptPackageIndex& index, const AptSelectionRequest& request);

// The kernel ABI of a udeb name "...-<abi>-di" with an ABI such as
// "6.1.0-18-amd64" (a digit run with at least one '.', then '-' and more),
// e.g. "ext4-modules-6.1.0-18-amd64-di" => "6.1.0-18-amd64"; "" when the name
// carries none.
std::string UdebKernelAbi(absl::string_view udeb_name);

struct UdebSelection {
  std::string kernel_abi;  // from kernel-image-<abi>-di, highest; "" if none
  std::vector<const AptPackage*> udebs;  // by name
  std::vector<std::string> warnings;
};

// Every udeb of the debian-installer index except those built for another
// kernel ABI than the chosen one: `netboot_abi` (the netboot kernel's own,
// BzImageKernelAbi) when a kernel-image-<netboot_abi>-di exists, else the
// highest kernel-image-<abi>-di's (during a point release the archive carries
// two ABIs and the netboot images may be of either).
UdebSelection SelectInstallerUdebs(const AptPackageIndex& udebs,
                                   absl::string_view netboot_abi = "");

// The kernel release of an x86 bzImage ("6.1.0-18-amd64"), read from its setup
// header (the "HdrS" magic at 0x202, the kernel_version pointer at 0x20e);
// "" when `image` is not one or carries no version.
std::string BzImageKernelAbi(absl::string_view image);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_APT_SELECTION_H_
