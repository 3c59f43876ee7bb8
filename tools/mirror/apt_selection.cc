#include "tools/mirror/apt_selection.h"

#include <deque>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/log/log_text.h"

namespace rackboot::mirror {

void AptPackageIndex::Add(AptPackage package) {
  auto it = by_name_.find(package.name);
  if (it != by_name_.end()) {
    if (CompareDebianVersions(package.version, it->second.version) <= 0) return;
    for (const std::string& provided : it->second.provides) {
      auto range = providers_.equal_range(provided);
      for (auto p = range.first; p != range.second; ++p) {
        if (p->second == package.name) {
          providers_.erase(p);
          break;
        }
      }
    }
    for (const std::string& provided : package.provides) {
      providers_.emplace(provided, package.name);
    }
    it->second = std::move(package);
    return;
  }
  for (const std::string& provided : package.provides) {
    providers_.emplace(provided, package.name);
  }
  std::string name = package.name;
  by_name_.emplace(std::move(name), std::move(package));
}

const AptPackage* AptPackageIndex::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

std::vector<const AptPackage*> AptPackageIndex::Providers(
    absl::string_view name) const {
  std::set<std::string> names;
  auto range = providers_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it)
    names.insert(it->second);
  std::vector<const AptPackage*> providers;
  for (const std::string& provider : names) {
    const AptPackage* package = Find(provider);
    if (package != nullptr) providers.push_back(package);
  }
  return providers;
}

std::vector<const AptPackage*> AptPackageIndex::All() const {
  std::vector<const AptPackage*> all;
  all.reserve(by_name_.size());
  for (const auto& [name, package] : by_name_) all.push_back(&package);
  return all;
}

namespace {

// A package of that name, else its first provider, else nullptr.
const AptPackage* Resolve(const AptPackageIndex& index,
                          absl::string_view name) {
  const AptPackage* package = index.Find(name);
  if (package != nullptr) return package;
  std::vector<const AptPackage*> providers = index.Providers(name);
  return providers.empty() ? nullptr : providers.front();
}

std::string GroupText(const DependencyGroup& group) {
  std::vector<std::string> names;
  for (const DependencyAlternative& alternative : group) {
    names.push_back(log::Escaped(alternative.name, 80));
  }
  return absl::StrJoin(names, " | ");
}

}  // namespace

absl::StatusOr<AptSelection> SelectAptPackages(
    const AptPackageIndex& index, const AptSelectionRequest& request) {
  AptSelection selection;
  std::set<std::string> selected;
  std::deque<const AptPackage*> queue;
  auto take = [&](const AptPackage* package) {
    if (selected.insert(package->name).second) queue.push_back(package);
  };
  for (const std::string& name : request.packages) {
    const AptPackage* package = Resolve(index, name);
    if (package == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "package ", log::Escaped(name, 80), " is not in ", request.where));
    }
    take(package);
  }
  if (request.all || !request.priorities.empty()) {
    std::set<std::string, std::less<>> priorities(request.priorities.begin(),
                                                  request.priorities.end());
    for (const AptPackage* package : index.All()) {
      if (request.all || priorities.count(package->priority) > 0) take(package);
    }
  }
  std::set<std::string> warned;
  size_t unlisted = 0;
  while (!queue.empty()) {
    const AptPackage* package = queue.front();
    queue.pop_front();
    struct {
      const char* verb;
      const std::vector<DependencyGroup>* groups;
    } fields[] = {{"pre-depends on", &package->pre_depends},
                  {"depends on", &package->depends},
                  {"recommends", &package->recommends}};
    for (const auto& field : fields) {
      if (field.groups == &package->recommends && !request.recommends) continue;
      for (const DependencyGroup& group : *field.groups) {
        const AptPackage* chosen = nullptr;
        for (const DependencyAlternative& alternative : group) {
          chosen = Resolve(index, alternative.name);
          if (chosen != nullptr) break;
        }
        if (chosen != nullptr) {
          take(chosen);
          continue;
        }
        std::string warning = absl::StrCat(
            log::Escaped(package->name, 80), " ", field.verb, " ",
            GroupText(group), ": no package or provider in ", request.where);
        if (warned.count(warning) > 0) continue;
        if (warned.size() >= kMaxSelectionWarnings) {
          ++unlisted;
          continue;
        }
        warned.insert(warning);
        selection.warnings.push_back(std::move(warning));
      }
    }
  }
  if (unlisted > 0) {
    selection.warnings.push_back(
        absl::StrCat("and ", unlisted, " more unsatisfied dependencies"));
  }
  for (const std::string& name : selected) {
    selection.packages.push_back(index.Find(name));
  }
  return selection;
}

std::string UdebKernelAbi(absl::string_view name) {
  if (!absl::EndsWith(name, "-di")) return "";
  absl::string_view body = name.substr(0, name.size() - 3);
  for (size_t i = 0; i + 1 < body.size(); ++i) {
    if (body[i] != '-' ||
        !absl::ascii_isdigit(static_cast<unsigned char>(body[i + 1]))) {
      continue;
    }
    size_t j = i + 1;
    bool dot = false;
    while (j < body.size() &&
           (absl::ascii_isdigit(static_cast<unsigned char>(body[j])) ||
            body[j] == '.')) {
      dot |= body[j] == '.';
      ++j;
    }
    if (dot && j + 1 < body.size() && body[j] == '-') {
      return std::string(body.substr(i + 1));
    }
  }
  return "";
}

std::string BzImageKernelAbi(absl::string_view image) {
  if (image.size() < 0x210 || image.substr(0x202, 4) != "HdrS") return "";
  size_t pointer = static_cast<unsigned char>(image[0x20e]) |
                   static_cast<size_t>(static_cast<unsigned char>(image[0x20f]))
                       << 8;
  if (pointer == 0) return "";
  size_t offset = pointer + 0x200;
  if (offset >= image.size()) return "";
  absl::string_view version = image.substr(offset, 256);
  size_t end = version.find_first_of(absl::string_view(" \0", 2));
  if (end == absl::string_view::npos) return "";
  version = version.substr(0, end);
  for (char c : version) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-' && c != '+' && c != '_' && c != '~') {
      return "";
    }
  }
  return std::string(version);
}

UdebSelection SelectInstallerUdebs(const AptPackageIndex& udebs,
                                   absl::string_view netboot_abi) {
  UdebSelection selection;
  if (!netboot_abi.empty() &&
      udebs.Find(absl::StrCat("kernel-image-", netboot_abi, "-di")) !=
          nullptr) {
    selection.kernel_abi = std::string(netboot_abi);
  }
  const bool from_netboot = !selection.kernel_abi.empty();
  for (const AptPackage* udeb : udebs.All()) {
    if (from_netboot) break;
    if (!absl::StartsWith(udeb->name, "kernel-image-")) continue;
    std::string abi = UdebKernelAbi(udeb->name);
    if (abi.empty()) continue;
    if (selection.kernel_abi.empty() ||
        CompareDebianVersions(abi, selection.kernel_abi) > 0) {
      selection.kernel_abi = abi;
    }
  }
  if (selection.kernel_abi.empty()) {
    selection.warnings.push_back(
        "the debian-installer index has no kernel-image-<abi>-di udeb: every "
        "udeb taken");
  } else if (!netboot_abi.empty() && !from_netboot) {
    selection.warnings.push_back(
        absl::StrCat("the netboot kernel is ", log::Escaped(netboot_abi, 80),
                     " but the debian-installer index has no kernel-image-",
                     log::Escaped(netboot_abi, 80), "-di: the udebs of ",
                     selection.kernel_abi, " (the highest) are taken"));
  }
  for (const AptPackage* udeb : udebs.All()) {
    std::string abi = UdebKernelAbi(udeb->name);
    if (!abi.empty() && !selection.kernel_abi.empty() &&
        abi != selection.kernel_abi) {
      continue;
    }
    selection.udebs.push_back(udeb);
  }
  return selection;
}

}  // namespace rackboot::mirror
