// render_fixture: writes every file the hosts of a fixture site get into a
// directory, as <out>/<hostname>/<path> (install_fixture.h), secret files
// (install/<token>/...) mode 0600. The validators in tests/install/ check
// what it writes; it also regenerates the golden files:
//
//   rm -rf engine/install/testdata/golden && bazel run //engine/install:render_fixture -- \
//     "$PWD/engine/install/testdata/fixture/site.toml" "$PWD/engine/install/testdata/golden"
//
// Usage: render_fixture SITE_TOML OUT_DIR. Exit 0, or 1 with the error.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "engine/install/install_fixture.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: render_fixture SITE_TOML OUT_DIR\n";
    return 2;
  }
  auto files = rackboot::install::RenderFixture(argv[1]);
  if (!files.ok()) {
    std::cerr << "render_fixture: " << files.status().message() << "\n";
    return 1;
  }
  const std::filesystem::path out = argv[2];
  for (const auto& [key, file] : *files) {
    const std::filesystem::path path = out / key;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      std::cerr << "render_fixture: " << path.parent_path() << ": "
                << ec.message() << "\n";
      return 1;
    }
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f << file.bytes;
      if (!f) {
        std::cerr << "render_fixture: cannot write " << path << "\n";
        return 1;
      }
    }
    if (::chmod(path.c_str(), file.secret ? 0600 : 0644) != 0) {
      std::cerr << "render_fixture: chmod " << path << " failed\n";
      return 1;
    }
  }
  std::cout << "render_fixture: wrote " << files->size() << " files to "
            << out.string() << "\n";
  return 0;
}
