#!/usr/bin/env bash
# Runs one fuzz target over its seed corpus.
#   With --config=fuzz the target is a libFuzzer binary under ASan and UBSan: it fuzzes for
#   RACKBOOT_FUZZ_SECONDS (default 30) from a scratch copy of the seeds, and any finding fails
#   the test (libFuzzer exits non-zero and writes the crashing input to the test's outputs).
#   Otherwise it is the standalone replay driver: every seed runs once.
# Usage: run_fuzzer.sh FUZZER SEED_FILE_OR_DIR...
set -euo pipefail
fuzzer=$1
shift
# The help text is captured whole: piping it into `grep -q` under pipefail raced (grep exiting
# early gave the fuzzer SIGPIPE, the pipeline failed, and a libFuzzer binary handed the seed
# directories fuzzed with no time limit until Bazel's timeout).
help=$("$fuzzer" -help=1 2>&1 || true)
if [[ $help == *libFuzzer* ]]; then
  seconds=${RACKBOOT_FUZZ_SECONDS:-30}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  n=0
  for seed in "$@"; do
    if [ ! -e "$seed" ]; then
      echo "no seeds at $seed" >&2
    elif [ -d "$seed" ]; then
      find -L "$seed" -type f | while read -r f; do cp "$f" "$work/$((n++))-$(basename "$f")"; done
    else
      cp "$seed" "$work/$n-$(basename "$seed")"
    fi
    n=$((n + 1))
  done
  out=${TEST_UNDECLARED_OUTPUTS_DIR:-$work}
  exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" "$work"
fi
seeds=()
for seed in "$@"; do
  if [ -e "$seed" ]; then seeds+=("$seed"); else echo "no seeds at $seed" >&2; fi
done
exec "$fuzzer" "${seeds[@]}"
