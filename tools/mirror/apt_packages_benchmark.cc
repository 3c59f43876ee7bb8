// Parsing and selecting over a Packages index of Debian's size: 60,000
// stanzas shaped like bookworm's main/binary-amd64 (multi-line Description,
// Depends with versions and alternatives, Provides), made in memory. With
// RACKBOOT_APT_PACKAGES=/path/to/Packages[.xz] the real file is measured too
// (curl -O
// http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz).
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/mirror/apt_packages.h"
#include "tools/mirror/apt_selection.h"
#include "tools/mirror/compressed_file.h"

namespace rackboot::mirror {
namespace {

std::string SyntheticPackages(int stanzas) {
  std::string text;
  text.reserve(static_cast<size_t>(stanzas) * 800);
  for (int i = 0; i < stanzas; ++i) {
    absl::StrAppend(
        &text, "Package: pkg", i, "\nSource: src", i / 3,
        "\nVersion: 1:", i % 7, ".", i % 13, "-", i % 5,
        "+deb12u1\nInstalled-Size: ", 100 + i % 900,
        "\nMaintainer: Debian Maintainers <maint", i % 50,
        "@lists.debian.org>\nArchitecture: amd64\n", "Depends: pkg",
        (i + 1) % stanzas, " (>= 1.2~), libc6 (>= 2.34), pkg",
        (i * 7) % stanzas, " | virt", i % 100, ", pkg", (i * 13) % stanzas,
        ":any\n",
        i % 4 == 0 ? absl::StrCat("Pre-Depends: pkg", (i + 11) % stanzas, "\n")
                   : "",
        i % 3 == 0 ? absl::StrCat("Recommends: pkg", (i + 5) % stanzas, "\n")
                   : "",
        i % 10 == 0 ? absl::StrCat("Provides: virt", i % 100, " (= 1)\n") : "",
        "Description: synthetic package number ", i,
        "\nMulti-Arch: foreign\nHomepage: https://example.org/", i,
        "\nDescription-md5: 0123456789abcdef0123456789abcdef\n"
        "Tag: admin::package-management, implemented-in::c, role::program\n"
        "Section: admin\nPriority: ",
        i % 50 == 0 ? "required" : (i % 20 == 0 ? "important" : "optional"),
        "\nFilename: pool/main/s/src", i / 3, "/pkg", i, "_1.", i % 13,
        "_amd64.deb\nSize: ", 1000 + i * 37,
        "\nMD5sum: 0123456789abcdef0123456789abcdef\nSHA256: ",
        std::string(64, "0123456789abcdef"[i % 16]), "\n\n");
  }
  return text;
}

const std::string& Synthetic() {
  static const std::string* text = new std::string(SyntheticPackages(60000));
  return *text;
}

void BM_ParsePackages(benchmark::State& state, const std::string* text) {
  size_t packages = 0;
  for (auto _ : state) {
    auto parsed = ParseAptPackages(*text, "Packages");
    if (!parsed.ok()) {
      state.SkipWithError(std::string(parsed.status().message()).c_str());
      return;
    }
    packages = parsed->packages.size();
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["stanzas"] = static_cast<double>(packages);
}

void BM_IndexAndSelectRequired(benchmark::State& state,
                               const std::string* text) {
  auto parsed = ParseAptPackages(*text, "Packages");
  if (!parsed.ok()) {
    state.SkipWithError(std::string(parsed.status().message()).c_str());
    return;
  }
  size_t selected = 0;
  for (auto _ : state) {
    AptPackageIndex index;
    for (const AptPackage& package : parsed->packages) index.Add(package);
    AptSelectionRequest request;
    request.priorities = {"required", "important"};
    auto selection = SelectAptPackages(index, request);
    selected = selection->packages.size();
    benchmark::DoNotOptimize(selection);
  }
  state.counters["selected"] = static_cast<double>(selected);
}

void BM_CompareVersions(benchmark::State& state) {
  const char* versions[] = {"1:2.36-9+deb12u4", "2.36-9+deb12u3",
                            "1.0~rc1-1",        "1.0-1~bpo12+1",
                            "7.6p2-4",          "20230607+deb12u5"};
  int sum = 0;
  for (auto _ : state) {
    for (const char* a : versions) {
      for (const char* b : versions) sum += CompareDebianVersions(a, b);
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * 36);
}

}  // namespace
}  // namespace rackboot::mirror

int main(int argc, char** argv) {
  using namespace rackboot::mirror;
  benchmark::Initialize(&argc, argv);
  benchmark::RegisterBenchmark("BM_ParsePackages/synthetic60000",
                               BM_ParsePackages, &Synthetic())
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_IndexAndSelectRequired/synthetic60000",
                               BM_IndexAndSelectRequired, &Synthetic())
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_CompareVersions", BM_CompareVersions);
  static std::string real;
  if (const char* path = getenv("RACKBOOT_APT_PACKAGES"); path != nullptr) {
    auto text = ReadCompressedFile(path);
    if (!text.ok()) {
      fprintf(stderr, "RACKBOOT_APT_PACKAGES=%s: %s\n", path,
              std::string(text.status().message()).c_str());
      return 1;
    }
    real = *std::move(text);
    benchmark::RegisterBenchmark("BM_ParsePackages/real", BM_ParsePackages,
                                 &real)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_IndexAndSelectRequired/real",
                                 BM_IndexAndSelectRequired, &real)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
