#!/usr/bin/env bash
# Real firmware against rackbootd: a QEMU guest (software emulation) network-boots from rackbootd's
# DHCP + TFTP, first with SeaBIOS + the iPXE ROM (BIOS, arch 0), then with OVMF (UEFI x64).
# Passes when rackbootd's log shows the BIOS guest fetching pxelinux.0 and the UEFI guest fetching
# bootnetx64.efi over TFTP: the DHCP answer carried the right file for each architecture.
# Then the UEFI guest's MAC boots again under SeaBIOS + iPXE while its UEFI lease is still bound:
# EDK2's PXE sends no client identifier (option 61), iPXE sends 01+MAC, and the host must get its
# reserved address both times (reservations are by MAC; issue 11), fetching pxelinux.0 from it.
#
#   ns s: br0 198.18.0.1/16 (rackbootd: DHCP authoritative + TFTP on 198.18.0.1:69), tap0 on br0
#         for the guest (as tests/data/capture.sh does)
# Usage: qemu_pxe_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=qemu_pxe
source "$(dirname "$0")/lib.sh"
lib_init

for f in /usr/lib/ipxe/qemu/efi-virtio.rom /usr/share/OVMF/OVMF_CODE.fd /usr/share/OVMF/OVMF_VARS.fd; do
  [[ -e $f ]] || fail "missing $f (packages ipxe-qemu, ovmf)"
done
command -v qemu-system-x86_64 >/dev/null || fail "missing qemu-system-x86_64"

ns_add s; ns_add c
segment
inns s ip tuntap add dev tap0 mode tap
inns s ip link set tap0 master br0
inns s ip link set tap0 up

BIOS_MAC=52:54:00:c6:12:61
UEFI_MAC=52:54:00:c6:12:62
TFTP_ROOT=$WORK/tftproot
mkdir -p "$TFTP_ROOT"
printf '\xf4\xeb\xfd' >"$TFTP_ROOT/pxelinux.0"        # hlt; jmp $-1: harmless if run
printf 'not a real EFI binary\n' >"$TFTP_ROOT/bootnetx64.efi"
# Every boot file site.toml names must be in the root, and the armed hosts' profile defined
# (rackbootd refuses to start otherwise, exit 78).
printf 'not a real EFI binary\n' >"$TFTP_ROOT/grubaa64.efi"
printf 'not a kernel\n' >"$TFTP_ROOT/vmlinuz"
chmod 755 "$TFTP_ROOT"; chmod 644 "$TFTP_ROOT"/*
EXTRA_TOML='
[[profile]]
name = "debian12"
kernel = "vmlinuz"'
site_toml >"$WORK/site.toml"
BIOS_IP=198.18.0.61
UEFI_IP=198.18.0.62
inventory "$BIOS_MAC,vm-bios,$BIOS_IP,debian12,install" "$UEFI_MAC,vm-uefi,$UEFI_IP,debian12,install" >"$WORK/inventory.csv"
rb_start main
grep -q 'TFTP on 198.18.0.1:69' "$WORK/rb-main.out" || fail "ready line: $(cat "$WORK/rb-main.out")"

# guest LABEL MAC FILE LIMIT [QEMU ARGS...]: boots a guest until rackbootd's log shows a TFTP
# transfer (or refusal) of FILE after the guest started, or LIMIT seconds; then kills it. Sets
# FOUND to that log line.
guest() {
  local label=$1 mac=$2 file=$3 limit=$4; shift 4
  local from
  from=$(wc -l <"$WORK/rb-main.log")
  ip netns exec "$(ns s)" qemu-system-x86_64 -accel tcg -m 256 -nographic -display none -monitor none \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1" \
    -serial "file:$WORK/$label.serial" -no-reboot "$@" </dev/null >"$WORK/$label.qemu.log" 2>&1 &
  local qpid=$!
  PIDS+=("$qpid")
  local deadline=$((SECONDS + limit)) found=""
  while (( SECONDS < deadline )); do
    found=$(tail -n +"$((from + 1))" "$WORK/rb-main.log" |
      grep -E "tftp (sent|FAILED|refused) .*file=\"?$file|tftp refused .*$file" | head -1 || true)
    [[ -n $found ]] && break
    kill -0 "$qpid" 2>/dev/null || break
    sleep 1
  done
  kill "$qpid" 2>/dev/null || true
  timeout 10 tail --pid="$qpid" -f /dev/null || kill -9 "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  if [[ -z $found ]]; then
    echo "--- $label qemu log:" >&2; tail -n 20 "$WORK/$label.qemu.log" >&2
    echo "--- $label serial:" >&2; tail -c 2000 "$WORK/$label.serial" >&2 || true
    fail "$label guest ($mac): no TFTP transfer of $file within ${limit}s"
  fi
  log "$label: $found"
  FOUND=$found
}

log "BIOS guest (SeaBIOS + iPXE)"
start=$SECONDS
guest bios "$BIOS_MAC" pxelinux.0 80
log "BIOS done in $((SECONDS - start)) s"

log "UEFI guest (OVMF)"
start=$SECONDS
cp /usr/share/OVMF/OVMF_VARS.fd "$WORK/OVMF_VARS.fd"
guest uefi "$UEFI_MAC" bootnetx64.efi 120 \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
  -drive "if=pflash,format=raw,file=$WORK/OVMF_VARS.fd"
log "UEFI done in $((SECONDS - start)) s"

# The BIOS guest must never have been handed the UEFI file, nor the UEFI guest the BIOS one.
bios_ip=$(client c journal --path "$WORK/state/leases.journal" | jq -r --arg m "$BIOS_MAC" 'select(.mac == $m) | .address' | tail -1)
uefi_ip=$(client c journal --path "$WORK/state/leases.journal" | jq -r --arg m "$UEFI_MAC" 'select(.mac == $m) | .address' | tail -1)
[[ -n $bios_ip && -n $uefi_ip ]] || fail "no leases journaled for the guests"
grep -E "tftp .*client=$bios_ip:.*file=\"?bootnetx64.efi" "$WORK/rb-main.log" && fail "BIOS guest fetched the UEFI file"
grep -E "tftp .*client=$uefi_ip:.*file=\"?pxelinux.0" "$WORK/rb-main.log" && fail "UEFI guest fetched the BIOS file"
grep -E "tftp .*file=\"?pxelinux.0" "$WORK/rb-main.log" | grep -q "client=$bios_ip:" || fail "pxelinux.0 was not fetched by the BIOS guest ($bios_ip)"
grep -E "tftp .*file=\"?bootnetx64.efi" "$WORK/rb-main.log" | grep -q "client=$uefi_ip:" || fail "bootnetx64.efi was not fetched by the UEFI guest ($uefi_ip)"
[[ $bios_ip == "$BIOS_IP" && $uefi_ip == "$UEFI_IP" ]] ||
  fail "guests got $bios_ip and $uefi_ip, not their reservations $BIOS_IP and $UEFI_IP"

# What OVMF's boot left: its lease and the client identity it is journaled under.
uefi_state=$(client c journal --path "$WORK/state/leases.journal" |
  jq -r --arg m "$UEFI_MAC" 'select(.mac == $m) | "\(.state) client_kind=\(.client_kind) client=\(.client)"' | tail -1)
log "the UEFI guest's lease after its boot: $uefi_state"
# Whatever identifier this OVMF sent, the captured EDK2 exchange (tests/data/dhcp/edk2-uefi-*.bin:
# PXEClient arch 7, UUID, no option 61) is repeated from the client namespace, so that the host's
# MAC then holds its reservation under its hardware address and iPXE (01+MAC) surely comes with
# another identity. The daemon before issue 11 fails here already if OVMF sent 01+MAC.
client c dora --iface eth0 --mac "$UEFI_MAC" --vendor PXEClient:Arch:00007:UNDI:003001 --arch 7 \
  --uuid --wait 4 >"$WORK/edk2-again.json"
jq_check "$WORK/edk2-again.json" "any(.[]; .type == \"ACK\" and .yiaddr == \"$UEFI_IP\")" \
  "an EDK2-like exchange (no option 61) for $UEFI_MAC did not get $UEFI_IP"
uefi_state=$(client c journal --path "$WORK/state/leases.journal" |
  jq -r --arg m "$UEFI_MAC" 'select(.mac == $m) | "\(.state) client_kind=\(.client_kind)"' | tail -1)
[[ $uefi_state == "bound client_kind=1" ]] || fail "want a bound lease keyed by hardware address, journal says: $uefi_state"

log "the UEFI guest's MAC again, under SeaBIOS + iPXE (option 61 01+MAC; EDK2 sent none)"
start=$SECONDS
guest uefi-then-ipxe "$UEFI_MAC" pxelinux.0 80
log "done in $((SECONDS - start)) s"
[[ $FOUND == *"client=$UEFI_IP:"* ]] ||
  fail "iPXE on vm-uefi's MAC fetched pxelinux.0 from ${FOUND#*client=}, not from its reservation $UEFI_IP"
rb_stop main
log "PASS: BIOS guest $bios_ip got pxelinux.0, UEFI guest $uefi_ip got bootnetx64.efi, then iPXE on its MAC the same $UEFI_IP"
