#include "engine/install/host_values.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/site/http_urls.h"

namespace rackboot::install {
namespace {

using site::InstallFamily;

// Appends `word` to `args` with a separating space.
void AddArg(std::string* args, absl::string_view word) {
  if (word.empty()) return;
  if (!args->empty()) args->push_back(' ');
  absl::StrAppend(args, word);
}

struct Repo {
  std::string url, scheme, host, dir;
};

// The profile's `source` as an absolute URL and its parts; empty when there
// is none (or "/repo/..." without HTTP).
Repo RepoOf(absl::string_view source, absl::string_view http_base) {
  Repo repo;
  if (source.empty()) return repo;
  if (absl::StartsWith(source, "/")) {
    if (http_base.empty()) return repo;
    repo.url = absl::StrCat(http_base, source);
  } else {
    repo.url = std::string(source);
  }
  absl::string_view rest = repo.url;
  const size_t colon = rest.find("://");
  if (colon == absl::string_view::npos) return Repo{};
  repo.scheme = std::string(rest.substr(0, colon));
  rest.remove_prefix(colon + 3);
  const size_t slash = rest.find('/');
  repo.host = std::string(rest.substr(0, slash));
  repo.dir =
      slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  return repo;
}

std::string LastSegment(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path
                                                      : path.substr(slash + 1));
}

}  // namespace

std::string GrubQuoteArgs(absl::string_view args) {
  // GRUB's script syntax is sh-like: these split a command or expand.
  constexpr absl::string_view kSpecial = ";&|$<>\"'\\{}()#*?[]~`";
  std::vector<std::string> words;
  for (absl::string_view word : absl::StrSplit(args, ' ', absl::SkipEmpty())) {
    if (word.find_first_of(kSpecial) == absl::string_view::npos) {
      words.emplace_back(word);
      continue;
    }
    std::string quoted = "'";
    for (char c : word) {
      if (c == '\'') {
        quoted += "'\\''";
      } else {
        quoted += c;
      }
    }
    quoted += "'";
    words.push_back(std::move(quoted));
  }
  return absl::StrJoin(words, " ");
}

absl::StatusOr<TemplateValues> HostValues(const HostRenderInput& input) {
  const site::SiteConfig& site = *input.site;
  const site::InventoryHost& host = *input.host;
  const site::BootProfile* profile = input.profile;
  const InstallFamily family =
      profile != nullptr ? profile->family : InstallFamily::kNone;
  // Nothing to install without a profile.
  const bool armed = input.armed && profile != nullptr;
  if (armed && family != InstallFamily::kNone && input.http_base.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        host.hostname, " is armed with profile ", profile->name, " (family ",
        site::InstallFamilyName(family),
        "), whose install files are served over HTTP only: set http.listen "
        "(and server.address when it listens on 0.0.0.0)"));
  }

  TemplateValues v;
  absl::Status status;
  auto set = [&](absl::string_view key, absl::string_view value) {
    if (status.ok()) status = v.Set(key, value);
  };
  auto set_list = [&](absl::string_view key,
                      const std::vector<std::string>& items) {
    if (status.ok()) status = v.SetList(key, items);
  };

  // Names.
  set("hostname", host.hostname);
  const size_t dot = host.hostname.find('.');
  const std::string short_name = host.hostname.substr(0, dot);
  set("short_hostname", short_name);
  const site::Subnet* subnet =
      host.address.has_value() ? site.SubnetFor(*host.address) : nullptr;
  std::string domain;
  if (dot != std::string::npos) {
    domain = host.hostname.substr(dot + 1);
  } else if (subnet != nullptr) {
    domain = subnet->domain;
  }
  set("domain", domain);
  const std::string mac = site::FormatMac(host.mac);
  set("mac", mac);
  std::string dashed = absl::StrCat("01-", mac);
  for (char& c : dashed) {
    if (c == ':') c = '-';
  }
  set("mac_dashed", dashed);

  // Addresses: the host's own, else the subnet's defaults. A host is static
  // when its address and the subnet holding it (its netmask) are known.
  const bool is_static = host.address.has_value() && subnet != nullptr;
  set("ip", host.address.has_value() ? host.address->ToString() : "");
  set("netmask", subnet != nullptr ? subnet->netmask().ToString() : "");
  set("prefix_length",
      subnet != nullptr ? absl::StrCat(subnet->prefix_length) : "");
  std::string gateway;
  if (host.gateway.has_value()) {
    gateway = host.gateway->ToString();
  } else if (subnet != nullptr && subnet->router.has_value()) {
    gateway = subnet->router->ToString();
  }
  set("gateway", gateway);
  std::vector<std::string> dns;
  for (const auto& a : host.dns) dns.push_back(a.ToString());
  if (dns.empty() && subnet != nullptr) {
    for (const auto& a : subnet->dns) dns.push_back(a.ToString());
  }
  set_list("dns", dns);
  set("dns_first", dns.empty() ? "" : dns.front());
  set("dns_space", absl::StrJoin(dns, " "));
  set("dns_comma", absl::StrJoin(dns, ","));
  v.SetBool("static", is_static);

  std::string disk = host.disk;
  if (disk.empty() && profile != nullptr) disk = profile->disk;
  if (disk.empty() && (family == InstallFamily::kDebianPreseed ||
                       family == InstallFamily::kRhelKickstart)) {
    disk = "/dev/sda";  // autoinstall picks the largest disk itself
  }
  set("disk", disk);
  set("server",
      site.server.address.has_value() ? site.server.address->ToString() : "");
  set("http_base", input.http_base);

  // Profile and install.
  set("profile", profile != nullptr ? profile->name : "");
  set("family", site::InstallFamilyName(family));
  v.SetBool("armed", armed);
  const std::string token = armed ? input.token : "";
  set("token", token);
  const std::string install_url =
      armed && !token.empty() && !input.http_base.empty()
          ? absl::StrCat(input.http_base, "/install/", token, "/")
          : "";
  set("install_url", install_url);
  set("report_url",
      input.http_base.empty()
          ? ""
          : absl::StrCat(input.http_base, "/api/v1/hosts/", host.hostname));
  const std::string kernel = profile != nullptr ? profile->kernel : "";
  const std::string initrd = profile != nullptr ? profile->initrd : "";
  auto boot_url = [&](const std::string& path) -> std::string {
    if (path.empty()) return "";
    return input.http_base.empty()
               ? absl::StrCat("/", site::UrlPath(path))
               : absl::StrCat(input.http_base, "/boot/", site::UrlPath(path));
  };
  set("kernel", kernel);
  set("initrd", initrd);
  v.SetBool("has_initrd", !initrd.empty());
  set("kernel_url", boot_url(kernel));
  set("initrd_url", boot_url(initrd));
  set("initrd_name", site::UrlPath(LastSegment(initrd)));
  const Repo repo =
      RepoOf(profile != nullptr ? profile->source : "", input.http_base);
  set("repo_url", repo.url);
  set("repo_scheme", repo.scheme);
  set("repo_host", repo.host);
  set("repo_dir", repo.dir);
  v.SetBool("has_repo", !repo.url.empty());
  set("timezone", profile != nullptr ? profile->timezone : "");
  set("locale", profile != nullptr ? profile->locale : "");
  set("keyboard", profile != nullptr ? profile->keyboard : "");
  const std::vector<std::string> none;
  const std::vector<std::string>& packages =
      profile != nullptr ? profile->packages : none;
  set_list("packages", packages);
  set("packages_space", absl::StrJoin(packages, " "));
  v.SetBool("lvm", profile != nullptr && profile->partitioning == "lvm");
  const std::string hash =
      profile != nullptr ? profile->root_password_hash : "";
  set("root_password_hash", hash);
  v.SetBool("has_root_password", !hash.empty());
  const std::vector<std::string>& keys =
      profile != nullptr ? profile->ssh_keys : none;
  set_list("ssh_keys", keys);
  v.SetBool("has_ssh_keys", !keys.empty());

  // Menus.
  const int timeout = site.boot.menu_timeout;
  set("menu_timeout", absl::StrCat(timeout));
  set("menu_timeout_ds", absl::StrCat(timeout * 10));
  set("menu_timeout_ms", absl::StrCat(timeout * 1000));
  v.SetBool("has_menu", timeout > 0);
  set("default_entry", armed ? "install" : "local");
  // A boot-only profile has no rescue mode: its kernel and append are all
  // there is, and booting them is what "install" does.
  const bool has_rescue = family == InstallFamily::kDebianPreseed ||
                          family == InstallFamily::kRhelKickstart;
  v.SetBool("has_rescue", has_rescue);
  if (!status.ok()) return status;

  // The family's kernel arguments (only when armed), then the profile's
  // append rendered with every value above.
  std::string ip_args;
  if (is_static) {
    ip_args = absl::StrCat("ip=", host.address->ToString(), "::", gateway, ":",
                           subnet->netmask().ToString(), ":", host.hostname,
                           "::none");
    if (!dns.empty()) absl::StrAppend(&ip_args, " nameserver=", dns.front());
  } else {
    ip_args = "ip=dhcp";
  }
  std::string install_args, rescue_args;
  switch (family) {
    case InstallFamily::kNone:
      break;
    case InstallFamily::kDebianPreseed:
      if (armed) {
        install_args = absl::StrCat(
            "auto=true priority=critical url=", install_url,
            "preseed.cfg netcfg/get_hostname=", short_name,
            " netcfg/get_domain=", domain, " locale=", profile->locale,
            " keymap=", profile->keyboard);
        if (is_static) {
          absl::StrAppend(
              &install_args,
              " netcfg/disable_autoconfig=true netcfg/get_ipaddress=",
              host.address->ToString(),
              " netcfg/get_netmask=", subnet->netmask().ToString(),
              " netcfg/get_gateway=", gateway,
              " netcfg/get_nameservers=", dns.empty() ? "" : dns.front(),
              " netcfg/confirm_static=true");
        }
      }
      rescue_args = "rescue/enable=true";
      break;
    case InstallFamily::kRhelKickstart:
      if (armed) {
        install_args = absl::StrCat("inst.ks=", install_url, "ks.cfg");
        if (!repo.url.empty()) AddArg(&install_args, "inst.repo=" + repo.url);
        AddArg(&install_args, ip_args);
      }
      rescue_args = "inst.rescue";
      if (!repo.url.empty()) AddArg(&rescue_args, "inst.repo=" + repo.url);
      break;
    case InstallFamily::kUbuntuAutoinstall:
      if (armed) {
        install_args =
            absl::StrCat("autoinstall ds=nocloud-net;s=", install_url);
        AddArg(&install_args, ip_args);
      }
      break;
  }
  if (profile != nullptr && !profile->append.empty()) {
    absl::StatusOr<Template> append =
        Template::Parse(absl::StrCat(site.path, ":", profile->line,
                                     ": profile ", profile->name, " append"),
                        profile->append);
    if (!append.ok()) return append.status();
    absl::StatusOr<std::string> rendered = append->Render(v);
    if (!rendered.ok()) return rendered.status();
    AddArg(&install_args, *rendered);
    if (has_rescue) AddArg(&rescue_args, *rendered);
  }
  set("install_args", install_args);
  set("install_args_grub", GrubQuoteArgs(install_args));
  set("rescue_args", rescue_args);
  set("rescue_args_grub", GrubQuoteArgs(rescue_args));
  if (!status.ok()) return status;
  return v;
}

}  // namespace rackboot::install
