// IoUringReactor: the io_uring backend of Reactor (see reactor.h).
//
// Receive: one multishot IORING_OP_RECVMSG per watched socket, all drawing on
// one provided buffer ring (buffer group 0) shared by the whole reactor; a
// CQE names its buffer in cqe->flags >> IORING_CQE_BUFFER_SHIFT and the
// buffer goes back to the ring when the ProvidedBuffer holding it is
// destroyed, on every path. A CQE without IORING_CQE_F_MORE ends the
// multishot (-ENOBUFS when the ring ran dry, -ECANCELED after Unwatch, ...):
// it is re-armed while the socket is watched.
//
// Send: IORING_OP_SENDMSG SQEs, queued during the iteration and submitted by
// the single io_uring_submit_and_wait_timeout() that also waits for events.
// A SendOp holds what the kernel reads (msghdrs, iovecs, copied headers,
// destination, the caller's keep_alive) until its last completion.
//
// Zero copy (SendOptions::zero_copy): IORING_OP_SENDMSG_ZC SQEs, tagged
// kTagSend like the others (SendMessage::zero_copy tells them apart, so TCP
// keeps the other tags). Each gives a result CQE, then (IORING_CQE_F_MORE on
// the result) a notification CQE (IORING_CQE_F_NOTIF) once the kernel has freed
// the packets that held the payload's pages: only then does the message stop
// holding its SendOp (and the caller's keep_alive). A refused zero-copy send
// is sent again by copy from the same SendMessage (HandleSendZc).
//
// Completions: IORING_SETUP_DEFER_TASKRUN with SINGLE_ISSUER, where the kernel
// allows them: the kernel's per-completion work waits until this thread enters
// the ring to wait, instead of interrupting it for every datagram that arrives
// (measured: a receive-heavy rackboot-load thread moved 15-20% more data). A
// single-issuer ring belongs to the thread that first submits; reactors are
// made on one thread and run on another, so the ring starts disabled
// (IORING_SETUP_R_DISABLED) and the first RunOnce enables it on its thread.
// Nothing is submitted before that (setup only queues SQEs).
//
// user_data: low 3 bits tag the operation; a send carries its SendMessage*
// (8-byte aligned, tag 0), a receive its slot index and generation.
#include <liburing.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/io/reactor_base.h"
#include "glog/logging.h"

// Linux 6.2's uapi, newer than liburing 2.3's header: ask the notification
// to say whether the kernel copied after all.
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

namespace rackboot::io::internal {
namespace {

// A zero-copy flag no kernel defines: the kernel refuses the SQE (EINVAL).
constexpr uint16_t kInvalidZeroCopyFlag = 1U << 15;

constexpr uint64_t kTagMask = 7;
constexpr uint64_t kTagSend = 0;
constexpr uint64_t kTagRecv = 1;
constexpr uint64_t kTagCancel = 2;
constexpr uint64_t kTagWake = 3;
// TCP: a listener's multishot accept, a stream's multishot recv, a stream's
// one operation (send, poll for writable, or connect), and a cancel that
// names a slot (counted in its inflight: a cancel by descriptor looks the
// descriptor up when it runs, so the slot must not close it before).
constexpr uint64_t kTagAccept = 4;
constexpr uint64_t kTagStreamRecv = 5;
constexpr uint64_t kTagStreamOp = 6;
constexpr uint64_t kTagCancelSlot = 7;
constexpr uint16_t kBufferGroup = 0;

uint64_t SlotUserData(uint32_t index, uint32_t generation, uint64_t tag) {
  return (uint64_t{generation} << 32) | (uint64_t{index} << 3) | tag;
}
uint64_t RecvUserData(uint32_t index, uint32_t generation) {
  return SlotUserData(index, generation, kTagRecv);
}
uint32_t SlotIndex(uint64_t user_data) {
  return static_cast<uint32_t>(user_data >> 3) & ((uint32_t{1} << 29) - 1);
}

// The provided buffer ring: `count` buffers of `size` bytes, registered as
// buffer group 0. liburing 2.3 lacks io_uring_setup_buf_ring(), so the ring
// is mmap'd and registered here.
class BufferRing {
 public:
  BufferRing() = default;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing() {
    if (ring_ != nullptr) munmap(ring_, ring_bytes_);
    if (buffers_ != nullptr) munmap(buffers_, buffer_bytes_);
  }

  absl::Status Init(io_uring* uring, uint32_t count, uint32_t size) {
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "recv_buffer_count ", count, " is not a power of two <= 32768"));
    }
    count_ = count;
    size_ = size;
    ring_bytes_ = sizeof(io_uring_buf) * count;
    buffer_bytes_ = size_t{size} * count;
    void* ring = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap buf ring");
    ring_ = static_cast<io_uring_buf_ring*>(ring);
    void* buffers = mmap(nullptr, buffer_bytes_, PROT_READ | PROT_WRITE,
                         MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (buffers == MAP_FAILED) {
      return absl::ErrnoToStatus(errno, "mmap receive buffers");
    }
    buffers_ = static_cast<uint8_t*>(buffers);
    io_uring_buf_ring_init(ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(ring_);
    reg.ring_entries = count;
    reg.bgid = kBufferGroup;
    int ret = io_uring_register_buf_ring(uring, &reg, 0);
    if (ret != 0) {
      return absl::ErrnoToStatus(-ret, "io_uring_register_buf_ring");
    }
    for (uint32_t i = 0; i < count; ++i) {
      io_uring_buf_ring_add(ring_, buffer(i), size_, i,
                            io_uring_buf_ring_mask(count_), i);
    }
    io_uring_buf_ring_advance(ring_, count);
    return absl::OkStatus();
  }

  uint8_t* buffer(uint16_t id) const { return buffers_ + size_t{id} * size_; }

  // Hands buffer `id` back to the kernel.
  void Recycle(uint16_t id) {
    io_uring_buf_ring_add(ring_, buffer(id), size_, id,
                          io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(ring_, 1);
  }

  size_t memory_bytes() const { return ring_bytes_ + buffer_bytes_; }

 private:
  io_uring_buf_ring* ring_ = nullptr;
  uint8_t* buffers_ = nullptr;
  size_t ring_bytes_ = 0;
  size_t buffer_bytes_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
};

// Owns one provided buffer from a CQE until destroyed, then returns it to the
// ring: no early return can leak a buffer.
class ProvidedBuffer {
 public:
  ProvidedBuffer(BufferRing* ring, const io_uring_cqe& cqe)
      : ring_((cqe.flags & IORING_CQE_F_BUFFER) ? ring : nullptr),
        id_(static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT)) {}
  ProvidedBuffer(const ProvidedBuffer&) = delete;
  ProvidedBuffer& operator=(const ProvidedBuffer&) = delete;
  ~ProvidedBuffer() {
    if (ring_ != nullptr) ring_->Recycle(id_);
  }
  bool valid() const { return ring_ != nullptr; }
  uint8_t* data() const { return ring_->buffer(id_); }

 private:
  BufferRing* ring_;
  uint16_t id_;
};

struct SendOp;

// One sendmsg SQE. Its address is the SQE's user_data.
struct alignas(8) SendMessage {
  msghdr msg;
  SendOp* op;
  uint32_t datagrams;
  bool zero_copy;  // Queued as SENDMSG_ZC (false again once sent by copy).
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(uint16_t))];
};

// One Send() call: everything the kernel reads, until the last completion.
struct SendOp {
  uint32_t slot = 0;
  uint32_t pending = 0;
  SocketAddress to;
  std::vector<uint8_t> headers;
  std::vector<iovec> iovecs;
  std::vector<SendMessage> messages;
  std::shared_ptr<const void> keep_alive;
};

class IoUringReactor final : public ReactorBase {
 public:
  explicit IoUringReactor(const ReactorOptions& options)
      : ReactorBase(options) {}
  ~IoUringReactor() override;

  absl::Status Init();

  IoBackend backend() const override { return IoBackend::kIoUring; }
  absl::StatusOr<SocketToken> Watch(UdpSocket socket,
                                    ReactorHandler* handler) override;
  void Unwatch(SocketToken token) override;
  absl::Status Send(SocketToken token, absl::Span<const OutDatagram> datagrams,
                    SendOptions options) override;
  absl::Status RunOnce(absl::Duration max_wait) override;

 protected:
  SendResult SendStreamBytes(uint32_t index, const uint8_t* data, size_t size,
                             bool more) override;
  void WaitWritable(uint32_t index) override;
  void UpdateStreamReceive(uint32_t index) override;
  void CancelAll(uint32_t index) override;
  void MaybeFinishClose(uint32_t index) override;
  absl::Status RegisterStream(uint32_t index) override {
    (void)index;
    return absl::OkStatus();
  }
  absl::Status RegisterListener(uint32_t index) override {
    (void)index;
    return absl::OkStatus();
  }
  void StartAccepting(uint32_t index) override;
  void StopAccepting(uint32_t index) override;
  void StartConnect(uint32_t index) override;

 private:
  io_uring_sqe* GetSqe();
  void SubmitNow();
  void ArmRecv(uint32_t index);
  void ArmWake();
  // Queues `message` as a send SQE: zero copy or copy.
  bool QueueSendMessage(int fd, SendMessage* message, bool zero_copy);
  void HandleSendZc(const io_uring_cqe& cqe);
  // One message of `op` no longer needs its memory.
  void FinishMessage(SendOp* op);
  void HandleCqe(const io_uring_cqe& cqe);
  void HandleRecv(const io_uring_cqe& cqe);
  void Deliver(uint32_t index, const ProvidedBuffer& buffer, int length);
  void HandleSend(SendMessage* message, int result);
  void HandleAccept(const io_uring_cqe& cqe);
  void HandleStreamRecv(const io_uring_cqe& cqe);
  void HandleStreamOp(const io_uring_cqe& cqe);
  // Queues a cancel of the request with `user_data` (or, with user_data 0,
  // of every request on the slot's descriptor), counted in the slot's
  // inflight.
  void CancelForSlot(uint32_t index, uint64_t user_data);
  // Re-arms what rearm_pending_ named (a full submission queue earlier).
  void Rearm(uint32_t index);
  SendOp* AcquireOp();
  void ReleaseOp(SendOp* op);
  bool AnyInflight() const;

  io_uring ring_{};
  bool ring_ready_ = false;
  // False until the first RunOnce enables a ring created disabled, on the
  // thread recorded in owner_ (the only one that may submit afterwards).
  bool enabled_ = true;
  std::thread::id owner_ = std::this_thread::get_id();
  BufferRing buffers_;
  msghdr recv_msg_{};  // Template for multishot recvmsg: name room, no cmsg.
  uint64_t wake_value_ = 0;
  bool sends_queued_ = false;  // Send SQEs not yet submitted.
  // The kernel refused SENDMSG_ZC (EINVAL, EOPNOTSUPP): copy from now on.
  bool zero_copy_refused_ = false;
  // Zero-copy messages whose notification has not come yet.
  uint64_t zero_copy_pending_ = 0;
  std::vector<uint32_t> rearm_pending_;
  std::vector<std::unique_ptr<SendOp>> ops_;
  std::vector<SendOp*> free_ops_;
  std::vector<Group> groups_;
  std::vector<uint32_t> first_iovec_;  // Send() scratch: datagram -> iovec.
};

absl::Status IoUringReactor::Init() {
  if (absl::Status s = InitWakeFd(); !s.ok()) return s;
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
                 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 IORING_SETUP_R_DISABLED;
  params.cq_entries = options_.cq_entries;
  int ret = io_uring_queue_init_params(options_.sq_entries, &ring_, &params);
  if (ret == -EINVAL) {  // Before Linux 6.1: no deferred task work.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
                   IORING_SETUP_COOP_TASKRUN;
    params.cq_entries = options_.cq_entries;
    ret = io_uring_queue_init_params(options_.sq_entries, &ring_, &params);
  }
  if (ret == -EINVAL) {  // Kernel older than the flags: try without them.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = options_.cq_entries;
    ret = io_uring_queue_init_params(options_.sq_entries, &ring_, &params);
  }
  if (ret < 0) {
    std::string what = "io_uring_queue_init";
    if (ret == -EPERM) {
      what += " (kernel.io_uring_disabled, or a seccomp filter)";
    }
    return absl::ErrnoToStatus(-ret, what);
  }
  ring_ready_ = true;
  enabled_ = !(params.flags & IORING_SETUP_R_DISABLED);
  if (!(params.features & IORING_FEAT_EXT_ARG)) {
    return absl::UnimplementedError(
        "io_uring: kernel lacks IORING_FEAT_EXT_ARG (needs Linux 6.0+)");
  }
  if (absl::Status s = buffers_.Init(&ring_, options_.recv_buffer_count,
                                     options_.recv_buffer_size);
      !s.ok()) {
    return s;
  }
  recv_msg_.msg_namelen = sizeof(sockaddr_in6);
  recv_msg_.msg_controllen = 0;
  ArmWake();
  return absl::OkStatus();
}

IoUringReactor::~IoUringReactor() {
  if (!ring_ready_) return;
  if (!enabled_) {
    // Never ran: nothing was submitted, so the kernel refers to nothing.
    io_uring_queue_exit(&ring_);
    return;
  }
  if (owner_ != std::this_thread::get_id()) {
    // A single-issuer ring only takes submissions from the thread that ran
    // it, which has stopped (services join it first). Closing the ring
    // cancels what is still queued; the sockets and send buffers are freed
    // after that, and the kernel holds its own file references meanwhile.
    io_uring_queue_exit(&ring_);
    return;
  }
  // Cancel every receive and let queued sends finish, so that no SQE refers
  // to memory or descriptors freed below. Bounded: at most about one second.
  // Posted functions and timers must not run from here.
  DropPendingWork();
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].state == Slot::State::kActive) {
      Unwatch(SocketToken(i, slots_[i].generation));
    }
  }
  for (uint32_t i = 0; i < slots_.size(); ++i) {  // Closing or lingering.
    if (slots_[i].stream && !slots_[i].stream->finished) AbortStream(i);
  }
  for (int round = 0; round < 100 && AnyInflight(); ++round) {
    if (!RunOnce(absl::Milliseconds(10)).ok()) break;
  }
  io_uring_queue_exit(&ring_);
}

bool IoUringReactor::AnyInflight() const {
  if (zero_copy_pending_ > 0) return true;  // Pages still in packets.
  for (const Slot& slot : slots_) {
    if (slot.inflight > 0) return true;
  }
  return false;
}

io_uring_sqe* IoUringReactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {  // Queue full: submit what is there, early.
    SubmitNow();
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void IoUringReactor::SubmitNow() {
  if (!enabled_) {
    // Only reachable if setup queued more SQEs than the ring holds.
    LOG(ERROR) << "io_uring: submission queue full before the reactor runs";
    return;
  }
  if (owner_ != std::this_thread::get_id()) {
    // Would fail with -EEXIST (single issuer); see Unwatch.
    LOG_FIRST_N(WARNING, 1)
        << "io_uring: submission from a thread that does not own the ring";
    return;
  }
  int ret = io_uring_submit(&ring_);
  if (sends_queued_) {
    ++counters_.send_system_calls;
    sends_queued_ = false;
  }
  if (ret < 0) LOG(ERROR) << "io_uring_submit: " << std::strerror(-ret);
}

void IoUringReactor::ArmWake() {
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return;  // Next Stop() still sets the flag.
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, kTagWake);
}

void IoUringReactor::ArmRecv(uint32_t index) {
  Slot& slot = slots_[index];
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    rearm_pending_.push_back(index);
    return;
  }
  io_uring_prep_recvmsg_multishot(sqe, slot.socket.fd(), &recv_msg_, MSG_TRUNC);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, RecvUserData(index, slot.generation));
  slot.recv_armed = true;
  ++slot.inflight;
}

absl::StatusOr<SocketToken> IoUringReactor::Watch(UdpSocket socket,
                                                  ReactorHandler* handler) {
  if (!socket.valid() || handler == nullptr) {
    return absl::InvalidArgumentError("Watch: invalid socket or null handler");
  }
  SocketToken token = AllocateSlot(std::move(socket), handler);
  ArmRecv(token.index());
  return token;
}

void IoUringReactor::Unwatch(SocketToken token) {
  if (CloseNonDatagram(token)) return;
  Slot* slot = Lookup(token);
  if (slot == nullptr) return;
  slot->state = Slot::State::kClosing;
  slot->handler = nullptr;
  timers_.Cancel(token.index());
  // After Run() stopped, services drop their sockets from the controlling
  // thread. A single-issuer ring refuses submissions from any thread but its
  // owner (-EEXIST): queuing a cancel per socket there filled the submission
  // queue and then failed one io_uring_submit per socket (18,958 log lines
  // for 20,000 transfers at SIGTERM). The ring's close in the destructor
  // cancels every receive anyway, and the sockets are closed after it.
  if (slot->recv_armed && enabled_ && owner_ == std::this_thread::get_id()) {
    io_uring_sqe* sqe = GetSqe();
    if (sqe != nullptr) {
      io_uring_prep_cancel64(
          sqe, RecvUserData(token.index(), token.generation()), 0);
      io_uring_sqe_set_data64(sqe, kTagCancel);
    }
  }
  MaybeFinishClose(token.index());
}

void IoUringReactor::MaybeFinishClose(uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.state == Slot::State::kClosing && slot.inflight == 0 &&
      (!slot.stream || slot.stream->finished)) {
    FreeSlot(index);
  }
}

void IoUringReactor::CancelForSlot(uint32_t index, uint64_t user_data) {
  // After Run() stopped, from another thread: the ring's close in the
  // destructor cancels everything (see Unwatch).
  if (!enabled_ || owner_ != std::this_thread::get_id()) return;
  Slot& slot = slots_[index];
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return;
  if (user_data == 0) {
    io_uring_prep_cancel_fd(sqe, slot.socket.fd(), IORING_ASYNC_CANCEL_ALL);
  } else {
    io_uring_prep_cancel64(sqe, user_data, 0);
  }
  io_uring_sqe_set_data64(sqe,
                          SlotUserData(index, slot.generation, kTagCancelSlot));
  ++slot.inflight;
}

void IoUringReactor::CancelAll(uint32_t index) {
  if (slots_[index].inflight > 0) CancelForSlot(index, 0);
}

void IoUringReactor::StartAccepting(uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.state != Slot::State::kActive || slot.recv_armed ||
      slot.accept_paused) {
    return;
  }
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    rearm_pending_.push_back(index);
    return;
  }
  io_uring_prep_multishot_accept(sqe, slot.socket.fd(), nullptr, nullptr,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe,
                          SlotUserData(index, slot.generation, kTagAccept));
  slot.recv_armed = true;
  ++slot.inflight;
}

void IoUringReactor::StopAccepting(uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.recv_armed) {
    CancelForSlot(index, SlotUserData(index, slot.generation, kTagAccept));
  }
}

void IoUringReactor::StartConnect(uint32_t index) {
  Slot& slot = slots_[index];
  Stream& st = *slot.stream;
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    StreamConnected(index, EBUSY);
    return;
  }
  io_uring_prep_connect(sqe, slot.socket.fd(), st.peer.sockaddr_ptr(),
                        st.peer.sockaddr_len());
  io_uring_sqe_set_data64(sqe,
                          SlotUserData(index, slot.generation, kTagStreamOp));
  st.op = Stream::Op::kConnect;
  ++slot.inflight;
}

void IoUringReactor::UpdateStreamReceive(uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.stream) return;
  Stream& st = *slot.stream;
  const bool wanted = ReceiveWanted(slot);
  if (wanted && !slot.recv_armed) {
    io_uring_sqe* sqe = GetSqe();
    if (sqe == nullptr) {
      rearm_pending_.push_back(index);
      return;
    }
    io_uring_prep_recv_multishot(sqe, slot.socket.fd(), nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(
        sqe, SlotUserData(index, slot.generation, kTagStreamRecv));
    slot.recv_armed = true;
    ++slot.inflight;
  } else if (!wanted && slot.recv_armed && !st.recv_cancel_pending) {
    // What completes before the cancel takes effect is held (see
    // ReactorBase::StreamBytes).
    st.recv_cancel_pending = true;
    CancelForSlot(index, SlotUserData(index, slot.generation, kTagStreamRecv));
  }
}

ReactorBase::SendResult IoUringReactor::SendStreamBytes(uint32_t index,
                                                        const uint8_t* data,
                                                        size_t size,
                                                        bool more) {
  Slot& slot = slots_[index];
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return {SendResult::kError, 0, EBUSY};
  io_uring_prep_send(sqe, slot.socket.fd(), data, size,
                     MSG_NOSIGNAL | (more ? MSG_MORE : 0));
  io_uring_sqe_set_data64(sqe,
                          SlotUserData(index, slot.generation, kTagStreamOp));
  slot.stream->op = Stream::Op::kSend;
  ++slot.inflight;
  ++counters_.tcp_send_system_calls;
  return {SendResult::kPending};
}

void IoUringReactor::WaitWritable(uint32_t index) {
  Slot& slot = slots_[index];
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {  // Try again next iteration.
    slot.stream->send_blocked = false;
    Kick(index);
    return;
  }
  io_uring_prep_poll_add(sqe, slot.socket.fd(), POLLOUT);
  io_uring_sqe_set_data64(sqe,
                          SlotUserData(index, slot.generation, kTagStreamOp));
  slot.stream->op = Stream::Op::kPoll;
  ++slot.inflight;
}

void IoUringReactor::HandleAccept(const io_uring_cqe& cqe) {
  const uint32_t index = SlotIndex(cqe.user_data);
  Slot& slot = slots_[index];
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (cqe.res >= 0) {
    Accepted(index, cqe.res, nullptr);  // Closes it if the listener closed.
  } else if (cqe.res != -ECANCELED && slot.state == Slot::State::kActive) {
    AcceptFailed(index, -cqe.res);
  }
  if (!more) {
    slot.recv_armed = false;
    --slot.inflight;
    StartAccepting(index);  // Unless closed or backing off.
    MaybeFinishClose(index);
  }
}

void IoUringReactor::HandleStreamRecv(const io_uring_cqe& cqe) {
  const uint32_t index = SlotIndex(cqe.user_data);
  Slot& slot = slots_[index];
  ProvidedBuffer buffer(&buffers_, cqe);  // Returned to the ring at scope end.
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (cqe.res > 0 && buffer.valid()) {
    StreamBytes(index, buffer.data(), static_cast<size_t>(cqe.res));
  } else if (cqe.res == 0) {
    StreamReadEnd(index, 0);
  } else if (cqe.res == -ENOBUFS) {
    ++counters_.recv_buffer_exhausted;
  } else if (cqe.res != -ECANCELED) {
    StreamReadEnd(index, -cqe.res);
  }
  if (!more) {
    slot.recv_armed = false;
    if (slot.stream) slot.stream->recv_cancel_pending = false;
    --slot.inflight;
    UpdateStreamReceive(index);  // Re-arms if still wanted.
    MaybeFinishClose(index);
  }
}

void IoUringReactor::HandleStreamOp(const io_uring_cqe& cqe) {
  const uint32_t index = SlotIndex(cqe.user_data);
  Slot& slot = slots_[index];
  Stream& st = *slot.stream;
  const Stream::Op op = st.op;
  st.op = Stream::Op::kNone;
  if (!st.finished) {
    switch (op) {
      case Stream::Op::kSend:
        st.send_blocked = false;
        if (cqe.res > 0) {
          AdvanceSend(index, static_cast<uint64_t>(cqe.res));
          PumpSend(index);
        } else if (cqe.res == 0 || cqe.res == -EAGAIN || cqe.res == -EINTR) {
          PumpSend(index);
        } else {
          ++counters_.tcp_send_errors;
          FailStream(index, absl::ErrnoToStatus(-cqe.res, "send"));
        }
        break;
      case Stream::Op::kPoll:
        st.send_blocked = false;
        PumpSend(index);  // A send error shows in the send itself.
        break;
      case Stream::Op::kConnect:
        StreamConnected(index, cqe.res < 0 ? -cqe.res : 0);
        break;
      case Stream::Op::kNone:
        break;
    }
  }
  --slot.inflight;
  MaybeFinishClose(index);
}

void IoUringReactor::Rearm(uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.state == Slot::State::kFree) return;
  switch (slot.kind) {
    case Slot::Kind::kDatagram:
      if (slot.state == Slot::State::kActive && !slot.recv_armed) {
        ArmRecv(index);
      }
      break;
    case Slot::Kind::kListener:
      StartAccepting(index);
      break;
    case Slot::Kind::kStream:
      UpdateStreamReceive(index);
      break;
  }
}

SendOp* IoUringReactor::AcquireOp() {
  if (free_ops_.empty()) {
    ops_.push_back(std::make_unique<SendOp>());
    return ops_.back().get();
  }
  SendOp* op = free_ops_.back();
  free_ops_.pop_back();
  return op;
}

void IoUringReactor::ReleaseOp(SendOp* op) {
  op->keep_alive.reset();
  op->pending = 0;
  free_ops_.push_back(op);
}

absl::Status IoUringReactor::Send(SocketToken token,
                                  absl::Span<const OutDatagram> datagrams,
                                  SendOptions options) {
  Slot* slot = Lookup(token);
  if (slot == nullptr) return absl::NotFoundError("Send: stale socket token");
  if (absl::Status s = CheckBatch(datagrams, options.gso); !s.ok()) return s;
  if (datagrams.empty()) return absl::OkStatus();

  SendOp* op = AcquireOp();
  op->slot = token.index();
  op->keep_alive = std::move(options.keep_alive);
  if (options.to.has_value()) op->to = *options.to;

  // Copy headers, then lay out header|payload iovecs (sizes fixed first so
  // no pointer into the vectors moves afterwards).
  size_t header_bytes = 0;
  for (const OutDatagram& d : datagrams) header_bytes += d.header.size();
  op->headers.resize(header_bytes);
  op->iovecs.resize(2 * datagrams.size());
  std::vector<uint32_t>& first_iovec = first_iovec_;
  first_iovec.resize(datagrams.size() + 1);
  size_t at = 0;
  size_t iov = 0;
  for (size_t i = 0; i < datagrams.size(); ++i) {
    first_iovec[i] = static_cast<uint32_t>(iov);
    const OutDatagram& d = datagrams[i];
    if (!d.header.empty()) {
      std::memcpy(op->headers.data() + at, d.header.data(), d.header.size());
      op->iovecs[iov++] = {op->headers.data() + at, d.header.size()};
      at += d.header.size();
    }
    if (!d.payload.empty()) {
      op->iovecs[iov++] = {const_cast<uint8_t*>(d.payload.data()),
                           d.payload.size()};
    }
  }
  first_iovec[datagrams.size()] = static_cast<uint32_t>(iov);

  const bool zero_copy = options.zero_copy && !zero_copy_refused_;
  GroupBatch(datagrams, options.gso,
             zero_copy ? kMaxZeroCopySegments : kMaxGsoSegments, &groups_);
  op->messages.resize(groups_.size());
  const int fd = slot->socket.fd();
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& group = groups_[g];
    SendMessage& m = op->messages[g];
    std::memset(&m.msg, 0, sizeof(m.msg));
    if (options.to.has_value()) {
      m.msg.msg_name = const_cast<sockaddr*>(op->to.sockaddr_ptr());
      m.msg.msg_namelen = op->to.sockaddr_len();
    }
    m.msg.msg_iov = &op->iovecs[first_iovec[group.first]];
    m.msg.msg_iovlen =
        first_iovec[group.first + group.count] - first_iovec[group.first];
    m.op = op;
    m.datagrams = group.count;
    if (options.gso && group.count > 1) {
      m.msg.msg_control = m.control;
      m.msg.msg_controllen = sizeof(m.control);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
      cmsg->cmsg_level = SOL_UDP;
      cmsg->cmsg_type = UDP_SEGMENT;
      cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t segment =
          static_cast<uint16_t>(DatagramSize(datagrams[group.first]));
      std::memcpy(CMSG_DATA(cmsg), &segment, sizeof(segment));
    }
    if (!QueueSendMessage(fd, &m, zero_copy)) {
      CountSendError(EBUSY);
      continue;
    }
    ++op->pending;
  }
  if (op->pending == 0) ReleaseOp(op);
  return absl::OkStatus();
}

bool IoUringReactor::QueueSendMessage(int fd, SendMessage* message,
                                      bool zero_copy) {
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return false;
  if (zero_copy) {
    io_uring_prep_sendmsg_zc(sqe, fd, &message->msg, 0);
    sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
    if (options_.refuse_zero_copy_for_testing) {
      sqe->ioprio |= kInvalidZeroCopyFlag;
    }
    ++zero_copy_pending_;
  } else {
    io_uring_prep_sendmsg(sqe, fd, &message->msg, 0);
  }
  message->zero_copy = zero_copy;
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(message) | kTagSend);
  ++slots_[message->op->slot].inflight;
  ++counters_.send_operations;
  sends_queued_ = true;
  return true;
}

void IoUringReactor::FinishMessage(SendOp* op) {
  if (--op->pending == 0) ReleaseOp(op);
}

void IoUringReactor::HandleSendZc(const io_uring_cqe& cqe) {
  SendMessage* message =
      reinterpret_cast<SendMessage*>(cqe.user_data & ~kTagMask);
  SendOp* op = message->op;
  if (cqe.flags & IORING_CQE_F_NOTIF) {  // The pages are the caller's again.
    ++counters_.zero_copy_notifications;
    if (static_cast<uint32_t>(cqe.res) & IORING_NOTIF_USAGE_ZC_COPIED) {
      ++counters_.zero_copy_copied;
    }
    --zero_copy_pending_;
    FinishMessage(op);
    return;
  }
  // The send's result. F_MORE: a notification follows, and the message
  // stays held until then.
  const uint32_t index = op->slot;
  --slots_[index].inflight;
  // A refused send may still carry F_MORE (the kernel allocated the
  // notification before it checked the request): its notification comes
  // anyway and finishes the zero-copy attempt.
  const bool notification_follows = cqe.flags & IORING_CQE_F_MORE;
  if (!notification_follows) --zero_copy_pending_;
  if (cqe.res == -EINVAL || cqe.res == -EOPNOTSUPP || cqe.res == -EMSGSIZE) {
    // Refused: send the same bytes again by copy, as one more pending unit of
    // the op (its completion finishes it in HandleSend).
    if (cqe.res != -EMSGSIZE && !zero_copy_refused_) {
      zero_copy_refused_ = true;
      LOG(WARNING) << "io_uring SENDMSG_ZC refused (" << std::strerror(-cqe.res)
                   << "): sending by copy from now on";
    }
    ++counters_.zero_copy_fallbacks;
    if (QueueSendMessage(slots_[index].socket.fd(), message, false)) {
      ++op->pending;
    } else {
      CountSendError(EBUSY);
    }
  } else if (cqe.res >= 0) {
    counters_.datagrams_sent += message->datagrams;
    counters_.bytes_sent += static_cast<uint64_t>(cqe.res);
  } else {
    CountSendError(-cqe.res);
  }
  if (!notification_follows) FinishMessage(op);
  MaybeFinishClose(index);
}

void IoUringReactor::HandleSend(SendMessage* message, int result) {
  SendOp* op = message->op;
  if (result >= 0) {
    counters_.datagrams_sent += message->datagrams;
    counters_.bytes_sent += static_cast<uint64_t>(result);
  } else {
    CountSendError(-result);
  }
  const uint32_t index = op->slot;
  --slots_[index].inflight;
  if (--op->pending == 0) ReleaseOp(op);
  MaybeFinishClose(index);
}

void IoUringReactor::Deliver(uint32_t index, const ProvidedBuffer& buffer,
                             int length) {
  io_uring_recvmsg_out* out =
      io_uring_recvmsg_validate(buffer.data(), length, &recv_msg_);
  if (out == nullptr) {
    ++counters_.recv_errors;
    return;
  }
  if (out->flags & MSG_TRUNC) {
    ++counters_.datagrams_truncated;
    return;
  }
  Slot& slot = slots_[index];
  if (slot.state != Slot::State::kActive) return;  // Unwatched meanwhile.
  SocketAddress from;
  SocketAddress::FromSockaddr(
      static_cast<const sockaddr*>(io_uring_recvmsg_name(out)),
      std::min<socklen_t>(out->namelen, recv_msg_.msg_namelen), &from);
  const uint8_t* payload =
      static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
  const unsigned size =
      io_uring_recvmsg_payload_length(out, length, &recv_msg_);
  ++counters_.datagrams_received;
  counters_.bytes_received += size;
  slot.handler->OnDatagram(SocketToken(index, slot.generation),
                           absl::MakeConstSpan(payload, size), from, now_);
}

void IoUringReactor::HandleRecv(const io_uring_cqe& cqe) {
  const uint32_t index =
      static_cast<uint32_t>(cqe.user_data >> 3) & ((uint32_t{1} << 29) - 1);
  ProvidedBuffer buffer(&buffers_, cqe);  // Returned to the ring at scope end.
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (!more) {
    slots_[index].recv_armed = false;
    --slots_[index].inflight;
  }
  if (cqe.res >= 0 && buffer.valid()) {
    Deliver(index, buffer, cqe.res);
  } else if (cqe.res == -ENOBUFS) {
    ++counters_.recv_buffer_exhausted;
  } else if (cqe.res != -ECANCELED) {
    ++counters_.recv_errors;
    LOG_EVERY_N(WARNING, 1000)
        << "io_uring recvmsg: " << std::strerror(-cqe.res);
  }
  if (!more) {
    if (slots_[index].state == Slot::State::kActive) {
      ArmRecv(index);
    } else {
      MaybeFinishClose(index);
    }
  }
}

void IoUringReactor::HandleCqe(const io_uring_cqe& cqe) {
  switch (cqe.user_data & kTagMask) {
    case kTagSend:
      if (reinterpret_cast<SendMessage*>(cqe.user_data & ~kTagMask)
              ->zero_copy ||
          (cqe.flags & IORING_CQE_F_NOTIF)) {
        HandleSendZc(cqe);
        break;
      }
      HandleSend(reinterpret_cast<SendMessage*>(cqe.user_data & ~kTagMask),
                 cqe.res);
      break;
    case kTagRecv:
      HandleRecv(cqe);
      break;
    case kTagWake:
      ArmWake();
      break;
    case kTagAccept:
      HandleAccept(cqe);
      break;
    case kTagStreamRecv:
      HandleStreamRecv(cqe);
      break;
    case kTagStreamOp:
      HandleStreamOp(cqe);
      break;
    case kTagCancelSlot: {
      const uint32_t index = SlotIndex(cqe.user_data);
      --slots_[index].inflight;
      MaybeFinishClose(index);
      break;
    }
    default:  // kTagCancel: nothing to do.
      break;
  }
}

absl::Status IoUringReactor::RunOnce(absl::Duration max_wait) {
  if (!enabled_) {  // The first iteration: the ring becomes this thread's.
    // liburing 2.3 (Debian 12) has no io_uring_enable_rings(): the raw call.
    if (syscall(__NR_io_uring_register, ring_.ring_fd,
                IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) {
      return absl::ErrnoToStatus(
          errno, "io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
    }
    enabled_ = true;
    owner_ = std::this_thread::get_id();
  }
  UpdateNow();
  // Streams with queued sends or held input: their SQEs join this
  // iteration's submission.
  RunKicks();
  if (!rearm_pending_.empty()) {
    std::vector<uint32_t> pending;
    pending.swap(rearm_pending_);
    for (uint32_t index : pending) Rearm(index);
  }
  const absl::Duration wait = WaitFor(max_wait);
  __kernel_timespec ts{};
  __kernel_timespec* timeout = nullptr;
  if (wait != absl::InfiniteDuration()) {
    ts.tv_sec = absl::ToInt64Seconds(wait);
    ts.tv_nsec = absl::ToInt64Nanoseconds(wait - absl::Seconds(ts.tv_sec));
    timeout = &ts;
  }
  io_uring_cqe* first = nullptr;
  // The one system call of the iteration: submit everything queued, wait.
  int ret =
      io_uring_submit_and_wait_timeout(&ring_, &first, 1, timeout, nullptr);
  if (sends_queued_) {
    ++counters_.send_system_calls;
    sends_queued_ = false;
  }
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY &&
      ret != -EAGAIN) {
    return absl::ErrnoToStatus(-ret, "io_uring_submit_and_wait_timeout");
  }
  UpdateNow();
  // Completions in one batch; handlers may queue more SQEs meanwhile.
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    HandleCqe(*cqe);
    if (++seen == options_.cq_entries) break;
  }
  io_uring_cq_advance(&ring_, seen);
  RunPosted();
  FireDueDeadlines();
  ++counters_.loop_iterations;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reactor>> CreateIoUringReactor(
    const ReactorOptions& options) {
  if (options.force_io_uring_failure_for_testing) {
    return absl::UnavailableError(
        "io_uring_queue_init: disabled by force_io_uring_failure_for_testing");
  }
  auto reactor = std::make_unique<IoUringReactor>(options);
  if (absl::Status s = reactor->Init(); !s.ok()) return s;
  return std::unique_ptr<Reactor>(std::move(reactor));
}

}  // namespace rackboot::io::internal
