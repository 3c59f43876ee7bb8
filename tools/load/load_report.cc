#include "tools/load/load_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace rackboot::load {
namespace {

// Insertion-ordered, so the file reads in the order docs/load.md shows.
using Json = nlohmann::ordered_json;

constexpr double kMiB = 1024.0 * 1024.0;

double PerSecond(double n, double seconds) {
  return seconds > 0 ? n / seconds : 0.0;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// A number JSON accepts (no inf/nan), rounded to microseconds (three
// decimals of milliseconds): more digits would be noise. nlohmann writes the
// shortest form that reads back the same (20.479, 2.0).
double JsonNumber(double x) {
  if (!std::isfinite(x) || x > 1e300 || x < -1e300) return 0.0;
  return std::round(x * 1000.0) / 1000.0;
}

Json JsonLatency(const LatencyHistogram& h) {
  Json out = Json::object();
  out["p50"] = JsonNumber(Ms(h.Percentile(50)));
  out["p90"] = JsonNumber(Ms(h.Percentile(90)));
  out["p99"] = JsonNumber(Ms(h.Percentile(99)));
  out["max"] = JsonNumber(Ms(h.max()));
  return out;
}

std::string TextLatency(const LatencyHistogram& h) {
  if (h.count() == 0) return "no samples";
  return absl::StrFormat("p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms  (n=%d)",
                         Ms(h.Percentile(50)), Ms(h.Percentile(90)),
                         Ms(h.Percentile(99)), Ms(h.max()), h.count());
}

bool HasDhcp(const LoadReport& r) {
  for (const std::string& step : r.flow) {
    if (step == "dhcp") return true;
  }
  return false;
}

bool HasHttp(const LoadReport& r) {
  for (const std::string& step : r.flow) {
    if (step.rfind("http:", 0) == 0) return true;
  }
  return false;
}

Json JsonErrors(const std::map<std::string, uint64_t>& errors) {
  Json out = Json::object();
  for (const auto& [kind, count] : errors) out[kind] = count;
  return out;
}

}  // namespace

std::string FormatSummary(const LoadReport& r) {
  std::string out;
  absl::StrAppendFormat(&out, "rackboot load: %s, flow %s, io %s\n", r.server,
                        absl::StrJoin(r.flow, ","), r.io_backend);
  absl::StrAppendFormat(
      &out, "clients:     %d completed, %d failed of %d in %.2f s (%.1f/s)\n",
      r.completed, r.failed, r.clients, r.wall_seconds,
      PerSecond(r.completed, r.wall_seconds));
  if (HasDhcp(r)) {
    absl::StrAppendFormat(
        &out,
        "dhcp:        %d started, %d offers, %d acked, %d naks, %.1f "
        "exchanges/s, %d retransmits, %d timeouts\n",
        r.dhcp.started, r.dhcp.offers, r.dhcp.acked, r.dhcp.naks,
        PerSecond(r.dhcp.acked, r.wall_seconds), r.dhcp.retransmits,
        r.dhcp.timeouts);
    absl::StrAppendFormat(&out, "  DORA         %s\n",
                          TextLatency(r.dhcp.dora));
    absl::StrAppendFormat(&out, "  DISCOVER->OFFER %s\n",
                          TextLatency(r.dhcp.offer));
  }
  if (r.tftp.files + r.tftp.failed > 0 || r.tftp.bytes > 0) {
    absl::StrAppendFormat(
        &out,
        "tftp:        %d files, %d failed, %d bytes, %.2f MiB/s, %d "
        "retransmits, %d timeouts, %d duplicates\n",
        r.tftp.files, r.tftp.failed, r.tftp.bytes,
        PerSecond(r.tftp.bytes / kMiB, r.wall_seconds), r.tftp.retransmits,
        r.tftp.timeouts, r.tftp.duplicates);
    absl::StrAppendFormat(
        &out, "  RRQ->DATA 1  %s%s\n", TextLatency(r.tftp.rrq_to_block1),
        r.tftp.without_block1 == 0
            ? ""
            : absl::StrCat(", ", r.tftp.without_block1, " without DATA 1"));
  }
  if (HasHttp(r)) {
    absl::StrAppendFormat(
        &out,
        "http:        %d files, %d failed, %d bytes, %.2f MiB/s, %d "
        "connections, %d reused\n",
        r.http.files, r.http.failed, r.http.bytes,
        PerSecond(r.http.bytes / kMiB, r.wall_seconds), r.http.connections,
        r.http.reused);
  }
  out += "latency:\n";
  for (const PhaseReport& p : r.phases) {
    absl::StrAppendFormat(&out, "  %-20s %d ok, %d failed; %s\n", p.name, p.ok,
                          p.failed, TextLatency(p.latency));
    if (!p.errors.empty()) {
      out += "  ";
      out += std::string(20, ' ');
      out += " errors:";
      for (const auto& [kind, count] : p.errors) {
        absl::StrAppendFormat(&out, " %s=%d", kind, count);
      }
      out += "\n";
    }
  }
  absl::StrAppendFormat(&out, "  %-20s %s\n", "client", TextLatency(r.client));
  if (!r.errors.empty()) {
    out += "errors:";
    for (const auto& [kind, count] : r.errors) {
      absl::StrAppendFormat(&out, " %s=%d", kind, count);
    }
    out += "\n";
  }
  return out;
}

namespace {

Json ReportJson(const LoadReport& r) {
  Json out = Json::object();
  out["server"] = r.server;
  out["flow"] = r.flow;
  out["io"] = r.io_backend;
  out["clients"] = r.clients;
  out["completed"] = r.completed;
  out["failed"] = r.failed;
  out["wall_seconds"] = JsonNumber(r.wall_seconds);
  out["clients_per_second"] =
      JsonNumber(PerSecond(r.completed, r.wall_seconds));
  const DhcpReport& d = r.dhcp;
  Json& dhcp = out["dhcp"] = Json::object();
  dhcp["started"] = d.started;
  dhcp["acked"] = d.acked;
  dhcp["offers"] = d.offers;
  dhcp["naks"] = d.naks;
  dhcp["retransmits"] = d.retransmits;
  dhcp["timeouts"] = d.timeouts;
  dhcp["exchanges_per_second"] = JsonNumber(PerSecond(d.acked, r.wall_seconds));
  dhcp["dora_ms"] = JsonLatency(d.dora);
  dhcp["offer_ms"] = JsonLatency(d.offer);
  const TftpReport& t = r.tftp;
  Json& tftp = out["tftp"] = Json::object();
  tftp["files"] = t.files;
  tftp["failed"] = t.failed;
  tftp["bytes"] = t.bytes;
  tftp["mib_per_second"] =
      JsonNumber(PerSecond(t.bytes / kMiB, r.wall_seconds));
  tftp["retransmits"] = t.retransmits;
  tftp["timeouts"] = t.timeouts;
  tftp["duplicates"] = t.duplicates;
  tftp["rrq_to_block1_ms"] = JsonLatency(t.rrq_to_block1);
  tftp["rrq_to_block1_n"] = t.rrq_to_block1.count();
  tftp["without_block1"] = t.without_block1;
  const HttpReport& h = r.http;
  Json& http = out["http"] = Json::object();
  http["files"] = h.files;
  http["failed"] = h.failed;
  http["bytes"] = h.bytes;
  http["head_bytes"] = h.head_bytes;
  http["mib_per_second"] =
      JsonNumber(PerSecond(h.bytes / kMiB, r.wall_seconds));
  http["connections"] = h.connections;
  http["reused"] = h.reused;
  Json& phases = out["phases"] = Json::array();
  for (const PhaseReport& p : r.phases) {
    Json phase = Json::object();
    phase["name"] = p.name;
    phase["ok"] = p.ok;
    phase["failed"] = p.failed;
    phase["bytes"] = p.bytes;
    phase["ms"] = JsonLatency(p.latency);
    if (p.name.rfind("tftp:", 0) == 0) {
      phase["rrq_to_block1_ms"] = JsonLatency(p.rrq_to_block1);
    }
    phase["errors"] = JsonErrors(p.errors);
    phases.push_back(std::move(phase));
  }
  out["client_ms"] = JsonLatency(r.client);
  out["errors"] = JsonErrors(r.errors);
  return out;
}

}  // namespace

std::string FormatJson(const LoadReport& r) {
  // A path or error kind that is not UTF-8 (a server may send any bytes in a
  // TFTP error) is written with U+FFFD instead of throwing.
  return ReportJson(r).dump(-1, ' ', /*ensure_ascii=*/false,
                            Json::error_handler_t::replace) +
         "\n";
}

void MergeReport(const LoadReport& part, LoadReport& total) {
  if (total.phases.empty()) {
    total.server = part.server;
    total.flow = part.flow;
    total.io_backend = part.io_backend;
    for (const PhaseReport& p : part.phases) {
      PhaseReport phase;
      phase.name = p.name;
      total.phases.push_back(std::move(phase));
    }
  }
  total.clients += part.clients;
  total.completed += part.completed;
  total.failed += part.failed;
  total.wall_seconds = std::max(total.wall_seconds, part.wall_seconds);
  total.dhcp.started += part.dhcp.started;
  total.dhcp.acked += part.dhcp.acked;
  total.dhcp.offers += part.dhcp.offers;
  total.dhcp.naks += part.dhcp.naks;
  total.dhcp.retransmits += part.dhcp.retransmits;
  total.dhcp.timeouts += part.dhcp.timeouts;
  total.dhcp.dora.Merge(part.dhcp.dora);
  total.dhcp.offer.Merge(part.dhcp.offer);
  total.tftp.files += part.tftp.files;
  total.tftp.failed += part.tftp.failed;
  total.tftp.bytes += part.tftp.bytes;
  total.tftp.retransmits += part.tftp.retransmits;
  total.tftp.timeouts += part.tftp.timeouts;
  total.tftp.duplicates += part.tftp.duplicates;
  total.tftp.rrq_to_block1.Merge(part.tftp.rrq_to_block1);
  total.tftp.without_block1 += part.tftp.without_block1;
  total.http.files += part.http.files;
  total.http.failed += part.http.failed;
  total.http.bytes += part.http.bytes;
  total.http.head_bytes += part.http.head_bytes;
  total.http.connections += part.http.connections;
  total.http.reused += part.http.reused;
  for (size_t i = 0; i < part.phases.size() && i < total.phases.size(); ++i) {
    total.phases[i].ok += part.phases[i].ok;
    total.phases[i].failed += part.phases[i].failed;
    total.phases[i].bytes += part.phases[i].bytes;
    total.phases[i].latency.Merge(part.phases[i].latency);
    total.phases[i].rrq_to_block1.Merge(part.phases[i].rrq_to_block1);
    for (const auto& [kind, count] : part.phases[i].errors) {
      total.phases[i].errors[kind] += count;
    }
  }
  total.client.Merge(part.client);
  for (const auto& [kind, count] : part.errors) total.errors[kind] += count;
}

}  // namespace rackboot::load
