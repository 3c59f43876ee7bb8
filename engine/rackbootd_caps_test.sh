#!/usr/bin/env bash
# A non-root start as the systemd unit makes it (issue 18): rackbootd as user nobody with only
# CAP_NET_BIND_SERVICE, ambient (setpriv, as AmbientCapabilities= does), binds TFTP on port 69
# and HTTP on port 80 of a loopback in a network namespace of its own, serves, and then holds no
# capability at all: CapEff, CapPrm, CapInh and CapAmb are zero in /proc/PID/status and in every
# thread's /proc/PID/task/TID/status (io_uring's kernel workers, iou-*, aside: the kernel runs
# their requests with the submitting thread's credentials). It logs what it dropped. Without the
# capability the same start fails on port 69 (so the capability is what binds it).
# Usage: rackbootd_caps_test.sh RACKBOOTD
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
if [[ $EUID -ne 0 ]]; then
  echo "needs root (setpriv to nobody with an ambient capability, a network namespace)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/rbcaps.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/tftp"
echo "hello from rackboot" >"$work/tftp/hello.txt"
chmod -R a+rX "$work"

# start OUT LOG [SETPRIV_CAP_ARGS...]: rackbootd as nobody in a new network namespace.
start() {
  local out=$1 log=$2
  shift 2
  unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$@" \
    "$rackbootd" --tftp_root="$work/tftp" --tftp_listen=127.0.0.1:69 \
    --http_listen=127.0.0.1:80 --dhcp_mode=off --user=nobody --threads=2 \
    >"$out" 2>"$log" &
  pid=$!
}

# Without the capability: port 69 is refused (a system failure, exit 1).
start "$work/nocap.out" "$work/nocap.log"
rc=0
wait "$pid" || rc=$?
pid=
[[ $rc -eq 1 ]] && grep -qi 'permission denied' "$work/nocap.log" ||
  fail "without CAP_NET_BIND_SERVICE: exit $rc, want 1 and 'Permission denied': $(cat "$work/nocap.log")"

# With it, ambient, as the unit grants it.
start "$work/rb.out" "$work/rb.log" --inh-caps=+net_bind_service --ambient-caps=+net_bind_service
for _ in $(seq 100); do grep -q 'rackbootd: ready' "$work/rb.out" && break; sleep 0.1; done
grep -q 'rackbootd: ready, TFTP on 127.0.0.1:69' "$work/rb.out" ||
  fail "did not start with the capability: $(cat "$work/rb.log")"
grep -q 'capabilities dropped after binding: cap_net_bind_service (effective, permitted, inheritable, ambient) on [0-9]* threads' "$work/rb.log" ||
  fail "no log line of what was dropped: $(cat "$work/rb.log")"
[[ $(stat -c %U "/proc/$pid") == nobody ]] || fail "not running as nobody"

# Every set of every thread is empty.
zero='0000000000000000'
threads=0
for task in /proc/"$pid"/task/*; do
  name=$(cat "$task/comm")
  [[ $name == iou-* ]] && continue
  threads=$((threads + 1))
  for set in CapEff CapPrm CapInh CapAmb; do
    value=$(awk -v k="$set:" '$1 == k { print $2 }' "$task/status")
    [[ $value == "$zero" ]] || fail "thread $name (${task##*/}) still has $set $value"
  done
done
(( threads >= 3 )) || fail "only $threads threads seen (main, DHCP-less shard group of 2 expected)"
for set in CapEff CapPrm CapAmb; do
  grep -q "^$set:[[:space:]]*$zero\$" "/proc/$pid/status" || fail "/proc/$pid/status: $(grep "^$set" "/proc/$pid/status")"
done

# It still serves what it bound: HTTP on port 80 and TFTP on port 69, inside its namespace.
got=$(nsenter -t "$pid" -n curl -sS --max-time 5 http://127.0.0.1:80/boot/hello.txt) ||
  fail "HTTP on port 80 after the drop: $(tail -5 "$work/rb.log")"
[[ $got == "hello from rackboot" ]] || fail "HTTP served '$got'"
got=$(nsenter -t "$pid" -n curl -sS --max-time 5 tftp://127.0.0.1:69/hello.txt) ||
  fail "TFTP on port 69 after the drop: $(tail -5 "$work/rb.log")"
[[ $got == "hello from rackboot" ]] || fail "TFTP served '$got'"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[[ $rc -eq 0 ]] || fail "exit $rc after SIGTERM: $(tail -5 "$work/rb.log")"
echo PASS
