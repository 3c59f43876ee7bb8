// HTTP URLs of the boot tree, as DHCP answers and iPXE scripts name them.
//
// rackbootd serves the TFTP root at http://<host>:<port>/boot/ when [http]
// listen is set. DHCP hands iPXE the URL of its per-host script and UEFI HTTP
// boot the URL of its loader; the script names the kernel and initrd by URL.
// All of them start with the base URL built here:
//
//   absl::optional<std::string> base = HttpBaseUrl(site);
//   // "http://198.18.0.1:8080", or nullopt while HTTP is not served
//   std::string url = absl::StrCat(*base, "/boot/", UrlPath("vmlinuz"));
//
// Pure functions of their arguments; any thread.
#ifndef RACKBOOT_ENGINE_SITE_HTTP_URLS_H_
#define RACKBOOT_ENGINE_SITE_HTTP_URLS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::site {

// [http] listen of `site` ("" while HTTP is off): the one place that reads
// the key, so the boot answers follow wherever the daemon keeps it.
std::string HttpListen(const SiteConfig& site);

// "http://<host>[:<port>]" for an HTTP service listening on `listen`
// ("address:port"): the host is the listen address, or `server`
// (server.address, the address clients reach this machine at on their subnet)
// when the listen address is 0.0.0.0. nullopt when `listen` is empty or
// unusable (not address:port, or 0.0.0.0 without a server address): no HTTP
// URLs then.
absl::optional<std::string> HttpBaseUrl(absl::string_view listen,
                                        absl::optional<Ipv4Address> server);
absl::optional<std::string> HttpBaseUrl(const SiteConfig& site);

// `path` (relative to the boot tree, '/'-separated) as a URL path: bytes other
// than RFC 3986 unreserved characters and '/' percent-encoded; a leading '/'
// dropped (TFTP's and the boot keys' "/x" means the root's x).
std::string UrlPath(absl::string_view path);

// The per-host iPXE script's path beneath the boot tree,
// "ipxe/01-52-54-00-c6-12-01.ipxe" (ARP type 1, then the MAC, as pxelinux
// names its per-host files). BootRenderer renders it.
std::string IpxeScriptPath(const MacAddress& mac);

}  // namespace rackboot::site

#endif  // RACKBOOT_ENGINE_SITE_HTTP_URLS_H_
