// Driver that replays inputs through a libFuzzer entry point without libFuzzer.
//
// Fuzz targets link this in every configuration except --config=fuzz, so each
// target also builds with g++ and its seed corpus runs as a regression test in
// the ordinary `bazel test //...`. Arguments are files or directories (read
// recursively); libFuzzer-style flags (-foo=bar) are ignored so the same test
// command works with either driver.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  // A heap copy of exactly the input's size, so ASan sees reads past the end.
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int inputs = 0;
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    std::filesystem::path path(arg);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry :
           std::filesystem::recursive_directory_iterator(path)) {
        if (!entry.is_regular_file()) continue;
        failures += RunFile(entry.path());
        ++inputs;
      }
    } else {
      failures += RunFile(path);
      ++inputs;
    }
  }
  // The empty input is always worth a run.
  LLVMFuzzerTestOneInput(nullptr, 0);
  std::printf("replayed %d inputs without a finding\n", inputs);
  // Only the empty input ran: the replay checked next to nothing, which is a
  // skip (counted as such by ./rackboot test), not a pass.
  if (inputs == 0 && failures == 0) {
    std::printf("RACKBOOT SKIPPED: no seed inputs to replay\n");
  }
  return failures == 0 ? 0 : 1;
}
