#!/usr/bin/env bash
# make_apt_repo.sh OUTDIR KEYDIR N [SUITE]
#   A signed apt repository that looks like Debian's archive, for the mirror tests and the bench:
#   OUTDIR/pool/main/...                 N tiny real .debs (apt_fixture.py: Depends chains, a
#                                        Provides, priorities required/important/optional, one
#                                        Architecture: all) and 5 .udebs
#   OUTDIR/dists/SUITE/InRelease         clearsigned (gpg --clearsign), Release + Release.gpg
#                                        (gpg -abs), by KEYDIR's key (lib.sh make_test_key)
#   .../main/binary-amd64/Packages.{xz,gz}, Release; main/debian-installer/binary-amd64/
#   Packages.{xz,gz}: the uncompressed Packages is listed in Release but not served (Debian's way)
#   Release says "Acquire-By-Hash: yes" and every index has its by-hash/SHA256/<hash> copy
#   .../main/installer-amd64/current/images/SHA256SUMS (listed in Release) and
#   netboot/debian-installer/amd64/{linux,initrd.gz} (tiny fakes, listed in SHA256SUMS)
# make_apt_repo.sh --reindex OUTDIR KEYDIR [SUITE]
#   Re-indexes, re-releases and re-signs the pool as it is now (after a test added or removed a
#   .deb); by-hash copies of the previous indexes stay, as on Debian's mirrors.
# SUITE defaults to bookworm (Origin Debian, Version 12.99). N=1000 takes about 10 s.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
reindex=0
if [[ ${1:-} == --reindex ]]; then
  reindex=1
  shift
  [[ $# -ge 2 ]] || { echo "usage: $0 --reindex OUTDIR KEYDIR [SUITE]" >&2; exit 2; }
  out=$1 keydir=$2 suite=${3:-bookworm}
else
  [[ $# -ge 3 ]] || { echo "usage: $0 OUTDIR KEYDIR N [SUITE]" >&2; exit 2; }
  out=$1 keydir=$2 n=$3 suite=${4:-bookworm}
fi
[[ -s $keydir/gnupghome ]] || { echo "$keydir/gnupghome missing: run make_test_key first" >&2; exit 2; }
export GNUPGHOME
GNUPGHOME=$(cat "$keydir/gnupghome")
mkdir -p "$out"
out=$(cd "$out" && pwd)
dist=$out/dists/$suite

if [[ $reindex == 0 ]]; then
  /usr/bin/python3 "$here/apt_fixture.py" build "$out" "$n"
  img=$dist/main/installer-amd64/current/images
  mkdir -p "$img/netboot/debian-installer/amd64"
  head -c 70000 /dev/urandom >"$img/netboot/debian-installer/amd64/linux"
  head -c 150000 /dev/urandom >"$img/netboot/debian-installer/amd64/initrd.gz"
  (cd "$img" && find . -type f ! -name '*SUMS' | sort | xargs sha256sum >SHA256SUMS &&
    find . -type f ! -name '*SUMS' | sort | xargs md5sum >MD5SUMS)
fi

/usr/bin/python3 "$here/apt_fixture.py" index "$out" "$suite"
for d in "$dist/main/binary-amd64" "$dist/main/debian-installer/binary-amd64"; do
  rm -f "$d/Packages.xz" "$d/Packages.gz"
  xz -k -1 "$d/Packages"
  gzip -k -n -9 "$d/Packages"
done
cat >"$dist/main/binary-amd64/Release" <<EOF
Archive: $suite
Origin: Debian
Label: Debian
Component: main
Architecture: amd64
EOF

# Release: apt-ftparchive lists Packages*, Release and (with the extra pattern) the installer's
# SHA256SUMS/MD5SUMS, never the by-hash copies (made afterwards, like Debian's dak); MD5Sum and
# SHA256 sections only, as Debian's (apt then asks for by-hash/SHA256/, which is what exists).
rm -f "$dist/Release" "$dist/InRelease" "$dist/Release.gpg"
(cd "$dist" && apt-ftparchive \
  -o APT::FTPArchive::Release::SHA1=false -o APT::FTPArchive::Release::SHA512=false \
  -o APT::FTPArchive::SHA1=false -o APT::FTPArchive::SHA512=false \
  -o APT::FTPArchive::Release::Origin=Debian \
  -o APT::FTPArchive::Release::Label=Debian \
  -o APT::FTPArchive::Release::Suite="$suite" \
  -o APT::FTPArchive::Release::Codename="$suite" \
  -o APT::FTPArchive::Release::Version=12.99 \
  -o APT::FTPArchive::Release::Architectures="amd64" \
  -o APT::FTPArchive::Release::Components="main" \
  -o APT::FTPArchive::Release::Description="Rackboot mirror test archive" \
  -o APT::FTPArchive::Release::Acquire-By-Hash=yes \
  -o 'APT::FTPArchive::Release::Patterns::=*SUMS' \
  release . >"$out/Release.tmp")
mv "$out/Release.tmp" "$dist/Release"
grep -q '^Acquire-By-Hash: yes' "$dist/Release" || { echo "Release lacks Acquire-By-Hash" >&2; exit 1; }
grep -q 'main/installer-amd64/current/images/SHA256SUMS$' "$dist/Release" ||
  { echo "Release lacks the installer's SHA256SUMS" >&2; exit 1; }

# Debian lists the uncompressed Packages but does not serve it.
rm -f "$dist/main/binary-amd64/Packages" "$dist/main/debian-installer/binary-amd64/Packages"

# by-hash: every index Release lists in a directory, under by-hash/SHA256/<its sha256>.
awk '/^SHA256:/ {s=1; next} /^[^ ]/ {s=0} s {print $1, $3}' "$dist/Release" |
  while read -r h p; do
    case $p in
      */Packages.xz | */Packages.gz | */Packages | */Release) ;;
      *) continue ;;
    esac
    [[ -f $dist/$p ]] || continue
    bh=$dist/$(dirname "$p")/by-hash/SHA256
    mkdir -p "$bh"
    [[ -e $bh/$h ]] || cp "$dist/$p" "$bh/$h"
  done

gpg --batch --yes --quiet --clearsign -o "$dist/InRelease" "$dist/Release"
gpg --batch --yes --quiet -abs -o "$dist/Release.gpg" "$dist/Release"
gpgv --keyring "$keydir/test.gpg" "$dist/InRelease" 2>/dev/null ||
  { echo "InRelease does not verify with $keydir/test.gpg" >&2; exit 1; }
chmod -R a+rX "$out"
