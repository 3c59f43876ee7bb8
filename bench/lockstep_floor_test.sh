#!/usr/bin/env bash
# The lock-step floor responder (bench/lockstep_floor_responder.cc) serves the right bytes, so the
# floor row of `./rackboot bench tftp` cannot be fast by being wrong. In a network namespace of
# its own (loopback only, removed on exit), the responder on 127.0.0.1:69:
#   1. tftp-hpa's tftp, no options (DATA 1 at once, blksize 512): bytes equal the file;
#   2. busybox tftp -b 1432 (blksize and tsize: the OACK path): bytes equal;
#   3. a file of exactly 3 × 1432 bytes (an empty last block) through busybox: bytes equal;
#   4. a missing file: the client fails (ERROR 1), and so does a name with "..";
#   5. rackboot-load, 40 lock-step clients (blksize 1432, windowsize 1) each reading two files,
#      every byte compared with --verify: all complete, none retransmitted.
# Usage: lockstep_floor_test.sh RESPONDER RACKBOOT_LOAD
set -euo pipefail
RESPONDER=$(realpath "$1")
LOAD=$(realpath "$2")
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || fail "needs root (a network namespace for port 69)"
for tool in ip tftp busybox cmp; do command -v "$tool" >/dev/null || fail "missing $tool"; done

NS=rbfloor-$$
WORK=$(mktemp -d)
PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n $PID ]]; then
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
  fi
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
inns() { timeout 30 ip netns exec "$NS" "$@"; }

mkdir -p "$WORK/root/sub" "$WORK/out"
head -c $((1024 * 1024 + 321)) /dev/urandom >"$WORK/root/kernel"
head -c $((3 * 1432)) /dev/urandom >"$WORK/root/sub/even"
printf 'DEFAULT x\n' >"$WORK/root/sub/default"

ip netns exec "$NS" "$RESPONDER" 127.0.0.1:69 "$WORK/root" 2 2>"$WORK/responder.log" &
PID=$!
for _ in $(seq 50); do
  ip netns exec "$NS" ss -Hlun 'sport = :69' | grep -q . && break
  sleep 0.1
done
kill -0 "$PID" || fail "responder exited: $(cat "$WORK/responder.log")"

echo "1. tftp-hpa, no options"
(cd "$WORK/out" && inns tftp -m binary 127.0.0.1 69 -c get kernel hpa.bin)
cmp "$WORK/root/kernel" "$WORK/out/hpa.bin" || fail "tftp-hpa: bytes differ"

echo "2. busybox tftp -b 1432 (OACK)"
inns busybox tftp -b 1432 -g -r /kernel -l "$WORK/out/bb.bin" 127.0.0.1 69
cmp "$WORK/root/kernel" "$WORK/out/bb.bin" || fail "busybox: bytes differ"

echo "3. a file ending on a block boundary"
inns busybox tftp -b 1432 -g -r sub/even -l "$WORK/out/even" 127.0.0.1 69
cmp "$WORK/root/sub/even" "$WORK/out/even" || fail "even file: bytes differ"

echo "4. a missing file and a name with .. fail"
if inns busybox tftp -g -r nothere -l "$WORK/out/none" 127.0.0.1 69 2>"$WORK/none.err"; then
  fail "a missing file was served"
fi
grep -qi "not found" "$WORK/none.err" || fail "missing file: $(cat "$WORK/none.err")"
if inns busybox tftp -g -r ../etc/passwd -l "$WORK/out/up" 127.0.0.1 69 2>/dev/null; then
  fail "a name with .. was served"
fi

echo "5. rackboot-load, 40 lock-step clients x 2 files, --verify"
rc=0
inns "$LOAD" --server=127.0.0.1 --clients=40 --flow=tftp:/kernel,tftp:/sub/default \
  --blksize=1432 --windowsize=1 --verify="$WORK/root/kernel,$WORK/root/sub/default" \
  --json="$WORK/load.json" --duration=20 >"$WORK/load.out" 2>&1 || rc=$?
cat "$WORK/load.out"
[[ $rc -eq 0 ]] || fail "rackboot-load exited $rc"
python3 - "$WORK/load.json" <<'EOF' || fail "rackboot-load's report"
import json, sys
d = json.load(open(sys.argv[1]))
t = d["tftp"]
assert d["completed"] == 40 and d["failed"] == 0, d
assert t["files"] == 80 and t["retransmits"] == 0 and t["rrq_to_block1_n"] == 80, t
fb = t["rrq_to_block1_ms"]
assert 0 < fb["p50"] <= fb["p99"] <= fb["max"] < 1000, fb
assert t["bytes"] == 40 * (1024 * 1024 + 321 + len("DEFAULT x\n")), t
EOF
kill -0 "$PID" || fail "the responder died"
echo "PASS"
