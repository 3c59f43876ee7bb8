#include "engine/log/line_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "gtest/gtest.h"

namespace rackboot::log {
namespace {

using namespace std::string_literals;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// glog's INFO prefix: I<yyyymmdd> <hh:mm:ss.uuuuuu> <tid, 5 wide>
// <file>:<line>]
const std::regex kGlogLine(
    R"(I[0-9]{8} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} +([0-9]+) ([a-z_]+\.cc):[0-9]+\] (.*))");

// The lines look like glog's own: written to stderr beside a LOG(INFO) line,
// both match the same pattern with the same thread id and file.
TEST(LineWriterTest, LinesLookLikeGlogsOnStderr) {
  const std::string path = TempPath("stderr.log");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const int saved = dup(STDERR_FILENO);
  ASSERT_EQ(dup2(fd, STDERR_FILENO), STDERR_FILENO);
  FLAGS_logtostderr = true;
  {
    LineWriter lines;
    EXPECT_TRUE(lines.direct());
    LOG(INFO) << "from glog";
    lines.Info(__FILE__, __LINE__, "from the line writer");
  }  // the destructor writes what was queued
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::vector<std::string> got;
  for (const std::string& line : Lines(ReadAll(path))) {
    // glog's "Logging before InitGoogleLogging()" notice is not a log line.
    if (line.rfind("WARNING: Logging before", 0) != 0) got.push_back(line);
  }
  ASSERT_EQ(got.size(), 2u) << ReadAll(path);
  std::smatch a, b;
  ASSERT_TRUE(std::regex_match(got[0], a, kGlogLine)) << got[0];
  ASSERT_TRUE(std::regex_match(got[1], b, kGlogLine)) << got[1];
  EXPECT_EQ(a[1], b[1]);  // thread id
  EXPECT_EQ(a[2], b[2]);  // file
  EXPECT_EQ(a[3], "from glog");
  EXPECT_EQ(b[3], "from the line writer");
  // Same prefix length up to the file: same widths.
  EXPECT_EQ(got[0].find("line_writer_test.cc"),
            got[1].find("line_writer_test.cc"));
}

// Lines from several threads all arrive, whole and each thread's in order,
// in far fewer writes than lines.
TEST(LineWriterTest, BatchesLinesFromThreads) {
  const std::string path = TempPath("batch.log");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  constexpr int kPerThread = 5000;
  {
    LineWriter lines({.gather = absl::Milliseconds(5),
                      .fd = fd,
                      .format = LogFormat::kGlog});
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&lines, t] {
        for (int i = 0; i < kPerThread; ++i) {
          lines.Info(__FILE__, __LINE__, absl::StrCat("t", t, " n", i));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    lines.Flush();
    EXPECT_EQ(lines.lines_written(), 3u * kPerThread);
  }
  close(fd);
  std::vector<int> next(3, 0);
  int count = 0;
  for (const std::string& line : Lines(ReadAll(path))) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, kGlogLine)) << line;
    int t = 0, n = 0;
    ASSERT_EQ(std::sscanf(m[3].str().c_str(), "t%d n%d", &t, &n), 2) << line;
    ASSERT_EQ(n, next[t]) << line;
    ++next[t];
    ++count;
  }
  EXPECT_EQ(count, 3 * kPerThread);
}

// Flush does not wait for the gather window.
TEST(LineWriterTest, FlushWritesAtOnce) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  LineWriter lines(
      {.gather = absl::Seconds(30), .fd = p[1], .format = LogFormat::kGlog});
  const absl::Time start = absl::Now();
  lines.Info(__FILE__, __LINE__, "now");
  lines.Flush();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  char buffer[256];
  const ssize_t n = read(p[0], buffer, sizeof(buffer));
  ASSERT_GT(n, 0);
  EXPECT_TRUE(absl::string_view(buffer, n).find("] now\n") !=
              absl::string_view::npos);
  close(p[0]);
  close(p[1]);
}

// Without a gather-window wait, a line still arrives within the window.
TEST(LineWriterTest, LineArrivesWithinTheWindow) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  LineWriter lines({.gather = absl::Milliseconds(20),
                    .fd = p[1],
                    .format = LogFormat::kGlog});
  lines.Info(__FILE__, __LINE__, "soon");
  char buffer[256];
  const ssize_t n = read(p[0], buffer, sizeof(buffer));  // blocks until written
  ASSERT_GT(n, 0);
  // The writer counts the line once write(2) has returned, which may be
  // after this read does: wait for the count, within a bound.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (lines.lines_written() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(lines.lines_written(), 1u);
  close(p[0]);
  close(p[1]);
}

// Long lines through a pipe: every line arrives whole (writes of whole lines,
// at most PIPE_BUF each when lines allow).
TEST(LineWriterTest, LongLinesThroughAPipeStayWhole) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::string got;
  std::thread reader([&] {
    char buffer[65536];
    for (;;) {
      const ssize_t n = read(p[0], buffer, sizeof(buffer));
      if (n <= 0) break;
      got.append(buffer, static_cast<size_t>(n));
    }
  });
  {
    LineWriter lines({.gather = absl::Milliseconds(5),
                      .fd = p[1],
                      .format = LogFormat::kGlog});
    for (int i = 0; i < 200; ++i) {
      lines.Info(__FILE__, __LINE__,
                 absl::StrCat(i, " ", std::string(100 + i * 40, 'x')));
    }
  }
  close(p[1]);
  reader.join();
  close(p[0]);
  std::vector<std::string> all = Lines(got);
  ASSERT_EQ(all.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(all[i], m, kGlogLine)) << i;
    EXPECT_EQ(m[3].str(), absl::StrCat(i, " ", std::string(100 + i * 40, 'x')));
  }
}

// A log reader that stalls: Info keeps returning (it never blocks on the
// pipe), memory stays bounded, and once the reader drains the pipe the log
// says how many lines were dropped; every line is written or counted.
TEST(LineWriterTest, StalledOutputDropsAndCounts) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  constexpr int kLines = 100000;  // ~10 MB: more than the pipe and the cap
  const int pipe_size = fcntl(p[1], F_GETPIPE_SZ);
  ASSERT_GT(pipe_size, 0);
  std::string got;
  std::thread reader;
  {
    LineWriter lines({.gather = absl::Milliseconds(1),
                      .fd = p[1],
                      .format = LogFormat::kGlog});
    const absl::Time start = absl::Now();
    for (int i = 0; i < kLines; ++i) {
      lines.Info(__FILE__, __LINE__,
                 absl::StrCat(i, " ", std::string(60, 'y')));
    }
    EXPECT_LT(absl::Now() - start, absl::Seconds(20));  // never blocked
    reader = std::thread([&] {
      char buffer[65536];
      for (;;) {
        const ssize_t n = read(p[0], buffer, sizeof(buffer));
        if (n <= 0) break;
        got.append(buffer, static_cast<size_t>(n));
      }
    });
  }
  close(p[1]);
  reader.join();
  close(p[0]);
  int written = 0;
  uint64_t dropped = 0;
  size_t written_bytes = 0;
  for (const std::string& line : Lines(got)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, kGlogLine)) << line;
    unsigned long long n = 0;
    if (std::sscanf(m[3].str().c_str(), "%llu log lines dropped", &n) == 1 &&
        m[3].str().find("dropped") != std::string::npos) {
      dropped += n;
    } else {
      ++written;
      written_bytes += line.size() + 1;
    }
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(written + dropped, static_cast<uint64_t>(kLines));
  // Every line accepted was queued or being written while the reader slept:
  // the cap covers both, so only what the pipe absorbed comes on top.
  EXPECT_LE(written_bytes, LineWriter::kMaxPendingBytes + pipe_size + 256);
}

// In the journal's format (rackbootd under systemd), the lines are INFO
// records: "<6>" and the text, nothing of glog's prefix, one line each even
// when the text is not, straight to stderr.
TEST(LineWriterTest, JournalLinesOnStderr) {
  const std::string path = TempPath("journal.log");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const int saved = dup(STDERR_FILENO);
  ASSERT_EQ(dup2(fd, STDERR_FILENO), STDERR_FILENO);
  {
    LineWriter lines({.gather = absl::Milliseconds(5),
                      .fd = absl::nullopt,
                      .format = LogFormat::kJournal});
    EXPECT_TRUE(lines.direct());
    lines.Info(__FILE__, __LINE__, "dhcp DHCPACK 198.18.0.10");
    lines.Info(__FILE__, __LINE__, "two\nlines\0"s);
  }
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  EXPECT_EQ(ReadAll(path),
            "<6>dhcp DHCPACK 198.18.0.10\n<6>two\\nlines\\x00\n");
}

// A stalled reader in the journal's format: the note about dropped lines is
// a WARNING record, and nothing is lost uncounted.
TEST(LineWriterTest, JournalDropNoteIsAWarning) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  constexpr int kLines = 100000;  // ~7 MB of records
  const int pipe_size = fcntl(p[1], F_GETPIPE_SZ);
  ASSERT_GT(pipe_size, 0);
  std::string got;
  std::thread reader;
  {
    LineWriter lines({.gather = absl::Milliseconds(1),
                      .fd = p[1],
                      .format = LogFormat::kJournal});
    for (int i = 0; i < kLines; ++i) {
      lines.Info(__FILE__, __LINE__,
                 absl::StrCat(i, " ", std::string(60, 'y')));
    }
    reader = std::thread([&] {
      char buffer[65536];
      for (;;) {
        const ssize_t n = read(p[0], buffer, sizeof(buffer));
        if (n <= 0) break;
        got.append(buffer, static_cast<size_t>(n));
      }
    });
  }
  close(p[1]);
  reader.join();
  close(p[0]);
  uint64_t written = 0, dropped = 0;
  size_t written_bytes = 0;
  for (const std::string& line : Lines(got)) {
    unsigned long long n = 0;
    if (std::sscanf(line.c_str(), "<4>%llu log lines dropped", &n) == 1) {
      dropped += n;
    } else {
      ASSERT_EQ(line.substr(0, 3), "<6>") << line;
      ++written;
      written_bytes += line.size() + 1;
    }
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(written + dropped, static_cast<uint64_t>(kLines));
  EXPECT_LE(written_bytes, LineWriter::kMaxPendingBytes + pipe_size + 256);
}

class CapturingSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char*,
            const char* base_filename, int line, const google::LogMessageTime&,
            const char* message, size_t length) override {
    (void)line;
    if (severity == google::GLOG_INFO) {
      messages.push_back(
          absl::StrCat(base_filename, "|", std::string(message, length)));
    }
  }
  std::vector<std::string> messages;
};

// When glog does not write plain prefixed lines to stderr (here
// --log_prefix=false), lines go through glog, from the writer thread.
TEST(LineWriterTest, ThroughGlogWhenNotPlainStderr) {
  FLAGS_logtostderr = true;
  FLAGS_log_prefix = false;
  CapturingSink sink;
  google::AddLogSink(&sink);
  {
    LineWriter lines;
    EXPECT_FALSE(lines.direct());
    lines.Info(__FILE__, __LINE__, "via glog");
    lines.Flush();
  }
  google::RemoveLogSink(&sink);
  FLAGS_log_prefix = true;
  ASSERT_EQ(sink.messages.size(), 1u);
  EXPECT_EQ(sink.messages[0], "line_writer_test.cc|via glog");
}

}  // namespace
}  // namespace rackboot::log
