#!/usr/bin/env bash
# Proves the lab boot tree PXE-boots, without rackbootd: dnsmasq (DHCP + TFTP) in a network
# namespace, a QEMU guest on a tap device, BIOS (SeaBIOS + iPXE ROM -> pxelinux.0) and UEFI
# (OVMF + iPXE EFI ROM -> grubnetx64.efi), each booting the lab kernel + initrd to its marker line.
#
#   sudo examples/lab/pxe-smoke.sh TREE [bios|uefi|both]
#
# TREE is the output of build-boot-tree.sh; it is not modified: the TFTP root is a scratch copy
# (hard links) plus hand-written per-host configs for the guest's MAC. Everything runs inside a
# namespace this script creates (198.18.0.0/24) and removes on exit, also on failure; every wait
# is bounded. Prints, per mode: the time to the marker line, and every TFTP request in order
# (from tshark) with dnsmasq's answer (sent / not found).
#
# Knobs: ACCEL=tcg|kvm (default tcg), BOOT_TIMEOUT (s, default 180), MEM (MiB, default 512),
# KEEP_WORK=1, LOCALBOOT=1 (no per-host configs: shows the fallback path, no marker expected),
# RACKBOOTD=path/to/rackbootd: serve with rackbootd and examples/lab/site.toml + inventory.csv
# instead of dnsmasq (TREE served as is; the daemon renders the per-host configs itself).
set -euo pipefail

[[ ${EUID} -eq 0 ]] || { echo "pxe-smoke: must run as root (network namespaces)" >&2; exit 1; }
[[ $# -ge 1 ]] || { echo "usage: $0 TREE [bios|uefi|both]" >&2; exit 2; }
TREE=$(cd "$1" && pwd)
MODES=${2:-both}
[[ ${MODES} == both ]] && MODES="bios uefi"
for f in pxelinux.0 ldlinux.c32 grubnetx64.efi vmlinuz initrd.img; do
  [[ -f ${TREE}/$f ]] || { echo "pxe-smoke: ${TREE}/$f missing: run build-boot-tree.sh" >&2; exit 1; }
done
for t in dnsmasq qemu-system-x86_64 tshark; do
  command -v "$t" >/dev/null || { echo "pxe-smoke: missing $t" >&2; exit 1; }
done
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd

ACCEL=${ACCEL:-tcg}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-180}
MEM=${MEM:-512}   # MiB; GRUB 2.06 under OVMF fails "out of memory" loading the kernel with 256
MAC=52:54:00:c6:12:01
MACD=01-${MAC//:/-}
HOST=lab-node1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RACKBOOTD=${RACKBOOTD:-}
NS="rblab$$"
N=(ip netns exec "${NS}")
SRV=198.18.0.1
WORK=$(mktemp -d /tmp/rackboot-lab-smoke.XXXXXX)
chmod 755 "${WORK}"
PIDS=()

log() { printf '[pxe-smoke %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if ip netns list | grep -qw "${NS}"; then
    sleep 0.5
    for p in $(ip netns pids "${NS}" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "${NS}"
  fi
  if [[ ${KEEP_WORK:-0} == 1 || ${rc} -ne 0 ]]; then log "scratch kept: ${WORK}"; else rm -rf "${WORK}"; fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- TFTP root: hard links to the tree (copies across file systems) + per-host configs ---------
ROOT="${WORK}/tftp"
cp -al "${TREE}" "${ROOT}" 2>/dev/null || cp -a "${TREE}" "${ROOT}"
if [[ ${LOCALBOOT:-0} != 1 ]]; then
  mkdir -p "${ROOT}/pxelinux.cfg" "${ROOT}/grub"
  cat > "${ROOT}/pxelinux.cfg/${MACD}" <<EOF
DEFAULT lab
PROMPT 0
TIMEOUT 0
LABEL lab
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0 hostname=${HOST}
EOF
  # GRUB: the tree's grub/grub.cfg tries grub/grub.cfg-01-<mac> (see README.md).
  cat > "${ROOT}/grub/grub.cfg-${MACD}" <<EOF
set timeout=0
set default=0
menuentry "${HOST}" {
  linux /vmlinuz console=ttyS0 hostname=${HOST}
  initrd /initrd.img
}
EOF
fi
chmod -R a+rX "${ROOT}"

# --- Network: one namespace, bridge rbbr0 with the server address, tap0 for the guest ----------
ip netns add "${NS}"
"${N[@]}" ip link set lo up
"${N[@]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
"${N[@]}" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
"${N[@]}" ip link add rbbr0 type bridge forward_delay 0 stp_state 0
"${N[@]}" ip addr add "${SRV}/24" dev rbbr0
"${N[@]}" ip link set rbbr0 up
"${N[@]}" ip tuntap add dev tap0 mode tap
"${N[@]}" ip link set tap0 master rbbr0
"${N[@]}" ip link set tap0 up

DNSLOG="${WORK}/dnsmasq.log"
if [[ -n ${RACKBOOTD} ]]; then
  mkdir -p "${WORK}/state"
  "${N[@]}" "${RACKBOOTD}" --config="${HERE}/site.toml" --tftp_root="${TREE}" \
    --state_dir="${WORK}/state" --logtostderr >"${DNSLOG}" 2>&1 &
  PIDS+=($!)
else
"${N[@]}" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface=rbbr0 --bind-interfaces \
  --dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,1h --dhcp-option=option:router,${SRV} \
  --dhcp-option=option:dns-server,${SRV} \
  --dhcp-match=set:efi64,option:client-arch,7 --dhcp-match=set:efi64,option:client-arch,9 \
  --dhcp-boot=tag:efi64,grubnetx64.efi --dhcp-boot=tag:!efi64,pxelinux.0 \
  --enable-tftp --tftp-root="${ROOT}" --dhcp-leasefile="${WORK}/leases" \
  --pid-file="${WORK}/dnsmasq.pid" --log-dhcp --log-facility="${DNSLOG}" \
  >"${WORK}/dnsmasq.stderr" 2>&1 &
PIDS+=($!)
fi
for _ in $(seq 100); do "${N[@]}" ss -Huln 'sport = :69' | grep -q . && break; sleep 0.1; done
"${N[@]}" ss -Huln 'sport = :69' | grep -q . || { cat "${WORK}"/dnsmasq.* >&2; exit 1; }

FAIL=0
boot() {  # boot <mode>
  local mode=$1 serial="${WORK}/$1.serial.log" start_line qpid t0 t_marker="" t_exit=""
  local extra=()
  if [[ ${mode} == uefi ]]; then
    cp "${OVMF_VARS}" "${WORK}/OVMF_VARS.fd"
    extra=(-drive "if=pflash,format=raw,readonly=on,file=${OVMF_CODE}"
           -drive "if=pflash,format=raw,file=${WORK}/OVMF_VARS.fd")
  fi
  start_line=$(wc -l < "${DNSLOG}")
  "${N[@]}" tshark -i rbbr0 -f "udp dst port 69" -l -T fields -E separator=/t \
    -e frame.time_relative -e ip.src -e tftp.opcode -e tftp.source_file -e tftp.option.name \
    -e tftp.option.value >"${WORK}/${mode}.rrq.tsv" 2>"${WORK}/${mode}.tshark.log" &
  local cap=$!; PIDS+=("${cap}")
  for _ in $(seq 100); do grep -q "Capturing on" "${WORK}/${mode}.tshark.log" && break; sleep 0.1; done
  log "${mode}: booting ${MAC} (accel ${ACCEL}, bound ${BOOT_TIMEOUT}s)"
  t0=$(date +%s.%N)
  "${N[@]}" timeout "${BOOT_TIMEOUT}" qemu-system-x86_64 -accel "${ACCEL}" -m "${MEM}" -nographic \
    -display none -monitor none -no-reboot \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device "virtio-net-pci,netdev=n0,mac=${MAC},bootindex=1" \
    -serial "file:${serial}" "${extra[@]}" </dev/null >"${WORK}/${mode}.qemu.log" 2>&1 &
  qpid=$!; PIDS+=("${qpid}")
  while kill -0 "${qpid}" 2>/dev/null; do
    if [[ -z ${t_marker} ]] && grep -qa "RACKBOOT-LAB-MARKER" "${serial}" 2>/dev/null; then
      t_marker=$(date +%s.%N)
    fi
    sleep 0.2
  done
  wait "${qpid}" 2>/dev/null || true
  t_exit=$(date +%s.%N)
  [[ -z ${t_marker} ]] && grep -qa "RACKBOOT-LAB-MARKER" "${serial}" && t_marker=${t_exit}
  sleep 1; kill -INT "${cap}" 2>/dev/null; wait "${cap}" 2>/dev/null || true
  echo "=== ${mode}"
  if [[ -n ${t_marker} ]]; then
    printf 'marker after %.1f s, QEMU exited after %.1f s (%s)\n' \
      "$(echo "${t_marker} - ${t0}" | bc)" "$(echo "${t_exit} - ${t0}" | bc)" "${ACCEL}"
    grep -a "RACKBOOT-LAB-MARKER" "${serial}" | tr -d '\r' | sed 's/.*\(RACKBOOT-LAB-MARKER\)/\1/'
  else
    printf 'NO MARKER; QEMU exited after %.1f s\n' "$(echo "${t_exit} - ${t0}" | bc)"
    [[ ${LOCALBOOT:-0} == 1 ]] || FAIL=1
  fi
  echo "TFTP read requests, in order (seconds since the first one, client, file, options):"
  awk -F'\t' '$3 == 1 { printf "  %8.3f  %-13s %s  [%s=%s]\n", $1, $2, $4, $5, $6 }' \
    "${WORK}/${mode}.rrq.tsv"
  if [[ -n ${RACKBOOTD} ]]; then
    echo "rackbootd log:"
    tail -n +"$((start_line + 1))" "${DNSLOG}" | sed 's/^/  /' | head -40
    return
  fi
  echo "dnsmasq TFTP answers:"
  tail -n +"$((start_line + 1))" "${DNSLOG}" | grep -a 'dnsmasq-tftp' | sed "s|${ROOT}/||; s/^/  /"
  echo "DHCP:"
  tail -n +"$((start_line + 1))" "${DNSLOG}" | grep -aE 'DHCP(DISCOVER|OFFER|REQUEST|ACK)|vendor class|user class|client-arch|bootfile' \
    | sed 's/^[A-Za-z]* *[0-9]* [0-9:]* //; s/^/  /' | head -24
}

for m in ${MODES}; do boot "$m"; done
exit "${FAIL}"
