#!/usr/bin/env bash
# Recreates the DHCP and TFTP test vectors in tests/data/ from REAL programs.
#
#   sudo tests/data/capture.sh
#
# Everything runs inside two network namespaces this script creates (and removes on exit, also on
# failure), addressed from 198.18.0.0/24 (part of the benchmarking range 198.18.0.0/15):
#
#   ns "<tag>s" (servers):  br0 198.18.0.1/24 (bridge) -- veth0 ----.
#                           tap0 (QEMU guest NIC, enslaved to br0)   |
#   ns "<tag>c" (clients):  veth1 (no address for the DHCP clients, 198.18.0.2/24 from perfdhcp on)
#
# Every step is captured with tshark on br0 into its own pcapng ("phase"); then each UDP payload
# is cut out into one file per datagram:
#   tests/data/dhcp/<program>-<message>[-<variant>].bin
#   tests/data/tftp/<program>-<message>[-<variant>].bin
# Only a handful of DATA/ACK packets per transfer are kept (first, middle, last).
# tests/data/MANIFEST.tsv (decoded by tshark, not by Rackboot) and tests/data/README.md are
# regenerated too. The script rewrites tests/data/dhcp, tests/data/tftp and tests/data/pcap
# completely; it never touches tests/data/BUILD.bazel.
#
# Environment knobs: KEEP_WORK=1 keeps the scratch directory; UEFI_TIMEOUT / BIOS_TIMEOUT (s);
# ACCEL=kvm to try KVM (default tcg: on some hosts /dev/kvm exists but OVMF dies with
# "KVM internal error", and software emulation is fast enough).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ${EUID} -ne 0 ]]; then
  echo "capture.sh: must run as root (network namespaces, raw sockets, port 67/69)" >&2
  exit 1
fi

BIOS_TIMEOUT=${BIOS_TIMEOUT:-120}
UEFI_TIMEOUT=${UEFI_TIMEOUT:-240}
TAG="rbcap$$"
NS_S="${TAG}s"
NS_C="${TAG}c"
S=(ip netns exec "${NS_S}")
C=(ip netns exec "${NS_C}")
SRV=198.18.0.1
CLI=198.18.0.2
WORK=$(mktemp -d /tmp/rackboot-capture.XXXXXX)
chmod 755 "${WORK}"   # servers drop privileges to nobody and must reach the TFTP root
PIDS=()
CAP_PID=""
SERVER_PID=""

log() { printf '[capture %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
  local rc=$?
  set +e
  # Our own processes first (by id), then anything still running inside our namespaces.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for ns in "${NS_S}" "${NS_C}"; do
    if ip netns list | grep -qw "${ns}"; then
      for p in $(ip netns pids "${ns}" 2>/dev/null); do kill "$p" 2>/dev/null; done
    fi
  done
  sleep 0.5
  for ns in "${NS_S}" "${NS_C}"; do
    if ip netns list | grep -qw "${ns}"; then
      for p in $(ip netns pids "${ns}" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "${ns}" 2>/dev/null
    fi
  done
  if [[ ${KEEP_WORK:-0} == 1 || ${rc} -ne 0 ]]; then
    log "scratch directory kept: ${WORK}"
  else
    rm -rf "${WORK}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing program: $1 (package $2)" >&2; exit 1; }; }
need tshark tshark
need busybox busybox
need dhclient isc-dhcp-client
need perfdhcp kea-admin
need dnsmasq dnsmasq-base
need in.tftpd tftpd-hpa
need atftp atftp
need tftp tftp-hpa
need curl curl
need qemu-system-x86_64 qemu-system-x86
need python3 python3
[[ -e /usr/lib/ipxe/qemu/efi-virtio.rom ]] || { echo "missing package ipxe-qemu" >&2; exit 1; }
[[ -e /usr/share/OVMF/OVMF_CODE.fd ]] || { echo "missing package ovmf" >&2; exit 1; }

# atftpd conflicts with tftpd-hpa as a package: unpack it privately, never install it.
ATFTPD=${ATFTPD:-}
if [[ -z ${ATFTPD} ]]; then
  if [[ -x /tmp/atftpd/usr/sbin/atftpd ]]; then
    ATFTPD=/tmp/atftpd/usr/sbin/atftpd
  else
    log "unpacking atftpd (apt-get download + dpkg -x; not installed)"
    (cd "${WORK}" && apt-get download atftpd >/dev/null 2>&1 && dpkg -x atftpd_*.deb "${WORK}/atftpd")
    ATFTPD="${WORK}/atftpd/usr/sbin/atftpd"
  fi
fi
[[ -x ${ATFTPD} ]] || { echo "atftpd not available" >&2; exit 1; }
ATFTPD_DEB_VERSION=$(dpkg-deb -f "$(ls "${WORK}"/atftpd_*.deb 2>/dev/null || true)" Version 2>/dev/null \
  || apt-cache policy atftpd 2>/dev/null | awk '/Candidate:/ {print $2}')

# ---------------------------------------------------------------------------------------------
# Versions of everything that produced a packet.
{
  for p in busybox isc-dhcp-client kea-admin dnsmasq-base tftpd-hpa atftp tftp-hpa curl \
           qemu-system-x86 ipxe-qemu ovmf tshark; do
    printf '%s\t%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p")"
  done
  printf 'atftpd\t%s (unpacked from the .deb, not installed)\n' "${ATFTPD_DEB_VERSION:-unknown}"
} > "${WORK}/versions.tsv"
log "versions:"; sed 's/^/    /' "${WORK}/versions.tsv" >&2

# ---------------------------------------------------------------------------------------------
# Network: two namespaces, a bridge with the servers' address, a veth into the client namespace.
ip netns add "${NS_S}"
ip netns add "${NS_C}"
for ns in "${NS_S}" "${NS_C}"; do
  ip netns exec "${ns}" ip link set lo up
  ip netns exec "${ns}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "${ns}" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
"${S[@]}" ip link add br0 type bridge forward_delay 0 stp_state 0
"${S[@]}" ip link add veth0 type veth peer name veth1 netns "${NS_C}"
"${S[@]}" ip link set veth0 master br0
"${S[@]}" ip addr add "${SRV}/24" dev br0
"${S[@]}" ip link set veth0 up
"${S[@]}" ip link set br0 up
"${S[@]}" ip tuntap add dev tap0 mode tap
"${S[@]}" ip link set tap0 master br0
"${S[@]}" ip link set tap0 up
"${C[@]}" ip link set veth1 address 02:00:c6:12:00:02
"${C[@]}" ip link set veth1 up

client_mac() {  # each DHCP client gets its own, fixed MAC (so chaddr is reproducible)
  "${C[@]}" ip link set veth1 down
  "${C[@]}" ip link set veth1 address "$1"
  "${C[@]}" ip link set veth1 up
  sleep 0.5
}

# ---------------------------------------------------------------------------------------------
# TFTP root: generated files of 0, 1, 700, 3000 and 30000 bytes, plus a 3-byte "pxelinux.0"
# (x86 real mode: hlt; jmp $-1) so that iPXE in BIOS mode downloads and runs something harmless.
ROOT="${WORK}/tftproot"
mkdir -p "${ROOT}"
python3 - "${ROOT}" <<'EOF'
import sys, os
root = sys.argv[1]
def pattern(n):  # deterministic, non-repeating-looking bytes: block boundaries are visible
    return bytes((i * 7 + (i >> 8) * 13 + 1) & 0xff for i in range(n))
for name, n in [("empty.bin", 0), ("one.bin", 1), ("small.bin", 700), ("medium.bin", 3000),
                ("large.bin", 30000)]:
    with open(os.path.join(root, name), "wb") as f:
        f.write(pattern(n))
with open(os.path.join(root, "pxelinux.0"), "wb") as f:
    f.write(bytes([0xF4, 0xEB, 0xFD]))
EOF
chmod 755 "${ROOT}"; chmod 644 "${ROOT}"/*

# ---------------------------------------------------------------------------------------------
# Capture helpers. One tshark per phase, on br0 (sees everything to/from the servers' stack and
# all broadcasts from the clients).
PHASES="${WORK}/phases.tsv"
: > "${PHASES}"

cap_start() {
  local name=$1
  "${S[@]}" tshark -i br0 -f "ip and udp" -w "${WORK}/${name}.pcapng" -q >"${WORK}/${name}.tshark.log" 2>&1 &
  CAP_PID=$!
  PIDS+=("${CAP_PID}")
  local i
  for i in $(seq 1 100); do
    grep -q "Capturing on" "${WORK}/${name}.tshark.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "Capturing on" "${WORK}/${name}.tshark.log" || { cat "${WORK}/${name}.tshark.log" >&2; exit 1; }
  sleep 0.5
}

cap_stop() {
  sleep 1
  kill -INT "${CAP_PID}" 2>/dev/null || true
  timeout 10 tail --pid="${CAP_PID}" -f /dev/null || kill -9 "${CAP_PID}" 2>/dev/null || true
  wait "${CAP_PID}" 2>/dev/null || true
  CAP_PID=""
}

# phase <name> <client-label> <client-variant> <client-keep> <server-label> <server-variant> <server-keep> [<chaddr>]
# keep: comma list of message kinds to keep (dhcp, rrq, oack, data, ack, error) or "-".
# client-label "a|b": DHCP messages with option 175 (iPXE) are a's, others b's; TFTP packets
# belong to whoever sent the last DHCP message. server-variant "@": "-<that client label>".
# chaddr: DHCP messages of other clients (late answers to an earlier phase) are ignored.
phase() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:--}" >> "${PHASES}"
}

wait_port() {  # wait_port <udp port>: server in our namespace listening
  local i
  for i in $(seq 1 100); do
    "${S[@]}" ss -Huln "sport = :$1" | grep -q . && return 0
    sleep 0.1
  done
  echo "server did not open udp port $1" >&2
  return 1
}

start_server() {  # start_server <log> <command...>
  local lg=$1; shift
  "${S[@]}" "$@" >"${lg}" 2>&1 &
  SERVER_PID=$!
  PIDS+=("${SERVER_PID}")
}

stop_server() {
  kill "${SERVER_PID}" 2>/dev/null || true
  timeout 10 tail --pid="${SERVER_PID}" -f /dev/null || kill -9 "${SERVER_PID}" 2>/dev/null || true
  wait "${SERVER_PID}" 2>/dev/null || true
  SERVER_PID=""
}

run_client() {  # run_client <seconds> <command...>: bounded, failures are reported, not fatal
  local t=$1; shift
  (cd "${WORK}" && timeout "${t}" "${C[@]}" "$@") >>"${WORK}/clients.log" 2>&1 || \
    log "client exited with status $? (normal for the missing-file cases; perfdhcp: 3): $*"
}

# ---------------------------------------------------------------------------------------------
# dnsmasq: DHCP + TFTP server. UEFI clients (option 93 = 7) are sent to a boot file that does not
# exist, so that the UEFI phase also yields dnsmasq's TFTP error.
DNSMASQ_LOG="${WORK}/dnsmasq.log"
log "starting dnsmasq (DHCP + TFTP)"
start_server "${WORK}/dnsmasq.stderr" dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
  --interface=br0 --bind-interfaces \
  --dhcp-range=198.18.0.100,198.18.0.200,255.255.255.0,1h \
  --dhcp-match=set:efi64,option:client-arch,7 \
  --dhcp-boot=tag:efi64,bootx64.efi --dhcp-boot=tag:!efi64,pxelinux.0 \
  --enable-tftp --tftp-root="${ROOT}" \
  --dhcp-leasefile="${WORK}/dnsmasq.leases" --pid-file="${WORK}/dnsmasq.pid" \
  --log-dhcp --log-facility="${DNSMASQ_LOG}"
wait_port 67
wait_port 69

# --- busybox udhcpc -------------------------------------------------------------------------
log "udhcpc"
client_mac 02:00:c6:12:00:11
cap_start d-udhcpc
run_client 30 busybox udhcpc -i veth1 -f -q -n -t 3 -T 3 -s /bin/true
cap_stop
phase d-udhcpc udhcpc "" dhcp dnsmasq "" dhcp 02:00:c6:12:00:11

# --- ISC dhclient ---------------------------------------------------------------------------
log "dhclient"
client_mac 02:00:c6:12:00:12
cap_start d-dhclient
"${C[@]}" timeout 40 dhclient -4 -d -1 -v -lf "${WORK}/dhclient.leases" -pf "${WORK}/dhclient.pid" \
  -sf /bin/true veth1 >"${WORK}/dhclient.log" 2>&1 &
DHC_PID=$!; PIDS+=("${DHC_PID}")
for i in $(seq 1 300); do
  grep -q "bound to" "${WORK}/dhclient.log" && break
  kill -0 "${DHC_PID}" 2>/dev/null || break
  sleep 0.1
done
kill "${DHC_PID}" 2>/dev/null || true
wait "${DHC_PID}" 2>/dev/null || true
cap_stop
phase d-dhclient dhclient "" dhcp dnsmasq "" - 02:00:c6:12:00:12

# --- perfdhcp (ISC Kea) ---------------------------------------------------------------------
log "perfdhcp"
client_mac 02:00:c6:12:00:13
"${C[@]}" ip addr add "${CLI}/24" dev veth1
cap_start d-perfdhcp
# perfdhcp acts as a relay (giaddr = 198.18.0.2) and listens on port 67 for the answers.
# dnsmasq pings an address before offering it (about 3 s), hence the drop time of 10 s.
run_client 40 perfdhcp -4 -l veth1 -r 1 -n 1 -R 1 -d 10 -W 10000000 -b mac=02:00:c6:12:00:13
cap_stop
phase d-perfdhcp perfdhcp "" dhcp dnsmasq -perfdhcp dhcp 02:00:c6:12:00:13

# --- QEMU guests: iPXE ROM in BIOS mode (SeaBIOS) and in UEFI mode (OVMF) --------------------
ACCEL=${ACCEL:-tcg}
log "QEMU accelerator: ${ACCEL}"
echo "${ACCEL}" > "${WORK}/accel"

qemu_phase() {  # qemu_phase <label> <mac> <timeout> <TFTP requests to wait for> <extra qemu args...>
  local label=$1 mac=$2 limit=$3 want=$4; shift 4
  local serial="${WORK}/${label}.serial.log"
  local start_line
  start_line=$(wc -l < "${DNSMASQ_LOG}")
  cap_start "d-${label}"
  "${S[@]}" qemu-system-x86_64 -accel "${ACCEL}" -m 256 -nographic -display none -monitor none \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device "virtio-net-pci,netdev=n0,mac=${mac},bootindex=1" \
    -serial "file:${serial}" -no-reboot "$@" </dev/null >"${WORK}/${label}.qemu.log" 2>&1 &
  local qpid=$!
  PIDS+=("${qpid}")
  # Done when dnsmasq has answered <want> TFTP requests of this guest (sent / not found), or at
  # the bound; after the first answer, at most 60 s more.
  local deadline=$((SECONDS + limit)) answered=0 n
  while (( SECONDS < deadline )); do
    n=$(tail -n +"$((start_line + 1))" "${DNSMASQ_LOG}" | grep -Ec 'dnsmasq-tftp.*(sent|not found|error|failed)' || true)
    if (( n >= want )); then answered=${n}; break; fi
    if (( n >= 1 && answered == 0 )); then answered=${n}; (( deadline > SECONDS + 60 )) && deadline=$((SECONDS + 60)); fi
    kill -0 "${qpid}" 2>/dev/null || break
    sleep 1
  done
  sleep 3   # let the last ACKs arrive
  kill "${qpid}" 2>/dev/null || true
  timeout 10 tail --pid="${qpid}" -f /dev/null || kill -9 "${qpid}" 2>/dev/null || true
  wait "${qpid}" 2>/dev/null || true
  cap_stop
  log "${label}: TFTP answers: ${answered}; DHCP log lines for ${mac}:"
  tail -n +"$((start_line + 1))" "${DNSMASQ_LOG}" | grep -iE "${mac}|tftp" | grep -E 'DHCP[A-Z]+\(|tftp' \
    | sed 's/^/    /' | head -20 >&2 || true
}

log "iPXE BIOS (bound ${BIOS_TIMEOUT}s)"
qemu_phase ipxe-bios 52:54:00:c6:12:21 "${BIOS_TIMEOUT}" 1
phase d-ipxe-bios ipxe-bios "" dhcp,rrq,ack dnsmasq @ dhcp,oack,data 52:54:00:c6:12:21

# OVMF first runs the iPXE EFI driver from the NIC ROM (its DHCP carries options 77 "iPXE" and
# 175); when iPXE's boot fails, OVMF's own PXE (EDK2 PxeBcDxe, over iPXE's SNP) tries next.
# Both are kept, told apart by option 175 ("ipxe-uefi|edk2-uefi").
log "iPXE UEFI / OVMF (bound ${UEFI_TIMEOUT}s)"
cp /usr/share/OVMF/OVMF_VARS.fd "${WORK}/OVMF_VARS.fd"
qemu_phase ipxe-uefi 52:54:00:c6:12:22 "${UEFI_TIMEOUT}" 2 \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
  -drive "if=pflash,format=raw,file=${WORK}/OVMF_VARS.fd"
phase d-ipxe-uefi 'ipxe-uefi|edk2-uefi' "" dhcp,rrq,ack dnsmasq @ dhcp,oack,data,error 52:54:00:c6:12:22

# --- TFTP against dnsmasq -------------------------------------------------------------------
log "TFTP: dnsmasq"
cap_start t-dnsmasq-curl1468
run_client 20 curl -sS --tftp-blksize 1468 -o out.bin "tftp://${SRV}/medium.bin"
cap_stop
phase t-dnsmasq-curl1468 curl -blksize1468 rrq,ack dnsmasq "" oack,data

cap_start t-dnsmasq-missing
run_client 20 curl -sS --tftp-blksize 1468 -o out.bin "tftp://${SRV}/missing.bin"
cap_stop
phase t-dnsmasq-missing curl "" - dnsmasq "" error
stop_server

# --- TFTP against tftpd-hpa -----------------------------------------------------------------
log "TFTP: tftpd-hpa"
start_server "${WORK}/tftpd-hpa.log" /usr/sbin/in.tftpd --foreground --secure --verbose \
  --address "${SRV}:69" "${ROOT}"
wait_port 69

cap_start t-hpa-curl1468
run_client 20 curl -sS --tftp-blksize 1468 -o out.bin "tftp://${SRV}/medium.bin"
cap_stop
phase t-hpa-curl1468 curl "" - tftpd-hpa "" oack,data

cap_start t-hpa-curl512
run_client 20 curl -sS --tftp-blksize 512 -o out.bin "tftp://${SRV}/medium.bin"
cap_stop
phase t-hpa-curl512 curl -blksize512 rrq tftpd-hpa -blksize512 oack,data

# curl 7.88 gives up on an empty file after the OACK (tsize=0) without acknowledging it, so
# the empty DATA block comes from a plain tftp-hpa transfer.
cap_start t-hpa-curl-empty
run_client 20 curl -sS --tftp-blksize 1468 -o out.bin "tftp://${SRV}/empty.bin"
cap_stop
phase t-hpa-curl-empty curl "" - tftpd-hpa -empty oack

cap_start t-hpa-tftphpa-empty
run_client 20 tftp -m binary "${SRV}" -c get empty.bin out.bin
cap_stop
phase t-hpa-tftphpa-empty tftp-hpa "" - tftpd-hpa -nooptions-empty data

cap_start t-hpa-curl-one
run_client 20 curl -sS --tftp-blksize 1468 -o out.bin "tftp://${SRV}/one.bin"
cap_stop
phase t-hpa-curl-one curl "" - tftpd-hpa -1byte data

cap_start t-hpa-tftphpa
run_client 20 tftp -m binary "${SRV}" -c get medium.bin out.bin
cap_stop
phase t-hpa-tftphpa tftp-hpa "" rrq,ack tftpd-hpa -nooptions data

cap_start t-hpa-tftphpa-small
run_client 20 tftp -m binary "${SRV}" -c get small.bin out.bin
cap_stop
phase t-hpa-tftphpa-small tftp-hpa "" - tftpd-hpa -nooptions-700 data

cap_start t-hpa-missing
run_client 20 tftp -m binary "${SRV}" -c get missing.bin out.bin
cap_stop
phase t-hpa-missing tftp-hpa "" - tftpd-hpa "" error

cap_start t-hpa-busybox
run_client 20 busybox tftp -g -r medium.bin -l out.bin -b 1468 "${SRV}"
cap_stop
phase t-hpa-busybox busybox-tftp -blksize1468 rrq,ack tftpd-hpa -busybox oack
stop_server

# --- TFTP against atftpd (RFC 7440 windowsize) -----------------------------------------------
log "TFTP: atftpd"
start_server "${WORK}/atftpd.log" "${ATFTPD}" --daemon --no-fork --port 69 --bind-address "${SRV}" \
  --user nobody --group nogroup --logfile - --verbose=5 "${ROOT}"
wait_port 69

cap_start t-atftpd-ws16
run_client 20 atftp --option "windowsize 16" --option "blksize 1468" --get -r large.bin -l out.bin "${SRV}"
cap_stop
phase t-atftpd-ws16 atftp -windowsize16 rrq,ack atftpd -windowsize16 oack,data

cap_start t-atftpd-missing
run_client 20 atftp --option "blksize 1468" --get -r missing.bin -l out.bin "${SRV}"
cap_stop
phase t-atftpd-missing atftp "" - atftpd "" error
stop_server

# ---------------------------------------------------------------------------------------------
log "extracting datagrams"
python3 "${HERE}/extract.py" --work "${WORK}" --out "${HERE}" --client-ip "${CLI}" --server-ip "${SRV}"
log "done: $(ls "${HERE}"/dhcp/*.bin | wc -l) DHCP and $(ls "${HERE}"/tftp/*.bin | wc -l) TFTP vectors"
