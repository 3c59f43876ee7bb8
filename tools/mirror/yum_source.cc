#include "tools/mirror/yum_source.h"

#include <sys/stat.h>

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/log/log_text.h"
#include "tools/mirror/compressed_file.h"
#include "tools/mirror/media_recognizer.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"
#include "tools/mirror/signature_verifier.h"
#include "tools/mirror/yum_repo.h"

namespace rackboot::mirror {
namespace {

// repomd.xml and .treeinfo are a few KiB; the bound only stops a hostile
// server from filling memory.
constexpr int64_t kMaxSmallMetadataBytes = 16 << 20;

// The plan entry for a file `fetch` has just put in staging with no expected
// checksum: what arrived is what the manifest records.
absl::StatusOr<PlannedFile> Staged(const std::string& staging_root,
                                   const PlannedFile& f) {
  const std::string local = absl::StrCat(staging_root, "/", f.path);
  struct stat st;
  if (stat(local.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InternalError(
        absl::StrCat("fetched ", f.path, " but it is not in staging"));
  }
  auto sha = Sha256OfFile(local);
  if (!sha.ok()) return sha.status();
  PlannedFile out = f;
  out.size = st.st_size;
  out.sha256 = *sha;
  return out;
}

absl::Status ChecksumTypeError(absl::string_view file, absl::string_view type) {
  return absl::InvalidArgumentError(absl::StrCat(
      file, " uses ", log::Quoted(type), "; rackboot mirror verifies sha256"));
}

}  // namespace

absl::StatusOr<YumSourceResult> PlanYumSource(const YumSourceOptions& options,
                                              const std::string& staging_root,
                                              const FetchFilesFn& fetch) {
  YumSourceResult result;
  const std::string& base = options.base_url;
  auto url = [&](absl::string_view path) {
    return absl::StrCat(base, "/", path);
  };

  // repomd.xml: NotFound passes through unchanged (the CLI says "no
  // repodata/repomd.xml at URL").
  PlannedFile repomd_file{"repodata/repomd.xml", url("repodata/repomd.xml"), -1,
                          ""};
  if (absl::Status s = fetch({repomd_file}); !s.ok()) return s;
  auto repomd_staged = Staged(staging_root, repomd_file);
  if (!repomd_staged.ok()) return repomd_staged.status();
  if (repomd_staged->size > kMaxSmallMetadataBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("repomd.xml at ", base, " is larger than 16 MiB"));
  }
  const std::string repomd_local =
      absl::StrCat(staging_root, "/repodata/repomd.xml");
  result.plan.files.push_back(*repomd_staged);

  if (!options.keyring.empty()) {
    PlannedFile asc{"repodata/repomd.xml.asc", url("repodata/repomd.xml.asc"),
                    -1, ""};
    if (absl::Status s = fetch({asc}); !s.ok()) {
      if (absl::IsNotFound(s)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "no repodata/repomd.xml.asc at ", base,
            ": the repository is not signed, but --keyring was given (drop "
            "--keyring to mirror it unchecked)"));
      }
      return s;
    }
    auto verified = VerifyDetached(
        repomd_local, absl::StrCat(staging_root, "/repodata/repomd.xml.asc"),
        options.keyring);
    if (!verified.ok()) {
      return absl::Status(verified.status().code(),
                          absl::StrCat("repodata/repomd.xml at ", base,
                                       " failed its signature check: ",
                                       verified.status().message()));
    }
    auto asc_staged = Staged(staging_root, asc);
    if (!asc_staged.ok()) return asc_staged.status();
    result.plan.files.push_back(*asc_staged);
  } else {
    result.warnings.push_back(
        "repomd.xml not signature-checked (give --keyring=FILE to verify "
        "repodata/repomd.xml.asc)");
  }

  // Parse the bytes that were verified: they are in staging and nothing
  // rewrites them between the check and here.
  auto repomd_text = ReadCompressedFile(repomd_local, kMaxSmallMetadataBytes);
  if (!repomd_text.ok()) return repomd_text.status();
  auto repomd = ParseRepomd(*repomd_text);
  if (!repomd.ok()) return repomd.status();

  std::set<std::string> paths = {"repodata/repomd.xml",
                                 "repodata/repomd.xml.asc"};
  const PlannedFile* primary = nullptr;
  std::vector<PlannedFile> metadata;
  for (const RepomdData& d : repomd->data) {
    if (d.checksum_type != "sha256") {
      return ChecksumTypeError("repomd.xml", d.checksum_type);
    }
    if (!IsSha256Hex(d.checksum)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "repomd.xml: malformed sha256 for ", log::Quoted(d.location)));
    }
    if (absl::Status s = CheckMirrorPath(d.location); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("repomd.xml <location>: ", s.message()));
    }
    if (!paths.insert(d.location).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("repomd.xml names ", log::Quoted(d.location), " twice"));
    }
    metadata.push_back({d.location, url(d.location), d.size, d.checksum});
  }
  for (size_t i = 0; i < metadata.size(); ++i) {
    if (repomd->data[i].type == "primary") primary = &metadata[i];
  }
  if (primary == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("repomd.xml at ", base, " lists no primary metadata"));
  }
  if (absl::Status s = fetch({*primary}); !s.ok()) return s;
  for (const PlannedFile& f : metadata) result.plan.files.push_back(f);

  auto primary_text =
      ReadCompressedFile(absl::StrCat(staging_root, "/", primary->path));
  if (!primary_text.ok()) return primary_text.status();
  std::set<std::string> wanted(options.packages.begin(),
                               options.packages.end());
  const bool all = wanted.empty();
  std::set<std::string> found;
  int64_t total_packages = 0;
  absl::Status parsed =
      ParsePrimary(*primary_text, [&](const YumPackage& p) -> absl::Status {
        ++total_packages;
        if (!all && !wanted.count(p.name)) return absl::OkStatus();
        if (p.checksum_type != "sha256") {
          return ChecksumTypeError("primary.xml", p.checksum_type);
        }
        if (!IsSha256Hex(p.checksum)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "primary.xml: malformed sha256 for ", log::Quoted(p.name)));
        }
        if (absl::Status s = CheckMirrorPath(p.location); !s.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("primary.xml <location>: ", s.message()));
        }
        if (p.size < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "primary.xml: no size for ", log::Quoted(p.location)));
        }
        found.insert(p.name);
        if (!paths.insert(p.location).second) {
          // The same rpm listed twice (or a package colliding with a
          // metadata file): one copy, and a note.
          if (result.warnings.size() < 100) {
            result.warnings.push_back(absl::StrCat(
                "primary.xml lists ", log::Quoted(p.location), " twice"));
          }
          return absl::OkStatus();
        }
        result.plan.files.push_back(
            {p.location, url(p.location), p.size, p.checksum});
        ++result.packages_selected;
        return absl::OkStatus();
      });
  if (!parsed.ok()) return parsed;
  std::vector<std::string> missing;
  for (const std::string& name : wanted) {
    if (!found.count(name)) missing.push_back(log::Quoted(name));
  }
  if (!missing.empty()) {
    return absl::NotFoundError(
        absl::StrCat("package ", absl::StrJoin(missing, ", "),
                     " not in the yum repository at ", base));
  }

  // .treeinfo: optional; when present the tree is installable and names its
  // kernel and initrd.
  result.media.kind = "yum";
  PlannedFile treeinfo{".treeinfo", url(".treeinfo"), -1, ""};
  absl::Status t = fetch({treeinfo});
  if (t.ok()) {
    auto staged = Staged(staging_root, treeinfo);
    if (!staged.ok()) return staged.status();
    if (staged->size > kMaxSmallMetadataBytes) {
      return absl::InvalidArgumentError(".treeinfo is larger than 16 MiB");
    }
    auto text = ReadCompressedFile(absl::StrCat(staging_root, "/.treeinfo"),
                                   kMaxSmallMetadataBytes);
    if (!text.ok()) return text.status();
    auto media = ParseTreeinfo(*text, "");
    if (!media.ok()) return media.status();
    auto images = ParseTreeinfoImages(*text, "");
    if (!images.ok()) return images.status();
    result.plan.files.push_back(*staged);
    result.media = *media;
    result.media.kind = "yum";
    for (PlannedFile& f : *images) {
      if (!paths.insert(f.path).second) continue;
      if (f.sha256.empty()) {
        result.warnings.push_back(
            absl::StrCat(".treeinfo lists no sha256 for ", log::Quoted(f.path),
                         ": mirrored as served, unverified"));
      }
      f.url = url(f.path);
      result.plan.files.push_back(std::move(f));
    }
  } else if (absl::IsPermissionDenied(t)) {
    // Some servers refuse every dot-file; the repository is still usable.
    result.warnings.push_back(absl::StrCat(
        ".treeinfo at ", base, " refused (", t.message(),
        "); mirrored as a plain repository without installer images"));
  } else if (!absl::IsNotFound(t)) {
    return t;
  }
  result.media.evidence.push_back(absl::StrCat(
      "repodata/repomd.xml: revision ", log::Escaped(repomd->revision), ", ",
      repomd->data.size(), " metadata files, ", total_packages, " packages"));
  return result;
}

}  // namespace rackboot::mirror
