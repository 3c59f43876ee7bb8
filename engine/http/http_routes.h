// HttpRoutes: what a request path means, for HttpConnection.
//
// The connection parses and checks the request; the routes turn a decoded path
// into a file to serve or an error status. FileRoutes is the URL space of
// issue 12 (tests and tools outside this repository depend on it):
//
//   /boot/<path>   the boot tree, through the same FileCache as TFTP and with
//                  exactly its rules: FileCache::Open(path, client), so
//                  openat2 RESOLVE_BENEATH, regular files only, in-root
//                  symlinks allowed, per-host rendered files chosen by the
//                  client's address
//   /repo/<path>   a second FileCache over http.repo_root (404 without one)
//                  (under both, a component starting with ".rackboot",
//                  case-blind, is 404: rackboot mirror's bookkeeping)
//   /install/, /api/v1/, /metrics, /
//                  reserved: 404 from FileRoutes (the daemon serves
//                  /install/ with InstallRoutes, engine/api); HttpService puts
//                  FileRoutes under /boot/ and /repo/ of a PrefixRoutes, beside
//                  the routes of HttpServiceOptions::routes (the API, /metrics,
//                  the status page)
//   anything else  404
//
//   FileRoutes files(&boot_cache, repo_cache.get());    // both borrowed
//   auto routes = PrefixRoutes::Create({{"/boot/", &files}, {"/repo/", &files},
//                                       {"/api/v1/", &api}});
//   HttpConnection connection(routes->get(), limits, client, now);
//
// A route gets an HttpRequest (method, decoded path, raw query, a few
// fields, the body) and answers an HttpRouteResult: a file, a generated body
// (JSON, HTML, text), a stream (Server-Sent Events) or an error status.
//
// DecodeRequestPath is the single decoding step: the path is percent-decoded
// once, and names that could only be traversal or confusion are refused
// (400) before any filesystem call. The kernel check (RESOLVE_BENEATH) stays
// the real containment; this only makes the answers clear and the logs honest.
//
// FileRoutes borrows its caches; it is immutable, so any thread may call it
// (FileCache is thread-safe). So must every HttpRoutes: a service's shards
// call one object from all their threads.
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_ROUTES_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_ROUTES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/files/file_cache.h"
#include "engine/http/http_stream.h"
#include "engine/io/socket_address.h"

namespace rackboot::http {

// Which part of the URL space answered: for logs and bring-up events
// ("file F reached client C over http" for kBoot).
enum class HttpRouteKind {
  kNone,
  kBoot,
  kRepo,
  kReserved,
  kApi,
  kMetrics,
  kStatusPage,
  kInstall  // /install/<token>/<file> (engine/api/install_routes.h)
};
const char* RouteKindName(HttpRouteKind kind);

// One parsed request as a route sees it. Views into the connection's
// buffers: valid for the duration of Route() only.
struct HttpRequest {
  absl::string_view method;         // "GET", "HEAD", "POST" (others never
                                    // reach a route)
  absl::string_view path;           // decoded (DecodeRequestPath)
  absl::string_view query;          // raw query after '?', "" if none
  absl::string_view authorization;  // the Authorization value, "" if absent
  absl::string_view content_type;   // request Content-Type, "" if absent
  absl::string_view last_event_id;  // Last-Event-ID (SSE resume), "" if absent
  absl::string_view body;           // the request body, at most MaxRequestBody
  io::SocketAddress client;
  // Wall-clock time of the request (HttpConnection adds its wall-clock
  // offset to the reactor's monotonic clock), comparable with absl::Now()
  // and with the times routes report (RFC 3339 in the API).
  absl::Time now;
};

// The answer of a route.
struct HttpRouteResult {
  // 200 with `file`, `body` (has_body) or `stream`; or another status.
  int status = 404;
  // A file body (as issue 12's routes give it).
  std::shared_ptr<const MappedFile> file;
  HttpRouteKind kind = HttpRouteKind::kNone;
  // Why an error, for the log line (may carry escaped client text).
  std::string error;
  // A generated body (JSON, the page, metrics text), used when `file` is
  // null: sent with Content-Length and `content_type`, for any status. With
  // `has_body` false an error status gets the connection's short text/plain
  // body (and the connection closes, as for its own errors).
  bool has_body = false;
  std::string body;
  std::string content_type;  // e.g. "application/json"
  // Extra response fields, names and values chosen by the route (never
  // client text unescaped): "Cache-Control: no-store", "WWW-Authenticate:
  // Bearer", "Allow: GET, POST". A name or value with CR, LF or NUL (or a
  // name that is not a token) is dropped and logged, never sent. Fields the
  // connection writes itself (Content-Length, Connection, Date, Server,
  // Transfer-Encoding) are dropped too. Without its own Cache-Control a
  // generated response carries "Cache-Control: no-store".
  std::vector<std::pair<std::string, std::string>> headers;
  // A streamed body (Server-Sent Events), GET only: the head is sent without
  // Content-Length and with "Connection: close", then the bytes the stream
  // produces until it ends or the connection does (http_stream.h).
  std::shared_ptr<HttpStream> stream;
};

class HttpRoutes {
 public:
  virtual ~HttpRoutes() = default;
  // Any shard thread (implementations are thread-safe).
  virtual HttpRouteResult Route(const HttpRequest& request) = 0;
  // The largest request body the route at `path` takes for `method` (0:
  // none, answered 413). The connection also caps it at
  // HttpLimits::max_request_body.
  virtual uint64_t MaxRequestBody(absl::string_view method,
                                  absl::string_view path) {
    (void)method;
    (void)path;
    return 0;
  }
  // The same for one request whose head has arrived (`head.body` is empty):
  // what the connection asks before it reads a body. A route whose large
  // bodies need a credential (the installer log's token) looks at the query,
  // the Authorization field and the client here, so that a request without
  // one cannot make the connection buffer megabytes. Default:
  // MaxRequestBody(head.method, head.path).
  virtual uint64_t MaxRequestBodyFor(const HttpRequest& head) {
    return MaxRequestBody(head.method, head.path);
  }
  // Whether the route at `path` takes `method` (only "GET", "HEAD" and
  // "POST" are asked). A method it does not take is 405 with Allow, before
  // any body is read.
  virtual bool AcceptsMethod(absl::string_view method, absl::string_view path) {
    (void)path;
    return method == "GET" || method == "HEAD";
  }
};

// Maps FileRoot/FileCache errors to HTTP statuses: NotFound 404,
// PermissionDenied 403, FailedPrecondition (a directory, a device) 404,
// InvalidArgument 400, ResourceExhausted 503, anything else 500.
int StatusForFileError(const absl::Status& status);

// Percent-decodes the path of a request target once (RFC 3986 section 2.1)
// and refuses, with InvalidArgument naming the reason:
//   - a target that is not origin-form ("/...") or absolute-form
//     ("http://host/..."; RFC 9112 section 3.2.2 makes servers accept it),
//   - a malformed escape ("%zz", "%4"),
//   - NUL or any other control character after decoding,
//   - an encoded '/' or '\' (%2f, %5c): one name must not hide a path,
//   - a backslash in any form,
//   - a "." or ".." segment after decoding ("/boot/%2e%2e/x"),
//   - bytes that are not well-formed UTF-8 after decoding, which covers
//     overlong encodings such as %c0%ae ('.') and %c0%af ('/').
// The query string and a fragment are dropped. A decoded '%' stays: "%252e"
// is the name "%2e", never decoded twice.
absl::StatusOr<std::string> DecodeRequestPath(absl::string_view target);

// The routes of issue 12 over two file caches.
class FileRoutes : public HttpRoutes {
 public:
  // Either may be null (then /boot/ or /repo/ is 404). Both are borrowed
  // and must outlive this object.
  FileRoutes(FileCache* boot, FileCache* repo) : boot_(boot), repo_(repo) {}

  HttpRouteResult Route(const HttpRequest& request) override;

 private:
  FileCache* const boot_;
  FileCache* const repo_;
};

// Dispatch by path prefix, longest first: {"/boot/", &files}, {"/repo/",
// &files}, {"/api/v1/", &api}, {"/metrics", &metrics}, {"/", &page}. A
// prefix ending in '/' matches that subtree; one without matches the exact
// path only; "/" matches exactly "/" (the status page), never the whole
// space. Unmatched: 404 ("no route"; GET and HEAD only). The routes are
// borrowed; HttpRequest::path is passed unchanged. Immutable after
// construction, so any thread may call it.
class PrefixRoutes : public HttpRoutes {
 public:
  // InvalidArgument for an empty prefix, one not starting with '/', a
  // repeated one or a null route.
  static absl::StatusOr<std::unique_ptr<PrefixRoutes>> Create(
      std::vector<std::pair<std::string, HttpRoutes*>> routes);

  HttpRouteResult Route(const HttpRequest& request) override;
  uint64_t MaxRequestBody(absl::string_view method,
                          absl::string_view path) override;
  uint64_t MaxRequestBodyFor(const HttpRequest& head) override;
  bool AcceptsMethod(absl::string_view method, absl::string_view path) override;

  // The route for `path`, or null.
  HttpRoutes* Find(absl::string_view path) const;

 private:
  explicit PrefixRoutes(std::vector<std::pair<std::string, HttpRoutes*>> r)
      : routes_(std::move(r)) {}
  // Longest prefix first.
  std::vector<std::pair<std::string, HttpRoutes*>> routes_;
};

// Content-Type by file name extension (a small table; unknown:
// application/octet-stream).
absl::string_view ContentTypeFor(absl::string_view relative_path);

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_ROUTES_H_
