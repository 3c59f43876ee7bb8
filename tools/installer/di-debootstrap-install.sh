#!/bin/sh
# di-debootstrap-install.sh: installs Debian from inside the Debian installer (d-i), with
# debootstrap and apt from the mirror the host's preseed names, when the mirror cannot give d-i
# the installer components (udebs) its own partman, base-installer and grub-installer steps need.
#
# Why: d-i's netboot initrd carries only its first stage (network, preseed); it downloads the rest
# (partman, debootstrap-udeb, grub-installer, finish-install, ...) from the mirror. A mirror of an
# archive route that does not serve those udebs (docs/install.md "debootstrap hand-off") stops d-i
# right after its preseed. d-i has already done the part that matters for safety by then: the
# host booted its armed entry, took its static address and read its preseed with its token. This
# script does the rest the way d-i's own steps do, reading the same preseed keys:
#   partman-auto/disk          the disk, erased: one ext4 root (BIOS: MBR; UEFI: GPT + ESP)
#   mirror/http/{hostname,directory}, mirror/suite   the mirror (signature checked with d-i's
#                              archive keyring, every file by SHA-256)
#   netcfg/*                   the static address, gateway, name servers, host and domain name
#   time/zone, passwd/root-password-crypted, pkgsel/include
#   preseed/late_command       run last, as d-i runs it (/target mounted): it uploads the log and
#                              says done
# then reboots. Each step is reported to rackbootd as phase "installing" with the step as detail;
# a failing step reports phase "failed" with the step and its last output line, uploads the log,
# and stops (the host stays armed: docs/install.md section 7).
#
# Run from the preseed's early_command (d-i has fetched the preseed over HTTP by then):
#   wget -O /tmp/rackboot-install.sh URL && sh /tmp/rackboot-install.sh REPORT_URL TOKEN
# It reads the preseed URL (url=) from /proc/cmdline. Tools d-i lacks (sfdisk, mkfs, perl for
# debootstrap, debootstrap itself) come as .debs from the same mirror and are unpacked under
# /tmp/rackboot-tools; the disk and file system drivers as d-i's own module udebs.
set -u

REPORT=${1:?usage: di-debootstrap-install.sh REPORT_URL TOKEN}
TOKEN=${2:?usage: di-debootstrap-install.sh REPORT_URL TOKEN}
LOG=/var/log/rackboot-install.log
WORK=/tmp/rackboot-work
TOOLS=/tmp/rackboot-tools
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
TARGET=/target
STEP=starting

say() {
  echo "rackboot-install: $*" >>"$LOG"
  echo "rackboot-install: $*" >/dev/console 2>/dev/null || true
}

# JSON-safe: the details are ours, but a failing command's output is not.
json_text() { printf '%s' "$1" | tr -cd 'A-Za-z0-9 ._:/=+,()-' | cut -c1-180; }

report_phase() { # PHASE DETAIL
  wget -q -O /dev/null --header 'Content-Type: application/json' \
    --post-data "{\"token\":\"$TOKEN\",\"phase\":\"$1\",\"detail\":\"$(json_text "$2")\"}" \
    "$REPORT/phase" || true
}

upload_log() {
  { cat "$LOG"; echo "---- /var/log/syslog ----"; cat /var/log/syslog 2>/dev/null; } |
    tail -c 4000000 >/tmp/rackboot-install-upload.log
  wget -q -O /dev/null --header 'Content-Type: text/plain' \
    --post-file /tmp/rackboot-install-upload.log "$REPORT/log?token=$TOKEN" || true
}

step() {
  STEP=$1
  say "step: $STEP"
  report_phase installing "$STEP"
}

fail() {
  say "FAILED at $STEP: $*"
  # The log first: whoever watches for "failed" (lab.sh) may stop the guest at once.
  upload_log
  report_phase failed "$STEP: $*"
  exit 1
}

# run CMD...: runs a command, its output to the log; on failure, fails the step with its last line.
run() {
  if ! "$@" >>"$LOG" 2>&1; then
    sync
    fail "$(basename "$1") exited non-zero: $(grep -v '^$' "$LOG" | tail -n 1)"
  fi
}

# The tools from .debs: their libraries first, d-i's after.
tool() {
  LD_LIBRARY_PATH="$TOOLS/lib/x86_64-linux-gnu:$TOOLS/usr/lib/x86_64-linux-gnu" \
    PATH="$TOOLS/usr/sbin:$TOOLS/sbin:$TOOLS/usr/bin:$TOOLS/bin:$PATH" "$@"
}

# preseed KEY: the value of "d-i KEY TYPE VALUE" in the preseed (the rest of the line).
preseed() {
  awk -v key="$1" '$1 == "d-i" && $2 == key {
      sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]*/, ""); print; exit }' "$WORK/preseed.cfg"
}

# fetch PATH SHA256 OUT: a file of the mirror, checked.
fetch() {
  wget -q -O "$3" "$MIRROR/$1" || fail "GET $MIRROR/$1 failed"
  [ "$(sha256sum "$3" | cut -d' ' -f1)" = "$2" ] || fail "sha256 mismatch: $1"
}

# index_sha256 PATH: the SHA-256 the signed Release gives for PATH (relative to dists/SUITE/).
index_sha256() {
  awk -v p="$1" '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == p { print $1; exit }' \
    "$WORK/Release"
}

# fetch_index COMPONENT/…/Packages OUT: the index, from its .xz or .gz, checked against Release.
fetch_index() {
  local path=$1 out=$2 sum
  for ext in xz gz; do
    sum=$(index_sha256 "$path.$ext")
    [ -n "$sum" ] || continue
    fetch "dists/$SUITE/$path.$ext" "$sum" "$out.$ext"
    if [ "$ext" = xz ]; then xzcat "$out.$ext" >"$out"; else zcat "$out.$ext" >"$out"; fi
    return 0
  done
  fail "Release lists no $path.xz or .gz"
}

# pick PACKAGES OUT NAME...: one pass over an index (tens of MB: one pass matters under
# emulation) writing "name filename sha256" for each NAME it has; the last stanza wins, as in apt.
pick() {
  local index=$1 out=$2
  shift 2
  awk -v names=" $* " '
    function flush() { if (name != "" && file != "" && sum != "") got[name] = file " " sum }
    /^Package: / { flush(); name = (index(names, " " $2 " ") ? $2 : ""); file = sum = ""; next }
    name != "" && /^Filename: / { file = $2 }
    name != "" && /^SHA256: / { sum = $2 }
    END { flush(); for (n in got) print n, got[n] }' "$index" >"$out"
}

# get_deb PICKED NAME DIR: fetches NAME's file (checked) into DIR; prints its path.
get_deb() {
  local file sum out
  file=$(awk -v n="$2" '$1 == n { print $2 }' "$1")
  sum=$(awk -v n="$2" '$1 == n { print $3 }' "$1")
  [ -n "$file" ] && [ -n "$sum" ] || fail "the mirror has no package $2 (add it to the mirror)"
  out="$3/$(basename "$file")"
  fetch "$file" "$sum" "$out"
  echo "$out"
}

# unpack_deb DEB DIR: data.tar.* of a .deb or .udeb into DIR.
unpack_deb() {
  local d="$WORK/ar.$$"
  rm -rf "$d"
  mkdir -p "$d" "$2"
  (cd "$d" && ar x "$1") || fail "not a package: $1"
  if [ -f "$d/data.tar.xz" ]; then xzcat "$d/data.tar.xz" | tar -x -C "$2"
  elif [ -f "$d/data.tar.gz" ]; then zcat "$d/data.tar.gz" | tar -x -C "$2"
  else fail "no data.tar.xz or .gz in $1"; fi
  rm -rf "$d"
}

# The installer runs early_command under its own debconf: these variables point a debconf at that
# frontend's file descriptors. debootstrap's and apt's maintainer scripts in the target must not
# inherit them (a target debconf talking to d-i's frontend waits forever); d-i's in-target clears
# them the same way.
for v in $(env | cut -d= -f1 | grep -E '^(DEBCONF_[A-Z_]+|DEBIAN_HAS_FRONTEND|DEBIAN_FRONTEND|DEBIAN_PRIORITY)$'); do
  unset "$v"
done
export DEBIAN_FRONTEND=noninteractive
exec </dev/null

mkdir -p "$WORK" "$TOOLS"
: >"$LOG"
say "started (log $LOG)"

### The preseed: the same file d-i read, with the same token.
step "reading the preseed"
URL=
for word in $(cat /proc/cmdline); do
  case $word in url=*) URL=${word#url=} ;; esac
done
[ -n "$URL" ] || fail "no url= on the kernel command line"
wget -q -O "$WORK/preseed.cfg" "$URL" || fail "GET of the preseed failed"

DISK=$(preseed partman-auto/disk)
MIRROR_HOST=$(preseed mirror/http/hostname)
MIRROR_DIR=$(preseed mirror/http/directory)
SUITE=$(preseed mirror/suite)
[ -n "$SUITE" ] || SUITE=bookworm
HOSTNAME_=$(preseed netcfg/get_hostname)
DOMAIN=$(preseed netcfg/get_domain)
IP=$(preseed netcfg/get_ipaddress)
NETMASK=$(preseed netcfg/get_netmask)
GATEWAY=$(preseed netcfg/get_gateway)
NAMESERVERS=$(preseed netcfg/get_nameservers)
TZONE=$(preseed time/zone)
ROOT_HASH=$(preseed passwd/root-password-crypted)
PACKAGES=$(preseed pkgsel/include | tr ',' ' ')
[ -n "$DISK" ] || fail "the preseed has no partman-auto/disk"
[ -n "$MIRROR_HOST" ] || fail "the preseed has no mirror/http/hostname (the profile needs a source)"
[ -n "$HOSTNAME_" ] || fail "the preseed has no netcfg/get_hostname"
MIRROR="http://$MIRROR_HOST$MIRROR_DIR"
UEFI=0
[ -d /sys/firmware/efi ] && UEFI=1
say "disk $DISK, mirror $MIRROR $SUITE, host $HOSTNAME_.$DOMAIN, address ${IP:-dhcp}, uefi=$UEFI"

### The mirror's signed Release, then its indexes.
step "checking the mirror signature"
wget -q -O "$WORK/InRelease" "$MIRROR/dists/$SUITE/InRelease" || fail "GET InRelease failed"
gpgv --keyring "$KEYRING" --output "$WORK/Release" "$WORK/InRelease" >>"$LOG" 2>&1 ||
  { gpgv --keyring "$KEYRING" "$WORK/InRelease" >>"$LOG" 2>&1 &&
    sed -n '/^-----BEGIN PGP SIGNED MESSAGE-----$/,/^-----BEGIN PGP SIGNATURE-----$/p' \
      "$WORK/InRelease" | sed '1,/^$/d;$d' >"$WORK/Release"; } ||
  fail "InRelease does not verify with $KEYRING"
fetch_index main/debian-installer/binary-amd64/Packages "$WORK/udebs"

### Disk and file system drivers: d-i's module udebs for this kernel, as anna installs them.
step "loading disk drivers"
ABI=$(uname -r)
UDEBS=
for m in crc-modules scsi-core-modules scsi-modules ext4-modules; do
  grep -q "^Package: $m-$ABI-di$" /var/lib/dpkg/status || UDEBS="$UDEBS $m-$ABI-di"
done
# shellcheck disable=SC2086 # a word list
pick "$WORK/udebs" "$WORK/udebs.picked" $UDEBS
for u in $UDEBS; do
  udeb=$(get_deb "$WORK/udebs.picked" "$u" "$WORK") || exit 1
  run udpkg -i "$udeb"
done
run depmod -a
for mod in virtio_blk ext4 vfat nls_cp437 nls_ascii; do modprobe "$mod" >>"$LOG" 2>&1 || true; done
i=0
while [ ! -b "$DISK" ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
[ -b "$DISK" ] || fail "no disk $DISK after loading the drivers (set disk in the profile or inventory)"

### The tools d-i lacks, from the mirror's .debs.
step "fetching the installer tools"
fetch_index main/binary-amd64/Packages "$WORK/Packages"
TOOL_DEBS="fdisk libfdisk1 libsmartcols1 e2fsprogs libext2fs2 libcom-err2 libss2 libe2p2 perl-base debootstrap dosfstools"
# shellcheck disable=SC2086 # a word list
pick "$WORK/Packages" "$WORK/Packages.picked" $TOOL_DEBS
for p in $TOOL_DEBS; do
  if ! grep -q "^$p " "$WORK/Packages.picked"; then
    case $p in libe2p2 | libss2) continue ;; esac  # split out of e2fsprogs only in some releases
  fi
  deb=$(get_deb "$WORK/Packages.picked" "$p" "$WORK") || exit 1
  unpack_deb "$deb" "$TOOLS"
  rm -f "$deb"
done

# debootstrap calls perl with a PATH of its own (/sbin:/usr/sbin:/bin:/usr/bin) when it records
# the installed packages at the end: perl must be there too. perl-base needs only libc and
# libcrypt, which d-i has.
[ -e /usr/bin/perl ] || ln -s "$TOOLS/usr/bin/perl" /usr/bin/perl

### Partitions and file systems: the whole disk, as partman-auto's "regular" recipe.
step "partitioning $DISK"
if [ "$UEFI" -eq 1 ]; then
  printf 'label: gpt\nsize=256MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' |
    run tool sfdisk --wipe always --wipe-partitions always "$DISK"
else
  printf 'label: dos\ntype=83, bootable\n' | run tool sfdisk --wipe always --wipe-partitions always "$DISK"
fi
case $DISK in *[0-9]) PART=${DISK}p ;; *) PART=$DISK ;; esac
if [ "$UEFI" -eq 1 ]; then ESP=${PART}1 ROOT=${PART}2; else ESP= ROOT=${PART}1; fi
i=0
while [ ! -b "$ROOT" ] && [ $i -lt 10 ]; do sleep 1; i=$((i + 1)); done
run tool mkfs.ext4 -F -q "$ROOT"
[ -n "$ESP" ] && run tool mkfs.vfat -F 32 "$ESP"
mkdir -p "$TARGET"
run mount -t ext4 "$ROOT" "$TARGET"
if [ -n "$ESP" ]; then mkdir -p "$TARGET/boot/efi" && run mount -t vfat "$ESP" "$TARGET/boot/efi"; fi

### The base system: debootstrap from the mirror, signature checked with d-i's keyring.
step "installing the base system (debootstrap $SUITE)"
# minbase (priority required, and apt): the rest comes with apt below, which resolves
# dependencies natively instead of debootstrap's perl under emulation.
if ! tool env DEBOOTSTRAP_DIR="$TOOLS/usr/share/debootstrap" debootstrap --variant=minbase \
  --keyring="$KEYRING" --arch=amd64 "$SUITE" "$TARGET" "$MIRROR" >>"$LOG" 2>&1; then
  # Its own error line (E:, dpkg: error), else its last line ("perl: not found" has no E:).
  why=$(grep -E '^(E:|W: Failure|dpkg: error)' "$LOG" | tail -n 1)
  [ -n "$why" ] || why=$(grep -v '^$' "$LOG" | tail -n 1)
  # debootstrap's own log in the target says which package and why.
  echo "---- $TARGET/debootstrap/debootstrap.log (last 60 lines) ----" >>"$LOG"
  tail -n 60 "$TARGET/debootstrap/debootstrap.log" >>"$LOG" 2>/dev/null
  sync
  fail "debootstrap exited non-zero: $why"
fi

### The installed system's own configuration.
step "configuring the network, host name and accounts"
for fs in proc sys dev dev/pts; do mkdir -p "$TARGET/$fs"; done
run mount -t proc proc "$TARGET/proc"
run mount -t sysfs sysfs "$TARGET/sys"
run mount --bind /dev "$TARGET/dev"
run mount -t devpts devpts "$TARGET/dev/pts"
[ -d /sys/firmware/efi/efivars ] && mount -t efivarfs efivarfs "$TARGET/sys/firmware/efi/efivars" 2>/dev/null
echo "$HOSTNAME_" >"$TARGET/etc/hostname"
{
  echo "127.0.0.1 localhost"
  if [ -n "$IP" ]; then echo "$IP $HOSTNAME_${DOMAIN:+.$DOMAIN} $HOSTNAME_"
  else echo "127.0.1.1 $HOSTNAME_${DOMAIN:+.$DOMAIN} $HOSTNAME_"; fi
} >"$TARGET/etc/hosts"
mkdir -p "$TARGET/etc/network"
{
  echo "# Written by rackboot's installer from the host's preseed (inventory address)."
  echo "auto lo"
  echo "iface lo inet loopback"
  echo
  echo "auto eth0"
  if [ -n "$IP" ]; then
    echo "iface eth0 inet static"
    echo "    address $IP"
    echo "    netmask $NETMASK"
    [ -n "$GATEWAY" ] && echo "    gateway $GATEWAY"
  else
    echo "iface eth0 inet dhcp"
  fi
} >"$TARGET/etc/network/interfaces"
: >"$TARGET/etc/resolv.conf"
[ -n "$DOMAIN" ] && echo "search $DOMAIN" >>"$TARGET/etc/resolv.conf"
for ns in $NAMESERVERS; do echo "nameserver $ns" >>"$TARGET/etc/resolv.conf"; done
echo "deb $MIRROR $SUITE main" >"$TARGET/etc/apt/sources.list"
if [ -n "$TZONE" ] && [ -f "$TARGET/usr/share/zoneinfo/$TZONE" ]; then
  ln -sf "/usr/share/zoneinfo/$TZONE" "$TARGET/etc/localtime"
  echo "$TZONE" >"$TARGET/etc/timezone"
fi
[ -n "$ROOT_HASH" ] || ROOT_HASH='!'
echo "root:$ROOT_HASH" | run chroot "$TARGET" chpasswd -e
ROOTUUID=$(blkid -o value -s UUID "$ROOT")
{
  echo "UUID=$ROOTUUID / ext4 errors=remount-ro 0 1"
  [ -n "$ESP" ] && echo "UUID=$(blkid -o value -s UUID "$ESP") /boot/efi vfat umask=0077 0 1"
} >"$TARGET/etc/fstab"
# The serial console and eth0 as the NIC's name, for the kernel and GRUB.
mkdir -p "$TARGET/etc/default/grub.d"
cat >"$TARGET/etc/default/grub.d/rackboot.cfg" <<'EOF'
GRUB_TIMEOUT=1
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 net.ifnames=0"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
EOF

### Kernel, boot loader and the profile's packages, with apt from the mirror.
IN_TARGET="env DEBIAN_FRONTEND=noninteractive LC_ALL=C"
step "installing the kernel and the profile packages"
# No translation indexes during the install: nothing reads them non-interactively, parsing
# the 32 MB Translation-en costs time under emulation, and mirrors made before `rackboot
# mirror` carried i18n/ lack them (apt fails update on a listed index that answers 404).
# Removed before the late_command: the installed system fetches them like any other.
APT_INSTALL_CONF="$TARGET/etc/apt/apt.conf.d/99rackboot-install"
echo 'Acquire::Languages "none";' >"$APT_INSTALL_CONF"
run chroot "$TARGET" $IN_TARGET apt-get update
# shellcheck disable=SC2086 # a word list
run chroot "$TARGET" $IN_TARGET apt-get install -y --no-install-recommends \
  systemd-sysv ifupdown iproute2 ca-certificates linux-image-amd64 $PACKAGES

step "installing the boot loader"
if [ "$UEFI" -eq 1 ]; then
  printf '%s\n' 'grub-efi-amd64 grub2/update_nvram boolean false' \
    'grub-efi-amd64 grub2/force_efi_extra_removable boolean true' |
    run chroot "$TARGET" debconf-set-selections
  run chroot "$TARGET" $IN_TARGET apt-get install -y --no-install-recommends grub-efi-amd64
  # --removable: \EFI\BOOT\BOOTX64.EFI, found by any firmware without an NVRAM entry.
  run chroot "$TARGET" grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram
else
  echo "grub-pc grub-pc/install_devices multiselect $DISK" | run chroot "$TARGET" debconf-set-selections
  run chroot "$TARGET" $IN_TARGET apt-get install -y --no-install-recommends grub-pc
  run chroot "$TARGET" grub-install "$DISK"
fi
run chroot "$TARGET" update-grub
run chroot "$TARGET" apt-get clean
rm -f "$APT_INSTALL_CONF"

### The preseed's late_command, as d-i runs it: it uploads the log and says done.
step "finishing (late_command)"
LATE=$(preseed preseed/late_command)
# The built-in late_command uploads d-i's syslog: this script's log goes there too.
logger -t rackboot-install <"$LOG" 2>/dev/null || true
if [ -n "$LATE" ]; then
  sh -c "$LATE" >>"$LOG" 2>&1 || fail "preseed/late_command exited non-zero"
else
  upload_log
  wget -q -O /dev/null --header 'Content-Type: application/json' \
    --post-data "{\"token\":\"$TOKEN\",\"detail\":\"di-debootstrap-install\"}" "$REPORT/done" || true
fi
sync
for fs in dev/pts dev sys/firmware/efi/efivars sys proc boot/efi; do umount "$TARGET/$fs" 2>/dev/null; done
umount "$TARGET" || sync
say "installed; rebooting"
reboot
sleep 60
