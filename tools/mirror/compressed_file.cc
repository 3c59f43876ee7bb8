#include "tools/mirror/compressed_file.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rackboot::mirror {
namespace {

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveCloser>;

ArchivePtr NewRawReader() {
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  return a;
}

absl::StatusOr<std::string> ReadAll(struct archive* a, absl::string_view what,
                                    int64_t max_bytes) {
  struct archive_entry* entry = nullptr;
  int rc = archive_read_next_header(a, &entry);
  if (rc == ARCHIVE_EOF) return std::string();
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
    return absl::DataLossError(
        absl::StrCat(what, ": cannot unpack: ", archive_error_string(a)));
  }
  std::string out;
  char block[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a, block, sizeof(block));
    if (n < 0) {
      return absl::DataLossError(absl::StrCat(
          what, ": corrupt compressed data: ", archive_error_string(a)));
    }
    if (n == 0) break;
    if (static_cast<int64_t>(out.size()) + n > max_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": unpacks to more than ", max_bytes, " bytes"));
    }
    out.append(block, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadCompressedFile(const std::string& path,
                                               int64_t max_bytes) {
  ArchivePtr a = NewRawReader();
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) !=
      ARCHIVE_OK) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", archive_error_string(a.get())));
  }
  return ReadAll(a.get(), path, max_bytes);
}

absl::StatusOr<std::string> UnpackCompressed(absl::string_view bytes,
                                             int64_t max_bytes) {
  ArchivePtr a = NewRawReader();
  if (bytes.empty()) return std::string();
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) !=
      ARCHIVE_OK) {
    return absl::DataLossError(
        absl::StrCat("cannot unpack: ", archive_error_string(a.get())));
  }
  return ReadAll(a.get(), "index", max_bytes);
}

}  // namespace rackboot::mirror
