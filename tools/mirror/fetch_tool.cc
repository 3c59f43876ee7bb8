// fetch_tool URL DEST [SIZE [SHA256]]: runs one Fetcher job and prints its
// outcome; the driver of the FTP and disk-full shell tests (testonly). Options
// through the environment: FETCH_ATTEMPTS, FETCH_STALL_S.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "tools/mirror/fetcher.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: fetch_tool URL DEST [SIZE [SHA256]]\n");
    return 64;
  }
  rackboot::mirror::FetchJob job;
  job.url = argv[1];
  job.dest = argv[2];
  if (argc >= 4 && !absl::SimpleAtoi(argv[3], &job.size)) {
    std::fprintf(stderr, "bad SIZE\n");
    return 64;
  }
  if (argc == 5) job.sha256 = argv[4];
  rackboot::mirror::FetchOptions options;
  options.first_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(500);
  if (const char* a = std::getenv("FETCH_ATTEMPTS"))
    options.max_attempts = std::atoi(a);
  if (const char* s = std::getenv("FETCH_STALL_S")) {
    options.stall_timeout = absl::Seconds(std::atoi(s));
  }
  rackboot::mirror::Fetcher fetcher(options);
  auto outcomes = fetcher.Run({job}, nullptr, nullptr);
  const auto& o = outcomes[0];
  std::printf(
      "status=%s\ncode=%d\nsha256=%s\nsize=%lld\ntransferred=%lld\nattempts=%"
      "d\n",
      o.status.ToString().c_str(), static_cast<int>(o.status.code()),
      o.sha256.c_str(), static_cast<long long>(o.size),
      static_cast<long long>(o.bytes_transferred), o.attempts);
  return o.status.ok() ? 0 : 1;
}
