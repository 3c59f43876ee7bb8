# shellcheck shell=bash
# Counting of `bazel test` results for ./rackboot test: passed, failed and skipped.
# Sourced by the launcher (./rackboot) and by count_results_test.sh; defines functions only.
#
# Bazel reports a test that exits 0 as PASSED, also when it could not run its check. Such a
# test says so instead, and this counts it as skipped, not passed:
#   - a line `RACKBOOT SKIPPED: <reason>` in its output (shell and Python tests, the fuzz
#     replay driver);
#   - gtest's `[  SKIPPED ] Suite.Case (N ms)` lines (GTEST_SKIP() << reason).
# A skip is accepted only when the test's label is listed, with its reason, in the allow-list
# (tests/skips/allowed.tsv: `//package:target<TAB>reason`; `#` comments and blank lines allowed).

# Prints one `STATUS LABEL` line (PASSED or FAILED) per test in Bazel's summary of log $1.
rb_test_statuses() {
  awk '
    /^\/\/[^ ]+ +(\(cached\) )?PASSED/ { print "PASSED", $1; next }
    /^\/\/[^ ]+ +.*(FAILED|TIMEOUT|NO STATUS|INCOMPLETE|FLAKY)/ { print "FAILED", $1 }' "$1"
}

# Prints the test.log files of test LABEL under the testlogs directory $1: the test's own, and
# those of its shards and runs (shard_1_of_4/, run_2_of_3/, run_2_of_3/shard_1_of_4/).
rb_test_logs() {
  local testlogs=$1 label=$2 dir f
  label=${label#//}
  dir=$testlogs/${label/://}
  for f in "$dir/test.log" "$dir"/shard_*_of_*/test.log "$dir"/run_*_of_*/test.log \
    "$dir"/run_*_of_*/shard_*_of_*/test.log; do
    [[ -f $f ]] && printf '%s\n' "$f"
  done
  return 0
}

# Prints one reason per skip found in test log $1: the text after `RACKBOOT SKIPPED:`, or for a
# gtest case `Suite.Case: <the message given to GTEST_SKIP()>`.
rb_skips_in_log() {
  awk '
    /RACKBOOT SKIPPED:/ {
      r = $0; sub(/.*RACKBOOT SKIPPED:[ \t]*/, "", r)
      print (r == "" ? "(no reason given)" : r); next
    }
    # gtest prints "file.cc:N: Skipped", then the message lines, then the case line.
    /^\[ RUN      \] / { msg = ""; in_skip = 0; next }
    /: Skipped$/ { in_skip = 1; next }
    /^\[  SKIPPED \] [^ ]+ \([0-9]+ ms\)/ {
      print $4 ": " (msg == "" ? "(no reason given)" : msg); msg = ""; in_skip = 0; next
    }
    in_skip && NF { msg = (msg == "" ? $0 : msg " " $0) }' "$1"
}

# Succeeds when LABEL ($2) is listed with a reason in allow-list file $1.
rb_skip_allowed() {
  [[ -f $1 ]] || return 1
  awk -F '\t' -v label="$2" '
    /^[ \t]*(#|$)/ { next }
    $1 == label && $2 ~ /[^ \t]/ { found = 1 }
    END { exit !found }' "$1"
}

# Counts the results of one `bazel test` whose output is in log $1, reading the test.log of
# each test that Bazel reported PASSED under testlogs directory $2 and judging skips against
# allow-list $3. Prints each skipped test (to stdout, with its reasons), then a last line
# `PASSED FAILED SKIPPED UNLISTED` (UNLISTED: skipped tests not in the allow-list).
count_results() {
  local log=$1 testlogs=$2 allow=$3
  local passed=0 failed=0 skipped=0 unlisted=0 status label f reasons
  while read -r status label; do
    if [[ $status == FAILED ]]; then
      failed=$((failed + 1))
      continue
    fi
    reasons=
    while read -r f; do
      reasons+=$(rb_skips_in_log "$f")$'\n'
    done < <(rb_test_logs "$testlogs" "$label")
    reasons=$(printf '%s' "$reasons" | sed '/^$/d' | sort -u)
    if [[ -z $reasons ]]; then
      passed=$((passed + 1))
      continue
    fi
    skipped=$((skipped + 1))
    if rb_skip_allowed "$allow" "$label"; then
      echo "SKIPPED $label (allowed in $(basename "$allow")):"
    else
      unlisted=$((unlisted + 1))
      echo "SKIPPED $label (NOT in $(basename "$allow"): fix the test or list it with its reason):"
    fi
    printf '%s\n' "$reasons" | sed 's/^/    /'
  done < <(rb_test_statuses "$log")
  echo "$passed $failed $skipped $unlisted"
}

# Prints, for each test that Bazel's summary in log $1 reports as failed, its label and the last
# $3 lines (default 40) of each of its test.log files under testlogs directory $2. The launcher
# prints this last, so that the tail of a long CI log says which test failed and why.
rb_failure_report() {
  local log=$1 testlogs=$2 lines=${3:-40} status label f any
  while read -r status label; do
    [[ $status == FAILED ]] || continue
    echo "FAILED $label"
    any=0
    while read -r f; do
      any=1
      echo "  --- last $lines lines of ${f#"$testlogs"/}"
      tail -n "$lines" "$f" | sed 's/^/  | /'
    done < <(rb_test_logs "$testlogs" "$label")
    [[ $any -eq 1 ]] || echo "  (no test.log found: it may not have built or started)"
  done < <(rb_test_statuses "$log")
}
