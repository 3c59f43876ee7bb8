#!/usr/bin/env bash
# With io_uring disabled by the kernel (sysctl kernel.io_uring_disabled=2), rackbootd falls back
# to epoll by itself, says so in exactly one log line, and serves as usual. The sysctl is
# restored on exit, whatever happens.
# Usage: io_uring_disabled_test.sh RACKBOOTD
set -euo pipefail
rackbootd=$1
knob=/proc/sys/kernel/io_uring_disabled
if [[ ! -w $knob ]]; then
  echo "SKIPPED: $knob is missing or read-only here; the fallback is covered by reactor_test"
  exit 0
fi
work=$(mktemp -d)
saved=$(cat "$knob")
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
echo "PASS: fell back to epoll with one log line and served the file"
