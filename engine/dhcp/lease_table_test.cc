#include "engine/dhcp/lease_table.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot::dhcp {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

ClientKey Client(uint32_t n) {
  uint8_t mac[6] = {0x52,
                    0x54,
                    0,
                    static_cast<uint8_t>(n >> 16),
                    static_cast<uint8_t>(n >> 8),
                    static_cast<uint8_t>(n)};
  return ClientKey::FromHardware(1, mac);
}

Lease MakeLease(Ipv4Address address, LeaseState state, uint32_t client,
                absl::Time expires) {
  Lease lease;
  lease.address = address;
  lease.state = state;
  lease.client = Client(client);
  lease.mac = {0x52,
               0x54,
               0,
               static_cast<uint8_t>(client >> 16),
               static_cast<uint8_t>(client >> 8),
               static_cast<uint8_t>(client)};
  lease.expires = expires;
  return lease;
}

std::unique_ptr<LeaseTable> Slash24() {
  auto range = AddressRange::Hosts(Ipv4Address(10, 0, 0, 0), 24);
  EXPECT_TRUE(range.ok());
  auto table = LeaseTable::Create({*range});
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

TEST(AddressRangeTest, Hosts) {
  auto r = AddressRange::Hosts(Ipv4Address(198, 18, 0, 0), 16);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, Ipv4Address(198, 18, 0, 1));
  EXPECT_EQ(r->last, Ipv4Address(198, 18, 255, 254));
  EXPECT_EQ(r->size(), 65534u);
  EXPECT_EQ(AddressRange::Hosts(Ipv4Address(10, 0, 0, 0), 31)->size(), 2u);
  EXPECT_FALSE(AddressRange::Hosts(Ipv4Address(10, 0, 0, 1), 24).ok());
  EXPECT_FALSE(AddressRange::Hosts(Ipv4Address(10, 0, 0, 0), 33).ok());
}

TEST(LeaseTableTest, CreateRejectsBadRanges) {
  EXPECT_FALSE(LeaseTable::Create({}).ok());
  EXPECT_FALSE(LeaseTable::Create({AddressRange{Ipv4Address(10, 0, 0, 9),
                                                Ipv4Address(10, 0, 0, 1)}})
                   .ok());
  EXPECT_FALSE(
      LeaseTable::Create(
          {AddressRange{Ipv4Address(10, 0, 0, 1), Ipv4Address(10, 0, 0, 9)},
           AddressRange{Ipv4Address(10, 0, 0, 9), Ipv4Address(10, 0, 1, 0)}})
          .ok());
  EXPECT_FALSE(LeaseTable::Create({AddressRange{Ipv4Address(10, 0, 0, 0),
                                                Ipv4Address(11, 0, 0, 0)}})
                   .ok());
}

TEST(LeaseTableTest, PutFindErase) {
  auto table = Slash24();
  EXPECT_EQ(table->size(), 254u);
  EXPECT_EQ(table->Find(Ipv4Address(10, 0, 0, 0)), nullptr);
  EXPECT_EQ(table->Find(Ipv4Address(10, 0, 1, 1)), nullptr);
  EXPECT_FALSE(table->Lookup(Ipv4Address(10, 0, 0, 255)).has_value());
  const Lease* never = table->Find(Ipv4Address(10, 0, 0, 7));
  ASSERT_NE(never, nullptr);
  EXPECT_EQ(never->state, LeaseState::kFree);
  EXPECT_EQ(never->address, Ipv4Address(10, 0, 0, 7));

  Lease lease = MakeLease(Ipv4Address(10, 0, 0, 7), LeaseState::kBound, 1,
                          kNow + absl::Hours(1));
  table->Put(lease);
  ASSERT_NE(table->Find(lease.address), nullptr);
  EXPECT_EQ(*table->Find(lease.address), lease);
  EXPECT_EQ(table->Lookup(lease.address), lease);
  EXPECT_EQ(table->FindByClient(lease.client), table->Find(lease.address));
  EXPECT_EQ(table->bound_count(), 1u);

  table->Erase(lease.address);
  EXPECT_EQ(table->Find(lease.address)->state, LeaseState::kFree);
  EXPECT_EQ(table->Lookup(lease.address)->state, LeaseState::kFree);
  EXPECT_EQ(table->FindByClient(lease.client), nullptr);
  EXPECT_EQ(table->bound_count(), 0u);
}

TEST(LeaseTableTest, ExpiresKeptAtMicroseconds) {
  auto table = Slash24();
  Lease lease = MakeLease(Ipv4Address(10, 0, 0, 7), LeaseState::kBound, 1,
                          kNow + absl::Nanoseconds(1500));
  table->Put(lease);
  EXPECT_EQ(table->Find(lease.address)->expires, kNow + absl::Microseconds(1));
  EXPECT_EQ(table->Lookup(lease.address)->expires,
            kNow + absl::Microseconds(1));
  lease.expires = absl::InfiniteFuture();
  table->Put(lease);
  EXPECT_EQ(table->Lookup(lease.address)->expires, absl::InfiniteFuture());
}

TEST(LeaseTableTest, ClientIdRoundTripsThroughReaders) {
  auto table = Slash24();
  Lease lease =
      MakeLease(Ipv4Address(10, 0, 0, 9), LeaseState::kOffered, 3, kNow);
  std::vector<uint8_t> id(40);  // longer than kMaxSize: cut to 32
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i * 7);
  lease.client = ClientKey::FromClientId(id);
  table->Put(lease);
  EXPECT_EQ(table->Lookup(lease.address), lease);
  lease.client =
      ClientKey::FromHardware(0, absl::Span<const uint8_t>(id.data(), 6));
  EXPECT_EQ(lease.client.kind(), 0xff);
  table->Put(lease);
  EXPECT_EQ(table->Lookup(lease.address), lease);
}

TEST(LeaseTableTest, ClientIndexMoves) {
  auto table = Slash24();
  const Ipv4Address a(10, 0, 0, 10), b(10, 0, 0, 20);
  table->Put(MakeLease(a, LeaseState::kBound, 5, kNow + absl::Hours(1)));
  table->Put(MakeLease(b, LeaseState::kOffered, 5, kNow + absl::Minutes(1)));
  ASSERT_NE(table->FindByClient(Client(5)), nullptr);
  EXPECT_EQ(table->FindByClient(Client(5))->address, b);
  // The old slot keeps its lease but is no longer the client's.
  EXPECT_EQ(table->Find(a)->state, LeaseState::kBound);
  // Another client taking the old slot does not disturb client 5's index entry.
  table->Put(MakeLease(a, LeaseState::kBound, 9, kNow + absl::Hours(1)));
  EXPECT_EQ(table->FindByClient(Client(5))->address, b);
  EXPECT_EQ(table->FindByClient(Client(9))->address, a);
  table->Erase(a);
  EXPECT_EQ(table->FindByClient(Client(9)), nullptr);
  EXPECT_EQ(table->FindByClient(Client(5))->address, b);
  // The most recent Put wins: a lease for client 5 at a moves the index back to
  // a.
  table->Put(MakeLease(a, LeaseState::kReleased, 5, kNow));
  EXPECT_EQ(table->FindByClient(Client(5))->address, a);
  table->Put(MakeLease(b, LeaseState::kOffered, 5, kNow + absl::Minutes(1)));
  EXPECT_EQ(table->FindByClient(Client(5))->address, b);
  // Another client takes over b: client 5 has nothing indexed any more.
  table->Put(MakeLease(b, LeaseState::kBound, 6, kNow + absl::Hours(1)));
  EXPECT_EQ(table->FindByClient(Client(5)), nullptr);
  EXPECT_EQ(table->FindByClient(Client(6))->address, b);
  // Released and expired leases stay findable for the client's return.
  table->Put(MakeLease(b, LeaseState::kReleased, 6, kNow));
  EXPECT_EQ(table->FindByClient(Client(6))->state, LeaseState::kReleased);
  table->Put(MakeLease(a, LeaseState::kBound, 7, kNow - absl::Hours(1)));
  EXPECT_EQ(table->FindByClient(Client(7))->address, a);
}

TEST(LeaseTableTest, ManyClientsIndexed) {
  auto table = Slash24();
  for (uint32_t i = 1; i <= 254; ++i) {
    table->Put(MakeLease(Ipv4Address(10, 0, 0, static_cast<uint8_t>(i)),
                         LeaseState::kBound, i, kNow + absl::Hours(1)));
  }
  for (uint32_t i = 1; i <= 254; ++i) {
    const Lease* lease = table->FindByClient(Client(i));
    ASSERT_NE(lease, nullptr);
    EXPECT_EQ(lease->address, Ipv4Address(10, 0, 0, static_cast<uint8_t>(i)));
  }
  EXPECT_EQ(table->bound_count(), 254u);
}

TEST(LeaseTableTest, AllocatePrefersNeverUsedAndExpiredOverReleased) {
  auto table = Slash24();
  const Ipv4Address first(10, 0, 0, 1), last(10, 0, 0, 4);
  // .1 released, .2 bound (held), .3 offered but expired, .4 never used.
  table->Put(
      MakeLease(Ipv4Address(10, 0, 0, 1), LeaseState::kReleased, 1, kNow));
  table->Put(MakeLease(Ipv4Address(10, 0, 0, 2), LeaseState::kBound, 2,
                       kNow + absl::Hours(1)));
  table->Put(MakeLease(Ipv4Address(10, 0, 0, 3), LeaseState::kOffered, 3,
                       kNow - absl::Seconds(1)));
  std::vector<Ipv4Address> got;
  for (int i = 0; i < 3; ++i) {
    auto a = table->AllocateFree(first, last, kNow);
    ASSERT_TRUE(a.has_value());
    got.push_back(*a);
    table->Put(
        MakeLease(*a, LeaseState::kOffered, 100 + i, kNow + absl::Minutes(1)));
  }
  EXPECT_EQ(got[0], Ipv4Address(10, 0, 0, 4));  // never used
  EXPECT_EQ(got[1], Ipv4Address(10, 0, 0, 3));  // expired
  EXPECT_EQ(got[2], Ipv4Address(10, 0, 0, 1));  // released, last resort
  EXPECT_FALSE(table->AllocateFree(first, last, kNow).has_value());
  // Client 1's old lease is gone from the index once its address went to
  // someone else.
  EXPECT_EQ(table->FindByClient(Client(1)), nullptr);
  // A declined address is quarantined until it expires.
  table->Put(MakeLease(Ipv4Address(10, 0, 0, 4), LeaseState::kDeclined, 0,
                       kNow + absl::Hours(1)));
  EXPECT_FALSE(
      table->AllocateFree(first, last, kNow + absl::Seconds(30)).has_value());
  // Once the offers expire, their addresses come back, the declined one only
  // after its hour.
  std::vector<Ipv4Address> later;
  while (auto a = table->AllocateFree(first, last, kNow + absl::Minutes(2))) {
    later.push_back(*a);
    table->Put(MakeLease(*a, LeaseState::kBound, 200, kNow + absl::Hours(10)));
  }
  EXPECT_EQ(later.size(), 2u);  // .3 and .1 (.2 is bound, .4 declined)
  // After two hours the bound .2 (1 h) and the declined .4 have expired; the
  // rest are bound.
  std::vector<Ipv4Address> expired;
  while (auto a = table->AllocateFree(first, last, kNow + absl::Hours(2))) {
    expired.push_back(*a);
    table->Put(MakeLease(*a, LeaseState::kBound, 300, kNow + absl::Hours(10)));
  }
  std::sort(expired.begin(), expired.end());
  EXPECT_EQ(expired, (std::vector<Ipv4Address>{Ipv4Address(10, 0, 0, 2),
                                               Ipv4Address(10, 0, 0, 4)}));
}

TEST(LeaseTableTest, AllocateClipsToRanges) {
  auto table = LeaseTable::Create(
      {AddressRange{Ipv4Address(10, 0, 0, 10), Ipv4Address(10, 0, 0, 11)},
       AddressRange{Ipv4Address(10, 0, 0, 20), Ipv4Address(10, 0, 0, 20)}});
  ASSERT_TRUE(table.ok());
  std::vector<Ipv4Address> got;
  while (auto a = (*table)->AllocateFree(Ipv4Address(10, 0, 0, 0),
                                         Ipv4Address(10, 0, 0, 255), kNow)) {
    got.push_back(*a);
    (*table)->Put(
        MakeLease(*a, LeaseState::kOffered, 1, kNow + absl::Minutes(1)));
  }
  EXPECT_EQ(got, (std::vector<Ipv4Address>{Ipv4Address(10, 0, 0, 10),
                                           Ipv4Address(10, 0, 0, 11),
                                           Ipv4Address(10, 0, 0, 20)}));
  EXPECT_FALSE((*table)->AllocateFree(Ipv4Address(10, 0, 0, 12),
                                      Ipv4Address(10, 0, 0, 19), kNow));
}

TEST(LeaseTableTest, AllocateWholeSlash16ThenExhausted) {
  auto range = AddressRange::Hosts(Ipv4Address(198, 18, 0, 0), 16);
  auto table = *LeaseTable::Create({*range});
  std::vector<bool> seen(65536);
  for (uint32_t i = 0; i < range->size(); ++i) {
    auto a = table->AllocateFree(range->first, range->last, kNow);
    ASSERT_TRUE(a.has_value()) << i;
    ASSERT_FALSE(seen[a->value() & 0xffff]);
    seen[a->value() & 0xffff] = true;
    table->Put(MakeLease(*a, LeaseState::kBound, i, kNow + absl::Hours(1)));
  }
  EXPECT_EQ(table->bound_count(), 65534u);
  // Repeated calls on a full pool stay cheap: no sweep before the earliest
  // expiry.
  for (int i = 0; i < 100000; ++i) {
    ASSERT_FALSE(
        table->AllocateFree(range->first, range->last, kNow).has_value());
  }
  // After expiry every address is allocatable again.
  auto a =
      table->AllocateFree(range->first, range->last, kNow + absl::Hours(2));
  EXPECT_TRUE(a.has_value());
}

TEST(LeaseTableTest, MillionSlots) {
  // 172.16.0.0/12 minus network and broadcast: 1,048,574 slots.
  auto range = AddressRange::Hosts(Ipv4Address(172, 16, 0, 0), 12);
  auto table = *LeaseTable::Create({*range});
  ASSERT_EQ(table->size(), 1048574u);
  for (uint32_t i = 0; i < 1000000; ++i) {
    auto a = table->AllocateFree(range->first, range->last, kNow);
    ASSERT_TRUE(a.has_value());
    table->Put(MakeLease(*a, LeaseState::kBound, i, kNow + absl::Hours(1)));
  }
  EXPECT_EQ(table->bound_count(), 1000000u);
  for (uint32_t i = 0; i < 1000000; i += 9973) {
    const Lease* lease = table->FindByClient(Client(i));
    ASSERT_NE(lease, nullptr);
    EXPECT_EQ(table->Lookup(lease->address), *lease);
  }
}

// Every field of the lease written for counter n is derived from n, so a torn
// read (words from two different writes) is detectable.
Lease LeaseForCounter(Ipv4Address address, uint64_t n) {
  Lease lease;
  lease.address = address;
  lease.state = static_cast<LeaseState>(1 + n % 4);
  uint8_t id[32];
  for (int i = 0; i < 32; ++i) id[i] = static_cast<uint8_t>(n >> (8 * (i % 8)));
  lease.client =
      ClientKey::FromClientId(absl::Span<const uint8_t>(id, 8 + n % 25));
  for (int i = 0; i < 6; ++i) lease.mac[i] = static_cast<uint8_t>(n >> (8 * i));
  lease.expires = absl::FromUnixMicros(static_cast<int64_t>(n));
  return lease;
}

TEST(LeaseTableTest, ReadersNeverSeeTornSlots) {
  auto table = *LeaseTable::Create(
      {AddressRange{Ipv4Address(10, 0, 0, 0), Ipv4Address(10, 0, 0, 63)}});
  std::atomic<bool> done{false};
  std::atomic<uint64_t> checked{0};
  auto reader = [&](unsigned seed) {
    std::mt19937 rng(seed);
    uint64_t local = 0;
    while (!done.load(std::memory_order_relaxed)) {
      const Ipv4Address address(Ipv4Address(10, 0, 0, 0).value() + rng() % 64);
      absl::optional<Lease> got = table->Lookup(address);
      ASSERT_TRUE(got.has_value());
      ++local;
      if (got->state == LeaseState::kFree) continue;  // not yet written
      const uint64_t n =
          static_cast<uint64_t>(absl::ToUnixMicros(got->expires));
      ASSERT_EQ(*got, LeaseForCounter(address, n))
          << "torn read of counter " << n;
    }
    checked += local;
  };
  std::thread r1(reader, 1), r2(reader, 2);
  std::mt19937 rng(3);
  for (uint64_t n = 1; n <= 2000000; ++n) {
    table->Put(LeaseForCounter(
        Ipv4Address(Ipv4Address(10, 0, 0, 0).value() + rng() % 64), n));
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_GT(checked.load(), 0u);
}

}  // namespace
}  // namespace rackboot::dhcp
