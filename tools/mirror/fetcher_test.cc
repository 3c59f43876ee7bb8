// Fetcher against a real HTTP server on 127.0.0.1
// (tests/mirror/fault_http_server.py, started per test suite) with its fault
// modes: parallel fetches, resume, retries, permanent errors, checksum and size
// guards, stalls, cancel and the per-host connection limit.
#include "tools/mirror/fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

std::string TempDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string base = t != nullptr ? t : "/tmp";
  std::string tmpl = base + "/fetcherXXXXXX";
  char* made = mkdtemp(tmpl.data());
  return made != nullptr ? std::string(made) : base;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string HttpGet(const std::string& url) {
  std::string body;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_perform(c);
  curl_easy_cleanup(c);
  return body;
}

class FetcherTest : public ::testing::Test {
 protected:
  // Starts fault_http_server.py with `extra` arguments; returns its port (0 on
  // failure).
  static int StartServer(const std::vector<std::string>& extra, pid_t* pid) {
    std::vector<std::string> args = {"python3",
                                     "tests/mirror/fault_http_server.py",
                                     *root_ + "/files",
                                     "--flaky-count",
                                     "2",
                                     "--slow-rate",
                                     "64",
                                     "--max-seconds",
                                     "120"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) return 0;
    *pid = fork();
    if (*pid == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(out[1]);
    char buf[32] = {};
    ssize_t n = read(out[0], buf, sizeof(buf) - 1);
    close(out[0]);
    return n > 0 ? atoi(buf) : 0;
  }

  static void SetUpTestSuite() {
    root_ = new std::string(TempDir());
    mkdir((*root_ + "/files").c_str(), 0755);
    int port = StartServer({}, &pid_);
    ASSERT_GT(port, 0) << "fault_http_server.py did not start";
    base_ = new std::string(absl::StrCat("http://127.0.0.1:", port));
  }
  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // A file on the server; returns its bytes.
  static std::string Serve(const std::string& name, size_t size,
                           unsigned seed) {
    std::string bytes = RandomBytes(size, seed);
    WriteFile(*root_ + "/files/" + name, bytes);
    return bytes;
  }

  static FetchOptions Quick() {
    FetchOptions o;
    o.first_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    // Generous: the machine is shared; only the stall test wants a short one.
    o.connect_timeout = absl::Seconds(5);
    o.stall_timeout = absl::Seconds(5);
    return o;
  }

  FetchOutcome FetchOne(const FetchJob& job, FetchOptions o = Quick()) {
    Fetcher fetcher(o);
    auto outcomes = fetcher.Run({job}, nullptr, nullptr);
    EXPECT_EQ(outcomes.size(), 1u);
    return outcomes[0];
  }

  std::string Dest(const std::string& name) {
    return *root_ + "/out/" + test_name_ + "/" + name;
  }

  void SetUp() override {
    test_name_ =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static pid_t pid_;
  static std::string* root_;
  static std::string* base_;
  std::string test_name_;
};

pid_t FetcherTest::pid_ = -1;
std::string* FetcherTest::root_ = nullptr;
std::string* FetcherTest::base_ = nullptr;

TEST_F(FetcherTest, ManyFilesInParallelAllVerified) {
  std::vector<FetchJob> jobs;
  std::vector<std::string> contents;
  for (int i = 0; i < 200; ++i) {
    std::string name = absl::StrCat("small", i);
    contents.push_back(Serve(name, 100 + i * 37, i));
    jobs.push_back({*base_ + "/" + name, Dest("pool/" + name),
                    static_cast<int64_t>(contents.back().size()),
                    Sha256Hex(contents.back())});
  }
  for (int i = 0; i < 3; ++i) {
    std::string name = absl::StrCat("big", i);
    contents.push_back(Serve(name, 8 << 20, 1000 + i));
    jobs.push_back(
        {*base_ + "/" + name, Dest(name), 8 << 20, Sha256Hex(contents.back())});
  }
  // One without size or checksum: computed and returned.
  jobs.back().size = -1;
  jobs.back().sha256.clear();
  std::vector<FetchProgress> calls;
  std::vector<absl::Time> when;
  absl::Time t0 = absl::Now();
  auto outcomes = Fetcher(Quick()).Run(
      jobs,
      [&](const FetchProgress& p) {
        calls.push_back(p);
        when.push_back(absl::Now());
      },
      nullptr);
  double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  ASSERT_EQ(outcomes.size(), jobs.size());
  int64_t total = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_TRUE(outcomes[i].status.ok()) << outcomes[i].status;
    EXPECT_EQ(outcomes[i].sha256, Sha256Hex(contents[i]));
    EXPECT_EQ(outcomes[i].size, static_cast<int64_t>(contents[i].size()));
    EXPECT_EQ(outcomes[i].attempts, 1);
    EXPECT_EQ(ReadFile(jobs[i].dest), contents[i]);
    EXPECT_FALSE(Exists(jobs[i].dest + ".part"));
    total += contents[i].size();
  }
  std::printf("fetched 203 files, %.1f MiB in %.2f s\n", total / 1048576.0,
              seconds);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().files_done, 203);
  EXPECT_EQ(calls.back().files_failed, 0);
  EXPECT_EQ(calls.back().bytes_done, total);
  EXPECT_EQ(calls.back().bytes_total, total - (8 << 20));
  // At most every 100 ms (the last call, at the end, may come sooner).
  for (size_t i = 1; i + 1 < when.size(); ++i) {
    EXPECT_GE(when[i] - when[i - 1], absl::Milliseconds(99));
  }
}

TEST_F(FetcherTest, ResumesAPartFile) {
  std::string bytes = Serve("resume", 1 << 20, 7);
  FetchJob job{*base_ + "/resume", Dest("resume"), 1 << 20, Sha256Hex(bytes)};
  mkdir((*root_ + "/out").c_str(), 0755);
  mkdir((*root_ + "/out/" + test_name_).c_str(), 0755);
  WriteFile(job.dest + ".part", bytes.substr(0, 300000));
  FetchOutcome o = FetchOne(job);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.bytes_transferred, (1 << 20) - 300000);
  EXPECT_EQ(ReadFile(job.dest), bytes);
}

TEST_F(FetcherTest, OversizedPartIsStartedOver) {
  std::string bytes = Serve("oversized", 50000, 8);
  FetchJob job{*base_ + "/oversized", Dest("oversized"), 50000,
               Sha256Hex(bytes)};
  mkdir((*root_ + "/out").c_str(), 0755);
  mkdir((*root_ + "/out/" + test_name_).c_str(), 0755);
  WriteFile(job.dest + ".part", RandomBytes(60000, 1));
  FetchOutcome o = FetchOne(job);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.bytes_transferred, 50000);
  EXPECT_EQ(ReadFile(job.dest), bytes);
}

TEST_F(FetcherTest, CompletePartOfUnknownSizeGets416AndRestarts) {
  std::string bytes = Serve("complete", 40000, 9);
  FetchJob job{*base_ + "/complete", Dest("complete"), -1, ""};
  mkdir((*root_ + "/out").c_str(), 0755);
  mkdir((*root_ + "/out/" + test_name_).c_str(), 0755);
  WriteFile(job.dest + ".part", bytes);
  FetchOutcome o = FetchOne(job);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.attempts, 2);
  EXPECT_EQ(o.sha256, Sha256Hex(bytes));
  EXPECT_EQ(ReadFile(job.dest), bytes);
}

TEST_F(FetcherTest, NotFoundIsPermanentAndNamesTheUrlWithoutCredentials) {
  FetchJob job{"http://user:secret@" + base_->substr(7) + "/no-such-file",
               Dest("missing"), -1, ""};
  FetchOutcome o = FetchOne(job);
  EXPECT_TRUE(absl::IsNotFound(o.status)) << o.status;
  EXPECT_EQ(o.attempts, 1);
  EXPECT_EQ(o.status.message().find("secret"), absl::string_view::npos)
      << o.status;
  EXPECT_NE(o.status.message().find("/no-such-file\""), absl::string_view::npos)
      << o.status;
  EXPECT_FALSE(Exists(job.dest));
  EXPECT_FALSE(Exists(job.dest + ".part"));
}

TEST_F(FetcherTest, GoneAndForbiddenArePermanent) {
  FetchOutcome gone =
      FetchOne({*base_ + "/status/410/x", Dest("gone"), -1, ""});
  EXPECT_TRUE(absl::IsNotFound(gone.status)) << gone.status;
  EXPECT_EQ(gone.attempts, 1);
  FetchOutcome denied =
      FetchOne({*base_ + "/status/403/x", Dest("denied"), -1, ""});
  EXPECT_TRUE(absl::IsPermissionDenied(denied.status)) << denied.status;
  EXPECT_EQ(denied.attempts, 1);
}

TEST_F(FetcherTest, ServerErrorsAreRetriedUntilAttemptsRunOut) {
  FetchOptions o = Quick();
  o.max_attempts = 3;
  FetchOutcome out =
      FetchOne({*base_ + "/status/503/x", Dest("busy"), -1, ""}, o);
  EXPECT_TRUE(absl::IsUnavailable(out.status)) << out.status;
  EXPECT_EQ(out.attempts, 3);
}

TEST_F(FetcherTest, RetryAfterIsHonouredUpToMaxBackoff) {
  FetchOptions o = Quick();
  o.max_attempts = 2;
  o.max_backoff = absl::Seconds(1);
  absl::Time t0 = absl::Now();
  FetchOutcome out = FetchOne(
      {*base_ + "/status/503/x?retry_after=30", Dest("later"), -1, ""}, o);
  absl::Duration took = absl::Now() - t0;
  EXPECT_TRUE(absl::IsUnavailable(out.status)) << out.status;
  EXPECT_EQ(out.attempts, 2);
  EXPECT_GE(took, absl::Milliseconds(990));  // not the 20 ms backoff
  EXPECT_LT(took, absl::Seconds(5));         // and not 30 s
}

TEST_F(FetcherTest, FlakyServerIsRetriedThenOk) {
  std::string bytes = Serve("flaky1", 20000, 10);
  FetchOutcome o = FetchOne(
      {*base_ + "/flaky/flaky1", Dest("flaky1"), 20000, Sha256Hex(bytes)});
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.attempts, 3);  // two 500s first
}

TEST_F(FetcherTest, TruncatedAndDyingTransfersResume) {
  for (const char* mode : {"truncate", "die"}) {
    std::string name = absl::StrCat(mode, "1");
    std::string bytes = Serve(name, 2 << 20, 11);
    FetchOutcome o = FetchOne({absl::StrCat(*base_, "/", mode, "/", name),
                               Dest(name), 2 << 20, Sha256Hex(bytes)});
    ASSERT_TRUE(o.status.ok()) << mode << ": " << o.status;
    EXPECT_EQ(o.attempts, 2) << mode;
    // The second attempt only fetched the rest.
    EXPECT_EQ(o.bytes_transferred, 2 << 20) << mode;
    EXPECT_EQ(ReadFile(Dest(name)), bytes) << mode;
  }
}

TEST_F(FetcherTest, CloseDelimitedShortAnswerIsResumed) {
  // Without Content-Length curl sees a clean end: the size check catches it
  // and the retry resumes rather than starting over.
  std::string bytes = Serve("eof1", 1 << 20, 20);
  FetchOutcome o =
      FetchOne({*base_ + "/eof/eof1", Dest("eof1"), 1 << 20, Sha256Hex(bytes)});
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.attempts, 2);
  EXPECT_EQ(o.bytes_transferred, 1 << 20);
  EXPECT_EQ(ReadFile(Dest("eof1")), bytes);
}

TEST_F(FetcherTest, FileShorterThanItsIndexSaysIsDataLoss) {
  std::string bytes = Serve("short1", 1000, 21);
  FetchOptions opt = Quick();
  opt.max_attempts = 3;
  FetchOutcome o =
      FetchOne({*base_ + "/short1", Dest("short1"), 2000, ""}, opt);
  EXPECT_TRUE(absl::IsDataLoss(o.status)) << o.status;
  EXPECT_NE(o.status.message().find("expected 2000 bytes, got 1000"),
            absl::string_view::npos)
      << o.status;
  EXPECT_FALSE(Exists(Dest("short1")));
}

TEST_F(FetcherTest, ServerIgnoringRangeRestartsFromZero) {
  std::string bytes = Serve("norange1", 100000, 12);
  FetchJob job{*base_ + "/norange/norange1", Dest("norange1"), 100000,
               Sha256Hex(bytes)};
  mkdir((*root_ + "/out").c_str(), 0755);
  mkdir((*root_ + "/out/" + test_name_).c_str(), 0755);
  WriteFile(job.dest + ".part", bytes.substr(0, 30000));
  FetchOutcome o = FetchOne(job);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(ReadFile(job.dest), bytes);
}

TEST_F(FetcherTest, WrongBytesAreDataLossNamingBothSums) {
  std::string bytes = Serve("wrong1", 30000, 13);
  std::string want = Sha256Hex(bytes);
  std::string got = Sha256Hex(
      std::string(1, static_cast<char>(bytes[0] ^ 0xFF)) + bytes.substr(1));
  FetchJob job{*base_ + "/wrong/wrong1", Dest("wrong1"), 30000, want};
  FetchOutcome o = FetchOne(job);
  EXPECT_TRUE(absl::IsDataLoss(o.status)) << o.status;
  EXPECT_EQ(o.attempts, 2);  // one from-scratch retry
  EXPECT_NE(o.status.message().find(want), absl::string_view::npos) << o.status;
  EXPECT_NE(o.status.message().find(got), absl::string_view::npos) << o.status;
  EXPECT_FALSE(Exists(job.dest));
  EXPECT_FALSE(Exists(job.dest + ".part"));
}

TEST_F(FetcherTest, RedirectToFileSchemeIsRefused) {
  FetchOutcome o =
      FetchOne({*base_ + "/redirect-file/x", Dest("passwd"), -1, ""});
  EXPECT_TRUE(absl::IsFailedPrecondition(o.status)) << o.status;
  EXPECT_EQ(o.attempts, 1);
  EXPECT_FALSE(Exists(Dest("passwd")));
  // A redirect within http is followed.
  std::string bytes = Serve("target", 1000, 14);
  FetchOutcome ok = FetchOne(
      {*base_ + "/redirect/target", Dest("target"), 1000, Sha256Hex(bytes)});
  EXPECT_TRUE(ok.status.ok()) << ok.status;
}

TEST_F(FetcherTest, OtherSchemesAreRefused) {
  FetchOutcome o = FetchOne({"file:///etc/passwd", Dest("passwd"), -1, ""});
  EXPECT_TRUE(absl::IsInvalidArgument(o.status)) << o.status;
  EXPECT_FALSE(Exists(Dest("passwd")));
}

TEST_F(FetcherTest, EndlessStreamIsCutAtTheExpectedSize) {
  FetchJob job{*base_ + "/huge/x", Dest("huge"), 200000, std::string(64, 'a')};
  FetchOutcome o = FetchOne(job);
  EXPECT_TRUE(absl::IsDataLoss(o.status)) << o.status;
  // Never more than the size per attempt (the guard refuses a buffer that would
  // pass it).
  EXPECT_LE(o.bytes_transferred, 2 * 200000);
  EXPECT_FALSE(Exists(job.dest));
  EXPECT_FALSE(Exists(job.dest + ".part"));
  // Unknown size: bounded by max_unknown_size.
  FetchOptions opt = Quick();
  opt.max_unknown_size = 1 << 20;
  FetchOutcome unknown =
      FetchOne({*base_ + "/huge/y", Dest("huge2"), -1, ""}, opt);
  EXPECT_TRUE(absl::IsOutOfRange(unknown.status)) << unknown.status;
  EXPECT_LE(unknown.bytes_transferred, 1 << 20);
  EXPECT_FALSE(Exists(Dest("huge2")));
}

TEST_F(FetcherTest, StallIsRetriedThenFailsInBoundedTime) {
  Serve("slow1", 100000, 15);
  FetchOptions opt = Quick();
  opt.max_attempts = 2;
  opt.stall_timeout = absl::Seconds(1);
  absl::Time t0 = absl::Now();
  FetchOutcome o =
      FetchOne({*base_ + "/slow/slow1", Dest("slow1"), 100000, ""}, opt);
  absl::Duration took = absl::Now() - t0;
  EXPECT_TRUE(absl::IsDeadlineExceeded(o.status)) << o.status;
  EXPECT_EQ(o.attempts, 2);
  EXPECT_LT(took, absl::Seconds(8));
  // What trickled in is kept for the next run.
  EXPECT_TRUE(Exists(Dest("slow1") + ".part"));
}

TEST_F(FetcherTest, CancelStopsTheRunAndKeepsPartFiles) {
  Serve("slow2", 100000, 16);
  std::string bytes = Serve("ok2", 1000, 17);
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(500));
    cancel = true;
  });
  FetchOptions opt = Quick();
  opt.stall_timeout = absl::Seconds(30);
  absl::Time t0 = absl::Now();
  auto outcomes =
      Fetcher(opt).Run({{*base_ + "/slow/slow2", Dest("slow2"), 100000, ""},
                        {*base_ + "/ok2", Dest("ok2"), 1000, Sha256Hex(bytes)}},
                       nullptr, &cancel);
  absl::Duration took = absl::Now() - t0;
  canceller.join();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(absl::IsCancelled(outcomes[0].status)) << outcomes[0].status;
  EXPECT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_TRUE(Exists(Dest("slow2") + ".part"));
  EXPECT_FALSE(Exists(Dest("slow2")));
}

TEST_F(FetcherTest, PerHostConnectionLimitIsRespected) {
  std::vector<FetchJob> jobs;
  for (int i = 0; i < 40; ++i) {
    std::string name = absl::StrCat("limit", i);
    std::string bytes = Serve(name, 5000, 100 + i);
    // The server holds each request 100 ms so that requests overlap.
    jobs.push_back({*base_ + "/" + name + "?delay=100&tag=limit", Dest(name),
                    5000, Sha256Hex(bytes)});
  }
  HttpGet(*base_ + "/_stats?reset=1");
  FetchOptions opt = Quick();
  opt.max_connections = 16;
  opt.max_per_host = 3;
  auto outcomes = Fetcher(opt).Run(jobs, nullptr, nullptr);
  for (const auto& o : outcomes) ASSERT_TRUE(o.status.ok()) << o.status;
  std::string stats = HttpGet(*base_ + "/_stats");
  const std::string key = "\"limit\": ";
  size_t at = stats.find(key);
  ASSERT_NE(at, std::string::npos) << stats;
  int max_concurrent = atoi(stats.c_str() + at + key.size());
  std::printf("max concurrent requests: %d (limit 3)\n", max_concurrent);
  EXPECT_LE(max_concurrent, 3);
  EXPECT_GE(max_concurrent, 2);  // and it did run in parallel
}

TEST_F(FetcherTest, RefusedConnectionIsRetriedThenUnavailable) {
  // A port nobody listens on: bind, read the port, close.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  FetchOptions opt = Quick();
  opt.max_attempts = 3;
  FetchOutcome o =
      FetchOne({absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/x"),
                Dest("x"), -1, ""},
               opt);
  EXPECT_TRUE(absl::IsUnavailable(o.status)) << o.status;
  EXPECT_EQ(o.attempts, 3);
}

TEST_F(FetcherTest, SameDestinationIsFetchedOnce) {
  std::string bytes = Serve("dup", 3000, 18);
  FetchJob job{*base_ + "/dup", Dest("dup"), 3000, Sha256Hex(bytes)};
  FetchJob other = job;
  other.url = *base_ + "/small1";
  other.sha256.clear();
  HttpGet(*base_ + "/_stats?reset=1");
  auto outcomes = Fetcher(Quick()).Run({job, job, other}, nullptr, nullptr);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  EXPECT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  EXPECT_EQ(outcomes[1].sha256, Sha256Hex(bytes));
  EXPECT_TRUE(absl::IsInvalidArgument(outcomes[2].status))
      << outcomes[2].status;
  EXPECT_EQ(ReadFile(job.dest), bytes);
  EXPECT_NE(HttpGet(*base_ + "/_stats").find("\"/dup\": 1"), std::string::npos);
}

TEST_F(FetcherTest, UntrustedTlsCertificateIsPermanent) {
  const std::string dir = *root_ + "/tls";
  mkdir(dir.c_str(), 0755);
  ASSERT_EQ(
      std::system(
          ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
           "-nodes -subj /CN=127.0.0.1 -days 1 -keyout " +
           dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null")
              .c_str()),
      0);
  Serve("tls1", 1000, 19);
  pid_t pid = -1;
  int port = StartServer(
      {"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"}, &pid);
  ASSERT_GT(port, 0);
  FetchOutcome o = FetchOne({absl::StrCat("https://127.0.0.1:", port, "/tls1"),
                             Dest("tls1"), 1000, ""});
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(o.status)) << o.status;
  EXPECT_EQ(o.attempts, 1);
  EXPECT_FALSE(Exists(Dest("tls1")));
}

TEST(StripUrlCredentialsTest, RemovesUserAndPassword) {
  EXPECT_EQ(StripUrlCredentials("ftp://u:p@host/x@y"), "ftp://host/x@y");
  EXPECT_EQ(StripUrlCredentials("http://host/a"), "http://host/a");
  EXPECT_EQ(StripUrlCredentials("https://u@h:8/"), "https://h:8/");
  EXPECT_EQ(StripUrlCredentials("no-scheme@x"), "no-scheme@x");
}

}  // namespace
}  // namespace rackboot::mirror
