#include "engine/site/http_urls.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace rackboot::site {

std::string HttpListen(const SiteConfig& site) { return site.http.listen; }

absl::optional<std::string> HttpBaseUrl(absl::string_view listen,
                                        absl::optional<Ipv4Address> server) {
  const size_t colon = listen.rfind(':');
  if (listen.empty() || colon == absl::string_view::npos) return absl::nullopt;
  absl::StatusOr<Ipv4Address> address =
      Ipv4Address::Parse(listen.substr(0, colon));
  int port = 0;
  if (!address.ok() || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 1 || port > 65535) {
    return absl::nullopt;
  }
  Ipv4Address host = *address;
  if (host.IsUnspecified()) {
    if (!server.has_value()) return absl::nullopt;
    host = *server;
  }
  return port == 80 ? absl::StrCat("http://", host.ToString())
                    : absl::StrCat("http://", host.ToString(), ":", port);
}

absl::optional<std::string> HttpBaseUrl(const SiteConfig& site) {
  return HttpBaseUrl(HttpListen(site), site.server.address);
}

std::string UrlPath(absl::string_view path) {
  while (absl::StartsWith(path, "/")) path.remove_prefix(1);
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string IpxeScriptPath(const MacAddress& mac) {
  return absl::StrCat(
      "ipxe/01-", absl::StrReplaceAll(FormatMac(mac), {{":", "-"}}), ".ipxe");
}

}  // namespace rackboot::site
