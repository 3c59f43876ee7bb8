#include "tools/load/dhcp_exchange.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "proto/dhcp/dhcp_message.h"

namespace rackboot::load {

const char* DhcpExchangeResultName(DhcpExchangeResult result) {
  switch (result) {
    case DhcpExchangeResult::kRunning:
      return "running";
    case DhcpExchangeResult::kOk:
      return "ok";
    case DhcpExchangeResult::kNak:
      return "nak";
    case DhcpExchangeResult::kTimeout:
      return "timeout";
    case DhcpExchangeResult::kNoBootFile:
      return "no_boot_file";
  }
  return "unknown";
}

std::array<uint8_t, 17> DhcpExchange::MachineId(
    const std::array<uint8_t, 6>& mac) {
  // Type 0, then a UUID that is stable per MAC (a server may key on it) and
  // recognisable in captures: "rbld" (rackboot load), version 4 and variant
  // bits set as RFC 4122 lays them out, the MAC last.
  return {0,    'r', 'b',    'l',    'd',    0,      0,      0x40,  0,
          0x80, 0,   mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]};
}

DhcpExchange::DhcpExchange(const DhcpExchangeOptions& options, absl::Time now)
    : options_(options) {
  stats_.started = now;
  Queue(dhcp::DhcpMessageType::kDiscover, now);
  deadline_ = now + options_.timeout;
}

void DhcpExchange::Queue(dhcp::DhcpMessageType type, absl::Time now) {
  using namespace dhcp;  // NOLINT: the option codes
  DhcpMessage m;
  m.op = kBootRequest;
  m.htype = kHtypeEthernet;
  m.hlen = 6;
  m.xid = options_.xid;
  m.SetBroadcast(true);
  if (!options_.relay.IsUnspecified()) {
    // As a relay agent forwards it (RFC 1542 4.1.1).
    m.giaddr = options_.relay;
    m.hops = 1;
  }
  std::copy(options_.mac.begin(), options_.mac.end(), m.chaddr.begin());
  m.options.Reserve(12, 96);
  m.options.SetU8(kOptionMessageType, static_cast<uint8_t>(type));
  m.options.SetU16(kOptionMaxMessageSize, 1472);
  static constexpr uint8_t kRequested[] = {1,  3,  6,  12, 15, 28, 43,
                                           60, 66, 67, 93, 94, 97};
  m.options.SetBytes(kOptionParameterRequestList, kRequested);
  m.options.SetString(
      kOptionVendorClassId,
      absl::StrFormat("PXEClient:Arch:%05u:UNDI:002001", options_.client_arch));
  m.options.SetU16(kOptionClientArchitecture, options_.client_arch);
  static constexpr uint8_t kUndi[] = {1, 2, 1};  // UNDI 2.1, as option 60 says
  m.options.SetBytes(kOptionClientNetworkInterface, kUndi);
  const std::array<uint8_t, 17> machine_id = MachineId(options_.mac);
  m.options.SetBytes(kOptionClientMachineId, machine_id);
  uint8_t client_id[7] = {kHtypeEthernet};
  std::copy(options_.mac.begin(), options_.mac.end(), client_id + 1);
  m.options.SetBytes(kOptionClientId, client_id);
  if (type == DhcpMessageType::kRequest) {
    m.options.SetIpv4(kOptionRequestedAddress, offered_);
    m.options.SetIpv4(kOptionServerIdentifier, server_);
  }
  absl::StatusOr<size_t> written =
      WriteDhcpMessage(m, {.max_message_size = kOutSize + kIpUdpHeaderSize},
                       absl::MakeSpan(out_));
  // Cannot fail: every field above has a fixed size that fits kOutSize.
  out_size_ = written.ok() ? static_cast<uint16_t>(*written) : 0;
  SetSecs(now);
}

void DhcpExchange::SetSecs(absl::Time now) {
  if (out_size_ == 0) return;
  // RFC 2131 table 5: seconds since the client began acquiring.
  const int64_t secs = std::clamp<int64_t>(
      absl::ToInt64Seconds(now - stats_.started), 0, 0xffff);
  out_[dhcp::kOffsetSecs] = static_cast<uint8_t>(secs >> 8);
  out_[dhcp::kOffsetSecs + 1] = static_cast<uint8_t>(secs);
}

absl::Span<const uint8_t> DhcpExchange::Transmit() const {
  if (!pending_) return {};
  return absl::Span<const uint8_t>(out_.data(), out_size_);
}

void DhcpExchange::ClearTransmit() { pending_ = false; }

absl::Time DhcpExchange::Deadline() const {
  return finished() ? absl::InfiniteFuture() : deadline_;
}

void DhcpExchange::OnDatagram(absl::Span<const uint8_t> datagram,
                              absl::Time now) {
  using namespace dhcp;  // NOLINT: the option codes
  if (finished()) return;
  absl::StatusOr<DhcpMessage> reply = ParseDhcpMessage(datagram);
  if (!reply.ok()) {
    ++stats_.malformed;
    return;
  }
  absl::StatusOr<DhcpMessageType> type = reply->options.MessageType();
  if (reply->op != kBootReply || reply->xid != options_.xid ||
      reply->MacAddress() != options_.mac || !type.ok()) {
    // Another client's (a runner may share one socket), our own broadcast
    // looped back, or plain BOOTP.
    ++stats_.ignored;
    return;
  }
  absl::StatusOr<Ipv4Address> server_id = reply->options.ServerIdentifier();
  if (!requesting_) {
    // SELECTING: the first usable OFFER wins (RFC 2131 4.4.1 lets the client
    // choose; a load tool takes the first to measure the fastest server).
    if (*type != DhcpMessageType::kOffer || !server_id.ok() ||
        reply->yiaddr.IsUnspecified()) {
      ++stats_.ignored;
      return;
    }
    requesting_ = true;
    offered_ = reply->yiaddr;
    server_ = *server_id;
    stats_.offered = now;
    retries_ = 0;
    Queue(DhcpMessageType::kRequest, now);
    pending_ = true;
    deadline_ = now + options_.timeout;
    return;
  }
  // REQUESTING: only the chosen server's answer counts; others saw our
  // REQUEST name another server and must not answer (RFC 2131 4.3.2).
  if ((*type != DhcpMessageType::kAck && *type != DhcpMessageType::kNak) ||
      (server_id.ok() && *server_id != server_)) {
    ++stats_.ignored;
    return;
  }
  pending_ = false;
  if (*type == DhcpMessageType::kNak) {
    Finish(DhcpExchangeResult::kNak, now);
    return;
  }
  lease_.address = reply->yiaddr;
  lease_.server = server_;
  lease_.next_server = reply->siaddr;
  if (lease_.next_server.IsUnspecified()) {
    // Option 66 is a name; some servers put an address there.
    absl::StatusOr<absl::string_view> name = reply->options.TftpServerName();
    if (name.ok()) {
      absl::StatusOr<Ipv4Address> address = Ipv4Address::Parse(*name);
      if (address.ok()) lease_.next_server = *address;
    }
  }
  lease_.boot_file = std::string(reply->BootFileName());
  if (lease_.boot_file.empty()) {
    absl::StatusOr<absl::string_view> file = reply->options.BootfileName();
    if (file.ok()) lease_.boot_file = std::string(*file);
  }
  absl::StatusOr<uint32_t> lease_time = reply->options.LeaseTime();
  lease_.lease_seconds = lease_time.ok() ? *lease_time : 0;
  Finish(lease_.boot_file.empty() && lease_.next_server.IsUnspecified()
             ? DhcpExchangeResult::kNoBootFile
             : DhcpExchangeResult::kOk,
         now);
}

void DhcpExchange::OnDeadline(absl::Time now) {
  if (finished() || now < deadline_) return;
  ++stats_.timeouts;
  if (retries_ >= options_.max_retries) {
    pending_ = false;
    Finish(DhcpExchangeResult::kTimeout, now);
    return;
  }
  ++retries_;
  ++stats_.retransmits;
  // The same message, only secs moves: no rebuild, no allocation.
  SetSecs(now);
  pending_ = out_size_ != 0;
  deadline_ = now + options_.timeout;
}

void DhcpExchange::Finish(DhcpExchangeResult result, absl::Time now) {
  result_ = result;
  stats_.finished = now;
  deadline_ = absl::InfiniteFuture();
}

}  // namespace rackboot::load
