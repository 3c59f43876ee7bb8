// Dropping root after the sockets are bound (architecture principle 5).
//
// rackbootd starts as root to bind ports 67 and 69 and to tie its sockets to
// one interface; nothing it does afterwards needs root. DropPrivileges() turns
// the whole process (every thread: glibc applies setresuid and setgroups to
// all of them) into an unprivileged user with no capabilities, so a flaw in a
// packet parser cannot rewrite files outside the state directory.
//
// What still works afterwards, and why:
//   - Sockets, the TFTP root and the state directory are already open; files
//     are reached through those descriptors (openat, openat2), so a root or
//     state directory below a path the user cannot traverse (/root/...) works.
//   - The state directory and the regular files in it are given to the user
//     first, so the journal can be compacted and bring-up.tsv rewritten.
//   - New TFTP transfer sockets use unprivileged ports, and SO_BINDTODEVICE on
//     an unbound socket needs no privilege since Linux 5.7.
//   - DHCP replies that RFC 2131 would unicast to a client without an address
//     need an ARP entry (CAP_NET_ADMIN); without it they are broadcast, which
//     every DHCP client accepts (RFC 2131 section 4.1 allows it).
//
// Call from the main thread once every service is started. Not thread-safe
// against concurrent changes of credentials (nothing else changes them).
#ifndef RACKBOOT_ENGINE_OS_PRIVILEGES_H_
#define RACKBOOT_ENGINE_OS_PRIVILEGES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rackboot::os {

struct UserIds {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks `name` up in the user database. NotFound names the user and says what
// to do.
absl::StatusOr<UserIds> LookUpUser(const std::string& name);

// Whether `user` may list and read `directory` (search and read permission by
// its mode bits for owner, group or others; ACLs are not consulted). The error
// says which directory, its mode and owner, and how to fix it.
absl::Status CheckReadableBy(const std::string& directory, const UserIds& user);

// Gives `directory` and the regular files directly in it to `user` (symbolic
// links are not followed, subdirectories are left alone).
absl::Status GiveDirectoryTo(const std::string& directory, const UserIds& user);

// Drops every group, then sets the real, effective and saved group and user
// ids to `user`'s, which clears every capability of every thread; sets
// no_new_privs; then checks that root cannot be regained.
// REQUIRES: the process runs as root.
absl::Status DropPrivileges(const UserIds& user);

}  // namespace rackboot::os

#endif  // RACKBOOT_ENGINE_OS_PRIVILEGES_H_
