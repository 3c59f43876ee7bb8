#include "engine/site/site_files.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/files/file_root.h"

namespace rackboot::site {

namespace {

// The mirror root, when HTTP serves it: like the TFTP root, a directory that
// opens now, not a 404 for every package later.
absl::Status CheckRepoRoot(const SiteConfig& site) {
  if (site.http.listen.empty() || site.http.repo_root.empty()) {
    return absl::OkStatus();
  }
  absl::StatusOr<FileRoot> repo = FileRoot::Open(site.http.repo_root);
  if (repo.ok()) return absl::OkStatus();
  const std::string where = site.key_lines.count("http.repo_root") > 0
                                ? site.Where("http.repo_root")
                                : std::string("--http_repo_root");
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": ", Quote(site.http.repo_root),
      ": cannot open the repository root: ", repo.status().message()));
}

absl::Status CheckBootFiles(const SiteConfig& site) {
  if (site.tftp.root.empty()) return absl::OkStatus();
  // The root may come from --tftp_root rather than the file.
  const std::string root_where = site.key_lines.count("tftp.root") > 0
                                     ? site.Where("tftp.root")
                                     : std::string("--tftp_root");
  absl::StatusOr<FileRoot> root = FileRoot::Open(site.tftp.root);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(root_where, ": ", Quote(site.tftp.root),
                     ": cannot open the TFTP root: ", root.status().message()));
  }
  std::vector<std::string> errors;
  auto check = [&](const std::string& key, const std::string& name) {
    if (name.empty()) return;
    const std::string where = site.Where(key);
    absl::StatusOr<OpenedFile> file = root->OpenFile(name);
    if (file.ok()) return;
    const std::string in_root =
        absl::StrCat("tftp.root ", root->path(), " (", root_where, ")");
    std::string what;
    switch (file.status().code()) {
      case absl::StatusCode::kNotFound:
        what = absl::StrCat("not found in ", in_root);
        // TFTP takes a leading '/' as the root (clients send "/pxelinux.0"),
        // so an absolute host path outside the root names nothing there.
        if (absl::StartsWith(name, "/") &&
            !absl::StartsWith(name, absl::StrCat(root->path(), "/"))) {
          absl::StrAppend(&what,
                          "; an absolute path outside tftp.root is not "
                          "served: boot file names are relative to it");
        }
        break;
      case absl::StatusCode::kPermissionDenied:
        what = absl::StrContains(file.status().message(), "outside the root")
                   ? absl::StrCat("leads outside ", in_root)
                   : absl::StrCat("not readable in ", in_root, ": ",
                                  file.status().message());
        break;
      case absl::StatusCode::kFailedPrecondition:
        what = absl::StrCat("not a regular file in ", in_root);
        break;
      default:
        what = absl::StrCat("cannot be opened in ", in_root, ": ",
                            file.status().message());
    }
    errors.push_back(absl::StrCat(where, ": ", Quote(name), ": ", what));
  };
  check("boot.bios", site.boot.bios);
  check("boot.uefi_x64", site.boot.uefi_x64);
  check("boot.uefi_ia32", site.boot.uefi_ia32);
  check("boot.arm64", site.boot.arm64);
  if (!absl::StrContains(site.boot.ipxe_script, "://"))
    check("boot.ipxe_script", site.boot.ipxe_script);
  check("boot.ipxe_bios", site.boot.ipxe_bios);
  check("boot.ipxe_uefi", site.boot.ipxe_uefi);
  check("boot.uefi_http", site.boot.uefi_http);
  for (size_t i = 0; i < site.profiles.size(); ++i) {
    check(absl::StrCat("profile[", i, "].kernel"), site.profiles[i].kernel);
    check(absl::StrCat("profile[", i, "].initrd"), site.profiles[i].initrd);
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

}  // namespace

absl::Status CheckSiteFiles(const SiteConfig& site) {
  absl::Status boot = CheckBootFiles(site);
  absl::Status repo = CheckRepoRoot(site);
  if (repo.ok()) return boot;
  if (boot.ok()) return repo;
  return absl::InvalidArgumentError(
      absl::StrCat(boot.message(), "\n", repo.message()));
}

}  // namespace rackboot::site
