// Bring-up events: what the services tell the daemon about hosts coming up,
// as domain facts ("file F reached client C over tftp", "lease acked for MAC
// M at IP A"), not as phases. One EventSink (the daemon's BringUpTracker,
// engine/site/bring_up_tracker.h) turns them into each host's phase, so a
// kernel fetched over HTTP counts exactly like one fetched over TFTP.
//
// Emitters run on any shard's thread, many at once; a sink must be
// thread-safe and cheap: no blocking I/O, only short locks (the tracker
// writes its file from the main thread). The events borrow nothing: they are
// plain values the sink may keep.
#ifndef RACKBOOT_ENGINE_DAEMON_EVENTS_H_
#define RACKBOOT_ENGINE_DAEMON_EVENTS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/io/socket_address.h"
#include "proto/dhcp/dhcp_options.h"

namespace rackboot::daemon {

enum class Transport { kTftp, kHttp };
inline absl::string_view TransportName(Transport transport) {
  return transport == Transport::kTftp ? "tftp" : "http";
}

// A file transfer ended (completely or not).
struct FileDelivered {
  Transport transport = Transport::kTftp;
  io::SocketAddress client;
  // The path beneath the boot tree as the profiles name it ("vmlinuz",
  // "pxelinux.cfg/01-..."): relative to tftp.root for TFTP and for HTTP's
  // /boot/ (without the "/boot/" prefix). Files of other HTTP routes keep
  // their route ("repo/...") and so never match a profile's kernel or initrd.
  std::string file;
  bool complete = false;
  uint64_t bytes = 0;      // that reached the client (all of it if complete)
  uint64_t file_size = 0;  // on the wire
};

// A DHCPACK left (after its lease was durable, authoritative or proxy mode).
struct LeaseAcked {
  std::array<uint8_t, 6> mac{};
  dhcp::Ipv4Address address;  // yiaddr; 0.0.0.0 from proxyDHCP
  std::string boot_file;      // option 67 / file field; "" when none was sent
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Any thread; must not block (see above).
  virtual void OnFileDelivered(const FileDelivered& event) = 0;
  virtual void OnLeaseAcked(const LeaseAcked& event) = 0;
  // To come with the installer's callbacks: OnInstallerPhase.
};

}  // namespace rackboot::daemon

#endif  // RACKBOOT_ENGINE_DAEMON_EVENTS_H_
