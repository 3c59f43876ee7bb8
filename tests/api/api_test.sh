#!/usr/bin/env bash
# The JSON API (/api/v1/, docs/api.md) of a real rackbootd, with curl, in a network namespace of
# its own (loopback, plus 198.18.0.1/.41/.77 on lo so that a client can be "not loopback"):
#  A) no [api] token_file: every route (hosts with filters, one host, leases, transfers, events;
#     a slow download shows in transfers and as its host's transfer);
#     arm from loopback, and the host's pxelinux config (over HTTP, from its reserved address)
#     says so at once, and host-states.tsv too; disarm back; every write logged with its source;
#     the events stream carries both changes and resumes with Last-Event-ID; errors: unknown
#     host 404, a host this site cannot install 409, malformed JSON and a non-object 400,
#     no Content-Type 415, oversized body 413, GET on arm 405 with Allow, unknown route 404,
#     a write from 198.18.0.77 403 - none of them changes a state.
#  B) SIGHUP with [api] token_file: writes without the token 401 (WWW-Authenticate), with a
#     wrong one 401, with the right one 200 even from 198.18.0.77; a token file readable by
#     others stops rackbootd at start (exit 78, the file named).
#  C) 1,100 event subscribers (the cap is 1,024: the rest 503 busy) with bounded memory, all
#     receiving, the API still answering; a subscriber that never reads dropped while another
#     gets all 5,000 events in order (tests/api/sse_load.py).
# Usage: api_test.sh RACKBOOTD
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)

if [[ -z ${RB_API_TEST_NS:-} ]]; then
  [[ $EUID -eq 0 ]] || { echo "needs root (a network namespace)" >&2; exit 1; }
  ns="rbapi$$"
  ip netns add "$ns"
  rc=0
  RB_API_TEST_NS=$ns ip netns exec "$ns" bash "$0" "$@" || rc=$?
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
fi
ip link set lo up
for a in 1 41 77; do ip addr add "198.18.0.$a/16" dev lo; done

# The state directory on tmpfs: 3,000 arm/disarm fsyncs cost nothing there.
work=$(mktemp -d /dev/shm/rackboot-api-test.XXXXXX)
chmod 755 "$work"
pid=""
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[api %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  [[ -e $work/rb.log ]] && { echo "--- rackbootd log (last 30 lines)" >&2; tail -n 30 "$work/rb.log" >&2; }
  exit 1
}
for c in curl jq /usr/bin/python3; do command -v $c >/dev/null || fail "missing $c"; done

root=$work/tftp
mkdir -p "$root" "$work/state"
for f in pxelinux.0 vmlinuz initrd.img; do echo "$f" >"$root/$f"; done
head -c $((64 << 20)) /dev/zero >"$root/big.img"
chmod -R a+rX "$root"
MAC1=02:00:c6:12:00:41
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
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{hostname}}"
EOT
cat >"$work/inventory.csv" <<EOT
mac,hostname,ip,profile,state
$MAC1,node001,198.18.0.41,lab,localboot
02:00:c6:12:00:42,node002,198.18.0.42,lab,localboot
02:00:c6:12:00:43,node003,,nosuch,localboot
EOT

start() {
  "$rackbootd" --threads=2 "$@" >"$work/rb.out" 2>"$work/rb.log" </dev/null &
  pid=$!
  for _ in $(seq 100); do
    grep -q '^rackbootd: ready' "$work/rb.out" && return 0
    kill -0 "$pid" 2>/dev/null || fail "rackbootd exited at start"
    sleep 0.1
  done
  fail "rackbootd not ready"
}
U=http://127.0.0.1:8080/api/v1
# call METHOD PATH [CURL ARGS...]: the body to $work/body, prints the status.
call() {
  local m=$1 p=$2
  shift 2
  curl -sS -o "$work/body" -w '%{http_code}' -X "$m" "$@" "$U$p"
}
# expect STATUS ERROR METHOD PATH [CURL ARGS...]: that status and, for errors, that JSON code.
expect() {
  local want=$1 code=$2 got
  shift 2
  got=$(call "$@") || fail "curl $*"
  [[ $got == "$want" ]] || fail "$1 $2: status $got, want $want: $(cat "$work/body")"
  if [[ $code != - ]]; then
    [[ $(jq -r .error "$work/body") == "$code" ]] || fail "$1 $2: error $(cat "$work/body"), want $code"
    [[ -n $(jq -r .detail "$work/body") ]] || fail "$1 $2: no detail"
  fi
}
J=(-H 'Content-Type: application/json')
state_of() { curl -sS "$U/hosts/$1" | jq -r .state; }
pxe() { curl -sS --interface 198.18.0.41 "http://198.18.0.1:8080/boot/pxelinux.cfg/01-${MAC1//:/-}"; }

################################################################################################
log "A) no token file: routes, arm/disarm from loopback, errors"
start --config="$work/site.toml"
curl -sS -N "$U/events" >"$work/events.txt" &
events_pid=$!
sleep 0.3

expect 200 - GET /hosts
jq -e '.hosts | length == 3' "$work/body" >/dev/null || fail "hosts: $(cat "$work/body")"
jq -e '.counts | keys | length == 9' "$work/body" >/dev/null || fail "counts: $(cat "$work/body")"
jq -e '.hosts[0] | .name == "node001" and .mac == "02:00:c6:12:00:41" and .profile == "lab"
  and .state == "localboot" and .phase == "unknown" and has("transfer") and has("last_seen")' \
  "$work/body" >/dev/null || fail "host fields: $(jq -c '.hosts[0]' "$work/body")"
[[ $(jq -r .time "$work/body") =~ ^20[0-9-]+T[0-9:]+\.[0-9]{3}Z$ ]] || fail "time: $(jq .time "$work/body")"
expect 200 - GET '/hosts?q=node00&phase=unknown'
jq -e '.hosts | length == 3' "$work/body" >/dev/null || fail "q filter: $(cat "$work/body")"
expect 200 - GET '/hosts?phase=armed'
jq -e '.hosts | length == 0' "$work/body" >/dev/null || fail "phase filter: $(cat "$work/body")"
expect 200 - GET '/hosts?q=NODE002'
jq -e '[.hosts[].name] == ["node002"]' "$work/body" >/dev/null || fail "q=NODE002: $(cat "$work/body")"
expect 400 bad_request GET '/hosts?phase=asleep'
expect 400 bad_request GET '/hosts?colour=red'
expect 200 - GET /hosts/node001
jq -e '.timeline | type == "array"' "$work/body" >/dev/null || fail "timeline: $(cat "$work/body")"
expect 404 not_found GET /hosts/nosuch
[[ $(jq -r .detail "$work/body") == 'no host "nosuch" in the inventory' ]] || fail "404 detail: $(cat "$work/body")"
expect 400 bad_request GET /hosts/bad_name
expect 200 - GET /leases
jq -e '.leases == [] and .truncated == false' "$work/body" >/dev/null || fail "leases: $(cat "$work/body")"
expect 200 - GET /transfers
jq -e '.transfers | type == "array"' "$work/body" >/dev/null || fail "transfers: $(cat "$work/body")"
expect 404 not_found GET /nothing

log "a download in progress shows in transfers and on its host"
curl -sS --limit-rate 2m --interface 198.18.0.41 -o /dev/null "http://198.18.0.1:8080/boot/big.img" &
dl=$!
ok=0
for _ in $(seq 30); do
  sleep 0.2
  curl -sS "$U/transfers" >"$work/body"
  if jq -e '.transfers[] | select(.file == "big.img" and .host == "node001" and .transport == "http"
      and .size > 60000000 and .bytes > 0 and (.client | startswith("198.18.0.41:")))' \
      "$work/body" >/dev/null; then ok=1; break; fi
done
[[ $ok == 1 ]] || fail "no big.img transfer to node001 in /transfers: $(cat "$work/body")"
curl -sS "$U/hosts/node001" >"$work/body"
jq -e '.transfer.file == "big.img"' "$work/body" >/dev/null || fail "node001's transfer: $(cat "$work/body")"
curl -sS "$U/hosts" >"$work/body"
jq -e '.hosts[0].transfer.file == "big.img" and .hosts[1].transfer == null' "$work/body" >/dev/null ||
  fail "hosts' transfer fields: $(cat "$work/body")"
kill "$dl" 2>/dev/null || true
wait "$dl" 2>/dev/null || true
curl -sS -D "$work/head" -o /dev/null "$U/hosts"
grep -qi '^content-type: application/json' "$work/head" || fail "Content-Type: $(cat "$work/head")"
grep -qi '^cache-control: no-store' "$work/head" || fail "Cache-Control: $(cat "$work/head")"

log "arm node001: applied before the answer"
pxe | grep -qi 'localboot' || fail "node001's pxelinux config before arm: $(pxe)"
expect 200 - POST /hosts/node001/arm "${J[@]}"
jq -e '.name == "node001" and .state == "install"' "$work/body" >/dev/null || fail "arm answer: $(cat "$work/body")"
# No sleep: the answer came after the change was applied.
pxe | grep -q 'hostname=node001' || fail "node001's pxelinux config right after arm: $(pxe)"
grep -qP '^node001\tinstall\t' "$work/state/host-states.tsv" || fail "host-states.tsv: $(cat "$work/state/host-states.tsv")"
[[ $(state_of node001) == install ]] || fail "GET after arm: $(state_of node001)"
grep -qE 'api: POST /api/v1/hosts/node001/arm from 127\.0\.0\.1:[0-9]+: armed' "$work/rb.log" ||
  fail "no log line for the arm"
expect 200 - POST /hosts/node001/disarm "${J[@]}" -d '{}'
[[ $(jq -r .state "$work/body") == localboot ]] || fail "disarm answer: $(cat "$work/body")"
pxe | grep -qi 'localboot' || fail "node001's pxelinux config after disarm: $(pxe)"
grep -qE 'api: POST /api/v1/hosts/node001/disarm from 127\.0\.0\.1:[0-9]+: disarmed' "$work/rb.log" ||
  fail "no log line for the disarm"

log "bad writes change nothing"
expect 404 not_found POST /hosts/nosuch/arm "${J[@]}"
expect 409 conflict POST /hosts/node003/arm "${J[@]}"
expect 400 bad_json POST /hosts/node002/arm "${J[@]}" -d '{"a":'
expect 400 bad_request POST /hosts/node002/arm "${J[@]}" -d '[1,2]'
expect 415 unsupported_media_type POST /hosts/node002/arm -d '{}'
expect 415 unsupported_media_type POST /hosts/node002/arm
got=$(curl -sS -o "$work/body" -w '%{http_code}' "${J[@]}" --data-binary "@-" "$U/hosts/node002/arm" \
  < <(head -c 5000 /dev/zero | tr '\0' ' ')) || true
[[ $got == 413 ]] || fail "5,000-byte body: $got $(cat "$work/body")"
expect 405 method_not_allowed GET /hosts/node002/arm
curl -sS -D "$work/head" -o /dev/null "$U/hosts/node002/arm"
grep -qi '^allow: POST' "$work/head" || fail "405 without Allow: $(cat "$work/head")"
got=$(curl -sS -o "$work/body" -w '%{http_code}' --interface 198.18.0.77 "${J[@]}" -X POST \
  http://198.18.0.1:8080/api/v1/hosts/node002/arm)
[[ $got == 403 && $(jq -r .error "$work/body") == forbidden ]] || fail "from 198.18.0.77: $got $(cat "$work/body")"
grep -qE 'api: POST /api/v1/hosts/node002/arm from 198\.18\.0\.77:[0-9]+: refused 403' "$work/rb.log" ||
  fail "no log line for the refused write"
for h in node002 node003; do
  [[ $(state_of $h) == localboot ]] || fail "$h changed by a refused write: $(state_of $h)"
done

log "events: both changes streamed, resume with Last-Event-ID"
sleep 0.5
kill "$events_pid" 2>/dev/null || true
wait "$events_pid" 2>/dev/null || true
grep -q '^event: host$' "$work/events.txt" || fail "no host events: $(head -c 600 "$work/events.txt")"
n=$(grep '^data: ' "$work/events.txt" | grep '"host":"node001"' | grep -c '"kind":"state"' || true)
[[ $n -ge 2 ]] || fail "$n state events for node001 in the stream, want 2: $(cat "$work/events.txt")"
first=$(grep -m1 '^id: ' "$work/events.txt" | cut -d' ' -f2)
curl -sS -N --max-time 1 -H "Last-Event-ID: $((first - 1))" "$U/events" >"$work/resume.txt" 2>/dev/null || true
grep -q "^id: $first\$" "$work/resume.txt" || fail "resume after $((first - 1)) lacks id $first: $(head -c 400 "$work/resume.txt")"
curl -sS -N --max-time 1 "$U/events?after=$first" >"$work/resume2.txt" 2>/dev/null || true
grep -q "^id: $first\$" "$work/resume2.txt" && fail "?after=$first replayed $first itself"
expect 400 bad_request GET '/events?after=x'

################################################################################################
log "B) SIGHUP with [api] token_file"
token="t0k-$RANDOM$RANDOM"
echo "$token" >"$work/token"
chmod 600 "$work/token"
printf '\n[api]\ntoken_file = "%s"\n' "$work/token" >>"$work/site.toml"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'reload: API token read from' "$work/rb.log" && break; sleep 0.1; done
grep -q 'reload: API token read from' "$work/rb.log" || fail "SIGHUP did not read the token file"
got=$(call POST /hosts/node002/arm "${J[@]}" -D "$work/head")
[[ $got == 401 && $(jq -r .error "$work/body") == unauthorized ]] || fail "no token: $got $(cat "$work/body")"
grep -qi '^www-authenticate: Bearer' "$work/head" || fail "401 without WWW-Authenticate: $(cat "$work/head")"
expect 401 unauthorized POST /hosts/node002/arm "${J[@]}" -H "Authorization: Bearer ${token}x"
expect 401 unauthorized POST /hosts/node002/arm "${J[@]}" -H "Authorization: Basic $token"
[[ $(state_of node002) == localboot ]] || fail "node002 changed by a refused write"
got=$(curl -sS -o "$work/body" -w '%{http_code}' --interface 198.18.0.77 -X POST \
  -H "Authorization: Bearer $token" http://198.18.0.1:8080/api/v1/hosts/node002/arm)
[[ $got == 200 && $(jq -r .state "$work/body") == install ]] || fail "right token from 198.18.0.77: $got $(cat "$work/body")"
expect 200 - POST /hosts/node002/disarm -H "Authorization: Bearer $token"

log "C) 1,100 event subscribers; a subscriber that never reads"
/usr/bin/python3 "$here/sse_load.py" many 8080 "$pid" node002 "$token" || fail "sse_load.py many"
/usr/bin/python3 "$here/sse_load.py" stuck 8080 "$pid" node002 "$token" || fail "sse_load.py stuck"
grep -q 'api: POST' "$work/rb.log" || fail "no api log lines"
kill -TERM "$pid"
wait "$pid" || fail "rackbootd did not stop cleanly"
pid=""

log "a token file others may read stops rackbootd at start"
chmod 644 "$work/token"
rc=0
timeout 20 "$rackbootd" --config="$work/site.toml" >"$work/rb2.out" 2>"$work/rb2.log" </dev/null || rc=$?
[[ $rc == 78 ]] || fail "token file 0644: exit $rc, want 78: $(tail -3 "$work/rb2.log")"
grep -q "site.toml:[0-9]*: api.token_file: $work/token: mode 0644" "$work/rb2.log" ||
  fail "no error naming the file: $(tail -3 "$work/rb2.log")"
log "PASS"
