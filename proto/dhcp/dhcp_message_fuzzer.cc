// Fuzz target for the DHCP codec: any input either fails to parse with a
// status, or parses into a message whose every accessor answers, which writes
// back to the same bytes (garbage after end options becomes zeros) and whose
// canonical re-encoding parses to an equal message. A violated invariant
// traps so libFuzzer (or the seed replay test) reports it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "proto/dhcp/dhcp_message.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::dhcp {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Calls every typed accessor; results are discarded, crashes are the finding.
void ReadEverything(const DhcpMessage& m) {
  const DhcpOptions& o = m.options;
  (void)o.SubnetMask();
  (void)o.Routers();
  (void)o.DnsServers();
  (void)o.HostName();
  (void)o.DomainName();
  (void)o.BroadcastAddress();
  (void)o.RequestedAddress();
  (void)o.LeaseTime();
  (void)o.Overload();
  (void)o.MessageType();
  (void)o.ServerIdentifier();
  (void)o.ParameterRequestList();
  (void)o.MaxMessageSize();
  (void)o.T1();
  (void)o.T2();
  (void)o.VendorClassId();
  (void)o.ClientId();
  (void)o.TftpServerName();
  (void)o.BootfileName();
  (void)o.UserClass();
  (void)o.UserClassContains("iPXE");
  (void)o.ClientArchitectures();
  (void)o.ClientNetworkInterface();
  (void)o.ClientMachineId();
  (void)m.MacAddress();
  (void)m.HardwareAddressString();
  (void)m.ServerName();
  (void)m.BootFileName();
  for (size_t i = 0; i < o.size(); ++i) {
    const uint8_t code = o.at(i).code;
    (void)o.GetU8(code);
    (void)o.GetU16(code);
    (void)o.GetU32(code);
    (void)o.GetIpv4(code);
    (void)o.GetIpv4List(code);
    (void)o.GetString(code);
    (void)o.GetBytes(code);
  }

  if (absl::StatusOr<absl::Span<const uint8_t>> ipxe = o.Ipxe(); ipxe.ok()) {
    (void)ParseSubOptions(*ipxe, SubOptionFormat::kPadEnd, 175);
  }
  if (auto raw = o.Find(kOptionVendorSpecific)) {
    absl::StatusOr<PxeVendorOptions> pxe = ParsePxeVendorOptions(*raw);
    if (pxe.ok()) {
      // Re-encoding a parsed value gives the same value.
      absl::StatusOr<std::vector<uint8_t>> wire = WritePxeVendorOptions(*pxe);
      if (wire.ok()) {
        absl::StatusOr<PxeVendorOptions> again = ParsePxeVendorOptions(*wire);
        Check(again.ok() && *again == *pxe);
      }
    }
  }
  if (auto raw = o.Find(kOptionRelayAgentInfo)) {
    // RFC 3046 2.2: the echo must be byte exact.
    absl::StatusOr<RelayAgentInfo> info = ParseRelayAgentInfo(*raw);
    if (info.ok()) {
      absl::StatusOr<std::vector<uint8_t>> wire = WriteRelayAgentInfo(*info);
      Check(wire.ok() &&
            std::equal(wire->begin(), wire->end(), raw->begin(), raw->end()));
    }
  }
}

// Writes `m` and parses the result back: it must be the same message.
void CheckRoundTrip(const DhcpMessage& m, const DhcpWriteOptions& options,
                    std::vector<uint8_t>& buffer) {
  absl::StatusOr<size_t> n =
      WriteDhcpMessage(m, options, absl::MakeSpan(buffer));
  if (!n.ok()) return;  // e.g. too large for max_message_size
  absl::StatusOr<DhcpMessage> again =
      ParseDhcpMessage(absl::MakeConstSpan(buffer.data(), *n));
  Check(again.ok() && *again == m);
}

void FuzzOne(const uint8_t* data, size_t size) {
  absl::StatusOr<DhcpMessage> m = ParseDhcpMessage({data, size});
  if (!m.ok()) return;
  ReadEverything(*m);

  // Unchanged, at its original size: always writable, the same length, and
  // the same bytes except garbage after an end option, which becomes zeros.
  std::vector<uint8_t> buffer(kMaxDatagramSize + 1);
  absl::StatusOr<size_t> n = WriteDhcpMessage(
      *m, DhcpWriteOptions::SameSizeAs(*m), absl::MakeSpan(buffer));
  Check(n.ok() && *n == size);
  for (size_t i = 0; i < size; ++i) {
    Check(buffer[i] == data[i] || buffer[i] == 0);
  }
  absl::StatusOr<DhcpMessage> again =
      ParseDhcpMessage(absl::MakeConstSpan(buffer.data(), *n));
  Check(again.ok() && *again == *m);

  // The writer's own layout (53 first, RFC 3396 splitting, overload when
  // needed) at the smallest and at a typical client limit.
  DhcpMessage canonical = *m;
  canonical.wire = {};
  DhcpWriteOptions options;
  CheckRoundTrip(canonical, options, buffer);
  options.max_message_size = 1500;
  CheckRoundTrip(canonical, options, buffer);
}

}  // namespace
}  // namespace rackboot::dhcp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::dhcp::FuzzOne(data, size);
  return 0;
}
