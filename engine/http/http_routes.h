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
//   /install/, /api/v1/, /metrics, /
//                  reserved for later issues: 404 for now (FileRoutes::Route
//                  is the one place to add them)
//   anything else  404
//
//   FileRoutes routes(&boot_cache, repo_cache.get());   // both borrowed
//   HttpConnection connection(&routes, limits, client, now);
//
// DecodeRequestPath is the single decoding step: the path is percent-decoded
// once, and names that could only be traversal or confusion are refused
// (400) before any filesystem call. The kernel check (RESOLVE_BENEATH) stays
// the real containment; this only makes the answers clear and the logs honest.
//
// FileRoutes borrows its caches; it is immutable, so any thread may call it
// (FileCache is thread-safe).
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_ROUTES_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_ROUTES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/files/file_cache.h"
#include "engine/io/socket_address.h"

namespace rackboot::http {

// Which part of the URL space answered: for logs and bring-up events
// ("file F reached client C over http" for kBoot).
enum class HttpRouteKind { kNone, kBoot, kRepo, kReserved };
const char* RouteKindName(HttpRouteKind kind);

// The answer of a route for a GET or HEAD.
struct HttpRouteResult {
  // 200 with `file`, or an error status (400, 403, 404, 500, 503) without.
  int status = 404;
  std::shared_ptr<const MappedFile> file;
  // The route's own view of the file name (FileCache's relative path).
  HttpRouteKind kind = HttpRouteKind::kNone;
  // Why an error, for the log line (may carry escaped client text).
  std::string error;
};

class HttpRoutes {
 public:
  virtual ~HttpRoutes() = default;
  // `path` is the decoded path (DecodeRequestPath), starting with '/'.
  virtual HttpRouteResult Route(absl::string_view path,
                                const io::SocketAddress& client) = 0;
  // The largest request body the route at `path` takes (0: none, answered
  // 413). No route takes one yet; the API routes of a later issue will, up to
  // HttpLimits::max_request_body.
  virtual uint64_t MaxRequestBody(absl::string_view path) {
    (void)path;
    return 0;
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
  // `boot` must not be null; `repo` may be (then /repo/ is 404). Both are
  // borrowed and must outlive this object.
  FileRoutes(FileCache* boot, FileCache* repo) : boot_(boot), repo_(repo) {}

  HttpRouteResult Route(absl::string_view path,
                        const io::SocketAddress& client) override;

 private:
  FileCache* const boot_;
  FileCache* const repo_;
};

// Content-Type by file name extension (a small table; unknown:
// application/octet-stream).
absl::string_view ContentTypeFor(absl::string_view relative_path);

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_ROUTES_H_
