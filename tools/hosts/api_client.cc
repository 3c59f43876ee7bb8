#include "tools/hosts/api_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace rackboot::hosts {
namespace {

struct Sink {
  std::string* body;
  uint64_t max;
  bool too_big = false;
};

size_t Write(char* data, size_t size, size_t count, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->max) {
    sink->too_big = true;
    return 0;  // curl aborts the transfer (CURLE_WRITE_ERROR)
  }
  sink->body->append(data, n);
  return n;
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

ApiAnswer ApiRequest(absl::string_view base, absl::string_view method,
                     absl::string_view path, absl::string_view token,
                     const ApiOptions& options) {
  ApiAnswer answer;
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) {
    answer.error = "curl_easy_init failed";
    return answer;
  }
  const std::string url = absl::StrCat(base, path);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from the env
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(
      c, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
  curl_easy_setopt(
      c, CURLOPT_TIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options.total_timeout)));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "rackboot-hosts");
  Sink sink{&answer.body, options.max_body};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  std::unique_ptr<curl_slist, ListDeleter> headers;
  auto add_header = [&headers](const std::string& h) {
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  };
  add_header("Accept: application/json");
  if (!token.empty()) add_header(absl::StrCat("Authorization: Bearer ", token));
  if (method == "POST") {
    add_header("Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 2L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);

  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    answer.outcome = ApiAnswer::Outcome::kAnswered;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
    const char* type = nullptr;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) answer.content_type = type;
    return answer;
  }
  answer.error = error[0] != '\0' ? error : curl_easy_strerror(rc);
  if (sink.too_big) {
    answer.error =
        absl::StrCat("answer larger than ", options.max_body, " bytes");
  }
  // Connected at all? A connect that timed out also leaves connect time 0.
  curl_off_t connected_us = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected_us);
  if (rc == CURLE_COULDNT_CONNECT ||
      (rc == CURLE_OPERATION_TIMEDOUT && connected_us == 0)) {
    answer.outcome = ApiAnswer::Outcome::kNoDaemon;
  } else {
    answer.outcome = ApiAnswer::Outcome::kFailed;
  }
  return answer;
}

std::string ApiBaseForListen(absl::string_view listen) {
  if (listen.empty()) return "";
  absl::string_view host = listen;
  absl::string_view port;
  if (size_t colon = listen.rfind(':'); colon != absl::string_view::npos) {
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  return port.empty() ? absl::StrCat("http://", host)
                      : absl::StrCat("http://", host, ":", port);
}

absl::StatusOr<std::string> NormaliseApiBase(absl::string_view url) {
  absl::string_view rest = url;
  const bool https = absl::ConsumePrefix(&rest, "https://");
  if (!https && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "API URL \"", absl::CHexEscape(url),
        "\" must begin with http:// or https:// (e.g. http://127.0.0.1:8080)"));
  }
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  if (rest.empty() || rest.find_first_of("/?#@ \t\r\n") != rest.npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("API URL \"", absl::CHexEscape(url),
                     "\" must be scheme://host[:port] with no path, query or "
                     "user (e.g. http://127.0.0.1:8080)"));
  }
  return absl::StrCat(https ? "https://" : "http://", rest);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read token file ", path, ": ", strerror(errno)));
  }
  std::string text(4097, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      close(fd);
      return absl::PermissionDeniedError(
          absl::StrCat("cannot read token file ", path, ": ", strerror(e)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " is larger than 4 KiB"));
  }
  text.resize(got);
  absl::string_view token = text;
  if (size_t nl = token.find('\n'); nl != token.npos) {
    token = token.substr(0, nl);
  }
  token = absl::StripAsciiWhitespace(token);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " is empty"));
  }
  for (char ch : token) {
    // A header value: printable ASCII only (no CR/LF to split the request).
    if (ch < 0x21 || ch > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file ", path,
                       " holds a character that cannot go in an HTTP header"));
    }
  }
  return std::string(token);
}

}  // namespace rackboot::hosts
