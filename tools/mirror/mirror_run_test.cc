#include "tools/mirror/mirror_run.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace rackboot::mirror {
namespace {

// The --json object's keys are a contract (docs/mirror.md; tests parse it with
// jq).
TEST(MirrorRunTest, JsonHasExactlyTheContractKeys) {
  MirrorSummary s;
  s.ok = true;
  s.to = "/srv/repo/debian12";
  s.kind = "apt";
  s.media.family = "debian-preseed";
  s.media.evidence = {"InRelease: Origin Debian"};
  nlohmann::json j = SummaryJson(s);
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{
                      "ok", "published", "up_to_date", "to", "source", "kind",
                      "media", "files", "fetched", "reused", "bytes_fetched",
                      "retries", "kept", "pruned", "seconds", "warnings"}));
  std::set<std::string> media;
  for (auto it = j["media"].begin(); it != j["media"].end(); ++it) {
    media.insert(it.key());
  }
  EXPECT_EQ(media,
            (std::set<std::string>{"kind", "family", "distro", "release",
                                   "arch", "kernel", "initrd", "evidence"}));
  EXPECT_TRUE(j["media"]["evidence"].is_array());
  s.ok = false;
  s.error = "boom";
  EXPECT_EQ(SummaryJson(s)["error"], "boom");
}

TEST(MirrorRunTest, ProfileStubAsDocumented) {
  MirrorSummary s;
  s.name = "debian12";
  s.media.family = "debian-preseed";
  s.media.kernel =
      "dists/bookworm/main/installer-amd64/current/images/"
      "netboot/debian-installer/amd64/linux";
  s.media.initrd =
      "dists/bookworm/main/installer-amd64/current/images/"
      "netboot/debian-installer/amd64/initrd.gz";
  EXPECT_EQ(ProfileStub(s),
            "[[profile]]\n"
            "name = \"debian12\"\n"
            "family = \"debian-preseed\"\n"
            "kernel = \"debian12/linux\"\n"
            "initrd = \"debian12/initrd.gz\"\n"
            "source = \"/repo/debian12\"\n");
}

// The kernel and initrd names come from the media: a quote or backslash in
// them stays inside the TOML string of the stub.
TEST(MirrorRunTest, ProfileStubEscapesNamesFromTheMedia) {
  MirrorSummary s;
  s.name = "rocky9";
  s.media.family = "rhel-kickstart";
  s.media.kernel = "images/pxeboot/vmlinuz\" root_password_hash = \"x";
  s.media.initrd = "images/pxeboot/initrd\\.img";
  const std::string stub = ProfileStub(s);
  EXPECT_NE(stub.find("kernel = \"rocky9/vmlinuz\\\" root_password_hash = "
                      "\\\"x\"\n"),
            std::string::npos)
      << stub;
  EXPECT_NE(stub.find("initrd = \"rocky9/initrd\\\\.img\"\n"),
            std::string::npos)
      << stub;
}

TEST(MirrorRunTest, SummaryEscapesTheMediasWords) {
  MirrorSummary s;
  s.name = "rocky9";
  s.media.kind = "treeinfo";
  s.media.distro = "Rocky\x1b]0;owned\x07";
  s.media.release = "9";
  const std::string text = SummaryText(s);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(text.find("Rocky\\x1b]0;owned\\x07 9"), std::string::npos) << text;
}

TEST(MirrorRunTest, CommandLineChecksSayTheFix) {
  MirrorOptions o;
  o.from = "http://198.18.0.1/debian";
  o.to = "/srv/repo/debian12";
  o.suite = "bookworm";
  absl::Status s = ValidateMirrorOptions(o);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("--packages"), std::string::npos) << s;
  o.installer = true;
  EXPECT_TRUE(ValidateMirrorOptions(o).ok());
  o.from = "/srv/iso/x.iso";
  EXPECT_NE(ValidateMirrorOptions(o).message().find("--suite applies"),
            std::string::npos);
  o.suite.clear();
  EXPECT_TRUE(ValidateMirrorOptions(o).ok());
  o.from = "http://198.18.0.1/rocky";  // yum: no selection needed
  EXPECT_TRUE(ValidateMirrorOptions(o).ok());
}

TEST(MirrorRunTest, UdebsAreAnAptSelectionNotWithInstaller) {
  MirrorOptions o;
  o.from = "http://198.18.0.1/debian";
  o.to = "/srv/repo/debian12";
  o.suite = "bookworm";
  o.udebs = {"scsi-modules-6.1.0-50-amd64-di"};
  EXPECT_TRUE(ValidateMirrorOptions(o).ok());  // a selection by itself
  o.installer = true;
  absl::Status s = ValidateMirrorOptions(o);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("not both"), std::string::npos) << s;
  o.installer = false;
  o.suite.clear();  // a yum repository
  s = ValidateMirrorOptions(o);
  EXPECT_NE(s.message().find("--udebs applies to an apt repository"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace rackboot::mirror
