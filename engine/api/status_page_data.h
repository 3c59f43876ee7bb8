// The status page's bytes and the CSP hashes of its inline script and style,
// generated at build time from status_page.html by embed_status_page.py (the
// genrule :status_page_data). Only StatusPageRoutes reads them. Immutable
// static data: any thread.
#ifndef RACKBOOT_ENGINE_API_STATUS_PAGE_DATA_H_
#define RACKBOOT_ENGINE_API_STATUS_PAGE_DATA_H_

#include "absl/strings/string_view.h"

namespace rackboot::api::internal {

// status_page.html, byte for byte.
extern const absl::string_view kStatusPageHtml;
// "sha256-<base64>" of the text of the page's one <script> and one <style>.
extern const char kStatusPageScriptHash[];
extern const char kStatusPageStyleHash[];

}  // namespace rackboot::api::internal

#endif  // RACKBOOT_ENGINE_API_STATUS_PAGE_DATA_H_
