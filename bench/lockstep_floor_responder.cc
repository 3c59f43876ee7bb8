// lockstep_floor_responder: the floor row of `./rackboot bench tftp`'s
// lock-step scenarios: a TFTP read server that does the least work a valid
// lock-step transfer allows, so that rackbootd's server CPU per GiB can be
// stated as a ratio to it. Not a product: a bench tool, run by
// bench/tftp_load.sh and tested by bench/lockstep_floor_test.sh.
// Usage: lockstep_floor_responder ADDRESS:PORT ROOT [THREADS]
// What it does, per thread (THREADS, default 1; each has its own SO_REUSEPORT
// listening socket and epoll set, so the kernel spreads RRQs by source, and
// nothing is shared between threads):
//   RRQ in on the listening socket -> the file, mapped once per thread and
//   kept (the bench's files never change) -> a new UDP socket bound to
//   ADDRESS:0 and connect()ed to the client (its port is the transfer's TID,
//   RFC 1350; the kernel demultiplexes the ACKs) -> OACK when the RRQ asked
//   for blksize or tsize (the load tool always asks tsize, firmware asks both;
//   windowsize and everything else is left out, so the client goes lock-step),
//   else DATA 1 -> ACK n in, DATA n+1 out (one writev of the 4-byte header and
//   the mapped bytes) -> the ACK of the short last block closes the socket.
// No retransmit timer: the client's timeout resends the previous ACK (we
// resend the current block) or the RRQ (a new transfer). Transfers idle 10 s
// are closed by a sweep once a second. Names: a leading '/' is dropped, ".."
// gets ERROR 2, a missing file ERROR 1. Every mode is served as octet.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kMaxBlksize = 1468;  // fits a 1500-byte MTU, as rackbootd's
constexpr time_t kIdleSeconds = 10;

struct File {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

struct Transfer {
  int fd = -1;
  File file;
  uint64_t blksize = 512;
  uint64_t sent = 0;  // the last block sent; 0 = the OACK
  time_t active = 0;
};

sockaddr_in g_address{};
int g_root = -1;

void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// The file, mapped on first use and kept; nullptr when it cannot be read.
const File* Lookup(std::unordered_map<std::string, File>& files,
                   const std::string& name) {
  auto it = files.find(name);
  if (it != files.end()) return &it->second;
  int fd = openat(g_root, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  File f;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    f.size = static_cast<uint64_t>(st.st_size);
    void* p = f.size == 0 ? nullptr
                          : mmap(nullptr, f.size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) f.size = UINT64_MAX;
    f.data = static_cast<const uint8_t*>(p);
  } else {
    f.size = UINT64_MAX;
  }
  close(fd);
  if (f.size == UINT64_MAX) return nullptr;
  return &files.emplace(name, f).first->second;
}

void SendError(int fd, const sockaddr_in& to, uint16_t code, const char* text) {
  char buf[128] = {0, 5, 0, static_cast<char>(code)};
  size_t n = 4 + std::strlen(text) + 1;
  std::memcpy(buf + 4, text, n - 4);
  sendto(fd, buf, n, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
}

// DATA `block` of the transfer (its last block may be short or empty).
void SendBlock(Transfer& t, uint64_t block) {
  const uint64_t offset = (block - 1) * t.blksize;
  const uint64_t len = std::min(t.blksize, t.file.size - offset);
  uint8_t header[4] = {0, 3, static_cast<uint8_t>(block >> 8),
                       static_cast<uint8_t>(block)};
  iovec iov[2] = {{header, 4},
                  {const_cast<uint8_t*>(t.file.data) + offset, len}};
  (void)writev(t.fd, iov, len == 0 ? 1 : 2);
  t.sent = block;
}

uint64_t LastBlock(const Transfer& t) { return t.file.size / t.blksize + 1; }

// An RRQ from `from`: a transfer in `transfers` (owned), or an ERROR.
void OnRrq(int listen_fd, const uint8_t* p, size_t n, const sockaddr_in& from,
           int epoll_fd, std::unordered_map<std::string, File>& files,
           std::vector<Transfer*>& transfers) {
  if (n < 4 || p[0] != 0 || p[1] != 1 || p[n - 1] != 0) return;
  // Fields: filename, mode, then option name/value pairs, all NUL-ended.
  std::vector<std::string> fields;
  for (size_t i = 2; i < n;) {
    size_t end = i;
    while (p[end] != 0) ++end;
    fields.emplace_back(reinterpret_cast<const char*>(p + i), end - i);
    i = end + 1;
  }
  if (fields.size() < 2) return;
  std::string name = fields[0];
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (name.find("..") != std::string::npos) {
    SendError(listen_fd, from, 2, "access violation");
    return;
  }
  const File* file = Lookup(files, name);
  if (file == nullptr) {
    SendError(listen_fd, from, 1, "file not found");
    return;
  }
  auto* t = new Transfer;
  t->file = *file;
  t->active = time(nullptr);
  std::string oack = {0, 6};
  for (size_t i = 2; i + 1 < fields.size(); i += 2) {
    if (strcasecmp(fields[i].c_str(), "blksize") == 0) {
      const long v = std::strtol(fields[i + 1].c_str(), nullptr, 10);
      t->blksize = static_cast<uint64_t>(std::clamp<long>(v, 8, kMaxBlksize));
      oack += "blksize";
      oack += '\0';
      oack += std::to_string(t->blksize);
      oack += '\0';
    } else if (strcasecmp(fields[i].c_str(), "tsize") == 0) {
      oack += "tsize";
      oack += '\0';
      oack += std::to_string(file->size);
      oack += '\0';
    }
  }
  t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in local = g_address;
  local.sin_port = 0;
  if (t->fd < 0 ||
      bind(t->fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      connect(t->fd, reinterpret_cast<const sockaddr*>(&from), sizeof(from)) !=
          0) {
    std::perror("transfer socket");
    if (t->fd >= 0) close(t->fd);
    delete t;
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = t;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, t->fd, &ev);
  transfers.push_back(t);
  if (oack.size() > 2) {
    (void)send(t->fd, oack.data(), oack.size(), 0);  // t->sent stays 0
  } else {
    SendBlock(*t, 1);
  }
}

// ACKs on a transfer's socket. Returns false once the transfer is over.
bool OnAcks(Transfer& t) {
  uint8_t buf[516];
  for (;;) {
    const ssize_t n = recv(t.fd, buf, sizeof(buf), 0);
    if (n < 0) return true;  // EAGAIN: drained (or an ICMP error: ignored)
    if (n < 4 || buf[0] != 0) continue;
    if (buf[1] == 5) return false;  // the client's ERROR ends it
    if (buf[1] != 4) continue;
    const uint16_t ack = static_cast<uint16_t>(buf[2] << 8 | buf[3]);
    t.active = time(nullptr);
    if (ack == static_cast<uint16_t>(t.sent)) {
      if (t.sent == LastBlock(t)) return false;  // done
      SendBlock(t, t.sent + 1);
    } else if (t.sent > 0 && ack == static_cast<uint16_t>(t.sent - 1)) {
      SendBlock(t, t.sent);  // the client timed out: our DATA was lost
    }
  }
}

void Serve() {
  const int listen_fd =
      socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (listen_fd < 0 ||
      setsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
      bind(listen_fd, reinterpret_cast<sockaddr*>(&g_address),
           sizeof(g_address))) {
    Die("listening socket");
  }
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listening socket
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
  std::unordered_map<std::string, File> files;
  std::vector<Transfer*> transfers;
  std::vector<epoll_event> events(1024);
  time_t last_sweep = time(nullptr);
  for (;;) {
    const int n = epoll_wait(epoll_fd, events.data(),
                             static_cast<int>(events.size()), 1000);
    for (int i = 0; i < n; ++i) {
      auto* t = static_cast<Transfer*>(events[i].data.ptr);
      if (t != nullptr) {
        if (t->fd >= 0 && !OnAcks(*t)) {
          close(t->fd);  // leaves the epoll set; freed below, after the batch
          t->fd = -1;
        }
        continue;
      }
      uint8_t buf[1024];
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      ssize_t got;
      while ((got = recvfrom(listen_fd, buf, sizeof(buf), 0,
                             reinterpret_cast<sockaddr*>(&from), &len)) > 0) {
        OnRrq(listen_fd, buf, static_cast<size_t>(got), from, epoll_fd, files,
              transfers);
        len = sizeof(from);
      }
    }
    // Closed transfers are freed here, never while their events may still be
    // in `events`; idle ones (a client that gave up) are closed once a second.
    const time_t now = time(nullptr);
    const bool sweep = now != last_sweep;
    last_sweep = now;
    std::erase_if(transfers, [&](Transfer* t) {
      if (sweep && t->fd >= 0 && now - t->active > kIdleSeconds) {
        close(t->fd);
        t->fd = -1;
      }
      if (t->fd >= 0) return false;
      delete t;
      return true;
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr,
                 "usage: lockstep_floor_responder ADDRESS:PORT ROOT "
                 "[THREADS]\n");
    return 2;
  }
  const std::string hostport = argv[1];
  const size_t colon = hostport.rfind(':');
  g_address.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, hostport.substr(0, colon).c_str(),
                &g_address.sin_addr) != 1) {
    std::fprintf(stderr, "not ADDRESS:PORT: %s\n", argv[1]);
    return 2;
  }
  g_address.sin_port =
      htons(static_cast<uint16_t>(std::atoi(hostport.c_str() + colon + 1)));
  g_root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_root < 0) Die(argv[2]);
  const int threads = argc == 4 ? std::max(1, std::atoi(argv[3])) : 1;
  // A socket per transfer: 1,000 at once and more.
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back(Serve);
  std::fprintf(stderr,
               "lockstep_floor_responder: serving %s on %s, %d threads\n",
               argv[2], argv[1], threads);
  Serve();
}
