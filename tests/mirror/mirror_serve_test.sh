#!/usr/bin/env bash
# The published tree as rackbootd serves it at /repo/<name>/ (issue 15 "the published tree is
# what rackbootd serves"), in a namespace (198.18.153.1): nginx serves a signed apt repository,
# rackboot-mirror publishes it under http.repo_root, a real rackbootd serves that:
#  A) curl gets every file of the tree byte-identical at /repo/deb12/<path>; a real apt client
#     (apt-get update with Acquire::By-Hash=force and signed-by the test key, apt-get download)
#     uses the served mirror without a warning.
#  B) nothing under .rackboot* is served: /repo/.rackboot-mirror-deb12/lock,
#     /repo/deb12/.rackboot-manifest.json (and staging paths) are 404.
#  C) three re-publishes (the source gains a version each time) under loops of curl requests
#     for files every version has (InRelease, Packages.xz, a .deb): every response is 200,
#     complete, and byte-identical to one published version; after the last publish the new
#     bytes are served.
# Usage: mirror_serve_test.sh RACKBOOT_MIRROR RACKBOOTD
source "$(dirname "$0")/lib.sh"
MIRROR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
RACKBOOTD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
mirror_lib_init mirror_serve
for c in nginx gpg jq curl; do command -v $c >/dev/null || fail "missing $c"; done

mirror_ns_setup serve 153
make_test_key "$WORK/key"
src=$WORK/src
bash "$MIRROR_LIB_DIR/make_apt_repo.sh" "$src" "$WORK/key" 400 bookworm
start_nginx "$NS" "$src" 80
url="http://$NS_IP/"
repo=$WORK/srv/repo
mkdir -p "$repo" "$WORK/tftp" "$WORK/got"
chmod -R 755 "$WORK/srv"
echo x >"$WORK/tftp/x"
pub=$repo/deb12
mirror_args=(--from="$url" --suite=bookworm --keyring="$WORK/key/test.gpg" --to="$pub" --all --json)

run_mirror m0 "${mirror_args[@]}"
expect_rc m0 0
jexpect m0 .published true

log "rackbootd with --http_repo_root=$repo"
ip netns exec "$NS" "$RACKBOOTD" --tftp_root="$WORK/tftp" --tftp_listen="$NS_IP:1069" \
  --http_listen="$NS_IP:8080" --http_repo_root="$repo" --dhcp_mode=off \
  >"$WORK/rb.out" 2>"$WORK/rb.log" </dev/null &
MIRROR_PIDS+=("$!")
rb=$!
MIRROR_LOGS+=("$WORK/rb.log")
for _ in $(seq 100); do
  grep -q '^rackbootd: ready' "$WORK/rb.out" && break
  kill -0 "$rb" 2>/dev/null || fail "rackbootd exited at start: $(cat "$WORK/rb.out")"
  sleep 0.1
done
grep -q '^rackbootd: ready.*HTTP on ' "$WORK/rb.out" || fail "rackbootd not ready: $(cat "$WORK/rb.out")"
base="http://$NS_IP:8080/repo/deb12"

################################################################################################
log "A) every file of the tree over HTTP, byte-identical"
# One curl for all of them (a config of url/output pairs, keep-alive), then one sha256sum -c.
tree_sums "$pub" >"$WORK/tree.sums"
awk -v b="$base" -v g="$WORK/got/a" '{printf "url = \"%s/%s\"\noutput = \"%s/%s\"\n", b, $2, g, $2}' \
  "$WORK/tree.sums" >"$WORK/curl.cfg"
curl -sS --fail --create-dirs -K "$WORK/curl.cfg" || fail "curl of the tree's files failed"
(cd "$WORK/got/a" && sha256sum --quiet -c "$WORK/tree.sums") >"$WORK/sumcheck.log" 2>&1 ||
  fail "files over HTTP differ from the tree's: $(head "$WORK/sumcheck.log")"
n=$(wc -l <"$WORK/tree.sums")
[[ $n -ge 400 ]] || fail "only $n files in the tree"
log "A: $n files served byte-identical"

################################################################################################
log "A2) a real apt client (apt-get update by-hash, signed-by the test key; apt-get download)"
a=$WORK/aptc
mkdir -p "$a/etc/preferences.d" "$a/state/lists/partial" "$a/cache/archives/partial" "$a/dl"
: >"$a/status"
echo "deb [signed-by=$WORK/key/test.gpg] http://$NS_IP:8080/repo/deb12 bookworm main" >"$a/sources.list"
aptopts=(-o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::Etc::Preferences="$a/etc/preferences" -o Dir::Etc::PreferencesParts="$a/etc/preferences.d"
  -o Dir::State="$a/state" -o Dir::State::status="$a/status" -o Dir::Cache="$a/cache"
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Sandbox::User=root
  -o Acquire::By-Hash=force -o Acquire::Languages=none -o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false
  -o Debug::NoLocking=1 -o Acquire::Retries=0)
timeout 60 apt-get "${aptopts[@]}" update >"$a/update.log" 2>&1 ||
  fail "apt-get update against /repo/deb12: $(tail -20 "$a/update.log")"
grep -q '^\(W\|E\|Ign\|Err\):' "$a/update.log" && fail "apt-get update: $(cat "$a/update.log")"
grep -q 'by-hash/SHA256' "$WORK/rb.log" || fail "apt-get update did not fetch by-hash"
(cd "$a/dl" && timeout 60 apt-get "${aptopts[@]}" download rb-app rb-data >"$a/download.log" 2>&1) ||
  fail "apt-get download: $(tail -20 "$a/download.log")"
cmp -s "$a/dl/rb-app_1.0_amd64.deb" "$src/pool/main/r/rb-app/rb-app_1.0_amd64.deb" ||
  fail "apt-get download rb-app: not the source's file"

################################################################################################
log "B) .rackboot* names are never served"
[[ -e $repo/.rackboot-mirror-deb12/lock ]] || fail "no lock file at $repo/.rackboot-mirror-deb12/lock"
[[ -e $pub/.rackboot-manifest.json ]] || fail "no manifest at $pub/.rackboot-manifest.json"
mkdir -p "$repo/.rackboot-mirror-deb12/staging"
echo secret >"$repo/.rackboot-mirror-deb12/staging/probe"
chmod 644 "$repo/.rackboot-mirror-deb12/staging/probe"
for p in .rackboot-mirror-deb12/lock deb12/.rackboot-manifest.json \
  .rackboot-mirror-deb12/staging/probe; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://$NS_IP:8080/repo/$p")
  [[ $code == 404 ]] || fail "GET /repo/$p answered $code, want 404"
done
rm -rf "$repo/.rackboot-mirror-deb12/staging"

################################################################################################
log "C) re-publishes under load: every response is one whole published version"
watch=(dists/bookworm/InRelease dists/bookworm/main/binary-amd64/Packages.xz
  pool/main/r/rb-app/rb-app_1.0_amd64.deb)
declare -A valid=()
record_versions() {
  local p
  for p in "${watch[@]}"; do valid["$p $(sha "$pub/$p")"]=1; done
}
record_versions
stop_flag=$WORK/stop-loops
loop() { # loop K PATH: GETs PATH until $stop_flag exists (bounded: 3000 requests)
  local k=$1 p=$2 i=0 code
  : >"$WORK/loop$k.log"
  while [[ ! -e $stop_flag && $i -lt 3000 ]]; do
    i=$((i + 1))
    code=$(curl -s -o "$WORK/got/l$k-$i" -w '%{http_code} %{size_download}' "$base/$p") || code="curl-failed $?"
    echo "$i $code $(sha "$WORK/got/l$k-$i" 2>/dev/null)" >>"$WORK/loop$k.log"
    rm -f "$WORK/got/l$k-$i"
  done
}
for k in 0 1 2; do
  loop "$k" "${watch[$k]}" &
  MIRROR_PIDS+=("$!")
  loop_pids[$k]=$!
done
sleep 0.5
for round in 1 2 3; do
  "$PY" "$MIRROR_LIB_DIR/apt_fixture.py" deb "$src" rb-lib2 "1.$round" >/dev/null
  bash "$MIRROR_LIB_DIR/make_apt_repo.sh" --reindex "$src" "$WORK/key" bookworm
  run_mirror "m$round" "${mirror_args[@]}"
  expect_rc "m$round" 0
  jexpect "m$round" .published true
  record_versions
  sleep 0.3
done
touch "$stop_flag"
for k in 0 1 2; do wait "${loop_pids[$k]}" || true; done
total=0
for k in 0 1 2; do
  p=${watch[$k]}
  while read -r i code size h; do
    total=$((total + 1))
    [[ $code == 200 ]] || fail "GET $p during re-publish #$i answered '$code $size'"
    [[ -n ${valid["$p $h"]:-} ]] || fail "GET $p during re-publish #$i: $size bytes that match no published version"
  done <"$WORK/loop$k.log"
done
[[ $total -ge 30 ]] || fail "only $total requests during the re-publishes"
for p in "${watch[@]}"; do
  curl -sS --fail -o "$WORK/got/final" "$base/$p" || fail "GET $p after the last publish"
  cmp -s "$WORK/got/final" "$pub/$p" || fail "GET $p after the last publish: not the new bytes"
  cmp -s "$WORK/got/final" "$src/$p" || fail "GET $p after the last publish: not the source's bytes"
done
log "C: $total responses during 3 re-publishes, each one whole published version"
log "PASS"
