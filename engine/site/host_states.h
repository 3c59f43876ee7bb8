// HostStateStore: the current HostState of every inventory host (armed for
// install, installed, local boot), persisted so that it survives restarts and
// can be changed by another process (the operator's `rackboot arm HOST`).
//
//   absl::StatusOr<std::unique_ptr<HostStateStore>> store =
//       HostStateStore::Open(site.server.state_dir, inventory);
//   if ((*store)->Get("node001") == HostState::kInstall) { ...install... }
//   (*store)->Set("node001", HostState::kInstalled);   // the %post callback
//
// Files in state_dir:
//   host-states.tsv  hostname<TAB>state<TAB>last change (unix seconds)
//                    [<TAB>install token<TAB>its expiry (unix seconds)
//                    [<TAB>inventory]], one
//                    line per host whose state was ever Set; '#' lines are
//                    comments; the two token fields only on armed (install)
//                    hosts that have a token; "inventory" marks a token made
//                    for a host armed by its state column (lines of 3 fields,
//                    as older versions wrote, still parse). Rewritten whole and
//                    atomically by Set (temp file, fsync, rename, fsync of
//                    the directory), under an flock on host-states.lock so
//                    two processes setting different hosts never lose each
//                    other's change. Mode 0600 (it holds the tokens), owned
//                    by the state directory's owner (the daemon's user) when
//                    root writes it.
//
// Install tokens: Set(host, kInstall) makes a fresh token (128 bits from
// getrandom, 32 lowercase hex digits) valid for token_ttl (set_token_ttl,
// default 6h); arming an armed host again replaces it; Set to any other
// state revokes it. FindToken finds the armed host owning a token, comparing
// in constant time. A token is a secret: nothing here logs it.
//   discovered.tsv   mac<TAB>first seen (unix seconds)<TAB>detail: unknown PXE
//                    clients (unknown_pxe = "discover"), one line per MAC,
//                    appended.
//
//   host-states.applied
//                    written by rackbootd only (WriteAppliedStatus), atomically
//                    (temp file, rename), after each reload of host-states.tsv
//                    or of the inventory, and removed when it stops: what the
//                    running daemon applies, so that `rackboot hosts` never
//                    shows a state as applied when it is not. Lines, tab
//                    separated, '#' lines are comments:
//                      pid<TAB>1234              the daemon's process id
//                      written<TAB>1764490000    unix seconds
//                      degraded<TAB>reason       only while host-states.tsv is
//                                                unreadable (every host boots
//                                                from disk meanwhile)
//                      host<TAB>node001<TAB>install   one per inventory host:
//                                                the state the daemon applies
//                    When the daemon cannot write it (e.g. out of descriptors)
//                    it removes it, so a stale file never vouches for it.
//
// A host's state is its host-states.tsv entry if there is one, else its
// inventory `state` column (whose default is localboot). An entry marked
// "inventory" (sixth field) only holds the install token of a host armed by
// that column and counts only while the column still says install. Entries for
// hostnames not in the inventory are kept in the file (another process may
// hold a newer inventory) but Get ignores them. A file line that does not
// parse is an error naming path:line, at Open and Reload alike: a damaged
// state file must not silently disarm or arm hosts.
//
// Fail closed: Open fails on an unreadable file, but once open, a Reload that
// cannot read or parse host-states.tsv (EMFILE during a descriptor flood, a
// damaged line, EACCES) makes the store degraded: every host is kLocalboot
// (boots from disk) until a Reload succeeds, and ChangedOnDisk stays true so
// the daemon's once-a-second poll retries. The store keeps one spare
// descriptor (a dup of the state directory's) that it releases for the moment
// it opens host-states.tsv when the process is out of descriptors, so that
// a flood of TFTP transfers cannot keep a disarm from applying.
//
// Threads: Get, Snapshot, ChangedOnDisk and Discovered may be called from any
// thread at any time (DHCP, TFTP and HTTP shards); they never touch the disk
// (except ChangedOnDisk's stat) and never wait for a Set or Reload in
// progress: readers copy a shared_ptr to an immutable snapshot under a short
// lock. Set, Reload, SetInventory, WriteAppliedStatus and RecordDiscovered
// may also be called from any thread; they block on disk I/O (Set fsyncs), so
// keep them off the packet path's critical section (rackbootd calls all but
// RecordDiscovered from its main thread). The store is owned by the daemon (or
// tool) that opened it.
#ifndef RACKBOOT_ENGINE_SITE_HOST_STATES_H_
#define RACKBOOT_ENGINE_SITE_HOST_STATES_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/site/inventory.h"

namespace rackboot::site {

// One host's current state.
struct HostStateEntry {
  HostStateEntry() = default;
  HostStateEntry(HostState state, absl::Time changed)
      : state(state), changed(changed) {}

  HostState state = HostState::kLocalboot;
  // When it last changed; absl::InfinitePast() if never (inventory default).
  absl::Time changed = absl::InfinitePast();
  // The install token made when it was armed (state install): 32 lowercase
  // hex digits (128 random bits), "" when none; valid until token_expires.
  std::string token;
  absl::Time token_expires = absl::InfinitePast();
  // Written only to hold the token of a host armed by its inventory `state`
  // column (IssueInventoryToken), not by an operator's arm: it stands only
  // while that column still says install, so editing the column to
  // localboot or installed disarms the host as it did before tokens.
  bool from_inventory = false;
};

// Whether `entry` arms its host for an install at `now`: state install with
// an install token that has not expired. The one rule DHCP (a boot loader or
// none), the boot menus and rackboot gen apply.
inline bool ArmedNow(const HostStateEntry& entry, absl::Time now) {
  return entry.state == HostState::kInstall && !entry.token.empty() &&
         now < entry.token_expires;
}

// Immutable: hostname (lowercase) -> entry, for every inventory host.
using HostStateMap = absl::flat_hash_map<std::string, HostStateEntry>;

// What FindToken answers: whose token it is and until when it is valid.
struct TokenOwner {
  std::string hostname;
  absl::Time expires;
};

// True for a well-formed install token: 32 lowercase hex digits.
bool IsWellFormedToken(absl::string_view token);

// One line of discovered.tsv.
struct DiscoveredHost {
  MacAddress mac{};
  absl::Time first_seen;
  std::string detail;  // e.g. "arch 7 vendor PXEClient:Arch:00007"
};

class HostStateStore {
 public:
  // Bounds what a flood of made-up MACs can do to memory and disk.
  static constexpr size_t kMaxDiscovered = 100000;
  // Longer details are cut.
  static constexpr size_t kMaxDetail = 200;

  // Opens the store for `inventory`'s hosts (the store copies what it needs;
  // `inventory` need not outlive it). Creates `state_dir` (mode 0750, with
  // missing parents) if it does not exist. Errors name the path.
  static absl::StatusOr<std::unique_ptr<HostStateStore>> Open(
      const std::string& state_dir, const Inventory& inventory);

  HostStateStore(const HostStateStore&) = delete;
  HostStateStore& operator=(const HostStateStore&) = delete;
  ~HostStateStore();

  // The host's current state; kLocalboot (the safe answer) for a hostname not
  // in the inventory. Case-insensitive.
  HostState Get(absl::string_view hostname) const;

  // Every inventory host's entry, as one consistent snapshot that stays valid
  // (and unchanged) however long the caller holds it.
  std::shared_ptr<const HostStateMap> Snapshot() const;

  // Sets and persists (durably, before returning) a host's state, merging
  // with whatever another process wrote to the file meanwhile. NotFound for a
  // hostname not in the inventory; on an I/O error the previous state stays
  // in effect and the error names the path. kInstall makes a fresh install
  // token expiring at now + token_ttl (replacing any earlier one); any other
  // state revokes the host's token.
  absl::Status Set(absl::string_view hostname, HostState state,
                   absl::Time now = absl::Now());

  // Whether a host-states.tsv entry decides its host's state, given the
  // host's inventory `state` column: always, except an entry made only to
  // hold the column's token (from_inventory) once the column is not install.
  // Readers of the file's bytes (rackboot gen) apply it as the store does.
  static bool EntryStands(const HostStateEntry& entry, HostState column) {
    return !(entry.from_inventory && column != HostState::kInstall);
  }

  // For a host armed by its inventory `state` column that has no token yet:
  // Set(hostname, kInstall) recorded as from_inventory (the file line gets a
  // sixth field, "inventory"). FailedPrecondition when the column no longer
  // says install.
  absl::Status IssueInventoryToken(absl::string_view hostname,
                                   absl::Time now = absl::Now());

  // How long the tokens Set makes from now on stay valid (the daemon and the
  // tools pass site.install.token_ttl). Default 6h.
  static constexpr absl::Duration kDefaultTokenTtl = absl::Hours(6);
  void set_token_ttl(absl::Duration ttl);

  // The armed host whose current token `token` is (compared in constant
  // time), with the token's expiry, which is not checked here (the caller
  // compares it, to say "expired"). nullopt for a malformed token (not 32
  // lowercase hex digits) or one no inventory host holds. Any thread; no
  // disk access; costs the same at any fleet size.
  absl::optional<TokenOwner> FindToken(absl::string_view token) const;

  // Re-reads host-states.tsv (after another process changed it). On error
  // the store fails closed: it becomes degraded and every host is kLocalboot
  // until a later Reload (or Set) succeeds.
  absl::Status Reload();

  // OK, or why host-states.tsv could not be read at the last Reload: then
  // every host is kLocalboot.
  absl::Status Degraded() const;

  // True if host-states.tsv differs (inode, size or mtime) from what this
  // store last read or wrote, and always while degraded (so that a failed
  // reload is retried): cheap enough to poll once a second.
  bool ChangedOnDisk() const;

  // Replaces the inventory (SIGHUP): hosts added get their `state` column as
  // default, hosts removed are no longer answered. Re-reads nothing; the
  // file's entries (or the degraded state) carry over.
  void SetInventory(const Inventory& inventory);

  // rackbootd: writes host-states.applied (see above) from the current
  // snapshot. On failure it removes the file (so that no stale file claims
  // anything) and returns the error.
  absl::Status WriteAppliedStatus(absl::Time now = absl::Now());
  // rackbootd at a clean stop: removes host-states.applied.
  void RemoveAppliedStatus();

  // What host-states.applied says, for `rackboot hosts`.
  struct AppliedStatus {
    pid_t pid = 0;
    bool running = false;  // a process with that id exists
    absl::Time written = absl::InfinitePast();
    std::string degraded;  // "" when not degraded
    absl::flat_hash_map<std::string, HostState> hosts;
  };
  // NotFound when no daemon has written one (or it stopped, or it could not
  // write it); DataLoss for a file that does not parse.
  static absl::StatusOr<AppliedStatus> ReadAppliedStatus(
      const std::string& state_dir);
  // ReadAppliedStatus's parser (running is left false), for tests and
  // fuzzing. Errors are DataLoss naming path:line.
  static absl::StatusOr<AppliedStatus> ParseAppliedStatus(
      absl::string_view text, absl::string_view path);

  // Records an unknown PXE client once per MAC: appends to discovered.tsv
  // unless the MAC is there already (from this run or, read at Open, an
  // earlier one). Control characters in `detail` become spaces. Not fsynced:
  // a line lost in a crash is recorded again at the client's next attempt.
  // ResourceExhausted once kMaxDiscovered MACs are recorded.
  absl::Status RecordDiscovered(const MacAddress& mac, absl::string_view detail,
                                absl::Time now = absl::Now());

  // Everything recorded, in file order.
  std::vector<DiscoveredHost> Discovered() const;

  // The parsers of the two files, from their bytes (what Open and Reload
  // read), for tests and fuzzing. Errors are DataLoss naming path:line.
  // host-states.tsv: every line's entry, hostnames lowercased, including
  // hostnames the inventory does not know.
  static absl::StatusOr<HostStateMap> ParseStates(absl::string_view text,
                                                  absl::string_view path);
  // discovered.tsv: one entry per MAC (its first line), in file order.
  static absl::StatusOr<std::vector<DiscoveredHost>> ParseDiscovered(
      absl::string_view text, absl::string_view path);

  const std::string& states_path() const { return states_path_; }
  const std::string& discovered_path() const { return discovered_path_; }

 private:
  // What identifies one version of a file on disk.
  struct FileId {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    struct timespec mtime = {};
    bool operator==(const FileId& o) const;
  };
  // The file's parsed lines: hostname -> entry, including unknown hostnames.
  using FileEntries = absl::flat_hash_map<std::string, HostStateEntry>;

  HostStateStore(std::string state_dir, int dir_fd, const Inventory& inventory);
  static constexpr const char* kStatesFile = "host-states.tsv";
  static constexpr const char* kLockFile = "host-states.lock";
  static constexpr const char* kDiscoveredFile = "discovered.tsv";
  static constexpr const char* kAppliedFile = "host-states.applied";

  // openat(dir_fd_, name) that, out of descriptors (EMFILE, ENFILE), lends
  // the spare descriptor for the call (*lent). Close what it returns with
  // CloseReserved. REQUIRES: write_mu_ held, or no other thread using the
  // store (Open).
  int OpenReserved(const char* name, int flags, mode_t mode, bool* lent) const;
  void CloseReserved(int fd, bool lent) const;

  // Reads host-states.tsv into `entries` and its identity into `id`.
  absl::Status ReadStates(FileEntries& entries, FileId& id) const;
  // Writes `entries` atomically; returns the new file's identity.
  absl::StatusOr<FileId> WriteStates(const FileEntries& entries) const;
  // Set and IssueInventoryToken.
  absl::Status SetEntry(absl::string_view hostname, HostState state,
                        absl::Time now, bool from_inventory);
  // Inventory defaults overlaid with the file's entries.
  std::shared_ptr<const HostStateMap> BuildSnapshot(const FileEntries& entries)
      const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Every inventory host kLocalboot: the degraded snapshot.
  std::shared_ptr<const HostStateMap> BuildClosedSnapshot() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Token lookup by a keyed hash of the token (the key is random per store,
  // so lookup timing says nothing about stored tokens): hostnames whose
  // token hashes there. The full token is then compared in constant time.
  using TokenIndex = absl::flat_hash_map<uint64_t, std::vector<std::string>>;
  uint64_t TokenKey(absl::string_view token) const;
  std::shared_ptr<const TokenIndex> BuildTokenIndex(
      const HostStateMap& snapshot) const;
  void Publish(std::shared_ptr<const HostStateMap> snapshot, FileId id,
               FileEntries entries) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void PublishDegraded(absl::Status why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status LoadDiscovered();

  const std::string state_dir_;
  const int dir_fd_;  // the state directory, opened by Open; owned
  const std::string states_path_;
  const std::string lock_path_;
  const std::string discovered_path_;
  // Serializes Set, Reload and SetInventory (file I/O happens under it, not
  // under mu_).
  mutable absl::Mutex write_mu_;
  // Inventory hostname -> its `state` column. Replaced by SetInventory.
  absl::flat_hash_map<std::string, HostState> defaults_
      ABSL_GUARDED_BY(write_mu_);
  FileEntries file_entries_ ABSL_GUARDED_BY(write_mu_);
  absl::Duration token_ttl_ ABSL_GUARDED_BY(write_mu_) = kDefaultTokenTtl;
  // TokenKey's key, from getrandom at construction.
  uint64_t token_hash_key_[2] = {0, 0};
  // The spare descriptor OpenReserved lends; -1 while lent or lost.
  mutable int reserve_fd_ = -1;

  // Guards only the pointer swaps and the file identity: held for
  // nanoseconds, so readers never wait for I/O.
  mutable absl::Mutex mu_;
  std::shared_ptr<const HostStateMap> snapshot_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TokenIndex> token_index_ ABSL_GUARDED_BY(mu_);
  FileId loaded_id_ ABSL_GUARDED_BY(mu_);
  absl::Status degraded_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex discovered_mu_;
  absl::flat_hash_set<MacAddress> discovered_macs_
      ABSL_GUARDED_BY(discovered_mu_);
  std::vector<DiscoveredHost> discovered_ ABSL_GUARDED_BY(discovered_mu_);
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_HOST_STATES_H_
