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
       .commit_window = options.commit_window},
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

  service->log_ = std::make_unique<JournalLeaseLog>(service->journal_.get());
  service->server_ =
      std::make_unique<DhcpServer>(config, leases, hosts, service->log_.get());
  return service;
}

DhcpService::~DhcpService() = default;

absl::Status DhcpService::StartShard(int shard, io::Reactor& reactor) {
  if (shard != 0) {
    return absl::InternalError(
        "DHCP has one writer: run it in a group of exactly one shard");
  }
  DhcpShardOptions shard_options = options_.shard;
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
