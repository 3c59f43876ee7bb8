#include "tools/mirror/yum_source.h"

#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tools/mirror/sha256.h"
#include "tools/mirror/test_fetch.h"

namespace rackboot::mirror {
namespace {

constexpr char kBase[] = "http://198.18.0.1/repo";

// A hand-made repository (the real createrepo_c one is in
// yum_source_rpm_test.sh): primary.xml uncompressed, which ReadCompressedFile
// passes through.
class YumSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string top = absl::StrCat(tmp ? tmp : "/tmp", "/yum-XXXXXX");
    ASSERT_NE(mkdtemp(top.data()), nullptr);
    repo_ = top + "/repo";
    staging_ = top + "/staging";
    mkdir(repo_.c_str(), 0755);
    mkdir(staging_.c_str(), 0755);
  }
  void Write(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(repo_, "/", rel);
    for (size_t p = path.find('/', repo_.size() + 1); p != std::string::npos;
         p = path.find('/', p + 1)) {
      mkdir(path.substr(0, p).c_str(), 0755);
    }
    std::ofstream(path) << text;
  }
  // Packages "name:location:content"; returns the primary.xml text written.
  void MakeRepo(const std::vector<std::array<std::string, 3>>& packages,
                const std::string& checksum_type = "sha256",
                const std::string& location_attrs = "") {
    std::string primary = "<metadata packages=\"2\">\n";
    for (const auto& [name, location, content] : packages) {
      Write(location, content);
      absl::StrAppend(&primary, "<package type=\"rpm\"><name>", name,
                      "</name><arch>noarch</arch><checksum type=\"",
                      checksum_type, "\" pkgid=\"YES\">", Sha256Hex(content),
                      "</checksum><size package=\"", content.size(),
                      "\"/><location ", location_attrs, "href=\"", location,
                      "\"/></package>\n");
    }
    primary += "</metadata>\n";
    WriteRepomd(primary, "sha256");
  }
  void WriteRepomd(const std::string& primary, const std::string& type) {
    Write("repodata/0-primary.xml", primary);
    Write("repodata/repomd.xml",
          absl::StrCat("<repomd><revision>7</revision><data type=\"primary\">"
                       "<checksum type=\"",
                       type, "\">", Sha256Hex(primary),
                       "</checksum><location href=\"repodata/0-primary.xml\"/>"
                       "<size>",
                       primary.size(), "</size></data></repomd>"));
  }
  absl::StatusOr<YumSourceResult> Plan(std::vector<std::string> names = {}) {
    YumSourceOptions o;
    o.base_url = kBase;
    o.packages = std::move(names);
    fetched_.clear();
    return PlanYumSource(o, staging_,
                         MakeDirectoryFetch(kBase, repo_, staging_, &fetched_));
  }
  static std::string Paths(const YumSourceResult& r) {
    std::vector<std::string> out;
    for (const PlannedFile& f : r.plan.files) {
      EXPECT_EQ(f.url, absl::StrCat(kBase, "/", f.path));
      EXPECT_TRUE(IsSha256Hex(f.sha256)) << f.path;
      // .treeinfo gives no sizes for its images.
      if (f.path.rfind("images/", 0) != 0) {
        EXPECT_GE(f.size, 0) << f.path;
      }
      out.push_back(f.path);
    }
    return absl::StrJoin(out, ",");
  }
  std::string repo_, staging_;
  std::vector<std::string> fetched_;
};

TEST_F(YumSourceTest, PlansMetadataAndEveryPackage) {
  MakeRepo({{{"a", "Packages/a.rpm", "AAA"}}, {{"b", "Packages/b.rpm", "BB"}}});
  auto r = Plan();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Paths(*r),
            "repodata/repomd.xml,repodata/0-primary.xml,Packages/a.rpm,"
            "Packages/b.rpm");
  EXPECT_EQ(r->packages_selected, 2);
  EXPECT_EQ(r->media.kind, "yum");
  EXPECT_EQ(r->media.evidence[0],
            "repodata/repomd.xml: revision 7, 1 metadata files, 2 packages");
  EXPECT_EQ(r->warnings[0],
            "repomd.xml not signature-checked (give --keyring=FILE to verify "
            "repodata/repomd.xml.asc)");
  EXPECT_EQ(absl::StrJoin(fetched_, ","),
            "repodata/repomd.xml,repodata/0-primary.xml,.treeinfo")
      << "rpms are planned, not fetched";
}

TEST_F(YumSourceTest, FiltersByNameAndNamesTheMissing) {
  MakeRepo({{{"a", "a.rpm", "AAA"}}, {{"b", "b.rpm", "BB"}}});
  auto r = Plan({"b"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Paths(*r), "repodata/repomd.xml,repodata/0-primary.xml,b.rpm");
  auto missing = Plan({"b", "zzz"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("\"zzz\""), std::string::npos)
      << missing.status();
}

TEST_F(YumSourceTest, NoRepomdIsNotFound) {
  auto r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(YumSourceTest, RefusesTraversalInLocation) {
  MakeRepo({{{"evil", "../../etc/passwd", "x"}}});
  auto r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsafe path \"../../etc/passwd\""),
            std::string::npos)
      << r.status();
}

TEST_F(YumSourceTest, RefusesXmlBase) {
  MakeRepo({{{"a", "a.rpm", "x"}}}, "sha256",
           "xml:base=\"http://elsewhere.example/\" ");
  auto r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("xml:base"), std::string::npos)
      << r.status();
}

TEST_F(YumSourceTest, RefusesSha1) {
  MakeRepo({{{"a", "a.rpm", "x"}}}, "sha1");
  auto r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "primary.xml uses \"sha1\"; rackboot mirror verifies sha256");
  WriteRepomd("<metadata/>", "sha1");
  r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "repomd.xml uses \"sha1\"; rackboot mirror verifies sha256");
}

TEST_F(YumSourceTest, TamperedPrimaryFailsItsChecksum) {
  MakeRepo({{{"a", "a.rpm", "x"}}});
  Write("repodata/0-primary.xml", "<metadata></metadata>");
  auto r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

TEST_F(YumSourceTest, KeyringWithoutSignatureIsRefused) {
  MakeRepo({{{"a", "a.rpm", "x"}}});
  YumSourceOptions o;
  o.base_url = kBase;
  o.keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
  auto r = PlanYumSource(o, staging_,
                         MakeDirectoryFetch(kBase, repo_, staging_, nullptr));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(YumSourceTest, TreeinfoImagesAndMedia) {
  MakeRepo({{{"a", "a.rpm", "x"}}});
  Write("images/pxeboot/vmlinuz", "kernel");
  Write("images/pxeboot/initrd.img", "initrd");
  Write(".treeinfo",
        absl::StrCat(
            "[release]\nname = Rocky Linux\nversion = 9.3\n[tree]\n"
            "arch = x86_64\n[images-x86_64]\nkernel = "
            "images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n"
            "[checksums]\nimages/pxeboot/vmlinuz = sha256:",
            Sha256Hex("kernel"), "\nimages/pxeboot/initrd.img = sha256:",
            Sha256Hex("initrd"), "\n"));
  auto r = Plan();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Paths(*r),
            "repodata/repomd.xml,repodata/0-primary.xml,a.rpm,.treeinfo,"
            "images/pxeboot/initrd.img,images/pxeboot/vmlinuz");
  EXPECT_EQ(r->media.kind, "yum");
  EXPECT_EQ(r->media.family, "rhel-kickstart");
  EXPECT_EQ(r->media.distro, "Rocky Linux");
  EXPECT_EQ(r->media.kernel, "images/pxeboot/vmlinuz");
  EXPECT_EQ(r->media.evidence.size(), 2u);
}

TEST_F(YumSourceTest, RefusedTreeinfoIsAWarningNotAFailure) {
  MakeRepo({{{"a", "a.rpm", "x"}}});
  Write(".treeinfo", "[release]\nname = X\nversion = 1\n");
  chmod((repo_ + "/.treeinfo").c_str(), 0);
  auto r = Plan();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->media.family, "");
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[1].find(".treeinfo at http://198.18.0.1/repo refused"),
            std::string::npos)
      << r->warnings[1];
}

TEST_F(YumSourceTest, EntityBombInPrimaryIsRefused) {
  WriteRepomd(
      "<!DOCTYPE m [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>"
      "<metadata><package><name>&b;</name></package></metadata>",
      "sha256");
  auto r = Plan();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("DOCTYPE"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace rackboot::mirror
