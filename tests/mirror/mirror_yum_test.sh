#!/usr/bin/env bash
# rackboot-mirror against a yum repository (createrepo_c, a RHEL-like .treeinfo with pxeboot
# images, repomd.xml.asc) served by nginx in a namespace (198.18.151.1):
#  A) --keyring=the test key: the signature verifies; everything mirrored byte-identical; media
#     family rhel-kickstart from .treeinfo with kernel/initrd into --boot_dir/<name>/; JSON.
#  B) again: up_to_date, the tree's inode unchanged.
#  C) --packages=rb-yum-0003,rb-yum-extra: only those rpms (no closure for yum), the metadata
#     and the images.
#  D) no --keyring: works, with the warning "repomd.xml not signature-checked".
#  E) --keyring of another key: exit 1, nothing published.
#  F) a URL without repodata/repomd.xml and no --suite: exit 1 with the message that says to
#     give --suite for an apt repository.
# Usage: mirror_yum_test.sh RACKBOOT_MIRROR
source "$(dirname "$0")/lib.sh"
MIRROR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mirror_lib_init mirror_yum
for c in nginx gpg createrepo_c rpmbuild jq curl; do command -v $c >/dev/null || fail "missing $c"; done

mirror_ns_setup yum 151
make_test_key "$WORK/key"
make_test_key "$WORK/otherkey"
src=$WORK/www/rocky
mkdir -p "$WORK/www/empty"
echo nothing >"$WORK/www/empty/index.html"
bash "$MIRROR_LIB_DIR/make_yum_repo.sh" "$src" 20 "$WORK/key"
start_nginx "$NS" "$WORK/www" 80
url="http://$NS_IP/rocky/"
curl -sS --fail -o /dev/null "${url}repodata/repomd.xml" || fail "nginx does not serve repomd.xml"
mkdir -p "$WORK/pub" "$WORK/boot"
nrpm=$(find "$src/Packages" -name '*.rpm' | wc -l)

################################################################################################
log "A) --keyring: signed repomd.xml, everything"
pub=$WORK/pub/rocky9
run_mirror a --from="$url" --to="$pub" --keyring="$WORK/key/test.gpg" --boot_dir="$WORK/boot" --json
expect_rc a 0
jexpect a .ok true
jexpect a .published true
jexpect a .kind yum
jexpect a .media.family rhel-kickstart
jexpect a .media.arch x86_64
[[ $(jv a .media.release) == 9.9* ]] || fail "a: .media.release is $(jv a .media.release)"
[[ $(jv a .media.kernel) == *vmlinuz ]] || fail "a: .media.kernel is $(jv a .media.kernel)"
[[ $(jv a .media.initrd) == *initrd.img ]] || fail "a: .media.initrd is $(jv a .media.initrd)"
[[ $(jv a '[.warnings[] | select(test("not signature-checked"))] | length') == 0 ]] ||
  fail "a: signature-check warning although --keyring was given"
while read -r f; do
  [[ -f $pub/$f ]] || fail "a: $f missing"
done < <(cd "$src" && find Packages repodata images .treeinfo -type f)
n=$(tree_matches_source "$pub" "$src")
manifest_matches_tree "$pub"
jexpect a .files "$n"
for f in vmlinuz initrd.img; do
  cmp -s "$WORK/boot/rocky9/$f" "$src/images/pxeboot/$f" || fail "--boot_dir: rocky9/$f missing or different"
done
log "A: $n files ($nrpm rpms) in $(jv a .seconds) s"

################################################################################################
log "B) again: up to date"
inode=$(stat -c %i "$pub")
run_mirror b --from="$url" --to="$pub" --keyring="$WORK/key/test.gpg" --json
expect_rc b 0
jexpect b .up_to_date true
jexpect b .published false
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "b: up to date but the tree was swapped"
run_mirror b2 --from="$url" --to="$pub" --keyring="$WORK/key/test.gpg"
expect_rc b2 0
grep -q '^family = "rhel-kickstart"$' "$WORK/b2.out" || fail "b2: no profile stub with family rhel-kickstart: $(cat "$WORK/b2.out")"
grep -q '^name = "rocky9"$' "$WORK/b2.out" || fail "b2: profile stub: no name"

################################################################################################
log "C) --packages filters by name"
sel=$WORK/pub/sel
run_mirror c --from="$url" --to="$sel" --keyring="$WORK/key/test.gpg" --packages=rb-yum-0003,rb-yum-extra --json
expect_rc c 0
jexpect c .ok true
got=$(cd "$sel" && find . -name '*.rpm' -printf '%f\n' | sort | tr '\n' ' ')
[[ $got == "rb-yum-0003-1.0-1.noarch.rpm rb-yum-extra-1.0-1.noarch.rpm " ]] ||
  fail "c: rpms mirrored: $got"
[[ -f $sel/repodata/repomd.xml ]] || fail "c: repodata/repomd.xml missing"
[[ -f $sel/.treeinfo && -f $sel/images/pxeboot/vmlinuz ]] || fail "c: .treeinfo/images missing"
tree_matches_source "$sel" "$src" >/dev/null
manifest_matches_tree "$sel"

################################################################################################
log "D) no --keyring: a warning"
run_mirror d --from="$url" --to="$WORK/pub/nokey" --json
expect_rc d 0
jexpect d .ok true
[[ $(jv d '[.warnings[] | select(test("not signature-checked"))] | length') -ge 1 ]] ||
  fail "d: no 'repomd.xml not signature-checked' warning: $(jv d .warnings)"

################################################################################################
log "E) signed by a key not in --keyring: refused, nothing published"
run_mirror e --from="$url" --to="$WORK/pub/wrongkey" --keyring="$WORK/otherkey/test.gpg" --json
expect_rc e 1
jexpect e .ok false
jexpect e .published false
[[ -n $(jv e '.error // ""') ]] || fail "e: no error message"
[[ ! -e $WORK/pub/wrongkey ]] || fail "e: a tree was published"
# ... and the published tree of A is untouched by a failing run on it.
run_mirror e2 --from="$url" --to="$pub" --keyring="$WORK/otherkey/test.gpg" --json
expect_rc e2 1
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "e2: failed run replaced the tree"
tree_matches_source "$pub" "$src" >/dev/null

################################################################################################
log "F) no repomd.xml and no --suite"
run_mirror f --from="http://$NS_IP/empty/" --to="$WORK/pub/none"
expect_rc f 1
cat "$WORK/f.out" "$WORK/f.err" >"$WORK/f.all"
grep -q 'no repodata/repomd.xml at' "$WORK/f.all" || fail "f: message: $(cat "$WORK/f.all")"
grep -q -- '--suite' "$WORK/f.all" || fail "f: the message does not say --suite"
[[ ! -e $WORK/pub/none ]] || fail "f: a tree was made"

log "PASS"
