// The file side of `rackboot gen`: writes the rendered files of many hosts
// into one output directory so that no server reading it ever sees half a
// file, and install files (which hold a token and a root password hash) are
// readable by their owner only.
//
//   std::vector<OutputFile> files = ...;   // every host's, rendered first
//   absl::StatusOr<WriteReport> report = WriteOutputFiles("/srv/gen", files);
//
// How: every file is first written, fsynced and given its mode in a staging
// directory inside the output directory (.rackboot-gen-XXXXXX, mode 0700, so
// on the same file system), then each is renamed over its final name and the
// directories are fsynced. A reader sees the old file or the new one, never a
// mix; a crash leaves at most the staging directory (removed by the next run).
// Paths are relative, '/'-separated, made of [A-Za-z0-9._-] segments (no
// "." or ".."), and every directory on the way must be a real directory: a
// symlink inside the output directory is refused, so a file can never land
// outside it. Directories gen makes are 0755, except install/ (0711: its
// token-named entries cannot be listed) and install/<token>/ (0700).
//
// Stateless functions; any thread, but two concurrent runs on one output
// directory race file by file (each file stays whole).
#ifndef RACKBOOT_TOOLS_GEN_OUTPUT_WRITER_H_
#define RACKBOOT_TOOLS_GEN_OUTPUT_WRITER_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rackboot::gen {

struct OutputFile {
  std::string path;     // relative to the output directory
  std::string bytes;    // the whole content
  bool secret = false;  // mode 0600 (else 0644)
};

// OK when `path` is a relative path gen may write (see above); otherwise
// InvalidArgument saying what is wrong with it.
absl::Status CheckOutputPath(absl::string_view path);

struct WriteReport {
  std::vector<std::string> written;        // every path, in the order given
  std::vector<std::string> stale_removed;  // install/<token> directories
};

// Writes `files` (paths checked first, duplicates refused: then nothing is
// written). Creates `out_dir` (and missing parents, 0755) when absent.
// Errors name the path and the system's reason; files renamed before an
// error stay (each whole), the staging directory is removed.
absl::StatusOr<WriteReport> WriteOutputFiles(
    const std::string& out_dir, const std::vector<OutputFile>& files);

// Removes install/<token>/ directories of `out_dir` whose token is not in
// `keep` (a revoked or expired token's install files must not stay
// servable): only directories named by 32 lowercase hex digits, holding only
// regular files; anything else there is left and named in the error.
// Returns the removed directories ("install/<first 6 hex>…", never the
// whole token). A missing install/ is nothing to do.
absl::StatusOr<std::vector<std::string>> RemoveStaleInstallDirs(
    const std::string& out_dir, const std::set<std::string>& keep);

// Files in `out_dir`'s pxelinux.cfg/, grub/ and ipxe/ named as gen names a
// host's files (01-<mac>, grub.cfg-01-<mac>, 01-<mac>.ipxe) that are not in
// `written`: after a run over every host, the files of MACs no longer in the
// inventory (a host removed or given a new MAC). gen leaves them (they may be
// the operator's own) and names them. Sorted; a missing directory is empty.
std::vector<std::string> UnwrittenHostFiles(
    const std::string& out_dir, const std::set<std::string>& written);

// "install/3fa9c1…/ks.cfg" for "install/<token>/ks.cfg": install paths with
// the token cut to its first 6 hex digits, for anything printed. Other paths
// unchanged.
std::string RedactedPath(absl::string_view path);

// Whether `text` is an install token: 32 lowercase hex digits.
bool IsToken(absl::string_view text);

}  // namespace rackboot::gen

#endif  // RACKBOOT_TOOLS_GEN_OUTPUT_WRITER_H_
