// CPU per INFO line: glog's LOG(INFO) against LineWriter::Info (plus the
// writer thread's share), both writing to a file through fd 2, as rackbootd
// writes its log under --logtostderr. Real time per line counts both threads.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/log/line_writer.h"
#include "glog/logging.h"

namespace rackboot::log {
namespace {

// Sends stderr to a scratch file for the benchmark's duration.
class StderrToFile {
 public:
  StderrToFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = absl::StrCat(dir != nullptr ? dir : "/tmp",
                         "/line_writer_benchmark.log");
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    saved_ = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    FLAGS_logtostderr = true;
  }
  ~StderrToFile() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    unlink(path_.c_str());
  }

 private:
  std::string path_;
  int saved_;
};

constexpr const char* kLine =
    "dhcp DHCPACK 198.18.1.17 to 00:0c:01:02:03:04 via relay 198.18.0.2";

void BM_GlogInfo(benchmark::State& state) {
  StderrToFile redirect;
  for (auto _ : state) {
    LOG(INFO) << "dhcp DHCPACK "
              << "198.18.1.17"
              << " to "
              << "00:0c:01:02:03:04"
              << " via relay "
              << "198.18.0.2";
  }
}
BENCHMARK(BM_GlogInfo)->UseRealTime();

void BM_LineWriterInfo(benchmark::State& state) {
  StderrToFile redirect;
  LineWriter lines;
  for (auto _ : state) {
    lines.Info(__FILE__, __LINE__, kLine);
  }
  lines.Flush();  // the writer's work is inside the timed region
}
BENCHMARK(BM_LineWriterInfo)->UseRealTime();

}  // namespace
}  // namespace rackboot::log
