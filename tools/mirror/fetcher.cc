#include "tools/mirror/fetcher.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

// A transfer slower than this for stall_timeout is a stall (transient).
constexpr long kStallBytesPerSecond = 1024;
constexpr absl::Duration kProgressInterval = absl::Milliseconds(100);
constexpr const char* kProtocols = "http,https,ftp";
// Threads hashing, fsyncing and renaming finished files.
constexpr int kVerifyThreads = 4;
// Finished files waiting for them (each holds its .part open) before new
// transfers wait.
constexpr size_t kMaxVerifying = 64;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool IsHttpUrl(const std::string& url) {
  return absl::StartsWithIgnoreCase(url, "http://") ||
         absl::StartsWithIgnoreCase(url, "https://");
}

// Whether the transfer's last connection (after redirects) was HTTP(S): an
// http:// URL may redirect to ftp://, whose reply codes are not HTTP's.
bool SpeaksHttp(CURL* easy) {
  char* scheme = nullptr;
  return curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme) == CURLE_OK &&
         scheme != nullptr && absl::StartsWithIgnoreCase(scheme, "http");
}

bool HasAllowedScheme(const std::string& url) {
  return IsHttpUrl(url) || absl::StartsWithIgnoreCase(url, "ftp://");
}

// mkdir -p of dest's parent, mode 0755.
absl::Status MakeParents(const std::string& dest) {
  size_t slash = dest.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  std::string dir = dest.substr(0, slash);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot create directory ",
                                              log::Quoted(prefix), ": ",
                                              strerror(errno)));
    }
  }
  return absl::OkStatus();
}

enum class Verdict {
  kVerify,       // transfer complete: check size and SHA-256, fsync, rename
  kDone,         // outcome.status is final (ok or not)
  kRetry,        // transient: retry after backoff
  kRetryNow,     // restart from 0 at once (416, server cannot resume)
  kFromScratch,  // size/checksum mismatch: delete .part, one retry
};

struct RunState;
struct Transfer;
using Judgement = std::pair<Verdict, absl::Status>;

// Checks, fsyncs and renames completed .part files on a few threads of its own
// so that hashing and fsync (the slow part with many small files) overlap
// the transfers. The curl loop submits a Transfer it no longer touches and
// takes the judgements back; a worker wakes the loop with curl_multi_wakeup.
class Verifier {
 public:
  Verifier(int threads, std::function<Judgement(Transfer&)> verify,
           CURLM* multi)
      : verify_(std::move(verify)), multi_(multi) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~Verifier() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    todo_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Submit(Transfer* t) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      todo_.push_back(t);
      ++pending_;
    }
    todo_cv_.notify_one();
  }
  // Judgements finished so far; with `wait_all`, first waits until every
  // submitted transfer is judged.
  std::vector<std::pair<Transfer*, Judgement>> Take(bool wait_all) {
    std::unique_lock<std::mutex> lock(mu_);
    if (wait_all) done_cv_.wait(lock, [this] { return pending_ == 0; });
    std::vector<std::pair<Transfer*, Judgement>> out;
    out.swap(done_);
    return out;
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      todo_cv_.wait(lock, [this] { return stop_ || !todo_.empty(); });
      if (todo_.empty()) return;
      Transfer* t = todo_.front();
      todo_.pop_front();
      lock.unlock();
      Judgement j = verify_(*t);
      lock.lock();
      done_.emplace_back(t, std::move(j));
      --pending_;
      done_cv_.notify_all();
      curl_multi_wakeup(multi_);
    }
  }

  std::function<Judgement(Transfer&)> verify_;
  CURLM* multi_;
  std::mutex mu_;
  std::condition_variable todo_cv_, done_cv_;
  std::deque<Transfer*> todo_;
  std::vector<std::pair<Transfer*, Judgement>> done_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// One job across its attempts.
struct Transfer {
  const FetchJob* job = nullptr;
  FetchOutcome outcome;
  RunState* run = nullptr;
  std::string part;
  std::string shown_url;  // credentials stripped, quoted
  int64_t limit = 0;      // most bytes the .part may hold
  bool done = false;
  // Another job with the same dest, url, size and sha256: fetched once, this
  // one gets a copy of its outcome.
  int64_t alias_of = -1;
  bool scratch_retry_used = false;
  absl::Duration retry_after;  // the server's Retry-After, for the next backoff
  absl::Time next_start = absl::InfinitePast();
  // Per attempt.
  CURL* easy = nullptr;
  int fd = -1;
  int64_t offset = 0;   // bytes in .part now
  int64_t counted = 0;  // what this job adds to FetchProgress::bytes_done
  bool status_checked = false;
  bool bad_status = false;
  bool oversize = false;
  int write_errno = 0;
  // curl's message of the attempt; allocated per attempt (a plan may hold
  // hundreds of thousands of jobs).
  std::unique_ptr<char[]> errbuf;
};

struct RunState {
  FetchProgress progress;
  void SetCounted(Transfer* t, int64_t bytes) {
    progress.bytes_done += bytes - t->counted;
    t->counted = bytes;
  }
};

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nmemb;
  if (!t->status_checked) {
    t->status_checked = true;
    if (SpeaksHttp(t->easy)) {
      long code = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
      if (code == 200 && t->offset > 0) {
        // The server ignored our Range and sends the whole file: start over.
        if (ftruncate(t->fd, 0) != 0) {
          t->write_errno = errno;
          return 0;
        }
        t->offset = 0;
        t->run->SetCounted(t, 0);
      } else if (code != 200 && code != 206) {
        // An error page or a redirect body: never written into the file.
        t->bad_status = true;
        return 0;
      }
    }
    curl_off_t length = -1;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length > 0 && t->offset + length > t->limit) {
      t->oversize = true;
      return 0;
    }
  }
  if (t->offset + static_cast<int64_t>(n) > t->limit) {
    t->oversize = true;
    return 0;
  }
  size_t written = 0;
  while (written < n) {
    ssize_t w = pwrite(t->fd, data + written, n - written, t->offset + written);
    if (w < 0) {
      if (errno == EINTR) continue;
      t->write_errno = errno;
      return 0;
    }
    written += static_cast<size_t>(w);
  }
  t->offset += static_cast<int64_t>(n);
  t->outcome.bytes_transferred += static_cast<int64_t>(n);
  t->run->SetCounted(t, t->offset);
  return n;
}

absl::Status WriteError(const Transfer& t, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(
        absl::StrCat("disk full writing ", log::Quoted(t.part), " (from ",
                     t.shown_url, "): free space and re-run to resume"));
  }
  return absl::InternalError(absl::StrCat("cannot write ", log::Quoted(t.part),
                                          " (from ", t.shown_url,
                                          "): ", strerror(err)));
}

}  // namespace

std::string StripUrlCredentials(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t host_start = scheme + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  size_t at = url.rfind('@', host_end);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + url.substr(at + 1);
}

Fetcher::Fetcher(FetchOptions options) : options_(std::move(options)) {}

std::vector<FetchOutcome> Fetcher::Run(
    const std::vector<FetchJob>& jobs,
    const std::function<void(const FetchProgress&)>& progress,
    const std::atomic<bool>* cancel) {
  GlobalInitOnce();
  RunState run;
  std::vector<Transfer> transfers(jobs.size());
  run.progress.files_total = static_cast<int64_t>(jobs.size());
  // Two transfers into one .part would interleave: a dest is fetched once.
  absl::flat_hash_map<std::string, size_t> by_dest;
  size_t finished = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    Transfer& t = transfers[i];
    t.job = &jobs[i];
    t.run = &run;
    t.part = jobs[i].dest + ".part";
    t.shown_url = log::Quoted(StripUrlCredentials(jobs[i].url));
    t.limit = jobs[i].size >= 0 ? jobs[i].size : options_.max_unknown_size;
    auto [first, inserted] = by_dest.emplace(jobs[i].dest, i);
    if (!inserted) {
      const FetchJob& other = jobs[first->second];
      t.done = true;
      ++finished;
      if (other.url == jobs[i].url && other.size == jobs[i].size &&
          other.sha256 == jobs[i].sha256) {
        t.alias_of = static_cast<int64_t>(first->second);
      } else {
        t.outcome.status = absl::InvalidArgumentError(
            absl::StrCat(log::Quoted(jobs[i].dest), " is the destination of ",
                         t.shown_url, " and of a different file (",
                         log::Quoted(StripUrlCredentials(other.url)), ")"));
        ++run.progress.files_failed;
      }
      continue;
    }
    if (jobs[i].size > 0) run.progress.bytes_total += jobs[i].size;
  }

  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(std::max(1, options_.max_connections)));
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(std::max(1, options_.max_per_host)));
  // Handles added to the multi at once: curl queues those over the per-host
  // limit itself; bounding them bounds open .part descriptors.
  const size_t max_active =
      static_cast<size_t>(std::max(1, options_.max_connections));

  absl::BitGen bitgen;
  std::deque<size_t> fresh;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!transfers[i].done) fresh.push_back(i);
  }
  std::vector<size_t> waiting;  // retry scheduled at next_start
  size_t active = 0;

  auto finish = [&](Transfer& t, absl::Status status) {
    t.outcome.status = std::move(status);
    t.done = true;
    ++finished;
    if (t.outcome.status.ok()) {
      ++run.progress.files_done;
    } else {
      ++run.progress.files_failed;
    }
  };

  auto close_easy = [&](Transfer& t) {
    if (t.easy != nullptr) {
      curl_multi_remove_handle(multi, t.easy);
      curl_easy_cleanup(t.easy);
      t.easy = nullptr;
      t.errbuf.reset();
      --active;
    }
  };
  auto close_attempt = [&](Transfer& t) {
    close_easy(t);
    if (t.fd >= 0) {
      close(t.fd);
      t.fd = -1;
    }
  };

  auto backoff = [&](int attempt) {
    absl::Duration d = options_.first_backoff;
    for (int i = 1; i < attempt && d < options_.max_backoff; ++i) d *= 2;
    d = std::min(d, options_.max_backoff);
    // Jitter in [d/2, d]: peers retrying after one outage spread out.
    return d / 2 + absl::Nanoseconds(absl::Uniform<int64_t>(
                       bitgen, 0, absl::ToInt64Nanoseconds(d / 2) + 1));
  };

  // Verifies a complete .part and renames it into place. Runs on a Verifier
  // thread: touches only t (which the loop leaves alone meanwhile).
  const bool fsync_files = options_.fsync_files;
  auto verify = [fsync_files](Transfer& t) -> Judgement {
    const FetchJob& job = *t.job;
    if (job.size >= 0 && t.offset != job.size) {
      // Shorter: the connection ended early without curl noticing (no
      // Content-Length); retried, resuming. (Longer cannot happen: the write
      // guard stops at the size.)
      return {Verdict::kRetry,
              absl::DataLossError(absl::StrCat(
                  "size mismatch for ", t.shown_url, ": expected ", job.size,
                  " bytes, got ", t.offset,
                  "; the server's copy differs from its index, re-run later"))};
    }
    absl::StatusOr<std::string> sum = Sha256OfFile(t.part);
    if (!sum.ok()) return {Verdict::kDone, sum.status()};
    if (!job.sha256.empty() && *sum != job.sha256) {
      return {Verdict::kFromScratch,
              absl::DataLossError(absl::StrCat(
                  "sha256 mismatch for ", t.shown_url, ": expected ",
                  job.sha256, ", got ", *sum,
                  "; the server's copy differs from its index, re-run later"))};
    }
    if (fsync_files && fsync(t.fd) != 0) {
      return {Verdict::kDone, WriteError(t, errno)};
    }
    if (rename(t.part.c_str(), job.dest.c_str()) != 0) {
      return {Verdict::kDone, absl::InternalError(absl::StrCat(
                                  "cannot rename ", log::Quoted(t.part), ": ",
                                  strerror(errno)))};
    }
    t.outcome.sha256 = *sum;
    t.outcome.size = t.offset;
    return {Verdict::kDone, absl::OkStatus()};
  };

  Verifier verifier(kVerifyThreads, verify, multi);
  size_t verifying = 0;

  // Applies a verdict: finishes the job or schedules its next attempt.
  auto apply = [&](Transfer& t, Verdict verdict, absl::Status status) {
    if (verdict == Verdict::kVerify) {
      close_easy(t);  // the .part stays open for fsync
      ++verifying;
      verifier.Submit(&t);
      return;
    }
    close_attempt(t);
    switch (verdict) {
      case Verdict::kVerify:
        break;
      case Verdict::kDone:
        if (absl::IsNotFound(status) || absl::IsPermissionDenied(status) ||
            absl::IsFailedPrecondition(status) ||
            absl::IsInvalidArgument(status) || absl::IsOutOfRange(status)) {
          // Permanent: nothing worth resuming.
          unlink(t.part.c_str());
          run.SetCounted(&t, 0);
        }
        finish(t, std::move(status));
        return;
      case Verdict::kFromScratch:
        unlink(t.part.c_str());
        run.SetCounted(&t, 0);
        if (t.scratch_retry_used) {
          finish(t, std::move(status));
          return;
        }
        t.scratch_retry_used = true;
        t.next_start = absl::Now();
        break;
      case Verdict::kRetryNow:
        if (truncate(t.part.c_str(), 0) != 0 && errno != ENOENT) {
          finish(t, WriteError(t, errno));
          return;
        }
        run.SetCounted(&t, 0);
        if (t.outcome.attempts >= options_.max_attempts) {
          finish(t, std::move(status));
          return;
        }
        t.next_start = absl::Now();
        break;
      case Verdict::kRetry:
        if (t.outcome.attempts >= options_.max_attempts) {
          finish(t, std::move(status));
          return;
        }
        t.next_start =
            absl::Now() + std::max(backoff(t.outcome.attempts), t.retry_after);
        t.retry_after = absl::ZeroDuration();
        break;
    }
    ++run.progress.retries;
    waiting.push_back(static_cast<size_t>(&t - transfers.data()));
  };

  // Classifies a finished attempt.
  auto judge = [&](Transfer& t,
                   CURLcode result) -> std::pair<Verdict, absl::Status> {
    long code = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
    const std::string& url = t.shown_url;
    // curl's message may carry server text (FTP replies): escaped.
    const std::string detail =
        log::Escaped(t.errbuf != nullptr && t.errbuf[0] != '\0'
                         ? t.errbuf.get()
                         : curl_easy_strerror(result));
    const std::string attempts = absl::StrCat(
        " (attempt ", t.outcome.attempts, " of ", options_.max_attempts, ")");
    if (t.write_errno != 0)
      return {Verdict::kDone, WriteError(t, t.write_errno)};
    if (t.oversize) {
      if (t.job->size >= 0) {
        return {Verdict::kFromScratch,
                absl::DataLossError(absl::StrCat(
                    "size mismatch for ", url,
                    ": the server sends more than the expected ", t.job->size,
                    " bytes; the server's copy differs from its index"))};
      }
      return {
          Verdict::kDone,
          absl::OutOfRangeError(absl::StrCat(
              url, " is larger than the limit of ", options_.max_unknown_size,
              " bytes for a file of unknown size; refused"))};
    }
    if (SpeaksHttp(t.easy) &&
        (t.bad_status || (result == CURLE_OK && (code < 200 || code > 299)))) {
      const std::string what = absl::StrCat(url, ": HTTP ", code);
      if (code == 404 || code == 410) {
        return {Verdict::kDone,
                absl::NotFoundError(
                    absl::StrCat(what, " (not on the server; check the URL)"))};
      }
      if (code == 401 || code == 403) {
        return {Verdict::kDone, absl::PermissionDeniedError(absl::StrCat(
                                    what,
                                    " (access denied; check the URL and the "
                                    "server's permissions)"))};
      }
      if (code == 416) {
        return {Verdict::kRetryNow,
                absl::UnavailableError(absl::StrCat(
                    what, " (range not satisfiable, restarting from 0)",
                    attempts))};
      }
      if (code == 408 || code == 429 || code >= 500) {
        // A busy mirror's Retry-After (seconds or a date) is honoured, up to
        // max_backoff.
        curl_off_t retry_after = 0;
        if (curl_easy_getinfo(t.easy, CURLINFO_RETRY_AFTER, &retry_after) ==
                CURLE_OK &&
            retry_after > 0) {
          t.retry_after =
              std::min(absl::Seconds(retry_after), options_.max_backoff);
        }
        return {Verdict::kRetry,
                absl::UnavailableError(absl::StrCat(
                    what, attempts, "; the server is failing, re-run later"))};
      }
      return {Verdict::kDone, absl::FailedPreconditionError(
                                  absl::StrCat(what, " (unexpected answer)"))};
    }
    switch (result) {
      case CURLE_OK:
        return {Verdict::kVerify, absl::OkStatus()};
      case CURLE_RANGE_ERROR:
      case CURLE_BAD_DOWNLOAD_RESUME:
      case CURLE_FTP_COULDNT_USE_REST:
        return {Verdict::kRetryNow,
                absl::UnavailableError(
                    absl::StrCat(url, ": cannot resume: ", detail, attempts))};
      case CURLE_REMOTE_FILE_NOT_FOUND:
        return {Verdict::kDone,
                absl::NotFoundError(absl::StrCat(
                    url, ": ", detail, " (not on the server; check the URL)"))};
      case CURLE_REMOTE_ACCESS_DENIED:
      case CURLE_LOGIN_DENIED:
        return {Verdict::kDone, absl::PermissionDeniedError(absl::StrCat(
                                    url, ": ", detail, " (access denied)"))};
      case CURLE_UNSUPPORTED_PROTOCOL:
        return {
            Verdict::kDone,
            absl::FailedPreconditionError(absl::StrCat(
                url,
                ": refused: only http, https and ftp are fetched, redirects "
                "included (",
                detail, ")"))};
      case CURLE_TOO_MANY_REDIRECTS:
        return {Verdict::kDone, absl::FailedPreconditionError(absl::StrCat(
                                    url, ": more than 5 redirects"))};
      case CURLE_URL_MALFORMAT:
        return {Verdict::kDone, absl::InvalidArgumentError(
                                    absl::StrCat(url, ": malformed URL"))};
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        return {Verdict::kDone,
                absl::FailedPreconditionError(absl::StrCat(
                    url, ": TLS verification failed: ", detail,
                    " (check the server certificate or use http)"))};
      case CURLE_OPERATION_TIMEDOUT:
        return {Verdict::kRetry,
                absl::DeadlineExceededError(absl::StrCat(
                    url, ": stalled or timed out: ", detail, attempts,
                    "; check the network and re-run (downloads resume)"))};
      default:
        return {Verdict::kRetry, absl::UnavailableError(absl::StrCat(
                                     url, ": ", detail, attempts,
                                     "; check the server and the network and "
                                     "re-run (downloads resume)"))};
    }
  };

  // Starts the next attempt of t; false when it finished without a transfer.
  auto start = [&](Transfer& t) {
    ++t.outcome.attempts;
    t.status_checked = t.bad_status = t.oversize = false;
    t.write_errno = 0;
    t.errbuf.reset();
    const FetchJob& job = *t.job;
    if (!HasAllowedScheme(job.url)) {
      finish(t, absl::InvalidArgumentError(absl::StrCat(
                    t.shown_url,
                    ": only http://, https:// and ftp:// URLs are fetched")));
      return;
    }
    if (absl::Status s = MakeParents(job.dest); !s.ok()) {
      finish(t, std::move(s));
      return;
    }
    t.fd = open(t.part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (t.fd < 0) {
      finish(t, WriteError(t, errno));
      return;
    }
    struct stat st;
    int64_t existing = fstat(t.fd, &st) == 0 ? st.st_size : 0;
    if (job.size >= 0 && existing > job.size) {
      // Not a prefix of the file we want: start over.
      if (ftruncate(t.fd, 0) != 0) {
        int err = errno;
        close_attempt(t);
        finish(t, WriteError(t, err));
        return;
      }
      existing = 0;
    }
    t.offset = existing;
    run.SetCounted(&t, existing);
    if (job.size > 0 && existing == job.size) {
      // A complete .part from an interrupted run: verify it without a request.
      apply(t, Verdict::kVerify, absl::OkStatus());
      return;
    }
    CURL* easy = curl_easy_init();
    t.easy = easy;
    curl_easy_setopt(easy, CURLOPT_URL, job.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, kProtocols);
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, kProtocols);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(easy, CURLOPT_FAILONERROR, 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(
        easy, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, kStallBytesPerSecond);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<int64_t>(
                         1, absl::ToInt64Seconds(options_.stall_timeout))));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteCallback);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    t.errbuf = std::make_unique<char[]>(CURL_ERROR_SIZE);
    t.errbuf[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t.errbuf.get());
    // Fewer, larger writes into the .part.
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 128L * 1024);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &t);
    if (existing > 0) {
      curl_easy_setopt(easy, CURLOPT_RESUME_FROM_LARGE,
                       static_cast<curl_off_t>(existing));
    }
    curl_multi_add_handle(multi, easy);
    ++active;
  };

  absl::Time last_progress = absl::InfinitePast();
  bool cancelled = false;
  while (finished < jobs.size()) {
    if (cancel != nullptr && cancel->load()) {
      cancelled = true;
      break;
    }
    absl::Time now = absl::Now();
    // Due retries first, then fresh jobs, within the handle budget.
    while (active < max_active && verifying < kMaxVerifying) {
      auto due = std::find_if(waiting.begin(), waiting.end(), [&](size_t i) {
        return transfers[i].next_start <= now;
      });
      size_t index;
      if (due != waiting.end()) {
        index = *due;
        waiting.erase(due);
      } else if (!fresh.empty()) {
        index = fresh.front();
        fresh.pop_front();
      } else {
        break;
      }
      start(transfers[index]);
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode result = msg->data.result;
      auto [verdict, status] = judge(*t, result);
      apply(*t, verdict, std::move(status));
    }
    for (auto& [t, judgement] : verifier.Take(/*wait_all=*/false)) {
      --verifying;
      apply(*t, judgement.first, std::move(judgement.second));
    }
    now = absl::Now();
    if (progress && now - last_progress >= kProgressInterval) {
      last_progress = now;
      progress(run.progress);
    }
    if (finished >= jobs.size()) break;
    absl::Duration wait = kProgressInterval;
    if (active < max_active && verifying < kMaxVerifying) {
      if (!fresh.empty()) wait = absl::ZeroDuration();
      for (size_t i : waiting)
        wait = std::min(wait, transfers[i].next_start - now);
    }
    if (wait > absl::ZeroDuration()) {
      curl_multi_poll(multi, nullptr, 0,
                      static_cast<int>(std::max<int64_t>(
                          1, absl::ToInt64Milliseconds(wait))),
                      nullptr);
    }
  }
  if (cancelled) {
    // Stop transferring at once; what is being verified finishes (bounded).
    for (Transfer& t : transfers) close_easy(t);
    for (auto& [t, judgement] : verifier.Take(/*wait_all=*/true)) {
      --verifying;
      Verdict v =
          judgement.first == Verdict::kDone ? Verdict::kDone : Verdict::kRetry;
      if (v == Verdict::kDone) {
        apply(*t, v, std::move(judgement.second));
      } else {
        close_attempt(*t);  // a mismatch: not retried now, reported below
        unlink(t->part.c_str());
      }
    }
  }
  for (Transfer& t : transfers) {
    if (t.done) continue;
    close_attempt(t);  // .part stays for the next run
    t.outcome.status = absl::CancelledError(
        absl::StrCat(t.shown_url, ": cancelled; re-run to resume"));
  }
  curl_multi_cleanup(multi);
  for (Transfer& t : transfers) {
    if (t.alias_of < 0) continue;
    const FetchOutcome& first = transfers[t.alias_of].outcome;
    t.outcome.status = first.status;
    t.outcome.sha256 = first.sha256;
    t.outcome.size = first.size;
    ++(first.status.ok() ? run.progress.files_done : run.progress.files_failed);
  }
  if (progress) progress(run.progress);
  std::vector<FetchOutcome> outcomes;
  outcomes.reserve(transfers.size());
  for (Transfer& t : transfers) outcomes.push_back(std::move(t.outcome));
  return outcomes;
}

}  // namespace rackboot::mirror
