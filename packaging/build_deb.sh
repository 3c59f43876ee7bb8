#!/usr/bin/env bash
# Builds rackboot_<version>_amd64.deb from Bazel's outputs (the genrule //packaging:deb).
# Usage: build_deb.sh OUT.deb VERSION_FILE PACKAGING_DIR BINARIES... -- EXTRA=PATH...
#   PACKAGING_DIR: this directory's files (rackbootd.service, debian/, man/), as Bazel staged them
#   BINARIES: rackbootd rackboot-gen rackboot-hosts rackboot-load rackboot-mirror
#   EXTRA: site=examples/site.toml inventory=examples/inventory.csv installer=<script>
# Binaries are stripped as dh_strip does (symbols and .comment; the GNU build id kept), man
# pages and the changelog compressed with gzip -9n, Depends computed by dpkg-shlibdeps from the
# binaries' own NEEDED entries, and the tree packed with dpkg-deb --root-owner-group.
set -euo pipefail
out=$1 version_file=$2 pkgdir=$3
shift 3
binaries=()
while [[ $# -gt 0 && $1 != -- ]]; do binaries+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
declare -A extra
for a in "$@"; do extra[${a%%=*}]=${a#*=}; done
die() { echo "build_deb.sh: $*" >&2; exit 1; }

version=$(tr -d ' \n' <"$version_file")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$version_file: '$version' is not X.Y.Z"
arch=$(dpkg --print-architecture)
[[ $arch == amd64 ]] || die "built on $arch; the package is amd64"
# Reproducible: every timestamp is the changelog's.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$pkgdir/debian/changelog" | head -n 1)" +%s)
export SOURCE_DATE_EPOCH
head -n 1 "$pkgdir/debian/changelog" | grep -q "^rackboot ($version)" ||
  die "debian/changelog's first entry is not version $version (VERSION says so)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
umask 022
mkdir -p "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" "$root/lib/systemd/system" \
  "$root/usr/lib/sysusers.d" "$root/etc/rackboot" "$root/usr/share/man/man1" \
  "$root/usr/share/man/man8" "$root/usr/share/doc/rackboot" "$root/usr/share/rackboot/installer"

# The binaries, stripped as dh_strip strips executables.
for b in "${binaries[@]}"; do
  name=$(basename "$b")
  case $name in
    rackbootd) dest=$root/usr/sbin/$name ;;
    rackboot-*) dest=$root/usr/bin/$name ;;
    *) die "unexpected binary $b" ;;
  esac
  install -m 0755 "$b" "$dest"
  strip --remove-section=.comment --remove-section=.note "$dest"
  readelf -n "$dest" | grep -q 'Build ID' || die "$name has no GNU build id after strip"
done
for name in rackbootd rackboot-gen rackboot-hosts rackboot-load rackboot-mirror; do
  [[ -x $root/usr/sbin/$name || -x $root/usr/bin/$name ]] || die "binary $name not given"
done

install -m 0644 "$pkgdir/rackbootd.service" "$root/lib/systemd/system/rackbootd.service"
install -m 0644 "$pkgdir/debian/rackboot.sysusers" "$root/usr/lib/sysusers.d/rackboot.conf"
# Runs inside the installer on the host being installed (docs/install.md), not here.
install -m 0755 "${extra[installer]}" "$root/usr/share/rackboot/installer/"

# /etc/rackboot/site.toml: examples/site.toml, made to match the unit. Each edit must apply.
site=$root/etc/rackboot/site.toml
{
  cat <<'HEADER'
# /etc/rackboot/site.toml: the configuration of rackbootd.service (package rackboot).
#
# An example: describe your staging network (server.interface, server.address, the
# dhcp.subnet, tftp.root with the boot files), then check it and start the service:
#   rackbootd --check-config=/etc/rackboot/site.toml
#   systemctl enable --now rackbootd
# The service runs as user rackboot (server.user below, User= in the unit) and may read
# /srv/rackboot/tftp and /srv/rackboot/repo; it writes only its state_dir, /var/lib/rackboot.
# `systemctl reload rackbootd` checks this file, then applies it (SIGHUP).
#
HEADER
  cat "${extra[site]}"
} >"$site"
edit() { # PATTERN REPLACEMENT: one line of site.toml, which must be there
  grep -q -- "$1" "$site" || die "${extra[site]} has no line matching '$1': update build_deb.sh"
  sed -i "s|$1|$2|" "$site"
}
edit '^user = "nobody"$' 'user = "rackboot"'
# No token file yet: API writes come from loopback only until one is made (docs/api.md).
edit '^token_file = "/etc/rackboot/api-token"$' 'token_file = ""   # e.g. "/etc/rackboot/api-token", mode 0600, owner rackboot'
grep -q '^state_dir = "/var/lib/rackboot"$' "$site" || die "the example's state_dir is not /var/lib/rackboot"
grep -q '^root = "/srv/rackboot/tftp"$' "$site" || die "the example's tftp.root is not /srv/rackboot/tftp"
grep -q '^repo_root = "/srv/rackboot/repo"$' "$site" || die "the example's http.repo_root is not /srv/rackboot/repo"
install -m 0644 "${extra[inventory]}" "$root/etc/rackboot/inventory.csv"
chmod 0644 "$site"
printf '/etc/rackboot/inventory.csv\n/etc/rackboot/site.toml\n' >"$root/DEBIAN/conffiles"

for page in "$pkgdir"/man/*.[18]; do
  section=${page##*.}
  # shellcheck disable=SC2094 # reads man/X.N, writes usr/share/man/manN/X.N.gz
  gzip -9n <"$page" >"$root/usr/share/man/man$section/$(basename "$page").gz"
done
install -m 0644 "$pkgdir/debian/copyright" "$root/usr/share/doc/rackboot/copyright"
# A native package (no Debian revision): its changelog is changelog.gz.
gzip -9n <"$pkgdir/debian/changelog" >"$root/usr/share/doc/rackboot/changelog.gz"
for script in postinst prerm postrm; do
  install -m 0755 "$pkgdir/debian/$script" "$root/DEBIAN/$script"
done

# Depends: the shared libraries the binaries need, by dpkg-shlibdeps from the installed
# packages' shlibs/symbols files, plus what the maintainer scripts call.
mkdir -p "$work/src/debian"
printf 'Source: rackboot\n\nPackage: rackboot\nArchitecture: amd64\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e"$root/usr/sbin/rackbootd" \
  -e"$root/usr/bin/rackboot-gen" -e"$root/usr/bin/rackboot-hosts" \
  -e"$root/usr/bin/rackboot-load" -e"$root/usr/bin/rackboot-mirror" 2>"$work/shlibdeps.err") ||
  die "dpkg-shlibdeps failed: $(cat "$work/shlibdeps.err")"
shlibs=${shlibs#shlibs:Depends=}
[[ -n $shlibs ]] || die "dpkg-shlibdeps found no dependencies"

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: rackboot
Version: $version
Architecture: amd64
Maintainer: Rackboot maintainers <maintainers@users.noreply.r-seed-57fa2dcd.example>
Installed-Size: $installed_size
Depends: $shlibs, systemd | systemd-sysusers, procps
Section: net
Priority: optional
Description: network-boot daemon for racks of bare-metal servers
 Rackboot brings up racks of servers: they power on, PXE-boot, install an
 operating system unattended and reboot into it. rackbootd serves PXE-aware
 DHCP (authoritative or proxyDHCP), TFTP (RFC 7440 windows) and HTTP on an
 io_uring reactor, and installs only the hosts an operator armed.
 .
 The package runs it as the systemd service rackbootd.service under the
 system user rackboot, and ships the tools rackboot-hosts (list, arm,
 disarm), rackboot-gen (boot menus and answer files), rackboot-mirror
 (install mirrors) and rackboot-load (a PXE load generator).
CONTROL

(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -depth -newermt "@$SOURCE_DATE_EPOCH" -print0 |
  xargs -0 touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
dpkg-deb --root-owner-group -Zxz --build "$root" "$work/pkg.deb" >/dev/null
cp "$work/pkg.deb" "$out"
