#!/usr/bin/env bash
# FTP both ways, as the seed site does it, with vsftpd in a namespace (198.18.152.1):
#  A) import: vsftpd serves a signed apt repository anonymously;
#     rackboot-mirror --from=ftp://198.18.152.1/ --suite=bookworm --packages=rb-app --installer
#     publishes the closure, byte-identical, verified; a re-run is up to date.
#  B) export: vsftpd (anonymous, read-only, the docs/mirror.md configuration: anon_root the
#     parent of the published trees) serves the PUBLISHED tree at /deb12/: curl ftp:// lists it,
#     downloads a pool file byte-identical; an upload, a mkdir and a delete are refused; the
#     manifest and the bookkeeping directory (.rackboot*) are neither listed nor served.
#  C) the source gains a version, re-import over FTP, re-publish under the exporting vsftpd
#     (port 2121): a new session sees the new tree.
# Usage: mirror_ftp_test.sh RACKBOOT_MIRROR
source "$(dirname "$0")/lib.sh"
MIRROR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mirror_lib_init mirror_ftp
for c in vsftpd gpg jq curl; do command -v $c >/dev/null || fail "missing $c"; done

mirror_ns_setup ftp 152
make_test_key "$WORK/key"
src=$WORK/src
bash "$MIRROR_LIB_DIR/make_apt_repo.sh" "$src" "$WORK/key" 100 bookworm
start_vsftpd "$NS" "$src"
ftp="ftp://$NS_IP"
curl -sS --fail -o /dev/null "$ftp/dists/bookworm/InRelease" || fail "vsftpd does not serve InRelease"
mkdir -p "$WORK/pub"
pub=$WORK/pub/deb12
args=(--from="$ftp/" --suite=bookworm --keyring="$WORK/key/test.gpg" --to="$pub" --packages=rb-app
  --installer --json)

################################################################################################
log "A) import from ftp://"
run_mirror a "${args[@]}"
expect_rc a 0
jexpect a .ok true
jexpect a .published true
jexpect a .kind apt
jexpect a .media.family debian-preseed
[[ $(jv a .source) == ftp://* ]] || fail "a: .source is $(jv a .source)"
for want in r/rb-app/rb-app_1.0_amd64.deb r/rb-impl/rb-impl_1.0_amd64.deb r/rb-data/rb-data_1.0_all.deb \
  k/kernel-image-6.1.0-99-amd64-di/kernel-image-6.1.0-99-amd64-di_6.1.99-1_amd64.udeb; do
  [[ -f $pub/pool/main/$want ]] || fail "a: pool/main/$want missing"
done
compgen -G "$pub/pool/main/f/*" >/dev/null && fail "a: unrelated fill-* packages mirrored"
n=$(tree_matches_source "$pub" "$src")
manifest_matches_tree "$pub"
jexpect a .files "$n"
run_mirror a2 "${args[@]}"
expect_rc a2 0
jexpect a2 .up_to_date true
log "A: $n files over FTP in $(jv a .seconds) s"

################################################################################################
log "B) vsftpd serves the published tree anonymously, read-only"
# The docs/mirror.md configuration: anon_root is the parent of the published trees (the
# installer uses ftp://SERVER/deb12/), so the bookkeeping directory beside the tree
# (.rackboot-mirror-deb12/) is in the FTP root too and must be neither listed nor served.
start_vsftpd "$NS" "$WORK/pub" 2121
ftp_import=$ftp
ftp="ftp://$NS_IP:2121"
[[ -e $WORK/pub/.rackboot-mirror-deb12/lock ]] || fail "no lock file beside the tree"
top=$(curl -sS --fail -l "$ftp/") || fail "FTP list of /"
grep -qx deb12 <<<"$top" || fail "FTP list of /: $top"
grep -q rackboot <<<"$top" && fail "FTP list of / shows .rackboot* names: $top"
listing=$(curl -sS --fail "$ftp/deb12/") || fail "FTP list of /deb12/"
grep -qw dists <<<"$listing" && grep -qw pool <<<"$listing" || fail "FTP list of /deb12/: $listing"
grep -q rackboot <<<"$(curl -sS --fail -l "$ftp/deb12/")" && fail "FTP list of /deb12/ shows .rackboot* names"
deb=pool/main/r/rb-app/rb-app_1.0_amd64.deb
curl -sS --fail -o "$WORK/got.deb" "$ftp/deb12/$deb" || fail "FTP RETR deb12/$deb"
cmp -s "$WORK/got.deb" "$src/$deb" || fail "FTP RETR $deb: bytes differ from the source"
curl -sS --fail -o "$WORK/got.info" "$ftp/deb12/dists/bookworm/InRelease" || fail "FTP RETR InRelease"
cmp -s "$WORK/got.info" "$pub/dists/bookworm/InRelease" || fail "FTP RETR InRelease differs"
for p in deb12/.rackboot-manifest.json .rackboot-mirror-deb12/lock; do
  curl -s --fail -o /dev/null "$ftp/$p" && fail "FTP served $p"
done
curl -s --fail -l "$ftp/.rackboot-mirror-deb12/" >/dev/null && fail "FTP listed .rackboot-mirror-deb12/"
echo upload >"$WORK/up.txt"
curl -s -T "$WORK/up.txt" "$ftp/up.txt" && fail "anonymous FTP upload accepted"
curl -s -T "$WORK/up.txt" "$ftp/deb12/pool/up.txt" && fail "anonymous FTP upload into pool/ accepted"
curl -s -Q 'MKD newdir' "$ftp/" >/dev/null && fail "anonymous FTP MKD accepted"
curl -s -Q "DELE deb12/$deb" "$ftp/" >/dev/null && fail "anonymous FTP DELE accepted"
[[ ! -e $WORK/pub/up.txt && ! -e $pub/pool/up.txt && ! -e $WORK/pub/newdir && -f $pub/$deb ]] ||
  fail "anonymous FTP changed the tree"

################################################################################################
log "C) a re-publish under vsftpd: new sessions see the new tree"
"$PY" "$MIRROR_LIB_DIR/apt_fixture.py" deb "$src" rb-lib2 1.1 >/dev/null
bash "$MIRROR_LIB_DIR/make_apt_repo.sh" --reindex "$src" "$WORK/key" bookworm
run_mirror c "${args[@]}"
expect_rc c 0
jexpect c .published true
[[ $(jv c .source) == "$ftp_import"* ]] || fail "c: .source is $(jv c .source)"
curl -sS --fail -o "$WORK/got.new" "$ftp/deb12/pool/main/r/rb-lib2/rb-lib2_1.1_amd64.deb" ||
  fail "FTP RETR of the new version after the re-publish"
cmp -s "$WORK/got.new" "$src/pool/main/r/rb-lib2/rb-lib2_1.1_amd64.deb" || fail "new version differs"
log "PASS"
