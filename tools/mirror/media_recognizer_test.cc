#include "tools/mirror/media_recognizer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace rackboot::mirror {
namespace {

// A Rocky Linux 9 DVD's .treeinfo as productmd writes it (checksums shortened
// to two real-looking ones).
constexpr char kRocky9Treeinfo[] = R"([checksums]
images/boot.iso = sha256:1111111111111111111111111111111111111111111111111111111111111111
images/efiboot.img = sha256:2222222222222222222222222222222222222222222222222222222222222222
images/install.img = sha256:3333333333333333333333333333333333333333333333333333333333333333
images/pxeboot/initrd.img = sha256:4444444444444444444444444444444444444444444444444444444444444444
images/pxeboot/vmlinuz = sha256:5555555555555555555555555555555555555555555555555555555555555555

[general]
; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.
; WARNING.1 = Read productmd documentation for details about new format.
arch = x86_64
family = Rocky Linux
name = Rocky Linux 9.3
packagedir = AppStream/Packages
platforms = x86_64,xen
repository = AppStream
timestamp = 1699917925
variant = AppStream
variants = AppStream,BaseOS
version = 9.3

[header]
type = productmd.treeinfo
version = 1.2

[images-x86_64]
boot.iso = images/boot.iso
efiboot.img = images/efiboot.img
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[images-xen]
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[release]
name = Rocky Linux
short = Rocky
type = ga
version = 9.3

[stage2]
mainimage = images/install.img

[tree]
arch = x86_64
build_timestamp = 1699917925
platforms = x86_64,xen
variants = AppStream,BaseOS

[variant-AppStream]
id = AppStream
name = AppStream
packages = AppStream/Packages
repository = AppStream
type = variant
uid = AppStream

[variant-BaseOS]
id = BaseOS
name = BaseOS
packages = BaseOS/Packages
repository = BaseOS
type = variant
uid = BaseOS
)";

class TreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(tmp ? tmp : "/tmp", "/tree-XXXXXX");
    ASSERT_NE(mkdtemp(root_.data()), nullptr);
  }
  void Write(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(root_, "/", rel);
    for (size_t p = path.find('/', root_.size() + 1); p != std::string::npos;
         p = path.find('/', p + 1)) {
      mkdir(path.substr(0, p).c_str(), 0755);
    }
    std::ofstream(path) << text;
  }
  std::string root_;
};

TEST(ParseTreeinfo, Rocky9) {
  auto m = ParseTreeinfo(kRocky9Treeinfo, "");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->kind, "treeinfo");
  EXPECT_EQ(m->family, "rhel-kickstart");
  EXPECT_EQ(m->distro, "Rocky Linux");
  EXPECT_EQ(m->release, "9.3");
  EXPECT_EQ(m->arch, "x86_64");
  EXPECT_EQ(m->kernel, "images/pxeboot/vmlinuz");
  EXPECT_EQ(m->initrd, "images/pxeboot/initrd.img");
  ASSERT_EQ(m->evidence.size(), 1u);
  EXPECT_EQ(m->evidence[0],
            ".treeinfo: Rocky Linux 9.3 x86_64, kernel images/pxeboot/vmlinuz, "
            "initrd images/pxeboot/initrd.img");
}

TEST(ParseTreeinfo, ImagesWithChecksumsAndStage2) {
  auto images = ParseTreeinfoImages(kRocky9Treeinfo, "");
  ASSERT_TRUE(images.ok()) << images.status();
  std::vector<std::string> lines;
  for (const PlannedFile& f : *images) {
    lines.push_back(absl::StrCat(f.path, " ", f.sha256.substr(0, 1)));
  }
  EXPECT_EQ(absl::StrJoin(lines, ","),
            "images/boot.iso 1,images/efiboot.img 2,images/install.img 3,"
            "images/pxeboot/initrd.img 4,images/pxeboot/vmlinuz 5");
}

TEST(ParseTreeinfo, OldStyleGeneralOnlyAndHostileValues) {
  auto m = ParseTreeinfo(
      "[general]\nfamily = CentOS\nversion = 7\narch = x86_64\n"
      "[images-x86_64]\nkernel = images/pxeboot/vmlinuz\n",
      "");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->distro, "CentOS");
  EXPECT_EQ(m->release, "7");
  EXPECT_FALSE(ParseTreeinfo("[header]\nversion = 1.2\n", "").ok())
      << "no product";
  EXPECT_FALSE(ParseTreeinfo("", "").ok());
  auto evil = ParseTreeinfo(
      "[release]\nname = X\nversion = 1\n[tree]\narch = x86_64\n"
      "[images-x86_64]\nkernel = ../../../etc/passwd\n",
      "");
  EXPECT_FALSE(evil.ok());
  EXPECT_FALSE(
      ParseTreeinfoImages("[tree]\narch=a\n[images-a]\nk = /etc/shadow\n", "")
          .ok());
  EXPECT_FALSE(
      ParseTreeinfoImages(
          "[tree]\narch=a\n[images-a]\nk = x\n[checksums]\nx = sha256:zz\n", "")
          .ok());
}

TEST(ParseDiskInfo, DebianAndUbuntu) {
  auto d = ParseDiskInfo(
      "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 NETINST with "
      "firmware 20240210-11:27");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->distro, "Debian");
  EXPECT_EQ(d->family, "debian-preseed");
  EXPECT_EQ(d->release, "12.5.0");
  EXPECT_EQ(d->arch, "amd64");
  auto u = ParseDiskInfo(
      "Ubuntu-Server 24.04 LTS \"Noble Numbat\" - Release amd64 (20240423)");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->distro, "Ubuntu");
  EXPECT_EQ(u->family, "ubuntu-autoinstall");
  EXPECT_EQ(u->release, "24.04");
  EXPECT_EQ(u->arch, "amd64");
  auto testing = ParseDiskInfo(
      "Debian GNU/Linux testing \"Trixie\" - Official Snapshot amd64 NETINST "
      "with firmware 20240610-05:04");
  ASSERT_TRUE(testing.ok()) << testing.status();
  EXPECT_EQ(testing->release, "trixie");
  EXPECT_EQ(testing->arch, "amd64");
  auto arm = ParseDiskInfo(
      "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official arm64 DVD Binary-1 "
      "20240210-11:28");
  ASSERT_TRUE(arm.ok()) << arm.status();
  EXPECT_EQ(arm->arch, "arm64");
  EXPECT_FALSE(ParseDiskInfo("Windows 11").ok());
  EXPECT_FALSE(ParseDiskInfo("").ok());
  EXPECT_FALSE(ParseDiskInfo("Debian without a version").ok());
  auto esc = ParseDiskInfo("Debian 12\x1b[31m\n second line");
  ASSERT_TRUE(esc.ok());
  EXPECT_EQ(esc->evidence[0].find('\x1b'), std::string::npos)
      << "evidence is escaped";
}

TEST_F(TreeTest, DebianNetinst) {
  Write(".disk/info",
        "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 NETINST with "
        "firmware 20240210-11:27");
  Write("install.amd/vmlinuz", "kernel");
  Write("install.amd/initrd.gz", "initrd");
  Write("dists/bookworm/Release", "Origin: Debian\nCodename: bookworm\n");
  auto m = RecognizeMedia(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->family, "debian-preseed");
  EXPECT_EQ(m->distro, "Debian");
  EXPECT_EQ(m->release, "12.5.0");
  EXPECT_EQ(m->arch, "amd64");
  EXPECT_EQ(m->kernel, "install.amd/vmlinuz");
  EXPECT_EQ(m->initrd, "install.amd/initrd.gz");
  ASSERT_EQ(m->evidence.size(), 2u);
  EXPECT_EQ(m->evidence[0].rfind(".disk/info: Debian GNU/Linux 12.5.0", 0), 0u);
}

TEST_F(TreeTest, UbuntuLiveServer) {
  Write(".disk/info",
        "Ubuntu-Server 24.04 LTS \"Noble Numbat\" - Release amd64 (20240423)");
  Write("casper/vmlinuz", "kernel");
  Write("casper/initrd", "initrd");
  auto m = RecognizeMedia(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->family, "ubuntu-autoinstall");
  EXPECT_EQ(m->release, "24.04");
  EXPECT_EQ(m->kernel, "casper/vmlinuz");
  EXPECT_EQ(m->initrd, "casper/initrd");
}

TEST_F(TreeTest, RockyTree) {
  Write(".treeinfo", kRocky9Treeinfo);
  Write("images/pxeboot/vmlinuz", "k");
  Write("images/pxeboot/initrd.img", "i");
  Write("BaseOS/repodata/repomd.xml", "<repomd/>");
  auto m = RecognizeMedia(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->family, "rhel-kickstart");
  EXPECT_EQ(m->distro, "Rocky Linux");
  EXPECT_EQ(m->kernel, "images/pxeboot/vmlinuz");
}

TEST_F(TreeTest, TreeinfoNamingAMissingKernelSaysSo) {
  Write(".treeinfo", kRocky9Treeinfo);
  auto m = RecognizeMedia(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->kernel, "");
  EXPECT_EQ(m->evidence.back(),
            "images/pxeboot/initrd.img: named by .treeinfo, not in the tree");
}

TEST_F(TreeTest, AptTreeOnDisk) {
  Write("dists/bookworm/Release",
        "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 12.5\n"
        "Codename: bookworm\nArchitectures: all amd64\nComponents: main\n"
        "SHA256:\n abc 12 main/binary-amd64/Packages\n");
  Write(
      "dists/bookworm/main/installer-amd64/current/images/netboot/"
      "debian-installer/amd64/linux",
      "k");
  Write(
      "dists/bookworm/main/installer-amd64/current/images/netboot/"
      "debian-installer/amd64/initrd.gz",
      "i");
  ASSERT_EQ(symlink("bookworm", (root_ + "/dists/stable").c_str()), 0);
  auto m = RecognizeMedia(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->kind, "apt");
  EXPECT_EQ(m->family, "debian-preseed");
  EXPECT_EQ(m->release, "12.5");
  EXPECT_EQ(m->arch, "amd64");
  EXPECT_EQ(m->kernel,
            "dists/bookworm/main/installer-amd64/current/images/netboot/"
            "debian-installer/amd64/linux");
}

TEST_F(TreeTest, YumRepoOnly) {
  Write("repodata/repomd.xml",
        "<repomd><revision>42</revision><data type=\"primary\"><location "
        "href=\"repodata/p.xml.gz\"/></data></repomd>");
  auto m = RecognizeMedia(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->kind, "yum");
  EXPECT_EQ(m->family, "");
  EXPECT_EQ(m->evidence[0],
            "repodata/repomd.xml: revision 42, 1 metadata files");
}

TEST_F(TreeTest, EmptyTreeIsTheExactError) {
  auto m = RecognizeMedia(root_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.status().message(),
            absl::StrCat("unrecognised media at ", root_,
                         ": found nothing; expected .treeinfo (RHEL-like), "
                         ".disk/info (Debian/Ubuntu media), dists/*/Release "
                         "(apt) or repodata/repomd.xml (yum)"));
}

TEST_F(TreeTest, UnknownTreeListsWhatItFound) {
  for (int i = 0; i < 12; ++i) Write(absl::StrCat("f", 10 + i), "x");
  Write("weird\nname", "x");
  auto m = RecognizeMedia(root_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            absl::StrCat("unrecognised media at ", root_,
                         ": found f10, f11, f12, f13, f14, f15, f16, f17, f18, "
                         "f19; expected .treeinfo (RHEL-like), .disk/info "
                         "(Debian/Ubuntu media), dists/*/Release (apt) or "
                         "repodata/repomd.xml (yum)"));
}

TEST_F(TreeTest, SymlinkedMetadataIsNotFollowed) {
  Write("elsewhere", kRocky9Treeinfo);
  ASSERT_EQ(
      symlink((root_ + "/elsewhere").c_str(), (root_ + "/.treeinfo").c_str()),
      0);
  auto m = RecognizeMedia(root_);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("found .treeinfo, elsewhere"),
            std::string::npos)
      << m.status();
}

}  // namespace
}  // namespace rackboot::mirror
