# shellcheck shell=bash
# `./rackboot up --install`: the lab installs Debian 12 on its guests' blank disks from rackbootd
# alone, then proves the installed disks boot. Sourced by lab.sh (its say, die, N, LAB_DIR, HERE,
# MODE, HOSTS, UNTIL, boot_guest); see examples/lab/README.md "Installing Debian".
#
# What it sets up (install_prepare), before rackbootd starts:
#   - the mirror: `rackboot mirror` of this machine's apt archive (RACKBOOT_LAB_ARCHIVE) into
#     RACKBOOT_LAB_MIRROR, served at /repo/debian12/: the base system (priority required), the
#     kernel, GRUB, the installer's tools and the kernel-module udebs of the installer's ABI;
#     cached: a re-run fetches only what changed (RACKBOOT_LAB_OFFLINE=1: no archive access);
#   - the boot tree: debian12/linux and debian12/initrd.gz (debian-installer-12-netboot-amd64),
#     debian12/di-debootstrap-install.sh (tools/installer) and debian12/lab-marker.sh;
#   - site-install.toml: examples/lab/site.toml with profile debian12 (family debian-preseed,
#     template examples/lab/debian12/preseed.cfg.mustache) and an inventory of lab-node1..N,
#     armed with it.
# Then, per guest (install_run, all guests at once): a blank 8 GiB disk; boot 1 from the network
# installs (the installer reports its phases, then done; QEMU exits on the reboot); boot 2 from
# the network again must get the local-disk answer and boot the installed system, which prints its
# marker; boot 3 from the disk alone (the NIC is no boot device) must print it again.

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
LAB_MIRROR=${RACKBOOT_LAB_MIRROR:-$HOME/.cache/rackboot/lab-install/repo/debian12}
LAB_ARCHIVE=${RACKBOOT_LAB_ARCHIVE:-http://deb.debian.org/debian}
DI_IMAGES=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
INSTALLER_SCRIPT="$HERE/../../tools/installer/di-debootstrap-install.sh"
# What the base system, the installer script and the profile need from the archive (with their
# dependencies: rackboot mirror closes over Depends). The last ten are for
# //packaging:service_systemd_test: the rackboot .deb's Depends, which it installs into a
# system made from this mirror, and busybox, its DHCP and TFTP client.
LAB_MIRROR_PACKAGES=apt,usr-is-merged,systemd-sysv,ifupdown,iproute2,ca-certificates,linux-image-amd64,grub-pc,grub-efi-amd64,openssh-server,fdisk,e2fsprogs,dosfstools,debootstrap,perl-base,initramfs-tools,libss2,libabsl20220623,libarchive13,libcurl4,libexpat1,libgflags2.2,libgoogle-glog0v6,libssl3,liburing2,procps,busybox

# kernel_abi BZIMAGE: the kernel's release ("6.1.0-50-amd64"), from its setup header.
kernel_abi() {
  local off
  off=$(od -An -tu2 -j $((0x20e)) -N2 "$1" | tr -d ' ')
  dd if="$1" bs=1 skip=$((off + 0x200)) count=80 2>/dev/null | tr '\0' '\n' | head -n 1 | cut -d' ' -f1
}

lab_host() { printf 'lab-node%d' "$1"; }
lab_mac() { printf '52:54:00:c6:12:%02x' "$1"; }
lab_ip() { printf '198.18.0.%d' $((20 + $1)); }

# install_mirror: makes or refreshes the lab's mirror (also `lab.sh mirror`, which `./rackboot
# test` runs before the tests, so the install tests themselves reach no archive).
install_mirror() {
  [[ -n ${RACKBOOT_MIRROR:-} && -x ${RACKBOOT_MIRROR:-} ]] ||
    die "RACKBOOT_MIRROR must name the rackboot-mirror binary (./rackboot up --install sets it)"
  [[ -f $DI_IMAGES/linux && -f $DI_IMAGES/initrd.gz ]] ||
    die "no Debian installer at $DI_IMAGES: apt install debian-installer-12-netboot-amd64 (./rackboot setup)"
  local abi t0=$SECONDS
  abi=$(kernel_abi "$DI_IMAGES/linux")
  [[ $abi =~ ^[0-9][0-9a-z.+-]*$ ]] || die "cannot read the kernel release of $DI_IMAGES/linux"
  mkdir -p "$(dirname "$LAB_MIRROR")" "$LAB_DIR"
  if [[ ${RACKBOOT_LAB_OFFLINE:-0} == 1 ]]; then
    [[ -f $LAB_MIRROR/.rackboot-manifest.json ]] ||
      die "RACKBOOT_LAB_OFFLINE=1 but there is no mirror at $LAB_MIRROR yet"
    say "mirror: $LAB_MIRROR as it is (RACKBOOT_LAB_OFFLINE=1)"
    return 0
  fi
  say "mirror: $LAB_ARCHIVE bookworm -> $LAB_MIRROR (base system, kernel, GRUB, installer tools, module udebs of $abi)"
  local udebs="crc-modules-$abi-di,scsi-core-modules-$abi-di,scsi-modules-$abi-di,ext4-modules-$abi-di"
  if ! "$RACKBOOT_MIRROR" --from="$LAB_ARCHIVE" --to="$LAB_MIRROR" --suite=bookworm \
    --components=main --arch=amd64 --priorities=required --packages="$LAB_MIRROR_PACKAGES" \
    --udebs="$udebs" >"$LAB_DIR/mirror.log" 2>&1; then
    tail -n 5 "$LAB_DIR/mirror.log" >&2
    die "rackboot mirror failed (log: $LAB_DIR/mirror.log); with a mirror made before, RACKBOOT_LAB_OFFLINE=1 uses it as it is"
  fi
  say "mirror: $(grep -m1 -E '^(published|up to date|already)' "$LAB_DIR/mirror.log" || tail -n 1 "$LAB_DIR/mirror.log") ($((SECONDS - t0)) s)"
}

install_prepare() {
  install_mirror
  mkdir -p "$LAB_DIR/tftp/debian12"
  cp "$DI_IMAGES/linux" "$DI_IMAGES/initrd.gz" "$INSTALLER_SCRIPT" "$HERE/debian12/lab-marker.sh" \
    "$LAB_DIR/tftp/debian12/"
  if [[ -n ${RACKBOOT_LAB_INVENTORY:-} ]]; then
    # A test's own inventory (tests/e2e/install_faults_test.sh): lab-node1..N as below, with
    # its own columns (a disk that is not there).
    cp "$RACKBOOT_LAB_INVENTORY" "$LAB_DIR/inventory-install.csv"
  else
    {
      echo "mac,hostname,ip,profile,state"
      local i
      for ((i = 1; i <= HOSTS; i++)); do
        echo "$(lab_mac "$i"),$(lab_host "$i"),$(lab_ip "$i"),debian12,install"
      done
    } >"$LAB_DIR/inventory-install.csv"
  fi
  sed -e "s|^inventory = .*|inventory = \"$LAB_DIR/inventory-install.csv\"|" \
    -e "s|^listen = \"0.0.0.0:8080\"\$|&\nrepo_root = \"$(dirname "$LAB_MIRROR")\"|" \
    "$HERE/site.toml" >"$LAB_DIR/site-install.toml"
  grep -q '^repo_root = ' "$LAB_DIR/site-install.toml" || die "site.toml has no [http] listen line to add repo_root to"
  cat >>"$LAB_DIR/site-install.toml" <<EOF

# ./rackboot up --install: Debian 12 from the mirror at /repo/debian12/ (examples/lab/install-lab.sh).
[[profile]]
name = "debian12"
family = "debian-preseed"
kernel = "debian12/linux"
initrd = "debian12/initrd.gz"
append = "console=ttyS0,115200"
source = "/repo/debian12"
disk = "/dev/vda"
timezone = "UTC"
locale = "en_US.UTF-8"
keyboard = "us"
template_file = "$HERE/debian12/preseed.cfg.mustache"
EOF
}

# install_outcome WANT HOST IP FROM_LINE: "ok <what>", "failed <why>" or "" (not yet), from
# rackbootd's log since FROM_LINE.
install_outcome() {
  local want=$1 host=$2 ip=$3 from=$4 log
  log=$(tail -n +"$from" "$LAB_DIR/rackbootd.log")
  local failed
  failed=$(grep -F "installer: $host failed" <<<"$log" | tail -n 1 | sed 's/.*installer: //')
  if [[ -n $failed ]]; then echo "failed: $failed"; return; fi
  case $want in
    installed)
      grep -qF "installer: $host done" <<<"$log" && echo "ok installed (reported done)"
      ;;
    first-package)
      if grep -qF "installer: $host installing" <<<"$log" &&
        grep -qE "http GET \"/repo/debian12/pool/[^\"]+\" 200 .* to $ip:" <<<"$log"; then
        echo "ok read its preseed, reported its phase and got its first package from the mirror"
      fi
      ;;
  esac
}

# One narrator for rackbootd's log while guests install in parallel (boot_guest's own would
# print each line once per guest).
install_narrator() {
  tail -n 0 -F --pid=$$ "$LAB_DIR/rackbootd.log" 2>/dev/null | narrate &
}

# install_host I: the three boots of guest I; prints one summary line; returns 0 when all passed.
install_host() {
  local i=$1 host mac ip disk rc=0 t0 t_install t_boot t_disk
  host=$(lab_host "$i") mac=$(lab_mac "$i") ip=$(lab_ip "$i")
  disk="$LAB_DIR/$host.qcow2"
  rm -f "$disk"
  if ! qemu-img create -q -f qcow2 "$disk" 8G; then
    echo "$host FAILED: qemu-img could not make its disk" >>"$LAB_DIR/install-summary.txt"
    return 1
  fi
  t0=$SECONDS
  if ! boot_guest "$MODE" "$mac" "tap$i" "$UNTIL" "$host" "$ip" "$disk" 1; then
    echo "$host FAILED at the install boot" >>"$LAB_DIR/install-summary.txt"
    return 1
  fi
  t_install=$((SECONDS - t0))
  if [[ $UNTIL == first-package ]]; then
    echo "$host ok: preseed, phase and first package in ${t_install} s" >>"$LAB_DIR/install-summary.txt"
    return 0
  fi
  # Boot 2: the network first, as before; the host is installed now, so rackbootd must answer
  # with the local-disk entry: no preseed, no installer kernel.
  local from
  from=$(($(wc -l <"$LAB_DIR/rackbootd.log") + 1))
  t0=$SECONDS
  boot_guest "$MODE" "$mac" "tap$i" marker "$host" "$ip" "$disk" 1 || rc=1
  t_boot=$((SECONDS - t0))
  if tail -n +"$from" "$LAB_DIR/rackbootd.log" | grep -E "http GET \"/(install/|boot/debian12/)" | grep " to $ip:" >/dev/null; then
    say "${RED}$host: the second network boot fetched install files: it would have reinstalled${OFF}"
    rc=1
  fi
  # Boot 3: the disk alone.
  t0=$SECONDS
  boot_guest "$MODE" "$mac" "tap$i" marker "$host" "$ip" "$disk" 0 || rc=1
  t_disk=$((SECONDS - t0))
  local marker
  marker=$(grep -ah 'RACKBOOT-LAB-MARKER installed' "$LAB_DIR/tap$i.serial.log" | tr -d '\r' | tail -n 1)
  if [[ $rc -eq 0 ]]; then
    echo "$host ok: install ${t_install} s, network boot to local disk ${t_boot} s, disk-only boot ${t_disk} s; ${marker#RACKBOOT-LAB-MARKER }" >>"$LAB_DIR/install-summary.txt"
  else
    echo "$host FAILED after the install (boots: ${t_boot} s, ${t_disk} s)" >>"$LAB_DIR/install-summary.txt"
  fi
  return "$rc"
}

install_run() {
  : >"$LAB_DIR/install-summary.txt"
  install_narrator
  local i pids=() rc=0 t0=$SECONDS
  local until=""
  [[ $UNTIL == first-package ]] && until=", up to the installer's first package (--until=first-package)"
  say "installing Debian 12 on $HOSTS ${MODE^^} guest(s) at once$until"
  for ((i = 1; i <= HOSTS; i++)); do
    install_host "$i" &
    pids+=($!)
    PIDS+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  say "summary ($((SECONDS - t0)) s in all):"
  sed 's/^/    /' "$LAB_DIR/install-summary.txt"
  return "$rc"
}
