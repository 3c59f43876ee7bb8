// PlanAptSource over a small repository the test writes and signs with a
// throwaway gpg key (real gpg and gpgv), fetched through a fake FetchFilesFn
// that copies from that directory and checks size and SHA-256 as the real one
// does (the FetchFilesFn contract).
#include "tools/mirror/apt_source.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tools/mirror/apt_selection.h"
#include "tools/mirror/mirror_path.h"
#include "tools/mirror/sha256.h"

namespace rackboot::mirror {
namespace {

namespace fs = std::filesystem;

constexpr char kBase[] = "http://repo.test/debian";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void Shell(const std::string& command) {
  ASSERT_EQ(system(command.c_str()), 0) << command;
}

// One throwaway ed25519 key for the whole suite; its GNUPGHOME under /tmp
// because gpg-agent's socket path must stay under 108 bytes.
class AptSourceTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/rackboot-apttest.XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    gpg_dir_ = dir_template;
    std::string home = gpg_dir_ + "/gnupg";
    ASSERT_EQ(mkdir(home.c_str(), 0700), 0);
    setenv("GNUPGHOME", home.c_str(), 1);
    Shell(
        "gpg --batch -q --passphrase '' --quick-gen-key "
        "'Rackboot Apt Test <apt@rackboot.invalid>' ed25519 sign never "
        "2>/dev/null");
    Shell("gpg --batch -q --export >" + gpg_dir_ + "/test.gpg");
  }
  static void TearDownTestSuite() {
    // Best effort: a gpg-agent left behind only costs a process.
    (void)!system(
        ("gpgconf --homedir " + gpg_dir_ + "/gnupg --kill all >/dev/null 2>&1")
            .c_str());
    fs::remove_all(gpg_dir_);
  }

  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    root_ = std::string(tmp != nullptr ? tmp : "/tmp") + "/" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
    repo_ = root_ + "/repo";
    staging_ = root_ + "/staging";
    fs::create_directories(repo_);
    fs::create_directories(staging_);
    options_.base_url = kBase;
    options_.suite = "lab";
    options_.keyring = gpg_dir_ + "/test.gpg";
  }

  // A pool file with content of its own; returns its stanza.
  std::string Deb(const std::string& name, const std::string& version,
                  const std::string& extra = "",
                  const std::string& section = "main") {
    std::string filename =
        absl::StrCat("pool/", section, "/", name.substr(0, 1), "/", name, "/",
                     name, "_", version, "_amd64.deb");
    std::string bytes = absl::StrCat("deb ", name, " ", version, "\n");
    WriteAll(repo_ + "/" + filename, bytes);
    return absl::StrCat("Package: ", name, "\nVersion: ", version,
                        "\nArchitecture: amd64\nFilename: ", filename,
                        "\nSize: ", bytes.size(),
                        "\nSHA256: ", Sha256Hex(bytes), "\n", extra, "\n");
  }

  struct RepoSpec {
    std::string suite = "stable";
    std::string codename = "lab";
    std::string components = "main";
    std::string architectures = "amd64 all";
    std::string packages;  // main/binary-amd64/Packages
    std::string udebs;     // main/debian-installer/binary-amd64/Packages
    bool installer_images = true;
    bool by_hash = true;
    std::string release_extra;      // more Release fields
    bool plain_index_only = false;  // list and serve only the plain Packages
    bool translations = true;       // main/i18n/Translation-en(.xz), as Debian
  };

  // Writes dists/lab with its indexes (xz and gz, the plain one listed but
  // not served, as Debian does), then Release, InRelease and Release.gpg.
  void Publish(const RepoSpec& spec) {
    std::string dists = repo_ + "/dists/lab";
    std::vector<std::string> listed;
    auto index = [&](const std::string& dir, const std::string& text) {
      std::string plain = dists + "/" + dir + "/Packages";
      WriteAll(plain, text);
      if (!spec.plain_index_only) {
        Shell("xz -k -f " + plain + " && gzip -k -f -n " + plain);
        listed.push_back(dir + "/Packages.xz");
        listed.push_back(dir + "/Packages.gz");
      }
      listed.push_back(dir + "/Packages");
    };
    index("main/binary-amd64", spec.packages);
    if (!spec.udebs.empty()) {
      index("main/debian-installer/binary-amd64", spec.udebs);
    }
    if (spec.translations) {
      // Debian lists the plain Translation-en and the .xz, and serves the .xz.
      std::string plain = dists + "/main/i18n/Translation-en";
      WriteAll(plain,
               "Package: app\nDescription-md5: 0\nDescription-en: app\n");
      if (!spec.plain_index_only) {
        Shell("xz -k -f " + plain);
        listed.push_back("main/i18n/Translation-en.xz");
      }
      listed.push_back("main/i18n/Translation-en");
    }
    if (spec.installer_images) {
      std::string images = dists + "/main/installer-amd64/current/images";
      WriteAll(images + "/netboot/debian-installer/amd64/linux", "kernel\n");
      WriteAll(images + "/netboot/debian-installer/amd64/initrd.gz",
               "initrd bytes\n");
      WriteAll(images + "/SHA256SUMS",
               absl::StrCat(Sha256Hex("kernel\n"),
                            "  ./netboot/debian-installer/amd64/linux\n",
                            Sha256Hex("initrd bytes\n"),
                            "  ./netboot/debian-installer/amd64/initrd.gz\n",
                            Sha256Hex("x"), "  ./netboot/mini.iso\n"));
      listed.push_back("main/installer-amd64/current/images/SHA256SUMS");
    }
    std::string release =
        absl::StrCat("Origin: Debian\nLabel: Debian\nSuite: ", spec.suite,
                     "\nVersion: 12.5\nCodename: ", spec.codename,
                     "\nDate: Sat, 10 Feb 2024 09:37:33 UTC\n",
                     spec.by_hash ? "Acquire-By-Hash: yes\n" : "",
                     "Architectures: ", spec.architectures,
                     "\nComponents: ", spec.components, "\n",
                     spec.release_extra, "Description: test\nSHA256:\n");
    for (const std::string& path : listed) {
      std::string bytes = ReadAll(dists + "/" + path);
      absl::StrAppend(&release, " ", Sha256Hex(bytes), " ", bytes.size(), " ",
                      path, "\n");
    }
    // Debian lists the plain Packages but does not serve it.
    if (!spec.plain_index_only) {
      fs::remove(dists + "/main/binary-amd64/Packages");
      fs::remove(dists + "/main/i18n/Translation-en");
    }
    WriteAll(dists + "/Release", release);
    Shell("gpg --batch -q --yes --clearsign -o " + dists + "/InRelease " +
          dists + "/Release");
    Shell("gpg --batch -q --yes --detach-sign --armor -o " + dists +
          "/Release.gpg " + dists + "/Release");
  }

  // The FetchFilesFn contract over the repository directory.
  FetchFilesFn Fetch() {
    return [this](const std::vector<PlannedFile>& files) -> absl::Status {
      for (const PlannedFile& file : files) {
        fetched_.push_back(file.path);
        EXPECT_TRUE(CheckMirrorPath(file.path).ok()) << file.path;
        if (!absl::StartsWith(file.url, std::string(kBase) + "/")) {
          return absl::InvalidArgumentError("url outside the repo: " +
                                            file.url);
        }
        std::string source =
            repo_ + "/" + file.url.substr(std::string(kBase).size() + 1);
        if (!fs::is_regular_file(source)) {
          return absl::NotFoundError(absl::StrCat(file.url, ": HTTP 404"));
        }
        std::string bytes = ReadAll(source);
        if (file.size >= 0 && static_cast<int64_t>(bytes.size()) != file.size) {
          return absl::DataLossError(
              absl::StrCat("size mismatch for ", file.url, ": expected ",
                           file.size, ", got ", bytes.size()));
        }
        if (!file.sha256.empty() && Sha256Hex(bytes) != file.sha256) {
          return absl::DataLossError(
              absl::StrCat("sha256 mismatch for ", file.url, ": expected ",
                           file.sha256, ", got ", Sha256Hex(bytes)));
        }
        WriteAll(staging_ + "/" + file.path, bytes);
      }
      return absl::OkStatus();
    };
  }

  absl::StatusOr<AptSourceResult> Plan() {
    return PlanAptSource(options_, staging_, Fetch());
  }

  RepoSpec Typical() {
    RepoSpec spec;
    spec.packages = Deb("app", "1.0-1",
                        "Priority: optional\nDepends: libfoo (>= 1) | libbar, "
                        "mail-transport-agent, gone-lib\nPre-Depends: dpkg\n") +
                    Deb("libfoo", "1.0") + Deb("libfoo", "2.0") +
                    Deb("libbar", "1") +
                    Deb("exim4", "4.96", "Provides: mail-transport-agent\n") +
                    Deb("dpkg", "1.21", "Priority: required\n") +
                    Deb("base-files", "12.4", "Priority: required\n") +
                    Deb("other", "1", "Priority: extra\n");
    spec.udebs = Deb("kernel-image-6.1.0-99-amd64-di", "6.1.99") +
                 Deb("nic-modules-6.1.0-99-amd64-di", "6.1.99") +
                 Deb("foo-modules-6.1.0-98-amd64-di", "6.1.98") +
                 Deb("anna", "1.87");
    return spec;
  }

  std::map<std::string, PlannedFile> ByPath(const AptSourceResult& result) {
    std::map<std::string, PlannedFile> by_path;
    for (const PlannedFile& file : result.plan.files) {
      EXPECT_TRUE(by_path.emplace(file.path, file).second)
          << "planned twice: " << file.path;
    }
    return by_path;
  }

  static std::string gpg_dir_;
  std::string root_, repo_, staging_;
  AptSourceOptions options_;
  std::vector<std::string> fetched_;
};

std::string AptSourceTest::gpg_dir_;

TEST_F(AptSourceTest, SignedInReleaseWithInstaller) {
  Publish(Typical());
  options_.packages = {"app"};
  options_.installer = true;
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  auto files = ByPath(*result);
  for (const auto& [path, file] : files) {
    EXPECT_TRUE(CheckMirrorPath(path).ok()) << path;
    EXPECT_TRUE(IsSha256Hex(file.sha256)) << path;
    EXPECT_GE(file.size, 0) << path;
    EXPECT_TRUE(absl::StartsWith(file.url, kBase)) << path;
    // Every planned file is what the repository holds.
    std::string source = repo_ + "/" + file.url.substr(strlen(kBase) + 1);
    EXPECT_EQ(Sha256Hex(ReadAll(source)), file.sha256) << path;
  }
  for (const char* path :
       {"dists/lab/InRelease", "dists/lab/Release", "dists/lab/Release.gpg",
        "dists/lab/main/binary-amd64/Packages.xz",
        "dists/lab/main/binary-amd64/Packages.gz",
        "dists/lab/main/debian-installer/binary-amd64/Packages.xz",
        "dists/lab/main/i18n/Translation-en.xz",
        "dists/lab/main/installer-amd64/current/images/SHA256SUMS",
        "dists/lab/main/installer-amd64/current/images/netboot/"
        "debian-installer/amd64/linux",
        "pool/main/a/app/app_1.0-1_amd64.deb",
        "pool/main/l/libfoo/libfoo_2.0_amd64.deb",
        "pool/main/e/exim4/exim4_4.96_amd64.deb",
        "pool/main/d/dpkg/dpkg_1.21_amd64.deb",
        "pool/main/k/kernel-image-6.1.0-99-amd64-di/"
        "kernel-image-6.1.0-99-amd64-di_6.1.99_amd64.deb",
        "pool/main/n/nic-modules-6.1.0-99-amd64-di/"
        "nic-modules-6.1.0-99-amd64-di_6.1.99_amd64.deb",
        "pool/main/a/anna/anna_1.87_amd64.deb"}) {
    EXPECT_EQ(files.count(path), 1u) << path;
  }
  for (const char* path :
       {"dists/lab/main/binary-amd64/Packages",  // listed, not served
        "dists/lab/main/i18n/Translation-en",    // listed, not served
        "pool/main/l/libfoo/libfoo_1.0_amd64.deb",
        "pool/main/l/libbar/libbar_1_amd64.deb",
        "pool/main/f/foo-modules-6.1.0-98-amd64-di/"
        "foo-modules-6.1.0-98-amd64-di_6.1.98_amd64.deb",
        "pool/main/o/other/other_1_amd64.deb"}) {
    EXPECT_EQ(files.count(path), 0u) << path;
  }
  // By-hash copies next to each index, same url and sha256.
  const PlannedFile& xz = files["dists/lab/main/binary-amd64/Packages.xz"];
  auto by_hash =
      files.find("dists/lab/main/binary-amd64/by-hash/SHA256/" + xz.sha256);
  ASSERT_NE(by_hash, files.end());
  EXPECT_EQ(by_hash->second.url, xz.url);
  EXPECT_EQ(by_hash->second.size, xz.size);
  const PlannedFile& tr = files["dists/lab/main/i18n/Translation-en.xz"];
  EXPECT_EQ(files.count("dists/lab/main/i18n/by-hash/SHA256/" + tr.sha256), 1u);
  EXPECT_EQ(result->packages_selected, 4);  // app libfoo exim4 dpkg
  EXPECT_EQ(result->udebs_selected, 3);
  EXPECT_EQ(result->media.kind, "apt");
  EXPECT_EQ(result->media.family, "debian-preseed");
  EXPECT_EQ(result->media.distro, "Debian");
  EXPECT_EQ(result->media.release, "12.5");
  EXPECT_EQ(result->media.arch, "amd64");
  EXPECT_EQ(result->media.kernel,
            "dists/lab/main/installer-amd64/current/images/netboot/"
            "debian-installer/amd64/linux");
  EXPECT_EQ(files[result->media.initrd].size, 13);
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_NE(result->warnings[0].find("app depends on gone-lib"),
            std::string::npos)
      << result->warnings[0];
  // Pool files are planned, not fetched.
  EXPECT_EQ(std::count_if(fetched_.begin(), fetched_.end(),
                          [](const std::string& p) {
                            return absl::StartsWith(p, "pool/");
                          }),
            0);
}

TEST_F(AptSourceTest, NoByHashWithoutAcquireByHash) {
  RepoSpec spec = Typical();
  spec.by_hash = false;
  spec.translations = false;  // a Release without i18n/ needs none
  Publish(spec);
  options_.all = true;
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  for (const PlannedFile& file : result->plan.files) {
    EXPECT_FALSE(absl::StrContains(file.path, "by-hash")) << file.path;
    EXPECT_FALSE(absl::StrContains(file.path, "/i18n/")) << file.path;
  }
  EXPECT_EQ(result->packages_selected, 7);  // one libfoo
}

TEST_F(AptSourceTest, PrioritiesAndClosure) {
  Publish(Typical());
  options_.priorities = {"required"};
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->packages_selected, 2);  // dpkg base-files
}

TEST_F(AptSourceTest, TamperedInReleaseIsRefused) {
  Publish(Typical());
  std::string path = repo_ + "/dists/lab/InRelease";
  WriteAll(path, absl::StrReplaceAll(ReadAll(path),
                                     {{"Codename: lab", "Codename: lab2"}}));
  options_.packages = {"app"};
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(result.status().message(), "BADSIG"))
      << result.status();
  EXPECT_TRUE(absl::StrContains(result.status().message(), "InRelease"));
  // Nothing past InRelease was fetched.
  EXPECT_EQ(fetched_, std::vector<std::string>{"dists/lab/InRelease"});
}

TEST_F(AptSourceTest, ForeignKeyIsRefused) {
  Publish(Typical());
  options_.packages = {"app"};
  options_.keyring = kDebianArchiveKeyring;
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
      << result.status();
}

TEST_F(AptSourceTest, FallsBackToReleaseAndReleaseGpg) {
  Publish(Typical());
  fs::remove(repo_ + "/dists/lab/InRelease");
  options_.packages = {"app"};
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  auto files = ByPath(*result);
  EXPECT_EQ(files.count("dists/lab/InRelease"), 0u);
  EXPECT_EQ(files.count("dists/lab/Release"), 1u);
  EXPECT_EQ(files.count("dists/lab/Release.gpg"), 1u);

  // A tampered Release under a good Release.gpg is refused.
  std::string release = repo_ + "/dists/lab/Release";
  WriteAll(release, ReadAll(release) + "Origin: Evil\n");
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);

  fs::remove(release);
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(result.status().message(), "--suite"))
      << result.status();
}

TEST_F(AptSourceTest, DetachedPairThatFailsIsLeftOut) {
  Publish(Typical());
  std::string release = repo_ + "/dists/lab/Release";
  WriteAll(release, ReadAll(release) + "Origin: Evil\n");
  options_.packages = {"app"};
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  auto files = ByPath(*result);
  EXPECT_EQ(files.count("dists/lab/InRelease"), 1u);
  EXPECT_EQ(files.count("dists/lab/Release"), 0u);
  EXPECT_EQ(files.count("dists/lab/Release.gpg"), 0u);
  EXPECT_TRUE(absl::StrContains(result->warnings.front(), "Release.gpg"));
}

TEST_F(AptSourceTest, WrongSuiteNamesBoth) {
  RepoSpec spec = Typical();
  spec.suite = "testing";
  spec.codename = "trixie";
  Publish(spec);
  options_.packages = {"app"};
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  const std::string message(result.status().message());
  EXPECT_TRUE(absl::StrContains(message, "--suite=lab")) << message;
  EXPECT_TRUE(absl::StrContains(message, "testing")) << message;
  EXPECT_TRUE(absl::StrContains(message, "trixie")) << message;
  // The suite name (not only the codename) is accepted.
  options_.suite = "lab";
  spec.suite = "lab";
  spec.codename = "bookworm";
  Publish(spec);
  EXPECT_TRUE(Plan().ok());
}

TEST_F(AptSourceTest, MissingComponentOrArchitecture) {
  Publish(Typical());
  options_.packages = {"app"};
  options_.components = {"main", "contrib"};
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(), "contrib"))
      << result.status();
  options_.components = {"main"};
  options_.arch = "arm64";
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(), "arm64"))
      << result.status();
  // Listed in Architectures, but no index in Release.
  RepoSpec spec = Typical();
  spec.architectures = "amd64 arm64";
  Publish(spec);
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(), "binary-arm64"))
      << result.status();
}

TEST_F(AptSourceTest, IndexThatDiffersFromReleaseIsRefused) {
  Publish(Typical());
  std::string xz = repo_ + "/dists/lab/main/binary-amd64/Packages.xz";
  std::string evil = Deb("app", "9.9");
  WriteAll(root_ + "/evil", evil);
  Shell("xz -c " + root_ + "/evil > " + xz);
  options_.packages = {"app"};
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(result.status().message(), "Packages.xz"))
      << result.status();
}

TEST_F(AptSourceTest, NamedPackageMissing) {
  Publish(Typical());
  options_.packages = {"app", "nosuch"};
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "package nosuch is not in lab main amd64");
}

TEST_F(AptSourceTest, HostileFilenameInSignedIndex) {
  for (const char* filename :
       {"../../etc/passwd", "/etc/passwd", "pool/a\n b.deb"}) {
    RepoSpec spec;
    spec.installer_images = false;
    spec.packages =
        absl::StrCat("Package: evil\nVersion: 1\nFilename: ", filename,
                     "\nSize: 1\nSHA256: ", std::string(64, 'a'), "\n");
    Publish(spec);
    options_.all = true;
    auto result = Plan();
    ASSERT_FALSE(result.ok()) << filename;
    EXPECT_TRUE(absl::StrContains(result.status().message(), "evil"))
        << result.status();
  }
}

TEST_F(AptSourceTest, AbsurdSizeInSignedIndex) {
  RepoSpec spec;
  spec.installer_images = false;
  spec.packages = absl::StrCat(
      "Package: huge\nVersion: 1\nFilename: pool/h",
      "\nSize: 99999999999999999999\nSHA256: ", std::string(64, 'a'), "\n");
  Publish(spec);
  options_.all = true;
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(), "Size"))
      << result.status();
}

TEST_F(AptSourceTest, InstallerNeedsItsIndexes) {
  RepoSpec spec = Typical();
  spec.installer_images = false;
  Publish(spec);
  options_.installer = true;
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(), "SHA256SUMS"))
      << result.status();
  // Listed in SHA256SUMS but not served (deb.debian.org as this project's
  // machines reach it): udebs planned, no kernel, a warning.
  Publish(Typical());
  fs::remove_all(repo_ +
                 "/dists/lab/main/installer-amd64/current/images/netboot");
  result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->udebs_selected, 3);
  EXPECT_EQ(result->media.kernel, "");
  EXPECT_EQ(result->media.initrd, "");
  ASSERT_FALSE(result->warnings.empty());
  EXPECT_TRUE(absl::StrContains(result->warnings.back(), "does not serve"))
      << result->warnings.back();
  // A netboot image that differs from SHA256SUMS.
  Publish(Typical());
  WriteAll(repo_ +
               "/dists/lab/main/installer-amd64/current/images/netboot/"
               "debian-installer/amd64/linux",
           "evil kernel\n");
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
      << result.status();
}

// --udebs: the named udebs and their closure in the udeb index (a Provides
// satisfies a dependency), whatever their kernel ABI; no installer images.
TEST_F(AptSourceTest, NamedUdebsAndTheirClosure) {
  RepoSpec spec = Typical();
  spec.udebs =
      Deb("kernel-image-6.1.0-99-amd64-di", "6.1.99") +
      Deb("scsi-core-modules-6.1.0-99-amd64-di", "6.1.99",
          "Depends: kernel-image-6.1.0-99-amd64-di\n") +
      Deb("scsi-modules-6.1.0-99-amd64-di", "6.1.99",
          "Provides: scsi-modules\nDepends: kernel-image-6.1.0-99-amd64-di, "
          "scsi-core-modules-6.1.0-99-amd64-di\n") +
      Deb("disk-detect", "1.160",
          "Depends: scsi-modules, di-utils\nPre-Depends: gone-udeb\n") +
      Deb("di-utils", "1.148") + Deb("anna", "1.87", "Depends: di-utils\n") +
      Deb("foo-modules-6.1.0-98-amd64-di", "6.1.98") +
      Deb("nic-modules-6.1.0-99-amd64-di", "6.1.99");
  Publish(spec);
  options_.packages = {"dpkg"};
  options_.udebs = {"disk-detect", "foo-modules-6.1.0-98-amd64-di"};
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  auto files = ByPath(*result);
  std::set<std::string> pool;
  for (const auto& [path, file] : files) {
    // Every planned file carries the index's SHA-256 of what the repository
    // holds (the fetcher refuses other bytes).
    std::string source = repo_ + "/" + file.url.substr(strlen(kBase) + 1);
    EXPECT_EQ(Sha256Hex(ReadAll(source)), file.sha256) << path;
    if (absl::StartsWith(path, "pool/")) pool.insert(path);
  }
  EXPECT_EQ(pool, (std::set<std::string>{
                      "pool/main/d/dpkg/dpkg_1.21_amd64.deb",
                      "pool/main/d/disk-detect/disk-detect_1.160_amd64.deb",
                      "pool/main/d/di-utils/di-utils_1.148_amd64.deb",
                      "pool/main/s/scsi-modules-6.1.0-99-amd64-di/"
                      "scsi-modules-6.1.0-99-amd64-di_6.1.99_amd64.deb",
                      "pool/main/s/scsi-core-modules-6.1.0-99-amd64-di/"
                      "scsi-core-modules-6.1.0-99-amd64-di_6.1.99_amd64.deb",
                      "pool/main/k/kernel-image-6.1.0-99-amd64-di/"
                      "kernel-image-6.1.0-99-amd64-di_6.1.99_amd64.deb",
                      "pool/main/f/foo-modules-6.1.0-98-amd64-di/"
                      "foo-modules-6.1.0-98-amd64-di_6.1.98_amd64.deb"}));
  EXPECT_EQ(result->packages_selected, 1);
  EXPECT_EQ(result->udebs_selected, 6);
  EXPECT_EQ(files.count("dists/lab/main/debian-installer/binary-amd64/"
                        "Packages.xz"),
            1u);
  const PlannedFile& xz =
      files["dists/lab/main/debian-installer/binary-amd64/Packages.xz"];
  EXPECT_EQ(files.count("dists/lab/main/debian-installer/binary-amd64/"
                        "by-hash/SHA256/" +
                        xz.sha256),
            1u);
  // No installer images: neither planned nor asked for.
  for (const auto& [path, file] : files) {
    EXPECT_FALSE(absl::StrContains(path, "installer-amd64")) << path;
  }
  for (const std::string& path : fetched_) {
    EXPECT_FALSE(absl::StrContains(path, "installer-amd64")) << path;
  }
  EXPECT_EQ(result->media.kernel, "");
  // A dependency outside the udeb index is a warning, as for debs.
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_EQ(result->warnings[0],
            "disk-detect pre-depends on gone-udeb: no package or provider in "
            "lab main amd64 (debian-installer/binary-amd64)");
}

TEST_F(AptSourceTest, NamedUdebMissing) {
  Publish(Typical());
  // "app" is a deb, not a udeb: --udebs takes exact names of the udeb index.
  options_.udebs = {"anna", "nosuch-di", "app"};
  auto result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(),
            "--udebs: udebs nosuch-di, app are not in lab main amd64 "
            "(debian-installer/binary-amd64)");
  options_.udebs = {"nosuch-di"};
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "--udebs: udeb nosuch-di is not in lab main amd64 "
            "(debian-installer/binary-amd64)");
  // No udeb index at all.
  RepoSpec spec = Typical();
  spec.udebs.clear();
  Publish(spec);
  fs::remove_all(repo_ + "/dists/lab/main/debian-installer");
  options_.udebs = {"anna"};
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(),
                                "--udebs: dists/lab/InRelease lists no "
                                "debian-installer/binary-amd64/Packages"))
      << result.status();
  // With --installer: refused (it takes every udeb of its ABI).
  Publish(Typical());
  options_.installer = true;
  result = Plan();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

// A bzImage setup header naming kernel `release` (what BzImageKernelAbi
// reads).
std::string FakeBzImage(const std::string& release) {
  std::string image(0x400, '\0');
  image.replace(0x202, 4, "HdrS");
  image[0x20e] = 0x00;  // kernel_version pointer 0x100 => string at 0x300
  image[0x20f] = 0x01;
  std::string version = release + " (debian-kernel@lists.debian.org) #1 SMP";
  image.replace(0x300, version.size(), version);
  return image;
}

TEST_F(AptSourceTest, UdebsFollowTheNetbootKernelAbi) {
  RepoSpec spec = Typical();
  spec.udebs += Deb("kernel-image-6.1.0-98-amd64-di", "6.1.98");
  // Publish writes the images; the kernel is then replaced by a bzImage of
  // ABI 98 and SHA256SUMS and Release rewritten around it.
  Publish(spec);
  std::string images = repo_ + "/dists/lab/main/installer-amd64/current/images";
  std::string kernel = FakeBzImage("6.1.0-98-amd64");
  WriteAll(images + "/netboot/debian-installer/amd64/linux", kernel);
  std::string sums = ReadAll(images + "/SHA256SUMS");
  std::string new_sums =
      absl::StrReplaceAll(sums, {{Sha256Hex("kernel\n"), Sha256Hex(kernel)}});
  WriteAll(images + "/SHA256SUMS", new_sums);
  std::string release = ReadAll(repo_ + "/dists/lab/Release");
  release = absl::StrReplaceAll(
      release, {{absl::StrCat(Sha256Hex(sums), " ", sums.size()),
                 absl::StrCat(Sha256Hex(new_sums), " ", new_sums.size())}});
  WriteAll(repo_ + "/dists/lab/Release", release);
  std::string dists = repo_ + "/dists/lab";
  Shell("gpg --batch -q --yes --clearsign -o " + dists + "/InRelease " + dists +
        "/Release");
  options_.installer = true;
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  auto files = ByPath(*result);
  EXPECT_EQ(files.count("pool/main/k/kernel-image-6.1.0-98-amd64-di/"
                        "kernel-image-6.1.0-98-amd64-di_6.1.98_amd64.deb"),
            1u);
  EXPECT_EQ(files.count("pool/main/f/foo-modules-6.1.0-98-amd64-di/"
                        "foo-modules-6.1.0-98-amd64-di_6.1.98_amd64.deb"),
            1u);
  EXPECT_EQ(files.count("pool/main/k/kernel-image-6.1.0-99-amd64-di/"
                        "kernel-image-6.1.0-99-amd64-di_6.1.99_amd64.deb"),
            0u);
  EXPECT_EQ(result->udebs_selected, 3);  // anna, kernel-image-98, foo-98
}

TEST(BzImage, KernelAbi) {
  EXPECT_EQ(BzImageKernelAbi(FakeBzImage("6.1.0-50-amd64")), "6.1.0-50-amd64");
  EXPECT_EQ(BzImageKernelAbi("kernel\n"), "");
  std::string no_magic = FakeBzImage("6.1.0-50-amd64");
  no_magic[0x202] = 'X';
  EXPECT_EQ(BzImageKernelAbi(no_magic), "");
  std::string pointer_past_end = FakeBzImage("6.1.0-50-amd64");
  pointer_past_end[0x20f] = 0x7f;
  EXPECT_EQ(BzImageKernelAbi(pointer_past_end), "");
  // Debian's own netboot kernel, when the package is installed.
  const char* real =
      "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/"
      "linux";
  if (fs::exists(real)) {
    std::string abi = BzImageKernelAbi(ReadAll(real));
    EXPECT_TRUE(absl::StartsWith(abi, "6.1.0-")) << abi;
    EXPECT_TRUE(absl::EndsWith(abi, "-amd64")) << abi;
  }
}

TEST_F(AptSourceTest, PlainIndexOnlyAndExpiredRelease) {
  RepoSpec spec = Typical();
  spec.plain_index_only = true;
  spec.release_extra = "Valid-Until: Sat, 17 Feb 2024 09:37:33 UTC\n";
  Publish(spec);
  options_.packages = {"app"};
  auto result = Plan();
  ASSERT_TRUE(result.ok()) << result.status();
  auto files = ByPath(*result);
  EXPECT_EQ(files.count("dists/lab/main/binary-amd64/Packages"), 1u);
  EXPECT_EQ(files.count("dists/lab/main/binary-amd64/Packages.xz"), 0u);
  EXPECT_EQ(files.count("dists/lab/main/i18n/Translation-en"), 1u);
  EXPECT_EQ(result->packages_selected, 4);
  ASSERT_FALSE(result->warnings.empty());
  EXPECT_TRUE(absl::StrContains(result->warnings[0], "expired (Valid-Until"))
      << result->warnings[0];
}

TEST_F(AptSourceTest, CredentialsStayOutOfMessages) {
  Publish(Typical());
  fs::remove(repo_ + "/dists/lab/InRelease");
  fs::remove(repo_ + "/dists/lab/Release");
  options_.base_url = "http://user:secret@repo.test/debian";
  options_.packages = {"app"};
  auto result =
      PlanAptSource(options_, staging_, [](const std::vector<PlannedFile>&) {
        return absl::NotFoundError("HTTP 404");
      });
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(absl::StrContains(result.status().message(), "secret"))
      << result.status();
  EXPECT_TRUE(absl::StrContains(result.status().message(),
                                "http://repo.test/debian/dists/lab/"))
      << result.status();
}

}  // namespace
}  // namespace rackboot::mirror
