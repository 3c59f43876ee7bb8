#include "engine/install/install_templates.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::install {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

constexpr char kSite[] = R"(
[server]
interface = "br0"
address = "198.18.0.1"
[http]
listen = "198.18.0.1:8080"
[[dhcp.subnet]]
cidr = "198.18.0.0/24"
router = "198.18.0.254"
dns = ["198.18.0.53"]
[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "boot/initrd.img"
append = "console=ttyS0 host={{hostname}}"
[[profile]]
name = "deb"
family = "debian-preseed"
kernel = "debian/linux"
initrd = "debian/initrd.gz"
TEMPLATE_FILE
[[profile]]
name = "ubu"
family = "ubuntu-autoinstall"
kernel = "ubuntu/vmlinuz"
initrd = "ubuntu/initrd"
)";

class InstallTemplatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/install_templates_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    host_.mac = *site::ParseMac("52:54:00:c6:12:01");
    host_.hostname = "web01";
    host_.address = *site::Ipv4Address::Parse("198.18.0.10");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Parses kSite; `template_file` (when given) becomes deb's template_file,
  // written beside site.toml.
  void LoadSite(absl::string_view template_text = "",
                absl::string_view menu_timeout = "") {
    std::string text = kSite;
    std::string file_line;
    if (!template_text.empty()) {
      std::ofstream(dir_ + "/preseed.mustache") << template_text;
      file_line = "template_file = \"preseed.mustache\"";
    }
    text = absl::StrReplaceAll(text, {{"TEMPLATE_FILE", file_line}});
    if (!menu_timeout.empty()) {
      text = absl::StrCat("[boot]\nmenu_timeout = ", menu_timeout, "\n", text);
    }
    std::ofstream(dir_ + "/site.toml") << text;
    auto site = site::LoadSiteConfig(dir_ + "/site.toml");
    ASSERT_TRUE(site.ok()) << site.status();
    site_ = *site;
  }

  HostRenderInput Input(absl::string_view profile, bool armed) {
    HostRenderInput in;
    in.site = &site_;
    in.host = &host_;
    in.profile = site::FindProfile(site_, profile);
    in.armed = armed;
    in.token = armed ? kToken : "";
    in.http_base = "http://198.18.0.1:8080";
    return in;
  }

  std::shared_ptr<const InstallTemplates> Templates() {
    auto t = InstallTemplates::Load(site_);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : nullptr;
  }

  std::string dir_;
  site::SiteConfig site_;
  site::InventoryHost host_;
};

TEST_F(InstallTemplatesTest, MenusOfAHostNotArmedBootTheLocalDisk) {
  LoadSite();
  auto t = Templates();
  ASSERT_NE(t, nullptr);
  const HostRenderInput in = Input("deb", false);
  EXPECT_EQ(*t->PxelinuxConfig(in),
            "# Rackboot boot menu for web01 (52:54:00:c6:12:01): not armed, "
            "boots the local disk\n"
            "DEFAULT local\n"
            "PROMPT 1\n"
            "TIMEOUT 30\n"
            "SAY Rackboot: web01. Type an entry name, or wait 3 s for local:\n"
            "SAY   local    boot the local disk\n"
            "SAY   rescue   rescue system of deb\n"
            "LABEL local\n"
            "  LOCALBOOT 0\n"
            "LABEL rescue\n"
            "  KERNEL debian/linux\n"
            "  INITRD debian/initrd.gz\n"
            "  APPEND rescue/enable=true\n");
  const std::string grub = *t->GrubConfig(in);
  EXPECT_THAT(grub, HasSubstr("set default=local\nset timeout=3\n"));
  EXPECT_THAT(grub, Not(HasSubstr("--id install")));
  EXPECT_THAT(grub, HasSubstr("--id local {\n"));
  EXPECT_THAT(grub, HasSubstr("--id rescue {\n  linux /debian/linux "
                              "rescue/enable=true\n  initrd "
                              "/debian/initrd.gz\n}\n"));
  const std::string ipxe = *t->IpxeScript(in);
  EXPECT_THAT(ipxe, HasSubstr("choose --timeout 3000 --default local target "
                              "&& goto ${target} || goto local\n"));
  EXPECT_THAT(ipxe, Not(HasSubstr(":install")));
  EXPECT_THAT(ipxe, HasSubstr(":local\n"));
  EXPECT_THAT(ipxe, HasSubstr("exit 1\n"));
  EXPECT_THAT(ipxe, HasSubstr(":rescue\n"));
  for (const std::string& out : {*t->PxelinuxConfig(in), grub, ipxe}) {
    EXPECT_THAT(out, Not(HasSubstr("install/"))) << out;
    EXPECT_THAT(out, Not(HasSubstr("auto=true"))) << out;
  }
}

TEST_F(InstallTemplatesTest, ArmedMenusDefaultToInstallOnEveryFirmware) {
  LoadSite();
  auto t = Templates();
  ASSERT_NE(t, nullptr);
  const HostRenderInput in = Input("ubu", true);
  const std::string url =
      absl::StrCat("http://198.18.0.1:8080/install/", kToken, "/");
  const std::string pxe = *t->PxelinuxConfig(in);
  EXPECT_THAT(pxe, HasSubstr("DEFAULT install\n"));
  EXPECT_THAT(pxe, HasSubstr(absl::StrCat(
                       "LABEL install\n  KERNEL ubuntu/vmlinuz\n  INITRD "
                       "ubuntu/initrd\n  APPEND autoinstall ds=nocloud-net;s=",
                       url,
                       " ip=198.18.0.10::198.18.0.254:255.255.255.0:"
                       "web01::none nameserver=198.18.0.53\n")));
  EXPECT_THAT(pxe, Not(HasSubstr("rescue")));  // subiquity has none
  const std::string grub = *t->GrubConfig(in);
  EXPECT_THAT(grub, HasSubstr("set default=install\n"));
  EXPECT_THAT(grub,
              HasSubstr(absl::StrCat("  linux /ubuntu/vmlinuz autoinstall "
                                     "'ds=nocloud-net;s=",
                                     url, "' ip=")));
  const std::string ipxe = *t->IpxeScript(in);
  EXPECT_THAT(ipxe, HasSubstr(absl::StrCat(
                        ":install\nkernel "
                        "http://198.18.0.1:8080/boot/ubuntu/vmlinuz "
                        "initrd=initrd autoinstall ds=nocloud-net;s=",
                        url)));
  EXPECT_THAT(ipxe,
              HasSubstr("initrd http://198.18.0.1:8080/boot/ubuntu/initrd\n"
                        "boot\n:local\n"));
}

TEST_F(InstallTemplatesTest, MenuTimeoutZeroBootsTheDefaultAtOnce) {
  LoadSite("", "0");
  auto t = Templates();
  ASSERT_NE(t, nullptr);
  const HostRenderInput in = Input("lab", true);
  EXPECT_EQ(*t->PxelinuxConfig(in),
            "# Rackboot boot menu for web01 (52:54:00:c6:12:01): armed, "
            "installs lab\n"
            "DEFAULT install\n"
            "PROMPT 0\n"
            "LABEL install\n"
            "  KERNEL vmlinuz\n"
            "  INITRD boot/initrd.img\n"
            "  APPEND console=ttyS0 host=web01\n"
            "LABEL local\n"
            "  LOCALBOOT 0\n");
  EXPECT_THAT(*t->GrubConfig(in), HasSubstr("set timeout=0\n"));
  const std::string ipxe = *t->IpxeScript(in);
  EXPECT_THAT(ipxe, Not(HasSubstr("choose")));
  EXPECT_THAT(ipxe, HasSubstr("goto install\n"));
}

TEST_F(InstallTemplatesTest, InstallFileIsNotFoundUnlessArmedWithAFamily) {
  LoadSite("d-i netcfg/get_hostname string {{hostname}}\n");
  auto t = Templates();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t->InstallFile(Input("deb", true), "preseed.cfg"),
            "d-i netcfg/get_hostname string web01\n");
  EXPECT_EQ(t->InstallFile(Input("deb", false), "preseed.cfg").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(t->InstallFile(Input("deb", true), "ks.cfg").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(t->InstallFile(Input("deb", true), "../site.toml").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(t->InstallFile(Input("lab", true), "preseed.cfg").status().code(),
            absl::StatusCode::kNotFound);
  HostRenderInput no_token = Input("deb", true);
  no_token.token = "";
  EXPECT_EQ(t->InstallFile(no_token, "preseed.cfg").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(InstallTemplatesTest, RenderHostFilesNamesEveryFile) {
  LoadSite("d-i passwd/root-login boolean false\n");
  auto t = Templates();
  ASSERT_NE(t, nullptr);
  auto files = RenderHostFiles(*t, Input("deb", true));
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 4u);
  EXPECT_EQ((*files)[0].path, "pxelinux.cfg/01-52-54-00-c6-12-01");
  EXPECT_EQ((*files)[1].path, "grub/grub.cfg-01-52-54-00-c6-12-01");
  EXPECT_EQ((*files)[2].path, "ipxe/01-52-54-00-c6-12-01.ipxe");
  EXPECT_EQ((*files)[3].path, absl::StrCat("install/", kToken, "/preseed.cfg"));
  EXPECT_FALSE((*files)[0].secret);
  EXPECT_TRUE((*files)[3].secret);
  EXPECT_EQ((*files)[0].bytes, *t->PxelinuxConfig(Input("deb", true)));
  files = RenderHostFiles(*t, Input("deb", false));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->size(), 3u);
  HostRenderInput bad = Input("deb", true);
  bad.token = "../../etc/passwd-0123456789abcd";
  EXPECT_FALSE(RenderHostFiles(*t, bad).ok());
}

TEST_F(InstallTemplatesTest, TemplateFileErrorsNameSiteLineAndTemplateLine) {
  LoadSite("line one\n{{#armed}}\n{{hostnme}}\n{{/armed}}\n");
  auto t = InstallTemplates::Load(site_);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(),
              HasSubstr("preseed.mustache:3: {{hostnme}}: no such value"));
  LoadSite("ok\n{{#armed}}\n");
  t = InstallTemplates::Load(site_);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(),
              HasSubstr("site.toml:21: profile[1].template_file: "));
  EXPECT_THAT(t.status().message(),
              HasSubstr("preseed.mustache:2: {{#armed}} is never closed"));
  LoadSite("{{>other}}\n");
  EXPECT_THAT(InstallTemplates::Load(site_).status().message(),
              HasSubstr("preseed.mustache:1: partials"));
  LoadSite("x\n");
  std::filesystem::remove(dir_ + "/preseed.mustache");
  EXPECT_THAT(InstallTemplates::Load(site_).status().message(),
              HasSubstr("profile[1].template_file: "));
}

TEST_F(InstallTemplatesTest, AppendWithAnUnknownKeyIsALoadError) {
  LoadSite();
  site_.profiles[0].append = "console=ttyS0 host={{hostnam}}";
  auto t = InstallTemplates::Load(site_);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(),
              HasSubstr("profile lab append:1: {{hostnam}}: no such value"));
}

TEST_F(InstallTemplatesTest, FileNames) {
  EXPECT_EQ(InstallFileNames(site::InstallFamily::kNone).size(), 0u);
  EXPECT_EQ(InstallFileNames(site::InstallFamily::kDebianPreseed),
            std::vector<std::string>{"preseed.cfg"});
  EXPECT_EQ(InstallFileNames(site::InstallFamily::kRhelKickstart),
            std::vector<std::string>{"ks.cfg"});
  EXPECT_EQ(InstallFileNames(site::InstallFamily::kUbuntuAutoinstall),
            (std::vector<std::string>{"user-data", "meta-data"}));
  EXPECT_FALSE(BuiltinTemplate("pxelinux.cfg").empty());
  EXPECT_EQ(BuiltinTemplate("pxelinux.cfg"),
            BuiltinTemplate("pxelinux.cfg.mustache"));
  EXPECT_TRUE(BuiltinTemplate("nope").empty());
}

}  // namespace
}  // namespace rackboot::install
