// render_fixture: writes every file the hosts of a fixture site get into a
// directory, as <out>/<hostname>/<path> (install_fixture.h), secret files
// (install/<token>/...) mode 0600. The validators in tests/install/ check
// what it writes; it also regenerates the golden files (replacing the whole
// directory, so a file no longer rendered goes too):
//
//   bazel run //engine/install:render_fixture -- --golden
//
// Usage: render_fixture SITE_TOML OUT_DIR, or render_fixture --golden under
// `bazel run` (the checkout's engine/install/testdata/fixture/site.toml into
// engine/install/testdata/golden). Exit 0, or 1 with the error.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "engine/install/install_fixture.h"

int main(int argc, char** argv) {
  std::string site_toml, out_dir;
  if (argc == 2 && std::string(argv[1]) == "--golden") {
    // bazel run sets it to the checkout; the paths are fixed, so removing
    // the old golden directory cannot hit anything else.
    const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    if (workspace == nullptr) {
      std::cerr << "render_fixture --golden: run it with bazel run\n";
      return 2;
    }
    const std::string testdata =
        std::string(workspace) + "/engine/install/testdata";
    site_toml = testdata + "/fixture/site.toml";
    out_dir = testdata + "/golden";
    std::error_code ec;
    std::filesystem::remove_all(out_dir, ec);
  } else if (argc == 3) {
    site_toml = argv[1];
    out_dir = argv[2];
  } else {
    std::cerr << "usage: render_fixture SITE_TOML OUT_DIR | --golden\n";
    return 2;
  }
  auto files = rackboot::install::RenderFixture(site_toml);
  if (!files.ok()) {
    std::cerr << "render_fixture: " << files.status().message() << "\n";
    return 1;
  }
  const std::filesystem::path out = out_dir;
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
