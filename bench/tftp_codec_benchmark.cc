// Micro benchmarks for the TFTP codec's per-packet work: parsing a request
// with options and an ACK, writing a DATA header and an OACK.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

using namespace std::string_literals;

absl::Span<const uint8_t> AsBytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

void BM_ParseRrqWithOptions(benchmark::State& state) {
  const std::string rrq =
      "\0\1boot/grub/x86_64-efi/core.efi\0octet\0blksize\0001468\0tsize\0000\0windowsize\00016\0"s;
  for (auto _ : state) {
    absl::StatusOr<TftpPacket> packet = ParseTftpPacket(AsBytes(rrq));
    benchmark::DoNotOptimize(packet);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRrqWithOptions);

void BM_ParseAck(benchmark::State& state) {
  const std::string ack = "\0\4\x12\x34"s;
  for (auto _ : state) {
    absl::StatusOr<TftpPacket> packet = ParseTftpPacket(AsBytes(ack));
    benchmark::DoNotOptimize(packet);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAck);

void BM_WriteDataHeader(benchmark::State& state) {
  std::array<uint8_t, kTftpHeaderSize> header;
  uint16_t block = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(WriteDataHeader(++block, header));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteDataHeader);

void BM_WriteOack(benchmark::State& state) {
  const std::vector<TftpOption> options = {
      {"blksize", "1468"}, {"tsize", "35651584"}, {"windowsize", "16"}};
  std::array<uint8_t, 512> out;
  for (auto _ : state) {
    absl::StatusOr<size_t> size = WriteOack(options, absl::MakeSpan(out));
    benchmark::DoNotOptimize(size);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteOack);

}  // namespace
}  // namespace rackboot
