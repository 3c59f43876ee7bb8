// fetch_tool: runs Fetcher jobs from the command line and prints their
// outcomes; the driver of the FTP and disk-full shell tests and of measurements
// (testonly).
//   fetch_tool URL DEST [SIZE [SHA256]]   one job: status=, code=, sha256=,
//   size=,
//                                         transferred=, attempts= lines; exit 0
//                                         iff ok
//   fetch_tool --list FILE                one job per line "URL DEST [SIZE
//   [SHA256]]";
//                                         one "code attempts transferred dest"
//                                         line per job, then totals (files,
//                                         bytes, seconds, MiB/s)
// Options through the environment: FETCH_ATTEMPTS, FETCH_STALL_S,
// FETCH_CONNECTIONS, FETCH_PER_HOST.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "tools/mirror/fetcher.h"

namespace {

bool ParseJob(int argc, char** argv, rackboot::mirror::FetchJob* job) {
  if (argc < 2 || argc > 4) return false;
  job->url = argv[0];
  job->dest = argv[1];
  if (argc >= 3 && !absl::SimpleAtoi(argv[2], &job->size)) return false;
  if (argc == 4) job->sha256 = argv[3];
  return true;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) ? n : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using rackboot::mirror::FetchJob;
  std::vector<FetchJob> jobs;
  bool list = argc == 3 && std::string(argv[1]) == "--list";
  if (list) {
    std::ifstream in(argv[2]);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::vector<std::string> words;
      for (std::string w; fields >> w;) words.push_back(w);
      if (words.empty()) continue;
      std::vector<char*> ptrs;
      for (auto& w : words) ptrs.push_back(w.data());
      FetchJob job;
      if (!ParseJob(static_cast<int>(ptrs.size()), ptrs.data(), &job)) {
        std::fprintf(stderr, "bad line: %s\n", line.c_str());
        return 64;
      }
      jobs.push_back(job);
    }
  } else {
    FetchJob job;
    if (!ParseJob(argc - 1, argv + 1, &job)) {
      std::fprintf(
          stderr, "usage: fetch_tool URL DEST [SIZE [SHA256]] | --list FILE\n");
      return 64;
    }
    jobs.push_back(job);
  }
  rackboot::mirror::FetchOptions options;
  options.first_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(500);
  options.max_attempts = EnvInt("FETCH_ATTEMPTS", options.max_attempts);
  options.stall_timeout = absl::Seconds(EnvInt("FETCH_STALL_S", 30));
  options.max_connections =
      EnvInt("FETCH_CONNECTIONS", options.max_connections);
  options.max_per_host = EnvInt("FETCH_PER_HOST", options.max_per_host);
  rackboot::mirror::Fetcher fetcher(options);
  absl::Time start = absl::Now();
  auto outcomes = fetcher.Run(jobs, nullptr, nullptr);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!list) {
    const auto& o = outcomes[0];
    std::printf(
        "status=%s\ncode=%d\nsha256=%s\nsize=%lld\ntransferred=%lld\nattempts=%"
        "d\n",
        o.status.ToString().c_str(), static_cast<int>(o.status.code()),
        o.sha256.c_str(), static_cast<long long>(o.size),
        static_cast<long long>(o.bytes_transferred), o.attempts);
    return o.status.ok() ? 0 : 1;
  }
  int failed = 0;
  long long bytes = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& o = outcomes[i];
    std::printf("%d %d %lld %s\n", static_cast<int>(o.status.code()),
                o.attempts, static_cast<long long>(o.bytes_transferred),
                jobs[i].dest.c_str());
    if (!o.status.ok() && ++failed <= 10) {
      std::fprintf(stderr, "%s\n", o.status.ToString().c_str());
    }
    bytes += o.bytes_transferred;
  }
  std::printf("files=%zu failed=%d bytes=%lld seconds=%.3f mib_per_s=%.1f\n",
              jobs.size(), failed, bytes, seconds,
              seconds > 0 ? bytes / 1048576.0 / seconds : 0.0);
  return failed == 0 ? 0 : 1;
}
