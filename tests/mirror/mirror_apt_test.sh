#!/usr/bin/env bash
# rackboot-mirror against a signed apt repository served by nginx in a namespace (198.18.150.1):
#  A) --packages=rb-app --installer --boot_dir: the dependency closure (Depends, Pre-Depends, a
#     virtual package through Provides, the first existing alternative, an arch-all package with
#     :any) and nothing unrelated; d-i udebs of the netboot kernel's ABI only; the netboot
#     linux/initrd.gz in the tree and in --boot_dir/<name>/; every file's sha256 equals the
#     source's; the by-hash copies; the manifest; the --json fields.
#  B) the same again: up_to_date, nothing fetched, the tree's inode unchanged; text mode prints
#     the profile stub.
#  C) --priorities=required,important; D) --all; E) the source gains a version: only that (and
#     the changed indexes) fetched, published, the superseded file kept; F) the source drops a
#     package: kept without --prune, gone with --prune. G) no selection: exit 64. H) --udebs:
#     the named udebs and their closure in the udeb index (any kernel ABI), no installer images;
#     an unknown udeb: exit 1 naming it, nothing published; a pool udeb whose bytes differ from
#     the index's SHA256: exit 1, nothing published.
# Usage: mirror_apt_test.sh RACKBOOT_MIRROR
source "$(dirname "$0")/lib.sh"
MIRROR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mirror_lib_init mirror_apt
for c in nginx gpg gpgv jq curl xz; do command -v $c >/dev/null || fail "missing $c"; done

mirror_ns_setup apt 150
make_test_key "$WORK/key"
src=$WORK/src
bash "$MIRROR_LIB_DIR/make_apt_repo.sh" "$src" "$WORK/key" 200 bookworm
start_nginx "$NS" "$src" 80
url="http://$NS_IP/"
curl -sS --fail -o /dev/null "${url}dists/bookworm/InRelease" || fail "nginx does not serve InRelease"
mkdir -p "$WORK/pub" "$WORK/boot"
keyring=$WORK/key/test.gpg
common=(--from="$url" --suite=bookworm --components=main --arch=amd64 --keyring="$keyring")
in_tree() { compgen -G "$1/$2" >/dev/null; }
pool=pool/main

################################################################################################
log "A) --packages=rb-app --installer --boot_dir"
pub=$WORK/pub/deb12
run_mirror a "${common[@]}" --to="$pub" --packages=rb-app --installer --boot_dir="$WORK/boot" --json
expect_rc a 0
jexpect a .ok true
jexpect a .published true
jexpect a .up_to_date false
jexpect a .kind apt
jexpect a .to "$pub"
jexpect a .media.kind apt
jexpect a .media.family debian-preseed
jexpect a .media.arch amd64
jexpect a .kept 0
jexpect a .pruned 0
[[ $(jv a .source) == *"$NS_IP"* ]] || fail "a: .source is $(jv a .source)"
[[ $(jv a '.media.evidence | length') -ge 1 ]] || fail "a: no media evidence"
[[ $(jv a '.error // ""') == "" ]] || fail "a: error set on success"
for want in r/rb-app/rb-app_1.0_amd64.deb r/rb-lib1/rb-lib1_1.0_amd64.deb \
  r/rb-lib2/rb-lib2_1.0_amd64.deb r/rb-impl/rb-impl_1.0_amd64.deb r/rb-alt/rb-alt_1.0_amd64.deb \
  r/rb-data/rb-data_1.0_all.deb r/rb-pre/rb-pre_1.0_amd64.deb; do
  [[ -f $pub/$pool/$want ]] || fail "closure of rb-app: $want missing"
done
for unwanted in 'r/rb-rec/*' 'r/rb-req/*' 'r/rb-reqdep/*' 'r/rb-imp/*' 'f/fill-*/*'; do
  in_tree "$pub/$pool" "$unwanted" && fail "closure of rb-app: $unwanted should not be there"
done
for want in k/kernel-image-6.1.0-99-amd64-di n/nic-modules-6.1.0-99-amd64-di a/anna d/di-utils; do
  in_tree "$pub/$pool" "$want/*.udeb" || fail "--installer: udeb $want missing"
done
in_tree "$pub/$pool" 'f/foo-modules-6.1.0-98-amd64-di/*' && fail "--installer: udeb of another kernel ABI mirrored"
img=dists/bookworm/main/installer-amd64/current/images
for f in SHA256SUMS netboot/debian-installer/amd64/linux netboot/debian-installer/amd64/initrd.gz; do
  [[ -f $pub/$img/$f ]] || fail "--installer: $img/$f missing"
done
for f in linux initrd.gz; do
  [[ -f $WORK/boot/deb12/$f ]] || fail "--boot_dir: deb12/$f missing ($(ls -R "$WORK/boot"))"
  cmp -s "$WORK/boot/deb12/$f" "$src/$img/netboot/debian-installer/amd64/$f" ||
    fail "--boot_dir: deb12/$f differs from the source's"
done
[[ $(jv a .media.kernel) == *linux* ]] || fail "a: .media.kernel is $(jv a .media.kernel)"
[[ $(jv a .media.initrd) == *initrd.gz* ]] || fail "a: .media.initrd is $(jv a .media.initrd)"
for f in InRelease Release Release.gpg main/binary-amd64/Packages.xz main/binary-amd64/Packages.gz \
  main/debian-installer/binary-amd64/Packages.xz; do
  [[ -f $pub/dists/bookworm/$f ]] || fail "dists/bookworm/$f missing"
done
# Acquire-By-Hash: yes => every by-hash copy of the indexes is in the tree too: those of
# Packages.{xz,gz} and, as deb.debian.org serves them, of the per-component Release (checked at
# the end, so that the rest of the test still runs when only that one is missing).
nbh=0
missing_release_by_hash=()
while read -r f; do
  nbh=$((nbh + 1))
  [[ -f $pub/$f ]] && continue
  h=${f##*/}
  d=${f%/by-hash/SHA256/*}
  if [[ $(sha "$src/$d/Release" 2>/dev/null) == "$h" ]]; then
    missing_release_by_hash+=("$f")
  else
    fail "by-hash copy $f missing"
  fi
done < <(cd "$src" && find dists -path '*/by-hash/SHA256/*' -type f)
[[ $nbh -ge 4 ]] || fail "only $nbh by-hash copies in the source"
n=$(tree_matches_source "$pub" "$src")
manifest_matches_tree "$pub"
jexpect a .files "$n"
[[ $(($(jv a .fetched) + $(jv a .reused))) -ge $n ]] ||
  fail "a: fetched $(jv a .fetched) + reused $(jv a .reused) < $n files"
[[ $(jv a .bytes_fetched) -gt 0 ]] || fail "a: bytes_fetched $(jv a .bytes_fetched)"
[[ -d $WORK/pub/.rackboot-mirror-deb12 ]] || fail "no bookkeeping directory .rackboot-mirror-deb12"
[[ ! -e $WORK/pub/.rackboot-mirror-deb12/staging ]] || fail "staging left after a publish"
# stderr is not a terminal: progress as lines (every 5 s and a last one), in the documented form.
grep -qE '^rackboot-mirror: files [0-9]+/[0-9]+, [0-9.]+/[0-9.]+ MiB, [0-9.]+ MiB/s, ETA [^,]+, [0-9]+ failed, [0-9]+ retries$' \
  "$WORK/a.err" || fail "a: no progress line of the documented form on stderr: $(head -5 "$WORK/a.err")"
grep -q $'\r\|\e\[' "$WORK/a.err" && fail "a: terminal control characters on a non-terminal stderr"
log "A: $n files, $nbh by-hash copies, $(jv a .fetched) fetched, $(jv a .bytes_fetched) bytes, $(jv a .seconds) s"

################################################################################################
log "B) the same again: up to date"
inode=$(stat -c %i "$pub")
run_mirror b "${common[@]}" --to="$pub" --packages=rb-app --installer --boot_dir="$WORK/boot" --json
expect_rc b 0
jexpect b .ok true
jexpect b .up_to_date true
jexpect b .published false
jexpect b .files "$n"
[[ $(jv b .fetched) -le 3 ]] || fail "b: up to date but fetched $(jv b .fetched) files"
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "b: up to date but the tree was swapped"
[[ ! -e $WORK/pub/.rackboot-mirror-deb12/staging ]] || fail "b: staging left"
log "B: up to date in $(jv b .seconds) s"
run_mirror b2 "${common[@]}" --to="$pub" --packages=rb-app --installer
expect_rc b2 0
grep -q '^\[\[profile\]\]$' "$WORK/b2.out" || fail "text mode: no profile stub: $(cat "$WORK/b2.out")"
grep -q '^name = "deb12"$' "$WORK/b2.out" || fail "profile stub: no name = \"deb12\""
grep -q '^family = "debian-preseed"$' "$WORK/b2.out" || fail "profile stub: no family"
grep -q '^source = "/repo/deb12"$' "$WORK/b2.out" || fail "profile stub: no source = \"/repo/deb12\""
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "b2: up to date but the tree was swapped"

################################################################################################
log "C) --priorities=required,important"
prio=$WORK/pub/prio
run_mirror c "${common[@]}" --to="$prio" --priorities=required,important --json
expect_rc c 0
jexpect c .ok true
for want in r/rb-req/rb-req_1.0_amd64.deb r/rb-reqdep/rb-reqdep_1.0_amd64.deb r/rb-imp/rb-imp_1.0_amd64.deb; do
  [[ -f $prio/$pool/$want ]] || fail "--priorities: $want missing"
done
for unwanted in 'r/rb-app/*' 'r/rb-lib1/*' 'f/fill-*/*' '*/*/*.udeb'; do
  in_tree "$prio/$pool" "$unwanted" && fail "--priorities: $unwanted should not be there"
done
tree_matches_source "$prio" "$src" >/dev/null
manifest_matches_tree "$prio"

################################################################################################
log "D) --all"
all=$WORK/pub/all
run_mirror d "${common[@]}" --to="$all" --all --json
expect_rc d 0
jexpect d .ok true
ndeb=0
while read -r f; do
  [[ -f $all/$f ]] || fail "--all: $f missing"
  ndeb=$((ndeb + 1))
done < <(cd "$src" && find pool -name '*.deb')
[[ $ndeb -eq 200 ]] || fail "source has $ndeb .debs, want 200"
nall=$(tree_matches_source "$all" "$src")
manifest_matches_tree "$all"
log "D: $nall files, $(jv d .fetched) fetched in $(jv d .seconds) s"

################################################################################################
log "E) the source gains rb-lib2 1.1: only that is fetched"
"$PY" "$MIRROR_LIB_DIR/apt_fixture.py" deb "$src" rb-lib2 1.1 >/dev/null
bash "$MIRROR_LIB_DIR/make_apt_repo.sh" --reindex "$src" "$WORK/key" bookworm
run_mirror e "${common[@]}" --to="$pub" --packages=rb-app --installer --boot_dir="$WORK/boot" --json
expect_rc e 0
jexpect e .ok true
jexpect e .published true
jexpect e .up_to_date false
fetched=$(jv e .fetched)
# The new .deb, the signed Release files and the changed binary-amd64 indexes; nothing else.
[[ $fetched -ge 1 && $fetched -le 8 ]] || fail "e: fetched $fetched files, want the new version and the changed indexes only"
[[ -f $pub/$pool/r/rb-lib2/rb-lib2_1.1_amd64.deb ]] || fail "e: rb-lib2 1.1 not published"
cmp -s "$pub/$pool/r/rb-lib2/rb-lib2_1.1_amd64.deb" "$src/$pool/r/rb-lib2/rb-lib2_1.1_amd64.deb" ||
  fail "e: rb-lib2 1.1 differs"
cmp -s "$pub/dists/bookworm/InRelease" "$src/dists/bookworm/InRelease" || fail "e: InRelease not the new one"
[[ $(stat -c %i "$pub") != "$inode" ]] || fail "e: published but the tree's inode did not change"
tree_matches_source "$pub" "$src" >/dev/null
manifest_matches_tree "$pub"
log "E: fetched $fetched, reused $(jv e .reused), kept $(jv e .kept)"

################################################################################################
log "F) the source drops fill-0009: kept without --prune, gone with --prune"
rm "$src/$pool/f/fill-0009/"*.deb
bash "$MIRROR_LIB_DIR/make_apt_repo.sh" --reindex "$src" "$WORK/key" bookworm
dropped=$(cd "$all" && echo $pool/f/fill-0009/*.deb)
[[ -f $all/$dropped ]] || fail "f: $dropped was not in the --all tree"
run_mirror f "${common[@]}" --to="$all" --all --json
expect_rc f 0
jexpect f .ok true
[[ -f $all/$dropped ]] || fail "f: $dropped gone without --prune"
[[ $(jv f .kept) -ge 1 ]] || fail "f: kept $(jv f .kept), want >= 1"
jexpect f .pruned 0
manifest_matches_tree "$all"
run_mirror f2 "${common[@]}" --to="$all" --all --prune --json
expect_rc f2 0
jexpect f2 .ok true
[[ ! -e $all/$dropped ]] || fail "f2: $dropped still there with --prune"
[[ $(jv f2 .pruned) -ge 1 ]] || fail "f2: pruned $(jv f2 .pruned), want >= 1"
jexpect f2 .kept 0
tree_matches_source "$all" "$src" >/dev/null
manifest_matches_tree "$all"

################################################################################################
log "G) an apt source without a selection: exit 64"
run_mirror g "${common[@]}" --to="$WORK/pub/none"
expect_rc g 64
[[ ! -e $WORK/pub/none ]] || fail "g: a tree was made"
cat "$WORK/g.out" "$WORK/g.err" | grep -q -- '--packages\|--all\|--priorities' ||
  fail "g: the message names no fix: $(cat "$WORK/g.out" "$WORK/g.err")"

################################################################################################
log "H) --udebs=nic-modules-6.1.0-99-amd64-di,anna,foo-modules-6.1.0-98-amd64-di"
ud=$WORK/pub/udebs
run_mirror h "${common[@]}" --to="$ud" \
  --udebs=nic-modules-6.1.0-99-amd64-di,anna,foo-modules-6.1.0-98-amd64-di --json
expect_rc h 0
jexpect h .ok true
jexpect h .published true
# The named three, and kernel-image (nic-modules Depends) and di-utils (anna Depends).
for want in n/nic-modules-6.1.0-99-amd64-di k/kernel-image-6.1.0-99-amd64-di a/anna d/di-utils \
  f/foo-modules-6.1.0-98-amd64-di; do
  in_tree "$ud/$pool" "$want/*.udeb" || fail "--udebs: udeb $want missing"
done
[[ $(cd "$ud/$pool" && find . -name '*.udeb' | wc -l) == 5 ]] ||
  fail "--udebs: $(cd "$ud/$pool" && find . -name '*.udeb' | wc -l) udebs in the tree, want 5"
in_tree "$ud/$pool" '*/*/*.deb' && fail "--udebs: a .deb in the tree without --packages"
[[ -e $ud/dists/bookworm/main/installer-amd64 ]] && fail "--udebs: installer images mirrored"
[[ -f $ud/dists/bookworm/main/debian-installer/binary-amd64/Packages.xz ]] ||
  fail "--udebs: the udeb index is not in the tree"
[[ $(jq -c .options.udebs "$ud/.rackboot-manifest.json") == \
  '["nic-modules-6.1.0-99-amd64-di","anna","foo-modules-6.1.0-98-amd64-di"]' ]] ||
  fail "--udebs: manifest options.udebs is $(jq -c .options.udebs "$ud/.rackboot-manifest.json")"
nud=$(tree_matches_source "$ud" "$src")
manifest_matches_tree "$ud"
log "H: $nud files, $(jv h .fetched) fetched in $(jv h .seconds) s"
run_mirror h2 "${common[@]}" --to="$WORK/pub/udebs-bad" --udebs=anna,rb-nosuch-di --json
expect_rc h2 1
[[ ! -e $WORK/pub/udebs-bad ]] || fail "h2: a tree was published for an unknown udeb"
[[ $(jv h2 .error) == *"udeb rb-nosuch-di is not in bookworm main amd64"* ]] ||
  fail "h2: the error does not name the unknown udeb: $(jv h2 .error)"
# A pool udeb whose bytes are not what the signed index says: refused, nothing published.
anna=$(cd "$src" && echo $pool/a/anna/*.udeb)
cp "$src/$anna" "$WORK/anna.orig"
printf 'x' >>"$src/$anna"
run_mirror h3 "${common[@]}" --to="$WORK/pub/udebs-tampered" --udebs=anna --json
cp "$WORK/anna.orig" "$src/$anna"
expect_rc h3 1
[[ ! -e $WORK/pub/udebs-tampered ]] || fail "h3: a tree was published with a tampered udeb"
[[ $(jv h3 .error) == *anna* ]] || fail "h3: the error does not name the tampered udeb: $(jv h3 .error)"
# Same length, other bytes: the SHA-256 check.
"$PY" - "$src/$anna" <<'PYEOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-1] ^= 0xff
open(p, "wb").write(b)
PYEOF
run_mirror h4 "${common[@]}" --to="$WORK/pub/udebs-tampered" --udebs=anna --json
cp "$WORK/anna.orig" "$src/$anna"
expect_rc h4 1
[[ ! -e $WORK/pub/udebs-tampered ]] || fail "h4: a tree was published with a tampered udeb"
[[ $(jv h4 .error) == *anna* && $(jv h4 .error) == *[Ss][Hh][Aa]256* ]] ||
  fail "h4: the error does not name the SHA-256 mismatch of anna: $(jv h4 .error)"

if ((${#missing_release_by_hash[@]})); then
  fail "A: Release says Acquire-By-Hash: yes but the by-hash copy of the component Release is not mirrored (deb.debian.org serves dists/bookworm/main/binary-amd64/by-hash/SHA256/<sha256 of its Release>): ${missing_release_by_hash[*]}"
fi
log "PASS"
