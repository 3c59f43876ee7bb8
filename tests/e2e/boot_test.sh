#!/usr/bin/env bash
# A QEMU guest network-boots lab-node1 from rackbootd all the way to its kernel: `lab.sh up`
# (what `./rackboot up [--uefi]` runs) makes the lab, boots the guest, exits 0 when the guest's
# initrd printed its marker line, and removes the lab.
#
# Proves, for BIOS (SeaBIOS + iPXE -> PXELINUX) or UEFI (OVMF + iPXE -> GRUB):
#   - DHCP: rackbootd offers and acks lab-node1's reserved address with the boot file for the
#     guest's architecture (pxelinux.0 / grubnetx64.efi);
#   - TFTP: the loader, its config chain (the per-host config rackbootd rendered for the MAC), the
#     kernel and the initrd are sent, in that order, to 198.18.0.21; kernel and initrd whole
#     (bytes = the file's size in the boot tree);
#   - the guest booted that kernel with the command line rendered for lab-node1 (marker host=);
#   - rackboot-hosts list (./rackboot hosts) then shows lab-node1's last bring-up phase `done`;
#   - no namespace is left behind.
#
# Usage: boot_test.sh RACKBOOTD RACKBOOT-HOSTS bios|uefi
RACKBOOTD=$1
HOSTS=$2
MODE=$3
TEST_NAME=${MODE}_boot
source "$(dirname "$0")/lib.sh"
e2e_init

case $MODE in
  bios)
    FLAGS=()
    BOOT_FILE=pxelinux.0
    FILES=(pxelinux.0 ldlinux.c32 pxelinux.cfg/01-52-54-00-c6-12-01 vmlinuz initrd.img)
    ;;
  uefi)
    FLAGS=(--uefi)
    BOOT_FILE=grubnetx64.efi
    FILES=(grubnetx64.efi grub/grub.cfg grub/grub.cfg-01-52-54-00-c6-12-01 vmlinuz initrd.img)
    ;;
  *) fail "mode '$MODE': want bios or uefi" ;;
esac

# A successful boot takes 25-30 s under TCG (45 s for a cold first UEFI run); 150 s is a hang.
export BOOT_TIMEOUT=150
lab_up "${FLAGS[@]}" || fail "lab.sh up ${FLAGS[*]} exited non-zero (no marker?)"
OUT=$LAB_DIR/up.out
RBLOG=$LAB_DIR/rackbootd.log

if ip netns list | grep -qw "$LAB_NS"; then fail "lab.sh up (no --keep) left namespace $LAB_NS"; fi

# DHCP: offer and ack of the reserved address, with this architecture's boot file.
for kind in OFFER ACK; do
  expect_line "$OUT" "^ *DHCP $kind $NODE1_IP to $NODE1_MAC \(lab-node1\) boot=$BOOT_FILE\$" "DHCP $kind"
done

# TFTP: the expected files, in this order, to the guest (other transfers may sit in between:
# none are expected, but the order of these five is what matters).
mapfile -t SENT < <(awk '$1 == "TFTP" && $4 == "kB" && / to 198\.18\.0\.21:/ { print $2 }' "$OUT")
log "TFTP sent, in order: ${SENT[*]}"
i=0
for f in "${SENT[@]}"; do
  [[ $i -lt ${#FILES[@]} && $f == "${FILES[$i]}" ]] && i=$((i + 1))
done
[[ $i -eq ${#FILES[@]} ]] ||
  fail "TFTP: want ${FILES[*]} in this order; narration shows ${SENT[*]:-nothing} (missing from ${FILES[$i]})"

# Kernel and initrd arrived whole.
for f in vmlinuz initrd.img; do
  size=$(stat -c %s "$LAB_DIR/tftp/$f")
  expect_line "$RBLOG" "tftp sent client=$NODE1_IP:[0-9]+ file=\"?/?$f\"? bytes=$size " "TFTP $f whole ($size bytes)"
done

# The guest booted it, with the host name rackbootd rendered for its MAC.
expect_line "$OUT" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 " "guest marker"
expect_line "$(last_serial)" "Command line: .*hostname=lab-node1" "kernel command line on the serial console"

# Bring-up recorded: last phase done.
expect_phase lab-node1 done

log "PASS: $MODE boot of lab-node1 to its marker in $SECONDS s"
grep -E '^ *(DHCP|TFTP|GUEST) ' "$OUT" >&2
