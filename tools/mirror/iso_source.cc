#include "tools/mirror/iso_source.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/log/log_text.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveCloser>;

// The checksum lists installer images carry (Debian: sha256sum.txt, Ubuntu
// and others: SHA256SUMS); kept in memory while streaming, bounded.
constexpr size_t kMaxSumsBytes = 16 << 20;
bool IsSumsFile(absl::string_view path) {
  return path == "sha256sum.txt" || path == "SHA256SUMS";
}

absl::StatusOr<ArchivePtr> OpenIso(const std::string& iso_path) {
  ArchivePtr a(archive_read_new());
  // ISO9660 only: a tar or zip renamed .iso is not an installer image.
  archive_read_support_format_iso9660(a.get());
  if (archive_read_open_filename(a.get(), iso_path.c_str(), 1 << 16) !=
      ARCHIVE_OK) {
    return absl::InvalidArgumentError(absl::StrCat(
        log::Quoted(iso_path),
        " is not a readable ISO9660 image: ", archive_error_string(a.get())));
  }
  return a;
}

// The entry's name as the mirror will use it: libarchive gives Rock Ridge or
// Joliet names, relative; a directory may come with a trailing '/'.
std::string EntryPath(struct archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  absl::string_view v = p == nullptr ? "" : p;
  while (absl::ConsumePrefix(&v, "./")) {
  }
  absl::ConsumeSuffix(&v, "/");
  return std::string(v);
}

enum class Kind { kRegular, kHardLink, kDirectory, kOther };

// xorriso (and mkisofs) give files that share an inode one extent; libarchive
// then reports every name after the first as a hard link to it, with no data.
// Those are regular files of the image all the same.
std::string HardLinkTarget(struct archive_entry* e) {
  const char* p = archive_entry_hardlink(e);
  absl::string_view v = p == nullptr ? "" : p;
  while (absl::ConsumePrefix(&v, "./")) {
  }
  return std::string(v);
}

Kind EntryKind(struct archive_entry* e) {
  if (archive_entry_hardlink(e) != nullptr) {
    return archive_entry_filetype(e) == AE_IFREG ||
                   archive_entry_filetype(e) == 0
               ? Kind::kHardLink
               : Kind::kOther;
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      return Kind::kRegular;
    case AE_IFDIR:
      return Kind::kDirectory;
    default:
      return Kind::kOther;
  }
}

absl::Status MakeParents(const std::string& root, const std::string& rel) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    std::string dir = absl::StrCat(root, "/", rel.substr(0, pos));
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot make ", log::Quoted(dir),
                                              ": ", std::strerror(errno)));
    }
    struct stat st;
    if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(log::Quoted(dir), " is in the way (not a directory)"));
    }
    ++pos;
  }
  return absl::OkStatus();
}

absl::Status WriteError(const std::string& path, const std::string& root,
                        int err) {
  if (err == ENOSPC || err == EDQUOT) {
    struct statvfs vfs;
    uint64_t free_bytes = 0;
    if (statvfs(root.c_str(), &vfs) == 0) {
      free_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;
    }
    return absl::ResourceExhaustedError(
        absl::StrCat("disk full writing ", path, ": ", free_bytes,
                     " bytes free on the filesystem of ", root));
  }
  return absl::InternalError(
      absl::StrCat("cannot write ", path, ": ", std::strerror(err)));
}

// "HEX  ./path" or "HEX *path" lines, paths made relative.
std::map<std::string, std::string> ParseSums(absl::string_view text) {
  std::map<std::string, std::string> sums;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.size() < 66 || (line[64] != ' ' && line[64] != '\t')) continue;
    std::string hex = absl::AsciiStrToLower(line.substr(0, 64));
    if (!IsSha256Hex(hex)) continue;
    absl::string_view path = absl::StripLeadingAsciiWhitespace(line.substr(65));
    absl::ConsumePrefix(&path, "*");
    while (absl::ConsumePrefix(&path, "./")) {
    }
    sums.emplace(std::string(path), hex);
  }
  return sums;
}

}  // namespace

absl::StatusOr<std::vector<IsoEntry>> ListIso(const std::string& iso_path) {
  auto a = OpenIso(iso_path);
  if (!a.ok()) return a.status();
  std::vector<IsoEntry> out;
  std::map<std::string, int64_t> sizes;
  struct archive_entry* e = nullptr;
  int64_t n = 0;
  for (;;) {
    int rc = archive_read_next_header(a->get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return absl::DataLossError(absl::StrCat(log::Quoted(iso_path), ": ",
                                              archive_error_string(a->get())));
    }
    if (++n > kMaxIsoEntries) {
      return absl::ResourceExhaustedError(absl::StrCat(
          log::Quoted(iso_path), ": more than ", kMaxIsoEntries, " entries"));
    }
    Kind kind = EntryKind(e);
    if (kind != Kind::kRegular && kind != Kind::kHardLink) continue;
    std::string path = EntryPath(e);
    // Unsafe names are left out here and warned about by ExtractIso.
    if (!CheckMirrorPath(path).ok()) continue;
    int64_t size = archive_entry_size(e);
    if (kind == Kind::kHardLink) {
      auto it = sizes.find(HardLinkTarget(e));
      if (it == sizes.end()) continue;
      size = it->second;
    }
    sizes.emplace(path, size);
    out.push_back({std::move(path), size});
  }
  return out;
}

absl::StatusOr<IsoExtractResult> ExtractIso(
    const std::string& iso_path, const std::string& staging_root,
    const std::function<bool(const IsoEntry&)>& want,
    const std::function<void(int64_t bytes)>& on_bytes,
    const std::atomic<bool>* cancel) {
  struct stat iso_st;
  if (stat(iso_path.c_str(), &iso_st) != 0 || !S_ISREG(iso_st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat(log::Quoted(iso_path), " is not a regular file"));
  }
  // zisofs entries inflate; an honest image never holds more than about its
  // own size, so twice that is a bomb.
  const int64_t max_total = 2 * static_cast<int64_t>(iso_st.st_size);
  auto a = OpenIso(iso_path);
  if (!a.ok()) return a.status();
  IsoExtractResult result;
  std::map<std::string, size_t> extracted;  // path -> index in result.files
  std::string sums_text;
  std::string sums_name;
  int64_t total = 0, n = 0, unsafe = 0;
  std::vector<char> block(1 << 20);
  struct archive_entry* e = nullptr;
  for (;;) {
    if (cancel != nullptr && cancel->load()) {
      return absl::CancelledError("ISO extraction interrupted");
    }
    int rc = archive_read_next_header(a->get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return absl::DataLossError(absl::StrCat(log::Quoted(iso_path), ": ",
                                              archive_error_string(a->get())));
    }
    if (++n > kMaxIsoEntries) {
      return absl::ResourceExhaustedError(absl::StrCat(
          log::Quoted(iso_path), ": more than ", kMaxIsoEntries, " entries"));
    }
    Kind kind = EntryKind(e);
    if (kind == Kind::kDirectory) continue;
    std::string path = EntryPath(e);
    if (kind == Kind::kOther) {
      ++result.skipped_links;
      continue;
    }
    absl::Status path_ok = CheckMirrorPath(path);
    if (!path_ok.ok()) {
      if (++unsafe <= 20) {
        result.warnings.push_back(
            absl::StrCat("skipped an ISO entry: ", path_ok.message()));
      }
      continue;
    }
    if (kind == Kind::kHardLink) {
      // Materialised as a hard link to the target's staged copy (the data is
      // the target's, already checked); unsafe or unknown targets skipped.
      auto target = extracted.find(HardLinkTarget(e));
      if (target == extracted.end()) {
        ++result.skipped_links;
        continue;
      }
      const PlannedFile t = result.files[target->second];
      IsoEntry entry{path, t.size};
      if (!want(entry) || t.sha256.empty()) {
        extracted.emplace(path, result.files.size());
        result.files.push_back({path, "", t.size, ""});
        continue;
      }
      absl::Status s = MakeParents(staging_root, path);
      if (!s.ok()) return s;
      const std::string from = absl::StrCat(staging_root, "/", t.path);
      const std::string to = absl::StrCat(staging_root, "/", path);
      unlink(to.c_str());
      if (link(from.c_str(), to.c_str()) != 0) {
        return WriteError(to, staging_root, errno);
      }
      extracted.emplace(path, result.files.size());
      result.files.push_back({path, "", t.size, t.sha256});
      continue;
    }
    IsoEntry entry{path, archive_entry_size(e)};
    const bool sums = IsSumsFile(path) && entry.size <= int64_t{kMaxSumsBytes};
    if (sums) sums_name = path;
    if (!want(entry)) {
      if (sums) {
        // Not written (the caller reuses it), still read for the cross-check.
        sums_text.clear();
        for (;;) {
          la_ssize_t got =
              archive_read_data(a->get(), block.data(), block.size());
          if (got < 0) {
            return absl::DataLossError(absl::StrCat(
                log::Quoted(iso_path), ": ", archive_error_string(a->get())));
          }
          if (got == 0 || sums_text.size() + got > kMaxSumsBytes) break;
          sums_text.append(block.data(), static_cast<size_t>(got));
        }
      }
      extracted.emplace(path, result.files.size());
      result.files.push_back({path, "", entry.size, ""});
      continue;
    }
    absl::Status s = MakeParents(staging_root, path);
    if (!s.ok()) return s;
    const std::string final_path = absl::StrCat(staging_root, "/", path);
    const std::string part = final_path + ".part";
    int fd = open(part.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return WriteError(part, staging_root, errno);
    auto fail = [&](absl::Status status) {
      close(fd);
      unlink(part.c_str());
      return status;
    };
    Sha256Hasher hasher;
    int64_t written = 0;
    if (sums) sums_text.clear();
    for (;;) {
      if (cancel != nullptr && cancel->load()) {
        return fail(absl::CancelledError("ISO extraction interrupted"));
      }
      la_ssize_t got = archive_read_data(a->get(), block.data(), block.size());
      if (got < 0) {
        return fail(absl::DataLossError(
            absl::StrCat(log::Quoted(iso_path), ": reading ", log::Quoted(path),
                         ": ", archive_error_string(a->get()))));
      }
      if (got == 0) break;
      total += got;
      if (total > max_total) {
        return fail(absl::ResourceExhaustedError(absl::StrCat(
            log::Quoted(iso_path), ": unpacks to more than twice its size (",
            max_total, " bytes); refusing a compression bomb")));
      }
      absl::string_view bytes(block.data(), static_cast<size_t>(got));
      hasher.Update(bytes);
      if (sums && sums_text.size() + bytes.size() <= kMaxSumsBytes) {
        sums_text.append(bytes.data(), bytes.size());
      }
      size_t off = 0;
      while (off < bytes.size()) {
        ssize_t w = write(fd, bytes.data() + off, bytes.size() - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          return fail(WriteError(final_path, staging_root, errno));
        }
        off += static_cast<size_t>(w);
      }
      written += got;
      if (on_bytes) on_bytes(got);
    }
    if (archive_entry_size_is_set(e) && written != entry.size) {
      // A truncated image: the directory says more than the extent held.
      return fail(absl::DataLossError(
          absl::StrCat(log::Quoted(iso_path), ": ", log::Quoted(path),
                       " should hold ", entry.size, " bytes, the image gave ",
                       written, " (a truncated image?)")));
    }
    if (fsync(fd) != 0) {
      return fail(WriteError(final_path, staging_root, errno));
    }
    if (close(fd) != 0) {
      unlink(part.c_str());
      return WriteError(final_path, staging_root, errno);
    }
    if (rename(part.c_str(), final_path.c_str()) != 0) {
      unlink(part.c_str());
      return WriteError(final_path, staging_root, errno);
    }
    extracted.emplace(path, result.files.size());
    result.files.push_back({path, "", written, hasher.HexDigest()});
  }
  if (unsafe > 20) {
    result.warnings.push_back(absl::StrCat(
        "skipped ", unsafe, " ISO entries with unsafe names in all"));
  }
  if (result.skipped_links > 0) {
    result.warnings.push_back(absl::StrCat(
        "skipped ", result.skipped_links,
        " symlink/device entries of the ISO (only regular files are "
        "mirrored)"));
  }
  if (!sums_name.empty()) {
    const auto sums = ParseSums(sums_text);
    int checked = 0;
    for (const PlannedFile& f : result.files) {
      if (f.sha256.empty()) continue;
      auto it = sums.find(f.path);
      if (it == sums.end()) continue;
      ++checked;
      if (it->second != f.sha256) {
        unlink(absl::StrCat(staging_root, "/", f.path).c_str());
        return absl::DataLossError(absl::StrCat(
            log::Quoted(f.path), " in ", log::Quoted(iso_path),
            " does not match the image's ", sums_name, ": expected ",
            it->second, ", got ", f.sha256, " (a damaged image?)"));
      }
    }
    if (checked == 0) {
      result.warnings.push_back(absl::StrCat(
          sums_name, " in the image lists none of the extracted files"));
    }
  }
  return result;
}

}  // namespace rackboot::mirror
