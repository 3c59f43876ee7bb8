#!/bin/bash
# Fetcher on a full disk: the destination is a 1 MiB tmpfs mounted in a private mount namespace
# (unshare -m, needs root); a 4 MiB file from fault_http_server.py on 127.0.0.1 must fail with
# ResourceExhausted "disk full writing ..." after one attempt, keep its .part, and after the
# tmpfs is grown (remount) the re-run resumes it and verifies the sha256.
# Usage: fetcher_disk_full_test.sh FETCH_TOOL FAULT_HTTP_SERVER
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FETCH=$(realpath "$1")
SERVER=$(realpath "$2")
WORK=$(mktemp -d "${TEST_TMPDIR:-/tmp}/fetchfull.XXXXXX")
PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n $PID ]]; then
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || fail "needs root for unshare -m and mount (./rackboot test runs as root)"

mkdir -p "$WORK/root" "$WORK/small"
head -c 4194304 /dev/urandom >"$WORK/root/big.bin"
SUM=$(sha256sum "$WORK/root/big.bin" | cut -d' ' -f1)
python3 "$SERVER" "$WORK/root" --max-seconds 60 >"$WORK/port" &
PID=$!
for _ in $(seq 50); do [[ -s $WORK/port ]] && break; sleep 0.1; done
PORT=$(head -1 "$WORK/port")
[[ -n $PORT ]] || fail "fault_http_server.py did not start"
export FETCH SUM WORK PORT
timeout 60 unshare -m bash -euo pipefail -c '
  mount --make-rprivate /
  mount -t tmpfs -o size=1m tmpfs "$WORK/small"
  rc=0
  "$FETCH" "http://127.0.0.1:$PORT/big.bin" "$WORK/small/dir/big.bin" 4194304 "$SUM" \
    >"$WORK/r1" || rc=$?
  cat "$WORK/r1"
  [[ $rc == 1 ]] || { echo "FAIL: fetch on a full disk exited $rc"; exit 1; }
  grep -q "^code=8$" "$WORK/r1" || { echo "FAIL: not ResourceExhausted"; exit 1; }
  grep -q "disk full writing" "$WORK/r1" || { echo "FAIL: message"; exit 1; }
  grep -q "^attempts=1$" "$WORK/r1" || { echo "FAIL: a full disk was retried"; exit 1; }
  [[ ! -e $WORK/small/dir/big.bin ]] || { echo "FAIL: dest exists"; exit 1; }
  part=$(stat -c %s "$WORK/small/dir/big.bin.part")
  echo "ok: disk full => ResourceExhausted after one attempt, .part kept ($part bytes)"
  mount -o remount,size=8m "$WORK/small"
  "$FETCH" "http://127.0.0.1:$PORT/big.bin" "$WORK/small/dir/big.bin" 4194304 "$SUM" >"$WORK/r2"
  cat "$WORK/r2"
  cmp "$WORK/root/big.bin" "$WORK/small/dir/big.bin"
  t=$(sed -n "s/^transferred=//p" "$WORK/r2")
  [[ $t == $((4194304 - part)) ]] || { echo "FAIL: not resumed from the .part"; exit 1; }
  echo "ok: after space was freed the re-run resumed ($t bytes) and verified"
' || fail "see above"
echo PASS
