#!/usr/bin/env bash
# make_iso.sh OUTISO TREE
#   An ISO9660 image (Rock Ridge + Joliet names) of the directory TREE, as distributions' media
#   are made: xorriso -as mkisofs -R -J. Symlinks in TREE are stored as Rock Ridge symlinks.
# make_iso.sh --debian-netinst TREE
#   Fills TREE with a tree that looks like a Debian 12 netinst image (then make an ISO of it):
#   .disk/info, install.amd/{vmlinuz,initrd.gz}, dists/bookworm/Release (unsigned, as on the
#   media), pool/main/... two small files, md5sum.txt, a symlink "debian -> ." like the real one.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
if [[ ${1:-} == --debian-netinst ]]; then
  t=$2
  mkdir -p "$t/.disk" "$t/install.amd" "$t/dists/bookworm/main/binary-amd64" \
    "$t/pool/main/b/base-files" "$t/pool/main/a/adduser" "$t/isolinux"
  printf 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27' \
    >"$t/.disk/info"
  head -c 120000 /dev/urandom >"$t/install.amd/vmlinuz"
  head -c 260000 /dev/urandom >"$t/install.amd/initrd.gz"
  head -c 30000 /dev/urandom >"$t/pool/main/b/base-files/base-files_12.4+deb12u5_amd64.deb"
  head -c 20000 /dev/urandom >"$t/pool/main/a/adduser/adduser_3.134_all.deb"
  echo 'isolinux config' >"$t/isolinux/isolinux.cfg"
  printf 'Package: base-files\nVersion: 12.4+deb12u5\n\n' >"$t/dists/bookworm/main/binary-amd64/Packages"
  cat >"$t/dists/bookworm/Release" <<'EOF'
Origin: Debian
Label: Debian
Suite: stable
Version: 12.5
Codename: bookworm
Date: Sat, 10 Feb 2024 11:08:34 UTC
Architectures: amd64
Components: main
Description: Debian 12.5 Released 10 February 2024
EOF
  (cd "$t" && find . -type f ! -name md5sum.txt | sort | xargs md5sum >md5sum.txt)
  ln -sfn . "$t/debian"
  exit 0
fi
[[ $# -eq 2 ]] || { echo "usage: $0 OUTISO TREE | --debian-netinst TREE" >&2; exit 2; }
xorriso -as mkisofs -quiet -R -J -V RACKBOOT_TEST -o "$1" "$2" 2>/dev/null ||
  xorriso -as mkisofs -R -J -V RACKBOOT_TEST -o "$1" "$2"
