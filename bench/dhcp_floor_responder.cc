// dhcp_floor_responder: the floor row of `./rackboot bench dhcp`
// (bench/dhcp_peers.sh). The least a DHCP server with rackbootd's durability
// must do per exchange: answer a DISCOVER with an OFFER and a REQUEST with an
// ACK from a trivial allocator (next address per new MAC), and append each
// ACK's lease record to a journal file with group-committed fdatasync, sending
// the ACK only after the fdatasync that covered its record (rackbootd's rule:
// a DHCPACK leaves only after its lease is on disk). Nothing else: no lease
// table, no options beyond what a client needs, no logging, no counters but
// the stop line. Built for perfdhcp acting as a relay (replies go to
// giaddr:67); a request without giaddr is answered at ciaddr:68 or by
// broadcast.
//
// Threads: the main thread receives (recvmmsg), builds replies, sends OFFERs
// (sendmmsg) and hands each batch of ACK records to the writer thread; the
// writer waits out the commit window, writes and fdatasyncs what it was handed,
// then sends those ACKs itself (sendmmsg on the shared socket), so no wake-up
// goes back to the main thread.
//
// Usage: dhcp_floor_responder --journal=FILE [--server_id=198.18.0.1]
//   [--pool_first=198.18.1.0] [--pool_size=130815] [--lease_seconds=3600]
//   [--port=67] [--commit_window_us=2000]
// Stops on SIGINT/SIGTERM with one line on stderr:
//   floor: offers=N acks=N journal_records=N journal_syncs=N
// and prints "floor: ready" on stderr once its socket is bound.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kBatch = 64;
constexpr size_t kReplySize = 300;  // BOOTP's minimum message size
constexpr size_t kFixedHeader = 236;
constexpr uint32_t kMagicCookie = 0x63825363;

struct Flags {
  std::string journal;
  uint32_t server_id = 0xC6120001;   // 198.18.0.1
  uint32_t pool_first = 0xC6120100;  // 198.18.1.0
  uint32_t pool_size = 130815;
  uint32_t lease_seconds = 3600;
  uint16_t port = 67;
  int commit_window_us = 2000;
};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void Usage(const char* arg) {
  std::fprintf(stderr, "floor: bad argument '%s' (see the header of %s)\n", arg,
               __FILE__);
  std::exit(2);
}

uint32_t ParseIpv4(const char* text, const char* arg) {
  in_addr a;
  if (inet_pton(AF_INET, text, &a) != 1) Usage(arg);
  return ntohl(a.s_addr);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* eq = std::strchr(a, '=');
    if (eq == nullptr) Usage(a);
    const std::string name(a, eq - a);
    const char* v = eq + 1;
    if (name == "--journal") {
      f.journal = v;
    } else if (name == "--server_id") {
      f.server_id = ParseIpv4(v, a);
    } else if (name == "--pool_first") {
      f.pool_first = ParseIpv4(v, a);
    } else if (name == "--pool_size") {
      f.pool_size = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (name == "--lease_seconds") {
      f.lease_seconds = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (name == "--port") {
      f.port = static_cast<uint16_t>(std::strtoul(v, nullptr, 10));
    } else if (name == "--commit_window_us") {
      f.commit_window_us = std::atoi(v);
    } else {
      Usage(a);
    }
  }
  if (f.journal.empty() || f.pool_size == 0) Usage("--journal/--pool_size");
  return f;
}

void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint32_t Get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}

// What the responder reads from a client message.
struct Request {
  int type = 0;            // option 53, 0 if absent
  uint32_t requested = 0;  // option 50
};

// Reads op, the cookie and options 53/50; false for anything malformed.
bool Parse(const uint8_t* m, size_t n, Request* r) {
  if (n < kFixedHeader + 4 || m[0] != 1 || m[1] != 1 || m[2] != 6) return false;
  if (Get32(m + kFixedHeader) != kMagicCookie) return false;
  size_t i = kFixedHeader + 4;
  while (i < n) {
    const uint8_t code = m[i];
    if (code == 255) break;
    if (code == 0) {
      ++i;
      continue;
    }
    if (i + 2 > n || i + 2 + m[i + 1] > n) return false;
    const uint8_t len = m[i + 1];
    if (code == 53 && len == 1) r->type = m[i + 2];
    if (code == 50 && len == 4) r->requested = Get32(m + i + 2);
    i += 2 + len;
  }
  return r->type != 0;
}

// The reply to `m` (a parsed request) offering/acknowledging `yiaddr`.
void BuildReply(const uint8_t* m, int type, uint32_t yiaddr, const Flags& f,
                uint8_t* out) {
  std::memset(out, 0, kReplySize);
  out[0] = 2;                         // BOOTREPLY
  std::memcpy(out + 1, m + 1, 2);     // htype, hlen
  std::memcpy(out + 4, m + 4, 4);     // xid
  std::memcpy(out + 10, m + 10, 2);   // flags
  Put32(out + 16, yiaddr);            // yiaddr
  std::memcpy(out + 24, m + 24, 4);   // giaddr
  std::memcpy(out + 28, m + 28, 16);  // chaddr
  Put32(out + kFixedHeader, kMagicCookie);
  uint8_t* o = out + kFixedHeader + 4;
  *o++ = 53, *o++ = 1, *o++ = static_cast<uint8_t>(type);
  *o++ = 54, *o++ = 4, Put32(o, f.server_id), o += 4;
  *o++ = 51, *o++ = 4, Put32(o, f.lease_seconds), o += 4;
  *o++ = 1, *o++ = 4, Put32(o, 0xFFFE0000), o += 4;  // /15, the bench's subnet
  *o = 255;
}

sockaddr_in Destination(const uint8_t* m, const Flags& f) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  const uint32_t giaddr = Get32(m + 24), ciaddr = Get32(m + 12);
  if (giaddr != 0) {
    to.sin_addr.s_addr = htonl(giaddr);
    to.sin_port = htons(f.port);
  } else {
    to.sin_addr.s_addr = htonl(ciaddr != 0 ? ciaddr : INADDR_BROADCAST);
    to.sin_port = htons(68);
  }
  return to;
}

// One reply waiting to be sent.
struct Reply {
  std::array<uint8_t, kReplySize> bytes;
  sockaddr_in to;
};

void SendAll(int fd, const std::vector<Reply>& replies) {
  std::array<mmsghdr, kBatch> msgs;
  std::array<iovec, kBatch> iovs;
  for (size_t done = 0; done < replies.size();) {
    const size_t n = std::min<size_t>(kBatch, replies.size() - done);
    for (size_t i = 0; i < n; ++i) {
      const Reply& r = replies[done + i];
      iovs[i] = {const_cast<uint8_t*>(r.bytes.data()), r.bytes.size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&r.to);
      msgs[i].msg_hdr.msg_namelen = sizeof(r.to);
    }
    const int sent = sendmmsg(fd, msgs.data(), n, 0);
    if (sent <= 0) {
      if (sent < 0 && errno == EINTR) continue;
      done += n;  // a lost datagram: the client retransmits, as for any loss
      continue;
    }
    done += sent;
  }
}

// The journal: records and their ACKs handed over by the main thread; the
// writer thread makes the records durable, then sends the ACKs.
class Journal {
 public:
  Journal(const Flags& flags, int socket_fd) : flags_(flags), sock_(socket_fd) {
    fd_ = open(flags.journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
               0644);
    if (fd_ < 0) Die(flags.journal.c_str());
    writer_ = std::thread([this] { WriterLoop(); });
  }
  ~Journal() { Stop(); }

  // Syncs and sends what was handed, then stops the writer. Idempotent.
  void Stop() {
    if (!writer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    writer_.join();
    close(fd_);
  }

  // Hands over this batch's records and ACKs (swapped out: the caller's
  // vectors come back empty).
  void Hand(std::string* records, std::vector<Reply>* acks) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      handed_records_ += acks->size();
      handed_.append(*records);
      handed_acks_.insert(handed_acks_.end(), acks->begin(), acks->end());
    }
    records->clear();
    acks->clear();
    cv_.notify_one();
  }

  uint64_t records() const { return records_.load(); }
  uint64_t syncs() const { return syncs_.load(); }

 private:
  void WriterLoop() {
    std::string writing;
    std::vector<Reply> acks;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !handed_.empty(); });
      if (handed_.empty()) return;
      if (flags_.commit_window_us > 0 && !stop_) {
        // Group commit: let more ACKs join this sync, as rackbootd's journal
        // does with its default --dhcp_commit_window_us.
        cv_.wait_for(lock, std::chrono::microseconds(flags_.commit_window_us),
                     [this] { return stop_ || handed_records_ >= 1024; });
      }
      writing.swap(handed_);
      acks.swap(handed_acks_);
      const uint64_t n = handed_records_;
      handed_records_ = 0;
      lock.unlock();
      for (size_t off = 0; off < writing.size();) {
        const ssize_t w =
            write(fd_, writing.data() + off, writing.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) Die("journal write");
        off += static_cast<size_t>(w);
      }
      if (fdatasync(fd_) != 0) Die("journal fdatasync");
      records_ += n;
      ++syncs_;
      SendAll(sock_, acks);  // only now: their records are on disk
      writing.clear();
      acks.clear();
      lock.lock();
    }
  }

  const Flags& flags_;
  const int sock_;
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string handed_;
  std::vector<Reply> handed_acks_;
  uint64_t handed_records_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> syncs_{0};
  std::thread writer_;
};

volatile sig_atomic_t stop_requested = 0;
void OnSignal(int) { stop_requested = 1; }

// "expires mac address\n": what an ACK made durable.
void AppendRecord(const uint8_t* chaddr, uint32_t address, uint32_t lease,
                  std::string* out) {
  char line[64];
  const int n = std::snprintf(
      line, sizeof(line), "%lld %02x:%02x:%02x:%02x:%02x:%02x %u.%u.%u.%u\n",
      static_cast<long long>(std::time(nullptr)) + lease, chaddr[0], chaddr[1],
      chaddr[2], chaddr[3], chaddr[4], chaddr[5], address >> 24,
      (address >> 16) & 255, (address >> 8) & 255, address & 255);
  out->append(line, static_cast<size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: recvmmsg returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  int on = 1, rcvbuf = 8 << 20;  // rackbootd's receive buffer
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(flags.port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0) {
    Die("bind");
  }

  uint64_t offers = 0, acks_total = 0;
  {
    Journal journal(flags, fd);
    std::fprintf(stderr, "floor: ready\n");
    std::unordered_map<uint64_t, uint32_t> by_mac;  // the allocator
    uint32_t next = 0;
    auto address_of = [&](const uint8_t* chaddr) {
      uint64_t key = 0;
      std::memcpy(&key, chaddr, 6);
      auto [it, added] = by_mac.try_emplace(key, 0);
      if (added) it->second = flags.pool_first + next++ % flags.pool_size;
      return it->second;
    };

    std::vector<std::array<uint8_t, 1500>> in(kBatch);
    std::array<iovec, kBatch> iovs;
    std::array<mmsghdr, kBatch> msgs;
    std::vector<Reply> out_offers, out_acks;
    std::string records;
    while (!stop_requested) {
      for (int i = 0; i < kBatch; ++i) {
        iovs[i] = {in[i].data(), in[i].size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        Die("recvmmsg");
      }
      for (int i = 0; i < n; ++i) {
        const uint8_t* m = in[i].data();
        Request r;
        if (!Parse(m, msgs[i].msg_len, &r)) continue;
        if (r.type == 1) {  // DISCOVER
          Reply& reply = out_offers.emplace_back();
          BuildReply(m, 2, address_of(m + 28), flags, reply.bytes.data());
          reply.to = Destination(m, flags);
        } else if (r.type == 3) {  // REQUEST
          const uint32_t address = address_of(m + 28);
          Reply& reply = out_acks.emplace_back();
          BuildReply(m, 5, address, flags, reply.bytes.data());
          reply.to = Destination(m, flags);
          AppendRecord(m + 28, address, flags.lease_seconds, &records);
        }
      }
      offers += out_offers.size();
      SendAll(fd, out_offers);
      out_offers.clear();
      if (!out_acks.empty()) {
        acks_total += out_acks.size();
        journal.Hand(&records, &out_acks);
      }
    }
    journal.Stop();  // syncs and sends what was handed
    std::fprintf(stderr,
                 "floor: offers=%llu acks=%llu journal_records=%llu "
                 "journal_syncs=%llu\n",
                 static_cast<unsigned long long>(offers),
                 static_cast<unsigned long long>(acks_total),
                 static_cast<unsigned long long>(journal.records()),
                 static_cast<unsigned long long>(journal.syncs()));
  }
  close(fd);
  return 0;
}
