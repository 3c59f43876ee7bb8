#!/usr/bin/env bash
# The lab behind `./rackboot up`: a private network in a namespace, rackbootd serving
# examples/lab on it, and QEMU guests PXE-booting from it, every step printed as it happens.
#
#   lab.sh up RACKBOOTD [--uefi|--uefi-http] [--tftp-only] [--keep] [--mac=MAC]
#                                                       make the lab, boot one guest
#   lab.sh up RACKBOOTD --install [--uefi] [--hosts=N] [--until=first-package] [--keep]
#                                                       install Debian 12 on N guests' disks
#                                                       (needs RACKBOOT_MIRROR, see install_*)
#   lab.sh guest [--uefi|--uefi-http] [--mac=MAC]       boot one more guest in a kept lab
#   lab.sh down                                         stop a kept lab, remove everything
#
# Boot paths (examples/lab/site.toml): by default rackbootd serves HTTP and guests boot through
# iPXE (BIOS: the NIC's iPXE ROM; UEFI: OVMF's PXE loads snponly.efi over TFTP), which fetches
# its per-host script, the kernel and the initrd over HTTP. --tftp-only runs rackbootd without
# HTTP: PXELINUX (BIOS) or GRUB (UEFI), everything over TFTP. --uefi-http: OVMF with PXE switched
# off (fw_cfg), so its HTTP boot fetches snponly.efi by URL.
#
# `up` exits 0 when the guest printed its marker line and powered off, and (without --keep)
# removes everything it made, also on Ctrl-C or failure. Nothing leaves the namespace
# (198.18.0.0/24, RFC 2544 benchmarking space). Knobs: ACCEL (tcg|kvm, default tcg),
# BOOT_TIMEOUT (s, default 240), RACKBOOT_LAB_DIR (default ~/.cache/rackboot/lab),
# RACKBOOT_LAB_NS (the namespace, default rackboot-lab). --install: INSTALL_TIMEOUT (s, default
# 5400), RACKBOOT_LAB_MIRROR (the mirror's directory, default ~/.cache/rackboot/lab-install/repo/
# debian12), RACKBOOT_LAB_OFFLINE=1 (use that mirror as it is: no archive access),
# RACKBOOT_LAB_ARCHIVE (default http://deb.debian.org/debian, this machine's apt source),
# RACKBOOT_LAB_INVENTORY (an inventory.csv of lab-node1..N to use instead of the generated one).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Bazel runs tests without HOME: fall back to the user's home from the password database.
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
LAB_DIR=${RACKBOOT_LAB_DIR:-$HOME/.cache/rackboot/lab}
NS=${RACKBOOT_LAB_NS:-rackboot-lab}
N=(ip netns exec "$NS")
SERVER=198.18.0.1
ACCEL=${ACCEL:-tcg}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-5400}
INSTALL=0
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd

if [[ -t 1 ]]; then BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' OFF=$'\e[0m'
else BOLD='' DIM='' GREEN='' RED='' OFF=''; fi
say() { printf '%s[lab %(%H:%M:%S)T]%s %s\n' "$DIM" -1 "$OFF" "$*"; }
die() { printf '%slab: %s%s\n' "$RED" "$*" "$OFF" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "needs root (network namespace, tap device)"

PIDS=()
KEEP=0
cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [[ $KEEP -eq 0 ]]; then
    teardown
  fi
  exit "$rc"
}

teardown() {
  if ip netns list 2>/dev/null | grep -qw "$NS"; then
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS"
  fi
}

# Turns rackbootd's log lines and the guest's serial console into the steps an operator follows.
narrate() {
  # mawk (Debian's awk) reads a pipe in blocks unless told it is interactive.
  local awk=(awk)
  [[ $(readlink -f "$(command -v awk)") == */mawk ]] && awk=(mawk -W interactive)
  "${awk[@]}" -v green="$GREEN" -v dim="$DIM" -v off="$OFF" -v bold="$BOLD" '
    function seconds(d,   v) {
      if (d ~ /ms$/) { sub(/ms$/, "", d); return d / 1000 }
      if (d ~ /us$/) { sub(/us$/, "", d); return d / 1e6 }
      if (d ~ /m/) { split(d, p, "m"); sub(/s$/, "", p[2]); return p[1] * 60 + p[2] }
      sub(/s$/, "", d); return d + 0
    }
    function field(name,   i) {
      for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2)
      return ""
    }
    /dhcp DHCP(OFFER|ACK|NAK)/ {
      sub(/.*dhcp DHCP/, "")
      printf "%s  DHCP %s%s\n", bold, $0, off; fflush(); next
    }
    /tftp sent / {
      b = field("bytes"); s = seconds(field("duration")); f = field("file"); gsub(/"/, "", f)
      rate = s > 0 ? b / s / 1e6 : 0
      printf "%s  TFTP %-22s %9.1f kB in %6.3f s  (%.1f MB/s, blksize %s, windowsize %s, to %s)%s\n",
        bold, f, b / 1000, s, rate, field("blksize"), field("windowsize"),
        field("client"), off; fflush(); next
    }
    /tftp refused / {
      # ... error=1 (File not found): "grub/x86_64-efi/fs.lst": grub/...: No such file or directory
      line = substr($0, index($0, "): ") + 3)
      if (substr(line, 1, 1) == "\"") { line = substr(line, 2); line = substr(line, 1, index(line, "\"") - 1) }
      else sub(/: [^:]*$/, "", line)
      printf "%s  TFTP %-22s not here (a probe; normal)%s\n", dim, line, off; fflush(); next
    }
    /tftp FAILED .*ERROR 8 .*User aborted/ {
      # EDK2 (OVMF) PXE reads the size (tsize) first, then aborts that transfer and asks again.
      f = field("file"); gsub(/"/, "", f)
      printf "%s  TFTP %-22s size probe, aborted by the client (EDK2 does; normal)%s\n", dim, f, off
      fflush(); next
    }
    /tftp FAILED/ { printf "  TFTP FAILED %s\n", $0; fflush(); next }
    # A mirror has many files (an install fetches hundreds): one line per host for the first.
    / http GET "\/repo\// {
      c = $0; sub(/.* to /, "", c); sub(/:.*/, "", c)
      if (!(c in repo_seen)) {
        repo_seen[c] = 1
        printf "%s  HTTP /repo/...: the mirror serves %s from here on (one line per host)%s\n", dim, c, off
        fflush()
      }
      next
    }
    # The API, the page and the metrics are not boot steps.
    / http (GET|HEAD|POST) "\/(api\/|metrics|"|\?)/ { next }
    / http (GET|HEAD) / {
      # http GET "/boot/vmlinuz" 200 8155008 bytes in 1.234s to 198.18.0.21:49152 (boot file "vmlinuz")
      sub(/.* http /, "")
      t = $2; gsub(/"/, "", t); st = $3; b = $4; s = seconds($7); c = $9
      if (st == 200 || st == 206) {
        rate = s > 0 ? b / s / 1e6 : 0
        printf "%s  HTTP %-22s %9.1f kB in %6.3f s  (%.1f MB/s, %s %s, to %s)%s\n",
          bold, t, b / 1000, s, rate, $1, st, c, off
      } else {
        printf "%s  HTTP %-22s %s %s to %s%s\n", dim, t, $1, st, c, off
      }
      fflush(); next
    }
    # The one-shot install: the reports of the installer (docs/install.md).
    /\] installer: / {
      # With the time rackbootd logged it: the installer steps are minutes apart.
      t = ""
      if (match($0, /[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/)) t = substr($0, RSTART, RLENGTH) " "
      sub(/.*\] installer: /, "")
      printf "%s  %sINSTALLER %s%s\n", green, t, $0, off; fflush(); next
    }
    /RACKBOOT-LAB-MARKER/ {
      sub(/.*RACKBOOT-LAB-MARKER/, "RACKBOOT-LAB-MARKER"); gsub(/\r/, "")
      printf "%s  GUEST %s%s\n", green, $0, off; fflush(); next
    }
  '
}

make_lab() {
  local rackbootd=$1
  teardown  # a lab left over from an earlier --keep
  mkdir -p "$LAB_DIR"
  say "building the boot tree from Debian packages into $LAB_DIR/tftp"
  "$HERE/build-boot-tree.sh" "$LAB_DIR/tftp" >"$LAB_DIR/build-boot-tree.log" 2>&1 ||
    { cat "$LAB_DIR/build-boot-tree.log" >&2; die "build-boot-tree.sh failed"; }
  # Every `up` starts from the inventory's states and no leases.
  rm -rf "$LAB_DIR/state"
  mkdir -p "$LAB_DIR/state"
  say "making namespace $NS: bridge rbbr0 $SERVER/24"
  ip netns add "$NS"
  "${N[@]}" ip link set lo up
  "${N[@]}" ip link add rbbr0 type bridge forward_delay 0 stp_state 0
  "${N[@]}" ip addr add "$SERVER/24" dev rbbr0
  "${N[@]}" ip link set rbbr0 up
  local config="$HERE/site.toml"
  local extra=()
  if [[ $INSTALL -eq 1 ]]; then
    install_prepare
    config="$LAB_DIR/site-install.toml"
    say "starting rackbootd (DHCP + TFTP + HTTP on :8080, the mirror at /repo/debian12/) on rbbr0"
  elif [[ $TFTP_ONLY -eq 1 ]]; then
    # The same site without its [http] section (to the next blank line); the inventory stays
    # examples/lab's.
    config="$LAB_DIR/site-tftp-only.toml"
    sed -e '/^\[http\]$/,/^$/d' -e "s|^inventory = .*|inventory = \"$HERE/inventory.csv\"|" \
      "$HERE/site.toml" >"$config"
    say "starting rackbootd (DHCP + TFTP; --tftp-only: no HTTP) on rbbr0"
  else
    say "starting rackbootd (DHCP + TFTP + HTTP on :8080) on rbbr0"
  fi
  # A private copy: a later build must not swap the binary under a kept lab.
  mkdir -p "$LAB_DIR/bin"
  cp "$rackbootd" "$LAB_DIR/bin/rackbootd.new" && mv "$LAB_DIR/bin/rackbootd.new" "$LAB_DIR/bin/rackbootd"
  "${N[@]}" "$LAB_DIR/bin/rackbootd" --config="$config" --tftp_root="$LAB_DIR/tftp" \
    --state_dir="$LAB_DIR/state" "${extra[@]}" >"$LAB_DIR/rackbootd.out" 2>"$LAB_DIR/rackbootd.log" &
  local pid=$!
  # Up to 30 s: authoritative DHCP first probes the segment for 5 s (dhcp.probe_seconds).
  for _ in $(seq 300); do
    grep -q '^rackbootd: ready' "$LAB_DIR/rackbootd.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { tail -5 "$LAB_DIR/rackbootd.log" >&2; die "rackbootd exited"; }
    sleep 0.1
  done
  grep -q '^rackbootd: ready' "$LAB_DIR/rackbootd.out" || die "rackbootd did not get ready"
  say "$(cat "$LAB_DIR/rackbootd.out")"
  # Not in PIDS: with --keep the daemon outlives this script; teardown stops it otherwise.
  echo "$pid" >"$LAB_DIR/rackbootd.pid"
}

# boot_guest MODE MAC TAP [WANT HOST IP DISK NETBOOT]: boots one guest, narrates it, returns 0
# when it did what WANT says:
#   marker         (default) printed RACKBOOT-LAB-MARKER and powered off (--install: with HOST's
#                  name and IP)
#   installed      the installer reported done for HOST, then the guest rebooted (QEMU exits:
#                  -no-reboot); a "failed" report stops the guest at once
#   first-package  the installer reported a phase and GOT a package file from the mirror
# DISK: a disk image to attach (virtio, bootindex 2); NETBOOT=0: the NIC is not a boot device.
boot_guest() {
  local mode=$1 mac=$2 tap=$3 want=${4:-marker} host=${5:-} ip=${6:-} disk=${7:-} netboot=${8:-1}
  local serial="$LAB_DIR/$tap.serial.log" extra=() marker=0
  local from_line
  from_line=$(($(wc -l <"$LAB_DIR/rackbootd.log") + 1))
  : >"$serial"
  "${N[@]}" ip tuntap add dev "$tap" mode tap
  "${N[@]}" ip link set "$tap" master rbbr0
  "${N[@]}" ip link set "$tap" up
  # BIOS: SeaBIOS has no network stack; the NIC's option ROM (QEMU's iPXE) does the network boot,
  # as iPXE: it is answered with its script at once. UEFI: no option ROM (romfile=), so OVMF's own
  # virtio-net driver and PXE (or HTTP boot) stack boot, as a server's UEFI firmware does: PXE
  # loads iPXE (snponly.efi) over TFTP, which asks DHCP again and gets its script.
  local nic="virtio-net-pci,netdev=n0,mac=$mac"
  [[ $netboot -eq 1 ]] && nic+=",bootindex=1"
  if [[ -n $disk ]]; then
    extra+=(-drive "if=none,id=d0,format=qcow2,file=$disk" -device "virtio-blk-pci,drive=d0,bootindex=2")
  fi
  if [[ $netboot -eq 0 && $mode == bios ]]; then
    nic+=",romfile="  # no iPXE ROM: SeaBIOS boots the disk
  fi
  if [[ $mode == uefi || $mode == uefi-http ]]; then
    nic+=",romfile="
    cp "$OVMF_VARS" "$LAB_DIR/$tap.OVMF_VARS.fd"
    extra+=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE"
            -drive "if=pflash,format=raw,file=$LAB_DIR/$tap.OVMF_VARS.fd")
  fi
  if [[ $mode == uefi-http ]]; then
    # Debian's OVMF has HttpBootDxe, and makes a "UEFI HTTPv4" boot option for the NIC after its
    # PXE ones. Its fw_cfg knobs switch PXE (v4, v6) and the IPv6 stack off, so HTTPv4 is the
    # NIC's only boot option: DHCP with vendor class HTTPClient, arch 16, then a GET of the URL.
    extra+=(-fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=no
            -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no
            -fw_cfg name=opt/org.tianocore/IPv6Support,string=no)
  fi
  local from="from the network" timeout=$BOOT_TIMEOUT mem=512
  [[ $netboot -eq 0 ]] && from="from its disk alone (the NIC is no boot device)"
  [[ $want == installed || $want == first-package ]] && timeout=$INSTALL_TIMEOUT
  # The installer holds its tools and indexes in RAM.
  local smp=1
  [[ $INSTALL -eq 1 ]] && mem=1024
  # One guest may use both vCPUs (multi-threaded TCG); several share the host's cores.
  [[ $INSTALL -eq 1 && $HOSTS -eq 1 ]] && smp=2
  say "booting a ${mode^^} guest${host:+ ($host)}, MAC $mac, $from (QEMU, $ACCEL; serial: $serial)"
  local t0=$SECONDS
  # 512 MiB: GRUB under OVMF runs out of memory loading the kernel with 256.
  "${N[@]}" timeout "$timeout" qemu-system-x86_64 -accel "$ACCEL" -m "$mem" -smp "$smp" -nographic \
    -display none -monitor none -no-reboot \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
    -device "$nic" \
    -serial "file:$serial" "${extra[@]}" </dev/null >"$LAB_DIR/$tap.qemu.log" 2>&1 &
  local qemu=$!
  PIDS+=("$qemu")
  # The narrators follow the logs until QEMU is gone (tail --pid), so nothing outlives the boot.
  # --install narrates rackbootd's log once for all guests (install_narrator).
  local narrator=
  if [[ $INSTALL -eq 0 ]]; then
    tail -n 0 -F --pid="$qemu" "$LAB_DIR/rackbootd.log" 2>/dev/null | narrate &
    narrator=$!
  fi
  tail -n +1 -F --pid="$qemu" "$serial" 2>/dev/null | narrate &
  local console=$!
  local outcome=
  while kill -0 "$qemu" 2>/dev/null; do
    if [[ -n $host ]]; then
      outcome=$(install_outcome "$want" "$host" "$ip" "$from_line")
      if [[ -n $outcome ]]; then
        [[ $outcome == failed* || $want == first-package ]] && kill "$qemu" 2>/dev/null
        [[ $outcome == failed* || $want == first-package ]] && break
      fi
    fi
    sleep 2
  done
  wait "$qemu" 2>/dev/null || true
  [[ -n $narrator ]] && wait "$narrator" 2>/dev/null
  wait "$console" 2>/dev/null || true
  "${N[@]}" ip link del "$tap" 2>/dev/null || true
  if [[ -n $host && $want != marker ]]; then
    [[ -z $outcome ]] && outcome=$(install_outcome "$want" "$host" "$ip" "$from_line")
    if [[ $outcome == ok* ]]; then
      say "${GREEN}$host: ${outcome#ok } after $((SECONDS - t0)) s${OFF}"
      return 0
    fi
    say "${RED}$host: ${outcome:-no result (timeout ${timeout} s or the guest stopped)} after $((SECONDS - t0)) s (serial: $serial)${OFF}"
    return 1
  fi
  if [[ -n $host ]]; then
    # The marker must be this host's own, with its inventory address.
    grep -qa "RACKBOOT-LAB-MARKER installed host=$host ip=$ip/" "$serial" && marker=1
  else
    grep -qa 'RACKBOOT-LAB-MARKER' "$serial" && marker=1
  fi
  if [[ $marker -eq 1 ]]; then
    say "${GREEN}guest printed its marker and powered off after $((SECONDS - t0)) s${OFF}"
    return 0
  fi
  say "${RED}no marker${host:+ with host=$host ip=$ip/...} from the guest after $((SECONDS - t0)) s (serial: $serial)${OFF}"
  return 1
}

source "$HERE/install-lab.sh"

parse_guest_flags() {
  MODE=bios
  MAC=52:54:00:c6:12:01
  TFTP_ONLY=0
  INSTALL=0
  HOSTS=1
  UNTIL=installed
  for arg in "$@"; do
    case $arg in
      --install) INSTALL=1 ;;
      --hosts=*) HOSTS=${arg#--hosts=} ;;
      --until=first-package) UNTIL=first-package ;;
      --uefi) MODE=uefi ;;
      --uefi-http) MODE=uefi-http ;;
      --bios) MODE=bios ;;
      --tftp-only) TFTP_ONLY=1 ;;
      --keep) KEEP=1 ;;
      --mac=*) MAC=${arg#--mac=} ;;
      *) die "unknown option '$arg' (see ./rackboot help)" ;;
    esac
  done
}

main() {
  local command=${1:-}
  shift || true
  case $command in
    up)
      local rackbootd=${1:?rackbootd path}
      shift
      parse_guest_flags "$@"
      [[ $TFTP_ONLY -eq 1 && $MODE == uefi-http ]] &&
        die "--uefi-http boots from an HTTP URL: it cannot be --tftp-only"
      if [[ $INSTALL -eq 1 ]]; then
        [[ $TFTP_ONLY -eq 0 && $MODE != uefi-http ]] || die "--install boots through iPXE and HTTP: not with --tftp-only or --uefi-http"
        [[ $HOSTS =~ ^[1-8]$ ]] || die "--hosts=N: N from 1 to 8 (each guest takes 1 GiB and a share of the CPU)"
      else
        [[ $HOSTS -eq 1 && $UNTIL == installed ]] || die "--hosts and --until go with --install"
      fi
      trap cleanup EXIT
      trap 'exit 130' INT TERM
      make_lab "$rackbootd"
      local rc=0
      if [[ $INSTALL -eq 1 ]]; then
        install_run || rc=1
      else
        boot_guest "$MODE" "$MAC" tap0 || rc=1
      fi
      if [[ $KEEP -eq 1 ]]; then
        cat <<EOF

The lab keeps running (rackbootd pid $(cat "$LAB_DIR/rackbootd.pid"), namespace $NS).
  ./rackboot hosts                      hosts, states and live bring-up phase (its API)
  ./rackboot arm lab-node3              arm a host (the daemon applies it at once)
  ./rackboot guest [--uefi|--uefi-http] [--mac=52:54:00:c6:12:03]   boot one more guest
  ./rackboot down                       stop rackbootd, remove the namespace
  logs: $LAB_DIR/rackbootd.log, serial consoles: $LAB_DIR/*.serial.log
EOF
      fi
      return "$rc"
      ;;
    guest)
      KEEP=1
      parse_guest_flags "$@"
      [[ $TFTP_ONLY -eq 0 ]] || die "--tftp-only is a property of the lab: give it to up"
      ip netns list | grep -qw "$NS" || die "no lab is running: ./rackboot up --keep first"
      local tap="tap$((RANDOM % 900 + 100))"
      boot_guest "$MODE" "$MAC" "$tap"
      ;;
    down)
      teardown
      say "lab removed"
      ;;
    mirror)
      # The --install mirror alone (./rackboot test makes it before the install tests run).
      install_mirror
      ;;
    *)
      die "usage: lab.sh up RACKBOOTD [--uefi|--uefi-http] [--tftp-only] [--keep] [--mac=MAC] | guest [--uefi|--uefi-http] [--mac=MAC] | down"
      ;;
  esac
}

main "$@"
