// rackbootd: the Rackboot engine's daemon. main() parses flags, starts the
// services, waits for SIGINT or SIGTERM and stops them; protocol logic lives in
// the libraries it links.
//
// Today it serves TFTP; DHCP and site.toml arrive with their issue.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/tftp/tftp_service.h"

DEFINE_string(tftp_root, "",
              "Directory served over TFTP, read-only. Files are opened "
              "strictly beneath it "
              "(symlinks leading out, '..' and non-regular files are refused). "
              "Required while "
              "TFTP is the only service.");
DEFINE_string(tftp_listen, "0.0.0.0:69",
              "Address and port of the TFTP request socket. Each transfer then "
              "uses a port of "
              "its own (RFC 1350).");
DEFINE_int32(
    tftp_max_blksize, 1468,
    "Largest block size a client may negotiate (RFC 2348), 8..65464. The "
    "default fits "
    "a 1500-byte Ethernet MTU; the path MTU to each client lowers it further.");
DEFINE_int32(
    tftp_max_windowsize, 64,
    "Largest window a client may negotiate (RFC 7440), 1..65535 blocks.");
DEFINE_int32(
    tftp_timeout_ms, 1000,
    "Retransmission timeout when the client asks for none (RFC 2349 timeout "
    "overrides it); doubles on each consecutive timeout up to 8 s.");
DEFINE_int32(tftp_max_retries, 6,
             "Consecutive timeouts after which a transfer is abandoned.");
DEFINE_bool(tftp_gso, true,
            "Send each window with UDP segmentation offload (one system call "
            "per window).");
DEFINE_string(
    interface, "",
    "Serve only on this network interface (SO_BINDTODEVICE). Empty: every "
    "interface the listen address reaches.");
DEFINE_string(
    io, "uring",
    "I/O backend: 'uring' (io_uring; falls back to epoll with one log line "
    "when "
    "the kernel refuses it, e.g. kernel.io_uring_disabled) or 'epoll'.");
DEFINE_int32(threads, 0, "Worker threads (shards), 0 for one per CPU core.");
DEFINE_string(dhcp_mode, "off",
              "DHCP service: only 'off' until the DHCP service is built.");

namespace {

constexpr char kUsage[] =
    "rackbootd: serves TFTP (and, to come, PXE-aware DHCP) for network-booting "
    "racks of "
    "servers.\n"
    "\n"
    "Usage: rackbootd --tftp_root=DIR [FLAGS]\n"
    "Example: rackbootd --tftp_root=/srv/tftp --tftp_listen=198.18.0.1:69 "
    "--interface=br0\n";

// gflags' own --help lists every flag of every linked library (glog's among
// them); operators want the daemon's flags, so --help prints those defined in
// engine/ and points at the rest.
void PrintHelp() {
  std::fputs(kUsage, stdout);
  std::fputs("\nFlags:\n", stdout);
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& flag : flags) {
    if (flag.filename.find("engine/") == std::string::npos) continue;
    std::printf("  --%s (%s, default \"%s\")\n      %s\n", flag.name.c_str(),
                flag.type.c_str(), flag.default_value.c_str(),
                flag.description.c_str());
  }
  std::fputs(
      "\nLogging flags come from glog (--v, --minloglevel, --log_dir, ...); "
      "--helpfull lists every flag.\n",
      stdout);
}

absl::StatusOr<rackboot::TftpServiceOptions> TftpOptionsFromFlags() {
  rackboot::TftpServiceOptions options;
  if (FLAGS_tftp_root.empty()) {
    return absl::InvalidArgumentError(
        "--tftp_root is required: the directory to serve over TFTP");
  }
  options.root = FLAGS_tftp_root;
  absl::StatusOr<rackboot::io::SocketAddress> listen =
      rackboot::io::SocketAddress::Parse(FLAGS_tftp_listen);
  if (!listen.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tftp_listen: ", listen.status().message()));
  }
  options.shard.listen = *listen;
  if (FLAGS_tftp_max_blksize < 8 || FLAGS_tftp_max_blksize > 65464) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_max_blksize=", FLAGS_tftp_max_blksize, " is outside 8..65464"));
  }
  if (FLAGS_tftp_max_windowsize < 1 || FLAGS_tftp_max_windowsize > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tftp_max_windowsize=", FLAGS_tftp_max_windowsize,
                     " is outside 1..65535"));
  }
  if (FLAGS_tftp_timeout_ms < 10 || FLAGS_tftp_timeout_ms > 255000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_timeout_ms=", FLAGS_tftp_timeout_ms, " is outside 10..255000"));
  }
  if (FLAGS_tftp_max_retries < 0 || FLAGS_tftp_max_retries > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_max_retries=", FLAGS_tftp_max_retries, " is outside 0..100"));
  }
  options.shard.limits.max_blksize = FLAGS_tftp_max_blksize;
  options.shard.limits.max_windowsize = FLAGS_tftp_max_windowsize;
  options.shard.limits.initial_timeout =
      absl::Milliseconds(FLAGS_tftp_timeout_ms);
  options.shard.limits.max_timeout =
      std::max(absl::Seconds(8), options.shard.limits.initial_timeout);
  options.shard.limits.max_retries = FLAGS_tftp_max_retries;
  options.shard.gso = FLAGS_tftp_gso;
  options.shard.bind_to_device = FLAGS_interface;
  if (FLAGS_io == "uring" || FLAGS_io == "io_uring") {
    options.io = rackboot::io::IoBackend::kAuto;
  } else if (FLAGS_io == "epoll") {
    options.io = rackboot::io::IoBackend::kEpoll;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--io=", FLAGS_io, ": use 'uring' or 'epoll'"));
  }
  if (FLAGS_threads < 0 || FLAGS_threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads=", FLAGS_threads, " is outside 0..1024"));
  }
  options.threads = FLAGS_threads;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      PrintHelp();
      return 0;
    }
  }
  gflags::SetUsageMessage(kUsage);
  FLAGS_logtostderr = true;
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  google::InitGoogleLogging(argv[0]);
  if (argc > 1) {
    LOG(ERROR) << "unexpected argument '" << argv[1]
               << "'; rackbootd takes only flags (see --help)";
    return 2;
  }
  if (FLAGS_dhcp_mode != "off") {
    LOG(ERROR) << "--dhcp_mode=" << FLAGS_dhcp_mode
               << ": the DHCP service is not built yet; only 'off' is accepted";
    return 2;
  }
  absl::StatusOr<rackboot::TftpServiceOptions> options = TftpOptionsFromFlags();
  if (!options.ok()) {
    LOG(ERROR) << options.status().message() << " (see --help)";
    return 2;
  }

  // Block the stop signals in every thread (the shards inherit the mask) and
  // take them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<rackboot::TftpService>> tftp =
      rackboot::TftpService::Start(*options);
  if (!tftp.ok()) {
    LOG(ERROR) << "cannot start: " << tftp.status().message();
    return 1;
  }
  std::printf("rackbootd: ready, TFTP on %s\n",
              (*tftp)->address().ToString().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LOG(INFO) << "rackbootd: " << strsignal(signal_number) << ", stopping";
  (*tftp)->Stop();
  rackboot::TftpCounters& c = (*tftp)->counters();
  LOG(INFO) << "tftp totals: completed=" << c.transfers_completed.load()
            << " failed=" << c.transfers_failed.load()
            << " refused=" << c.requests_refused.load()
            << " bytes=" << c.bytes_sent.load()
            << " retransmits=" << c.retransmits.load()
            << " unknown_tid=" << c.unknown_tid.load();
  return 0;
}
