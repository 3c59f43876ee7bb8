// Fuzzes the load tool's client state machines, TftpDownload, DhcpExchange
// and HttpDownload, with arbitrary server datagrams and byte streams. Any
// input, in any state: no crash, and whatever a machine queues must parse, go
// where the header says, and leave the machine in a consistent state (finished
// means no deadline).
//
// The input is one datagram, fed as is and split in two, to a download before
// the server answered and after an OACK, from the server's port and from a
// stranger's, and to a DHCP exchange while selecting and while requesting.
// The same input is also an HTTP response stream, fed whole, split at a point
// it names, and byte by byte (its first 2 KiB): the download must end the
// same way however the stream is cut, never take more body bytes than
// Content-Length nor more head than 8 KiB, and hand verify every body byte
// once, in order.
// Seeds: the captured TFTP and DHCP datagrams in tests/data, and HTTP
// responses in tools/load/testdata/http.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/dhcp/dhcp_message.h"
#include "proto/tftp/tftp_packet.h"
#include "tools/load/dhcp_exchange.h"
#include "tools/load/http_download.h"
#include "tools/load/tftp_download.h"

namespace rackboot::load {
namespace {

constexpr uint16_t kServerPort = 40000;
constexpr uint16_t kStranger = 40001;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void Drain(TftpDownload& d) {
  Check(d.Transmit().size() <= 1);
  for (absl::Span<const uint8_t> datagram : d.Transmit()) {
    Check(ParseTftpPacket(datagram).ok());
    Check(d.StrangerPort() == 0 || d.Destination() == d.StrangerPort());
  }
  d.ClearTransmit();
  Check(d.Transmit().empty() && d.StrangerPort() == 0);
  Check(!d.finished() || d.Deadline() == absl::InfiniteFuture());
  Check(d.stats().bytes <= d.stats().datagrams_received * 65464);
}

void FuzzTftp(absl::Span<const uint8_t> input, absl::Time now) {
  const std::string oack(
      "\x00\x06"
      "blksize\x00"
      "8\x00"
      "windowsize\x00"
      "4\x00",
      23);
  for (int variant = 0; variant < 4; ++variant) {
    TftpDownloadOptions options;
    options.filename = "f";
    options.blksize = 8;
    options.windowsize = 4;
    options.max_retries = 1;
    options.verify = [](uint64_t, absl::Span<const uint8_t> p) {
      return p.empty() || p[0] != 0xee;
    };
    TftpDownload d(options, now);
    Drain(d);
    if (variant >= 2) {
      d.OnDatagram(
          absl::Span<const uint8_t>(
              reinterpret_cast<const uint8_t*>(oack.data()), oack.size()),
          kServerPort, now);
      Drain(d);
    }
    const uint16_t port = variant % 2 == 0 ? kServerPort : kStranger;
    d.OnDatagram(input, port, now);
    Drain(d);
    d.OnDatagram(input.subspan(0, input.size() / 2), kServerPort, now);
    Drain(d);
    d.OnDatagram(input.subspan(input.size() / 2), kServerPort, now);
    Drain(d);
    for (int i = 0; i < 3 && !d.finished(); ++i) {
      d.OnDeadline(d.Deadline());
      Drain(d);
    }
    Check(d.finished());
  }
}

void DrainDhcp(DhcpExchange& x) {
  if (!x.Transmit().empty()) {
    absl::StatusOr<dhcp::DhcpMessage> m = dhcp::ParseDhcpMessage(x.Transmit());
    Check(m.ok() && m->xid == x.xid());
  }
  x.ClearTransmit();
  Check(x.Transmit().empty());
  Check(!x.finished() || x.Deadline() == absl::InfiniteFuture());
}

void FuzzDhcp(absl::Span<const uint8_t> input, absl::Time now) {
  // Replies name the xid and chaddr of the input when it has them, so the
  // exchange takes them rather than ignoring them.
  DhcpExchangeOptions options;
  options.max_retries = 1;
  absl::StatusOr<dhcp::DhcpMessage> parsed = dhcp::ParseDhcpMessage(input);
  if (parsed.ok()) {
    options.xid = parsed->xid;
    std::copy(parsed->chaddr.begin(), parsed->chaddr.begin() + 6,
              options.mac.begin());
  }
  for (int variant = 0; variant < 2; ++variant) {
    DhcpExchange x(options, now);
    DrainDhcp(x);
    if (variant == 1) {
      dhcp::DhcpMessage offer;
      offer.op = dhcp::kBootReply;
      offer.xid = options.xid;
      std::copy(options.mac.begin(), options.mac.end(), offer.chaddr.begin());
      offer.yiaddr = dhcp::Ipv4Address(10, 0, 0, 2);
      offer.options.SetU8(dhcp::kOptionMessageType,
                          static_cast<uint8_t>(dhcp::DhcpMessageType::kOffer));
      offer.options.SetIpv4(dhcp::kOptionServerIdentifier,
                            parsed.ok() && parsed->options.Has(54)
                                ? parsed->options.ServerIdentifier().value_or(
                                      dhcp::Ipv4Address(10, 0, 0, 1))
                                : dhcp::Ipv4Address(10, 0, 0, 1));
      absl::StatusOr<std::vector<uint8_t>> wire =
          dhcp::SerializeDhcpMessage(offer);
      Check(wire.ok());
      x.OnDatagram(*wire, now);
      DrainDhcp(x);
    }
    x.OnDatagram(input, now);
    DrainDhcp(x);
    for (int i = 0; i < 3 && !x.finished(); ++i) {
      x.OnDeadline(x.Deadline());
      DrainDhcp(x);
    }
    Check(x.finished());
  }
}

struct HttpRun {
  HttpDownloadResult result;
  uint64_t bytes;
  int status;
};

HttpRun FuzzHttpOnce(absl::Span<const uint8_t> input, size_t piece,
                     absl::Time now) {
  HttpDownloadOptions options;
  options.path = "/boot/f";
  options.host = "10.0.0.1";
  options.connected = true;
  uint64_t verified = 0;
  options.verify = [&verified](uint64_t offset, absl::Span<const uint8_t> p) {
    Check(offset == verified && !p.empty());
    // Fails on content, not on where the stream was cut.
    for (uint8_t b : p) {
      if (b == 0xee) return false;
    }
    verified += p.size();
    return true;
  };
  HttpDownload d(options, now);
  Check(!d.Transmit().empty());
  d.Sent(d.Transmit().size());
  for (size_t at = 0; at < input.size(); at += piece) {
    d.OnBytes(input.subspan(at, piece), now);
    Check(!d.finished() || d.Deadline() == absl::InfiniteFuture());
    Check(d.stats().head_bytes <= options.max_head_bytes);
    Check(d.stats().bytes == verified);
    Check(!d.stats().content_length.has_value() ||
          d.stats().bytes <= *d.stats().content_length);
  }
  if (d.result() == HttpDownloadResult::kOk) {
    Check(d.stats().status == 200 && d.stats().content_length.has_value() &&
          d.stats().bytes == *d.stats().content_length);
  }
  d.OnClosed("", now);
  Check(d.finished() && d.Transmit().empty());
  return {d.result(), d.stats().bytes, d.stats().status};
}

void FuzzHttp(absl::Span<const uint8_t> input, absl::Time now) {
  const HttpRun whole = FuzzHttpOnce(input, input.size() + 1, now);
  const size_t cut = input.empty() ? 1 : 1 + input[0] % input.size();
  const HttpRun split = FuzzHttpOnce(input, cut, now);
  // Cutting the stream changes nothing about how it ends, except that bytes
  // past the body in the same read are seen (kExtraBytes) and in a later one
  // are not (the runner's business: the connection is idle then), and the
  // body bytes taken before a mismatch depend on the cut.
  const auto same = [&whole](const HttpRun& other) {
    const auto ok_or_extra = [](HttpDownloadResult r) {
      return r == HttpDownloadResult::kOk ||
             r == HttpDownloadResult::kExtraBytes;
    };
    if (ok_or_extra(whole.result) && ok_or_extra(other.result)) return true;
    return other.result == whole.result && other.status == whole.status &&
           (whole.result == HttpDownloadResult::kContentMismatch ||
            other.bytes == whole.bytes);
  };
  Check(same(split));
  if (input.size() <= 2048) Check(same(FuzzHttpOnce(input, 1, now)));
}

}  // namespace
}  // namespace rackboot::load

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  rackboot::load::FuzzTftp(input, now);
  rackboot::load::FuzzDhcp(input, now);
  rackboot::load::FuzzHttp(input, now);
  return 0;
}
