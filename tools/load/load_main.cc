// rackboot-load (`./rackboot load`): plays hundreds to thousands of PXE
// clients (DHCP DORA, then TFTP downloads) against any PXE server and reports
// completions, throughput and latency percentiles, as text and as JSON.
//
// Flags in, LoadOptions out; the work is LoadRunner's (load_runner.h). One
// thread. Exit codes: 0 every client completed, 1 some failed (or the run
// could not proceed), 2 a usage error.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "engine/cli/flag_help.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "tools/load/load_report.h"
#include "tools/load/load_runner.h"

DEFINE_string(server, "",
              "The server's IPv4 address (required unless every step is "
              "http). DHCP goes to its port 67 when relayed; TFTP to its port "
              "69 unless --tftp_server or the lease's next-server says "
              "otherwise.");
DEFINE_string(interface, "",
              "Network interface for every socket (SO_BINDTODEVICE). Required "
              "for direct DHCP, which broadcasts on it like a PXE ROM.");
DEFINE_uint64(clients, 0,
              "Simulated clients to run, each with its own MAC "
              "(required, > 0).");
DEFINE_double(rate, 0,
              "Clients started per second; 0 starts them all at once (in "
              "batches of 2,000 a millisecond).");
DEFINE_double(duration, 0,
              "Bound on the whole run in seconds; clients still running then "
              "fail as \"unfinished\". 0: no bound.");
DEFINE_string(flow, "",
              "Each client's steps, comma-separated (required): dhcp (first "
              "only), then tftp:PATH and http:/PATH in any order, e.g. "
              "dhcp,tftp:undionly.kpxe,http:/boot/vmlinuz,http:/boot/"
              "initrd.img. Each http step is a GET on the client's one "
              "kept-alive TCP connection.");
DEFINE_int32(blksize, 1468, "TFTP block size to ask for (RFC 2348), 8..65464.");
DEFINE_int32(windowsize, 16,
             "TFTP window size to ask for (RFC 7440), 1..65535.");
DEFINE_string(relay, "",
              "Act as a DHCP relay agent with this giaddr (an address of this "
              "host): send to --server:67 from GIADDR:67, replies come back "
              "unicast. Empty: direct (broadcast) DHCP.");
DEFINE_string(tftp_server, "",
              "TFTP server address; default: the lease's next-server when the "
              "flow has dhcp and it is set, else --server.");
DEFINE_string(http_server, "",
              "HTTP server, ADDRESS or ADDRESS:PORT (port 80 by default); "
              "required when the flow has http steps but no dhcp. Default: "
              "the lease's next-server (else its server identifier) on "
              "--http_port.");
DEFINE_int32(http_port, 80,
             "Port of the lease-derived HTTP server (without --http_server).");
DEFINE_string(http_connect_timeout, "5s",
              "HTTP: the longest a TCP connect may take.");
DEFINE_string(http_first_byte_timeout, "10s",
              "HTTP: the longest wait from the request to the first response "
              "byte.");
DEFINE_string(http_stall_timeout, "10s",
              "HTTP: the longest gap between two arrivals once the response "
              "started.");
DEFINE_string(json, "", "Also write the report as JSON to this file.");
DEFINE_string(verify, "",
              "Local copies to compare the downloads with, comma-separated: "
              "one per download step (tftp and http) in flow order, or a "
              "single one for all. Checks every byte and the size.");
DEFINE_string(io, "auto",
              "Reactor backend: auto (io_uring, or epoll with one log line "
              "when the kernel refuses io_uring), uring (io_uring or an "
              "error) or epoll.");
DEFINE_string(mac_base, "02:52:42",
              "First 1..5 bytes of every client's MAC; the client number "
              "fills the rest (02:52:42 -> 02:52:42:00:00:00, ...:00:01).");
DEFINE_string(dhcp_timeout, "2s",
              "Wait for an OFFER or ACK before resending (e.g. 2s, 500ms).");
DEFINE_int32(dhcp_retries, 3,
             "DHCP resends before a client fails; 0 makes every lost message "
             "a failed client (to count drops, as perfdhcp does).");
DEFINE_string(tftp_timeout, "1s",
              "TFTP wait without progress before resending the last ACK.");
DEFINE_int32(tftp_retries, 5,
             "TFTP timeouts in a row before a download fails.");
DEFINE_bool(tftp_from_lease, false,
            "Bind each client's TFTP socket to the address its DHCP lease "
            "gave it (the pool must be local here, e.g. ip route add local "
            "POOL dev lo), so the server sees one source address per client.");
DEFINE_int32(arch, 0,
             "Client architecture, DHCP option 93: 0 BIOS, 7 UEFI x64, 11 "
             "ARM64 UEFI, ...");
DEFINE_uint64(seed, 1, "Seed for the DHCP transaction ids (repeatable runs).");
DEFINE_int32(threads, 1,
             "Threads, each with its own reactor and an equal share of the "
             "clients (and of --rate): one thread receives about 1 GiB/s of "
             "TFTP on a current core, so a faster server needs more. Direct "
             "DHCP only (every thread receives the server's broadcast "
             "replies); with --relay a DHCP flow needs --threads=1.");
DEFINE_string(progress, "auto",
              "Live progress line on stderr: auto (when stderr is a "
              "terminal), always or never.");

namespace {

constexpr char kUsage[] =
    "rackboot load: plays many PXE clients (DHCP DORA with PXE options, then\n"
    "TFTP and HTTP downloads) against any PXE server and measures it.\n"
    "\n"
    "Usage: rackboot load --server=ADDR [--interface=IF] --clients=N\n"
    "         [--rate=PER_S] [--duration=S]\n"
    "         --flow=[dhcp,]STEP[,STEP...] [--blksize=B]\n"
    "         [--windowsize=W] [--relay=GIADDR] [--http_server=A[:P]]\n"
    "         [--json=FILE] [--verify=FILE[,FILE...]]\n"
    "Steps: dhcp (first only); tftp:PATH (a TFTP read); http:/PATH (a GET\n"
    "on the client's one kept-alive TCP connection, Content-Length required,\n"
    "chunked refused; server: --http_server, else the lease's next-server\n"
    "on --http_port 80; without dhcp --http_server is required and --server\n"
    "is not).\n"
    "Report (text and --json): clients completed/failed, dhcp, tftp and http\n"
    "totals (http: files, failed, bytes, head_bytes, MiB/s, connections,\n"
    "reused), then per step: ok, failed, bytes, p50/p90/p99/max ms, errors\n"
    "by kind (e.g. http-status 404, http-truncated, http-stalled,\n"
    "http-chunked, size-mismatch, content-mismatch; see docs/load.md).\n"
    "Examples:\n"
    "  rackboot load --server=198.18.0.1 --interface=eth0 --clients=500 \\\n"
    "      --rate=100 --flow=dhcp,tftp:/pxelinux.0,tftp:/ldlinux.c32 \\\n"
    "      --json=run.json\n"
    "  rackboot load --server=198.18.0.1 --relay=198.18.0.2 \\\n"
    "      --clients=10000 --flow=dhcp --dhcp_retries=0\n"
    "  rackboot load --server=198.18.0.1 --clients=200 \\\n"
    "      --flow=tftp:/vmlinuz --verify=/srv/tftp/vmlinuz\n"
    "  rackboot load --server=198.18.0.1 --interface=eth0 --clients=500 \\\n"
    "      --flow=dhcp,tftp:undionly.kpxe,http:/boot/vmlinuz,"
    "http:/boot/initrd.img\n"
    "  rackboot load --http_server=127.0.0.1:8080 --clients=200 \\\n"
    "      --flow=http:/boot/file --verify=/srv/boot/file\n"
    "\n"
    "Exit status: 0 every client completed, 1 some failed, 2 usage error.\n"
    "Output: a summary on stdout (a live progress line on stderr when it is\n"
    "a terminal); see docs/load.md for the summary and the JSON.\n";

void PrintHelp() { rackboot::cli::PrintFlagHelp(kUsage, "tools/load/"); }

int Usage(const std::string& message) {
  std::fprintf(stderr, "rackboot load: %s\n(see --help)\n", message.c_str());
  return 2;
}

// gflags exits with status 1 on an unknown flag or a malformed value; usage
// errors here exit 2 with the flag named, so check each flag first.
bool PrecheckFlags(int argc, char** argv, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      if (name.rfind("no", 0) == 0 &&
          gflags::GetCommandLineFlagInfo(name.substr(2).c_str(), &info) &&
          info.type == "bool") {
        continue;
      }
      *error = absl::StrCat("unknown flag --", name);
      return false;
    }
    if (info.type == "bool") continue;
    if (!has_value) {
      if (i + 1 >= argc) {
        *error = absl::StrCat("--", name, " needs a value");
        return false;
      }
      value = argv[++i];
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      *error =
          absl::StrCat("--", name, "=", value, ": not a valid ", info.type);
      return false;
    }
  }
  return true;
}

// "2s", "500ms", or a plain number of seconds.
bool ParseDurationFlag(const std::string& text, absl::Duration* out) {
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(text, out);
}

absl::Status ParseIpv4Flag(const char* name, const std::string& text,
                           rackboot::dhcp::Ipv4Address* out) {
  absl::StatusOr<rackboot::dhcp::Ipv4Address> a =
      rackboot::dhcp::Ipv4Address::Parse(text);
  if (!a.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, "=", text, ": not an IPv4 address (e.g. 198.18.0.1)"));
  }
  *out = *a;
  return absl::OkStatus();
}

absl::StatusOr<rackboot::load::LoadOptions> OptionsFromFlags() {
  using rackboot::load::LoadOptions;
  LoadOptions o;
  absl::StatusOr<std::vector<rackboot::load::FlowStep>> flow =
      rackboot::load::ParseFlow(FLAGS_flow);
  if (!flow.ok()) return flow.status();
  o.flow = *std::move(flow);
  bool http_only = true;
  for (const rackboot::load::FlowStep& step : o.flow) {
    http_only = http_only && step.kind == rackboot::load::FlowStep::Kind::kHttp;
  }
  if (FLAGS_server.empty() && !http_only) {
    return absl::InvalidArgumentError(
        "--server is required: the server's IPv4 address");
  }
  if (!FLAGS_server.empty()) {
    if (absl::Status s = ParseIpv4Flag("server", FLAGS_server, &o.server);
        !s.ok()) {
      return s;
    }
  }
  if (!FLAGS_http_server.empty()) {
    absl::StatusOr<rackboot::io::SocketAddress> http =
        rackboot::load::ParseHttpServer(FLAGS_http_server);
    if (!http.ok()) return http.status();
    o.http_server = *http;
  }
  if (FLAGS_http_port < 1 || FLAGS_http_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_port=", FLAGS_http_port, ": must be 1..65535"));
  }
  o.http_port = static_cast<uint16_t>(FLAGS_http_port);
  for (const auto& [name, text, out] :
       {std::tuple{"http_connect_timeout", &FLAGS_http_connect_timeout,
                   &o.http_connect_timeout},
        std::tuple{"http_first_byte_timeout", &FLAGS_http_first_byte_timeout,
                   &o.http_first_byte_timeout},
        std::tuple{"http_stall_timeout", &FLAGS_http_stall_timeout,
                   &o.http_stall_timeout}}) {
    if (!ParseDurationFlag(*text, out) || *out <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, "=", *text, ": a duration > 0 (5s, 500ms)"));
    }
  }
  o.interface = FLAGS_interface;
  if (FLAGS_clients == 0) {
    return absl::InvalidArgumentError(
        "--clients is required and must be > 0 (simulated clients to run)");
  }
  o.clients = FLAGS_clients;
  if (!(FLAGS_rate >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rate=", FLAGS_rate, ": must be >= 0 (0: all at once)"));
  }
  o.rate = FLAGS_rate;
  if (!(FLAGS_duration >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--duration=", FLAGS_duration, ": seconds, >= 0 (0: no bound)"));
  }
  o.duration = absl::Seconds(FLAGS_duration);
  if (FLAGS_blksize < 8 || FLAGS_blksize > 65464) {
    return absl::InvalidArgumentError(
        absl::StrCat("--blksize=", FLAGS_blksize, ": must be 8..65464"));
  }
  o.blksize = static_cast<uint16_t>(FLAGS_blksize);
  if (FLAGS_windowsize < 1 || FLAGS_windowsize > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--windowsize=", FLAGS_windowsize, ": must be 1..65535"));
  }
  o.windowsize = static_cast<uint16_t>(FLAGS_windowsize);
  if (!FLAGS_relay.empty()) {
    rackboot::dhcp::Ipv4Address relay;
    if (absl::Status s = ParseIpv4Flag("relay", FLAGS_relay, &relay); !s.ok()) {
      return s;
    }
    o.relay = relay;
  }
  if (!FLAGS_tftp_server.empty()) {
    rackboot::dhcp::Ipv4Address tftp;
    if (absl::Status s = ParseIpv4Flag("tftp_server", FLAGS_tftp_server, &tftp);
        !s.ok()) {
      return s;
    }
    o.tftp_server = tftp;
  }
  if (!FLAGS_verify.empty()) {
    o.verify = absl::StrSplit(FLAGS_verify, ',');
  }
  if (FLAGS_io == "auto") {
    o.io = rackboot::io::IoBackend::kAuto;
  } else if (FLAGS_io == "uring" || FLAGS_io == "io_uring") {
    o.io = rackboot::io::IoBackend::kIoUring;
  } else if (FLAGS_io == "epoll") {
    o.io = rackboot::io::IoBackend::kEpoll;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--io=", FLAGS_io, ": use 'auto', 'uring' or 'epoll'"));
  }
  absl::StatusOr<std::vector<uint8_t>> mac =
      rackboot::load::ParseMacBase(FLAGS_mac_base);
  if (!mac.ok()) return mac.status();
  o.mac_base = *std::move(mac);
  if (!ParseDurationFlag(FLAGS_dhcp_timeout, &o.dhcp_timeout) ||
      o.dhcp_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dhcp_timeout=", FLAGS_dhcp_timeout, ": a duration > 0 (2s, 500ms)"));
  }
  if (!ParseDurationFlag(FLAGS_tftp_timeout, &o.tftp_timeout) ||
      o.tftp_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tftp_timeout=", FLAGS_tftp_timeout, ": a duration > 0 (1s, 300ms)"));
  }
  if (FLAGS_dhcp_retries < 0 || FLAGS_tftp_retries < 0) {
    return absl::InvalidArgumentError(
        "--dhcp_retries and --tftp_retries must be >= 0");
  }
  o.dhcp_retries = FLAGS_dhcp_retries;
  o.tftp_retries = FLAGS_tftp_retries;
  o.tftp_from_lease = FLAGS_tftp_from_lease;
  if (FLAGS_arch < 0 || FLAGS_arch > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--arch=", FLAGS_arch, ": must be 0..65535"));
  }
  o.arch = static_cast<uint16_t>(FLAGS_arch);
  o.seed = FLAGS_seed;
  return o;
}

// More than a thousand sockets are open at once in a large run.
void RaiseFileLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      PLOG(WARNING) << "cannot raise the open file limit";
    }
  }
}

// The live line: redrawn in place, rates over the last interval.
class ProgressLine {
 public:
  void Update(const rackboot::load::LoadOptions::Progress& p) {
    const double dt = p.elapsed_seconds - last_seconds_;
    const uint64_t finished = p.completed + p.failed;
    const double clients_per_s =
        dt > 0 ? static_cast<double>(finished - last_finished_) / dt : 0;
    const uint64_t bytes = p.tftp_bytes + p.http_bytes;
    const double mb_per_s =
        dt > 0 ? static_cast<double>(bytes - last_bytes_) / dt / 1e6 : 0;
    std::fprintf(stderr,
                 "\r%6.1fs  done %llu  failed %llu  running %llu  |  %.0f "
                 "clients/s  %.1f MB/s  |  errors %llu   ",
                 p.elapsed_seconds,
                 static_cast<unsigned long long>(p.completed),
                 static_cast<unsigned long long>(p.failed),
                 static_cast<unsigned long long>(p.running), clients_per_s,
                 mb_per_s, static_cast<unsigned long long>(p.errors));
    std::fflush(stderr);
    last_seconds_ = p.elapsed_seconds;
    last_finished_ = finished;
    last_bytes_ = bytes;
    drawn_ = true;
  }
  void End() {
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  double last_seconds_ = 0;
  uint64_t last_finished_ = 0;
  uint64_t last_bytes_ = 0;
  bool drawn_ = false;
};

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
  std::string error;
  if (!PrecheckFlags(argc, argv, &error)) return Usage(error);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  google::InitGoogleLogging(argv[0]);
  if (argc > 1) {
    return Usage(absl::StrCat("unexpected argument '", argv[1],
                              "'; rackboot load takes only flags"));
  }
  absl::StatusOr<rackboot::load::LoadOptions> options = OptionsFromFlags();
  if (!options.ok()) return Usage(std::string(options.status().message()));
  bool progress = false;
  if (FLAGS_progress == "auto") {
    progress = isatty(STDERR_FILENO);
  } else if (FLAGS_progress == "always") {
    progress = true;
  } else if (FLAGS_progress != "never") {
    return Usage(absl::StrCat("--progress=", FLAGS_progress,
                              ": use auto, always or never"));
  }
  if (FLAGS_threads < 1 || FLAGS_threads > 64) {
    return Usage(absl::StrCat("--threads=", FLAGS_threads, ": must be 1..64"));
  }
  const bool has_dhcp =
      !options->flow.empty() &&
      options->flow[0].kind == rackboot::load::FlowStep::Kind::kDhcp;
  if (FLAGS_threads > 1 && has_dhcp && options->relay.has_value()) {
    return Usage(
        "--threads > 1 with --relay and a dhcp step: the server's unicast "
        "replies to the relay address would reach one thread only; use "
        "--threads=1, or direct DHCP with --interface");
  }
  const uint64_t threads = std::min<uint64_t>(
      FLAGS_threads, std::max<uint64_t>(1, options->clients));

  // Each thread reports its own counts; the line shows their sum.
  std::mutex progress_mu;
  std::vector<rackboot::load::LoadOptions::Progress> shares(threads);
  ProgressLine line;
  RaiseFileLimit();

  // One runner per thread, each with a contiguous share of the client indices.
  std::vector<std::unique_ptr<rackboot::load::LoadRunner>> runners;
  uint64_t next_client = 0;
  for (uint64_t t = 0; t < threads; ++t) {
    rackboot::load::LoadOptions share = *options;
    share.clients =
        options->clients / threads + (t < options->clients % threads ? 1 : 0);
    share.first_client = next_client;
    next_client += share.clients;
    share.rate = options->rate / static_cast<double>(threads);
    share.share_dhcp_port = threads > 1;
    if (progress) {
      share.progress = [&, t](const rackboot::load::LoadOptions::Progress& p) {
        std::lock_guard<std::mutex> lock(progress_mu);
        shares[t] = p;
        rackboot::load::LoadOptions::Progress sum;
        for (const auto& s : shares) {
          sum.started += s.started;
          sum.completed += s.completed;
          sum.failed += s.failed;
          sum.running += s.running;
          sum.tftp_bytes += s.tftp_bytes;
          sum.http_bytes += s.http_bytes;
          sum.errors += s.errors;
          sum.elapsed_seconds =
              std::max(sum.elapsed_seconds, s.elapsed_seconds);
        }
        line.Update(sum);
      };
    }
    absl::StatusOr<std::unique_ptr<rackboot::load::LoadRunner>> runner =
        rackboot::load::LoadRunner::Create(std::move(share));
    if (!runner.ok()) {
      if (absl::IsInvalidArgument(runner.status())) {
        return Usage(std::string(runner.status().message()));
      }
      std::fprintf(stderr, "rackboot load: %s\n",
                   std::string(runner.status().message()).c_str());
      return 1;
    }
    runners.push_back(*std::move(runner));
  }
  std::vector<absl::StatusOr<rackboot::load::LoadReport>> parts(
      threads, absl::UnknownError("not run"));
  {
    std::vector<std::thread> workers;
    for (uint64_t t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] { parts[t] = runners[t]->Run(); });
    }
    parts[0] = runners[0]->Run();
    for (std::thread& w : workers) w.join();
  }
  line.End();
  rackboot::load::LoadReport total;
  for (const auto& part : parts) {
    if (!part.ok()) {
      std::fprintf(stderr, "rackboot load: %s\n",
                   std::string(part.status().message()).c_str());
      return 1;
    }
    rackboot::load::MergeReport(*part, total);
  }
  const rackboot::load::LoadReport* report = &total;
  std::fputs(rackboot::load::FormatSummary(*report).c_str(), stdout);
  std::fflush(stdout);
  if (!FLAGS_json.empty()) {
    std::ofstream json(FLAGS_json, std::ios::trunc);
    json << rackboot::load::FormatJson(*report);
    json.close();
    if (!json) {
      std::fprintf(stderr, "rackboot load: cannot write --json=%s\n",
                   FLAGS_json.c_str());
      return 1;
    }
  }
  return report->failed == 0 ? 0 : 1;
}
