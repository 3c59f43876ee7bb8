#!/usr/bin/env bash
# rackbootd's log format (issue 18, "logs under systemd"): with stderr being the journal (systemd's
# JOURNAL_STREAM naming stderr's device:inode, which this test sets up itself by pointing stderr
# at a file and naming that file), every record is one "<N>message" line without glog's prefix,
# warnings are <4>, errors <3>, and no log file is written anywhere; otherwise glog's format stays.
# --log_format=journal|glog forces either; a bad value exits 78 (every flag error does) with a
# message. --log_dir turns glog's files on in both formats.
# TFTP on 127.0.0.1 with a kernel-chosen port; no other traffic.
# Usage: rackbootd_log_test.sh RACKBOOTD
set -euo pipefail
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/boot" "$work/tmp" "$work/cwd"
echo kernel >"$work/boot/vmlinuz"

# glog's prefix: I20261201 05:39:59.757714 20305 file.cc:176]
glog_line='^[IWEF][0-9]{8} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} +[0-9]+ [a-z_]+\.cc:[0-9]+\] '

# daemon NAME STREAM [FLAGS...]: rackbootd serving TFTP, stderr to $work/NAME.log, until ready,
# then SIGTERM; it must exit 0. STREAM: "match" (JOURNAL_STREAM names the log file: stderr is
# "the journal"), "other" (names another file, as a child whose stderr was redirected away from
# the journal sees it), or "none". Run without TEST_TMPDIR and GOOGLE_LOG_DIR, with TMPDIR and
# the working directory inside $work: a log file glog wrote by default would land there.
daemon() {
  local name=$1 stream=$2 js=""
  shift 2
  : >"$work/$name.log"
  case $stream in
    match) js=$(stat -c '%d:%i' "$work/$name.log") ;;
    other) : >"$work/$name.elsewhere"; js=$(stat -c '%d:%i' "$work/$name.elsewhere") ;;
    none) ;;
    *) fail "daemon: stream '$stream'" ;;
  esac
  (
    cd "$work/cwd"
    exec env -u TEST_TMPDIR -u GOOGLE_LOG_DIR -u JOURNAL_STREAM TMPDIR="$work/tmp" \
      ${js:+JOURNAL_STREAM=$js} "$rackbootd" --tftp_root="$work/boot" \
      --tftp_listen=127.0.0.1:0 --threads=1 --user=root "$@" \
      >"$work/$name.out" 2>>"$work/$name.log" </dev/null
  ) &
  local pid=$!
  pids+=("$pid")
  local i
  for i in $(seq 100); do
    grep -q '^rackbootd: ready' "$work/$name.out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^rackbootd: ready' "$work/$name.out" ||
    fail "$name: rackbootd not ready: $(cat "$work/$name.log")"
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: exit $rc after SIGTERM: $(cat "$work/$name.log")"
  last_pid=$pid
}

# The journal's format: every line "<N>...", N a priority glog's severities map to, nothing of
# glog's prefix; INFO <6> and WARNING <4> records as this run logs them.
expect_journal() {
  local name=$1 log="$work/$1.log"
  [[ -s $log ]] || fail "$name: no log at all"
  local bad
  bad=$(grep -Ev '^<[2346]>' "$log" || true)
  [[ -z $bad ]] || fail "$name: lines that are not journal records: $bad"
  grep -Eq "${glog_line#^}" "$log" && fail "$name: glog's prefix in a journal record: $(cat "$log")"
  grep -q '^<6>tftp: serving ' "$log" || fail "$name: no <6> INFO record: $(cat "$log")"
  grep -q '^<4>running as root' "$log" || fail "$name: the root warning is not <4>: $(cat "$log")"
  grep -q '^<6>rackbootd: Terminated, stopping$' "$log" || fail "$name: no stop record: $(cat "$log")"
  grep -q '^<4>tftp totals: completed=0 ' "$log" || fail "$name: totals not <4>: $(cat "$log")"
  return 0
}

expect_glog() {
  local name=$1 log="$work/$1.log"
  grep -q '^<' "$log" && fail "$name: journal records in glog's format: $(cat "$log")"
  grep -Eq "${glog_line}tftp: serving " "$log" || fail "$name: no glog INFO line: $(cat "$log")"
  grep -Eq "^W[0-9]{8} .*\] running as root" "$log" ||
    fail "$name: no glog WARNING line: $(cat "$log")"
  return 0
}

# No log file anywhere glog would put one by default, nor in the working directory.
expect_no_files() {
  local name=$1 found
  found=$(find "$work/tmp" "$work/cwd" -mindepth 1 2>/dev/null; \
          find /tmp -maxdepth 1 -name "rackbootd*.$last_pid" 2>/dev/null) || true
  [[ -z $found ]] || fail "$name: log files written without --log_dir: $found"
}

# 1. systemd's journal on stderr, --log_format at its default (auto).
daemon auto-journal match
expect_journal auto-journal
expect_no_files auto-journal
echo "auto with JOURNAL_STREAM naming stderr: journal records, no files"

# 2. Not under systemd: glog's lines as before.
daemon auto-plain none
expect_glog auto-plain
expect_no_files auto-plain
# JOURNAL_STREAM inherited, but stderr is somewhere else: glog's lines.
daemon auto-redirected other
expect_glog auto-redirected
echo "auto without JOURNAL_STREAM, or naming another file: glog's format"

# 3. Forced either way.
daemon forced-journal none --log_format=journal
expect_journal forced-journal
expect_no_files forced-journal
daemon forced-glog match --log_format=glog
expect_glog forced-glog
echo "--log_format=journal and =glog override the detection"

# 4. --log_dir: glog's files there (glog's format), stderr unchanged.
mkdir -p "$work/logs-journal" "$work/logs-glog"
daemon files-journal match --log_dir="$work/logs-journal"
expect_journal files-journal
grep -Eq "^W[0-9]{8} .*\] running as root" "$work"/logs-journal/rackbootd.*WARNING.* ||
  fail "--log_dir with the journal: no WARNING file with glog's line: $(ls -la "$work/logs-journal")"
grep -q 'tftp: serving' "$work"/logs-journal/rackbootd.*INFO.* ||
  fail "--log_dir with the journal: no INFO file: $(ls -la "$work/logs-journal")"
daemon files-glog none --log_dir="$work/logs-glog"
expect_glog files-glog
grep -q 'tftp: serving' "$work"/logs-glog/rackbootd.*INFO.* ||
  fail "--log_dir with glog: no INFO file: $(ls -la "$work/logs-glog")"
echo "--log_dir writes glog's files in both formats"

# 5. Errors: <3>, one line even when the operator's text holds a newline that would start a
# forged <2> record.
rc=0
out=$(env -u TEST_TMPDIR TMPDIR="$work/tmp" "$rackbootd" --log_format=journal 2>&1) || rc=$?
[[ $rc -eq 78 ]] || fail "nothing to serve: exit $rc (want 78): $out"
[[ $out == "<3>nothing to serve: "* && $(wc -l <<<"$out") -eq 1 ]] ||
  fail "nothing to serve is not one <3> record: $out"
rc=0
out=$("$rackbootd" --log_format=journal --tftp_listen=127.0.0.1:0 --user=root \
  --tftp_root="$work/none"$'\n<2>forged critical' 2>&1) || rc=$?
[[ $rc -eq 78 ]] || fail "missing root: exit $rc (want 78): $out"
[[ $(wc -l <<<"$out") -eq 1 && $out == "<3>"*forged* ]] ||
  fail "a newline in the message made more than one record: $out"
grep -q '^<2>' <<<"$out" && fail "a forged <2> record: $out"
echo "errors are one <3> record each, newlines escaped"

# 6. A value it does not know: exit 78 (like every flag error; EX_CONFIG, which systemd is told
# not to restart on), with a message naming the flag and its values.
for bad in syslog Journal ""; do
  rc=0
  out=$("$rackbootd" --tftp_root="$work/boot" --log_format="$bad" 2>&1) || rc=$?
  [[ $rc -eq 78 ]] || fail "--log_format='$bad': exit $rc (want 78): $out"
  grep -q -- "--log_format=$bad: use 'auto'.*'journal' or 'glog'" <<<"$out" ||
    fail "--log_format='$bad': message does not say what to use: $out"
done
echo "a bad --log_format exits 78 with a message"

# 7. --help explains it.
help=$("$rackbootd" --help)
grep -q -- '--log_format (string, default "auto")' <<<"$help" || fail "--help does not list --log_format"
grep -q -- 'log files only with --log_dir' <<<"$help" || fail "--help does not say when files are written"
echo PASS
