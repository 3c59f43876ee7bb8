#include "tools/load/load_runner.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::load {
namespace {

using ::testing::HasSubstr;

TEST(ParseFlowTest, AcceptsDhcpTftpAndHttpSteps) {
  absl::StatusOr<std::vector<FlowStep>> flow = ParseFlow(
      "dhcp,tftp:undionly.kpxe,http:/boot/vmlinuz,http:/boot/initrd.img");
  ASSERT_TRUE(flow.ok()) << flow.status();
  ASSERT_EQ(flow->size(), 4u);
  EXPECT_EQ((*flow)[0].kind, FlowStep::Kind::kDhcp);
  EXPECT_EQ((*flow)[1].kind, FlowStep::Kind::kTftp);
  EXPECT_EQ((*flow)[1].path, "undionly.kpxe");
  EXPECT_EQ((*flow)[2].kind, FlowStep::Kind::kHttp);
  EXPECT_EQ((*flow)[2].path, "/boot/vmlinuz");
  EXPECT_EQ((*flow)[3].Name(), "http:/boot/initrd.img");
  EXPECT_EQ((*flow)[1].Name(), "tftp:undionly.kpxe");
  // http alone, and http between tftp steps.
  EXPECT_TRUE(ParseFlow("http:/boot/file").ok());
  EXPECT_TRUE(ParseFlow("tftp:a,http:/b,tftp:c").ok());
}

TEST(ParseFlowTest, RejectsBadHttpPathsAndUnknownSteps) {
  for (const std::string& bad : std::vector<std::string>{
           "http:", "http:boot/x", "http:/a b", "http:/a\x7f",
           "http:/" + std::string(2048, 'a'), "https:/x", "dhcp,http:/x,dhcp",
           ""}) {
    absl::StatusOr<std::vector<FlowStep>> flow = ParseFlow(bad);
    EXPECT_FALSE(flow.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(flow.status())) << bad;
  }
  EXPECT_THAT(std::string(ParseFlow("ftp:/x").status().message()),
              HasSubstr("steps are dhcp (first only), tftp:PATH and "
                        "http:/PATH"));
  EXPECT_THAT(std::string(ParseFlow("http:x").status().message()),
              HasSubstr("http:/boot/vmlinuz"));
  // 2048 bytes of path is the limit, inclusive.
  EXPECT_TRUE(ParseFlow("http:/" + std::string(2047, 'a')).ok());
}

TEST(ParseHttpServerTest, AddressWithOrWithoutPort) {
  absl::StatusOr<io::SocketAddress> a = ParseHttpServer("198.18.0.1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ToString(), "198.18.0.1:80");
  a = ParseHttpServer("127.0.0.1:8080");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->port(), 8080);
  for (const char* bad :
       {"", "x", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3:80"}) {
    EXPECT_FALSE(ParseHttpServer(bad).ok()) << bad;
  }
}

TEST(LoadRunnerTest, HttpWithoutDhcpNeedsHttpServer) {
  LoadOptions o;
  o.clients = 1;
  o.flow = *ParseFlow("http:/boot/x");
  absl::StatusOr<std::unique_ptr<LoadRunner>> runner = LoadRunner::Create(o);
  ASSERT_FALSE(runner.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(runner.status()));
  EXPECT_THAT(std::string(runner.status().message()),
              HasSubstr("--http_server is required"));
  // With it, no --server is needed for an http-only flow.
  o.http_server = *ParseHttpServer("127.0.0.1:8080");
  o.io = io::IoBackend::kEpoll;
  runner = LoadRunner::Create(o);
  EXPECT_TRUE(runner.ok()) << runner.status();
  // But a tftp step still needs --server.
  o.flow = *ParseFlow("http:/boot/x,tftp:y");
  runner = LoadRunner::Create(o);
  ASSERT_FALSE(runner.ok());
  EXPECT_THAT(std::string(runner.status().message()),
              HasSubstr("--server is missing"));
}

TEST(LoadRunnerTest, VerifyCountsTftpAndHttpSteps) {
  LoadOptions o;
  o.clients = 1;
  o.server = *dhcp::Ipv4Address::Parse("127.0.0.1");
  o.http_server = *ParseHttpServer("127.0.0.1:8080");
  o.flow = *ParseFlow("tftp:a,http:/b,http:/c");
  o.verify = {"/dev/null", "/dev/null"};
  o.io = io::IoBackend::kEpoll;
  absl::StatusOr<std::unique_ptr<LoadRunner>> runner = LoadRunner::Create(o);
  ASSERT_FALSE(runner.ok());
  EXPECT_THAT(std::string(runner.status().message()),
              HasSubstr("the flow has 3 download steps (tftp and http)"));
}

}  // namespace
}  // namespace rackboot::load
