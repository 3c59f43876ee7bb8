#!/usr/bin/env bash
# Assembles the Rackboot lab's TFTP root from installed Debian 12 packages.
#
#   examples/lab/build-boot-tree.sh OUTDIR
#
# Installs nothing: it checks that the packages below are installed and names the missing ones
# (`./rackboot setup` installs them). Every file comes out of those packages (copied, never
# committed to the repository), except the small initrd, which is built here from busybox, and
# the two default boot configs, written here. Idempotent: a file that is already up to date is
# left alone (same bytes, same inode), so running it twice changes nothing.
#
# OUTDIR afterwards (the TFTP root; README.md beside this script explains each file):
#   pxelinux.0                 BIOS: PXELINUX (pxelinux)
#   ldlinux.c32                BIOS: PXELINUX's core module, same syslinux build (syslinux-common)
#   pxelinux.cfg/default       BIOS: fallback config: LOCALBOOT 0 (written here)
#   grubnetx64.efi             UEFI x64: GRUB network image, prefix /grub (grub-efi-amd64-signed)
#   undionly.kpxe              BIOS: iPXE over the ROM's PXE stack (ipxe)
#   snponly.efi                UEFI x64: iPXE over the firmware's network driver (ipxe); also
#                              the file UEFI HTTP boot fetches (--uefi-http)
#   grub/grub.cfg              UEFI: fallback config: exit to the next boot device (written here)
#   vmlinuz                    Linux kernel (debian-installer-12-netboot-amd64's "linux")
#   initrd.img                 busybox initrd whose /init reports done to rackbootd (when its
#                              command line says where), prints the lab marker and powers off
#   BOOT-TREE.txt              manifest: file, size, source package and version, sha256
#
# Environment: SOURCE_DATE_EPOCH (default 1700000000) fixes the initrd's timestamps, so the same
# busybox gives a byte-identical initrd.img.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[[ $# -eq 1 && -n $1 ]] || usage
OUT=$1

# ---------------------------------------------------------------------------------------------
# Packages and the files taken from them.
# busybox: either Debian package will do. "busybox" (dynamically linked; the one the rest of
# the project uses, for udhcpc and tftp) or "busybox-static"; the two conflict, so installing one
# removes the other. With the dynamic one the initrd also gets the libraries ldd names.
PACKAGES=(pxelinux syslinux-common grub-efi-amd64-signed debian-installer-12-netboot-amd64 cpio ipxe)
installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]; }
missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if installed busybox-static; then BUSYBOX_PKG=busybox-static
elif installed busybox; then BUSYBOX_PKG=busybox
else missing+=(busybox); fi
if (( ${#missing[@]} )); then
  echo "build-boot-tree: missing Debian packages: ${missing[*]}" >&2
  echo "  install them with: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "  (or: ./rackboot setup)" >&2
  exit 1
fi
for t in cpio gzip sha256sum; do
  command -v "$t" >/dev/null || { echo "build-boot-tree: missing program $t" >&2; exit 1; }
done

DI=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
BUSYBOX=/bin/busybox
# name in OUTDIR | source file | package
FILES=(
  "pxelinux.0|/usr/lib/PXELINUX/pxelinux.0|pxelinux"
  "ldlinux.c32|/usr/lib/syslinux/modules/bios/ldlinux.c32|syslinux-common"
  "grubnetx64.efi|/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed|grub-efi-amd64-signed"
  "vmlinuz|${DI}/linux|debian-installer-12-netboot-amd64"
  "undionly.kpxe|/usr/lib/ipxe/undionly.kpxe|ipxe"
  "snponly.efi|/usr/lib/ipxe/snponly.efi|ipxe"
)
for f in "${FILES[@]}" "busybox|${BUSYBOX}|${BUSYBOX_PKG}"; do
  IFS='|' read -r _ src pkg <<<"$f"
  [[ -f ${src} ]] || { echo "build-boot-tree: ${src} not found (package ${pkg} broken?)" >&2; exit 1; }
  # dpkg knows the path as shipped (/bin/... on merged-/usr systems too) or its resolved one.
  owner=$( { dpkg-query -S "${src}" || dpkg-query -S "$(readlink -f "${src}")"; } 2>/dev/null \
           | head -1 | cut -d: -f1 || true)
  [[ ${owner} == "${pkg}" ]] || { echo "build-boot-tree: ${src} belongs to '${owner}', expected ${pkg}" >&2; exit 1; }
done
# pxelinux.0 and ldlinux.c32 must come from the same syslinux build, or pxelinux stops with
# "Failed to load ldlinux.c32".
v1=$(dpkg-query -W -f='${Version}' pxelinux); v2=$(dpkg-query -W -f='${Version}' syslinux-common)
[[ ${v1} == "${v2}" ]] || { echo "build-boot-tree: pxelinux ${v1} != syslinux-common ${v2}" >&2; exit 1; }
BUSYBOX_APPLETS=" $("${BUSYBOX}" --list | tr '\n' ' ') "
file_has_busybox_applet() { [[ ${BUSYBOX_APPLETS} == *" $1 "* ]]; }

mkdir -p "${OUT}"
OUT=$(cd "${OUT}" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rackboot-boot-tree.XXXXXX")
trap 'rm -rf "${WORK}"' EXIT
changed=0

# put <tmpfile> <dest>: move into place only when the bytes differ (keeps mtime/inode otherwise).
put() {
  local src=$1 dst=$2
  mkdir -p "$(dirname "${dst}")"
  if [[ -f ${dst} ]] && cmp -s "${src}" "${dst}"; then
    rm -f "${src}"
  else
    chmod 0644 "${src}"
    mv -f "${src}" "${dst}"
    echo "  updated ${dst#"${OUT}"/}"
    changed=1
  fi
}

echo "build-boot-tree: assembling ${OUT}"
for f in "${FILES[@]}"; do
  IFS='|' read -r name src _ <<<"$f"
  cp "${src}" "${WORK}/file"
  put "${WORK}/file" "${OUT}/${name}"
done

# ---------------------------------------------------------------------------------------------
# Default (fallback) configs. The daemon renders per-host ones; a host that has none must boot
# from its own disk, never install.
cat > "${WORK}/file" <<'EOF'
# Rackboot lab: fallback for hosts without a per-host config (pxelinux.cfg/01-<mac>).
# Safety: boot from the local disk, never install.
DEFAULT local
PROMPT 0
TIMEOUT 0
LABEL local
  LOCALBOOT 0
EOF
put "${WORK}/file" "${OUT}/pxelinux.cfg/default"

cat > "${WORK}/file" <<'EOF'
# Rackboot lab: default GRUB config. grubnetx64.efi (prefix /grub) reads this file first (its
# built-in config prefers grub/x86_64-efi/grub.cfg, but tests for it with "test -e", which is
# always false over TFTP, so it never even asks for it). Debian's network image does NOT
# look for per-MAC files on its own, so this file does, as pxelinux does:
#   1. grub/grub.cfg-01-<mac with dashes>, e.g. grub.cfg-01-52-54-00-c6-12-01: the host's own
#      config, served only while the host is armed. GRUB's "test -e" cannot see files over TFTP,
#      so the file is simply tried: when it is missing, configfile fails and the script goes on.
#   2. Otherwise never install: leave GRUB, and the firmware tries its next boot device.
if regexp --set=1:m1 --set=2:m2 --set=3:m3 --set=4:m4 --set=5:m5 --set=6:m6 '^(..):(..):(..):(..):(..):(..)$' "${net_default_mac}"; then
  configfile "${prefix}/grub.cfg-01-${m1}-${m2}-${m3}-${m4}-${m5}-${m6}"
fi
echo "rackboot: no boot config for ${net_default_mac}: booting the next device"
exit
EOF
put "${WORK}/file" "${OUT}/grub/grub.cfg"

# ---------------------------------------------------------------------------------------------
# initrd.img: busybox, a few applet links, its shared libraries (if any) and /init.
APPLETS=(sh mount umount cat echo uname hostname poweroff reboot sleep mkdir insmod ip udhcpc wget timeout)
for a in "${APPLETS[@]}"; do
  file_has_busybox_applet "$a" || { echo "build-boot-tree: busybox lacks applet $a" >&2; exit 1; }
done
R="${WORK}/root"
mkdir -p "${R}/bin" "${R}/dev" "${R}/proc" "${R}/sys" "${R}/tmp"
cp "${BUSYBOX}" "${R}/bin/busybox"
for a in "${APPLETS[@]}"; do ln -s busybox "${R}/bin/$a"; done
# Shared libraries, at the paths the dynamic loader looks for them (none for busybox-static).
LIBS=()
if ! LC_ALL=C ldd "${BUSYBOX}" 2>&1 | grep -q 'not a dynamic executable'; then
  while read -r lib; do
    [[ -n ${lib} ]] || continue
    mkdir -p "${R}$(dirname "${lib}")"
    cp "$(readlink -f "${lib}")" "${R}${lib}"
    chmod 0755 "${R}${lib}"
    LIBS+=("${lib}")
  done < <(LC_ALL=C ldd "${BUSYBOX}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
  (( ${#LIBS[@]} )) || { echo "build-boot-tree: ldd found no libraries for ${BUSYBOX}" >&2; exit 1; }
fi
cat > "${R}/init" <<'EOF'
#!/bin/sh
# Rackboot lab initrd: the lab's one-shot "installer". Reports done to rackbootd when the kernel
# command line says where and how (an armed host's install entry does), prints ONE marker line
# on the console and powers off.
# Kernel command line: console=ttyS0 hostname=NAME [rackboot.marker=WORD]
#   [rackboot.ip=ADDRESS/PREFIX] [rackboot.report=URL rackboot.token=TOKEN]
# With rackboot.report (http://...) and rackboot.token: loads the virtio NIC's modules, takes
# rackboot.ip on eth0 (else asks DHCP), and POSTs {"token":..} to URL/done with busybox wget
# (docs/api.md): the daemon sets the host installed and revokes the token, so its next network
# boot gets the local-disk entry. The marker ends with report=done|failed|none.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
host=unknown
marker=RACKBOOT-LAB-MARKER
ipaddr=
report=
token=
for word in $(cat /proc/cmdline); do
  case "$word" in
    hostname=*) host=${word#hostname=} ;;
    rackboot.marker=*) marker=${word#rackboot.marker=} ;;
    rackboot.ip=*) ipaddr=${word#rackboot.ip=} ;;
    rackboot.report=*) report=${word#rackboot.report=} ;;
    rackboot.token=*) token=${word#rackboot.token=} ;;
  esac
done
hostname "$host" 2>/dev/null
result=none
case "$report" in
  http://*)
    if [ -n "$token" ]; then
      result=failed
      for m in $(cat /modules.order); do insmod "/lib/modules/$m" 2>/dev/null; done
      ip link set lo up
      i=0
      while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
      ip link set eth0 up
      # rackboot.ip=ADDRESS/PREFIX (an empty address renders as "/" + prefix: ask DHCP).
      if [ -n "${ipaddr%%/*}" ]; then
        ip addr add "$ipaddr" dev eth0
      else
        udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/udhcpc.script >/dev/null 2>&1
      fi
      # The link needs a moment after "up"; retried a few times. (Not wget -T: it crashes
      # busybox 1.35 wget, so timeout bounds each try.)
      i=0
      while [ $i -lt 5 ]; do
        if timeout 10 wget -q -O /tmp/done.json --header 'Content-Type: application/json' \
            --post-data "{\"token\":\"$token\",\"detail\":\"rackboot lab initrd\"}" \
            "$report/done" 2>/tmp/wget.err; then
          result=done
          break
        fi
        sleep 1
        i=$((i + 1))
      done
      [ "$result" = done ] ||
        echo "rackboot-lab: report to $report/done failed: $(cat /tmp/wget.err)" > /dev/console
    fi
    ;;
esac
echo "$marker host=$host booted kernel $(uname -r) report=$result" > /dev/console
poweroff -f
# poweroff -f does not return; if it ever does, do not let init exit (kernel panic).
while :; do sleep 3600; done
EOF
cat > "${R}/bin/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc's hook in the lab initrd: take the leased address on the interface.
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
esac
exit 0
EOF
chmod 0755 "${R}/bin/udhcpc.script"
# The virtio NIC's driver and what it needs, from the Debian installer's own initrd (same package
# and kernel build as vmlinuz), in load order: the reporting initrd needs the network.
DI_INITRD="${DI}/initrd.gz"
[[ -f ${DI_INITRD} ]] || { echo "build-boot-tree: ${DI_INITRD} not found" >&2; exit 1; }
NIC_MODULES=(drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko
  drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci_legacy_dev.ko
  drivers/virtio/virtio_pci.ko net/core/failover.ko drivers/net/net_failover.ko
  drivers/net/virtio_net.ko)
mkdir -p "${WORK}/di"
( cd "${WORK}/di" && zcat "${DI_INITRD}" | cpio --quiet -id 'lib/modules/*/kernel/drivers/virtio/*' \
    'lib/modules/*/kernel/net/core/failover.ko' 'lib/modules/*/kernel/drivers/net/*' )
KVER=$(ls "${WORK}/di/lib/modules" | head -1)
[[ -n ${KVER} ]] || { echo "build-boot-tree: no kernel modules in ${DI_INITRD}" >&2; exit 1; }
: > "${R}/modules.order"
for m in "${NIC_MODULES[@]}"; do
  src="${WORK}/di/lib/modules/${KVER}/kernel/${m}"
  [[ -f ${src} ]] || { echo "build-boot-tree: ${m} not in ${DI_INITRD}" >&2; exit 1; }
  mkdir -p "${R}/lib/modules/$(dirname "${m}")"
  cp "${src}" "${R}/lib/modules/${m}"
  chmod 0644 "${R}/lib/modules/${m}"
  echo "${m}" >> "${R}/modules.order"
done
chmod 0755 "${R}/init" "${R}/bin/busybox"
find "${R}" -type d -exec chmod 0755 {} +; chmod 1777 "${R}/tmp"
EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
find "${R}" -exec touch -h -d "@${EPOCH}" {} +
( cd "${R}" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | cpio --quiet -o -H newc --owner=0:0 --reproducible ) | gzip -9 -n > "${WORK}/file"
put "${WORK}/file" "${OUT}/initrd.img"

# ---------------------------------------------------------------------------------------------
# Manifest.
{
  echo "# Rackboot lab boot tree, assembled by examples/lab/build-boot-tree.sh"
  echo "# path	size	source package (version)	source file	sha256"
  for f in "${FILES[@]}"; do
    IFS='|' read -r name src pkg <<<"$f"
    printf '%s\t%s\t%s (%s)\t%s\t%s\n' "${name}" "$(stat -c %s "${OUT}/${name}")" "${pkg}" \
      "$(dpkg-query -W -f='${Version}' "${pkg}")" "${src}" "$(sha256sum < "${OUT}/${name}" | cut -d' ' -f1)"
  done
  libpkgs=""
  if (( ${#LIBS[@]} )); then
    libpkgs=" + ${LIBS[*]} from $(for l in "${LIBS[@]}"; do dpkg-query -S "$(readlink -f "$l")" 2>/dev/null \
      || dpkg-query -S "$l" 2>/dev/null; done | cut -d: -f1 | sort -u \
      | while read -r lp; do printf '%s (%s) ' "${lp}" "$(dpkg-query -W -f='${Version}' "${lp}")"; done)"
  fi
  printf '%s\t%s\t%s (%s)\t%s\t%s\n' initrd.img "$(stat -c %s "${OUT}/initrd.img")" "${BUSYBOX_PKG}" \
    "$(dpkg-query -W -f='${Version}' "${BUSYBOX_PKG}")" \
    "built here: ${BUSYBOX}${libpkgs% } + /init + virtio NIC modules of debian-installer-12-netboot-amd64, newc cpio, gzip" "$(sha256sum < "${OUT}/initrd.img" | cut -d' ' -f1)"
  for name in pxelinux.cfg/default grub/grub.cfg; do
    printf '%s\t%s\t%s\t%s\t%s\n' "${name}" "$(stat -c %s "${OUT}/${name}")" "(none)" \
      "written here" "$(sha256sum < "${OUT}/${name}" | cut -d' ' -f1)"
  done
} > "${WORK}/file"
put "${WORK}/file" "${OUT}/BOOT-TREE.txt"

if (( changed )); then echo "build-boot-tree: done"; else echo "build-boot-tree: already up to date"; fi
