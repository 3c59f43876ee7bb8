// LoadReport: what one `rackboot load` run measured, and its two renderings:
// the human summary (stdout) and the JSON file (--json) that the benchmark
// scripts parse. The JSON key names are an interface: bench/ depends on them.
//
// A plain value: the load runner fills it on its thread at the end of a run
// and hands it over; rendering is pure (no I/O), so tests pin both formats.
#ifndef RACKBOOT_TOOLS_LOAD_LOAD_REPORT_H_
#define RACKBOOT_TOOLS_LOAD_LOAD_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/load/latency_histogram.h"

namespace rackboot::load {

struct PhaseReport {
  std::string name;  // "dhcp", "tftp:/path" or "http:/path"
  uint64_t ok = 0;
  uint64_t failed = 0;
  // TFTP: file bytes received in order; HTTP: body bytes received (and
  // verified, with --verify). Also those of failed runs.
  uint64_t bytes = 0;
  LatencyHistogram latency;  // successful runs of the phase only
  // kind -> clients that failed in this step (the same kinds as
  // LoadReport::errors, which sums every step's).
  std::map<std::string, uint64_t> errors;
  // tftp steps: the step's RRQ -> DATA block 1 (see TftpReport).
  LatencyHistogram rrq_to_block1;
};

struct DhcpReport {
  uint64_t started = 0;  // exchanges begun (DISCOVER sent)
  uint64_t acked = 0;
  uint64_t offers = 0;  // exchanges that got an OFFER
  uint64_t naks = 0;
  uint64_t retransmits = 0;
  uint64_t timeouts = 0;
  LatencyHistogram dora;   // DISCOVER -> ACK, acked exchanges
  LatencyHistogram offer;  // DISCOVER -> first OFFER
};

struct TftpReport {
  uint64_t files = 0;   // downloads completed
  uint64_t failed = 0;  // downloads that ended otherwise (not "unfinished")
  uint64_t bytes = 0;   // file bytes received in order, all downloads
  uint64_t retransmits = 0;
  uint64_t timeouts = 0;
  uint64_t duplicates = 0;
  // Each download's first RRQ (retransmits do not restart it: a lost RRQ
  // costs the timeout, as it costs a PXE ROM) leaving the tool -> DATA block 1
  // received. After an OACK that includes the ACK 0 round trip; the OACK
  // itself is not the mark. Every download that got block 1, whatever its
  // end; those that never did are counted in without_block1.
  LatencyHistogram rrq_to_block1;
  uint64_t without_block1 = 0;
};

struct HttpReport {
  uint64_t files = 0;   // downloads completed
  uint64_t failed = 0;  // downloads that ended otherwise (not "unfinished")
  uint64_t bytes = 0;   // body bytes received, all downloads
  // Response head bytes (status line to the empty line): bytes + head_bytes
  // is what the server wrote.
  uint64_t head_bytes = 0;
  uint64_t connections = 0;  // TCP connects started (one per host, or more
                             // when the server closed a connection)
  uint64_t reused = 0;       // requests sent on a kept-alive connection
};

struct LoadReport {
  std::string server;
  std::vector<std::string> flow;  // "dhcp", "tftp:/pxelinux.0", "http:/x"
  std::string io_backend;         // "io_uring" or "epoll"
  uint64_t clients = 0;           // asked for
  uint64_t completed = 0;
  uint64_t failed = 0;  // includes unfinished and never-started clients
  double wall_seconds = 0;
  DhcpReport dhcp;
  TftpReport tftp;
  HttpReport http;
  std::vector<PhaseReport> phases;  // in flow order
  LatencyHistogram client;          // start -> last step, completed clients
  std::map<std::string, uint64_t> errors;  // kind -> clients failed by it
};

// Adds `part` (one thread's share of a --threads run) into `total`: counts
// and histograms add up, the wall time is the longest, phases are matched by
// position (every share runs the same flow). An empty `total` (no phases)
// takes `part`'s server, flow, backend and phase names.
void MergeReport(const LoadReport& part, LoadReport& total);

// The summary for a terminal: counts, rates, then one latency line per phase.
std::string FormatSummary(const LoadReport& report);

// One JSON object (see docs/load.md); latencies in milliseconds, zero where
// nothing was measured. Ends with a newline.
std::string FormatJson(const LoadReport& report);

}  // namespace rackboot::load

#endif  // RACKBOOT_TOOLS_LOAD_LOAD_REPORT_H_
