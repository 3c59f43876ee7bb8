// ReactorBase: what both Reactor backends share: the socket slot table and
// tokens, the deadline heap, the clock, the counters, Stop() and Run().
// Internal to engine/io; one thread only (see reactor.h), except Stop().
#ifndef RACKBOOT_ENGINE_IO_REACTOR_BASE_H_
#define RACKBOOT_ENGINE_IO_REACTOR_BASE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/io/reactor.h"
#include "engine/io/timer_heap.h"

namespace rackboot::io::internal {

// One item of a stream's send queue.
struct SendItem {
  enum class Kind : uint8_t { kCopy, kBorrowed, kFile };
  Kind kind = Kind::kCopy;
  std::vector<uint8_t> copy;      // kCopy: the bytes, owned.
  const uint8_t* data = nullptr;  // kCopy, kBorrowed: the next byte to send.
  int fd = -1;                    // kFile: borrowed descriptor.
  uint64_t offset = 0;            // kFile: the next file offset.
  uint64_t remaining = 0;         // Bytes still to send.
  std::shared_ptr<const void> keep_alive;
};

// A TCP stream's state (accepted, adopted or connecting).
struct Stream {
  // Which operation of the stream is in the kernel (io_uring: at most one of
  // send, poll-for-writable and connect at a time).
  enum class Op : uint8_t { kNone, kSend, kPoll, kConnect };
  SocketAddress peer;
  std::deque<SendItem> queue;
  uint64_t queued_bytes = 0;
  std::string held;  // Received while paused (io_uring), delivered on resume.
  bool connecting = false;
  bool paused = false;
  bool eof_held = false;        // EOF received while paused, not delivered yet.
  bool read_ended = false;      // EOF or a receive error seen.
  bool send_blocked = false;    // Waiting for a completion or for writability.
  bool send_done_owed = false;  // A Send*() since the last OnSendDone.
  bool closing = false;         // Close(kGraceful): send the rest, then FIN.
  bool lingering = false;       // FIN sent; discarding input until EOF.
  bool finished = false;  // Nothing more to do: free once no SQE refers to it.
  bool kicked = false;    // In ReactorBase::kicked_.
  Op op = Op::kNone;
  uint64_t lingered_bytes = 0;
  absl::Time linger_started;  // When our FIN left (StartLinger).
  TimerId linger_timer;
  bool recv_cancel_pending = false;  // io_uring: the recv's cancel queued.
};

// One watched socket. Slots live in a std::deque, so a Slot& stays valid when
// a handler watches more sockets.
struct Slot {
  enum class State : uint8_t { kFree, kActive, kClosing };
  enum class Kind : uint8_t { kDatagram, kListener, kStream };
  UdpSocket socket;  // The descriptor's owner, whatever its kind.
  ReactorHandler* handler = nullptr;        // kDatagram.
  ListenerHandler* listener = nullptr;      // kListener.
  StreamHandler* stream_handler = nullptr;  // kStream; null inside OnAccept.
  std::unique_ptr<Stream> stream;           // kStream.
  uint32_t generation = 0;
  State state = State::kFree;
  Kind kind = Kind::kDatagram;
  bool recv_armed = false;  // io_uring: a multishot recv(msg)/accept is armed.
  bool accept_paused = false;     // Listener backing off after EMFILE etc.
  uint32_t inflight = 0;          // io_uring: SQEs that still refer to the fd.
  bool epoll_registered = false;  // epoll (TCP): in the epoll set.
  uint32_t epoll_events = 0;      // epoll (TCP): the registered interest.
};

// Largest UDP payload over IPv4 (65535 - 20 - 8).
inline constexpr size_t kMaxUdpPayload = 65507;
// Kernel limit on UDP GSO segments per send (UDP_MAX_SEGMENTS, 64 before 6.9).
inline constexpr size_t kMaxGsoSegments = 64;
// Datagrams per zero-copy GSO message: a zero-copy skb holds at most
// MAX_SKB_FRAGS (17 by default) page fragments and a datagram takes up to
// three (header, payload, the payload's next page): 7 * 2 + 3 boundaries of a
// 7 * 1432-byte run = 17. More fails with EMSGSIZE (measured on 6.18 with
// 45 TFTP datagrams; 8 fail now and then).
inline constexpr size_t kMaxZeroCopySegments = 7;
// Room for io_uring_recvmsg_out and a sockaddr_in6 before each payload.
inline constexpr uint32_t kRecvHeaderBytes = 16 + 28;

class ReactorBase : public Reactor {
 public:
  explicit ReactorBase(const ReactorOptions& options) : options_(options) {}
  ~ReactorBase() override;

  int fd(SocketToken token) const override;
  size_t open_sockets() const override {
    return slots_.size() - free_slots_.size();
  }
  void SetDeadline(SocketToken token, absl::Time deadline) override;
  void CancelDeadline(SocketToken token) override;
  absl::Status Run() override;
  void Stop() override;
  absl::Time Now() const override { return now_; }
  const ReactorCounters& counters() const override { return counters_; }
  ReactorCounters& mutable_counters() override { return counters_; }

  // TCP, shared by both backends; the kernel work goes through the hooks
  // below.
  absl::StatusOr<SocketToken> Listen(TcpSocket socket,
                                     ListenerHandler* handler) override;
  absl::StatusOr<SocketToken> WatchStream(TcpSocket socket,
                                          StreamHandler* handler) override;
  absl::StatusOr<SocketToken> Connect(
      const SocketAddress& peer, StreamHandler* handler,
      const TcpConnectOptions& options) override;
  using Reactor::SendCopy;
  absl::Status SendCopy(SocketToken token,
                        absl::Span<const uint8_t> bytes) override;
  absl::Status SendBorrowed(SocketToken token, absl::Span<const uint8_t> bytes,
                            std::shared_ptr<const void> keep_alive) override;
  absl::Status SendFile(SocketToken token, FileRange range) override;
  uint64_t queued_send_bytes(SocketToken token) const override;
  void PauseReceive(SocketToken token) override;
  void ResumeReceive(SocketToken token) override;
  void Close(SocketToken token, CloseMode mode) override;

  TimerId AddTimer(absl::Time deadline,
                   std::function<void(absl::Time now)> callback) override;
  bool CancelTimer(TimerId id) override;
  void Post(std::function<void()> function) override;

 protected:
  // Creates the eventfd Stop() writes to (blocking, so io_uring can wait on
  // a read of it).
  absl::Status InitWakeFd();
  // The active slot `token` names, or nullptr if stale.
  Slot* Lookup(SocketToken token);
  const Slot* Lookup(SocketToken token) const;
  SocketToken AllocateSlot(UdpSocket socket, ReactorHandler* handler);
  // Closes the socket and makes the slot reusable with a new generation.
  void FreeSlot(uint32_t index);
  void UpdateNow() { now_ = MonotonicNow(); }
  // How long the next wait may last: min(max_wait, earliest deadline - now),
  // zero if Stop() is pending, InfiniteDuration() for "until an event".
  absl::Duration WaitFor(absl::Duration max_wait) const;
  // Fires every deadline <= Now() that was set before this call started,
  // then every free timer likewise.
  void FireDueDeadlines();
  // Runs the functions posted so far (not those they post).
  void RunPosted();
  // Destroys posted functions and pending free timers without running them
  // (a reactor being destroyed).
  void DropPendingWork();
  // Writes the eventfd (wakes a waiting loop).
  void Wake();
  // Checks sizes and the GSO shape (see SendOptions::gso).
  static absl::Status CheckBatch(absl::Span<const OutDatagram> datagrams,
                                 bool gso);
  static size_t DatagramSize(const OutDatagram& d) {
    return d.header.size() + d.payload.size();
  }
  // Splits a batch into sendmsg calls: [first, first + count) per call.
  struct Group {
    uint32_t first;
    uint32_t count;
  };
  static void GroupBatch(absl::Span<const OutDatagram> datagrams, bool gso,
                         std::vector<Group>* groups) {
    GroupBatch(datagrams, gso, kMaxGsoSegments, groups);
  }
  // The same with at most `max_segments` datagrams per GSO call.
  static void GroupBatch(absl::Span<const OutDatagram> datagrams, bool gso,
                         size_t max_segments, std::vector<Group>* groups);
  void CountSendError(int error);

  // ---- TCP machinery (reactor_base.cc) ----
  // The slot `token` names if it is active or still closing, else nullptr.
  Slot* LookupAny(SocketToken token);
  SocketToken TokenOf(uint32_t index) const {
    return SocketToken(index, slots_[index].generation);
  }
  // Whether the stream's receive should be armed now.
  static bool ReceiveWanted(const Slot& slot);
  // Schedules the stream for RunKicks() (held input, sends, OnSendDone).
  void Kick(uint32_t index);
  // Processes the streams kicked so far (not those kicked meanwhile).
  void RunKicks();
  bool kicks_pending() const { return !kicked_.empty(); }
  // Sends what the stream's queue holds until the socket is full, an
  // operation is in the kernel, or the fairness budget is spent.
  void PumpSend(uint32_t index);
  // `bytes` of the queue's front left (a completion or a synchronous call).
  void AdvanceSend(uint32_t index, uint64_t bytes);
  // A backend received bytes / the end of input (0 = EOF, else an errno).
  void StreamBytes(uint32_t index, const uint8_t* data, size_t size);
  void StreamReadEnd(uint32_t index, int error);
  // A connect finished (0 or an errno).
  void StreamConnected(uint32_t index, int error);
  // Ends the stream: OnStreamClosed(reason) if its handler still listens,
  // then the same as an abort.
  void FailStream(uint32_t index, const absl::Status& reason);
  // Drops the stream at once (reset), frees it once the kernel lets go.
  void AbortStream(uint32_t index);
  // The queue of a closing stream is empty: FIN, then linger.
  void StartLinger(uint32_t index);
  // The linger timer of `token`: waits longer while the peer still has not
  // acknowledged what was sent, else ends the linger (see ReactorOptions).
  void OnLingerTimer(SocketToken token);
  // A listener produced `fd` (peer may be null: read it with getpeername).
  void Accepted(uint32_t listener_index, int fd, const SocketAddress* peer);
  // accept failed with `error`; backs off for the exhausting ones.
  // Returns true if the listener is now paused (do not re-arm).
  bool AcceptFailed(uint32_t listener_index, int error);
  SocketToken AllocateStream(int fd, StreamHandler* handler);
  // Unwatch() of a listener or stream (true), or false for a UDP socket.
  bool CloseNonDatagram(SocketToken token);
  absl::Status QueueSend(SocketToken token, SendItem item);

  // Backend hooks.
  struct SendResult {
    enum Kind { kSent, kWouldBlock, kPending, kError };
    Kind kind;
    uint64_t bytes = 0;  // kSent.
    int error = 0;       // kError.
  };
  // Sends `size` bytes of the stream's front item (more: another item
  // follows). kPending: a completion calls AdvanceSend/FailStream later.
  virtual SendResult SendStreamBytes(uint32_t index, const uint8_t* data,
                                     size_t size, bool more) = 0;
  // Stream::send_blocked was set: call PumpSend again once writable.
  virtual void WaitWritable(uint32_t index) = 0;
  // Arm or disarm the stream's receive as ReceiveWanted() says now.
  virtual void UpdateStreamReceive(uint32_t index) = 0;
  // Stop every kernel operation on the slot's descriptor (stream or listener).
  virtual void CancelAll(uint32_t index) = 0;
  // Free the slot if it is closing, finished and no SQE refers to it.
  virtual void MaybeFinishClose(uint32_t index) = 0;
  // Start the kernel side of a new stream / listener / connect.
  virtual absl::Status RegisterStream(uint32_t index) = 0;
  virtual absl::Status RegisterListener(uint32_t index) = 0;
  virtual void StartAccepting(uint32_t index) = 0;
  virtual void StopAccepting(uint32_t index) = 0;
  virtual void StartConnect(uint32_t index) = 0;

  ReactorOptions options_;
  std::deque<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  TimerHeap timers_;
  absl::Time now_ = MonotonicNow();
  ReactorCounters counters_;
  std::atomic<bool> stop_requested_{false};
  int wake_fd_ = -1;

  // Free timers: callbacks by index, ordered in their own heap.
  struct FreeTimer {
    uint32_t generation = 0;
    bool pending = false;
    std::function<void(absl::Time)> callback;
  };
  std::vector<FreeTimer> free_timers_;
  std::vector<uint32_t> free_timer_slots_;
  TimerHeap free_timer_heap_;

  // Post(): the only state shared between threads besides stop_requested_.
  absl::Mutex post_mu_;
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(post_mu_);
  std::atomic<bool> post_pending_{false};
  std::vector<std::function<void()>> running_;  // RunPosted() scratch.

  std::vector<SocketToken> kicked_;   // Streams with work for RunKicks().
  std::vector<SocketToken> kicking_;  // RunKicks() scratch.
  absl::Time last_accept_warning_ = absl::InfinitePast();
};

// The two backends (io_uring_reactor.cc, epoll_reactor.cc).
absl::StatusOr<std::unique_ptr<Reactor>> CreateIoUringReactor(
    const ReactorOptions& options);
absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(
    const ReactorOptions& options);

}  // namespace rackboot::io::internal

#endif  // RACKBOOT_ENGINE_IO_REACTOR_BASE_H_
