#!/usr/bin/env bash
# ExtractIso onto a full disk: a 1 MiB tmpfs in a private mount namespace (unshare -m, so the
# mount is gone when the test ends) receives a 3 MB file from an xorriso image:
# RESOURCE_EXHAUSTED "disk full writing PATH: N bytes free on the filesystem of DIR", and no
# .part file left behind.
set -euo pipefail
TOOL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
W=$(mktemp -d /tmp/rackboot-isofull.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v xorriso >/dev/null || fail "xorriso is not installed"
unshare -m true 2>/dev/null || fail "unshare -m failed: this test needs root (as ./rackboot test runs)"
mkdir -p "$W/tree/a" "$W/full"
echo small >"$W/tree/a/small.txt"
head -c 3000000 /dev/urandom >"$W/tree/a/big.bin"
xorriso -as mkisofs -R -J -o "$W/x.iso" "$W/tree/" >"$W/xorriso.log" 2>&1 || { cat "$W/xorriso.log"; fail xorriso; }
rc=0
unshare -m sh -c '
  mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
  "$2" iso-extract "$3" "$1" >"$4/out" 2>"$4/err"; rc=$?
  find "$1" -name "*.part" >"$4/parts"
  exit $rc' sh "$W/full" "$TOOL" "$W/x.iso" "$W" || rc=$?
[[ $rc != 99 ]] || fail "could not mount a tmpfs"
[[ $rc == 1 ]] || fail "exit $rc on a full disk: $(cat "$W/out" "$W/err")"
grep -q "^RESOURCE_EXHAUSTED: disk full writing $W/full/a/big.bin: [0-9]* bytes free on the filesystem of $W/full\$" "$W/err" ||
  fail "message: $(cat "$W/err")"
[[ ! -s $W/parts ]] || fail ".part left behind: $(cat "$W/parts")"
echo PASS
