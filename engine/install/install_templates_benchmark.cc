// How long one per-host render takes (the daemon renders each pxelinux/GRUB/
// iPXE request and each install file live): HostValues + the kainjow render.
#include <benchmark/benchmark.h>

#include <string>

#include "engine/install/install_templates.h"

namespace rackboot::install {
namespace {

struct Fixture {
  Fixture() {
    site.path = "site.toml";
    site.server.address = *site::Ipv4Address::Parse("198.18.0.1");
    site::Subnet subnet;
    subnet.network = *site::Ipv4Address::Parse("198.18.0.0");
    subnet.prefix_length = 24;
    subnet.router = *site::Ipv4Address::Parse("198.18.0.254");
    subnet.dns = {*site::Ipv4Address::Parse("198.18.0.53")};
    site.dhcp.subnets.push_back(subnet);
    site::BootProfile profile;
    profile.name = "deb";
    profile.family = site::InstallFamily::kDebianPreseed;
    profile.kernel = "debian/linux";
    profile.initrd = "debian/initrd.gz";
    profile.append = "console=ttyS0 host={{hostname}}";
    profile.packages = {"openssh-server", "vim", "curl"};
    site.profiles.push_back(profile);
    host.mac = *site::ParseMac("52:54:00:c6:12:01");
    host.hostname = "web01";
    host.address = *site::Ipv4Address::Parse("198.18.0.10");
    templates = *InstallTemplates::Load(site);
    input.site = &site;
    input.host = &host;
    input.profile = &site.profiles[0];
    input.armed = true;
    input.token = std::string(32, 'a');
    input.http_base = "http://198.18.0.1:8080";
  }
  site::SiteConfig site;
  site::InventoryHost host;
  std::shared_ptr<const InstallTemplates> templates;
  HostRenderInput input;
};

void BM_PxelinuxMenu(benchmark::State& state) {
  static Fixture* f = new Fixture;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f->templates->PxelinuxConfig(f->input));
  }
}
BENCHMARK(BM_PxelinuxMenu);

void BM_IpxeMenu(benchmark::State& state) {
  static Fixture* f = new Fixture;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f->templates->IpxeScript(f->input));
  }
}
BENCHMARK(BM_IpxeMenu);

void BM_Preseed(benchmark::State& state) {
  static Fixture* f = new Fixture;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        f->templates->InstallFile(f->input, "preseed.cfg"));
  }
}
BENCHMARK(BM_Preseed);

}  // namespace
}  // namespace rackboot::install
