// rackboot-hosts: lists inventory hosts with their state and bring-up phase,
// and arms or disarms them.
//
//   rackboot-hosts --config=site.toml list [--json]
//   rackboot-hosts --config=site.toml arm node001
//   rackboot-hosts --config=site.toml disarm node001
//
// It talks to the running rackbootd through its JSON API (docs/api.md):
// GET /api/v1/hosts, POST /api/v1/hosts/{name}/arm|disarm, at --api, else
// RACKBOOT_API, else site.toml's [http] listen. The daemon applies an arm
// before it answers, and the list shows its live phase (dhcp, booting,
// stalled, ...).
//
// When no daemon answers (nothing listens, no [http] listen, a daemon without
// the API), it falls back to the state files as before and says so on stderr:
// it writes <state_dir>/host-states.tsv through HostStateStore, the same code
// (and the same file lock) the daemon uses, so the two never lose each
// other's changes; a running rackbootd picks the change up within a second.
// `list` then says, per host, whether the running daemon applies that state
// (APPLIED: yes, pending, no, unconfirmed), from the status file the daemon
// writes after each reload (<state_dir>/host-states.applied, see
// engine/site/host_states.h): a state is never shown as applied when the
// daemon does not apply it. A daemon that answers but fails (a timeout after
// connecting, an answer that is not the API's) is an error, never a silent
// fallback.
#include <curl/curl.h>
#include <gflags/gflags.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/cli/flag_help.h"
#include "engine/site/bring_up_log.h"
#include "engine/site/host_states.h"
#include "engine/site/inventory.h"
#include "engine/site/site_config.h"
#include "nlohmann/json.hpp"
#include "tools/hosts/api_client.h"
#include "tools/hosts/host_view.h"

DEFINE_string(config, "",
              "The site configuration (site.toml); required unless --api or "
              "RACKBOOT_API is given.");
DEFINE_string(state_dir, "",
              "Overrides server.state_dir of the site configuration.");
DEFINE_string(inventory, "",
              "Overrides server.inventory of the site configuration.");
DEFINE_string(api, "",
              "The running rackbootd's API, http://ADDR:PORT (default: "
              "RACKBOOT_API, else http://<[http] listen>, 0.0.0.0 as "
              "127.0.0.1); 'off' reads and writes the state files only.");
DEFINE_string(token_file, "",
              "The bearer token for arm and disarm (default: [api] "
              "token_file of site.toml).");
DEFINE_bool(show_token, false,
            "arm: print the new install token alone on stdout (for scripts; "
            "the message goes to stderr). It is a secret: without this flag "
            "only its expiry is printed. Needs read access to the state "
            "directory's host-states.tsv.");
DEFINE_bool(json, false,
            "Print JSON: list prints the API's GET /api/v1/hosts answer, arm "
            "and disarm the host object (from the state files when no daemon "
            "answers: the same shape, with \"source\":\"files\" in list's).");

namespace {

namespace site = rackboot::site;
namespace hosts = rackboot::hosts;
using Json = nlohmann::json;

// Exit statuses (documented in kUsage and tools/README.md).
constexpr int kExitError = 1;           // local files, other failures
constexpr int kExitUsage = 2;           // bad command line
constexpr int kExitNoHost = 3;          // no such inventory host (404)
constexpr int kExitDenied = 4;          // 401/403, or the token file
constexpr int kExitApiError = 5;        // any other API error answer
constexpr int kExitNoAnswer = 6;        // connected, but no usable answer
constexpr int kExitCannotInstall = 78;  // the site cannot install it (409)

constexpr char kUsage[] =
    "Usage: rackboot-hosts [--config=site.toml] [--state_dir=DIR] "
    "[--inventory=FILE]\n"
    "                      [--api=URL|off] [--token_file=FILE] [--json] "
    "COMMAND\n"
    "\n"
    "Commands:\n"
    "  list          every inventory host: state, bring-up phase, since when,\n"
    "                and whether the running rackbootd applies the state;\n"
    "                under the table each armed host's install token expiry\n"
    "  arm HOST      set HOST to 'install' with a new install token (printed:\n"
    "                its expiry; the token itself only with --show-token):\n"
    "                its next network boot installs it, once\n"
    "  disarm HOST   set HOST to 'localboot': its next network boot boots\n"
    "                from disk\n"
    "\n"
    "It asks the running rackbootd's API (--api, else RACKBOOT_API, else\n"
    "site.toml's [http] listen; connect timeout 2 s, whole request 10 s);\n"
    "when none answers it uses the state files and says so on stderr.\n"
    "\n"
    "Exit status:\n"
    "  0   done\n"
    "  1   error (state files, configuration)\n"
    "  2   usage\n"
    "  3   no such host in the inventory\n"
    "  4   the API refused the token (401) or the client (403), or the token\n"
    "      file cannot be read\n"
    "  5   the API answered another error (its detail is printed)\n"
    "  6   a daemon was reached but gave no usable answer in time\n"
    "  78  arm: the site cannot install this host (its profile is not a\n"
    "      [[profile]] of site.toml, or it has no ip without authoritative "
    "DHCP)\n";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "rackboot-hosts: %s\n", message.c_str());
  return code;
}

void PrintJson(const Json& json) {
  std::printf(
      "%s\n",
      json.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
}

// ---- The state files (no daemon answers) ---------------------------------
// Opened only then: with an answering daemon the tool reads neither the
// inventory nor the state directory (its user may not even be allowed to).

// host-states.tsv as it is on disk, read only (never created, never
// locked): the tokens' expiries for the notes, the token for --show-token.
// NotFound when no state was ever set.
absl::StatusOr<site::HostStateMap> ReadStatesFile(
    const site::SiteConfig& config) {
  const std::string path =
      absl::StrCat(config.server.state_dir, "/host-states.tsv");
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    const int err = errno;
    std::string message = absl::StrCat(path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    return absl::PermissionDeniedError(message);
  }
  std::string text;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
    text.append(buffer, n);
  }
  std::fclose(f);
  return site::HostStateStore::ParseStates(text, path);
}

// The note under the table for each armed host ("node1: install token
// expires ..."), from `entries` (lowercase hostnames).
void AddTokenNotes(const std::vector<std::string>& armed,
                   const site::HostStateMap& entries,
                   std::vector<std::string>& notes) {
  const absl::Time now = absl::Now();
  for (const std::string& name : armed) {
    auto it = entries.find(name);
    site::HostStateEntry entry(site::HostState::kInstall, absl::InfinitePast());
    if (it != entries.end()) entry = it->second;
    const std::string note = hosts::TokenNote(entry, now);
    if (!note.empty()) notes.push_back(absl::StrCat(name, ": ", note));
  }
}

// What arm prints once the state is set: the expiry on stdout, or with
// --show-token the token alone on stdout and the rest on stderr. `entry` is
// the host's entry just written (by this process or the daemon).
int PrintArmed(const std::string& name, const site::HostStateEntry& entry,
               const std::string& applied_by) {
  const std::string expiry = hosts::TokenNote(entry, absl::Now());
  std::FILE* human = FLAGS_show_token ? stderr : stdout;
  std::fprintf(human, "%s: install (%s); %s\n", name.c_str(),
               applied_by.c_str(), expiry.c_str());
  if (FLAGS_show_token) {
    if (entry.token.empty()) {
      return Fail(kExitError, absl::StrCat("--show-token: ", name,
                                           " has no install token"));
    }
    std::printf("%s\n", entry.token.c_str());
  }
  return 0;
}

struct Files {
  site::Inventory inventory;
  std::unique_ptr<site::HostStateStore> states;
};

absl::StatusOr<Files> OpenFiles(const site::SiteConfig& config) {
  Files files;
  absl::StatusOr<site::Inventory> inventory =
      site::Inventory::Load(config.server.inventory);
  if (!inventory.ok()) return inventory.status();
  files.inventory = *std::move(inventory);
  absl::StatusOr<std::unique_ptr<site::HostStateStore>> states =
      site::HostStateStore::Open(config.server.state_dir, files.inventory);
  if (!states.ok()) return states.status();
  files.states = *std::move(states);
  return files;
}

// "token_expires" of an armed host's JSON (RFC 3339, null without a token);
// never the token.
void AddTokenExpiry(Json& host, const site::HostStateEntry& entry) {
  if (entry.state != site::HostState::kInstall) return;
  host["token_expires"] = entry.token.empty()
                              ? Json(nullptr)
                              : hosts::JsonTime(entry.token_expires);
}

int ListFromFiles(const site::SiteConfig& config) {
  absl::StatusOr<Files> files = OpenFiles(config);
  if (!files.ok())
    return Fail(kExitError, std::string(files.status().message()));
  const std::string& state_dir = config.server.state_dir;
  absl::StatusOr<std::map<std::string, site::BringUpPhase>> phases =
      site::BringUpLog::Read(state_dir);
  if (!phases.ok()) {
    return Fail(kExitError, std::string(phases.status().message()));
  }
  absl::StatusOr<site::HostStateStore::AppliedStatus> daemon =
      site::HostStateStore::ReadAppliedStatus(state_dir);
  if (FLAGS_json) {
    Json out = Json::object();
    Json& list = out["hosts"] = Json::array();
    Json& counts = out["counts"] = Json::object();
    for (const std::string& phase : hosts::PhaseNames()) counts[phase] = 0;
    for (const site::InventoryHost& host : files->inventory.hosts()) {
      auto phase = phases->find(host.hostname);
      Json h = hosts::HostJsonFromFiles(
          config, host, files->states->Get(host.hostname),
          phase == phases->end() ? nullptr : &phase->second);
      counts[h["phase"].get<std::string>()] =
          counts[h["phase"].get<std::string>()].get<int>() + 1;
      list.push_back(std::move(h));
    }
    out["degraded"] =
        daemon.ok() && daemon->running && !daemon->degraded.empty()
            ? Json(daemon->degraded)
            : Json(nullptr);
    out["time"] = hosts::JsonTime(absl::Now());
    out["source"] = "files";
    PrintJson(out);
    return 0;
  }
  std::vector<std::string> notes;  // under the table: why APPLIED says so
  if (!daemon.ok()) {
    notes.push_back(absl::StrCat(
        "APPLIED unconfirmed: no status from a running rackbootd (",
        daemon.status().message(),
        "): it is not running, or could not write its status file"));
  } else if (!daemon->running) {
    notes.push_back(absl::StrCat("APPLIED unconfirmed: rackbootd (pid ",
                                 daemon->pid, ") that wrote ", state_dir,
                                 "/host-states.applied is not running"));
  } else if (!daemon->degraded.empty()) {
    notes.push_back(absl::StrCat(
        "rackbootd (pid ", daemon->pid,
        ") is DEGRADED: host states unreadable (", daemon->degraded,
        "); every host boots from disk until it can read them"));
  }
  std::vector<hosts::HostRow> rows;
  std::vector<std::string> armed;
  for (const site::InventoryHost& host : files->inventory.hosts()) {
    if (files->states->Get(host.hostname) == site::HostState::kInstall) {
      armed.push_back(host.hostname);
    }
  }
  AddTokenNotes(armed, *files->states->Snapshot(), notes);
  for (const site::InventoryHost& host : files->inventory.hosts()) {
    auto phase = phases->find(host.hostname);
    const bool seen = phase != phases->end();
    const site::HostState state = files->states->Get(host.hostname);
    std::string applied = "unconfirmed";
    if (daemon.ok() && daemon->running) {
      auto it = daemon->hosts.find(host.hostname);
      if (it != daemon->hosts.end() && it->second == state) {
        applied = "yes";
      } else if (!daemon->degraded.empty()) {
        applied = "no (degraded)";
      } else {
        applied = "pending";
      }
    }
    rows.push_back(hosts::HostRow{
        .name = host.hostname,
        .mac = site::FormatMac(host.mac),
        .address = host.address.has_value() ? host.address->ToString() : "",
        .profile = host.profile,
        .state = std::string(site::HostStateName(state)),
        .phase = seen ? phase->second.phase : "",
        .when = seen ? absl::FormatTime("%Y-%m-%d %H:%M:%S", phase->second.when,
                                        absl::UTCTimeZone())
                     : "",
        .applied = applied,
        .reason = ""});
  }
  std::fputs(hosts::FormatTable(rows, notes).c_str(), stdout);
  return 0;
}

int SetFromFiles(const site::SiteConfig& config, const std::string& command,
                 const std::string& name) {
  absl::StatusOr<Files> files = OpenFiles(config);
  if (!files.ok())
    return Fail(kExitError, std::string(files.status().message()));
  const site::InventoryHost* host = files->inventory.FindByHostname(name);
  if (host == nullptr) {
    return Fail(kExitNoHost, absl::StrCat("no host '", name, "' in ",
                                          config.server.inventory,
                                          " (rackboot-hosts list shows them)"));
  }
  const site::HostState state = command == "arm" ? site::HostState::kInstall
                                                 : site::HostState::kLocalboot;
  // Arming a host this site cannot install would only make rackbootd log
  // an error (or refuse its next start): refuse here, where the operator
  // sees it. Exit 78 (EX_CONFIG), as rackbootd for configuration errors.
  if (state == site::HostState::kInstall) {
    if (absl::Status s = site::CheckArmedHost(config, files->inventory, *host,
                                              "rackboot arm");
        !s.ok()) {
      std::fprintf(stderr, "rackboot-hosts: cannot arm %s: %s\n",
                   host->hostname.c_str(), std::string(s.message()).c_str());
      return kExitCannotInstall;
    }
  }
  absl::Status set = files->states->Set(host->hostname, state);
  if (!set.ok()) return Fail(kExitError, std::string(set.message()));
  if (FLAGS_json) {
    absl::StatusOr<std::map<std::string, site::BringUpPhase>> phases =
        site::BringUpLog::Read(config.server.state_dir);
    const site::BringUpPhase* last = nullptr;
    if (phases.ok()) {
      auto it = phases->find(host->hostname);
      if (it != phases->end()) last = &it->second;
    }
    Json out = hosts::HostJsonFromFiles(config, *host, state, last);
    const site::HostStateEntry entry =
        files->states->Snapshot()->at(host->hostname);
    AddTokenExpiry(out, entry);
    if (FLAGS_show_token && state == site::HostState::kInstall) {
      out["install_token"] = entry.token;
    }
    PrintJson(out);
    return 0;
  }
  if (state == site::HostState::kInstall) {
    return PrintArmed(host->hostname,
                      files->states->Snapshot()->at(host->hostname),
                      "a running rackbootd applies it to the next network "
                      "boot");
  }
  std::printf(
      "%s: %s (a running rackbootd applies it to the next network boot)\n",
      host->hostname.c_str(), std::string(site::HostStateName(state)).c_str());
  return 0;
}

// ---- The API ----------------------------------------------------------------

// A JSON body of an answer, or discarded (not JSON, not application/json).
Json ParseBody(const hosts::ApiAnswer& answer) {
  if (!absl::StartsWithIgnoreCase(answer.content_type, "application/json")) {
    return Json(Json::value_t::discarded);
  }
  return Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
}

// A daemon that serves HTTP but has no API (an older rackbootd, or one whose
// routes do not include /api/v1/): a 404 or 405 that is not the API's JSON.
bool NoApiThere(const hosts::ApiAnswer& answer) {
  return (answer.status == 404 || answer.status == 405) &&
         ParseBody(answer).is_discarded();
}

// An error answer of the API: prints its detail, returns the exit status.
int ApiError(const std::string& base, const hosts::ApiAnswer& answer,
             const std::string& doing) {
  const Json body = ParseBody(answer);
  std::string detail;
  std::string code;
  if (body.is_object()) {
    if (auto it = body.find("detail"); it != body.end() && it->is_string()) {
      detail = it->get<std::string>();
    }
    if (auto it = body.find("error"); it != body.end() && it->is_string()) {
      code = it->get<std::string>();
    }
  }
  if (detail.empty()) detail = answer.body.substr(0, 200);
  const std::string what =
      absl::StrCat(doing, ": rackbootd at ", base, " answered ", answer.status,
                   code.empty() ? "" : " ", hosts::TerminalSafe(code), ": ",
                   hosts::TerminalSafe(detail));
  switch (answer.status) {
    case 404:
      return Fail(kExitNoHost, what);
    case 401:
    case 403:
      return Fail(kExitDenied,
                  absl::StrCat(what,
                               " (the token comes from --token_file, else "
                               "[api] token_file of site.toml)"));
    case 409:
      return Fail(kExitCannotInstall, what);
    default:
      return Fail(kExitApiError, what);
  }
}

// 2xx with a JSON body, or an exit status (printed).
int NotJson(const std::string& base, const std::string& why) {
  return Fail(kExitNoAnswer, absl::StrCat("rackbootd at ", base,
                                          " gave an answer that is not the "
                                          "API's: ",
                                          why));
}

// Host names go into the URL path: the hostname alphabet only.
bool IsHostName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // The tool's own flags and the exit statuses, not every linked library's.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      rackboot::cli::PrintFlagHelp(kUsage, "tools/hosts/");
      return 0;
    }
  }
  gflags::SetUsageMessage(kUsage);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_api = std::getenv("RACKBOOT_API");
  const std::string api_flag =
      !FLAGS_api.empty() ? FLAGS_api : (env_api != nullptr ? env_api : "");
  const bool valid_command =
      !args.empty() &&
      ((args[0] == "list" && args.size() == 1) ||
       ((args[0] == "arm" || args[0] == "disarm") && args.size() == 2));
  if (!valid_command || (FLAGS_config.empty() && api_flag.empty())) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string& command = args[0];
  std::string name;
  if (command != "list") {
    name = absl::AsciiStrToLower(args[1]);
    if (!IsHostName(name)) {
      return Fail(kExitNoHost, absl::StrCat("'", hosts::TerminalSafe(args[1]),
                                            "' is not a host name"));
    }
  }

  absl::optional<site::SiteConfig> config;
  if (!FLAGS_config.empty()) {
    absl::StatusOr<site::SiteConfig> loaded =
        site::LoadSiteConfig(FLAGS_config);
    if (!loaded.ok()) {
      return Fail(kExitError, std::string(loaded.status().message()));
    }
    if (!FLAGS_state_dir.empty()) loaded->server.state_dir = FLAGS_state_dir;
    if (!FLAGS_inventory.empty()) loaded->server.inventory = FLAGS_inventory;
    config = *std::move(loaded);
  }

  // Where the API is, or why there is none.
  std::string base;
  std::string why_files;  // "" with --api=off: the operator asked for files
  if (api_flag == "off") {
  } else if (!api_flag.empty()) {
    absl::StatusOr<std::string> url = hosts::NormaliseApiBase(api_flag);
    if (!url.ok()) return Fail(kExitUsage, std::string(url.status().message()));
    base = *url;
  } else if (!config->http.listen.empty()) {
    base = hosts::ApiBaseForListen(config->http.listen);
  } else {
    why_files = absl::StrCat(FLAGS_config,
                             " has no [http] listen (nor --api, RACKBOOT_API):"
                             " no API to ask");
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string doing =
      command == "list" ? "list" : absl::StrCat(command, " ", name);
  if (!base.empty()) {
    std::string token;
    if (command != "list") {
      std::string token_file = FLAGS_token_file;
      if (token_file.empty() && config.has_value()) {
        token_file = config->api.token_file;  // resolved against site.toml
      }
      if (!token_file.empty()) {
        absl::StatusOr<std::string> read = hosts::ReadTokenFile(token_file);
        if (!read.ok()) {
          return Fail(kExitDenied, std::string(read.status().message()));
        }
        token = *read;
      }
    }
    const std::string path =
        command == "list" ? "/api/v1/hosts"
                          : absl::StrCat("/api/v1/hosts/", name, "/", command);
    const hosts::ApiAnswer answer = hosts::ApiRequest(
        base, command == "list" ? "GET" : "POST", path, token);
    using Outcome = hosts::ApiAnswer::Outcome;
    if (answer.outcome == Outcome::kFailed) {
      return Fail(kExitNoAnswer,
                  absl::StrCat(doing, ": rackbootd at ", base, ": ",
                               hosts::TerminalSafe(answer.error)));
    }
    if (answer.outcome == Outcome::kNoDaemon) {
      why_files = absl::StrCat("no rackbootd answers at ", base, " (",
                               hosts::TerminalSafe(answer.error), ")");
    } else if (NoApiThere(answer)) {
      why_files =
          absl::StrCat("the server at ", base, " has no rackbootd API (HTTP ",
                       answer.status, " for ", path, ")");
    } else if (answer.status < 200 || answer.status > 299) {
      return ApiError(base, answer, doing);
    } else {
      const Json body = ParseBody(answer);
      if (body.is_discarded()) return NotJson(base, "not JSON");
      if (command == "list") {
        absl::StatusOr<std::vector<hosts::HostRow>> rows =
            hosts::RowsFromApiHosts(body);
        if (!rows.ok()) {
          return NotJson(base, std::string(rows.status().message()));
        }
        if (FLAGS_json) {
          PrintJson(body);
          return 0;
        }
        std::vector<std::string> notes;
        if (body.contains("degraded") && body["degraded"].is_string()) {
          notes.push_back(absl::StrCat(
              "rackbootd is DEGRADED: host states unreadable (",
              hosts::TerminalSafe(body["degraded"].get<std::string>()),
              "); every host boots from disk until it can read them"));
        }
        std::vector<std::string> armed;
        for (const hosts::HostRow& row : *rows) {
          if (!row.reason.empty()) {
            notes.push_back(
                absl::StrCat(row.name, ": ", row.phase, ": ", row.reason));
          }
          if (row.state == "install") armed.push_back(row.name);
        }
        // The tokens' expiry: from host-states.tsv when this user may read
        // it (the API never hands out tokens), else from the API's
        // "token_expires" when it gives one.
        absl::StatusOr<site::HostStateMap> entries =
            config.has_value() ? ReadStatesFile(*config)
                               : absl::StatusOr<site::HostStateMap>(
                                     absl::NotFoundError("no --config"));
        if (entries.ok()) {
          AddTokenNotes(armed, *entries, notes);
        } else if (body.contains("hosts") && body["hosts"].is_array()) {
          for (const Json& h : body["hosts"]) {
            if (!h.is_object() || !h.contains("token_expires") ||
                !h["token_expires"].is_string() || !h.contains("name") ||
                !h["name"].is_string()) {
              continue;
            }
            notes.push_back(absl::StrCat(
                hosts::TerminalSafe(h["name"].get<std::string>()),
                ": install token expires ",
                hosts::TerminalSafe(h["token_expires"].get<std::string>())));
          }
        }
        std::fputs(hosts::FormatTable(*rows, notes).c_str(), stdout);
        return 0;
      }
      absl::StatusOr<hosts::HostRow> row = hosts::RowFromApiHost(body);
      if (!row.ok()) return NotJson(base, std::string(row.status().message()));
      if (command == "arm") {
        // The daemon wrote the new token durably before it answered; the API
        // never carries tokens, so they come from host-states.tsv (readable
        // by root and the daemon's user: mode 0600).
        absl::StatusOr<site::HostStateMap> entries =
            config.has_value()
                ? ReadStatesFile(*config)
                : absl::StatusOr<site::HostStateMap>(
                      absl::NotFoundError("no --config: no state files"));
        const site::HostStateEntry* entry = nullptr;
        if (entries.ok()) {
          auto it = entries->find(name);
          // Only what the daemon's arm wrote (an older daemon, or a stand-in,
          // writes nothing: then the expiry is unknown here).
          if (it != entries->end() &&
              it->second.state == site::HostState::kInstall &&
              !it->second.token.empty()) {
            entry = &it->second;
          }
        }
        if (FLAGS_json) {
          Json out = body;
          if (entry != nullptr) {
            AddTokenExpiry(out, *entry);
            if (FLAGS_show_token) out["install_token"] = entry->token;
          } else if (FLAGS_show_token) {
            return Fail(
                kExitError,
                absl::StrCat(
                    "--show-token: ",
                    entries.ok() ? "no entry" : entries.status().message()));
          }
          PrintJson(out);
          return 0;
        }
        if (entry != nullptr) {
          return PrintArmed(name, *entry,
                            absl::StrCat("rackbootd at ", base,
                                         " applied it; phase ", row->phase));
        }
        std::printf(
            "%s: %s (rackbootd at %s applied it; phase %s); install token "
            "expires %s\n",
            row->name.c_str(), row->state.c_str(), base.c_str(),
            row->phase.c_str(),
            body.contains("token_expires") && body["token_expires"].is_string()
                ? hosts::TerminalSafe(body["token_expires"].get<std::string>())
                      .c_str()
                : "at a time not known here (host-states.tsv unreadable or "
                  "without it)");
        if (FLAGS_show_token) {
          return Fail(kExitError,
                      absl::StrCat("--show-token: ",
                                   entries.ok() ? "no entry"
                                                : entries.status().message()));
        }
        return 0;
      }
      if (FLAGS_json) {
        PrintJson(body);
        return 0;
      }
      std::printf("%s: %s (rackbootd at %s applied it; phase %s)\n",
                  row->name.c_str(), row->state.c_str(), base.c_str(),
                  row->phase.c_str());
      return 0;
    }
  }

  // The state files.
  if (!config.has_value()) {
    return Fail(kExitNoAnswer,
                absl::StrCat(why_files,
                             ", and without --config there are no state "
                             "files to use instead"));
  }
  if (!why_files.empty()) {
    std::fprintf(stderr, "rackboot-hosts: %s: using the state files in %s\n",
                 why_files.c_str(), config->server.state_dir.c_str());
  }
  if (command == "list") return ListFromFiles(*config);
  return SetFromFiles(*config, command, name);
}
