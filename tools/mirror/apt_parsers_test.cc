// deb822, Release, SHA256SUMS, Packages, dependency fields, dpkg's version
// order and the package selection, on hand-written texts and on a slice of
// Debian's real bookworm InRelease and Packages (tests/data/mirror).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/mirror/apt_packages.h"
#include "tools/mirror/apt_release.h"
#include "tools/mirror/apt_selection.h"
#include "tools/mirror/deb822.h"

namespace rackboot::mirror {
namespace {

const std::string kSha(64, 'a');

TEST(Deb822, FieldsContinuationAndStanzas) {
  auto stanzas = ParseDeb822(
      "Package: a\nDescription: short\n more\n .\n last\n\n\n# comment\n"
      "Package: b\r\nversion: 1\r\n  \nPackage: c\n");
  ASSERT_TRUE(stanzas.ok()) << stanzas.status();
  ASSERT_EQ(stanzas->size(), 3u);
  EXPECT_EQ((*stanzas)[0].Get("package"), "a");
  EXPECT_EQ((*stanzas)[0].Get("Description"), "short\n more\n .\n last");
  EXPECT_EQ(Deb822Lines((*stanzas)[0].Get("Description")).size(), 4u);
  EXPECT_EQ((*stanzas)[1].Get("Version"), "1");
  EXPECT_EQ((*stanzas)[2].Get("Package"), "c");
  EXPECT_EQ((*stanzas)[2].Find("Version"), nullptr);
}

TEST(Deb822, Malformed) {
  EXPECT_FALSE(ParseDeb822(" continuation first\n").ok());
  EXPECT_FALSE(ParseDeb822("no colon here\n").ok());
  EXPECT_FALSE(ParseDeb822("A: 1\na: 2\n").ok());  // repeated, any case
  EXPECT_FALSE(ParseDeb822(": empty name\n").ok());
  EXPECT_FALSE(ParseDeb822("Bad Name: x\n").ok());
}

TEST(Deb822, Bounds) {
  Deb822Limits limits;
  limits.max_field_bytes = 100;
  limits.max_fields_per_stanza = 3;
  limits.max_stanzas = 2;
  EXPECT_EQ(
      ParseDeb822("A: " + std::string(200, 'x') + "\n", limits).status().code(),
      absl::StatusCode::kResourceExhausted);
  std::string continued = "A: x\n";
  for (int i = 0; i < 30; ++i) continued += " continuation line\n";
  EXPECT_EQ(ParseDeb822(continued, limits).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(ParseDeb822("A: 1\nB: 2\nC: 3\nD: 4\n", limits).ok());
  EXPECT_FALSE(ParseDeb822("A: 1\n\nA: 2\n\nA: 3\n", limits).ok());
  EXPECT_TRUE(ParseDeb822("A: 1\n\nA: 2\n", limits).ok());
}

std::string ReleaseText(const std::string& extra = "") {
  return "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 12.5\n"
         "Codename: bookworm\nDate: Sat, 10 Feb 2024 09:37:33 UTC\n"
         "Acquire-By-Hash: yes\nArchitectures: all amd64 arm64\n"
         "Components: main contrib non-free-firmware non-free\n"
         "Valid-Until: Sat, 17 Feb 2024 09:37:33 UTC\n" +
         extra +
         "MD5Sum:\n 0123 12 main/binary-amd64/Packages\n"
         "SHA256:\n " +
         kSha + "  8786 main/binary-amd64/Packages.xz\n " + kSha +
         " 45000000 main/binary-amd64/Packages\n";
}

TEST(AptRelease, Fields) {
  auto release = ParseAptRelease(ReleaseText());
  ASSERT_TRUE(release.ok()) << release.status();
  EXPECT_EQ(release->origin, "Debian");
  EXPECT_EQ(release->suite, "stable");
  EXPECT_EQ(release->codename, "bookworm");
  EXPECT_EQ(release->version, "12.5");
  EXPECT_TRUE(release->acquire_by_hash);
  EXPECT_TRUE(release->HasArchitecture("amd64"));
  EXPECT_FALSE(release->HasArchitecture("i386"));
  EXPECT_TRUE(release->HasComponent("non-free-firmware"));
  ASSERT_TRUE(release->valid_until.has_value());
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M:%S", *release->valid_until,
                             absl::UTCTimeZone()),
            "2024-02-17 09:37:33");
  ASSERT_EQ(release->sha256_files.size(), 2u);
  const ReleaseFileEntry* xz =
      release->FindFile("main/binary-amd64/Packages.xz");
  ASSERT_NE(xz, nullptr);
  EXPECT_EQ(xz->size, 8786);
  EXPECT_EQ(xz->sha256, kSha);
}

TEST(AptRelease, Refused) {
  EXPECT_FALSE(ParseAptRelease("Origin: x\nMD5Sum:\n 0 1 a\n").ok());
  for (const std::string& line :
       {kSha + " 1 ../../etc/passwd", kSha + " 1 /etc/passwd",
        kSha + " 99999999999999999999 a", kSha + " -1 a", kSha + " 1",
        std::string(63, 'a') + " 1 a", kSha + " 1 a/.rackboot-manifest.json",
        kSha + " 5000000000 main/big"}) {
    EXPECT_FALSE(ParseAptRelease("Origin: x\nSHA256:\n " + line + "\n").ok())
        << line;
  }
  EXPECT_FALSE(ParseAptRelease("Origin: x\n\nOrigin: y\n").ok());
}

TEST(Sha256Sums, Parse) {
  auto sums =
      ParseSha256Sums(kSha + "  ./netboot/debian-installer/amd64/linux\n" +
                      kSha + " *./netboot/mini.iso\n\n" + kSha + "  plain\n");
  ASSERT_TRUE(sums.ok()) << sums.status();
  ASSERT_EQ(sums->size(), 3u);
  EXPECT_EQ((*sums)[0].path, "netboot/debian-installer/amd64/linux");
  EXPECT_EQ((*sums)[1].path, "netboot/mini.iso");
  EXPECT_EQ((*sums)[2].path, "plain");
  EXPECT_FALSE(ParseSha256Sums(kSha + "  ./../../etc/passwd\n").ok());
  EXPECT_FALSE(ParseSha256Sums(kSha + "  /etc/passwd\n").ok());
  EXPECT_FALSE(ParseSha256Sums("zz  a\n").ok());
}

TEST(Dependencies, Syntax) {
  auto groups = ParseDependencyField(
      "libc6 (>= 2.34), python3:any | python3-minimal:amd64 (<< 3.12) , "
      "foo [amd64] <!nocheck> <stage1>,");
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 3u);
  EXPECT_EQ((*groups)[0][0].name, "libc6");
  ASSERT_EQ((*groups)[1].size(), 2u);
  EXPECT_EQ((*groups)[1][0].name, "python3");
  EXPECT_EQ((*groups)[1][0].arch_qualifier, "any");
  EXPECT_EQ((*groups)[1][1].name, "python3-minimal");
  EXPECT_EQ((*groups)[2][0].name, "foo");
  EXPECT_TRUE(ParseDependencyField("").value().empty());
  for (const char* bad : {"a (>= 1", "a | | b", "(>= 1)", "a [amd64", "a <x",
                          "a b", "a:", "-a"}) {
    EXPECT_FALSE(ParseDependencyField(bad).ok()) << bad;
  }
  std::string many;
  for (int i = 0; i < 70000; ++i) many += "a|";
  many += "a";
  EXPECT_FALSE(ParseDependencyField(many).ok());
}

// Debian Policy 5.6.12 and dpkg's own test cases.
void ExpectAscending(const std::vector<std::string>& ascending) {
  for (size_t i = 0; i < ascending.size(); ++i) {
    for (size_t j = 0; j < ascending.size(); ++j) {
      int expected = (i > j) - (i < j);
      EXPECT_EQ(CompareDebianVersions(ascending[i], ascending[j]), expected)
          << ascending[i] << " vs " << ascending[j];
    }
  }
}

TEST(DebianVersions, PolicyOrder) {
  // Policy 5.6.12's example of '~' and the end of a part.
  ExpectAscending({"~~", "~~a", "~", "", "a"});
  // Each pair checked with `dpkg --compare-versions A lt B` on Debian 12.
  ExpectAscending({"0.9", "1.0~rc1", "1.0", "1.0-1~bpo1", "1.0-1", "1.0-1+b1",
                   "1.0-2", "1.0a", "1.0+dfsg", "1.0.1", "1.2", "1.10", "7.6-0",
                   "7.6p2-4", "2:0.1", "10:0.1"});
  EXPECT_EQ(CompareDebianVersions("0:1.0", "1.0"), 0);
  EXPECT_EQ(CompareDebianVersions("1.0", "1.0-0"), 0);
  EXPECT_EQ(CompareDebianVersions("1.001", "1.1"), 0);
  EXPECT_GT(CompareDebianVersions("1:1.0", "2.0"), 0);
  EXPECT_GT(CompareDebianVersions("1.0-10", "1.0-9"), 0);
  EXPECT_GT(CompareDebianVersions("99999999999999999999999", "9999999999"), 0);
  EXPECT_GT(CompareDebianVersions("2.36-9+deb12u4", "2.36-9+deb12u3"), 0);
}

std::string Stanza(const std::string& name, const std::string& version,
                   const std::string& extra = "") {
  return "Package: " + name + "\nVersion: " + version +
         "\nArchitecture: amd64\nFilename: pool/main/" + name + "_" + version +
         ".deb\nSize: 100\nSHA256: " + kSha + "\n" + extra + "\n";
}

TEST(AptPackages, Fields) {
  auto parsed = ParseAptPackages(
      Stanza("a", "1",
             "Priority: required\nDepends: b (>= 1), c | d\n"
             "Pre-Depends: e\nRecommends: f\nProvides: x (= 1), y\n") +
          "Package: nofile\nVersion: 1\n\n",
      "Packages");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->packages.size(), 1u);
  const AptPackage& a = parsed->packages[0];
  EXPECT_EQ(a.priority, "required");
  EXPECT_EQ(a.filename, "pool/main/a_1.deb");
  EXPECT_EQ(a.size, 100);
  EXPECT_EQ(a.depends.size(), 2u);
  EXPECT_EQ(a.pre_depends.size(), 1u);
  EXPECT_EQ(a.recommends.size(), 1u);
  EXPECT_EQ(a.provides, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(parsed->warnings.size(), 1u);
  EXPECT_NE(parsed->warnings[0].find("nofile"), std::string::npos);
}

// bookworm's librust-winapi-dev Provides 75,649 bytes of names: a 64 KiB
// field bound refused the real index.
TEST(AptPackages, ProvidesLongerThan64KiB) {
  std::string provides = "Provides: ";
  for (int i = 0; i < 1600; ++i) {
    absl::StrAppend(&provides, i == 0 ? "" : ", ", "librust-winapi+feature", i,
                    "-dev (= 0.3.9-1+b1)");
  }
  ASSERT_GT(provides.size(), 65536u);
  auto parsed = ParseAptPackages(
      Stanza("librust-winapi-dev", "0.3.9-1+b1", provides + "\n"), "Packages");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->packages[0].provides.size(), 1600u);
}

TEST(AptPackages, HostileFields) {
  auto with = [](const std::string& filename, const std::string& size) {
    return "Package: evil\nVersion: 1\nFilename: " + filename +
           "\nSize: " + size + "\nSHA256: " + kSha + "\n";
  };
  for (const std::string& text :
       {with("../../etc/passwd", "1"), with("/etc/passwd", "1"),
        with("pool/a\n b", "1"), with("pool/.rackboot-manifest.json", "1"),
        with("pool/a", "99999999999999999999999"), with("pool/a", "-5"),
        with("pool/a", "1e9"), with("pool/a", "17179869185"),
        with("pool/a", "")}) {
    auto parsed = ParseAptPackages(text, "Packages");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.status().message().find("evil"), std::string::npos)
        << parsed.status();
  }
  EXPECT_FALSE(ParseAptPackages("Version: 1\n", "Packages").ok());
  EXPECT_FALSE(ParseAptPackages(Stanza("a", "1", "Depends: (x)\n"), "P").ok());
  EXPECT_FALSE(
      ParseAptPackages("Package: a\nFilename: p\nSize: 1\nSHA256: xyz\n", "P")
          .ok());
}

AptPackageIndex IndexOf(const std::string& text) {
  auto parsed = ParseAptPackages(text, "Packages");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  AptPackageIndex index;
  for (AptPackage& package : parsed->packages) index.Add(std::move(package));
  return index;
}

std::vector<std::string> Names(const std::vector<const AptPackage*>& packages) {
  std::vector<std::string> names;
  for (const AptPackage* package : packages) names.push_back(package->name);
  return names;
}

TEST(AptSelection, DuplicatesKeepTheHighestVersion) {
  AptPackageIndex index = IndexOf(Stanza("a", "1.0-1") + Stanza("a", "1:0.1") +
                                  Stanza("a", "2.0") + Stanza("a", "1.0~rc1"));
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index.Find("a")->version, "1:0.1");
  EXPECT_EQ(index.Find("a")->filename, "pool/main/a_1:0.1.deb");
}

TEST(AptSelection, Closure) {
  AptPackageIndex index = IndexOf(
      Stanza("app", "1",
             "Depends: missing-lib | libreal (>= 2), mail-transport-agent, "
             "cyc1:any\nPre-Depends: pre\nRecommends: rec\n") +
      Stanza("libreal", "2") +
      Stanza("exim", "4", "Provides: mail-transport-agent\n") +
      Stanza("postfix", "3", "Provides: mail-transport-agent\n") +
      Stanza("pre", "1", "Depends: gone1, gone2 | gone3\n") +
      Stanza("cyc1", "1", "Depends: cyc2\n") +
      Stanza("cyc2", "1", "Depends: cyc1\n") + Stanza("rec", "1") +
      Stanza("unrelated", "1", "Priority: optional\n") +
      Stanza("req", "1", "Priority: required\nDepends: libreal\n") +
      Stanza("imp", "1", "Priority: important\n"));
  AptSelectionRequest request;
  request.packages = {"app"};
  request.where = "lab main amd64";
  auto selection = SelectAptPackages(index, request);
  ASSERT_TRUE(selection.ok()) << selection.status();
  EXPECT_EQ(Names(selection->packages),
            (std::vector<std::string>{"app", "cyc1", "cyc2", "exim", "libreal",
                                      "pre"}));
  ASSERT_EQ(selection->warnings.size(), 2u);
  EXPECT_NE(selection->warnings[0].find("pre depends on gone1"),
            std::string::npos)
      << selection->warnings[0];
  EXPECT_NE(selection->warnings[1].find("gone2 | gone3"), std::string::npos);

  request.recommends = true;
  selection = SelectAptPackages(index, request);
  ASSERT_TRUE(selection.ok());
  EXPECT_EQ(Names(selection->packages).size(), 7u);  // + rec

  request = AptSelectionRequest{};
  request.priorities = {"required", "important"};
  selection = SelectAptPackages(index, request);
  ASSERT_TRUE(selection.ok());
  EXPECT_EQ(Names(selection->packages),
            (std::vector<std::string>{"imp", "libreal", "req"}));

  request = AptSelectionRequest{};
  request.all = true;
  selection = SelectAptPackages(index, request);
  ASSERT_TRUE(selection.ok());
  EXPECT_EQ(selection->packages.size(), index.size());

  request = AptSelectionRequest{};
  request.packages = {"mail-transport-agent"};  // virtual: first provider
  selection = SelectAptPackages(index, request);
  ASSERT_TRUE(selection.ok());
  EXPECT_EQ(Names(selection->packages), (std::vector<std::string>{"exim"}));

  request.packages = {"app", "nosuch"};
  request.where = "lab main amd64";
  selection = SelectAptPackages(index, request);
  ASSERT_FALSE(selection.ok());
  EXPECT_EQ(selection.status().message(),
            "package nosuch is not in lab main amd64");
}

TEST(AptSelection, UdebsOfTheKernelAbi) {
  EXPECT_EQ(UdebKernelAbi("ext4-modules-6.1.0-18-amd64-di"), "6.1.0-18-amd64");
  EXPECT_EQ(UdebKernelAbi("kernel-image-6.1.0-99-amd64-di"), "6.1.0-99-amd64");
  EXPECT_EQ(UdebKernelAbi("anna"), "");
  EXPECT_EQ(UdebKernelAbi("nic-modules-di"), "");
  EXPECT_EQ(UdebKernelAbi("libc6-udeb"), "");
  AptPackageIndex index =
      IndexOf(Stanza("kernel-image-6.1.0-99-amd64-di", "6.1.99") +
              Stanza("kernel-image-6.1.0-98-amd64-di", "6.1.98") +
              Stanza("nic-modules-6.1.0-99-amd64-di", "6.1.99") +
              Stanza("foo-modules-6.1.0-98-amd64-di", "6.1.98") +
              Stanza("anna", "1.87") + Stanza("libc6-udeb", "2.36"));
  UdebSelection selection = SelectInstallerUdebs(index);
  EXPECT_EQ(selection.kernel_abi, "6.1.0-99-amd64");
  EXPECT_EQ(Names(selection.udebs),
            (std::vector<std::string>{"anna", "kernel-image-6.1.0-99-amd64-di",
                                      "libc6-udeb",
                                      "nic-modules-6.1.0-99-amd64-di"}));
  EXPECT_TRUE(selection.warnings.empty());
}

}  // namespace
}  // namespace rackboot::mirror
