#include "engine/http/http_connection.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/http/fake_http_stream.h"
#include "gtest/gtest.h"

namespace rackboot::http {
namespace {

namespace fs = std::filesystem;

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool Has(const std::string& name) const { return headers.count(name) > 0; }
  std::string Get(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Splits a byte stream of responses. `head_only[i]` marks the i-th as the
// answer to a HEAD (no body whatever Content-Length says).
std::vector<Response> ParseResponses(std::string s,
                                     std::vector<bool> head_only = {}) {
  std::vector<Response> out;
  while (!s.empty()) {
    const size_t end = s.find("\r\n\r\n");
    if (end == std::string::npos) {
      ADD_FAILURE() << "truncated head: " << s;
      break;
    }
    Response r;
    std::vector<std::string> lines = absl::StrSplit(s.substr(0, end), "\r\n");
    std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
    EXPECT_EQ(status[0], "HTTP/1.1");
    EXPECT_TRUE(absl::SimpleAtoi(status[1], &r.status));
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      EXPECT_NE(colon, std::string::npos) << lines[i];
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      EXPECT_EQ(r.headers.count(name), 0u) << "repeated " << name;
      r.headers[name] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    s.erase(0, end + 4);
    uint64_t length = 0;
    const bool head = out.size() < head_only.size() && head_only[out.size()];
    if (r.status != 304) {
      EXPECT_TRUE(r.Has("content-length")) << lines[0];
      EXPECT_TRUE(absl::SimpleAtoi(r.Get("content-length"), &length));
    }
    if (!head && r.status != 304) {
      EXPECT_GE(s.size(), length);
      r.body = s.substr(0, length);
      s.erase(0, length);
    }
    out.push_back(std::move(r));
  }
  return out;
}

class OneHostRenderer : public RenderedFiles {
 public:
  absl::optional<std::string> Render(absl::string_view relative_path,
                                     const io::SocketAddress& client) override {
    if (relative_path == "host.ipxe" &&
        client == io::SocketAddress::Ipv4({198, 18, 0, 5}, 40000)) {
      return std::string("#!ipxe\n");
    }
    return absl::nullopt;
  }
};

class HttpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/http_connection_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    fs::create_directories(top_ / "boot" / "sub");
    Write("secret", "SECRET outside the root");
    Write("boot/ten", "0123456789");
    Write("boot/empty", "");
    Write("boot/boot.ipxe", "#!ipxe\nchain x\n");
    fs::create_symlink("../secret", top_ / "boot" / "escape");
    fs::create_symlink("/etc/passwd", top_ / "boot" / "passwd");
    ASSERT_EQ(mkfifo((top_ / "boot" / "fifo").c_str(), 0644), 0);
    boot_ = std::make_unique<FileCache>(
        *FileRoot::Open((top_ / "boot").string()), &renderer_,
        FileCache::kDefaultKeepUnused, FileCache::kDefaultMaxDescriptors);
    routes_ = std::make_unique<FileRoutes>(boot_.get(), nullptr);
    Reconnect();
  }
  void TearDown() override { fs::remove_all(top_); }

  void Write(const std::string& name, const std::string& contents) {
    std::ofstream(top_ / name) << contents;
  }
  void Reconnect(HttpLimits limits = HttpLimits(),
                 io::SocketAddress client =
                     io::SocketAddress::Ipv4({198, 18, 0, 9}, 5555)) {
    conn_ =
        std::make_unique<HttpConnection>(routes_.get(), limits, client, now_);
  }

  // The bytes a transmit puts on the wire; checks that a file slice stays
  // inside its file.
  static std::string Wire(const HttpTransmit& t) {
    std::string s = t.head + t.inline_body;
    EXPECT_TRUE(t.inline_body.empty() || t.file.file == nullptr);
    if (t.file.file != nullptr) {
      EXPECT_LE(t.file.offset + t.file.length, t.file.file->size());
      auto bytes = t.file.file->bytes().subspan(t.file.offset, t.file.length);
      s.append(bytes.begin(), bytes.end());
    }
    return s;
  }
  // Sends everything the connection has to send, completing each transmit.
  std::string Drain() {
    std::string out;
    while (auto t = conn_->PollTransmit()) {
      EXPECT_FALSE(conn_->PollTransmit().has_value());  // one at a time
      out += Wire(*t);
      conn_->OnSendDone(now_);
    }
    return out;
  }
  std::string Exchange(const std::string& request) {
    conn_->OnBytes(
        absl::Span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(request.data()), request.size()),
        now_);
    return Drain();
  }
  void Feed(const std::string& bytes) {
    conn_->OnBytes(
        absl::Span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
        now_);
  }
  Response One(const std::string& request, bool head = false) {
    std::vector<Response> r = ParseResponses(Exchange(request), {head});
    EXPECT_EQ(r.size(), 1u) << request;
    return r.empty() ? Response() : r[0];
  }
  static std::string Get(const std::string& target,
                         const std::string& extra = "") {
    return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 198.18.0.1\r\n",
                        extra, "\r\n");
  }
  std::vector<HttpResponseReport> Reports() {
    std::vector<HttpResponseReport> out;
    while (auto r = conn_->TakeReport()) out.push_back(*r);
    return out;
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  fs::path top_;
  OneHostRenderer renderer_;
  std::unique_ptr<FileCache> boot_;
  std::unique_ptr<FileRoutes> routes_;
  std::unique_ptr<HttpConnection> conn_;
};

TEST_F(HttpConnectionTest, ServesAFileWithValidatorsAndKeepsTheConnection) {
  const std::string wire = Exchange(Get("/boot/ten"));
  std::vector<Response> all = ParseResponses(wire);
  ASSERT_EQ(all.size(), 1u);
  const Response& r = all[0];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");
  EXPECT_EQ(r.Get("content-length"), "10");
  EXPECT_EQ(r.Get("content-type"), "application/octet-stream");
  EXPECT_EQ(r.Get("accept-ranges"), "bytes");
  EXPECT_EQ(r.Get("date"), "Fri, 15 Jan 2027 08:00:00 GMT");
  struct stat st;
  ASSERT_EQ(stat((top_ / "boot" / "ten").c_str(), &st), 0);
  EXPECT_EQ(r.Get("etag"),
            absl::StrCat("\"", absl::Hex(st.st_ino), "-a-",
                         absl::Hex(int64_t{st.st_mtim.tv_sec} * 1000000000 +
                                   st.st_mtim.tv_nsec),
                         "\""));
  EXPECT_TRUE(r.Has("last-modified"));
  EXPECT_FALSE(r.Has("connection"));
  EXPECT_EQ(conn_->close(), HttpClose::kNo);
  EXPECT_FALSE(conn_->pause_reading());
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(30));  // idle now

  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  const HttpResponseReport& rep = reports[0];
  EXPECT_EQ(rep.method, "GET");
  EXPECT_EQ(rep.target, "/boot/ten");
  EXPECT_EQ(rep.status, 200);
  EXPECT_EQ(rep.body_bytes, 10u);
  EXPECT_TRUE(rep.complete);
  EXPECT_TRUE(rep.whole_file);
  EXPECT_EQ(rep.kind, HttpRouteKind::kBoot);
  EXPECT_EQ(rep.file, "ten");
  EXPECT_EQ(rep.bytes_sent, wire.size());
  EXPECT_EQ(FormatReport(rep),
            absl::StrCat("GET \"/boot/ten\" 200 ", rep.bytes_sent,
                         " bytes in 0 to 198.18.0.9:5555 (boot file \"ten\")"));
}

TEST_F(HttpConnectionTest, TheFileSliceCarriesTheDescriptorForSendfile) {
  Feed(Get("/boot/ten", "Range: bytes=2-4\r\n"));
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  ASSERT_NE(t->file.file, nullptr);
  EXPECT_GE(t->file.file->fd(), 0);
  EXPECT_EQ(t->file.offset, 2u);
  EXPECT_EQ(t->file.length, 3u);
  char buf[3];
  ASSERT_EQ(pread(t->file.file->fd(), buf, 3, t->file.offset), 3);
  EXPECT_EQ(std::string(buf, 3), "234");
  // Nothing more until the send is done.
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(60));
  conn_->OnSendDone(now_);
}

// A cache that does not keep descriptors (TFTP's kind) still gives
// validators; the caller sends from the mapping.
TEST_F(HttpConnectionTest, ValidatorsDoNotNeedTheDescriptor) {
  FileCache cache(*FileRoot::Open((top_ / "boot").string()));
  FileRoutes routes(&cache, nullptr);
  conn_ = std::make_unique<HttpConnection>(&routes, HttpLimits(),
                                           io::SocketAddress(), now_);
  Feed(Get("/boot/ten"));
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->file.file->fd(), -1);
  EXPECT_TRUE(absl::StrContains(t->head, "ETag: \""));
  conn_->OnSendDone(now_);
}

TEST_F(HttpConnectionTest, HeadHasTheHeadersAndNoBody) {
  std::vector<Response> r = ParseResponses(
      Exchange("HEAD /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n" + Get("/boot/ten")),
      {true, false});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].Get("content-length"), "10");
  EXPECT_EQ(r[1].body, "0123456789");
  EXPECT_EQ(Reports()[0].body_bytes, 0u);
}

TEST_F(HttpConnectionTest, KeepAliveRules) {
  // HTTP/1.0: closes unless asked to keep alive.
  Response r = One("GET /boot/ten HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Get("connection"), "close");
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  Reconnect();
  r = One("GET /boot/ten HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_EQ(r.Get("connection"), "keep-alive");
  EXPECT_EQ(conn_->close(), HttpClose::kNo);
  // HTTP/1.1: persists unless "close".
  r = One(Get("/boot/ten", "Connection: keep-alive, close\r\n"));
  EXPECT_EQ(r.Get("connection"), "close");
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  // Bytes after the close are ignored.
  EXPECT_EQ(Exchange(Get("/boot/ten")), "");
}

TEST_F(HttpConnectionTest, CloseIsAnnouncedBeforeTheTransmitIsSent) {
  Feed(Get("/boot/ten", "Connection: close\r\n"));
  EXPECT_EQ(conn_->close(), HttpClose::kAfterTransmit);
  EXPECT_TRUE(conn_->pause_reading());
  ASSERT_TRUE(conn_->PollTransmit().has_value());
  conn_->OnSendDone(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  EXPECT_EQ(conn_->Deadline(), absl::InfiniteFuture());
}

TEST_F(HttpConnectionTest, PipelinedRequestsAreAnsweredOneAtATimeInOrder) {
  Feed(Get("/boot/ten", "Range: bytes=0-0\r\n") +
       Get("/boot/ten", "Range: bytes=1-1\r\n") + "\r\n" +
       Get("/boot/ten", "Range: bytes=2-2\r\n"));
  std::string wire;
  for (int i = 0; i < 3; ++i) {
    absl::optional<HttpTransmit> t = conn_->PollTransmit();
    ASSERT_TRUE(t.has_value()) << i;
    EXPECT_FALSE(conn_->PollTransmit().has_value());
    wire += Wire(*t);
    // Later requests wait for this one.
    EXPECT_EQ(Reports().size(), 0u);
    conn_->OnSendDone(now_);
    EXPECT_EQ(Reports().size(), 1u);
  }
  std::vector<Response> r = ParseResponses(wire);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].body, "0");
  EXPECT_EQ(r[1].body, "1");
  EXPECT_EQ(r[2].body, "2");
  EXPECT_EQ(conn_->requests(), 3u);
}

TEST_F(HttpConnectionTest, PipelinedJunkEndsTheConnectionAfterTheGoodOnes) {
  std::vector<Response> r = ParseResponses(Exchange(
      Get("/boot/ten") + "\x16\x03\x01 junk junk\r\n\r\n" + Get("/boot/ten")));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[1].status, 400);
  EXPECT_EQ(r[1].Get("connection"), "close");
  EXPECT_EQ(r[1].Get("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r[1].body, "400 Bad Request\n");
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
}

TEST_F(HttpConnectionTest, PausesReadingWhileAResponseIsOutAndTheBufferFills) {
  HttpLimits limits;
  limits.max_buffered_input = 1024;
  Reconnect(limits);
  Feed(Get("/boot/ten"));
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  std::string pipelined;
  while (pipelined.size() < 1024) pipelined += Get("/boot/ten");
  Feed(pipelined);
  EXPECT_TRUE(conn_->pause_reading());
  EXPECT_EQ(conn_->close(), HttpClose::kNo);
  conn_->OnSendDone(now_);
  // The next request is answered; the rest stays buffered.
  EXPECT_TRUE(conn_->PollTransmit().has_value());
  // A caller that ignores the pause and keeps feeding loses the connection.
  Feed(std::string(4 * 1024, 'x'));
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_FALSE(reports[1].complete);
}

struct RangeCase {
  std::string file;
  std::string range;
  int status;
  std::string body;
  std::string content_range;
};

TEST_F(HttpConnectionTest, RangesAtEveryEdge) {
  const RangeCase kCases[] = {
      {"ten", "bytes=0-0", 206, "0", "bytes 0-0/10"},
      {"ten", "bytes=9-9", 206, "9", "bytes 9-9/10"},
      {"ten", "bytes=9-", 206, "9", "bytes 9-9/10"},
      {"ten", "bytes=0-", 206, "0123456789", "bytes 0-9/10"},
      {"ten", "bytes=0-9", 206, "0123456789", "bytes 0-9/10"},
      {"ten", "bytes=3-100", 206, "3456789", "bytes 3-9/10"},
      {"ten", "bytes=0-99999999999999999999999", 206, "0123456789",
       "bytes 0-9/10"},
      {"ten", "bytes=-1", 206, "9", "bytes 9-9/10"},
      {"ten", "bytes=-10", 206, "0123456789", "bytes 0-9/10"},
      {"ten", "bytes=-11", 206, "0123456789", "bytes 0-9/10"},
      {"ten", "BYTES=2-3", 206, "23", "bytes 2-3/10"},
      {"ten", "bytes= 4-5 ", 206, "45", "bytes 4-5/10"},
      {"ten", "bytes=10-", 416, "416 Range Not Satisfiable\n", "bytes */10"},
      {"ten", "bytes=10-20", 416, "416 Range Not Satisfiable\n", "bytes */10"},
      {"ten", "bytes=99999999999999999999-", 416, "416 Range Not Satisfiable\n",
       "bytes */10"},
      {"ten", "bytes=-0", 416, "416 Range Not Satisfiable\n", "bytes */10"},
      // Ignored: several ranges, malformed, another unit.
      {"ten", "bytes=0-1,3-4", 200, "0123456789", ""},
      {"ten", "bytes=5-4", 200, "0123456789", ""},
      {"ten", "bytes=a-b", 200, "0123456789", ""},
      {"ten", "bytes=1", 200, "0123456789", ""},
      {"ten", "bytes=--1", 200, "0123456789", ""},
      {"ten", "items=0-1", 200, "0123456789", ""},
      {"ten", "bytes=", 200, "0123456789", ""},
      {"empty", "bytes=0-", 416, "416 Range Not Satisfiable\n", "bytes */0"},
      {"empty", "bytes=-5", 416, "416 Range Not Satisfiable\n", "bytes */0"},
      {"empty", "", 200, "", ""},
  };
  for (const RangeCase& c : kCases) {
    Reconnect();
    Response r = One(Get("/boot/" + c.file,
                         c.range.empty() ? "" : "Range: " + c.range + "\r\n"));
    EXPECT_EQ(r.status, c.status) << c.file << " " << c.range;
    EXPECT_EQ(r.body, c.body) << c.file << " " << c.range;
    EXPECT_EQ(r.Get("content-range"), c.content_range)
        << c.file << " " << c.range;
    EXPECT_EQ(r.Get("content-length"), std::to_string(c.body.size()));
  }
  // Two Range fields are two ranges: the whole file.
  Reconnect();
  Response r =
      One(Get("/boot/ten", "Range: bytes=0-0\r\nRange: bytes=1-1\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");
}

TEST_F(HttpConnectionTest, ConditionalRequests) {
  Response first = One(Get("/boot/ten"));
  const std::string etag = first.Get("etag");
  const std::string last_modified = first.Get("last-modified");
  ASSERT_FALSE(etag.empty());

  auto status_with = [&](const std::string& fields) {
    Reconnect();
    Response r = One(Get("/boot/ten", fields));
    if (r.status == 304) {
      EXPECT_EQ(r.body, "");
      EXPECT_FALSE(r.Has("content-length"));
      EXPECT_EQ(r.Get("etag"), etag);
      // A 304 keeps the connection.
      EXPECT_EQ(conn_->close(), HttpClose::kNo);
    }
    return r.status;
  };
  EXPECT_EQ(status_with("If-None-Match: " + etag + "\r\n"), 304);
  EXPECT_EQ(status_with("If-None-Match: \"x\", W/" + etag + "\r\n"), 304);
  EXPECT_EQ(status_with("If-None-Match: *\r\n"), 304);
  EXPECT_EQ(status_with("If-None-Match: \"other\"\r\n"), 200);
  EXPECT_EQ(
      status_with("If-None-Match: \"a\"\r\nIf-None-Match: " + etag + "\r\n"),
      304);
  EXPECT_EQ(status_with("If-Modified-Since: " + last_modified + "\r\n"), 304);
  EXPECT_EQ(status_with("If-Modified-Since: Fri, 15 Jan 2100 08:00:00 GMT\r\n"),
            304);
  EXPECT_EQ(status_with("If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n"),
            200);
  EXPECT_EQ(
      status_with("If-Modified-Since: Saturday, 01-Jan-00 00:00:00 GMT\r\n"),
      200);
  EXPECT_EQ(status_with("If-Modified-Since: Sun Jan  1 00:00:00 2090\r\n"),
            304);
  EXPECT_EQ(status_with("If-Modified-Since: yesterday\r\n"), 200);
  // If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2).
  EXPECT_EQ(status_with("If-None-Match: \"other\"\r\nIf-Modified-Since: " +
                        last_modified + "\r\n"),
            200);
  // If-Range: the Range applies only to the same version.
  EXPECT_EQ(status_with("Range: bytes=0-1\r\nIf-Range: " + etag + "\r\n"), 206);
  EXPECT_EQ(status_with("Range: bytes=0-1\r\nIf-Range: \"old\"\r\n"), 200);
  EXPECT_EQ(status_with("Range: bytes=0-1\r\nIf-Range: W/" + etag + "\r\n"),
            200);
  EXPECT_EQ(
      status_with("Range: bytes=0-1\r\nIf-Range: " + last_modified + "\r\n"),
      206);
  EXPECT_EQ(status_with("Range: bytes=0-1\r\nIf-Range: Sat, 01 Jan 2000 "
                        "00:00:00 GMT\r\n"),
            200);

  // A replaced file has a new ETag: the old one no longer matches.
  Write("boot/ten.new", "9876543210");
  fs::rename(top_ / "boot" / "ten.new", top_ / "boot" / "ten");
  Reconnect();
  Response replaced = One(Get("/boot/ten", "If-None-Match: " + etag + "\r\n"));
  EXPECT_EQ(replaced.status, 200);
  EXPECT_EQ(replaced.body, "9876543210");
  EXPECT_NE(replaced.Get("etag"), etag);
}

TEST_F(HttpConnectionTest, RenderedFilesHaveNoValidatorsAndAreNotCached) {
  Reconnect(HttpLimits(), io::SocketAddress::Ipv4({198, 18, 0, 5}, 40000));
  Response r = One(Get("/boot/host.ipxe", "If-None-Match: *\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "#!ipxe\n");
  EXPECT_EQ(r.Get("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.Get("cache-control"), "no-store");
  EXPECT_FALSE(r.Has("etag"));
  EXPECT_FALSE(r.Has("last-modified"));
  // Another client gets what the boot tree has: nothing.
  Reconnect();
  EXPECT_EQ(One(Get("/boot/host.ipxe")).status, 404);
}

TEST_F(HttpConnectionTest, MethodsAndVersions) {
  struct {
    std::string request;
    int status;
  } kCases[] = {
      {"POST /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"PUT /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"DELETE /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 405},
      {"PROPFIND /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"get /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"GET /boot/ten HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"GET /boot/ten HTTP/1.2\r\nHost: a\r\n\r\n", 505},
      {"GET /boot/ten HTTP/3\r\nHost: a\r\n\r\n", 400},
      {"GET /boot/ten HTTP/1.1\r\n\r\n", 400},  // no Host
      {"GET /boot/ten HTTP/1.0\r\n\r\n", 200},  // none needed
      {"GET http://198.18.0.1/boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 200},
      {"\r\n\r\nGET /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n", 200},
      // RFC 9110 section 7.8: an Upgrade (curl --http2's h2c) is ignored.
      {"GET /boot/ten HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, "
       "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQ\r\n\r\n",
       200},
  };
  for (const auto& c : kCases) {
    Reconnect();
    Response r = One(c.request);
    EXPECT_EQ(r.status, c.status) << c.request;
    if (c.status == 405) {
      EXPECT_EQ(r.Get("allow"), "GET, HEAD");
    }
    if (c.status >= 400) {
      EXPECT_EQ(r.Get("connection"), "close") << c.request;
      EXPECT_EQ(conn_->close(), HttpClose::kNow) << c.request;
    }
  }
}

TEST_F(HttpConnectionTest, RequestBodiesAreRefused) {
  Response r = One(Get("/boot/ten", "Content-Length: 5\r\n") + "hello");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  Reconnect();
  r = One(Get("/boot/ten", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  Reconnect();
  // An empty body is no body.
  r = One(Get("/boot/ten", "Content-Length: 0\r\n"));
  EXPECT_EQ(r.status, 200);
}

// A route that takes a body (none does yet): the body is read, not parsed
// as the next request.
class BodyRoutes : public FileRoutes {
 public:
  using FileRoutes::FileRoutes;
  uint64_t MaxRequestBody(absl::string_view, absl::string_view) override {
    return 100;
  }
};

TEST_F(HttpConnectionTest, ADeclaredBodyIsConsumedNotParsedAsARequest) {
  BodyRoutes routes(boot_.get(), nullptr);
  conn_ = std::make_unique<HttpConnection>(&routes, HttpLimits(),
                                           io::SocketAddress(), now_);
  const std::string smuggled = Get("/boot/ten");
  std::vector<Response> r = ParseResponses(
      Exchange(Get("/boot/ten",
                   absl::StrCat("Content-Length: ", smuggled.size(), "\r\n")) +
               smuggled + Get("/boot/ten", "Range: bytes=0-0\r\n")));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, "0123456789");
  EXPECT_EQ(r[1].body, "0");
  Reconnect();
  conn_ = std::make_unique<HttpConnection>(&routes, HttpLimits(),
                                           io::SocketAddress(), now_);
  EXPECT_EQ(One(Get("/boot/ten", "Content-Length: 101\r\n")).status, 413);
}

TEST_F(HttpConnectionTest, TraversalEncodingsNeverLeaveTheRoot) {
  struct {
    const char* target;
    int status;
  } kCases[] = {
      {"/boot/../secret", 400},
      {"/boot/%2e%2e/secret", 400},
      {"/boot/%2E%2e/secret", 400},
      {"/boot/.%2e/secret", 400},
      {"/boot/..%2fsecret", 400},
      {"/boot/%2e%2e%2fsecret", 400},
      {"/boot/%252e%252e/secret", 404},  // decoded once: a name with '%'
      {"/boot/%252e%252e%252fsecret", 404},
      {"/boot/..%5csecret", 400},
      {"/boot/%c0%ae%c0%ae/secret", 400},
      {"/boot/%c0%ae%c0%ae%c0%afsecret", 400},
      {"/boot/%00/secret", 400},
      {"/boot/ten%00.cfg", 400},
      {"/boot/escape", 403},  // symlink out of the root
      {"/boot/passwd", 403},  // absolute symlink
      {"/boot/fifo", 404},    // not a regular file
      {"/boot/sub", 404},     // a directory
      {"/boot/./ten", 400},
      {"/boot/ten?../../secret", 200},  // the query is not the name
  };
  for (const auto& c : kCases) {
    Reconnect();
    Response r = One(Get(c.target));
    EXPECT_EQ(r.status, c.status) << c.target;
    EXPECT_FALSE(absl::StrContains(r.body, "SECRET")) << c.target;
  }
  // A raw backslash and NUL do not even get past the pre-filter / decoder.
  Reconnect();
  EXPECT_EQ(One(Get("/boot/..\\secret")).status, 400);
  Reconnect();
  EXPECT_EQ(
      One(std::string("GET /boot/a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 34)).status,
      400);
}

TEST_F(HttpConnectionTest, SmugglingShapesGetOneAnswerAndAClose) {
  const std::string kHidden = Get("/boot/ten");
  const std::string kCases[] = {
      Get("/boot/ten", "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n") +
          "0\r\n\r\n" + kHidden,
      Get("/boot/ten", "Content-Length: 0\r\nContent-Length: 40\r\n") + kHidden,
      Get("/boot/ten", "X: a\r\n Content-Length: 40\r\n") + kHidden,
      Get("/boot/ten", "X: a\rContent-Length: 40\r\n") + kHidden,
      "GET /boot/ten HTTP/1.1\r\nHost: a\r\n\r\r\n" + kHidden,
      "GET /boot/ten HTTP/1.1\nHost: a\n\n" + kHidden,
      Get("/boot/ten", "Content-Length : 40\r\n") + kHidden,
  };
  for (const std::string& request : kCases) {
    Reconnect();
    std::vector<Response> r = ParseResponses(Exchange(request));
    ASSERT_EQ(r.size(), 1u) << request;
    EXPECT_EQ(r[0].status, 400) << request;
    EXPECT_EQ(conn_->close(), HttpClose::kNow) << request;
  }
}

TEST_F(HttpConnectionTest, OversizedAndEndlessHeads) {
  Response r = One(Get("/boot/ten", "X: " + std::string(9000, 'a') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  Reconnect();
  r = One(Get("/boot/" + std::string(5000, 'a')));
  EXPECT_EQ(r.status, 414);
  Reconnect();
  std::string many;
  for (int i = 0; i < 65; ++i) many += absl::StrCat("X", i, ": y\r\n");
  r = One(Get("/boot/ten", many));
  EXPECT_EQ(r.status, 431);
  // An endless head, a KiB at a time: answered at 8 KiB, nothing buffered
  // past it.
  Reconnect();
  Feed("GET /boot/ten HTTP/1.1\r\n");
  int fed = 0;
  while (conn_->close() == HttpClose::kNo && fed < 100) {
    ASSERT_FALSE(conn_->pause_reading());
    Feed("X-Endless: " + std::string(1000, 'z') + "\r\n");
    ++fed;
  }
  EXPECT_LE(fed, 9);
  r = ParseResponses(Drain())[0];
  EXPECT_EQ(r.status, 431);
}

TEST_F(HttpConnectionTest, HeaderTimeoutCountsFromTheFirstByte) {
  // Nothing sent at all: closed without a response after the header timeout.
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(10));
  now_ += absl::Seconds(10);
  conn_->OnDeadline(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  EXPECT_FALSE(conn_->PollTransmit().has_value());

  // A trickle does not extend it: 408, then close.
  Reconnect();
  const absl::Time start = now_;
  Feed("G");
  for (int i = 0; i < 9; ++i) {
    now_ += absl::Seconds(1);
    Feed("E");
    EXPECT_EQ(conn_->Deadline(), start + absl::Seconds(10));
  }
  now_ = conn_->Deadline();
  conn_->OnDeadline(now_);
  Response r = ParseResponses(Drain())[0];
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].error, "header timeout");
}

TEST_F(HttpConnectionTest, IdleKeepAliveClosesSilently) {
  One(Get("/boot/ten"));
  Reports();
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(30));
  now_ += absl::Seconds(29);
  conn_->OnDeadline(now_);  // early: nothing happens
  EXPECT_EQ(conn_->close(), HttpClose::kNo);
  // A request's first byte switches to the header timeout.
  Feed("GET /boot/ten");
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(10));
  Feed(" HTTP/1.1\r\nHost: a\r\n\r\n");
  Drain();
  now_ += absl::Seconds(30);
  conn_->OnDeadline(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  EXPECT_FALSE(conn_->PollTransmit().has_value());
  EXPECT_EQ(Reports().size(), 1u);  // the request, not the close
}

TEST_F(HttpConnectionTest, ASendThatStopsProgressingIsAbandoned) {
  Feed(Get("/boot/ten"));
  ASSERT_TRUE(conn_->PollTransmit().has_value());
  now_ += absl::Seconds(50);
  conn_->OnSendProgress(100, now_);
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(60));
  now_ += absl::Seconds(60);
  conn_->OnDeadline(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].complete);
  EXPECT_FALSE(reports[0].whole_file);
  EXPECT_EQ(reports[0].bytes_sent, 100u);
  EXPECT_EQ(reports[0].error, "send timeout");
  EXPECT_EQ(reports[0].duration, absl::Seconds(110));
  EXPECT_TRUE(absl::StrContains(FormatReport(reports[0]), " incomplete"));
}

TEST_F(HttpConnectionTest, PeerCloseAnswersWhatIsCompleteThenCloses) {
  Feed(Get("/boot/ten") + Get("/boot/ten") + Get("/boot/ten") + "GET /");
  conn_->OnPeerClosed(now_);
  std::vector<Response> r = ParseResponses(Drain());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  // A half request at the end of the stream gets nothing.
  Reconnect();
  Feed("GET /boot/ten HTTP/1.1\r\n");
  conn_->OnPeerClosed(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  EXPECT_FALSE(conn_->PollTransmit().has_value());
  // A peer that vanishes mid-file: the report says how far it got.
  Reconnect();
  Feed(Get("/boot/ten"));
  ASSERT_TRUE(conn_->PollTransmit().has_value());
  conn_->OnSendProgress(3, now_);
  conn_->OnPeerClosed(now_);
  // Still sending: the caller finds out from its send failing, or finishes.
  conn_->OnSendDone(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
}

TEST_F(HttpConnectionTest, RequestsPerConnection) {
  HttpLimits limits;
  limits.max_requests = 2;
  Reconnect(limits);
  std::vector<Response> r = ParseResponses(
      Exchange(Get("/boot/ten") + Get("/boot/ten") + Get("/boot/ten")));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].Has("connection"));
  EXPECT_EQ(r[1].Get("connection"), "close");
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
}

TEST_F(HttpConnectionTest, ErrorsAreShortTextAndClose) {
  Response r = One(Get("/boot/missing"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 Not Found\n");
  EXPECT_EQ(r.Get("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.Get("connection"), "close");
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].kind, HttpRouteKind::kBoot);
  EXPECT_FALSE(reports[0].error.empty());
  // HEAD of an error: the same head, no body.
  Reconnect();
  std::vector<Response> h = ParseResponses(
      Exchange("HEAD /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"), {true});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].status, 404);
  EXPECT_EQ(h[0].Get("content-length"), "14");
  // Also when llhttp refused the head (found by the fuzzer: a HEAD with an
  // unsupported version was answered with a body).
  Reconnect();
  const std::string wire =
      Exchange("HEAD /boot/ten HTTP/2.1\r\nHost: a\r\n\r\n");
  h = ParseResponses(wire, {true});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].status, 505);
  EXPECT_TRUE(absl::EndsWith(wire, "\r\n\r\n")) << wire;
}

// ---- Routes with bodies, generated answers and streams (issue 13) --------

// What an API route does, in miniature: /api/echo takes POST bodies up to
// 100 bytes and answers what it was given; /api/status/N answers N with a
// JSON body; /api/bare/N answers N without one; /api/fields answers with
// `fields`; /api/events is a stream; /api/nobody answers 200 with nothing.
class TestApiRoutes : public HttpRoutes {
 public:
  HttpRouteResult Route(const HttpRequest& request) override {
    ++calls;
    HttpRouteResult r;
    r.kind = HttpRouteKind::kApi;
    absl::string_view path = request.path;
    int code = 0;
    if (path == "/api/echo") {
      r.status = 200;
      r.has_body = true;
      r.content_type = "application/json";
      r.body = absl::StrCat(request.method, "|", request.query, "|",
                            request.authorization, "|", request.content_type,
                            "|", request.last_event_id, "|", request.body, "|",
                            request.client.ToString());
    } else if (absl::ConsumePrefix(&path, "/api/status/") &&
               absl::SimpleAtoi(path, &code)) {
      r.status = code;
      r.has_body = true;
      r.content_type = "application/json";
      r.body = absl::StrCat("{\"error\":\"e", code, "\"}");
      r.error = "route error";
    } else if (absl::ConsumePrefix(&path, "/api/bare/") &&
               absl::SimpleAtoi(path, &code)) {
      r.status = code;
      r.headers = fields;
    } else if (path == "/api/fields") {
      r.status = 200;
      r.has_body = true;
      r.body = "x";
      r.content_type = content_type;
      r.headers = fields;
    } else if (path == "/api/events") {
      r.status = 200;
      r.content_type = "text/event-stream";
      r.stream = stream;
    } else if (path == "/api/nobody") {
      r.status = 200;
    }
    return r;
  }
  uint64_t MaxRequestBody(absl::string_view method,
                          absl::string_view path) override {
    return method == "POST" && path == "/api/echo" ? 100 : 0;
  }
  // A credential in the head (here ?big, from 198.18.0.9) buys a larger body.
  uint64_t MaxRequestBodyFor(const HttpRequest& head) override {
    if (head.method == "POST" && head.path == "/api/echo" &&
        head.query == "big" && head.client.ToString() == "198.18.0.9:5555") {
      return 300;
    }
    return MaxRequestBody(head.method, head.path);
  }
  bool AcceptsMethod(absl::string_view method,
                     absl::string_view path) override {
    if (path == "/api/echo") return true;
    if (path == "/api/postonly") return method == "POST";
    return method == "GET" || method == "HEAD";
  }

  int calls = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string content_type = "text/plain";
  std::shared_ptr<FakeHttpStream> stream = std::make_shared<FakeHttpStream>();
};

class HttpRoutesWithBodiesTest : public HttpConnectionTest {
 protected:
  void SetUp() override {
    HttpConnectionTest::SetUp();
    auto routes =
        PrefixRoutes::Create({{"/boot/", routes_.get()}, {"/api/", &api_}});
    ASSERT_TRUE(routes.ok());
    prefix_ = *std::move(routes);
    Connect();
  }
  void Connect(HttpLimits limits = HttpLimits()) {
    conn_ = std::make_unique<HttpConnection>(
        prefix_.get(), limits, io::SocketAddress::Ipv4({198, 18, 0, 9}, 5555),
        now_);
  }
  static std::string Post(const std::string& target, const std::string& body,
                          const std::string& extra = "") {
    return absl::StrCat("POST ", target,
                        " HTTP/1.1\r\nHost: 198.18.0.1\r\nContent-Length: ",
                        body.size(), "\r\n", extra, "\r\n", body);
  }
  // The head of the first transmit (streams have no Content-Length).
  static std::map<std::string, std::string> Fields(const std::string& head) {
    std::map<std::string, std::string> out;
    std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      out[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    return out;
  }

  TestApiRoutes api_;
  std::unique_ptr<PrefixRoutes> prefix_;
};

TEST_F(HttpRoutesWithBodiesTest, PostBodyAndRequestFieldsReachTheRoute) {
  Response r = One(Post("/api/echo?phase=stalled&q=a%20b#frag", "{\"x\":1}",
                        "Authorization: Bearer s3cret \r\n"
                        "Content-Type: application/json\r\n"
                        "Last-Event-ID: 42\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "POST|phase=stalled&q=a%20b|Bearer s3cret|application/json|42|"
            "{\"x\":1}|198.18.0.9:5555");
  EXPECT_EQ(r.Get("content-type"), "application/json");
  EXPECT_EQ(r.Get("cache-control"), "no-store");
  EXPECT_FALSE(r.Has("connection"));
  EXPECT_EQ(conn_->close(), HttpClose::kNo);  // kept alive
  // A GET on the same connection: no body, no leftovers of the last one.
  r = One("GET /api/echo HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.body, "GET||||||198.18.0.9:5555");
  // A POST without a body is a POST with an empty one.
  r = One("POST /api/echo HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.body, "POST||||||198.18.0.9:5555");
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].kind, HttpRouteKind::kApi);
  EXPECT_EQ(reports[0].method, "POST");
}

// The route sizes the body from the whole head (query, client) before any
// body byte is read.
TEST_F(HttpRoutesWithBodiesTest, RouteSizesTheBodyFromTheHead) {
  const std::string body(200, 'b');
  Response r = One(Post("/api/echo?big", body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST|big||||" + body + "|198.18.0.9:5555");
  r = One(Post("/api/echo?small", body));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(api_.calls, 1);
}

// The body arrives in pieces, the next request right behind it: the body is
// the route's, the request after it is parsed as a request.
TEST_F(HttpRoutesWithBodiesTest, BodyInPiecesThenAPipelinedRequest) {
  const std::string body(100, 'b');
  const std::string wire = Post("/api/echo", body) +
                           "GET /api/echo?second HTTP/1.1\r\nHost: a\r\n\r\n";
  for (char c : wire) Feed(std::string(1, c));
  std::vector<Response> r = ParseResponses(Drain());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, "POST|||||" + body + "|198.18.0.9:5555");
  EXPECT_EQ(r[1].body, "GET|second|||||198.18.0.9:5555");
  EXPECT_EQ(api_.calls, 2);
}

// A body larger than max_buffered_input (the pipelining bound) does not
// stall: it moves out of the input buffer as it arrives.
TEST_F(HttpRoutesWithBodiesTest, BodyLargerThanTheInputBufferIsRead) {
  HttpLimits limits;
  limits.max_buffered_input = 40;  // the overflow bound is 4x: 160
  Connect(limits);
  const std::string body(100, 'z');
  const std::string wire = Post("/api/echo", body);
  const std::string head = wire.substr(0, wire.size() - 100);
  for (size_t i = 0; i < head.size(); i += 20) Feed(head.substr(i, 20));
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(conn_->pause_reading()) << i;
    Feed(body.substr(i * 10, 10));
  }
  std::vector<Response> r = ParseResponses(Drain());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].body, "POST|||||" + body + "|198.18.0.9:5555");
  // And in one piece larger than the buffer bound.
  Connect(limits);
  for (size_t i = 0; i < head.size(); i += 20) Feed(head.substr(i, 20));
  Feed(body);
  r = ParseResponses(Drain());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
}

TEST_F(HttpRoutesWithBodiesTest, TooLargeChunkedAndUnwantedBodies) {
  // Over the route's 100 bytes: 413 before the body is read, and close.
  Response r = One(Post("/api/echo", std::string(101, 'x')));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Get("connection"), "close");
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  EXPECT_EQ(api_.calls, 0);
  // HttpLimits::max_request_body caps it too.
  HttpLimits limits;
  limits.max_request_body = 10;
  Connect(limits);
  EXPECT_EQ(One(Post("/api/echo", std::string(11, 'x'))).status, 413);
  Connect(limits);
  EXPECT_EQ(One(Post("/api/echo", std::string(10, 'x'))).status, 200);
  // Chunked where a body is taken: 411 (RFC 9112 section 6.3).
  Connect();
  r =
      One("POST /api/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
          "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 411);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  // A body where the route takes none: 413.
  Connect();
  EXPECT_EQ(One(Get("/api/status/200", "Content-Length: 2\r\n") + "{}").status,
            413);
  EXPECT_EQ(api_.calls, 1);  // only the 10-byte one
}

TEST_F(HttpRoutesWithBodiesTest, MethodsTheRouteDoesNotTakeAre405WithAllow) {
  struct {
    std::string request;
    std::string allow;
  } kCases[] = {
      // Before the body is read (the body would be the next "request").
      {Post("/boot/ten", "GET /boot/ten HTTP/1.1\r\nHost: a\r\n\r\n"),
       "GET, HEAD"},
      {Post("/api/status/200", "{}"), "GET, HEAD"},
      {Post("/nowhere", ""), "GET, HEAD"},
      {"PUT /api/echo HTTP/1.1\r\nHost: a\r\n\r\n", "GET, HEAD, POST"},
      {"DELETE /api/postonly HTTP/1.1\r\nHost: a\r\n\r\n", "POST"},
      {"GET /api/postonly HTTP/1.1\r\nHost: a\r\n\r\n", "POST"},
      {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "GET, HEAD"},
  };
  for (const auto& c : kCases) {
    Connect();
    std::vector<Response> r = ParseResponses(Exchange(c.request));
    ASSERT_EQ(r.size(), 1u) << c.request;
    EXPECT_EQ(r[0].status, 405) << c.request;
    EXPECT_EQ(r[0].Get("allow"), c.allow) << c.request;
    EXPECT_EQ(conn_->close(), HttpClose::kNow);
  }
  EXPECT_EQ(api_.calls, 0);
}

TEST_F(HttpRoutesWithBodiesTest, GeneratedBodiesForAnyStatusKeepTheConnection) {
  for (int code : {200, 201, 400, 401, 403, 404, 409, 500, 503}) {
    Response r = One(Get(absl::StrCat("/api/status/", code)));
    EXPECT_EQ(r.status, code);
    EXPECT_EQ(r.body, absl::StrCat("{\"error\":\"e", code, "\"}"));
    EXPECT_EQ(r.Get("content-type"), "application/json");
    EXPECT_EQ(r.Get("cache-control"), "no-store");
    EXPECT_FALSE(r.Has("connection")) << code;
    ASSERT_EQ(conn_->close(), HttpClose::kNo) << code;
  }
  // 408, 413 and 431 close even with a body.
  for (int code : {408, 413, 431}) {
    Connect();
    Response r = One(Get(absl::StrCat("/api/status/", code)));
    EXPECT_EQ(r.status, code);
    EXPECT_EQ(r.Get("connection"), "close");
    EXPECT_EQ(conn_->close(), HttpClose::kNow) << code;
  }
  // HEAD: the same head (Content-Length of the body), no body.
  Connect();
  std::vector<Response> h = ParseResponses(
      Exchange("HEAD /api/status/404 HTTP/1.1\r\nHost: a\r\n\r\n" +
               Get("/api/status/200")),
      {true, false});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].status, 404);
  EXPECT_EQ(h[0].Get("content-length"), "16");
  EXPECT_EQ(h[1].body, "{\"error\":\"e200\"}");
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].body_bytes, 0u);
  EXPECT_EQ(reports[0].error, "route error");
  // 204: no Content-Length, no body; a 1xx from a route is a 500.
  Connect();
  Feed(Get("/api/bare/204"));
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(absl::StartsWith(t->head, "HTTP/1.1 204 No Content\r\n"));
  EXPECT_FALSE(absl::StrContains(t->head, "Content-Length"));
  EXPECT_TRUE(t->inline_body.empty());
  conn_->OnSendDone(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNo);
  EXPECT_EQ(One(Get("/api/status/101")).status, 500);
  // An error without a generated body: the short text and a close, with the
  // route's fields.
  Connect();
  api_.fields = {{"WWW-Authenticate", "Bearer"}};
  Response r = One(Get("/api/bare/401"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "401 Unauthorized\n");
  EXPECT_EQ(r.Get("www-authenticate"), "Bearer");
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  // 200 with neither file, body nor stream: the route's bug, a 500.
  Connect();
  EXPECT_EQ(One(Get("/api/nobody")).status, 500);
}

TEST_F(HttpRoutesWithBodiesTest, RouteFieldsCannotSplitTheHead) {
  api_.fields = {
      {"X-Ok", "fine"},
      {"Cache-Control", "max-age=5"},
      {"X-Injected", "a\r\nSet-Cookie: evil=1"},
      {"X-Lf", "a\nb"},
      {"X-Nul", std::string("a\0b", 3)},
      {"Bad Name", "v"},
      {"X-Colon:", "v"},
      {"", "v"},
      {"Content-Length", "0"},
      {"Connection", "close"},
      {"Transfer-Encoding", "chunked"},
  };
  api_.content_type = "text/html\r\nX-Evil: 1";
  Feed(Get("/api/fields"));
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  const std::string& head = t->head;
  // Every line of the head is one field; none came from the bad values.
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(head).substr(0, head.size() - 4), "\r\n")) {
    EXPECT_FALSE(absl::StrContains(line, "\n")) << line;
    EXPECT_FALSE(absl::StrContains(line, "\r")) << line;
  }
  EXPECT_FALSE(absl::StrContains(head, "evil")) << head;
  EXPECT_FALSE(absl::StrContains(head, "Evil")) << head;
  std::map<std::string, std::string> f = Fields(head);
  EXPECT_EQ(f["x-ok"], "fine");
  EXPECT_EQ(f["cache-control"], "max-age=5");  // the route's own, not no-store
  EXPECT_EQ(f["content-length"], "1");
  EXPECT_EQ(f["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(f.count("x-injected"), 0u);
  EXPECT_EQ(f.count("x-lf"), 0u);
  EXPECT_EQ(f.count("x-nul"), 0u);
  EXPECT_EQ(f.count("connection"), 0u);
  EXPECT_EQ(f.count("transfer-encoding"), 0u);
  // One Content-Length, the connection's.
  EXPECT_EQ(
      std::vector<std::string>(absl::StrSplit(head, "Content-Length:")).size(),
      2u)
      << head;
  EXPECT_EQ(t->inline_body, "x");
  conn_->OnSendDone(now_);
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  const std::string line = FormatReport(reports[0]);
  EXPECT_TRUE(absl::StrContains(line, "route fields dropped: ")) << line;
  EXPECT_TRUE(absl::StrContains(line, "\"X-Injected\" (control character"))
      << line;
  EXPECT_TRUE(absl::StrContains(line, "\"Content-Type\"")) << line;
  EXPECT_FALSE(absl::StrContains(line, "\n")) << line;
}

TEST_F(HttpRoutesWithBodiesTest, RepeatedAuthorizationIsRefused) {
  Response r =
      One(Post("/api/echo", "{}",
               "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(api_.calls, 0);
}

// A body that trickles in is bounded by the header timeout, like a head.
TEST_F(HttpRoutesWithBodiesTest, ASlowBodyTimesOut) {
  const absl::Time start = now_;
  Feed(Post("/api/echo", std::string(50, 'x')).substr(0, 80));
  now_ += absl::Seconds(9);
  Feed("x");
  EXPECT_EQ(conn_->Deadline(), start + absl::Seconds(10));
  now_ = conn_->Deadline();
  conn_->OnDeadline(now_);
  Response r = ParseResponses(Drain())[0];
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(api_.calls, 0);
}

TEST_F(HttpRoutesWithBodiesTest, AStreamIsDrivenByTheCallerUntilItEnds) {
  std::shared_ptr<FakeHttpStream> stream = api_.stream;
  Feed(Get("/api/events", "Last-Event-ID: 7\r\n") + Get("/api/echo"));
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->stream, stream);
  EXPECT_TRUE(conn_->streaming());
  std::map<std::string, std::string> f = Fields(t->head);
  EXPECT_TRUE(absl::StartsWith(t->head, "HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(f.count("content-length"), 0u);
  EXPECT_EQ(f["connection"], "close");
  EXPECT_EQ(f["content-type"], "text/event-stream");
  EXPECT_EQ(f["cache-control"], "no-store");
  EXPECT_TRUE(t->inline_body.empty());
  // The head is out: the send timeout applies.
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(60));
  now_ += absl::Seconds(1);
  conn_->OnSendDone(now_);
  // Waiting for the producer: no timeout at all, however long.
  EXPECT_EQ(conn_->Deadline(), absl::InfiniteFuture());
  EXPECT_FALSE(conn_->pause_reading());
  EXPECT_TRUE(Reports().empty());  // reported when it ends
  now_ += absl::Hours(2);
  conn_->OnDeadline(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNo);
  // Client bytes (a pipelined request, junk) are dropped, never answered.
  Feed(Get("/api/echo") + "\x01\x02junk");
  EXPECT_FALSE(conn_->PollTransmit().has_value());
  EXPECT_EQ(api_.calls, 1);
  // Chunks: send timeout while one is out.
  conn_->OnStreamSend(100, now_);
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(60));
  conn_->OnSendDone(now_);
  conn_->OnStreamSend(50, now_);
  conn_->OnSendDone(now_);
  EXPECT_EQ(conn_->Deadline(), absl::InfiniteFuture());
  conn_->OnStreamEnd(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].complete);
  EXPECT_TRUE(reports[0].stream);
  EXPECT_EQ(reports[0].body_bytes, 150u);
  EXPECT_EQ(reports[0].bytes_sent, t->head.size() + 150);
  EXPECT_EQ(reports[0].duration, absl::Hours(2) + absl::Seconds(1));
  EXPECT_TRUE(absl::StrContains(FormatReport(reports[0]), " stream"));
  EXPECT_EQ(stream->starts(), 0);  // the caller starts it, not the connection
}

TEST_F(HttpRoutesWithBodiesTest, AStreamEndsWithTheClientOrItsSendTimeout) {
  // The client leaves: the usual end, complete.
  Feed(Get("/api/events"));
  ASSERT_TRUE(conn_->PollTransmit().has_value());
  conn_->OnSendDone(now_);
  conn_->OnPeerClosed(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].complete);
  EXPECT_EQ(reports[0].error, "stream closed by the client");
  // A client that stops reading: the chunk out times out.
  Connect();
  Feed(Get("/api/events"));
  ASSERT_TRUE(conn_->PollTransmit().has_value());
  conn_->OnSendDone(now_);
  conn_->OnStreamSend(65536, now_);
  now_ += absl::Seconds(30);
  conn_->OnSendProgress(1000, now_);  // progress moves it
  EXPECT_EQ(conn_->Deadline(), now_ + absl::Seconds(60));
  now_ += absl::Seconds(60);
  conn_->OnDeadline(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].complete);
  EXPECT_EQ(reports[0].error, "send timeout");
}

TEST_F(HttpRoutesWithBodiesTest, HeadOrPostOfAStreamNeverStartsIt) {
  Feed("HEAD /api/events HTTP/1.1\r\nHost: a\r\n\r\n");
  absl::optional<HttpTransmit> t = conn_->PollTransmit();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->stream, nullptr);
  EXPECT_TRUE(t->inline_body.empty());
  std::map<std::string, std::string> f = Fields(t->head);
  EXPECT_EQ(f["content-type"], "text/event-stream");
  EXPECT_EQ(f["connection"], "close");
  EXPECT_EQ(f.count("content-length"), 0u);
  conn_->OnSendDone(now_);
  EXPECT_EQ(conn_->close(), HttpClose::kNow);
  EXPECT_EQ(api_.stream->stops(), 1);
  EXPECT_EQ(api_.stream->starts(), 0);
  EXPECT_FALSE(conn_->streaming());
  // A POST answered with a stream is the route's bug: 500.
  Connect();
  api_.stream = std::make_shared<FakeHttpStream>();
  class PostStream : public TestApiRoutes {
   public:
    bool AcceptsMethod(absl::string_view, absl::string_view) override {
      return true;
    }
  } post_routes;
  conn_ = std::make_unique<HttpConnection>(&post_routes, HttpLimits(),
                                           io::SocketAddress(), now_);
  Response p = One("POST /api/events HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p.status, 500);
  EXPECT_EQ(post_routes.stream->stops(), 1);
  // A stream never polled (the connection destroyed first) is stopped.
  std::shared_ptr<FakeHttpStream> unpolled = api_.stream;
  Connect();
  Feed(Get("/api/events"));
  conn_.reset();
  EXPECT_EQ(unpolled->stops(), 1);
}

TEST_F(HttpConnectionTest, ReportEscapesClientText) {
  Exchange(Get("/boot/%0a%22x"));
  std::vector<HttpResponseReport> reports = Reports();
  ASSERT_EQ(reports.size(), 1u);
  const std::string line = FormatReport(reports[0]);
  EXPECT_FALSE(absl::StrContains(line, "\n"));
  EXPECT_TRUE(absl::StartsWith(line, "GET \"/boot/%0a%22x\" 400 ")) << line;
}

}  // namespace
}  // namespace rackboot::http

namespace rackboot::http {
namespace {

// Issue 12 allows 16 KiB per idle connection beyond the mapped files; the
// object itself is a small part of it (its buffers are empty when idle).
TEST(HttpConnectionSizeTest, TheObjectIsSmall) {
  std::printf("sizeof(HttpConnection) = %zu\n", sizeof(HttpConnection));
  EXPECT_LE(sizeof(HttpConnection), 1024u);
}

}  // namespace
}  // namespace rackboot::http
