// LeaseJournal: the append-only file that makes leases durable before they are
// acknowledged (architecture principle 4: a DHCPACK leaves only after its lease
// record is on disk), with group commit so that many leases share one
// fdatasync.
//
//   absl::StatusOr<std::unique_ptr<LeaseJournal>> journal =
//       LeaseJournal::Open({.directory = "/var/lib/rackboot"},
//                          [&](const Lease& l) { table->Put(l); });
//   // DHCP shard, per REQUEST: seq = journal->Append(lease); park the ACK
//   //   with seq.
//   // DHCP shard, per loop iteration: journal->Commit();
//   journal->SetOnDurable([reactor, shard] {  // on the writer thread
//     reactor->Post([shard] { shard->ReleaseDurable(); });
//   });
//   // ReleaseDurable: send every parked ACK with seq <= durable().
//
// Threads and ownership. The DHCP shard owns the journal. Append, Commit,
// SyncNow, Compact, ShouldCompact and the destructor are for the shard thread
// only ("REQUIRES: the shard thread"); durable, syncs, records, file_bytes,
// status and SetOnDurable may be called by any thread. A private writer thread
// does every write() and fdatasync(); the shard never blocks on the disk except
// in SyncNow and Compact, which exist for shutdown, tests and compaction.
//
// Group commit. Append only encodes into a pending buffer (no system call).
// Commit hands the buffer to the writer thread (a swap under an absl::Mutex,
// whose Await wakes the writer). The writer waits out the commit window
// (Options::commit_window) for more, then writes what it was handed,
// fdatasyncs, publishes the highest sequence number it covered in durable(),
// and calls the OnDurable function (the shard posts itself a wake-up). While it
// syncs, the shard keeps appending and committing; the next sync takes
// everything committed meanwhile, so the number of syncs adapts to the disk's
// latency and records per sync grows with load.
//
// File format: <directory>/leases.journal, a sequence of records, all integers
// little-endian:
//   magic    u32  0x4A4C4252 ("RBLJ")
//   length   u32  payload bytes (22..54)
//   crc      u32  CRC-32C (Castagnoli, RFC 3720 appendix B.4) of length
//                 (4 bytes) and payload
//   payload: version u8 (1), address u32, state u8, client kind u8, client
//            size u8, client bytes [size], mac [6], expires i64 (Unix
//            microseconds; INT64_MIN and INT64_MAX stand for
//            absl::InfinitePast and absl::InfiniteFuture)
// Later records for an address override earlier ones: the caller replays into
// LeaseTable::Put in file order.
//
// Damaged files (Open):
//  - A torn or corrupt tail (short record, bad magic, bad length, bad CRC,
//    unknown version, with no intact record after it) is what a crash
//    during a write leaves. It is truncated away with one LOG(WARNING)
//    naming the file, the offset and the bytes dropped. Such records were
//    never durable, hence never acknowledged.
//  - Corruption in the middle (an intact record follows a bad one) cannot
//    come from a crash (records are appended and synced in order); it means
//    damaged media or a foreign write. Truncating there, the classic choice,
//    would throw away every later record, all of them acknowledged leases, and
//    so invite duplicate addresses. Instead the damaged bytes are skipped:
//    replay resumes at the next offset where an intact record starts (magic,
//    sane length and CRC-32C all agree, so a false resynchronisation is about
//    as likely as a CRC collision, 2^-32 per candidate with a matching magic),
//    one LOG(WARNING) per damaged region names the file, the offset and the
//    bytes skipped, and ShouldCompact() returns true so the next compaction
//    rewrites the file without the damage. Leases in the damaged records are
//    lost; the DHCP server re-learns them when their clients renew (RFC 2131
//    section 4.3.2, INIT-REBOOT/RENEWING requests are answered from the table
//    or NAKed).
#ifndef RACKBOOT_ENGINE_DHCP_LEASE_JOURNAL_H_
#define RACKBOOT_ENGINE_DHCP_LEASE_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/dhcp/lease.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::dhcp {

// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), as in iSCSI
// (RFC 3720 appendix B.4) and ext4 metadata: Crc32c("123456789") == 0xE3069283.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a byte table
// otherwise. `crc` continues a previous value (start with 0). Any thread.
uint32_t Crc32c(absl::Span<const uint8_t> data, uint32_t crc = 0);
// The table implementation alone, for tests.
uint32_t Crc32cPortable(absl::Span<const uint8_t> data, uint32_t crc = 0);

// What a replay found in a journal's bytes (the file format above).
struct JournalScan {
  uint64_t records = 0;  // intact records, each passed to `replay`
  // End of the last intact record: what follows is a torn or corrupt tail
  // (Open truncates the file there).
  size_t good_end = 0;
  // Damaged regions in the middle, each followed by an intact record.
  struct Skipped {
    size_t offset;
    size_t bytes;
  };
  std::vector<Skipped> skipped;
};

// Replays journal bytes: calls `replay` for every intact record in order and
// says where the damage is. Never fails: any bytes are a journal with some
// damage. No I/O, no logging (Open logs what it reports). Any thread. Also the
// entry point of the replay fuzzer (engine/dhcp/lease_journal_fuzzer.cc).
JournalScan ScanJournal(absl::Span<const uint8_t> data,
                        absl::FunctionRef<void(const Lease&)> replay);

// Appends the record of `lease` to `out`, as Append writes it. Any thread.
void AppendLeaseRecord(const Lease& lease, std::string* out);

class LeaseJournal {
 public:
  struct Options {
    std::string directory;
    // ShouldCompact() turns true once the file is larger than this.
    uint64_t compact_after_bytes = uint64_t{64} << 20;
    // Group commit window: once the writer sees committed records it waits
    // up to this long for more before it writes and syncs (unless
    // kMaxWindowRecords are already waiting, SyncNow asks, or the journal
    // stops). Each fdatasync and each wake-up of the writer and of the shard
    // then serves every ACK of the window instead of about one: at 8,000
    // ACKs/s a 2 ms window makes one sync per ~16 ACKs. The price is at most
    // this much added to each ACK's latency, against DHCP clients that wait
    // seconds before retransmitting (RFC 2131 4.1: 4 s, then doubling). Zero
    // syncs as soon as the writer is free (pure adaptive group commit).
    absl::Duration commit_window = absl::ZeroDuration();
    // Seconds from the start of each write to the end of its fdatasync
    // (rackboot_lease_journal_commit_seconds), observed on the writer thread
    // only. Default: not observed.
    metrics::HistogramCell commit_seconds = {};
  };
  // A commit window ends early once this many records wait.
  static constexpr uint64_t kMaxWindowRecords = 1024;

  // The journal file's name inside Options::directory, and the temporary file
  // of Compact.
  static constexpr const char* kFileName = "leases.journal";
  static constexpr const char* kCompactFileName = "leases.journal.compact";

  // Opens the journal, creating the directory (and its parents) and the file if
  // needed, and replays it: calls `replay` for every intact record in file
  // order, before returning. Damaged records are handled as the header comment
  // says. A leftover compaction file (a crash during Compact, before its
  // rename) is deleted. Errors name the path and the system call.
  static absl::StatusOr<std::unique_ptr<LeaseJournal>> Open(
      const Options& options, absl::FunctionRef<void(const Lease&)> replay);

  LeaseJournal(const LeaseJournal&) = delete;
  LeaseJournal& operator=(const LeaseJournal&) = delete;
  // Commits and syncs what was appended (errors are logged), then stops the
  // writer thread. REQUIRES: the shard thread.
  ~LeaseJournal();

  // Encodes a record of `lease` into the pending batch and returns its sequence
  // number (1, 2, 3, ... for this process; numbering restarts at 1 on every
  // Open). No system call, no lock. REQUIRES: the shard thread.
  uint64_t Append(const Lease& lease);

  // Hands the pending batch to the writer thread. Call once per reactor loop
  // iteration; costs nothing when nothing was appended. REQUIRES: the shard
  // thread.
  void Commit();

  // The highest sequence number whose record has been written and fdatasync'ed.
  // Any thread.
  uint64_t durable() const { return durable_.load(std::memory_order_acquire); }

  // Sets the function the writer thread calls after each completed sync,
  // once durable() has advanced (nullptr: none). It runs under the journal's
  // lock, so after SetOnDurable returns the previous function is never called
  // again: the shard clears it before whatever it refers to (its reactor)
  // goes away. It must be quick and must not call the journal: a
  // Reactor::Post() that wakes the shard's loop. Any thread.
  void SetOnDurable(std::function<void()> on_durable);

  // The first write or sync error (e.g. ENOSPC), OK if none. After an error the
  // writer stops writing and durable() stops advancing, so the shard stops
  // acknowledging; the error is also logged once. Any thread.
  absl::Status status() const;

  // Commits and blocks until everything appended before the call is durable, or
  // returns the write error. REQUIRES: the shard thread.
  absl::Status SyncNow();

  // Whether the file has outgrown Options::compact_after_bytes, or Open skipped
  // damaged records. REQUIRES: the shard thread.
  bool ShouldCompact() const;

  // Rewrites the journal as exactly the leases `for_each_live` enumerates (it
  // is called once with a sink to call per live lease): SyncNow, write
  // <dir>/leases.journal.compact, fdatasync it, rename it over the journal,
  // fsync the directory, and continue appending to the new file. Runs on the
  // shard thread while no Append can happen, so no appended record can be lost;
  // it blocks the shard for the duration (150 ms and a 40 MB file for 1,000,000
  // leases on the development VM, ext4 on virtio, where one write + fdatasync
  // takes about 170 us; see lease_journal_benchmark.cc). On an error before the
  // rename the old journal stays in use; an error after it (the directory
  // fsync) also becomes status(). REQUIRES: the shard thread.
  absl::Status Compact(
      absl::FunctionRef<void(absl::FunctionRef<void(const Lease&)>)>
          for_each_live);

  // Size of the journal file as written so far. Any thread.
  uint64_t file_bytes() const {
    return file_bytes_.load(std::memory_order_relaxed);
  }
  // Completed fdatasync calls of the writer thread, and the records they
  // covered. Any thread.
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  // The journal file's path.
  const std::string& path() const { return path_; }

 private:
  LeaseJournal(Options options, std::string path, int fd, int dir_fd,
               uint64_t size, bool damaged);
  void WriterLoop();
  void Fail(absl::Status error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // keeps the first error

  const Options options_;
  const std::string path_;
  const int dir_fd_;

  // Shard-thread state.
  std::string batch_;
  uint64_t batch_records_ = 0;
  uint64_t appended_ = 0;  // last sequence number handed out
  bool damaged_ = false;   // Open skipped damaged records

  // Shared between the shard and the writer thread. Waiters use Mutex::Await on
  // conditions over these fields and durable_ (which the writer stores with mu_
  // held).
  mutable absl::Mutex mu_;
  // Committed, not yet taken by the writer.
  std::string handed_ ABSL_GUARDED_BY(mu_);
  uint64_t handed_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t handed_records_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool flush_now_ ABSL_GUARDED_BY(mu_) = false;  // SyncNow: skip the window
  std::function<void()> on_durable_ ABSL_GUARDED_BY(mu_);
  // The writer copies it with each batch; Compact replaces it.
  int fd_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);

  // Writer-thread state: the buffer being written (kept to reuse its capacity).
  std::string writing_;

  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> file_bytes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> records_{0};

  std::thread writer_;  // last: started when everything above is initialised
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_LEASE_JOURNAL_H_
