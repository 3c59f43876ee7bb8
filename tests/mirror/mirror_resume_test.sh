#!/usr/bin/env bash
# mirror_resume_test.sh MIRROR_BIN: an interrupted mirror resumes where it stopped.
#   1. kill -9 mid-run (the installer images are being fetched at 2 MiB/s), re-run: exit 0,
#      published, bytes fetched by the second run < the tree's bytes minus what the first run
#      had written (resume by Range), and the tree identical to a clean run's into another DIR;
#   2. SIGINT (Ctrl-C) mid-run: exit 130, "re-run to resume" on stderr, nothing published;
#   3. a second run on the same DIR while one runs: exit 1 at once, "another rackboot mirror
#      holds" the lock; the first run is not disturbed.
# Server: nginx in the test's namespace (198.18.171.1) with a 200-package signed repository and
# 3 + 6 MiB installer images, sent at 2 MiB/s per request. Wall time: about 30 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mirror_lib_init resume
MIRROR=$(realpath "$1")
[[ -x $MIRROR ]] || fail "no mirror binary at $1"
HERE=$MIRROR_LIB_DIR

mirror_ns_setup resume 171
make_test_key "$WORK/key"
log "building a signed test repository (200 packages, 9 MiB of installer images)"
bash "$HERE/make_apt_repo.sh" "$WORK/repo" "$WORK/key" 200 >"$WORK/make_repo.log" 2>&1 ||
  fail "make_apt_repo.sh: $(tail -n 20 "$WORK/make_repo.log")"
IMG=$WORK/repo/dists/bookworm/main/installer-amd64/current/images
head -c $((3 << 20)) /dev/urandom >"$IMG/netboot/debian-installer/amd64/linux"
head -c $((6 << 20)) /dev/urandom >"$IMG/netboot/debian-installer/amd64/initrd.gz"
(cd "$IMG" && find . -type f ! -name '*SUMS' | sort | xargs sha256sum >SHA256SUMS &&
  find . -type f ! -name '*SUMS' | sort | xargs md5sum >MD5SUMS)
bash "$HERE/make_apt_repo.sh" --reindex "$WORK/repo" "$WORK/key" >>"$WORK/make_repo.log" 2>&1 ||
  fail "make_apt_repo.sh --reindex: $(tail -n 20 "$WORK/make_repo.log")"
start_nginx "$NS" "$WORK/repo" 80 'location ~ /(linux|initrd\.gz)$ { limit_rate 2m; }'

ARGS=(--from="http://$NS_IP" --suite=bookworm --keyring="$WORK/key/test.gpg" --all --installer
  --json --retries=2 --timeout=10)
mkdir -p "$WORK/a" "$WORK/clean" "$WORK/c"
PUB=$WORK/a/debian12
STAGE=$WORK/a/.rackboot-mirror-debian12/staging

# wait_part STAGE MIN_BYTES PID: until the initrd's .part in STAGE holds MIN_BYTES (bounded:
# 30 s, and only while PID runs); prints its size.
wait_part() {
  local f s
  for _ in $(seq 300); do
    f=$(find "$1" -path '*/amd64/initrd.gz.part' 2>/dev/null | head -1)
    if [[ -n $f ]]; then
      s=$(stat -c %s "$f" 2>/dev/null || echo 0)
      if [[ $s -ge $2 ]]; then
        echo "$s"
        return 0
      fi
    fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

log "1. kill -9 mid-run"
"$MIRROR" "${ARGS[@]}" --to="$PUB" >"$WORK/killed.json" 2>"$WORK/killed.err" &
mpid=$!
got=$(wait_part "$STAGE" $((2 << 20)) "$mpid") ||
  fail "the first run never reached 2 MiB of initrd.gz: $(tail -n 10 "$WORK/killed.err")"
kill -9 "$mpid"
wait "$mpid" 2>/dev/null || true
[[ ! -e $PUB ]] || fail "a tree was published by the killed run"
log "killed with $got bytes of initrd.gz in staging"

timeout 120 "$MIRROR" "${ARGS[@]}" --to="$PUB" >"$WORK/resumed.json" 2>"$WORK/resumed.err" ||
  fail "the re-run after kill -9 failed: $(tail -n 20 "$WORK/resumed.err")"
[[ $(jq -r '.ok and .published' "$WORK/resumed.json") == true ]] ||
  fail "the re-run did not publish: $(cat "$WORK/resumed.json")"
total=$(jq '[.files[].size] | add' "$PUB/.rackboot-manifest.json")
fetched=$(jq .bytes_fetched "$WORK/resumed.json")
log "re-run: bytes_fetched $fetched of $total in the tree; $got were resumed"
[[ $fetched -lt $total ]] || fail "the re-run fetched $fetched bytes, not less than the tree's $total: no resume"
[[ $fetched -le $((total - got)) ]] ||
  fail "the re-run fetched $fetched bytes: more than the tree's $total minus the $got the killed run had"

log "a clean run into another DIR, for comparison"
timeout 120 "$MIRROR" "${ARGS[@]}" --to="$WORK/clean/debian12" >"$WORK/clean.json" 2>"$WORK/clean.err" ||
  fail "the clean run failed: $(tail -n 20 "$WORK/clean.err")"
tree_sums "$PUB" >"$WORK/resumed.sums"
tree_sums "$WORK/clean/debian12" >"$WORK/clean.sums"
diff -u "$WORK/clean.sums" "$WORK/resumed.sums" >&2 || fail "the resumed tree differs from a clean run's"
jq -c '.files | sort_by(.path)' "$PUB/.rackboot-manifest.json" >"$WORK/resumed.files"
jq -c '.files | sort_by(.path)' "$WORK/clean/debian12/.rackboot-manifest.json" >"$WORK/clean.files"
cmp -s "$WORK/resumed.files" "$WORK/clean.files" ||
  fail "the resumed manifest's files differ from a clean run's"
[[ -z $(find "$PUB" -name '*.part') ]] || fail ".part files in the published tree"

log "2. SIGINT mid-run"
PUBC=$WORK/c/debian12
"$MIRROR" "${ARGS[@]}" --to="$PUBC" >"$WORK/int.json" 2>"$WORK/int.err" &
mpid=$!
wait_part "$WORK/c/.rackboot-mirror-debian12/staging" $((1 << 20)) "$mpid" >/dev/null ||
  fail "the run to interrupt never reached 1 MiB of initrd.gz: $(tail -n 10 "$WORK/int.err")"

log "3. a second run on the same DIR while the first runs"
set +e
timeout 20 "$MIRROR" "${ARGS[@]}" --to="$PUBC" >"$WORK/second.json" 2>"$WORK/second.err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "the concurrent run exited $rc, want 1: $(tail -n 5 "$WORK/second.err")"
grep -q 'another rackboot mirror holds' "$WORK/second.err" "$WORK/second.json" ||
  fail "the concurrent run does not name the lock: $(cat "$WORK/second.err")"
kill -0 "$mpid" 2>/dev/null || fail "the first run died when the second one started"

kill -INT "$mpid"
set +e
wait "$mpid"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "SIGINT: exit $rc, want 130: $(tail -n 5 "$WORK/int.err")"
grep -q 're-run to resume' "$WORK/int.err" || fail "SIGINT: stderr does not say 're-run to resume': $(tail -n 5 "$WORK/int.err")"
[[ ! -e $PUBC ]] || fail "SIGINT: a tree was published"
[[ -n $(find "$WORK/c/.rackboot-mirror-debian12/staging" -name 'initrd.gz.part') ]] ||
  fail "SIGINT: the .part was not kept for resume"
# and it resumes
timeout 120 "$MIRROR" "${ARGS[@]}" --to="$PUBC" >"$WORK/int2.json" 2>"$WORK/int2.err" ||
  fail "the re-run after SIGINT failed: $(tail -n 20 "$WORK/int2.err")"
tree_sums "$PUBC" | diff -u "$WORK/clean.sums" - >&2 || fail "the tree after SIGINT + re-run differs from a clean run's"
echo "PASS: mirror_resume_test"
