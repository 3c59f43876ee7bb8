// BringUpLog: the last bring-up phase of each inventory host, for `rackboot
// hosts` and the status page to come.
//
// The daemon's BringUpTracker (bring_up_tracker.h) records a phase when an
// inventory host gets a DHCP answer with a boot file ("dhcp"), when each file
// reaches it ("tftp <file>", "http <file>"), when the profile's last file
// (the initrd, else the kernel) reached an armed host ("installing"), and
// when its installer reports ("installing", "failed", "done": only the
// installer's report says done). Record keeps phases in memory; Flush
// (once a second) rewrites <state_dir>/bring-up.tsv atomically (temp file,
// rename), so another process can read it at any time. The file has one line
// per host: hostname<TAB>phase<TAB>unix seconds. Thread-safe: the DHCP thread
// and every shard record.
#ifndef RACKBOOT_ENGINE_SITE_BRING_UP_LOG_H_
#define RACKBOOT_ENGINE_SITE_BRING_UP_LOG_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rackboot::site {

struct BringUpPhase {
  std::string phase;  // "dhcp", "tftp pxelinux.0", "done"
  absl::Time when;
  bool operator==(const BringUpPhase&) const = default;
};

class BringUpLog {
 public:
  static constexpr const char* kFileName = "bring-up.tsv";

  ~BringUpLog();
  BringUpLog(const BringUpLog&) = delete;
  BringUpLog& operator=(const BringUpLog&) = delete;

  // Loads what an earlier run recorded in `state_dir` (which must exist).
  static absl::StatusOr<std::unique_ptr<BringUpLog>> Open(
      const std::string& state_dir);

  // Records `phase` for `hostname` in memory, without I/O: it runs on the
  // DHCP and TFTP threads for every ACK and transfer, and rewriting the file
  // there cost more than the DHCP exchange itself once hundreds of hosts
  // booted at once. Flush() persists. Any thread.
  void Record(absl::string_view hostname, absl::string_view phase,
              absl::Time now);
  // As Record, but leaves a host whose phase is "installing", "failed" or
  // "done" as it is: a boot file that completes after the profile's last one
  // (TFTP shards finish out of order: the initrd before the kernel), or one
  // an installer fetches, is no step back. A new lease (Record "dhcp")
  // starts the next cycle.
  void RecordUnlessInstalling(absl::string_view hostname,
                              absl::string_view phase, absl::Time now);

  // Rewrites the file (atomically, by rename) if anything was recorded since
  // the last flush. The daemon's main thread calls it once a second and at
  // shutdown. Errors name the file; the records stay pending. Any thread.
  absl::Status Flush();

  // Hostname -> last phase, as recorded by this object.
  std::map<std::string, BringUpPhase> Phases() const;

  // Reads the file another process (the daemon) keeps; an absent file is an
  // empty table.
  static absl::StatusOr<std::map<std::string, BringUpPhase>> Read(
      const std::string& state_dir);

  // The file's bytes as Read takes them: lines that are not
  // hostname<TAB>phase<TAB>unix seconds are ignored; a later line for a host
  // replaces an earlier one.
  static std::map<std::string, BringUpPhase> Parse(absl::string_view text);

 private:
  BringUpLog(std::string path, int dir_fd)
      : path_(std::move(path)), dir_fd_(dir_fd) {}
  absl::Status WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const int dir_fd_;  // the state directory; owned
  mutable absl::Mutex mu_;
  std::map<std::string, BringUpPhase> phases_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;  // recorded since the last flush
};

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_BRING_UP_LOG_H_
