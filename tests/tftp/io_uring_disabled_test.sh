#!/usr/bin/env bash
# With io_uring disabled by the kernel (sysctl kernel.io_uring_disabled=2):
#  - rackbootd --io=uring (and rackboot-load --io=uring) refuse to start, with an error that
#    names io_uring and the reason, instead of quietly running on epoll;
#  - rackbootd with the default --io=auto falls back to epoll by itself, says so in exactly one
#    log line, and serves as usual.
# The sysctl is restored on exit, whatever happens. Where the knob is missing or read-only the
# test cannot check anything: it reports itself skipped (RACKBOOT SKIPPED, see
# docs/development.md), which ./rackboot test does not count as a pass.
# Usage: io_uring_disabled_test.sh RACKBOOTD RACKBOOT_LOAD
set -euo pipefail
rackbootd=$1
load=$2
knob=/proc/sys/kernel/io_uring_disabled
if [[ ! -e $knob ]]; then
  echo "RACKBOOT SKIPPED: $knob is missing (kernel before 6.6): cannot disable io_uring here"
  exit 0
fi
saved=$(cat "$knob")
if ! echo "$saved" 2>/dev/null >"$knob"; then
  echo "RACKBOOT SKIPPED: $knob is read-only here (not root, or a container): cannot disable io_uring"
  exit 0
fi
work=$(mktemp -d)
pid=
cleanup() {
  echo "$saved" >"$knob"
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$work/log" >&2 || true; exit 1; }

mkdir "$work/root"
head -c 100000 /dev/urandom >"$work/root/file"
echo 2 >"$knob"

# --io=uring: io_uring or nothing.
rc=0
timeout 20 "$rackbootd" --tftp_root="$work/root" --tftp_listen=127.0.0.1:0 --threads=2 \
  --io=uring >"$work/strict.out" 2>"$work/strict.log" || rc=$?
[[ $rc -ne 0 ]] || fail "rackbootd --io=uring started with io_uring disabled"
[[ $rc -ne 124 ]] || fail "rackbootd --io=uring kept running with io_uring disabled"
grep -q '^rackbootd: ready' "$work/strict.out" && fail "rackbootd --io=uring said ready"
grep -q 'io_uring unavailable and io_uring was required' "$work/strict.log" ||
  fail "--io=uring error does not say io_uring was required: $(cat "$work/strict.log")"
grep -q 'kernel.io_uring_disabled' "$work/strict.log" ||
  fail "--io=uring error does not say why: $(cat "$work/strict.log")"
grep -q 'using epoll' "$work/strict.log" && fail "--io=uring fell back to epoll"
echo "ok: rackbootd --io=uring refused to start: $(grep -m1 'io_uring unavailable' "$work/strict.log")"

rc=0
timeout 20 "$load" --server=127.0.0.1 --clients=1 --flow=tftp:/file --duration=5 \
  --io=uring >"$work/load.out" 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "rackboot-load --io=uring did not fail (exit $rc)"
grep -q 'io_uring unavailable and io_uring was required' "$work/load.out" ||
  fail "rackboot-load --io=uring error does not say so: $(cat "$work/load.out")"
echo "ok: rackboot-load --io=uring refused to run"

# The default (--io=auto): epoll, one log line, and the file served.
"$rackbootd" --tftp_root="$work/root" --tftp_listen=127.0.0.1:0 --threads=2 \
  >"$work/ready" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  grep -q '^rackbootd: ready' "$work/ready" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/^rackbootd: ready, TFTP on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/ready")
[[ -n $port ]] || fail "rackbootd did not start with io_uring disabled"
echo "$saved" >"$knob"
timeout 30 curl -sS -o "$work/out" "tftp://127.0.0.1:$port/file" || fail "download failed"
cmp -s "$work/out" "$work/root/file" || fail "file differs"
warnings=$(grep -c 'io_uring unavailable, using epoll' "$work/log" || true)
[[ $warnings -eq 1 ]] || fail "expected one fallback log line, got $warnings"
grep -q 'kernel.io_uring_disabled' "$work/log" || fail "the log line does not say why"
grep -q 'shard(s) on epoll' "$work/log" || fail "service did not report epoll"
echo "PASS: --io=uring refused, --io=auto fell back to epoll with one log line and served the file"
