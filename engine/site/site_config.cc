#include "engine/site/site_config.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

// toml++ is used header-only (Debian also ships libtomlplusplus.so, built
// with exceptions; header-only lets this one translation unit choose) and
// without exceptions: parse() returns a toml::parse_result holding either the
// table or the error. toml++ puts each configuration in its own inline ABI
// namespace (toml::v3::noex), so other code may include it with exceptions.
// It compiles cleanly with -Wall -Wextra on GCC 12 and clang 14, so no
// warnings are silenced.
//
// toml++ 3.3 (Debian 12) has input-reachable bugs that this file works
// around; both were found by site_config_fuzzer:
//  - Its internal asserts (TOML_ASSERT_ASSUME) fire on malformed input that
//    the code after them handles properly, e.g. "[&" aborts in parse_key();
//    with NDEBUG they become __builtin_assume, i.e. undefined behaviour.
//    So TOML_ASSERT is a no-op here, with NDEBUG undefined around the
//    include so that TOML_ASSERT_ASSUME uses it rather than an assumption.
//  - is_non_ascii_horizontal_whitespace() reaches __builtin_unreachable() for
//    code points U+00A1..U+0499 and U+2C8E..U+3087 (tomlplusplus issues
//    #190 and #295, fixed upstream after 3.3). It is only asked about
//    characters outside strings and comments, and after a backslash in a
//    multi-line basic string; CheckTomlText() rejects every non-ASCII byte
//    first.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#define TOML_ASSERT(expr) static_cast<void>(0)
#pragma push_macro("NDEBUG")
#undef NDEBUG
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

namespace rackboot::site {
namespace {

constexpr size_t kMaxErrors = 50;
constexpr size_t kMaxBootFileName = 255;  // one option 67 (RFC 2132 9.5)
// Bounds of [[profile]] values: each is rendered into kernel command lines
// and answer files, so none may grow without limit.
constexpr size_t kMaxProfiles = 1000;
constexpr size_t kMaxAppend = 2000;
constexpr size_t kMaxSource = 1024;
constexpr size_t kMaxPackages = 1000;
constexpr size_t kMaxPasswordHash = 256;
constexpr size_t kMaxSshKeys = 64;
constexpr size_t kMaxSshKey = 2048;
constexpr size_t kMaxTemplatePath = 4096;
constexpr size_t kMaxDiskPath = 255;

absl::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

bool HasControlChar(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

uint32_t MaskOf(int prefix_length) {
  return prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
}

// "198.18.0.0/16".
absl::Status ParseCidr(absl::string_view text, Subnet& out) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "expected address/prefix-length, e.g. 198.18.0.0/16");
  }
  absl::StatusOr<Ipv4Address> network =
      Ipv4Address::Parse(text.substr(0, slash));
  if (!network.ok()) {
    return absl::InvalidArgumentError("not an IPv4 address before '/'");
  }
  const absl::string_view length_text = text.substr(slash + 1);
  int length = 0;
  if (length_text.empty() || length_text.size() > 2 ||
      !std::all_of(length_text.begin(), length_text.end(),
                   absl::ascii_isdigit) ||
      !absl::SimpleAtoi(length_text, &length) || length > 32) {
    return absl::InvalidArgumentError("prefix length must be 0..32");
  }
  const uint32_t mask = MaskOf(length);
  if ((network->value() & ~mask) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host bits set (did you mean ",
        Ipv4Address(network->value() & mask).ToString(), "/", length, "?)"));
  }
  out.network = *network;
  out.prefix_length = length;
  return absl::OkStatus();
}

// "ip:port", IPv4 only.
absl::Status ParseListenImpl(absl::string_view text, Ipv4Address& address,
                             uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError("expected address:port, e.g. 0.0.0.0:69");
  }
  absl::StatusOr<Ipv4Address> a = Ipv4Address::Parse(text.substr(0, colon));
  if (!a.ok()) {
    return absl::InvalidArgumentError(
        "not an IPv4 address before ':' (expected address:port)");
  }
  const absl::string_view port_text = text.substr(colon + 1);
  int p = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &p) || p < 1 || p > 65535) {
    return absl::InvalidArgumentError("port must be 1..65535");
  }
  address = *a;
  port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

// Rejects every non-ASCII byte before toml++ 3.3 sees the text. Its scanner
// reaches __builtin_unreachable() (undefined behaviour) on some non-ASCII input
// outside strings, and telling "inside a string" from "outside" the way its
// scanner does is not reliably possible from here (libFuzzer found inputs where
// an earlier, finer check and toml++ disagreed). Every value in site.toml is
// ASCII anyway (paths, names, addresses, URLs), so the file must be too,
// comments included.
absl::Status CheckTomlText(absl::string_view text, absl::string_view filename) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    } else if (static_cast<unsigned char>(text[i]) >= 0x80) {
      return absl::InvalidArgumentError(
          absl::StrCat(filename, ":", line, ":", i - line_start + 1,
                       ": syntax error: non-ASCII character; site.toml must "
                       "be plain ASCII, comments included"));
    }
  }
  return absl::OkStatus();
}

std::string ResolvePath(absl::string_view dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(dir, path);
}

std::string QuoteShort(absl::string_view s);

// Collects errors; helpers read typed values out of toml++ tables.
class Parser {
 public:
  explicit Parser(absl::string_view filename) : filename_(filename) {}

  void Error(uint32_t line, absl::string_view key, absl::string_view what) {
    ++error_count_;
    if (errors_.size() >= kMaxErrors) return;
    if (line > 0) {
      errors_.push_back(
          absl::StrCat(filename_, ":", line, ": ", key, ": ", what));
    } else {
      errors_.push_back(absl::StrCat(filename_, ": ", key, ": ", what));
    }
  }
  void Error(const toml::node& node, absl::string_view key,
             absl::string_view what) {
    Error(node.source().begin.line, key, what);
  }

  absl::Status Result() const {
    if (errors_.empty()) return absl::OkStatus();
    std::string message = absl::StrJoin(errors_, "\n");
    if (error_count_ > errors_.size()) {
      absl::StrAppend(&message, "\n", filename_, ": ",
                      error_count_ - errors_.size(), " more errors");
    }
    return absl::InvalidArgumentError(message);
  }

  // Every key of `table` must be in `allowed`.
  void CheckKeys(const toml::table& table, absl::string_view prefix,
                 std::initializer_list<absl::string_view> allowed) {
    for (auto&& [key, node] : table) {
      const absl::string_view name(key.str().data(), key.str().size());
      if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) {
        continue;
      }
      std::string what = "unknown key";
      absl::string_view best;
      int best_distance = 3;  // suggest only close matches
      for (absl::string_view candidate : allowed) {
        const int d = EditDistance(name, candidate);
        if (d < best_distance &&
            d <= std::max(1, static_cast<int>(candidate.size()) / 3)) {
          best_distance = d;
          best = candidate;
        }
      }
      if (!best.empty()) {
        absl::StrAppend(&what, " (did you mean \"", best, "\"?)");
      } else {
        absl::StrAppend(
            &what, " (expected one of: ", absl::StrJoin(allowed, ", "), ")");
      }
      uint32_t line = key.source().begin.line;
      if (line == 0) line = node.source().begin.line;
      Error(line, Join(prefix, name), what);
    }
  }

  static std::string Join(absl::string_view prefix, absl::string_view key) {
    return prefix.empty() ? std::string(key) : absl::StrCat(prefix, ".", key);
  }

  // A sub-table; nullptr if absent or (with an error) not a table.
  const toml::table* Table(const toml::table& parent, absl::string_view prefix,
                           absl::string_view key) {
    const toml::node* node =
        parent.get(std::string_view(key.data(), key.size()));
    if (node == nullptr) return nullptr;
    if (const toml::table* t = node->as_table()) return t;
    Error(*node, Join(prefix, key),
          absl::StrCat("expected a table, got ", TypeName(*node)));
    return nullptr;
  }

  const toml::node* Get(const toml::table& table, absl::string_view key) {
    return table.get(std::string_view(key.data(), key.size()));
  }

  // Each getter leaves `out` unchanged when the key is absent; on a wrong
  // type or value it records an error, leaves `out` unchanged and returns
  // false. Returns true when a value was stored.
  bool String(const toml::table& table, absl::string_view prefix,
              absl::string_view key, std::string& out) {
    const toml::node* node = Get(table, key);
    if (node == nullptr) return false;
    const toml::value<std::string>* v = node->as_string();
    if (v == nullptr) {
      Error(*node, Join(prefix, key),
            absl::StrCat("expected a string, got ", TypeName(*node)));
      return false;
    }
    out = v->get();
    return true;
  }

  bool Int(const toml::table& table, absl::string_view prefix,
           absl::string_view key, int64_t min, int64_t max, int64_t& out) {
    const toml::node* node = Get(table, key);
    if (node == nullptr) return false;
    const toml::value<int64_t>* v = node->as_integer();
    if (v == nullptr) {
      Error(*node, Join(prefix, key),
            absl::StrCat("expected an integer, got ", TypeName(*node)));
      return false;
    }
    const int64_t value = v->get();
    if (value < min || value > max) {
      Error(*node, Join(prefix, key),
            absl::StrCat(value, ": must be ", min, "..", max));
      return false;
    }
    out = value;
    return true;
  }

  bool Int(const toml::table& table, absl::string_view prefix,
           absl::string_view key, int64_t min, int64_t max, int& out) {
    int64_t value = out;
    if (!Int(table, prefix, key, min, max, value)) return false;
    out = static_cast<int>(value);
    return true;
  }

  bool Bool(const toml::table& table, absl::string_view prefix,
            absl::string_view key, bool& out) {
    const toml::node* node = Get(table, key);
    if (node == nullptr) return false;
    const toml::value<bool>* v = node->as_boolean();
    if (v == nullptr) {
      Error(*node, Join(prefix, key),
            absl::StrCat("expected true or false, got ", TypeName(*node)));
      return false;
    }
    out = v->get();
    return true;
  }

  bool Address(const toml::table& table, absl::string_view prefix,
               absl::string_view key, absl::optional<Ipv4Address>& out) {
    std::string text;
    if (!String(table, prefix, key, text)) return false;
    absl::StatusOr<Ipv4Address> a = Ipv4Address::Parse(text);
    if (!a.ok()) {
      Error(*Get(table, key), Join(prefix, key),
            absl::StrCat(Quote(text), ": not an IPv4 address"));
      return false;
    }
    out = *a;
    return true;
  }

  // One of `names` (parallel to `values`).
  template <typename E>
  bool Enum(const toml::table& table, absl::string_view prefix,
            absl::string_view key,
            std::initializer_list<std::pair<absl::string_view, E>> choices,
            E& out) {
    std::string text;
    if (!String(table, prefix, key, text)) return false;
    std::vector<absl::string_view> names;
    for (const auto& [name, value] : choices) {
      if (text == name) {
        out = value;
        return true;
      }
      names.push_back(name);
    }
    std::string expected = "expected ";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) expected += i + 1 == names.size() ? " or " : ", ";
      absl::StrAppend(&expected, names[i]);
    }
    Error(*Get(table, key), Join(prefix, key),
          absl::StrCat(Quote(text), ": ", expected));
    return false;
  }

  // A boot file name: a short string with no control characters.
  bool FileName(const toml::table& table, absl::string_view prefix,
                absl::string_view key, std::string& out) {
    std::string text;
    if (!String(table, prefix, key, text)) return false;
    if (text.size() > kMaxBootFileName) {
      Error(*Get(table, key), Join(prefix, key),
            absl::StrCat(Quote(text.substr(0, 40)), "...: longer than ",
                         kMaxBootFileName, " bytes"));
      return false;
    }
    if (HasControlChar(text)) {
      Error(*Get(table, key), Join(prefix, key),
            absl::StrCat(Quote(text), ": control characters not allowed"));
      return false;
    }
    out = std::move(text);
    return true;
  }

  bool Url(const toml::table& table, absl::string_view prefix,
           absl::string_view key,
           std::initializer_list<absl::string_view> schemes, bool allow_file,
           std::string& out) {
    std::string text;
    if (!FileName(table, prefix, key, text)) return false;
    if (text.empty()) {
      out.clear();
      return true;
    }
    const bool has_scheme = absl::StrContains(text, "://");
    bool ok = !has_scheme && allow_file;
    if (has_scheme) {
      for (absl::string_view scheme : schemes) {
        if (absl::StartsWith(text, absl::StrCat(scheme, "://")) &&
            text.size() > scheme.size() + 3) {
          ok = true;
        }
      }
    }
    if (ok && std::any_of(text.begin(), text.end(), absl::ascii_isspace)) {
      ok = false;
    }
    if (!ok) {
      Error(*Get(table, key), Join(prefix, key),
            absl::StrCat(Quote(text), ": expected a URL (",
                         absl::StrJoin(schemes, "://, "), "://)",
                         allow_file ? " or a file name" : "",
                         ", without spaces"));
      return false;
    }
    out = std::move(text);
    return true;
  }

  // An array of strings at `node` (at most `max`); `problem` says what is
  // wrong with one item ("" when fine). Items are stored only when all are
  // fine; each bad one is an error naming "<key>[<i>]" and its line.
  template <typename Problem>
  void StringList(const toml::node& node, const std::string& key, size_t max,
                  Problem problem, std::vector<std::string>& out) {
    const toml::array* list = node.as_array();
    if (list == nullptr) {
      Error(node, key,
            absl::StrCat("expected an array of strings, got ", TypeName(node)));
      return;
    }
    if (list->size() > max) {
      Error(node, key, absl::StrCat(list->size(), " items: at most ", max));
      return;
    }
    std::vector<std::string> items;
    bool ok = true;
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::node& item = (*list)[i];
      const std::string item_key = absl::StrCat(key, "[", i, "]");
      const toml::value<std::string>* v = item.as_string();
      if (v == nullptr) {
        Error(item, item_key,
              absl::StrCat("expected a string, got ", TypeName(item)));
        ok = false;
        continue;
      }
      if (std::string what = problem(v->get()); !what.empty()) {
        Error(item, item_key, what);
        ok = false;
        continue;
      }
      items.push_back(v->get());
    }
    if (ok) out = std::move(items);
  }

  size_t error_count() const { return error_count_; }

 private:
  std::string filename_;
  std::vector<std::string> errors_;
  size_t error_count_ = 0;
};

void ParseServer(Parser& p, const toml::table& t, ServerConfig& out) {
  constexpr absl::string_view kP = "server";
  p.CheckKeys(t, kP,
              {"interface", "address", "state_dir", "inventory", "user"});
  if (p.String(t, kP, "interface", out.interface)) {
    // IFNAMSIZ is 16 including the NUL; names cannot hold '/' or spaces.
    const std::string& name = out.interface;
    if (name.size() > 15 || name == "." || name == ".." ||
        std::any_of(name.begin(), name.end(), [](char c) {
          return c == '/' || absl::ascii_isspace(c) || c == ':' ||
                 !absl::ascii_isprint(c);
        })) {
      p.Error(*p.Get(t, "interface"), "server.interface",
              absl::StrCat(Quote(name),
                           ": not an interface name (at most 15 printable "
                           "characters, no '/', ':' or spaces)"));
      out.interface.clear();
    }
  }
  p.Address(t, kP, "address", out.address);
  if (p.String(t, kP, "user", out.user) &&
      (out.user.empty() || out.user.size() > 32 ||
       std::any_of(out.user.begin(), out.user.end(), [](char c) {
         return !absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.';
       }))) {
    p.Error(*p.Get(t, "user"), "server.user",
            absl::StrCat(Quote(out.user),
                         ": not a user name (1 to 32 letters, digits, '_', "
                         "'-' or '.')"));
  }
  for (absl::string_view key : {"state_dir", "inventory"}) {
    std::string& field = key == "state_dir" ? out.state_dir : out.inventory;
    if (p.String(t, kP, key, field) &&
        (field.empty() || HasControlChar(field))) {
      p.Error(*p.Get(t, key), Parser::Join(kP, key),
              absl::StrCat(Quote(field),
                           ": expected a non-empty path without control "
                           "characters"));
    }
  }
}

void ParseSubnet(Parser& p, const toml::table& t, const std::string& prefix,
                 Subnet& out) {
  p.CheckKeys(t, prefix, {"cidr", "pool", "router", "dns", "domain"});
  out.line = static_cast<int>(t.source().begin.line);

  std::string cidr;
  if (p.Get(t, "cidr") == nullptr) {
    p.Error(t.source().begin.line, Parser::Join(prefix, "cidr"),
            "required key missing (e.g. cidr = \"198.18.0.0/16\")");
    return;
  }
  if (!p.String(t, prefix, "cidr", cidr)) return;
  if (absl::Status s = ParseCidr(cidr, out); !s.ok()) {
    p.Error(*p.Get(t, "cidr"), Parser::Join(prefix, "cidr"),
            absl::StrCat(Quote(cidr), ": ", s.message()));
    return;
  }

  std::string pool;
  if (p.String(t, prefix, "pool", pool)) {
    const toml::node& node = *p.Get(t, "pool");
    const std::string key = Parser::Join(prefix, "pool");
    const size_t dash = pool.find('-');
    absl::StatusOr<Ipv4Address> first = absl::InvalidArgumentError("");
    absl::StatusOr<Ipv4Address> last = absl::InvalidArgumentError("");
    if (dash != std::string::npos) {
      first = Ipv4Address::Parse(
          absl::StripAsciiWhitespace(absl::string_view(pool).substr(0, dash)));
      last = Ipv4Address::Parse(
          absl::StripAsciiWhitespace(absl::string_view(pool).substr(dash + 1)));
    }
    if (!first.ok() || !last.ok()) {
      p.Error(node, key,
              absl::StrCat(Quote(pool),
                           ": expected first-last, e.g. "
                           "\"198.18.16.0-198.18.255.254\""));
    } else if (*first > *last) {
      p.Error(node, key, absl::StrCat(Quote(pool), ": start after end"));
    } else if (!out.Contains(*first) || !out.Contains(*last)) {
      p.Error(node, key,
              absl::StrCat(Quote(pool), ": not inside ", out.CidrString()));
    } else if (!out.IsHostAddress(*first) || !out.IsHostAddress(*last)) {
      p.Error(
          node, key,
          absl::StrCat(Quote(pool), ": includes the network address ",
                       out.network.ToString(), " or the broadcast address ",
                       out.broadcast().ToString(), " of ", out.CidrString()));
    } else {
      out.pool = Ipv4Range{*first, *last};
    }
  }

  if (p.Address(t, prefix, "router", out.router)) {
    const Ipv4Address r = *out.router;
    const toml::node& node = *p.Get(t, "router");
    const std::string key = Parser::Join(prefix, "router");
    if (!out.Contains(r)) {
      p.Error(
          node, key,
          absl::StrCat(Quote(r.ToString()), ": not inside ", out.CidrString()));
    } else if (!out.IsHostAddress(r)) {
      p.Error(node, key,
              absl::StrCat(Quote(r.ToString()),
                           ": the network or broadcast address of ",
                           out.CidrString()));
    } else if (out.pool && out.pool->Contains(r)) {
      p.Error(node, key,
              absl::StrCat(Quote(r.ToString()), ": inside the pool ",
                           out.pool->ToString(),
                           " (it would be leased to a client)"));
    }
  }

  if (const toml::node* node = p.Get(t, "dns")) {
    const std::string key = Parser::Join(prefix, "dns");
    const toml::array* list = node->as_array();
    if (list == nullptr) {
      p.Error(*node, key,
              absl::StrCat("expected an array of addresses, e.g. "
                           "[\"198.18.0.1\"], got ",
                           TypeName(*node)));
    } else {
      for (size_t i = 0; i < list->size(); ++i) {
        const toml::node& item = (*list)[i];
        const std::string item_key = absl::StrCat(key, "[", i, "]");
        const toml::value<std::string>* s = item.as_string();
        if (s == nullptr) {
          p.Error(item, item_key,
                  absl::StrCat("expected a string, got ", TypeName(item)));
          continue;
        }
        absl::StatusOr<Ipv4Address> a = Ipv4Address::Parse(s->get());
        if (!a.ok()) {
          p.Error(item, item_key,
                  absl::StrCat(Quote(s->get()), ": not an IPv4 address"));
          continue;
        }
        out.dns.push_back(*a);
      }
      if (list->size() > 63) {  // 63 * 4 bytes fit one option
        p.Error(*node, key, "more than 63 addresses");
      }
    }
  }

  if (p.String(t, prefix, "domain", out.domain) && !out.domain.empty()) {
    if (absl::Status s = CheckDnsName(out.domain); !s.ok()) {
      p.Error(*p.Get(t, "domain"), Parser::Join(prefix, "domain"),
              absl::StrCat(Quote(out.domain), ": ", s.message()));
      out.domain.clear();
    }
  }
}

void ParseDhcp(Parser& p, const toml::table& t, DhcpConfig& out) {
  constexpr absl::string_view kP = "dhcp";
  p.CheckKeys(
      t, kP,
      {"mode", "unknown_pxe", "lease_seconds", "offer_seconds",
       "decline_seconds", "allow_other_dhcp", "probe_seconds", "subnet"});
  p.Enum<DhcpMode>(t, kP, "mode",
                   {{"authoritative", DhcpMode::kAuthoritative},
                    {"proxy", DhcpMode::kProxy},
                    {"off", DhcpMode::kOff}},
                   out.mode);
  p.Enum<UnknownPxePolicy>(t, kP, "unknown_pxe",
                           {{"ignore", UnknownPxePolicy::kIgnore},
                            {"localboot", UnknownPxePolicy::kLocalboot},
                            {"discover", UnknownPxePolicy::kDiscover}},
                           out.unknown_pxe);
  p.Int(t, kP, "lease_seconds", 60, 31536000, out.lease_seconds);
  p.Int(t, kP, "offer_seconds", 1, 3600, out.offer_seconds);
  p.Int(t, kP, "decline_seconds", 0, 86400, out.decline_seconds);
  p.Bool(t, kP, "allow_other_dhcp", out.allow_other_dhcp);
  p.Int(t, kP, "probe_seconds", 5, 60, out.probe_seconds);

  if (const toml::node* node = p.Get(t, "subnet")) {
    const toml::array* list = node->as_array();
    if (list == nullptr || !list->is_array_of_tables()) {
      p.Error(*node, "dhcp.subnet",
              absl::StrCat("expected an array of tables ([[dhcp.subnet]]), "
                           "got ",
                           list != nullptr ? "an array of values"
                                           : std::string(TypeName(*node))));
    } else {
      for (size_t i = 0; i < list->size(); ++i) {
        Subnet subnet;
        const size_t errors_before = p.error_count();
        ParseSubnet(p, *(*list)[i].as_table(),
                    absl::StrCat("dhcp.subnet[", i, "]"), subnet);
        if (p.error_count() == errors_before) {
          out.subnets.push_back(std::move(subnet));
        }
      }
    }
  }

  // Subnets must not overlap: an address must select one subnet.
  for (size_t j = 0; j < out.subnets.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      const Subnet& a = out.subnets[i];
      const Subnet& b = out.subnets[j];
      if (a.network <= b.broadcast() && b.network <= a.broadcast()) {
        p.Error(static_cast<uint32_t>(b.line), absl::StrCat("dhcp.subnet"),
                absl::StrCat(b.CidrString(), ": overlaps ", a.CidrString(),
                             " (line ", a.line, ")"));
      }
    }
  }
}

void ParseTftp(Parser& p, const toml::table& t, TftpConfig& out) {
  constexpr absl::string_view kP = "tftp";
  p.CheckKeys(
      t, kP,
      {"root", "listen", "max_blksize", "max_windowsize", "max_timeout_ms",
       "max_transfers", "max_unconfirmed", "max_per_client"});
  if (p.String(t, kP, "root", out.root) && HasControlChar(out.root)) {
    p.Error(*p.Get(t, "root"), "tftp.root",
            absl::StrCat(Quote(out.root), ": control characters not allowed"));
    out.root.clear();
  }
  std::string listen;
  if (p.String(t, kP, "listen", listen)) {
    if (absl::Status s =
            ParseListenImpl(listen, out.listen_address, out.listen_port);
        !s.ok()) {
      p.Error(*p.Get(t, "listen"), "tftp.listen",
              absl::StrCat(Quote(listen), ": ", s.message()));
    } else {
      out.listen = listen;
    }
  }
  p.Int(t, kP, "max_blksize", 8, 65464, out.max_blksize);
  p.Int(t, kP, "max_windowsize", 1, 65535, out.max_windowsize);
  p.Int(t, kP, "max_timeout_ms", 100, 255000, out.max_timeout_ms);
  p.Int(t, kP, "max_transfers", 1, 1048576, out.max_transfers);
  p.Int(t, kP, "max_unconfirmed", 1, 1048576, out.max_unconfirmed);
  p.Int(t, kP, "max_per_client", 0, 65535, out.max_per_client);
}

void ParseHttp(Parser& p, const toml::table& t, HttpConfig& out) {
  constexpr absl::string_view kP = "http";
  p.CheckKeys(t, kP,
              {"listen", "repo_root", "max_connections", "header_timeout_ms",
               "idle_timeout_ms"});
  std::string listen;
  // "" keeps the service off, as if the key were absent.
  if (p.String(t, kP, "listen", listen) && !listen.empty()) {
    if (absl::Status s =
            ParseListenImpl(listen, out.listen_address, out.listen_port);
        !s.ok()) {
      p.Error(*p.Get(t, "listen"), "http.listen",
              absl::StrCat(Quote(listen), ": ", s.message()));
    } else {
      out.listen = listen;
    }
  }
  if (p.String(t, kP, "repo_root", out.repo_root) &&
      HasControlChar(out.repo_root)) {
    p.Error(
        *p.Get(t, "repo_root"), "http.repo_root",
        absl::StrCat(Quote(out.repo_root), ": control characters not allowed"));
    out.repo_root.clear();
  }
  p.Int(t, kP, "max_connections", HttpConfig::kMaxConnectionsMin,
        HttpConfig::kMaxConnectionsMax, out.max_connections);
  p.Int(t, kP, "header_timeout_ms", HttpConfig::kTimeoutMsMin,
        HttpConfig::kTimeoutMsMax, out.header_timeout_ms);
  p.Int(t, kP, "idle_timeout_ms", HttpConfig::kTimeoutMsMin,
        HttpConfig::kTimeoutMsMax, out.idle_timeout_ms);
}

// A duration string ("90s", "10m", "2h", "1h30m") within [min, max].
void ParseDurationKey(Parser& p, const toml::table& t, absl::string_view prefix,
                      absl::string_view key, absl::Duration min,
                      absl::Duration max, absl::Duration& out) {
  std::string text;
  if (!p.String(t, prefix, key, text)) return;
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    p.Error(*p.Get(t, key), Parser::Join(prefix, key),
            absl::StrCat(QuoteShort(text),
                         ": not a duration (e.g. \"90s\", \"10m\", \"2h\")"));
    return;
  }
  if (d < min || d > max) {
    p.Error(
        *p.Get(t, key), Parser::Join(prefix, key),
        absl::StrCat(QuoteShort(text), ": must be ", absl::FormatDuration(min),
                     "..", absl::FormatDuration(max)));
    return;
  }
  out = d;
}

void ParseStatus(Parser& p, const toml::table& t, StatusConfig& out) {
  p.CheckKeys(t, "status", {"stall_dhcp", "stall_booting", "stall_installing"});
  for (auto [key, field] :
       {std::pair{"stall_dhcp", &out.stall_dhcp},
        std::pair{"stall_booting", &out.stall_booting},
        std::pair{"stall_installing", &out.stall_installing}}) {
    ParseDurationKey(p, t, "status", key, StatusConfig::kStallMin,
                     StatusConfig::kStallMax, *field);
  }
}

void ParseInstall(Parser& p, const toml::table& t, InstallConfig& out) {
  p.CheckKeys(t, "install", {"token_ttl"});
  ParseDurationKey(p, t, "install", "token_ttl", InstallConfig::kTokenTtlMin,
                   InstallConfig::kTokenTtlMax, out.token_ttl);
}

void ParseApi(Parser& p, const toml::table& t, ApiConfig& out) {
  constexpr absl::string_view kP = "api";
  p.CheckKeys(t, kP, {"token_file"});
  if (p.String(t, kP, "token_file", out.token_file) &&
      HasControlChar(out.token_file)) {
    p.Error(*p.Get(t, "token_file"), "api.token_file",
            absl::StrCat(Quote(out.token_file),
                         ": control characters not allowed"));
    out.token_file.clear();
  }
}

void ParseBoot(Parser& p, const toml::table& t, BootConfig& out) {
  constexpr absl::string_view kP = "boot";
  p.CheckKeys(t, kP,
              {"bios", "uefi_x64", "uefi_ia32", "arm64", "http_boot_url",
               "ipxe_script", "ipxe_bios", "ipxe_uefi", "uefi_http",
               "menu_prompt", "menu_timeout", "menu"});
  p.FileName(t, kP, "bios", out.bios);
  p.FileName(t, kP, "uefi_x64", out.uefi_x64);
  p.FileName(t, kP, "uefi_ia32", out.uefi_ia32);
  p.FileName(t, kP, "arm64", out.arm64);
  p.Url(t, kP, "http_boot_url", {"http", "https"}, false, out.http_boot_url);
  p.Url(t, kP, "ipxe_script", {"http", "https", "tftp"}, true, out.ipxe_script);
  p.FileName(t, kP, "ipxe_bios", out.ipxe_bios);
  p.FileName(t, kP, "ipxe_uefi", out.ipxe_uefi);
  if (p.FileName(t, kP, "uefi_http", out.uefi_http) && !out.uefi_http.empty()) {
    if (absl::StrContains(out.uefi_http, "://")) {
      p.Error(*p.Get(t, "uefi_http"), "boot.uefi_http",
              absl::StrCat(Quote(out.uefi_http),
                           ": expected a file name beneath tftp.root (a URL "
                           "goes in boot.http_boot_url)"));
      out.uefi_http.clear();
    } else if (!out.http_boot_url.empty()) {
      p.Error(*p.Get(t, "uefi_http"), "boot.uefi_http",
              absl::StrCat(Quote(out.uefi_http),
                           ": set either boot.uefi_http (a file rackbootd "
                           "serves over HTTP) or boot.http_boot_url (a URL), "
                           "not both"));
      out.uefi_http.clear();
    }
  }
  p.Int(t, kP, "menu_timeout", 0, 255, out.menu_timeout);
  for (absl::string_view removed : {"menu_prompt", "menu"}) {
    if (const toml::node* node = p.Get(t, removed)) {
      p.Error(*node, Parser::Join(kP, removed),
              "removed: rackbootd never sent the option 43 PXE menu; every "
              "host now gets a generated pxelinux, GRUB or iPXE menu "
              "(install, local disk, rescue) that waits boot.menu_timeout "
              "seconds (docs/install.md)");
    }
  }
}

// How a value of up to 40 bytes is shown in an error; longer ones are cut
// with "...", so one error line stays readable whatever was pasted.
std::string QuoteShort(absl::string_view s) {
  if (s.size() <= 40) return Quote(s);
  return absl::StrCat(Quote(s.substr(0, 40)), "...");
}

bool AllOf(absl::string_view s, bool (*allowed)(char)) {
  return std::all_of(s.begin(), s.end(), allowed);
}

bool IsPathSegmentChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}
bool IsUrlChar(char c) {
  return absl::ascii_isalnum(c) ||
         absl::string_view("._~:/@%+-").find(c) != absl::string_view::npos;
}
bool IsTimezoneChar(char c) {
  return absl::ascii_isalnum(c) || c == '/' || c == '_' || c == '+' || c == '-';
}
bool IsLocaleChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '@' || c == '-';
}
bool IsKeyboardChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '-';
}
bool IsPackageChar(char c) {
  return absl::ascii_isalnum(c) || c == '+' || c == '.' || c == '_' || c == '-';
}
bool IsCryptChar(char c) {
  // '=' for the "rounds=N" field of SHA-crypt hashes (mkpasswd -R).
  return absl::ascii_isalnum(c) || c == '.' || c == '/' || c == '$' || c == '=';
}
bool IsBase64Char(char c) {
  return absl::ascii_isalnum(c) || c == '+' || c == '/' || c == '=';
}
bool IsKeyCommentChar(char c) {
  return absl::ascii_isalnum(c) || c == '@' || c == '.' || c == '_' ||
         c == '+' || c == '-' || c == ' ';
}

// Characters `append` may not hold although printable: each means something
// to a boot loader's script language (GRUB, iPXE: quotes, variables,
// comments, pipes and redirections), so a kernel argument with one could end
// the command it is rendered into. ';' stays allowed (ds=nocloud-net;s=...):
// the GRUB menu single-quotes words holding it.
constexpr absl::string_view kAppendRefused = "\"'`$\\&|<>#";

// The single-brace placeholders of the old BootRenderer substitution.
constexpr absl::string_view kOldPlaceholders[] = {"hostname", "mac", "ip",
                                                  "server", "profile"};

// `append`: printable ASCII, at most kMaxAppend bytes, none of the
// characters above, no old "{hostname}" placeholder. Empty when fine.
std::string AppendProblem(absl::string_view text) {
  if (text.size() > kMaxAppend) {
    return absl::StrCat(QuoteShort(text), ": longer than ", kMaxAppend,
                        " bytes");
  }
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      return absl::StrCat(QuoteShort(text),
                          ": control characters not allowed (printable ASCII "
                          "only)");
    }
    if (kAppendRefused.find(c) != absl::string_view::npos) {
      return absl::StrCat(QuoteShort(text), ": character ",
                          Quote(absl::string_view(&c, 1)),
                          " not allowed (a kernel argument must not hold any "
                          "of ",
                          kAppendRefused, ")");
    }
  }
  for (absl::string_view name : kOldPlaceholders) {
    const std::string old = absl::StrCat("{", name, "}");
    for (size_t at = text.find(old); at != absl::string_view::npos;
         at = text.find(old, at + 1)) {
      // "{{hostname}}" holds "{hostname}": only a lone brace pair is old.
      const bool doubled = at > 0 && text[at - 1] == '{' &&
                           at + old.size() < text.size() &&
                           text[at + old.size()] == '}';
      if (!doubled) {
        return absl::StrCat(Quote(old),
                            ": placeholders are now Mustache: write {{", name,
                            "}}");
      }
    }
  }
  return "";
}

// `source`: "/repo/<path>" or an http, https or ftp URL. Empty when fine.
std::string SourceProblem(absl::string_view text) {
  if (text.size() > kMaxSource) {
    return absl::StrCat(QuoteShort(text), ": longer than ", kMaxSource,
                        " bytes");
  }
  if (absl::StartsWith(text, "/repo/")) {
    const absl::string_view path = text.substr(6);
    for (absl::string_view segment : absl::StrSplit(path, '/')) {
      if (segment.empty() || segment == "." || segment == ".." ||
          !AllOf(segment, IsPathSegmentChar)) {
        return absl::StrCat(Quote(text),
                            ": expected /repo/<path> with segments of "
                            "[A-Za-z0-9._-] (not empty, \".\" or \"..\")");
      }
    }
    return "";
  }
  for (absl::string_view scheme : {"http://", "https://", "ftp://"}) {
    if (!absl::StartsWith(text, scheme)) continue;
    const absl::string_view rest = text.substr(scheme.size());
    if (rest.empty() || rest.front() == '/' || !AllOf(text, IsUrlChar)) {
      return absl::StrCat(QuoteShort(text),
                          ": expected a URL with a host, of the characters "
                          "[A-Za-z0-9._~:/@%+-] only");
    }
    return "";
  }
  return absl::StrCat(QuoteShort(text),
                      ": expected \"/repo/<path>\" (beneath http.repo_root) "
                      "or an http://, https:// or ftp:// URL");
}

// One authorized_keys line: "<type> <base64> [comment]". Empty when fine.
std::string SshKeyProblem(absl::string_view text) {
  static constexpr absl::string_view kTypes[] = {
      "ssh-ed25519",
      "ssh-rsa",
      "ecdsa-sha2-nistp256",
      "ecdsa-sha2-nistp384",
      "ecdsa-sha2-nistp521",
      "sk-ssh-ed25519@openssh.com",
      "sk-ecdsa-sha2-nistp256@openssh.com"};
  if (text.size() > kMaxSshKey) {
    return absl::StrCat(QuoteShort(text), ": longer than ", kMaxSshKey,
                        " bytes");
  }
  const size_t space = text.find(' ');
  const absl::string_view type = text.substr(0, space);
  if (std::find(std::begin(kTypes), std::end(kTypes), type) ==
      std::end(kTypes)) {
    return absl::StrCat(QuoteShort(text),
                        ": expected \"<type> <base64> "
                        "[comment]\" with type ",
                        absl::StrJoin(kTypes, ", "));
  }
  if (space == absl::string_view::npos) {
    return absl::StrCat(QuoteShort(text), ": the key's base64 is missing");
  }
  absl::string_view rest = text.substr(space + 1);
  const size_t space2 = rest.find(' ');
  const absl::string_view blob = rest.substr(0, space2);
  const absl::string_view comment =
      space2 == absl::string_view::npos ? "" : rest.substr(space2 + 1);
  std::string decoded;
  if (blob.empty() || !AllOf(blob, IsBase64Char) ||
      !absl::Base64Unescape(blob, &decoded)) {
    return absl::StrCat(QuoteShort(text),
                        ": the key is not base64 ([A-Za-z0-9+/=])");
  }
  // The blob starts with its own type (RFC 4253 6.6): a key pasted under the
  // wrong type, or cut short, is caught here rather than by sshd later.
  const std::string expected_start = absl::StrCat(
      std::string({'\0', '\0', '\0', static_cast<char>(type.size())}), type);
  if (!absl::StartsWith(decoded, expected_start)) {
    return absl::StrCat(QuoteShort(text), ": the base64 is not a ", type,
                        " key");
  }
  if (!AllOf(comment, IsKeyCommentChar)) {
    return absl::StrCat(QuoteShort(text),
                        ": the comment may hold only [A-Za-z0-9@._+-] and "
                        "spaces");
  }
  return "";
}

// [[profile]]: what an armed host of that profile boots and installs
// (rendered per host by the install templates).
void ParseProfiles(Parser& p, const toml::node& node,
                   std::vector<BootProfile>& out) {
  const toml::array* list = node.as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    p.Error(node, "profile", "expected an array of tables ([[profile]])");
    return;
  }
  if (list->size() > kMaxProfiles) {
    p.Error(node, "profile",
            absl::StrCat(list->size(), " profiles: at most ", kMaxProfiles));
    return;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table& e = *(*list)[i].as_table();
    const std::string prefix = absl::StrCat("profile[", i, "]");
    p.CheckKeys(
        e, prefix,
        {"name", "family", "kernel", "initrd", "append", "source", "disk",
         "partitioning", "timezone", "locale", "keyboard", "packages",
         "root_password_hash", "ssh_keys", "template_file"});
    BootProfile profile;
    profile.line = static_cast<int>(e.source().begin.line);
    bool ok = true;
    for (absl::string_view key : {"name", "kernel"}) {
      if (p.Get(e, key) == nullptr) {
        p.Error(e.source().begin.line, Parser::Join(prefix, key),
                "required key missing");
        ok = false;
      }
    }
    if (!ok) continue;
    auto key_of = [&prefix](absl::string_view key) {
      return Parser::Join(prefix, key);
    };
    auto error = [&](absl::string_view key, absl::string_view what) {
      p.Error(*p.Get(e, key), key_of(key), what);
    };
    if (p.String(e, prefix, "name", profile.name) &&
        (profile.name.empty() || profile.name.size() > 64 ||
         HasControlChar(profile.name))) {
      error("name",
            absl::StrCat(QuoteShort(profile.name),
                         ": expected 1..64 bytes without control characters"));
    }
    for (const BootProfile& other : out) {
      if (other.name == profile.name) {
        error("name", absl::StrCat(Quote(profile.name),
                                   ": already defined on line ", other.line));
      }
    }
    p.Enum<InstallFamily>(
        e, prefix, "family",
        {{"debian-preseed", InstallFamily::kDebianPreseed},
         {"rhel-kickstart", InstallFamily::kRhelKickstart},
         {"ubuntu-autoinstall", InstallFamily::kUbuntuAutoinstall}},
        profile.family);
    if (p.FileName(e, prefix, "kernel", profile.kernel) &&
        profile.kernel.empty()) {
      error("kernel", "must not be empty");
    }
    if (p.Get(e, "initrd") != nullptr)
      p.FileName(e, prefix, "initrd", profile.initrd);
    std::string text;
    if (p.String(e, prefix, "append", text)) {
      if (std::string what = AppendProblem(text); !what.empty()) {
        error("append", what);
      } else {
        profile.append = std::move(text);
      }
    }
    if (p.String(e, prefix, "source", text) && !text.empty()) {
      if (std::string what = SourceProblem(text); !what.empty()) {
        error("source", what);
      } else {
        profile.source = std::move(text);
      }
    }
    if (p.String(e, prefix, "disk", text)) {
      if (absl::Status s = CheckDiskPath(text); !s.ok() && !text.empty()) {
        error("disk", absl::StrCat(QuoteShort(text), ": ", s.message()));
      } else {
        profile.disk = std::move(text);
      }
    }
    bool lvm = false;
    if (p.Enum<bool>(e, prefix, "partitioning",
                     {{"plain", false}, {"lvm", true}}, lvm)) {
      profile.partitioning = lvm ? "lvm" : "plain";
    }
    struct Word {
      absl::string_view key;
      bool (*allowed)(char);
      size_t max;
      absl::string_view chars;
      std::string* field;
    };
    for (const Word& w :
         {Word{"timezone", IsTimezoneChar, 64, "[A-Za-z0-9/_+-]",
               &profile.timezone},
          Word{"locale", IsLocaleChar, 64, "[A-Za-z0-9_.@-]", &profile.locale},
          Word{"keyboard", IsKeyboardChar, 32, "[A-Za-z0-9_-]",
               &profile.keyboard}}) {
      if (!p.String(e, prefix, w.key, text)) continue;
      if (text.empty() || text.size() > w.max || !AllOf(text, w.allowed)) {
        error(w.key, absl::StrCat(QuoteShort(text), ": expected 1..", w.max,
                                  " of ", w.chars));
      } else {
        *w.field = std::move(text);
      }
    }
    if (const toml::node* packages = p.Get(e, "packages")) {
      p.StringList(
          *packages, key_of("packages"), kMaxPackages,
          [&](absl::string_view item) -> std::string {
            const bool group = !item.empty() && item.front() == '@';
            const absl::string_view name = group ? item.substr(1) : item;
            if (name.empty() || name.size() > 127 + (group ? 0 : 1) ||
                !absl::ascii_isalnum(name.front()) ||
                !AllOf(name, IsPackageChar)) {
              return absl::StrCat(
                  QuoteShort(item),
                  ": expected a package name: [A-Za-z0-9] then up to 127 of "
                  "[A-Za-z0-9+._-]");
            }
            if (group && profile.family != InstallFamily::kRhelKickstart) {
              return absl::StrCat(Quote(item),
                                  ": an '@' group needs family = "
                                  "\"rhel-kickstart\"");
            }
            return "";
          },
          profile.packages);
    }
    if (p.String(e, prefix, "root_password_hash", text) && !text.empty()) {
      // "$<id>$<salt or parameters>$...": what crypt(3) and mkpasswd write.
      const size_t id_end = text.find('$', 1);
      if (text.size() > kMaxPasswordHash || text.front() != '$' ||
          id_end == std::string::npos || id_end < 2 || id_end > 9 ||
          id_end + 1 >= text.size() || !AllOf(text, IsCryptChar)) {
        error("root_password_hash",
              absl::StrCat(QuoteShort(text),
                           ": expected a crypt(3) hash \"$id$...\" of "
                           "[A-Za-z0-9./$=], at most ",
                           kMaxPasswordHash,
                           " bytes (e.g. from mkpasswd -m sha-512), or \"\" "
                           "to lock root"));
      } else {
        profile.root_password_hash = std::move(text);
      }
    }
    if (const toml::node* keys = p.Get(e, "ssh_keys")) {
      p.StringList(*keys, key_of("ssh_keys"), kMaxSshKeys, SshKeyProblem,
                   profile.ssh_keys);
    }
    if (p.String(e, prefix, "template_file", text)) {
      if (text.size() > kMaxTemplatePath || HasControlChar(text)) {
        error("template_file",
              absl::StrCat(QuoteShort(text), ": expected a path of at most ",
                           kMaxTemplatePath,
                           " bytes without control characters"));
      } else {
        profile.template_file = std::move(text);
      }
    }
    out.push_back(std::move(profile));
  }
}

// Records the line of every leaf key (and of each table in an array of
// tables) under its dotted path, e.g. "profile[0].kernel".
void RecordKeyLines(const toml::node& node, const std::string& path,
                    std::map<std::string, int>& out) {
  if (!path.empty()) out[path] = static_cast<int>(node.source().begin.line);
  if (const toml::table* t = node.as_table()) {
    for (const auto& [key, value] : *t) {
      const std::string_view k = key.str();
      RecordKeyLines(value,
                     path.empty() ? std::string(k)
                                  : absl::StrCat(path, ".", std::string(k)),
                     out);
    }
  } else if (const toml::array* a = node.as_array();
             a != nullptr && a->is_array_of_tables()) {
    for (size_t i = 0; i < a->size(); ++i) {
      RecordKeyLines((*a)[i], absl::StrCat(path, "[", i, "]"), out);
    }
  }
}

// Checks that span sections.
void CrossCheck(Parser& p, const toml::table& root, const SiteConfig& site) {
  if (site.dhcp.mode == DhcpMode::kAuthoritative && site.dhcp.subnets.empty()) {
    const toml::node* mode = root.at_path("dhcp.mode").node();
    p.Error(mode != nullptr ? mode->source().begin.line : 0, "dhcp.mode",
            "\"authoritative\" needs at least one [[dhcp.subnet]]");
  }
  if (site.server.address) {
    for (size_t i = 0; i < site.dhcp.subnets.size(); ++i) {
      const Subnet& s = site.dhcp.subnets[i];
      if (s.pool && s.pool->Contains(*site.server.address)) {
        const toml::node* a = root.at_path("server.address").node();
        p.Error(a != nullptr ? a->source().begin.line : 0, "server.address",
                absl::StrCat(Quote(site.server.address->ToString()),
                             ": inside dhcp.subnet[", i, "].pool ",
                             s.pool->ToString(), " (line ", s.line,
                             "): it would be leased to a client"));
      }
    }
  }
  // rackbootd serves "/repo/..." sources from http.repo_root: without it the
  // installer would fetch from a route that does not exist.
  if (site.http.repo_root.empty()) {
    for (size_t i = 0; i < site.profiles.size(); ++i) {
      const BootProfile& profile = site.profiles[i];
      if (!absl::StartsWith(profile.source, "/repo/")) continue;
      const std::string key = absl::StrCat("profile[", i, "].source");
      const toml::node* n = root.at_path(key).node();
      p.Error(n != nullptr ? n->source().begin.line : 0, key,
              absl::StrCat(Quote(profile.source),
                           ": a /repo/ source needs http.repo_root (the "
                           "directory rackbootd serves under /repo/), or "
                           "give an http://, https:// or ftp:// URL"));
    }
  }
}

}  // namespace

std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrCat("\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

absl::string_view DhcpModeName(DhcpMode mode) {
  switch (mode) {
    case DhcpMode::kOff:
      return "off";
    case DhcpMode::kProxy:
      return "proxy";
    case DhcpMode::kAuthoritative:
      return "authoritative";
  }
  return "?";
}

absl::string_view UnknownPxePolicyName(UnknownPxePolicy policy) {
  switch (policy) {
    case UnknownPxePolicy::kIgnore:
      return "ignore";
    case UnknownPxePolicy::kLocalboot:
      return "localboot";
    case UnknownPxePolicy::kDiscover:
      return "discover";
  }
  return "?";
}

absl::string_view InstallFamilyName(InstallFamily family) {
  switch (family) {
    case InstallFamily::kNone:
      return "";
    case InstallFamily::kDebianPreseed:
      return "debian-preseed";
    case InstallFamily::kRhelKickstart:
      return "rhel-kickstart";
    case InstallFamily::kUbuntuAutoinstall:
      return "ubuntu-autoinstall";
  }
  return "?";
}

absl::string_view BootArchName(BootArch arch) {
  switch (arch) {
    case BootArch::kBios:
      return "bios";
    case BootArch::kUefiIa32:
      return "uefi_ia32";
    case BootArch::kUefiX64:
      return "uefi_x64";
    case BootArch::kArm64:
      return "arm64";
    case BootArch::kHttp:
      return "http";
  }
  return "?";
}

absl::optional<BootArch> BootArchForClientArch(uint16_t option93) {
  switch (option93) {
    case 0:
      return BootArch::kBios;
    case 6:
      return BootArch::kUefiIa32;
    case 7:
    case 9:
      return BootArch::kUefiX64;
    case 11:
      return BootArch::kArm64;
    case 15:
    case 16:
    case 19:
      return BootArch::kHttp;
    default:
      return absl::nullopt;
  }
}

const std::string& BootConfig::FileFor(BootArch arch) const {
  switch (arch) {
    case BootArch::kBios:
      return bios;
    case BootArch::kUefiIa32:
      return uefi_ia32;
    case BootArch::kUefiX64:
      return uefi_x64;
    case BootArch::kArm64:
      return arm64;
    case BootArch::kHttp:
      return http_boot_url;
  }
  return bios;
}

std::string Ipv4Range::ToString() const {
  return absl::StrCat(first.ToString(), "-", last.ToString());
}

Ipv4Address Subnet::netmask() const {
  return Ipv4Address(MaskOf(prefix_length));
}

Ipv4Address Subnet::broadcast() const {
  return Ipv4Address(network.value() | ~MaskOf(prefix_length));
}

bool Subnet::Contains(Ipv4Address a) const {
  return (a.value() & MaskOf(prefix_length)) == network.value();
}

bool Subnet::IsHostAddress(Ipv4Address a) const {
  if (prefix_length >= 31) return true;
  return a != network && a != broadcast();
}

std::string Subnet::CidrString() const {
  return absl::StrCat(network.ToString(), "/", prefix_length);
}

std::string SiteConfig::Where(absl::string_view key) const {
  auto it = key_lines.find(std::string(key));
  if (it == key_lines.end() || it->second <= 0) return std::string(key);
  return absl::StrCat(path, ":", it->second, ": ", key);
}

const Subnet* SiteConfig::SubnetFor(Ipv4Address a) const {
  for (const Subnet& s : dhcp.subnets) {
    if (s.Contains(a)) return &s;
  }
  return nullptr;
}

absl::Status CheckDiskPath(absl::string_view path) {
  if (path.size() > kMaxDiskPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("longer than ", kMaxDiskPath, " bytes"));
  }
  const bool chars_ok = absl::StartsWith(path, "/dev/") && path.size() > 5 &&
                        std::all_of(path.begin(), path.end(), [](char c) {
                          return absl::ascii_isalnum(c) || c == '/' ||
                                 c == '_' || c == '.' || c == ':' || c == '-';
                        });
  bool segments_ok = chars_ok;
  if (chars_ok) {
    for (absl::string_view segment : absl::StrSplit(path.substr(5), '/')) {
      if (segment.empty() || segment == "." || segment == "..") {
        segments_ok = false;
      }
    }
  }
  if (!segments_ok) {
    return absl::InvalidArgumentError(
        "expected a device path /dev/... of [A-Za-z0-9/_.:-] (no empty, "
        "\".\" or \"..\" segment), e.g. /dev/sda or "
        "/dev/disk/by-id/nvme-X");
  }
  return absl::OkStatus();
}

absl::Status CheckDnsName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty name");
  if (name.size() > 253) {
    return absl::InvalidArgumentError("longer than 253 characters");
  }
  size_t start = 0;
  while (true) {
    size_t end = name.find('.', start);
    if (end == absl::string_view::npos) end = name.size();
    const absl::string_view label = name.substr(start, end - start);
    if (label.empty()) {
      return absl::InvalidArgumentError(
          "empty label (leading, trailing or "
          "double dot)");
    }
    if (label.size() > 63) {
      return absl::InvalidArgumentError("label longer than 63 characters");
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("character ", Quote(absl::string_view(&c, 1)),
                         " not allowed (RFC 1123: letters, digits, '-', '.')"));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError(
          "a label starts or ends with '-' (RFC 1123)");
    }
    if (end == name.size()) break;
    start = end + 1;
  }
  return absl::OkStatus();
}

int EditDistance(absl::string_view a, absl::string_view b) {
  if (a.size() > 64 || b.size() > 64) {
    return static_cast<int>(std::max(a.size(), b.size()));
  }
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int up = row[j];
      const int substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
      diagonal = up;
    }
  }
  return row[b.size()];
}

absl::StatusOr<SiteConfig> ParseSiteConfig(absl::string_view toml_text,
                                           absl::string_view filename) {
  if (absl::Status s = CheckTomlText(toml_text, filename); !s.ok()) return s;
  toml::parse_result parsed =
      toml::parse(std::string_view(toml_text.data(), toml_text.size()),
                  std::string_view(filename.data(), filename.size()));
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    const std::string_view description = e.description();
    return absl::InvalidArgumentError(absl::StrCat(
        filename, ":", e.source().begin.line, ":", e.source().begin.column,
        ": syntax error: ",
        absl::string_view(description.data(), description.size())));
  }
  const toml::table& root = parsed.table();

  Parser p(filename);
  SiteConfig site;
  site.path = std::string(filename);
  p.CheckKeys(root, "",
              {"server", "dhcp", "tftp", "boot", "profile", "http", "status",
               "api", "install"});
  if (const toml::table* t = p.Table(root, "", "server")) {
    ParseServer(p, *t, site.server);
  }
  if (const toml::table* t = p.Table(root, "", "dhcp")) {
    ParseDhcp(p, *t, site.dhcp);
  }
  if (const toml::table* t = p.Table(root, "", "tftp")) {
    ParseTftp(p, *t, site.tftp);
  }
  if (const toml::table* t = p.Table(root, "", "boot")) {
    ParseBoot(p, *t, site.boot);
  }
  if (const toml::node* node = p.Get(root, "profile")) {
    ParseProfiles(p, *node, site.profiles);
  }
  if (const toml::table* t = p.Table(root, "", "http")) {
    ParseHttp(p, *t, site.http);
  }
  if (const toml::table* t = p.Table(root, "", "status")) {
    ParseStatus(p, *t, site.status);
  }
  if (const toml::table* t = p.Table(root, "", "api")) {
    ParseApi(p, *t, site.api);
  }
  if (const toml::table* t = p.Table(root, "", "install")) {
    ParseInstall(p, *t, site.install);
  }
  if (p.error_count() == 0) CrossCheck(p, root, site);
  if (absl::Status s = p.Result(); !s.ok()) return s;
  RecordKeyLines(root, "", site.key_lines);

  // Relative paths are relative to the directory holding site.toml.
  const size_t slash = filename.rfind('/');
  if (slash != absl::string_view::npos) {
    const absl::string_view dir = filename.substr(0, slash + 1);  // with '/'
    site.server.state_dir = ResolvePath(dir, site.server.state_dir);
    site.server.inventory = ResolvePath(dir, site.server.inventory);
    site.tftp.root = ResolvePath(dir, site.tftp.root);
    site.http.repo_root = ResolvePath(dir, site.http.repo_root);
    site.api.token_file = ResolvePath(dir, site.api.token_file);
    for (BootProfile& profile : site.profiles) {
      profile.template_file = ResolvePath(dir, profile.template_file);
    }
  }
  return site;
}

absl::Status ParseListenAddress(absl::string_view text, Ipv4Address& address,
                                uint16_t& port) {
  return ParseListenImpl(text, address, port);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  constexpr size_t kMaxSize = 64 << 20;
  FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::string text;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxSize) {
      std::fclose(f);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than 64 MiB"));
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int saved = errno;
  std::fclose(f);
  if (failed) {
    return absl::InternalError(
        absl::StrCat(path, ": read failed: ", std::strerror(saved)));
  }
  return text;
}

absl::StatusOr<SiteConfig> LoadSiteConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  return ParseSiteConfig(*text, path);
}

}  // namespace rackboot::site
