// send_path: measures the kernel's send path for file bytes, copy against
// zero copy, as CPU seconds of the sending process per GiB sent. Run by
// bench/send_path.sh (`./rackboot bench send`), which makes the network
// namespaces, the dummy netdev and the veth pair; this binary only sends (or,
// with --mode=tcp-sink, receives and discards).
//
// UDP modes send TFTP-shaped GSO windows (a 4-byte header + a slice of the
// mmap'd file per datagram, `--segments` datagrams per sendmsg, one
// UDP_SEGMENT cmsg), the way engine/io's reactor does:
//   udp-sendmsg      sendmsg(2): the kernel copies the payload into skbs.
//   udp-uring        IORING_OP_SENDMSG (what the reactor does today): copy.
//   udp-uring-zc     IORING_OP_SENDMSG_ZC: the kernel pins the file's pages;
//                    each send has a result CQE and a NOTIF CQE (pages free).
//   udp-msg-zerocopy sendmsg(MSG_ZEROCOPY) on an SO_ZEROCOPY socket;
//                    completions read from the socket's error queue.
// TCP modes stream the file to --dst (a tcp-sink in another namespace):
//   tcp-write        write(2) from the mapping: copy.
//   tcp-sendfile     sendfile(2): page references, no CPU copy.
//   tcp-uring-zc     IORING_OP_SEND_ZC from the mapping.
//
// Output: one line `mode=... bytes=... cpu_s=... wall_s=... gib_per_s=...
// cpu_s_per_gib=... sends=... copied_notifs=... errors=...`. CPU is
// getrusage(RUSAGE_SELF): user + system of every thread of this process
// (io_uring's io-wq workers included; softirq work the kernel does in this
// thread's context, such as veth delivery, included too).
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

struct Args {
  std::string mode;
  std::string file;
  std::string dst;        // a.b.c.d:port
  std::string src;        // optional bind address
  double seconds = 3;     // how long to send
  size_t payload = 1432;  // UDP: file bytes per datagram
  size_t segments = 45;   // UDP: datagrams per GSO send
  size_t chunk = 262144;  // TCP: bytes per write/sendfile/SEND_ZC
  unsigned depth = 8;     // io_uring: sends in flight
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "send_path: %s: %s\n", what.c_str(),
               std::strerror(errno));
  std::exit(1);
}

double Monotonic() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

sockaddr_in ParseAddr(const std::string& s) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  size_t colon = s.rfind(':');
  std::string host = colon == std::string::npos ? s : s.substr(0, colon);
  a.sin_port =
      htons(colon == std::string::npos
                ? 0
                : static_cast<uint16_t>(std::stoi(s.substr(colon + 1))));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    errno = EINVAL;
    Die("bad address " + s);
  }
  return a;
}

struct Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  int fd = -1;
};

Mapping MapFile(const std::string& path) {
  Mapping m;
  m.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd < 0) Die("open " + path);
  struct stat st;
  if (fstat(m.fd, &st) != 0) Die("fstat");
  m.size = static_cast<size_t>(st.st_size);
  void* p =
      mmap(nullptr, m.size, PROT_READ, MAP_SHARED | MAP_POPULATE, m.fd, 0);
  if (p == MAP_FAILED) Die("mmap");
  m.data = static_cast<const uint8_t*>(p);
  return m;
}

struct Result {
  uint64_t bytes = 0;
  uint64_t sends = 0;
  uint64_t notifs = 0;
  uint64_t copied_notifs = 0;  // the kernel copied after all
  uint64_t errors = 0;
  int first_error = 0;
};

void CountError(Result* r, int err) {
  if (r->errors++ == 0) r->first_error = err;
}

// One GSO window: headers[i] | file slice per datagram, laid out as iovecs.
struct Window {
  std::vector<uint8_t> headers;
  std::vector<iovec> iov;
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(uint16_t))];
  msghdr msg{};
  sockaddr_in to{};
};

// Fills `w` with the next window from `*offset` (wrapping at the file end)
// and returns the UDP payload bytes it carries.
size_t BuildWindow(const Args& a, const Mapping& m, size_t* offset,
                   uint16_t* block, Window* w) {
  w->headers.resize(4 * a.segments);
  w->iov.resize(2 * a.segments);
  size_t total = 0;
  for (size_t i = 0; i < a.segments; ++i) {
    if (*offset + a.payload > m.size) *offset = 0;
    uint8_t* h = &w->headers[4 * i];
    h[0] = 0;
    h[1] = 3;  // DATA
    h[2] = static_cast<uint8_t>(*block >> 8);
    h[3] = static_cast<uint8_t>(*block);
    ++*block;
    w->iov[2 * i] = {h, 4};
    w->iov[2 * i + 1] = {const_cast<uint8_t*>(m.data + *offset), a.payload};
    *offset += a.payload;
    total += 4 + a.payload;
  }
  std::memset(&w->msg, 0, sizeof(w->msg));
  w->msg.msg_name = &w->to;
  w->msg.msg_namelen = sizeof(w->to);
  w->msg.msg_iov = w->iov.data();
  w->msg.msg_iovlen = w->iov.size();
  if (a.segments > 1) {
    w->msg.msg_control = w->control;
    w->msg.msg_controllen = sizeof(w->control);
    cmsghdr* c = CMSG_FIRSTHDR(&w->msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = static_cast<uint16_t>(4 + a.payload);
    std::memcpy(CMSG_DATA(c), &seg, sizeof(seg));
  }
  return total;
}

int UdpSocket(const Args& a, bool zerocopy) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  if (zerocopy) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) {
      Die("SO_ZEROCOPY");
    }
  }
  if (!a.src.empty()) {
    sockaddr_in s = ParseAddr(a.src);
    if (bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof(s)) != 0) Die("bind");
  }
  return fd;
}

// Reads every MSG_ZEROCOPY completion queued on `fd`'s error queue; returns
// how many sends they complete.
uint64_t DrainErrQueue(int fd, Result* r) {
  uint64_t done = 0;
  for (;;) {
    alignas(cmsghdr) unsigned char control[128];
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(&msg, c)) {
      if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))) {
        continue;
      }
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(c), sizeof(ee));
      if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
      const uint64_t n = uint64_t{ee.ee_data} - ee.ee_info + 1;  // range
      done += n;
      r->notifs += n;
      if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) r->copied_notifs += n;
    }
  }
  return done;
}

Result UdpSendmsg(const Args& a, const Mapping& m, bool zerocopy) {
  Result r;
  int fd = UdpSocket(a, zerocopy);
  Window w;
  w.to = ParseAddr(a.dst);
  size_t offset = 0;
  uint16_t block = 1;
  uint64_t outstanding = 0;
  const double end = Monotonic() + a.seconds;
  while (Monotonic() < end) {
    for (int k = 0; k < 16; ++k) {
      size_t n = BuildWindow(a, m, &offset, &block, &w);
      ssize_t s = sendmsg(fd, &w.msg, zerocopy ? MSG_ZEROCOPY : 0);
      if (s < 0) {
        if (errno == ENOBUFS && zerocopy) {  // optmem full: reap, retry
          outstanding -= DrainErrQueue(fd, &r);
          continue;
        }
        CountError(&r, errno);
        continue;
      }
      r.bytes += n;
      ++r.sends;
      if (zerocopy) ++outstanding;
    }
    if (zerocopy) outstanding -= DrainErrQueue(fd, &r);
  }
  // Every page must be released before the mapping could be: wait for all.
  const double deadline = Monotonic() + 2;
  while (zerocopy && outstanding > 0 && Monotonic() < deadline) {
    outstanding -= DrainErrQueue(fd, &r);
  }
  close(fd);
  return r;
}

// io_uring UDP: up to a.depth windows in flight, one submit+wait per round.
Result UdpUring(const Args& a, const Mapping& m, bool zc) {
  Result r;
  int fd = UdpSocket(a, false);
  io_uring ring;
  if (int ret = io_uring_queue_init(256, &ring, 0); ret < 0) {
    errno = -ret;
    Die("io_uring_queue_init");
  }
  std::vector<Window> windows(a.depth);
  // A window is reusable once its send completed and (zc) its notif came.
  std::vector<int> busy(a.depth, 0);
  std::vector<size_t> lengths(a.depth, 0);
  for (Window& w : windows) w.to = ParseAddr(a.dst);
  size_t offset = 0;
  uint16_t block = 1;
  unsigned inflight = 0;
  const double end = Monotonic() + a.seconds;
  bool stopping = false;
  for (;;) {
    if (!stopping && Monotonic() >= end) stopping = true;
    if (stopping && inflight == 0) break;
    if (!stopping) {
      for (unsigned i = 0; i < a.depth; ++i) {
        if (busy[i] != 0) continue;
        lengths[i] = BuildWindow(a, m, &offset, &block, &windows[i]);
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (zc) {
          io_uring_prep_sendmsg_zc(sqe, fd, &windows[i].msg, 0);
          sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
          busy[i] = 2;
        } else {
          io_uring_prep_sendmsg(sqe, fd, &windows[i].msg, 0);
          busy[i] = 1;
        }
        io_uring_sqe_set_data64(sqe, i);
        ++inflight;
      }
    }
    io_uring_cqe* cqe;
    int ret = io_uring_submit_and_wait(&ring, 1);
    if (ret < 0 && ret != -EINTR) {
      errno = -ret;
      Die("io_uring_submit_and_wait");
    }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const unsigned i = static_cast<unsigned>(cqe->user_data);
      if (cqe->flags & IORING_CQE_F_NOTIF) {
        ++r.notifs;
        if (static_cast<uint32_t>(cqe->res) & IORING_NOTIF_USAGE_ZC_COPIED) {
          ++r.copied_notifs;
        }
      } else {
        if (cqe->res >= 0) {
          r.bytes += lengths[i];
          ++r.sends;
        } else {
          CountError(&r, -cqe->res);
        }
        // Without F_MORE no notification follows (the send failed early).
        if (zc && !(cqe->flags & IORING_CQE_F_MORE)) --busy[i];
      }
      if (--busy[i] == 0) --inflight;
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  close(fd);
  return r;
}

int TcpConnect(const Args& a) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  if (!a.src.empty()) {
    sockaddr_in s = ParseAddr(a.src);
    if (bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof(s)) != 0) Die("bind");
  }
  sockaddr_in d = ParseAddr(a.dst);
  for (int tries = 0;; ++tries) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&d), sizeof(d)) == 0) break;
    if (tries > 50) Die("connect " + a.dst);
    usleep(100000);
  }
  return fd;
}

Result TcpSend(const Args& a, const Mapping& m) {
  Result r;
  int fd = TcpConnect(a);
  const double end = Monotonic() + a.seconds;
  size_t offset = 0;
  while (Monotonic() < end) {
    for (int k = 0; k < 8; ++k) {
      if (offset >= m.size) offset = 0;
      const size_t n = std::min(a.chunk, m.size - offset);
      ssize_t s;
      if (a.mode == "tcp-write") {
        s = write(fd, m.data + offset, n);
      } else {
        off_t off = static_cast<off_t>(offset);
        s = sendfile(fd, m.fd, &off, n);
      }
      if (s < 0) {
        CountError(&r, errno);
        if (errno == EPIPE || errno == ECONNRESET) return r;
        continue;
      }
      offset += static_cast<size_t>(s);
      r.bytes += static_cast<uint64_t>(s);
      ++r.sends;
    }
  }
  close(fd);
  return r;
}

Result TcpUringZc(const Args& a, const Mapping& m) {
  Result r;
  int fd = TcpConnect(a);
  io_uring ring;
  if (int ret = io_uring_queue_init(256, &ring, 0); ret < 0) {
    errno = -ret;
    Die("io_uring_queue_init");
  }
  // A stream must not reorder: one send in flight at a time, as a server
  // sending one response would (several connections give the parallelism).
  size_t offset = 0;
  const double end = Monotonic() + a.seconds;
  unsigned notifs_pending = 0;
  bool send_pending = false;
  for (;;) {
    const bool stopping = Monotonic() >= end;
    if (stopping && !send_pending && notifs_pending == 0) break;
    if (!stopping && !send_pending) {
      if (offset >= m.size) offset = 0;
      const size_t n = std::min(a.chunk, m.size - offset);
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_send_zc(sqe, fd, m.data + offset, n, 0,
                            IORING_SEND_ZC_REPORT_USAGE);
      io_uring_sqe_set_data64(sqe, 0);
      send_pending = true;
    }
    io_uring_cqe* cqe;
    int ret = io_uring_submit_and_wait(&ring, 1);
    if (ret < 0 && ret != -EINTR) {
      errno = -ret;
      Die("io_uring_submit_and_wait");
    }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if (cqe->flags & IORING_CQE_F_NOTIF) {
        --notifs_pending;
        ++r.notifs;
        if (static_cast<uint32_t>(cqe->res) & IORING_NOTIF_USAGE_ZC_COPIED) {
          ++r.copied_notifs;
        }
        continue;
      }
      send_pending = false;
      if (cqe->flags & IORING_CQE_F_MORE) ++notifs_pending;
      if (cqe->res < 0) {
        CountError(&r, -cqe->res);
        if (cqe->res == -EPIPE || cqe->res == -ECONNRESET) break;
        continue;
      }
      offset += static_cast<size_t>(cqe->res);
      r.bytes += static_cast<uint64_t>(cqe->res);
      ++r.sends;
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  close(fd);
  return r;
}

// Accepts connections one after another and discards what they send.
void TcpSink(const Args& a) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in s = ParseAddr(a.dst);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&s), sizeof(s)) != 0) Die("bind");
  if (listen(lfd, 16) != 0) Die("listen");
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) Die("accept");
    while (read(fd, buf.data(), buf.size()) > 0) {
    }
    close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    size_t eq = s.find('=');
    if (s.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr,
                   "usage: send_path --mode=M --dst=A:P [--file=F] "
                   "[--src=A] [--seconds=S] [--payload=N] "
                   "[--segments=N] [--chunk=N] [--depth=N]\n");
      return 2;
    }
    kv[s.substr(2, eq - 2)] = s.substr(eq + 1);
  }
  a.mode = kv["mode"];
  a.file = kv["file"];
  a.dst = kv["dst"];
  a.src = kv["src"];
  if (kv.count("seconds")) a.seconds = std::stod(kv["seconds"]);
  if (kv.count("payload")) a.payload = std::stoul(kv["payload"]);
  if (kv.count("segments")) a.segments = std::stoul(kv["segments"]);
  if (kv.count("chunk")) a.chunk = std::stoul(kv["chunk"]);
  if (kv.count("depth")) a.depth = std::stoul(kv["depth"]);
  if (a.mode == "tcp-sink") TcpSink(a);

  Mapping m = MapFile(a.file);
  if (m.size < a.payload * a.segments) {
    errno = EINVAL;
    Die("file smaller than one window");
  }
  const double cpu0 = CpuSeconds();
  const double t0 = Monotonic();
  Result r;
  if (a.mode == "udp-sendmsg") {
    r = UdpSendmsg(a, m, false);
  } else if (a.mode == "udp-msg-zerocopy") {
    r = UdpSendmsg(a, m, true);
  } else if (a.mode == "udp-uring") {
    r = UdpUring(a, m, false);
  } else if (a.mode == "udp-uring-zc") {
    r = UdpUring(a, m, true);
  } else if (a.mode == "tcp-write" || a.mode == "tcp-sendfile") {
    r = TcpSend(a, m);
  } else if (a.mode == "tcp-uring-zc") {
    r = TcpUringZc(a, m);
  } else {
    errno = EINVAL;
    Die("unknown mode " + a.mode);
  }
  const double wall = Monotonic() - t0;
  const double cpu = CpuSeconds() - cpu0;
  const double gib = r.bytes / double(1ULL << 30);
  std::printf(
      "mode=%s bytes=%llu cpu_s=%.3f wall_s=%.3f gib_per_s=%.3f "
      "cpu_s_per_gib=%.3f sends=%llu notifs=%llu copied_notifs=%llu "
      "errors=%llu first_error=%s\n",
      a.mode.c_str(), static_cast<unsigned long long>(r.bytes), cpu, wall,
      gib / wall, gib > 0 ? cpu / gib : 0.0,
      static_cast<unsigned long long>(r.sends),
      static_cast<unsigned long long>(r.notifs),
      static_cast<unsigned long long>(r.copied_notifs),
      static_cast<unsigned long long>(r.errors),
      r.errors ? strerrorname_np(r.first_error) : "-");
  return r.bytes > 0 ? 0 : 1;
}
