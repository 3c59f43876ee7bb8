#include "engine/log/log_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rackboot::log {
namespace {

// A real file's descriptor, and its "dev:ino" as systemd would write it.
class JournalStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TEST_TMPDIR");
    path_ = absl::StrCat(dir != nullptr ? dir : "/tmp", "/stream");
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd_, 0);
    struct stat st;
    ASSERT_EQ(fstat(fd_, &st), 0);
    dev_ = static_cast<uint64_t>(st.st_dev);
    ino_ = static_cast<uint64_t>(st.st_ino);
    stream_ = absl::StrCat(dev_, ":", ino_);
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
  }
  std::string path_;
  int fd_ = -1;
  uint64_t dev_ = 0, ino_ = 0;
  std::string stream_;
};

TEST_F(JournalStreamTest, MatchesItsOwnStream) {
  EXPECT_TRUE(IsJournalStream(stream_.c_str(), fd_));
}

// Another file: the inode differs (a process whose stderr a test or a shell
// redirected while JOURNAL_STREAM stayed in its environment).
TEST_F(JournalStreamTest, AnotherFileDoesNotMatch) {
  const std::string other = path_ + ".other";
  const int fd = open(other.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(IsJournalStream(stream_.c_str(), fd));
  close(fd);
  unlink(other.c_str());
  EXPECT_FALSE(IsJournalStream(absl::StrCat(dev_, ":", ino_ + 1).c_str(), fd_));
  EXPECT_FALSE(IsJournalStream(absl::StrCat(dev_ + 1, ":", ino_).c_str(), fd_));
}

TEST_F(JournalStreamTest, MalformedValuesDoNotMatch) {
  for (const std::string& bad :
       {std::string(), std::string(":"), absl::StrCat(dev_),
        absl::StrCat(dev_, ":"), absl::StrCat(":", ino_),
        absl::StrCat(dev_, ":", ino_, ":1"), absl::StrCat(dev_, ":+", ino_),
        absl::StrCat(" ", dev_, ":", ino_), absl::StrCat(dev_, ":", ino_, " "),
        absl::StrCat(dev_, ":", ino_, "x"), absl::StrCat("-", dev_, ":", ino_),
        std::string("99999999999999999999999:1")}) {
    EXPECT_FALSE(IsJournalStream(bad.c_str(), fd_)) << "'" << bad << "'";
  }
  EXPECT_FALSE(IsJournalStream(nullptr, fd_));
  EXPECT_FALSE(IsJournalStream(stream_.c_str(), -1));  // fstat fails
}

TEST_F(JournalStreamTest, ChooseLogFormat) {
  EXPECT_EQ(*ChooseLogFormat("auto", stream_.c_str(), fd_),
            LogFormat::kJournal);
  EXPECT_EQ(*ChooseLogFormat("auto", nullptr, fd_), LogFormat::kGlog);
  EXPECT_EQ(*ChooseLogFormat("auto", "1:2", fd_), LogFormat::kGlog);
  // Forced, whatever stderr is.
  EXPECT_EQ(*ChooseLogFormat("journal", nullptr, fd_), LogFormat::kJournal);
  EXPECT_EQ(*ChooseLogFormat("glog", stream_.c_str(), fd_), LogFormat::kGlog);
}

TEST(LogFormatTest, BadValuesNameTheFlagAndTheChoices) {
  for (const char* bad : {"", "Journal", "syslog", "glog ", "auto\n"}) {
    absl::StatusOr<LogFormat> format = ChooseLogFormat(bad, nullptr, 2);
    ASSERT_FALSE(format.ok()) << bad;
    EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(format.status().message().find("--log_format="),
              std::string::npos);
    EXPECT_NE(format.status().message().find("'auto'"), std::string::npos);
  }
  // A long value is cut in the message.
  const std::string huge(10000, 'z');
  absl::StatusOr<LogFormat> format = ChooseLogFormat(huge, nullptr, 2);
  ASSERT_FALSE(format.ok());
  EXPECT_LT(format.status().message().size(), 200u);
}

TEST(LogFormatTest, GlogUntilSetUp) {
  EXPECT_EQ(ActiveLogFormat(), LogFormat::kGlog);
}

}  // namespace
}  // namespace rackboot::log
