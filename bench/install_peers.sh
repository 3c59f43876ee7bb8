#!/usr/bin/env bash
# bench/install_peers.sh: the lab's Debian 12 install (`./rackboot up --install`) served once by
# rackbootd and once by dnsmasq (DHCP + TFTP) + nginx (HTTP), the same guest, preseed and mirror,
# timed phase by phase in one run. Run as root; usually through `./rackboot bench install`.
#
# Both sides:
#   - the same namespace layout as examples/lab/lab.sh (bridge rbbr0 198.18.0.1/24, one tap), made
#     by this script (namespace rb-inst-<pid>), nothing leaves it;
#   - the same boot tree (examples/lab/build-boot-tree.sh plus install-lab.sh's debian12/ files),
#     the same mirror (RACKBOOT_LAB_MIRROR, default ~/.cache/rackboot/lab-install/repo/debian12,
#     served at /repo/debian12/; used as it is when it exists, else made by install-lab.sh's
#     install_mirror from this machine's apt archive), its files read into the page cache first;
#   - the same QEMU command line as lab.sh's install boot (BIOS, TCG, 1 GiB, 2 vCPUs, the NIC's
#     iPXE ROM, MAC 52:54:00:c6:12:01, a blank 8 GiB qcow2 disk);
#   - the same bytes: before the runs, rackbootd (on a throwaway copy of its state) serves the
#     host's iPXE script and preseed to curl from the host's address 198.18.0.21; nginx serves
#     exactly those files at the same URLs (same server address and port, same token).
# The peer: dnsmasq with a static host for the MAC (router, DNS, domain), boot file undionly.kpxe
# over its TFTP for a PXE ROM that is not iPXE, and for iPXE (user class "iPXE" or option 175) the
# script's HTTP URL; nginx on 198.18.0.1:8080 with /boot/ (the boot tree), /repo/ (the mirror's
# parent) and /install/<token>/preseed.cfg as static files. The installer's POSTs to /api/ get 405
# from nginx, which the installer ignores (`|| true`): the peer has no API, so its "first report"
# is the GET of di-debootstrap-install.sh, which the early_command does right after its report.
#
# Times are seconds from QEMU's start, taken from rackbootd's log (glog, microseconds), dnsmasq's
# log (stderr, stamped on arrival with microseconds) and nginx's access log ($msec); an HTTP line
# is written when the response is complete, on both sides.
#
# Options:
#   --full     also the rest: the base system (rackbootd: the installer's report of the step after
#              debootstrap), install done (rackbootd: the installer's done; both: QEMU's exit on
#              the reboot) and a second network boot to the installed system's marker (rackbootd
#              and the peer answer iPXE with rackbootd's local-disk script, `exit 1`). Long: each
#              install takes tens of minutes under TCG.
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment: RACKBOOT_BENCH_REPS (1: runs per side, alternating which side goes first; the
#   table shows the median and the range), RACKBOOT_BENCH_KEEP_LOGS (a directory: keep the raw
#   logs there), ACCEL (tcg), INSTALL_TIMEOUT (s, 900 without --full, 5400 with), RACKBOOT_LAB_MIRROR,
#   RACKBOOT_LAB_OFFLINE (1 when the mirror exists), RACKBOOT_LAB_ARCHIVE.
set -euo pipefail

BENCH_TAG=install_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FULL=0
WRITE_DOC=1
for a in "$@"; do
  case $a in
    --full) FULL=1 ;;
    --no-doc) WRITE_DOC=0 ;;
    *) die "unknown option '$a' (--full, --no-doc)" ;;
  esac
done

# One QEMU install at a time on this machine, with every other namespace test: the global lock,
# taken here unless the caller holds it already (RACKBOOT_EXCLUSIVE_HELD=1).
if [[ ${RACKBOOT_EXCLUSIVE_HELD:-0} != 1 ]]; then
  log "waiting for /tmp/rackboot-exclusive.lock"
  RACKBOOT_EXCLUSIVE_HELD=1 exec flock /tmp/rackboot-exclusive.lock "$0" "$@"
fi

bench_require ip qemu-system-x86_64 qemu-img dnsmasq nginx curl perl bazel
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ftp_proxy no_proxy
bench_init
# Say why the run ends early: a failing command (functions too: -E) or a signal.
set -E
trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR
trap 'log "interrupted (SIGINT)"; exit 130' INT
trap 'log "terminated (SIGTERM)"; exit 143' TERM
trap 'log "hung up (SIGHUP)"; exit 129' HUP

ACCEL=${ACCEL:-tcg}
if [[ $FULL -eq 1 ]]; then INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-5400}; else INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-900}; fi
MARKER_TIMEOUT=${MARKER_TIMEOUT:-300}
REPS=${RACKBOOT_BENCH_REPS:-1}
[[ $REPS =~ ^[1-9]$ ]] || die "RACKBOOT_BENCH_REPS: 1 to 9"
MAC=52:54:00:c6:12:01
MAC_DASH=01-52-54-00-c6-12-01
HOST=lab-node1
IP=198.18.0.21
SERVER=198.18.0.1
NS=rb-inst-$$
N=(ip netns exec "$NS")
# dnsmasq, nginx and QEMU live in the namespace: whatever is left there goes with it.
bench_on_cleanup() {
  local p
  if ip netns list 2>/dev/null | grep -qw "$NS"; then
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  fi
}
T_START=$SECONDS

# rackboot-mirror only when the mirror must be made (install-lab.sh's install_mirror).
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
_mirror=${RACKBOOT_LAB_MIRROR:-$HOME/.cache/rackboot/lab-install/repo/debian12}
if [[ -z ${RACKBOOT_LAB_OFFLINE:-} && -f $_mirror/.rackboot-manifest.json ]]; then
  export RACKBOOT_LAB_OFFLINE=1
fi
if [[ ${RACKBOOT_LAB_OFFLINE:-0} == 1 ]]; then
  BIN=$(bench_build //engine:rackbootd)
  export RACKBOOT_MIRROR=/bin/true # not run: the mirror is used as it is
else
  BIN=$(bench_build //engine:rackbootd //tools/mirror:rackboot-mirror)
  export RACKBOOT_MIRROR="$BIN/tools/mirror/rackboot-mirror"
fi
WORK=$(bench_workdir install-bench)
bench_track_dir "$WORK"
mkdir -p "$WORK/bin" "$WORK/peer/ipxe" "$WORK/peer/nginx/tmp"
RBD=$(bench_copy_binary "$BIN/engine/rackbootd" "$WORK/bin")
RB_COMMIT=$(bench_commit engine tools/installer examples/lab)

# examples/lab/install-lab.sh's mirror, boot files and site (it is a library of lab.sh's; these
# are the names it uses from there).
HERE=$ROOT/examples/lab
LAB_DIR=$WORK/lab
HOSTS=1
say() { log "$*"; }
# shellcheck source=examples/lab/install-lab.sh
source "$HERE/install-lab.sh"
mkdir -p "$LAB_DIR"
log "building the boot tree (examples/lab/build-boot-tree.sh)"
"$HERE/build-boot-tree.sh" "$LAB_DIR/tftp" >"$LAB_DIR/build-boot-tree.log" 2>&1 ||
  die "build-boot-tree.sh failed: $(tail -n 5 "$LAB_DIR/build-boot-tree.log")"
install_prepare
MIRROR_PARENT=$(dirname "$LAB_MIRROR")
MIRROR_FILES=$(find "$LAB_MIRROR" -type f | wc -l)
MIRROR_MB=$(($(du -sb "$LAB_MIRROR" | cut -f1) / 1000000))
log "reading the boot tree and the mirror ($MIRROR_FILES files, $MIRROR_MB MB) into the page cache"
find "$LAB_DIR/tftp" "$LAB_MIRROR" -type f -exec cat {} + >/dev/null

log "making namespace $NS: bridge rbbr0 $SERVER/24"
bench_netns "$NS"
"${N[@]}" ip link add rbbr0 type bridge forward_delay 0 stp_state 0
"${N[@]}" ip addr add "$SERVER/24" dev rbbr0
"${N[@]}" ip link set rbbr0 up

# start_rackbootd STATE_DIR LOG: rackbootd on the lab's install site; waits for "ready".
start_rackbootd() {
  local state=$1 out=$2
  "${N[@]}" "$RBD" --config="$LAB_DIR/site-install.toml" --tftp_root="$LAB_DIR/tftp" \
    --state_dir="$state" >"$out.out" 2>"$out" &
  SERVER_PID=$!
  local _
  for _ in $(seq 300); do
    grep -q '^rackbootd: ready' "$out.out" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || die "rackbootd exited: $(tail -n 5 "$out")"
    sleep 0.1
  done
  die "rackbootd did not get ready: $(tail -n 5 "$out")"
}

# The host's iPXE script and preseed, as rackbootd serves them to the host, from a throwaway copy
# of the state its first start made (the token is in it): the measured run starts from the same
# state, so its token, script and preseed are these.
mkdir -p "$WORK/state0"
chown nobody: "$WORK/state0" 2>/dev/null || true
start_rackbootd "$WORK/state0" "$WORK/rackbootd-init.log"
stop_server
cp -a "$WORK/state0" "$WORK/state-render"
start_rackbootd "$WORK/state-render" "$WORK/rackbootd-render.log"
# The host's side: a second namespace on the bridge (veth) with the host's address, there only
# while no guest is.
NSC=$NS-c
host_up() {
  bench_netns "$NSC"
  ip link add rbh0 type veth peer name rbh1
  ip link set rbh0 netns "$NS"
  ip link set rbh1 netns "$NSC"
  "${N[@]}" ip link set rbh0 master rbbr0
  "${N[@]}" ip link set rbh0 up
  ip -n "$NSC" addr add "$IP/24" dev rbh1
  ip -n "$NSC" link set rbh1 up
}
host_down() { ip netns del "$NSC"; }
fetch_as_host() { ip netns exec "$NSC" curl -fsS -m 20 -o "$2" "http://$SERVER:8080$1"; }
host_up
fetch_as_host "/boot/ipxe/$MAC_DASH.ipxe" "$WORK/peer/ipxe/$MAC_DASH.ipxe" ||
  die "rackbootd did not serve the host's iPXE script"
PRESEED_PATH=$(grep -o "/install/[^ ]*/preseed.cfg" "$WORK/peer/ipxe/$MAC_DASH.ipxe" | head -n 1)
[[ -n $PRESEED_PATH ]] || die "no /install/.../preseed.cfg in the iPXE script: $(cat "$WORK/peer/ipxe/$MAC_DASH.ipxe")"
mkdir -p "$WORK/peer$(dirname "$PRESEED_PATH")"
fetch_as_host "$PRESEED_PATH" "$WORK/peer$PRESEED_PATH" || die "rackbootd did not serve the preseed"
host_down
stop_server
# What rackbootd answers an installed host (--full's second boot on the peer): its local-disk
# iPXE script, from the same state with the host marked installed.
LOCAL_SCRIPT=$WORK/peer/local.ipxe
if [[ $FULL -eq 1 ]]; then
  cp -a "$WORK/state0" "$WORK/state-local"
  sed -i "s/^$HOST\tinstall\t.*/$HOST\tinstalled\t$(date +%s)/" "$WORK/state-local/host-states.tsv"
  chown --reference="$WORK/state0" "$WORK/state-local/host-states.tsv"
  start_rackbootd "$WORK/state-local" "$WORK/rackbootd-local.log"
  host_up
  fetch_as_host "/boot/ipxe/$MAC_DASH.ipxe" "$LOCAL_SCRIPT" || die "no local-disk iPXE script"
  host_down
  stop_server
  grep -q '^exit' "$LOCAL_SCRIPT" || log "note: rackbootd's local-disk script has no exit line: $(cat "$LOCAL_SCRIPT")"
fi
IPXE_BYTES=$(stat -c %s "$WORK/peer/ipxe/$MAC_DASH.ipxe")
PRESEED_BYTES=$(stat -c %s "$WORK/peer$PRESEED_PATH")
log "iPXE script ($IPXE_BYTES bytes) and preseed ($PRESEED_BYTES bytes) as rackbootd serves them to $HOST"

# boot_guest SIDE DIR DISK WANT TAG: one QEMU guest (lab.sh's install command line); writes
# DIR/TAG.t0 (QEMU's start, epoch seconds) and DIR/TAG.end, and returns when WANT happened
# (first-package: done_SIDE DIR succeeds; marker: the installed system's marker on the serial
# console; installed: QEMU exited, on the reboot), or on the timeout.
boot_guest() {
  local side=$1 dir=$2 disk=$3 want=$4 tag=$5 timeout=$INSTALL_TIMEOUT
  [[ $want == marker ]] && timeout=$MARKER_TIMEOUT
  local serial=$dir/$tag.serial.log
  : >"$serial"
  "${N[@]}" ip tuntap add dev tap1 mode tap
  "${N[@]}" ip link set tap1 master rbbr0
  "${N[@]}" ip link set tap1 up
  date +%s.%N >"$dir/$tag.t0"
  "${N[@]}" timeout "$timeout" qemu-system-x86_64 -accel "$ACCEL" -m 1024 -smp 2 -nographic \
    -display none -monitor none -no-reboot \
    -netdev "tap,id=n0,ifname=tap1,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=n0,mac=$MAC,bootindex=1" \
    -serial "file:$serial" \
    -drive "if=none,id=d0,format=qcow2,file=$disk" -device "virtio-blk-pci,drive=d0,bootindex=2" \
    </dev/null >"$dir/$tag.qemu.log" 2>&1 &
  local qemu=$!
  bench_track_pid "$qemu"
  while kill -0 "$qemu" 2>/dev/null; do
    if [[ $want == marker ]] && grep -qa "RACKBOOT-LAB-MARKER installed host=$HOST" "$serial"; then
      date +%s.%N >"$dir/$tag.marker"
      break
    fi
    if [[ $want == first-package ]] && "done_$side" "$dir"; then break; fi
    sleep 0.5
  done
  kill "$qemu" 2>/dev/null || true
  wait "$qemu" 2>/dev/null || true
  date +%s.%N >"$dir/$tag.end"
  "${N[@]}" ip link del tap1 2>/dev/null || true
}

# What else the machine is doing when a side starts (the guest's CPU is most of every figure).
note_load() {
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(($(pgrep -c qemu-system || true) + 0)) other QEMU process(es)" >"$1/load"
}

# ---------------------------------------------------------------------------------------------
# rackbootd. run_rackbootd DIR: one install boot (and with --full the marker boot) from a fresh
# copy of the state (same token) and a blank disk; rackbootd's log is DIR/rackbootd.log.
done_rackbootd() {
  grep -qE "http GET \"/repo/debian12/pool/[^\"]+\" 200 .* to $IP:" "$1/rackbootd.log"
}
run_rackbootd() {
  local dir=$1
  mkdir -p "$dir"
  rm -rf "$dir/state"
  cp -a "$WORK/state0" "$dir/state"
  log "rackbootd: starting (DHCP + TFTP + HTTP on :8080, the mirror at /repo/debian12/)"
  start_rackbootd "$dir/state" "$dir/rackbootd.log"
  qemu-img create -q -f qcow2 "$dir/disk.qcow2" 8G
  note_load "$dir"
  log "rackbootd: booting the guest (QEMU $ACCEL), up to $([[ $FULL -eq 1 ]] && echo "its marker after the install" || echo "the first pool package")"
  if [[ $FULL -eq 1 ]]; then
    boot_guest rackbootd "$dir" "$dir/disk.qcow2" installed install
    log "rackbootd: second network boot, to the installed system's marker"
    boot_guest rackbootd "$dir" "$dir/disk.qcow2" marker marker
  else
    boot_guest rackbootd "$dir" "$dir/disk.qcow2" first-package install
  fi
  stop_server
}

# ---------------------------------------------------------------------------------------------
# dnsmasq + nginx. run_peer DIR: the same, dnsmasq's log DIR/dnsmasq.log, nginx's DIR/access.log.
PEER=$WORK/peer
done_peer() {
  grep -qE "\"GET /repo/debian12/pool/[^\"]+\" 200 [0-9]+ $IP\$" "$1/access.log"
}
run_peer() {
  local dir=$1
  mkdir -p "$dir/nginx/tmp"
  cp "$WORK/peer/install.ipxe" "$PEER/ipxe/$MAC_DASH.ipxe"
  cat >"$dir/dnsmasq.conf" <<EOF
# DHCP and TFTP only (port=0: no DNS), on the lab bridge.
port=0
interface=rbbr0
bind-interfaces
dhcp-authoritative
dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,1h
dhcp-host=$MAC,$IP,$HOST
dhcp-option=option:router,$SERVER
dhcp-option=option:dns-server,$SERVER
dhcp-option=option:domain-name,lab.rackboot.test
dhcp-leasefile=$dir/dnsmasq.leases
# iPXE (user class "iPXE", or its option 175) gets its script's URL; any other PXE ROM gets iPXE.
dhcp-userclass=set:ipxe,iPXE
dhcp-match=set:ipxe,175
dhcp-boot=tag:ipxe,http://$SERVER:8080/boot/ipxe/$MAC_DASH.ipxe
dhcp-boot=tag:!ipxe,undionly.kpxe,,$SERVER
enable-tftp
tftp-root=$LAB_DIR/tftp
log-dhcp
EOF
  cat >"$dir/nginx.conf" <<EOF
user root root;
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log info;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  log_format bench '\$msec "\$request" \$status \$body_bytes_sent \$remote_addr';
  access_log $dir/access.log bench;
  client_body_temp_path $dir/nginx/tmp/body;
  proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi;
  uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  server {
    listen $SERVER:8080;
    location /boot/ipxe/ { alias $PEER/ipxe/; }
    location /boot/ { alias $LAB_DIR/tftp/; }
    location /repo/ { alias $MIRROR_PARENT/; }
    location /install/ { alias $PEER/install/; }
  }
}
EOF
  : >"$dir/access.log"
  : >"$dir/dnsmasq.log"
  log "peer: starting dnsmasq $(version_of dnsmasq-base) (DHCP + TFTP) and nginx $(version_of nginx-light) (HTTP on :8080)"
  "${N[@]}" nginx -c "$dir/nginx.conf" -e "$dir/nginx/error.log" 2>"$dir/nginx/stderr.log" &
  bench_track_pid $!
  # dnsmasq's log file has whole seconds only: its stderr, stamped with microseconds on arrival.
  "${N[@]}" dnsmasq -k -C "$dir/dnsmasq.conf" --log-facility=- 2>&1 |
    perl -MTime::HiRes=time -ne '$| = 1; printf "%.6f %s", time, $_' >"$dir/dnsmasq.log" &
  bench_track_pid $!
  local _
  for _ in $(seq 100); do
    "${N[@]}" curl -fsS -o /dev/null "http://$SERVER:8080/boot/debian12/linux" 2>/dev/null && break
    sleep 0.1
  done
  : >"$dir/access.log"
  for _ in $(seq 50); do
    grep -q "DHCP, IP range" "$dir/dnsmasq.log" && break
    sleep 0.1
  done
  grep -q "DHCP, IP range" "$dir/dnsmasq.log" || die "dnsmasq did not start: $(cat "$dir/dnsmasq.log")"
  qemu-img create -q -f qcow2 "$dir/disk.qcow2" 8G
  note_load "$dir"
  log "peer: booting the guest"
  if [[ $FULL -eq 1 ]]; then
    boot_guest peer "$dir" "$dir/disk.qcow2" installed install
    # What rackbootd does on "done": the host's script becomes the local-disk one.
    cp "$LOCAL_SCRIPT" "$PEER/ipxe/$MAC_DASH.ipxe"
    log "peer: second network boot (iPXE script: rackbootd's local-disk one), to the marker"
    boot_guest peer "$dir" "$dir/disk.qcow2" marker marker
  else
    boot_guest peer "$dir" "$dir/disk.qcow2" first-package install
  fi
  # Stop both before the next side binds the same ports.
  local p
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    [[ -z $(ip netns pids "$NS" 2>/dev/null) ]] && break
    sleep 0.1
  done
}

cp "$PEER/ipxe/$MAC_DASH.ipxe" "$PEER/install.ipxe"
# Repetitions alternate the order (rackbootd first, then the peer first, ...), so neither side
# always runs on a machine the other has just warmed or loaded.
for ((r = 1; r <= REPS; r++)); do
  log "repetition $r of $REPS"
  if ((r % 2 == 1)); then
    run_rackbootd "$WORK/r$r/rackbootd"
    run_peer "$WORK/r$r/peer"
  else
    run_peer "$WORK/r$r/peer"
    run_rackbootd "$WORK/r$r/rackbootd"
  fi
done

# ---------------------------------------------------------------------------------------------
# The phases, per repetition: seconds after QEMU's start, or empty.
since() { if [[ -n ${2:-} ]]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; fi; }
# rb_at LOG ERE: the glog time (local) of LOG's first line matching ERE, as epoch seconds.
rb_at() {
  local line
  line=$(grep -m1 -E "$2" "$1" || true)
  [[ -n $line ]] || return 0
  local d t s
  d=$(cut -c2-9 <<<"$line")
  t=$(awk '{ print $2 }' <<<"$line")
  s=$(date -d "${d:0:4}-${d:4:2}-${d:6:2} ${t%.*}" +%s)
  echo "$s.${t#*.}"
}
first_at() { awk -v re="$2" '$0 ~ re { print $1; exit }' "$1"; } # dnsmasq's and nginx's logs
declare -A HTTP_PATH
HTTP_PATH[ipxe]="/boot/ipxe/$MAC_DASH.ipxe"
HTTP_PATH[kernel]="/boot/debian12/linux"
HTTP_PATH[initrd]="/boot/debian12/initrd.gz"
HTTP_PATH[preseed]="/install/[^\"]*/preseed.cfg"
HTTP_PATH[script]="/boot/debian12/di-debootstrap-install.sh"
HTTP_PATH[inrelease]="/repo/debian12/dists/bookworm/InRelease"
HTTP_PATH[pool]="/repo/debian12/pool/[^\"]+"
declare -A RB PE # RB[phase,rep], PE[phase,rep]: seconds
for ((r = 1; r <= REPS; r++)); do
  d=$WORK/r$r/rackbootd
  t0=$(cat "$d/install.t0")
  log_rb=$d/rackbootd.log
  RB[dhcp,$r]=$(since "$t0" "$(rb_at "$log_rb" "dhcp DHCPACK $IP to $MAC")")
  for k in ipxe kernel initrd preseed script inrelease pool; do
    RB[$k,$r]=$(since "$t0" "$(rb_at "$log_rb" "http GET \"${HTTP_PATH[$k]}\" 200 .* to $IP:")")
  done
  RB[report,$r]=$(since "$t0" "$(rb_at "$log_rb" "installer: $HOST installing")")
  p=$WORK/r$r/peer
  pt0=$(cat "$p/install.t0")
  PE[dhcp,$r]=$(since "$pt0" "$(first_at "$p/dnsmasq.log" "DHCPACK\\(rbbr0\\) $IP $MAC")")
  for k in ipxe kernel initrd preseed script inrelease pool; do
    PE[$k,$r]=$(since "$pt0" "$(first_at "$p/access.log" "\"GET ${HTTP_PATH[$k]} HTTP/1\\.[01]\" 200 [0-9]+ $IP\$")")
  done
  if [[ $FULL -eq 1 ]]; then
    RB[base,$r]=$(since "$t0" "$(rb_at "$log_rb" "installer: $HOST installing: configuring the network")")
    RB[done,$r]=$(since "$t0" "$(rb_at "$log_rb" "installer: $HOST done")")
    RB[exit,$r]=$(since "$t0" "$(cat "$d/install.end")")
    PE[exit,$r]=$(since "$pt0" "$(cat "$p/install.end")")
    RB[marker,$r]=$(since "$(cat "$d/marker.t0")" "$(cat "$d/marker.marker" 2>/dev/null || true)")
    PE[marker,$r]=$(since "$(cat "$p/marker.t0")" "$(cat "$p/marker.marker" 2>/dev/null || true)")
  fi
done
R1=$WORK/r1
FIRST_POOL=$(grep -m1 -oE "http GET \"/repo/debian12/pool/[^\"]+\" 200" "$R1/rackbootd/rackbootd.log" | cut -d'"' -f2 || true)
# The bytes: nginx logs the body it sent; rackbootd's log counts its response headers too.
PE_IPXE_BODY=$(awk -v re="\"GET ${HTTP_PATH[ipxe]} HTTP" '$0 ~ re { print $(NF - 1); exit }' "$R1/peer/access.log")
PE_PRESEED_BODY=$(awk -v re="\"GET ${HTTP_PATH[preseed]} HTTP" '$0 ~ re { print $(NF - 1); exit }' "$R1/peer/access.log")
PE_405=$(grep -c '"POST /api/[^"]*" 405' "$R1/peer/access.log" || true)

# cell KEY SIDE: one run's figure, or "median (min–max)" over the repetitions; "–" when missing.
cell() {
  local k=$1 side=$2 r v vals=()
  for ((r = 1; r <= REPS; r++)); do
    if [[ $side == rb ]]; then v=${RB[$k,$r]:-}; else v=${PE[$k,$r]:-}; fi
    [[ -n $v ]] && vals+=("$v")
  done
  if [[ ${#vals[@]} -eq 0 ]]; then echo "–"; return; fi
  printf '%s\n' "${vals[@]}" | sort -g | awk -v n="$REPS" '
    { v[NR] = $1 }
    END {
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      if (NR == 1) printf "%.1f", m; else printf "%.1f (%.1f–%.1f)", m, v[1], v[NR]
      if (NR < n) printf ", %d of %d runs", NR, n
    }'
}
row() { printf '| %s | %s | %s | %s |\n' "$1" "$(cell "$2" rb)" "$(cell "$2" pe)" "${3:-}"; }
loads() { local r; for ((r = 1; r <= REPS; r++)); do printf '%s' "run $r: rackbootd side $(cat "$WORK/r$r/rackbootd/load"), peer side $(cat "$WORK/r$r/peer/load")$([[ $r -lt $REPS ]] && echo "; ")"; done; }
T_TOTAL=$((SECONDS - T_START))
CMD="./rackboot bench install"
[[ $FULL -eq 1 ]] && CMD+=" --full"
[[ $REPS -ne 1 ]] && CMD="RACKBOOT_BENCH_REPS=$REPS $CMD"
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`$CMD\` (bench/install_peers.sh, $T_TOTAL s in all)."
  echo
  echo "- Machine: $(machine_desc); QEMU $(version_of qemu-system-x86), accel $ACCEL (no KVM); one guest: BIOS (SeaBIOS + the NIC's iPXE ROM), 1 GiB, 2 vCPUs, virtio NIC, a blank 8 GiB qcow2 disk; lab.sh's install command line on both sides. When each side started: $(loads)."
  echo "- rackbootd: commit $RB_COMMIT, \`bazel build -c opt\`, examples/lab/site.toml with install-lab.sh's profile debian12, as \`./rackboot up --install\`. Peer: dnsmasq $(version_of dnsmasq-base) (DHCP with a static host, router, DNS, domain; the script's URL for iPXE clients; TFTP) and nginx $(version_of nginx-light) (sendfile, static files) on the same address and port, 198.18.0.1:8080."
  echo "- Same bytes: nginx served rackbootd's iPXE script for this host ($IPXE_BYTES bytes; nginx logged a body of ${PE_IPXE_BODY:-?}) and its preseed ($PRESEED_BYTES bytes; body ${PE_PRESEED_BODY:-?}), fetched from rackbootd by curl from the host's address with the same token; the boot tree and the mirror ($MIRROR_FILES files, $MIRROR_MB MB, in the page cache) are the same directories."
  echo "- The peer has no API: the installer's $PE_405 POSTs to /api/ got 405 from nginx and the installer went on (\`|| true\`); the GET of di-debootstrap-install.sh, which the early_command makes right after its first report, is the comparable row."
  if [[ $REPS -gt 1 ]]; then
    echo "- $REPS runs per side, alternating which side goes first; median (min–max) in each cell."
  fi
  echo
  echo "| s after QEMU's start | rackbootd | dnsmasq + nginx | notes |"
  echo "|---|---:|---:|---|"
  row "DHCP ACK" dhcp "iPXE's DHCP (the NIC ROM)"
  row "iPXE script served" ipxe ""
  row "kernel fetched" kernel "debian12/linux, $(($(stat -c %s "$LAB_DIR/tftp/debian12/linux") / 1000)) kB"
  row "initrd fetched" initrd "debian12/initrd.gz, $(($(stat -c %s "$LAB_DIR/tftp/debian12/initrd.gz") / 1000)) kB"
  row "preseed fetched" preseed "d-i has booted its kernel and brought up its network"
  row "installer's first report" report "early_command's POST .../phase; rackbootd only"
  row "di-debootstrap-install.sh fetched" script "right after that report, on both sides"
  row "mirror InRelease" inrelease ""
  row "first pool package" pool "${FIRST_POOL#/repo/debian12/}"
  if [[ $FULL -eq 1 ]]; then
    row "base system done" base "the installer's report of the step after debootstrap; rackbootd only"
    row "install done (reported)" "done" "rackbootd only"
    row "install done (QEMU exits on the reboot)" exit ""
    row "second boot: the installed system's marker (s after that QEMU's start)" marker "local-disk answer (iPXE exit 1), then the disk"
  fi
  echo
  if [[ $FULL -eq 0 ]]; then
    echo "This run stops at the first pool package; \`--full\` times the rest. After the first package the install is debootstrap, dpkg and GRUB inside the guest: the guest's CPU under emulation (TCG on 2 shared cores), not the server, which by then serves a few hundred files from its page cache; a full install takes tens of minutes either way."
  else
    echo "After the first package the install is debootstrap, dpkg and GRUB inside the guest: the guest's CPU under emulation (TCG on 2 shared cores), not the server."
  fi
} >"$WORK/section.md"

echo
cat "$WORK/section.md"
# The raw logs beside the report when asked (the work directory is removed on exit).
if [[ -n ${RACKBOOT_BENCH_KEEP_LOGS:-} ]]; then
  mkdir -p "$RACKBOOT_BENCH_KEEP_LOGS"
  (cd "$WORK" && find r[0-9]* \( -name '*.log' -o -name '*.t0' -o -name load \) -exec cp --parents {} "$RACKBOOT_BENCH_KEEP_LOGS/" \;) || true
fi
if [[ $WRITE_DOC -eq 1 ]]; then
  bench_write_doc install-peers "$WORK/section.md" "Install: rackbootd beside dnsmasq + nginx, one Debian 12 install"
fi
