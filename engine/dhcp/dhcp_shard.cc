#include "engine/dhcp/dhcp_shard.h"

#include <arpa/inet.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/io/udp_socket.h"
#include "engine/log/log_text.h"
#include "glog/logging.h"

namespace rackboot::dhcp {
namespace {

io::SocketAddress ToSocketAddress(Ipv4Address address, uint16_t port) {
  const uint32_t v = address.value();
  return io::SocketAddress::Ipv4(
      {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
       static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)},
      port);
}

Ipv4Address FromSocketAddress(const io::SocketAddress& address) {
  if (!address.is_ipv4()) return Ipv4Address();
  const auto* in = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
  return Ipv4Address(ntohl(in->sin_addr.s_addr));
}

}  // namespace

void ForEachLiveLease(const LeaseTable& table,
                      absl::FunctionRef<void(const Lease&)> emit) {
  for (const AddressRange& range : table.ranges()) {
    for (uint64_t a = range.first.value(); a <= range.last.value(); ++a) {
      const Lease* lease = table.Find(Ipv4Address(static_cast<uint32_t>(a)));
      if (lease != nullptr && lease->state != LeaseState::kFree &&
          lease->state != LeaseState::kOffered) {
        emit(*lease);
      }
    }
  }
}

DhcpShard::DhcpShard(io::Reactor* reactor, DhcpServer* server,
                     LeaseTable* leases, LeaseJournal* journal,
                     const DhcpShardOptions& options)
    : reactor_(reactor),
      server_(server),
      leases_(leases),
      journal_(journal),
      options_(options) {
  buffer_.resize(1500);
  published_ = server->counters();
}

DhcpShard::~DhcpShard() {
  journal_->SetOnDurable(nullptr);
  for (io::SocketToken token : {server_token_, proxy_token_}) {
    if (token.valid()) reactor_->Unwatch(token);
  }
}

absl::StatusOr<io::SocketToken> DhcpShard::BindPort(uint16_t port) {
  io::UdpSocketOptions socket_options;
  socket_options.bind_to_device = options_.interface;
  socket_options.recv_buffer_bytes = 8
                                     << 20;  // a power-on storm arrives at once
  absl::StatusOr<io::UdpSocket> socket =
      io::UdpSocket::Bind(io::SocketAddress::Ipv4Any(port), socket_options);
  if (!socket.ok()) {
    return absl::Status(
        socket.status().code(),
        absl::StrCat("dhcp port ", port, " on interface '", options_.interface,
                     "': ", socket.status().message()));
  }
  int on = 1;
  setsockopt(socket->fd(), SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
  return reactor_->Watch(*std::move(socket), this);
}

absl::Status DhcpShard::Start() {
  absl::StatusOr<io::SocketToken> server = BindPort(options_.server_port);
  if (!server.ok()) return server.status();
  server_token_ = *server;
  if (server_->config().mode == DhcpMode::kProxy) {
    absl::StatusOr<io::SocketToken> proxy = BindPort(options_.proxy_port);
    if (!proxy.ok()) return proxy.status();
    proxy_token_ = *proxy;
  }
  // The journal's writer thread wakes this loop after each sync; the posted
  // function runs on the shard thread (~DhcpShard clears the hook first).
  io::Reactor* reactor = reactor_;
  journal_->SetOnDurable(
      [reactor, this] { reactor->Post([this] { ReleaseDurable(); }); });
  return absl::OkStatus();
}

void DhcpShard::OnDatagram(io::SocketToken token,
                           absl::Span<const uint8_t> bytes,
                           const io::SocketAddress& from, absl::Time) {
  absl::StatusOr<DhcpMessage> request = ParseDhcpMessage(bytes);
  if (!request.ok()) {
    ++counters_.malformed;
    options_.metrics.malformed.Add(1);
    uint64_t suppressed = 0;
    if (malformed_log_.Allow(absl::Now(), &suppressed)) {
      // The parser's message may quote the datagram: escaped.
      LOG(WARNING) << "dhcp: undecodable datagram from " << from.ToString()
                   << ": " << log::Escaped(request.status().message())
                   << log::SuppressedNote(suppressed);
    }
    return;
  }
  DhcpRequestContext context;
  context.source = FromSocketAddress(from);
  context.source_port = from.port();
  context.local_port =
      token == proxy_token_ ? options_.proxy_port : options_.server_port;
  // Leases are wall-clock: they must mean the same after a restart.
  absl::optional<DhcpReply> reply =
      server_->Handle(*request, context, absl::Now());
  {
    int type = 5;  // other: BOOTP, no or a server's message type
    if (absl::StatusOr<DhcpMessageType> t = request->options.MessageType();
        t.ok()) {
      switch (*t) {
        case DhcpMessageType::kDiscover:
          type = 0;
          break;
        case DhcpMessageType::kRequest:
          type = 1;
          break;
        case DhcpMessageType::kDecline:
          type = 2;
          break;
        case DhcpMessageType::kRelease:
          type = 3;
          break;
        case DhcpMessageType::kInform:
          type = 4;
          break;
        default:
          break;
      }
    }
    int outcome = 3;  // ignored
    if (reply.has_value()) {
      outcome = reply->type == DhcpMessageType::kOffer ? 0
                : reply->type == DhcpMessageType::kNak ? 2
                                                       : 1;
    }
    options_.metrics.messages[type][outcome].Add(1);
    PublishServerCounters();
  }
  if (!reply.has_value()) {
    // RELEASE and DECLINE change leases without a reply: their records must
    // reach the disk all the same (a lost DECLINE would put an address in use
    // back into the pool).
    journal_->Commit();
    return;
  }
  // One line per answer: what an operator watching a bring-up needs. Built only
  // when INFO is logged (load tests run with --minloglevel=1, as Kea is run at
  // WARN for its figures); written by reply_log_'s thread in batches.
  if (FLAGS_minloglevel <= google::GLOG_INFO) {
    const DhcpOptions& o = reply->message.options;
    absl::StatusOr<absl::string_view> host = o.HostName();
    absl::StatusOr<absl::string_view> boot = o.BootfileName();
    reply_line_.clear();
    absl::StrAppend(&reply_line_, "dhcp ", DhcpMessageTypeName(reply->type),
                    " ", reply->message.yiaddr.ToString(), " to ",
                    request->HardwareAddressString());
    if (host.ok())
      absl::StrAppend(&reply_line_, " (", log::Escaped(*host), ")");
    if (boot.ok()) absl::StrAppend(&reply_line_, " boot=", log::Escaped(*boot));
    if (!request->giaddr.IsUnspecified()) {
      absl::StrAppend(&reply_line_, " via relay ", request->giaddr.ToString());
    }
    reply_log_.Info(__FILE__, __LINE__, reply_line_);
  }
  if (options_.on_reply) options_.on_reply(*reply);
  absl::StatusOr<size_t> n = WriteDhcpMessage(
      reply->message, {.max_message_size = reply->max_message_size},
      absl::MakeSpan(buffer_));
  if (!n.ok()) {
    LOG_EVERY_N(ERROR, 100) << "dhcp: cannot encode reply: " << n.status();
    return;
  }
  const absl::Span<const uint8_t> bytes_out =
      absl::MakeConstSpan(buffer_.data(), *n);
  const io::SocketAddress to = Destination(*reply);
  if (reply->durable_seq > journal_->durable()) {
    // Not on disk yet: the reply waits for the journal's next group commit.
    held_.push_back({reply->durable_seq, token,
                     std::vector<uint8_t>(bytes_out.begin(), bytes_out.end()),
                     to});
    ++counters_.replies_held;
    journal_->Commit();
    return;
  }
  SendBytes(token, bytes_out, to);
}

void DhcpShard::PublishServerCounters() {
  const DhcpServerCounters& now = server_->counters();
  const DhcpShardMetrics& m = options_.metrics;
  m.pxe_install.Add(now.pxe_install - published_.pxe_install);
  m.pxe_localboot.Add(now.pxe_localboot - published_.pxe_localboot);
  m.pxe_unknown.Add(now.pxe_unknown - published_.pxe_unknown);
  m.no_subnet.Add(now.no_subnet - published_.no_subnet);
  m.pool_exhausted.Add(now.pool_exhausted - published_.pool_exhausted);
  m.not_for_us.Add(now.not_for_us - published_.not_for_us);
  m.bad_request.Add(now.malformed - published_.malformed);
  published_ = now;
}

io::SocketAddress DhcpShard::Destination(const DhcpReply& reply) {
  const io::SocketAddress broadcast =
      ToSocketAddress(Ipv4Address(255, 255, 255, 255), options_.client_port);
  switch (reply.delivery) {
    case DhcpReply::Delivery::kBroadcast:
      return broadcast;
    case DhcpReply::Delivery::kUnicastHw:
      return WriteArpEntry(reply.to, reply.mac)
                 ? ToSocketAddress(reply.to, options_.client_port)
                 : broadcast;
    case DhcpReply::Delivery::kUnicast:
      break;
  }
  // Ports 67 and 68 stand for the configured ones, so tests can move them.
  const uint16_t port = reply.port == 68   ? options_.client_port
                        : reply.port == 67 ? options_.server_port
                                           : reply.port;
  return ToSocketAddress(reply.to, port);
}

void DhcpShard::SendBytes(io::SocketToken via, absl::Span<const uint8_t> bytes,
                          const io::SocketAddress& to) {
  io::OutDatagram datagram{bytes, {}};
  io::SendOptions send;
  send.to = to;
  absl::Status sent =
      reactor_->Send(via, absl::MakeConstSpan(&datagram, 1), send);
  if (sent.ok()) {
    ++counters_.replies_sent;
  } else {
    LOG_EVERY_N(ERROR, 100)
        << "dhcp: send to " << to.ToString() << ": " << sent;
  }
}

void DhcpShard::ReleaseDurable() {
  const uint64_t durable = journal_->durable();
  while (!held_.empty() && held_.front().seq <= durable) {
    HeldReply& reply = held_.front();
    SendBytes(reply.via, reply.bytes, reply.to);
    held_.pop_front();
  }
  if (!held_.empty() && !journal_->status().ok()) {
    // The disk failed: a lease that is not on disk must not be acknowledged.
    LOG_EVERY_N(ERROR, 100)
        << "dhcp: lease journal failed (" << journal_->status()
        << "); dropping " << held_.size() << " acknowledgements";
    counters_.journal_stalls += held_.size();
    held_.clear();
  }
  if (held_.empty() && journal_->ShouldCompact()) {
    // Rewrites the journal as the live set. It blocks this thread for the
    // length of one write of the table (measured in docs/dhcp.md), once per
    // compact_after_bytes of journal.
    absl::Status compacted =
        journal_->Compact([this](absl::FunctionRef<void(const Lease&)> emit) {
          ForEachLiveLease(*leases_, emit);
        });
    LOG_IF(ERROR, !compacted.ok())
        << "dhcp: journal compaction failed: " << compacted;
    ++counters_.compactions;
  }
}

bool DhcpShard::WriteArpEntry(Ipv4Address address,
                              const std::array<uint8_t, 6>& mac) {
  // RFC 2131 4.1: a client without an address gets its reply at its hardware
  // address. The kernel resolves the UDP destination through ARP, so teach it
  // the answer first.
  if (!options_.write_arp_entries || options_.interface.empty() ||
      arp_denied_) {
    return false;
  }
  arpreq request;
  std::memset(&request, 0, sizeof(request));
  auto* pa = reinterpret_cast<sockaddr_in*>(&request.arp_pa);
  pa->sin_family = AF_INET;
  pa->sin_addr.s_addr = htonl(address.value());
  request.arp_ha.sa_family = ARPHRD_ETHER;
  std::memcpy(request.arp_ha.sa_data, mac.data(), mac.size());
  request.arp_flags = ATF_COM;
  std::strncpy(request.arp_dev, options_.interface.c_str(),
               sizeof(request.arp_dev) - 1);
  if (ioctl(reactor_->fd(server_token_), SIOCSARP, &request) != 0) {
    ++counters_.arp_failures;
    if (errno == EPERM) {
      // Expected once rackbootd has dropped root: stop asking.
      arp_denied_ = true;
      LOG(WARNING) << "dhcp: no permission to add ARP entries on "
                   << options_.interface
                   << " (rackbootd holds no capability once its sockets are "
                      "bound, so CAP_NET_ADMIN, root's or the unit's, is "
                      "gone by now); replies to clients without an address "
                      "are broadcast instead, as RFC 2131 section 4.1 "
                      "allows and every DHCP client accepts: nothing to do. "
                      "A client that ignores broadcast replies needs a "
                      "DHCP relay in front of it (replies then go to the "
                      "relay) (docs/operations.md, \"Capabilities\")";
      return false;
    }
    LOG_EVERY_N(WARNING, 100)
        << "dhcp: cannot add an ARP entry for " << address.ToString() << " on "
        << options_.interface << " (" << std::strerror(errno)
        << "); broadcasting instead";
    return false;
  }
  return true;
}

}  // namespace rackboot::dhcp
