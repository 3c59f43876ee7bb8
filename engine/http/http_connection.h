// HttpConnection: the server side of one HTTP/1.1 connection as a state
// machine without I/O.
//
// Like TftpSession (and quinn-proto's Connection), it is fed the bytes the
// client sent and the time, and says what to send, whether to close, whether
// to stop reading, and when it next wants to be woken. The shard that owns it
// does the socket and the clock (architecture principle 1), so every timeout,
// pipelined request and range edge is testable without a socket.
//
//   HttpConnection conn(&routes, limits, client, now);
//   on received bytes:        conn.OnBytes(bytes, now);
//   as the kernel takes bytes of the transmit: conn.OnSendProgress(n, now);
//   when the whole transmit has been sent:     conn.OnSendDone(now);
//   on end of stream (read returned 0):        conn.OnPeerClosed(now);
//   when now >= conn.Deadline():               conn.OnDeadline(now);
//   after each of these:
//     if (auto t = conn.PollTransmit()) start sending *t (head, then body);
//     while (auto r = conn.TakeReport()) log FormatReport(*r) at INFO;
//     conn.close() == HttpClose::kNow: close the socket;
//                  == kAfterTransmit: close once the transmit is sent;
//     conn.pause_reading(): stop receiving until it turns false.
//
// Protocol (RFC 9112 message syntax, RFC 9110 semantics):
//   - Every request head passes HttpPrefilter (http_prefilter.h) before
//     llhttp 8.1 parses it: bare CR, obs-fold, NUL, CL with TE, repeated
//     Content-Length and more are refused there with 400.
//   - GET and HEAD are served everywhere; POST where the route takes it
//     (HttpRoutes::AcceptsMethod, asked before any body is read). A method
//     the route does not take, and the other RFC 9110 methods, get 405 with
//     "Allow:" listing what the route at that path takes (GET, HEAD, POST);
//     methods llhttp knows beyond those 501, a method llhttp does not know
//     501. HTTP/1.0 and 1.1 only (505 otherwise); HTTP/1.1 without exactly
//     one Host is 400 (RFC 9112 section 3.2).
//   - One response at a time: bytes of pipelined requests wait in a bounded
//     buffer and are parsed after the current response is sent, in order.
//   - Keep-alive is HTTP/1.1's default and HTTP/1.0's with "Connection:
//     keep-alive"; "Connection: close" closes after the response.
//   - Every response has Content-Length (iPXE stalls without it), except
//     304, 204 and a stream.
//   - One byte range ("Range: bytes=a-b", "a-", "-n") is 206 with
//     Content-Range; a range past the end 416 with "Content-Range: bytes
//     */size"; several ranges are ignored (200, whole file), as is a
//     malformed Range (RFC 9110 section 14.2).
//   - Files on disk carry Last-Modified and a strong ETag made of their
//     FileIdentity (inode, size, mtime); If-None-Match (weak comparison) and,
//     without it, If-Modified-Since answer 304; If-Range (strong comparison
//     or exact date) keeps a Range only when the file is unchanged. Rendered
//     per-host files have neither (they change with the host's state) and
//     carry "Cache-Control: no-store".
//   - A request body (Content-Length) is read whole, up to the route's
//     HttpRoutes::MaxRequestBody(method, path) and max_request_body, and
//     handed to the route in HttpRequest::body; a larger one is 413, a
//     chunked one 411 where the route takes a body (413 elsewhere), both
//     before any of it is read, then close. "Expect: 100-continue" gets no
//     interim 100: the client sends the body after its own wait (curl: 1 s;
//     bodies here are small).
//   - A route's generated body (HttpRouteResult::has_body: JSON, the page,
//     metrics text) is sent with its Content-Type and Content-Length for any
//     status, HEAD gets the same head without the body, and the connection
//     stays open (also for an error status: an API's JSON error is a normal
//     answer), except after 408, 413 and 431. Without its own Cache-Control
//     it carries "Cache-Control: no-store". The route's extra fields are
//     checked: a name that is not a token, a value with CR, LF, NUL or
//     another control character, and the fields this connection writes
//     itself (Content-Length, Content-Type, Transfer-Encoding, Connection,
//     Date, Server) are dropped, never sent, and named in the report
//     (HttpResponseReport::dropped).
//   - A route's stream (HttpRouteResult::stream, GET only) gets a head
//     without Content-Length and with "Connection: close"; the caller then
//     drives the stream (http_stream.h) and tells the connection what it
//     sends: OnStreamSend per chunk, OnSendDone when it left, OnStreamEnd
//     when the stream ended and everything was sent. While streaming, the
//     header and idle timeouts do not apply (only send_timeout while a chunk
//     is out), client bytes are read and dropped (so its close is seen), and
//     the report is made when the stream ends. HEAD of a stream route gets
//     the head alone (the stream is stopped at once).
//   - Errors of the connection itself, and a route's error status without a
//     generated body, have a short text/plain body and "Connection: close",
//     and the connection closes once they are sent.
//
// Limits (HttpLimits; defaults chosen so that a slow or hostile client holds
// at most about 16 KiB of buffers, and no longer than the timeouts below):
//
//   field                    default   past it
//   max_head_bytes           8 KiB     431, close (request line + fields)
//   max_request_line         4 KiB     414, close
//   max_header_fields        64        431, close
//   header_timeout           10 s      408, close (from a request's first
//                                      byte); a connection that sends
//                                      nothing is closed this long after
//                                      accept, without a response
//   idle_timeout             30 s      close without a response (keep-alive
//                                      wait between requests)
//   send_timeout             60 s      close (no OnSendProgress for this
//                                      long while a transmit is out)
//   max_requests             1000      the last response says close
//                                      (0: unlimited)
//   max_buffered_input       16 KiB    pause_reading() while this much is
//                                      buffered (pipelined requests wait
//                                      for the response out); 4x: close
//   max_request_body         64 KiB    413 (also capped per route:
//                                      HttpRoutes::MaxRequestBody)
//
// The connection borrows `routes` (which must outlive it) and holds the file
// of the response being sent (shared_ptr) until OnSendDone or destruction;
// a stream it hands to the caller in the transmit (the caller drives and
// stops it).
// PollTransmit hands the transmit over by value: its head and any in-memory
// body are owned by the caller, the file slice by its shared_ptr, so a
// send may outlive the connection. One thread.
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_CONNECTION_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "engine/files/file_cache.h"
#include "engine/http/http_prefilter.h"
#include "engine/http/http_routes.h"
#include "engine/http/http_stream.h"
#include "engine/io/socket_address.h"

namespace rackboot::http {

struct HttpLimits {
  size_t max_head_bytes = 8 * 1024;
  size_t max_request_line = 4 * 1024;
  size_t max_header_fields = 64;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(30);
  absl::Duration send_timeout = absl::Seconds(60);
  uint32_t max_requests = 1000;
  size_t max_buffered_input = 16 * 1024;
  uint64_t max_request_body = 64 * 1024;
};

// A slice of a file to send after the head. `file->fd()` is the file's
// read-only descriptor when its FileCache keeps descriptors (construct
// HTTP's caches with max_descriptors > 0): send the slice with
// sendfile/splice from fd at `offset`. When it is -1 (a file rendered in
// memory, or a cache without descriptors), send
// file->bytes().subspan(offset, length) from the mapping.
struct HttpFileSlice {
  std::shared_ptr<const MappedFile> file;  // null: no file body
  uint64_t offset = 0;
  uint64_t length = 0;
};

// One response to send: `head`, then `inline_body`, then `file`'s slice (at
// most one of the two bodies is non-empty). Owned by the caller. With
// `stream`, the body follows from the stream (http_stream.h) after the head:
// the caller Starts it once the head is queued, and reports what it sends
// with HttpConnection::OnStreamSend.
struct HttpTransmit {
  std::string head;         // status line and fields, through the blank line
  std::string inline_body;  // a generated body (error text, a route's body)
  HttpFileSlice file;
  std::shared_ptr<HttpStream> stream;
  uint64_t size() const {
    return head.size() + inline_body.size() + file.length;
  }
};

enum class HttpClose {
  kNo,
  kAfterTransmit,  // send the transmit handed out (if any), then close
  kNow,            // close at once; an unsent transmit is abandoned
};

// One response, for the INFO line and the counters; also the bring-up event
// "file F reached client C over http" when kind == kBoot and whole_file.
struct HttpResponseReport {
  std::string method;  // as received (client text: log it escaped)
  std::string target;  // the request target as received (client text)
  int status = 0;
  uint64_t body_bytes = 0;  // Content-Length of the response (0 for HEAD)
  uint64_t bytes_sent = 0;  // head and body bytes the kernel took
  bool complete = false;    // the whole transmit was sent
  absl::Duration duration;  // from the request's first byte to the last sent
  io::SocketAddress client;
  HttpRouteKind kind = HttpRouteKind::kNone;
  std::string file;         // relative path of the file served, if any
  bool whole_file = false;  // complete and the body was the whole file
  std::string error;        // why, for an error status
  // Route header fields refused (CR/LF in a value, a bad name, a field the
  // connection writes itself): never sent; the caller logs them.
  std::string dropped;
  bool stream = false;  // a streamed body (bytes_sent counts all of it)
};

// `GET "/boot/vmlinuz" 200 1234 bytes in 12.3ms to 198.18.0.2:5555` (plus
// "stream", the error, "incomplete" or the dropped fields), client text
// escaped with log::Quoted, install tokens redacted (log_redact.h:
// `GET "/install/012345…/ks.cfg" 200 ...`).
std::string FormatReport(const HttpResponseReport& report);
// The same line before redaction: tests only (it carries whole tokens).
std::string FormatReportUnredacted(const HttpResponseReport& report);

class HttpConnection {
 public:
  // A connection accepted from `client` at `now`. `routes` is borrowed.
  HttpConnection(HttpRoutes* routes, const HttpLimits& limits,
                 const io::SocketAddress& client, absl::Time now);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Bytes received from the client. Bytes that arrive while close() !=
  // kNo are ignored. While pause_reading() the caller should not read; if it
  // does, more than 4 * max_buffered_input buffered ends the connection
  // (kNow).
  void OnBytes(absl::Span<const uint8_t> bytes, absl::Time now);
  // `bytes` more of the handed-out transmit were taken by the kernel; only
  // moves the send timeout (and the report's bytes_sent).
  void OnSendProgress(uint64_t bytes, absl::Time now);
  // The whole handed-out transmit was sent: the next pipelined request (if
  // any) is parsed now.
  void OnSendDone(absl::Time now);
  // The client ended its side of the stream (read returned 0). Complete
  // requests already buffered are still answered, then kNow. On a reset,
  // just close the socket.
  void OnPeerClosed(absl::Time now);
  // Call when now >= Deadline(); an earlier call does nothing.
  void OnDeadline(absl::Time now);
  // The caller cannot go on (a send it could not queue, the socket gone):
  // close() turns kNow, the response out (if any) is reported incomplete
  // with `error`.
  void Abandon(absl::Time now, absl::string_view error);

  // Streams (after a transmit with a stream was polled and its head sent,
  // i.e. after its OnSendDone): the caller queued `bytes` more of the
  // stream's body; a send is out again until OnSendDone (and send_timeout
  // applies to it). REQUIRES streaming(), no send out.
  void OnStreamSend(uint64_t bytes, absl::Time now);
  // The stream ended (HttpStream::Read returned false) and everything the
  // caller queued was sent: the response is complete, close() turns kNow.
  void OnStreamEnd(absl::Time now);
  // A transmit with a stream was handed out and the connection has not
  // closed: the body is the stream's.
  bool streaming() const { return streaming_; }

  // The next response to send, once (then nullopt until the next event);
  // at most one is out until OnSendDone.
  absl::optional<HttpTransmit> PollTransmit();
  // Reports of responses that ended (sent, or abandoned by a close), oldest
  // first; nullopt when none.
  absl::optional<HttpResponseReport> TakeReport();

  HttpClose close() const { return close_; }
  bool pause_reading() const;
  // When OnDeadline wants to be called: finite while close() != kNow (the
  // send timeout while a transmit is out, the header timeout while a request
  // is incomplete, the idle timeout between requests), except while
  // streaming with no chunk out; InfiniteFuture() once kNow.
  absl::Time Deadline() const;

  // The `now` the caller passes is its own clock (the reactor's is
  // CLOCK_MONOTONIC); Date headers need the wall clock: wall = now + offset.
  // The caller sets it once (absl::Now() - its now). Zero by default (tests
  // that pass wall-clock times).
  void set_wall_clock_offset(absl::Duration offset) { wall_offset_ = offset; }

  const io::SocketAddress& client() const { return client_; }
  uint32_t requests() const { return requests_; }

 private:
  struct Parsed;  // one parsed request head (http_connection.cc)

  void Process(absl::Time now);
  bool ParseHead(size_t head_size, Parsed* out, int* status,
                 std::string* error);
  void Respond(const Parsed& request, absl::Time now);
  // A route's generated body (or an empty 204/3xx).
  void RespondGenerated(const Parsed& request, HttpRouteResult route,
                        absl::Time now);
  void RespondStream(const Parsed& request, HttpRouteResult route,
                     absl::Time now);
  // The methods of {GET, HEAD, POST} the route at `target`'s path takes.
  std::string AllowFor(absl::string_view target);
  void RespondError(int status, std::string error, absl::Time now,
                    const Parsed* request, absl::string_view extra_fields = {},
                    std::string dropped = {});
  void Queue(HttpTransmit transmit, HttpResponseReport report, bool close,
             absl::Time now);
  void FinishReport(bool complete);
  void CloseNow(absl::Time now);

  HttpRoutes* const routes_;
  const HttpLimits limits_;
  absl::Duration wall_offset_ = absl::ZeroDuration();
  const io::SocketAddress client_;

  std::string in_;      // received, not yet consumed
  size_t scanned_ = 0;  // bytes of in_ the prefilter has seen
  HttpPrefilter prefilter_;
  uint64_t body_expected_ = 0;             // body bytes still to arrive
  std::string body_;                       // the body received so far
  std::unique_ptr<Parsed> awaiting_body_;  // answered once its body is in
  bool request_started_ = false;
  absl::Time request_start_;  // first byte of the current request
  absl::Time idle_since_;     // when the connection became idle
  bool first_request_ = true;

  absl::optional<HttpTransmit> ready_;  // built, not yet polled
  bool out_ = false;                    // a transmit is out (polled, unsent)
  absl::Time last_progress_;
  absl::optional<HttpResponseReport> current_;  // of the response out/ready
  uint64_t sent_size_ = 0;                      // size of that transmit
  absl::Time current_started_;                  // its request's first byte
  // Not a deque: libstdc++'s allocates 576 bytes up front, on every idle
  // connection.
  std::vector<HttpResponseReport> reports_;
  HttpClose close_ = HttpClose::kNo;
  bool peer_closed_ = false;
  bool streaming_ = false;
  uint32_t requests_ = 0;
};

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_CONNECTION_H_
