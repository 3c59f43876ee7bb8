// RaiseDescriptorLimit: the daemon's descriptor ceiling, raised once.
//
// Every TFTP transfer and HTTP connection holds a descriptor: thousands of
// them need more than the usual soft limit of 1,024. The hard limit is the
// administrator's bound; take all of it. Services size their caps from the
// result. Any thread; idempotent (later calls find the limit already raised).
#ifndef RACKBOOT_ENGINE_OS_DESCRIPTOR_LIMIT_H_
#define RACKBOOT_ENGINE_OS_DESCRIPTOR_LIMIT_H_

#include <cstddef>

namespace rackboot::os {

// Raises the soft RLIMIT_NOFILE to the hard one and returns the soft limit
// in force (1,024 if it cannot be read; 2^20 for "unlimited").
size_t RaiseDescriptorLimit();

}  // namespace rackboot::os

#endif  // RACKBOOT_ENGINE_OS_DESCRIPTOR_LIMIT_H_
