#include "tools/gen/output_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot::gen {
namespace {

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
constexpr char kOldToken[] = "fedcba9876543210fedcba9876543210";

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir =
      std::string(base != nullptr ? base : "/tmp") + "/gen_out.XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  return names;
}

std::vector<OutputFile> HostFiles() {
  return {
      {"pxelinux.cfg/01-52-54-00-00-00-01", "DEFAULT local\n", false},
      {"grub/grub.cfg-01-52-54-00-00-00-01", "set default=local\n", false},
      {"ipxe/01-52-54-00-00-00-01.ipxe", "#!ipxe\nexit 1\n", false},
      {std::string("install/") + kToken + "/ks.cfg", "rootpw --iscrypted x\n",
       true},
  };
}

TEST(OutputWriterTest, WritesEveryFileWithItsModeAndNoStagingLeft) {
  const std::string out = TempDir() + "/new/out";  // made with its parents
  umask(0);  // gen's modes hold whatever the umask
  absl::StatusOr<WriteReport> report = WriteOutputFiles(out, HostFiles());
  umask(022);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written.size(), 4u);
  for (const OutputFile& f : HostFiles()) {
    EXPECT_EQ(Read(out + "/" + f.path), f.bytes) << f.path;
    EXPECT_EQ(Mode(out + "/" + f.path), f.secret ? 0600u : 0644u) << f.path;
  }
  EXPECT_EQ(Mode(out + "/pxelinux.cfg"), 0755u);
  EXPECT_EQ(Mode(out + "/install"), 0711u);  // tokens cannot be listed
  EXPECT_EQ(Mode(out + "/install/" + kToken), 0700u);
  std::vector<std::string> top = List(out);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{"grub", "install", "ipxe",
                                           "pxelinux.cfg"}));
}

TEST(OutputWriterTest, ReplacesByRenameSoAnOpenReaderKeepsTheOldFile) {
  const std::string out = TempDir();
  ASSERT_TRUE(WriteOutputFiles(out, {{"ipxe/a.ipxe", "old\n", false}}).ok());
  int reader = open((out + "/ipxe/a.ipxe").c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(WriteOutputFiles(out, {{"ipxe/a.ipxe", "new!\n", false}}).ok());
  char buf[16] = {};
  EXPECT_EQ(read(reader, buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf), "old\n");  // a whole old file, not a mix
  close(reader);
  EXPECT_EQ(Read(out + "/ipxe/a.ipxe"), "new!\n");
}

TEST(OutputWriterTest, RefusesBadPathsAndWritesNothing) {
  for (const std::string bad :
       {"../x", "/etc/x", "a//b", "a/./b", "a/", "", "a b", "a/\nb",
        "install/x;rm", ".rackboot-gen-1/x"}) {
    const std::string out = TempDir();
    absl::StatusOr<WriteReport> report =
        WriteOutputFiles(out, {{"ok/file", "x", false}, {bad, "y", false}});
    EXPECT_FALSE(report.ok()) << "path '" << bad << "' accepted";
    EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(List(out).empty()) << "wrote something for '" << bad << "'";
  }
}

TEST(OutputWriterTest, RefusesAPathRenderedTwice) {
  const std::string out = TempDir();
  absl::StatusOr<WriteReport> report = WriteOutputFiles(
      out, {{"ipxe/a.ipxe", "1", false}, {"ipxe/a.ipxe", "2", false}});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("rendered twice"),
            std::string::npos);
  EXPECT_TRUE(List(out).empty());
}

TEST(OutputWriterTest, NeverFollowsASymlinkBeneathTheOutputDirectory) {
  const std::string out = TempDir();
  const std::string elsewhere = TempDir();
  ASSERT_EQ(symlink(elsewhere.c_str(), (out + "/pxelinux.cfg").c_str()), 0);
  absl::StatusOr<WriteReport> report =
      WriteOutputFiles(out, {{"pxelinux.cfg/01-aa", "x", false}});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("not a directory"),
            std::string::npos)
      << report.status();
  EXPECT_TRUE(List(elsewhere).empty());
  // And no staging directory left behind.
  EXPECT_EQ(List(out), std::vector<std::string>{"pxelinux.cfg"});
}

TEST(OutputWriterTest, RemovesAnInterruptedRunsStagingDirectory) {
  const std::string out = TempDir();
  ASSERT_EQ(mkdir((out + "/.rackboot-gen-abc123").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((out + "/.rackboot-gen-abc123/ipxe").c_str(), 0700), 0);
  std::ofstream(out + "/.rackboot-gen-abc123/ipxe/half") << "hal";
  ASSERT_TRUE(WriteOutputFiles(out, {{"ipxe/a.ipxe", "x", false}}).ok());
  EXPECT_EQ(List(out), std::vector<std::string>{"ipxe"});
}

TEST(OutputWriterTest, RemovesStaleInstallDirectoriesOnly) {
  const std::string out = TempDir();
  ASSERT_TRUE(
      WriteOutputFiles(
          out, {{std::string("install/") + kToken + "/ks.cfg", "a", true},
                {std::string("install/") + kOldToken + "/user-data", "b", true},
                {std::string("install/") + kOldToken + "/meta-data", "c", true},
                {"install/README", "operator's", false}})
          .ok());
  absl::StatusOr<std::vector<std::string>> removed =
      RemoveStaleInstallDirs(out, {kToken});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, std::vector<std::string>{"install/fedcba\u2026"});
  std::vector<std::string> left = List(out + "/install");
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{kToken, "README"}));
  // A token directory holding a directory is not gen's: left, and said.
  ASSERT_EQ(mkdir((out + "/install/" + kOldToken).c_str(), 0700), 0);
  ASSERT_EQ(mkdir((out + "/install/" + kOldToken + "/sub").c_str(), 0700), 0);
  removed = RemoveStaleInstallDirs(out, {kToken});
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.status().message().find("other than files"),
            std::string::npos);
  EXPECT_EQ(removed.status().message().find(kOldToken), std::string::npos)
      << "the whole token printed: " << removed.status();
  // No install/ at all: nothing to do.
  removed = RemoveStaleInstallDirs(TempDir(), {});
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(removed->empty());
}

TEST(OutputWriterTest, NamesHostFilesThisRunDidNotWrite) {
  const std::string out = TempDir();
  ASSERT_TRUE(WriteOutputFiles(out, HostFiles()).ok());
  ASSERT_TRUE(
      WriteOutputFiles(out, {{"pxelinux.cfg/01-52-54-00-00-00-09", "x", false},
                             {"pxelinux.cfg/default", "x", false},
                             {"grub/grub.cfg", "x", false},
                             {"ipxe/01-52-54-00-00-00-09.ipxe", "x", false}})
          .ok());
  std::set<std::string> written;
  for (const OutputFile& f : HostFiles()) written.insert(f.path);
  EXPECT_EQ(UnwrittenHostFiles(out, written),
            (std::vector<std::string>{"ipxe/01-52-54-00-00-00-09.ipxe",
                                      "pxelinux.cfg/01-52-54-00-00-00-09"}));
  EXPECT_TRUE(UnwrittenHostFiles(TempDir(), written).empty());
}

TEST(OutputWriterTest, RedactsTokensInPaths) {
  EXPECT_EQ(RedactedPath(std::string("install/") + kToken + "/ks.cfg"),
            "install/012345\u2026/ks.cfg");
  EXPECT_EQ(RedactedPath("pxelinux.cfg/01-aa"), "pxelinux.cfg/01-aa");
  EXPECT_EQ(RedactedPath("install/notatoken/x"), "install/notatoken/x");
  EXPECT_TRUE(IsToken(kToken));
  EXPECT_FALSE(IsToken("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(IsToken("0123"));
}

}  // namespace
}  // namespace rackboot::gen
