// Fuzz target for the lease journal's replay: any bytes, as a leases.journal
// found on disk after a crash, damaged media or a foreign write, must replay
// without crashing and report its damage cleanly:
//  - the intact prefix ends within the input, damaged regions lie before it,
//    in order and without overlap;
//  - every replayed lease has a valid state and re-encodes to a journal that
//    replays to the same leases with no damage at all;
//  - replaying into a LeaseTable (what DhcpService::Create does) keeps the
//    table consistent with what was replayed last for each address.
// A violated invariant traps so libFuzzer (or the seed replay test) reports it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/dhcp/lease.h"
#include "engine/dhcp/lease_journal.h"
#include "engine/dhcp/lease_table.h"

namespace rackboot::dhcp {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzOne(const uint8_t* data, size_t size) {
  static LeaseTable* const table = [] {
    // 198.18.0.0/24: the seeds' leases fall in it, fuzzed ones mostly not.
    return LeaseTable::Create(
               {*AddressRange::Hosts(Ipv4Address(198, 18, 0, 0), 24)})
        ->release();
  }();
  std::vector<Lease> replayed;
  const JournalScan scan =
      ScanJournal({data, size}, [&](const Lease& l) { replayed.push_back(l); });
  Check(scan.records == replayed.size());
  Check(scan.good_end <= size);
  Check(replayed.empty() == (scan.good_end == 0));
  size_t previous_end = 0;
  for (const JournalScan::Skipped& s : scan.skipped) {
    Check(s.bytes > 0);
    Check(s.offset >= previous_end);
    previous_end = s.offset + s.bytes;
    Check(previous_end < scan.good_end);  // an intact record follows
  }

  std::string again;
  std::map<uint32_t, Lease> last;
  for (const Lease& lease : replayed) {
    Check(static_cast<uint8_t>(lease.state) <=
          static_cast<uint8_t>(LeaseState::kDeclined));
    AppendLeaseRecord(lease, &again);
    if (table->Find(lease.address) != nullptr) {
      table->Put(lease);
      last[lease.address.value()] = lease;
    }
  }
  std::vector<Lease> twice;
  const JournalScan rescan = ScanJournal(
      {reinterpret_cast<const uint8_t*>(again.data()), again.size()},
      [&](const Lease& l) { twice.push_back(l); });
  Check(rescan.skipped.empty() && rescan.good_end == again.size());
  Check(twice == replayed);

  for (const auto& [address, lease] : last) {
    absl::optional<Lease> seen = table->Lookup(Ipv4Address(address));
    Check(seen.has_value() && seen->state == lease.state);
    if (lease.state != LeaseState::kFree) Check(seen->client == lease.client);
    // Back to empty for the next input.
    table->Erase(Ipv4Address(address));
  }
}

}  // namespace
}  // namespace rackboot::dhcp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::dhcp::FuzzOne(data, size);
  return 0;
}
