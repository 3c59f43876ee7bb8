#include "engine/site/host_states.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace rackboot::site {
namespace {

constexpr size_t kMaxStateFile = 64 << 20;

absl::Status ErrnoError(absl::string_view path, absl::string_view what,
                        int err) {
  const std::string message =
      absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error (close can report a failed write-back).
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// mkdir -p with mode 0750 for each directory created.
absl::Status MakeDirs(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty state_dir");
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return ErrnoError(prefix, "cannot create directory", errno);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return ErrnoError(path, "cannot stat", errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAll(int fd, const std::string& path) {
  std::string text;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(path, "read failed", errno);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxStateFile) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": larger than 64 MiB"));
    }
  }
  return text;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(path, "write failed", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string Lower(absl::string_view s) {
  if (std::any_of(s.begin(), s.end(), absl::ascii_isupper)) {
    return absl::AsciiStrToLower(s);
  }
  return std::string(s);
}

}  // namespace

bool HostStateStore::FileId::operator==(const FileId& o) const {
  if (exists != o.exists) return false;
  if (!exists) return true;
  return dev == o.dev && ino == o.ino && size == o.size &&
         mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
}

namespace {
template <typename Id>
Id IdOf(const struct stat& st) {
  Id id;
  id.exists = true;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime = st.st_mtim;
  return id;
}
}  // namespace

HostStateStore::HostStateStore(std::string state_dir, int dir_fd,
                               const Inventory& inventory)
    : state_dir_(std::move(state_dir)),
      dir_fd_(dir_fd),
      states_path_(absl::StrCat(state_dir_, "/", kStatesFile)),
      lock_path_(absl::StrCat(state_dir_, "/", kLockFile)),
      discovered_path_(absl::StrCat(state_dir_, "/", kDiscoveredFile)),
      defaults_([&inventory] {
        absl::flat_hash_map<std::string, HostState> d;
        for (const InventoryHost& h : inventory.hosts()) {
          d.emplace(h.hostname, h.initial_state);
        }
        return d;
      }()) {}

HostStateStore::~HostStateStore() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

absl::StatusOr<std::unique_ptr<HostStateStore>> HostStateStore::Open(
    const std::string& state_dir, const Inventory& inventory) {
  if (absl::Status s = MakeDirs(state_dir); !s.ok()) return s;
  // Every file is reached through this descriptor, so a daemon that dropped
  // root after Open still reaches a state directory below a path it may not
  // traverse (such as /root/...).
  const int dir_fd =
      ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError(state_dir, "cannot open", errno);
  std::unique_ptr<HostStateStore> store(
      new HostStateStore(state_dir, dir_fd, inventory));
  FileEntries entries;
  FileId id;
  if (absl::Status s = store->ReadStates(entries, id); !s.ok()) return s;
  {
    absl::MutexLock lock(&store->write_mu_);
    std::shared_ptr<const HostStateMap> snapshot =
        store->BuildSnapshot(entries);
    store->Publish(std::move(snapshot), id, std::move(entries));
  }
  if (absl::Status s = store->LoadDiscovered(); !s.ok()) return s;
  return store;
}

absl::Status HostStateStore::ReadStates(FileEntries& entries,
                                        FileId& id) const {
  entries.clear();
  id = FileId();
  const int raw_fd = ::openat(dir_fd_, kStatesFile, O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();  // nothing set yet
    return ErrnoError(states_path_, "cannot open", errno);
  }
  Fd fd(raw_fd);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoError(states_path_, "cannot stat", errno);
  }
  absl::StatusOr<std::string> text = ReadAll(fd.get(), states_path_);
  if (!text.ok()) return text.status();

  absl::StatusOr<HostStateMap> parsed = ParseStates(*text, states_path_);
  if (!parsed.ok()) return parsed.status();
  entries = *std::move(parsed);
  id = IdOf<FileId>(st);
  return absl::OkStatus();
}

absl::StatusOr<HostStateMap> HostStateStore::ParseStates(
    absl::string_view text, absl::string_view path) {
  HostStateMap entries;
  absl::flat_hash_map<std::string, int> lines;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty() || line.front() == '#') {
      continue;
    }
    const std::string where = absl::StrCat(path, ":", line_number);
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 3) {
      return absl::DataLossError(absl::StrCat(
          where, ": expected hostname<TAB>state<TAB>unix time, got ",
          fields.size(), " fields"));
    }
    const std::string hostname = Lower(fields[0]);
    if (absl::Status s = CheckDnsName(hostname); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat(where, ": hostname \"", hostname, "\": ", s.message()));
    }
    absl::StatusOr<HostState> state = ParseHostState(fields[1]);
    if (!state.ok()) {
      return absl::DataLossError(
          absl::StrCat(where, ": state ", state.status().message()));
    }
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(fields[2], &seconds)) {
      return absl::DataLossError(absl::StrCat(where, ": time \"", fields[2],
                                              "\": expected unix seconds"));
    }
    if (auto [it, inserted] = lines.try_emplace(hostname, line_number);
        !inserted) {
      return absl::DataLossError(absl::StrCat(where, ": hostname \"", hostname,
                                              "\": duplicate of line ",
                                              it->second));
    }
    entries[hostname] = {*state, absl::FromUnixSeconds(seconds)};
  }
  return entries;
}

absl::StatusOr<HostStateStore::FileId> HostStateStore::WriteStates(
    const FileEntries& entries) const {
  std::vector<std::pair<absl::string_view, const HostStateEntry*>> sorted;
  sorted.reserve(entries.size());
  for (const auto& [hostname, entry] : entries) {
    sorted.emplace_back(hostname, &entry);
  }
  std::sort(sorted.begin(), sorted.end());
  std::string text =
      "# Rackboot host states: hostname<TAB>state<TAB>last change (unix "
      "seconds).\n# Written by rackbootd and `rackboot arm`; edit with those, "
      "not by hand.\n";
  for (const auto& [hostname, entry] : sorted) {
    absl::StrAppend(&text, hostname, "\t", HostStateName(entry->state), "\t",
                    absl::ToUnixSeconds(entry->changed), "\n");
  }

  const std::string temp_name = absl::StrCat(kStatesFile, ".tmp.", ::getpid());
  const std::string temp = absl::StrCat(state_dir_, "/", temp_name);
  // 0644: the daemon may run as another user than `rackboot arm` (root) and
  // must read what it wrote; host states are not secret.
  Fd fd(::openat(dir_fd_, temp_name.c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return ErrnoError(temp, "cannot create", errno);
  absl::Status s = WriteAll(fd.get(), text, temp);
  struct stat st;
  if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoError(temp, "fsync", errno);
  if (s.ok() && ::fstat(fd.get(), &st) != 0) {
    s = ErrnoError(temp, "cannot stat", errno);
  }
  if (s.ok() && fd.Close() != 0) s = ErrnoError(temp, "close", errno);
  if (s.ok() &&
      ::renameat(dir_fd_, temp_name.c_str(), dir_fd_, kStatesFile) != 0) {
    s = ErrnoError(states_path_, "cannot rename the new file into place",
                   errno);
  }
  if (!s.ok()) {
    ::unlinkat(dir_fd_, temp_name.c_str(), 0);
    return s;
  }
  // The rename is durable once the directory is.
  if (::fsync(dir_fd_) != 0) {
    return ErrnoError(state_dir_, "fsync of the directory", errno);
  }
  return IdOf<FileId>(st);
}

std::shared_ptr<const HostStateMap> HostStateStore::BuildSnapshot(
    const FileEntries& entries) const {
  auto map = std::make_shared<HostStateMap>();
  map->reserve(defaults_.size());
  for (const auto& [hostname, state] : defaults_) {
    auto it = entries.find(hostname);
    map->emplace(hostname, it != entries.end()
                               ? it->second
                               : HostStateEntry{state, absl::InfinitePast()});
  }
  return map;
}

void HostStateStore::Publish(std::shared_ptr<const HostStateMap> snapshot,
                             FileId id, FileEntries entries) {
  file_entries_ = std::move(entries);
  std::shared_ptr<const HostStateMap> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(snapshot_);
    snapshot_ = std::move(snapshot);
    loaded_id_ = id;
  }
  // `old` is freed here, outside mu_, if no reader holds it.
}

std::shared_ptr<const HostStateMap> HostStateStore::Snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  return snapshot_;
}

HostState HostStateStore::Get(absl::string_view hostname) const {
  std::shared_ptr<const HostStateMap> snapshot = Snapshot();
  auto it = snapshot->find(hostname);
  if (it == snapshot->end() &&
      std::any_of(hostname.begin(), hostname.end(), absl::ascii_isupper)) {
    it = snapshot->find(absl::AsciiStrToLower(hostname));
  }
  return it == snapshot->end() ? HostState::kLocalboot : it->second.state;
}

absl::Status HostStateStore::Set(absl::string_view hostname, HostState state,
                                 absl::Time now) {
  const std::string name = Lower(hostname);
  if (!defaults_.contains(name)) {
    return absl::NotFoundError(
        absl::StrCat("host \"", hostname, "\": not in the inventory"));
  }
  absl::MutexLock write_lock(&write_mu_);

  // Another process (rackboot arm, or rackbootd) may be doing the same:
  // serialize read-modify-write across processes.
  int lock_fd =
      ::openat(dir_fd_, kLockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 && errno == EACCES) {
    // Another user's lock file (root's, seen by a daemon that dropped root):
    // flock works on a read-only descriptor too.
    lock_fd = ::openat(dir_fd_, kLockFile, O_RDONLY | O_CLOEXEC);
  }
  Fd lock(lock_fd);
  if (lock.get() < 0) return ErrnoError(lock_path_, "cannot open", errno);
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoError(lock_path_, "flock", errno);
  }

  FileEntries entries;
  FileId id;
  if (absl::Status s = ReadStates(entries, id); !s.ok()) return s;
  entries[name] = {state, now};
  absl::StatusOr<FileId> written = WriteStates(entries);
  if (!written.ok()) return written.status();
  // (Built before `entries` is moved from: argument order is unspecified.)
  std::shared_ptr<const HostStateMap> snapshot = BuildSnapshot(entries);
  Publish(std::move(snapshot), *written, std::move(entries));
  return absl::OkStatus();  // `lock` closes, releasing the flock
}

absl::Status HostStateStore::Reload() {
  absl::MutexLock write_lock(&write_mu_);
  FileEntries entries;
  FileId id;
  if (absl::Status s = ReadStates(entries, id); !s.ok()) return s;
  std::shared_ptr<const HostStateMap> snapshot = BuildSnapshot(entries);
  Publish(std::move(snapshot), id, std::move(entries));
  return absl::OkStatus();
}

bool HostStateStore::ChangedOnDisk() const {
  FileId now;
  struct stat st;
  if (::fstatat(dir_fd_, kStatesFile, &st, 0) == 0) now = IdOf<FileId>(st);
  absl::ReaderMutexLock lock(&mu_);
  return !(now == loaded_id_);
}

absl::Status HostStateStore::LoadDiscovered() {
  const int raw_fd = ::openat(dir_fd_, kDiscoveredFile, O_RDWR | O_CLOEXEC);
  if (raw_fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(discovered_path_, "cannot open", errno);
  }
  Fd fd(raw_fd);
  absl::StatusOr<std::string> text = ReadAll(fd.get(), discovered_path_);
  if (!text.ok()) return text.status();

  // A line cut short by a crash mid-append has no newline: drop it, so the
  // next append starts on a line of its own.
  const size_t complete = text->rfind('\n') + 1;  // 0 if none
  if (complete != text->size()) {
    if (::ftruncate(fd.get(), static_cast<off_t>(complete)) != 0) {
      return ErrnoError(discovered_path_, "cannot truncate a partial line",
                        errno);
    }
    text->resize(complete);
  }

  absl::StatusOr<std::vector<DiscoveredHost>> parsed =
      ParseDiscovered(*text, discovered_path_);
  if (!parsed.ok()) return parsed.status();
  absl::MutexLock lock(&discovered_mu_);
  for (DiscoveredHost& host : *parsed) {
    if (!discovered_macs_.insert(host.mac).second) continue;
    discovered_.push_back(std::move(host));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DiscoveredHost>> HostStateStore::ParseDiscovered(
    absl::string_view text, absl::string_view path) {
  std::vector<DiscoveredHost> hosts;
  absl::flat_hash_set<MacAddress> macs;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::MaxSplits('\t', 2));
    const std::string where = absl::StrCat(path, ":", line_number);
    if (fields.size() < 2) {
      return absl::DataLossError(
          absl::StrCat(where, ": expected mac<TAB>unix time<TAB>detail"));
    }
    absl::StatusOr<MacAddress> mac = ParseMac(fields[0]);
    if (!mac.ok()) {
      return absl::DataLossError(
          absl::StrCat(where, ": ", mac.status().message()));
    }
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(fields[1], &seconds)) {
      return absl::DataLossError(absl::StrCat(where, ": time \"", fields[1],
                                              "\": expected unix seconds"));
    }
    if (!macs.insert(*mac).second) continue;  // keep the first
    hosts.push_back(
        {*mac, absl::FromUnixSeconds(seconds),
         fields.size() > 2 ? std::string(fields[2]) : std::string()});
  }
  return hosts;
}

absl::Status HostStateStore::RecordDiscovered(const MacAddress& mac,
                                              absl::string_view detail,
                                              absl::Time now) {
  absl::MutexLock lock(&discovered_mu_);
  if (discovered_macs_.contains(mac)) return absl::OkStatus();
  if (discovered_macs_.size() >= kMaxDiscovered) {
    return absl::ResourceExhaustedError(absl::StrCat(
        discovered_path_, ": ", kMaxDiscovered,
        " hosts recorded already; not recording ", FormatMac(mac)));
  }
  std::string clean(detail.substr(0, kMaxDetail));
  for (char& c : clean) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  const std::string line = absl::StrCat(
      FormatMac(mac), "\t", absl::ToUnixSeconds(now), "\t", clean, "\n");
  Fd fd(::openat(dir_fd_, kDiscoveredFile,
                 O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return ErrnoError(discovered_path_, "cannot open", errno);
  if (absl::Status s = WriteAll(fd.get(), line, discovered_path_); !s.ok()) {
    return s;
  }
  discovered_macs_.insert(mac);
  discovered_.push_back(
      {mac, absl::FromUnixSeconds(absl::ToUnixSeconds(now)), std::move(clean)});
  return absl::OkStatus();
}

std::vector<DiscoveredHost> HostStateStore::Discovered() const {
  absl::MutexLock lock(&discovered_mu_);
  return discovered_;
}

}  // namespace rackboot::site
