#include "engine/os/privileges.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace rackboot::os {
namespace {

std::string TempDir() {
  std::string pattern =
      std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR")
                                             : "/tmp") +
      "/priv.XXXXXX";
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  return pattern;
}

TEST(PrivilegesTest, UnknownUserSaysWhatToDo) {
  absl::StatusOr<UserIds> user = LookUpUser("no-such-user-rackboot");
  ASSERT_FALSE(user.ok());
  EXPECT_NE(user.status().message().find("useradd"), std::string::npos);
}

TEST(PrivilegesTest, ReadableCheckFollowsModeBits) {
  absl::StatusOr<UserIds> nobody = LookUpUser("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  const std::string dir = TempDir();  // mkdtemp: 0700, root's
  if (geteuid() == 0) {
    absl::Status closed = CheckReadableBy(dir, *nobody);
    EXPECT_EQ(closed.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_NE(closed.message().find("chmod o+rx"), std::string::npos);
    EXPECT_NE(closed.message().find(dir), std::string::npos);
  }
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  EXPECT_TRUE(CheckReadableBy(dir, *nobody).ok());
}

// In a child process (the drop is irreversible): after the drop every thread,
// including one started before it, is nobody, has no capabilities, cannot
// regain root, and still writes into a state directory it was given through
// a descriptor opened before, below a path it could not traverse.
TEST(PrivilegesTest, DropReachesEveryThreadAndKeepsOpenDirectories) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  absl::StatusOr<UserIds> nobody = LookUpUser("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  const std::string outer = TempDir();  // 0700: nobody cannot traverse it
  const std::string state = outer + "/state";
  ASSERT_EQ(mkdir(state.c_str(), 0755), 0);
  { std::ofstream(state + "/journal") << "x"; }
  ASSERT_TRUE(GiveDirectoryTo(state, *nobody).ok());
  struct stat st;
  ASSERT_EQ(stat((state + "/journal").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->uid);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int dir_fd = open(state.c_str(), O_RDONLY | O_DIRECTORY);
    uid_t thread_uid = 0;
    bool go = false, done = false;
    std::thread worker([&] {
      while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) usleep(1000);
      thread_uid = geteuid();
      __atomic_store_n(&done, true, __ATOMIC_RELEASE);
    });
    if (!DropPrivileges(*nobody).ok()) _exit(10);
    __atomic_store_n(&go, true, __ATOMIC_RELEASE);
    worker.join();
    if (thread_uid != nobody->uid) _exit(11);
    if (setuid(0) == 0) _exit(12);
    std::ifstream status_file("/proc/self/status");
    std::string line;
    bool no_caps = false;
    while (std::getline(status_file, line)) {
      if (line.rfind("CapPrm:", 0) == 0) {
        no_caps = line.find_first_not_of("0\t ", 7) == std::string::npos;
      }
    }
    if (!no_caps) _exit(13);
    if (open(state.c_str(), O_RDONLY | O_DIRECTORY) >= 0) _exit(14);
    const int fd = openat(dir_fd, "new", O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || write(fd, "y", 1) != 1) _exit(15);
    if (renameat(dir_fd, "new", dir_fd, "journal") != 0) _exit(16);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 drop failed, 11 a thread kept its uid, 12 root regained, "
         "13 capability kept, 14 path traversable, 15/16 state dir unusable";
}

}  // namespace
}  // namespace rackboot::os
