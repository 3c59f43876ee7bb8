#!/usr/bin/env bash
# A real Debian 12 install from rackbootd alone: `lab.sh up --install` (what `./rackboot up
# --install` runs). The guest network-boots the Debian installer (iPXE, kernel and initrd over
# HTTP), which reads its preseed over HTTP with the host's token and hands the install to
# tools/installer/di-debootstrap-install.sh, which installs from rackbootd's mirror at
# /repo/debian12/ (examples/lab/install-lab.sh).
#
# Modes:
#   first_package  (./rackboot test, a few minutes) up to the installer's first package: proves
#                  the preseed came over /install/<token>/ to the host's own static address, the
#                  installer reported its phases, fetched the mirror's signed index and a package
#                  file (200, whole) from /repo/debian12/pool/, and that the host is still armed
#                  (only "done" ends an install)
#   bios, uefi     (long-running: ./rackboot test --long) the whole install, then the checks that
#                  do not trust the installer's word: the host went installed with its token
#                  revoked; a second network boot got the local-disk answer (no install file
#                  fetched) and the installed system printed its marker; a third boot from the
#                  disk alone (the NIC no boot device) printed it again, with the host name, the
#                  inventory's static address (method static) and /etc/debian_version
#   hosts2         (long-running) two BIOS guests at once, each checked as above
#
# The mirror: ~/.cache/rackboot/lab-install/repo/debian12 of the real user (`./rackboot test`
# refreshes it from this machine's apt archive before the tests run; if it is missing, lab.sh
# makes it, which needs that archive).
#
# Usage: install_test.sh RACKBOOTD RACKBOOT-HOSTS RACKBOOT-MIRROR MODE
RACKBOOTD=$1
HOSTS=$2
export RACKBOOT_MIRROR=$3
MODE=$4
TEST_NAME=install_$MODE
source "$(dirname "$0")/lib.sh"
e2e_init
RACKBOOT_MIRROR=$(cd "$(dirname "$RACKBOOT_MIRROR")" && pwd)/$(basename "$RACKBOOT_MIRROR")

# Bazel runs tests without HOME: the mirror cache belongs in the real user's home.
REAL_HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
export RACKBOOT_LAB_MIRROR=${RACKBOOT_LAB_MIRROR:-${REAL_HOME:-/root}/.cache/rackboot/lab-install/repo/debian12}
if [[ -f $RACKBOOT_LAB_MIRROR/.rackboot-manifest.json ]]; then
  export RACKBOOT_LAB_OFFLINE=1
  log "mirror $RACKBOOT_LAB_MIRROR (made before; no archive access)"
else
  log "no mirror at $RACKBOOT_LAB_MIRROR yet: lab.sh makes it from this machine's apt archive"
fi

FLAGS=(--install)
case $MODE in
  first_package) FLAGS+=(--until=first-package); export INSTALL_TIMEOUT=900 ;;
  bios) export INSTALL_TIMEOUT=5400 ;;
  uefi) FLAGS+=(--uefi); export INSTALL_TIMEOUT=5400 ;;
  hosts2) FLAGS+=(--hosts=2); export INSTALL_TIMEOUT=7200 ;;
  *) fail "mode '$MODE': want first_package, bios, uefi or hosts2" ;;
esac
# The installed system's boots (GRUB, kernel, systemd to the marker) under TCG.
export BOOT_TIMEOUT=600

lab_up "${FLAGS[@]}" || fail "lab.sh up ${FLAGS[*]} exited non-zero"
OUT=$LAB_DIR/up.out
RBLOG=$LAB_DIR/rackbootd.log
STATES=$LAB_DIR/state/host-states.tsv
if ip netns list | grep -qw "$LAB_NS"; then fail "lab.sh up (no --keep) left namespace $LAB_NS"; fi

# check_installer_start HOST IP: what every mode proves about the first boot.
check_installer_start() {
  local host=$1 ip=$2
  # The preseed: over /install/<token>/, 200, to the host's own static address.
  grep -Eq "http GET \"/install/[0-9a-f]{6}…/preseed.cfg\" 200 .* to $ip:" "$RBLOG" ||
    fail "$host: no 200 of /install/<token>/preseed.cfg to $ip in rackbootd.log"
  # The installer booted with the inventory's static address on its command line.
  # Its reports, from that address, in order.
  local steps
  steps=$(grep -F "installer: $host installing: " "$RBLOG" | sed 's/.*installing: //; s/ (from .*//')
  grep -q "^debian-installer early_command$" <<<"$steps" || fail "$host: no early_command report"
  # The first package is a module udeb (loading disk drivers): --until=first-package stops there.
  for s in "reading the preseed" "checking the mirror signature" "loading disk drivers"; do
    grep -qxF "$s" <<<"$steps" || fail "$host: no report '$s' (got: $(tr '\n' '|' <<<"$steps"))"
  done
  grep -F "installer: $host installing: " "$RBLOG" | grep -v "(from $ip:" >/dev/null &&
    fail "$host: an installer report came from another address than $ip"
  # The signed index and packages from the mirror, whole.
  grep -Eq "http GET \"/repo/debian12/dists/bookworm/InRelease\" 200 .* to $ip:" "$RBLOG" ||
    fail "$host: the installer did not GET the mirror's InRelease"
  local pkg
  pkg=$(grep -m 1 -E "http GET \"/repo/debian12/pool/[^\"]+\" 200 .* to $ip:" "$RBLOG" |
    sed -E 's/.*http GET "\/repo\/debian12\/([^"]+)" 200 ([0-9]+) bytes.*/\1 \2/')
  [[ -n $pkg ]] || fail "$host: no package file from /repo/debian12/pool/ to $ip"
  local path=${pkg% *} bytes=${pkg#* } size
  size=$(stat -c %s "$RACKBOOT_LAB_MIRROR/$path")
  [[ $bytes -ge $size && $bytes -lt $((size + 4096)) ]] ||
    fail "$host: $path: $bytes bytes sent, the file has $size (+ headers)"
  log "$host: preseed over its token, reports in order, InRelease and its first package ($path, $size bytes)"
}

host_state() { awk -F'\t' -v h="$1" '$1 == h { print $2 }' "$STATES"; }
host_token() { awk -F'\t' -v h="$1" '$1 == h { print $4 }' "$STATES"; }

case $MODE in
  first_package)
    check_installer_start lab-node1 198.18.0.21
    expect_line "$OUT" "lab-node1: read its preseed, reported its phase and got its first package from the mirror after" "lab.sh's result line"
    # Not done: only the installer's own "done" ends an install.
    [[ $(host_state lab-node1) == install ]] || fail "lab-node1 left armed state before done: $(host_state lab-node1)"
    [[ -n $(host_token lab-node1) ]] || fail "lab-node1 lost its token before done"
    grep -q "installer: lab-node1 done" "$RBLOG" && fail "a done report before the install ran"
    ;;
  bios | uefi | hosts2)
    n=1
    [[ $MODE == hosts2 ]] && n=2
    for i in $(seq "$n"); do
      host=lab-node$i ip=198.18.0.$((20 + i))
      check_installer_start "$host" "$ip"
      for s in "fetching the installer tools" "installing the base system" "installing the boot loader"; do
        grep -q "installer: $host installing: $s" "$RBLOG" || fail "$host: no '$s' step"
      done
      expect_line "$RBLOG" "installer: $host done: .*set installed, install token revoked" "$host done"
      grep -q "installer: $host log stored" "$RBLOG" || fail "$host: the installer log was not uploaded"
      [[ $(host_state "$host") == installed ]] || fail "$host after done: $(host_state "$host")"
      [[ -z $(host_token "$host") ]] || fail "$host: token still in host-states.tsv after done"
      # Exactly one install: the preseed was served once per installer run (the installer and
      # the hand-off script each read it), and never after done.
      done_line=$(grep -m 1 -n "installer: $host done" "$RBLOG" | cut -d: -f1)
      tail -n +"$done_line" "$RBLOG" | grep -E "http GET \"/(install/|boot/debian12/)" | grep " to $ip:" >/dev/null &&
        fail "$host: install files fetched after done (a reinstall)"
      expect_line "$OUT" "$host ok: install [0-9]+ s, network boot to local disk [0-9]+ s, disk-only boot [0-9]+ s; installed host=$host ip=$ip/24 method=static debian_version=12\.[0-9]+ root=/dev/vda" "$host summary"
      log "$(grep "$host ok:" "$OUT" | sed 's/^ *//')"
    done
    ;;
esac
log "PASS"
