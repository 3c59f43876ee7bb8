// Signature checks with gpgv (Debian's gpgv, the verifier apt itself runs):
// InRelease (inline), Release + Release.gpg and repomd.xml + repomd.xml.asc
// (detached), against one keyring file such as
// /usr/share/keyrings/debian-archive-keyring.gpg. gpgv runs as a child process
// with a fixed argument vector; its status lines, not its exit code alone,
// decide. Any thread; each call is one child process.
#ifndef RACKBOOT_TOOLS_MIRROR_SIGNATURE_VERIFIER_H_
#define RACKBOOT_TOOLS_MIRROR_SIGNATURE_VERIFIER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::mirror {

inline constexpr char kDebianArchiveKeyring[] =
    "/usr/share/keyrings/debian-archive-keyring.gpg";

struct VerifiedText {
  // Only the bytes the signature covers (for an inline-signed file, gpgv's
  // --output), never the text around it: parse this, not the file.
  std::string text;
  // VALIDSIG fingerprints, for the log and --json.
  std::vector<std::string> fingerprints;
};

// An inline-signed file (InRelease). PermissionDenied with gpgv's reason (bad
// signature, no public key, expired or revoked key) unless at least one good,
// valid signature of a key in `keyring` covers it; NotFound when the keyring
// file is missing.
absl::StatusOr<VerifiedText> VerifyInlineSigned(const std::string& signed_path,
                                                const std::string& keyring);

// A detached signature over `data_path` (Release.gpg, repomd.xml.asc). `text`
// is the data file.
absl::StatusOr<VerifiedText> VerifyDetached(const std::string& data_path,
                                            const std::string& signature_path,
                                            const std::string& keyring);

// The verdict on gpgv's --status-fd lines (pure; tests and the fuzzer feed it
// directly): OK only with GOODSIG and VALIDSIG and none of BADSIG, ERRSIG,
// EXPKEYSIG, REVKEYSIG, NO_PUBKEY.
absl::StatusOr<std::vector<std::string>> JudgeGpgvStatus(
    absl::string_view status_lines);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_SIGNATURE_VERIFIER_H_
