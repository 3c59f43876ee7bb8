#include "engine/io/reactor_base.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rackboot::io {

absl::Time MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::DurationFromTimespec(ts);
}

absl::string_view IoBackendName(IoBackend backend) {
  switch (backend) {
    case IoBackend::kIoUring:
      return "io_uring";
    case IoBackend::kEpoll:
      return "epoll";
    case IoBackend::kAuto:
      return "auto";
  }
  return "?";
}

namespace internal {

ReactorBase::~ReactorBase() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Status ReactorBase::InitWakeFd() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  return absl::OkStatus();
}

Slot* ReactorBase::Lookup(SocketToken token) {
  if (token.index() >= slots_.size()) return nullptr;
  Slot& slot = slots_[token.index()];
  if (slot.state != Slot::State::kActive ||
      slot.generation != token.generation()) {
    return nullptr;
  }
  return &slot;
}

const Slot* ReactorBase::Lookup(SocketToken token) const {
  return const_cast<ReactorBase*>(this)->Lookup(token);
}

SocketToken ReactorBase::AllocateSlot(UdpSocket socket,
                                      ReactorHandler* handler) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  if (++slot.generation == 0) slot.generation = 1;
  slot.socket = std::move(socket);
  slot.handler = handler;
  slot.state = Slot::State::kActive;
  slot.recv_armed = false;
  slot.inflight = 0;
  return SocketToken(index, slot.generation);
}

void ReactorBase::FreeSlot(uint32_t index) {
  Slot& slot = slots_[index];
  timers_.Cancel(index);
  slot.socket.Close();
  slot.handler = nullptr;
  slot.state = Slot::State::kFree;
  free_slots_.push_back(index);
}

int ReactorBase::fd(SocketToken token) const {
  const Slot* slot = Lookup(token);
  return slot == nullptr ? -1 : slot->socket.fd();
}

void ReactorBase::SetDeadline(SocketToken token, absl::Time deadline) {
  if (Lookup(token) == nullptr) return;
  timers_.Set(token.index(), deadline);
}

void ReactorBase::CancelDeadline(SocketToken token) {
  if (Lookup(token) == nullptr) return;
  timers_.Cancel(token.index());
}

absl::StatusOr<SocketToken> ReactorBase::Listen(TcpSocket socket,
                                                ListenerHandler* handler) {
  (void)socket;
  (void)handler;
  return absl::UnimplementedError(
      "Listen: TCP not implemented on this backend");
}

absl::StatusOr<SocketToken> ReactorBase::WatchStream(TcpSocket socket,
                                                     StreamHandler* handler) {
  (void)socket;
  (void)handler;
  return absl::UnimplementedError(
      "WatchStream: TCP not implemented on this backend");
}

absl::StatusOr<SocketToken> ReactorBase::Connect(
    const SocketAddress& peer, StreamHandler* handler,
    const TcpConnectOptions& options) {
  (void)peer;
  (void)handler;
  (void)options;
  return absl::UnimplementedError(
      "Connect: TCP not implemented on this backend");
}

absl::Status ReactorBase::SendCopy(SocketToken token,
                                   absl::Span<const uint8_t> bytes) {
  (void)token;
  (void)bytes;
  return absl::UnimplementedError("SendCopy: TCP not implemented");
}

absl::Status ReactorBase::SendBorrowed(SocketToken token,
                                       absl::Span<const uint8_t> bytes,
                                       std::shared_ptr<const void> keep_alive) {
  (void)token;
  (void)bytes;
  (void)keep_alive;
  return absl::UnimplementedError("SendBorrowed: TCP not implemented");
}

absl::Status ReactorBase::SendFile(SocketToken token, FileRange range) {
  (void)token;
  (void)range;
  return absl::UnimplementedError("SendFile: TCP not implemented");
}

uint64_t ReactorBase::queued_send_bytes(SocketToken token) const {
  (void)token;
  return 0;
}

void ReactorBase::PauseReceive(SocketToken token) { (void)token; }
void ReactorBase::ResumeReceive(SocketToken token) { (void)token; }

void ReactorBase::Close(SocketToken token, CloseMode mode) {
  (void)mode;
  Unwatch(token);
}

TimerId ReactorBase::AddTimer(absl::Time deadline,
                              std::function<void(absl::Time now)> callback) {
  uint32_t index;
  if (!free_timer_slots_.empty()) {
    index = free_timer_slots_.back();
    free_timer_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(free_timers_.size());
    free_timers_.emplace_back();
  }
  FreeTimer& timer = free_timers_[index];
  if (++timer.generation == 0) timer.generation = 1;
  timer.pending = true;
  timer.callback = std::move(callback);
  free_timer_heap_.Set(index, deadline);
  return TimerId(index, timer.generation);
}

bool ReactorBase::CancelTimer(TimerId id) {
  if (!id.valid() || id.index() >= free_timers_.size()) return false;
  FreeTimer& timer = free_timers_[id.index()];
  if (!timer.pending || timer.generation != id.generation()) return false;
  free_timer_heap_.Cancel(id.index());
  timer.pending = false;
  // Destroyed here, so what the callback owns is released now.
  std::function<void(absl::Time)> callback = std::move(timer.callback);
  timer.callback = nullptr;
  free_timer_slots_.push_back(id.index());
  return true;
}

void ReactorBase::Post(std::function<void()> function) {
  {
    absl::MutexLock lock(&post_mu_);
    posted_.push_back(std::move(function));
  }
  // Wake only on the first post of a batch: the loop clears the flag before
  // it takes the batch, so a later post always sees it clear and wakes.
  if (!post_pending_.exchange(true, std::memory_order_acq_rel)) Wake();
}

void ReactorBase::RunPosted() {
  if (!post_pending_.load(std::memory_order_acquire)) return;
  post_pending_.store(false, std::memory_order_release);
  {
    absl::MutexLock lock(&post_mu_);
    running_.swap(posted_);
  }
  for (std::function<void()>& function : running_) {
    ++counters_.posted_run;
    function();
    function = nullptr;  // Release what it owns now, not at the next batch.
  }
  running_.clear();
}

void ReactorBase::Wake() {
  uint64_t one = 1;
  // Async-signal-safe. Failure only if the counter would overflow.
  ssize_t written = ::write(wake_fd_, &one, sizeof(one));
  (void)written;
}

absl::Status ReactorBase::Run() {
  while (!stop_requested_.exchange(false, std::memory_order_acq_rel)) {
    absl::Status status = RunOnce(absl::InfiniteDuration());
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void ReactorBase::Stop() {
  stop_requested_.store(true, std::memory_order_release);
  Wake();
}

absl::Duration ReactorBase::WaitFor(absl::Duration max_wait) const {
  if (stop_requested_.load(std::memory_order_acquire) ||
      post_pending_.load(std::memory_order_acquire)) {
    return absl::ZeroDuration();
  }
  absl::Duration wait = max_wait;
  const absl::Time earliest =
      std::min(timers_.Earliest(), free_timer_heap_.Earliest());
  if (earliest != absl::InfiniteFuture()) {
    wait = std::min(wait, earliest - MonotonicNow());
  }
  return std::max(wait, absl::ZeroDuration());
}

void ReactorBase::FireDueDeadlines() {
  // Deadlines set by the handlers below wait for the next iteration, so a
  // handler that re-arms for "now" cannot starve the loop.
  const uint64_t limit = timers_.next_sequence();
  while (!timers_.empty() && timers_.Top().deadline <= now_ &&
         timers_.Top().sequence < limit) {
    TimerHeap::Entry entry = timers_.Pop();
    Slot& slot = slots_[entry.key];
    if (slot.state != Slot::State::kActive) continue;
    slot.handler->OnDeadline(SocketToken(entry.key, slot.generation), now_);
  }
  const uint64_t free_limit = free_timer_heap_.next_sequence();
  while (!free_timer_heap_.empty() && free_timer_heap_.Top().deadline <= now_ &&
         free_timer_heap_.Top().sequence < free_limit) {
    TimerHeap::Entry entry = free_timer_heap_.Pop();
    FreeTimer& timer = free_timers_[entry.key];
    std::function<void(absl::Time)> callback = std::move(timer.callback);
    timer.callback = nullptr;
    timer.pending = false;
    free_timer_slots_.push_back(entry.key);
    ++counters_.timers_fired;
    callback(now_);
  }
}

absl::Status ReactorBase::CheckBatch(absl::Span<const OutDatagram> datagrams,
                                     bool gso) {
  for (size_t i = 0; i < datagrams.size(); ++i) {
    size_t size = DatagramSize(datagrams[i]);
    if (size > kMaxUdpPayload) {
      return absl::InvalidArgumentError(absl::StrCat(
          "datagram ", i, " has ", size, " bytes, more than ", kMaxUdpPayload));
    }
    if (gso && i > 0) {
      size_t first = DatagramSize(datagrams[0]);
      bool last = i + 1 == datagrams.size();
      if (last ? size > first : size != first) {
        return absl::InvalidArgumentError(
            absl::StrCat("GSO batch: datagram ", i, " has ", size,
                         " bytes; all but the last need ", first,
                         " and the last at most ", first));
      }
    }
  }
  return absl::OkStatus();
}

void ReactorBase::GroupBatch(absl::Span<const OutDatagram> datagrams, bool gso,
                             std::vector<Group>* groups) {
  groups->clear();
  const uint32_t n = static_cast<uint32_t>(datagrams.size());
  if (!gso) {
    for (uint32_t i = 0; i < n; ++i) groups->push_back({i, 1});
    return;
  }
  uint32_t i = 0;
  while (i < n) {
    uint32_t count = 0;
    size_t bytes = 0;
    while (i + count < n && count < kMaxGsoSegments &&
           bytes + DatagramSize(datagrams[i + count]) <= kMaxUdpPayload) {
      bytes += DatagramSize(datagrams[i + count]);
      ++count;
    }
    groups->push_back({i, count});
    i += count;
  }
}

void ReactorBase::CountSendError(int error) {
  ++counters_.send_errors;
  if (error > 0 && error < ReactorCounters::kMaxErrno) {
    ++counters_.send_errors_by_errno[error];
  }
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Reactor>> CreateReactor(
    IoBackend backend, const ReactorOptions& options) {
  switch (backend) {
    case IoBackend::kIoUring: {
      // Asked for io_uring and nothing else: no fallback, and an error that
      // says what the choices are.
      absl::StatusOr<std::unique_ptr<Reactor>> reactor =
          internal::CreateIoUringReactor(options);
      if (reactor.ok()) return reactor;
      return absl::Status(
          reactor.status().code(),
          absl::StrCat("io_uring unavailable and io_uring was required "
                       "(choose auto to fall back to epoll, or epoll): ",
                       reactor.status().message()));
    }
    case IoBackend::kEpoll:
      return internal::CreateEpollReactor(options);
    case IoBackend::kAuto:
      break;
  }
  absl::StatusOr<std::unique_ptr<Reactor>> reactor =
      internal::CreateIoUringReactor(options);
  if (reactor.ok()) return reactor;
  LOG(WARNING) << "io_uring unavailable, using epoll: "
               << reactor.status().message();
  return internal::CreateEpollReactor(options);
}

}  // namespace rackboot::io
