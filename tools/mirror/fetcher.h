// Fetcher: downloads the files of a mirror plan over HTTP, HTTPS and FTP with
// libcurl's multi interface: parallel transfers within a total and a per-host
// connection limit, resume of `.part` files by range request (FTP REST),
// retries with exponential backoff and jitter for transient failures, a size
// guard against endless or oversized responses, and SHA-256 verification before
// the verified file is fsynced and renamed to its final name.
//
// Owned by the caller (rackboot mirror's orchestration); one Run at a time on
// one thread (the progress callback runs on that thread). Run hashes, fsyncs
// and renames finished files on 4 threads of its own so disk syncs overlap the
// transfers; they end before Run returns. The cancel flag may be set from any
// thread or a signal handler.
//
// Retries: connection errors, timeouts and stalls, 408/429/5xx (a Retry-After
// is honoured up to max_backoff), a transfer cut short (resumed from the
// .part); a 416 or a server that cannot resume restarts from 0; a size or
// SHA-256 mismatch deletes the .part and retries once from scratch. A dest
// listed twice is fetched once (a conflicting duplicate is InvalidArgument).
#ifndef RACKBOOT_TOOLS_MIRROR_FETCHER_H_
#define RACKBOOT_TOOLS_MIRROR_FETCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace rackboot::mirror {

struct FetchJob {
  // http://, https://, ftp:// only (redirects too, at most 5).
  std::string url;
  // Final absolute path; written as dest + ".part", renamed when verified.
  std::string dest;
  // Expected size; more bytes than this abort the transfer (disk-fill guard).
  // -1: unknown (bounded by FetchOptions::max_unknown_size).
  int64_t size = -1;
  // Expected SHA-256 (lowercase hex); empty: computed and returned.
  std::string sha256;
};

struct FetchOutcome {
  // OK; NotFound for HTTP 404/410 and FTP 550, PermissionDenied for 401/403
  // (no retry); DataLoss for a checksum or size mismatch; ResourceExhausted for
  // a full disk; OutOfRange for a file of unknown size over max_unknown_size;
  // FailedPrecondition for a refused redirect or TLS failure; Cancelled when
  // the cancel flag stopped it; Unavailable or DeadlineExceeded when retries
  // ran out.
  absl::Status status;
  std::string sha256;  // of the file at dest when ok
  int64_t size = 0;    // bytes at dest when ok
  // Over the network in this run (resume makes it < size).
  int64_t bytes_transferred = 0;
  int attempts = 0;
};

struct FetchOptions {
  int max_connections = 16;  // CURLMOPT_MAX_TOTAL_CONNECTIONS
  int max_per_host = 6;      // CURLMOPT_MAX_HOST_CONNECTIONS
  int max_attempts = 5;      // retries with exponential backoff + jitter
  absl::Duration first_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(15);
  // Below 1 KiB/s for this long => the attempt fails (transient, retried).
  absl::Duration stall_timeout = absl::Seconds(30);
  int64_t max_unknown_size = int64_t{16} << 30;  // bound when size is unknown
  std::string user_agent = "rackboot-mirror/1";
  // fsync each verified file before its rename. A caller that makes the whole
  // tree durable later (the publisher's syncfs before its swap) turns it off:
  // one syncfs instead of a journal commit per file.
  bool fsync_files = true;
};

// Cumulative, for the progress reporter.
struct FetchProgress {
  int64_t files_total = 0, files_done = 0, files_failed = 0;
  int64_t bytes_total = 0;  // sum of known sizes
  int64_t bytes_done =
      0;  // bytes at dest/.part so far (resume counts what was there)
  int64_t retries = 0;
};

class Fetcher {
 public:
  explicit Fetcher(FetchOptions options = {});

  // Runs every job (libcurl multi, parallel within the limits); returns one
  // outcome per job in order. `progress` (may be empty) is called at most
  // every 100 ms and once at the end (same thread). `cancel` (may be null) is
  // polled; when it turns true the transfers stop, .part files stay,
  // unfinished jobs get Cancelled.
  std::vector<FetchOutcome> Run(
      const std::vector<FetchJob>& jobs,
      const std::function<void(const FetchProgress&)>& progress,
      const std::atomic<bool>* cancel);

 private:
  FetchOptions options_;
};

// `url` with any user:password@ removed, for messages (not yet quoted).
std::string StripUrlCredentials(const std::string& url);

}  // namespace rackboot::mirror

#endif  // RACKBOOT_TOOLS_MIRROR_FETCHER_H_
