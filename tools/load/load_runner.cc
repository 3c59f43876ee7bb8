#include "tools/load/load_runner.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/io/socket_address.h"
#include "engine/io/udp_socket.h"
#include "glog/logging.h"
#include "tools/load/dhcp_exchange.h"
#include "tools/load/http_download.h"
#include "tools/load/tftp_download.h"

namespace rackboot::load {

std::string FlowStep::Name() const {
  switch (kind) {
    case Kind::kDhcp:
      return "dhcp";
    case Kind::kTftp:
      return absl::StrCat("tftp:", path);
    case Kind::kHttp:
      return absl::StrCat("http:", path);
  }
  return "";
}

absl::StatusOr<std::vector<FlowStep>> ParseFlow(absl::string_view text) {
  std::vector<FlowStep> flow;
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "--flow is empty: give the steps, e.g. --flow=dhcp,tftp:/pxelinux.0");
  }
  for (absl::string_view step : absl::StrSplit(text, ',')) {
    FlowStep s;
    if (step == "dhcp") {
      if (!flow.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--flow=", text, ": dhcp may only be the first step"));
      }
      s.kind = FlowStep::Kind::kDhcp;
    } else if (absl::ConsumePrefix(&step, "tftp:")) {
      if (step.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--flow=", text, ": tftp: needs a file name (tftp:/pxelinux.0)"));
      }
      s.kind = FlowStep::Kind::kTftp;
      s.path = std::string(step);
    } else if (absl::ConsumePrefix(&step, "http:")) {
      bool visible = true;
      for (unsigned char c : step) visible = visible && c > 0x20 && c < 0x7f;
      if (step.empty() || step[0] != '/' || step.size() > 2048 || !visible) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--flow=", text, ": http: needs a URL path starting with '/' ",
            "(http:/boot/vmlinuz), at most 2048 visible ASCII bytes, "
            "percent-encoded"));
      }
      s.kind = FlowStep::Kind::kHttp;
      s.path = std::string(step);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--flow=", text, ": unknown step '", step,
          "'; steps are dhcp (first only), tftp:PATH and http:/PATH"));
    }
    flow.push_back(std::move(s));
  }
  if (flow.size() > 250) {
    return absl::InvalidArgumentError("--flow: at most 250 steps");
  }
  return flow;
}

absl::StatusOr<io::SocketAddress> ParseHttpServer(absl::string_view text) {
  const std::string with_port = absl::StrContains(text, ':')
                                    ? std::string(text)
                                    : absl::StrCat(text, ":80");
  absl::StatusOr<io::SocketAddress> a = io::SocketAddress::Parse(with_port);
  if (!a.ok() || a->port() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_server=", text,
                     ": want ADDRESS or ADDRESS:PORT, e.g. 198.18.0.1:8080"));
  }
  return *a;
}

absl::StatusOr<std::vector<uint8_t>> ParseMacBase(absl::string_view text) {
  std::vector<uint8_t> bytes;
  for (absl::string_view part : absl::StrSplit(text, absl::ByAnyChar(":-"))) {
    uint32_t value = 0;
    if (part.empty() || part.size() > 2 || !absl::SimpleHexAtoi(part, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mac_base=", text,
                       ": expected 1 to 5 hex bytes separated by ':', "
                       "e.g. 02:52:42"));
    }
    bytes.push_back(static_cast<uint8_t>(value));
  }
  if (bytes.empty() || bytes.size() > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--mac_base=", text, ": give 1 to 5 bytes (the rest numbers clients)"));
  }
  if (bytes[0] & 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mac_base=", text,
                     ": the first byte has the multicast bit set; use an even "
                     "first byte such as 02 (locally administered)"));
  }
  return bytes;
}

absl::StatusOr<std::array<uint8_t, 6>> ClientMac(
    const std::vector<uint8_t>& base, uint64_t index) {
  std::array<uint8_t, 6> mac{};
  const size_t free_bytes = 6 - std::min<size_t>(base.size(), 6);
  if (free_bytes < 8 && (index >> (8 * free_bytes)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("client ", index, " does not fit in the ", free_bytes,
                     " bytes --mac_base leaves; use a shorter --mac_base"));
  }
  for (size_t i = 0; i < 6; ++i) {
    if (i < base.size()) {
      mac[i] = base[i];
    } else {
      mac[i] = static_cast<uint8_t>(index >> (8 * (5 - i)));
    }
  }
  return mac;
}

namespace {

// Clients started in one loop iteration at most, and how soon the next batch
// may follow: "all at once" still reaches the server as a steep ramp rather
// than one burst that only fills socket buffers.
constexpr uint64_t kMaxStartsPerBatch = 2000;
constexpr absl::Duration kBatchInterval = absl::Milliseconds(1);
constexpr absl::Duration kProgressInterval = absl::Milliseconds(250);

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

io::SocketAddress ToSocketAddress(dhcp::Ipv4Address a, uint16_t port) {
  const uint32_t v = a.value();
  return io::SocketAddress::Ipv4(
      {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
       static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)},
      port);
}

struct MappedFile {
  std::string path;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

enum class ClientState : uint8_t { kIdle, kRunning, kDone, kFailed };

// One simulated machine. Small (the state machines live on the heap only
// while their step runs), so 100,000 clients cost a few MiB.
struct Client {
  std::array<uint8_t, 6> mac{};
  ClientState state = ClientState::kIdle;
  uint8_t step = 0;
  absl::Time started;
  absl::Time step_started;
  std::unique_ptr<DhcpExchange> dhcp;
  absl::Time dhcp_armed = absl::InfiniteFuture();  // its entry in the heap
  std::unique_ptr<TftpDownload> tftp;
  io::SocketToken tftp_token;
  absl::Time tftp_armed = absl::InfiniteFuture();
  // When the download's first RRQ left (see StampRrqs); retransmits keep it.
  absl::Time tftp_rrq_sent;
  dhcp::Ipv4Address tftp_server;
  dhcp::Ipv4Address leased;  // yiaddr of its ACK (--tftp_from_lease)
  // The HTTP step's download, and the host's one TCP connection (kept
  // between its http steps while the server allows it).
  std::unique_ptr<HttpDownload> http;
  io::SocketToken http_conn;
  absl::Time http_armed = absl::InfiniteFuture();
  dhcp::Ipv4Address http_host;  // from the lease; unused with --http_server
};

// A DHCP exchange's deadline. Entries are never removed early: an entry is
// stale (skipped when popped) once its client's dhcp_armed moved on.
struct HeapEntry {
  absl::Time deadline;
  uint32_t client;
  bool operator>(const HeapEntry& o) const { return deadline > o.deadline; }
};

}  // namespace

class LoadRunner::Impl : public io::ReactorHandler, public io::StreamHandler {
 public:
  explicit Impl(LoadOptions options) : options_(std::move(options)) {}
  ~Impl() override {
    for (MappedFile& m : verify_) {
      if (m.data != nullptr) {
        munmap(const_cast<uint8_t*>(m.data), m.size);
      }
    }
  }

  absl::Status Init();
  absl::StatusOr<LoadReport> Run();

  void OnDatagram(io::SocketToken token, absl::Span<const uint8_t> bytes,
                  const io::SocketAddress& from, absl::Time now) override;
  // Both handlers' deadlines (UDP sockets and TCP streams) arrive here.
  void OnDeadline(io::SocketToken token, absl::Time now) override;
  void OnStreamData(io::SocketToken token, absl::Span<const uint8_t> bytes,
                    absl::Time now) override;
  void OnStreamEof(io::SocketToken token, absl::Time now) override;
  void OnStreamClosed(io::SocketToken token, const absl::Status& reason,
                      absl::Time now) override;
  void OnStreamConnected(io::SocketToken token, absl::Time now) override;

 private:
  absl::Status MapVerifyFiles();
  absl::Status OpenDhcpSocket();

  void StartDue(absl::Time now);
  void StartClient(uint32_t i, absl::Time now);
  void StartStep(uint32_t i, absl::Time now);
  void StartDhcp(uint32_t i, absl::Time now);
  void StartTftp(uint32_t i, absl::Time now);
  void StartHttp(uint32_t i, absl::Time now);
  void AfterHttp(uint32_t i, absl::Time now);
  void FinishHttp(uint32_t i, absl::Time now);
  void CountHttpStats(const HttpDownload& d, uint32_t step);
  void CloseHttp(Client& c, io::CloseMode mode);
  io::SocketAddress HttpServerFor(const Client& c) const;
  // The client whose socket or stream `token` is; false for a stale one.
  bool ClientOf(io::SocketToken token, uint32_t* client) const;
  void Register(io::SocketToken token, uint32_t client);
  void Unregister(io::SocketToken token);
  void AfterDhcp(uint32_t i, absl::Time now);
  void AfterTftp(uint32_t i, absl::Time now);
  void FinishDhcp(uint32_t i, absl::Time now);
  void FinishTftp(uint32_t i, absl::Time now);
  void NextStep(uint32_t i, absl::Time now);
  void FailClient(uint32_t i, const std::string& kind);
  void CountDhcpStats(const DhcpExchange& x);
  void CountTftpStats(const Client& c);
  void StampRrqs();
  void ReleaseDhcp(Client& c);
  void ReleaseTftp(Client& c);
  void ArmDhcpToken();
  void StopAll();
  LoadOptions::Progress CurrentProgress(absl::Time now) const;
  const MappedFile* VerifyFor(size_t download_step_ordinal) const;

  LoadOptions options_;
  std::unique_ptr<io::Reactor> reactor_;
  bool has_dhcp_ = false;
  bool has_http_ = false;
  size_t download_steps_ = 0;  // tftp and http steps
  // flow step -> index among the download steps (for --verify)
  std::vector<size_t> download_ordinal_;
  std::vector<MappedFile> verify_;
  io::SocketToken dhcp_token_;
  io::SocketAddress dhcp_destination_;
  absl::Time dhcp_token_deadline_ = absl::InfiniteFuture();
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>>
      dhcp_heap_;
  std::vector<HeapEntry> due_;  // OnDeadline's scratch, reused
  absl::flat_hash_map<uint32_t, uint32_t> xid_to_client_;
  // Reactor slot index -> (token value, client); slots are reused by the
  // reactor, so this stays as large as the most sockets open at once.
  struct TokenSlot {
    uint64_t token = 0;
    uint32_t client = 0;
  };
  std::vector<TokenSlot> token_slots_;
  std::vector<Client> clients_;

  uint64_t started_ = 0;
  uint64_t running_ = 0;
  uint64_t completed_ = 0;
  uint64_t failed_ = 0;
  uint64_t finished_tftp_bytes_ = 0;
  uint64_t finished_http_bytes_ = 0;
  uint64_t socket_errors_logged_ = 0;
  // io_uring: clients whose first RRQ is queued but not yet submitted.
  std::vector<uint32_t> rrq_unsubmitted_;
  absl::Time run_start_;
  absl::Time next_batch_;
  LoadReport report_;
};

absl::Status LoadRunner::Impl::Init() {
  const LoadOptions& o = options_;
  if (o.clients == 0) {
    return absl::InvalidArgumentError("--clients must be at least 1");
  }
  if (o.flow.empty()) {
    return absl::InvalidArgumentError(
        "--flow is empty: give the steps, e.g. --flow=dhcp,tftp:/pxelinux.0");
  }
  bool http_only = true;
  for (const FlowStep& step : o.flow) {
    http_only = http_only && step.kind == FlowStep::Kind::kHttp;
  }
  if (o.server.IsUnspecified() && !http_only) {
    return absl::InvalidArgumentError(
        "--server is missing: the server's IPv4 address, e.g. "
        "--server=198.18.0.1");
  }
  if (!(o.rate >= 0) || std::isinf(o.rate)) {
    return absl::InvalidArgumentError(
        "--rate must be a number of clients per second >= 0 (0: all at once)");
  }
  if (o.duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be >= 0 (0: no bound)");
  }
  if (o.blksize < 8 || o.blksize > 65464) {
    return absl::InvalidArgumentError(
        absl::StrCat("--blksize=", o.blksize, ": must be 8..65464 (RFC 2348)"));
  }
  if (o.windowsize < 1) {
    return absl::InvalidArgumentError("--windowsize must be 1..65535");
  }
  if (o.dhcp_retries < 0 || o.tftp_retries < 0) {
    return absl::InvalidArgumentError(
        "--dhcp_retries and --tftp_retries must be >= 0");
  }
  if (o.dhcp_timeout <= absl::ZeroDuration() ||
      o.tftp_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--dhcp_timeout and --tftp_timeout must be > 0");
  }
  if (o.mac_base.empty() || o.mac_base.size() > 5) {
    return absl::InvalidArgumentError("--mac_base: give 1 to 5 bytes");
  }
  if (absl::StatusOr<std::array<uint8_t, 6>> last =
          ClientMac(o.mac_base, o.first_client + o.clients - 1);
      !last.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--clients=", o.clients, ": ", last.status().message()));
  }
  if (o.clients > (uint64_t{1} << 31)) {
    return absl::InvalidArgumentError("--clients: at most 2^31");
  }
  download_ordinal_.assign(o.flow.size(), 0);
  for (size_t i = 0; i < o.flow.size(); ++i) {
    if (o.flow[i].kind == FlowStep::Kind::kDhcp) {
      has_dhcp_ = true;
    } else {
      if (o.flow[i].kind == FlowStep::Kind::kHttp) has_http_ = true;
      download_ordinal_[i] = download_steps_++;
    }
  }
  if (!o.verify.empty() && o.verify.size() != 1 &&
      o.verify.size() != download_steps_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--verify names ", o.verify.size(), " files but the flow has ",
        download_steps_,
        " download steps (tftp and http): give one per download step, in "
        "flow order, or one for all"));
  }
  if (has_http_ && !has_dhcp_ && !o.http_server.has_value()) {
    return absl::InvalidArgumentError(
        "--http_server is required for http steps without dhcp in the flow "
        "(with dhcp the lease's next-server is used), e.g. "
        "--http_server=198.18.0.1:80");
  }
  if (o.http_connect_timeout <= absl::ZeroDuration() ||
      o.http_first_byte_timeout <= absl::ZeroDuration() ||
      o.http_stall_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--http_connect_timeout, --http_first_byte_timeout and "
        "--http_stall_timeout must be > 0");
  }
  if (absl::Status s = MapVerifyFiles(); !s.ok()) return s;

  // Receive buffers: a DATA datagram of blksize (or a DHCP reply, up to an
  // Ethernet MTU), the 44 bytes io_uring puts before it, and slack. Many of
  // them, since thousands of transfers deliver into one shared ring; capped
  // at 128 MiB for large block sizes.
  io::ReactorOptions ro;
  uint32_t size = std::max<uint32_t>(o.blksize + 4, 1500) + 44 + 64;
  // TCP streams receive into the same ring: larger buffers mean fewer
  // completions per MiB of HTTP body.
  if (has_http_) size = std::max<uint32_t>(size, 64 << 10);
  size = (size + 63) & ~63u;
  uint32_t count = 16384;
  while (count > 256 && uint64_t{count} * size > (uint64_t{128} << 20)) {
    count /= 2;
  }
  ro.recv_buffer_count = count;
  ro.recv_buffer_size = size;
  ro.sq_entries = 4096;
  ro.cq_entries = 32768;
  absl::StatusOr<std::unique_ptr<io::Reactor>> reactor =
      io::CreateReactor(o.io, ro);
  if (!reactor.ok()) return reactor.status();
  reactor_ = *std::move(reactor);
  report_.io_backend = std::string(io::IoBackendName(reactor_->backend()));

  if (has_dhcp_) {
    if (absl::Status s = OpenDhcpSocket(); !s.ok()) return s;
  }
  clients_.resize(o.clients);
  for (uint64_t i = 0; i < o.clients; ++i) {
    clients_[i].mac = *ClientMac(o.mac_base, o.first_client + i);
  }
  report_.server = http_only && o.http_server.has_value()
                       ? o.http_server->ToString()
                       : o.server.ToString();
  report_.clients = o.clients;
  for (const FlowStep& step : o.flow) {
    report_.flow.push_back(step.Name());
    PhaseReport phase;
    phase.name = step.Name();
    report_.phases.push_back(std::move(phase));
  }
  return absl::OkStatus();
}

absl::Status LoadRunner::Impl::MapVerifyFiles() {
  for (const std::string& path : options_.verify) {
    MappedFile m;
    m.path = path;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--verify=", path, ": ", std::strerror(errno)));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("--verify=", path, ": not a regular file"));
    }
    m.size = static_cast<size_t>(st.st_size);
    if (m.size > 0) {
      void* p = mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        close(fd);
        return absl::InternalError(
            absl::StrCat("--verify=", path, ": mmap: ", std::strerror(e)));
      }
      m.data = static_cast<const uint8_t*>(p);
    }
    close(fd);
    verify_.push_back(std::move(m));
  }
  return absl::OkStatus();
}

absl::Status LoadRunner::Impl::OpenDhcpSocket() {
  io::UdpSocketOptions so;
  so.bind_to_device = options_.interface;
  // Sibling runners (--threads) bind the same port; broadcast replies reach
  // every one of them and each keeps the xids it owns.
  so.reuse_port = options_.share_dhcp_port;
  // Thousands of replies may arrive between two loop iterations.
  so.recv_buffer_bytes = 8 << 20;
  so.send_buffer_bytes = 4 << 20;
  io::SocketAddress local;
  if (options_.relay.has_value()) {
    // As a relay agent: the server answers giaddr's port 67 by unicast.
    local = ToSocketAddress(*options_.relay, options_.dhcp_server_port);
    dhcp_destination_ =
        ToSocketAddress(options_.server, options_.dhcp_server_port);
  } else {
    if (options_.interface.empty()) {
      return absl::InvalidArgumentError(
          "--interface is missing: direct DHCP broadcasts on an interface "
          "(e.g. --interface=eth0); or relay with --relay=GIADDR");
    }
    local = io::SocketAddress::Ipv4Any(options_.dhcp_client_port);
    dhcp_destination_ = io::SocketAddress::Ipv4({255, 255, 255, 255},
                                                options_.dhcp_server_port);
  }
  absl::StatusOr<io::UdpSocket> socket = io::UdpSocket::Bind(local, so);
  if (!socket.ok()) {
    return absl::Status(
        socket.status().code(),
        absl::StrCat("DHCP socket: ", socket.status().message(),
                     options_.relay.has_value()
                         ? " (--relay must be an address of this host)"
                         : " (is a DHCP client already on port 68?)"));
  }
  const int on = 1;
  if (setsockopt(socket->fd(), SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) !=
      0) {
    return absl::InternalError(
        absl::StrCat("SO_BROADCAST: ", std::strerror(errno)));
  }
  absl::StatusOr<io::SocketToken> token =
      reactor_->Watch(*std::move(socket), this);
  if (!token.ok()) return token.status();
  dhcp_token_ = *token;
  return absl::OkStatus();
}

const MappedFile* LoadRunner::Impl::VerifyFor(size_t ordinal) const {
  if (verify_.empty()) return nullptr;
  if (verify_.size() == 1) return &verify_[0];
  return &verify_[ordinal];
}

absl::StatusOr<LoadReport> LoadRunner::Impl::Run() {
  // One non-blocking iteration so that Now() is fresh.
  if (absl::Status s = reactor_->RunOnce(absl::ZeroDuration()); !s.ok()) {
    return s;
  }
  run_start_ = reactor_->Now();
  next_batch_ = run_start_;
  const absl::Time end = options_.duration > absl::ZeroDuration()
                             ? run_start_ + options_.duration
                             : absl::InfiniteFuture();
  absl::Time next_progress = run_start_ + kProgressInterval;
  absl::Time now = run_start_;
  for (;;) {
    now = reactor_->Now();
    StartDue(now);
    if (started_ == options_.clients && running_ == 0) break;
    if (now >= end) {
      StopAll();
      break;
    }
    if (options_.progress && now >= next_progress) {
      options_.progress(CurrentProgress(now));
      next_progress = now + kProgressInterval;
    }
    absl::Time wake = end;
    if (options_.progress) wake = std::min(wake, next_progress);
    if (started_ < options_.clients) {
      absl::Time next_start = next_batch_;
      if (options_.rate > 0) {
        next_start = std::max(
            next_start,
            run_start_ +
                absl::Seconds(static_cast<double>(started_) / options_.rate));
      }
      wake = std::min(wake, next_start);
    }
    absl::Duration wait = std::max(wake - now, absl::ZeroDuration());
    wait = std::min(wait, absl::Seconds(1));
    StampRrqs();
    if (absl::Status s = reactor_->RunOnce(wait); !s.ok()) return s;
  }
  // Lets the last queued sends (final ACKs, io_uring) leave.
  (void)reactor_->RunOnce(absl::ZeroDuration());
  report_.wall_seconds = absl::ToDoubleSeconds(now - run_start_);
  if (options_.progress) options_.progress(CurrentProgress(now));
  report_.completed = completed_;
  report_.failed = failed_;
  if (started_ < options_.clients) {
    const uint64_t never = options_.clients - started_;
    report_.failed += never;
    report_.errors["not-started"] += never;
  }
  return report_;
}

void LoadRunner::Impl::StartDue(absl::Time now) {
  if (started_ >= options_.clients || now < next_batch_) return;
  uint64_t target = options_.clients;
  if (options_.rate > 0) {
    const double due =
        std::floor(absl::ToDoubleSeconds(now - run_start_) * options_.rate) + 1;
    target = std::min<uint64_t>(target, static_cast<uint64_t>(due));
  }
  if (target <= started_) return;
  const uint64_t n = std::min(target - started_, kMaxStartsPerBatch);
  for (uint64_t k = 0; k < n; ++k) {
    StartClient(static_cast<uint32_t>(started_), now);
  }
  if (n == kMaxStartsPerBatch) next_batch_ = now + kBatchInterval;
}

void LoadRunner::Impl::StartClient(uint32_t i, absl::Time now) {
  ++started_;
  ++running_;
  Client& c = clients_[i];
  c.state = ClientState::kRunning;
  c.started = now;
  c.step = 0;
  c.tftp_server = options_.server;
  StartStep(i, now);
}

void LoadRunner::Impl::StartStep(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  c.step_started = now;
  switch (options_.flow[c.step].kind) {
    case FlowStep::Kind::kDhcp:
      StartDhcp(i, now);
      return;
    case FlowStep::Kind::kTftp:
      StartTftp(i, now);
      return;
    case FlowStep::Kind::kHttp:
      StartHttp(i, now);
      return;
  }
}

void LoadRunner::Impl::StartDhcp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  // A repeatable xid per (seed, client); a collision with a running exchange
  // moves on to the next free one, so every reply has one owner.
  uint32_t xid = static_cast<uint32_t>(
      SplitMix64(options_.seed * 0x100000001ULL + options_.first_client + i));
  while (xid == 0 || xid_to_client_.contains(xid)) ++xid;
  xid_to_client_.emplace(xid, i);
  DhcpExchangeOptions xo;
  xo.mac = c.mac;
  xo.xid = xid;
  xo.client_arch = options_.arch;
  if (options_.relay.has_value()) xo.relay = *options_.relay;
  xo.timeout = options_.dhcp_timeout;
  xo.max_retries = options_.dhcp_retries;
  c.dhcp = std::make_unique<DhcpExchange>(xo, now);
  c.dhcp_armed = absl::InfiniteFuture();
  ++report_.dhcp.started;
  AfterDhcp(i, now);
}

void LoadRunner::Impl::AfterDhcp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  DhcpExchange& x = *c.dhcp;
  absl::Span<const uint8_t> out = x.Transmit();
  if (!out.empty()) {
    io::OutDatagram datagram{out, {}};
    io::SendOptions send;
    send.to = dhcp_destination_;
    absl::Status s =
        reactor_->Send(dhcp_token_, absl::MakeConstSpan(&datagram, 1), send);
    LOG_IF(ERROR, !s.ok()) << "DHCP send: " << s;
  }
  x.ClearTransmit();
  if (x.finished()) {
    FinishDhcp(i, now);
    return;
  }
  const absl::Time deadline = x.Deadline();
  if (deadline != c.dhcp_armed) {
    c.dhcp_armed = deadline;
    if (deadline != absl::InfiniteFuture()) {
      dhcp_heap_.push({deadline, i});
      if (deadline < dhcp_token_deadline_) {
        dhcp_token_deadline_ = deadline;
        reactor_->SetDeadline(dhcp_token_, deadline);
      }
    }
  }
}

void LoadRunner::Impl::ArmDhcpToken() {
  while (!dhcp_heap_.empty()) {
    const HeapEntry& top = dhcp_heap_.top();
    const Client& c = clients_[top.client];
    if (c.dhcp != nullptr && c.dhcp_armed == top.deadline) break;
    dhcp_heap_.pop();  // stale: moved, or the exchange ended
  }
  if (dhcp_heap_.empty()) {
    dhcp_token_deadline_ = absl::InfiniteFuture();
    reactor_->CancelDeadline(dhcp_token_);
    return;
  }
  dhcp_token_deadline_ = dhcp_heap_.top().deadline;
  reactor_->SetDeadline(dhcp_token_, dhcp_token_deadline_);
}

void LoadRunner::Impl::CountDhcpStats(const DhcpExchange& x) {
  const DhcpExchangeStats& s = x.stats();
  report_.dhcp.retransmits += s.retransmits;
  report_.dhcp.timeouts += s.timeouts;
  // `offered` is left at its default until an OFFER arrives.
  if (s.offered > absl::Time() && s.offered >= s.started) {
    ++report_.dhcp.offers;
    report_.dhcp.offer.Record(s.offered - s.started);
  }
}

void LoadRunner::Impl::ReleaseDhcp(Client& c) {
  if (c.dhcp == nullptr) return;
  xid_to_client_.erase(c.dhcp->xid());
  c.dhcp.reset();
  c.dhcp_armed = absl::InfiniteFuture();  // its heap entry is now stale
}

void LoadRunner::Impl::FinishDhcp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  const DhcpExchange& x = *c.dhcp;
  CountDhcpStats(x);
  const DhcpExchangeResult result = x.result();
  const bool tftp_follows = c.step + 1u < options_.flow.size();
  PhaseReport& phase = report_.phases[c.step];
  if (result == DhcpExchangeResult::kOk ||
      result == DhcpExchangeResult::kNoBootFile) {
    ++report_.dhcp.acked;
  }
  if (result == DhcpExchangeResult::kNak) ++report_.dhcp.naks;
  // A DHCP-only flow wants the lease, not a boot file.
  const bool ok = result == DhcpExchangeResult::kOk ||
                  (result == DhcpExchangeResult::kNoBootFile && !tftp_follows);
  if (!ok) {
    const char* kind = result == DhcpExchangeResult::kNak       ? "nak"
                       : result == DhcpExchangeResult::kTimeout ? "dhcp-timeout"
                       : result == DhcpExchangeResult::kNoBootFile
                           ? "no-boot-file"
                           : "dhcp-other";
    ReleaseDhcp(c);
    FailClient(i, kind);
    return;
  }
  const absl::Duration took = now - x.stats().started;
  report_.dhcp.dora.Record(took);
  ++phase.ok;
  phase.latency.Record(now - c.step_started);
  if (options_.tftp_server.has_value()) {
    c.tftp_server = *options_.tftp_server;
  } else if (!x.lease().next_server.IsUnspecified()) {
    c.tftp_server = x.lease().next_server;
  }
  c.leased = x.lease().address;
  c.http_host = !x.lease().next_server.IsUnspecified() ? x.lease().next_server
                : !x.lease().server.IsUnspecified()    ? x.lease().server
                                                       : options_.server;
  ReleaseDhcp(c);
  NextStep(i, now);
}

void LoadRunner::Impl::StartTftp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  if (options_.tftp_server.has_value()) c.tftp_server = *options_.tftp_server;
  io::UdpSocketOptions so;
  so.bind_to_device = options_.interface;
  // A window of large blocks must fit while the loop is busy elsewhere.
  so.recv_buffer_bytes =
      std::max(256 << 10, 4 * static_cast<int>(options_.windowsize) *
                              (static_cast<int>(options_.blksize) + 64));
  io::SocketAddress local = io::SocketAddress::Ipv4Any(0);
  if (options_.tftp_from_lease && !c.leased.IsUnspecified()) {
    const uint32_t a = c.leased.value();
    local = io::SocketAddress::Ipv4(
        {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
         static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)},
        0);
  }
  absl::StatusOr<io::UdpSocket> socket = io::UdpSocket::Bind(local, so);
  absl::StatusOr<io::SocketToken> token =
      socket.ok() ? reactor_->Watch(*std::move(socket), this)
                  : absl::StatusOr<io::SocketToken>(socket.status());
  if (!token.ok()) {
    if (socket_errors_logged_++ < 5) {
      LOG(ERROR) << "TFTP socket: " << token.status()
                 << (token.status().message().find("Too many") !=
                             std::string::npos
                         ? " (raise ulimit -n, or lower --clients/--rate)"
                         : "");
    }
    FailClient(i, "socket-error");
    return;
  }
  const FlowStep& step = options_.flow[c.step];
  TftpDownloadOptions to;
  to.filename = step.path;
  to.blksize = options_.blksize;
  to.windowsize = options_.windowsize;
  to.timeout = options_.tftp_timeout;
  to.max_retries = options_.tftp_retries;
  if (const MappedFile* m = VerifyFor(download_ordinal_[c.step]);
      m != nullptr) {
    to.expected_size = m->size;
    to.verify = [m](uint64_t offset, absl::Span<const uint8_t> payload) {
      return offset <= m->size && payload.size() <= m->size - offset &&
             (payload.empty() || std::memcmp(m->data + offset, payload.data(),
                                             payload.size()) == 0);
    };
  }
  c.tftp = std::make_unique<TftpDownload>(std::move(to), now);
  c.tftp_token = *token;
  c.tftp_armed = absl::InfiniteFuture();
  Register(*token, i);
  // The loop's `now` was read before this iteration's work (up to 2,000
  // sockets opened per batch): the clock now is nearer the send. With
  // io_uring the send waits for the next RunOnce: StampRrqs() restamps it.
  c.tftp_rrq_sent = io::MonotonicNow();
  if (reactor_->backend() == io::IoBackend::kIoUring) {
    rrq_unsubmitted_.push_back(i);
  }
  AfterTftp(i, now);
}

void LoadRunner::Impl::AfterTftp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  TftpDownload& d = *c.tftp;
  const std::vector<absl::Span<const uint8_t>>& out = d.Transmit();
  for (absl::Span<const uint8_t> datagram : out) {
    // ERROR 5 (unknown TID) goes to the stranger that caused it.
    const bool stranger_error = datagram.size() >= 4 && datagram[0] == 0 &&
                                datagram[1] == 5 && datagram[2] == 0 &&
                                datagram[3] == 5;
    uint16_t port = stranger_error ? d.StrangerPort() : d.Destination();
    if (port == 0) port = options_.tftp_port;
    io::OutDatagram od{datagram, {}};
    io::SendOptions send;
    send.to = ToSocketAddress(c.tftp_server, port);
    absl::Status s =
        reactor_->Send(c.tftp_token, absl::MakeConstSpan(&od, 1), send);
    LOG_IF(ERROR, !s.ok()) << "TFTP send: " << s;
  }
  d.ClearTransmit();
  if (d.finished()) {
    FinishTftp(i, now);
    return;
  }
  const absl::Time deadline = d.Deadline();
  if (deadline != c.tftp_armed) {
    c.tftp_armed = deadline;
    if (deadline == absl::InfiniteFuture()) {
      reactor_->CancelDeadline(c.tftp_token);
    } else {
      reactor_->SetDeadline(c.tftp_token, deadline);
    }
  }
}

void LoadRunner::Impl::StampRrqs() {
  if (rrq_unsubmitted_.empty()) return;
  // The reactor's clock (CLOCK_MONOTONIC), as the `now` DATA 1 is stamped with.
  const absl::Time t = io::MonotonicNow();
  for (uint32_t i : rrq_unsubmitted_) {
    if (clients_[i].tftp != nullptr) clients_[i].tftp_rrq_sent = t;
  }
  rrq_unsubmitted_.clear();
}

void LoadRunner::Impl::CountTftpStats(const Client& c) {
  const uint32_t step = c.step;
  const TftpDownloadStats& s = c.tftp->stats();
  if (s.first_block != absl::InfinitePast()) {
    const absl::Duration latency = s.first_block - c.tftp_rrq_sent;
    report_.tftp.rrq_to_block1.Record(latency);
    report_.phases[step].rrq_to_block1.Record(latency);
  } else {
    ++report_.tftp.without_block1;
  }
  report_.tftp.bytes += s.bytes;
  report_.tftp.retransmits += s.retransmits;
  report_.tftp.timeouts += s.timeouts;
  report_.tftp.duplicates += s.duplicates;
  report_.phases[step].bytes += s.bytes;
  finished_tftp_bytes_ += s.bytes;
}

void LoadRunner::Impl::ReleaseTftp(Client& c) {
  if (c.tftp_token.valid()) {
    Unregister(c.tftp_token);
    reactor_->Unwatch(c.tftp_token);
    c.tftp_token = io::SocketToken();
  }
  c.tftp.reset();
  c.tftp_armed = absl::InfiniteFuture();
}

void LoadRunner::Impl::FinishTftp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  const TftpDownload& d = *c.tftp;
  CountTftpStats(c);
  const TftpDownloadResult result = d.result();
  if (result == TftpDownloadResult::kOk) {
    ++report_.tftp.files;
    PhaseReport& phase = report_.phases[c.step];
    ++phase.ok;
    phase.latency.Record(now - c.step_started);
    ReleaseTftp(c);
    NextStep(i, now);
    return;
  }
  ++report_.tftp.failed;
  std::string kind;
  switch (result) {
    case TftpDownloadResult::kTimeout:
      kind = "tftp-timeout";
      break;
    case TftpDownloadResult::kServerError:
      kind = absl::StrCat("server-error ", d.error_code());
      break;
    case TftpDownloadResult::kSizeMismatch:
      kind = "size-mismatch";
      break;
    case TftpDownloadResult::kContentMismatch:
      kind = "content-mismatch";
      break;
    case TftpDownloadResult::kProtocolError:
      kind = "tftp-protocol-error";
      break;
    default:
      kind = absl::StrCat("tftp-", TftpDownloadResultName(result));
  }
  ReleaseTftp(c);
  FailClient(i, kind);
}

void LoadRunner::Impl::NextStep(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  ++c.step;
  if (c.step < options_.flow.size()) {
    StartStep(i, now);
    return;
  }
  CloseHttp(c, io::CloseMode::kGraceful);
  c.state = ClientState::kDone;
  --running_;
  ++completed_;
  report_.client.Record(now - c.started);
}

void LoadRunner::Impl::FailClient(uint32_t i, const std::string& kind) {
  Client& c = clients_[i];
  // A failure may leave bytes unread or in flight: a reset, not a FIN.
  CloseHttp(c, io::CloseMode::kAbort);
  c.state = ClientState::kFailed;
  --running_;
  ++failed_;
  ++report_.phases[c.step].failed;
  ++report_.phases[c.step].errors[kind];
  ++report_.errors[kind];
}

void LoadRunner::Impl::StopAll() {
  for (uint32_t i = 0; i < started_; ++i) {
    Client& c = clients_[i];
    if (c.state != ClientState::kRunning) continue;
    if (c.dhcp != nullptr) {
      CountDhcpStats(*c.dhcp);
      ReleaseDhcp(c);
    }
    if (c.tftp != nullptr) {
      CountTftpStats(c);
      ReleaseTftp(c);
    }
    if (c.http != nullptr) {
      CountHttpStats(*c.http, c.step);
      c.http.reset();
    }
    FailClient(i, "unfinished");
  }
  if (dhcp_token_.valid()) reactor_->CancelDeadline(dhcp_token_);
}

LoadOptions::Progress LoadRunner::Impl::CurrentProgress(absl::Time now) const {
  LoadOptions::Progress p;
  p.started = started_;
  p.completed = completed_;
  p.failed = failed_;
  p.running = running_;
  p.elapsed_seconds = absl::ToDoubleSeconds(now - run_start_);
  p.tftp_bytes = finished_tftp_bytes_;
  p.http_bytes = finished_http_bytes_;
  for (uint64_t i = 0; i < started_; ++i) {
    const Client& c = clients_[i];
    if (c.tftp != nullptr) p.tftp_bytes += c.tftp->stats().bytes;
    if (c.http != nullptr) p.http_bytes += c.http->stats().bytes;
  }
  p.errors = failed_;
  return p;
}

void LoadRunner::Impl::OnDatagram(io::SocketToken token,
                                  absl::Span<const uint8_t> bytes,
                                  const io::SocketAddress& from,
                                  absl::Time now) {
  if (token == dhcp_token_) {
    // BOOTREPLY with the xid at bytes 4..7; anything else is not for us.
    if (bytes.size() < 240 || bytes[0] != 2) return;
    const uint32_t xid = uint32_t{bytes[4]} << 24 | uint32_t{bytes[5]} << 16 |
                         uint32_t{bytes[6]} << 8 | bytes[7];
    auto it = xid_to_client_.find(xid);
    if (it == xid_to_client_.end()) return;  // late reply to a finished one
    const uint32_t i = it->second;
    clients_[i].dhcp->OnDatagram(bytes, now);
    AfterDhcp(i, now);
    return;
  }
  uint32_t i = 0;
  if (!ClientOf(token, &i)) return;
  Client& c = clients_[i];
  if (c.tftp == nullptr || c.tftp_token != token) return;
  // The transfer's TID is the server's port; another host is a stranger the
  // download never hears of.
  if (from != ToSocketAddress(c.tftp_server, from.port())) return;
  c.tftp->OnDatagram(bytes, from.port(), now);
  AfterTftp(i, now);
}

void LoadRunner::Impl::OnDeadline(io::SocketToken token, absl::Time now) {
  if (token == dhcp_token_) {
    dhcp_token_deadline_ = absl::InfiniteFuture();
    // Take the due entries out first: an exchange re-armed while we handle
    // them waits for the next round even if its new deadline is already due.
    due_.clear();
    while (!dhcp_heap_.empty() && dhcp_heap_.top().deadline <= now) {
      due_.push_back(dhcp_heap_.top());
      dhcp_heap_.pop();
    }
    for (const HeapEntry& e : due_) {
      Client& c = clients_[e.client];
      if (c.dhcp == nullptr || c.dhcp_armed != e.deadline) continue;
      c.dhcp_armed = absl::InfiniteFuture();
      c.dhcp->OnDeadline(now);
      AfterDhcp(e.client, now);
    }
    ArmDhcpToken();
    return;
  }
  uint32_t i = 0;
  if (!ClientOf(token, &i)) return;
  Client& c = clients_[i];
  if (c.tftp != nullptr && c.tftp_token == token) {
    c.tftp_armed = absl::InfiniteFuture();
    c.tftp->OnDeadline(now);
    AfterTftp(i, now);
  } else if (c.http != nullptr && c.http_conn == token) {
    c.http_armed = absl::InfiniteFuture();
    c.http->OnDeadline(now);
    AfterHttp(i, now);
  }
}

bool LoadRunner::Impl::ClientOf(io::SocketToken token, uint32_t* client) const {
  const uint32_t slot = token.index();
  if (slot >= token_slots_.size() ||
      token_slots_[slot].token != token.value()) {
    return false;
  }
  *client = token_slots_[slot].client;
  return true;
}

void LoadRunner::Impl::Register(io::SocketToken token, uint32_t client) {
  const uint32_t slot = token.index();
  if (slot >= token_slots_.size()) token_slots_.resize(slot + 1024);
  token_slots_[slot] = {token.value(), client};
}

void LoadRunner::Impl::Unregister(io::SocketToken token) {
  const uint32_t slot = token.index();
  if (slot < token_slots_.size() && token_slots_[slot].token == token.value()) {
    token_slots_[slot] = {};
  }
}

// ---- HTTP ----------------------------------------------------------------

io::SocketAddress LoadRunner::Impl::HttpServerFor(const Client& c) const {
  if (options_.http_server.has_value()) return *options_.http_server;
  return ToSocketAddress(
      c.http_host.IsUnspecified() ? options_.server : c.http_host,
      options_.http_port);
}

void LoadRunner::Impl::StartHttp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  const FlowStep& step = options_.flow[c.step];
  const io::SocketAddress server = HttpServerFor(c);
  HttpDownloadOptions ho;
  ho.path = step.path;
  // RFC 9110 7.2: the port may be left out when it is the scheme's default.
  ho.host = server.ToString();
  if (server.port() == 80) {
    ho.host.resize(ho.host.size() - 3);  // ":80"
  }
  ho.connect_timeout = options_.http_connect_timeout;
  ho.first_byte_timeout = options_.http_first_byte_timeout;
  ho.stall_timeout = options_.http_stall_timeout;
  if (const MappedFile* m = VerifyFor(download_ordinal_[c.step]);
      m != nullptr) {
    ho.expected_size = m->size;
    ho.verify = [m](uint64_t offset, absl::Span<const uint8_t> bytes) {
      return offset <= m->size && bytes.size() <= m->size - offset &&
             (bytes.empty() ||
              std::memcmp(m->data + offset, bytes.data(), bytes.size()) == 0);
    };
  }
  ho.connected = c.http_conn.valid();
  if (ho.connected) {
    ++report_.http.reused;
  } else {
    io::TcpConnectOptions co;
    absl::StatusOr<io::SocketToken> token = reactor_->Connect(server, this, co);
    if (!token.ok()) {
      if (socket_errors_logged_++ < 5) {
        LOG(ERROR) << "HTTP connect to " << server.ToString() << ": "
                   << token.status()
                   << (token.status().message().find("Too many") !=
                               std::string::npos
                           ? " (raise ulimit -n, or lower --clients/--rate)"
                           : "");
      }
      FailClient(i, "socket-error");
      return;
    }
    ++report_.http.connections;
    c.http_conn = *token;
    Register(*token, i);
  }
  c.http = std::make_unique<HttpDownload>(std::move(ho), now);
  c.http_armed = absl::InfiniteFuture();
  AfterHttp(i, now);
}

void LoadRunner::Impl::AfterHttp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  HttpDownload& d = *c.http;
  const absl::Span<const uint8_t> out = d.Transmit();
  if (!out.empty()) {
    // A request is about a hundred bytes: copied into the reactor's queue.
    absl::Status s = reactor_->SendCopy(c.http_conn, out);
    if (s.ok()) {
      d.Sent(out.size());
    } else {
      d.OnClosed(s.message(), now);
    }
  }
  if (d.finished()) {
    FinishHttp(i, now);
    return;
  }
  const absl::Time deadline = d.Deadline();
  if (deadline != c.http_armed) {
    c.http_armed = deadline;
    if (deadline == absl::InfiniteFuture()) {
      reactor_->CancelDeadline(c.http_conn);
    } else {
      reactor_->SetDeadline(c.http_conn, deadline);
    }
  }
}

void LoadRunner::Impl::CountHttpStats(const HttpDownload& d, uint32_t step) {
  const uint64_t bytes = d.stats().bytes;
  report_.http.bytes += bytes;
  report_.http.head_bytes += d.stats().head_bytes;
  report_.phases[step].bytes += bytes;
  finished_http_bytes_ += bytes;
}

void LoadRunner::Impl::CloseHttp(Client& c, io::CloseMode mode) {
  if (!c.http_conn.valid()) return;
  Unregister(c.http_conn);
  reactor_->Close(c.http_conn, mode);
  c.http_conn = io::SocketToken();
  c.http_armed = absl::InfiniteFuture();
}

void LoadRunner::Impl::FinishHttp(uint32_t i, absl::Time now) {
  Client& c = clients_[i];
  std::unique_ptr<HttpDownload> d = std::move(c.http);
  c.http_armed = absl::InfiniteFuture();
  CountHttpStats(*d, c.step);
  const HttpDownloadResult result = d->result();
  if (result == HttpDownloadResult::kOk) {
    ++report_.http.files;
    PhaseReport& phase = report_.phases[c.step];
    ++phase.ok;
    phase.latency.Record(now - c.step_started);
    if (d->reusable()) {
      reactor_->CancelDeadline(c.http_conn);
    } else {
      CloseHttp(c, io::CloseMode::kGraceful);
    }
    NextStep(i, now);
    return;
  }
  ++report_.http.failed;
  std::string kind;
  switch (result) {
    case HttpDownloadResult::kBadStatus:
      kind = absl::StrCat("http-status ", d->stats().status);
      break;
    case HttpDownloadResult::kSizeMismatch:
      kind = "size-mismatch";
      break;
    case HttpDownloadResult::kContentMismatch:
      kind = "content-mismatch";
      break;
    default:
      kind = absl::StrCat("http-", HttpDownloadResultName(result));
      std::replace(kind.begin(), kind.end(), '_', '-');
  }
  if (socket_errors_logged_ < 5 &&
      (result == HttpDownloadResult::kMalformed ||
       result == HttpDownloadResult::kConnectFailed)) {
    ++socket_errors_logged_;
    LOG(WARNING) << "HTTP " << options_.flow[c.step].path << ": " << kind
                 << ": " << d->error_message();
  }
  FailClient(i, kind);
}

void LoadRunner::Impl::OnStreamConnected(io::SocketToken token,
                                         absl::Time now) {
  uint32_t i = 0;
  if (!ClientOf(token, &i)) return;
  Client& c = clients_[i];
  if (c.http == nullptr || c.http_conn != token) return;
  c.http->OnConnected(now);
  AfterHttp(i, now);
}

void LoadRunner::Impl::OnStreamData(io::SocketToken token,
                                    absl::Span<const uint8_t> bytes,
                                    absl::Time now) {
  uint32_t i = 0;
  if (!ClientOf(token, &i)) return;
  Client& c = clients_[i];
  if (c.http == nullptr || c.http_conn != token) {
    // Bytes on an idle kept-alive connection: nothing was asked, so the
    // connection is out of step; the host's next http step opens another.
    CloseHttp(c, io::CloseMode::kAbort);
    return;
  }
  c.http->OnBytes(bytes, now);
  AfterHttp(i, now);
}

void LoadRunner::Impl::OnStreamEof(io::SocketToken token, absl::Time now) {
  uint32_t i = 0;
  if (!ClientOf(token, &i)) return;
  Client& c = clients_[i];
  if (c.http == nullptr || c.http_conn != token) {
    // The server closed an idle connection (its keep-alive timeout).
    CloseHttp(c, io::CloseMode::kGraceful);
    return;
  }
  c.http->OnClosed("", now);
  AfterHttp(i, now);
}

void LoadRunner::Impl::OnStreamClosed(io::SocketToken token,
                                      const absl::Status& reason,
                                      absl::Time now) {
  uint32_t i = 0;
  if (!ClientOf(token, &i)) return;
  Unregister(token);
  Client& c = clients_[i];
  if (c.http_conn != token) return;
  c.http_conn = io::SocketToken();  // stale now: no Close()
  c.http_armed = absl::InfiniteFuture();
  if (c.http == nullptr) return;
  c.http->OnClosed(reason.message(), now);
  AfterHttp(i, now);
}

LoadRunner::LoadRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoadRunner::~LoadRunner() = default;

absl::StatusOr<std::unique_ptr<LoadRunner>> LoadRunner::Create(
    LoadOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<LoadRunner>(new LoadRunner(std::move(impl)));
}

absl::StatusOr<LoadReport> LoadRunner::Run() { return impl_->Run(); }

}  // namespace rackboot::load
