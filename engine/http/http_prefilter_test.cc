#include "engine/http/http_prefilter.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "llhttp/llhttp.h"

namespace rackboot::http {
namespace {

// What llhttp 8.1.0 alone makes of a request: true when it parses a whole
// message without error. Each hole the pre-filter closes is shown here first,
// so a newer llhttp that closes it itself shows up as a failing expectation.
bool LlhttpAccepts(const std::string& request) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_message_complete = [](llhttp_t*) -> int { return HPE_PAUSED; };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  return llhttp_execute(&parser, request.data(), request.size()) == HPE_PAUSED;
}

struct Outcome {
  HttpPrefilter::Result result;
  int status;
  std::string reason;
  size_t used;  // total bytes consumed
};

Outcome Scan(const std::string& bytes, size_t chunk = 0,
             HttpPrefilterLimits limits = HttpPrefilterLimits()) {
  HttpPrefilter filter(limits);
  if (chunk == 0) chunk = bytes.size();
  size_t total = 0;
  HttpPrefilter::Result r = HttpPrefilter::Result::kNeedMore;
  for (size_t i = 0; i < bytes.size() && r == HttpPrefilter::Result::kNeedMore;
       i += chunk) {
    size_t used = 0;
    const std::string piece = bytes.substr(i, chunk);
    r = filter.Scan(
        absl::Span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(piece.data()), piece.size()),
        &used);
    total += used;
  }
  return {r, filter.status(), filter.reason(), total};
}

constexpr HttpPrefilter::Result kReject = HttpPrefilter::Result::kReject;
constexpr HttpPrefilter::Result kComplete = HttpPrefilter::Result::kComplete;
constexpr HttpPrefilter::Result kNeedMore = HttpPrefilter::Result::kNeedMore;

TEST(HttpPrefilterTest, PassesAnOrdinaryHeadAndStopsAtItsEnd) {
  const std::string head =
      "GET /boot/vmlinuz HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: "
      "iPXE/1.21\r\nRange: bytes=0-\r\n\r\n";
  const std::string next = "GET /boot/initrd HTTP/1.1\r\n";
  for (size_t chunk : {0, 1, 2, 7}) {
    Outcome o = Scan(head + next, chunk);
    EXPECT_EQ(o.result, kComplete) << chunk;
    EXPECT_EQ(o.used, head.size()) << chunk;
  }
  EXPECT_EQ(Scan("GET / HTTP/1.1\r\nHost: a\r\n").result, kNeedMore);
  for (const char* host : {"198.18.0.1:8080", "[2001:db8::1]:80", "", "a.b"}) {
    EXPECT_EQ(
        Scan(absl::StrCat("GET / HTTP/1.1\r\nHost: ", host, "\r\n\r\n")).result,
        kComplete)
        << host;
  }
}

TEST(HttpPrefilterTest, ReportsFramingFields) {
  HttpPrefilter filter{HttpPrefilterLimits()};
  const std::string head =
      "\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n";
  size_t used;
  ASSERT_EQ(filter.Scan(
                absl::Span<const uint8_t>(
                    reinterpret_cast<const uint8_t*>(head.data()), head.size()),
                &used),
            kComplete);
  EXPECT_EQ(filter.content_length(), 12u);
  EXPECT_FALSE(filter.chunked());
  EXPECT_EQ(filter.host_fields(), 1);
  EXPECT_EQ(filter.leading_empty_lines(), 1u);
  EXPECT_EQ(filter.head_bytes(), head.size());
  filter.Reset();
  EXPECT_FALSE(filter.content_length().has_value());
}

// Holes of llhttp 8.1.0 (checked against it here) that the pre-filter closes.
struct Hole {
  const char* name;
  std::string request;
  int status;
};

class LlhttpHoleTest : public ::testing::TestWithParam<Hole> {};

TEST_P(LlhttpHoleTest, LlhttpAcceptsItAndThePrefilterRejectsIt) {
  const Hole& hole = GetParam();
  EXPECT_TRUE(LlhttpAccepts(hole.request))
      << hole.name << ": llhttp rejects it now; the pre-filter rule stays";
  for (size_t chunk : {0, 1, 3}) {
    Outcome o = Scan(hole.request, chunk);
    EXPECT_EQ(o.result, kReject) << hole.name << " chunk " << chunk;
    EXPECT_EQ(o.status, hole.status) << hole.name << ": " << o.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Llhttp81, LlhttpHoleTest,
    ::testing::Values(
        // RFC 9112 section 5.2 (CVE-2024-27982 is of this family).
        Hole{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
             400},
        Hole{"obs-fold with tab",
             "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400},
        // Section 2.2: bare CR (CVE-2023-30589): llhttp ends the head at
        // "\r\r\n".
        Hole{"bare CR before the final CRLF",
             "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400},
        // Section 2.2: we take CRLF only.
        Hole{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
        // Section 5.1: no whitespace between field name and colon.
        Hole{"space before colon",
             "GET / HTTP/1.1\r\nHost: a\r\nAccept : */*\r\n\r\n", 400},
        Hole{"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
             400},
        // Section 3: single SP between the parts of the request line.
        Hole{"two spaces in the request line",
             "GET  /boot/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        // Section 3.2: more than one Host.
        Hole{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
             400},
        // HTTP/0.9 has no version and no head: not a request we parse.
        Hole{"HTTP/0.9 request line", "GET /\r\n\r\n", 400}),
    [](const ::testing::TestParamInfo<Hole>& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// What llhttp 8.1 already refuses is refused here too, before it.
TEST(HttpPrefilterTest, RejectsSmugglingShapesLlhttpAlsoRejects) {
  const struct {
    const char* name;
    std::string request;
    int status;
  } kCases[] = {
      {"CL and TE",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       400},
      {"TE and CL",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
       "chunked\r\nContent-Length: 3\r\n\r\n",
       400},
      {"two equal CL",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: "
       "0\r\n\r\n",
       400},
      {"two different CL",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: "
       "5\r\n\r\n",
       400},
      {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
       400},
      {"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
       400},
      {"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
       400},
      {"TE twice",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
       "chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"TE gzip",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"TE chunked, gzip",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
       "gzip\r\n\r\n",
       501},
      {"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
      {"bare CR ending the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n",
       400},
      {"bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n", 400},
      {"NUL in a value",
       std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 27), 400},
      {"NUL in the target", std::string("GET /a\0b HTTP/1.1\r\n\r\n", 21), 400},
      {"control character", "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400},
      {"DEL", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400},
      {"whitespace before the first field",
       "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"whitespace before the request line", " GET / HTTP/1.1\r\n\r\n", 400},
      {"tab in the request line", "GET\t/ HTTP/1.1\r\n\r\n", 400},
      {"trailing space in the request line", "GET / HTTP/1.1 \r\n\r\n", 400},
      {"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
      {"quote in a name", "GET / HTTP/1.1\r\nHo\"st: a\r\n\r\n", 400},
      {"Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      {"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"junk", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
  };
  for (const auto& c : kCases) {
    for (size_t chunk : {0, 1}) {
      Outcome o = Scan(c.request, chunk);
      EXPECT_EQ(o.result, kReject) << c.name;
      EXPECT_EQ(o.status, c.status) << c.name << ": " << o.reason;
    }
  }
}

TEST(HttpPrefilterTest, EnforcesSizeLimits) {
  HttpPrefilterLimits limits;
  limits.max_head_bytes = 200;
  limits.max_request_line = 50;
  limits.max_header_fields = 3;
  // A request line of exactly the limit passes; one more byte is 414.
  const std::string line50 = "GET /" + std::string(36, 'a') + " HTTP/1.1";
  ASSERT_EQ(line50.size(), 50u);
  EXPECT_EQ(Scan(line50 + "\r\nHost: a\r\n\r\n", 0, limits).result, kComplete);
  Outcome o = Scan("GET /" + std::string(37, 'a') + " HTTP/1.1\r\n", 1, limits);
  EXPECT_EQ(o.result, kReject);
  EXPECT_EQ(o.status, 414);
  // An endless request line is cut at the limit, not buffered.
  o = Scan("GET /" + std::string(100000, 'a'), 4096, limits);
  EXPECT_EQ(o.status, 414);
  EXPECT_LE(o.used, 4096u);
  // Three fields pass, four are 431.
  EXPECT_EQ(Scan("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nHost: a\r\n\r\n", 0, limits)
                .result,
            kComplete);
  o = Scan("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nHost: a\r\n\r\n", 0,
           limits);
  EXPECT_EQ(o.status, 431);
  // A head over 200 bytes is 431, however it is split.
  o = Scan("GET / HTTP/1.1\r\nX: " + std::string(300, 'x') + "\r\n\r\n", 1,
           limits);
  EXPECT_EQ(o.status, 431);
  // An endless stream of empty lines before the request line too.
  std::string crlfs;
  for (int i = 0; i < 200; ++i) crlfs += "\r\n";
  o = Scan(crlfs, 0, limits);
  EXPECT_EQ(o.status, 431);
}

TEST(HttpPrefilterTest, DefaultLimitsAreTheDocumentedOnes) {
  HttpPrefilterLimits limits;
  EXPECT_EQ(limits.max_head_bytes, 8192u);
  EXPECT_EQ(limits.max_request_line, 4096u);
  EXPECT_EQ(limits.max_header_fields, 64u);
  // 8 KiB of head passes; 8 KiB + 1 does not.
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  const std::string fill(8192 - start.size() - 4, 'x');
  EXPECT_EQ(Scan(start + fill + "\r\n\r\n").result, kComplete);
  EXPECT_EQ(Scan(start + fill + "y\r\n\r\n").status, 431);
}

TEST(HttpPrefilterTest, StaysDecidedUntilReset) {
  HttpPrefilter filter{HttpPrefilterLimits()};
  size_t used;
  const std::string bad = "GET / HTTP/1.1\r\n b\r\n";
  auto span = [](const std::string& s) {
    return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                     s.size());
  };
  EXPECT_EQ(filter.Scan(span(bad), &used), kReject);
  EXPECT_EQ(filter.Scan(span("\r\n"), &used), kReject);
  EXPECT_EQ(used, 0u);
  filter.Reset();
  EXPECT_EQ(filter.Scan(span("GET / HTTP/1.0\r\n\r\n"), &used), kComplete);
}

}  // namespace
}  // namespace rackboot::http
