// Reactor: one thread's UDP event loop: sockets, batched receive and send,
// per-socket deadlines and the clock. The TFTP and DHCP shards run on it.
//
// Two backends behind one interface, chosen at creation:
//   - io_uring: one multishot recvmsg per socket into one shared provided
//     buffer ring; sends are SENDMSG SQEs; everything queued during an
//     iteration is submitted by the single io_uring_enter that also waits.
//   - epoll: level-triggered epoll, recvmmsg, sendmmsg / sendmsg.
//
// Threading: a Reactor belongs to one thread (one reactor per shard thread, no
// locks). Every member must be called on that thread, including from inside
// handlers, except Stop(), which any thread or a signal handler may call.
//
// Ownership: Watch() takes the UdpSocket; the reactor closes it after
// Unwatch() once the kernel holds no more references to it. Handlers are
// borrowed and must outlive their watch; after Unwatch() returns, the handler
// receives no further call for that token.
//
//   absl::StatusOr<std::unique_ptr<Reactor>> reactor =
//       CreateReactor(IoBackend::kAuto);
//   absl::StatusOr<SocketToken> token = (*reactor)->Watch(std::move(socket),
//                                                         &handler);
//   (*reactor)->SetDeadline(*token, (*reactor)->Now() + absl::Seconds(1));
//   absl::Status status = (*reactor)->Run();  // until Stop()
#ifndef RACKBOOT_ENGINE_IO_REACTOR_H_
#define RACKBOOT_ENGINE_IO_REACTOR_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "engine/io/socket_address.h"
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
//   payload: BORROWED, never copied (a slice of an mmap'd file). It must stay
//            valid until the kernel has sent it: keep its owner alive through
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
  // ignored.
  virtual void Unwatch(SocketToken token) = 0;

  // The socket's descriptor (for getsockname, setsockopt), or -1 if stale.
  virtual int fd(SocketToken token) const = 0;

  // Descriptors of sockets the reactor holds: watched ones and unwatched ones
  // not closed yet (io_uring closes after the in-flight operations end, in a
  // later iteration). What a descriptor budget must count.
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

  // One-shot deadline per token: sets or moves it; OnDeadline(token, now)
  // runs in the first loop iteration with Now() >= deadline. Resolution is
  // about 1 ms (epoll) or better (io_uring).
  virtual void SetDeadline(SocketToken token, absl::Time deadline) = 0;
  virtual void CancelDeadline(SocketToken token) = 0;

  // Runs the loop until Stop(). Returns a non-OK status only if the kernel
  // interface fails (not for per-datagram errors).
  virtual absl::Status Run() = 0;

  // One loop iteration: submits queued sends, waits up to `max_wait` (less if
  // a deadline is due sooner; zero polls) for events, handles all available
  // completions, then fires due deadlines. For tests and custom loops.
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
