#include "engine/dhcp/lease_table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot::dhcp {
namespace {

// Microseconds since the Unix epoch, with the infinities kept (absl saturates
// them to finite values otherwise).
int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t us) {
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (us == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

// The states in which a lease holds its address until `expires`.
bool IsHoldingState(LeaseState s) {
  return s == LeaseState::kOffered || s == LeaseState::kBound ||
         s == LeaseState::kDeclined;
}

// Packs a lease into 7 words: [address | state | client kind | client size], 4
// words of client bytes, the mac, expires in Unix microseconds.
void Pack(const Lease& lease, uint64_t (&w)[7]) {
  auto client = lease.client.bytes();
  w[0] = uint64_t{lease.address.value()} |
         uint64_t{static_cast<uint8_t>(lease.state)} << 32 |
         uint64_t{lease.client.kind()} << 40 | uint64_t{client.size()} << 48;
  uint8_t bytes[ClientKey::kMaxSize] = {};
  std::memcpy(bytes, client.data(), client.size());
  std::memcpy(&w[1], bytes, sizeof(bytes));
  w[5] = 0;
  std::memcpy(&w[5], lease.mac.data(), lease.mac.size());
  w[6] = static_cast<uint64_t>(ToMicros(lease.expires));
}

Lease Unpack(const uint64_t (&w)[7]) {
  Lease lease;
  lease.address = Ipv4Address(static_cast<uint32_t>(w[0]));
  lease.state = static_cast<LeaseState>(static_cast<uint8_t>(w[0] >> 32));
  const uint8_t kind = static_cast<uint8_t>(w[0] >> 40);
  const size_t size =
      std::min<size_t>(static_cast<uint8_t>(w[0] >> 48), ClientKey::kMaxSize);
  uint8_t bytes[ClientKey::kMaxSize];
  std::memcpy(bytes, &w[1], sizeof(bytes));
  absl::Span<const uint8_t> span(bytes, size);
  lease.client = kind == 0 ? ClientKey::FromClientId(span)
                           : ClientKey::FromHardware(kind, span);
  std::memcpy(lease.mac.data(), &w[5], lease.mac.size());
  lease.expires = FromMicros(static_cast<int64_t>(w[6]));
  return lease;
}

}  // namespace

absl::StatusOr<AddressRange> AddressRange::Hosts(Ipv4Address network,
                                                 int prefix_length) {
  if (prefix_length < 0 || prefix_length > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix length ", prefix_length, " is not in 0..32"));
  }
  const uint32_t mask =
      prefix_length == 0
          ? 0
          : ~uint32_t{0} << (32 - static_cast<unsigned>(prefix_length));
  if ((network.value() & ~mask) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        network.ToString(), "/", prefix_length, " has host bits set"));
  }
  const uint32_t broadcast = network.value() | ~mask;
  if (prefix_length >= 31) return AddressRange{network, Ipv4Address(broadcast)};
  return AddressRange{Ipv4Address(network.value() + 1),
                      Ipv4Address(broadcast - 1)};
}

void LeaseTable::Bitmap::Init(size_t bits) {
  words.assign((bits + 63) / 64, 0);
  summary.assign((words.size() + 63) / 64, 0);
}

void LeaseTable::Bitmap::Set(uint32_t i) {
  words[i >> 6] |= uint64_t{1} << (i & 63);
  summary[i >> 12] |= uint64_t{1} << ((i >> 6) & 63);
}

void LeaseTable::Bitmap::Clear(uint32_t i) {
  uint64_t& word = words[i >> 6];
  word &= ~(uint64_t{1} << (i & 63));
  if (word == 0) summary[i >> 12] &= ~(uint64_t{1} << ((i >> 6) & 63));
}

int64_t LeaseTable::Bitmap::FindFirst(uint32_t begin, uint32_t end) const {
  if (begin >= end) return -1;
  // The first word, masked below `begin`.
  uint32_t w = begin >> 6;
  uint64_t bits = words[w] & (~uint64_t{0} << (begin & 63));
  if (bits == 0) {
    // Summary words: find the next non-empty word after w.
    const uint32_t last_word = (end - 1) >> 6;
    uint32_t next = w + 1;
    bits = 0;
    while (next <= last_word) {
      uint32_t s = next >> 6;
      uint64_t sbits = summary[s] & (~uint64_t{0} << (next & 63));
      if (sbits != 0) {
        w = s * 64 + static_cast<uint32_t>(std::countr_zero(sbits));
        if (w > last_word) return -1;
        bits = words[w];
        break;
      }
      next = (s + 1) * 64;
    }
    if (bits == 0) return -1;
  }
  const uint64_t i =
      uint64_t{w} * 64 + static_cast<uint64_t>(std::countr_zero(bits));
  return i < end ? static_cast<int64_t>(i) : -1;
}

absl::StatusOr<std::unique_ptr<LeaseTable>> LeaseTable::Create(
    absl::Span<const AddressRange> ranges) {
  if (ranges.empty())
    return absl::InvalidArgumentError("lease table: no address ranges");
  std::vector<AddressRange> sorted(ranges.begin(), ranges.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const AddressRange& a, const AddressRange& b) {
              return a.first < b.first;
            });
  uint64_t total = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const AddressRange& r = sorted[i];
    if (r.first > r.last) {
      return absl::InvalidArgumentError(
          absl::StrCat("lease table: range ", r.first.ToString(), "-",
                       r.last.ToString(), " is reversed"));
    }
    if (i > 0 && sorted[i - 1].last >= r.first) {
      return absl::InvalidArgumentError(
          absl::StrCat("lease table: ranges ", sorted[i - 1].first.ToString(),
                       "-", sorted[i - 1].last.ToString(), " and ",
                       r.first.ToString(), "-", r.last.ToString(), " overlap"));
    }
    total += r.size();
  }
  if (total > kMaxSlots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease table: ", total, " addresses exceed the limit of ", kMaxSlots));
  }
  return std::unique_ptr<LeaseTable>(new LeaseTable(std::move(sorted), total));
}

LeaseTable::LeaseTable(std::vector<AddressRange> ranges, size_t slot_count)
    : ranges_(std::move(ranges)),
      slot_count_(slot_count),
      published_(new PublishedSlot[slot_count]),
      leases_(new Lease[slot_count]),
      by_client_(0, IndexHash{leases_.get()}, IndexEq{leases_.get()}) {
  uint32_t base = 0;
  for (const AddressRange& r : ranges_) {
    range_base_.push_back(base);
    base += static_cast<uint32_t>(r.size());
  }
  free_.Init(slot_count_);
  released_.Init(slot_count_);
  for (uint32_t i = 0; i < slot_count_; ++i) {
    leases_[i].address = AddressOf(i);
    free_.Set(i);
    Publish(i);
  }
}

LeaseTable::~LeaseTable() = default;

int64_t LeaseTable::SlotOf(Ipv4Address address) const {
  // The last range whose first address is <= address.
  auto it = std::upper_bound(
      ranges_.begin(), ranges_.end(), address,
      [](Ipv4Address a, const AddressRange& r) { return a < r.first; });
  if (it == ranges_.begin()) return -1;
  --it;
  if (address > it->last) return -1;
  return range_base_[static_cast<size_t>(it - ranges_.begin())] +
         (address.value() - it->first.value());
}

Ipv4Address LeaseTable::AddressOf(uint32_t slot) const {
  auto it = std::upper_bound(range_base_.begin(), range_base_.end(), slot);
  const size_t r = static_cast<size_t>(it - range_base_.begin()) - 1;
  return Ipv4Address(ranges_[r].first.value() + (slot - range_base_[r]));
}

void LeaseTable::Publish(uint32_t slot) {
  uint64_t w[7];
  Pack(leases_[slot], w);
  PublishedSlot& p = published_[slot];
  const uint64_t seq = p.seq.load(std::memory_order_relaxed);
  p.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int i = 0; i < 7; ++i) p.words[i].store(w[i], std::memory_order_relaxed);
  p.seq.store(seq + 2, std::memory_order_release);
}

absl::optional<Lease> LeaseTable::Lookup(Ipv4Address address) const {
  const int64_t slot = SlotOf(address);
  if (slot < 0) return absl::nullopt;
  const PublishedSlot& p = published_[static_cast<size_t>(slot)];
  uint64_t w[7];
  for (;;) {
    const uint64_t before = p.seq.load(std::memory_order_acquire);
    if (before & 1) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      continue;
    }
    for (int i = 0; i < 7; ++i)
      w[i] = p.words[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (p.seq.load(std::memory_order_relaxed) == before) break;
  }
  return Unpack(w);
}

const Lease* LeaseTable::Find(Ipv4Address address) const {
  const int64_t slot = SlotOf(address);
  return slot < 0 ? nullptr : &leases_[static_cast<size_t>(slot)];
}

const Lease* LeaseTable::FindByClient(const ClientKey& client) const {
  auto it = by_client_.find(client);
  return it == by_client_.end() ? nullptr : &leases_[*it];
}

void LeaseTable::Unindex(uint32_t slot) {
  const Lease& old = leases_[slot];
  if (old.state == LeaseState::kFree || old.client.empty()) return;
  auto it = by_client_.find(old.client);
  if (it != by_client_.end() && *it == slot) by_client_.erase(it);
}

void LeaseTable::Put(const Lease& lease) {
  const int64_t found = SlotOf(lease.address);
  if (found < 0) {
    LOG(ERROR) << "lease table: Put of " << lease.address.ToString()
               << ", outside the table's ranges, ignored";
    return;
  }
  const uint32_t slot = static_cast<uint32_t>(found);
  Lease& stored = leases_[slot];
  const bool keeps_index_entry =
      lease.state != LeaseState::kFree && stored.state != LeaseState::kFree &&
      !lease.client.empty() && lease.client == stored.client && [&] {
        auto it = by_client_.find(lease.client);
        return it != by_client_.end() && *it == slot;
      }();
  // Unindex before the key stored in the slot changes: the index hashes the
  // slot's client. A renewal (same client, already indexed here) keeps its
  // entry: one lookup instead of four.
  if (!keeps_index_entry) Unindex(slot);
  if (stored.state == LeaseState::kBound) --bound_count_;
  stored = lease;
  stored.expires =
      FromMicros(ToMicros(lease.expires));  // microsecond resolution
  if (stored.state == LeaseState::kFree) {
    stored.client = ClientKey();
  } else if (!stored.client.empty() && !keeps_index_entry) {
    auto it = by_client_.find(stored.client);
    if (it != by_client_.end())
      by_client_.erase(it);  // the client's old address
    by_client_.insert(slot);
  }
  if (stored.state == LeaseState::kBound) ++bound_count_;
  if (stored.state == LeaseState::kFree) {
    free_.Set(slot);
  } else {
    free_.Clear(slot);
  }
  if (stored.state == LeaseState::kReleased) {
    released_.Set(slot);
  } else {
    released_.Clear(slot);
  }
  if (IsHoldingState(stored.state)) {
    for (Pool& pool : pools_) {
      if (slot >= pool.begin && slot < pool.end) {
        pool.next_expiry = std::min(pool.next_expiry, stored.expires);
      }
    }
  }
  Publish(slot);
}

void LeaseTable::Erase(Ipv4Address address) {
  if (SlotOf(address) < 0) return;
  Lease free;
  free.address = address;
  Put(free);
}

LeaseTable::Pool& LeaseTable::PoolFor(uint32_t begin, uint32_t end) {
  for (Pool& pool : pools_) {
    if (pool.begin == begin && pool.end == end) return pool;
  }
  pools_.push_back(Pool{begin, end, begin});
  return pools_.back();
}

absl::optional<Ipv4Address> LeaseTable::Take(Pool& pool, const Bitmap& bitmap) {
  int64_t slot = bitmap.FindFirst(pool.cursor, pool.end);
  if (slot < 0) slot = bitmap.FindFirst(pool.begin, pool.cursor);
  if (slot < 0) return absl::nullopt;
  pool.cursor = static_cast<uint32_t>(slot) + 1 == pool.end
                    ? pool.begin
                    : static_cast<uint32_t>(slot) + 1;
  return AddressOf(static_cast<uint32_t>(slot));
}

void LeaseTable::Sweep(Pool& pool, absl::Time now) {
  absl::Time next = absl::InfiniteFuture();
  for (uint32_t slot = pool.begin; slot < pool.end; ++slot) {
    const Lease& lease = leases_[slot];
    if (!IsHoldingState(lease.state)) continue;
    if (lease.expires <= now) {
      free_.Set(slot);
    } else {
      next = std::min(next, lease.expires);
    }
  }
  pool.next_expiry = next;
}

absl::optional<Ipv4Address> LeaseTable::AllocateFree(Ipv4Address first,
                                                     Ipv4Address last,
                                                     absl::Time now) {
  if (first > last) return absl::nullopt;
  // Clip [first, last] to slot numbers [begin, end).
  int64_t begin = -1;
  int64_t end = -1;
  for (size_t r = 0; r < ranges_.size(); ++r) {
    const AddressRange& range = ranges_[r];
    if (begin < 0 && range.last >= first) {
      begin = range_base_[r] +
              (std::max(first, range.first).value() - range.first.value());
    }
    if (range.first <= last) {
      end = range_base_[r] +
            (std::min(last, range.last).value() - range.first.value()) + 1;
    }
  }
  if (begin < 0 || end <= begin) return absl::nullopt;
  Pool& pool =
      PoolFor(static_cast<uint32_t>(begin), static_cast<uint32_t>(end));
  if (auto a = Take(pool, free_)) return a;
  if (now >= pool.next_expiry) {
    Sweep(pool, now);
    if (auto a = Take(pool, free_)) return a;
  }
  return Take(pool, released_);
}

}  // namespace rackboot::dhcp
