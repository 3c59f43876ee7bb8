#include "engine/install/template.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rackboot::install {
namespace {

using ::testing::HasSubstr;

std::string RenderOk(absl::string_view text, const TemplateValues& values) {
  auto t = Template::Parse("t.mustache", std::string(text));
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return "";
  auto out = t->Render(values);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

std::string ParseError(absl::string_view text) {
  auto t = Template::Parse("t.mustache", std::string(text));
  EXPECT_FALSE(t.ok());
  return t.ok() ? "" : std::string(t.status().message());
}

std::string RenderError(absl::string_view text, const TemplateValues& values) {
  auto t = Template::Parse("t.mustache", std::string(text));
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return "";
  auto out = t->Render(values);
  EXPECT_FALSE(out.ok()) << *out;
  return out.ok() ? "" : std::string(out.status().message());
}

TEST(TemplateTest, RendersVariablesWithoutHtmlEscaping) {
  TemplateValues v;
  ASSERT_TRUE(v.Set("args", "a=<b> & 'c' \"d\"").ok());
  EXPECT_EQ(RenderOk("x {{args}} {{{args}}} {{&args}} {{ args }}\n", v),
            "x a=<b> & 'c' \"d\" a=<b> & 'c' \"d\" a=<b> & 'c' \"d\" "
            "a=<b> & 'c' \"d\"\n");
}

TEST(TemplateTest, SyntaxErrorsNameTemplateAndLine) {
  EXPECT_EQ(ParseError("ok\nok\na {{hostname\n"),
            "t.mustache:3: unclosed tag: \"{{\" without \"}}\"");
  EXPECT_EQ(ParseError("{{#a}}\n\n{{/b}}\n"),
            "t.mustache:3: {{/b}} closes {{#a}} opened at line 1");
  EXPECT_EQ(ParseError("x\n{{/b}}\n"),
            "t.mustache:2: {{/b}} closes no open section");
  EXPECT_EQ(ParseError("x\n\n{{#a}}\n"),
            "t.mustache:3: {{#a}} is never closed");
  EXPECT_EQ(ParseError("{{}}"), "t.mustache:1: empty tag {{}}");
  EXPECT_THAT(ParseError("\n{{a b}}"), HasSubstr("t.mustache:2: bad tag"));
  EXPECT_THAT(ParseError("{{a.b}}"), HasSubstr("t.mustache:1: bad tag"));
  EXPECT_THAT(ParseError("{{#.}}{{/.}}"), HasSubstr("t.mustache:1: bad tag"));
}

TEST(TemplateTest, RefusesPartialsAndDelimiterChanges) {
  EXPECT_THAT(ParseError("a\n{{>other}}\n"),
              HasSubstr("t.mustache:2: partials"));
  EXPECT_THAT(ParseError("a\nb\n{{=<% %>=}}\n<%x%>"),
              HasSubstr("t.mustache:3: delimiter changes"));
}

TEST(TemplateTest, MissingValueNamesTemplateLineAndKey) {
  TemplateValues v;
  ASSERT_TRUE(v.Set("hostname", "web01").ok());
  v.SetBool("armed", true);
  EXPECT_EQ(
      RenderError("{{hostname}}\n{{#armed}}\n  {{token}}\n{{/armed}}\n", v),
      "t.mustache:3: {{token}}: no such value");
  // Even inside a section that does not render: a typo is caught before it
  // matters.
  v.SetBool("armed", false);
  EXPECT_EQ(RenderError("{{#armed}}{{token}}{{/armed}}", v),
            "t.mustache:1: {{token}}: no such value");
  EXPECT_EQ(RenderError("a\n{{#nope}}x{{/nope}}", v),
            "t.mustache:2: {{nope}}: no such value");
  EXPECT_EQ(RenderError("a\n{{^nope}}x{{/nope}}", v),
            "t.mustache:2: {{nope}}: no such value");
}

TEST(TemplateTest, WrongKindsAreErrors) {
  TemplateValues v;
  v.SetBool("armed", true);
  ASSERT_TRUE(v.SetList("dns", {"198.18.0.1"}).ok());
  EXPECT_THAT(RenderError("{{armed}}", v),
              HasSubstr("t.mustache:1: {{armed}}: a bool"));
  EXPECT_THAT(RenderError("\n{{dns}}", v),
              HasSubstr("t.mustache:2: {{dns}}: a list"));
  EXPECT_THAT(RenderError("{{.}}", v),
              HasSubstr("t.mustache:1: {{.}}: \".\" outside a list"));
  EXPECT_THAT(RenderError("{{#armed}}{{.}}{{/armed}}", v),
              HasSubstr("{{.}}: \".\" outside a list"));
  EXPECT_THAT(RenderError("{{^dns}}{{.}}{{/dns}}", v),
              HasSubstr("{{.}}: \".\" outside a list"));
}

TEST(TemplateTest, ValuesWithControlCharactersAreRefused) {
  TemplateValues v;
  for (absl::string_view bad :
       {absl::string_view("a\nb"), absl::string_view("a\rb"),
        absl::string_view("tab\there"), absl::string_view("del\x7f"),
        absl::string_view("nul\0x", 5), absl::string_view("caf\xc3\xa9")}) {
    absl::Status s = v.Set("hostname", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("hostname"));
    EXPECT_FALSE(v.Has("hostname"));
    s = v.SetList("dns", {"ok", std::string(bad)});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("dns"));
    EXPECT_FALSE(v.Has("dns"));
  }
  EXPECT_FALSE(v.Set("bad key", "x").ok());
  EXPECT_FALSE(v.Set("", "x").ok());
  // Shell metacharacters are printable: the config checks them per key;
  // the engine only guarantees a value stays on its line.
  EXPECT_TRUE(v.Set("hostname", "a;b $(c) `d`").ok());
  EXPECT_EQ(v.Get("hostname"), "a;b $(c) `d`");
}

TEST(TemplateTest, ListsBoolsAndInvertedSections) {
  TemplateValues v;
  ASSERT_TRUE(v.SetList("dns", {"198.18.0.1", "198.18.0.2"}).ok());
  ASSERT_TRUE(v.SetList("none", {}).ok());
  ASSERT_TRUE(v.Set("hostname", "web01").ok());
  ASSERT_TRUE(v.Set("empty", "").ok());
  v.SetBool("yes", true);
  v.SetBool("no", false);
  EXPECT_EQ(RenderOk("{{#dns}}nameserver {{.}} ({{hostname}})\n{{/dns}}", v),
            "nameserver 198.18.0.1 (web01)\nnameserver 198.18.0.2 (web01)\n");
  // Standalone section lines leave no blank line.
  EXPECT_EQ(RenderOk("a\n{{#dns}}\n- {{.}}\n{{/dns}}\nb\n", v),
            "a\n- 198.18.0.1\n- 198.18.0.2\nb\n");
  // ... and so do false ones, inverted ones and comments.
  EXPECT_EQ(RenderOk("a\n  {{#no}}\nX\n  {{/no}}  \n{{^yes}}\nY\n{{/yes}}\r\n"
                     "{{! note }}\n{{#yes}}\nZ\n{{/yes}}",
                     v),
            "a\nZ\n");
  // kainjow drops a line whose only output is whitespace from a section that
  // rendered, and keeps the line of a false section that shared its line.
  EXPECT_EQ(RenderOk("{{#no}}x{{/no}}\n{{#yes}} {{/yes}}\n", v), "\n");
  EXPECT_EQ(RenderOk("{{#none}}x{{/none}}{{^none}}empty{{/none}}", v), "empty");
  EXPECT_EQ(RenderOk("{{#yes}}Y{{/yes}}{{^yes}}y{{/yes}}{{#no}}N{{/no}}"
                     "{{^no}}n{{/no}}",
                     v),
            "Yn");
  // A string section renders when the string is not empty.
  EXPECT_EQ(RenderOk("{{#hostname}}[{{hostname}}]{{/hostname}}"
                     "{{#empty}}E{{/empty}}{{^empty}}e{{/empty}}",
                     v),
            "[web01]e");
  // "." is the innermost section's item: inside a bool or inverted section
  // it would render nothing, so it is an error.
  EXPECT_THAT(RenderError("{{#dns}}{{#yes}}{{.}};{{/yes}}{{/dns}}", v),
              HasSubstr("outside a list"));
  EXPECT_THAT(RenderError("{{#dns}}{{^no}}{{.}};{{/no}}{{/dns}}", v),
              HasSubstr("outside a list"));
  EXPECT_EQ(RenderOk("{{#dns}}{{#yes}}{{hostname}}{{/yes}}{{/dns}}", v),
            "web01web01");
  EXPECT_EQ(RenderOk("a{{! a comment }}b", v), "ab");
}

TEST(TemplateTest, RendersConcurrentlyTheSameBytes) {
  TemplateValues v;
  ASSERT_TRUE(v.Set("hostname", "web01").ok());
  auto t = Template::Parse("t", "host {{hostname}}\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->Render(v), "host web01\n");
  EXPECT_EQ(*t->Render(v), "host web01\n");
  EXPECT_EQ(t->name(), "t");
}

TEST(TemplateTest, RefusesOversizedTemplates) {
  std::string big(Template::kMaxTemplateBytes + 1, 'a');
  EXPECT_FALSE(Template::Parse("big", big).ok());
}

}  // namespace
}  // namespace rackboot::install
