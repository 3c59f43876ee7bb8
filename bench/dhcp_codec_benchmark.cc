// Micro benchmarks of the DHCP codec on the PXE hot path: parse an iPXE
// DISCOVER, read the fields a boot server decides on, write an OFFER with PXE
// options into a reused buffer.
#include <array>
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "proto/dhcp/dhcp_message.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::dhcp {
namespace {

constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0xc6, 0x12, 0x22};

// Laid out as iPXE 1.21 on x64 UEFI sends it (options 53, 57, 93, 94, 60, 77,
// 55, 175, 61, 97; no padding).
std::vector<uint8_t> IpxeDiscover() {
  DhcpMessage m;
  m.xid = 0x1f2e3d4c;
  std::copy(kMac, kMac + 6, m.chaddr.begin());
  DhcpOptions& o = m.options;
  o.SetU8(kOptionMessageType, uint8_t(DhcpMessageType::kDiscover));
  o.SetU16(kOptionMaxMessageSize, 1472);
  o.SetU16(kOptionClientArchitecture, uint16_t(PxeArch::kEfiX64));
  o.SetBytes(kOptionClientNetworkInterface, std::vector<uint8_t>{1, 3, 10});
  o.SetString(kOptionVendorClassId, "PXEClient:Arch:00007:UNDI:003010");
  o.SetString(kOptionUserClass, "iPXE");
  o.SetBytes(kOptionParameterRequestList,
             std::vector<uint8_t>{1,   3,   6,   7,   12,  15,  17,  26,
                                  43,  60,  66,  67,  119, 128, 129, 130,
                                  131, 132, 133, 134, 135, 175, 203});
  o.SetBytes(
      kOptionIpxeEncapsulated,
      std::vector<uint8_t>{0xb1, 5, 1,    0x80, 0x86, 0x10, 0x0e, 0xeb, 1, 1,
                           0x13, 1, 1,    0x11, 1,    1,    0x19, 1,    1, 0x18,
                           1,    1, 0x23, 1,    1,    0x15, 1,    1});
  o.SetBytes(kOptionClientId, std::vector<uint8_t>{1, kMac[0], kMac[1], kMac[2],
                                                   kMac[3], kMac[4], kMac[5]});
  std::vector<uint8_t> uuid(17, 0x5a);
  uuid[0] = 0;
  o.SetBytes(kOptionClientMachineId, uuid);
  DhcpWriteOptions w;
  w.min_size = 0;
  return *SerializeDhcpMessage(m, w);
}

void BM_ParseIpxeDiscover(benchmark::State& state) {
  const std::vector<uint8_t> datagram = IpxeDiscover();
  for (auto _ : state) {
    absl::StatusOr<DhcpMessage> m = ParseDhcpMessage(datagram);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * datagram.size());
}
BENCHMARK(BM_ParseIpxeDiscover);

// Parse, then read what a PXE server decides on.
void BM_ParseAndReadPxeFields(benchmark::State& state) {
  const std::vector<uint8_t> datagram = IpxeDiscover();
  for (auto _ : state) {
    absl::StatusOr<DhcpMessage> m = ParseDhcpMessage(datagram);
    if (!m.ok()) state.SkipWithError("parse failed");
    const DhcpOptions& o = m->options;
    benchmark::DoNotOptimize(o.MessageType());
    benchmark::DoNotOptimize(o.MaxMessageSize());
    benchmark::DoNotOptimize(o.ClientArchitectures());
    benchmark::DoNotOptimize(o.ClientNetworkInterface());
    benchmark::DoNotOptimize(o.ClientMachineId());
    benchmark::DoNotOptimize(o.VendorClassId());
    benchmark::DoNotOptimize(o.UserClassContains("iPXE"));
    benchmark::DoNotOptimize(o.ClientId());
    benchmark::DoNotOptimize(m->MacAddress());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * datagram.size());
}
BENCHMARK(BM_ParseAndReadPxeFields);

DhcpMessage PxeOffer() {
  DhcpMessage m;
  m.op = kBootReply;
  m.xid = 0x1f2e3d4c;
  m.yiaddr = Ipv4Address(198, 18, 0, 150);
  m.siaddr = Ipv4Address(198, 18, 0, 1);
  std::copy(kMac, kMac + 6, m.chaddr.begin());
  (void)m.SetBootFileName("ipxe.efi");
  DhcpOptions& o = m.options;
  o.SetU8(kOptionMessageType, uint8_t(DhcpMessageType::kOffer));
  o.SetIpv4(kOptionServerIdentifier, Ipv4Address(198, 18, 0, 1));
  o.SetU32(kOptionLeaseTime, 3600);
  o.SetU32(kOptionRenewalTime, 1800);
  o.SetU32(kOptionRebindingTime, 3150);
  o.SetIpv4(kOptionSubnetMask, Ipv4Address(255, 255, 255, 0));
  o.SetIpv4(kOptionBroadcastAddress, Ipv4Address(198, 18, 0, 255));
  const Ipv4Address router[] = {Ipv4Address(198, 18, 0, 1)};
  o.SetIpv4List(kOptionRouter, router);
  o.SetString(kOptionVendorClassId, "PXEClient");
  PxeVendorOptions pxe;
  pxe.discovery_control = 8;
  o.SetBytes(kOptionVendorSpecific, *WritePxeVendorOptions(pxe));
  o.SetString(kOptionTftpServerName, "198.18.0.1");
  o.SetString(kOptionBootfileName, "ipxe.efi");
  return m;
}

// Write a prepared OFFER into a reused buffer (no allocation).
void BM_WritePxeOffer(benchmark::State& state) {
  const DhcpMessage offer = PxeOffer();
  DhcpWriteOptions w;
  w.max_message_size = 1472;
  std::array<uint8_t, 1500> buffer;
  size_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<size_t> n =
        WriteDhcpMessage(offer, w, absl::MakeSpan(buffer));
    benchmark::DoNotOptimize(buffer.data());
    bytes += *n;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_WritePxeOffer);

// Build the OFFER's options and write it, as a server does per request.
void BM_BuildAndWritePxeOffer(benchmark::State& state) {
  DhcpWriteOptions w;
  w.max_message_size = 1472;
  std::array<uint8_t, 1500> buffer;
  size_t bytes = 0;
  for (auto _ : state) {
    const DhcpMessage offer = PxeOffer();
    absl::StatusOr<size_t> n =
        WriteDhcpMessage(offer, w, absl::MakeSpan(buffer));
    benchmark::DoNotOptimize(buffer.data());
    bytes += *n;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_BuildAndWritePxeOffer);

}  // namespace
}  // namespace rackboot::dhcp
