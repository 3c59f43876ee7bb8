#!/usr/bin/env bash
# One-shot install files and the installer's API (docs/api.md "Installer reports", docs/http.md
# "/install/") on a real rackbootd, with curl from addresses in a network namespace of its own
# (198.18.0.1 the server, .41 node001, .42 node002, on lo):
#  - node001 (a debian-preseed profile) armed through the API gets a token (host-states.tsv);
#    GET /install/<token>/preseed.cfg from its own address: 200, Cache-Control: no-store;
#  - 404 "not found", the same body, for: another host's address, loopback, a guessed token,
#    the token in capitals, /install/, /install/<token>/, another family's file name; POST 405;
#  - phase installing and failed with the token from .41: 200 and the host's phase follows;
#    from .42, with a guessed token, without one: 403 "install token refused";
#  - the installer log: 1 MiB with the token 200 and read back the same; 8 KiB with a wrong
#    token 413 before the body is read; a small one with a wrong token 403;
#  - done (bearer token): 200, state installed, host-states.tsv without the token; then the
#    file is 404 and a replayed done 403;
#  - rackbootd's log never holds the whole token, and shows its first 6 hex digits.
# Usage: install_api_test.sh RACKBOOTD
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

if [[ -z ${RB_INSTALL_API_TEST_NS:-} ]]; then
  [[ $EUID -eq 0 ]] || { echo "needs root (a network namespace)" >&2; exit 1; }
  ns="rbinst$$"
  ip netns add "$ns"
  rc=0
  RB_INSTALL_API_TEST_NS=$ns ip netns exec "$ns" bash "$0" "$@" || rc=$?
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
fi
ip link set lo up
for a in 1 41 42; do ip addr add "198.18.0.$a/16" dev lo; done

work=$(mktemp -d /dev/shm/rackboot-install-api-test.XXXXXX)
chmod 755 "$work"
pid=""
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[install-api %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  [[ -e $work/rb.log ]] && { echo "--- rackbootd log (last 30 lines)" >&2; tail -n 30 "$work/rb.log" >&2; }
  exit 1
}
for c in curl jq; do command -v $c >/dev/null || fail "missing $c"; done

root=$work/tftp
mkdir -p "$root" "$work/state"
for f in pxelinux.0 vmlinuz initrd.img; do echo "$f" >"$root/$f"; done
chmod -R a+rX "$root"
cat >"$work/site.toml" <<EOT
[server]
address = "198.18.0.1"
state_dir = "$work/state"
inventory = "$work/inventory.csv"
user = "root"

[dhcp]
mode = "off"

[[dhcp.subnet]]
cidr = "198.18.0.0/16"

[tftp]
root = "$root"
listen = "198.18.0.1:1069"

[http]
listen = "0.0.0.0:8080"

[[profile]]
name = "deb"
family = "debian-preseed"
kernel = "vmlinuz"
initrd = "initrd.img"
EOT
cat >"$work/inventory.csv" <<EOT
mac,hostname,ip,profile,state
02:00:c6:12:00:41,node001,198.18.0.41,deb,localboot
02:00:c6:12:00:42,node002,198.18.0.42,deb,localboot
EOT

"$rackbootd" --threads=2 --config="$work/site.toml" >"$work/rb.out" 2>"$work/rb.log" </dev/null &
pid=$!
for _ in $(seq 100); do
  grep -q '^rackbootd: ready' "$work/rb.out" && break
  kill -0 "$pid" 2>/dev/null || fail "rackbootd exited at start"
  sleep 0.1
done
grep -q '^rackbootd: ready' "$work/rb.out" || fail "rackbootd not ready"

B=http://198.18.0.1:8080
# get FROM PATH [CURL ARGS...]: the status; the body in $work/body, the head in $work/head.
get() {
  local from=$1 path=$2
  shift 2
  curl -sS --interface "$from" -o "$work/body" -D "$work/head" -w '%{http_code}' "$@" "$B$path"
}
# refused FROM PATH: the one 404 of /install/.
refused() {
  local got
  got=$(get "$1" "$2") || fail "curl $2"
  [[ $got == 404 && $(cat "$work/body") == "not found" ]] || fail "$2 from $1: $got $(cat "$work/body")"
  grep -qi '^cache-control: no-store' "$work/head" || fail "$2: no Cache-Control: $(cat "$work/head")"
}
# report FROM VERB JSON [CURL ARGS...]: POST /api/v1/hosts/node001/VERB; the status.
report() {
  local from=$1 verb=$2 json=$3
  shift 3
  curl -sS --interface "$from" -o "$work/body" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d "$json" "$@" "$B/api/v1/hosts/node001/$verb"
}
expect_refused_report() {
  local got=$1 what=$2
  [[ $got == 403 && $(jq -r .detail "$work/body") == "install token refused" ]] ||
    fail "$what: $got $(cat "$work/body")"
}
phase_of() { curl -sS "$B/api/v1/hosts/node001" | jq -r .phase; }

log "arm node001: a token"
got=$(curl -sS -o "$work/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  http://127.0.0.1:8080/api/v1/hosts/node001/arm)
[[ $got == 200 ]] || fail "arm: $got $(cat "$work/body")"
token=$(awk -F'\t' '$1 == "node001" { print $4 }' "$work/state/host-states.tsv")
[[ $token =~ ^[0-9a-f]{32}$ ]] || fail "no token in host-states.tsv: $(cat "$work/state/host-states.tsv")"
[[ $(stat -c %a "$work/state/host-states.tsv") == 600 ]] || fail "host-states.tsv not 0600"
guess=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

log "the install file: its host only"
got=$(get 198.18.0.41 "/install/$token/preseed.cfg")
[[ $got == 200 ]] || fail "preseed.cfg from node001: $got $(cat "$work/body")"
grep -q 'd-i ' "$work/body" || fail "preseed.cfg content: $(head -5 "$work/body")"
grep -qi '^cache-control: no-store' "$work/head" || fail "200 without no-store: $(cat "$work/head")"
got=$(get 198.18.0.41 "/install/$token/preseed.cfg" -I)
[[ $got == 200 ]] || fail "HEAD preseed.cfg: $got"
refused 198.18.0.42 "/install/$token/preseed.cfg"
refused 127.0.0.1 "/install/$token/preseed.cfg"  # loopback reaches 198.18.0.1 too
refused 198.18.0.41 "/install/$guess/preseed.cfg"
refused 198.18.0.41 "/install/${token^^}/preseed.cfg"
refused 198.18.0.41 "/install/"
refused 198.18.0.41 "/install/$token/"
refused 198.18.0.41 "/install/$token"
refused 198.18.0.41 "/install/$token/ks.cfg"
refused 198.18.0.41 "/install/$token/preseed.cfg?x=1"
got=$(get 198.18.0.41 "/install/$token/preseed.cfg" -X POST -d x)
[[ $got == 405 ]] || fail "POST to /install/: $got"

log "installer reports: phase"
got=$(report 198.18.0.41 phase "{\"token\":\"$token\",\"phase\":\"installing\",\"detail\":\"d-i early\"}")
[[ $got == 200 && $(jq -r .phase "$work/body") == installing ]] || fail "phase installing: $got $(cat "$work/body")"
[[ $(phase_of) == installing ]] || fail "phase after the report: $(phase_of)"
expect_refused_report "$(report 198.18.0.42 phase "{\"token\":\"$token\",\"phase\":\"failed\"}")" "from node002"
expect_refused_report "$(report 198.18.0.41 phase "{\"token\":\"$guess\",\"phase\":\"failed\"}")" "guessed token"
expect_refused_report "$(report 198.18.0.41 phase '{"phase":"failed"}')" "no token"
got=$(report 198.18.0.41 phase "{\"token\":\"$token\",\"phase\":\"asleep\"}")
[[ $got == 400 ]] || fail "bad phase: $got $(cat "$work/body")"
got=$(report 198.18.0.41 phase "{\"token\":\"$token\",\"phase\":\"installing\"}" -H 'Content-Type: text/plain')
[[ $got == 415 ]] || fail "text/plain report: $got $(cat "$work/body")"
[[ $(phase_of) == installing ]] || fail "phase changed by refused reports: $(phase_of)"

log "installer log"
head -c $((1 << 20)) /dev/urandom | base64 -w 100 >"$work/install.log"
got=$(curl -sS --interface 198.18.0.41 -o "$work/body" -w '%{http_code}' -H 'Content-Type: text/plain' \
  --data-binary @"$work/install.log" "$B/api/v1/hosts/node001/log?token=$token")
[[ $got == 200 ]] || fail "log POST: $got $(cat "$work/body")"
# Read back with the operator's credential (no [api] token_file here:
# loopback); the host itself, from its own address, may not read it.
L=http://127.0.0.1:8080
got=$(curl -sS --interface 198.18.0.41 -o "$work/body" -w '%{http_code}' "$B/api/v1/hosts/node001/log")
[[ $got == 403 ]] || fail "log read from the host's address: $got, want 403"
curl -sS -o "$work/log.back" -D "$work/head" "$L/api/v1/hosts/node001/log"
cmp -s "$work/install.log" "$work/log.back" || fail "the log read back differs"
grep -qi '^content-type: text/plain' "$work/head" || fail "log type: $(cat "$work/head")"
head -c 8192 /dev/zero >"$work/big"
got=$(curl -sS --interface 198.18.0.41 -o "$work/body" -w '%{http_code}' -H 'Content-Type: text/plain' \
  --data-binary @"$work/big" "$B/api/v1/hosts/node001/log?token=$guess")
[[ $got == 413 ]] || fail "8 KiB log with a wrong token: $got, want 413"
got=$(curl -sS --interface 198.18.0.41 -o "$work/body" -w '%{http_code}' -H 'Content-Type: text/plain' \
  --data-binary 'x' "$B/api/v1/hosts/node001/log?token=$guess")
expect_refused_report "$got" "log with a wrong token"
cmp -s "$work/install.log" <(curl -sS "$L/api/v1/hosts/node001/log") || fail "a refused log replaced the kept one"

log "done: installed, the token revoked"
got=$(report 198.18.0.41 done '{"detail":"late_command"}' -H "Authorization: Bearer $token")
[[ $got == 200 && $(jq -r .state "$work/body") == installed ]] || fail "done: $got $(cat "$work/body")"
[[ $(phase_of) == done ]] || fail "phase after done: $(phase_of)"
grep -qP '^node001\tinstalled\t[^\t]*$' "$work/state/host-states.tsv" ||
  fail "host-states.tsv after done: $(cat "$work/state/host-states.tsv")"
refused 198.18.0.41 "/install/$token/preseed.cfg"
expect_refused_report "$(report 198.18.0.41 done "{\"token\":\"$token\"}")" "done replayed"
got=$(curl -sS "$B/api/v1/hosts/node001" | jq -r .state)
[[ $got == installed ]] || fail "state after the replay: $got"

log "the log never holds the whole token"
kill -TERM "$pid"
wait "$pid" || fail "rackbootd did not stop cleanly"
pid=""
! grep -qF "$token" "$work/rb.log" || fail "the token is in the log: $(grep -F "$token" "$work/rb.log" | head -3)"
! grep -qF "$guess" "$work/rb.log" || fail "the guessed token is in the log"
grep -qF "/install/${token:0:6}…/preseed.cfg" "$work/rb.log" || fail "no redacted install line in the log"
grep -qF "token=${token:0:6}…" "$work/rb.log" || fail "no redacted token= line in the log"
grep -q 'api: POST /api/v1/hosts/node001/done from 198.18.0.41:[0-9]*: installer reports done' "$work/rb.log" ||
  fail "no log line for done"
log "PASS"
