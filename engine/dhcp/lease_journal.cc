#include "engine/dhcp/lease_journal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace rackboot::dhcp {
namespace {

// ---- CRC-32C ----

constexpr uint32_t kCrc32cPolynomial = 0x82F63B78;  // 0x1EDC6F41 reflected

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ kCrc32cPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(
    absl::Span<const uint8_t> data, uint32_t crc) {
  uint64_t c = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

// ---- Record encoding ----

constexpr uint32_t kMagic = 0x4A4C4252;  // "RBLJ" read as little-endian bytes
constexpr size_t kHeaderSize = 12;
constexpr uint8_t kVersion = 1;
constexpr size_t kMinPayload =
    1 + 4 + 1 + 1 + 1 + 6 + 8;  // 22, with no client bytes
constexpr size_t kMaxPayload = kMinPayload + ClientKey::kMaxSize;
constexpr size_t kMaxRecord = kHeaderSize + kMaxPayload;

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t us) {
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (us == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

void EncodeRecord(const Lease& lease, std::string* out) {
  uint8_t record[kMaxRecord];
  uint8_t* payload = record + kHeaderSize;
  auto client = lease.client.bytes();
  size_t n = 0;
  payload[n++] = kVersion;
  Put32(payload + n, lease.address.value());
  n += 4;
  payload[n++] = static_cast<uint8_t>(lease.state);
  payload[n++] = lease.client.kind();
  payload[n++] = static_cast<uint8_t>(client.size());
  std::memcpy(payload + n, client.data(), client.size());
  n += client.size();
  std::memcpy(payload + n, lease.mac.data(), lease.mac.size());
  n += lease.mac.size();
  Put64(payload + n, static_cast<uint64_t>(ToMicros(lease.expires)));
  n += 8;
  Put32(record, kMagic);
  Put32(record + 4, static_cast<uint32_t>(n));
  uint32_t crc = Crc32c(absl::Span<const uint8_t>(record + 4, 4));
  crc = Crc32c(absl::Span<const uint8_t>(payload, n), crc);
  Put32(record + 8, crc);
  out->append(reinterpret_cast<const char*>(record), kHeaderSize + n);
}

// Decodes the record at the start of `data`: its size, or 0 if it is not an
// intact record.
size_t DecodeRecord(absl::Span<const uint8_t> data, Lease* lease) {
  if (data.size() < kHeaderSize) return 0;
  const uint8_t* p = data.data();
  if (Get32(p) != kMagic) return 0;
  const uint32_t length = Get32(p + 4);
  if (length < kMinPayload || length > kMaxPayload ||
      data.size() < kHeaderSize + length)
    return 0;
  const uint8_t* payload = p + kHeaderSize;
  uint32_t crc = Crc32c(absl::Span<const uint8_t>(p + 4, 4));
  crc = Crc32c(absl::Span<const uint8_t>(payload, length), crc);
  if (crc != Get32(p + 8)) return 0;
  if (payload[0] != kVersion) return 0;
  const uint8_t state = payload[5];
  const uint8_t kind = payload[6];
  const uint8_t size = payload[7];
  if (state > static_cast<uint8_t>(LeaseState::kDeclined) ||
      length != kMinPayload + size) {
    return 0;
  }
  lease->address = Ipv4Address(Get32(payload + 1));
  lease->state = static_cast<LeaseState>(state);
  absl::Span<const uint8_t> client(payload + 8, size);
  lease->client = kind == 0 ? ClientKey::FromClientId(client)
                            : ClientKey::FromHardware(kind, client);
  std::memcpy(lease->mac.data(), payload + 8 + size, lease->mac.size());
  lease->expires = FromMicros(static_cast<int64_t>(Get64(payload + 14 + size)));
  return kHeaderSize + length;
}

// ---- System calls ----

absl::Status ErrnoError(int error, absl::string_view what,
                        absl::string_view path) {
  return absl::Status(
      absl::ErrnoToStatusCode(error),
      absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    if (n == 0) return ErrnoError(EIO, "write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status Fdatasync(int fd, const std::string& path) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return ErrnoError(errno, "fdatasync", path);
  }
  return absl::OkStatus();
}

// mkdir -p.
absl::Status MakeDirectories(const std::string& directory) {
  if (directory.empty())
    return absl::InvalidArgumentError("lease journal: empty directory");
  for (size_t pos = 1; pos <= directory.size(); ++pos) {
    if (pos != directory.size() && directory[pos] != '/') continue;
    const std::string prefix = directory.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError(errno, "lease journal: mkdir", prefix);
    }
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t Crc32cPortable(absl::Span<const uint8_t> data, uint32_t crc) {
  crc = ~crc;
  for (uint8_t byte : data) crc = kCrcTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t Crc32c(absl::Span<const uint8_t> data, uint32_t crc) {
#if defined(__x86_64__)
  if (HaveSse42()) return Crc32cSse42(data, crc);
#endif
  return Crc32cPortable(data, crc);
}

JournalScan ScanJournal(absl::Span<const uint8_t> data,
                        absl::FunctionRef<void(const Lease&)> replay) {
  JournalScan scan;
  const size_t size = data.size();
  size_t offset = 0;
  Lease lease;
  while (offset < size) {
    if (size_t n = DecodeRecord(data.subspan(offset), &lease); n > 0) {
      replay(lease);
      ++scan.records;
      offset += n;
      scan.good_end = offset;
      continue;
    }
    // Damaged at `offset`: look for the next intact record.
    size_t next = offset + 1;
    while (next < size && DecodeRecord(data.subspan(next), &lease) == 0) ++next;
    if (next >= size) break;  // a damaged tail: the caller truncates it
    scan.skipped.push_back({offset, next - offset});
    offset = next;
  }
  return scan;
}

void AppendLeaseRecord(const Lease& lease, std::string* out) {
  EncodeRecord(lease, out);
}

absl::StatusOr<std::unique_ptr<LeaseJournal>> LeaseJournal::Open(
    const Options& options, absl::FunctionRef<void(const Lease&)> replay) {
  if (absl::Status s = MakeDirectories(options.directory); !s.ok()) return s;
  const int dir_fd =
      ::open(options.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return ErrnoError(errno, "lease journal: open", options.directory);
  const std::string path = absl::StrCat(options.directory, "/", kFileName);
  const std::string compact_path =
      absl::StrCat(options.directory, "/", kCompactFileName);
  auto fail = [&](int fd, absl::Status status) {
    if (fd >= 0) ::close(fd);
    ::close(dir_fd);
    return status;
  };
  if (::unlinkat(dir_fd, kCompactFileName, 0) != 0 && errno != ENOENT) {
    return fail(-1, ErrnoError(errno, "lease journal: unlink", compact_path));
  }
  const int fd = ::openat(dir_fd, kFileName,
                          O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return fail(-1, ErrnoError(errno, "lease journal: open", path));
  // Make the file's directory entry durable (it may just have been created).
  if (::fsync(dir_fd) != 0)
    return fail(fd, ErrnoError(errno, "lease journal: fsync", path));
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return fail(fd, ErrnoError(errno, "lease journal: fstat", path));
  const size_t size = static_cast<size_t>(st.st_size);

  size_t good_end = 0;
  bool damaged = false;
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
      return fail(fd, ErrnoError(errno, "lease journal: mmap", path));
    ::madvise(map, size, MADV_SEQUENTIAL);
    const absl::Span<const uint8_t> data(static_cast<const uint8_t*>(map),
                                         size);
    const JournalScan scan = ScanJournal(data, replay);
    for (const JournalScan::Skipped& skipped : scan.skipped) {
      LOG(WARNING) << "lease journal " << path << ": damaged records at offset "
                   << skipped.offset << ", skipped " << skipped.bytes
                   << " bytes and resumed at the next intact record";
    }
    damaged = !scan.skipped.empty();
    good_end = scan.good_end;
    ::munmap(map, size);
  }
  if (good_end < size) {
    LOG(WARNING) << "lease journal " << path
                 << ": torn or corrupt tail at offset " << good_end
                 << ", dropped " << (size - good_end) << " bytes";
    if (::ftruncate(fd, static_cast<off_t>(good_end)) != 0) {
      return fail(fd, ErrnoError(errno, "lease journal: ftruncate", path));
    }
    if (absl::Status s = Fdatasync(fd, path); !s.ok()) return fail(fd, s);
  }
  return std::unique_ptr<LeaseJournal>(
      new LeaseJournal(options, path, fd, dir_fd, good_end, damaged));
}

LeaseJournal::LeaseJournal(Options options, std::string path, int fd,
                           int dir_fd, uint64_t size, bool damaged)
    : options_(std::move(options)),
      path_(std::move(path)),
      dir_fd_(dir_fd),
      damaged_(damaged),
      fd_(fd) {
  file_bytes_.store(size, std::memory_order_relaxed);
  writer_ = std::thread([this] {
    // Named for rackboot_thread_cpu_seconds_total and top -H.
    pthread_setname_np(pthread_self(), "lease-journal");
    WriterLoop();
  });
}

LeaseJournal::~LeaseJournal() {
  if (absl::Status s = SyncNow(); !s.ok()) {
    LOG(ERROR) << "lease journal " << path_
               << ": closing with unsynced records: " << s;
  }
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  writer_.join();
  absl::MutexLock lock(&mu_);
  ::close(fd_);
  ::close(dir_fd_);
}

void LeaseJournal::SetOnDurable(std::function<void()> on_durable) {
  absl::MutexLock lock(&mu_);
  on_durable_ = std::move(on_durable);
}

uint64_t LeaseJournal::Append(const Lease& lease) {
  EncodeRecord(lease, &batch_);
  ++batch_records_;
  return ++appended_;
}

void LeaseJournal::Commit() {
  if (batch_.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    if (handed_.empty()) {
      handed_.swap(batch_);  // batch_ gets the writer's spare capacity
    } else {
      handed_.append(batch_);
    }
    handed_seq_ = appended_;
    handed_records_ += batch_records_;
  }
  batch_.clear();
  batch_records_ = 0;
}

void LeaseJournal::Fail(absl::Status error) {
  if (!status_.ok()) return;
  LOG(ERROR) << "lease journal " << path_ << ": " << error
             << "; no further leases become durable";
  status_ = std::move(error);
}

absl::Status LeaseJournal::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void LeaseJournal::WriterLoop() {
  mu_.Lock();
  for (;;) {
    mu_.Await(absl::Condition(
        +[](LeaseJournal* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
          return j->stop_ || !j->handed_.empty();
        },
        this));
    if (handed_.empty()) break;  // stop_, and nothing left to write
    if (options_.commit_window > absl::ZeroDuration()) {
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](LeaseJournal* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
                return j->stop_ || j->flush_now_ ||
                       j->handed_records_ >= kMaxWindowRecords;
              },
              this),
          options_.commit_window);
    }
    flush_now_ = false;
    writing_.swap(handed_);
    const uint64_t seq = handed_seq_;
    const uint64_t records = handed_records_;
    handed_records_ = 0;
    const int fd = fd_;
    const bool failed = !status_.ok();
    mu_.Unlock();

    absl::Status result;
    if (!failed) {
      const absl::Time write_start = absl::Now();
      result = WriteAll(fd, writing_, path_);
      if (result.ok()) result = Fdatasync(fd, path_);
      options_.commit_seconds.Observe(
          absl::ToDoubleSeconds(absl::Now() - write_start));
    }
    const uint64_t bytes = writing_.size();
    writing_.clear();

    mu_.Lock();
    if (failed) continue;
    if (!result.ok()) {
      Fail(std::move(result));
      continue;
    }
    file_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    syncs_.fetch_add(1, std::memory_order_relaxed);
    records_.fetch_add(records, std::memory_order_relaxed);
    durable_.store(seq, std::memory_order_release);
    if (on_durable_) on_durable_();  // Under mu_: see SetOnDurable.
  }
  mu_.Unlock();
}

absl::Status LeaseJournal::SyncNow() {
  Commit();
  const uint64_t target = appended_;
  absl::MutexLock lock(&mu_);
  if (durable() < target) flush_now_ = true;
  struct Args {
    LeaseJournal* journal;
    uint64_t target;
  } args{this, target};
  mu_.Await(absl::Condition(
      +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return a->journal->durable() >= a->target || !a->journal->status_.ok();
      },
      &args));
  return status_;
}

bool LeaseJournal::ShouldCompact() const {
  return damaged_ || file_bytes() > options_.compact_after_bytes;
}

absl::Status LeaseJournal::Compact(
    absl::FunctionRef<void(absl::FunctionRef<void(const Lease&)>)>
        for_each_live) {
  if (absl::Status s = SyncNow(); !s.ok()) return s;
  // The writer is idle now (everything appended is durable) and stays so: no
  // Append can happen until Compact returns, since both run on the shard
  // thread.
  const std::string tmp_path =
      absl::StrCat(options_.directory, "/", kCompactFileName);
  const int tmp =
      ::openat(dir_fd_, kCompactFileName,
               O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (tmp < 0) return ErrnoError(errno, "lease journal: open", tmp_path);
  auto abandon = [&](absl::Status status) {
    ::close(tmp);
    ::unlinkat(dir_fd_, kCompactFileName, 0);
    return status;
  };
  constexpr size_t kChunk = 1 << 20;
  std::string buffer;
  buffer.reserve(kChunk + kMaxRecord);
  uint64_t total = 0;
  absl::Status result;
  for_each_live([&](const Lease& lease) {
    if (!result.ok()) return;
    EncodeRecord(lease, &buffer);
    if (buffer.size() >= kChunk) {
      result = WriteAll(tmp, buffer, tmp_path);
      total += buffer.size();
      buffer.clear();
    }
  });
  if (result.ok() && !buffer.empty()) {
    result = WriteAll(tmp, buffer, tmp_path);
    total += buffer.size();
  }
  if (result.ok()) result = Fdatasync(tmp, tmp_path);
  if (!result.ok()) return abandon(result);
  if (::renameat(dir_fd_, kCompactFileName, dir_fd_, kFileName) != 0) {
    return abandon(
        ErrnoError(errno, "lease journal: rename to " + path_, tmp_path));
  }
  int old_fd;
  {
    absl::MutexLock lock(&mu_);
    old_fd = fd_;
    fd_ = tmp;
  }
  ::close(old_fd);
  file_bytes_.store(total, std::memory_order_relaxed);
  damaged_ = false;
  if (::fsync(dir_fd_) != 0) {
    absl::Status error =
        ErrnoError(errno, "lease journal: fsync directory", options_.directory);
    absl::MutexLock lock(&mu_);
    Fail(error);
    return error;
  }
  return absl::OkStatus();
}

}  // namespace rackboot::dhcp
