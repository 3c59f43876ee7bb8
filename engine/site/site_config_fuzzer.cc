// Fuzz target for the site.toml parser: any input either fails with an
// InvalidArgument status naming the file, or parses into a SiteConfig whose
// invariants hold (subnets disjoint and canonical, pools inside their subnet,
// values in range, every [[profile]] install value within its character set
// and bounds). A violated invariant traps so libFuzzer (or the seed
// replay test) reports it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "engine/site/site_config.h"

namespace rackboot::site {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// No byte of `s` can end a line, a quote or a shell word it is rendered into.
bool Inert(const std::string& s, bool dollar_ok = false) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\'' || c == '`' ||
        c == '\\' || c == '&' || c == '|' || c == '<' || c == '>' ||
        (c == '$' && !dollar_ok)) {
      return false;
    }
  }
  return true;
}

void CheckProfile(const BootProfile& p) {
  Check(!p.name.empty() && p.name.size() <= 64);
  Check(p.append.size() <= 2000 && Inert(p.append));
  Check(p.append.find('#') == std::string::npos);
  Check(p.source.size() <= 1024 && Inert(p.source));
  Check(p.source.find(';') == std::string::npos);
  Check(p.source.find(' ') == std::string::npos);
  Check(p.source.empty() || absl::StartsWith(p.source, "/repo/") ||
        absl::StrContains(p.source, "://"));
  Check(p.disk.empty() || CheckDiskPath(p.disk).ok());
  Check(p.partitioning == "plain" || p.partitioning == "lvm");
  for (const std::string* word : {&p.timezone, &p.locale, &p.keyboard}) {
    Check(!word->empty() && word->size() <= 64 && Inert(*word));
    Check(word->find(' ') == std::string::npos);
    Check(word->find(';') == std::string::npos);
  }
  Check(p.keyboard.size() <= 32);
  Check(p.packages.size() <= 1000);
  for (const std::string& package : p.packages) {
    Check(!package.empty() && package.size() <= 128 && Inert(package));
    Check(package.find(' ') == std::string::npos);
    Check(package.find(';') == std::string::npos);
    Check(package[0] != '@' || p.family == InstallFamily::kRhelKickstart);
  }
  Check(p.root_password_hash.size() <= 256 &&
        Inert(p.root_password_hash, /*dollar_ok=*/true));
  Check(p.root_password_hash.empty() || p.root_password_hash[0] == '$');
  Check(p.root_password_hash.find(' ') == std::string::npos);
  Check(p.root_password_hash.find(';') == std::string::npos);
  Check(p.ssh_keys.size() <= 64);
  for (const std::string& key : p.ssh_keys) {
    Check(key.size() <= 2048 && Inert(key));
    Check(key.find(';') == std::string::npos);
  }
  Check(p.template_file.size() <= 4096 + 4096);  // plus site.toml's dir
}

void FuzzOne(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SiteConfig> site = ParseSiteConfig(text, "dir/site.toml");
  if (!site.ok()) {
    Check(site.status().code() == absl::StatusCode::kInvalidArgument);
    Check(absl::StartsWith(site.status().message(), "dir/site.toml"));
    return;
  }
  Check(site->dhcp.lease_seconds >= 60 && site->dhcp.lease_seconds <= 31536000);
  Check(site->tftp.max_blksize >= 8 && site->tftp.max_blksize <= 65464);
  Check(site->tftp.max_windowsize >= 1 && site->tftp.max_windowsize <= 65535);
  Check(site->boot.menu_timeout >= 0 && site->boot.menu_timeout <= 255);
  for (const Subnet& s : site->dhcp.subnets) {
    Check(s.prefix_length >= 0 && s.prefix_length <= 32);
    Check((s.network.value() & ~s.netmask().value()) == 0);
    Check(s.Contains(s.network) && s.Contains(s.broadcast()));
    Check(site->SubnetFor(s.network) == &s);
    Check(site->SubnetFor(s.broadcast()) == &s);
    if (s.pool) {
      Check(s.pool->first <= s.pool->last);
      Check(s.Contains(s.pool->first) && s.Contains(s.pool->last));
      Check(s.IsHostAddress(s.pool->first) && s.IsHostAddress(s.pool->last));
      Check(s.pool->size() >= 1);
    }
    if (s.router) Check(s.Contains(*s.router));
  }
  Check(site->install.token_ttl >= InstallConfig::kTokenTtlMin &&
        site->install.token_ttl <= InstallConfig::kTokenTtlMax);
  for (const BootProfile& profile : site->profiles) CheckProfile(profile);
  Check(site->profiles.size() <= 1000);
  for (BootArch arch :
       {BootArch::kBios, BootArch::kUefiIa32, BootArch::kUefiX64,
        BootArch::kArm64, BootArch::kHttp}) {
    (void)site->boot.FileFor(arch);
  }
}

}  // namespace
}  // namespace rackboot::site

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rackboot::site::FuzzOne(data, size);
  return 0;
}
