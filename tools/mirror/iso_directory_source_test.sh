#!/usr/bin/env bash
# iso_source, directory_source and media recognition against images made by the real xorriso
# (-R -J, no root): nested directories, a symlink, a hard link, names with a newline and
# '...'/'..x', a 3 MB random file, a Debian-netinst-like .disk/info + install.amd/ and a
# sha256sum.txt. Extraction must give back the source tree's bytes (cmp), skip the symlink and
# the newline name with warnings, leave no .part; a second image whose sha256sum.txt has one
# wrong entry is DataLoss; a file that is not an ISO is refused.
set -euo pipefail
TOOL=$1
W=$(mktemp -d "${TEST_TMPDIR:-/tmp}/isotest.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v xorriso >/dev/null || fail "xorriso is not installed (./rackboot PACKAGES has it)"

T=$W/tree
mkdir -p "$T/a/b/c" "$T/.disk" "$T/install.amd" "$T/dists/bookworm" "$T/empty-dir"
printf 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27\n' >"$T/.disk/info"
echo kernel >"$T/install.amd/vmlinuz"
echo initrd >"$T/install.amd/initrd.gz"
printf 'Origin: Debian\nCodename: bookworm\nVersion: 12.5\nArchitectures: amd64\n' >"$T/dists/bookworm/Release"
head -c 3000000 /dev/urandom >"$T/a/b/c/big.bin"
echo hello >"$T/a/hello.txt"
ln "$T/a/hello.txt" "$T/a/b/hard-link.txt"
echo dots >"$T/..."
echo dotx >"$T/a/..x"
printf 'x\n' >"$T/new
line"
ln -s /etc/passwd "$T/passwd-link"
ln -s bookworm "$T/dists/stable"
(cd "$T" && find . -type f ! -name 'new*' ! -name sha256sum.txt -print0 | xargs -0 sha256sum >sha256sum.txt)
xorriso -as mkisofs -R -J -o "$W/good.iso" "$T/" >"$W/xorriso.log" 2>&1 || { cat "$W/xorriso.log"; fail xorriso; }

# Every regular file with a safe name, as the tree has it.
(cd "$T" && find . -type f ! -name 'new*' -printf '%P\t%s\n' | LC_ALL=C sort) >"$W/want.lst"

"$TOOL" iso-list "$W/good.iso" | LC_ALL=C sort >"$W/list.lst"
diff -u "$W/want.lst" "$W/list.lst" || fail "iso-list differs from the tree"

mkdir "$W/st"
"$TOOL" iso-extract "$W/good.iso" "$W/st" >"$W/extract.out" 2>"$W/extract.err" ||
  { cat "$W/extract.err"; fail "extraction of a good image failed"; }
grep -v -e '^skipped_links' -e '^bytes' "$W/extract.out" | cut -f1,2 | LC_ALL=C sort >"$W/extract.lst"
diff -u "$W/want.lst" "$W/extract.lst" || fail "extracted file list differs"
while IFS=$'\t' read -r path size sha; do
  case $path in skipped_links | bytes) continue ;; esac
  cmp "$T/$path" "$W/st/$path" || fail "bytes of $path differ"
  [[ $(sha256sum <"$T/$path" | cut -d' ' -f1) == "$sha" ]] || fail "reported sha256 of $path is wrong"
done <"$W/extract.out"
grep -qx $'skipped_links\t2' "$W/extract.out" || fail "symlinks not counted: $(cat "$W/extract.out")"
grep -q 'unsafe path "new\\x0aline": control character' "$W/extract.err" || fail "newline name not warned: $(cat "$W/extract.err")"
grep -q 'skipped 2 symlink/device entries' "$W/extract.err" || fail "symlinks not warned"
[[ -z $(find "$W/st" -type l -o -name '*.part') ]] || fail "a symlink or .part file in staging"
[[ ! -e "$W/st/passwd-link" ]] || fail "symlink extracted"

out=$("$TOOL" recognize "$W/st") || fail "extracted netinst tree not recognised"
grep -qx 'family=debian-preseed' <<<"$out" || fail "family: $out"
grep -qx 'kernel=install.amd/vmlinuz' <<<"$out" || fail "kernel: $out"
grep -qx 'initrd=install.amd/initrd.gz' <<<"$out" || fail "initrd: $out"
grep -q '^evidence=.disk/info: Debian GNU/Linux 12.5.0' <<<"$out" || fail "evidence: $out"

# The directory source over the same tree: the same regular files, symlinks counted.
"$TOOL" dir "$T" 2>"$W/dir.err" | LC_ALL=C sort >"$W/dir.lst"
diff -u "$W/want.lst" "$W/dir.lst" || fail "directory source list differs"
grep -q 'skipped 2 symlink(s)' "$W/dir.err" || fail "directory symlinks not counted: $(cat "$W/dir.err")"
grep -q 'new\\x0aline' "$W/dir.err" || fail "directory: newline name not warned"

# One wrong line in the image's own sha256sum.txt: DataLoss, the damaged file not left behind.
sed -i "s|^[0-9a-f]*  ./a/hello.txt|$(printf '0%.0s' {1..64})  ./a/hello.txt|" "$T/sha256sum.txt"
grep -q '^0000000000' "$T/sha256sum.txt" || fail "could not plant the wrong checksum"
xorriso -as mkisofs -R -J -o "$W/bad.iso" "$T/" >"$W/xorriso.log" 2>&1 || fail xorriso
mkdir "$W/st2"
if err=$("$TOOL" iso-extract "$W/bad.iso" "$W/st2" 2>&1 >/dev/null); then fail "wrong sha256sum.txt entry accepted"; fi
[[ $err == DATA_LOSS:*'"a/hello.txt"'*'does not match the image'*'sha256sum.txt'* ]] || fail "mismatch: $err"
[[ ! -e "$W/st2/a/hello.txt" ]] || fail "the mismatching file stayed in staging"

# Cancelled mid-file (the 3 MB file spans several 1 MiB blocks): CANCELLED, no .part left.
mkdir "$W/st3"
if err=$("$TOOL" iso-extract-cancel "$W/good.iso" "$W/st3" 2>&1); then fail "cancel ignored: $err"; fi
[[ $err == CANCELLED:* ]] || fail "cancel: $err"
[[ -z $(find "$W/st3" -name '*.part') ]] || fail "cancel left a .part file"

# A zisofs bomb: 20 MB of one byte, compressed by xorriso into an image of well under 1 MB,
# passes twice the image size: RESOURCE_EXHAUSTED, nothing left behind.
mkdir "$W/bombtree" "$W/st4"
head -c 20000000 /dev/zero | tr '\0' 'a' >"$W/bombtree/a.bin"
xorriso -outdev "$W/bomb.iso" -map "$W/bombtree" / -set_filter_r --zisofs / -- -commit \
  >"$W/xorriso.log" 2>&1 || { cat "$W/xorriso.log"; fail "xorriso zisofs"; }
(($(stat -c %s "$W/bomb.iso") < 2000000)) || fail "zisofs image is not small: $(stat -c %s "$W/bomb.iso")"
if err=$("$TOOL" iso-extract "$W/bomb.iso" "$W/st4" 2>&1); then fail "zisofs bomb extracted: $err"; fi
[[ $err == RESOURCE_EXHAUSTED:*"unpacks to more than twice its size"* ]] || fail "bomb: $err"
[[ -z $(find "$W/st4" -type f) ]] || fail "the bomb left files: $(find "$W/st4" -type f)"

# A truncated image (a download cut short): DATA_LOSS, no .part left.
head -c 1500000 "$W/good.iso" >"$W/cut.iso"
mkdir "$W/st5"
if err=$("$TOOL" iso-extract "$W/cut.iso" "$W/st5" 2>&1); then fail "truncated image extracted: $err"; fi
[[ $err == DATA_LOSS:* ]] || fail "truncated: $err"
[[ -z $(find "$W/st5" -name '*.part') ]] || fail "truncated image left a .part file"

# Not an ISO at all.
head -c 100000 /dev/urandom >"$W/noise.iso"
if err=$("$TOOL" iso-list "$W/noise.iso" 2>&1); then fail "random bytes listed as an ISO"; fi
[[ $err == *"not a readable ISO9660 image"* ]] || fail "noise: $err"
# An empty tree is not media.
mkdir "$W/empty"
if err=$("$TOOL" recognize "$W/empty" 2>&1); then fail "empty tree recognised"; fi
[[ $err == *"unrecognised media at $W/empty: found nothing; expected .treeinfo (RHEL-like)"* ]] || fail "empty: $err"
echo PASS
