#include "tools/mirror/yum_repo.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::mirror {
namespace {

// As createrepo_c 0.20 writes it (trimmed to two entries).
constexpr char kRepomd[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="primary">
    <checksum type="sha256">ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789</checksum>
    <open-checksum type="sha256">1111111111111111111111111111111111111111111111111111111111111111</open-checksum>
    <location href="repodata/abcdef-primary.xml.gz"/>
    <timestamp>1700000000</timestamp>
    <size>1234</size>
    <open-size>9999</open-size>
  </data>
  <data type="filelists">
    <checksum type="sha256">2222222222222222222222222222222222222222222222222222222222222222</checksum>
    <location href="repodata/2222-filelists.xml.gz"/>
    <size>55</size>
  </data>
</repomd>
)";

TEST(ParseRepomd, ReadsEveryDataEntry) {
  auto r = ParseRepomd(kRepomd);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision, "1700000000");
  ASSERT_EQ(r->data.size(), 2u);
  EXPECT_EQ(r->data[0].type, "primary");
  EXPECT_EQ(r->data[0].checksum_type, "sha256");
  EXPECT_EQ(r->data[0].checksum,
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(r->data[0].location, "repodata/abcdef-primary.xml.gz");
  EXPECT_EQ(r->data[0].size, 1234);  // <size>, not <open-size>
  EXPECT_EQ(r->data[1].type, "filelists");
  EXPECT_EQ(r->data[1].size, 55);
}

TEST(ParseRepomd, KeepsOtherChecksumTypesForTheCallerToRefuse) {
  std::string xml = kRepomd;
  xml.replace(xml.find("type=\"sha256\""), 13, "type=\"sha1\"");
  auto r = ParseRepomd(xml);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->data[0].checksum_type, "sha1");
}

TEST(ParseRepomd, RefusesXmlBase) {
  std::string xml = kRepomd;
  xml.replace(xml.find("<location href"), 14,
              "<location xml:base=\"http://evil.example/\" href");
  auto r = ParseRepomd(xml);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("xml:base"), std::string::npos)
      << r.status();
}

TEST(ParseRepomd, RefusesBillionLaughs) {
  std::string xml = R"(<?xml version="1.0"?>
<!DOCTYPE repomd [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<repomd><revision>&lol9;</revision></repomd>
)";
  auto r = ParseRepomd(xml);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("DOCTYPE"), std::string::npos)
      << r.status();
}

TEST(ParseRepomd, RefusesExternalEntities) {
  auto r = ParseRepomd(R"(<?xml version="1.0"?>
<!DOCTYPE repomd SYSTEM "file:///etc/passwd">
<repomd><revision>&xxe;</revision></repomd>)");
  EXPECT_FALSE(r.ok());
  // An undeclared entity without a DOCTYPE is simply malformed.
  EXPECT_FALSE(ParseRepomd("<repomd><revision>&xxe;</revision></repomd>").ok());
}

TEST(ParseRepomd, BoundsTextFieldsDepthAndEntries) {
  std::string long_text =
      absl::StrCat("<repomd><revision>", std::string(kMaxYumTextBytes + 1, 'x'),
                   "</revision></repomd>");
  EXPECT_FALSE(ParseRepomd(long_text).ok());
  std::string deep = "<repomd>";
  for (int i = 0; i < kMaxYumXmlDepth + 5; ++i) deep += "<a>";
  for (int i = 0; i < kMaxYumXmlDepth + 5; ++i) deep += "</a>";
  deep += "</repomd>";
  EXPECT_FALSE(ParseRepomd(deep).ok());
  std::string many = "<repomd>";
  for (int i = 0; i <= kMaxRepomdData; ++i) {
    absl::StrAppend(&many, "<data type=\"x\"><location href=\"r/", i,
                    "\"/></data>");
  }
  many += "</repomd>";
  auto r = ParseRepomd(many);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than"), std::string::npos);
}

TEST(ParseRepomd, RefusesMalformedAndForeignDocuments) {
  EXPECT_FALSE(ParseRepomd("").ok());
  EXPECT_FALSE(ParseRepomd("<repomd>").ok());
  EXPECT_FALSE(ParseRepomd("<html><body>404</body></html>").ok());
  EXPECT_FALSE(
      ParseRepomd("<repomd><data type=\"primary\"></data></repomd>").ok())
      << "a <data> without location";
  EXPECT_FALSE(
      ParseRepomd(
          "<repomd><data type=\"p\"><location href=\"a\"/><size>-5</size>"
          "</data></repomd>")
          .ok());
  EXPECT_FALSE(
      ParseRepomd("<repomd><data type=\"p\"><location href=\"a\"/><size>"
                  "99999999999999999999999</size></data></repomd>")
          .ok());
}

constexpr char kPrimary[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>hello</name>
  <arch>noarch</arch>
  <version epoch="0" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</checksum>
  <summary>hello</summary>
  <description>A description that is not captured &amp; may be long.</description>
  <packager></packager>
  <url></url>
  <time file="1700000000" build="1700000000"/>
  <size package="6100" installed="12" archive="400"/>
  <location href="Packages/h/hello-1.0-1.noarch.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:provides><rpm:entry name="hello" flags="EQ" epoch="0" ver="1.0" rel="1"/></rpm:provides>
  </format>
</package>
<package type="rpm">
  <name>world</name>
  <arch>x86_64</arch>
  <checksum type="sha256" pkgid="YES">bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb</checksum>
  <size package="7" installed="1" archive="1"/>
  <location href="world-2-1.x86_64.rpm"/>
</package>
</metadata>
)";

std::vector<YumPackage> Collect(absl::string_view xml, absl::Status* status,
                                int64_t max = kMaxYumPackages) {
  std::vector<YumPackage> out;
  *status = ParsePrimary(
      xml,
      [&](const YumPackage& p) {
        out.push_back(p);
        return absl::OkStatus();
      },
      max);
  return out;
}

TEST(ParsePrimary, ReadsEveryPackage) {
  absl::Status s;
  auto packages = Collect(kPrimary, &s);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(packages.size(), 2u);
  EXPECT_EQ(packages[0].name, "hello");
  EXPECT_EQ(packages[0].arch, "noarch");
  EXPECT_EQ(packages[0].checksum_type, "sha256");
  EXPECT_EQ(packages[0].checksum, std::string(64, 'a'));
  EXPECT_EQ(packages[0].size, 6100);
  EXPECT_EQ(packages[0].location, "Packages/h/hello-1.0-1.noarch.rpm");
  EXPECT_EQ(packages[1].name, "world");
  EXPECT_EQ(packages[1].location, "world-2-1.x86_64.rpm");
}

TEST(ParsePrimary, LongUncapturedTextIsFine) {
  std::string xml = kPrimary;
  xml.replace(xml.find("A description"), 13, std::string(100000, 'd'));
  absl::Status s;
  EXPECT_EQ(Collect(xml, &s).size(), 2u);
  EXPECT_TRUE(s.ok()) << s;
}

TEST(ParsePrimary, RefusesXmlBaseOnLocation) {
  std::string xml = kPrimary;
  xml.replace(xml.find("<location href"), 14,
              "<location xml:base=\"http://evil.example/pub\" href");
  absl::Status s;
  Collect(xml, &s);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("xml:base"), std::string::npos) << s;
}

TEST(ParsePrimary, HugeCountAttributeIsIgnoredRealCountIsBounded) {
  std::string xml = kPrimary;
  xml.replace(xml.find("packages=\"2\""), 12, "packages=\"99999999999999\"");
  absl::Status s;
  EXPECT_EQ(Collect(xml, &s).size(), 2u);
  EXPECT_TRUE(s.ok()) << s;
  Collect(kPrimary, &s, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("more than 1 packages"), std::string::npos) << s;
}

TEST(ParsePrimary, CallbackErrorStopsTheParse) {
  int calls = 0;
  absl::Status s = ParsePrimary(kPrimary, [&](const YumPackage&) {
    ++calls;
    return absl::InvalidArgumentError("stop here");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.message(), "stop here");
}

TEST(ParsePrimary, RefusesEntitiesAndLongNames) {
  absl::Status s;
  Collect(R"(<!DOCTYPE metadata [<!ENTITY a "b">]><metadata/>)", &s);
  EXPECT_FALSE(s.ok());
  std::string xml = kPrimary;
  xml.replace(xml.find("<name>hello"), 11,
              "<name>" + std::string(kMaxYumTextBytes + 1, 'n'));
  Collect(xml, &s);
  EXPECT_FALSE(s.ok());
  Collect("<metadata><package><size/></package></metadata>", &s);
  EXPECT_FALSE(s.ok()) << "size without package=";
}

}  // namespace
}  // namespace rackboot::mirror
