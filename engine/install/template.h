// Template and TemplateValues: the one Mustache renderer behind every boot
// menu and install file (the daemon's live answers and `rackboot gen`).
//
// Built on kainjow mustache (Debian's libkainjow-mustache-dev), with stricter
// rules than Mustache's, because what is rendered ends up on kernel command
// lines, in shell snippets and in installer answer files:
//   - a value may not hold a control character (newline included) or a
//     non-ASCII byte: TemplateValues::Set refuses it, so a value cannot add a
//     line or a command; values are not HTML-escaped (they are already
//     restricted);
//   - every variable and section must name a value the render has (or "."
//     inside a list section): a missing value is an error that names the
//     template, the line and the key, never an empty string;
//   - partials ({{>x}}) and delimiter changes ({{=<% %>=}}) are refused: a
//     template cannot read other files, and its tags are always {{ }};
//   - a section over a string renders when the string is not empty (kainjow
//     alone would render it for "" too).
// Template is immutable after Parse: any thread may Render concurrently (each
// Render uses its own kainjow renderer). TemplateValues is a plain value type
// owned by the caller of one render.
#ifndef RACKBOOT_ENGINE_INSTALL_TEMPLATE_H_
#define RACKBOOT_ENGINE_INSTALL_TEMPLATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace rackboot::install {

// Values one render sees. Keys are [A-Za-z0-9_-]+.
class TemplateValues {
 public:
  // Refuse (InvalidArgument naming the key) a value with a control character
  // (< 0x20 or 0x7f, newline included) or a non-ASCII byte, and a bad key.
  absl::Status Set(absl::string_view key, absl::string_view value);
  // {{#key}}..{{/key}}, {{^key}}..{{/key}}.
  void SetBool(absl::string_view key, bool value);
  // {{#key}}{{.}}{{/key}}; every item checked as Set checks a value.
  absl::Status SetList(absl::string_view key,
                       const std::vector<std::string>& items);

  bool Has(absl::string_view key) const;
  // The string value of `key`; nullopt for a bool, a list or no value.
  absl::optional<std::string> Get(absl::string_view key) const;
  absl::optional<bool> GetBool(absl::string_view key) const;
  absl::optional<std::vector<std::string>> GetList(absl::string_view key) const;

  enum class Kind { kString, kBool, kList };
  struct Value {
    Kind kind = Kind::kString;
    std::string text;                // kString
    bool flag = false;               // kBool
    std::vector<std::string> items;  // kList
  };
  const std::map<std::string, Value, std::less<>>& values() const {
    return values_;
  }

 private:
  std::map<std::string, Value, std::less<>> values_;
};

// Whether `text` may be a value: printable ASCII (0x20..0x7e) only.
bool IsSafeValue(absl::string_view text);

class Template {
 public:
  // Templates larger than this are refused by Parse.
  static constexpr size_t kMaxTemplateBytes = 1 << 20;

  // `name` names the template in errors ("builtin:pxelinux.cfg" or a file
  // path). Syntax errors: InvalidArgument "<name>:<line>: <what>".
  static absl::StatusOr<Template> Parse(std::string name, std::string text);

  // Every variable and section must name a value (or "." inside a list):
  // otherwise InvalidArgument "<name>:<line>: {{<key>}}: no such value".
  // A variable naming a bool or a list, or "." outside a list, is an error
  // of the same shape. No HTML escaping.
  absl::StatusOr<std::string> Render(const TemplateValues& values) const;

  const std::string& name() const { return name_; }

  // One tag of the template, in source order (for the render-time check).
  enum class TagKind { kVariable, kSection, kInverted, kEnd };
  struct Tag {
    TagKind kind;
    std::string key;
    int line;
  };

 private:
  Template() = default;

  std::string name_;
  std::vector<Tag> tags_;
  // The text kainjow renders: the source with every tag normalized (sections
  // renamed "<key>?" so a string section can mean "not empty").
  std::string kainjow_text_;
};

// The built-in template engine/install/templates/<file_name>.mustache, embedded
// at build time ("pxelinux.cfg", "preseed.cfg" ...); empty when there is none.
absl::string_view BuiltinTemplate(absl::string_view file_name);
// The names of every built-in template, sorted.
std::vector<std::string> BuiltinTemplateNames();

}  // namespace rackboot::install

#endif  // RACKBOOT_ENGINE_INSTALL_TEMPLATE_H_
