#include "tools/mirror/media_recognizer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "engine/log/log_text.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/yum_repo.h"

namespace rackboot::mirror {
namespace {

// Metadata files are small; anything bigger is not what it claims to be.
constexpr size_t kMaxMetadataBytes = 1 << 20;
constexpr size_t kMaxIniLines = 100000;
constexpr int kMaxDistsEntries = 64;

using Ini = std::map<std::string, std::map<std::string, std::string>>;

// productmd's .treeinfo is Python ConfigParser INI: [section], "key = value",
// '#'/';' comments. Keys are lower-cased as ConfigParser does; first wins.
absl::StatusOr<Ini> ParseIni(absl::string_view text) {
  if (text.size() > kMaxMetadataBytes) {
    return absl::InvalidArgumentError(".treeinfo: larger than 1 MiB");
  }
  Ini ini;
  std::string section;
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (++lines > kMaxIniLines) {
      return absl::InvalidArgumentError(".treeinfo: too many lines");
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') {
        return absl::InvalidArgumentError(absl::StrCat(
            ".treeinfo: malformed section header ", log::Quoted(line)));
      }
      section = std::string(
          absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
      ini[section];
      continue;
    }
    size_t eq = line.find_first_of("=:");
    if (eq == absl::string_view::npos || section.empty()) continue;
    std::string key =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, eq)));
    ini[section].emplace(
        key, std::string(absl::StripAsciiWhitespace(line.substr(eq + 1))));
  }
  return ini;
}

std::string Get(const Ini& ini, const std::string& section,
                const std::string& key) {
  auto s = ini.find(section);
  if (s == ini.end()) return "";
  auto k = s->second.find(key);
  return k == s->second.end() ? "" : k->second;
}

std::string TreeArch(const Ini& ini, absl::string_view arch_hint) {
  if (!arch_hint.empty()) return std::string(arch_hint);
  std::string arch = Get(ini, "tree", "arch");
  return arch.empty() ? Get(ini, "general", "arch") : arch;
}

// Reads a small regular file under `dirfd` without following a symlink at
// its last component; NotFound when absent or not a regular file.
absl::StatusOr<std::string> ReadSmallFile(int dirfd, const std::string& rel) {
  int fd = openat(dirfd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(rel);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::NotFoundError(rel);
  }
  if (static_cast<size_t>(st.st_size) > kMaxMetadataBytes) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(rel, ": larger than 1 MiB, not a metadata file"));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = read(fd, out.data() + got, out.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out.resize(got);
  return out;
}

bool IsRegular(int dirfd, const std::string& rel) {
  struct stat st;
  return fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

bool IsDirectory(int dirfd, const std::string& rel) {
  struct stat st;
  return fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(st.st_mode);
}

// Sorted names of a directory (no "." / ".."), at most `max`.
std::vector<std::string> ListNames(int dirfd, const std::string& rel,
                                   size_t max) {
  std::vector<std::string> names;
  int fd = openat(dirfd, rel.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return names;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return names;
  }
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(name);
    if (names.size() >= 4096) break;
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  if (names.size() > max) names.resize(max);
  return names;
}

std::string FirstLine(absl::string_view text) {
  return std::string(absl::StripAsciiWhitespace(
      text.substr(0, std::min(text.find('\n'), size_t{512}))));
}

constexpr absl::string_view kKnownArches[] = {
    "amd64", "arm64",   "i386",     "armhf",  "armel",   "ppc64el",
    "s390x", "riscv64", "mips64el", "x86_64", "aarch64", "ppc64le"};

// Top-level deb822 fields of an unsigned Release on disk (continuation
// lines of the checksum lists are skipped).
std::map<std::string, std::string> ReleaseFields(absl::string_view text) {
  std::map<std::string, std::string> fields;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') continue;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    fields.emplace(
        std::string(line.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
    if (fields.size() > 64) break;
  }
  return fields;
}

}  // namespace

absl::StatusOr<MediaInfo> ParseTreeinfo(absl::string_view text,
                                        absl::string_view arch_hint) {
  auto ini = ParseIni(text);
  if (!ini.ok()) return ini.status();
  MediaInfo m;
  m.kind = "treeinfo";
  m.family = "rhel-kickstart";
  m.distro = Get(*ini, "release", "name");
  if (m.distro.empty()) m.distro = Get(*ini, "general", "family");
  m.release = Get(*ini, "release", "version");
  if (m.release.empty()) m.release = Get(*ini, "general", "version");
  m.arch = TreeArch(*ini, arch_hint);
  if (m.distro.empty() || m.release.empty()) {
    return absl::InvalidArgumentError(
        ".treeinfo names no product: expected [release] name and version (or "
        "[general] family and version)");
  }
  for (auto* field : {&m.distro, &m.release, &m.arch}) {
    if (field->size() > 256) field->resize(256);
  }
  const std::string images = absl::StrCat("images-", m.arch);
  m.kernel = Get(*ini, images, "kernel");
  m.initrd = Get(*ini, images, "initrd");
  for (const std::string* p : {&m.kernel, &m.initrd}) {
    if (p->empty()) continue;
    absl::Status s = CheckMirrorPath(*p);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          ".treeinfo [", log::Escaped(images), "]: ", s.message()));
    }
  }
  m.evidence.push_back(absl::StrCat(
      ".treeinfo: ", log::Escaped(m.distro), " ", log::Escaped(m.release), " ",
      log::Escaped(m.arch),
      m.kernel.empty()
          ? absl::StrCat(", no [", log::Escaped(images), "] kernel")
          : absl::StrCat(", kernel ", log::Escaped(m.kernel), ", initrd ",
                         log::Escaped(m.initrd))));
  return m;
}

absl::StatusOr<std::vector<PlannedFile>> ParseTreeinfoImages(
    absl::string_view text, absl::string_view arch_hint) {
  auto ini = ParseIni(text);
  if (!ini.ok()) return ini.status();
  std::vector<std::string> paths;
  auto images = ini->find(absl::StrCat("images-", TreeArch(*ini, arch_hint)));
  if (images != ini->end()) {
    for (const auto& [key, path] : images->second) paths.push_back(path);
  }
  std::string stage2 = Get(*ini, "stage2", "mainimage");
  if (!stage2.empty()) paths.push_back(stage2);
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  const auto checksums = ini->find("checksums");
  std::vector<PlannedFile> out;
  for (const std::string& path : paths) {
    absl::Status s = CheckMirrorPath(path);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(".treeinfo: ", s.message()));
    }
    PlannedFile f;
    f.path = path;
    if (checksums != ini->end()) {
      // ConfigParser lower-cases keys; so does ParseIni. Image paths in the
      // wild are lower case; a mixed-case one simply goes unverified.
      auto c = checksums->second.find(absl::AsciiStrToLower(path));
      if (c != checksums->second.end()) {
        absl::string_view v = c->second;
        if (absl::ConsumePrefix(&v, "sha256:")) {
          std::string hex = absl::AsciiStrToLower(v);
          if (hex.size() != 64 ||
              hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
            return absl::InvalidArgumentError(
                absl::StrCat(".treeinfo [checksums]: malformed sha256 for ",
                             log::Quoted(path)));
          }
          f.sha256 = hex;
        }
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

absl::StatusOr<MediaInfo> ParseDiskInfo(absl::string_view text) {
  const std::string line = FirstLine(text);
  auto refuse = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        ".disk/info is not Debian or Ubuntu media: ", log::Quoted(line)));
  };
  MediaInfo m;
  m.kind = "debian-iso";
  if (absl::StartsWith(line, "Debian")) {
    m.distro = "Debian";
    m.family = "debian-preseed";
  } else if (absl::StartsWith(line, "Ubuntu")) {
    m.distro = "Ubuntu";
    m.family = "ubuntu-autoinstall";
  } else {
    return refuse();
  }
  // "Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST ...": before
  // " - " the release is the first word that starts with a digit (a testing
  // snapshot has none: then the quoted codename, "Trixie"); after it the arch
  // is the first known architecture word.
  size_t dash = line.find(" - ");
  absl::string_view head = absl::string_view(line).substr(0, dash);
  absl::string_view tail = dash == std::string::npos
                               ? absl::string_view()
                               : absl::string_view(line).substr(dash + 3);
  for (absl::string_view w :
       absl::StrSplit(head, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(w[0]))) {
      m.release = std::string(w.substr(0, 32));
      break;
    }
  }
  if (m.release.empty()) {
    size_t open = head.find('"');
    size_t close = open == absl::string_view::npos ? absl::string_view::npos
                                                   : head.find('"', open + 1);
    if (close != absl::string_view::npos && close > open + 1) {
      m.release = absl::AsciiStrToLower(
          head.substr(open + 1, std::min<size_t>(close - open - 1, 32)));
    }
  }
  if (m.release.empty()) return refuse();
  for (absl::string_view w :
       absl::StrSplit(tail, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    for (absl::string_view a : kKnownArches) {
      if (w == a) m.arch = std::string(a);
    }
    if (!m.arch.empty()) break;
  }
  m.evidence.push_back(absl::StrCat(".disk/info: ", log::Escaped(line)));
  return m;
}

absl::StatusOr<MediaInfo> RecognizeMedia(const std::string& tree_root) {
  int root = open(tree_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    return absl::NotFoundError(absl::StrCat("media at ", log::Quoted(tree_root),
                                            " is not a directory"));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{root};

  // .treeinfo: RHEL, Rocky, Alma, Fedora trees and DVDs.
  auto treeinfo = ReadSmallFile(root, ".treeinfo");
  if (treeinfo.ok()) {
    auto m = ParseTreeinfo(*treeinfo, "");
    if (!m.ok()) return m.status();
    for (std::string* p : {&m->kernel, &m->initrd}) {
      if (!p->empty() && !IsRegular(root, *p)) {
        m->evidence.push_back(absl::StrCat(
            log::Escaped(*p), ": named by .treeinfo, not in the tree"));
        p->clear();
      }
    }
    return m;
  }

  // .disk/info: Debian and Ubuntu images.
  auto disk_info = ReadSmallFile(root, ".disk/info");
  if (disk_info.ok()) {
    auto m = ParseDiskInfo(*disk_info);
    if (!m.ok()) return m.status();
    struct Probe {
      const char* kernel;
      const char* initrd;
    };
    static constexpr Probe kDebian[] = {
        {"install.amd/vmlinuz", "install.amd/initrd.gz"},
        {"install.a64/vmlinuz", "install.a64/initrd.gz"},
        {"install.386/vmlinuz", "install.386/initrd.gz"},
        {"install/vmlinuz", "install/initrd.gz"},
    };
    static constexpr Probe kUbuntu[] = {
        {"casper/vmlinuz", "casper/initrd"},
        {"casper/vmlinuz", "casper/initrd.gz"},
        {"casper/vmlinuz", "casper/initrd.lz"},
        {"casper/hwe-vmlinuz", "casper/hwe-initrd"},
    };
    bool ubuntu = m->family == "ubuntu-autoinstall";
    for (const Probe& p :
         ubuntu ? absl::MakeConstSpan(kUbuntu) : absl::MakeConstSpan(kDebian)) {
      if (IsRegular(root, p.kernel) && IsRegular(root, p.initrd)) {
        m->kernel = p.kernel;
        m->initrd = p.initrd;
        m->evidence.push_back(absl::StrCat(p.kernel, ", ", p.initrd,
                                           ": installer kernel and initrd"));
        break;
      }
    }
    if (m->kernel.empty()) {
      m->evidence.push_back(absl::StrCat(
          "no installer kernel found (looked in ",
          ubuntu ? "casper/"
                 : "install.amd/, install.a64/, install.386/, install/",
          ")"));
    }
    return m;
  }

  // dists/*/Release: an apt tree on disk (unsigned is fine: it is local).
  for (const std::string& suite : ListNames(root, "dists", kMaxDistsEntries)) {
    const std::string rel = absl::StrCat("dists/", suite, "/Release");
    // Debian media carry dists/stable -> bookworm symlinks: only the real
    // directory counts.
    if (!IsDirectory(root, absl::StrCat("dists/", suite))) continue;
    auto text = ReadSmallFile(root, rel);
    if (!text.ok()) continue;
    auto f = ReleaseFields(*text);
    MediaInfo m;
    m.kind = "apt";
    m.distro = f["Origin"].substr(0, 64);
    if (m.distro == "Debian") m.family = "debian-preseed";
    if (m.distro == "Ubuntu") m.family = "ubuntu-autoinstall";
    m.release =
        (f["Version"].empty() ? f["Codename"] : f["Version"]).substr(0, 64);
    if (m.release.empty()) m.release = suite.substr(0, 64);
    for (absl::string_view a :
         absl::StrSplit(f["Architectures"], ' ', absl::SkipEmpty())) {
      if (a != "all" && a != "source") {
        m.arch = std::string(a.substr(0, 32));
        break;
      }
    }
    m.evidence.push_back(
        absl::StrCat(log::Escaped(rel), ": Origin ", log::Escaped(f["Origin"]),
                     ", Codename ", log::Escaped(f["Codename"]), ", Version ",
                     log::Escaped(f["Version"]), ", Architectures ",
                     log::Escaped(f["Architectures"])));
    if (!m.arch.empty() && CheckMirrorPath(suite).ok()) {
      const std::string dir = absl::StrCat(
          "dists/", suite, "/main/installer-", m.arch,
          "/current/images/netboot/debian-installer/", m.arch, "/");
      if (IsRegular(root, dir + "linux") &&
          IsRegular(root, dir + "initrd.gz")) {
        m.kernel = dir + "linux";
        m.initrd = dir + "initrd.gz";
        m.evidence.push_back(
            absl::StrCat(dir, "{linux,initrd.gz}: netboot installer"));
      }
    }
    return m;
  }

  // repodata/repomd.xml: a yum repository.
  auto repomd = ReadSmallFile(root, "repodata/repomd.xml");
  if (repomd.ok()) {
    auto parsed = ParseRepomd(*repomd);
    if (!parsed.ok()) return parsed.status();
    MediaInfo m;
    m.kind = "yum";
    m.evidence.push_back(absl::StrCat("repodata/repomd.xml: revision ",
                                      log::Escaped(parsed->revision), ", ",
                                      parsed->data.size(), " metadata files"));
    return m;
  }

  std::vector<std::string> found;
  for (const std::string& name : ListNames(root, ".", 10)) {
    found.push_back(log::Escaped(name));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "unrecognised media at ", tree_root, ": found ",
      found.empty() ? "nothing" : absl::StrJoin(found, ", "),
      "; expected .treeinfo (RHEL-like), .disk/info (Debian/Ubuntu media), "
      "dists/*/Release (apt) or repodata/repomd.xml (yum)"));
}

}  // namespace rackboot::mirror
