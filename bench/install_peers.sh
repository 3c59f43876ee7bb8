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
# Environment: ACCEL (tcg), INSTALL_TIMEOUT (s, 900 without --full, 5400 with), RACKBOOT_LAB_MIRROR,
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

ACCEL=${ACCEL:-tcg}
if [[ $FULL -eq 1 ]]; then INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-5400}; else INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-900}; fi
MARKER_TIMEOUT=${MARKER_TIMEOUT:-300}
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
cp -a "$WORK/state0" "$WORK/state-rackbootd"
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

# boot_guest SIDE DISK NETBOOT WANT: one QEMU guest (lab.sh's install command line); records
# QEMU's start in $WORK/SIDE.t0 (epoch seconds) and returns when WANT happened (done_SIDE WANT
# prints something), QEMU exited, or the timeout; kills QEMU for first-package and marker.
boot_guest() {
  local side=$1 disk=$2 want=$3 tag=$4 timeout=$INSTALL_TIMEOUT
  [[ $want == marker ]] && timeout=$MARKER_TIMEOUT
  local serial=$WORK/$side.$tag.serial.log
  : >"$serial"
  "${N[@]}" ip tuntap add dev tap1 mode tap
  "${N[@]}" ip link set tap1 master rbbr0
  "${N[@]}" ip link set tap1 up
  date +%s.%N >"$WORK/$side.$tag.t0"
  "${N[@]}" timeout "$timeout" qemu-system-x86_64 -accel "$ACCEL" -m 1024 -smp 2 -nographic \
    -display none -monitor none -no-reboot \
    -netdev "tap,id=n0,ifname=tap1,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=n0,mac=$MAC,bootindex=1" \
    -serial "file:$serial" \
    -drive "if=none,id=d0,format=qcow2,file=$disk" -device "virtio-blk-pci,drive=d0,bootindex=2" \
    </dev/null >"$WORK/$side.$tag.qemu.log" 2>&1 &
  local qemu=$!
  bench_track_pid "$qemu"
  while kill -0 "$qemu" 2>/dev/null; do
    if [[ $want == marker ]] && grep -qa "RACKBOOT-LAB-MARKER installed host=$HOST" "$serial"; then
      date +%s.%N >"$WORK/$side.$tag.marker"
      break
    fi
    if [[ $want == first-package ]] && "done_$side"; then break; fi
    sleep 0.5
  done
  kill "$qemu" 2>/dev/null || true
  wait "$qemu" 2>/dev/null || true
  date +%s.%N >"$WORK/$side.$tag.end"
  "${N[@]}" ip link del tap1 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# rackbootd.
RBLOG=$WORK/rackbootd.log
done_rackbootd() {
  grep -qE "http GET \"/repo/debian12/pool/[^\"]+\" 200 .* to $IP:" "$RBLOG"
}
log "rackbootd: starting (DHCP + TFTP + HTTP on :8080, the mirror at /repo/debian12/)"
start_rackbootd "$WORK/state-rackbootd" "$RBLOG"
qemu-img create -q -f qcow2 "$WORK/rackbootd.qcow2" 8G
log "rackbootd: booting the guest (QEMU $ACCEL), up to $([[ $FULL -eq 1 ]] && echo "the reboot" || echo "the first pool package")"
if [[ $FULL -eq 1 ]]; then
  boot_guest rackbootd "$WORK/rackbootd.qcow2" installed install
  log "rackbootd: second network boot, to the installed system's marker"
  boot_guest rackbootd "$WORK/rackbootd.qcow2" marker marker
else
  boot_guest rackbootd "$WORK/rackbootd.qcow2" first-package install
fi
stop_server

# ---------------------------------------------------------------------------------------------
# dnsmasq + nginx.
PEER=$WORK/peer
NGINX_LOG=$PEER/nginx/access.log
DNSMASQ_LOG=$PEER/dnsmasq.log
done_peer() {
  grep -qE "\"GET /repo/debian12/pool/[^\"]+\" 200 [0-9]+ $IP\$" "$NGINX_LOG"
}
cat >"$PEER/dnsmasq.conf" <<EOF
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
dhcp-leasefile=$PEER/dnsmasq.leases
# iPXE (user class "iPXE", or its option 175) gets its script's URL; any other PXE ROM gets iPXE.
dhcp-userclass=set:ipxe,iPXE
dhcp-match=set:ipxe,175
dhcp-boot=tag:ipxe,http://$SERVER:8080/boot/ipxe/$MAC_DASH.ipxe
dhcp-boot=tag:!ipxe,undionly.kpxe,,$SERVER
enable-tftp
tftp-root=$LAB_DIR/tftp
log-dhcp
EOF
cat >"$PEER/nginx.conf" <<EOF
user root root;
worker_processes 1;
daemon off;
pid $PEER/nginx/nginx.pid;
error_log $PEER/nginx/error.log info;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  log_format bench '\$msec "\$request" \$status \$body_bytes_sent \$remote_addr';
  access_log $NGINX_LOG bench;
  client_body_temp_path $PEER/nginx/tmp/body;
  proxy_temp_path $PEER/nginx/tmp/proxy;
  fastcgi_temp_path $PEER/nginx/tmp/fastcgi;
  uwsgi_temp_path $PEER/nginx/tmp/uwsgi;
  scgi_temp_path $PEER/nginx/tmp/scgi;
  server {
    listen $SERVER:8080;
    location /boot/ipxe/ { alias $PEER/ipxe/; }
    location /boot/ { alias $LAB_DIR/tftp/; }
    location /repo/ { alias $MIRROR_PARENT/; }
    location /install/ { alias $PEER/install/; }
  }
}
EOF
: >"$NGINX_LOG"
: >"$DNSMASQ_LOG"
log "peer: starting dnsmasq $(version_of dnsmasq-base) (DHCP + TFTP) and nginx $(version_of nginx-light) (HTTP on :8080)"
"${N[@]}" nginx -c "$PEER/nginx.conf" -e "$PEER/nginx/error.log" 2>"$PEER/nginx/stderr.log" &
bench_track_pid $!
# dnsmasq's log file has whole seconds only: its stderr, stamped with microseconds as it arrives.
"${N[@]}" dnsmasq -k -C "$PEER/dnsmasq.conf" --log-facility=- 2>&1 |
  perl -MTime::HiRes=time -ne '$| = 1; printf "%.6f %s", time, $_' >"$DNSMASQ_LOG" &
bench_track_pid $!
for _ in $(seq 100); do
  "${N[@]}" curl -fsS -o /dev/null "http://$SERVER:8080/boot/debian12/linux" 2>/dev/null && break
  sleep 0.1
done
: >"$NGINX_LOG"
sleep 1
grep -q "DHCP, IP range" "$DNSMASQ_LOG" || die "dnsmasq did not start: $(cat "$DNSMASQ_LOG")"
qemu-img create -q -f qcow2 "$WORK/peer.qcow2" 8G
log "peer: booting the guest"
if [[ $FULL -eq 1 ]]; then
  boot_guest peer "$WORK/peer.qcow2" installed install
  # What rackbootd does on "done": the host's script becomes the local-disk one.
  cp "$LOCAL_SCRIPT" "$PEER/ipxe/$MAC_DASH.ipxe"
  log "peer: second network boot (iPXE script: rackbootd's local-disk one), to the marker"
  boot_guest peer "$WORK/peer.qcow2" marker marker
else
  boot_guest peer "$WORK/peer.qcow2" first-package install
fi

# ---------------------------------------------------------------------------------------------
# The phases. rel EPOCH_T0 EPOCH: seconds after QEMU's start, or "–".
rel() { [[ -n ${2:-} ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }' || echo "–"; }
# glog time (local) of the first line matching ERE in rackbootd's log, as epoch seconds.
rb_at() {
  local line
  line=$(grep -m1 -E "$1" "$RBLOG" || true)
  [[ -n $line ]] || return 0
  local d t
  d=$(cut -c2-9 <<<"$line")
  t=$(awk '{ print $2 }' <<<"$line")
  local s
  s=$(date -d "${d:0:4}-${d:4:2}-${d:6:2} ${t%.*}" +%s)
  echo "$s.${t#*.}"
}
ng_at() { awk -v re="$1" '$0 ~ re { print $1; exit }' "$NGINX_LOG"; }
dm_at() { awk -v re="$1" '$0 ~ re { print $1; exit }' "$DNSMASQ_LOG"; }
# The response code of the first nginx line matching RE.
RB_T0=$(cat "$WORK/rackbootd.install.t0")
PEER_T0=$(cat "$WORK/peer.install.t0")
declare -A RB PE
RB[dhcp]=$(rb_at "dhcp DHCPACK $IP to $MAC")
PE[dhcp]=$(dm_at "DHCPACK\\(rbbr0\\) $IP $MAC")
i=0
for pair in "ipxe|/boot/ipxe/$MAC_DASH.ipxe" "kernel|/boot/debian12/linux" "initrd|/boot/debian12/initrd.gz" \
  "preseed|/install/[^\"]*/preseed.cfg" "script|/boot/debian12/di-debootstrap-install.sh" \
  "inrelease|/repo/debian12/dists/bookworm/InRelease" "pool|/repo/debian12/pool/[^\"]+"; do
  k=${pair%%|*} p=${pair#*|}
  RB[$k]=$(rb_at "http GET \"$p\" 200 .* to $IP:")
  PE[$k]=$(ng_at "\"GET $p HTTP/1\\.[01]\" 200 [0-9]+ $IP\$")
done
RB[report]=$(rb_at "installer: $HOST installing")
FIRST_POOL=$(grep -m1 -oE "http GET \"/repo/debian12/pool/[^\"]+\" 200" "$RBLOG" | cut -d'"' -f2 || true)
if [[ $FULL -eq 1 ]]; then
  RB[base]=$(rb_at "installer: $HOST installing: configuring the network")
  RB[done]=$(rb_at "installer: $HOST done")
  RB[exit]=$(cat "$WORK/rackbootd.install.end")
  PE[exit]=$(cat "$WORK/peer.install.end")
  RB_M0=$(cat "$WORK/rackbootd.marker.t0")
  PE_M0=$(cat "$WORK/peer.marker.t0")
  RB[marker]=$(cat "$WORK/rackbootd.marker.marker" 2>/dev/null || true)
  PE[marker]=$(cat "$WORK/peer.marker.marker" 2>/dev/null || true)
fi
# Sizes served, as a check that both sides sent the same bytes.
RB_IPXE_SENT=$(grep -m1 -oE "http GET \"/boot/ipxe/$MAC_DASH.ipxe\" 200 [0-9]+" "$RBLOG" | awk '{ print $NF }' || true)
RB_PRESEED_SENT=$(grep -m1 -oE "http GET \"/install/[^\"]*/preseed.cfg\" 200 [0-9]+" "$RBLOG" | awk '{ print $NF }' || true)
PE_405=$(grep -c '"POST /api/' "$NGINX_LOG" || true)

row() { # row LABEL KEY [NOTE]
  local a b
  a=$(rel "$RB_T0" "${RB[$2]:-}")
  b=$(rel "$PEER_T0" "${PE[$2]:-}")
  printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" "${3:-}"
}
T_TOTAL=$((SECONDS - T_START))
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench install$([[ $FULL -eq 1 ]] && echo " --full")\` (bench/install_peers.sh, $T_TOTAL s for both sides)."
  echo
  echo "- Machine: $(machine_desc); QEMU $(version_of qemu-system-x86), accel $ACCEL (no KVM), one guest: BIOS (SeaBIOS + the NIC's iPXE ROM), 1 GiB, 2 vCPUs, virtio NIC MAC $MAC, a blank 8 GiB qcow2 disk; lab.sh's install command line on both sides."
  echo "- rackbootd: commit $RB_COMMIT, \`bazel build -c opt\`, examples/lab/site.toml plus install-lab.sh's profile debian12 (as \`./rackboot up --install\`). Peer: dnsmasq $(version_of dnsmasq-base) (DHCP with a static host, router, DNS, domain; for iPXE clients the script's URL; TFTP) and nginx $(version_of nginx-light) (sendfile, static files) on the same address 198.18.0.1:8080."
  echo "- Same bytes: the iPXE script ($IPXE_BYTES bytes; rackbootd sent ${RB_IPXE_SENT:-?}) and the preseed ($PRESEED_BYTES bytes; rackbootd sent ${RB_PRESEED_SENT:-?}) nginx served are what rackbootd serves this host (curl from its address, same token), the boot tree and the mirror ($MIRROR_FILES files, $MIRROR_MB MB, in the page cache) are the same directories."
  echo "- Seconds from QEMU's start to the event's log line: rackbootd's log (microseconds); dnsmasq's stderr, stamped on arrival; nginx's access log (\`\$msec\`). HTTP lines are written when the response is complete, on both sides."
  echo "- The peer has no API: the installer's $PE_405 POSTs to /api/ got 405 from nginx and were ignored by it (\`|| true\`), so the peer has no \"first report\" row; the GET of di-debootstrap-install.sh, which the early_command makes right after its report, is on both sides."
  echo
  echo "| phase (s after QEMU start) | rackbootd | dnsmasq + nginx | notes |"
  echo "|---|---:|---:|---|"
  row "DHCP ACK" dhcp "iPXE's DHCP (the NIC ROM)"
  row "iPXE script served" ipxe ""
  row "kernel fetched" kernel "debian12/linux, $(($(stat -c %s "$LAB_DIR/tftp/debian12/linux") / 1000)) kB"
  row "initrd fetched" initrd "debian12/initrd.gz, $(($(stat -c %s "$LAB_DIR/tftp/debian12/initrd.gz") / 1000)) kB"
  row "preseed fetched" preseed "d-i has booted, brought up its network (DHCP again, static)"
  row "installer's first report" report "early_command's POST .../phase (rackbootd only)"
  row "di-debootstrap-install.sh fetched" script "right after the report, on both sides"
  row "mirror InRelease" inrelease ""
  row "first pool package" pool "${FIRST_POOL#/repo/debian12/}"
  if [[ $FULL -eq 1 ]]; then
    row "base system done" base "rackbootd: the installer's next step's report; the peer has no API"
    row "install done (reported)" "done" "rackbootd only"
    row "install done (QEMU exits on the reboot)" exit ""
    printf '| %s | %s | %s | %s |\n' "second boot: marker (s after that QEMU start)" \
      "$(rel "$RB_M0" "${RB[marker]:-}")" "$(rel "$PE_M0" "${PE[marker]:-}")" "local-disk answer (iPXE exit 1), then the installed disk"
  fi
  echo
  if [[ $FULL -eq 0 ]]; then
    echo "Default mode stops at the first pool package (\`--until=first-package\`); \`--full\` times the rest. After the first package the install is debootstrap, dpkg and GRUB inside the guest: the guest's CPU under emulation (TCG on 2 shared cores), not the server, which by then serves a few hundred small files; a full install takes tens of minutes either way."
  else
    echo "After the first package the install is debootstrap, dpkg and GRUB inside the guest: the guest's CPU under emulation (TCG on 2 shared cores), not the server."
  fi
} >"$WORK/section.md"

echo
cat "$WORK/section.md"
# Keep the raw logs beside the report when asked (the work directory is removed on exit).
if [[ -n ${RACKBOOT_BENCH_KEEP_LOGS:-} ]]; then
  mkdir -p "$RACKBOOT_BENCH_KEEP_LOGS"
  cp "$RBLOG" "$NGINX_LOG" "$DNSMASQ_LOG" "$WORK"/*.t0 "$WORK"/*.serial.log "$RACKBOOT_BENCH_KEEP_LOGS/" 2>/dev/null || true
fi
if [[ $WRITE_DOC -eq 1 ]]; then
  bench_write_doc install-peers "$WORK/section.md" "Install: rackbootd beside dnsmasq + nginx, one Debian 12 install"
fi
