#include "tools/load/http_download.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::load {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()),
                                   s.size());
}

// The test file: each byte a function of its offset, as the load test's.
uint8_t Expected(uint64_t offset) {
  return static_cast<uint8_t>((offset * 131) ^ (offset >> 8));
}

std::string Body(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(Expected(i));
  return out;
}

std::string Response(absl::string_view body,
                     absl::string_view extra_fields = "") {
  return absl::StrCat("HTTP/1.1 200 OK\r\nServer: test\r\nContent-Length: ",
                      body.size(), "\r\n", extra_fields, "\r\n", body);
}

// Options with a verifier against Expected(); *checked counts the verified
// bytes.
HttpDownloadOptions Options(uint64_t* checked = nullptr) {
  HttpDownloadOptions o;
  o.path = "/boot/vmlinuz";
  o.host = "198.18.0.1";
  o.connected = true;
  o.verify = [checked](uint64_t offset, absl::Span<const uint8_t> bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] != Expected(offset + i)) return false;
    }
    if (checked != nullptr) *checked += bytes.size();
    return true;
  };
  return o;
}

std::string TakeRequest(HttpDownload& d) {
  absl::Span<const uint8_t> out = d.Transmit();
  std::string s(reinterpret_cast<const char*>(out.data()), out.size());
  d.Sent(out.size());
  return s;
}

TEST(HttpDownloadTest, SendsOneKeepAliveGet) {
  HttpDownloadOptions o = Options();
  o.connected = false;
  o.host = "198.18.0.1:8080";
  HttpDownload d(o, kT0);
  EXPECT_TRUE(d.Transmit().empty());  // not before the connect
  EXPECT_EQ(d.Deadline(), kT0 + o.connect_timeout);
  d.OnConnected(kT0 + absl::Milliseconds(3));
  EXPECT_EQ(TakeRequest(d),
            "GET /boot/vmlinuz HTTP/1.1\r\nHost: 198.18.0.1:8080\r\n"
            "User-Agent: rackboot-load\r\nAccept: */*\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_TRUE(d.Transmit().empty());
  EXPECT_EQ(d.Deadline(), kT0 + absl::Milliseconds(3) + o.first_byte_timeout);
  EXPECT_EQ(d.stats().connected, kT0 + absl::Milliseconds(3));
}

TEST(HttpDownloadTest, PartialSendsResumeWhereTheKernelStopped) {
  HttpDownload d(Options(), kT0);
  const std::string whole(reinterpret_cast<const char*>(d.Transmit().data()),
                          d.Transmit().size());
  d.Sent(10);
  std::string rest(reinterpret_cast<const char*>(d.Transmit().data()),
                   d.Transmit().size());
  EXPECT_EQ(whole.substr(10), rest);
  d.Sent(1000);
  EXPECT_TRUE(d.Transmit().empty());
}

TEST(HttpDownloadTest, ResponseSplitAtEveryByteBoundary) {
  const std::string body = Body(3000);
  const std::string response =
      Response(body, "Connection: keep-alive\r\nContent-Type: x/y\r\n");
  for (size_t cut = 0; cut <= response.size(); ++cut) {
    uint64_t checked = 0;
    HttpDownload d(Options(&checked), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(response).subspan(0, cut), kT0 + absl::Milliseconds(1));
    EXPECT_EQ(d.finished(), cut == response.size()) << cut;
    d.OnBytes(Bytes(response).subspan(cut), kT0 + absl::Milliseconds(2));
    ASSERT_EQ(d.result(), HttpDownloadResult::kOk)
        << cut << ": " << d.error_message();
    EXPECT_EQ(d.stats().bytes, body.size());
    EXPECT_EQ(checked, body.size());
    EXPECT_EQ(d.stats().status, 200);
    EXPECT_EQ(d.stats().head_bytes, response.size() - body.size());
    EXPECT_TRUE(d.reusable());
    EXPECT_EQ(d.Deadline(), absl::InfiniteFuture());
  }
}

TEST(HttpDownloadTest, ResponseOneByteAtATime) {
  const std::string body = Body(700);
  const std::string response = Response(body);
  uint64_t checked = 0;
  HttpDownload d(Options(&checked), kT0);
  TakeRequest(d);
  for (size_t i = 0; i < response.size(); ++i) {
    ASSERT_FALSE(d.finished()) << i << ": " << d.error_message();
    d.OnBytes(Bytes(response).subspan(i, 1), kT0 + absl::Milliseconds(i));
  }
  EXPECT_EQ(d.result(), HttpDownloadResult::kOk);
  EXPECT_EQ(checked, body.size());
  EXPECT_EQ(d.stats().first_byte, kT0);
}

TEST(HttpDownloadTest, EmptyBodyEndsWithTheHead) {
  HttpDownload d(Options(), kT0);
  TakeRequest(d);
  d.OnBytes(Bytes(Response("")), kT0);
  EXPECT_EQ(d.result(), HttpDownloadResult::kOk);
}

TEST(HttpDownloadTest, EveryFlippedByteIsCaught) {
  const std::string body = Body(257);
  for (size_t at = 0; at < body.size(); ++at) {
    std::string bad = body;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(Response(bad)), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kContentMismatch) << at;
    EXPECT_FALSE(d.reusable());
  }
}

TEST(HttpDownloadTest, LengthOtherThanExpectedFailsBeforeTheBody) {
  HttpDownloadOptions o = Options();
  o.expected_size = 100;
  HttpDownload d(o, kT0);
  TakeRequest(d);
  d.OnBytes(Bytes(Response(Body(99))), kT0);
  EXPECT_EQ(d.result(), HttpDownloadResult::kSizeMismatch);
  EXPECT_EQ(d.stats().bytes, 0u);
  EXPECT_EQ(d.error_message(), "Content-Length 99, expected 100");
}

TEST(HttpDownloadTest, BytesBeyondContentLengthFail) {
  HttpDownload d(Options(), kT0);
  TakeRequest(d);
  d.OnBytes(Bytes(Response(Body(50)) + "X"), kT0);
  EXPECT_EQ(d.result(), HttpDownloadResult::kExtraBytes);
  EXPECT_FALSE(d.reusable());
}

TEST(HttpDownloadTest, BodyShorterThanContentLengthIsTruncated) {
  const std::string response = Response(Body(100));
  for (size_t cut = 0; cut < response.size(); ++cut) {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(response).subspan(0, cut), kT0);
    d.OnClosed("", kT0 + absl::Milliseconds(1));
    EXPECT_EQ(d.result(), cut == 0 ? HttpDownloadResult::kClosedBeforeResponse
                                   : HttpDownloadResult::kTruncated)
        << cut;
  }
}

TEST(HttpDownloadTest, StatusOtherThan200Fails) {
  for (absl::string_view line :
       {"HTTP/1.1 404 Not Found", "HTTP/1.1 206 Partial Content",
        "HTTP/1.1 500 Internal Server Error", "HTTP/1.1 301 Moved",
        "HTTP/1.1 100 Continue"}) {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(absl::StrCat(line, "\r\nContent-Length: 0\r\n\r\n")), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kBadStatus) << line;
    EXPECT_EQ(d.stats().status, std::stoi(std::string(line.substr(9, 3))));
    EXPECT_FALSE(d.reusable());
  }
}

TEST(HttpDownloadTest, ChunkedAndLengthlessResponsesAreErrors) {
  {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n0\r\n\r\n"),
              kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kChunked);
  }
  {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Length: 5\r\n\r\nhello"),
              kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kChunked);
  }
  {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nhello"), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kNoLength);
  }
}

TEST(HttpDownloadTest, MalformedHeadsAreRejected) {
  const std::vector<std::string> heads = {
      "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",  // bare LF
      "HTTP/1.1 200 OK\nContent-Length: 0\n\n",      // LF only: refused at once
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\r\n\r\n",              // bare CR
      "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",  // fold
      "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",  // space before ':'
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\x01z\r\nContent-Length: 0\r\n\r\n",
      std::string("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n", 26),
      "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
      "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
  };
  for (const std::string& head : heads) {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(head), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kMalformed)
        << absl::CEscape(head) << ": " << HttpDownloadResultName(d.result());
  }
}

TEST(HttpDownloadTest, AgreeingLengthsAndLenientFormsAreAccepted) {
  for (absl::string_view head :
       {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n",
        "HTTP/1.1 200\r\nContent-Length:2\r\n\r\n",
        "HTTP/1.1 200 \r\nCONTENT-LENGTH: \t2 \r\n\r\n"}) {
    HttpDownloadOptions o = Options();
    o.verify = nullptr;
    HttpDownload d(o, kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(absl::StrCat(head, "ab")), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kOk)
        << absl::CEscape(head) << ": " << d.error_message();
  }
}

TEST(HttpDownloadTest, HeadLimitIsEightKibIncludingTheEmptyLine) {
  const std::string start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ";
  // Exactly 8192 bytes of head: accepted.
  const std::string exact =
      start + std::string(8192 - start.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 8192u);
  {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(exact), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kOk) << d.error_message();
  }
  // One more byte: refused, also when it arrives in pieces.
  const std::string over =
      start + std::string(8192 - start.size() - 3, 'a') + "\r\n\r\n";
  for (size_t piece : {size_t{1}, size_t{1000}, over.size()}) {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    for (size_t at = 0; at < over.size() && !d.finished(); at += piece) {
      d.OnBytes(Bytes(over).subspan(at, piece), kT0);
    }
    EXPECT_EQ(d.result(), HttpDownloadResult::kHeadTooLarge) << piece;
  }
  // An endless head ends at the limit, not at the stall timeout.
  HttpDownload d(Options(), kT0);
  TakeRequest(d);
  const std::string junk(4096, 'x');
  for (int i = 0; i < 3; ++i) d.OnBytes(Bytes(junk), kT0);
  EXPECT_EQ(d.result(), HttpDownloadResult::kHeadTooLarge);
}

TEST(HttpDownloadTest, ConnectionCloseOrHttp10EndsReuse) {
  struct Case {
    std::string head;
    bool reusable;
  };
  for (const Case& c : std::vector<Case>{
           {"HTTP/1.1 200 OK\r\nConnection: close\r\n", false},
           {"HTTP/1.1 200 OK\r\nConnection: foo, Close\r\n", false},
           {"HTTP/1.1 200 OK\r\n", true},
           {"HTTP/1.0 200 OK\r\n", false},
           {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", true},
       }) {
    HttpDownload d(Options(), kT0);
    TakeRequest(d);
    d.OnBytes(Bytes(absl::StrCat(c.head, "Content-Length: 0\r\n\r\n")), kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kOk);
    EXPECT_EQ(d.reusable(), c.reusable) << c.head;
  }
}

TEST(HttpDownloadTest, ConnectTimeoutAndFailure) {
  HttpDownloadOptions o = Options();
  o.connected = false;
  o.connect_timeout = absl::Seconds(2);
  {
    HttpDownload d(o, kT0);
    d.OnDeadline(kT0 + absl::Seconds(1));  // early: nothing
    EXPECT_FALSE(d.finished());
    d.OnDeadline(kT0 + absl::Seconds(2));
    EXPECT_EQ(d.result(), HttpDownloadResult::kConnectTimeout);
  }
  {
    HttpDownload d(o, kT0);
    d.OnConnectFailed("Connection refused", kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kConnectFailed);
    EXPECT_EQ(d.error_message(), "Connection refused");
  }
}

TEST(HttpDownloadTest, SlowServerWithinTheStallTimeoutSucceeds) {
  HttpDownloadOptions o = Options();
  o.first_byte_timeout = absl::Seconds(3);
  o.stall_timeout = absl::Seconds(2);
  HttpDownload d(o, kT0);
  TakeRequest(d);
  const std::string response = Response(Body(20));
  absl::Time now = kT0 + absl::Milliseconds(2900);  // first byte just in time
  for (size_t i = 0; i < response.size(); ++i) {
    d.OnDeadline(now);  // due only if a gap reached the timeout
    ASSERT_FALSE(d.finished()) << i;
    d.OnBytes(Bytes(response).subspan(i, 1), now);
    EXPECT_EQ(d.Deadline(),
              d.finished() ? absl::InfiniteFuture() : now + absl::Seconds(2));
    now += absl::Milliseconds(1999);
  }
  EXPECT_EQ(d.result(), HttpDownloadResult::kOk);
  EXPECT_GT(d.stats().finished - d.stats().started, absl::Seconds(100));
}

TEST(HttpDownloadTest, FirstByteTimeoutAndStall) {
  HttpDownloadOptions o = Options();
  o.first_byte_timeout = absl::Seconds(3);
  o.stall_timeout = absl::Seconds(2);
  {
    HttpDownload d(o, kT0);
    TakeRequest(d);
    EXPECT_EQ(d.Deadline(), kT0 + absl::Seconds(3));
    d.OnDeadline(kT0 + absl::Seconds(3));
    EXPECT_EQ(d.result(), HttpDownloadResult::kFirstByteTimeout);
  }
  {
    HttpDownload d(o, kT0);
    TakeRequest(d);
    const std::string response = Response(Body(100));
    d.OnBytes(Bytes(response).subspan(0, response.size() - 10),
              kT0 + absl::Seconds(1));
    d.OnDeadline(kT0 + absl::Seconds(3));
    EXPECT_EQ(d.result(), HttpDownloadResult::kStalled);
    EXPECT_EQ(d.stats().bytes, 90u);
  }
  {
    // A stall within the head too.
    HttpDownload d(o, kT0);
    TakeRequest(d);
    d.OnBytes(Bytes("HTTP/1.1 200 OK\r\n"), kT0 + absl::Seconds(1));
    d.OnDeadline(kT0 + absl::Seconds(3));
    EXPECT_EQ(d.result(), HttpDownloadResult::kStalled);
  }
}

TEST(HttpDownloadTest, BadPathOrHostEndsBeforeAnythingIsSent) {
  for (const std::string& path : std::vector<std::string>{
           "", "boot/x", "/a b", "/a\r\nX: y", std::string(2049, '/')}) {
    HttpDownloadOptions o = Options();
    o.path = path;
    HttpDownload d(o, kT0);
    EXPECT_EQ(d.result(), HttpDownloadResult::kBadRequest);
    EXPECT_TRUE(d.Transmit().empty());
  }
  HttpDownloadOptions o = Options();
  o.host = "";
  EXPECT_EQ(HttpDownload(o, kT0).result(), HttpDownloadResult::kBadRequest);
}

TEST(HttpDownloadTest, NothingAfterTheEnd) {
  HttpDownload d(Options(), kT0);
  TakeRequest(d);
  d.OnBytes(Bytes(Response(Body(10))), kT0);
  ASSERT_EQ(d.result(), HttpDownloadResult::kOk);
  d.OnBytes(Bytes("junk"), kT0);
  d.OnClosed("reset", kT0);
  d.OnDeadline(kT0 + absl::Hours(1));
  EXPECT_EQ(d.result(), HttpDownloadResult::kOk);
  EXPECT_TRUE(d.Transmit().empty());
}

TEST(HttpDownloadTest, ResultNamesAreDistinct) {
  std::set<std::string> names;
  for (int r = 0; r <= static_cast<int>(HttpDownloadResult::kExtraBytes); ++r) {
    names.insert(HttpDownloadResultName(static_cast<HttpDownloadResult>(r)));
  }
  EXPECT_EQ(names.size(),
            static_cast<size_t>(HttpDownloadResult::kExtraBytes) + 1);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace rackboot::load
