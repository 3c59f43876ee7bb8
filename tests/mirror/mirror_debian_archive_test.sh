#!/usr/bin/env bash
# mirror_debian_archive_test.sh MIRROR_BIN: the real case of issue 15. From Debian's archive
# (http://deb.debian.org/debian, this machine's apt source; RACKBOOT_DEBIAN_MIRROR overrides),
# suite bookworm, main, amd64: the netboot installer (--installer: the d-i udebs of the netboot
# kernel's ABI, linux and initrd.gz) and a minimal base system (--priorities=required,important
# plus what a netboot d-i install with grub, ssh and DHCP puts on the disk) into
# ~/.cache/rackboot/mirror/debian12 (the real user's home, not Bazel's; RACKBOOT_MIRROR_CACHE
# overrides), incremental across runs: the next issue installs a machine from it.
#
# Checks: exit 0 and a complete tree: the netboot linux and initrd.gz match the archive's signed
# SHA256SUMS; the kernel-image-<abi>-di and nic-modules-<abi>-di udebs of the netboot kernel's
# ABI (read from the kernel image itself) and linux-image-<abi>-amd64, base-files, dpkg, apt in
# the pool; dpkg-deb reads a few pool files; every file the manifest lists hashes to its sha256;
# a second run is up to date (both durations printed).
#
# Duration on the project's machine (about 80 MB/s to deb.debian.org): cold about 1-3 min (some
# 500 MiB), warm (cached) about 5-15 s of which most is the final sha256 pass over the tree, the
# up-to-date re-run itself a few seconds. Tagged long: only `./rackboot test --long` runs it.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
MIRROR=$(realpath "$1")
[[ -x $MIRROR ]] || { echo "FAIL: no mirror binary at $1" >&2; exit 1; }
SOURCE=${RACKBOOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bazel points HOME at the test's temp dir: the cache belongs in the real user's home.
REAL_HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
CACHE=${RACKBOOT_MIRROR_CACHE:-${REAL_HOME:-/root}/.cache/rackboot/mirror}
DEST=$CACHE/debian12
mkdir -p "$CACHE"
OUT=$(mktemp -d /tmp/rackboot-debian-archive.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

log() { printf '[debian_archive %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# What a preseeded netboot d-i install of a minimal server puts on the disk besides
# required+important (base-installer, grub-installer, pkgsel, netcfg, clock-setup, localechooser).
PACKAGES=linux-image-amd64,grub-pc,grub-efi-amd64,grub-efi-amd64-signed,shim-signed,efibootmgr
PACKAGES+=,openssh-server,ifupdown,isc-dhcp-client,initramfs-tools,busybox,tasksel,locales
PACKAGES+=,console-setup,keyboard-configuration,sudo,popularity-contest,os-prober,lvm2,cryptsetup-initramfs
# shellcheck disable=SC2054 # commas inside flag values
ARGS=(--from="$SOURCE" --to="$DEST" --suite=bookworm --components=main --arch=amd64 --installer
  --priorities=required,important --packages="$PACKAGES" --json)

# This machine reaches deb.debian.org through a cache that serves the apt paths (dists/ indexes,
# by-hash, pool/) but answers 404 for the installer images under
# main/installer-amd64/current/images/netboot/ (SHA256SUMS itself is served). Debian's package
# debian-installer-12-netboot-amd64 holds the same two files: when installed, they are put into the
# mirror's staging tree, where the mirror keeps a staged file only if its sha256 matches the
# archive's signed SHA256SUMS (the same rule as for a resumed run), so nothing unverified enters
# the tree. Without them the run needs the archive to serve the images.
NETBOOT_PKG=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
IMG_REL=dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64
STAGED=$CACHE/.rackboot-mirror-debian12/staging/$IMG_REL
if [[ -f $NETBOOT_PKG/linux && -f $NETBOOT_PKG/initrd.gz && ! -f $DEST/$IMG_REL/initrd.gz ]]; then
  mkdir -p "$STAGED"
  for f in linux initrd.gz; do
    [[ -f $STAGED/$f ]] || cp "$NETBOOT_PKG/$f" "$STAGED/$f"
  done
  log "netboot linux and initrd.gz staged from $(dpkg-query -W -f='${Package} ${Version}' debian-installer-12-netboot-amd64 2>/dev/null || echo "$NETBOOT_PKG") (checked by the mirror against SHA256SUMS)"
fi

log "rackboot-mirror ${ARGS[*]}"
t0=$(date +%s.%N)
set +e
"$MIRROR" "${ARGS[@]}" >"$OUT/first.json" 2>"$OUT/first.err"
rc=$?
set -e
t1=$(date +%s.%N)
[[ $rc -eq 0 ]] || fail "exit $rc: $(jq -r .error "$OUT/first.json" 2>/dev/null) $(tail -n 20 "$OUT/first.err")"
jq -e .ok "$OUT/first.json" >/dev/null || fail "JSON not ok: $(cat "$OUT/first.json")"
log "first run: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; $(jq -c '{published, up_to_date, files, fetched, reused, bytes_fetched, retries, kept}' "$OUT/first.json")"
jq -r '.warnings[]?' "$OUT/first.json" | head -n 20 | sed 's/^/  warning: /' >&2

IMG=$DEST/dists/bookworm/main/installer-amd64/current/images
[[ -f $IMG/SHA256SUMS ]] || fail "no installer SHA256SUMS in the tree"
for f in linux initrd.gz; do
  p=netboot/debian-installer/amd64/$f
  [[ -s $IMG/$p ]] || fail "no netboot $f in the tree"
  want=$(awk -v p="./$p" '$2 == p { print $1 }' "$IMG/SHA256SUMS")
  [[ -n $want ]] || fail "SHA256SUMS does not list ./$p"
  got=$(sha256sum "$IMG/$p" | cut -d' ' -f1)
  [[ $got == "$want" ]] || fail "netboot $f: sha256 $got, SHA256SUMS says $want"
done
# SHA256SUMS itself is what the signed InRelease lists.
want=$(awk '/^SHA256:/ {s=1; next} /^[^ ]/ {s=0} s && $3 == "main/installer-amd64/current/images/SHA256SUMS" { print $1 }' \
  "$DEST/dists/bookworm/InRelease")
[[ $(sha256sum "$IMG/SHA256SUMS" | cut -d' ' -f1) == "$want" ]] || fail "SHA256SUMS does not match InRelease"

# The netboot kernel's ABI, from the image (file(1) reads the bzImage's version string).
abi=$(file -b "$IMG/netboot/debian-installer/amd64/linux" | grep -o 'version [0-9][^ ]*-amd64' | sed 's/version //; s/-amd64$//')
[[ -n $abi ]] || fail "cannot read the netboot kernel's version: $(file -b "$IMG/netboot/debian-installer/amd64/linux")"
log "netboot kernel ABI $abi"

pool_has() { # pool_has PATTERN: the pool path of a file matching PATTERN
  local p
  p=$(cd "$DEST" && find pool/main -name "$1" | head -1)
  [[ -n $p ]] || fail "no $1 in the pool"
  echo "$p"
}
checked=()
for pat in "kernel-image-$abi-amd64-di_*.udeb" "nic-modules-$abi-amd64-di_*.udeb" \
  "linux-image-$abi-amd64_*.deb" "base-files_*.deb" "dpkg_*.deb" "apt_*.deb" \
  "openssh-server_*.deb" "grub-pc_*.deb" "isc-dhcp-client_*.deb" "ifupdown_*.deb"; do
  checked+=("$(pool_has "$pat")")
done
# No udeb of another kernel ABI.
other=$(cd "$DEST" && find pool/main -name '*-amd64-di_*.udeb' ! -name "*-$abi-amd64-di_*" | head -3)
[[ -z $other ]] || fail "udebs of another kernel ABI in the tree: $other"
for p in "${checked[@]}"; do
  dpkg-deb -I "$DEST/$p" >"$OUT/info" 2>&1 || fail "dpkg-deb -I $p: $(cat "$OUT/info")"
  pkg=$(awk '$1 == "Package:" { print $2 }' "$OUT/info")
  [[ $(basename "$p") == "${pkg}_"* ]] || fail "$p says Package: $pkg"
done
log "in the pool and readable by dpkg-deb: ${checked[*]}"

# Every file of the manifest is in the tree with its size and sha256.
jq -r '.files[] | "\(.sha256)  \(.path)"' "$DEST/.rackboot-manifest.json" >"$OUT/sums"
n=$(wc -l <"$OUT/sums")
[[ $n -gt 500 ]] || fail "the manifest lists only $n files"
(cd "$DEST" && sha256sum --quiet -c "$OUT/sums") >"$OUT/check" 2>&1 ||
  fail "files differ from the manifest: $(head -n 10 "$OUT/check")"
log "$n files, $(du -sh --apparent-size "$DEST" | cut -f1), all match the manifest"

log "second run (must be up to date)"
t0=$(date +%s.%N)
"$MIRROR" "${ARGS[@]}" >"$OUT/second.json" 2>"$OUT/second.err" ||
  fail "second run: $(tail -n 20 "$OUT/second.err")"
t1=$(date +%s.%N)
[[ $(jq -r .up_to_date "$OUT/second.json") == true && $(jq -r .published "$OUT/second.json") == false ]] ||
  fail "second run not up to date: $(cat "$OUT/second.json")"
log "second run: up to date in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (rackboot-mirror says $(jq .seconds "$OUT/second.json") s)"
echo "PASS: mirror_debian_archive_test"
