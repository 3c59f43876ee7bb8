#include "tools/mirror/apt_source.h"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/log/log_text.h"
#include "tools/mirror/apt_packages.h"
#include "tools/mirror/apt_release.h"
#include "tools/mirror/apt_selection.h"
#include "tools/mirror/compressed_file.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

// Index compressions in the order the mirror parses them (the first listed
// wins); the uncompressed file is fetched only when none is listed (Debian
// lists it in Release but does not serve it).
constexpr const char* kCompressedSuffixes[] = {".xz", ".gz", ".bz2", ".zst"};

// Percent-encodes what a URL path cannot carry as is (CheckMirrorPath already
// refused control bytes and backslashes, but '?', '#', '%' and blanks remain
// legal names).
std::string UrlPath(absl::string_view path) {
  std::string out;
  for (unsigned char c : path) {
    if (absl::ascii_isalnum(c) || c == '/' || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == '+') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

// `url` for messages: "user:password@" cut from the authority (a URL source
// may carry credentials; errors and warnings end up in logs and --json).
std::string ForMessage(absl::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return log::Escaped(url, 400);
  size_t authority = scheme + 3;
  size_t end = url.find('/', authority);
  if (end == absl::string_view::npos) end = url.size();
  size_t at = url.substr(authority, end - authority).rfind('@');
  if (at == absl::string_view::npos) return log::Escaped(url, 400);
  return log::Escaped(
      absl::StrCat(url.substr(0, authority), url.substr(authority + at + 1)),
      400);
}

class AptPlanner {
 public:
  AptPlanner(const AptSourceOptions& options, const std::string& staging_root,
             const FetchFilesFn& fetch)
      : options_(options),
        staging_root_(staging_root),
        fetch_(fetch),
        dists_(absl::StrCat("dists/", options.suite)) {}

  absl::StatusOr<AptSourceResult> Plan();

 private:
  std::string Url(absl::string_view path) const {
    return absl::StrCat(options_.base_url, "/", UrlPath(path));
  }
  std::string Staged(absl::string_view path) const {
    return absl::StrCat(staging_root_, "/", path);
  }
  // Fetches files without a known checksum and plans them with what arrived.
  absl::Status FetchUnknown(const std::vector<std::string>& paths);
  absl::StatusOr<std::string> FetchRelease();
  absl::Status CheckRelease();
  absl::Status FetchIndexes();
  absl::Status ParseIndexes();
  absl::Status PlanInstallerImages();
  absl::Status PlanPoolFile(const AptPackage& package);
  // --udebs: the named udebs and their closure within the udeb index.
  absl::StatusOr<std::vector<const AptPackage*>> SelectNamedUdebs(
      const AptPackageIndex& udebs);
  bool WantsUdebs() const {
    return options_.installer || !options_.udebs.empty();
  }
  void Warn(std::string warning) {
    if (result_.warnings.size() < kMaxSelectionWarnings) {
      result_.warnings.push_back(std::move(warning));
    } else {
      ++unlisted_warnings_;
    }
  }
  std::string Where() const {
    return absl::StrCat(
        log::Escaped(options_.suite, 80), " ",
        log::Escaped(absl::StrJoin(options_.components, ","), 160), " ",
        log::Escaped(options_.arch, 40));
  }

  const AptSourceOptions& options_;
  const std::string& staging_root_;
  const FetchFilesFn& fetch_;
  const std::string dists_;
  std::string release_name_;  // "dists/S/InRelease" or ".../Release"
  std::vector<std::string> fingerprints_;
  AptRelease release_;
  AptSourceResult result_;
  size_t unlisted_warnings_ = 0;
  // Per component: the index to parse (path under dists/S/), "" if none.
  std::map<std::string, std::string> packages_index_;
  std::map<std::string, std::string> installer_index_;
  std::string sha256sums_;  // path under dists/S/ of the images' SHA256SUMS
  std::map<std::string, std::string> pool_sha_;  // path => sha256 planned
  std::string netboot_abi_;  // of the netboot kernel fetched, "" if none
};

absl::Status AptPlanner::FetchUnknown(const std::vector<std::string>& paths) {
  std::vector<PlannedFile> files;
  for (const std::string& path : paths) {
    files.push_back(PlannedFile{path, Url(path), -1, ""});
  }
  absl::Status status = fetch_(files);
  if (!status.ok()) return status;
  for (PlannedFile& file : files) {
    struct stat st;
    if (stat(Staged(file.path).c_str(), &st) != 0) {
      return absl::InternalError(absl::StrCat(
          "fetched ", file.path, " is not at ", Staged(file.path)));
    }
    file.size = st.st_size;
    absl::StatusOr<std::string> sha256 = Sha256OfFile(Staged(file.path));
    if (!sha256.ok()) return sha256.status();
    file.sha256 = *sha256;
    result_.plan.files.push_back(std::move(file));
  }
  return absl::OkStatus();
}

// InRelease, or Release + Release.gpg when the server has no InRelease; the
// other form is carried too when the server has it and it verifies.
absl::StatusOr<std::string> AptPlanner::FetchRelease() {
  const std::string in_release = dists_ + "/InRelease";
  const std::string release = dists_ + "/Release";
  const std::string release_gpg = dists_ + "/Release.gpg";
  absl::Status status = FetchUnknown({in_release});
  std::string text;
  if (status.ok()) {
    absl::StatusOr<VerifiedText> verified =
        VerifyInlineSigned(Staged(in_release), options_.keyring);
    if (!verified.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          ForMessage(Url(in_release)),
          ": signature not accepted with --keyring=",
          log::Escaped(options_.keyring), ": ", verified.status().message()));
    }
    release_name_ = in_release;
    fingerprints_ = verified->fingerprints;
    text = std::move(verified->text);
    // The detached pair for clients that ask for it; optional.
    size_t planned = result_.plan.files.size();
    // One call for both (one round of the fetcher): when either is missing
    // the pair is dropped, whichever it was.
    status = FetchUnknown({release, release_gpg});
    if (status.ok()) {
      absl::StatusOr<VerifiedText> detached = VerifyDetached(
          Staged(release), Staged(release_gpg), options_.keyring);
      if (!detached.ok()) {
        Warn(absl::StrCat(ForMessage(Url(release)),
                          " with Release.gpg does not verify (",
                          detached.status().message(),
                          "): left out of the tree, InRelease is kept"));
        result_.plan.files.resize(planned);
      }
    } else if (absl::IsNotFound(status)) {
      result_.plan.files.resize(planned);
    } else {
      return status;
    }
    return text;
  }
  if (!absl::IsNotFound(status)) return status;
  status = FetchUnknown({release, release_gpg});
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat(
        "no InRelease and no Release + Release.gpg at ",
        ForMessage(options_.base_url), "/", UrlPath(dists_),
        "/: is --suite right, and is ", ForMessage(options_.base_url),
        " the repository root (the directory holding dists/)?"));
  }
  if (!status.ok()) return status;
  absl::StatusOr<VerifiedText> verified =
      VerifyDetached(Staged(release), Staged(release_gpg), options_.keyring);
  if (!verified.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        ForMessage(Url(release)),
        " with Release.gpg: signature not accepted with --keyring=",
        log::Escaped(options_.keyring), ": ", verified.status().message()));
  }
  release_name_ = release;
  fingerprints_ = verified->fingerprints;
  return std::move(verified->text);
}

absl::Status AptPlanner::CheckRelease() {
  if (options_.suite != release_.suite && options_.suite != release_.codename) {
    return absl::InvalidArgumentError(absl::StrCat(
        "suite mismatch: --suite=", log::Escaped(options_.suite, 80), " but ",
        release_name_, " says Suite: ", log::Quoted(release_.suite, 80),
        ", Codename: ", log::Quoted(release_.codename, 80),
        " (a repository serving one suite under another's name is refused)"));
  }
  if (!release_.HasArchitecture(options_.arch)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "architecture ", log::Escaped(options_.arch, 40), " is not in ",
        release_name_, " (Architectures: ",
        log::Escaped(absl::StrJoin(release_.architectures, " "), 200), ")"));
  }
  for (const std::string& component : options_.components) {
    if (!release_.HasComponent(component)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "component ", log::Escaped(component, 80), " is not in ",
          release_name_, " (Components: ",
          log::Escaped(absl::StrJoin(release_.components, " "), 200), ")"));
    }
  }
  if (release_.valid_until.has_value()) {
    if (*release_.valid_until < absl::Now()) {
      Warn(absl::StrCat(release_name_, " expired (Valid-Until: ",
                        log::Escaped(release_.valid_until_text, 80),
                        "): apt clients refuse it unless Check-Valid-Until is "
                        "off; the mirror copies it as the archive serves it"));
    }
  } else if (!release_.valid_until_text.empty()) {
    Warn(absl::StrCat(release_name_, ": Valid-Until ",
                      log::Quoted(release_.valid_until_text, 80),
                      " is not a date the mirror reads"));
  }
  return absl::OkStatus();
}

absl::Status AptPlanner::FetchIndexes() {
  std::vector<PlannedFile> files;
  std::vector<PlannedFile> by_hash;
  // One index (dir/name): the compressed copies listed, else the plain one.
  // Returns the path to parse ("" when Release lists none).
  auto add_index = [&](const std::string& dir, const char* name) {
    const std::string base = absl::StrCat(dir, "/", name);
    std::string parse;
    for (const char* suffix : kCompressedSuffixes) {
      const ReleaseFileEntry* entry =
          release_.FindFile(absl::StrCat(base, suffix));
      if (entry == nullptr) continue;
      if (parse.empty()) parse = entry->path;
      std::string path = absl::StrCat(dists_, "/", entry->path);
      files.push_back(PlannedFile{path, Url(path), entry->size, entry->sha256});
    }
    if (parse.empty()) {
      const ReleaseFileEntry* entry = release_.FindFile(base);
      if (entry != nullptr) {
        parse = entry->path;
        std::string path = absl::StrCat(dists_, "/", entry->path);
        files.push_back(
            PlannedFile{path, Url(path), entry->size, entry->sha256});
      }
    }
    return parse;
  };
  for (const std::string& component : options_.components) {
    std::string dir = absl::StrCat(component, "/binary-", options_.arch);
    std::string parse = add_index(dir, "Packages");
    if (parse.empty()) {
      return absl::NotFoundError(
          absl::StrCat(release_name_, " lists no Packages index for ",
                       log::Escaped(dir, 160), ": the archive does not carry ",
                       log::Escaped(options_.arch, 40), " in ",
                       log::Escaped(component, 80)));
    }
    packages_index_[component] = parse;
    // apt fetches the Translation-en a Release lists and fails `apt-get
    // update` when it answers 404, so the mirror carries it when listed.
    add_index(absl::StrCat(component, "/i18n"), "Translation-en");
    const ReleaseFileEntry* component_release =
        release_.FindFile(absl::StrCat(dir, "/Release"));
    if (component_release != nullptr) {
      std::string path = absl::StrCat(dists_, "/", component_release->path);
      files.push_back(PlannedFile{path, Url(path), component_release->size,
                                  component_release->sha256});
    }
    if (WantsUdebs()) {
      std::string udeb_dir =
          absl::StrCat(component, "/debian-installer/binary-", options_.arch);
      std::string udeb_parse = add_index(udeb_dir, "Packages");
      if (!udeb_parse.empty()) installer_index_[component] = udeb_parse;
    }
    if (options_.installer) {
      const ReleaseFileEntry* sums = release_.FindFile(
          absl::StrCat(component, "/installer-", options_.arch,
                       "/current/images/SHA256SUMS"));
      if (sums != nullptr && sha256sums_.empty()) {
        sha256sums_ = sums->path;
        std::string path = absl::StrCat(dists_, "/", sums->path);
        files.push_back(PlannedFile{path, Url(path), sums->size, sums->sha256});
      }
    }
  }
  if (WantsUdebs() && installer_index_.empty()) {
    return absl::NotFoundError(absl::StrCat(
        options_.installer ? "--installer: " : "--udebs: ", release_name_,
        " lists no debian-installer/binary-", log::Escaped(options_.arch, 40),
        "/Packages index in ", Where()));
  }
  if (options_.installer) {
    if (sha256sums_.empty()) {
      return absl::NotFoundError(
          absl::StrCat("--installer: ", release_name_, " lists no installer-",
                       log::Escaped(options_.arch, 40),
                       "/current/images/SHA256SUMS in ", Where()));
    }
  }
  absl::Status status = fetch_(files);
  if (!status.ok()) return status;
  if (release_.acquire_by_hash) {
    for (const PlannedFile& file : files) {
      // Debian serves by-hash copies of the indexes (Packages, Translation)
      // and of each component's binary-ARCH/Release; SHA256SUMS has none.
      if (absl::StrContains(file.path, "/Packages") ||
          absl::StrContains(file.path, "/Translation-") ||
          absl::EndsWith(file.path, "/Release")) {
        size_t slash = file.path.rfind('/');
        by_hash.push_back(
            PlannedFile{absl::StrCat(file.path.substr(0, slash),
                                     "/by-hash/SHA256/", file.sha256),
                        file.url, file.size, file.sha256});
      }
    }
  }
  for (PlannedFile& file : files) result_.plan.files.push_back(std::move(file));
  for (PlannedFile& file : by_hash) {
    result_.plan.files.push_back(std::move(file));
  }
  return absl::OkStatus();
}

absl::Status AptPlanner::PlanPoolFile(const AptPackage& package) {
  auto [it, inserted] = pool_sha_.emplace(package.filename, package.sha256);
  if (!inserted) {
    if (it->second != package.sha256) {
      return absl::InvalidArgumentError(
          absl::StrCat("pool file ", log::Quoted(package.filename),
                       " is listed with two different SHA-256s in ", Where()));
    }
    return absl::OkStatus();
  }
  result_.plan.files.push_back(PlannedFile{
      package.filename, Url(package.filename), package.size, package.sha256});
  return absl::OkStatus();
}

absl::Status AptPlanner::ParseIndexes() {
  auto load = [&](const std::map<std::string, std::string>& indexes,
                  AptPackageIndex* index) -> absl::Status {
    for (const auto& [component, path] : indexes) {
      std::string staged_path = absl::StrCat(dists_, "/", path);
      absl::StatusOr<std::string> text =
          ReadCompressedFile(Staged(staged_path));
      if (!text.ok()) {
        return absl::Status(
            text.status().code(),
            absl::StrCat(staged_path, ": ", text.status().message()));
      }
      absl::StatusOr<ParsedPackages> parsed =
          ParseAptPackages(*text, staged_path);
      if (!parsed.ok()) return parsed.status();
      for (std::string& warning : parsed->warnings) Warn(std::move(warning));
      for (AptPackage& package : parsed->packages) {
        index->Add(std::move(package));
      }
    }
    return absl::OkStatus();
  };
  AptPackageIndex packages;
  absl::Status status = load(packages_index_, &packages);
  if (!status.ok()) return status;
  AptSelectionRequest request;
  request.packages = options_.packages;
  request.priorities = options_.priorities;
  request.all = options_.all;
  request.recommends = options_.recommends;
  request.where = Where();
  absl::StatusOr<AptSelection> selection = SelectAptPackages(packages, request);
  if (!selection.ok()) return selection.status();
  for (std::string& warning : selection->warnings) Warn(std::move(warning));
  for (const AptPackage* package : selection->packages) {
    status = PlanPoolFile(*package);
    if (!status.ok()) return status;
  }
  result_.packages_selected = static_cast<int>(selection->packages.size());
  if (!WantsUdebs()) return absl::OkStatus();
  AptPackageIndex udebs;
  status = load(installer_index_, &udebs);
  if (!status.ok()) return status;
  if (!options_.installer) {
    absl::StatusOr<std::vector<const AptPackage*>> named =
        SelectNamedUdebs(udebs);
    if (!named.ok()) return named.status();
    for (const AptPackage* udeb : *named) {
      status = PlanPoolFile(*udeb);
      if (!status.ok()) return status;
    }
    result_.udebs_selected = static_cast<int>(named->size());
    return absl::OkStatus();
  }
  UdebSelection udeb_selection = SelectInstallerUdebs(udebs, netboot_abi_);
  for (std::string& warning : udeb_selection.warnings) Warn(std::move(warning));
  for (const AptPackage* udeb : udeb_selection.udebs) {
    status = PlanPoolFile(*udeb);
    if (!status.ok()) return status;
  }
  result_.udebs_selected = static_cast<int>(udeb_selection.udebs.size());
  if (!udeb_selection.kernel_abi.empty()) {
    result_.media.evidence.push_back(
        absl::StrCat("debian-installer udebs: kernel ABI ",
                     log::Escaped(udeb_selection.kernel_abi, 80)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<const AptPackage*>> AptPlanner::SelectNamedUdebs(
    const AptPackageIndex& udebs) {
  const std::string where = absl::StrCat(Where(), " (debian-installer/binary-",
                                         log::Escaped(options_.arch, 40), ")");
  // Exact names: a udeb only Provided by another (scsi-modules) would pull a
  // kernel ABI nobody asked for, so the closure's provider rule is for
  // dependencies only.
  std::vector<std::string> missing;
  for (const std::string& name : options_.udebs) {
    if (udebs.Find(name) == nullptr) missing.push_back(log::Escaped(name, 80));
  }
  if (!missing.empty()) {
    return absl::NotFoundError(
        absl::StrCat("--udebs: ", missing.size() == 1 ? "udeb " : "udebs ",
                     absl::StrJoin(missing, ", "),
                     missing.size() == 1 ? " is" : " are", " not in ", where));
  }
  AptSelectionRequest request;
  request.packages = options_.udebs;
  request.where = where;
  absl::StatusOr<AptSelection> selection = SelectAptPackages(udebs, request);
  if (!selection.ok()) return selection.status();
  // A dependency outside the udeb index (none in Debian's) is a warning, as
  // for debs: the installer environment cannot load it from this mirror.
  for (std::string& warning : selection->warnings) Warn(std::move(warning));
  result_.media.evidence.push_back(absl::StrCat(
      "--udebs: ", selection->packages.size(), " udebs (",
      options_.udebs.size(), " named, the rest their dependencies)"));
  return std::move(selection->packages);
}

absl::Status AptPlanner::PlanInstallerImages() {
  std::string sums_path = absl::StrCat(dists_, "/", sha256sums_);
  absl::StatusOr<std::string> text =
      ReadCompressedFile(Staged(sums_path), kMaxReleaseBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat(sums_path, ": ", text.status().message()));
  }
  absl::StatusOr<std::vector<Sha256SumsEntry>> sums = ParseSha256Sums(*text);
  if (!sums.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(sums_path, ": ", sums.status().message()));
  }
  std::string images_dir = sums_path.substr(0, sums_path.rfind('/'));
  std::string netboot =
      absl::StrCat("netboot/debian-installer/", options_.arch, "/");
  std::vector<PlannedFile> images;
  for (const char* name : {"linux", "initrd.gz"}) {
    std::string relative = netboot + name;
    const Sha256SumsEntry* found = nullptr;
    for (const Sha256SumsEntry& entry : *sums) {
      if (entry.path == relative) found = &entry;
    }
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "--installer: ", sums_path, " lists no ", log::Escaped(relative),
          " (the netboot kernel and initrd)"));
    }
    std::string path = absl::StrCat(images_dir, "/", relative);
    images.push_back(PlannedFile{path, Url(path), -1, found->sha256});
  }
  absl::Status status = fetch_(images);
  if (absl::IsNotFound(status)) {
    // Some archives (this project's own build machines' mirror among them)
    // list SHA256SUMS in Release but do not serve the images: the udebs are
    // still what a netboot install needs, and the kernel and initrd can come
    // from the debian-installer-NN-netboot-ARCH package (same SHA-256).
    Warn(absl::StrCat(
        "--installer: ", status.message(), ": the archive lists ", sums_path,
        " but does not serve the netboot kernel and initrd; the udebs are "
        "mirrored, the tree has no installer kernel (take it from the "
        "debian-installer netboot package; SHA256SUMS says linux ",
        images[0].sha256, ", initrd.gz ", images[1].sha256, ")"));
    result_.media.evidence.push_back(absl::StrCat(
        sums_path, ": netboot linux and initrd.gz listed, not served"));
    return absl::OkStatus();
  }
  if (!status.ok()) return status;
  for (PlannedFile& image : images) {
    struct stat st;
    if (stat(Staged(image.path).c_str(), &st) != 0) {
      return absl::InternalError(absl::StrCat(
          "fetched ", image.path, " is not at ", Staged(image.path)));
    }
    image.size = st.st_size;
    result_.plan.files.push_back(image);
  }
  // The udebs must match the netboot kernel's ABI: read it from the image.
  {
    // The setup header and the version string sit in the first 0x10300 bytes.
    std::ifstream in(Staged(images[0].path), std::ios::binary);
    std::string head(0x10300, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    netboot_abi_ = BzImageKernelAbi(head);
  }
  if (!netboot_abi_.empty()) {
    result_.media.evidence.push_back(
        absl::StrCat(images[0].path, ": bzImage of kernel ",
                     log::Escaped(netboot_abi_, 80)));
  }
  result_.media.kernel = images[0].path;
  result_.media.initrd = images[1].path;
  result_.media.evidence.push_back(
      absl::StrCat(sums_path, ": ", netboot, "linux and initrd.gz"));
  return absl::OkStatus();
}

absl::StatusOr<AptSourceResult> AptPlanner::Plan() {
  if (options_.suite.empty() || options_.suite.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--suite=", log::Escaped(options_.suite, 80),
                     " must be one suite or codename such as bookworm"));
  }
  absl::Status status = CheckMirrorPath(dists_);
  if (!status.ok()) return status;
  for (const std::string& name : options_.components) {
    status = CheckMirrorPath(name);
    if (!status.ok()) return status;
  }
  if (options_.components.empty()) {
    return absl::InvalidArgumentError("--components is empty");
  }
  if (options_.installer && !options_.udebs.empty()) {
    return absl::InvalidArgumentError(
        "--installer already takes every udeb of its kernel ABI: drop "
        "--udebs");
  }
  status = CheckMirrorPath(options_.arch);
  if (!status.ok() || options_.arch.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--arch=", log::Escaped(options_.arch, 40),
                     " is not an architecture name"));
  }
  absl::StatusOr<std::string> text = FetchRelease();
  if (!text.ok()) return text.status();
  absl::StatusOr<AptRelease> release = ParseAptRelease(*text);
  if (!release.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(release_name_, ": ", release.status().message()));
  }
  release_ = *std::move(release);
  status = CheckRelease();
  if (!status.ok()) return status;
  MediaInfo& media = result_.media;
  media.kind = "apt";
  media.family =
      release_.origin == "Ubuntu" ? "ubuntu-autoinstall" : "debian-preseed";
  media.distro = release_.origin;
  media.release =
      release_.version.empty() ? release_.codename : release_.version;
  media.arch = options_.arch;
  media.evidence.push_back(absl::StrCat(
      release_name_, ": Origin: ", log::Escaped(release_.origin, 80),
      ", Suite: ", log::Escaped(release_.suite, 80),
      ", Codename: ", log::Escaped(release_.codename, 80),
      ", Version: ", log::Escaped(release_.version, 80), ", signed by ",
      log::Escaped(absl::StrJoin(fingerprints_, " "), 200)));
  status = FetchIndexes();
  if (!status.ok()) return status;
  if (options_.installer) {
    status = PlanInstallerImages();
    if (!status.ok()) return status;
  }
  status = ParseIndexes();
  if (!status.ok()) return status;
  if (unlisted_warnings_ > 0) {
    result_.warnings.push_back(
        absl::StrCat("and ", unlisted_warnings_, " more warnings"));
  }
  return std::move(result_);
}

}  // namespace

absl::StatusOr<AptSourceResult> PlanAptSource(const AptSourceOptions& options,
                                              const std::string& staging_root,
                                              const FetchFilesFn& fetch) {
  AptPlanner planner(options, staging_root, fetch);
  return planner.Plan();
}

}  // namespace rackboot::mirror
