#include "engine/site/bring_up_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rackboot::site {

absl::StatusOr<std::map<std::string, BringUpPhase>> BringUpLog::Read(
    const std::string& state_dir) {
  std::map<std::string, BringUpPhase> phases;  // an absent file: none
  const std::string path = absl::StrCat(state_dir, "/", kFileName);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return phases;
    return absl::UnavailableError(
        absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

std::map<std::string, BringUpPhase> BringUpLog::Parse(absl::string_view text) {
  std::map<std::string, BringUpPhase> phases;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    int64_t seconds = 0;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[2], &seconds)) continue;
    phases[fields[0]] = {fields[1], absl::FromUnixSeconds(seconds)};
  }
  return phases;
}

absl::StatusOr<std::unique_ptr<BringUpLog>> BringUpLog::Open(
    const std::string& state_dir) {
  absl::StatusOr<std::map<std::string, BringUpPhase>> phases = Read(state_dir);
  if (!phases.ok()) return phases.status();
  // Written through this descriptor, so a daemon that dropped root after
  // Open still reaches a state directory below a path it may not traverse.
  const int dir_fd =
      open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat(state_dir, ": ", std::strerror(errno)));
  }
  std::unique_ptr<BringUpLog> log(
      new BringUpLog(absl::StrCat(state_dir, "/", kFileName), dir_fd));
  absl::MutexLock lock(&log->mu_);
  log->phases_ = *std::move(phases);
  return log;
}

BringUpLog::~BringUpLog() {
  if (dir_fd_ >= 0) close(dir_fd_);
}

void BringUpLog::Record(absl::string_view hostname, absl::string_view phase,
                        absl::Time now) {
  absl::MutexLock lock(&mu_);
  phases_[std::string(hostname)] = {std::string(phase), now};
  dirty_ = true;
}

void BringUpLog::RecordUnlessInstalling(absl::string_view hostname,
                                        absl::string_view phase,
                                        absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = phases_.find(std::string(hostname));
  if (it != phases_.end() &&
      (it->second.phase == "installing" || it->second.phase == "failed" ||
       it->second.phase == "done")) {
    return;
  }
  phases_[std::string(hostname)] = {std::string(phase), now};
  dirty_ = true;
}

absl::Status BringUpLog::Flush() {
  absl::MutexLock lock(&mu_);
  if (!dirty_) return absl::OkStatus();
  absl::Status written = WriteLocked();
  if (written.ok()) dirty_ = false;
  return written;
}

std::map<std::string, BringUpPhase> BringUpLog::Phases() const {
  absl::MutexLock lock(&mu_);
  return phases_;
}

absl::Status BringUpLog::WriteLocked() {
  std::string text;
  for (const auto& [host, phase] : phases_) {
    absl::StrAppend(&text, host, "\t", phase.phase, "\t",
                    absl::ToUnixSeconds(phase.when), "\n");
  }
  const std::string temp = path_ + ".tmp";
  const std::string temp_name = absl::StrCat(kFileName, ".tmp");
  int fd = openat(dir_fd_, temp_name.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::UnavailableError(
        absl::StrCat(temp, ": ", std::strerror(errno)));
  const bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written ||
      renameat(dir_fd_, temp_name.c_str(), dir_fd_, kFileName) != 0) {
    return absl::UnavailableError(
        absl::StrCat(path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rackboot::site
