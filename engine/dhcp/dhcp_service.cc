#include "engine/dhcp/dhcp_service.h"

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

absl::StatusOr<std::unique_ptr<DhcpService>> DhcpService::Start(
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
  absl::StatusOr<std::unique_ptr<io::Reactor>> reactor =
      io::CreateReactor(options.io);
  if (!reactor.ok()) return reactor.status();
  service->reactor_ = *std::move(reactor);
  service->shard_ = std::make_unique<DhcpShard>(
      service->reactor_.get(), service->server_.get(), leases,
      service->journal_.get(), options.shard);
  absl::Status started = service->shard_->Start();
  if (!started.ok()) return started;
  io::Reactor* reactor_ptr = service->reactor_.get();
  service->thread_ = std::thread([reactor_ptr] {
    absl::Status status = reactor_ptr->Run();
    LOG_IF(ERROR, !status.ok()) << "dhcp shard stopped: " << status;
  });
  LOG(INFO) << "dhcp: "
            << (config.mode == DhcpMode::kProxy ? "proxyDHCP" : "authoritative")
            << " on "
            << (options.shard.interface.empty() ? "every interface"
                                                : options.shard.interface)
            << " port " << options.shard.server_port << " as "
            << config.server_address.ToString() << ", " << config.subnets.size()
            << " subnet(s), " << leases->size() << " addresses tracked";
  return service;
}

DhcpService::~DhcpService() { Stop(); }

void DhcpService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (reactor_) reactor_->Stop();
  if (thread_.joinable()) thread_.join();
  if (journal_) {
    absl::Status synced = journal_->SyncNow();
    LOG_IF(ERROR, !synced.ok())
        << "dhcp: final journal sync failed: " << synced;
  }
}

DhcpServiceCounters DhcpService::counters() const {
  DhcpServiceCounters counters;
  if (server_) counters.server = server_->counters();
  if (shard_) counters.shard = shard_->counters();
  if (journal_) {
    counters.journal_records = journal_->records();
    counters.journal_syncs = journal_->syncs();
  }
  return counters;
}

}  // namespace rackboot::dhcp
