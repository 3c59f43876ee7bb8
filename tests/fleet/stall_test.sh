#!/usr/bin/env bash
# Must-have 5 of issue 13, "a host that stalls is visible", end to end on a real rackbootd in a
# network namespace of its own (198.18.0.1 and the hosts' reserved 198.18.0.41/.42 on lo):
# site.toml [status] stall_booting = "10s", stall_installing = "10s".
#  - node001 (armed) fetches its kernel over HTTP from its reserved address: "booting" in the
#    API; a download of its initrd cut short is a "transfer_failed" event, not progress;
#  - ~10 s later it is "stalled" in GET /api/v1/hosts/node001 (reason names the phase, the
#    bound and the failed transfer), in ?phase=stalled, in the counts, in
#    rackboot_hosts{phase="stalled"} on /metrics, and as a "stalled" event on the SSE stream;
#  - its initrd arrives whole: "installing" at once (recovery), and nothing stalled in the
#    metrics; then it stalls in installing past that bound too;
#  - node002 (not armed, never seen) stays "unknown" throughout;
#  - a SIGHUP with a bad [status] value is refused with file:line, and one with a new bound
#    applies (the log names the change).
# Usage: stall_test.sh RACKBOOTD
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

if [[ -z ${RB_STALL_TEST_NS:-} ]]; then
  [[ $EUID -eq 0 ]] || { echo "needs root (a network namespace)" >&2; exit 1; }
  ns="rbstall$$"
  ip netns add "$ns"
  rc=0
  RB_STALL_TEST_NS=$ns ip netns exec "$ns" bash "$0" "$@" || rc=$?
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
fi
ip link set lo up
for a in 1 41 42; do ip addr add "198.18.0.$a/16" dev lo; done

work=$(mktemp -d /dev/shm/rackboot-stall-test.XXXXXX)
chmod 755 "$work"
pid=""
events_pid=""
cleanup() {
  [[ -n $events_pid ]] && kill "$events_pid" 2>/dev/null || true
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[stall %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  [[ -e $work/rb.log ]] && { echo "--- rackbootd log (last 30 lines)" >&2; tail -n 30 "$work/rb.log" >&2; }
  exit 1
}
for c in curl jq; do command -v $c >/dev/null || fail "missing $c"; done

root=$work/tftp
mkdir -p "$root" "$work/state"
echo vmlinuz >"$root/vmlinuz"
head -c $((32 << 20)) /dev/zero >"$root/initrd.img"
chmod -R a+rX "$root"
site() {  # site STALL_BOOTING
  cat <<EOT
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

[status]
stall_dhcp = "10s"
stall_booting = "$1"
stall_installing = "10s"

[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{hostname}}"
EOT
}
site 10s >"$work/site.toml"
cat >"$work/inventory.csv" <<EOT
mac,hostname,ip,profile,state,rack
02:00:c6:12:00:41,node001,198.18.0.41,lab,install,r1
02:00:c6:12:00:42,node002,198.18.0.42,lab,localboot,r1
EOT

"$rackbootd" --threads=2 --config="$work/site.toml" >"$work/rb.out" 2>"$work/rb.log" </dev/null &
pid=$!
for _ in $(seq 100); do
  grep -q '^rackbootd: ready' "$work/rb.out" && break
  kill -0 "$pid" 2>/dev/null || fail "rackbootd exited at start"
  sleep 0.1
done
grep -q '^rackbootd: ready' "$work/rb.out" || fail "rackbootd not ready"
U=http://127.0.0.1:8080
host() { curl -sS "$U/api/v1/hosts/$1"; }
phase() { host "$1" | jq -r .phase; }
metric() {  # metric 'NAME{LABELS}': its value on /metrics
  curl -sS "$U/metrics" | awk -v want="$1" '$1 == want {print $2}'
}
curl -sS -N "$U/api/v1/events" >"$work/events.txt" &
events_pid=$!
sleep 0.3

[[ $(phase node001) == armed ]] || fail "node001 starts $(phase node001), want armed"
[[ $(phase node002) == unknown ]] || fail "node002 starts $(phase node002), want unknown"

log "node001 fetches its kernel: booting"
curl -sS --fail --interface 198.18.0.41 -o /dev/null "$U/boot/vmlinuz" || fail "GET vmlinuz"
[[ $(phase node001) == booting ]] || fail "after the kernel: $(phase node001), want booting"
t_kernel=$(date +%s)

log "its initrd cut short: a transfer_failed event, no progress"
curl -sS --interface 198.18.0.41 --limit-rate 1M --max-time 1 -o /dev/null \
  "$U/boot/initrd.img" 2>/dev/null && fail "the cut download completed"
for _ in $(seq 50); do
  host node001 | jq -e '.timeline[-1].kind == "transfer_failed"' >/dev/null && break
  sleep 0.1
done
host node001 | jq -e '.timeline[-1].kind == "transfer_failed" and .phase == "booting"' \
  >/dev/null || fail "no transfer_failed event: $(host node001)"

log "past stall_booting (10s): stalled in the API, the counts, the metrics and the events"
for _ in $(seq 100); do
  [[ $(phase node001) == stalled ]] && break
  sleep 0.2
done
elapsed=$(($(date +%s) - t_kernel))
[[ $(phase node001) == stalled ]] || fail "not stalled after ${elapsed}s: $(host node001)"
((elapsed >= 10)) || fail "stalled after ${elapsed}s, before the 10s bound"
reason=$(host node001 | jq -r .reason)
[[ $reason == "no progress in booting for "*"(bound 10s); last: http initrd.img failed at "* ]] ||
  fail "reason: $reason"
curl -sS "$U/api/v1/hosts?phase=stalled" | jq -e '[.hosts[].name] == ["node001"]' >/dev/null ||
  fail "?phase=stalled: $(curl -sS "$U/api/v1/hosts?phase=stalled")"
curl -sS "$U/api/v1/hosts" | jq -e '.counts.stalled == 1 and .counts.unknown == 1' >/dev/null ||
  fail "counts: $(curl -sS "$U/api/v1/hosts" | jq -c .counts)"
[[ $(metric 'rackboot_hosts{phase="stalled"}') == 1 ]] ||
  fail "rackboot_hosts{phase=\"stalled\"} is '$(metric 'rackboot_hosts{phase="stalled"}')'"
grep -q '"host":"node001","kind":"stalled","phase":"stalled"' "$work/events.txt" ||
  fail "no stalled event on the stream: $(tail -c 600 "$work/events.txt")"

log "the initrd arrives whole: installing at once, nothing stalled"
curl -sS --fail --interface 198.18.0.41 -o /dev/null "$U/boot/initrd.img" || fail "GET initrd"
[[ $(phase node001) == installing ]] || fail "after the initrd: $(phase node001)"
[[ $(host node001 | jq -r .reason) == "" ]] || fail "a reason left: $(host node001)"
[[ $(metric 'rackboot_hosts{phase="stalled"}') == 0 ]] || fail "still stalled in the metrics"
[[ $(metric 'rackboot_hosts{phase="installing"}') == 1 ]] || fail "not installing in the metrics"
t_initrd=$(date +%s)
for _ in $(seq 100); do
  [[ $(phase node001) == stalled ]] && break
  sleep 0.2
done
[[ $(host node001 | jq -r .reason) == "no progress in installing for "*"(bound 10s)" ]] ||
  fail "not stalled in installing after $(($(date +%s) - t_initrd))s: $(host node001)"
[[ $(phase node002) == unknown ]] || fail "node002 is $(phase node002), want unknown"

log "SIGHUP: a bad [status] value is refused with file:line; a good one applies"
site 10x >"$work/site.toml"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'status.stall_booting' "$work/rb.log" && break; sleep 0.1; done
grep -q "site.toml:[0-9]*: status.stall_booting: \"10x\": not a duration" "$work/rb.log" ||
  fail "no file:line error for stall_booting = \"10x\""
site 20m >"$work/site.toml"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'status changed' "$work/rb.log" && break; sleep 0.1; done
grep -q 'reload: status changed: stall_booting 10s -> 20m' "$work/rb.log" ||
  fail "the reload did not apply stall_booting: $(grep reload "$work/rb.log" | tail -3)"
kill -0 "$pid" 2>/dev/null || fail "rackbootd died"
log "PASS"
