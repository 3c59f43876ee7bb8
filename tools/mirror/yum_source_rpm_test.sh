#!/usr/bin/env bash
# PlanYumSource against a repository made by the real rpmbuild and createrepo_c, its
# repomd.xml signed with a throwaway gpg key (repomd.xml.asc, as dnf's repo_gpgcheck wants):
# the plan names every rpm with the sha256 and size of the file on disk; --packages filters;
# a good signature passes, a tampered repomd.xml and a missing .asc are refused; .treeinfo
# images are planned with their checksums. The fetch in the driver copies from the directory
# and checks size + sha256 as the real fetcher does.
set -euo pipefail
TOOL=$1
# /tmp, not TEST_TMPDIR: gpg-agent's socket path must stay under 108 bytes.
W=$(mktemp -d /tmp/rackboot-yumtest.XXXXXX)
trap 'gpgconf --homedir "$W/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in rpmbuild createrepo_c gpg zstd; do
  command -v $t >/dev/null || fail "$t is not installed (./rackboot PACKAGES has it)"
done

R=$W/repo
mkdir -p "$R/Packages" "$W/rpm" "$W/tmp" "$W/rpmdb"
for name in alpha beta gamma; do
  cat >"$W/$name.spec" <<SPEC
Name: rb-$name
Version: 1.0
Release: 1
Summary: rackboot test package $name
License: MIT
BuildArch: noarch
%description
A tiny package for the mirror tests.
%install
mkdir -p %{buildroot}/usr/share/rb-$name
echo $name > %{buildroot}/usr/share/rb-$name/README
%files
/usr/share/rb-$name/README
SPEC
  # The sandbox's /var/tmp and ~/.rpmdb are read-only: everything under $W.
  HOME=$W rpmbuild --quiet -bb --define "_topdir $W/rpm" --define "_tmppath $W/tmp" \
    --define "_dbpath $W/rpmdb" --define "_build_id_links none" \
    "$W/$name.spec" >"$W/rpmbuild.log" 2>&1 || { cat "$W/rpmbuild.log"; fail "rpmbuild $name"; }
done
find "$W/rpm/RPMS" -name '*.rpm' -exec cp {} "$R/Packages/" \;
[[ $(ls "$R/Packages" | wc -l) == 3 ]] || fail "expected 3 rpms: $(ls "$R/Packages")"
createrepo_c -q "$R" || fail createrepo_c

export GNUPGHOME=$W/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch -q --passphrase '' --quick-gen-key "Rackboot Yum Test <yum@rackboot.invalid>" ed25519 sign never 2>/dev/null
gpg --batch -q --export >"$W/test.gpg"
gpg --batch -q --yes --detach-sign --armor -o "$R/repodata/repomd.xml.asc" "$R/repodata/repomd.xml"

# Unsigned check: every rpm planned with its real sha256 and size, a warning.
mkdir "$W/st1"
"$TOOL" yum "$R" "$W/st1" >"$W/plan1" 2>"$W/err1" || { cat "$W/err1"; fail "plan failed"; }
grep -q 'repomd.xml not signature-checked' "$W/err1" || fail "no unsigned warning"
for rpm in "$R"/Packages/*.rpm; do
  rel=Packages/$(basename "$rpm")
  line=$(printf 'file\t%s\t%s\t%s' "$rel" "$(stat -c %s "$rpm")" "$(sha256sum <"$rpm" | cut -d' ' -f1)")
  grep -qxF "$line" "$W/plan1" || fail "plan lacks $line: $(cat "$W/plan1")"
done
grep -qx $'selected\t3' "$W/plan1" || fail "selected: $(cat "$W/plan1")"
grep -q $'^file\trepodata/repomd.xml\t' "$W/plan1" || fail "repomd.xml not in the plan"
for f in $(sed -n 's|.*<location href="\(repodata/[^"]*\)".*|\1|p' "$R/repodata/repomd.xml"); do
  grep -q $'^file\t'"$f"$'\t' "$W/plan1" || fail "metadata $f not in the plan"
done
cmp "$R/repodata/repomd.xml" "$W/st1/repodata/repomd.xml" || fail "repomd.xml not staged"

# --packages filters by name.
mkdir "$W/st2"
"$TOOL" yum "$R" "$W/st2" - rb-beta >"$W/plan2" 2>/dev/null || fail "filtered plan failed"
grep -qx $'selected\t1' "$W/plan2" || fail "filter: $(cat "$W/plan2")"
grep -q 'Packages/rb-beta-1.0-1.noarch.rpm' "$W/plan2" || fail "rb-beta not planned"
if grep -q 'rb-alpha' "$W/plan2"; then fail "rb-alpha planned despite the filter"; fi
if err=$("$TOOL" yum "$R" "$W/st2" - rb-nope 2>&1); then fail "a missing package accepted"; fi
[[ $err == NOT_FOUND:*'"rb-nope"'* ]] || fail "missing package: $err"

# Signed: the good signature passes, and .asc is in the plan.
mkdir "$W/st3"
"$TOOL" yum "$R" "$W/st3" "$W/test.gpg" >"$W/plan3" 2>"$W/err3" || { cat "$W/err3"; fail "good signature refused"; }
grep -q $'^file\trepodata/repomd.xml.asc\t' "$W/plan3" || fail ".asc not planned"
if grep -q 'not signature-checked' "$W/err3"; then fail "warned although checked"; fi
# Debian's keyring did not sign it.
mkdir "$W/st4"
if err=$("$TOOL" yum "$R" "$W/st4" /usr/share/keyrings/debian-archive-keyring.gpg 2>&1); then
  fail "a signature by a key outside the keyring accepted"
fi
[[ $err == PERMISSION_DENIED:*'failed its signature check'* ]] || fail "wrong key: $err"

# Tampered repomd.xml (a revision changed after signing): refused.
cp -a "$R" "$W/tampered"
sed -i 's|<revision>|<revision>666|' "$W/tampered/repodata/repomd.xml"
mkdir "$W/st5"
if err=$("$TOOL" yum "$W/tampered" "$W/st5" "$W/test.gpg" 2>&1); then fail "tampered repomd.xml accepted"; fi
[[ $err == PERMISSION_DENIED:*BADSIG* ]] || fail "tampered: $err"

# No .asc but a keyring: refused.
rm "$W/tampered/repodata/repomd.xml.asc"
if err=$("$TOOL" yum "$W/tampered" "$W/st5" "$W/test.gpg" 2>&1); then fail "unsigned repo accepted with --keyring"; fi
[[ $err == *"no repodata/repomd.xml.asc"* ]] || fail "missing .asc: $err"

# A primary that createrepo_c wrote, then damaged after repomd.xml named its checksum.
cp -a "$R" "$W/damaged"
p=$(ls "$W"/damaged/repodata/*-primary.xml.*)
printf 'x' >>"$p"
mkdir "$W/st6"
if err=$("$TOOL" yum "$W/damaged" "$W/st6" 2>&1); then fail "damaged primary accepted"; fi
[[ $err == DATA_LOSS:* ]] || fail "damaged primary: $err"

# primary.xml.bz2 and .xz (createrepo_c's other compressions; Debian's has no zstd) parse
# the same.
for c in bz2 xz; do
  cp -a "$R" "$W/$c"
  createrepo_c -q --general-compress-type=$c "$W/$c" || fail "createrepo_c $c"
  ls "$W/$c"/repodata/*-primary.xml.$c >/dev/null || fail "no $c primary"
  mkdir "$W/st-$c"
  "$TOOL" yum "$W/$c" "$W/st-$c" >"$W/plan-$c" 2>/dev/null || fail "$c primary not read"
  grep -qx $'selected\t3' "$W/plan-$c" || fail "$c: $(cat "$W/plan-$c")"
done

# primary.xml.zst (as Fedora and RHEL 9 publish it) by hand: zstd, and a repomd.xml naming it.
mkdir -p "$W/zst/repodata" "$W/st-zst"
cp -a "$R/Packages" "$W/zst/"
zcat "$R"/repodata/*-primary.xml.gz | zstd -q -o "$W/zst/repodata/p-primary.xml.zst"
z=$W/zst/repodata/p-primary.xml.zst
printf '<repomd><revision>1</revision><data type="primary"><checksum type="sha256">%s</checksum><location href="repodata/p-primary.xml.zst"/><size>%s</size></data></repomd>\n' \
  "$(sha256sum <"$z" | cut -d' ' -f1)" "$(stat -c %s "$z")" >"$W/zst/repodata/repomd.xml"
"$TOOL" yum "$W/zst" "$W/st-zst" >"$W/plan-zst" 2>/dev/null || fail "zst primary not read"
grep -qx $'selected\t3' "$W/plan-zst" || fail "zst: $(cat "$W/plan-zst")"

# .treeinfo: images planned with their sha256, media from it.
mkdir -p "$R/images/pxeboot"
echo kernel >"$R/images/pxeboot/vmlinuz"
echo initrd >"$R/images/pxeboot/initrd.img"
cat >"$R/.treeinfo" <<TI
[header]
type = productmd.treeinfo
version = 1.2

[release]
name = Rocky Linux
short = Rocky
version = 9.3

[tree]
arch = x86_64
platforms = x86_64

[images-x86_64]
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[checksums]
images/pxeboot/initrd.img = sha256:$(sha256sum <"$R/images/pxeboot/initrd.img" | cut -d' ' -f1)
images/pxeboot/vmlinuz = sha256:$(sha256sum <"$R/images/pxeboot/vmlinuz" | cut -d' ' -f1)
TI
mkdir "$W/st7"
"$TOOL" yum "$R" "$W/st7" >"$W/plan7" 2>/dev/null || fail "plan with .treeinfo failed"
grep -qxF "$(printf 'file\timages/pxeboot/vmlinuz\t-1\t%s' "$(sha256sum <"$R/images/pxeboot/vmlinuz" | cut -d' ' -f1)")" "$W/plan7" ||
  fail "kernel not planned with its sha256: $(cat "$W/plan7")"
grep -qx 'family=rhel-kickstart' "$W/plan7" || fail "family: $(cat "$W/plan7")"
grep -qx 'kernel=images/pxeboot/vmlinuz' "$W/plan7" || fail "kernel: $(cat "$W/plan7")"
grep -qx 'distro=Rocky Linux' "$W/plan7" || fail "distro"
echo PASS
