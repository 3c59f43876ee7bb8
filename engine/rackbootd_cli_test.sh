#!/usr/bin/env bash
# rackbootd's command line: --help lists the daemon's own flags, bad input fails clearly.
set -euo pipefail
rackbootd=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

help=$("$rackbootd" --help)
grep -q '^Usage: rackbootd' <<<"$help" || fail "--help has no usage line"
grep -q -- '--config' <<<"$help" || fail "--help does not list --config"
grep -q -- '--logbuflevel' <<<"$help" && fail "--help lists glog's flags"

"$rackbootd" >/dev/null 2>&1 || fail "plain start did not exit 0"

if out=$("$rackbootd" --no_such_flag 2>&1); then fail "unknown flag accepted"; fi
grep -q 'no_such_flag' <<<"$out" || fail "unknown flag error does not name it: $out"

if out=$("$rackbootd" stray 2>&1); then fail "stray argument accepted"; fi
grep -q "unexpected argument 'stray'" <<<"$out" || fail "stray argument error unclear: $out"
echo PASS
