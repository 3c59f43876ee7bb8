#include "tools/mirror/progress_reporter.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rackboot::mirror {
namespace {

// Captures what the reporter writes (a memory stream).
struct Capture {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  ~Capture() {
    std::fclose(f);
    std::free(buf);
  }
  std::string Text() {
    std::fflush(f);
    return std::string(buf, len);
  }
};

ProgressSnapshot Snap(int64_t done, int64_t bytes) {
  ProgressSnapshot s;
  s.files_total = 1000;
  s.files_done = done;
  s.bytes_total = int64_t{120} << 20;
  s.bytes_done = bytes;
  s.retries = 2;
  return s;
}

TEST(ProgressReporterTest,
     LogModeOneLineEveryFiveSecondsInTheDocumentedFormat) {
  Capture c;
  absl::Time now = absl::FromUnixSeconds(1000);
  ProgressReporter r(c.f, /*terminal=*/false, [&] { return now; });
  r.Update(Snap(1, 1 << 20));
  now += absl::Seconds(1);
  r.Update(Snap(10, 2 << 20));
  EXPECT_EQ(c.Text(), "") << "nothing before 5 s";
  now = absl::FromUnixSeconds(1000) + absl::Seconds(5);
  // 45 MiB in 5 s = 9 MiB/s; 75 MiB left => ETA 9 s (8.33 rounded up).
  r.Update(Snap(120, int64_t{45} << 20));
  EXPECT_EQ(c.Text(),
            "rackboot-mirror: files 120/1000, 45.0/120.0 MiB, 9.0 MiB/s, "
            "ETA 9s, 0 failed, 2 retries\n");
  now += absl::Seconds(4);
  r.Update(Snap(130, int64_t{50} << 20));
  const std::string one = c.Text();
  EXPECT_EQ(std::count(one.begin(), one.end(), '\n'), 1) << one;  // one line
  now += absl::Seconds(1);
  r.Update(Snap(140, int64_t{60} << 20));
  EXPECT_NE(c.Text().find("files 140/1000, 60.0/120.0 MiB"), std::string::npos)
      << c.Text();
}

TEST(ProgressReporterTest, TerminalRedrawsOneLineInPlace) {
  Capture c;
  absl::Time now = absl::FromUnixSeconds(1000);
  ProgressReporter r(c.f, /*terminal=*/true, [&] { return now; });
  now += absl::Seconds(1);
  r.Update(Snap(500, int64_t{60} << 20));
  std::string t = c.Text();
  EXPECT_EQ(t.rfind("\r[############............]  50% files 500/1000", 0), 0u)
      << t;
  EXPECT_EQ(t.find('\n'), std::string::npos);
  r.Note("warning: x");
  r.Finish();
  t = c.Text();
  EXPECT_NE(t.find("\r\x1b[Krackboot-mirror: warning: x\n"), std::string::npos);
  EXPECT_NE(t.find("rackboot-mirror: files 500/1000"), std::string::npos);
}

TEST(ProgressReporterTest, BytesOfUnknownSizeNeverShowDoneAboveTotal) {
  Capture c;
  absl::Time now = absl::FromUnixSeconds(1000);
  ProgressReporter r(c.f, /*terminal=*/false, [&] { return now; });
  ProgressSnapshot s = Snap(3, int64_t{3} << 20);
  s.bytes_total = int64_t{1} << 20;  // 2 MiB arrived for files of unknown size
  now += absl::Seconds(5);
  r.Update(s);
  EXPECT_NE(c.Text().find("files 3/1000, 3.0/3.0 MiB, 0.6 MiB/s, ETA 0s"),
            std::string::npos)
      << c.Text();
}

TEST(ProgressReporterTest, UnknownRateGivesUnknownEta) {
  Capture c;
  absl::Time now = absl::FromUnixSeconds(1000);
  ProgressReporter r(c.f, false, [&] { return now; });
  now += absl::Seconds(6);
  std::string line = r.FormatLine(Snap(0, 0), now);
  EXPECT_NE(line.find("ETA ?"), std::string::npos) << line;
}

}  // namespace
}  // namespace rackboot::mirror
