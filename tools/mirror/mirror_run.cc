#include "tools/mirror/mirror_run.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/log/log_text.h"
#include "tools/mirror/apt_source.h"
#include "tools/mirror/directory_source.h"
#include "tools/mirror/fetcher.h"
#include "tools/mirror/iso_source.h"
#include "tools/mirror/media_recognizer.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/publisher.h"
#include "tools/mirror/sha256.h"
#include "tools/mirror/signature_verifier.h"
#include "tools/mirror/yum_source.h"

namespace rackboot::mirror {
namespace {

bool IsUrl(absl::string_view s) {
  return absl::StartsWith(s, "http://") || absl::StartsWith(s, "https://") ||
         absl::StartsWith(s, "ftp://");
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec;
}

absl::Status WriteFailure(const std::string& path, const std::string& dir,
                          int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(DiskFullMessage(path, dir));
  }
  return absl::InternalError(absl::StrCat("cannot write ", log::Quoted(path),
                                          ": ", std::strerror(err)));
}

// Copies `src` to `dst` (temp + fsync + rename), copy_file_range first.
absl::Status CopyFileAtomically(const std::string& src, const std::string& dst,
                                const std::string& disk_dir,
                                const std::atomic<bool>* cancel,
                                int64_t* copied) {
  int in = open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", log::Quoted(src),
                                            ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(in);
    return absl::FailedPreconditionError(
        absl::StrCat(log::Quoted(src), " is not a regular file"));
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dst).parent_path(),
                                      ec);
  const std::string part = dst + ".part";
  int out = open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    close(in);
    return WriteFailure(part, disk_dir, err);
  }
  absl::Status status;
  bool fallback = false;
  std::vector<char> buf;
  for (;;) {
    if (cancel != nullptr && cancel->load()) {
      status = absl::CancelledError("interrupted");
      break;
    }
    ssize_t n;
    if (!fallback) {
      n = copy_file_range(in, nullptr, out, nullptr, 8 << 20, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                    errno == EOPNOTSUPP)) {
        fallback = true;
        continue;
      }
    } else {
      if (buf.empty()) buf.resize(1 << 20);
      n = read(in, buf.data(), buf.size());
      if (n > 0) {
        ssize_t off = 0;
        while (off < n) {
          ssize_t w = write(out, buf.data() + off, n - off);
          if (w < 0) {
            if (errno == EINTR) continue;
            n = -1;
            break;
          }
          off += w;
        }
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      status = WriteFailure(part, disk_dir, errno);
      break;
    }
    if (n == 0) break;
    *copied += n;
  }
  close(in);
  if (status.ok()) {
    // The source's mtime: an interrupted run's copy is recognised by it.
    struct timespec times[2] = {{0, UTIME_OMIT}, st.st_mtim};
    futimens(out, times);
  }
  if (status.ok() && fsync(out) != 0)
    status = WriteFailure(part, disk_dir, errno);
  close(out);
  if (status.ok() && rename(part.c_str(), dst.c_str()) != 0) {
    status = WriteFailure(dst, disk_dir, errno);
  }
  if (!status.ok() && !absl::IsCancelled(status)) unlink(part.c_str());
  return status;
}

nlohmann::json MediaJson(const MediaInfo& m) {
  return nlohmann::json{{"kind", m.kind},     {"family", m.family},
                        {"distro", m.distro}, {"release", m.release},
                        {"arch", m.arch},     {"kernel", m.kernel},
                        {"initrd", m.initrd}, {"evidence", m.evidence}};
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The state of one run: the publisher, the fetcher, the counters.
class Runner {
 public:
  Runner(const MirrorOptions& options, ProgressReporter* progress,
         const std::atomic<bool>* cancel, MirrorSummary* summary)
      : options_(options),
        progress_(progress),
        cancel_(cancel),
        summary_(summary) {
    FetchOptions f;
    f.max_connections = options.connections;
    f.max_per_host = options.per_host;
    f.max_attempts = options.retries + 1;
    f.stall_timeout = absl::Seconds(options.timeout);
    f.connect_timeout = absl::Seconds(std::min(15, options.timeout));
    // The publisher makes the whole staging tree durable (syncfs, else an
    // fsync of every file and directory) before it swaps it in; a torn file
    // of a crashed run is caught by its SHA-256 when the next run reuses it.
    f.fsync_files = false;
    fetcher_ = std::make_unique<Fetcher>(f);
  }

  absl::Status Run();

 private:
  absl::Status FetchNetwork(const std::vector<PlannedFile>& files);
  absl::Status CopyDirectory(const std::vector<DirectoryEntry>& entries);
  absl::Status RunIso();
  absl::Status RunDirectory();
  absl::Status RunApt();
  absl::Status RunYum();
  absl::Status CopyBootFiles();
  void Warn(const std::string& w) {
    summary_->warnings.push_back(w);
    if (progress_ != nullptr) progress_->Note(absl::StrCat("warning: ", w));
  }
  void Report(const FetchProgress& p) {
    if (progress_ == nullptr) return;
    ProgressSnapshot s;
    s.files_total = base_.files_total + p.files_total;
    s.files_done = base_.files_done + p.files_done;
    s.files_failed = base_.files_failed + p.files_failed;
    s.bytes_total = base_.bytes_total + p.bytes_total;
    s.bytes_done = base_.bytes_done + p.bytes_done;
    s.retries = base_.retries + p.retries;
    last_ = s;
    progress_->Update(s);
  }
  bool Cancelled() const { return cancel_ != nullptr && cancel_->load(); }

  const MirrorOptions& options_;
  ProgressReporter* progress_;
  const std::atomic<bool>* cancel_;
  MirrorSummary* summary_;
  std::unique_ptr<Fetcher> fetcher_;
  std::unique_ptr<Publisher> pub_;
  SourceKind kind_ = SourceKind::kDirectory;
  std::string base_url_;
  ProgressSnapshot base_, last_;
  bool repomd_missing_ = false;
};

absl::Status Runner::FetchNetwork(const std::vector<PlannedFile>& files) {
  std::vector<FetchJob> jobs;
  std::vector<const PlannedFile*> which;
  for (const PlannedFile& f : files) {
    if (absl::Status s = CheckMirrorPath(f.path); !s.ok()) return s;
    if (pub_->TryReuse(f)) continue;
    FetchJob job;
    job.url = f.url;
    job.dest = pub_->StagingPath(f.path);
    job.size = f.size;
    job.sha256 = f.sha256;
    // Without a checksum a stale .part (an older InRelease) cannot be told
    // from a good start: such files start over.
    if (f.sha256.empty()) unlink((job.dest + ".part").c_str());
    jobs.push_back(std::move(job));
    which.push_back(&f);
  }
  if (jobs.empty()) return absl::OkStatus();
  std::vector<FetchOutcome> outcomes = fetcher_->Run(
      jobs, [this](const FetchProgress& p) { Report(p); }, cancel_);
  base_ = last_;
  absl::Status first;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const FetchOutcome& o = outcomes[i];
    summary_->retries += std::max(0, o.attempts - 1);
    summary_->bytes_fetched += o.bytes_transferred;
    if (o.status.ok()) {
      pub_->Record(ManifestEntry{which[i]->path, o.size, o.sha256, 0});
      ++summary_->fetched;
      continue;
    }
    if (which[i]->path == "repodata/repomd.xml" && absl::IsNotFound(o.status)) {
      repomd_missing_ = true;
    }
    if (first.ok() ||
        (absl::IsCancelled(first) && !absl::IsCancelled(o.status))) {
      first = o.status;
    }
  }
  if (Cancelled()) return absl::CancelledError("interrupted");
  if (absl::IsResourceExhausted(first) &&
      absl::StartsWith(first.message(), "disk full writing")) {
    return absl::ResourceExhaustedError(
        absl::StrCat(first.message(), "; ", FreeBytes(pub_->dir()),
                     " bytes free on the filesystem of ", pub_->dir()));
  }
  return first;
}

absl::Status Runner::CopyDirectory(const std::vector<DirectoryEntry>& entries) {
  ProgressSnapshot s;
  for (const DirectoryEntry& e : entries) {
    ++s.files_total;
    s.bytes_total += std::max<int64_t>(0, e.file.size);
  }
  for (const DirectoryEntry& e : entries) {
    if (Cancelled()) return absl::CancelledError("interrupted");
    if (pub_->TryReuse(e.file, e.mtime_ns)) {
      ++s.files_done;
      s.bytes_done += std::max<int64_t>(0, e.file.size);
      if (progress_ != nullptr) progress_->Update(s);
      continue;
    }
    int64_t copied = 0;
    const std::string dst = pub_->StagingPath(e.file.path);
    absl::Status st =
        CopyFileAtomically(e.file.url, dst, pub_->dir(), cancel_, &copied);
    if (!st.ok()) return st;
    absl::StatusOr<std::string> sha = Sha256OfFile(dst);
    if (!sha.ok()) return sha.status();
    pub_->Record(ManifestEntry{e.file.path, copied, *sha, e.mtime_ns});
    ++summary_->fetched;
    summary_->bytes_fetched += copied;
    ++s.files_done;
    s.bytes_done += copied;
    if (progress_ != nullptr) progress_->Update(s);
  }
  last_ = s;
  return absl::OkStatus();
}

absl::Status Runner::RunDirectory() {
  // Recognition first: unknown media fails before anything is copied.
  absl::StatusOr<MediaInfo> media = RecognizeMedia(options_.from);
  if (!media.ok()) return media.status();
  summary_->media = *media;
  std::vector<std::string> warnings;
  absl::StatusOr<std::vector<DirectoryEntry>> entries =
      ListDirectorySource(options_.from, &warnings);
  if (!entries.ok()) return entries.status();
  for (const std::string& w : warnings) Warn(w);
  return CopyDirectory(*entries);
}

absl::Status Runner::RunIso() {
  struct stat st;
  if (stat(options_.from.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", options_.from));
  }
  const int64_t iso_mtime = MtimeNs(st);
  absl::StatusOr<std::vector<IsoEntry>> entries = ListIso(options_.from);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        log::Quoted(options_.from),
        " is not an ISO9660 image: ", entries.status().message(),
        " (--from takes an .iso file, a directory or an http(s)/ftp URL)"));
  }
  ProgressSnapshot s;
  for (const IsoEntry& e : *entries) {
    ++s.files_total;
    s.bytes_total += e.size;
  }
  auto want = [&](const IsoEntry& e) {
    if (pub_->TryReuse(PlannedFile{e.path, "", e.size, ""}, iso_mtime)) {
      ++s.files_done;
      s.bytes_done += e.size;
      return false;
    }
    return true;
  };
  auto on_bytes = [&](int64_t bytes) {
    s.bytes_done += bytes;
    summary_->bytes_fetched += bytes;
    if (progress_ != nullptr) progress_->Update(s);
  };
  absl::StatusOr<IsoExtractResult> result =
      ExtractIso(options_.from, pub_->staging(), want, on_bytes, cancel_);
  if (!result.ok()) {
    if (Cancelled()) return absl::CancelledError("interrupted");
    return result.status();
  }
  for (const std::string& w : result->warnings) Warn(w);
  for (const PlannedFile& f : result->files) {
    if (f.sha256.empty()) continue;
    pub_->Record(ManifestEntry{f.path, f.size, f.sha256, iso_mtime});
    ++summary_->fetched;
    ++s.files_done;
  }
  last_ = s;
  if (progress_ != nullptr) progress_->Update(s);
  absl::StatusOr<MediaInfo> media = RecognizeMedia(pub_->staging());
  if (!media.ok()) {
    return absl::Status(
        media.status().code(),
        absl::StrReplaceAll(media.status().message(),
                            {{pub_->staging(), options_.from}}));
  }
  summary_->media = *media;
  return absl::OkStatus();
}

absl::Status Runner::RunApt() {
  AptSourceOptions a;
  a.base_url = base_url_;
  a.suite = options_.suite;
  a.components = options_.components;
  a.arch = options_.arch;
  a.packages = options_.packages;
  a.priorities = options_.priorities;
  a.all = options_.all;
  a.installer = options_.installer;
  a.udebs = options_.udebs;
  a.recommends = options_.recommends;
  if (!options_.keyring.empty()) a.keyring = options_.keyring;
  FetchFilesFn fetch = [this](const std::vector<PlannedFile>& files) {
    return FetchNetwork(files);
  };
  absl::StatusOr<AptSourceResult> r = PlanAptSource(a, pub_->staging(), fetch);
  if (!r.ok()) return r.status();
  summary_->media = r->media;
  for (const std::string& w : r->warnings) Warn(w);
  return FetchNetwork(r->plan.files);
}

absl::Status Runner::RunYum() {
  YumSourceOptions y;
  y.base_url = base_url_;
  y.packages = options_.packages;
  y.all = options_.packages.empty() || options_.all;
  y.keyring = options_.keyring;
  FetchFilesFn fetch = [this](const std::vector<PlannedFile>& files) {
    return FetchNetwork(files);
  };
  absl::StatusOr<YumSourceResult> r = PlanYumSource(y, pub_->staging(), fetch);
  if (!r.ok()) {
    if (repomd_missing_) {
      return absl::NotFoundError(absl::StrCat(
          "no repodata/repomd.xml at ", summary_->source,
          " (a yum repository); for an apt repository give --suite=CODENAME"));
    }
    return r.status();
  }
  summary_->media = r->media;
  for (const std::string& w : r->warnings) Warn(w);
  return FetchNetwork(r->plan.files);
}

absl::Status Runner::CopyBootFiles() {
  const MediaInfo& m = summary_->media;
  if (m.kernel.empty() || m.initrd.empty()) {
    Warn(
        absl::StrCat("--boot_dir: the source has no installer kernel and "
                     "initrd; nothing copied to ",
                     options_.boot_dir));
    return absl::OkStatus();
  }
  const std::string dir = absl::StrCat(options_.boot_dir, "/", summary_->name);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot make ", log::Quoted(dir), ": ", ec.message()));
  }
  for (const std::string& rel : {m.kernel, m.initrd}) {
    if (absl::Status s = CheckMirrorPath(rel); !s.ok()) return s;
    const std::string dst = absl::StrCat(dir, "/", Basename(rel));
    int64_t copied = 0;
    // From staging, before the swap: a failure here publishes nothing.
    absl::Status s =
        CopyFileAtomically(pub_->StagingPath(rel), dst, dir, cancel_, &copied);
    if (!s.ok()) return s;
    summary_->boot_files.push_back(dst);
  }
  int fd = open(dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return absl::OkStatus();
}

absl::Status Runner::Run() {
  const std::string& from = options_.from;
  if (IsUrl(from)) {
    base_url_ = from;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    summary_->source = StripUrlCredentials(base_url_);
    kind_ = options_.suite.empty() ? SourceKind::kYum : SourceKind::kApt;
  } else {
    summary_->source = from;
    struct stat st;
    if (stat(from.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "--from=", log::Escaped(from), ": ", std::strerror(errno),
          " (give an .iso file, a directory or an http(s)/ftp URL)"));
    }
    if (S_ISDIR(st.st_mode)) {
      kind_ = SourceKind::kDirectory;
    } else if (S_ISREG(st.st_mode)) {
      kind_ = SourceKind::kIso;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--from=", log::Escaped(from),
                       " is neither a regular file (.iso) nor a directory"));
    }
  }
  summary_->kind = SourceKindName(kind_);

  absl::StatusOr<std::unique_ptr<Publisher>> pub = Publisher::Open(options_.to);
  if (!pub.ok()) return pub.status();
  pub_ = std::move(*pub);
  summary_->to = pub_->dir();
  summary_->name = Basename(pub_->dir());
  if (kind_ == SourceKind::kDirectory) {
    // A tree mirrored into itself would grow on every run.
    std::error_code ec;
    auto f = std::filesystem::weakly_canonical(from, ec).string() + "/";
    auto t = std::filesystem::weakly_canonical(pub_->dir(), ec).string() + "/";
    if (absl::StartsWith(t, f) || absl::StartsWith(f, t)) {
      return absl::InvalidArgumentError(
          "--to must not be inside --from (or --from inside --to)");
    }
  }

  absl::Status s;
  switch (kind_) {
    case SourceKind::kIso:
      s = RunIso();
      break;
    case SourceKind::kDirectory:
      s = RunDirectory();
      break;
    case SourceKind::kApt:
      s = RunApt();
      break;
    case SourceKind::kYum:
      s = RunYum();
      break;
  }
  if (progress_ != nullptr) progress_->Finish();
  if (Cancelled()) return absl::CancelledError("interrupted");
  if (!s.ok()) return s;
  summary_->reused = pub_->reused();

  Manifest header;
  header.source = summary_->source;
  header.kind = summary_->kind;
  header.media = MediaJson(summary_->media);
  header.options = nlohmann::json{{"suite", options_.suite},
                                  {"components", options_.components},
                                  {"arch", options_.arch},
                                  {"packages", options_.packages},
                                  {"priorities", options_.priorities},
                                  {"all", options_.all},
                                  {"installer", options_.installer},
                                  {"udebs", options_.udebs},
                                  {"recommends", options_.recommends}};
  if (!options_.boot_dir.empty()) {
    if (absl::Status b = CopyBootFiles(); !b.ok()) return b;
  }
  absl::StatusOr<PublishResult> published =
      pub_->Publish(std::move(header), options_.prune);
  if (!published.ok()) return published.status();
  summary_->published = published->published;
  summary_->up_to_date = published->up_to_date;
  summary_->files = published->files;
  summary_->kept = published->kept;
  summary_->pruned = published->pruned;
  return absl::OkStatus();
}

}  // namespace

const char* SourceKindName(SourceKind kind) {
  switch (kind) {
    case SourceKind::kIso:
      return "iso";
    case SourceKind::kDirectory:
      return "directory";
    case SourceKind::kApt:
      return "apt";
    case SourceKind::kYum:
      return "yum";
  }
  return "?";
}

absl::Status ValidateMirrorOptions(const MirrorOptions& o) {
  if (o.from.empty()) {
    return absl::InvalidArgumentError(
        "--from=SOURCE is required: an .iso file, a directory, or an "
        "http://, https:// or ftp:// URL of a repository root");
  }
  if (o.to.empty()) {
    return absl::InvalidArgumentError(
        "--to=DIR is required: the published tree, e.g. "
        "--to=/srv/repo/debian12 (its parent must exist)");
  }
  if (absl::StrContains(o.from, "://") && !IsUrl(o.from)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from=", log::Escaped(o.from),
                     ": only http://, https:// and ftp:// URLs are supported"));
  }
  if (IsUrl(o.from) && !o.suite.empty() && o.packages.empty() &&
      o.priorities.empty() && !o.all && !o.installer && o.udebs.empty()) {
    return absl::InvalidArgumentError(
        "an apt repository needs a selection: add --packages=P[,P], "
        "--priorities=required,important, --all, --installer and/or "
        "--udebs=U[,U]");
  }
  if (!o.udebs.empty() && (!IsUrl(o.from) || o.suite.empty())) {
    return absl::InvalidArgumentError(
        "--udebs applies to an apt repository only (an http(s)/ftp URL with "
        "--suite)");
  }
  if (!o.udebs.empty() && o.installer) {
    return absl::InvalidArgumentError(
        "--installer already takes every udeb of the netboot kernel's ABI: "
        "give --installer or --udebs, not both");
  }
  if (!IsUrl(o.from) && !o.suite.empty()) {
    return absl::InvalidArgumentError(
        "--suite applies to an http(s)/ftp apt repository only; drop it "
        "for an ISO or a directory");
  }
  if (o.components.empty()) {
    return absl::InvalidArgumentError("--components must name at least one");
  }
  if (o.arch.empty()) return absl::InvalidArgumentError("--arch is empty");
  if (o.connections < 1 || o.connections > 256) {
    return absl::InvalidArgumentError("--connections must be 1..256");
  }
  if (o.per_host < 1 || o.per_host > 64) {
    return absl::InvalidArgumentError("--per_host must be 1..64");
  }
  if (o.retries < 0 || o.retries > 100) {
    return absl::InvalidArgumentError("--retries must be 0..100");
  }
  if (o.timeout < 1 || o.timeout > 3600) {
    return absl::InvalidArgumentError("--timeout must be 1..3600 seconds");
  }
  return absl::OkStatus();
}

absl::Status RunMirror(const MirrorOptions& options, ProgressReporter* progress,
                       const std::atomic<bool>* cancel,
                       MirrorSummary* summary) {
  const absl::Time start = absl::Now();
  summary->to = options.to;
  Runner runner(options, progress, cancel, summary);
  absl::Status s = runner.Run();
  summary->seconds = absl::ToDoubleSeconds(absl::Now() - start);
  summary->ok = s.ok();
  if (!s.ok()) {
    summary->published = false;
    summary->up_to_date = false;
    summary->error = std::string(s.message());
  }
  return s;
}

nlohmann::json SummaryJson(const MirrorSummary& s) {
  nlohmann::json j{{"ok", s.ok},
                   {"published", s.published},
                   {"up_to_date", s.up_to_date},
                   {"to", s.to},
                   {"source", s.source},
                   {"kind", s.kind},
                   {"media", MediaJson(s.media)},
                   {"files", s.files},
                   {"fetched", s.fetched},
                   {"reused", s.reused},
                   {"bytes_fetched", s.bytes_fetched},
                   {"retries", s.retries},
                   {"kept", s.kept},
                   {"pruned", s.pruned},
                   {"seconds", s.seconds},
                   {"warnings", s.warnings}};
  if (!s.ok) j["error"] = s.error;
  return j;
}

// A TOML basic string: the kernel and initrd names come from the media (a
// .treeinfo, an ISO's entries), so a quote or backslash in them must not end
// the string in the stub an operator pastes into site.toml.
std::string TomlString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string ProfileStub(const MirrorSummary& s) {
  std::string out = "[[profile]]\n";
  absl::StrAppend(&out, "name = ", TomlString(s.name), "\n");
  if (!s.media.family.empty()) {
    absl::StrAppend(&out, "family = ", TomlString(s.media.family), "\n");
  } else {
    absl::StrAppend(&out,
                    "# family = \"...\"  (the source does not say: "
                    "debian-preseed, rhel-kickstart or ubuntu-autoinstall)\n");
  }
  if (!s.media.kernel.empty() && !s.media.initrd.empty()) {
    absl::StrAppend(
        &out, "kernel = ",
        TomlString(absl::StrCat(s.name, "/", Basename(s.media.kernel))), "\n");
    absl::StrAppend(
        &out, "initrd = ",
        TomlString(absl::StrCat(s.name, "/", Basename(s.media.initrd))), "\n");
  } else {
    absl::StrAppend(&out,
                    "# kernel, initrd: this source has no installer kernel "
                    "and initrd; take them from the installer media\n");
  }
  absl::StrAppend(&out, "source = ", TomlString(absl::StrCat("/repo/", s.name)),
                  "\n");
  return out;
}

std::string SummaryText(const MirrorSummary& s) {
  std::string out;
  if (s.up_to_date) {
    absl::StrAppend(&out, s.to, " is up to date: ", s.files, " files from ",
                    s.source, " (", s.kind, ")\n");
  } else {
    absl::StrAppend(&out, "published ", s.to, ": ", s.files, " files from ",
                    s.source, " (", s.kind, ")\n");
  }
  absl::StrAppend(
      &out,
      absl::StrFormat("  %d fetched (%.1f MiB), %d reused, %d kept, %d pruned, "
                      "%d retries, %.1f s\n",
                      s.fetched, s.bytes_fetched / (1024.0 * 1024.0), s.reused,
                      s.kept, s.pruned, s.retries, s.seconds));
  // The media's own words (a .treeinfo, a Release file) may hold terminal
  // escapes: escaped like every other text a source controls.
  const MediaInfo& m = s.media;
  absl::StrAppend(
      &out, "  media: ", m.kind.empty() ? "?" : log::Escaped(m.kind),
      m.distro.empty() ? "" : ", ", log::Escaped(m.distro),
      m.release.empty() ? "" : " ", log::Escaped(m.release),
      m.arch.empty() ? "" : " ", log::Escaped(m.arch),
      m.family.empty() ? "" : ", family ", log::Escaped(m.family), "\n");
  if (!m.kernel.empty()) {
    absl::StrAppend(&out, "  installer: ", log::Escaped(m.kernel), ", ",
                    log::Escaped(m.initrd), "\n");
  }
  for (const std::string& f : s.boot_files) {
    absl::StrAppend(&out, "  boot file: ", f, "\n");
  }
  if (!s.warnings.empty()) {
    absl::StrAppend(&out, "  ", s.warnings.size(), " warning(s) (on stderr)\n");
  }
  absl::StrAppend(&out, "\nProfile stub for site.toml (serve ", s.to,
                  " at /repo/", s.name, "/ with http.repo_root):\n\n");
  absl::StrAppend(&out, ProfileStub(s));
  return out;
}

}  // namespace rackboot::mirror
