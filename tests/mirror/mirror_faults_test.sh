#!/usr/bin/env bash
# mirror_faults_test.sh MIRROR_BIN: every fault the issue names, against real servers, after a
# good mirror has been published: each run must exit 1 with a clear message (its words asserted),
# publish nothing (the published tree's inode, its manifest and a file from it unchanged) and
# never leave a partial file in the published tree.
#
# The good tree is a small selection (--priorities=required,important, no installer); every
# faulty run asks for more (--all --installer) so that the broken file is one the published tree
# does not hold (a file it holds would be hard-linked, not fetched, and the fault never seen).
#
# Servers, all in the test's namespace (198.18.170.1):
#   nginx :80    $SRV/<case>/ trees: good, checksum (a pool file replaced, Packages not updated),
#                badsig (InRelease's signed text edited), missing (a pool file removed), slow
#                (the installer initrd at 50 B/s: below the 1 KiB/s stall threshold)
#   nginx :81    $SRV/die/: the installer kernel at 8 KiB/s; killed (-9, master and workers)
#                while the mirror fetches it: the server is gone for good
#   python :82   $SRV/trunc/: the installer kernel's body stops halfway and the connection
#                closes, on every attempt (Content-Length says the whole size)
#   disk full:   the published tree's parent on a 2 MiB tmpfs mounted in a private mount
#                namespace (unshare -m), nearly filled before the run
# Wall time: about 30-60 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mirror_lib_init faults
MIRROR=$(realpath "$1")
[[ -x $MIRROR ]] || fail "no mirror binary at $1"
HERE=$MIRROR_LIB_DIR

mirror_ns_setup faults 170
make_test_key "$WORK/key"
make_test_key "$WORK/other"
log "building a signed test repository (40 packages)"
bash "$HERE/make_apt_repo.sh" "$WORK/repo" "$WORK/key" 40 >"$WORK/make_repo.log" 2>&1 ||
  fail "make_apt_repo.sh: $(tail -n 20 "$WORK/make_repo.log")"

SRV=$WORK/srv
mkdir -p "$SRV"
for c in good checksum badsig missing slow die trunc; do cp -a "$WORK/repo" "$SRV/$c"; done

# A pool file the good tree will not hold (an optional-priority filler package).
VICTIM=$(cd "$WORK/repo" && find pool -name 'fill-0003_*.deb' | head -1)
[[ -n $VICTIM ]] || fail "no fill-0003 package in the test repository"

# checksum: same size, other bytes, Packages untouched.
size=$(stat -c %s "$SRV/checksum/$VICTIM")
head -c "$size" /dev/urandom >"$SRV/checksum/$VICTIM"
# missing: 404.
rm "$SRV/missing/$VICTIM"
# badsig: one byte of the signed text changed (the signature no longer matches).
sed -i 's/^Description: Rackboot mirror test archive/Description: Rackboot mirror test archivX/' \
  "$SRV/badsig/dists/bookworm/InRelease"
grep -q 'archivX' "$SRV/badsig/dists/bookworm/InRelease" || fail "InRelease not tampered"
rm -f "$SRV/badsig/dists/bookworm/Release" "$SRV/badsig/dists/bookworm/Release.gpg"
# slow, die, trunc: installer images of their own (random bytes, SUMS, Release and InRelease
# re-made): a failed run keeps what it fetched in staging for resume, and the mirror reuses any
# file with the same sha256, so each case's broken file must be one no earlier run could fetch.
fresh_images() { # fresh_images TREE KERNEL_BYTES INITRD_BYTES
  local img=$1/dists/bookworm/main/installer-amd64/current/images
  head -c "$2" /dev/urandom >"$img/netboot/debian-installer/amd64/linux"
  head -c "$3" /dev/urandom >"$img/netboot/debian-installer/amd64/initrd.gz"
  (cd "$img" && find . -type f ! -name '*SUMS' | sort | xargs sha256sum >SHA256SUMS &&
    find . -type f ! -name '*SUMS' | sort | xargs md5sum >MD5SUMS)
  bash "$HERE/make_apt_repo.sh" --reindex "$1" "$WORK/key" >>"$WORK/make_repo.log" 2>&1 ||
    fail "make_apt_repo.sh --reindex $1: $(tail -n 20 "$WORK/make_repo.log")"
}
fresh_images "$SRV/slow" 70000 150000
fresh_images "$SRV/die" 400000 150000
fresh_images "$SRV/trunc" 70000 150000
chmod -R a+rX "$SRV"

start_nginx "$NS" "$SRV" 80 'location ~ ^/slow/.*/initrd\.gz$ { limit_rate 50; sendfile off; output_buffers 1 128; postpone_output 0; }'
start_nginx "$NS" "$SRV" 81 'location ~ /linux$ { limit_rate 8k; }'
DIE_NGINX_PID=$NGINX_PID

# The truncating server: whole files, except any path ending in /linux: the headers promise the
# whole answer (200, or 206 for a Range request, as nginx answers), half of it is sent, the
# connection closes. Every attempt, resumed or not, is cut short, so the retries run out.
cat >"$WORK/trunc_server.py" <<'EOF'
import http.server, os, re, socketserver, sys
root, port = sys.argv[1], int(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, fmt, *args):
        sys.stderr.write("trunc_server: " + (fmt % args) + "\n")
    def do_GET(self):
        path = self.translate_path(self.path)
        if not self.path.endswith("/linux") or not os.path.isfile(path):
            return super().do_GET()
        data = open(path, "rb").read()
        start = 0
        m = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        if m and int(m.group(1)) < len(data):
            start = int(m.group(1))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("0.0.0.0", port), H).serve_forever()
EOF
ip netns exec "$NS" "$PY" "$WORK/trunc_server.py" "$SRV" 82 >"$WORK/trunc.log" 2>&1 </dev/null &
MIRROR_PIDS+=("$!")
MIRROR_LOGS+=("$WORK/trunc.log")
wait_tcp "$NS_IP" 82 || fail "the truncating server does not accept"

BASE=http://$NS_IP
mkdir -p "$WORK/pub"
PUB=$WORK/pub/debian12
COMMON=(--suite=bookworm --keyring="$WORK/key/test.gpg" --json --retries=2 --timeout=3)

# run_case OUTPREFIX ARGS...: runs the mirror (bounded: 60 s), sets RC; stdout and stderr in
# OUTPREFIX.{json,err}.
run_case() {
  local out=$1
  shift
  set +e
  timeout 60 "$MIRROR" "$@" >"$out.json" 2>"$out.err"
  RC=$?
  set -e
}

log "publishing the good tree"
run_case "$WORK/good" --from="$BASE/good" --to="$PUB" "${COMMON[@]}" \
  --priorities=required,important
[[ $RC -eq 0 ]] || fail "good mirror: exit $RC: $(tail -n 20 "$WORK/good.err")"
[[ $(jq -r .ok "$WORK/good.json") == true && $(jq -r .published "$WORK/good.json") == true ]] ||
  fail "good mirror: JSON says $(cat "$WORK/good.json")"
[[ -f $PUB/.rackboot-manifest.json ]] || fail "no manifest in the published tree"
jq -e --arg v "$VICTIM" '[.files[].path] | index($v) == null' "$PUB/.rackboot-manifest.json" >/dev/null ||
  fail "the good tree already holds $VICTIM: the faults would not be fetched"
PUB_INODE=$(stat -c %i "$PUB")
MANIFEST_SUM=$(sha "$PUB/.rackboot-manifest.json")
SAMPLE=$(cd "$PUB" && find pool -name 'rb-req_*.deb' | head -1)
[[ -n $SAMPLE ]] || fail "rb-req is not in the good tree"
cp "$PUB/$SAMPLE" "$WORK/sample.deb"
tree_sums "$PUB" >"$WORK/good.sums"

# expect_fault NAME WORDS_REGEX: the last run failed as it must; nothing was published.
expect_fault() {
  local name=$1 words=$2 out=$WORK/$1
  [[ $RC -eq 1 ]] || fail "$name: exit $RC, want 1: $(tail -n 20 "$out.err")"
  [[ $(jq -r .ok "$out.json") == false ]] || fail "$name: JSON ok is not false: $(cat "$out.json")"
  [[ $(jq -r .published "$out.json") == false ]] || fail "$name: JSON says published"
  local msg
  msg="$(jq -r .error "$out.json") $(cat "$out.err")"
  grep -Eqi -- "$words" <<<"$msg" ||
    fail "$name: the message does not say /$words/: $(jq -r .error "$out.json") / $(tail -n 5 "$out.err")"
  [[ $(stat -c %i "$PUB") == "$PUB_INODE" ]] || fail "$name: the published tree was swapped"
  [[ $(sha "$PUB/.rackboot-manifest.json") == "$MANIFEST_SUM" ]] || fail "$name: the manifest changed"
  cmp -s "$PUB/$SAMPLE" "$WORK/sample.deb" || fail "$name: $SAMPLE changed in the published tree"
  tree_sums "$PUB" | cmp -s - "$WORK/good.sums" || fail "$name: the published tree's files changed"
  local partial
  partial=$(find "$PUB" -name '*.part' -o -name '*.tmp' | head -3)
  [[ -z $partial ]] || fail "$name: partial files in the published tree: $partial"
  log "$name: exit 1, \"$(jq -r .error "$out.json" | head -c 200)\"; nothing published"
}

ALL=(--to="$PUB" "${COMMON[@]}" --all --installer)

log "fault: checksum mismatch"
run_case "$WORK/checksum" --from="$BASE/checksum" "${ALL[@]}"
expect_fault checksum "sha256 mismatch.*$(basename "$VICTIM")"

log "fault: 404"
run_case "$WORK/missing" --from="$BASE/missing" "${ALL[@]}"
expect_fault missing "(404|not found).*$(basename "$VICTIM")|$(basename "$VICTIM").*(404|not found)"

log "fault: bad signature (InRelease edited)"
run_case "$WORK/badsig" --from="$BASE/badsig" "${ALL[@]}"
expect_fault badsig "signature not accepted.*BADSIG|BADSIG"

log "fault: wrong keyring"
run_case "$WORK/keyring" --from="$BASE/good" "${ALL[@]}" --keyring="$WORK/other/test.gpg"
expect_fault keyring "signature not accepted.*NO_PUBKEY|NO_PUBKEY"

log "fault: truncated transfer (half the body, then the connection closes; retries exhausted)"
run_case "$WORK/trunc" --from="$BASE:82/trunc" "${ALL[@]}"
expect_fault trunc "linux.*(partial|truncat|closed|short|transfer|size)|(partial|truncat|closed|short|transfer).*linux"

log "fault: slow server (nginx limit_rate 50 B/s, --timeout=3)"
run_case "$WORK/slow" --from="$BASE/slow" "${ALL[@]}"
expect_fault slow "initrd\.gz.*(stall|slow|timed? ?out|timeout)|(stall|slow|timed? ?out|timeout).*initrd\.gz"

log "fault: the server dies mid-file (nginx killed -9) and stays dead"
STAGE=$WORK/pub/.rackboot-mirror-debian12/staging
set +e
timeout 60 "$MIRROR" --from="$BASE:81/die" "${ALL[@]}" >"$WORK/die.json" 2>"$WORK/die.err" &
mpid=$!
set -e
# Until the kernel's transfer has begun (its .part holds bytes), bounded: 20 s.
for _ in $(seq 200); do
  part=$(find "$STAGE" -path '*/amd64/linux.part' -size +1k 2>/dev/null | head -1)
  [[ -n $part ]] && break
  kill -0 "$mpid" 2>/dev/null || break
  sleep 0.1
done
[[ -n ${part:-} ]] || fail "die: the kernel's transfer never started: $(tail -n 5 "$WORK/die.err")"
for p in $(pgrep -P "$DIE_NGINX_PID") "$DIE_NGINX_PID"; do kill -9 "$p" 2>/dev/null || true; done
set +e
wait "$mpid"
RC=$?
set -e
expect_fault die "linux.*(connect|refused|closed|partial|transfer|recv|reset)|(connect|refused|closed|partial|transfer|recv|reset).*linux"

log "fault: disk full (the parent on a 2 MiB tmpfs in a private mount namespace)"
SMALL=$WORK/small
mkdir -p "$SMALL"
cat >"$WORK/diskfull.sh" <<'EOF'
set -euo pipefail
mount -t tmpfs -o size=2m rackboot-mirror-test "$SMALL"
P=$SMALL/debian12
"$MIRROR" --from="$BASE/good" --to="$P" --suite=bookworm --keyring="$KEYRING" --json \
  --retries=2 --timeout=3 --priorities=required,important >"$WORK/df-good.json" 2>"$WORK/df-good.err"
stat -c %i "$P" >"$WORK/df-inode"
sha256sum "$P/.rackboot-manifest.json" | cut -d' ' -f1 >"$WORK/df-manifest"
# Fill the filesystem, then leave 32 KiB: less than the installer images need.
head -c 4m /dev/zero >"$SMALL/filler" 2>/dev/null || true
truncate -s "-32768" "$SMALL/filler"
df -B1 --output=avail "$SMALL" | tail -1 >"$WORK/df-avail"
set +e
"$MIRROR" --from="$BASE/good" --to="$P" --suite=bookworm --keyring="$KEYRING" --json \
  --retries=2 --timeout=3 --all --installer >"$WORK/df-full.json" 2>"$WORK/df-full.err"
echo $? >"$WORK/df-rc"
set -e
stat -c %i "$P" >"$WORK/df-inode2"
sha256sum "$P/.rackboot-manifest.json" | cut -d' ' -f1 >"$WORK/df-manifest2"
find "$P" -name '*.part' >"$WORK/df-partial"
EOF
export SMALL MIRROR BASE WORK
KEYRING=$WORK/key/test.gpg unshare -m --propagation private bash "$WORK/diskfull.sh" ||
  fail "disk full: the setup failed: $(tail -n 5 "$WORK/df-good.err" 2>/dev/null)"
mountpoint -q "$SMALL" && fail "the tmpfs leaked out of the private mount namespace"
[[ $(jq -r .published "$WORK/df-good.json") == true ]] || fail "disk full: the first tree was not published"
RC=$(cat "$WORK/df-rc")
[[ $RC -eq 1 ]] || fail "disk full: exit $RC, want 1: $(tail -n 10 "$WORK/df-full.err")"
msg="$(jq -r .error "$WORK/df-full.json") $(cat "$WORK/df-full.err")"
grep -qi 'disk full' <<<"$msg" || fail "disk full: the message does not say 'disk full': $msg"
grep -Eqi 'bytes free' <<<"$msg" || fail "disk full: the message does not say how much is free: $msg"
[[ $(jq -r .published "$WORK/df-full.json") == false ]] || fail "disk full: JSON says published"
cmp -s "$WORK/df-inode" "$WORK/df-inode2" || fail "disk full: the published tree was swapped"
cmp -s "$WORK/df-manifest" "$WORK/df-manifest2" || fail "disk full: the manifest changed"
[[ ! -s $WORK/df-partial ]] || fail "disk full: partial files in the published tree: $(cat "$WORK/df-partial")"
log "disk full: exit 1 with $(cat "$WORK/df-avail") bytes free, \"$(jq -r .error "$WORK/df-full.json" | head -c 200)\""

# After all that, the good source still mirrors and the published tree is still the good one
# (a run of the same selection is up to date).
run_case "$WORK/again" --from="$BASE/good" --to="$PUB" "${COMMON[@]}" --priorities=required,important
[[ $RC -eq 0 && $(jq -r .up_to_date "$WORK/again.json") == true ]] ||
  fail "after the faults the good run is not up to date: exit $RC $(cat "$WORK/again.json")"
echo "PASS: mirror_faults_test"
