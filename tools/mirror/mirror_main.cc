// rackboot-mirror (`./rackboot mirror`): makes a local, verified copy of an
// install source (an ISO file, a directory, an apt or yum repository over
// HTTP/HTTPS/FTP) and publishes it atomically at --to, for rackbootd to serve
// at /repo/<name>/ (docs/mirror.md). This file parses the command line,
// installs the SIGINT/SIGTERM handlers and prints; tools/mirror/mirror_run.h
// does the work.
#include <gflags/gflags.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/cli/flag_help.h"
#include "tools/mirror/mirror_run.h"
#include "tools/mirror/progress_reporter.h"

DEFINE_string(from, "",
              "The source: an .iso file, a directory, or the root URL "
              "(http://, https://, ftp://) of an apt or yum repository. "
              "Required.");
DEFINE_string(to, "",
              "The published tree, e.g. /srv/repo/debian12; its parent must "
              "exist. Bookkeeping (lock, staging/) lives beside it in "
              ".rackboot-mirror-<name>/. Required.");
DEFINE_string(suite, "",
              "apt: the suite or codename (bookworm); a URL with --suite is "
              "an apt repository, without it a yum repository.");
DEFINE_string(components, "main", "apt: components, comma-separated.");
DEFINE_string(arch, "amd64", "apt: the architecture (arch all comes along).");
DEFINE_string(packages, "",
              "Packages by name, comma-separated: apt adds their dependency "
              "closure; yum keeps exactly these names.");
DEFINE_string(priorities, "",
              "apt: every package of these priorities "
              "(required,important,standard,optional) plus the closure.");
DEFINE_bool(all, false, "Every package of the repository.");
DEFINE_bool(installer, false,
            "apt: the debian-installer udebs of the netboot kernel ABI and "
            "the netboot linux and initrd.gz.");
DEFINE_string(udebs, "",
              "apt: debian-installer udebs by exact name, comma-separated, "
              "plus their dependency closure within the udeb index; no "
              "netboot images. Not with --installer.");
DEFINE_bool(recommends, false, "apt: follow Recommends in the closure too.");
DEFINE_string(keyring, "",
              "OpenPGP keyring to verify with. apt default: "
              "/usr/share/keyrings/debian-archive-keyring.gpg; yum: when "
              "given, repodata/repomd.xml.asc must verify.");
DEFINE_bool(prune, false,
            "Drop files of the published tree that the source no longer "
            "names (default: keep them).");
DEFINE_bool(json, false, "Print the summary as one JSON object on stdout.");
DEFINE_string(boot_dir, "",
              "Copy the recognised installer kernel and initrd to "
              "BOOT_DIR/<name>/ (name: the basename of --to).");
DEFINE_int32(connections, 16, "Parallel transfers in all (1..256).");
DEFINE_int32(per_host, 6, "Parallel transfers per host (1..64).");
DEFINE_int32(retries, 5,
             "Retries of a transient failure, with exponential backoff "
             "(0..100).");
DEFINE_int32(timeout, 30,
             "Seconds a transfer may stall (under 1 KiB/s) before it is "
             "retried; also bounds the connect time (1..3600).");

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 64;  // EX_USAGE
constexpr int kExitInterrupted = 130;

constexpr char kUsage[] =
    "Usage: rackboot-mirror --from=SOURCE --to=DIR [--suite=S]\n"
    "         [--components=main[,contrib]] [--arch=amd64] [--packages=P[,P]]\n"
    "         [--priorities=required,important] [--all] [--installer]\n"
    "         [--udebs=U[,U]] [--recommends] [--keyring=FILE] [--prune]\n"
    "         [--json] [--boot_dir=DIR] [--connections=16] [--per_host=6]\n"
    "         [--retries=5] [--timeout=30]\n"
    "\n"
    "Copies an install source into DIR, verified, and publishes it\n"
    "atomically (rackbootd serves it at /repo/<name>/). SOURCE is:\n"
    "  an .iso file               read with libarchive, no mount\n"
    "  a directory                copied (symlinks skipped)\n"
    "  URL --suite=S ...          an apt repository (http, https, ftp),\n"
    "                             InRelease checked with --keyring\n"
    "  URL                        a yum repository (repodata/repomd.xml)\n"
    "An apt source needs a selection: --packages, --priorities, --all,\n"
    "--installer and/or --udebs. A re-run fetches only what changed; an\n"
    "interrupted run resumes. See docs/mirror.md.\n"
    "\n"
    "Exit status:\n"
    "  0    DIR holds a complete, verified tree (published or up to date)\n"
    "  1    error: nothing published, the previous tree untouched\n"
    "  64   bad command line (the message says the fix)\n"
    "  130  interrupted (SIGINT/SIGTERM): re-run to resume\n";

std::atomic<bool> g_cancel{false};

void OnSignal(int) {
  g_cancel.store(true);
  // A second signal ends the process at once.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "rackboot-mirror: %s (rackboot-mirror --help)\n",
               message.c_str());
  if (FLAGS_json) {
    // --json promises one object on stdout, a refused command line too.
    rackboot::mirror::MirrorSummary summary;
    summary.to = FLAGS_to;
    summary.error = message;
    std::printf("%s\n", rackboot::mirror::SummaryJson(summary)
                            .dump(-1, ' ', false,
                                  nlohmann::json::error_handler_t::replace)
                            .c_str());
  }
  return kExitUsage;
}

bool OwnFlag(const std::string& name, gflags::CommandLineFlagInfo* info) {
  return gflags::GetCommandLineFlagInfo(name.c_str(), info) &&
         absl::StrContains(info->filename, "tools/mirror/");
}

// gflags exits 1 on a bad flag; the contract is 64 with the fix, so the
// arguments are parsed here and set through gflags (which checks values).
std::string ParseArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::StrCat("unexpected argument '", arg,
                          "': every option is a --flag");
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    gflags::CommandLineFlagInfo info;
    if (!OwnFlag(name, &info)) {
      if (absl::StartsWith(name, "no") && !has_value &&
          OwnFlag(name.substr(2), &info) && info.type == "bool") {
        name = name.substr(2);
        value = "false";
        has_value = true;
      } else {
        return absl::StrCat("unknown flag --", name);
      }
    }
    if (!has_value) {
      if (info.type == "bool") {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::StrCat("--", name, " needs a value: --", name, "=VALUE");
      }
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      return absl::StrCat("bad value for --", name, ": '", value, "' (",
                          info.type, " expected)");
    }
  }
  return "";
}

std::vector<std::string> List(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipWhitespace());
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      rackboot::cli::PrintFlagHelp(kUsage, "tools/mirror/");
      return 0;
    }
  }
  gflags::SetUsageMessage(kUsage);
  // --json anywhere: a refused command line answers in JSON too.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) FLAGS_json = true;
  }
  if (std::string err = ParseArgs(argc, argv); !err.empty()) return Usage(err);

  namespace mirror = rackboot::mirror;
  mirror::MirrorOptions options;
  options.from = FLAGS_from;
  options.to = FLAGS_to;
  options.suite = FLAGS_suite;
  options.components = List(FLAGS_components);
  options.arch = FLAGS_arch;
  options.packages = List(FLAGS_packages);
  options.priorities = List(FLAGS_priorities);
  options.all = FLAGS_all;
  options.installer = FLAGS_installer;
  options.udebs = List(FLAGS_udebs);
  options.recommends = FLAGS_recommends;
  options.keyring = FLAGS_keyring;
  options.prune = FLAGS_prune;
  options.boot_dir = FLAGS_boot_dir;
  options.connections = FLAGS_connections;
  options.per_host = FLAGS_per_host;
  options.retries = FLAGS_retries;
  options.timeout = FLAGS_timeout;
  if (absl::Status s = mirror::ValidateMirrorOptions(options); !s.ok()) {
    return Usage(std::string(s.message()));
  }

  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  mirror::ProgressReporter progress(stderr, isatty(2) == 1);
  mirror::MirrorSummary summary;
  absl::Status status =
      mirror::RunMirror(options, &progress, &g_cancel, &summary);
  int code = 0;
  if (!status.ok()) {
    if (absl::IsCancelled(status) || g_cancel.load()) {
      summary.error = "interrupted; re-run to resume";
      std::fprintf(stderr, "rackboot-mirror: interrupted; re-run to resume\n");
      code = kExitInterrupted;
    } else {
      std::fprintf(stderr, "rackboot-mirror: %s\n",
                   std::string(status.message()).c_str());
      std::fprintf(
          stderr, "rackboot-mirror: nothing published%s\n",
          summary.to.empty()
              ? ""
              : absl::StrCat("; ", summary.to, " is as it was").c_str());
      code = kExitError;
    }
  }
  if (FLAGS_json) {
    std::printf("%s\n", mirror::SummaryJson(summary)
                            .dump(-1, ' ', false,
                                  nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else if (code == 0) {
    std::fputs(mirror::SummaryText(summary).c_str(), stdout);
  }
  std::fflush(stdout);
  return code;
}
