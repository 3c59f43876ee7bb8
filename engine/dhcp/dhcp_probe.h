// ProbeForDhcpServers: asks the segment whether another DHCP server already
// answers there.
//
// Before an authoritative rackbootd starts handing out addresses it broadcasts
// DHCPDISCOVERs on its interface and listens for offers; two authoritative
// servers on one staging network make every bring-up a coin toss (the product's
// fourth safety rule). Blocking, for start-up only, on the calling thread.
//
// Why 5 s and two DISCOVERs: dnsmasq with its default settings pings an
// address before offering it and offers only when nothing answered for 3 s,
// so a 2 s probe missed it (issue 11). Two DISCOVERs with different xids
// (the second halfway through) survive the loss of one datagram, as a real
// client's retransmission would.
#ifndef RACKBOOT_ENGINE_DHCP_DHCP_PROBE_H_
#define RACKBOOT_ENGINE_DHCP_DHCP_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::dhcp {

struct OtherDhcpServer {
  Ipv4Address server_identifier;  // option 54
  Ipv4Address source;             // where the offer came from
  Ipv4Address offered;            // yiaddr
  absl::Duration after;           // since the DISCOVER it answered
};

struct DhcpProbeOptions {
  std::string interface;  // required: the probe goes out here only
  // How long to listen in all; the second DISCOVER leaves at wait / 2.
  absl::Duration wait = absl::Seconds(5);
  int discovers = 2;  // 1 or 2
  uint16_t server_port = 67;
  uint16_t client_port = 68;
};

// Every server that offered within `wait` (one entry per source and server
// identifier, its first offer), or an error naming the interface when the
// probe could not be sent.
absl::StatusOr<std::vector<OtherDhcpServer>> ProbeForDhcpServers(
    const DhcpProbeOptions& options);

}  // namespace rackboot::dhcp

#endif  // RACKBOOT_ENGINE_DHCP_DHCP_PROBE_H_
