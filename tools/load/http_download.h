// HttpDownload: one simulated host's HTTP/1.1 GET of one file over a TCP
// connection, as a state machine without I/O, for `rackboot load`.
//
// The load runner owns the connection (one per simulated host, kept alive
// across the host's http steps) and the clock; the download is fed the bytes
// the server sent and the time, and says what to send and when it next wants
// to be woken (architecture principle 1, as TftpDownload). One thread; the
// runner owns each download by value or unique_ptr.
//
//   HttpDownload d(options, now);        // options.connected: reuse or not
//   ... once the TCP connect completed:  d.OnConnected(now);
//   send d.Transmit(); d.Sent(n) with the bytes the kernel took;
//   ... on bytes from the server:        d.OnBytes(bytes, now);
//   ... on EOF or a reset:               d.OnClosed(now);
//   ... when now >= d.Deadline():        d.OnDeadline(now);
//   done once d.finished(); d.result() says how it ended, d.reusable()
//   whether the connection may carry the host's next request.
//
// What it accepts (a strict client: a load tool must not call a broken
// server's answer a success; RFC 9112 sections cited):
//   - The request: "GET <path> HTTP/1.1", Host, User-Agent, Accept,
//     Connection: keep-alive. The path is 1..2048 visible ASCII bytes
//     starting with '/', else the download ends in the constructor
//     (kBadRequest, nothing sent).
//   - The response head (status line and header fields up to the empty line)
//     is at most max_head_bytes (8 KiB), else kHeadTooLarge. Lines end in
//     CRLF; a bare CR or LF, a NUL or other control byte, obs-fold (a line
//     starting with SP/HT, 5.2), whitespace before a field's colon (5.1) or a
//     field name that is not a token is kMalformed. The status line is
//     "HTTP/1.x SSS reason" (4); any status but 200 is kBadStatus (status()
//     has it: the client never asks for ranges or conditionals, so 206 or
//     304 would be a server bug too).
//   - Content-Length is required (6.3): several values must agree (a list or
//     repeated fields), digits only, no overflow; without it kNoLength.
//     Transfer-Encoding (chunked or any other) is not supported: kChunked.
//     With expected_size set, a Content-Length other than it is
//     kSizeMismatch before any body byte is taken.
//   - The body is counted and each span handed to `verify` with its offset
//     (every byte of the file is checked when verify is set); false ends it
//     with kContentMismatch. Bytes beyond Content-Length (the client does
//     not pipeline, so the server may send nothing more) are kExtraBytes;
//     the connection closing before Content-Length bytes is kTruncated.
//   - Keep-alive: reusable() after kOk unless the server said
//     "Connection: close" (or is HTTP/1.0 without "keep-alive", 9.3).
//   - Timeouts, each measured from the last event (errors as values, never
//     a hang): connect_timeout from the start until OnConnected;
//     first_byte_timeout from the request being queued until the first
//     response byte; stall_timeout between two arrivals after that.
//     kConnectTimeout, kFirstByteTimeout, kStalled.
//   - Anything after the end is ignored. OnConnectFailed and OnClosed end a
//     running download (kConnectFailed, kTruncated / kClosedBeforeResponse).
#ifndef RACKBOOT_TOOLS_LOAD_HTTP_DOWNLOAD_H_
#define RACKBOOT_TOOLS_LOAD_HTTP_DOWNLOAD_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace rackboot::load {

struct HttpDownloadOptions {
  std::string path;  // "/boot/vmlinuz": sent as is (no escaping)
  std::string host;  // the Host field: "198.18.0.1" or "198.18.0.1:8080"
  // True when the connection is already up (a kept-alive one): the request
  // is queued at once and no connect timeout runs.
  bool connected = false;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration first_byte_timeout = absl::Seconds(10);
  absl::Duration stall_timeout = absl::Seconds(10);
  size_t max_head_bytes = 8192;
  // When set, a Content-Length other than this is kSizeMismatch.
  absl::optional<uint64_t> expected_size;
  // When set, called with each body span and its offset in the file;
  // returning false ends the download with kContentMismatch.
  std::function<bool(uint64_t offset, absl::Span<const uint8_t> bytes)> verify;
};

enum class HttpDownloadResult : uint8_t {
  kRunning,
  kOk,
  kBadRequest,            // the path cannot be sent (see above)
  kConnectFailed,         // OnConnectFailed (refused, unreachable, ...)
  kConnectTimeout,        // no OnConnected within connect_timeout
  kFirstByteTimeout,      // no response byte within first_byte_timeout
  kStalled,               // no byte for stall_timeout after the first
  kClosedBeforeResponse,  // the server closed before any response byte
  kTruncated,             // closed within the head or before Content-Length
  kHeadTooLarge,          // the head exceeds max_head_bytes
  kMalformed,             // the head breaks the grammar above
  kBadStatus,             // status other than 200 (status())
  kNoLength,              // no Content-Length field
  kChunked,               // Transfer-Encoding: not supported
  kSizeMismatch,          // Content-Length != expected_size
  kContentMismatch,       // verify returned false
  kExtraBytes,            // more bytes than Content-Length
};
// "ok", "connect_failed", ...: for tests and logs.
const char* HttpDownloadResultName(HttpDownloadResult result);

struct HttpDownloadStats {
  int status = 0;                           // of the status line; 0 before
  absl::optional<uint64_t> content_length;  // as the server announced
  uint64_t head_bytes = 0;                  // status line through empty line
  uint64_t bytes = 0;                       // body bytes taken (and verified)
  absl::Time started;
  absl::Time connected;   // OnConnected, or started for a reused connection
  absl::Time first_byte;  // first response byte
  absl::Time finished;
};

class HttpDownload {
 public:
  HttpDownload(HttpDownloadOptions options, absl::Time now);
  HttpDownload(HttpDownload&&) = default;
  HttpDownload& operator=(HttpDownload&&) = default;

  void OnConnected(absl::Time now);
  // The TCP connect failed; `reason` ("Connection refused") goes to
  // error_message().
  void OnConnectFailed(absl::string_view reason, absl::Time now);
  // Bytes from the server, in stream order, split anywhere.
  void OnBytes(absl::Span<const uint8_t> bytes, absl::Time now);
  // The server closed the connection (EOF) or it broke (`reason` non-empty).
  void OnClosed(absl::string_view reason, absl::Time now);
  void OnDeadline(absl::Time now);

  // The request bytes not yet sent: empty before OnConnected and once sent.
  // Valid until the next non-const call.
  absl::Span<const uint8_t> Transmit() const;
  // The transport took the first `n` bytes of Transmit().
  void Sent(size_t n);

  absl::Time Deadline() const;  // InfiniteFuture() once finished
  bool finished() const { return result_ != HttpDownloadResult::kRunning; }
  HttpDownloadResult result() const { return result_; }
  // After kOk: the connection may carry the next request.
  bool reusable() const { return result_ == HttpDownloadResult::kOk && keep_; }
  const std::string& error_message() const { return error_message_; }
  const HttpDownloadStats& stats() const { return stats_; }

 private:
  enum class Phase : uint8_t { kConnecting, kWaiting, kHead, kBody, kDone };

  void QueueRequest(absl::Time now);
  // Feeds head bytes; returns how many of `bytes` belonged to the head (the
  // rest is body), or finishes the download.
  size_t TakeHead(absl::Span<const uint8_t> bytes, absl::Time now);
  // Parses the complete head in head_ (ending with the empty line).
  void ParseHead(absl::Time now);
  void TakeBody(absl::Span<const uint8_t> bytes, absl::Time now);
  void Finish(HttpDownloadResult result, absl::Time now,
              std::string message = "");

  HttpDownloadOptions options_;
  HttpDownloadResult result_ = HttpDownloadResult::kRunning;
  Phase phase_ = Phase::kConnecting;
  bool keep_ = true;
  std::string error_message_;
  HttpDownloadStats stats_;
  std::string request_;
  size_t request_sent_ = 0;
  std::string head_;  // the head so far; released once parsed
  absl::Time deadline_ = absl::InfiniteFuture();
};

}  // namespace rackboot::load

#endif  // RACKBOOT_TOOLS_LOAD_HTTP_DOWNLOAD_H_
