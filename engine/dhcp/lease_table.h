// LeaseTable: the DHCP shard's in-memory lease store, one preallocated slot per
// address of the ranges it covers, read without locks by every other thread
// (architecture principle 2: DHCP has one writer; TFTP, HTTP and the API read
// leases without locks).
//
//   absl::StatusOr<std::unique_ptr<LeaseTable>> table =
//       LeaseTable::Create({*AddressRange::Hosts(Ipv4Address(198, 18, 0, 0),
//       16)});
//   // DHCP shard thread (the writer):
//   absl::optional<Ipv4Address> a = (*table)->AllocateFree(first, last,
//   absl::Now());
//   (*table)->Put(Lease{*a, LeaseState::kOffered, client, mac, now +
//   absl::Seconds(30)});
//   // Any thread (e.g. TFTP deciding what a client may fetch):
//   absl::optional<Lease> snapshot = (*table)->Lookup(address);
//
// Ownership and threads. The DHCP shard owns the table (std::unique_ptr).
// Exactly one thread, the writer, calls the members marked "REQUIRES: the
// writer thread"; it is the only thread that mutates the table, so those
// members take no lock. Lookup() may be called by any thread at any time while
// the table is alive: it never locks, never allocates and never delays the
// writer.
//
// How readers stay lock-free. Every slot exists twice: the writer's own Lease
// (plain memory that only the writer touches; Find() returns pointers into it)
// and a published copy packed into 7 std::atomic<uint64_t> words guarded by a
// per-slot sequence counter (a seqlock; Boehm, "Can seqlocks get along with
// programming language memory models?", MSPC 2012). The writer makes the
// sequence odd, stores the words, and makes it even again; a reader retries
// while the sequence is odd or changed during its read. Every shared field is
// an atomic, so this is data-race free under the C++ memory model; a reader
// that loses the race simply reads again (a slot is written for a few
// nanoseconds per DHCP message, so retries are rare).
//
// Memory per slot (x86-64): 64 bytes for the published copy (one cache line:
// 8-byte sequence + 7 words), sizeof(Lease) == 64 bytes for the writer's copy,
// 2 bits of allocation bitmaps, and for each client that holds a lease one
// 4-byte entry in the client index (a Swiss table of slot numbers whose hash is
// the client key's hash; about 5-10 bytes per entry with its control bytes and
// load factor). So 1,000,000 slots cost about 128 MB plus up to ~10 MB of
// index.
//
// Time: `expires` is kept at microsecond resolution (Put() rounds it down), the
// resolution of the lease journal, so what a reader sees equals what a restart
// replays.
#ifndef RACKBOOT_ENGINE_DHCP_LEASE_TABLE_H_
#define RACKBOOT_ENGINE_DHCP_LEASE_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "engine/dhcp/lease.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::dhcp {

// An inclusive range of addresses [first, last].
struct AddressRange {
  Ipv4Address first;
  Ipv4Address last;

  // The host addresses of a subnet: network/prefix without the network and
  // broadcast addresses (RFC 950, RFC 919), e.g. 198.18.0.0/16 -> 198.18.0.1 ..
  // 198.18.255.254 (65,534 addresses). Prefixes 31 and 32 have no such
  // addresses to drop (RFC 3021): all their addresses are hosts.
  static absl::StatusOr<AddressRange> Hosts(Ipv4Address network,
                                            int prefix_length);

  uint64_t size() const { return uint64_t{last.value()} - first.value() + 1; }
  bool operator==(const AddressRange&) const = default;
};

class LeaseTable {
 public:
  // Bound on the slots of one table: 16,777,216 slots (a /8) cost about 2 GiB.
  static constexpr uint64_t kMaxSlots = uint64_t{1} << 24;

  // One slot per address of `ranges`, all kFree. Errors: an empty list, a range
  // with first > last, overlapping ranges, or more than kMaxSlots addresses in
  // total.
  static absl::StatusOr<std::unique_ptr<LeaseTable>> Create(
      absl::Span<const AddressRange> ranges);

  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;
  ~LeaseTable();

  // ---- Writer API. REQUIRES: the writer thread (the DHCP shard), for every
  // member below. ----

  // The slot of `address` as the writer sees it (a kFree lease when never
  // used), or nullptr when the address is outside the table's ranges. Valid
  // until the next Put/Erase of that address.
  const Lease* Find(Ipv4Address address) const;

  // The client's indexed lease: its most recently Put lease in any state but
  // kFree (offered, bound, released, declined; also when expired), so a
  // returning client gets its old address back, including after a RELEASE (RFC
  // 2131 section 4.3.1: "the server SHOULD choose ... the client's current
  // address ... or the client's previous address"). nullptr if none.
  const Lease* FindByClient(const ClientKey& client) const;

  // Stores `lease` in the slot of lease.address (Put of a kFree lease is the
  // same as Erase). A client has at most one indexed lease: putting a lease for
  // client C at a new address unindexes C's old address (that slot keeps its
  // lease, but FindByClient no longer returns it). A lease with an empty client
  // key is stored but not indexed. REQUIRES: lease.address within the table's
  // ranges (otherwise nothing is stored and an error is logged).
  void Put(const Lease& lease);

  // Returns the slot of `address` to kFree and unindexes it. No-op outside the
  // ranges.
  void Erase(Ipv4Address address);

  // An address in [first, last] (clipped to the table's ranges) that is free at
  // `now`: never held (kFree), expired (bound/offered/declined with expires <=
  // now), or released. Never-used and expired addresses are preferred; released
  // ones are handed out only when nothing else is left, so a client that
  // released its address finds it still unused when it returns (as ISC dhcpd
  // and Kea do). nullopt when every address is held at `now`.
  //
  // The result is not reserved: the caller Puts a lease for it (usually
  // kOffered). Each pool [first, last] keeps a rotating cursor, so successive
  // calls spread over the pool.
  //
  // Cost: a two-level bitmap of free slots (one summary bit per 64 slots) is
  // searched from the cursor: at most size/4096 summary words plus one 64-bit
  // word, i.e. constant for practical pools (16 words for a /16, 256 for 1M
  // slots). Expired leases are found by a sweep of the pool that runs only when
  // no free slot is left and `now` has passed the pool's earliest known expiry;
  // the sweep (O(pool size)) marks every expired lease free at once and records
  // the next earliest expiry, so it is paid for by the addresses it frees, and
  // on a full pool whose leases are being renewed it runs at most once per
  // passing of the earliest expiry, not per call. Time is assumed not to go
  // backwards (wall clock; a step back only delays reuse). Pools are expected
  // to be few (one per subnet or range): Put costs O(number of pools).
  absl::optional<Ipv4Address> AllocateFree(Ipv4Address first, Ipv4Address last,
                                           absl::Time now);

  // Slots whose state is kBound (including bound leases that have expired but
  // were not reused).
  size_t bound_count() const { return bound_count_; }

  // ---- Reader API: any thread, no lock, no allocation. ----

  // A consistent snapshot of the slot of `address` (never a mix of two writes),
  // or nullopt outside the table's ranges. Never-used slots read as
  // Lease{address, kFree}.
  absl::optional<Lease> Lookup(Ipv4Address address) const;

  // Number of slots (addresses covered). Any thread.
  size_t size() const { return slot_count_; }
  const std::vector<AddressRange>& ranges() const { return ranges_; }

 private:
  // The published copy of one slot; see the header comment.
  struct alignas(64) PublishedSlot {
    std::atomic<uint64_t> seq{0};
    std::atomic<uint64_t> words[7];
  };
  static_assert(sizeof(PublishedSlot) == 64);

  // The client index stores slot numbers; hashing and comparing look at the
  // writer's lease of that slot, so a lookup by ClientKey needs no copy of the
  // key (heterogeneous lookup).
  struct IndexHash {
    using is_transparent = void;
    const Lease* leases;
    size_t operator()(uint32_t slot) const {
      return absl::Hash<ClientKey>{}(leases[slot].client);
    }
    size_t operator()(const ClientKey& key) const {
      return absl::Hash<ClientKey>{}(key);
    }
  };
  struct IndexEq {
    using is_transparent = void;
    const Lease* leases;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, const ClientKey& b) const {
      return leases[a].client == b;
    }
    bool operator()(const ClientKey& a, uint32_t b) const {
      return a == leases[b].client;
    }
  };

  struct Pool {
    uint32_t begin;  // slot range [begin, end)
    uint32_t end;
    uint32_t cursor;
    // No lease in the pool that was holding at the last sweep expires before
    // this; Put lowers it.
    absl::Time next_expiry = absl::InfinitePast();
  };

  // A two-level bitmap over slot numbers: bit i of words[i/64], and summary bit
  // w of summary[w/64] set when words[w] != 0.
  struct Bitmap {
    std::vector<uint64_t> words;
    std::vector<uint64_t> summary;
    void Init(size_t bits);
    void Set(uint32_t i);
    void Clear(uint32_t i);
    bool Test(uint32_t i) const { return (words[i >> 6] >> (i & 63)) & 1; }
    // The first set bit in [begin, end), or -1.
    int64_t FindFirst(uint32_t begin, uint32_t end) const;
  };

  LeaseTable(std::vector<AddressRange> ranges, size_t slot_count);

  // The slot number of `address`, or -1 outside the ranges. Any thread.
  int64_t SlotOf(Ipv4Address address) const;
  Ipv4Address AddressOf(uint32_t slot) const;
  void Unindex(uint32_t slot);
  void Publish(uint32_t slot);
  Pool& PoolFor(uint32_t begin, uint32_t end);
  absl::optional<Ipv4Address> Take(Pool& pool, const Bitmap& bitmap);
  void Sweep(Pool& pool, absl::Time now);

  const std::vector<AddressRange> ranges_;  // sorted, disjoint
  std::vector<uint32_t> range_base_;        // slot number of ranges_[i].first
  const size_t slot_count_;
  std::unique_ptr<PublishedSlot[]> published_;

  // Writer-only state.
  std::unique_ptr<Lease[]> leases_;
  absl::flat_hash_set<uint32_t, IndexHash, IndexEq> by_client_;
  Bitmap free_;      // kFree, or expired when last swept
  Bitmap released_;  // kReleased
  std::vector<Pool> pools_;
  size_t bound_count_ = 0;
};

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_LEASE_TABLE_H_
