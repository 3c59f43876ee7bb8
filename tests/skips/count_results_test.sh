#!/usr/bin/env bash
# count_results (what ./rackboot test ends with) over a made-up Bazel summary and made-up
# test.log files: a skipped test counts as skipped, not passed; a skip listed in the allow-list
# is accepted, an unlisted one is reported; gtest skips, shards and runs are read; failed tests
# stay failed. Also checks the real allow-list (tests/skips/allowed.tsv) is well formed.
# Usage: count_results_test.sh COUNT_RESULTS_SH SKIPS_TSV
set -euo pipefail
# shellcheck source=tests/skips/count_results.sh
source "$1"
real_allow_list=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

logs=$work/testlogs
mk_log() {  # mk_log PATH-UNDER-TESTLOGS CONTENT
  mkdir -p "$(dirname "$logs/$1")"
  printf '%s\n' "$2" >"$logs/$1"
}

cat >"$work/bazel.out" <<'EOF'
INFO: Build completed successfully, 40 total actions
//a:plain_test                                                  PASSED in 0.3s
//a:cached_test                                        (cached) PASSED in 1.0s
//a:shell_skip_test                                             PASSED in 0.1s
//a:listed_skip_test                                            PASSED in 0.1s
//b/c:gtest_skip_test                                           PASSED in 0.2s
//b/c:gtest_all_ran_test                                        PASSED in 0.2s
//b:sharded_test                                                PASSED in 2.0s
//b:runs_test                                                   PASSED in 2.0s
//b:broken_test                                                 FAILED in 0.4s
//b:skipped_but_failed_test                                     FAILED in 0.4s
//b:slow_test                                                  TIMEOUT in 60.0s
//b:flaky_test                                       FLAKY, failed in 1 out of 2 in 3.0s
//b:never_ran_test                                           NO STATUS
Executed 12 out of 13 tests: 6 tests pass, 5 fail locally and 2 were skipped.
EOF
mk_log a/plain_test/test.log "PASS: everything checked
a line saying SKIPPED without the marker does not count"
mk_log a/cached_test/test.log "ok"
mk_log a/shell_skip_test/test.log "starting
RACKBOOT SKIPPED: /proc/sys/kernel/io_uring_disabled is missing"
mk_log a/listed_skip_test/test.log "RACKBOOT SKIPPED: needs a KVM device"
mk_log b/c/gtest_skip_test/test.log '[==========] Running 2 tests from 1 test suite.
[ RUN      ] PrivilegesTest.Ok
[       OK ] PrivilegesTest.Ok (1 ms)
[ RUN      ] PrivilegesTest.DropReachesEveryThread
engine/os/privileges_test.cc:54: Skipped
needs root

[  SKIPPED ] PrivilegesTest.DropReachesEveryThread (0 ms)
[==========] 2 tests from 1 test suite ran. (1 ms total)
[  PASSED  ] 1 test.
[  SKIPPED ] 1 test, listed below:
[  SKIPPED ] PrivilegesTest.DropReachesEveryThread'
mk_log b/c/gtest_all_ran_test/test.log '[ RUN      ] A.B
[       OK ] A.B (1 ms)
[  PASSED  ] 1 test.'
mk_log b/sharded_test/shard_1_of_2/test.log "shard one ran"
mk_log b/sharded_test/shard_2_of_2/test.log "RACKBOOT SKIPPED: shard two had nothing to do"
mk_log b/runs_test/run_1_of_2/test.log "ran"
mk_log b/runs_test/run_2_of_2/test.log "ran"
mk_log b/skipped_but_failed_test/test.log "RACKBOOT SKIPPED: whatever"

cat >"$work/allow.tsv" <<'EOF'
# comment line, then a blank line

//a:listed_skip_test	the CI machine has no /dev/kvm
//a:no_reason_test	
EOF

out=$(count_results "$work/bazel.out" "$logs" "$work/allow.tsv")
echo "$out"
last=$(tail -n 1 <<<"$out")
[[ $last == "4 5 4 3" ]] ||
  fail "counts: want '4 5 4 3' (passed failed skipped unlisted), got '$last'"
grep -q '^SKIPPED //a:shell_skip_test (NOT in allow.tsv' <<<"$out" || fail "unlisted shell skip"
grep -q '^    /proc/sys/kernel/io_uring_disabled is missing$' <<<"$out" || fail "shell skip reason"
grep -q '^SKIPPED //a:listed_skip_test (allowed in allow.tsv)' <<<"$out" || fail "listed skip"
grep -q '^    PrivilegesTest.DropReachesEveryThread: needs root$' <<<"$out" || fail "gtest reason"
[[ $(grep -c 'DropReachesEveryThread' <<<"$out") -eq 1 ]] || fail "gtest skip counted twice"
grep -q '^SKIPPED //b:sharded_test (NOT' <<<"$out" || fail "skip in a shard's log"
grep -q 'skipped_but_failed\|plain_test\|cached_test\|runs_test' <<<"$out" &&
  fail "a test that ran or failed is listed as skipped"

# A label listed without a reason is not allowed; one listed with a reason is.
rb_skip_allowed "$work/allow.tsv" //a:listed_skip_test || fail "listed label refused"
rb_skip_allowed "$work/allow.tsv" //a:no_reason_test && fail "label without a reason allowed"
rb_skip_allowed "$work/allow.tsv" //a:other_test && fail "unlisted label allowed"
rb_skip_allowed "$work/missing.tsv" //a:listed_skip_test && fail "missing allow-list allows"

# Nothing reported: nothing counted (a build that broke is counted by the launcher).
: >"$work/empty.out"
[[ $(count_results "$work/empty.out" "$logs" "$work/allow.tsv") == "0 0 0 0" ]] ||
  fail "empty summary"

# The failure report names each failed test with the tail of its log, and nothing else.
mk_log b/broken_test/test.log "$(printf 'line %s\n' $(seq 1 50))
assertion failed: want 3, got 4"
report=$(rb_failure_report "$work/bazel.out" "$logs" 5)
# Shown without the marker, which would make this test's own log read as skipped.
sed 's/RACKBOOT SKIPPED:/(marker):/' <<<"$report"
for label in //b:broken_test //b:skipped_but_failed_test //b:slow_test //b:flaky_test \
  //b:never_ran_test; do
  grep -qx "FAILED $label" <<<"$report" || fail "failure report lacks $label"
done
[[ $(grep -c '^FAILED ' <<<"$report") -eq 5 ]] || fail "failure report lists a test that passed"
grep -q '^  | assertion failed: want 3, got 4$' <<<"$report" || fail "failure report lacks the log tail"
grep -q '^  | line 47$' <<<"$report" || fail "failure report: want the last 5 lines"
grep -q '^  | line 46$' <<<"$report" && fail "failure report: more than the last 5 lines"
grep -A1 -x 'FAILED //b:never_ran_test' <<<"$report" | grep -q 'no test.log found' ||
  fail "failure report: a test without a log is not said to have none"

# The real allow-list: comments, blank lines, or //package:target<TAB>reason.
bad=$(awk -F '\t' '!/^[ \t]*(#|$)/ && !($1 ~ /^\/\/[^ :]*:[^ ]+$/ && $2 ~ /[^ \t]/ && NF == 2)' \
  "$real_allow_list")
[[ -z $bad ]] || fail "malformed lines in tests/skips/allowed.tsv: $bad"
echo "PASS: passed, failed and skipped counted; only listed skips accepted"
