// HostValues: every value a boot menu or install file of one host may use,
// computed from site.toml, the host's inventory row, its profile and whether
// it is armed (docs/install.md lists the keys). Pure function of its input;
// any thread. The caller owns the input and keeps its pointers alive for the
// call.
//
// Every key is always present ("" / false / empty list when it does not
// apply), so templates can test with sections and a typo is an error, not an
// empty string. Install-only values (token, install_url and the family's
// kernel arguments) are set only when the host is armed: a host that is not
// armed renders nothing that could start an install.
#ifndef RACKBOOT_ENGINE_INSTALL_HOST_VALUES_H_
#define RACKBOOT_ENGINE_INSTALL_HOST_VALUES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/install/template.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"

namespace rackboot::install {

struct HostRenderInput {
  const site::SiteConfig* site = nullptr;
  const site::InventoryHost* host = nullptr;
  const site::BootProfile* profile = nullptr;  // null: no (known) profile
  bool armed = false;  // state install AND a token valid now (caller decides)
  std::string token;   // the valid token when armed, else ""
  std::string http_base;  // HttpBaseUrl(site), "http://198.18.0.1:8080"; ""
                          // without HTTP
};

// The values, with `append` rendered into install_args/rescue_args (its
// errors name "<site.toml>:<line>: profile <name> append:1: ..."). Errors:
// InvalidArgument for a value Set refuses or a bad append; FailedPrecondition
// for an armed host of an install family without an HTTP base URL (its
// install files are served over HTTP only).
absl::StatusOr<TemplateValues> HostValues(const HostRenderInput& input);

// The kernel arguments with every word that holds a ';' (or another character
// GRUB's sh-like script syntax treats specially: $ & | < > quotes, braces...)
// single-quoted, as GRUB's `linux` line needs them
// ("ds=nocloud-net;s=http://x/" -> "'ds=nocloud-net;s=http://x/'"; a ' inside
// becomes '\'').
std::string GrubQuoteArgs(absl::string_view args);

}  // namespace rackboot::install

#endif  // RACKBOOT_ENGINE_INSTALL_HOST_VALUES_H_
