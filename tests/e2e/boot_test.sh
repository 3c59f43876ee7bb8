#!/usr/bin/env bash
# A QEMU guest network-boots lab-node1 from rackbootd all the way to its kernel: `lab.sh up`
# (what `./rackboot up [--uefi] [--tftp-only]` runs) makes the lab, boots the guest, exits 0 when
# the guest's initrd printed its marker line, and removes the lab.
#
# Modes:
#   bios            SeaBIOS + the NIC's iPXE ROM: DHCP as iPXE -> its per-host script, kernel and
#                   initrd over HTTP (nothing over TFTP: the ROM is iPXE already)
#   uefi            OVMF PXE: DHCP -> snponly.efi over TFTP -> iPXE asks DHCP again and gets its
#                   script (not iPXE again) -> script, kernel and initrd over HTTP
#   uefi_tftp_only  --tftp-only: OVMF PXE -> GRUB, its config chain, kernel, initrd over TFTP
#   uefi_http       --uefi-http: OVMF HTTP boot (PXE off): DHCP as HTTPClient -> snponly.efi by
#                   URL over HTTP -> then as uefi
# Proves, for its mode:
#   - DHCP: rackbootd offers and acks lab-node1's reserved address with the boot file (or URL)
#     for each stage, in order;
#   - TFTP / HTTP: the expected files, in that order, to 198.18.0.21; kernel and initrd whole
#     (bytes = the file's size in the boot tree), and nothing of them over the other protocol;
#   - the guest booted that kernel with the command line rendered for lab-node1 (marker host=);
#   - (modes with HTTP) the lab initrd, a one-shot installer, POSTed done with the install token
#     its command line carried (marker report=done): rackboot-hosts list (./rackboot hosts) then
#     shows lab-node1 installed with last phase `done`, and host-states.tsv holds no token for it;
#     curl subscribed to /api/v1/events during the boot saw lab-node1 go
#     dhcp -> booting -> installing -> done, and GET /api/v1/leases its bound lease;
#   - (--tftp-only: no HTTP, so no report) lab-node1 stays armed, last phase `installing`: only
#     the installer says done;
#   - no namespace is left behind.
#
# Usage: boot_test.sh RACKBOOTD RACKBOOT-HOSTS MODE
RACKBOOTD=$1
HOSTS=$2
MODE=$3
TEST_NAME=${MODE}_boot
source "$(dirname "$0")/lib.sh"
e2e_init

HTTP=http://198.18.0.1:8080/boot
SCRIPT=ipxe/01-52-54-00-c6-12-01.ipxe
case $MODE in
  bios)
    FLAGS=()
    BOOT_FILES=("$HTTP/$SCRIPT")
    TFTP_FILES=()
    HTTP_FILES=("/boot/$SCRIPT" /boot/vmlinuz /boot/initrd.img)
    ;;
  uefi)
    FLAGS=(--uefi)
    BOOT_FILES=(snponly.efi "$HTTP/$SCRIPT")
    TFTP_FILES=(snponly.efi)
    HTTP_FILES=("/boot/$SCRIPT" /boot/vmlinuz /boot/initrd.img)
    ;;
  uefi_tftp_only)
    FLAGS=(--uefi --tftp-only)
    BOOT_FILES=(grubnetx64.efi)
    TFTP_FILES=(grubnetx64.efi grub/grub.cfg grub/grub.cfg-01-52-54-00-c6-12-01 vmlinuz initrd.img)
    HTTP_FILES=()
    ;;
  uefi_http)
    FLAGS=(--uefi-http)
    BOOT_FILES=("$HTTP/snponly.efi" "$HTTP/$SCRIPT")
    TFTP_FILES=()
    HTTP_FILES=(/boot/snponly.efi "/boot/$SCRIPT" /boot/vmlinuz /boot/initrd.img)
    ;;
  *) fail "mode '$MODE': want bios, uefi, uefi_tftp_only or uefi_http" ;;
esac

# A successful boot takes 25-50 s under TCG; 150 s is a hang.
export BOOT_TIMEOUT=150
# The boot's phases live over the API (every mode with HTTP, which serves it).
if [[ $MODE != uefi_tftp_only ]]; then follow_events; fi
lab_up "${FLAGS[@]}" || fail "lab.sh up ${FLAGS[*]} exited non-zero (no marker?)"
OUT=$LAB_DIR/up.out
RBLOG=$LAB_DIR/rackbootd.log

if ip netns list | grep -qw "$LAB_NS"; then fail "lab.sh up (no --keep) left namespace $LAB_NS"; fi

# in_order WHAT WANT... -- GOT...: WANT appear in GOT in this order (other items may sit between).
in_order() {
  local what=$1 i=0 f
  shift
  local want=() got=()
  while [[ $1 != -- ]]; do want+=("$1"); shift; done
  shift
  got=("$@")
  for f in "${got[@]}"; do
    [[ $i -lt ${#want[@]} && $f == "${want[$i]}" ]] && i=$((i + 1))
  done
  [[ $i -eq ${#want[@]} ]] ||
    fail "$what: want ${want[*]} in this order; narration shows ${got[*]:-nothing} (missing from ${want[$i]})"
}

# DHCP: every stage's ACK of the reserved address carries its boot file, in order; OFFERs too.
mapfile -t ACKED < <(awk -v ip="$NODE1_IP" '$1 == "DHCP" && $2 == "ACK" && $3 == ip {
  for (i = 4; i <= NF; i++) if (index($i, "boot=") == 1) print substr($i, 6) }' "$OUT")
log "DHCP ACK boot files, in order: ${ACKED[*]}"
in_order "DHCP ACK boot files" "${BOOT_FILES[@]}" -- "${ACKED[@]}"
for f in "${BOOT_FILES[@]}"; do
  expect_line "$OUT" "^ *DHCP OFFER $NODE1_IP to $NODE1_MAC \(lab-node1\) boot=$f\$" "DHCP OFFER boot=$f"
done

# TFTP and HTTP: the expected files, in this order, to the guest.
mapfile -t SENT < <(awk '$1 == "TFTP" && $4 == "kB" && / to 198\.18\.0\.21:/ { print $2 }' "$OUT")
log "TFTP sent, in order: ${SENT[*]}"
in_order TFTP "${TFTP_FILES[@]}" -- "${SENT[@]}"
mapfile -t GOT < <(awk '$1 == "HTTP" && $4 == "kB" && / to 198\.18\.0\.21:/ { print $2 }' "$OUT")
log "HTTP sent, in order: ${GOT[*]}"
in_order HTTP "${HTTP_FILES[@]}" -- "${GOT[@]}"

# Kernel and initrd arrived whole, over the protocol of this mode only.
for f in vmlinuz initrd.img; do
  size=$(stat -c %s "$LAB_DIR/tftp/$f")
  if [[ ${#HTTP_FILES[@]} -gt 0 ]]; then
    # The logged bytes are the whole response: the header block, then the file.
    awk -v f="\"/boot/$f\"" -v size="$size" -v ip="$NODE1_IP" '
      / http GET / && $0 !~ / incomplete/ {
        sub(/.* http GET /, ""); if ($1 != f || $2 != 200) next
        if ($3 >= size && $3 < size + 4096 && index($8, ip ":") == 1) ok = 1
      }
      END { exit !ok }' "$RBLOG" || fail "HTTP $f whole: no complete 200 of $size bytes plus headers to $NODE1_IP in rackbootd.log"
    expect_no_line "$RBLOG" "tftp sent client=$NODE1_IP:[0-9]+ file=\"?/?$f\"?" "$f not over TFTP"
  else
    expect_line "$RBLOG" "tftp sent client=$NODE1_IP:[0-9]+ file=\"?/?$f\"? bytes=$size " "TFTP $f whole ($size bytes)"
    expect_no_line "$RBLOG" "http GET \"/boot/$f\"" "$f not over HTTP"
  fi
done

# The guest booted it, with the host name rackbootd rendered for its MAC.
expect_line "$OUT" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 " "guest marker"
expect_line "$(last_serial)" "Command line: .*hostname=lab-node1" "kernel command line on the serial console"

# The command line carried an install token (the install entry of an armed host).
TOKEN=$(grep -ao 'rackboot\.token=[0-9a-f]*' "$(last_serial)" | head -1 | cut -d= -f2)
[[ $TOKEN =~ ^[0-9a-f]{32}$ ]] || fail "no install token on the kernel command line: '$TOKEN'"
node1_state() { awk -F'\t' '$1 == "lab-node1"' "$LAB_DIR/state/host-states.tsv"; }
if [[ $MODE != uefi_tftp_only ]]; then
  # The initrd reported done: installed, token revoked, last phase done (from the installer).
  expect_line "$OUT" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 .* report=done" "the initrd's done report"
  expect_line "$OUT" "INSTALLER lab-node1 done: .*set installed, install token revoked" "lab.sh narrates the done report"
  expect_phase lab-node1 done
  [[ $(node1_state | cut -f2) == installed ]] || fail "lab-node1 after done: $(node1_state)"
  [[ -z $(node1_state | cut -f4) ]] || fail "lab-node1's token was not revoked: $(node1_state)"
  ! grep -q "$TOKEN" "$LAB_DIR/state/host-states.tsv" || fail "the used token is still in host-states.tsv"
  # And streamed while it happened: the boot files make it installing, the installer done.
  expect_phases lab-node1 dhcp booting installing done
  expect_lease lab-node1 "$NODE1_IP"
else
  # No HTTP: the initrd cannot report, so the host stays armed, last phase installing.
  expect_line "$OUT" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 .* report=none" "no report without HTTP"
  expect_phase lab-node1 installing
  [[ $(node1_state | cut -f2) == install && $(node1_state | cut -f4) == "$TOKEN" ]] ||
    fail "lab-node1 without a report: $(node1_state), want still armed with token ${TOKEN:0:6}"
fi

log "PASS: $MODE boot of lab-node1 to its marker in $SECONDS s"
grep -E '^ *(DHCP|TFTP|HTTP|INSTALLER|GUEST) ' "$OUT" >&2
