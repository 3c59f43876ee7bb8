// HttpShard: the HTTP connections of one shard (one reactor thread). It owns
// its listener (SO_REUSEPORT: every shard listens on the same address and the
// kernel spreads connections) and one HttpConnection per accepted stream, and
// moves bytes between the reactor and those sans-I/O machines:
//
//   received bytes   -> HttpConnection::OnBytes
//   PollTransmit()   -> Reactor::SendCopy(head [, generated body]) and the
//                       file slice by Reactor::SendFile (sendfile(2) from the
//                       MappedFile's descriptor: page cache to socket, no
//                       user-space copy) or, for a file rendered in memory,
//                       SendBorrowed of its bytes (no copy either)
//   OnSendDone       -> HttpConnection::OnSendDone (then the next pipelined
//                       request, or the close it asked for)
//   deadlines        -> HttpConnection::OnDeadline (header, idle, send
//                       timeouts; send progress is read from the reactor's
//                       queue first, so a slow but moving download lives on)
//
// Receiving is paused while a response is out (and whenever the connection
// asks): a client cannot make the shard buffer more than one request's worth
// of pipelined input.
//
// Streams (a route's HttpStream, Server-Sent Events): once the head is
// queued the shard Starts the stream with a wake function that posts to this
// shard's reactor (Reactor::Post; coalesced: one post pending per stream)
// and finds the connection by its id, so a wake after the connection is gone
// does nothing. The shard Reads at most kStreamChunk (64 KiB) when no send is
// outstanding: one chunk in flight, so a client that never reads costs the
// stream's own bounded queue plus one chunk and the socket buffer, and its
// send_timeout closes it. Streams are exempt from the header and idle
// timeouts but count against the connection cap; receiving stays on (input is
// dropped) so a client's close ends the stream at once. Every way a stream
// connection ends (client close, send timeout, the stream's end, the shard's
// destruction in StopShard) calls HttpStream::Stop, on this thread. Each
// response ends in one INFO line
// ("http GET "/boot/vmlinuz" 200 ... to 198.18.0.2:5555 (boot file
// "vmlinuz")", client text escaped by FormatReport); error responses and
// refusals, which a flood can repeat, are rate-limited. A whole file served
// from /boot/ or /repo/ becomes a daemon::FileDelivered event.
//
// The connection cap is one count for the whole service (HttpConnectionBudget,
// shared by the shards): past it a connection gets a 503 and is closed.
//
// Threads: made, used and destroyed on its shard's thread (inside
// daemon::Service::StartShard/StopShard). The counters and the budget are
// shared with the other shards (atomics).
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_SHARD_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_SHARD_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/daemon/events.h"
#include "engine/daemon/transfer_table.h"
#include "engine/http/http_connection.h"
#include "engine/http/http_routes.h"
#include "engine/http/http_stream.h"
#include "engine/io/reactor.h"
#include "engine/io/socket_address.h"
#include "engine/io/tcp_socket.h"
#include "engine/log/log_rate_limiter.h"
#include "engine/metrics/metrics_registry.h"

namespace rackboot::http {

// Counters of the whole service, summed by every shard (relaxed atomics; read
// from any thread).
struct HttpCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // past max_connections: 503
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> responses{0};
  std::atomic<uint64_t> responses_2xx{0};
  std::atomic<uint64_t> responses_3xx{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> responses_incomplete{0};  // the client left mid-send
  std::atomic<uint64_t> bytes_sent{0};            // heads and bodies
  std::atomic<uint64_t> files_delivered{0};       // whole files (events)
};

// The service-wide connection cap: one count for all shards (SO_REUSEPORT
// spreads connections by hash, so a per-shard share would refuse early on
// one shard while another has room). Lock-free.
class HttpConnectionBudget {
 public:
  explicit HttpConnectionBudget(uint64_t max) : max_(max) {}
  bool TryAcquire() {
    if (open_.fetch_add(1, std::memory_order_relaxed) + 1 > max_) {
      open_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void Release() { open_.fetch_sub(1, std::memory_order_relaxed); }
  uint64_t max() const { return max_; }
  uint64_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  const uint64_t max_;
  std::atomic<uint64_t> open_{0};
};

// One shard's cells of the HTTP metrics (docs/metrics.md), written only on
// that shard's thread; default cells write nothing. A "transfer" is a file
// body from /boot/ or /repo/ (GET, 200 or 206).
struct HttpShardMetrics {
  metrics::GaugeCell active;        // file bodies being sent
  metrics::CounterCell completed;   // file bodies sent whole
  metrics::CounterCell failed;      // file bodies cut short
  metrics::CounterCell bytes;       // their heads and bodies
  metrics::HistogramCell duration;  // seconds, first request byte to last sent
  metrics::CounterCell responses[4];  // by status class: 2xx (and 1xx), 3xx,
                                      // 4xx, 5xx
};

struct HttpShardOptions {
  HttpLimits limits;
  // Borrowed, thread-safe, may be null: every whole file served from a file
  // route (daemon/events.h).
  daemon::EventSink* events = nullptr;
  // Transfers in progress for the API: every file body while it is sent
  // (borrowed, outlives the shard; null: none), and this shard's list in it.
  daemon::TransferTable* transfers = nullptr;
  int transfer_list = 0;
  // This shard's metric cells (HttpService fills them per shard).
  HttpShardMetrics metrics;
};

class HttpShard : public io::ListenerHandler, public io::StreamHandler {
 public:
  // All borrowed; they outlive the shard. `reactor` is this shard's.
  HttpShard(io::Reactor* reactor, HttpRoutes* routes, HttpCounters* counters,
            HttpConnectionBudget* budget, const HttpShardOptions& options);
  // Stops every stream, closes every connection (abort: the daemon is
  // stopping) and the listener.
  ~HttpShard() override;
  HttpShard(const HttpShard&) = delete;
  HttpShard& operator=(const HttpShard&) = delete;

  // Starts accepting on `listener` (TcpSocket::Listen with reuse_port).
  absl::Status Listen(io::TcpSocket listener);

  size_t connections() const { return connections_.size(); }
  // Connections whose response is a stream now.
  size_t streams() const { return streams_; }

  // The largest chunk read from a stream per send.
  static constexpr size_t kStreamChunk = 64 * 1024;

  // io::ListenerHandler
  io::StreamHandler* OnAccept(io::SocketToken listener,
                              io::SocketToken connection,
                              const io::SocketAddress& peer,
                              absl::Time now) override;
  // io::StreamHandler
  void OnStreamData(io::SocketToken token, absl::Span<const uint8_t> bytes,
                    absl::Time now) override;
  void OnStreamEof(io::SocketToken token, absl::Time now) override;
  void OnStreamClosed(io::SocketToken token, const absl::Status& reason,
                      absl::Time now) override;
  void OnSendDone(io::SocketToken token, absl::Time now) override;
  void OnDeadline(io::SocketToken token, absl::Time now) override;

 private:
  struct Connection {
    io::SocketToken token;
    std::unique_ptr<HttpConnection> http;
    bool sending = false;   // a transmit is queued on the stream
    uint64_t out_size = 0;  // its size
    uint64_t reported = 0;  // bytes of it told to OnSendProgress
    bool paused = false;    // receiving paused
    bool file_out = false;  // the transmit carries a file body (active)
    absl::Time deadline = absl::InfiniteFuture();  // armed on the reactor
    // The file body being sent, listed in options_.transfers (null: none);
    // its bytes are what the kernel took of the transmit past `body_from`.
    daemon::TransferTable::Slot* transfer = nullptr;
    uint64_t body_from = 0;
    // The response's stream, from its head on; Stopped by Remove.
    std::shared_ptr<HttpStream> stream;
    bool stream_ended = false;  // Read returned false
  };

  Connection* Find(io::SocketToken token);
  // After every event: reports, the next transmit, pause, deadline, close.
  // May remove `c` (then returns false).
  bool Drive(Connection& c, absl::Time now);
  // Tells the connection how much of its transmit the kernel took so far.
  void UpdateProgress(Connection& c, absl::Time now);
  // Sends the next chunk of c's stream (if any is ready and none is out),
  // or ends the response once the stream ended and all was sent. False if
  // it removed `c`.
  bool PumpStream(Connection& c, absl::Time now);
  // A stream's wake, posted to this reactor: the connection by id.
  void OnStreamWake(uint64_t id);
  // A send the reactor refused: report, abort, remove.
  void Abort(Connection& c, const absl::Status& status, absl::Time now);
  void Report(const HttpResponseReport& report, absl::Time now);
  // Forgets `c` (the stream is closed or being closed) and frees its slot.
  void Remove(Connection& c);
  // Unlists c's transfer, if any.
  void EndTransfer(Connection& c);

  io::Reactor* const reactor_;
  HttpRoutes* const routes_;
  HttpCounters* const counters_;
  HttpConnectionBudget* const budget_;
  const HttpShardOptions options_;
  io::SocketToken listener_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Connection>> connections_;
  size_t streams_ = 0;
  // What the streams' wake functions (posted to the reactor, maybe run after
  // this shard is gone) use to find it: nulled by the destructor, read only
  // on the reactor thread.
  std::shared_ptr<HttpShard*> self_;
  // Most connections open at once since the shard was last empty: past
  // kTrimAfterConnections, the shard returns freed memory to the system when
  // it next becomes empty (Remove).
  static constexpr size_t kTrimAfterConnections = 256;
  // How often a file body's progress is read for options_.transfers.
  static constexpr absl::Duration kTransferProgressInterval = absl::Seconds(1);
  size_t peak_connections_ = 0;
  // Lines a flood can repeat: error responses, refusals past the cap.
  log::LogRateLimiter error_log_{20, absl::Seconds(10)};
  log::LogRateLimiter refused_log_{5, absl::Seconds(10)};
};

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_SHARD_H_
