// TftpService over real loopback sockets, on both reactor backends, on a
// daemon ShardGroup: the behaviour that needs a network between client and
// server (transfer IDs, retransmitted requests, silent clients) and the
// bring-up events.
#include "engine/tftp/tftp_service.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/daemon/events.h"
#include "engine/daemon/shard_group.h"
#include "engine/daemon/transfer_table.h"
#include "gtest/gtest.h"
#include "proto/tftp/tftp_packet.h"

namespace rackboot {
namespace {

namespace fs = std::filesystem;

// A plain UDP client socket on 127.0.0.1.
class Client {
 public:
  // `host`: an address of 127.0.0.0/8 (all of it is loopback on Linux).
  explicit Client(const char* host = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto any = io::SocketAddress::Parse(absl::StrCat(host, ":0"));
    EXPECT_TRUE(any.ok());
    EXPECT_EQ(bind(fd_, any->sockaddr_ptr(), any->sockaddr_len()), 0);
  }
  ~Client() { close(fd_); }

  void SendTo(const io::SocketAddress& to, const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(sendto(fd_, bytes.data(), bytes.size(), 0, to.sockaddr_ptr(),
                     to.sockaddr_len()),
              static_cast<ssize_t>(bytes.size()));
  }
  // The next datagram within `timeout`, with its source; nullopt on timeout.
  std::optional<std::pair<std::vector<uint8_t>, io::SocketAddress>> Receive(
      absl::Duration timeout = absl::Seconds(2)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, absl::ToInt64Milliseconds(timeout)) != 1)
      return std::nullopt;
    std::vector<uint8_t> buf(70000);
    sockaddr_storage from;
    socklen_t length = sizeof(from);
    ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0,
                         reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return std::nullopt;
    buf.resize(n);
    io::SocketAddress address;
    io::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&from), length,
                                    &address);
    return std::make_pair(buf, address);
  }

 private:
  int fd_;
};

std::vector<uint8_t> Rrq(const std::string& name,
                         std::vector<TftpOption> options = {}) {
  TftpRequest request;
  request.filename = name;
  request.options = std::move(options);
  std::vector<uint8_t> out(1024);
  out.resize(*WriteRequest(request, absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Ack(uint16_t block) {
  std::vector<uint8_t> out(4);
  WriteAck(block, std::span<uint8_t, 4>(out.data(), 4));
  return out;
}

TftpPacket Parse(const std::vector<uint8_t>& bytes) {
  auto packet = ParseTftpPacket(bytes);
  EXPECT_TRUE(packet.ok()) << packet.status();
  return packet.ok() ? *packet : TftpPacket(TftpAck{9999});
}

class TftpServiceTest : public ::testing::TestWithParam<io::IoBackend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tftp_service_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(fs::path(dir_) / "file") << std::string(1000, 'k');
  }
  void TearDown() override {
    if (shards_) shards_->Stop();
    shards_.reset();
    service_.reset();
    files_.reset();
    fs::remove_all(dir_);
  }
  void StartService(TftpLimits limits = {}) {
    TftpServiceOptions options;
    options.shard.limits = limits;
    StartService(options);
  }
  // `options` with the test's listen address and event sink, on `threads_`
  // shards of the test's backend, serving the test's root.
  void StartService(TftpServiceOptions options) {
    options.shard.listen = io::SocketAddress::Ipv4Loopback(0);
    options.shard.on_finished = [this](const TftpTransferReport& report) {
      absl::MutexLock lock(&mu_);
      reports_.push_back(report);
    };
    options.events = &events_;
    absl::StatusOr<FileRoot> root = FileRoot::Open(dir_);
    ASSERT_TRUE(root.ok()) << root.status();
    files_ = std::make_unique<FileCache>(*std::move(root));
    daemon::ShardGroupOptions group;
    group.name = "tftp-test";
    group.shards = threads_;
    group.io = GetParam();
    shards_ = std::make_unique<daemon::ShardGroup>(group);
    auto service =
        TftpService::Create(options, files_.get(), shards_->shards());
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    absl::Status started = shards_->Start({service_.get()});
    ASSERT_TRUE(started.ok()) << started;
  }
  // Waits until `predicate` holds, for up to 5 s.
  template <typename Predicate>
  bool Eventually(Predicate predicate) {
    for (int i = 0; i < 500; ++i) {
      if (predicate()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return predicate();
  }

  // Collects the bring-up events the service emits.
  class Events : public daemon::EventSink {
   public:
    void OnFileDelivered(const daemon::FileDelivered& event) override {
      absl::MutexLock lock(&mu);
      files.push_back(event);
    }
    void OnLeaseAcked(const daemon::LeaseAcked&) override {}
    absl::Mutex mu;
    std::vector<daemon::FileDelivered> files ABSL_GUARDED_BY(mu);
  };

  std::string dir_;
  int threads_ = 2;
  Events events_;
  std::unique_ptr<FileCache> files_;
  std::unique_ptr<daemon::ShardGroup> shards_;
  std::unique_ptr<TftpService> service_;
  absl::Mutex mu_;
  std::vector<TftpTransferReport> reports_ ABSL_GUARDED_BY(mu_);
};

// The ERROR a client got, or -1.
int ErrorCode(const std::vector<uint8_t>& datagram, std::string* message) {
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(datagram);
  if (!packet.ok()) return -1;
  const auto* error = std::get_if<TftpError>(&*packet);
  if (error == nullptr) return -1;
  *message = std::string(error->message);
  return error->code;
}

TEST_P(TftpServiceTest, StrangerGetsError5AndTheTransferGoesOn) {
  StartService();
  Client client, stranger;
  client.SendTo(service_->address(), Rrq("file"));
  auto data1 = client.Receive();
  ASSERT_TRUE(data1.has_value());
  const io::SocketAddress tid = data1->second;
  EXPECT_NE(tid.port(), service_->address().port());  // RFC 1350: a fresh port
  EXPECT_EQ(std::get<TftpData>(Parse(data1->first)).block, 1);

  stranger.SendTo(tid, Ack(1));
  auto error = stranger.Receive();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(std::get<TftpError>(Parse(error->first)).code,
            static_cast<uint16_t>(TftpErrorCode::kUnknownTransferId));
  EXPECT_EQ(error->second, tid);

  client.SendTo(tid, Ack(1));
  auto data2 = client.Receive();
  ASSERT_TRUE(data2.has_value());
  TftpData last = std::get<TftpData>(Parse(data2->first));
  EXPECT_EQ(last.block, 2);
  EXPECT_EQ(last.payload.size(), 1000u - 512u);
  client.SendTo(tid, Ack(2));
  EXPECT_TRUE(Eventually(
      [&] { return service_->counters().transfers_completed() == 1; }));
  EXPECT_EQ(service_->counters().unknown_tid(), 1u);
  EXPECT_EQ(service_->counters().Downloads("file"), 1u);
  EXPECT_EQ(service_->counters().transfers_active(), 0);
  // The same in the registry, read while the shards run.
  metrics::MetricsRegistry& registry = service_->metrics();
  EXPECT_EQ(registry.Value("rackboot_transfers_total", {"tftp", "complete"}),
            1);
  EXPECT_EQ(registry.Value("rackboot_transfer_bytes_total", {"tftp"}), 1000);
  EXPECT_EQ(registry.Value("rackboot_transfers_active", {"tftp"}), 0);
  EXPECT_EQ(registry.Value("rackboot_transfer_duration_seconds", {"tftp"}), 1);
  EXPECT_EQ(registry.Value("rackboot_tftp_unknown_tid_total", {}), 1);
  // The bring-up event: the whole file reached the client over TFTP.
  absl::MutexLock lock(&events_.mu);
  ASSERT_EQ(events_.files.size(), 1u);
  EXPECT_EQ(events_.files[0].transport, daemon::Transport::kTftp);
  EXPECT_EQ(events_.files[0].file, "file");
  EXPECT_TRUE(events_.files[0].complete);
  EXPECT_EQ(events_.files[0].bytes, 1000u);
  EXPECT_TRUE(
      absl::StartsWith(events_.files[0].client.ToString(), "127.0.0.1:"));
}

// A transfer in progress is listed in the TransferTable with the bytes the
// client acknowledged (GET /api/v1/transfers), and unlisted when it ends.
TEST_P(TftpServiceTest, TransferTableShowsProgress) {
  daemon::TransferTable transfers(4);
  TftpServiceOptions options;
  options.shard.transfers = &transfers;
  options.shard.transfer_list = 2;  // the service adds its shard index
  StartService(options);
  Client client;
  client.SendTo(service_->address(), Rrq("file"));
  auto data1 = client.Receive();
  ASSERT_TRUE(data1.has_value());
  std::vector<daemon::TransferInfo> now = transfers.Snapshot();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].transport, daemon::Transport::kTftp);
  EXPECT_EQ(now[0].file, "file");
  EXPECT_EQ(now[0].size, 1000u);
  EXPECT_EQ(now[0].bytes, 0u);
  EXPECT_TRUE(absl::StartsWith(now[0].client.ToString(), "127.0.0.1:"));
  EXPECT_LE(absl::Now() - now[0].started, absl::Seconds(5));
  client.SendTo(data1->second, Ack(1));
  auto data2 = client.Receive();
  ASSERT_TRUE(data2.has_value());
  now = transfers.Snapshot();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].bytes, 512u);
  EXPECT_EQ(transfers.Active(daemon::Transport::kTftp), 1u);
  client.SendTo(data2->second, Ack(2));
  EXPECT_TRUE(Eventually([&] { return transfers.Snapshot().empty(); }));
  EXPECT_EQ(service_->counters().transfers_completed(), 1u);
}

TEST_P(TftpServiceTest, RetransmittedRequestStartsNoSecondTransfer) {
  StartService();
  Client client;
  client.SendTo(service_->address(), Rrq("file"));
  client.SendTo(service_->address(), Rrq("file"));
  auto first = client.Receive();
  ASSERT_TRUE(first.has_value());
  // Exactly one DATA 1: the second RRQ was recognised as the same client.
  EXPECT_FALSE(client.Receive(absl::Milliseconds(300)).has_value());
  EXPECT_EQ(service_->counters().transfers_active(), 1);
}

TEST_P(TftpServiceTest, SilentClientIsRetriedThenAbandoned) {
  TftpLimits limits;
  limits.initial_timeout = absl::Milliseconds(20);
  limits.max_timeout = absl::Milliseconds(40);
  limits.max_retries = 2;
  StartService(limits);
  Client client;
  client.SendTo(service_->address(),
                Rrq("file", {{"blksize", "100"}, {"windowsize", "3"}}));
  auto oack = client.Receive();
  ASSERT_TRUE(oack.has_value());
  ASSERT_TRUE(std::holds_alternative<TftpOack>(Parse(oack->first)));
  client.SendTo(oack->second, Ack(0));
  int datagrams = 0;
  while (client.Receive(absl::Milliseconds(500)).has_value()) ++datagrams;
  EXPECT_EQ(datagrams, 3 * 3);  // the window, then twice again
  EXPECT_TRUE(
      Eventually([&] { return service_->counters().transfers_failed() == 1; }));
  EXPECT_EQ(service_->counters().transfers_active(), 0);
  EXPECT_EQ(service_->retransmits(), 6u);
}

TEST_P(TftpServiceTest, RefusalsAreCountedAndAnswered) {
  StartService();
  Client client;
  client.SendTo(service_->address(), Rrq("missing"));
  auto error = client.Receive();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(std::get<TftpError>(Parse(error->first)).code,
            static_cast<uint16_t>(TftpErrorCode::kFileNotFound));
  // A malformed request (no mode) gets ERROR 4; other junk on the port is
  // dropped.
  client.SendTo(service_->address(), {0, 1, 'f', 0});
  error = client.Receive();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(std::get<TftpError>(Parse(error->first)).code,
            static_cast<uint16_t>(TftpErrorCode::kIllegalOperation));
  client.SendTo(service_->address(), Ack(5));
  EXPECT_FALSE(client.Receive(absl::Milliseconds(200)).has_value());
  EXPECT_EQ(service_->counters().requests_refused(), 2u);
  EXPECT_EQ(service_->counters().malformed(), 2u);
}

// Downloads the rest of a lock-step transfer whose DATA 1 is `first`; returns
// the file.
std::string Finish(Client& client, const std::vector<uint8_t>& first,
                   const io::SocketAddress& tid) {
  std::string file;
  std::vector<uint8_t> datagram = first;
  for (;;) {
    TftpData data = std::get<TftpData>(Parse(datagram));
    file.append(data.payload.begin(), data.payload.end());
    client.SendTo(tid, Ack(data.block));
    if (data.payload.size() < kTftpDefaultBlockSize) return file;
    auto next = client.Receive();
    if (!next.has_value()) return "timeout";
    datagram = next->first;
  }
}

TEST_P(TftpServiceTest, ReplacedFileIsNewForNewTransfersOnly) {
  StartService();
  const std::string old_content(3000, 'o'), new_content(2000, 'n');
  std::ofstream(fs::path(dir_) / "kernel") << old_content;
  Client running;
  running.SendTo(service_->address(), Rrq("kernel"));
  auto first = running.Receive();
  ASSERT_TRUE(first.has_value());
  // Replace by rename, as package managers do, while the first transfer is
  // under way.
  std::ofstream(fs::path(dir_) / "kernel.new") << new_content;
  fs::rename(fs::path(dir_) / "kernel.new", fs::path(dir_) / "kernel");
  Client fresh;
  fresh.SendTo(service_->address(), Rrq("kernel"));
  auto fresh_first = fresh.Receive();
  ASSERT_TRUE(fresh_first.has_value());
  EXPECT_EQ(Finish(fresh, fresh_first->first, fresh_first->second),
            new_content);
  EXPECT_EQ(Finish(running, first->first, first->second), old_content);
  EXPECT_TRUE(Eventually(
      [&] { return service_->counters().transfers_completed() == 2; }));
  // Only the new version stays mapped (kept for the next host); the old one is
  // gone.
  EXPECT_TRUE(
      Eventually([&] { return service_->files().LiveMappings() == 1; }));
}

// One address, many source ports: SO_REUSEPORT spreads them over both
// shards, and the cap holds across them. Past it: ERROR 0 "Server busy".
TEST_P(TftpServiceTest, TransfersPerClientAddressAreCappedAcrossShards) {
  TftpServiceOptions options;
  options.max_per_client = 3;
  StartService(options);
  std::vector<std::unique_ptr<Client>> clients;
  int started = 0, busy = 0;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<Client>());
    clients.back()->SendTo(service_->address(), Rrq("file"));
    auto answer = clients.back()->Receive();
    ASSERT_TRUE(answer.has_value());
    std::string message;
    const int code = ErrorCode(answer->first, &message);
    if (code == -1) {
      ++started;
    } else {
      EXPECT_EQ(code, static_cast<int>(TftpErrorCode::kNotDefined));
      EXPECT_EQ(message, "Server busy");
      ++busy;
    }
  }
  EXPECT_EQ(started, 3);
  EXPECT_EQ(busy, 5);
  EXPECT_EQ(service_->counters().requests_busy(), 5u);
  // Another address is not held back.
  Client other("127.0.0.2");
  other.SendTo(service_->address(), Rrq("file"));
  auto answer = other.Receive();
  ASSERT_TRUE(answer.has_value());
  std::string message;
  EXPECT_EQ(ErrorCode(answer->first, &message), -1) << message;
}

// Like a SYN backlog: a full unconfirmed budget makes room by closing the
// oldest unconfirmed transfer; a confirmed one is never evicted.
TEST_P(TftpServiceTest, NewRequestEvictsTheOldestUnconfirmedTransfer) {
  TftpServiceOptions options;
  threads_ = 1;
  options.max_unconfirmed = 2;
  options.max_per_client = 0;
  StartService(options);
  Client confirmed, b, c, d, e;
  confirmed.SendTo(service_->address(), Rrq("file"));
  auto data1 = confirmed.Receive();
  ASSERT_TRUE(data1.has_value());
  confirmed.SendTo(data1->second, Ack(1));  // confirmed; DATA 2 outstanding
  auto data2 = confirmed.Receive();
  ASSERT_TRUE(data2.has_value());
  b.SendTo(service_->address(), Rrq("file"));
  auto b1 = b.Receive();
  ASSERT_TRUE(b1.has_value());
  c.SendTo(service_->address(), Rrq("file"));
  ASSERT_TRUE(c.Receive().has_value());
  d.SendTo(service_->address(), Rrq("file"));  // evicts b
  auto d1 = d.Receive();
  ASSERT_TRUE(d1.has_value());
  std::string message;
  EXPECT_EQ(ErrorCode(d1->first, &message), -1) << message;
  auto b_error = b.Receive();
  ASSERT_TRUE(b_error.has_value());
  EXPECT_EQ(ErrorCode(b_error->first, &message), 0);
  EXPECT_EQ(message, "Server busy");
  EXPECT_EQ(b_error->second, b1->second);      // from its transfer's port
  e.SendTo(service_->address(), Rrq("file"));  // evicts c
  ASSERT_TRUE(e.Receive().has_value());
  EXPECT_EQ(service_->counters().transfers_evicted(), 2u);
  // The confirmed transfer is untouched and completes.
  confirmed.SendTo(data2->second, Ack(2));
  EXPECT_TRUE(Eventually(
      [&] { return service_->counters().transfers_completed() == 1; }));
  EXPECT_EQ(service_->counters().transfers_active(), 2);
}

TEST_P(TftpServiceTest, ConfirmedTransfersFillingTheCapMeanBusy) {
  TftpServiceOptions options;
  threads_ = 1;
  options.max_transfers = 1;
  StartService(options);
  Client confirmed, late;
  confirmed.SendTo(service_->address(), Rrq("file"));
  auto data1 = confirmed.Receive();
  ASSERT_TRUE(data1.has_value());
  confirmed.SendTo(data1->second, Ack(1));
  ASSERT_TRUE(confirmed.Receive().has_value());
  late.SendTo(service_->address(), Rrq("file"));
  auto answer = late.Receive();
  ASSERT_TRUE(answer.has_value());
  std::string message;
  EXPECT_EQ(ErrorCode(answer->first, &message), 0);
  EXPECT_EQ(message, "Server busy");
  EXPECT_EQ(service_->counters().transfers_evicted(), 0u);
}

// The report of an aborted transfer counts what the client acknowledged, not
// the file size.
TEST_P(TftpServiceTest, AbortedTransferReportsBytesAcknowledged) {
  StartService();
  Client client;
  client.SendTo(service_->address(), Rrq("file"));  // 1000 bytes: 512 + 488
  auto data1 = client.Receive();
  ASSERT_TRUE(data1.has_value());
  client.SendTo(data1->second, Ack(1));
  ASSERT_TRUE(client.Receive().has_value());
  std::vector<uint8_t> error(64);
  error.resize(*WriteError(0, "cancelled", absl::MakeSpan(error)));
  client.SendTo(data1->second, error);
  ASSERT_TRUE(
      Eventually([&] { return service_->counters().transfers_failed() == 1; }));
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_FALSE(reports_[0].complete);
  EXPECT_EQ(reports_[0].bytes, 512u);
  EXPECT_EQ(reports_[0].bytes_sent, 1000u);
  EXPECT_EQ(reports_[0].file_size, 1000u);
}

// --tftp_zero_copy: windows leave by io_uring SENDMSG_ZC (7 datagrams per
// sendmsg; epoll copies), and the file still arrives byte for byte, in order.
TEST_P(TftpServiceTest, ZeroCopyWindowsDeliverTheFile) {
  std::string content(200000, '\0');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>((i * 7919) >> 5);
  }
  std::ofstream(fs::path(dir_) / "big") << content;
  TftpServiceOptions options;
  threads_ = 1;
  options.shard.zero_copy = true;
  StartService(options);
  Client client;
  client.SendTo(service_->address(),
                Rrq("big", {{"blksize", "1432"}, {"windowsize", "16"}}));
  auto oack = client.Receive();
  ASSERT_TRUE(oack.has_value());
  ASSERT_TRUE(std::holds_alternative<TftpOack>(Parse(oack->first)));
  const io::SocketAddress server = oack->second;
  client.SendTo(server, Ack(0));
  std::string received;
  uint16_t expected = 1;
  for (bool last = false; !last;) {
    for (int i = 0; i < 16 && !last; ++i) {
      auto datagram = client.Receive();
      ASSERT_TRUE(datagram.has_value()) << "block " << expected;
      TftpPacket packet = Parse(datagram->first);
      const auto* data = std::get_if<TftpData>(&packet);
      ASSERT_NE(data, nullptr);
      ASSERT_EQ(data->block, expected) << "order";
      received.append(reinterpret_cast<const char*>(data->payload.data()),
                      data->payload.size());
      last = data->payload.size() < 1432;
      ++expected;
    }
    client.SendTo(server, Ack(static_cast<uint16_t>(expected - 1)));
  }
  EXPECT_EQ(received.size(), content.size());
  EXPECT_TRUE(received == content) << "content differs";
  ASSERT_TRUE(Eventually(
      [&] { return service_->counters().transfers_completed() == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, TftpServiceTest,
                         ::testing::Values(io::IoBackend::kIoUring,
                                           io::IoBackend::kEpoll),
                         [](const auto& info) {
                           return std::string(io::IoBackendName(info.param));
                         });

}  // namespace
}  // namespace rackboot
