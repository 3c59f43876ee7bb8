#include "engine/site/host_states.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
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

// `size` bytes from the kernel's CSPRNG (getrandom, blocking only before the
// pool is first initialized at boot).
absl::Status RandomBytes(unsigned char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::getrandom(out + done, size - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// A fresh install token: 128 random bits as 32 lowercase hex digits.
absl::StatusOr<std::string> MakeToken() {
  unsigned char bytes[16];
  if (absl::Status s = RandomBytes(bytes, sizeof(bytes)); !s.ok()) return s;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token(32, '0');
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    token[2 * i] = kHex[bytes[i] >> 4];
    token[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return token;
}

// Equal strings of equal length, in time that depends only on the length
// (both are well-formed tokens here, so the length is public).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  // Keep the compiler from stopping at the first difference.
  __asm__ volatile("" : "+r"(diff));
  return diff == 0;
}

std::string Lower(absl::string_view s) {
  if (std::any_of(s.begin(), s.end(), absl::ascii_isupper)) {
    return absl::AsciiStrToLower(s);
  }
  return std::string(s);
}

}  // namespace

bool IsWellFormedToken(absl::string_view token) {
  if (token.size() != 32) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

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
      discovered_path_(absl::StrCat(state_dir_, "/", kDiscoveredFile)) {
  absl::MutexLock lock(&write_mu_);
  for (const InventoryHost& h : inventory.hosts()) {
    defaults_.emplace(h.hostname, h.initial_state);
  }
  reserve_fd_ = ::fcntl(dir_fd_, F_DUPFD_CLOEXEC, 0);
  unsigned char key[sizeof(token_hash_key_)];
  if (!RandomBytes(key, sizeof(key)).ok()) {
    // Without a random key the index is still correct; only the lookup's
    // timing could say more about which hashes exist.
    std::memset(key, 0x5a, sizeof(key));
  }
  std::memcpy(token_hash_key_, key, sizeof(key));
}

HostStateStore::~HostStateStore() {
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

int HostStateStore::OpenReserved(const char* name, int flags, mode_t mode,
                                 bool* lent) const {
  *lent = false;
  if (reserve_fd_ < 0) reserve_fd_ = ::fcntl(dir_fd_, F_DUPFD_CLOEXEC, 0);
  int fd = ::openat(dir_fd_, name, flags, mode);
  if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || reserve_fd_ < 0) {
    return fd;
  }
  // Out of descriptors: lend the spare for this open. Another thread may take
  // the freed number first; then this attempt fails and the next poll tries
  // again.
  ::close(reserve_fd_);
  reserve_fd_ = -1;
  fd = ::openat(dir_fd_, name, flags, mode);
  if (fd >= 0) {
    *lent = true;
    return fd;
  }
  const int saved = errno;
  reserve_fd_ = ::fcntl(dir_fd_, F_DUPFD_CLOEXEC, 0);
  errno = saved;
  return -1;
}

void HostStateStore::CloseReserved(int fd, bool lent) const {
  if (fd < 0) return;
  // dup3 closes `fd` and makes its number the spare in one step, so no other
  // thread can take the number in between.
  if (lent && reserve_fd_ < 0 && ::dup3(dir_fd_, fd, O_CLOEXEC) == fd) {
    reserve_fd_ = fd;
    return;
  }
  ::close(fd);
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
  bool lent = false;
  const int raw_fd =
      OpenReserved(kStatesFile, O_RDONLY | O_CLOEXEC, /*mode=*/0, &lent);
  if (raw_fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();  // nothing set yet
    return ErrnoError(states_path_, "cannot open", errno);
  }
  struct Closer {
    const HostStateStore* store;
    int fd;
    bool lent;
    ~Closer() { store->CloseReserved(fd, lent); }
    int get() const { return fd; }
  } fd{this, raw_fd, lent};
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
    if (fields.size() != 3 && fields.size() != 5 && fields.size() != 6) {
      return absl::DataLossError(absl::StrCat(
          where,
          ": expected hostname<TAB>state<TAB>unix time[<TAB>token<TAB>"
          "expiry[<TAB>inventory]], got ",
          fields.size(), " fields"));
    }
    if (fields.size() == 6 && fields[5] != "inventory") {
      return absl::DataLossError(absl::StrCat(
          where,
          ": sixth field: expected \"inventory\" (a token made for the "
          "state column) or none"));
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
    HostStateEntry entry(*state, absl::FromUnixSeconds(seconds));
    if (fields.size() >= 5) {
      // Never quote the token back: error messages end up in logs.
      if (!IsWellFormedToken(fields[3])) {
        return absl::DataLossError(absl::StrCat(
            where, ": install token: expected 32 lowercase hex digits"));
      }
      if (*state != HostState::kInstall) {
        return absl::DataLossError(absl::StrCat(
            where, ": install token on a host whose state is ",
            HostStateName(*state), " (only install hosts have one)"));
      }
      int64_t expires = 0;
      if (!absl::SimpleAtoi(fields[4], &expires)) {
        return absl::DataLossError(absl::StrCat(where, ": token expiry \"",
                                                fields[4],
                                                "\": expected unix seconds"));
      }
      entry.token = std::string(fields[3]);
      entry.token_expires = absl::FromUnixSeconds(expires);
      entry.from_inventory = fields.size() == 6;
    }
    entries[hostname] = std::move(entry);
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
      "seconds)[<TAB>install token<TAB>its expiry].\n# Written by rackbootd "
      "and `rackboot arm`; edit with those, not by hand. Secret (tokens).\n";
  for (const auto& [hostname, entry] : sorted) {
    absl::StrAppend(&text, hostname, "\t", HostStateName(entry->state), "\t",
                    absl::ToUnixSeconds(entry->changed));
    if (entry->state == HostState::kInstall && !entry->token.empty()) {
      absl::StrAppend(&text, "\t", entry->token, "\t",
                      absl::ToUnixSeconds(entry->token_expires));
      if (entry->from_inventory) text.append("\tinventory");
    }
    text.push_back('\n');
  }

  const std::string temp_name = absl::StrCat(kStatesFile, ".tmp.", ::getpid());
  const std::string temp = absl::StrCat(state_dir_, "/", temp_name);
  // 0600: the file holds install tokens. The daemon may run as another user
  // than `rackboot arm` (root), so root hands the file to the state
  // directory's owner (the daemon's user, rackbootd's GiveDirectoryTo).
  Fd fd(::openat(dir_fd_, temp_name.c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoError(temp, "cannot create", errno);
  absl::Status s;
  // O_CREAT's mode does not apply to a temp file left by a crash.
  if (::fchmod(fd.get(), 0600) != 0) s = ErrnoError(temp, "chmod", errno);
  struct stat dir_st;
  if (s.ok() && ::geteuid() == 0 && ::fstat(dir_fd_, &dir_st) == 0 &&
      dir_st.st_uid != 0 &&
      ::fchown(fd.get(), dir_st.st_uid, dir_st.st_gid) != 0) {
    s = ErrnoError(temp, "chown to the state directory's owner", errno);
  }
  if (s.ok()) s = WriteAll(fd.get(), text, temp);
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
    // A token entry made for the state column yields once the column no
    // longer arms the host.
    const bool stands = it != entries.end() && EntryStands(it->second, state);
    map->emplace(hostname, stands
                               ? it->second
                               : HostStateEntry{state, absl::InfinitePast()});
  }
  return map;
}

uint64_t HostStateStore::TokenKey(absl::string_view token) const {
  return absl::Hash<std::tuple<uint64_t, uint64_t, absl::string_view>>()(
      std::make_tuple(token_hash_key_[0], token_hash_key_[1], token));
}

std::shared_ptr<const HostStateStore::TokenIndex>
HostStateStore::BuildTokenIndex(const HostStateMap& snapshot) const {
  auto index = std::make_shared<TokenIndex>();
  for (const auto& [hostname, entry] : snapshot) {
    if (entry.state != HostState::kInstall || entry.token.empty()) continue;
    (*index)[TokenKey(entry.token)].push_back(hostname);
  }
  return index;
}

void HostStateStore::Publish(std::shared_ptr<const HostStateMap> snapshot,
                             FileId id, FileEntries entries) {
  file_entries_ = std::move(entries);
  std::shared_ptr<const TokenIndex> index = BuildTokenIndex(*snapshot);
  std::shared_ptr<const HostStateMap> old;
  std::shared_ptr<const TokenIndex> old_index;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(snapshot_);
    old_index = std::move(token_index_);
    snapshot_ = std::move(snapshot);
    token_index_ = std::move(index);
    loaded_id_ = id;
    degraded_ = absl::OkStatus();
  }
  // `old` is freed here, outside mu_, if no reader holds it.
}

std::shared_ptr<const HostStateMap> HostStateStore::BuildClosedSnapshot()
    const {
  auto map = std::make_shared<HostStateMap>();
  map->reserve(defaults_.size());
  for (const auto& [hostname, state] : defaults_) {
    map->emplace(hostname,
                 HostStateEntry{HostState::kLocalboot, absl::InfinitePast()});
  }
  return map;
}

void HostStateStore::PublishDegraded(absl::Status why) {
  std::shared_ptr<const HostStateMap> closed = BuildClosedSnapshot();
  // Degraded: no host is armed, so no token is valid.
  auto no_tokens = std::make_shared<const TokenIndex>();
  std::shared_ptr<const HostStateMap> old;
  std::shared_ptr<const TokenIndex> old_index;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(snapshot_);
    old_index = std::move(token_index_);
    snapshot_ = std::move(closed);
    token_index_ = std::move(no_tokens);
    degraded_ = std::move(why);
  }
}

absl::Status HostStateStore::Degraded() const {
  absl::ReaderMutexLock lock(&mu_);
  return degraded_;
}

void HostStateStore::SetInventory(const Inventory& inventory) {
  absl::MutexLock write_lock(&write_mu_);
  defaults_.clear();
  for (const InventoryHost& h : inventory.hosts()) {
    defaults_.emplace(h.hostname, h.initial_state);
  }
  absl::Status degraded = Degraded();
  if (!degraded.ok()) {
    PublishDegraded(std::move(degraded));
    return;
  }
  FileId id;
  {
    absl::ReaderMutexLock lock(&mu_);
    id = loaded_id_;
  }
  FileEntries entries = file_entries_;
  std::shared_ptr<const HostStateMap> snapshot = BuildSnapshot(entries);
  Publish(std::move(snapshot), id, std::move(entries));
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
  return SetEntry(hostname, state, now, /*from_inventory=*/false);
}

absl::Status HostStateStore::IssueInventoryToken(absl::string_view hostname,
                                                 absl::Time now) {
  return SetEntry(hostname, HostState::kInstall, now, /*from_inventory=*/true);
}

absl::Status HostStateStore::SetEntry(absl::string_view hostname,
                                      HostState state, absl::Time now,
                                      bool from_inventory) {
  const std::string name = Lower(hostname);
  absl::MutexLock write_lock(&write_mu_);
  auto column = defaults_.find(name);
  if (column == defaults_.end()) {
    return absl::NotFoundError(
        absl::StrCat("host \"", hostname, "\": not in the inventory"));
  }
  if (from_inventory && column->second != HostState::kInstall) {
    return absl::FailedPreconditionError(absl::StrCat(
        "host \"", hostname, "\": its state column no longer says install"));
  }

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
  HostStateEntry entry(state, now);
  if (state == HostState::kInstall) {
    absl::StatusOr<std::string> token = MakeToken();
    if (!token.ok()) return token.status();
    entry.token = *std::move(token);
    // Whole seconds, as the file keeps it: this process and the others
    // reading the file agree on the instant it expires.
    entry.token_expires =
        absl::FromUnixSeconds(absl::ToUnixSeconds(now + token_ttl_));
    entry.from_inventory = from_inventory;
  }
  entries[name] = std::move(entry);
  absl::StatusOr<FileId> written = WriteStates(entries);
  if (!written.ok()) return written.status();
  // (Built before `entries` is moved from: argument order is unspecified.)
  std::shared_ptr<const HostStateMap> snapshot = BuildSnapshot(entries);
  Publish(std::move(snapshot), *written, std::move(entries));
  return absl::OkStatus();  // `lock` closes, releasing the flock
}

void HostStateStore::set_token_ttl(absl::Duration ttl) {
  absl::MutexLock write_lock(&write_mu_);
  token_ttl_ = ttl;
}

absl::optional<TokenOwner> HostStateStore::FindToken(
    absl::string_view token) const {
  if (!IsWellFormedToken(token)) return absl::nullopt;
  std::shared_ptr<const HostStateMap> snapshot;
  std::shared_ptr<const TokenIndex> index;
  {
    absl::ReaderMutexLock lock(&mu_);
    snapshot = snapshot_;
    index = token_index_;
  }
  if (index == nullptr) return absl::nullopt;
  auto it = index->find(TokenKey(token));
  if (it == index->end()) return absl::nullopt;
  for (const std::string& hostname : it->second) {
    auto entry = snapshot->find(hostname);
    if (entry == snapshot->end()) continue;
    if (entry->second.state == HostState::kInstall &&
        ConstantTimeEquals(entry->second.token, token)) {
      return TokenOwner{hostname, entry->second.token_expires};
    }
  }
  return absl::nullopt;
}

absl::Status HostStateStore::Reload() {
  absl::MutexLock write_lock(&write_mu_);
  FileEntries entries;
  FileId id;
  if (absl::Status s = ReadStates(entries, id); !s.ok()) {
    // Fail closed: the operator may have disarmed a host in the version we
    // cannot read.
    PublishDegraded(s);
    return s;
  }
  std::shared_ptr<const HostStateMap> snapshot = BuildSnapshot(entries);
  Publish(std::move(snapshot), id, std::move(entries));
  return absl::OkStatus();
}

bool HostStateStore::ChangedOnDisk() const {
  FileId now;
  struct stat st;
  if (::fstatat(dir_fd_, kStatesFile, &st, 0) == 0) now = IdOf<FileId>(st);
  absl::ReaderMutexLock lock(&mu_);
  return !degraded_.ok() || !(now == loaded_id_);
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

absl::Status HostStateStore::WriteAppliedStatus(absl::Time now) {
  absl::MutexLock write_lock(&write_mu_);
  std::shared_ptr<const HostStateMap> snapshot = Snapshot();
  absl::Status degraded = Degraded();
  std::vector<std::pair<absl::string_view, HostState>> sorted;
  sorted.reserve(snapshot->size());
  for (const auto& [hostname, entry] : *snapshot) {
    sorted.emplace_back(hostname, entry.state);
  }
  std::sort(sorted.begin(), sorted.end());
  std::string text = absl::StrCat(
      "# What the running rackbootd applies from host-states.tsv; written by "
      "it after each reload.\npid\t",
      ::getpid(), "\nwritten\t", absl::ToUnixSeconds(now), "\n");
  if (!degraded.ok()) {
    std::string why(degraded.message());
    for (char& c : why) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) c = ' ';
    }
    absl::StrAppend(&text, "degraded\t", why, "\n");
  }
  for (const auto& [hostname, state] : sorted) {
    absl::StrAppend(&text, "host\t", hostname, "\t", HostStateName(state),
                    "\n");
  }
  const std::string temp_name = absl::StrCat(kAppliedFile, ".tmp");
  const std::string temp = absl::StrCat(state_dir_, "/", temp_name);
  bool lent = false;
  const int fd = OpenReserved(
      temp_name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, &lent);
  absl::Status s;
  if (fd < 0) {
    s = ErrnoError(temp, "cannot create", errno);
  } else {
    s = WriteAll(fd, text, temp);
    CloseReserved(fd, lent);
  }
  if (s.ok() &&
      ::renameat(dir_fd_, temp_name.c_str(), dir_fd_, kAppliedFile) != 0) {
    s = ErrnoError(absl::StrCat(state_dir_, "/", kAppliedFile),
                   "cannot rename the new file into place", errno);
  }
  if (!s.ok()) {
    // No stale file may vouch for what the daemon applies now.
    ::unlinkat(dir_fd_, temp_name.c_str(), 0);
    ::unlinkat(dir_fd_, kAppliedFile, 0);
  }
  return s;
}

void HostStateStore::RemoveAppliedStatus() {
  ::unlinkat(dir_fd_, kAppliedFile, 0);
}

absl::StatusOr<HostStateStore::AppliedStatus> HostStateStore::ReadAppliedStatus(
    const std::string& state_dir) {
  const std::string path = absl::StrCat(state_dir, "/", kAppliedFile);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(path, "cannot open", errno);
  absl::StatusOr<std::string> text = ReadAll(fd.get(), path);
  if (!text.ok()) return text.status();
  absl::StatusOr<AppliedStatus> status = ParseAppliedStatus(*text, path);
  if (!status.ok()) return status.status();
  status->running = ::kill(status->pid, 0) == 0 || errno == EPERM;
  return status;
}

absl::StatusOr<HostStateStore::AppliedStatus>
HostStateStore::ParseAppliedStatus(absl::string_view text,
                                   absl::string_view path) {
  AppliedStatus status;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    const std::string where = absl::StrCat(path, ":", line_number);
    int64_t number = 0;
    if (fields[0] == "pid" && fields.size() == 2 &&
        absl::SimpleAtoi(fields[1], &number) && number > 0 &&
        number <= std::numeric_limits<pid_t>::max()) {
      status.pid = static_cast<pid_t>(number);
    } else if (fields[0] == "written" && fields.size() == 2 &&
               absl::SimpleAtoi(fields[1], &number)) {
      status.written = absl::FromUnixSeconds(number);
    } else if (fields[0] == "degraded" && fields.size() == 2) {
      status.degraded = std::string(fields[1]);
      if (status.degraded.empty()) status.degraded = "(no reason given)";
    } else if (fields[0] == "host" && fields.size() == 3) {
      absl::StatusOr<HostState> state = ParseHostState(fields[2]);
      if (!state.ok()) {
        return absl::DataLossError(
            absl::StrCat(where, ": ", state.status().message()));
      }
      status.hosts[Lower(fields[1])] = *state;
    } else {
      return absl::DataLossError(absl::StrCat(where, ": not understood"));
    }
  }
  if (status.pid == 0) {
    return absl::DataLossError(absl::StrCat(path, ": no pid line"));
  }
  return status;
}

std::vector<DiscoveredHost> HostStateStore::Discovered() const {
  absl::MutexLock lock(&discovered_mu_);
  return discovered_;
}

}  // namespace rackboot::site
