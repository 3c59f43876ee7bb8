// LoadRunner: plays many simulated PXE clients against one DHCP/TFTP/HTTP
// server for `rackboot load`, and measures them into a LoadReport.
//
// One thread, one engine reactor (io::Reactor), no per-client thread: each
// client is a small record driving one sans-I/O state machine at a time, a
// DhcpExchange, a TftpDownload or an HttpDownload (tools/load/*.h), through
// its flow:
//   dhcp      DORA with PXE options on the one shared DHCP socket: direct
//             (0.0.0.0:68 on --interface, broadcast to 255.255.255.255:67) or
//             relayed (giaddr:67, unicast to the server). Replies are routed
//             to their exchange by xid; the exchanges' deadlines live in a
//             min-heap of our own behind the DHCP socket's single deadline.
//   tftp:PATH a download on a socket of its own (an ephemeral port, the
//             transfer's TID), watched while it runs; its deadline is that
//             socket's reactor deadline.
//   http:PATH a GET on the client's one TCP connection (Reactor::Connect on
//             its first http step, kept alive for its later ones while the
//             server allows it; closed when the client ends). The server is
//             --http_server, else the lease's next-server (or server id) on
//             --http_port. The download's deadline is the stream's.
// Clients start at `rate` per second (all at once, in batches, when 0) until
// `clients` have started; `duration` bounds the whole run, counting whatever
// still runs then as failed ("unfinished").
//
// The runner owns the reactor, every socket and the --verify file mappings.
// Create() checks the options and opens the DHCP socket; Run() blocks until
// the run ends and returns the report. Not thread-safe: one thread calls both.
#ifndef RACKBOOT_TOOLS_LOAD_LOAD_RUNNER_H_
#define RACKBOOT_TOOLS_LOAD_LOAD_RUNNER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "engine/io/reactor.h"
#include "proto/dhcp/dhcp_options.h"
#include "tools/load/load_report.h"

namespace rackboot::load {

struct FlowStep {
  enum class Kind { kDhcp, kTftp, kHttp };
  Kind kind = Kind::kDhcp;
  std::string path;  // kTftp: the file to read; kHttp: the URL path
  // "dhcp", "tftp:<path>" or "http:<path>", as in --flow and the report.
  std::string Name() const;
};

// Parses --flow: "dhcp,tftp:undionly.kpxe,http:/boot/vmlinuz". dhcp may
// appear only first; at least one step; an http path starts with '/' and is
// at most 2048 visible ASCII bytes (it is sent as is, so it must already be
// percent-encoded). Errors say what to fix.
absl::StatusOr<std::vector<FlowStep>> ParseFlow(absl::string_view text);

// Parses --http_server: "198.18.0.1" (port 80) or "198.18.0.1:8080".
absl::StatusOr<io::SocketAddress> ParseHttpServer(absl::string_view text);

// Parses a MAC prefix for --mac_base: "02:52:42" (1 to 6 bytes, hex, ':' or
// '-' separated). The client index fills the bytes after it.
absl::StatusOr<std::vector<uint8_t>> ParseMacBase(absl::string_view text);

// Client `index`'s MAC: `base` bytes, then the index big-endian in the rest.
// Fails (InvalidArgument) when the index does not fit.
absl::StatusOr<std::array<uint8_t, 6>> ClientMac(
    const std::vector<uint8_t>& base, uint64_t index);

struct LoadOptions {
  dhcp::Ipv4Address server;
  std::string interface;  // SO_BINDTODEVICE for every socket; "" = none
  uint64_t clients = 1;
  // This runner's first client index (MACs and xids follow from the index):
  // non-zero for the second and later shares of a --threads run.
  uint64_t first_client = 0;
  // SO_REUSEPORT on the DHCP socket, so that runners on other threads bind
  // the same port. Only direct DHCP works that way: the server's broadcast
  // replies reach every runner's socket, whereas unicast replies to a relay
  // address would reach one of them.
  bool share_dhcp_port = false;
  double rate = 0;                                 // clients/s; 0 = at once
  absl::Duration duration = absl::ZeroDuration();  // 0 = unbounded
  std::vector<FlowStep> flow;
  uint16_t blksize = 1468;
  uint16_t windowsize = 16;
  absl::optional<dhcp::Ipv4Address> relay;        // giaddr; none = direct
  absl::optional<dhcp::Ipv4Address> tftp_server;  // else next_server/server
  // --tftp_from_lease: each client's TFTP socket binds to its leased address
  // (which must be local, e.g. an `ip route add local POOL dev lo`), so a
  // server that follows hosts by address sees one client per lease.
  bool tftp_from_lease = false;
  // --http_server; else the lease's next-server, else its server identifier
  // (option 54), else `server`, on http_port. Required without dhcp.
  absl::optional<io::SocketAddress> http_server;
  uint16_t http_port = 80;
  absl::Duration http_connect_timeout = absl::Seconds(5);
  absl::Duration http_first_byte_timeout = absl::Seconds(10);
  absl::Duration http_stall_timeout = absl::Seconds(10);
  // --verify: one local file per download step (tftp and http, in flow
  // order), or a single one for all.
  std::vector<std::string> verify;
  std::vector<uint8_t> mac_base = {0x02, 0x52, 0x42};
  absl::Duration dhcp_timeout = absl::Seconds(2);
  int dhcp_retries = 3;
  absl::Duration tftp_timeout = absl::Seconds(1);
  int tftp_retries = 5;
  uint16_t arch = 0;
  uint64_t seed = 1;
  io::IoBackend io = io::IoBackend::kAuto;
  // Ports: the standard ones; tests may move them.
  uint16_t dhcp_server_port = 67;
  uint16_t dhcp_client_port = 68;
  uint16_t tftp_port = 69;
  // Called about 4 times a second (and once at the end) with the counts so
  // far, for the live progress line. Optional.
  struct Progress {
    uint64_t started = 0, completed = 0, failed = 0, running = 0;
    uint64_t tftp_bytes = 0;
    uint64_t http_bytes = 0;
    uint64_t errors = 0;
    double elapsed_seconds = 0;
  };
  std::function<void(const Progress&)> progress;
};

class LoadRunner {
 public:
  // Checks `options` (InvalidArgument naming the flag), maps the --verify
  // files, creates the reactor and, for a flow with dhcp, the DHCP socket.
  static absl::StatusOr<std::unique_ptr<LoadRunner>> Create(
      LoadOptions options);
  ~LoadRunner();

  // Runs the whole load once. Errors only for a failing reactor; clients'
  // failures are in the report.
  absl::StatusOr<LoadReport> Run();

  class Impl;

 private:
  explicit LoadRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rackboot::load

#endif  // RACKBOOT_TOOLS_LOAD_LOAD_RUNNER_H_
