// DropCapabilities: after every socket is bound, clear the capabilities a
// non-root start was given (architecture principle 5, for the systemd case).
//
// Under systemd rackbootd runs as User=rackboot with
// AmbientCapabilities=CAP_NET_BIND_SERVICE: the capability binds ports 67, 69
// and 80, and nothing the daemon does afterwards needs it (TFTP transfer
// sockets use unprivileged ports; SO_BINDTODEVICE on an unbound socket needs
// no privilege since Linux 5.7). Started as root, DropPrivileges
// (privileges.h) already loses them with root; this is the same promise
// without root: a flaw in a packet parser then has no capability at all.
//
//   absl::StatusOr<DroppedCapabilities> dropped = os::DropCapabilities();
//   LOG(INFO) << "capabilities dropped: " << dropped->Describe();
//
// Capabilities are per thread (capset(2) changes only the caller's), and the
// services' threads are running by the time every socket is bound, so every
// thread of the process drops its own: each is sent a real-time signal whose
// handler clears its ambient set (PR_CAP_AMBIENT_CLEAR_ALL) and its
// inheritable, permitted and effective sets (capset to zero), as glibc does
// for setresuid(2). Then /proc/self/task/<tid>/status is read back for every
// thread. io_uring's kernel workers ("iou-wrk-*", "iou-sqp-*") take no
// signals and are skipped: the kernel runs each request with the credentials
// of the thread that submitted it. The bounding set is left as is (dropping
// from it needs CAP_SETPCAP; the unit's CapabilityBoundingSet bounds it).
//
// Call from the main thread, once, after the services started. Threads that
// block the signal (none of rackbootd's) make it fail after a second.
#ifndef RACKBOOT_ENGINE_OS_CAPABILITIES_H_
#define RACKBOOT_ENGINE_OS_CAPABILITIES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace rackboot::os {

// Bit i set: capability i (CAP_NET_BIND_SERVICE is 10).
struct CapabilitySets {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
  bool empty() const {
    return (effective | permitted | inheritable | ambient) == 0;
  }
};

// "cap_net_bind_service,cap_net_admin" for the bits of `mask`; "none" for 0.
std::string CapabilityNames(uint64_t mask);

// The calling thread's sets.
absl::StatusOr<CapabilitySets> ThreadCapabilities();

struct DroppedCapabilities {
  CapabilitySets before;  // the main thread's, before the drop
  int threads = 0;        // threads that dropped theirs (the caller included)
  // "cap_net_bind_service (effective, permitted, ambient) on 5 threads", or
  // "none held".
  std::string Describe() const;
};

// Clears the ambient, inheritable, permitted and effective sets of every
// thread (see above) and checks that each is empty afterwards.
absl::StatusOr<DroppedCapabilities> DropCapabilities();

}  // namespace rackboot::os

#endif  // RACKBOOT_ENGINE_OS_CAPABILITIES_H_
