#include "engine/http/http_routes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/log/log_text.h"
#include "engine/log/utf8.h"

namespace rackboot::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct ContentType {
  absl::string_view suffix;  // compared case-insensitively with the name's end
  absl::string_view type;
};

// Boot and install files, by what firmware, iPXE and installers fetch.
constexpr ContentType kContentTypes[] = {
    {".cfg", "text/plain; charset=utf-8"},
    {".ipxe", "text/plain; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
    {".conf", "text/plain; charset=utf-8"},
    {".ks", "text/plain; charset=utf-8"},
    {".seed", "text/plain; charset=utf-8"},
    {".preseed", "text/plain; charset=utf-8"},
    {".sh", "text/plain; charset=utf-8"},
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".json", "application/json"},
    {".xml", "application/xml"},
    {".iso", "application/x-iso9660-image"},
    {".img", "application/octet-stream"},
    {".gz", "application/gzip"},
    {".xz", "application/x-xz"},
    {".bz2", "application/x-bzip2"},
    {".zst", "application/zstd"},
    {".tar", "application/x-tar"},
    {".deb", "application/vnd.debian.binary-package"},
    {".udeb", "application/vnd.debian.binary-package"},
    {".rpm", "application/x-rpm"},
    {".asc", "text/plain; charset=utf-8"},
    {".gpg", "application/pgp-keys"},
    {".efi", "application/octet-stream"},
    {".kpxe", "application/octet-stream"},
    {".pxe", "application/octet-stream"},
    {".0", "application/octet-stream"},
    {".c32", "application/octet-stream"},
};

}  // namespace

const char* RouteKindName(HttpRouteKind kind) {
  switch (kind) {
    case HttpRouteKind::kNone:
      return "none";
    case HttpRouteKind::kBoot:
      return "boot";
    case HttpRouteKind::kRepo:
      return "repo";
    case HttpRouteKind::kReserved:
      return "reserved";
    case HttpRouteKind::kApi:
      return "api";
    case HttpRouteKind::kMetrics:
      return "metrics";
    case HttpRouteKind::kStatusPage:
      return "status page";
    case HttpRouteKind::kInstall:
      return "install";
  }
  return "?";
}

int StatusForFileError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    // A directory, a device, a FIFO: not something this server serves, and
    // saying "not found" tells a prober nothing about what exists.
    case absl::StatusCode::kFailedPrecondition:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kResourceExhausted:
      return 503;
    default:
      return 500;
  }
}

absl::StatusOr<std::string> DecodeRequestPath(absl::string_view target) {
  absl::string_view path = target;
  if (absl::StartsWithIgnoreCase(path, "http://") ||
      absl::StartsWithIgnoreCase(path, "https://")) {
    // RFC 9112 section 3.2.2: absolute-form; the path starts after the
    // authority.
    path.remove_prefix(path.find("//") + 2);
    const size_t end = path.find_first_of("/?#");
    if (end == absl::string_view::npos || path[end] != '/') {
      path = "/";
    } else {
      path.remove_prefix(end);
    }
  }
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError("request target is not a path");
  }
  // RFC 3986 section 3.4: the query is not part of the file name; a
  // fragment is never sent, so cut it too.
  path = path.substr(0, path.find_first_of("?#"));
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\') return absl::InvalidArgumentError("backslash in path");
    if (c == '%') {
      const int hi = i + 2 < path.size() ? HexValue(path[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(path[i + 2]) : -1;
      if (lo < 0) return absl::InvalidArgumentError("malformed %-escape");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      // One name must not hide a path: %2f and %5c are not separators here,
      // and are refused rather than served as odd names.
      if (c == '/' || c == '\\') {
        return absl::InvalidArgumentError("encoded slash in path");
      }
    }
    if (c == '\0') return absl::InvalidArgumentError("NUL in path");
    if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("control character in path");
    }
    out.push_back(c);
  }
  if (!log::IsWellFormedUtf8(out)) {
    return absl::InvalidArgumentError("path is not well-formed UTF-8");
  }
  for (absl::string_view segment : absl::StrSplit(out, '/')) {
    if (segment == "." || segment == "..") {
      return absl::InvalidArgumentError("dot segment in path");
    }
  }
  return out;
}

HttpRouteResult FileRoutes::Route(const HttpRequest& request) {
  const absl::string_view path = request.path;
  HttpRouteResult result;
  FileCache* cache = nullptr;
  absl::string_view rest;
  if (absl::StartsWith(path, "/boot/")) {
    result.kind = HttpRouteKind::kBoot;
    cache = boot_;
    rest = path.substr(6);
    if (cache == nullptr) {
      result.status = 404;
      result.error = "no tftp.root configured";
      return result;
    }
  } else if (absl::StartsWith(path, "/repo/")) {
    result.kind = HttpRouteKind::kRepo;
    cache = repo_;
    rest = path.substr(6);
    if (cache == nullptr) {
      result.status = 404;
      result.error = "no repo_root configured";
      return result;
    }
  } else if (path == "/" || absl::StartsWith(path, "/install/") ||
             absl::StartsWith(path, "/api/v1/") || path == "/metrics") {
    // Reserved for the install, API, metrics and status routes of later
    // issues: add them here.
    result.kind = HttpRouteKind::kReserved;
    result.status = 404;
    result.error = "reserved path";
    return result;
  } else {
    result.status = 404;
    result.error = "no route";
    return result;
  }
  if (absl::StrContains(rest, '\\')) {
    // FileRoot::Normalize turns '\' into '/' for TFTP clients; over HTTP a
    // backslash never reaches it (DecodeRequestPath refuses it).
    result.status = 400;
    result.error = "backslash in path";
    return result;
  }
  if (rest.empty() || rest.back() == '/') {
    result.status = 404;
    result.error = "no file name";
    return result;
  }
  // rackboot mirror's manifest, lock and staging tree live in and beside
  // the published trees (docs/mirror.md): never served, answered like a
  // missing file. Case-blind, for a root on a case-folding filesystem.
  for (absl::string_view segment : absl::StrSplit(rest, '/')) {
    if (absl::StartsWithIgnoreCase(segment, ".rackboot")) {
      result.status = 404;
      result.error = "mirror bookkeeping is not served";
      return result;
    }
  }
  absl::StatusOr<std::shared_ptr<const MappedFile>> file =
      cache->Open(rest, request.client);
  if (!file.ok()) {
    result.status = StatusForFileError(file.status());
    result.error = log::Escaped(file.status().message());
    return result;
  }
  result.status = 200;
  result.file = *std::move(file);
  return result;
}

absl::StatusOr<std::unique_ptr<PrefixRoutes>> PrefixRoutes::Create(
    std::vector<std::pair<std::string, HttpRoutes*>> routes) {
  for (size_t i = 0; i < routes.size(); ++i) {
    const std::string& prefix = routes[i].first;
    if (prefix.empty() || prefix.front() != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "route prefix ", log::Quoted(prefix), " does not start with '/'"));
    }
    if (routes[i].second == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("route prefix ", log::Quoted(prefix), " has no routes"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (routes[j].first == prefix) {
        return absl::InvalidArgumentError(
            absl::StrCat("route prefix ", log::Quoted(prefix), " repeated"));
      }
    }
  }
  std::stable_sort(routes.begin(), routes.end(),
                   [](const auto& a, const auto& b) {
                     return a.first.size() > b.first.size();
                   });
  return std::unique_ptr<PrefixRoutes>(new PrefixRoutes(std::move(routes)));
}

HttpRoutes* PrefixRoutes::Find(absl::string_view path) const {
  for (const auto& [prefix, routes] : routes_) {
    // "/" is the status page alone, not the whole URL space.
    const bool subtree = prefix.size() > 1 && prefix.back() == '/';
    if (subtree ? absl::StartsWith(path, prefix) : path == prefix) {
      return routes;
    }
  }
  return nullptr;
}

HttpRouteResult PrefixRoutes::Route(const HttpRequest& request) {
  if (HttpRoutes* routes = Find(request.path)) return routes->Route(request);
  HttpRouteResult result;
  result.status = 404;
  result.error = "no route";
  return result;
}

uint64_t PrefixRoutes::MaxRequestBody(absl::string_view method,
                                      absl::string_view path) {
  HttpRoutes* routes = Find(path);
  return routes == nullptr ? 0 : routes->MaxRequestBody(method, path);
}

uint64_t PrefixRoutes::MaxRequestBodyFor(const HttpRequest& head) {
  HttpRoutes* routes = Find(head.path);
  return routes == nullptr ? 0 : routes->MaxRequestBodyFor(head);
}

bool PrefixRoutes::AcceptsMethod(absl::string_view method,
                                 absl::string_view path) {
  HttpRoutes* routes = Find(path);
  return routes == nullptr ? HttpRoutes::AcceptsMethod(method, path)
                           : routes->AcceptsMethod(method, path);
}

absl::string_view ContentTypeFor(absl::string_view relative_path) {
  const size_t slash = relative_path.rfind('/');
  const absl::string_view base = slash == absl::string_view::npos
                                     ? relative_path
                                     : relative_path.substr(slash + 1);
  // Kernels and initrds usually have no extension at all.
  if (absl::StartsWith(base, "vmlinuz") || absl::StartsWith(base, "initrd") ||
      absl::StartsWith(base, "bzImage")) {
    return "application/octet-stream";
  }
  for (const ContentType& t : kContentTypes) {
    if (absl::EndsWithIgnoreCase(base, t.suffix)) return t.type;
  }
  return "application/octet-stream";
}

}  // namespace rackboot::http
