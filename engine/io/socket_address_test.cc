#include "engine/io/socket_address.h"

#include "absl/container/flat_hash_set.h"
#include "engine/io/udp_socket.h"
#include "gtest/gtest.h"

namespace rackboot::io {
namespace {

TEST(SocketAddressTest, ParsesAndPrintsIpv4) {
  absl::StatusOr<SocketAddress> a = SocketAddress::Parse("198.18.0.1:69");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->is_ipv4());
  EXPECT_EQ(a->port(), 69);
  EXPECT_EQ(a->ToString(), "198.18.0.1:69");
  EXPECT_EQ(*a, SocketAddress::Ipv4({198, 18, 0, 1}, 69));
  EXPECT_NE(*a, a->WithPort(70));
  EXPECT_EQ(a->sockaddr_len(), sizeof(sockaddr_in));
}

TEST(SocketAddressTest, ParsesAndPrintsIpv6) {
  absl::StatusOr<SocketAddress> a = SocketAddress::Parse("[2001:db8::1]:4011");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->family(), AF_INET6);
  EXPECT_EQ(a->port(), 4011);
  EXPECT_EQ(a->ToString(), "[2001:db8::1]:4011");
  EXPECT_EQ(a->sockaddr_len(), sizeof(sockaddr_in6));
}

TEST(SocketAddressTest, RejectsBadText) {
  for (const char* bad :
       {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3:69", "host:69",
        "[::1:69", "::1:69", "1.2.3.4:-1", "1.2.3.4:6x"}) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(bad);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(
      SocketAddress::Parse("1.2.3:69").status().message().find("\"1.2.3:69\""),
      absl::string_view::npos);
}

TEST(SocketAddressTest, RoundTripsThroughSockaddrAndHashes) {
  SocketAddress a = *SocketAddress::Parse("127.0.0.1:6969");
  SocketAddress b;
  ASSERT_TRUE(
      SocketAddress::FromSockaddr(a.sockaddr_ptr(), a.sockaddr_len(), &b));
  EXPECT_EQ(a, b);
  EXPECT_FALSE(SocketAddress::FromSockaddr(a.sockaddr_ptr(), 4, &b));
  absl::flat_hash_set<SocketAddress> set = {a, b, a.WithPort(1)};
  EXPECT_EQ(set.size(), 2u);
}

TEST(UdpSocketTest, BindsConnectsAndReportsLocalAddress) {
  UdpSocketOptions options;
  options.reuse_port = true;
  options.recv_buffer_bytes = 1 << 20;
  options.pktinfo = true;
  absl::StatusOr<UdpSocket> a =
      UdpSocket::Bind(SocketAddress::Ipv4Loopback(0), options);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<SocketAddress> local = a->LocalAddress();
  ASSERT_TRUE(local.ok());
  EXPECT_NE(local->port(), 0);
  EXPECT_EQ(local->ToString().rfind("127.0.0.1:", 0), 0u);
  // SO_REUSEPORT: a second socket on the same port.
  absl::StatusOr<UdpSocket> b = UdpSocket::Bind(*local, options);
  EXPECT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(a->Connect(SocketAddress::Ipv4Loopback(9)).ok());
  // Moving transfers the descriptor.
  int fd = a->fd();
  UdpSocket moved = std::move(*a);
  EXPECT_EQ(moved.fd(), fd);
  EXPECT_FALSE(a->valid());
}

TEST(UdpSocketTest, ErrorsNameTheAddressAndErrno) {
  absl::StatusOr<UdpSocket> a = UdpSocket::Bind(SocketAddress::Ipv4Loopback(0));
  ASSERT_TRUE(a.ok());
  SocketAddress taken = *a->LocalAddress();
  absl::StatusOr<UdpSocket> b = UdpSocket::Bind(taken);  // No SO_REUSEPORT.
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(),
            "bind " + taken.ToString() + ": Address already in use");
  UdpSocketOptions options;
  options.bind_to_device = "no-such-device0";
  absl::StatusOr<UdpSocket> c =
      UdpSocket::Bind(SocketAddress::Ipv4Loopback(0), options);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("SO_BINDTODEVICE no-such-device0"),
            absl::string_view::npos)
      << c.status();
}

}  // namespace
}  // namespace rackboot::io
