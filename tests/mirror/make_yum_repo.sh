#!/usr/bin/env bash
# make_yum_repo.sh OUTDIR N [KEYDIR]
#   A yum/dnf repository like a RHEL-family BaseOS tree, for the mirror tests:
#   OUTDIR/Packages/r/rb-yum-NNNN-1.0-1.noarch.rpm   N tiny noarch rpms, one rpmbuild run (one
#                                                     spec, N subpackages: N runs take minutes)
#                                                     rb-yum-NNNN Requires rb-yum-(NNNN-1) in
#                                                     chains of 5; plus rb-yum-extra
#   OUTDIR/repodata/                                  createrepo_c (sha256 checksums)
#   OUTDIR/repodata/repomd.xml.asc                    gpg --detach-sign --armor with KEYDIR's key
#                                                     (lib.sh make_test_key), when KEYDIR given
#   OUTDIR/.treeinfo, images/pxeboot/{vmlinuz,initrd.img}, images/install.img (stage2)
#                                                     (tiny fakes; sha256 in [checksums]), unless
#                                                     MAKE_YUM_TREEINFO=0
#   Media: family "Rocky Linux", version 9.9, arch x86_64.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
[[ $# -ge 2 ]] || { echo "usage: $0 OUTDIR N [KEYDIR]" >&2; exit 2; }
out=$1 n=$2 keydir=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
top=$(mktemp -d /tmp/rb-rpmbuild.XXXXXX)
trap 'rm -rf "$top"' EXIT
mkdir -p "$top"/{SPECS,BUILD,BUILDROOT,RPMS,SRPMS,SOURCES}

names=()
for ((i = 0; i < n; i++)); do names+=("$(printf 'rb-yum-%04d' "$i")"); done
names+=(rb-yum-extra)
spec=$top/SPECS/rbtest.spec
{
  cat <<'EOF'
Name: rb-yum-base
Version: 1.0
Release: 1
Summary: rackboot mirror test base package
License: MIT
BuildArch: noarch
%description
Made by tests/mirror/make_yum_repo.sh.
%install
mkdir -p %{buildroot}/usr/share/rb-yum
EOF
  for p in rb-yum-base "${names[@]}"; do echo "echo $p >%{buildroot}/usr/share/rb-yum/$p"; done
  echo '%files'
  echo '/usr/share/rb-yum/rb-yum-base'
  for ((i = 0; i < ${#names[@]}; i++)); do
    p=${names[$i]}
    echo "%package -n $p"
    echo "Summary: rackboot mirror test package $p"
    if ((i % 5)) && [[ $p != rb-yum-extra ]]; then echo "Requires: ${names[$((i - 1))]}"; fi
    echo "%description -n $p"
    echo "Test package $p."
    echo "%files -n $p"
    echo "/usr/share/rb-yum/$p"
  done
} >"$spec"
rpmbuild --quiet --nodeps --define "_topdir $top" --define '_source_payload w0.gzdio' \
  --define '_binary_payload w1.gzdio' -bb "$spec" >"$top/rpmbuild.log" 2>&1 ||
  { cat "$top/rpmbuild.log" >&2; exit 1; }
mkdir -p "$out/Packages/r"
find "$top/RPMS" -name '*.rpm' -exec mv -t "$out/Packages/r/" {} +
createrepo_c --quiet --checksum=sha256 --general-compress-type=gz "$out" >/dev/null

if [[ -n $keydir ]]; then
  GNUPGHOME=$(cat "$keydir/gnupghome") gpg --batch --yes --quiet --detach-sign --armor \
    -o "$out/repodata/repomd.xml.asc" "$out/repodata/repomd.xml"
  gpgv --keyring "$keydir/test.gpg" "$out/repodata/repomd.xml.asc" "$out/repodata/repomd.xml" \
    2>/dev/null || { echo "repomd.xml.asc does not verify" >&2; exit 1; }
fi

if [[ ${MAKE_YUM_TREEINFO:-1} == 1 ]]; then
  mkdir -p "$out/images/pxeboot"
  head -c 90000 /dev/urandom >"$out/images/pxeboot/vmlinuz"
  head -c 210000 /dev/urandom >"$out/images/pxeboot/initrd.img"
  head -c 50000 /dev/urandom >"$out/images/install.img"
  s2=$(sha256sum "$out/images/install.img" | cut -d' ' -f1)
  k=$(sha256sum "$out/images/pxeboot/vmlinuz" | cut -d' ' -f1)
  r=$(sha256sum "$out/images/pxeboot/initrd.img" | cut -d' ' -f1)
  cat >"$out/.treeinfo" <<EOF
[checksums]
images/install.img = sha256:$s2
images/pxeboot/initrd.img = sha256:$r
images/pxeboot/vmlinuz = sha256:$k

[general]
; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.
arch = x86_64
family = Rocky Linux
name = Rocky Linux 9.9
packagedir = Packages
platforms = x86_64
repository = .
timestamp = 1700000000
variant = BaseOS
variants = BaseOS
version = 9.9

[header]
type = productmd.treeinfo
version = 1.2

[images-x86_64]
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[release]
name = Rocky Linux
short = Rocky
version = 9.9

[stage2]
mainimage = images/install.img

[tree]
arch = x86_64
build_timestamp = 1700000000
platforms = x86_64
variants = BaseOS

[variant-BaseOS]
id = BaseOS
name = BaseOS
packages = Packages
repository = .
type = variant
uid = BaseOS
EOF
fi
chmod -R a+rX "$out"
