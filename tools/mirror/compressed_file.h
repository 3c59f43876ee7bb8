// ReadCompressedFile: the bytes of an index file as its publisher compressed it
// (gzip, xz, bzip2, zstd, or none), unpacked with libarchive's raw format and
// filters. apt's Packages.xz and yum's primary.xml.gz pass through here; the
// size bound stops a decompression bomb. Pure function over one file, any
// thread.
#ifndef RACKBOOT_TOOLS_MIRROR_COMPRESSED_FILE_H_
#define RACKBOOT_TOOLS_MIRROR_COMPRESSED_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::mirror {

// Default bound on an unpacked index: Debian's largest Packages file is about
// 100 MB.
inline constexpr int64_t kMaxUnpackedIndexBytes = int64_t{1} << 30;

// The unpacked contents of `path`; an uncompressed file comes back as is.
// FailedPrecondition when the unpacked bytes would pass `max_bytes`, DataLoss
// for a corrupt stream.
absl::StatusOr<std::string> ReadCompressedFile(
    const std::string& path, int64_t max_bytes = kMaxUnpackedIndexBytes);

// The same for bytes already in memory (tests and fuzzers).
absl::StatusOr<std::string> UnpackCompressed(
    absl::string_view bytes, int64_t max_bytes = kMaxUnpackedIndexBytes);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_COMPRESSED_FILE_H_
