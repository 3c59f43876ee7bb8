#include "engine/files/file_root.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rackboot {
namespace {

namespace fs = std::filesystem;

// A temporary tree: <base>/root is the file root; <base>/secret lies outside
// it.
class FileRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/file_root_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_dir_ = base_ / "root";
    fs::create_directories(root_dir_ / "pxelinux.cfg");
    Write(root_dir_ / "pxelinux.0", "loader");
    Write(root_dir_ / "pxelinux.cfg" / "default", "menu");
    Write(base_ / "secret", "outside");
    fs::create_symlink("pxelinux.0", root_dir_ / "inside-link");
    fs::create_symlink("../secret", root_dir_ / "relative-escape");
    fs::create_symlink((base_ / "secret").string(),
                       root_dir_ / "absolute-escape");
    ASSERT_EQ(mkfifo((root_dir_ / "fifo").c_str(), 0644), 0);
    auto root = FileRoot::Open(root_dir_.string());
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::make_unique<FileRoot>(*std::move(root));
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const fs::path& path, const std::string& contents) {
    std::ofstream(path) << contents;
  }
  std::string Read(absl::string_view name) {
    auto file = root_->OpenFile(name);
    EXPECT_TRUE(file.ok()) << name << ": " << file.status();
    if (!file.ok()) return "";
    char buf[64];
    ssize_t n = read(file->fd.get(), buf, sizeof(buf));
    return std::string(buf, n > 0 ? n : 0);
  }

  fs::path base_;
  fs::path root_dir_;
  std::unique_ptr<FileRoot> root_;
};

TEST_F(FileRootTest, OpensFilesBeneathTheRoot) {
  EXPECT_EQ(Read("pxelinux.0"), "loader");
  EXPECT_EQ(Read("pxelinux.cfg/default"), "menu");
  EXPECT_EQ(Read("inside-link"), "loader");
}

TEST_F(FileRootTest, NormalizesNamesAsOtherServersDo) {
  EXPECT_EQ(Read("/pxelinux.0"), "loader");
  EXPECT_EQ(Read("//pxelinux.cfg//default"), "menu");
  EXPECT_EQ(Read("pxelinux.cfg\\default"), "menu");
  EXPECT_EQ(Read("\\pxelinux.cfg\\default"), "menu");
  EXPECT_EQ(Read(root_dir_.string() + "/pxelinux.0"), "loader");
  auto file = root_->OpenFile("pxelinux.cfg/default");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->relative_path, "pxelinux.cfg/default");
}

TEST_F(FileRootTest, RefusesEverythingThatLeadsOutside) {
  for (const char* name : {"../secret", "pxelinux.cfg/../../secret",
                           "..\\secret", "relative-escape", "absolute-escape",
                           "pxelinux.cfg/../../root/pxelinux.0"}) {
    auto file = root_->OpenFile(name);
    ASSERT_FALSE(file.ok()) << name;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied)
        << name << ": " << file.status();
  }
  // An absolute name is taken beneath the root, never from the host's /.
  auto etc = root_->OpenFile((base_ / "secret").string());
  ASSERT_FALSE(etc.ok());
  EXPECT_EQ(etc.status().code(), absl::StatusCode::kNotFound) << etc.status();
  EXPECT_FALSE(root_->OpenFile("/etc/passwd").ok());
}

TEST_F(FileRootTest, RefusesNonRegularFiles) {
  for (const char* name : {"pxelinux.cfg", "fifo", "."}) {
    auto file = root_->OpenFile(name);
    ASSERT_FALSE(file.ok()) << name;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition)
        << name << ": " << file.status();
    EXPECT_NE(file.status().message().find("not a regular file"),
              absl::string_view::npos);
  }
}

TEST_F(FileRootTest, ReportsMissingFilesAndBadNames) {
  auto missing = root_->OpenFile("no-such-file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no-such-file"),
            absl::string_view::npos);
  EXPECT_EQ(root_->OpenFile("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(root_->OpenFile("/").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(root_->OpenFile(absl::string_view("a\0b", 3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(root_->OpenFile(std::string(65536, 'a')).ok());
}

// Out of descriptors is not the file's fault: TFTP must answer "Server busy"
// (ERROR 0), not "Access violation" as it did during the attack of issue 11.
TEST_F(FileRootTest, OutOfDescriptorsIsResourceExhausted) {
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Fill the descriptor table up to a low soft limit.
  std::vector<int> held;
  struct rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  for (;;) {
    int fd = dup(0);
    if (fd < 0) break;
    held.push_back(fd);
  }
  auto file = root_->OpenFile("pxelinux.0");
  const absl::StatusCode code = file.status().code();
  for (int fd : held) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(code, absl::StatusCode::kResourceExhausted) << file.status();
}

// Under systemd's RestrictSUIDSGID=yes every openat2 fails with ENOSYS (the
// filter cannot read the mode inside struct open_how). The error must name the
// cause: rackbootd.service once shipped with that setting and refused to start
// with only "Function not implemented". The filter is installed in a child, so
// the test process keeps its openat2.
TEST_F(FileRootTest, OpenAt2BlockedBySeccompNamesTheCause) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {
        static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])),
        filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      _exit(2);
    }
    auto file = root_->OpenFile("pxelinux.0");
    const std::string message =
        file.ok() ? "opened" : std::string(file.status().message());
    (void)!write(pipe_fds[1], message.data(), message.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string message;
  char buf[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) message.append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child could not install its seccomp filter: " << status;
  EXPECT_NE(message.find("Function not implemented"), std::string::npos)
      << message;
  EXPECT_NE(message.find("RestrictSUIDSGID"), std::string::npos) << message;
}

TEST(FileRootOpenTest, RootMustBeADirectory) {
  auto missing = FileRoot::Open("/nonexistent/rackboot/root");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/rackboot/root"),
            absl::string_view::npos);
  EXPECT_FALSE(FileRoot::Open("/etc/hostname").ok());
}

}  // namespace
}  // namespace rackboot
