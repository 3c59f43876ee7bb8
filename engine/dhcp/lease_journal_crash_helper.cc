// lease_journal_crash_helper DIRECTORY FIRST COUNT
//
// Appends leases whose expires encodes the values FIRST, FIRST+1, ...
// FIRST+COUNT-1 to the journal in DIRECTORY, committing every 16 records as a
// DHCP shard would once per loop iteration, and prints each value on its own
// line once durable() covers it, i.e. exactly when the shard would send the
// DHCPACK. lease_journal_test kills it with SIGKILL at a random moment and
// checks that every printed value is replayed by the next Open.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/dhcp/lease_journal.h"
#include "glog/logging.h"

namespace {

using rackboot::dhcp::ClientKey;
using rackboot::dhcp::Lease;
using rackboot::dhcp::LeaseJournal;
using rackboot::dhcp::LeaseState;

Lease LeaseFor(uint64_t value) {
  Lease lease;
  lease.address = rackboot::dhcp::Ipv4Address(
      0x0A000000u + static_cast<uint32_t>(value % 65536));
  lease.state = LeaseState::kBound;
  uint8_t mac[6];
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(value >> (8 * i));
  lease.client = ClientKey::FromHardware(1, mac);
  std::copy(mac, mac + 6, lease.mac.begin());
  lease.expires = absl::FromUnixMicros(static_cast<int64_t>(value));
  return lease;
}

void WriteOut(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(1, text.data() + done, text.size() - done);
    if (n <= 0) std::exit(3);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  if (argc != 4) {
    LOG(ERROR) << "usage: lease_journal_crash_helper DIRECTORY FIRST COUNT";
    return 2;
  }
  const uint64_t first = std::strtoull(argv[2], nullptr, 10);
  const uint64_t count = std::strtoull(argv[3], nullptr, 10);
  auto journal =
      LeaseJournal::Open({.directory = argv[1]}, [](const Lease&) {});
  if (!journal.ok()) {
    LOG(ERROR) << journal.status();
    return 1;
  }
  LeaseJournal& j = **journal;
  // Set by the writer thread after each sync (as a shard's Post would wake
  // its loop).
  absl::Mutex synced_mu;
  bool synced = false;
  j.SetOnDurable([&] {
    absl::MutexLock lock(&synced_mu);
    synced = true;
  });
  uint64_t printed = 0;  // sequence numbers up to this one have been printed
  auto print_durable = [&] {
    const uint64_t durable = j.durable();
    std::string out;
    for (; printed < durable; ++printed)
      absl::StrAppend(&out, first + printed, "\n");
    if (!out.empty()) WriteOut(out);
  };
  for (uint64_t i = 0; i < count; ++i) {
    j.Append(LeaseFor(first + i));
    if (i % 16 == 15) {
      j.Commit();
      // Like a shard with a bounded queue of held ACKs: wait for the disk when
      // 512 are held.
      const bool wait = j.durable() + 512 < i;
      bool woke;
      {
        absl::MutexLock lock(&synced_mu);
        if (wait) {
          synced_mu.AwaitWithTimeout(absl::Condition(&synced),
                                     absl::Milliseconds(10));
        }
        woke = synced;
        synced = false;
      }
      if (woke) print_durable();
    }
  }
  if (absl::Status s = j.SyncNow(); !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  print_durable();
  return 0;
}
