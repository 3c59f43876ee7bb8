#include "tools/mirror/yum_repo.h"

#include <expat.h>

#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/log/log_text.h"

namespace rackboot::mirror {
namespace {

struct ParserCloser {
  void operator()(XML_ParserStruct* p) const { XML_ParserFree(p); }
};
using ParserPtr = std::unique_ptr<XML_ParserStruct, ParserCloser>;

// Shared by both documents: the element stack depth, the refusal of DOCTYPE,
// entities and xml:base, and the bounded capture of one text field at a time.
class XmlWalker {
 public:
  virtual ~XmlWalker() = default;

  absl::Status Parse(absl::string_view xml, absl::string_view what) {
    what_ = std::string(what);
    // No namespace processing: the yum documents' own elements are unprefixed,
    // rpm:* elements are simply not ours, and "xml:base" stays one name.
    ParserPtr parser(XML_ParserCreate("UTF-8"));
    if (parser == nullptr)
      return absl::ResourceExhaustedError("expat: out of memory");
    parser_ = parser.get();
    XML_SetUserData(parser_, this);
    // Parameter entities (and the external DTD subset) are never read; any
    // DOCTYPE or entity declaration stops the parse in its handler, so no
    // entity is ever defined, let alone expanded (billion laughs).
    XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetStartDoctypeDeclHandler(parser_, &XmlWalker::OnDoctype);
    XML_SetEntityDeclHandler(parser_, &XmlWalker::OnEntityDecl);
    XML_SetElementHandler(parser_, &XmlWalker::OnStart, &XmlWalker::OnEnd);
    XML_SetCharacterDataHandler(parser_, &XmlWalker::OnText);
    // Streaming in blocks: memory is the document plus one field, whatever the
    // number of elements.
    constexpr size_t kBlock = 1 << 16;
    size_t offset = 0;
    do {
      size_t n = std::min(kBlock, xml.size() - offset);
      bool final_block = offset + n == xml.size();
      if (XML_Parse(parser_, xml.data() + offset, static_cast<int>(n),
                    final_block) == XML_STATUS_ERROR) {
        if (!error_.ok()) return error_;
        return absl::InvalidArgumentError(
            absl::StrCat(what_, ": malformed XML at line ",
                         XML_GetCurrentLineNumber(parser_), ": ",
                         XML_ErrorString(XML_GetErrorCode(parser_))));
      }
      if (!error_.ok()) return error_;
      offset += n;
    } while (offset < xml.size());
    return Finish();
  }

 protected:
  virtual absl::Status Start(absl::string_view name,
                             const XML_Char** attrs) = 0;
  virtual absl::Status End(absl::string_view name) = 0;
  virtual absl::Status Finish() { return absl::OkStatus(); }

  int depth() const { return depth_; }
  // Starts collecting the character data of the current element.
  void Capture() {
    capturing_ = true;
    text_.clear();
  }
  // The text collected since Capture(), whitespace-trimmed; stops collecting.
  std::string TakeText() {
    capturing_ = false;
    std::string out(absl::StripAsciiWhitespace(text_));
    text_.clear();
    return out;
  }
  absl::Status Refuse(absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        what_, " line ", XML_GetCurrentLineNumber(parser_), ": ", why));
  }
  static const char* Attr(const XML_Char** attrs, const char* name) {
    for (int i = 0; attrs[i] != nullptr; i += 2) {
      if (std::strcmp(attrs[i], name) == 0) return attrs[i + 1];
    }
    return nullptr;
  }

 private:
  void Stop(absl::Status status) {
    if (error_.ok()) error_ = std::move(status);
    XML_StopParser(parser_, XML_FALSE);
  }
  static void OnDoctype(void* self, const XML_Char*, const XML_Char*,
                        const XML_Char*, int) {
    auto* w = static_cast<XmlWalker*>(self);
    w->Stop(w->Refuse("DOCTYPE declarations are refused (entity expansion)"));
  }
  static void OnEntityDecl(void* self, const XML_Char*, int, const XML_Char*,
                           int, const XML_Char*, const XML_Char*,
                           const XML_Char*, const XML_Char*) {
    auto* w = static_cast<XmlWalker*>(self);
    w->Stop(w->Refuse("entity declarations are refused"));
  }
  static void OnStart(void* self, const XML_Char* name,
                      const XML_Char** attrs) {
    auto* w = static_cast<XmlWalker*>(self);
    if (!w->error_.ok()) return;
    if (++w->depth_ > kMaxYumXmlDepth) {
      w->Stop(w->Refuse(absl::StrCat("nested deeper than ", kMaxYumXmlDepth)));
      return;
    }
    if (Attr(attrs, "xml:base") != nullptr) {
      w->Stop(w->Refuse(absl::StrCat(
          "xml:base on <", log::Escaped(name),
          "> is not supported (packages must be in the repository itself)")));
      return;
    }
    absl::Status s = w->Start(name, attrs);
    if (!s.ok()) w->Stop(std::move(s));
  }
  static void OnEnd(void* self, const XML_Char* name) {
    auto* w = static_cast<XmlWalker*>(self);
    if (!w->error_.ok()) return;
    absl::Status s = w->End(name);
    --w->depth_;
    if (!s.ok()) w->Stop(std::move(s));
  }
  static void OnText(void* self, const XML_Char* s, int len) {
    auto* w = static_cast<XmlWalker*>(self);
    if (!w->capturing_ || !w->error_.ok()) return;
    if (w->text_.size() + static_cast<size_t>(len) > kMaxYumTextBytes) {
      w->Stop(w->Refuse(absl::StrCat("a text field is longer than ",
                                     kMaxYumTextBytes, " bytes")));
      return;
    }
    w->text_.append(s, static_cast<size_t>(len));
  }

  XML_Parser parser_ = nullptr;
  std::string what_;
  absl::Status error_;
  int depth_ = 0;
  bool capturing_ = false;
  std::string text_;
};

absl::Status ParseSize(absl::string_view text, int64_t* out,
                       absl::string_view what) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": bad size ", log::Quoted(text)));
  }
  *out = v;
  return absl::OkStatus();
}

// Attribute values are as bounded as text: an attribute is one field.
absl::StatusOr<std::string> BoundedAttr(const char* value,
                                        absl::string_view what) {
  if (value == nullptr) return std::string();
  if (std::strlen(value) > kMaxYumTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": an attribute is longer than ", kMaxYumTextBytes, " bytes"));
  }
  return std::string(value);
}

class RepomdWalker : public XmlWalker {
 public:
  Repomd result;

 protected:
  absl::Status Start(absl::string_view name, const XML_Char** attrs) override {
    if (depth() == 1) {
      if (name != "repomd") return Refuse("the root element is not <repomd>");
      return absl::OkStatus();
    }
    if (depth() == 2 && name == "revision") {
      Capture();
    } else if (depth() == 2 && name == "data") {
      if (static_cast<int>(result.data.size()) >= kMaxRepomdData) {
        return Refuse(
            absl::StrCat("more than ", kMaxRepomdData, " <data> entries"));
      }
      in_data_ = true;
      result.data.emplace_back();
      auto type = BoundedAttr(Attr(attrs, "type"), "repomd.xml");
      if (!type.ok()) return type.status();
      result.data.back().type = *type;
    } else if (in_data_ && depth() == 3) {
      RepomdData& d = result.data.back();
      if (name == "checksum") {
        auto type = BoundedAttr(Attr(attrs, "type"), "repomd.xml");
        if (!type.ok()) return type.status();
        d.checksum_type = *type;
        Capture();
      } else if (name == "size") {
        Capture();
      } else if (name == "location") {
        auto href = BoundedAttr(Attr(attrs, "href"), "repomd.xml");
        if (!href.ok()) return href.status();
        d.location = *href;
      }
    }
    return absl::OkStatus();
  }
  absl::Status End(absl::string_view name) override {
    if (depth() == 2 && name == "revision") {
      result.revision = TakeText();
    } else if (depth() == 2 && name == "data") {
      in_data_ = false;
      if (result.data.back().location.empty()) {
        return Refuse("a <data> entry has no <location href>");
      }
    } else if (in_data_ && depth() == 3) {
      RepomdData& d = result.data.back();
      if (name == "checksum") {
        d.checksum = absl::AsciiStrToLower(TakeText());
      } else if (name == "size") {
        return ParseSize(TakeText(), &d.size, "repomd.xml");
      }
    }
    return absl::OkStatus();
  }

 private:
  bool in_data_ = false;
};

class PrimaryWalker : public XmlWalker {
 public:
  PrimaryWalker(
      const std::function<absl::Status(const YumPackage&)>& on_package,
      int64_t max_packages)
      : on_package_(on_package), max_packages_(max_packages) {}

 protected:
  absl::Status Start(absl::string_view name, const XML_Char** attrs) override {
    if (depth() == 1) {
      if (name != "metadata")
        return Refuse("the root element is not <metadata>");
      return absl::OkStatus();
    }
    if (depth() == 2 && name == "package") {
      if (++count_ > max_packages_) {
        return Refuse(absl::StrCat("more than ", max_packages_, " packages"));
      }
      in_package_ = true;
      package_ = YumPackage();
      return absl::OkStatus();
    }
    if (!in_package_ || depth() != 3) return absl::OkStatus();
    if (name == "name" || name == "arch") {
      Capture();
    } else if (name == "checksum") {
      auto type = BoundedAttr(Attr(attrs, "type"), "primary.xml");
      if (!type.ok()) return type.status();
      package_.checksum_type = *type;
      Capture();
    } else if (name == "size") {
      const char* p = Attr(attrs, "package");
      if (p == nullptr) return Refuse("<size> without package=");
      return ParseSize(p, &package_.size, "primary.xml");
    } else if (name == "location") {
      auto href = BoundedAttr(Attr(attrs, "href"), "primary.xml");
      if (!href.ok()) return href.status();
      package_.location = *href;
    }
    return absl::OkStatus();
  }
  absl::Status End(absl::string_view name) override {
    if (depth() == 2 && name == "package") {
      in_package_ = false;
      return on_package_(package_);
    }
    if (!in_package_ || depth() != 3) return absl::OkStatus();
    if (name == "name") {
      package_.name = TakeText();
    } else if (name == "arch") {
      package_.arch = TakeText();
    } else if (name == "checksum") {
      package_.checksum = absl::AsciiStrToLower(TakeText());
    }
    return absl::OkStatus();
  }

 private:
  const std::function<absl::Status(const YumPackage&)>& on_package_;
  int64_t max_packages_;
  int64_t count_ = 0;
  bool in_package_ = false;
  YumPackage package_;
};

}  // namespace

absl::StatusOr<Repomd> ParseRepomd(absl::string_view xml) {
  if (xml.empty()) return absl::InvalidArgumentError("repomd.xml: empty");
  RepomdWalker walker;
  absl::Status s = walker.Parse(xml, "repomd.xml");
  if (!s.ok()) return s;
  return std::move(walker.result);
}

absl::Status ParsePrimary(
    absl::string_view xml,
    const std::function<absl::Status(const YumPackage&)>& on_package,
    int64_t max_packages) {
  if (xml.empty()) return absl::InvalidArgumentError("primary.xml: empty");
  PrimaryWalker walker(on_package, max_packages);
  return walker.Parse(xml, "primary.xml");
}

}  // namespace rackboot::mirror
