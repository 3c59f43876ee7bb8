#include "engine/dhcp/dhcp_service.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/dhcp/dhcp_probe.h"
#include "glog/logging.h"

namespace rackboot::dhcp {
namespace {

class JournalLeaseLog : public LeaseLog {
 public:
  explicit JournalLeaseLog(LeaseJournal* journal) : journal_(journal) {}
  uint64_t Append(const Lease& lease) override {
    return journal_->Append(lease);
  }

 private:
  LeaseJournal* const journal_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DhcpService>> DhcpService::Create(
    const DhcpServiceOptions& options, HostDirectory* hosts) {
  const DhcpServerConfig& config = options.server;
  if (config.mode == DhcpMode::kAuthoritative && options.probe) {
    constexpr int kDiscovers = 2;
    LOG(INFO) << "dhcp: probing for other DHCP servers on "
              << options.shard.interface << " for "
              << absl::FormatDuration(options.probe_wait) << " (" << kDiscovers
              << " DISCOVERs)...";
    absl::StatusOr<std::vector<OtherDhcpServer>> others =
        ProbeForDhcpServers({.interface = options.shard.interface,
                             .wait = options.probe_wait,
                             .discovers = kDiscovers,
                             .server_port = options.shard.server_port,
                             .client_port = options.shard.client_port});
    if (!others.ok()) return others.status();
    if (others->empty()) {
      LOG(INFO)
          << "dhcp: probe on "
          << options.shard.interface << ": no other DHCP server answered in "
          << absl::FormatDuration(options.probe_wait);
    } else {
      std::vector<std::string> names;
      for (const OtherDhcpServer& other : *others) {
        names.push_back(
            absl::StrCat(other.source.ToString(), " (server identifier ",
                         other.server_identifier.ToString(), ", offered ",
                         other.offered.ToString(), " after ",
                         absl::FormatDuration(
                             absl::Trunc(other.after, absl::Milliseconds(1))),
                         ")"));
      }
      const std::string who = absl::StrJoin(names, ", ");
      if (!options.allow_other_dhcp) {
        return absl::FailedPreconditionError(
            absl::StrCat("another DHCP server answers on ",
                         options.shard.interface, ": ", who,
                         ". Two authoritative servers on one segment hand out "
                         "conflicting leases. Stop it, "
                         "or set dhcp.mode = \"proxy\" to serve PXE beside it, "
                         "or start with "
                         "--allow_other_dhcp if you really mean it"));
      }
      LOG(WARNING)
          << "*** ANOTHER DHCP SERVER ANSWERS ON "
          << options.shard.interface << ": " << who
          << " *** (--allow_other_dhcp given; clients may get its leases)";
    }
  }

  std::unique_ptr<DhcpService> service(new DhcpService());
  service->options_ = options;
  service->DeclareMetrics(options.metrics);
  std::vector<AddressRange> ranges;
  for (const DhcpSubnet& subnet : config.subnets) {
    absl::StatusOr<AddressRange> hosts_range =
        AddressRange::Hosts(subnet.network, subnet.prefix_length);
    if (!hosts_range.ok()) return hosts_range.status();
    ranges.push_back(*hosts_range);
  }
  if (ranges.empty() && config.mode == DhcpMode::kAuthoritative) {
    return absl::InvalidArgumentError(
        "authoritative DHCP needs at least one [[dhcp.subnet]]");
  }
  if (ranges.empty()) {
    // proxyDHCP keeps no leases; a one-address table keeps the code paths
    // uniform.
    ranges.push_back({config.server_address, config.server_address});
  }
  absl::StatusOr<std::unique_ptr<LeaseTable>> table =
      LeaseTable::Create(ranges);
  if (!table.ok()) return table.status();
  service->leases_ = *std::move(table);

  const absl::Time start = absl::Now();
  uint64_t replayed = 0, outside = 0;
  LeaseTable* leases = service->leases_.get();
  absl::StatusOr<std::unique_ptr<LeaseJournal>> journal = LeaseJournal::Open(
      {.directory = options.state_dir,
       .compact_after_bytes = options.compact_after_bytes,
       .commit_window = options.commit_window,
       .commit_seconds =
           service->metrics_
               ->Histogram("rackboot_lease_journal_commit_seconds",
                           "Lease journal group commits: write and fdatasync, "
                           "seconds (each makes a batch of ACKs durable).",
                           {}, metrics::CommitLatencyBuckets(), 1)
               ->Cell({}, 0)},
      [&](const Lease& lease) {
        ++replayed;
        if (leases->Find(lease.address) == nullptr) {
          ++outside;  // a subnet was removed from the configuration
          return;
        }
        leases->Put(lease);
      });
  if (!journal.ok()) return journal.status();
  service->journal_ = *std::move(journal);
  LOG(INFO) << "dhcp: replayed " << replayed << " lease records from "
            << options.state_dir << " in "
            << absl::FormatDuration(absl::Now() - start) << "; "
            << leases->bound_count() << " bound"
            << (outside ? absl::StrCat(", ", outside,
                                       " outside today's subnets (dropped)")
                        : "");
  if (service->journal_->ShouldCompact()) {
    absl::Status compacted = service->journal_->Compact(
        [&](absl::FunctionRef<void(const Lease&)> emit) {
          ForEachLiveLease(*leases, emit);
        });
    if (!compacted.ok()) return compacted;
  }

  service->AddCollectors();
  service->log_ = std::make_unique<JournalLeaseLog>(service->journal_.get());
  service->server_ =
      std::make_unique<DhcpServer>(config, leases, hosts, service->log_.get());
  return service;
}

void DhcpService::DeclareMetrics(metrics::MetricsRegistry* registry) {
  if (registry == nullptr) {
    own_metrics_ = std::make_unique<metrics::MetricsRegistry>(1);
    registry = own_metrics_.get();
  }
  metrics_ = registry;
  DhcpShardMetrics& m = shard_metrics_;
  metrics::CounterFamily* messages = registry->Counter(
      "rackboot_dhcp_messages_total",
      "DHCP requests by message type and what was answered (ignored: no "
      "reply).",
      {"type", "outcome"}, 1);
  for (int t = 0; t < DhcpShardMetrics::kTypes; ++t) {
    for (int o = 0; o < DhcpShardMetrics::kOutcomes; ++o) {
      m.messages[t][o] =
          messages->Cell({kDhcpMetricTypes[t], kDhcpMetricOutcomes[o]}, 0);
    }
  }
  m.malformed =
      registry
          ->Counter("rackboot_dhcp_malformed_total",
                    "Datagrams on the DHCP ports that did not parse.", {}, 1)
          ->Cell({}, 0);
  metrics::CounterFamily* pxe = registry->Counter(
      "rackboot_dhcp_pxe_total",
      "PXE decisions: install (a boot file handed out, once per completed "
      "DHCP), localboot (an inventory host not armed), unknown (a PXE client "
      "not in the inventory, per message).",
      {"decision"}, 1);
  m.pxe_install = pxe->Cell({"install"}, 0);
  m.pxe_localboot = pxe->Cell({"localboot"}, 0);
  m.pxe_unknown = pxe->Cell({"unknown"}, 0);
  metrics::CounterFamily* refused = registry->Counter(
      "rackboot_dhcp_unanswered_total",
      "DHCP requests not served, by reason (no_subnet: none configured for "
      "the client; pool_exhausted; not_for_us; bad_request: options that make "
      "no sense).",
      {"reason"}, 1);
  m.no_subnet = refused->Cell({"no_subnet"}, 0);
  m.pool_exhausted = refused->Cell({"pool_exhausted"}, 0);
  m.not_for_us = refused->Cell({"not_for_us"}, 0);
  m.bad_request = refused->Cell({"bad_request"}, 0);
}

void DhcpService::AddCollectors() {
  LeaseJournal* journal = journal_.get();
  collectors_.push_back(metrics_->AddCollector(
      "rackboot_lease_journal_syncs_total",
      "Lease journal fdatasync calls completed (group commits).",
      metrics::MetricType::kCounter, {},
      [journal](std::vector<metrics::Sample>* out) {
        out->push_back({{}, static_cast<double>(journal->syncs())});
      }));
  collectors_.push_back(metrics_->AddCollector(
      "rackboot_lease_journal_records_total",
      "Lease records made durable by the journal.",
      metrics::MetricType::kCounter, {},
      [journal](std::vector<metrics::Sample>* out) {
        out->push_back({{}, static_cast<double>(journal->records())});
      }));
  // Leases per subnet, from the lock-free readers of the table: one seqlock
  // read per address of each subnet (about 20 ns: a /22 costs 20 us a
  // scrape). Subnets and pools as configured at start (a reload keeps the
  // subnets' ranges).
  struct Counted {
    std::string label;
    AddressRange hosts;
    absl::optional<std::pair<Ipv4Address, Ipv4Address>> pool;
  };
  std::vector<Counted> subnets;
  if (options_.server.mode == DhcpMode::kAuthoritative) {
    for (const DhcpSubnet& s : options_.server.subnets) {
      absl::StatusOr<AddressRange> hosts =
          AddressRange::Hosts(s.network, s.prefix_length);
      if (!hosts.ok()) continue;
      subnets.push_back(
          {absl::StrCat(s.network.ToString(), "/", s.prefix_length), *hosts,
           s.pool});
    }
  }
  const LeaseTable* leases = leases_.get();
  collectors_.push_back(metrics_->AddCollector(
      "rackboot_dhcp_leases",
      "Addresses per subnet by lease state now (bound, offered, declined: "
      "held and not expired; free: the pool's addresses not held).",
      metrics::MetricType::kGauge, {"subnet", "state"},
      [leases, subnets](std::vector<metrics::Sample>* out) {
        const absl::Time now = absl::Now();
        for (const Counted& s : subnets) {
          double bound = 0, offered = 0, declined = 0, free = 0;
          for (uint64_t a = s.hosts.first.value(); a <= s.hosts.last.value();
               ++a) {
            const Ipv4Address address(static_cast<uint32_t>(a));
            absl::optional<Lease> lease = leases->Lookup(address);
            if (lease.has_value() && lease->Holds(now)) {
              if (lease->state == LeaseState::kBound) ++bound;
              if (lease->state == LeaseState::kOffered) ++offered;
              if (lease->state == LeaseState::kDeclined) ++declined;
            } else if (!s.pool.has_value() || (a >= s.pool->first.value() &&
                                               a <= s.pool->second.value())) {
              ++free;
            }
          }
          out->push_back({{s.label, "bound"}, bound});
          out->push_back({{s.label, "offered"}, offered});
          out->push_back({{s.label, "declined"}, declined});
          out->push_back({{s.label, "free"}, free});
        }
      }));
}

DhcpService::~DhcpService() {
  for (uint64_t id : collectors_) metrics_->RemoveCollector(id);
}

absl::Status DhcpService::StartShard(int shard, io::Reactor& reactor) {
  if (shard != 0) {
    return absl::InternalError(
        "DHCP has one writer: run it in a group of exactly one shard");
  }
  DhcpShardOptions shard_options = options_.shard;
  shard_options.metrics = shard_metrics_;
  if (daemon::EventSink* events = options_.events) {
    std::function<void(const DhcpReply&)> also = options_.shard.on_reply;
    shard_options.on_reply = [events, also](const DhcpReply& reply) {
      if (reply.type == DhcpMessageType::kAck) {
        daemon::LeaseAcked event;
        if (absl::optional<std::array<uint8_t, 6>> mac =
                reply.message.MacAddress()) {
          event.mac = *mac;
          event.address = reply.message.yiaddr;
          if (absl::StatusOr<absl::string_view> file =
                  reply.message.options.BootfileName();
              file.ok()) {
            event.boot_file = std::string(*file);
          }
          events->OnLeaseAcked(event);
        }
      }
      if (also) also(reply);
    };
  }
  shard_ = std::make_unique<DhcpShard>(&reactor, server_.get(), leases_.get(),
                                       journal_.get(), shard_options);
  if (absl::Status started = shard_->Start(); !started.ok()) {
    shard_.reset();
    return started;
  }
  const DhcpServerConfig& config = options_.server;
  LOG(INFO) << "dhcp: "
            << (config.mode == DhcpMode::kProxy ? "proxyDHCP" : "authoritative")
            << " on "
            << (options_.shard.interface.empty() ? "every interface"
                                                 : options_.shard.interface)
            << " port " << options_.shard.server_port << " as "
            << config.server_address.ToString() << ", " << config.subnets.size()
            << " subnet(s), " << leases_->size() << " addresses tracked, on "
            << io::IoBackendName(reactor.backend());
  return absl::OkStatus();
}

void DhcpService::StopShard(int shard, io::Reactor& reactor) {
  (void)shard;
  (void)reactor;
  if (shard_) shard_counters_ = shard_->counters();
  shard_.reset();  // unwatches its sockets on the reactor, still alive
  absl::Status synced = journal_->SyncNow();
  LOG_IF(ERROR, !synced.ok()) << "dhcp: final journal sync failed: " << synced;
}

std::string DhcpService::Ready() const {
  return absl::StrCat(
      "DHCP ",
      options_.server.mode == DhcpMode::kProxy ? "proxy" : "authoritative",
      " on ", options_.shard.interface);
}

std::vector<daemon::Metric> DhcpService::Metrics() const {
  const DhcpServiceCounters c = counters();
  auto n = [](uint64_t v) { return static_cast<int64_t>(v); };
  return {{"discovers", n(c.server.received[1])},
          {"requests", n(c.server.received[3])},
          {"offers", n(c.server.offers)},
          {"acks", n(c.server.acks)},
          {"naks", n(c.server.naks)},
          {"pxe_install", n(c.server.pxe_install)},
          {"pxe_localboot", n(c.server.pxe_localboot)},
          {"pxe_unknown", n(c.server.pxe_unknown)},
          {"journal_records", n(c.journal_records)},
          {"journal_syncs", n(c.journal_syncs)}};
}

DhcpServiceCounters DhcpService::counters() const {
  DhcpServiceCounters counters;
  if (server_) counters.server = server_->counters();
  counters.shard = shard_ ? shard_->counters() : shard_counters_;
  if (journal_) {
    counters.journal_records = journal_->records();
    counters.journal_syncs = journal_->syncs();
  }
  return counters;
}

}  // namespace rackboot::dhcp
