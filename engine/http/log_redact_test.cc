// RedactTokens and RedactHexRuns: what a log line keeps of an install token.
#include "engine/http/log_redact.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"
#include "gtest/gtest.h"

namespace rackboot::http {
namespace {

constexpr absl::string_view kToken = "0123456789abcdef0123456789abcdef";

std::string Cut() { return absl::StrCat("012345", kRedactedMark); }

TEST(RedactTokensTest, InstallPathKeepsSixCharactersAndTheFile) {
  EXPECT_EQ(RedactTokens(
                absl::StrCat("GET \"/install/", kToken, "/preseed.cfg\" 200")),
            absl::StrCat("GET \"/install/", Cut(), "/preseed.cfg\" 200"));
  EXPECT_EQ(RedactTokens(absl::StrCat("/install/", kToken)),
            absl::StrCat("/install/", Cut()));
  EXPECT_EQ(RedactTokens(absl::StrCat("/install/", kToken, "?x")),
            absl::StrCat("/install/", Cut(), "?x"));
  // Any case, encoded slashes, anywhere in the line.
  EXPECT_EQ(RedactTokens(absl::StrCat("/boot/../InStAlL/", kToken, "/x")),
            absl::StrCat("/boot/../InStAlL/", Cut(), "/x"));
  EXPECT_EQ(RedactTokens(absl::StrCat("/install%2F", kToken, "%2fks.cfg")),
            absl::StrCat("/install%2F", Cut(), "%2fks.cfg"));
}

// A token anywhere further down an install path is cut too, not only the
// segment right after "install/": a client may repeat it behind a dot
// segment (found by tests/install/safety_matrix_test.sh: the 400 "dot
// segment in path" line carried the second copy whole).
TEST(RedactTokensTest, EveryTokenOfAnInstallPath) {
  EXPECT_EQ(RedactTokens(absl::StrCat("GET \"/install/", kToken, "/%2e%2e/",
                                      kToken, "/preseed.cfg\" 400")),
            absl::StrCat("GET \"/install/", Cut(), "/%2e%2e/", Cut(),
                         "/preseed.cfg\" 400"));
  EXPECT_EQ(RedactTokens(
                absl::StrCat("/install/", kToken, "/../", kToken, "/ks.cfg")),
            absl::StrCat("/install/", Cut(), "/../", Cut(), "/ks.cfg"));
  // Outside the quoted install path, hex runs stay (a /repo/ by-hash name).
  const std::string repo = absl::StrCat("\"/repo/by-hash/", kToken, "\"");
  EXPECT_EQ(RedactTokens(absl::StrCat("GET \"/install/x\" then ", repo)),
            absl::StrCat("GET \"/install/x\" then ", repo));
}

TEST(RedactTokensTest, TokenParameter) {
  EXPECT_EQ(RedactTokens(absl::StrCat("/api/v1/hosts/a/log?token=", kToken)),
            absl::StrCat("/api/v1/hosts/a/log?token=", Cut()));
  EXPECT_EQ(RedactTokens(absl::StrCat("?a=1&TOKEN=", kToken, "&b=2")),
            absl::StrCat("?a=1&TOKEN=", Cut(), "&b=2"));
}

TEST(RedactTokensTest, ShortValuesAndOtherTextStay) {
  EXPECT_EQ(RedactTokens("/install/"), "/install/");
  EXPECT_EQ(RedactTokens("/install/abc/ks.cfg"), "/install/abc/ks.cfg");
  EXPECT_EQ(RedactTokens("token=123456"), "token=123456");
  const std::string repo =
      absl::StrCat("/repo/by-hash/SHA256/", kToken, kToken);
  EXPECT_EQ(RedactTokens(repo), repo);
}

// Escaped client text: an escape sequence ends the segment, and what follows
// it is not mistaken for more token.
TEST(RedactTokensTest, EscapedText) {
  const std::string line = log::Quoted(absl::StrCat("/install/", kToken, "\n"));
  EXPECT_EQ(RedactTokens(line), absl::StrCat("\"/install/", Cut(), "\\x0a\""));
}

TEST(RedactHexRunsTest, LongRunsOnly) {
  EXPECT_EQ(RedactHexRuns(absl::StrCat("token ", kToken, " expired")),
            absl::StrCat("token ", Cut(), " expired"));
  EXPECT_EQ(RedactHexRuns("198.18.0.21 deadbeef"), "198.18.0.21 deadbeef");
  EXPECT_EQ(RedactHexRuns(std::string(31, 'a')), std::string(31, 'a'));
}

}  // namespace
}  // namespace rackboot::http
