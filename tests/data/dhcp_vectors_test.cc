// Every DHCP datagram captured from a real client or server (tests/data/dhcp)
// is parsed by proto/dhcp, checked field by field against tshark's decoding in
// MANIFEST.tsv, and written back byte for byte.
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "proto/dhcp/dhcp_message.h"
#include "proto/dhcp/dhcp_options.h"
#include "tests/data/manifest.h"

namespace rackboot::dhcp {
namespace {

using rackboot::testing::CapturedDatagram;
using rackboot::testing::ReadManifest;
using rackboot::testing::SplitList;

std::string Hex(absl::Span<const uint8_t> bytes) {
  std::string out = "0x";
  for (uint8_t b : bytes) absl::StrAppendFormat(&out, "%02x", b);
  return out;
}

// Compares option `code` with tshark's rendering of it: hex ("0x..."), a dotted
// address, a list of codes (option 55), a number (option 57) or a string.
void CheckOption(const DhcpOptions& options, int code,
                 const std::string& expected) {
  SCOPED_TRACE(absl::StrCat("option ", code, " = ", expected));
  absl::optional<absl::Span<const uint8_t>> raw = options.Find(code);
  ASSERT_TRUE(raw.has_value());
  if (expected.rfind("0x", 0) == 0) {
    EXPECT_EQ(Hex(*raw), expected);
  } else if (code == kOptionParameterRequestList) {
    std::vector<std::string> codes;
    for (uint8_t c : *raw) codes.push_back(absl::StrCat(c));
    EXPECT_EQ(absl::StrJoin(codes, ","), expected);
  } else if (code == kOptionMaxMessageSize) {
    EXPECT_EQ(absl::StrCat(*options.MaxMessageSize()), expected);
  } else if (std::count(expected.begin(), expected.end(), '.') == 3 &&
             raw->size() == 4) {
    EXPECT_EQ(options.GetIpv4(code)->ToString(), expected);
  } else {
    EXPECT_EQ(std::string(options.GetString(code).value_or("")), expected);
  }
}

class DhcpVectorTest : public ::testing::TestWithParam<CapturedDatagram> {};

TEST_P(DhcpVectorTest, ParsesAsTsharkDecodesAndWritesBackExactly) {
  const CapturedDatagram& v = GetParam();
  const auto& f = v.fields;
  ASSERT_FALSE(v.bytes.empty()) << v.file << " is missing or empty";
  EXPECT_EQ(absl::StrCat(v.bytes.size()), f.at("udp_len"));
  absl::StatusOr<DhcpMessage> message = ParseDhcpMessage(v.bytes);
  ASSERT_TRUE(message.ok()) << v.file << ": " << message.status();

  EXPECT_EQ(absl::StrCat(static_cast<int>(*message->options.MessageType())),
            f.at("message_type"));
  EXPECT_EQ(absl::StrFormat("0x%08x", message->xid), f.at("xid"));
  EXPECT_EQ(message->HardwareAddressString(), f.at("chaddr"));
  EXPECT_EQ(absl::StrFormat("0x%04x", message->flags), f.at("flags"));
  EXPECT_EQ(message->ciaddr.ToString(), f.at("ciaddr"));
  EXPECT_EQ(message->yiaddr.ToString(), f.at("yiaddr"));
  EXPECT_EQ(message->siaddr.ToString(), f.at("siaddr"));
  EXPECT_EQ(message->giaddr.ToString(), f.at("giaddr"));
  if (f.count("file")) {
    EXPECT_EQ(std::string(message->BootFileName()), f.at("file"));
  }

  std::vector<std::string> codes;
  for (size_t i = 0; i < message->options.size(); ++i) {
    codes.push_back(absl::StrCat(message->options.at(i).code));
  }
  codes.push_back("255");
  EXPECT_EQ(absl::StrJoin(codes, ","), f.at("options"));
  for (const auto& [key, value] : f) {
    int code;
    if (key.rfind("opt", 0) == 0 && absl::SimpleAtoi(key.substr(3), &code)) {
      CheckOption(message->options, code, value);
    }
  }

  std::vector<uint8_t> written(1500);
  absl::StatusOr<size_t> n =
      WriteDhcpMessage(*message, DhcpWriteOptions::SameSizeAs(*message),
                       absl::MakeSpan(written));
  ASSERT_TRUE(n.ok()) << n.status();
  written.resize(*n);
  EXPECT_EQ(written, v.bytes) << v.file << " does not write back byte for byte";
}

INSTANTIATE_TEST_SUITE_P(Captured, DhcpVectorTest,
                         ::testing::ValuesIn(ReadManifest("dhcp")),
                         [](const auto& info) {
                           std::string name = info.param.file.substr(5);
                           for (char& c : name) {
                             if (!absl::ascii_isalnum(c)) c = '_';
                           }
                           return name;
                         });

// The sources the project promises, with what tells them apart.
TEST(DhcpVectorSources, RealClientsAreCovered) {
  std::set<std::string> sources;
  for (const CapturedDatagram& v : ReadManifest("dhcp"))
    sources.insert(v.source);
  for (const char* source : {"udhcpc", "dhclient", "perfdhcp", "ipxe-bios",
                             "ipxe-uefi", "dnsmasq"}) {
    EXPECT_TRUE(sources.count(source)) << source;
  }
}

TEST(DhcpVectorSources, FirmwareArchitecturesDiffer) {
  for (const CapturedDatagram& v : ReadManifest("dhcp")) {
    if (v.message != "discover") continue;
    absl::StatusOr<DhcpMessage> message = ParseDhcpMessage(v.bytes);
    ASSERT_TRUE(message.ok());
    if (v.source == "ipxe-bios") {
      EXPECT_EQ(*message->options.ClientArchitectures(),
                std::vector<uint16_t>{0});
      EXPECT_TRUE(message->options.UserClassContains("iPXE"));
    } else if (v.source == "ipxe-uefi") {
      EXPECT_EQ(*message->options.ClientArchitectures(),
                std::vector<uint16_t>{7});
      EXPECT_TRUE(message->options.UserClassContains("iPXE"));
    } else if (v.source == "edk2-uefi") {
      EXPECT_EQ(*message->options.ClientArchitectures(),
                std::vector<uint16_t>{7});
      EXPECT_FALSE(message->options.UserClassContains("iPXE"));
    }
  }
}

}  // namespace
}  // namespace rackboot::dhcp
