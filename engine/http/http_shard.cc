#include "engine/http/http_shard.h"

#include <malloc.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace rackboot::http {
namespace {

// The answer past max_connections. Written here, not by HttpConnection: the
// connection is refused before any machine exists for it (and before its
// request arrives; the reactor's lingering close reads and discards that).
constexpr absl::string_view kBusyBody = "server busy: too many connections\n";
std::string BusyResponse() {
  return absl::StrCat(
      "HTTP/1.1 503 Service Unavailable\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: ",
      kBusyBody.size(),
      "\r\n"
      "Retry-After: 1\r\n"
      "Connection: close\r\n"
      "\r\n",
      kBusyBody);
}

}  // namespace

HttpShard::HttpShard(io::Reactor* reactor, HttpRoutes* routes,
                     HttpCounters* counters, HttpConnectionBudget* budget,
                     const HttpShardOptions& options)
    : reactor_(reactor),
      routes_(routes),
      counters_(counters),
      budget_(budget),
      options_(options),
      self_(std::make_shared<HttpShard*>(this)) {}

HttpShard::~HttpShard() {
  // Wakes already posted find no shard; the streams stop before the reactor
  // (which their wake functions post to) can go away.
  *self_ = nullptr;
  if (listener_.valid()) reactor_->Close(listener_);
  for (auto& [key, c] : connections_) {
    (void)key;
    if (c->stream != nullptr) c->stream->Stop();
    reactor_->Close(c->token, io::CloseMode::kAbort);
    EndTransfer(*c);
    if (c->file_out) options_.metrics.active.Add(-1);
    budget_->Release();
    counters_->connections_open.fetch_sub(1, std::memory_order_relaxed);
  }
  connections_.clear();
  streams_ = 0;
}

absl::Status HttpShard::Listen(io::TcpSocket listener) {
  absl::StatusOr<io::SocketToken> token =
      reactor_->Listen(std::move(listener), this);
  if (!token.ok()) return token.status();
  listener_ = *token;
  return absl::OkStatus();
}

HttpShard::Connection* HttpShard::Find(io::SocketToken token) {
  auto it = connections_.find(token.value());
  return it == connections_.end() ? nullptr : it->second.get();
}

io::StreamHandler* HttpShard::OnAccept(io::SocketToken listener,
                                       io::SocketToken connection,
                                       const io::SocketAddress& peer,
                                       absl::Time now) {
  (void)listener;
  if (!budget_->TryAcquire()) {
    counters_->connections_refused.fetch_add(1, std::memory_order_relaxed);
    uint64_t suppressed = 0;
    if (refused_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "http refused " << peer.ToString() << ": "
                   << budget_->max()
                   << " connections open (http.max_connections), answered "
                      "503"
                   << log::SuppressedNote(suppressed);
    }
    // A 503 and a graceful close (FIN after the answer, the request read and
    // discarded): a reset could destroy the answer before the client reads
    // it. The reactor bounds the lingering close (linger_timeout).
    static const std::string* const busy = new std::string(BusyResponse());
    (void)reactor_->SendCopy(connection, *busy);
    reactor_->Close(connection, io::CloseMode::kGraceful);
    return this;  // not nullptr: that would reset the connection
  }
  counters_->connections_accepted.fetch_add(1, std::memory_order_relaxed);
  counters_->connections_open.fetch_add(1, std::memory_order_relaxed);
  auto c = std::make_unique<Connection>();
  c->token = connection;
  c->http =
      std::make_unique<HttpConnection>(routes_, options_.limits, peer, now);
  c->http->set_wall_clock_offset(absl::Now() - now);
  Connection& ref = *c;
  connections_.emplace(connection.value(), std::move(c));
  peak_connections_ = std::max(peak_connections_, connections_.size());
  Drive(ref, now);  // arms the header timeout
  return this;
}

void HttpShard::OnStreamData(io::SocketToken token,
                             absl::Span<const uint8_t> bytes, absl::Time now) {
  Connection* c = Find(token);
  if (c == nullptr) return;
  c->http->OnBytes(bytes, now);
  Drive(*c, now);
}

void HttpShard::OnStreamEof(io::SocketToken token, absl::Time now) {
  Connection* c = Find(token);
  if (c == nullptr) return;
  c->http->OnPeerClosed(now);
  Drive(*c, now);
}

void HttpShard::OnStreamClosed(io::SocketToken token,
                               const absl::Status& reason, absl::Time now) {
  Connection* c = Find(token);
  if (c == nullptr) return;
  UpdateProgress(*c, now);
  c->http->OnPeerClosed(now);
  // The stream is gone: whatever the connection still wanted to send is
  // abandoned, and its report ends incomplete.
  c->http->Abandon(now,
                   absl::StrCat("connection lost (", reason.message(), ")"));
  while (absl::optional<HttpResponseReport> r = c->http->TakeReport()) {
    Report(*r, now);
  }
  Remove(*c);
}

void HttpShard::OnSendDone(io::SocketToken token, absl::Time now) {
  Connection* c = Find(token);
  if (c == nullptr || !c->sending) return;
  if (c->out_size > c->reported) {
    c->http->OnSendProgress(c->out_size - c->reported, now);
  }
  EndTransfer(*c);
  c->sending = false;
  if (c->file_out) {
    c->file_out = false;
    options_.metrics.active.Add(-1);
  }
  c->http->OnSendDone(now);
  Drive(*c, now);
}

void HttpShard::OnDeadline(io::SocketToken token, absl::Time now) {
  Connection* c = Find(token);
  if (c == nullptr) return;
  c->deadline = absl::InfiniteFuture();  // one-shot: it fired
  // A download that is still moving is not a stalled one: count what the
  // kernel took since the last look before judging the send timeout.
  UpdateProgress(*c, now);
  if (now >= c->http->Deadline()) c->http->OnDeadline(now);
  Drive(*c, now);
}

void HttpShard::UpdateProgress(Connection& c, absl::Time now) {
  if (!c.sending) return;
  const uint64_t queued =
      std::min(reactor_->queued_send_bytes(c.token), c.out_size);
  const uint64_t sent = c.out_size - queued;
  if (sent > c.reported) {
    c.http->OnSendProgress(sent - c.reported, now);
    c.reported = sent;
    if (c.transfer != nullptr && sent > c.body_from) {
      c.transfer->SetBytes(sent - c.body_from);
    }
  }
}

void HttpShard::OnStreamWake(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second->stream == nullptr) return;
  Drive(*it->second, reactor_->Now());
}

void HttpShard::Abort(Connection& c, const absl::Status& status,
                      absl::Time now) {
  LOG(WARNING) << "http: cannot send to " << c.http->client().ToString() << ": "
               << status.message();
  c.http->Abandon(now, absl::StrCat("cannot send: ", status.message()));
  while (absl::optional<HttpResponseReport> r = c.http->TakeReport()) {
    Report(*r, now);
  }
  reactor_->Close(c.token, io::CloseMode::kAbort);
  Remove(c);
}

bool HttpShard::PumpStream(Connection& c, absl::Time now) {
  if (c.sending || !c.http->streaming() || c.http->close() != HttpClose::kNo) {
    return true;
  }
  if (!c.stream_ended) {
    auto chunk = std::make_shared<std::string>();
    c.stream_ended = !c.stream->Read(chunk.get(), kStreamChunk);
    if (!chunk->empty()) {
      // Lent to the reactor with its owner: no second copy of the chunk.
      const absl::Span<const uint8_t> bytes(
          reinterpret_cast<const uint8_t*>(chunk->data()), chunk->size());
      const absl::Status s = reactor_->SendBorrowed(c.token, bytes, chunk);
      if (!s.ok()) {
        Abort(c, s, now);
        return false;
      }
      c.sending = true;
      c.out_size = bytes.size();
      c.reported = 0;
      c.http->OnStreamSend(bytes.size(), now);
      return true;
    }
  }
  // Ended, and what it gave before is sent: the response is complete.
  if (c.stream_ended) c.http->OnStreamEnd(now);
  return true;
}

bool HttpShard::Drive(Connection& c, absl::Time now) {
  if (c.stream != nullptr && !PumpStream(c, now)) return false;
  while (absl::optional<HttpResponseReport> r = c.http->TakeReport()) {
    Report(*r, now);
  }
  const HttpClose close = c.http->close();
  if (close == HttpClose::kNow) {
    // An abandoned transmit (send timeout, too much input) is dropped with a
    // reset; otherwise everything was sent and a FIN ends it politely.
    const io::CloseMode mode = reactor_->queued_send_bytes(c.token) > 0
                                   ? io::CloseMode::kAbort
                                   : io::CloseMode::kGraceful;
    reactor_->Close(c.token, mode);
    Remove(c);
    return false;
  }
  if (!c.sending) {
    if (absl::optional<HttpTransmit> t = c.http->PollTransmit()) {
      absl::Status s = reactor_->SendCopy(c.token, t->head);
      if (s.ok() && !t->inline_body.empty()) {
        s = reactor_->SendCopy(c.token, t->inline_body);
      }
      const HttpFileSlice& slice = t->file;
      if (s.ok() && slice.file != nullptr && slice.length > 0) {
        if (slice.file->fd() >= 0) {
          // Page cache to socket by sendfile(2): no user-space copy.
          io::FileRange range;
          range.fd = slice.file->fd();
          range.offset = slice.offset;
          range.length = slice.length;
          range.keep_alive = slice.file;
          s = reactor_->SendFile(c.token, std::move(range));
        } else {
          // Rendered in memory (a per-host config): lent, not copied.
          s = reactor_->SendBorrowed(
              c.token, slice.file->bytes().subspan(slice.offset, slice.length),
              slice.file);
        }
      }
      if (t->stream != nullptr) {
        // Remove stops it from here on, whatever happens next.
        c.stream = std::move(t->stream);
        ++streams_;
        // A fixed send buffer of one chunk: without it the kernel autotunes
        // a stream's buffer up to tcp_wmem's maximum (4 MiB), which a
        // client that never reads fills before the stream's own bounded
        // queue overflows, so it would cost megabytes and never be dropped
        // (tests/api: 1.9 MB reached a 4 KiB-window reader before this).
        const int bytes = static_cast<int>(kStreamChunk);
        ::setsockopt(reactor_->fd(c.token), SOL_SOCKET, SO_SNDBUF, &bytes,
                     sizeof(bytes));
      }
      if (!s.ok()) {
        Abort(c, s, now);
        return false;
      }
      c.sending = true;
      if (slice.file != nullptr && slice.length > 0) {
        c.file_out = true;
        options_.metrics.active.Add(1);
      }
      c.out_size = t->size();
      c.reported = 0;
      if (options_.transfers != nullptr && slice.file != nullptr &&
          slice.length > 0) {
        c.body_from = t->head.size() + t->inline_body.size();
        c.transfer = options_.transfers->Begin(
            options_.transfer_list, daemon::Transport::kHttp, c.http->client(),
            slice.file->relative_path(), slice.length,
            absl::Now());  // the wall clock: `now` is the reactor's
      }
      if (c.stream != nullptr) {
        // Coalesced: while a wake is posted and not yet run, more wakes post
        // nothing (a producer may wake per event; the shard reads them all
        // at once).
        auto pending = std::make_shared<std::atomic<bool>>(false);
        io::Reactor* const reactor = reactor_;
        const uint64_t id = c.token.value();
        c.stream->Start([reactor, self = self_, id, pending] {
          if (pending->exchange(true, std::memory_order_acq_rel)) return;
          reactor->Post([self, id, pending] {
            pending->store(false, std::memory_order_release);
            if (*self != nullptr) (*self)->OnStreamWake(id);
          });
        });
      }
    } else if (close == HttpClose::kAfterTransmit) {
      reactor_->Close(c.token, io::CloseMode::kGraceful);
      Remove(c);
      return false;
    }
  }
  // One response at a time: no reading while one is out, so pipelined input
  // waits in the kernel (and then TCP flow control stops the client). A
  // stream's connection keeps reading (and dropping) to see the client go.
  const bool pause =
      (c.sending && !c.http->streaming()) || c.http->pause_reading();
  if (pause != c.paused) {
    if (pause) {
      reactor_->PauseReceive(c.token);
    } else {
      reactor_->ResumeReceive(c.token);
    }
    c.paused = pause;
  }
  absl::Time deadline = c.http->Deadline();
  // A listed file body's bytes are read from the reactor's send queue at
  // each deadline: look at least once a second while it is out.
  if (c.transfer != nullptr) {
    deadline = std::min(deadline, now + kTransferProgressInterval);
  }
  if (deadline != c.deadline) {
    if (deadline == absl::InfiniteFuture()) {
      reactor_->CancelDeadline(c.token);
    } else {
      reactor_->SetDeadline(c.token, deadline);
    }
    c.deadline = deadline;
  }
  return true;
}

void HttpShard::Report(const HttpResponseReport& r, absl::Time now) {
  HttpCounters& k = *counters_;
  k.responses.fetch_add(1, std::memory_order_relaxed);
  k.bytes_sent.fetch_add(r.bytes_sent, std::memory_order_relaxed);
  if (r.status >= 500) {
    k.responses_5xx.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status >= 400) {
    k.responses_4xx.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status >= 300) {
    k.responses_3xx.fetch_add(1, std::memory_order_relaxed);
  } else {
    k.responses_2xx.fetch_add(1, std::memory_order_relaxed);
  }
  if (!r.complete)
    k.responses_incomplete.fetch_add(1, std::memory_order_relaxed);
  const HttpShardMetrics& m = options_.metrics;
  m.responses[r.status >= 500   ? 3
              : r.status >= 400 ? 2
              : r.status >= 300 ? 1
                                : 0]
      .Add(1);
  if (r.method == "GET" && (r.status == 200 || r.status == 206) &&
      (r.kind == HttpRouteKind::kBoot || r.kind == HttpRouteKind::kRepo)) {
    (r.complete ? m.completed : m.failed).Add(1);
    m.bytes.Add(r.bytes_sent);
    m.duration.Observe(absl::ToDoubleSeconds(r.duration));
  }
  // One line per response, like TFTP's per transfer. Error answers and cut
  // transfers are what a hostile client can repeat at will: rate-limited.
  if (!r.dropped.empty()) {
    // A route tried to send a field that could split the head: its bug,
    // maybe fed by client text, so rate-limited too.
    uint64_t suppressed = 0;
    if (error_log_.Allow(now, &suppressed)) {
      LOG(WARNING) << "http " << FormatReport(r)
                   << log::SuppressedNote(suppressed);
    }
  } else if (r.status >= 400 || !r.complete) {
    uint64_t suppressed = 0;
    if (error_log_.Allow(now, &suppressed)) {
      LOG(INFO) << "http " << FormatReport(r)
                << log::SuppressedNote(suppressed);
    }
  } else {
    LOG(INFO) << "http " << FormatReport(r);
  }
  if (r.file.empty() || (r.status != 200 && r.status != 206) ||
      r.method != "GET" ||
      (r.kind != HttpRouteKind::kBoot && r.kind != HttpRouteKind::kRepo)) {
    return;
  }
  if (r.whole_file) k.files_delivered.fetch_add(1, std::memory_order_relaxed);
  if (options_.events == nullptr) return;
  daemon::FileDelivered event;
  event.transport = daemon::Transport::kHttp;
  event.client = r.client;
  event.file =
      r.kind == HttpRouteKind::kBoot ? r.file : absl::StrCat("repo/", r.file);
  event.complete = r.whole_file;
  // The report has the body's length, not the file's: equal for a whole file
  // (the only kind that moves a phase).
  event.bytes = r.whole_file ? r.body_bytes : 0;
  event.file_size = r.body_bytes;
  options_.events->OnFileDelivered(event);
}

void HttpShard::EndTransfer(Connection& c) {
  if (c.transfer == nullptr) return;
  options_.transfers->End(options_.transfer_list, c.transfer);
  c.transfer = nullptr;
}

void HttpShard::Remove(Connection& c) {
  EndTransfer(c);
  if (c.file_out) options_.metrics.active.Add(-1);
  if (c.stream != nullptr) {
    c.stream->Stop();
    c.stream.reset();
    --streams_;
  }
  budget_->Release();
  counters_->connections_open.fetch_sub(1, std::memory_order_relaxed);
  connections_.erase(c.token.value());
  if (connections_.empty() && peak_connections_ >= kTrimAfterConnections) {
    // A crowd came and went (thousands of idle or slow connections, a
    // flood): glibc keeps the freed per-connection memory in this thread's
    // arena for reuse, so the daemon's RSS would stay at its peak. Give it
    // back once the shard is quiet again; rare, so its cost (a walk over
    // the arenas) does not matter.
    peak_connections_ = 0;
    malloc_trim(0);
  }
}

}  // namespace rackboot::http
