// Every TFTP datagram captured from a real client or server (tests/data/tftp)
// is parsed by proto/tftp, checked field by field against tshark's decoding in
// MANIFEST.tsv, and written back byte for byte.
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "proto/tftp/tftp_options.h"
#include "proto/tftp/tftp_packet.h"
#include "tests/data/manifest.h"

namespace rackboot {
namespace {

using testing::CapturedDatagram;
using testing::ReadManifest;
using testing::SplitList;

class TftpVectorTest : public ::testing::TestWithParam<CapturedDatagram> {};

// The value of option `name` (any case) in `options`, or "" when absent.
std::string OptionValue(const std::vector<TftpOption>& options,
                        const std::string& name) {
  for (const TftpOption& option : options) {
    if (absl::EqualsIgnoreCase(option.name, name)) return option.value;
  }
  return "";
}

void CheckOptions(const std::vector<TftpOption>& options,
                  const std::map<std::string, std::string>& fields) {
  std::vector<std::string> names;
  for (const TftpOption& option : options)
    names.push_back(absl::AsciiStrToLower(option.name));
  EXPECT_EQ(names,
            SplitList(fields.count("options") ? fields.at("options") : ""));
  for (const auto& [key, value] : fields) {
    if (key.rfind("opt_", 0) == 0) {
      EXPECT_EQ(OptionValue(options, key.substr(4)), value) << key;
    }
  }
}

TEST_P(TftpVectorTest, ParsesAsTsharkDecodesAndWritesBackExactly) {
  const CapturedDatagram& v = GetParam();
  ASSERT_FALSE(v.bytes.empty()) << v.file << " is missing or empty";
  EXPECT_EQ(std::to_string(v.bytes.size()), v.fields.at("udp_len"));
  absl::StatusOr<TftpPacket> packet = ParseTftpPacket(v.bytes);
  ASSERT_TRUE(packet.ok()) << v.file << ": " << packet.status();
  const int opcode = std::stoi(v.fields.at("opcode"));
  if (const auto* request = std::get_if<TftpRequest>(&*packet)) {
    EXPECT_EQ(opcode, request->write ? 2 : 1);
    EXPECT_EQ(request->filename, v.fields.at("filename"));
    EXPECT_EQ(std::string(TftpModeName(request->mode)),
              absl::AsciiStrToLower(v.fields.at("mode")));
    CheckOptions(request->options, v.fields);
    // Real clients ask for valid values only.
    EXPECT_TRUE(ParseRequestedOptions(request->options).ok());
  } else if (const auto* oack = std::get_if<TftpOack>(&*packet)) {
    EXPECT_EQ(opcode, 6);
    CheckOptions(oack->options, v.fields);
  } else if (const auto* data = std::get_if<TftpData>(&*packet)) {
    EXPECT_EQ(opcode, 3);
    EXPECT_EQ(std::to_string(data->block), v.fields.at("block"));
    EXPECT_EQ(std::to_string(data->payload.size()), v.fields.at("payload_len"));
  } else if (const auto* ack = std::get_if<TftpAck>(&*packet)) {
    EXPECT_EQ(opcode, 4);
    EXPECT_EQ(std::to_string(ack->block), v.fields.at("block"));
  } else if (const auto* error = std::get_if<TftpError>(&*packet)) {
    EXPECT_EQ(opcode, 5);
    EXPECT_EQ(std::to_string(error->code), v.fields.at("error_code"));
    EXPECT_EQ(error->message, v.fields.at("error_message"));
  }
  std::vector<uint8_t> written(70000);
  absl::StatusOr<size_t> n = WriteTftpPacket(*packet, absl::MakeSpan(written));
  ASSERT_TRUE(n.ok()) << n.status();
  written.resize(*n);
  EXPECT_EQ(written, v.bytes) << v.file << " does not write back byte for byte";
}

std::vector<CapturedDatagram> Vectors() {
  std::vector<CapturedDatagram> rows = ReadManifest("tftp");
  EXPECT_GE(rows.size(), 40u) << "tests/data/MANIFEST.tsv lost its TFTP rows";
  return rows;
}

INSTANTIATE_TEST_SUITE_P(Captured, TftpVectorTest,
                         ::testing::ValuesIn(Vectors()), [](const auto& info) {
                           std::string name = info.param.file.substr(5);
                           for (char& c : name) {
                             if (!absl::ascii_isalnum(c)) c = '_';
                           }
                           return name;
                         });

// Every source the project promises vectors from is there.
TEST(TftpVectorSources, RealClientsAreCovered) {
  std::set<std::string> sources;
  for (const CapturedDatagram& v : ReadManifest("tftp"))
    sources.insert(v.source);
  for (const char* source : {"curl", "atftp", "tftp-hpa", "busybox-tftp"}) {
    EXPECT_TRUE(sources.count(source)) << source;
  }
}

}  // namespace
}  // namespace rackboot
