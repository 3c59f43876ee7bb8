// ReactorBase: what both Reactor backends share: the socket slot table and
// tokens, the deadline heap, the clock, the counters, Stop() and Run().
// Internal to engine/io; one thread only (see reactor.h), except Stop().
#ifndef RACKBOOT_ENGINE_IO_REACTOR_BASE_H_
#define RACKBOOT_ENGINE_IO_REACTOR_BASE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/io/reactor.h"
#include "engine/io/timer_heap.h"

namespace rackboot::io::internal {

// One watched socket. Slots live in a std::deque, so a Slot& stays valid when
// a handler watches more sockets.
struct Slot {
  enum class State : uint8_t { kFree, kActive, kClosing };
  UdpSocket socket;
  ReactorHandler* handler = nullptr;
  uint32_t generation = 0;
  State state = State::kFree;
  bool recv_armed = false;  // io_uring: a multishot recvmsg is in the kernel.
  uint32_t inflight = 0;    // io_uring: SQEs that still refer to the fd.
};

// Largest UDP payload over IPv4 (65535 - 20 - 8).
inline constexpr size_t kMaxUdpPayload = 65507;
// Kernel limit on UDP GSO segments per send (UDP_MAX_SEGMENTS, 64 before 6.9).
inline constexpr size_t kMaxGsoSegments = 64;
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

  // Until a backend implements TCP: Unimplemented / ignored.
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
                         std::vector<Group>* groups);
  void CountSendError(int error);

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
};

// The two backends (io_uring_reactor.cc, epoll_reactor.cc).
absl::StatusOr<std::unique_ptr<Reactor>> CreateIoUringReactor(
    const ReactorOptions& options);
absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(
    const ReactorOptions& options);

}  // namespace rackboot::io::internal

#endif  // RACKBOOT_ENGINE_IO_REACTOR_BASE_H_
