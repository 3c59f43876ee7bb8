// Sha256Hasher: incremental SHA-256 (OpenSSL's EVP), the checksum apt's Release
// files, yum's repomd.xml and the mirror's own manifest use for every file. One
// hasher per file; not thread-safe, any thread may own one.
#ifndef RACKBOOT_TOOLS_MIRROR_SHA256_H_
#define RACKBOOT_TOOLS_MIRROR_SHA256_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::mirror {

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(absl::string_view bytes);
  // The digest as 64 lowercase hex digits; the hasher starts over afterwards.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// SHA-256 of a whole string, as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view bytes);

// SHA-256 of a file's contents (read in 1 MiB blocks), as 64 lowercase hex
// digits.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

// True for exactly 64 lowercase hex digits.
bool IsSha256Hex(absl::string_view hex);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_SHA256_H_
