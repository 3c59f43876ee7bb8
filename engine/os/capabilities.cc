#include "engine/os/capabilities.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace rackboot::os {
namespace {

// capability(7)'s names, by number (Linux 6.x: 0..40).
constexpr const char* kNames[] = {"cap_chown",
                                  "cap_dac_override",
                                  "cap_dac_read_search",
                                  "cap_fowner",
                                  "cap_fsetid",
                                  "cap_kill",
                                  "cap_setgid",
                                  "cap_setuid",
                                  "cap_setpcap",
                                  "cap_linux_immutable",
                                  "cap_net_bind_service",
                                  "cap_net_broadcast",
                                  "cap_net_admin",
                                  "cap_net_raw",
                                  "cap_ipc_lock",
                                  "cap_ipc_owner",
                                  "cap_sys_module",
                                  "cap_sys_rawio",
                                  "cap_sys_chroot",
                                  "cap_sys_ptrace",
                                  "cap_sys_pacct",
                                  "cap_sys_admin",
                                  "cap_sys_boot",
                                  "cap_sys_nice",
                                  "cap_sys_resource",
                                  "cap_sys_time",
                                  "cap_sys_tty_config",
                                  "cap_mknod",
                                  "cap_lease",
                                  "cap_audit_write",
                                  "cap_audit_control",
                                  "cap_setfcap",
                                  "cap_mac_override",
                                  "cap_mac_admin",
                                  "cap_syslog",
                                  "cap_wake_alarm",
                                  "cap_block_suspend",
                                  "cap_audit_read",
                                  "cap_perfmon",
                                  "cap_bpf",
                                  "cap_checkpoint_restore"};
constexpr int kKnown = sizeof(kNames) / sizeof(kNames[0]);

pid_t ThreadId() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Clears this thread's sets; returns 0 or the errno. Async-signal-safe.
int DropInThisThread() {
  // Ambient first is not required (clearing permitted clears it), but it
  // also covers a kernel that would keep it; EINVAL: no ambient support.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
      errno != EINVAL) {
    return errno;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) return errno;
  return 0;
}

std::atomic<int> signal_failures{0};
// The threads whose handler ran, in order: the caller waits for each
// signalled thread to appear here (a thread whose sets were already empty,
// as after setresuid from root, looks done in /proc before its handler ran;
// the handler must not outlive the action it was installed with).
constexpr int kMaxHandled = 1 << 14;
std::atomic<int> handled_count{0};
std::atomic<pid_t> handled_tids[kMaxHandled];

void OnDropSignal(int) {
  const int saved = errno;
  if (DropInThisThread() != 0) signal_failures.fetch_add(1);
  const int index = handled_count.fetch_add(1);
  if (index < kMaxHandled) handled_tids[index].store(ThreadId());
  errno = saved;
}

bool Handled(pid_t tid) {
  const int n = std::min(handled_count.load(), kMaxHandled);
  for (int i = 0; i < n; ++i) {
    if (handled_tids[i].load() == tid) return true;
  }
  return false;
}

// One thread's sets from /proc/self/task/<tid>/status, and its name.
struct TaskState {
  CapabilitySets sets;
  std::string name;
  bool gone = false;
};

TaskState ReadTask(pid_t tid) {
  TaskState state;
  const std::string dir = absl::StrCat("/proc/self/task/", tid);
  std::ifstream status(dir + "/status");
  if (!status) {
    state.gone = true;
    return state;
  }
  std::string line;
  auto hex = [](absl::string_view value, uint64_t& out) {
    value = absl::StripAsciiWhitespace(value);
    out = std::strtoull(std::string(value).c_str(), nullptr, 16);
  };
  while (std::getline(status, line)) {
    absl::string_view l = line;
    if (absl::ConsumePrefix(&l, "Name:")) {
      state.name = std::string(absl::StripAsciiWhitespace(l));
    } else if (absl::ConsumePrefix(&l, "CapInh:")) {
      hex(l, state.sets.inheritable);
    } else if (absl::ConsumePrefix(&l, "CapPrm:")) {
      hex(l, state.sets.permitted);
    } else if (absl::ConsumePrefix(&l, "CapEff:")) {
      hex(l, state.sets.effective);
    } else if (absl::ConsumePrefix(&l, "CapAmb:")) {
      hex(l, state.sets.ambient);
    }
  }
  return state;
}

std::vector<pid_t> ListThreads() {
  std::vector<pid_t> tids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (dirent* entry = readdir(dir)) {
    int tid = 0;
    if (absl::SimpleAtoi(entry->d_name, &tid) && tid > 0) tids.push_back(tid);
  }
  closedir(dir);
  return tids;
}

// io_uring's kernel-side workers: no signals, no user code.
bool IsIoUringWorker(const std::string& name) {
  return absl::StartsWith(name, "iou-");
}

}  // namespace

std::string CapabilityNames(uint64_t mask) {
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) {
    if ((mask & (uint64_t{1} << i)) == 0) continue;
    names.push_back(i < kKnown ? kNames[i] : absl::StrCat("cap_", i));
  }
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

absl::StatusOr<CapabilitySets> ThreadCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return absl::ErrnoToStatus(errno, "capget");
  }
  CapabilitySets sets;
  sets.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
  sets.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  sets.inheritable =
      data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
  for (int i = 0; i < 64; ++i) {
    const int set = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0);
    if (set < 0) break;  // EINVAL past the last capability
    if (set == 1) sets.ambient |= uint64_t{1} << i;
  }
  return sets;
}

std::string DroppedCapabilities::Describe() const {
  const uint64_t all =
      before.effective | before.permitted | before.inheritable | before.ambient;
  if (all == 0) return absl::StrCat("none held (", threads, " threads)");
  std::vector<std::string> sets;
  if (before.effective) sets.push_back("effective");
  if (before.permitted) sets.push_back("permitted");
  if (before.inheritable) sets.push_back("inheritable");
  if (before.ambient) sets.push_back("ambient");
  return absl::StrCat(CapabilityNames(all), " (", absl::StrJoin(sets, ", "),
                      ") on ", threads, " threads");
}

absl::StatusOr<DroppedCapabilities> DropCapabilities() {
  DroppedCapabilities result;
  absl::StatusOr<CapabilitySets> before = ThreadCapabilities();
  if (!before.ok()) return before.status();
  result.before = *before;

  const pid_t self = ThreadId();
  if (int error = DropInThisThread(); error != 0) {
    return absl::ErrnoToStatus(error, "dropping capabilities (capset)");
  }
  result.threads = 1;

  // Every other thread drops its own, from the signal's handler.
  const int signal_number = SIGRTMIN;
  struct sigaction action {};
  struct sigaction old {};
  action.sa_handler = OnDropSignal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  if (sigaction(signal_number, &action, &old) != 0) {
    return absl::ErrnoToStatus(errno, "sigaction");
  }
  signal_failures.store(0);
  handled_count.store(0);
  std::set<pid_t> done = {self};
  absl::Status status;
  // Rounds, in case a thread started another meanwhile (it inherits the
  // starter's sets): until a listing shows no thread left to do.
  for (int round = 0; round < 5 && status.ok(); ++round) {
    std::vector<pid_t> pending;
    for (pid_t tid : ListThreads()) {
      if (done.count(tid) > 0) continue;
      const TaskState task = ReadTask(tid);
      if (task.gone || IsIoUringWorker(task.name)) {
        done.insert(tid);
        continue;
      }
      if (syscall(SYS_tgkill, getpid(), tid, signal_number) != 0) {
        if (errno == ESRCH) {  // it ended meanwhile
          done.insert(tid);
          continue;
        }
        status = absl::ErrnoToStatus(errno, absl::StrCat("tgkill ", tid));
        break;
      }
      pending.push_back(tid);
    }
    if (pending.empty()) break;
    // Each handler runs at its thread's next return to user space: wait
    // until every pending thread ran it, then check /proc.
    for (int wait = 0; wait < 1000 && !pending.empty(); ++wait) {
      std::vector<pid_t> still;
      for (pid_t tid : pending) {
        if (Handled(tid)) {
          const TaskState task = ReadTask(tid);
          if (!task.gone && !task.sets.empty()) {
            status = absl::InternalError(absl::StrCat(
                "thread ", tid, " (", task.name,
                ") still holds capabilities after dropping them: ",
                CapabilityNames(task.sets.effective | task.sets.permitted |
                                task.sets.inheritable | task.sets.ambient)));
          }
          done.insert(tid);
          ++result.threads;
        } else if (ReadTask(tid).gone) {
          done.insert(tid);
        } else {
          still.push_back(tid);
        }
      }
      pending.swap(still);
      if (!pending.empty()) {
        const timespec pause{0, 1000000};  // 1 ms
        nanosleep(&pause, nullptr);
      }
    }
    if (!pending.empty()) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "thread ", pending.front(),
          " kept its capabilities for a second after being asked to drop "
          "them (does it block signal ",
          signal_number, "?)"));
    }
  }
  // A thread that has not taken its signal yet must not meet the default
  // action (termination): ignore the signal then, which also discards it.
  if (status.ok()) {
    sigaction(signal_number, &old, nullptr);
  } else {
    signal(signal_number, SIG_IGN);
    return status;
  }
  if (signal_failures.load() != 0) {
    return absl::InternalError(
        absl::StrCat(signal_failures.load(),
                     " threads could not drop their capabilities (capset)"));
  }
  // Checked, not assumed.
  absl::StatusOr<CapabilitySets> after = ThreadCapabilities();
  if (!after.ok()) return after.status();
  if (!after->empty()) {
    return absl::InternalError(
        absl::StrCat("capabilities still held after dropping them: ",
                     CapabilityNames(after->effective | after->permitted |
                                     after->inheritable | after->ambient)));
  }
  return result;
}

}  // namespace rackboot::os
