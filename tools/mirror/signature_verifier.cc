#include "tools/mirror/signature_verifier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/log/log_text.h"

namespace rackboot::mirror {
namespace {

constexpr size_t kMaxStatusBytes = 1 << 20;

std::string Slurp(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  // Sized by the file, not by the bound: zero-filling a 64 MiB buffer for a
  // 150 KiB InRelease cost 20 ms per gpgv run.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size >= 0 && static_cast<size_t>(size) < max_bytes) {
    max_bytes = static_cast<size_t>(size);
  }
  text.resize(max_bytes);
  in.read(text.data(), static_cast<std::streamsize>(max_bytes));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// A private directory for gpgv's status, output and stderr, removed when it
// goes.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp",
                                       "/rackboot-gpgv.XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    if (path_.empty()) return;
    for (const char* name : {"/status", "/output", "/stderr"}) {
      unlink((path_ + name).c_str());
    }
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct GpgvRun {
  std::string status;
  std::string output;
  std::string stderr_text;
  int exit_code = -1;
};

absl::StatusOr<GpgvRun> RunGpgv(const std::string& keyring,
                                std::vector<std::string> tail,
                                bool want_output) {
  struct stat st;
  if (stat(keyring.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "keyring ", log::Quoted(keyring), ": ", std::strerror(errno),
        " (give --keyring=FILE, a gpg keyring)"));
  }
  ScratchDir scratch;
  if (scratch.path().empty()) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  const std::string status_path = scratch.path() + "/status";
  const std::string output_path = scratch.path() + "/output";
  const std::string stderr_path = scratch.path() + "/stderr";
  std::vector<std::string> args = {"gpgv", "--status-fd", "3", "--keyring",
                                   keyring};
  if (want_output) {
    args.push_back("--output");
    args.push_back(output_path);
  }
  args.insert(args.end(), tail.begin(), tail.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int status_fd =
      open(status_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int stderr_fd =
      open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (status_fd < 0 || stderr_fd < 0) {
    if (status_fd >= 0) close(status_fd);
    if (stderr_fd >= 0) close(stderr_fd);
    return absl::InternalError(
        absl::StrCat("gpgv scratch files: ", std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(status_fd);
    close(stderr_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(stderr_fd, 2);
    dup2(status_fd, 3);
    fcntl(3, F_SETFD, 0);  // dup2 onto itself keeps O_CLOEXEC
    execvp("gpgv", argv.data());
    _exit(127);
  }
  close(status_fd);
  close(stderr_fd);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  GpgvRun run;
  run.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128;
  if (run.exit_code == 127) {
    return absl::FailedPreconditionError(
        "gpgv did not run: install Debian's gpgv (./rackboot setup)");
  }
  run.status = Slurp(status_path, kMaxStatusBytes);
  run.stderr_text = Slurp(stderr_path, 4096);
  if (want_output) run.output = Slurp(output_path, size_t{64} << 20);
  return run;
}

absl::StatusOr<VerifiedText> Judge(const GpgvRun& run, absl::string_view what) {
  absl::StatusOr<std::vector<std::string>> fingerprints =
      JudgeGpgvStatus(run.status);
  if (!fingerprints.ok()) {
    std::string reason(absl::StripAsciiWhitespace(run.stderr_text));
    return absl::PermissionDeniedError(absl::StrCat(
        what, ": signature not accepted: ", fingerprints.status().message(),
        reason.empty()
            ? ""
            : absl::StrCat(" (gpgv: ", log::Escaped(reason, 300), ")")));
  }
  if (run.exit_code != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": gpgv exited with ", run.exit_code));
  }
  VerifiedText verified;
  verified.text = run.output;
  verified.fingerprints = *std::move(fingerprints);
  return verified;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> JudgeGpgvStatus(
    absl::string_view status_lines) {
  bool good = false;
  std::vector<std::string> fingerprints;
  std::vector<std::string> bad;
  for (absl::string_view line : absl::StrSplit(status_lines, '\n')) {
    if (!absl::ConsumePrefix(&line, "[GNUPG:] ")) continue;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    absl::string_view keyword = words[0];
    if (keyword == "GOODSIG") {
      good = true;
    } else if (keyword == "VALIDSIG" && words.size() >= 2) {
      if (fingerprints.size() < 16)
        fingerprints.emplace_back(log::Escaped(words[1], 64));
    } else if (keyword == "BADSIG" || keyword == "ERRSIG" ||
               keyword == "EXPKEYSIG" || keyword == "REVKEYSIG" ||
               keyword == "NO_PUBKEY" || keyword == "EXPSIG") {
      if (bad.size() < 8) bad.emplace_back(keyword);
    }
  }
  if (!bad.empty()) {
    return absl::PermissionDeniedError(absl::StrJoin(bad, ", "));
  }
  if (!good || fingerprints.empty()) {
    return absl::PermissionDeniedError("no good, valid signature");
  }
  return fingerprints;
}

absl::StatusOr<VerifiedText> VerifyInlineSigned(const std::string& signed_path,
                                                const std::string& keyring) {
  absl::StatusOr<GpgvRun> run =
      RunGpgv(keyring, {signed_path}, /*want_output=*/true);
  if (!run.ok()) return run.status();
  return Judge(*run, signed_path);
}

absl::StatusOr<VerifiedText> VerifyDetached(const std::string& data_path,
                                            const std::string& signature_path,
                                            const std::string& keyring) {
  absl::StatusOr<GpgvRun> run =
      RunGpgv(keyring, {signature_path, data_path}, /*want_output=*/false);
  if (!run.ok()) return run.status();
  absl::StatusOr<VerifiedText> verified = Judge(*run, data_path);
  if (!verified.ok()) return verified.status();
  std::ifstream in(data_path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  verified->text = text.str();
  return verified;
}

}  // namespace rackboot::mirror
