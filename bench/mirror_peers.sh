#!/usr/bin/env bash
# bench/mirror_peers.sh: `rackboot mirror` beside debmirror 2.37, in one run, the same package
# set from the same server. Run as root; usually through `./rackboot bench mirror`.
#
# The source: a signed apt repository of PACKAGES (1,000) tiny .debs (tests/mirror/make_apt_repo.sh,
# suite bookworm, main, amd64; cached under ~/.cache/rackboot/bench-mirror/<hash of the fixture
# scripts and PACKAGES>), served by nginx 1.22 in a network namespace of the script's own over a
# veth pair (198.18.173.1; the mirrors run in the root namespace, nothing leaves the machine).
# Runs, each tool with its own destination:
#   cold   an empty destination, median of REPS (3): debmirror as Debian documents it for a
#          partial http mirror (pool files checked by size), debmirror --checksums (pool files
#          checked by checksum too, as rackboot does), rackboot-mirror --all;
#   tmpfs  cold again with the destination on tmpfs (/dev/shm), where fsync costs nothing: the
#          difference to the cold rows is what making the tree durable costs;
#   warm   a re-run with nothing changed on the server, median of REPS, into the tree a cold run
#          made.
# It prints wall seconds, the ratios debmirror ÷ rackboot-mirror and the targets of issue 15
# (cold at least 2x faster than debmirror, a no-change re-run of 1,000 packages under 2 s),
# checks that both mirrors hold the same pool files (same sha256s), asserts nothing, and rewrites
# the "mirror-peers" section of docs/benchmarks.md.
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_MIRROR_PACKAGES (1000)   packages in the repository
#   RACKBOOT_BENCH_REPS (3)                 runs per row (median shown)
set -euo pipefail

BENCH_TAG=mirror_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# namespaces, nginx, the test key: the mirror tests' helpers (they own the EXIT trap and $WORK).
# shellcheck source=tests/mirror/lib.sh
source "$ROOT/tests/mirror/lib.sh"
log() { printf '%s: %s\n' "$BENCH_TAG" "$*" >&2; }
PACKAGES=${RACKBOOT_BENCH_MIRROR_PACKAGES:-1000}
REPS=${RACKBOOT_BENCH_REPS:-3}
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip nginx debmirror gpg gpgv jq python3 xz apt-ftparchive bazel
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ftp_proxy no_proxy

BIN=$(bench_build //tools/mirror:rackboot-mirror)
mirror_lib_init mirror-bench
mkdir -p "$WORK/bin"
RBM=$(bench_copy_binary "$BIN/tools/mirror/rackboot-mirror" "$WORK/bin")
RB_COMMIT=$(bench_commit tools/mirror third_party WORKSPACE)

# The repository, cached: made again only when the fixture scripts or PACKAGES change.
KEY=$( (cat "$ROOT/tests/mirror/make_apt_repo.sh" "$ROOT/tests/mirror/apt_fixture.py"; echo "$PACKAGES") |
  sha256sum | cut -c1-16)
REAL_HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
CACHE=${REAL_HOME:-$HOME}/.cache/rackboot/bench-mirror/$KEY
if [[ ! -f $CACHE/ready ]]; then
  log "making a signed repository of $PACKAGES packages in $CACHE"
  rm -rf "$CACHE.tmp"
  mkdir -p "$CACHE.tmp/srv" "$CACHE.tmp/key"
  make_test_key "$WORK/key"
  cp "$WORK/key/test.gpg" "$CACHE.tmp/key/test.gpg"
  bash "$ROOT/tests/mirror/make_apt_repo.sh" "$CACHE.tmp/srv/debian" "$WORK/key" "$PACKAGES" \
    >"$WORK/make_repo.log" 2>&1 || die "make_apt_repo.sh failed: $(tail -n 20 "$WORK/make_repo.log")"
  touch "$CACHE.tmp/ready"
  rm -rf "$CACHE"
  mv "$CACHE.tmp" "$CACHE"
else
  log "using the cached repository $CACHE"
fi
KEYRING=$CACHE/key/test.gpg
REPO_FILES=$(find "$CACHE/srv/debian/pool" -type f | wc -l)
REPO_BYTES=$(du -sb "$CACHE/srv/debian" | cut -f1)
find "$CACHE/srv" -type f -exec cat {} + >/dev/null # into the page cache

mirror_ns_setup bench 173
start_nginx "$NS" "$CACHE/srv" 80
log "nginx in $NS at $NS_IP: $REPO_FILES pool files, $((REPO_BYTES / 1024)) KiB"

DM_ARGS=(--method=http --host="$NS_IP" --root=debian --dist=bookworm --section=main --arch=amd64
  --nosource --keyring="$KEYRING" --rsync-extra=none --diff=none)
RB_ARGS=(--from="http://$NS_IP/debian" --suite=bookworm --components=main --arch=amd64 --all
  --keyring="$KEYRING" --json)

# timed NAME DIR: runs tool NAME into DIR; appends the wall seconds to $WORK/NAME.times; a failed
# run is logged and recorded as FAILED.
timed() {
  local name=$1 dir=$2 t0 t1 rc=0
  mkdir -p "$dir"
  t0=$(date +%s.%N)
  case $name in
    dm-cold | dm-warm | dm-tmpfs) debmirror "${DM_ARGS[@]}" "$dir" >"$WORK/$name.log" 2>&1 || rc=$? ;;
    dmc-cold | dmc-warm) debmirror "${DM_ARGS[@]}" --checksums "$dir" >"$WORK/$name.log" 2>&1 || rc=$? ;;
    rb-cold | rb-warm | rb-tmpfs) "$RBM" "${RB_ARGS[@]}" --to="$dir/debian12" >"$WORK/$name.json" 2>"$WORK/$name.log" || rc=$? ;;
  esac
  t1=$(date +%s.%N)
  if [[ $rc -ne 0 ]]; then
    log "$name failed (exit $rc): $(tail -n 5 "$WORK/$name.log")"
    echo FAILED >>"$WORK/$name.times"
  else
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$WORK/$name.times"
  fi
}
median() { { grep -v FAILED "$1" || true; } | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "–"; else print v[int((NR + 1) / 2)] }'; }
range() { { grep -v FAILED "$1" || true; } | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi }'; }
failed() { grep -c FAILED "$1" || true; }

bench_usage_begin
for r in $(seq "$REPS"); do
  log "cold runs, round $r of $REPS"
  for t in dm dmc rb; do
    rm -rf "${WORK:?}/$t"
    timed "$t-cold" "$WORK/$t"
  done
done
# Cold again with the destination on tmpfs (/dev/shm): fsync is free there, so the difference
# to the cold rows is what durability costs on the disk (rackboot-mirror makes every file and
# directory durable with one syncfs before the swap; debmirror does not sync).
SHM=$(mktemp -d /dev/shm/rackboot-mirror-bench.XXXXXX)
mirror_tmpdir "$SHM"
for r in $(seq "$REPS"); do
  log "cold runs on tmpfs, round $r of $REPS"
  for t in dm rb; do
    rm -rf "${SHM:?}/$t"
    timed "$t-tmpfs" "$SHM/$t"
  done
done
rm -rf "${SHM:?}"/*
# The last cold run's JSON: what rackboot fetched.
cp "$WORK/rb-cold.json" "$WORK/rb-cold-last.json" 2>/dev/null || true
for r in $(seq "$REPS"); do
  log "warm (no-change) runs, round $r of $REPS"
  for t in dm dmc rb; do timed "$t-warm" "$WORK/$t"; done
done
bench_usage_end "servers and mirrors"

# The same package set: the pool files of each tree, by path and sha256.
pool_sums() { (cd "$1" 2>/dev/null && find pool -type f -print0 | sort -z | xargs -0 -r sha256sum) || true; }
pool_sums "$WORK/dm" >"$WORK/dm.pool"
pool_sums "$WORK/rb/debian12" >"$WORK/rb.pool"
if cmp -s "$WORK/dm.pool" "$WORK/rb.pool"; then
  SAME="Both trees hold the same $(wc -l <"$WORK/rb.pool") pool files (path and sha256 compared)."
else
  SAME="**The trees differ**: debmirror $(wc -l <"$WORK/dm.pool") pool files, rackboot-mirror $(wc -l <"$WORK/rb.pool"); diff: $( (diff "$WORK/dm.pool" "$WORK/rb.pool" || true) | sed -n 2,4p | cut -c1-120 | tr "\n" " ")"
  log "the pool files differ between the two trees"
fi
RB_UTD=$(jq -r .up_to_date "$WORK/rb-warm.json" 2>/dev/null || echo "?")
RB_FILES=$(jq -r .files "$WORK/rb-cold-last.json" 2>/dev/null || echo "?")
RB_FETCHED=$(jq -r .fetched "$WORK/rb-cold-last.json" 2>/dev/null || echo "?")
DM_FILES=$(find "$WORK/dm" -path "$WORK/dm/.temp" -prune -o -type f -print | wc -l)

declare -A M
for t in dm dmc rb; do
  for p in cold warm; do M[$t-$p]=$(median "$WORK/$t-$p.times"); done
done
for t in dm rb; do M[$t-tmpfs]=$(median "$WORK/$t-tmpfs.times"); done
TMPFS_RATIO=$(ratio "${M[dm-tmpfs]}" "${M[rb-tmpfs]}")
COLD_RATIO=$(ratio "${M[dm-cold]}" "${M[rb-cold]}")
COLD_RATIO_C=$(ratio "${M[dmc-cold]}" "${M[rb-cold]}")
WARM_RATIO=$(ratio "${M[dm-warm]}" "${M[rb-warm]}")
WARM_RATIO_C=$(ratio "${M[dmc-warm]}" "${M[rb-warm]}")
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "–") print "not measured"; else if ((op == ">=" && v + 0 >= t) || (op == "<" && v + 0 < t)) print "**met**"; else print "**missed**" }'; }
COLD_VERDICT=$(verdict "$COLD_RATIO" 2 ">=")
WARM_VERDICT=$(verdict "${M[rb-warm]}" 2 "<")

row() { # row PHASE TOOL LABEL RATIO NOTES
  local f=$WORK/$2-$1.times n
  n=$(failed "$f")
  printf '| %s | %s | %s | %s | %s | %s%s |\n' "$1" "$3" "${M[$2-$1]}" "$(range "$f")" "$4" "$5" \
    "$([[ $n -gt 0 ]] && echo "; $n runs FAILED")"
}
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench mirror\` (bench/mirror_peers.sh, $T_TOTAL s)."
  echo
  echo "- Machine: $(machine_desc). $SHARED"
  echo "- rackboot-mirror: commit $RB_COMMIT, \`bazel build -c opt\`, \`rackboot-mirror --from=http://SERVER/debian --to=DIR/debian12 --suite=bookworm --components=main --arch=amd64 --all --keyring=KEYRING --json\` (default --connections=16 --per_host=6)."
  echo "- debmirror $(version_of debmirror): \`debmirror --method=http --host=SERVER --root=debian --dist=bookworm --section=main --arch=amd64 --nosource --keyring=KEYRING --rsync-extra=none --diff=none DIR\` (no --nocleanup, no --ignore-release-gpg: it checks Release.gpg with gpgv, the indexes by checksum, pool files by size; --rsync-extra=none keeps it from rsyncing trace files from the internet; no source, no i18n, no Contents, no d-i by default). The second row adds \`--checksums\` (pool files by checksum too, as rackboot-mirror always does)."
  echo "- Source: a signed apt repository of $PACKAGES tiny .debs ($REPO_FILES pool files, $((REPO_BYTES / 1024)) KiB with indexes; tests/mirror/make_apt_repo.sh), nginx $(version_of nginx-light) in a network namespace over a veth pair, files in the page cache; each tool into a destination of its own."
  echo "- Cold: an empty destination on $(stat -fc %T "$WORK"); tmpfs: the same on /dev/shm (syncing is free there: rackboot-mirror makes every file and directory durable with one syncfs before the swap, debmirror syncs nothing); warm: the same command again with nothing changed on the server. Median of $REPS runs, range in the next column. rackboot-mirror cold fetched $RB_FETCHED files for a tree of $RB_FILES (its tree also holds the by-hash copies of the indexes); debmirror's tree has $DM_FILES files. Warm rackboot-mirror: up_to_date=$RB_UTD. $SAME"
  echo "- Ratios: debmirror's wall time ÷ rackboot-mirror's (above 1: rackboot-mirror faster)."
  echo
  echo "| run | mirror | wall s | runs | debmirror ÷ rackboot | notes |"
  echo "|---|---|---:|---|---:|---|"
  row cold rb "rackboot-mirror --all" "–" "fetched $RB_FETCHED files"
  row cold dm "debmirror" "$COLD_RATIO" ""
  row cold dmc "debmirror --checksums" "$COLD_RATIO_C" ""
  row tmpfs rb "rackboot-mirror --all" "–" "destination on tmpfs: no fsync cost"
  row tmpfs dm "debmirror" "$TMPFS_RATIO" "destination on tmpfs"
  row warm rb "rackboot-mirror --all" "–" "up_to_date $RB_UTD"
  row warm dm "debmirror" "$WARM_RATIO" ""
  row warm dmc "debmirror --checksums" "$WARM_RATIO_C" "hashes every pool file"
  echo
  echo "Targets (issue 15): rackboot-mirror cold at least 2x faster than debmirror: $COLD_VERDICT (${COLD_RATIO}x; ${COLD_RATIO_C}x against debmirror --checksums); a no-change re-run of $PACKAGES packages under 2 s: $WARM_VERDICT (${M[rb-warm]} s)."
} >"$WORK/section.md"

echo
cat "$WORK/section.md"
if [[ $WRITE_DOC -eq 1 ]]; then
  bench_write_doc mirror-peers "$WORK/section.md" "Mirror: rackboot mirror beside debmirror"
fi
