// lockstep_floor_responder ADDRESS:PORT ROOT [THREADS]: the floor row of
// `./rackboot bench tftp`'s lock-step scenarios, a TFTP read server doing the
// least work a valid lock-step transfer allows, so that rackbootd's CPU per
// GiB can be stated as a ratio to it. A bench tool run by bench/tftp_load.sh,
// tested by bench/lockstep_floor_test.sh.
// Each thread (THREADS, default 1) shares nothing and owns two sockets: one on
// ADDRESS:PORT (SO_REUSEPORT: the kernel spreads RRQs over the threads) and
// one on ADDRESS:0 whose port is the server's TID for all the thread's
// transfers. Transfers are told apart by the pair of TIDs, and the client's is
// new for each, so one server port for many is valid TFTP (a client checks
// only that replies come from the port that answered first); it lets one
// recvmmsg take many transfers' ACKs and one sendmmsg send their next blocks,
// the fewest system calls per block plain sockets allow. A hash map on the
// client's address and port finds the transfer.
//   RRQ -> the file, mapped once per thread and kept (the bench's files never
//   change) -> OACK when the RRQ asked blksize or tsize (the load tool always
//   asks tsize, firmware both; windowsize is never taken, so the client goes
//   lock-step), else DATA 1 -> ACK n in, DATA n+1 out (header and mapped bytes
//   in one iovec pair) -> the ACK of the short last block ends the transfer.
// No retransmit timer: the client's timeout resends the previous ACK (the
// current block goes again) or the RRQ (the transfer restarts). Transfers idle
// 10 s are dropped by a sweep once a second. Names: a leading '/' is dropped,
// ".." gets ERROR 2, a missing file ERROR 1. Every mode is served as octet.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
constexpr int kBatch = 256;  // datagrams per recvmmsg / sendmmsg

struct File {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

struct Transfer {
  File file;
  uint64_t blksize = 512;
  uint64_t sent = 0;  // the last block sent; 0 = the OACK
  time_t active = 0;
};

sockaddr_in g_address{};
int g_root = -1;

uint64_t Key(const sockaddr_in& a) {
  return uint64_t{a.sin_addr.s_addr} << 16 | a.sin_port;
}

int Socket(uint16_t port, bool reuse) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  sockaddr_in a = g_address;
  a.sin_port = port;
  if (fd < 0 ||
      (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a))) {
    std::perror("socket");
    std::exit(1);
  }
  return fd;
}

// The file, mapped on first use and kept; nullptr when it cannot be read.
const File* Lookup(std::unordered_map<std::string, File>& files,
                   const std::string& name) {
  auto it = files.find(name);
  if (it != files.end()) return &it->second;
  const int fd = openat(g_root, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  File f;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && st.st_size > 0) {
    f.size = static_cast<uint64_t>(st.st_size);
    void* p = mmap(nullptr, f.size, PROT_READ, MAP_SHARED, fd, 0);
    ok = p != MAP_FAILED;
    f.data = static_cast<const uint8_t*>(p);
  }
  close(fd);
  return ok ? &files.emplace(name, f).first->second : nullptr;
}

// One thread's sockets, transfers and send batch.
class Server {
 public:
  Server()
      : listen_fd_(Socket(g_address.sin_port, true)),
        data_fd_(Socket(0, false)) {}
  [[noreturn]] void Run();

 private:
  void OnRrq(const uint8_t* p, size_t n, const sockaddr_in& from);
  void OnAck(const uint8_t* p, size_t n, const sockaddr_in& from);
  // Queues DATA `block` of `t` to `to` (the last block may be short or empty).
  void QueueBlock(Transfer& t, uint64_t block, const sockaddr_in& to);
  // Queues a datagram: `head` (copied; up to 64 bytes) then `body` (kept).
  void Queue(const void* head, size_t head_len, const uint8_t* body,
             size_t body_len, const sockaddr_in& to);
  void Flush();

  const int listen_fd_;
  const int data_fd_;
  std::unordered_map<std::string, File> files_;
  std::unordered_map<uint64_t, Transfer> transfers_;
  // The send batch: up to 2 * kBatch datagrams (every RRQ and ACK received
  // in one round answers at most one).
  int queued_ = 0;
  mmsghdr out_[2 * kBatch];
  iovec out_iov_[2 * kBatch][2];
  sockaddr_in out_to_[2 * kBatch];
  // DATA headers and OACKs (at most 42 bytes: one blksize, one tsize).
  uint8_t out_head_[2 * kBatch][64];
};

void Server::Queue(const void* head, size_t head_len, const uint8_t* body,
                   size_t body_len, const sockaddr_in& to) {
  if (queued_ == 2 * kBatch) Flush();
  const int i = queued_++;
  out_to_[i] = to;
  std::memcpy(out_head_[i], head, head_len);
  out_iov_[i][0] = {out_head_[i], head_len};
  out_iov_[i][1] = {const_cast<uint8_t*>(body), body_len};
  out_[i] = {};
  out_[i].msg_hdr.msg_name = &out_to_[i];
  out_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
  out_[i].msg_hdr.msg_iov = out_iov_[i];
  out_[i].msg_hdr.msg_iovlen = body_len > 0 ? 2 : 1;
}

void Server::Flush() {
  // A datagram the kernel refuses is lost: the client's timeout recovers it.
  for (int done = 0; done < queued_;) {
    const int n = sendmmsg(data_fd_, out_ + done, queued_ - done, 0);
    done += n > 0 ? n : 1;
  }
  queued_ = 0;
}

void Server::QueueBlock(Transfer& t, uint64_t block, const sockaddr_in& to) {
  const uint64_t offset = (block - 1) * t.blksize;
  const uint8_t head[4] = {0, 3, static_cast<uint8_t>(block >> 8),
                           static_cast<uint8_t>(block)};
  Queue(head, 4, t.file.data + offset,
        std::min(t.blksize, t.file.size - offset), to);
  t.sent = block;
}

void Server::OnRrq(const uint8_t* p, size_t n, const sockaddr_in& from) {
  if (n < 4 || p[0] != 0 || p[1] != 1 || p[n - 1] != 0) return;
  // Fields: filename, mode, then option name/value pairs, all NUL-ended.
  std::vector<std::string> fields;
  for (size_t i = 2; i < n; i += fields.back().size() + 1) {
    fields.emplace_back(reinterpret_cast<const char*>(p + i));
  }
  if (fields.size() < 2) return;
  std::string name = fields[0];
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  const bool up = name.find("..") != std::string::npos;
  const File* file = up ? nullptr : Lookup(files_, name);
  if (file == nullptr) {
    const char* text = up ? "access violation" : "file not found";
    char error[32] = {0, 5, 0, static_cast<char>(up ? 2 : 1)};
    std::strcpy(error + 4, text);
    sendto(listen_fd_, error, 5 + std::strlen(text), 0,
           reinterpret_cast<const sockaddr*>(&from), sizeof(from));
    return;
  }
  // A repeated RRQ (our OACK or DATA 1 was lost) restarts the transfer.
  Transfer& t = transfers_[Key(from)];
  t = Transfer{*file, 512, 0, time(nullptr)};
  std::string oack = {0, 6};  // each option once at most: 42 bytes
  for (size_t i = 2; i + 1 < fields.size(); i += 2) {
    const char* option = fields[i].c_str();
    if (strcasecmp(option, "blksize") == 0 &&
        oack.find("blksize") == oack.npos) {
      const long v = std::strtol(fields[i + 1].c_str(), nullptr, 10);
      t.blksize = static_cast<uint64_t>(std::clamp<long>(v, 8, kMaxBlksize));
      oack += std::string("blksize") + '\0' + std::to_string(t.blksize) + '\0';
    } else if (strcasecmp(option, "tsize") == 0 &&
               oack.find("tsize") == oack.npos) {
      oack += std::string("tsize") + '\0' + std::to_string(file->size) + '\0';
    }
  }
  if (oack.size() == 2) {
    QueueBlock(t, 1, from);
  } else {
    Queue(oack.data(), oack.size(), nullptr, 0, from);
  }
}

void Server::OnAck(const uint8_t* p, size_t n, const sockaddr_in& from) {
  auto it = transfers_.find(Key(from));
  if (n < 4 || p[0] != 0 || it == transfers_.end()) return;
  Transfer& t = it->second;
  if (p[1] == 5) {  // the client's ERROR ends it
    transfers_.erase(it);
    return;
  }
  if (p[1] != 4) return;
  const uint16_t ack = static_cast<uint16_t>(p[2] << 8 | p[3]);
  t.active = time(nullptr);
  if (ack == static_cast<uint16_t>(t.sent)) {
    if (t.sent == t.file.size / t.blksize + 1) {
      transfers_.erase(it);  // the last block was ACKed: done
    } else {
      QueueBlock(t, t.sent + 1, from);
    }
  } else if (t.sent > 0 && ack == static_cast<uint16_t>(t.sent - 1)) {
    QueueBlock(t, t.sent, from);  // the client timed out: our DATA was lost
  }
}

void Server::Run() {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  for (int fd : {listen_fd_, data_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  static thread_local uint8_t in[kBatch][600];
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in from[kBatch];
  time_t last_sweep = time(nullptr);
  for (;;) {
    epoll_event events[2];
    const int ready = epoll_wait(epoll_fd, events, 2, 1000);
    for (int e = 0; e < ready; ++e) {
      const int fd = events[e].data.fd;
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {in[i], sizeof(in[i])};
        msgs[i] = {{&from[i], sizeof(from[i]), &iov[i], 1, nullptr, 0, 0}, 0};
      }
      const int n = recvmmsg(fd, msgs, kBatch, 0, nullptr);
      const auto handler = fd == listen_fd_ ? &Server::OnRrq : &Server::OnAck;
      for (int i = 0; i < n; ++i) {
        (this->*handler)(in[i], msgs[i].msg_len, from[i]);
      }
    }
    Flush();
    const time_t now = time(nullptr);
    if (now == last_sweep) continue;
    last_sweep = now;
    std::erase_if(transfers_, [&](const auto& kv) {
      return now - kv.second.active > kIdleSeconds;
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string hostport = argc >= 3 && argc <= 4 ? argv[1] : "";
  const size_t colon = hostport.rfind(':');
  g_address.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, hostport.substr(0, colon).c_str(),
                &g_address.sin_addr) != 1) {
    std::fprintf(stderr, "usage: %s ADDRESS:PORT ROOT [THREADS]\n", argv[0]);
    return 2;
  }
  g_address.sin_port =
      htons(static_cast<uint16_t>(std::atoi(hostport.c_str() + colon + 1)));
  g_root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_root < 0) {
    std::perror(argv[2]);
    return 1;
  }
  const int threads = argc == 4 ? std::max(1, std::atoi(argv[3])) : 1;
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([] { Server().Run(); });
  }
  std::fprintf(stderr, "floor: serving %s on %s\n", argv[2], argv[1]);
  for (std::thread& w : workers) w.join();
}
