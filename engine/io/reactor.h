// Reactor: one thread's event loop: UDP sockets (batched receive and send),
// TCP listeners and streams (accept, receive, ordered sends of bytes, borrowed
// spans and file ranges), per-socket deadlines, free timers, functions posted
// from other threads, and the clock. The TFTP, DHCP and HTTP shards run on it.
//
// Two backends behind one interface, chosen at creation:
//   - io_uring: one multishot recvmsg per UDP socket and one multishot recv
//     per TCP stream, all into one shared provided buffer ring; multishot
//     accept per listener; sends are SENDMSG / SEND SQEs; everything queued
//     during an iteration is submitted by the single io_uring_enter that also
//     waits. File ranges leave by sendfile(2) from the loop (no user-space
//     copy), waiting for socket space with a POLL_ADD SQE.
//   - epoll: level-triggered epoll, recvmmsg, sendmmsg / sendmsg; for TCP
//     accept4, recv, send and sendfile(2) on non-blocking sockets.
//
// Threading: a Reactor belongs to one thread (one reactor per shard thread, no
// locks). Every member must be called on that thread, including from inside
// handlers, except Stop(), which any thread or a signal handler may call, and
// Post(), which any thread (not a signal handler) may call.
//
// Ownership: Watch(), Listen() and WatchStream() take the socket; the reactor
// closes every descriptor exactly once, after Unwatch() / Close() and once the
// kernel holds no more references to it. Handlers are borrowed and must
// outlive their socket's watch; after Unwatch() / Close() returns (or after
// OnStreamClosed), the handler receives no further call for that token.
//
//   absl::StatusOr<std::unique_ptr<Reactor>> reactor =
//       CreateReactor(IoBackend::kAuto);
//   absl::StatusOr<SocketToken> token = (*reactor)->Watch(std::move(socket),
//                                                         &handler);
//   (*reactor)->SetDeadline(*token, (*reactor)->Now() + absl::Seconds(1));
//   absl::Status status = (*reactor)->Run();  // until Stop()
//
// TCP, as an HTTP shard uses it (ListenerHandler + StreamHandler):
//
//   SocketToken l = *reactor->Listen(
//       *TcpSocket::Listen(*SocketAddress::Parse("198.18.0.1:80")), &shard);
//   // shard.OnAccept(l, conn, peer, now) -> &shard (or nullptr: refused)
//   // shard.OnStreamData(conn, bytes, now): parse; then, per response:
//   reactor->PauseReceive(conn);             // no unbounded pipelined input
//   reactor->SendCopy(conn, header_bytes);   // copied now
//   reactor->SendFile(conn, {file_fd, offset, length, mapped_file});
//   // shard.OnSendDone(conn, now): everything queued is in the kernel:
//   reactor->ResumeReceive(conn);            // next request (or Close)
//   reactor->SetDeadline(conn, now + idle_timeout);
//   reactor->Close(conn, CloseMode::kGraceful);
//
// Memory per TCP connection is bounded by what the caller queues: the reactor
// copies SendCopy() bytes and keeps them until sent, and holds borrowed spans
// and file ranges (not their bytes). A caller that queues one response at a
// time (the next one after OnSendDone) bounds it by one response's headers.
// Received bytes are only lent to OnStreamData (a slot of the buffer ring);
// while receiving is paused, the reactor keeps at most what the kernel had
// already completed before the pause took effect (io_uring: bounded by the
// socket's receive buffer; epoll: nothing) and delivers it on resume.
#ifndef RACKBOOT_ENGINE_IO_REACTOR_H_
#define RACKBOOT_ENGINE_IO_REACTOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "engine/io/socket_address.h"
#include "engine/io/tcp_socket.h"
#include "engine/io/udp_socket.h"

namespace rackboot::io {

enum class IoBackend {
  // io_uring or an error (no fallback: --io=uring asked for it).
  kIoUring,
  kEpoll,
  // io_uring if the kernel allows it, else epoll with one LOG(WARNING) line.
  kAuto,
};
absl::string_view IoBackendName(IoBackend backend);

// Names one watched socket within one reactor. A token stays unique for the
// reactor's life: a stale token (after Unwatch) is ignored by every call that
// takes one, never confused with a newer socket. Cheap to copy.
class SocketToken {
 public:
  constexpr SocketToken() = default;
  constexpr SocketToken(uint32_t index, uint32_t generation)
      : value_((uint64_t{generation} << 32) | index) {}
  bool valid() const { return value_ != 0; }
  uint32_t index() const { return static_cast<uint32_t>(value_); }
  uint32_t generation() const { return static_cast<uint32_t>(value_ >> 32); }
  uint64_t value() const { return value_; }
  static SocketToken FromValue(uint64_t value) {
    SocketToken t;
    t.value_ = value;
    return t;
  }
  friend bool operator==(SocketToken a, SocketToken b) {
    return a.value_ == b.value_;
  }
  friend bool operator!=(SocketToken a, SocketToken b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, SocketToken t) {
    return H::combine(std::move(h), t.value_);
  }

 private:
  uint64_t value_ = 0;  // generation << 32 | slot index; generation >= 1.
};

// What a watched socket's owner implements. Called on the reactor's thread.
// A handler may call any Reactor member, including Unwatch() of this or
// another token, Watch() and Send().
class ReactorHandler {
 public:
  virtual ~ReactorHandler() = default;
  // One datagram arrived on `token`'s socket from `from`. `bytes` is valid
  // only during the call (it is a slot of the receive ring, returned after).
  virtual void OnDatagram(SocketToken token, absl::Span<const uint8_t> bytes,
                          const SocketAddress& from, absl::Time now) = 0;
  // `token`'s deadline passed (now >= deadline). The timer is one-shot: it is
  // already removed when this runs, so SetDeadline() here re-arms it.
  virtual void OnDeadline(SocketToken token, absl::Time now) {
    (void)token;
    (void)now;
  }
};

// One outgoing datagram: `header` followed by `payload`.
//   header:  COPIED into the reactor during Send() (a TFTP 4-byte DATA header,
//            or a whole small message such as an ACK, ERROR or DHCP reply).
//            The caller may reuse its buffer as soon as Send() returns.
//   payload: BORROWED, not copied in user space (a slice of an mmap'd file);
//            the kernel copies it into socket buffers during the send,
//            unless SendOptions::zero_copy. It must stay valid until the
//            kernel is done with it: keep its owner alive through
//            SendOptions::keep_alive, or keep it valid for the reactor's life.
struct OutDatagram {
  absl::Span<const uint8_t> header;
  absl::Span<const uint8_t> payload;
};

struct SendOptions {
  // UDP GSO (UDP_SEGMENT): the datagrams leave as one sendmsg per up to 64 KiB
  // (hdr1|payload1|hdr2|payload2...; the kernel cuts it into the datagrams).
  // REQUIRES: every datagram but the last has the same size, and the last is
  // not larger. Without gso: one sendmsg SQE per datagram (io_uring, one
  // submit for all) or one sendmmsg per batch (epoll).
  bool gso = false;
  // Destination for an unconnected socket; empty for a connected one.
  absl::optional<SocketAddress> to;
  // Zero copy (io_uring only): each sendmsg is an IORING_OP_SENDMSG_ZC, so the
  // kernel attaches the payload's pages to the packets instead of copying
  // them into socket buffers. A GSO group then carries at most
  // kMaxZeroCopySegments datagrams (a zero-copy packet holds at most 17 page
  // fragments, and each datagram takes two or three: header, payload, and
  // the payload's second page when it crosses a page boundary). Measured on
  // TFTP windows (docs/benchmarks.md, "Send path"), copying whole 64 KiB GSO
  // groups costs less CPU than zero copy in groups of 7, so TFTP leaves this
  // off by default (--tftp_zero_copy). Where the kernel refuses zero copy
  // (EINVAL, EOPNOTSUPP, EMSGSIZE), the message is sent again by copy, and
  // after EINVAL or EOPNOTSUPP the reactor copies from then on. epoll
  // ignores this and copies.
  bool zero_copy = false;
  // Released once the kernel no longer reads any payload of this batch
  // (io_uring: the last completion; with zero_copy, the last notification
  // CQE (IORING_CQE_F_NOTIF), which comes when the packets holding the pages
  // are freed; epoll: before Send() returns).
  std::shared_ptr<const void> keep_alive;
};

// Names one timer made by Reactor::AddTimer. Like a SocketToken it stays
// unique for the reactor's life: cancelling a fired or cancelled timer is a
// no-op. The default value names no timer.
class TimerId {
 public:
  constexpr TimerId() = default;
  constexpr TimerId(uint32_t index, uint32_t generation)
      : value_((uint64_t{generation} << 32) | index) {}
  bool valid() const { return value_ != 0; }
  uint32_t index() const { return static_cast<uint32_t>(value_); }
  uint32_t generation() const { return static_cast<uint32_t>(value_ >> 32); }
  uint64_t value() const { return value_; }
  friend bool operator==(TimerId a, TimerId b) { return a.value_ == b.value_; }
  friend bool operator!=(TimerId a, TimerId b) { return !(a == b); }

 private:
  uint64_t value_ = 0;  // generation << 32 | index; generation >= 1.
};

// What a TCP stream's owner implements (accepted, adopted or connecting
// streams). Called on the reactor's thread, never from inside a Reactor call
// the handler made itself (OnSendDone after SendCopy() comes from the loop).
// A handler may call any Reactor member, including Close() of this token.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // Bytes arrived, in order. `bytes` is valid only during the call (a slot of
  // the receive ring): keep what is needed by copying it. Not called while
  // receiving is paused (see Reactor::PauseReceive).
  virtual void OnStreamData(SocketToken token, absl::Span<const uint8_t> bytes,
                            absl::Time now) = 0;
  // The peer finished sending (read EOF, its FIN). The stream stays open for
  // sends: a handler answers what it has and then calls Close(kGraceful), or
  // Close(kAbort). No further OnStreamData for the token.
  virtual void OnStreamEof(SocketToken token, absl::Time now) = 0;
  // The stream is gone: a receive or send failed (ECONNRESET, EPIPE,
  // ETIMEDOUT...; absl::ErrnoToStatus of it) or a connect failed. Queued sends
  // are dropped, the reactor closes the descriptor, and the token is stale
  // from now on (no Close() needed; it would be ignored). Not called for the
  // handler's own Close().
  virtual void OnStreamClosed(SocketToken token, const absl::Status& reason,
                              absl::Time now) = 0;
  // Everything queued on the stream so far has been handed to the kernel
  // (the socket's send buffer): queue the next response now. Called once each
  // time the send queue becomes empty after a Send*() call.
  virtual void OnSendDone(SocketToken token, absl::Time now) {
    (void)token;
    (void)now;
  }
  // A Reactor::Connect() finished its handshake (a failed one ends in
  // OnStreamClosed instead). Sends queued before it leave after it.
  virtual void OnStreamConnected(SocketToken token, absl::Time now) {
    (void)token;
    (void)now;
  }
  // `token`'s deadline passed (see Reactor::SetDeadline); one-shot.
  virtual void OnDeadline(SocketToken token, absl::Time now) {
    (void)token;
    (void)now;
  }
};

// What a listening socket's owner implements. Called on the reactor's thread.
class ListenerHandler {
 public:
  virtual ~ListenerHandler() = default;
  // A connection from `peer` was accepted on `listener` and is now the stream
  // `connection` (its own token, already counted in open_sockets()). Returns
  // the handler for the connection's events, or nullptr to refuse it: the
  // reactor then closes it at once with a reset (CloseMode::kAbort) and
  // counts it in tcp_connections_refused. The connection may be used inside
  // this call (SendCopy, SetDeadline, Close: e.g. a 503 then Close(kGraceful);
  // then no event reaches the returned handler). Receiving starts after the
  // call returns.
  virtual StreamHandler* OnAccept(SocketToken listener, SocketToken connection,
                                  const SocketAddress& peer,
                                  absl::Time now) = 0;
};

// A file range to send on a stream without a user-space copy (sendfile(2)).
struct FileRange {
  // BORROWED: must stay open, and the range must stay readable, until the
  // range is sent or the stream is gone. Own it through keep_alive (e.g. the
  // shared_ptr of the cache entry that holds the descriptor).
  int fd = -1;
  uint64_t offset = 0;  // Any offset; no alignment needed.
  // If the file ends before offset + length (truncated meanwhile), the
  // stream ends with OnStreamClosed(DataLoss): the peer was promised bytes.
  uint64_t length = 0;
  // Released once the kernel reads no more of the range (sent, or dropped on
  // close).
  std::shared_ptr<const void> keep_alive;
};

// How Reactor::Close() ends a stream.
enum class CloseMode {
  // Stop receiving now; send everything queued; then FIN (shutdown(SHUT_WR));
  // then read and discard the peer's input until its FIN, an error, or
  // ReactorOptions::linger_timeout, and close. (Closing with unread input
  // makes the kernel answer with a reset, which can destroy a response the
  // client has not read yet: the lingering close of RFC 9112 section 9.6.)
  kGraceful,
  // Drop queued sends and close at once with a reset (SO_LINGER 0).
  kAbort,
};

// Counters, read by the reactor's owner on the reactor's thread.
struct ReactorCounters {
  static constexpr int kMaxErrno = 134;
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;
  uint64_t datagrams_sent = 0;  // Datagrams the kernel accepted.
  uint64_t bytes_sent = 0;      // UDP payload bytes the kernel accepted.
  // System calls that carried sends: sendmsg/sendmmsg (epoll), or
  // io_uring_enter calls that submitted at least one send SQE (io_uring).
  uint64_t send_system_calls = 0;
  uint64_t send_operations = 0;    // sendmsg SQEs / sendmsg or sendmmsg calls.
  uint64_t recv_system_calls = 0;  // recvmmsg calls (epoll only).
  uint64_t loop_iterations = 0;
  // io_uring: multishot receives stopped by an empty buffer ring (-ENOBUFS)
  // and re-armed. The datagrams stay queued in the socket meanwhile.
  uint64_t recv_buffer_exhausted = 0;
  uint64_t datagrams_truncated = 0;  // Larger than a receive buffer: dropped.
  uint64_t recv_errors = 0;
  uint64_t send_errors = 0;  // Failed sends (one per failed sendmsg).
  // io_uring zero copy (SendOptions::zero_copy): notification CQEs received,
  // those in which the kernel reports it copied after all (loopback and
  // veth deliveries, devices without scatter-gather), and messages sent again
  // by copy because the kernel refused zero copy.
  uint64_t zero_copy_notifications = 0;
  uint64_t zero_copy_copied = 0;
  uint64_t zero_copy_fallbacks = 0;
  std::array<uint64_t, kMaxErrno> send_errors_by_errno{};

  // TCP. The datagram counters above count UDP only.
  uint64_t tcp_connections_accepted = 0;  // Streams made by accept.
  uint64_t tcp_connections_refused = 0;   // OnAccept returned nullptr.
  // accept failures; EMFILE, ENFILE, ENOBUFS and ENOMEM also pause the
  // listener for ReactorOptions::accept_backoff (tcp_accept_backoffs), so an
  // exhausted descriptor table cannot make the loop spin.
  uint64_t tcp_accept_errors = 0;
  uint64_t tcp_accept_backoffs = 0;
  uint64_t tcp_connects = 0;           // Connect() calls that started.
  uint64_t tcp_bytes_received = 0;     // Delivered to OnStreamData.
  uint64_t tcp_bytes_sent = 0;         // Accepted by the kernel, all kinds.
  uint64_t tcp_file_bytes_sent = 0;    // Of which by sendfile (no copy).
  uint64_t tcp_send_system_calls = 0;  // send/sendfile calls or SEND SQEs.
  uint64_t tcp_send_errors = 0;        // Sends that ended a stream.
  uint64_t tcp_recv_errors = 0;        // Receives that ended a stream.
  uint64_t tcp_peer_eofs = 0;          // OnStreamEof calls.
  uint64_t tcp_graceful_closes = 0;    // Close(kGraceful) calls.
  uint64_t tcp_aborts = 0;             // Close(kAbort) and refusals.
  // Graceful closes that still had unread input or no FIN from the peer at
  // linger_timeout, and were reset.
  uint64_t tcp_linger_timeouts = 0;
  // Free timers (AddTimer) that fired, and functions run from Post().
  uint64_t timers_fired = 0;
  uint64_t posted_run = 0;
};

struct ReactorOptions {
  // io_uring: submission queue entries (a full queue is submitted early) and
  // completion queue entries (the kernel buffers overflow, nothing is lost).
  uint32_t sq_entries = 512;
  uint32_t cq_entries = 8192;
  // Receive buffers shared by all sockets of the reactor: the io_uring buffer
  // ring size (power of two, <= 32768). epoll uses min(count, 64) buffers
  // for one recvmmsg. Each buffer also holds the source address (44 bytes on
  // io_uring), so the largest datagram is recv_buffer_size - 44 bytes.
  uint32_t recv_buffer_count = 1024;
  uint32_t recv_buffer_size = 2048;
  // TCP: how long a listener stops accepting after EMFILE, ENFILE, ENOBUFS
  // or ENOMEM (the connections wait in the kernel's backlog meanwhile).
  absl::Duration accept_backoff = absl::Milliseconds(100);
  // TCP: how long a graceful close waits for the peer's FIN after the last
  // byte was handed to the kernel (see CloseMode::kGraceful), and the most
  // input it discards meanwhile. While the peer has not acknowledged
  // everything sent (SIOCOUTQ > 0: a slow reader still downloading the last
  // response), the wait is extended, up to linger_max_time in all; a reset
  // then would throw away the response's tail. Past linger_timeout with all
  // acknowledged, the socket is closed (FIN already sent, no reset); past
  // linger_max_time or linger_max_bytes, it is reset.
  absl::Duration linger_timeout = absl::Seconds(2);
  absl::Duration linger_max_time = absl::Seconds(30);
  uint64_t linger_max_bytes = 1 << 20;
  // TCP: the most bytes one sendfile(2) or send may carry, so one fast
  // stream cannot hold the loop for long (fairness between streams).
  uint32_t max_stream_send_chunk = 1 << 20;
  // Tests only: make io_uring creation fail as if the kernel refused it.
  bool force_io_uring_failure_for_testing = false;
  // Tests only: zero-copy sends carry an invalid flag, so the kernel refuses
  // them (EINVAL) as a kernel without SENDMSG_ZC would.
  bool refuse_zero_copy_for_testing = false;
};

class Reactor {
 public:
  virtual ~Reactor() = default;

  // The backend actually in use (never kAuto).
  virtual IoBackend backend() const = 0;

  // Starts receiving on `socket` (taking ownership) and delivering to
  // `handler`. REQUIRES: socket.valid(); handler outlives the watch.
  virtual absl::StatusOr<SocketToken> Watch(UdpSocket socket,
                                            ReactorHandler* handler) = 0;

  // Stops delivery to `token` at once (also its deadline), and closes the
  // socket once no in-flight operation refers to it (io_uring: after the
  // multishot receive is cancelled and queued sends completed; queued sends
  // still leave). Safe inside any handler, for any token; stale tokens are
  // ignored. For a TCP stream the same as Close(token, CloseMode::kAbort);
  // for a listener, stops listening.
  virtual void Unwatch(SocketToken token) = 0;

  // The socket's descriptor (for getsockname, setsockopt), or -1 if stale.
  virtual int fd(SocketToken token) const = 0;

  // Descriptors of sockets the reactor holds: watched UDP sockets, listeners
  // and TCP streams (accepted ones from the moment OnAccept runs, and those
  // still sending or lingering after Close()), and unwatched ones not closed
  // yet (io_uring closes after the in-flight operations end, in a later
  // iteration). What a descriptor budget must count.
  virtual size_t open_sockets() const = 0;

  // Queues `datagrams` on `token`'s socket in order (see OutDatagram for what
  // is copied). io_uring: submitted with the next loop iteration's single
  // system call; epoll: sent before returning. Kernel failures are counted
  // in counters() (send_errors_by_errno), not returned: UDP is lossy anyway.
  // Returns InvalidArgument for a malformed GSO batch or oversized datagram,
  // NotFound for a stale token.
  virtual absl::Status Send(SocketToken token,
                            absl::Span<const OutDatagram> datagrams,
                            SendOptions options = {}) = 0;

  // One-shot deadline per token (UDP socket or TCP stream): sets or moves it;
  // OnDeadline(token, now) runs in the first loop iteration with Now() >=
  // deadline. Resolution is about 1 ms (epoll) or better (io_uring).
  virtual void SetDeadline(SocketToken token, absl::Time deadline) = 0;
  virtual void CancelDeadline(SocketToken token) = 0;

  // ---- TCP ----------------------------------------------------------------

  // Starts accepting on `socket` (taking ownership; a listening socket from
  // TcpSocket::Listen) and calls handler->OnAccept for each connection.
  // io_uring: one multishot accept, re-armed whenever IORING_CQE_F_MORE is
  // missing; epoll: up to 64 accept4 calls per ready listener per iteration.
  // Unwatch(token) or Close(token) stops listening. Also ignores SIGPIPE in
  // the process if it still has its default action (sendfile(2) has no
  // MSG_NOSIGNAL; a peer that vanished must not kill the daemon).
  // REQUIRES: socket.valid(); handler outlives the listener.
  virtual absl::StatusOr<SocketToken> Listen(TcpSocket socket,
                                             ListenerHandler* handler) = 0;

  // Adopts a connected TCP socket as a stream (tests, or a descriptor passed
  // in) and makes it non-blocking; receiving starts at once.
  virtual absl::StatusOr<SocketToken> WatchStream(TcpSocket socket,
                                                  StreamHandler* handler) = 0;

  // Opens a non-blocking TCP connection to `peer` (from options.local if
  // set) and returns its stream at once; OnStreamConnected or OnStreamClosed
  // tells how the handshake ended. Sends may be queued before that.
  virtual absl::StatusOr<SocketToken> Connect(
      const SocketAddress& peer, StreamHandler* handler,
      const TcpConnectOptions& options = {}) = 0;

  // Stream sends, queued in order per stream and sent as the socket takes
  // them (partial sends continue by themselves); OnSendDone when the queue
  // is empty again. A send error ends the stream with OnStreamClosed. Each
  // returns NotFound for a stale token and FailedPrecondition after Close().
  //   SendCopy:     `bytes` COPIED now (response headers, small rendered
  //                 files); the caller may reuse its buffer at once.
  //   SendBorrowed: `bytes` BORROWED until sent or dropped; `keep_alive`
  //                 owns them (a slice of a mapped file).
  //   SendFile:     a file range by sendfile(2), no user-space copy.
  virtual absl::Status SendCopy(SocketToken token,
                                absl::Span<const uint8_t> bytes) = 0;
  absl::Status SendCopy(SocketToken token, absl::string_view bytes) {
    return SendCopy(token, absl::MakeConstSpan(
                               reinterpret_cast<const uint8_t*>(bytes.data()),
                               bytes.size()));
  }
  virtual absl::Status SendBorrowed(SocketToken token,
                                    absl::Span<const uint8_t> bytes,
                                    std::shared_ptr<const void> keep_alive) = 0;
  virtual absl::Status SendFile(SocketToken token, FileRange range) = 0;

  // Bytes queued on `token`'s stream and not yet accepted by the kernel
  // (copied, borrowed and file bytes alike); 0 for a stale token.
  virtual uint64_t queued_send_bytes(SocketToken token) const = 0;

  // Back-pressure: no OnStreamData (nor OnStreamEof) for `token` after
  // PauseReceive() returns until ResumeReceive(); the kernel stops reading
  // from the socket, so the peer's input waits in its buffers and then TCP
  // flow control stops the peer. ResumeReceive() delivers what was held back
  // (from the loop, not inside the call). Both are idempotent; stale tokens
  // and listeners are ignored.
  virtual void PauseReceive(SocketToken token) = 0;
  virtual void ResumeReceive(SocketToken token) = 0;

  // Ends a stream (see CloseMode); on a listener or UDP socket the same as
  // Unwatch(). Its deadline is cancelled and its handler gets no further
  // call; the descriptor is closed once, after the kernel holds no more
  // references (open_sockets() counts it until then). Safe inside any
  // handler; stale tokens are ignored.
  virtual void Close(SocketToken token,
                     CloseMode mode = CloseMode::kGraceful) = 0;

  // ---- Timers and cross-thread work --------------------------------------

  // A one-shot timer not tied to a socket: `callback(now)` runs on the
  // reactor thread in the first loop iteration with Now() >= deadline, in
  // (deadline, order of AddTimer) order, after the socket deadlines due in
  // that iteration. A timer added from a callback for a time already passed
  // runs in the next iteration, never in the same one.
  virtual TimerId AddTimer(absl::Time deadline,
                           std::function<void(absl::Time now)> callback) = 0;
  // Cancels a pending timer and destroys its callback; returns false if the
  // timer already ran, was cancelled, or never existed.
  virtual bool CancelTimer(TimerId id) = 0;

  // Runs `function` on the reactor thread in the next loop iteration (after
  // that iteration's completions, before its timers), in the order posted.
  // Thread-safe (a mutex and an eventfd write that wakes the loop); not
  // async-signal-safe (use Stop() there). Functions still queued when the
  // reactor is destroyed are destroyed without running (so whatever they own
  // is released, never leaked); after Stop() they run if Run() or RunOnce()
  // is called again.
  virtual void Post(std::function<void()> function) = 0;

  // Runs the loop until Stop(). Returns a non-OK status only if the kernel
  // interface fails (not for per-datagram errors).
  virtual absl::Status Run() = 0;

  // One loop iteration: submits queued sends, waits up to `max_wait` (less if
  // a deadline or timer is due sooner, zero if a function was posted; zero
  // polls) for events, handles all available completions, runs posted
  // functions, then fires due deadlines and timers. For tests and custom
  // loops.
  virtual absl::Status RunOnce(absl::Duration max_wait) = 0;

  // Makes Run() return after its current iteration (or the next Run() return
  // at once). Thread-safe and async-signal-safe: an atomic store and a write
  // to an eventfd.
  virtual void Stop() = 0;

  // CLOCK_MONOTONIC read once per loop iteration, as an absl::Time whose epoch
  // is the boot (compare and subtract only; not wall-clock time).
  virtual absl::Time Now() const = 0;

  virtual const ReactorCounters& counters() const = 0;
  virtual ReactorCounters& mutable_counters() = 0;  // To reset.
};

// Creates a reactor with `backend`. kIoUring fails if io_uring is unavailable
// (disabled by kernel.io_uring_disabled, seccomp, or a kernel before 6.0);
// kAuto then falls back to epoll and logs why, once, as a warning.
absl::StatusOr<std::unique_ptr<Reactor>> CreateReactor(
    IoBackend backend, const ReactorOptions& options = {});

// The clock the reactors use: CLOCK_MONOTONIC as absl::Time.
absl::Time MonotonicNow();

}  // namespace rackboot::io

#endif  // RACKBOOT_ENGINE_IO_REACTOR_H_
