// Socket option helpers UdpSocket and TcpSocket share. Internal to engine/io;
// any thread (they touch only the descriptor given).
#ifndef RACKBOOT_ENGINE_IO_SOCKET_OPTIONS_H_
#define RACKBOOT_ENGINE_IO_SOCKET_OPTIONS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/io/socket_address.h"

namespace rackboot::io::internal {

// setsockopt of an int; the error names `what` and `address`.
absl::Status SetIntOption(int fd, int level, int name, int value,
                          absl::string_view what, const SocketAddress& address);

// SO_RCVBUF/SO_SNDBUF (`name`), then the FORCE variant (`force_name`, which
// needs CAP_NET_ADMIN) if the kernel capped the value. Best effort; bytes <= 0
// leaves the kernel's default.
void SetBufferSize(int fd, int name, int force_name, int bytes);

}  // namespace rackboot::io::internal

#endif  // RACKBOOT_ENGINE_IO_SOCKET_OPTIONS_H_
