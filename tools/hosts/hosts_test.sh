#!/usr/bin/env bash
# rackboot-hosts lists, arms and disarms, through a daemon's API and, when none answers, through
# the state files; bad input changes nothing. Three parts: the files alone; a stand-in API on
# loopback (error answers a real daemon rarely gives: 500, garbage, silence); the real rackbootd
# on loopback (arm through its API, then it serves the host's install config at once, and the
# table follows its live phase, booting then installing, as it downloads; stopped,
# the tool falls back to the files and the restarted daemon takes what it wrote).
# Usage: hosts_test.sh RACKBOOT_HOSTS RACKBOOTD
set -euo pipefail
hosts=$1
rackbootd=${2:-}
work=$(mktemp -d)
fake_pid=
rb_pid=
cleanup() {
  [[ -z $fake_pid ]] || kill "$fake_pid" 2>/dev/null || true
  if [[ -n $rb_pid ]]; then
    kill "$rb_pid" 2>/dev/null || true
    wait "$rb_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in jq curl python3; do command -v "$tool" >/dev/null || fail "missing $tool (./rackboot setup)"; done
cat >"$work/site.toml" <<'TOML'
[server]
state_dir = "state"
inventory = "inventory.csv"
TOML
printf 'mac,hostname,ip,profile,state\n52:54:00:00:00:01,node1,,lab,install\n52:54:00:00:00:02,node2,,lab,installed\n' \
  >"$work/inventory.csv"
printf 'node1\tdhcp\t1800000000\n' >"$work/state/bring-up.tsv" 2>/dev/null || {
  mkdir -p "$work/state"
  printf 'node1\tdhcp\t1800000000\n' >"$work/state/bring-up.tsv"
}

# --help: the tool's flags and its exit statuses, not every library's flags.
help=$("$hosts" --help)
grep -q '^  78  arm: the site cannot install this host' <<<"$help" && grep -q '^  --token_file ' <<<"$help" &&
  ! grep -q 'tab_completion' <<<"$help" || fail "--help: $help"

out=$("$hosts" --config="$work/site.toml" list 2>"$work/err")
grep -q '^node1 .*52:54:00:00:00:01 .*lab .*install .*dhcp .*2027-01-15' <<<"$out" ||
  fail "list: $out"
# No [http] listen: no API to ask, and it says so on stderr (not in the table).
grep -q "site.toml has no \[http\] listen (nor --api, RACKBOOT_API): no API to ask: using the state files in .*/state$" \
  "$work/err" || fail "no fallback note: $(cat "$work/err")"
# --json from the files: the API's shape (GET /api/v1/hosts), marked as from the files.
json=$("$hosts" --config="$work/site.toml" --json list 2>/dev/null)
[[ $(jq -r '.source, (.hosts | length), .hosts[0].name, .hosts[0].phase, .hosts[0].phase_since,
            .hosts[1].phase, .counts.dhcp, .counts.installed, .counts.stalled' <<<"$json" | tr '\n' ' ') == \
   "files 2 node1 dhcp 2027-01-15T08:00:00Z installed 1 1 0 " ]] || fail "list --json: $json"
[[ $(jq -r '.hosts[0] | keys | join(",")' <<<"$json") == \
   "address,group,last_seen,mac,name,phase,phase_since,profile,reason,state,transfer" ]] ||
  fail "list --json keys: $json"
grep -q '^node2 .*installed *- *- *unconfirmed$' <<<"$out" || fail "list node2: $out"
grep -q '^APPLIED unconfirmed: no status from a running rackbootd' <<<"$out" || fail "no unconfirmed note: $out"

"$hosts" --config="$work/site.toml" disarm node1 | grep -q 'node1: localboot' || fail disarm
"$hosts" --config="$work/site.toml" list | grep -q '^node1 .*localboot' || fail "disarm not kept"
out=$("$hosts" --config="$work/site.toml" arm NODE2) || fail "arm: $out"
grep -q "^node2	install	[0-9]*	[0-9a-f]\{32\}	[0-9]*$" "$work/state/host-states.tsv" ||
  fail "arm not written with a token: $(cat "$work/state/host-states.tsv")"
token=$(awk -F'\t' '$1 == "node2" { print $4 }' "$work/state/host-states.tsv")
# The expiry is printed, never the token (it is a secret); the file holding it is 0600.
grep -Eq '^node2: install \(a running rackbootd applies it to the next network boot\); install token expires 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
  <<<"$out" || fail "arm output: $out"
! grep -q "$token" <<<"$out" || fail "arm printed the token"
[[ $(stat -c %a "$work/state/host-states.tsv") == 600 ]] || fail "host-states.tsv mode $(stat -c %a "$work/state/host-states.tsv")"
out=$("$hosts" --config="$work/site.toml" list)
grep -Eq '^node2: install token expires 20[0-9-]{8}T[0-9:]{8}Z$' <<<"$out" || fail "list: no token expiry: $out"
! grep -q "$token" <<<"$out" || fail "list printed the token"
# --show-token: the new token alone on stdout (for scripts), the message on stderr; re-arming
# replaced the old one.
new=$("$hosts" --config="$work/site.toml" --show-token arm node2 2>"$work/err") || fail "--show-token: $new"
[[ $new =~ ^[0-9a-f]{32}$ && $new != "$token" ]] || fail "--show-token printed '$new'"
grep -q "^node2	install	[0-9]*	$new	" "$work/state/host-states.tsv" || fail "--show-token: not the file's token"
grep -q '^node2: install .*install token expires' "$work/err" || fail "--show-token stderr: $(cat "$work/err")"
[[ $("$hosts" --config="$work/site.toml" --json --show-token arm node2 | jq -r '.install_token | length') == 32 ]] ||
  fail "arm --json --show-token"
[[ $("$hosts" --config="$work/site.toml" --json arm node2 | jq -r '(.token_expires | test("Z$")), has("install_token")' |
     tr '\n' ' ') == "true false " ]] || fail "arm --json: token_expires, never the token"
# An expired token says so (rackbootd never renews it: re-arm).
sed -i "s/^\(node2	install	[0-9]*	[0-9a-f]*	\)[0-9]*$/\11000/" "$work/state/host-states.tsv"
"$hosts" --config="$work/site.toml" list |
  grep -q '^node2: install token expired at 1970-01-01T00:16:40Z (re-arm to install)$' ||
  fail "no expired note: $("$hosts" --config="$work/site.toml" list)"

rc=0; out=$("$hosts" --config="$work/site.toml" arm nosuch 2>&1) || rc=$?
[[ $rc -eq 3 ]] || fail "unknown host: exit $rc, want 3"
grep -q "no host 'nosuch'" <<<"$out" || fail "unknown host error: $out"
rc=0; out=$("$hosts" --config="$work/site.toml" arm 'a/b' 2>&1) || rc=$?
[[ $rc -eq 3 ]] && grep -q "'a/b' is not a host name" <<<"$out" || fail "bad name: exit $rc: $out"
[[ $("$hosts" --config="$work/site.toml" --json disarm node2 2>/dev/null | jq -r '.name, .state, .phase' |
     tr '\n' ' ') == "node2 localboot unknown " ]] || fail "disarm --json from the files"
"$hosts" --config="$work/site.toml" arm node2 >/dev/null
# A host this site cannot install is refused, and nothing is written: with a TFTP root rackbootd
# renders the boot files, so an armed host needs a [[profile]] (issue 11: it silently booted from
# disk). Checked to fail before CheckArmedHost.
mkdir -p "$work/tftp"
cp "$work/site.toml" "$work/site-root.toml"
printf '[tftp]\nroot = "tftp"\n' >>"$work/site-root.toml"
"$hosts" --config="$work/site.toml" disarm node1 >/dev/null
before=$(cat "$work/state/host-states.tsv")
rc=0; out=$("$hosts" --config="$work/site-root.toml" arm node1 2>&1) || rc=$?
[[ $rc -eq 78 ]] || fail "arm without a [[profile]]: exit $rc, want 78: $out"
grep -q "cannot arm node1: .*inventory.csv:2: node1 is armed for install (rackboot arm) but its profile \"lab\" is not a \[\[profile\]\]" <<<"$out" ||
  fail "arm without a [[profile]]: $out"
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "a refused arm changed the states"
printf '[[profile]]\nname = "lab"\nkernel = "vmlinuz"\n' >>"$work/site-root.toml"
# Without authoritative DHCP there are no leases: per-host files go to a reservation only, and
# node1 has none.
rc=0; out=$("$hosts" --config="$work/site-root.toml" arm node1 2>&1) || rc=$?
[[ $rc -eq 78 ]] && grep -q "node1 is armed for install (rackboot arm) but has no ip" <<<"$out" ||
  fail "arm without ip, DHCP off: exit $rc: $out"
printf '[dhcp]\nmode = "authoritative"\n[[dhcp.subnet]]\ncidr = "198.18.0.0/24"\n' >>"$work/site-root.toml"
"$hosts" --config="$work/site-root.toml" arm node1 | grep -q 'node1: install' || fail "arm with its profile"

before=$(cat "$work/state/host-states.tsv")
if "$hosts" --config="$work/site.toml" frobnicate node1 2>/dev/null; then fail "bad command"; fi
if "$hosts" list 2>/dev/null; then fail "missing --config accepted"; fi
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "bad input changed the states"

# What a running daemon applies (host-states.applied, as rackbootd writes it; this shell's pid
# stands for the daemon's): node1 matches, node2 does not yet.
"$hosts" --config="$work/site.toml" disarm node1 >/dev/null
status() {
  { printf '# test\npid\t%s\nwritten\t1800000000\n' "$1"; shift; printf '%s\n' "$@"; } \
    >"$work/state/host-states.applied"
}
status $$ $'host\tnode1\tlocalboot' $'host\tnode2\tinstalled'
out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node1 .*localboot .* yes$' <<<"$out" || fail "applied node1: $out"
grep -q '^node2 .*install .* pending$' <<<"$out" || fail "pending node2: $out"
status $$ $'degraded\thost-states.tsv: cannot open: Too many open files' \
  $'host\tnode1\tlocalboot' $'host\tnode2\tlocalboot'
out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node1 .*localboot .* yes$' <<<"$out" || fail "degraded node1: $out"
grep -q '^node2 .*install .* no (degraded)$' <<<"$out" || fail "degraded node2: $out"
grep -q 'is DEGRADED: host states unreadable (host-states.tsv: cannot open: Too many open files)' \
  <<<"$out" || fail "no degraded note: $out"
# A daemon that is gone confirms nothing.
sleep 0 & gone=$!; wait "$gone"
status "$gone" $'host\tnode1\tlocalboot' $'host\tnode2\tinstall'
out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node2 .*install .* unconfirmed$' <<<"$out" || fail "stale status confirmed node2: $out"
grep -q "rackbootd (pid $gone) that wrote .* is not running" <<<"$out" || fail "no stale note: $out"
rm -f "$work/state/host-states.applied"

# ---- Through the API ---------------------------------------------------------------------------
# A stand-in for rackbootd's API on 127.0.0.1 (a free port), with the shapes of docs/api.md. It
# logs each request (method, path, Authorization, Content-Type, body) to requests.log. MODE file:
# api (default), noapi (a plain-text 404 for everything: an HTTP server without the API),
# garbage (200 that is not JSON), slow (accepts, never answers).
cat >"$work/fake_api.py" <<'PY'
import http.server, json, sys, time
work = sys.argv[1]
HOST = {"name": "node1", "mac": "52:54:00:00:00:01", "address": "198.18.0.11",
        "profile": "lab", "state": "install", "group": "198.18.0.0/24", "phase": "stalled",
        "reason": "no progress in dhcp for 2m10s", "phase_since": "2026-11-30T13:05:00Z",
        "last_seen": "2026-11-30T13:05:00Z", "transfer": None}
HOST2 = dict(HOST, name="node2", mac="52:54:00:00:00:02", address="", state="installed",
             phase="booting", reason="", phase_since=None,
             transfer={"transport": "tftp", "file": "vmlinuz", "bytes": 1, "size": 2,
                       "started": "2026-11-30T13:05:00Z"})
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, status, obj, ctype="application/json"):
        body = (json.dumps(obj) if ctype == "application/json" else obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        with open(work + "/requests.log", "a") as f:
            f.write("%s %s auth=%s type=%s body=%s\n" % (self.command, self.path,
                    self.headers.get("Authorization"), self.headers.get("Content-Type"), body))
        mode = open(work + "/MODE").read().strip()
        if mode == "slow":
            time.sleep(30); return
        if mode == "noapi":
            return self.answer(404, "not found\n", "text/plain")
        if mode == "garbage":
            return self.answer(200, "<html>hello</html>", "text/html")
        if self.command == "GET" and self.path == "/api/v1/hosts":
            return self.answer(200, {"hosts": [HOST, HOST2],
                                     "counts": {"stalled": 1, "booting": 1},
                                     "time": "2026-11-30T13:06:00Z"})
        if self.command == "POST" and self.path.startswith("/api/v1/hosts/"):
            name, _, verb = self.path[len("/api/v1/hosts/"):].partition("/")
            if self.headers.get("Authorization") != "Bearer s3cret":
                return self.answer(401, {"error": "unauthorized",
                                         "detail": "the bearer token does not match [api] token_file"})
            if name == "node2" and verb == "arm":
                return self.answer(409, {"error": "conflict",
                                         "detail": "node2 is armed for install but its profile \"x\" is not a [[profile]]"})
            if name != "node1":
                return self.answer(404, {"error": "not_found",
                                         "detail": "no host \"%s\" in the inventory" % name})
            if verb == "disarm":
                return self.answer(500, {"error": "internal", "detail": "disk full\x1b[2J"})
            return self.answer(200, dict(HOST, phase="armed", reason=""))
        return self.answer(404, {"error": "not_found", "detail": "no route"})
    do_GET = do_POST = handle_any
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(work + "/port.tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(work + "/port.tmp", work + "/port")
srv.serve_forever()
PY
echo api >"$work/MODE"
python3 "$work/fake_api.py" "$work" &
fake_pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
[[ -s $work/port ]] || fail "the stand-in API did not start"
api=http://127.0.0.1:$(cat "$work/port")
printf 's3cret\n' >"$work/token"
chmod 600 "$work/token"
H() { "$hosts" --config="$work/site.toml" --api="$api" "$@"; }

# list: the table as before, with the daemon's live phase and since when; APPLIED yes (the
# daemon's own view); a stalled host's reason under the table; nothing on stderr.
out=$(H list 2>"$work/err")
[[ ! -s $work/err ]] || fail "list through the API wrote to stderr: $(cat "$work/err")"
grep -q '^HOST  *MAC  *IP  *PROFILE  *STATE  *LAST PHASE  *WHEN (UTC)  *APPLIED$' <<<"$out" || fail "header: $out"
grep -q '^node1  *52:54:00:00:00:01 198.18.0.11  *lab  *install  *stalled  *2026-11-30 13:05:00 yes$' <<<"$out" ||
  fail "API row node1: $out"
grep -q '^node2  *52:54:00:00:00:02 -  *lab  *installed  *booting  *-  *yes$' <<<"$out" || fail "API row node2: $out"
grep -q '^node1: stalled: no progress in dhcp for 2m10s$' <<<"$out" || fail "no stalled reason: $out"
# RACKBOOT_API is the default when --api is not given; --json prints the API's answer.
json=$(RACKBOOT_API=$api "$hosts" --config="$work/site.toml" --json list)
[[ $(jq -r '.time, .hosts[1].transfer.file, (has("source"))' <<<"$json" | tr '\n' ' ') == \
   "2026-11-30T13:06:00Z vmlinuz false " ]] || fail "list --json through the API: $json"
# [http] listen is the default: 0.0.0.0 is asked on 127.0.0.1.
cp "$work/site.toml" "$work/site-http.toml"
printf '[http]\nlisten = "0.0.0.0:%s"\n' "$(cat "$work/port")" >>"$work/site-http.toml"
"$hosts" --config="$work/site-http.toml" list 2>&1 | grep -q '^node1 .* stalled ' || fail "[http] listen default"

# arm: POST with the bearer token, Content-Type application/json and the body {}; the daemon's
# host object with --json; the state files are not touched.
before=$(cat "$work/state/host-states.tsv")
: >"$work/requests.log"
out=$(H --token_file="$work/token" arm NODE1) || fail "arm through the API: $out"
# The stand-in writes no token: its expiry is not known here.
[[ $out == "node1: install (rackbootd at $api applied it; phase armed); install token expires at a time not known here (host-states.tsv unreadable or without it)" ]] ||
  fail "arm output: $out"
grep -qx 'POST /api/v1/hosts/node1/arm auth=Bearer s3cret type=application/json body={}' "$work/requests.log" ||
  fail "arm request: $(cat "$work/requests.log")"
[[ $(H --token_file="$work/token" --json arm node1 | jq -r '.name, .phase' | tr '\n' ' ') == "node1 armed " ]] ||
  fail "arm --json"
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "an arm through the API wrote the files"
# The API's errors: its detail and a distinct exit status.
expect() { # expect RC GREP ARGS...: exit status RC and stderr matching GREP
  local want=$1 pattern=$2 rc=0
  shift 2
  H "$@" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc -eq $want ]] || fail "$*: exit $rc, want $want: $(cat "$work/err")"
  grep -q -- "$pattern" "$work/err" || fail "$*: stderr: $(cat "$work/err")"
  [[ ! -s $work/out ]] || fail "$*: printed $(cat "$work/out")"
}
expect 4 'arm node1: rackbootd at .* answered 401 unauthorized: the bearer token does not match \[api\] token_file (the token comes from --token_file' arm node1
expect 78 'arm node2: rackbootd at .* answered 409 conflict: node2 is armed for install but its profile "x" is not a \[\[profile\]\]' \
  --token_file="$work/token" arm node2
expect 3 'answered 404 not_found: no host "nosuch" in the inventory' --token_file="$work/token" arm nosuch
# Daemon text is escaped before it reaches the terminal.
expect 5 'answered 500 internal: disk full\\033\[2J$' --token_file="$work/token" disarm node1
expect 4 "cannot read token file $work/none: No such file or directory" --token_file="$work/none" arm node1
printf '\n' >"$work/empty-token"
expect 4 "token file $work/empty-token is empty" --token_file="$work/empty-token" arm node1
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "refused writes changed the files"
rc=0; "$hosts" --config="$work/site.toml" --api=127.0.0.1:1 list >/dev/null 2>"$work/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q 'must begin with http://' "$work/err" || fail "bad --api: exit $rc"

# A server that is not the API: a plain 404 falls back to the files (it says so); a 200 that
# is not JSON is an error (6), never a fallback.
echo noapi >"$work/MODE"
out=$(H list 2>"$work/err")
grep -q "the server at $api has no rackbootd API (HTTP 404 for /api/v1/hosts): using the state files" "$work/err" ||
  fail "noapi note: $(cat "$work/err")"
grep -q '^node1 .*localboot .* unconfirmed$' <<<"$out" || fail "noapi fallback list: $out"
echo garbage >"$work/MODE"
expect 6 "gave an answer that is not the API's: not JSON" list
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "a garbage answer changed the files"
# A daemon that accepts and never answers: an error after the 10 s bound, not a fallback.
echo slow >"$work/MODE"
start=$SECONDS
expect 6 "list: rackbootd at $api: Operation timed out" list
(( SECONDS - start <= 13 )) || fail "the request was not bounded: $((SECONDS - start)) s"

# Nobody listens any more: the files, and a note on stderr; arm writes them as before.
kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=
out=$(H arm node2 2>"$work/err") || fail "arm without a daemon: $(cat "$work/err")"
grep -q "no rackbootd answers at $api (.*): using the state files in .*/state$" "$work/err" ||
  fail "refused note: $(cat "$work/err")"
grep -q "^node2	install" "$work/state/host-states.tsv" || fail "fallback arm not written"
# --api=off: the files, and no note (the operator asked for them).
"$hosts" --config="$work/site.toml" --api=off list >/dev/null 2>"$work/err"
[[ ! -s $work/err ]] || fail "--api=off wrote: $(cat "$work/err")"
# Without --config there is nothing to fall back to.
rc=0; "$hosts" --api="$api" list >/dev/null 2>"$work/err" || rc=$?
[[ $rc -eq 6 ]] && grep -q 'without --config there are no state files' "$work/err" || fail "no config, no daemon: exit $rc"

# ---- The real rackbootd ------------------------------------------------------------------------
# On loopback: TFTP and HTTP on free ports, DHCP off, node1 reserved at 127.0.0.1 (per-host files
# go to a host's own address only), writes need the token of [api] token_file.
[[ -n $rackbootd ]] || fail "usage: hosts_test.sh RACKBOOT_HOSTS RACKBOOTD"
rb=$work/rb
mkdir -p "$rb/tftp" "$rb/state"
for f in pxelinux.0 vmlinuz initrd.img; do echo "$f" >"$rb/tftp/$f"; done
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, int(sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }
http_port=$(free_port 1) tftp_port=$(free_port 2)
printf 's3cret\n' >"$rb/token"
chmod 600 "$rb/token"
cat >"$rb/site.toml" <<TOML
[server]
state_dir = "state"
inventory = "inventory.csv"
user = "root"
[dhcp]
mode = "off"
[[dhcp.subnet]]
cidr = "127.0.0.0/24"
[tftp]
root = "tftp"
listen = "127.0.0.1:$tftp_port"
[http]
listen = "127.0.0.1:$http_port"
[api]
token_file = "token"
[boot]
bios = "pxelinux.0"
[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{hostname}}"
TOML
printf 'mac,hostname,ip,profile,state\n52:54:00:00:00:01,node1,127.0.0.1,lab,localboot\n52:54:00:00:00:02,node2,,other,localboot\n' \
  >"$rb/inventory.csv"
rb_start() {
  : >"$rb/out"
  "$rackbootd" --config="$rb/site.toml" >"$rb/out" 2>>"$rb/log" </dev/null &
  rb_pid=$!
  for _ in $(seq 100); do
    grep -q '^rackbootd: ready' "$rb/out" && return 0
    kill -0 "$rb_pid" 2>/dev/null || fail "rackbootd exited: $(tail -5 "$rb/log")"
    sleep 0.1
  done
  fail "rackbootd not ready within 10 s: $(tail -5 "$rb/log")"
}
rb_stop() {
  kill -TERM "$rb_pid"
  timeout 10 tail --pid="$rb_pid" -f /dev/null || fail "rackbootd ignored SIGTERM"
  wait "$rb_pid" 2>/dev/null || true
  rb_pid=
}
script() { curl -sS --max-time 5 "http://127.0.0.1:$http_port/boot/ipxe/01-52-54-00-00-00-01.ipxe"; }
R() { "$hosts" --config="$rb/site.toml" "$@"; }
rb_start
script | grep -q 'menu for node1 .*: not armed, boots the local disk' || fail "node1 armed before the test: $(script)"
# list through the API ([http] listen is the default), nothing on stderr.
out=$(R list 2>"$work/err")
[[ ! -s $work/err ]] || fail "list against rackbootd wrote to stderr: $(cat "$work/err")"
# Its rendered script (fetched above) boots its disk: unknown (only an installer says done).
grep -Eq '^node1 +52:54:00:00:00:01 127.0.0.1 +lab +localboot +unknown +20[0-9-]+ [0-9:]+ yes$' <<<"$out" ||
  fail "rackbootd list: $out"
[[ $(R --json list | jq -r '([.hosts[].name] | join(",")), (.counts | length), has("source")' | tr '\n' ' ') == \
   "node1,node2 9 false " ]] || fail "rackbootd list --json: $(R --json list)"
# Writes without the token: 401, nothing changes.
rc=0; R --token_file=/dev/null arm node1 >/dev/null 2>"$work/err" || rc=$?
[[ $rc -eq 4 ]] && grep -q 'token file /dev/null is empty' "$work/err" || fail "empty token file: exit $rc"
printf 'wrong\n' >"$work/wrong-token"
rc=0; R --token_file="$work/wrong-token" arm node1 >/dev/null 2>"$work/err" || rc=$?
[[ $rc -eq 4 ]] && grep -q 'answered 401 unauthorized: the bearer token does not match' "$work/err" ||
  fail "wrong token: exit $rc: $(cat "$work/err")"
script | grep -q 'menu for node1 .*: not armed, boots the local disk' || fail "a refused arm armed node1"
# arm with [api] token_file's token (the default): applied before the answer, so the very next
# request for node1's script gets the install entry.
out=$(R arm node1 2>&1) || fail "arm through rackbootd: $out"
[[ $out =~ ^"node1: install (rackbootd at http://127.0.0.1:$http_port applied it; phase armed); install token expires "20[0-9-]{8}T[0-9:]{8}Z$ ]] ||
  fail "arm through rackbootd: $out"
grep -q '^node1	install	[0-9]*	[0-9a-f]\{32\}	[0-9]*$' "$rb/state/host-states.tsv" ||
  fail "the daemon's arm made no token: $(cat "$rb/state/host-states.tsv")"
script | grep -q "^kernel http://127.0.0.1:$http_port/boot/vmlinuz initrd=initrd.img hostname=node1$" ||
  fail "rackbootd does not serve node1's install script right after the arm: $(script)"
grep -q '^node1	install' "$rb/state/host-states.tsv" || fail "the daemon did not persist the arm"
grep -q 'api: POST /api/v1/hosts/node1/arm from 127.0.0.1:[0-9]*: armed' "$rb/log" || fail "the arm is not logged"
# Its script reached it: booting, live.
for _ in $(seq 30); do
  [[ $(R --json list | jq -r '.hosts[] | select(.name == "node1") | .state + " " + .phase') == "install booting" ]] && break
  sleep 0.1
done
[[ $(R --json list | jq -r '.hosts[] | select(.name == "node1") | .state + " " + .phase') == "install booting" ]] ||
  fail "list --json after the arm and the script: $(R --json list)"
# node1 (127.0.0.1) fetches its kernel and initrd: the table shows its live phase, installing
# (armed, the profile's last file delivered), which no state file holds.
for f in vmlinuz initrd.img; do
  curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$http_port/boot/$f" || fail "GET /boot/$f"
done
for _ in $(seq 30); do
  R list 2>/dev/null | grep -q '^node1  *52:54:00:00:00:01 127.0.0.1  *lab  *install  *installing  *20[0-9-]* [0-9:]* yes$' && break
  sleep 0.1
done
R list 2>/dev/null | grep -q '^node1 .* installing ' || fail "no live phase after the downloads: $(R list)"
# node2's profile is not a [[profile]]: the daemon's 409 and its reason, exit 78.
rc=0; R arm node2 >/dev/null 2>"$work/err" || rc=$?
[[ $rc -eq 78 ]] && grep -q 'arm node2: rackbootd at .* answered 409 conflict: .*node2.*profile "other" is not a \[\[profile\]\]' \
  "$work/err" || fail "arm node2 through rackbootd: exit $rc: $(cat "$work/err")"
rc=0; R arm nosuch >/dev/null 2>"$work/err" || rc=$?
[[ $rc -eq 3 ]] && grep -q 'answered 404 not_found: no host "nosuch" in the inventory' "$work/err" ||
  fail "arm nosuch through rackbootd: exit $rc: $(cat "$work/err")"
[[ $(R --json disarm node1 | jq -r '.name + " " + .state') == "node1 localboot" ]] || fail "disarm --json"
script | grep -q 'menu for node1 .*: not armed, boots the local disk' || fail "disarm not applied at once: $(script)"

# The daemon stops: the tool falls back to the files (and says so); the daemon started again
# serves what they say.
rb_stop
out=$(R arm node1 2>"$work/err") || fail "arm without rackbootd: $(cat "$work/err")"
grep -q "no rackbootd answers at http://127.0.0.1:$http_port (.*): using the state files in $rb/state$" "$work/err" ||
  fail "no fallback note: $(cat "$work/err")"
out=$(R list 2>/dev/null)
grep -q '^node1 .*install .* unconfirmed$' <<<"$out" || fail "list without rackbootd: $out"
rb_start
script | grep -q '^kernel .*hostname=node1$' || fail "the restarted daemon ignores the fallback's arm: $(script)"
R list 2>/dev/null | grep -q '^node1 .*install  *booting .* yes$' || fail "list after the restart (its script: booting): $(R list)"
rb_stop
echo PASS
