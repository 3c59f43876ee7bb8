// A test driver for the yum, ISO and directory sources and media recognition
// (testonly): the shell tests feed it trees, images and repositories made by
// the real xorriso, rpmbuild, createrepo_c and gpg.
//   mirror_source_tool iso-list ISO                 path<TAB>size per file
//   mirror_source_tool iso-extract ISO STAGING      path<TAB>size<TAB>sha256,
//   then
//                                                   skipped_links<TAB>N
//   mirror_source_tool iso-extract-cancel ISO STAGING  cancels after the first
//   block mirror_source_tool dir ROOT                     path<TAB>size per
//   file mirror_source_tool recognize ROOT               key=value,
//   evidence=... lines mirror_source_tool yum REPO_DIR STAGING [KEYRING|-]
//   [NAME,NAME]
//                                                   the plan (fetch copies from
//                                                   REPO_DIR and checks
//                                                   size+sha256), media
// Warnings go to stderr as "warning: ..."; an error is its status on stderr
// and exit 1.
#include <atomic>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tools/mirror/directory_source.h"
#include "tools/mirror/iso_source.h"
#include "tools/mirror/media_recognizer.h"
#include "tools/mirror/test_fetch.h"
#include "tools/mirror/yum_source.h"

namespace {

using namespace rackboot::mirror;

int Fail(const absl::Status& s) {
  std::cerr << s.ToString() << "\n";
  return 1;
}

void PrintWarnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) std::cerr << "warning: " << w << "\n";
}

void PrintMedia(const MediaInfo& m) {
  std::cout << "kind=" << m.kind << "\nfamily=" << m.family
            << "\ndistro=" << m.distro << "\nrelease=" << m.release
            << "\narch=" << m.arch << "\nkernel=" << m.kernel
            << "\ninitrd=" << m.initrd << "\n";
  for (const std::string& e : m.evidence) std::cout << "evidence=" << e << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "iso-list" && args.size() == 2) {
    auto entries = ListIso(args[1]);
    if (!entries.ok()) return Fail(entries.status());
    for (const IsoEntry& e : *entries) {
      std::cout << e.path << "\t" << e.size << "\n";
    }
    return 0;
  }
  if (verb == "iso-extract" && args.size() == 3) {
    int64_t bytes = 0;
    auto r = ExtractIso(
        args[1], args[2], [](const IsoEntry&) { return true; },
        [&](int64_t n) { bytes += n; }, nullptr);
    if (!r.ok()) return Fail(r.status());
    PrintWarnings(r->warnings);
    for (const PlannedFile& f : r->files) {
      std::cout << f.path << "\t" << f.size << "\t" << f.sha256 << "\n";
    }
    std::cout << "skipped_links\t" << r->skipped_links << "\n"
              << "bytes\t" << bytes << "\n";
    return 0;
  }
  if (verb == "iso-extract-cancel" && args.size() == 3) {
    // Cancels after the first block written: Cancelled, and no .part left.
    std::atomic<bool> cancel{false};
    auto r = ExtractIso(
        args[1], args[2], [](const IsoEntry&) { return true; },
        [&](int64_t) { cancel = true; }, &cancel);
    if (!r.ok()) return Fail(r.status());
    std::cout << "not cancelled\n";
    return 0;
  }
  if (verb == "dir" && args.size() == 2) {
    std::vector<std::string> warnings;
    auto entries = ListDirectorySource(args[1], &warnings);
    if (!entries.ok()) return Fail(entries.status());
    PrintWarnings(warnings);
    for (const DirectoryEntry& e : *entries) {
      std::cout << e.file.path << "\t" << e.file.size << "\n";
    }
    return 0;
  }
  if (verb == "recognize" && args.size() == 2) {
    auto m = RecognizeMedia(args[1]);
    if (!m.ok()) return Fail(m.status());
    PrintMedia(*m);
    return 0;
  }
  if (verb == "yum" && args.size() >= 3 && args.size() <= 5) {
    const std::string base = "http://198.18.0.1/repo";
    YumSourceOptions o;
    o.base_url = base;
    if (args.size() >= 4 && args[3] != "-") o.keyring = args[3];
    if (args.size() == 5) {
      o.packages = absl::StrSplit(args[4], ',', absl::SkipEmpty());
    }
    auto r = PlanYumSource(o, args[2],
                           MakeDirectoryFetch(base, args[1], args[2], nullptr));
    if (!r.ok()) return Fail(r.status());
    PrintWarnings(r->warnings);
    for (const PlannedFile& f : r->plan.files) {
      std::cout << "file\t" << f.path << "\t" << f.size << "\t" << f.sha256
                << "\n";
    }
    std::cout << "selected\t" << r->packages_selected << "\n";
    PrintMedia(r->media);
    return 0;
  }
  std::cerr << "usage: mirror_source_tool iso-list|iso-extract|dir|recognize|"
               "yum ...\n";
  return 2;
}
