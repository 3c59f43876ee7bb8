// rackboot-gen (`./rackboot gen`): writes every file a host needs to network
// boot and install (pxelinux.cfg/01-<mac>, grub/grub.cfg-01-<mac>,
// ipxe/01-<mac>.ipxe, and for an armed host install/<token>/<file>) into a
// directory, so that a site can serve them with other servers (any TFTP and
// HTTP server) or inspect what rackbootd would serve.
//
//   rackboot-gen --config=site.toml --out=DIR [--hosts=a,b] [--state_dir=DIR]
//
// It renders with rackbootd's own code (engine/install: the same templates,
// values and checks), from the same inputs: site.toml, the inventory, and
// host-states.tsv (read only; never written, the state directory never made),
// so gen and a running daemon give the same bytes for the same host (tested
// by tests/install/gen_test.sh). Everything is rendered before anything is
// written: one bad template or value and nothing is written. Files are
// written atomically (tools/gen/output_writer.h); install files hold the
// install token and the root password hash and are mode 0600.
#include <gflags/gflags.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/cli/flag_help.h"
#include "engine/install/install_templates.h"
#include "engine/site/host_states.h"
#include "engine/site/http_urls.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "nlohmann/json.hpp"
#include "tools/gen/host_plan.h"
#include "tools/gen/output_writer.h"

DEFINE_string(config, "",
              "The site configuration (site.toml): its [[profile]]s, [boot] "
              "menu_timeout, [http] listen (the URLs written into the files) "
              "and server.inventory. Required.");
DEFINE_string(out, "",
              "The directory to write into, made (with its parents) when "
              "absent: pxelinux.cfg/, grub/, ipxe/ and install/<token>/. "
              "Other files there are left alone, except install/<token>/ "
              "directories whose token is no longer valid (removed). "
              "Required.");
DEFINE_string(hosts, "",
              "Only these inventory hosts, comma-separated (default: every "
              "host). Files of other hosts already in --out are left as they "
              "are.");
DEFINE_string(state_dir, "",
              "Where host-states.tsv is read from (default: server.state_dir "
              "of site.toml). Read only: gen never writes it, never makes the "
              "directory; an absent file means every host has its inventory "
              "state column.");
DEFINE_bool(json, false,
            "Print the summary as one JSON object (hosts, files, warnings) "
            "instead of text. Tokens are cut to 6 hex digits in both.");

namespace {

namespace site = rackboot::site;
namespace install = rackboot::install;
namespace gen = rackboot::gen;
using Json = nlohmann::json;

constexpr int kExitError = 1;    // I/O, the state file, a bad command line
constexpr int kExitConfig = 78;  // EX_CONFIG: site.toml, inventory, template

constexpr char kUsage[] =
    "Usage: rackboot-gen --config=site.toml --out=DIR [--hosts=a,b]\n"
    "                    [--state_dir=DIR] [--json]\n"
    "\n"
    "Writes every inventory host's boot files into DIR, rendered exactly as\n"
    "rackbootd serves them:\n"
    "  pxelinux.cfg/01-<mac>         pxelinux menu (BIOS)\n"
    "  grub/grub.cfg-01-<mac>        GRUB menu (UEFI)\n"
    "  ipxe/01-<mac>.ipxe            iPXE script\n"
    "  install/<token>/<file>        an armed host's preseed.cfg, ks.cfg, or\n"
    "                                user-data + meta-data (mode 0600)\n"
    "A host is armed when host-states.tsv (else its inventory state column)\n"
    "says install and its install token is valid now; an armed host without a\n"
    "valid token gets its local-boot menus and a warning naming it.\n"
    "Everything is rendered first (any error: nothing is written), then each\n"
    "file is written atomically (temporary file, rename).\n"
    "\n"
    "Exit status:\n"
    "  0   written\n"
    "  1   error: writing DIR, reading host-states.tsv, the command line,\n"
    "      a --hosts name not in the inventory\n"
    "  78  configuration: site.toml, the inventory, a template (its\n"
    "      file:line), a value refused, an armed host the site cannot\n"
    "      install (as rackbootd would refuse it)\n";

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "rackboot-gen: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return code;
}

void Warn(absl::string_view message) {
  std::fprintf(stderr, "rackboot-gen: warning: %.*s\n",
               static_cast<int>(message.size()), message.data());
}

// What one host got, for the summary.
struct HostResult {
  const gen::HostPlan* plan = nullptr;
  std::vector<std::string> paths;  // as written (tokens whole)
  std::vector<bool> secret;
  std::string note;  // why it is not armed, or its profile is unknown
};

std::string Describe(const HostResult& r) {
  const site::InventoryHost& host = *r.plan->host;
  std::string what(site::HostStateName(r.plan->state));
  if (r.plan->armed) {
    what = "install (armed)";
  } else if (r.plan->state == site::HostState::kInstall) {
    what = "install (not armed: no valid token, local menus)";
  }
  if (r.plan->profile != nullptr) {
    absl::string_view family = site::InstallFamilyName(r.plan->profile->family);
    absl::StrAppend(&what, ", profile ", r.plan->profile->name,
                    family.empty() ? "" : " (", family,
                    family.empty() ? "" : ")");
  } else if (!host.profile.empty()) {
    absl::StrAppend(&what, ", profile '", host.profile,
                    "' (not a [[profile]]: local boot)");
  } else {
    absl::StrAppend(&what, ", no profile");
  }
  return what;
}

}  // namespace

int main(int argc, char** argv) {
  // The tool's own flags and the exit statuses, not every linked library's.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      rackboot::cli::PrintFlagHelp(kUsage, "tools/gen/");
      return 0;
    }
  }
  gflags::SetUsageMessage(kUsage);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  if (argc > 1) {
    return Fail(kExitError, absl::StrCat("unexpected argument '", argv[1],
                                         "' (every option is a --flag; "
                                         "rackboot-gen --help)"));
  }
  if (FLAGS_config.empty()) {
    return Fail(kExitError,
                "--config=site.toml is required (rackboot-gen --help)");
  }
  if (FLAGS_out.empty()) {
    return Fail(kExitError,
                "--out=DIR is required: the directory the files are written "
                "into (rackboot-gen --help)");
  }
  absl::StatusOr<std::vector<std::string>> only =
      gen::ParseHostList(FLAGS_hosts);
  if (!only.ok()) return Fail(kExitError, only.status().message());

  // The same inputs, and the same checks, as rackbootd's start.
  absl::StatusOr<site::SiteConfig> loaded = site::LoadSiteConfig(FLAGS_config);
  if (!loaded.ok()) return Fail(kExitConfig, loaded.status().message());
  site::SiteConfig& config = *loaded;
  if (!FLAGS_state_dir.empty()) config.server.state_dir = FLAGS_state_dir;
  absl::StatusOr<site::Inventory> inventory =
      site::Inventory::Load(config.server.inventory);
  if (!inventory.ok()) return Fail(kExitConfig, inventory.status().message());
  if (absl::Status s = site::ValidateInventory(*inventory, config); !s.ok()) {
    return Fail(kExitConfig, s.message());
  }
  const std::string states_path = gen::HostStatesPath(config.server.state_dir);
  absl::StatusOr<site::HostStateMap> states =
      gen::ReadHostStates(config.server.state_dir);
  if (!states.ok()) {
    // A line that does not parse is the operator's to fix (rackbootd exits
    // 78 on it too); a file that cannot be read is the system's.
    const bool damaged =
        states.status().code() == absl::StatusCode::kDataLoss ||
        states.status().code() == absl::StatusCode::kInvalidArgument;
    return Fail(damaged ? kExitConfig : kExitError, states.status().message());
  }
  absl::StatusOr<std::shared_ptr<const install::InstallTemplates>> templates =
      install::InstallTemplates::Load(config);
  if (!templates.ok()) return Fail(kExitConfig, templates.status().message());

  const absl::Time now = absl::Now();
  absl::StatusOr<std::vector<gen::HostPlan>> plan =
      gen::PlanHosts(config, *inventory, *states, states_path, *only, now);
  if (!plan.ok()) return Fail(kExitError, plan.status().message());

  // Armed hosts the site cannot install: rackbootd refuses to start on them.
  std::vector<std::string> errors;
  for (const gen::HostPlan& p : *plan) {
    if (p.state != site::HostState::kInstall) continue;
    if (absl::Status s =
            site::CheckArmedHost(config, *inventory, *p.host, p.state_from);
        !s.ok()) {
      errors.emplace_back(s.message());
    }
  }

  // Render everything before writing anything.
  const std::string http_base = site::HttpBaseUrl(config).value_or("");
  std::vector<gen::OutputFile> files;
  std::vector<HostResult> results;
  results.reserve(plan->size());
  for (const gen::HostPlan& p : *plan) {
    install::HostRenderInput input;
    input.site = &config;
    input.host = p.host;
    input.profile = p.profile;
    input.armed = p.armed;
    input.token = p.token;
    input.http_base = http_base;
    absl::StatusOr<std::vector<install::RenderedHostFile>> rendered =
        install::RenderHostFiles(**templates, input);
    if (!rendered.ok()) {
      errors.push_back(absl::StrCat(inventory->filename(), ":", p.host->line,
                                    ": ", p.host->hostname, ": ",
                                    rendered.status().message()));
      continue;
    }
    HostResult r;
    r.plan = &p;
    r.note = p.not_armed_why;
    if (p.profile == nullptr && !p.host->profile.empty() && r.note.empty()) {
      r.note = absl::StrCat(inventory->filename(), ":", p.host->line,
                            ": its profile '", p.host->profile,
                            "' is not a [[profile]] of ", config.path,
                            "; it boots from its local disk");
    }
    for (install::RenderedHostFile& f : *rendered) {
      r.paths.push_back(f.path);
      r.secret.push_back(f.secret);
      files.push_back(
          gen::OutputFile{std::move(f.path), std::move(f.bytes), f.secret});
    }
    results.push_back(std::move(r));
  }
  if (!errors.empty()) {
    return Fail(kExitConfig, absl::StrCat("nothing written to ", FLAGS_out,
                                          ":\n", absl::StrJoin(errors, "\n")));
  }

  absl::StatusOr<gen::WriteReport> written =
      gen::WriteOutputFiles(FLAGS_out, files);
  if (!written.ok()) return Fail(kExitError, written.status().message());
  // Install files of tokens no longer valid (revoked by done or disarm, or
  // expired) must not stay where another server serves them.
  const std::vector<std::string> valid =
      gen::ValidTokens(*inventory, *states, now);
  absl::StatusOr<std::vector<std::string>> stale = gen::RemoveStaleInstallDirs(
      FLAGS_out, std::set<std::string>(valid.begin(), valid.end()));

  // After a run over every host: files of MACs no longer in the inventory.
  std::vector<std::string> unowned;
  if (only->empty()) {
    std::set<std::string> paths;
    for (const gen::OutputFile& f : files) paths.insert(f.path);
    unowned = gen::UnwrittenHostFiles(FLAGS_out, paths);
  }

  size_t secret = 0;
  for (const gen::OutputFile& f : files) secret += f.secret ? 1 : 0;
  if (FLAGS_json) {
    Json out = Json::object();
    out["out"] = FLAGS_out;
    out["files_written"] = files.size();
    out["install_files"] = secret;
    Json& hosts = out["hosts"] = Json::array();
    Json& skipped = out["armed_not_rendered"] = Json::array();
    for (const HostResult& r : results) {
      Json h = Json::object();
      h["hostname"] = r.plan->host->hostname;
      h["mac"] = site::FormatMac(r.plan->host->mac);
      h["state"] = std::string(site::HostStateName(r.plan->state));
      h["armed"] = r.plan->armed;
      h["profile"] = r.plan->profile != nullptr ? Json(r.plan->profile->name)
                                                : Json(nullptr);
      h["family"] = r.plan->profile != nullptr
                        ? Json(std::string(
                              site::InstallFamilyName(r.plan->profile->family)))
                        : Json(nullptr);
      Json& fl = h["files"] = Json::array();
      for (size_t i = 0; i < r.paths.size(); ++i) {
        fl.push_back({{"path", gen::RedactedPath(r.paths[i])},
                      {"secret", static_cast<bool>(r.secret[i])}});
      }
      h["warning"] = r.note.empty() ? Json(nullptr) : Json(r.note);
      if (!r.plan->not_armed_why.empty()) {
        skipped.push_back({{"hostname", r.plan->host->hostname},
                           {"why", r.plan->not_armed_why}});
      }
      hosts.push_back(std::move(h));
    }
    out["not_inventory_files"] = unowned;
    out["stale_removed"] = stale.ok() ? Json(*stale) : Json::array();
    out["error"] = stale.ok() ? Json(nullptr)
                              : Json(std::string(stale.status().message()));
    std::printf(
        "%s\n",
        out.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
  } else {
    std::printf("rackboot gen: %zu host%s, %zu file%s written to %s",
                results.size(), results.size() == 1 ? "" : "s", files.size(),
                files.size() == 1 ? "" : "s", FLAGS_out.c_str());
    if (secret > 0) {
      std::printf(" (%zu install file%s, mode 0600)", secret,
                  secret == 1 ? "" : "s");
    }
    std::printf("\n");
    for (const HostResult& r : results) {
      std::vector<std::string> shown;
      for (const std::string& p : r.paths)
        shown.push_back(gen::RedactedPath(p));
      std::printf("  %s: %s: %s\n", r.plan->host->hostname.c_str(),
                  Describe(r).c_str(), absl::StrJoin(shown, " ").c_str());
    }
    if (stale.ok()) {
      for (const std::string& d : *stale) {
        std::printf("  removed %s/ (its token is no longer valid)\n",
                    d.c_str());
      }
    }
  }
  for (const HostResult& r : results) {
    if (r.note.empty()) continue;
    Warn(r.plan->not_armed_why.empty()
             ? r.note
             : absl::StrCat(r.plan->host->hostname, ": ", r.note,
                            "; wrote its local-boot menus, no install files"));
  }
  for (const std::string& path : unowned) {
    Warn(absl::StrCat(FLAGS_out, "/", path,
                      ": no inventory host has this MAC (removed from the "
                      "inventory, or a new MAC?); left as it is: remove it if "
                      "it should not be served"));
  }
  if (!stale.ok()) return Fail(kExitError, stale.status().message());
  return 0;
}
