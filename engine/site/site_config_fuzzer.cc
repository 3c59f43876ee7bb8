// Fuzz target for the site.toml parser: any input either fails with an
// InvalidArgument status naming the file, or parses into a SiteConfig whose
// invariants hold (subnets disjoint and canonical, pools inside their subnet,
// values in range). A violated invariant traps so libFuzzer (or the seed
// replay test) reports it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "engine/site/site_config.h"

namespace rackboot::site {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
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
