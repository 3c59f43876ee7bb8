#include "engine/dhcp/dhcp_probe.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/dhcp/dhcp_message.h"

namespace rackboot::dhcp {
namespace {

absl::Status Errno(absl::string_view what, const std::string& interface) {
  return absl::UnavailableError(absl::StrCat(
      "dhcp probe on '", interface, "': ", what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::vector<OtherDhcpServer>> ProbeForDhcpServers(
    const DhcpProbeOptions& options) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", options.interface);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, options.interface.c_str(),
                 options.interface.size()) != 0) {
    return Errno("SO_BINDTODEVICE", options.interface);
  }
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(options.client_port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return Errno(absl::StrCat("bind port ", options.client_port),
                 options.interface);
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, options.interface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0)
    return Errno("SIOCGIFHWADDR", options.interface);

  const uint8_t* hwaddr =
      reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data);
  std::random_device random;
  const int discovers = options.discovers >= 2 ? 2 : 1;
  uint32_t xids[2] = {random(), random()};
  if (xids[1] == xids[0]) ++xids[1];
  absl::Time sent_at[2] = {absl::InfiniteFuture(), absl::InfiniteFuture()};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(options.server_port);
  to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  auto send_discover = [&](int i) -> absl::Status {
    DhcpMessage discover;
    discover.xid = xids[i];
    discover.secs = static_cast<uint16_t>(i == 0 ? 0 : 2);
    discover.SetBroadcast(true);  // we have no address to receive a unicast on
    std::memcpy(discover.chaddr.data(), hwaddr, 6);
    discover.options.SetU8(kOptionMessageType,
                           static_cast<uint8_t>(DhcpMessageType::kDiscover));
    const uint8_t wanted[] = {kOptionSubnetMask, kOptionRouter,
                              kOptionServerIdentifier};
    discover.options.SetBytes(kOptionParameterRequestList, wanted);
    absl::StatusOr<std::vector<uint8_t>> bytes = SerializeDhcpMessage(discover);
    if (!bytes.ok()) return bytes.status();
    if (sendto(fd, bytes->data(), bytes->size(), 0,
               reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
      return Errno("sendto 255.255.255.255", options.interface);
    }
    sent_at[i] = absl::Now();
    return absl::OkStatus();
  };
  const absl::Time start = absl::Now();
  if (absl::Status s = send_discover(0); !s.ok()) return s;

  std::vector<OtherDhcpServer> servers;
  const absl::Time deadline = start + options.wait;
  const absl::Time second_at =
      discovers == 2 ? start + options.wait / 2 : absl::InfiniteFuture();
  bool second_sent = discovers < 2;
  std::vector<uint8_t> buffer(2048);
  for (absl::Time now = absl::Now(); now < deadline; now = absl::Now()) {
    if (!second_sent && now >= second_at) {
      second_sent = true;
      if (absl::Status s = send_discover(1); !s.ok()) return s;
      continue;
    }
    const absl::Time until = second_sent ? deadline : second_at;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1,
             static_cast<int>(absl::ToInt64Milliseconds(until - now)) + 1) <=
        0) {
      continue;
    }
    sockaddr_in from{};
    socklen_t from_length = sizeof(from);
    ssize_t n = recvfrom(fd, buffer.data(), buffer.size(), 0,
                         reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n <= 0) continue;
    absl::StatusOr<DhcpMessage> reply = ParseDhcpMessage(
        absl::MakeConstSpan(buffer.data(), static_cast<size_t>(n)));
    if (!reply.ok() || reply->op != kBootReply) continue;
    int which = -1;
    for (int i = 0; i < discovers; ++i) {
      if (reply->xid == xids[i] && sent_at[i] != absl::InfiniteFuture()) {
        which = i;
      }
    }
    if (which < 0) continue;
    absl::StatusOr<DhcpMessageType> type = reply->options.MessageType();
    if (!type.ok() || *type != DhcpMessageType::kOffer) continue;
    OtherDhcpServer server;
    server.server_identifier =
        reply->options.ServerIdentifier().value_or(Ipv4Address());
    server.source = Ipv4Address(ntohl(from.sin_addr.s_addr));
    server.offered = reply->yiaddr;
    server.after = absl::Now() - sent_at[which];
    const bool seen = std::any_of(
        servers.begin(), servers.end(), [&](const OtherDhcpServer& s) {
          return s.source == server.source &&
                 s.server_identifier == server.server_identifier;
        });
    if (!seen) servers.push_back(server);
  }
  return servers;
}

}  // namespace rackboot::dhcp
