#!/usr/bin/env bash
# rackboot-mirror --from=an ISO file (read with libarchive: no mount, no root):
#  A) an xorriso ISO of a Debian-netinst-like tree (.disk/info, install.amd/{vmlinuz,initrd.gz},
#     dists/bookworm/Release, pool/..., a "debian -> ." symlink as on the real media):
#     recognised as debian-preseed (Debian 12.5, amd64) with evidence from .disk/info; every
#     regular file published byte-identical; the symlink not; vmlinuz/initrd.gz in
#     --boot_dir/<name>/; JSON fields.
#  B) again in text mode: up to date, the profile stub printed.
#  C) the same as an unprivileged user (setpriv --reuid=65534) into a directory it owns: works,
#     so no root (and no mount) is needed.
#  D) an ISO of junk: exit 1 "unrecognised media at ... found ...", nothing published, and a
#     junk run onto the published name leaves the previous tree untouched.
#  E) the same tree as a directory source: kind directory, recognised the same, byte-identical,
#     the symlink skipped; a re-run is up to date (size + mtime); a touched file is re-copied.
# Usage: mirror_iso_test.sh RACKBOOT_MIRROR
source "$(dirname "$0")/lib.sh"
MIRROR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mirror_lib_init mirror_iso
for c in xorriso jq; do command -v $c >/dev/null || fail "missing $c"; done

tree=$WORK/tree
bash "$MIRROR_LIB_DIR/make_iso.sh" --debian-netinst "$tree"
iso=$WORK/debian-12.5.0-amd64-netinst.iso
bash "$MIRROR_LIB_DIR/make_iso.sh" "$iso" "$tree"
mkdir -p "$WORK/pub" "$WORK/boot"
mounts_before=$(wc -l </proc/self/mountinfo)

################################################################################################
log "A) a Debian netinst ISO"
pub=$WORK/pub/deb12iso
run_mirror a --from="$iso" --to="$pub" --boot_dir="$WORK/boot" --json
expect_rc a 0
jexpect a .ok true
jexpect a .published true
jexpect a .kind iso
jexpect a .to "$pub"
jexpect a .source "$iso"
jexpect a .media.family debian-preseed
jexpect a .media.arch amd64
[[ $(jv a .media.distro) == Debian* ]] || fail "a: .media.distro is $(jv a .media.distro)"
[[ $(jv a .media.release) == 12* ]] || fail "a: .media.release is $(jv a .media.release)"
jexpect a .media.kernel install.amd/vmlinuz
jexpect a .media.initrd install.amd/initrd.gz
jv a '.media.evidence[]' | grep -q '\.disk/info' || fail "a: evidence does not cite .disk/info: $(jv a .media.evidence)"
while read -r f; do
  [[ -f $pub/$f ]] || fail "a: $f missing"
done < <(cd "$tree" && find . -type f -printf '%P\n')
[[ ! -e $pub/debian && ! -L $pub/debian ]] || fail "a: the media's symlink was published"
n=$(tree_matches_source "$pub" "$tree")
[[ $n == $(cd "$tree" && find . -type f | wc -l) ]] || fail "a: $n files published"
manifest_matches_tree "$pub"
jexpect a .files "$n"
for f in vmlinuz initrd.gz; do
  cmp -s "$WORK/boot/deb12iso/$f" "$tree/install.amd/$f" || fail "--boot_dir: deb12iso/$f missing or different"
done
log "A: $n files in $(jv a .seconds) s"

################################################################################################
log "B) again, text mode: up to date, profile stub"
inode=$(stat -c %i "$pub")
run_mirror b --from="$iso" --to="$pub" --boot_dir="$WORK/boot"
expect_rc b 0
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "b: up to date but the tree was swapped"
for line in '[[profile]]' 'name = "deb12iso"' 'family = "debian-preseed"' \
  'kernel = "deb12iso/vmlinuz"' 'initrd = "deb12iso/initrd.gz"' 'source = "/repo/deb12iso"'; do
  grep -qxF "$line" "$WORK/b.out" || fail "b: profile stub lacks '$line': $(cat "$WORK/b.out")"
done
run_mirror b2 --from="$iso" --to="$pub" --json
expect_rc b2 0
jexpect b2 .up_to_date true
jexpect b2 .fetched 0

################################################################################################
log "C) as nobody (setpriv --reuid=65534), no root, no mount"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
u=$WORK/unpriv
mkdir -p "$u/boot"
cp "$MIRROR" "$u/rackboot-mirror"
cp "$iso" "$u/media.iso"
chown -R 65534:65534 "$u"
chmod 755 "$u"
rc=0
(cd "$u" && timeout 120 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  ./rackboot-mirror --from="$u/media.iso" --to="$u/deb12" --boot_dir="$u/boot" --json \
  >"$WORK/c.out" 2>"$WORK/c.err") || rc=$?
RC=$rc
expect_rc c 0
jexpect c .ok true
jexpect c .media.family debian-preseed
tree_matches_source "$u/deb12" "$tree" >/dev/null
[[ $(stat -c %u "$u/deb12/.disk/info") == 65534 ]] || fail "c: files not written by the unprivileged user"
cmp -s "$u/boot/deb12/vmlinuz" "$tree/install.amd/vmlinuz" || fail "c: --boot_dir kernel missing"
[[ $(wc -l </proc/self/mountinfo) == "$mounts_before" ]] || fail "mounts changed during the ISO runs"

################################################################################################
log "D) an ISO of junk"
junk=$WORK/junk
mkdir -p "$junk/stuff" "$junk/more"
head -c 5000 /dev/urandom >"$junk/stuff/blob.bin"
echo hello >"$junk/README.TXT"
echo x >"$junk/more/notes.txt"
bash "$MIRROR_LIB_DIR/make_iso.sh" "$WORK/junk.iso" "$junk"
run_mirror d --from="$WORK/junk.iso" --to="$WORK/pub/junk"
expect_rc d 1
cat "$WORK/d.out" "$WORK/d.err" >"$WORK/d.all"
grep -qF "unrecognised media at $WORK/junk.iso: found " "$WORK/d.all" ||
  fail "d: the message does not name the ISO and what it holds: $(cat "$WORK/d.all")"
grep -q "found" "$WORK/d.all" && grep -q "README.TXT\|stuff" "$WORK/d.all" ||
  fail "d: the message does not say what was found: $(cat "$WORK/d.all")"
grep -q '\.treeinfo' "$WORK/d.all" && grep -q '\.disk/info' "$WORK/d.all" ||
  fail "d: the message does not say what was expected: $(cat "$WORK/d.all")"
[[ ! -e $WORK/pub/junk ]] || fail "d: something was published"
run_mirror d2 --from="$WORK/junk.iso" --to="$pub" --json
expect_rc d2 1
jexpect d2 .ok false
jexpect d2 .published false
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "d2: the previous tree was replaced"
tree_matches_source "$pub" "$tree" >/dev/null
[[ -f $pub/.disk/info ]] || fail "d2: the previous tree lost files"

################################################################################################
log "E) the tree as a directory source"
dpub=$WORK/pub/deb12dir
run_mirror e --from="$tree" --to="$dpub" --boot_dir="$WORK/boot" --json
expect_rc e 0
jexpect e .kind directory
jexpect e .published true
jexpect e .media.family debian-preseed
jexpect e .media.kernel install.amd/vmlinuz
[[ ! -e $dpub/debian && ! -L $dpub/debian ]] || fail "e: the tree's symlink was published"
ne=$(tree_matches_source "$dpub" "$tree")
[[ $ne == "$n" ]] || fail "e: $ne files from the directory, $n from the ISO"
manifest_matches_tree "$dpub"
cmp -s "$WORK/boot/deb12dir/vmlinuz" "$tree/install.amd/vmlinuz" || fail "e: --boot_dir kernel"
dinode=$(stat -c %i "$dpub")
run_mirror e2 --from="$tree" --to="$dpub" --json
expect_rc e2 0
jexpect e2 .up_to_date true
jexpect e2 .fetched 0
[[ $(stat -c %i "$dpub") == "$dinode" ]] || fail "e2: up to date but the tree was swapped"
head -c 1000 /dev/urandom >>"$tree/pool/main/a/adduser/adduser_3.134_all.deb"
run_mirror e3 --from="$tree" --to="$dpub" --json
expect_rc e3 0
jexpect e3 .published true
jexpect e3 .fetched 1
cmp -s "$dpub/pool/main/a/adduser/adduser_3.134_all.deb" "$tree/pool/main/a/adduser/adduser_3.134_all.deb" ||
  fail "e3: the changed file was not re-copied"
manifest_matches_tree "$dpub"

log "PASS"
