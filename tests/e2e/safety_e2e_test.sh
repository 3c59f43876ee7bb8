#!/usr/bin/env bash
# Safety first, with real firmware: only an inventory host armed for install is installed; the
# operator's disarm/arm reaches a running rackbootd without a restart.
#
# One lab, kept (`lab.sh up --keep`, as `./rackboot up --keep`), then one BIOS guest at a time
# (`lab.sh guest`, as `./rackboot guest`):
#   0. lab-node1 (armed) boots to its marker: the lab works, so the refusals below mean something.
#      Its initrd (the lab's one-shot installer) POSTed done with the token its command line
#      carried: lab-node1 is installed, and that token opens nothing any more from lab-node1's own
#      address (/install/<token>/<file> 404, phase and done reports 403); its next network boot
#      gets the local entry (its rendered pxelinux config and iPXE script boot the local disk).
#   a. lab-node2's MAC (state installed) network-boots: it gets its address and no boot file (so
#      no iPXE script URL), no TFTP or HTTP transfer at all (no kernel), no marker; the firmware
#      runs out of boot devices ("No bootable device") within the bound, so the bound did not cut
#      off a late install. Its rendered pxelinux.cfg/01-<mac>, fetched from its own address, says
#      LOCALBOOT, and its iPXE script over HTTP `exit 1`; from another address the same names get
#      ERROR 1 "File not found" and 404.
#   b. an unknown MAC (52:54:00:c6:12:99) gets no DHCP answer at all, no TFTP, no marker, and is
#      recorded in state/discovered.tsv.
#   c. lab-node1, installed by its own done report in 0, boots again: an address, no boot file,
#      no kernel (nothing over TFTP or HTTP to 198.18.0.21), no marker. Then `arm lab-node1` and
#      `disarm lab-node1` (rackboot-hosts, as `./rackboot arm|disarm`) while the daemon runs: the
#      daemon reloads the host states each time; armed, its config defaults to install with a
#      token, disarmed to local without one. Then `arm lab-node1`: the
#      next boot (iPXE ROM -> script, kernel, initrd over HTTP) reaches the marker again, with a
#      new token (arming makes one), and reports done again. The daemon is the same process
#      throughout (no restart).
#
# Each failing boot is bounded by BOOT_TIMEOUT (QEMU killed by timeout): iPXE gives up DHCP after
# ~19 s without an answer, or ends ~25 s in with an answer without a boot file (it waits ~16 s
# for an IPv6 router advertisement first), and SeaBIOS then prints "No bootable device".
#
# Usage: safety_e2e_test.sh RACKBOOTD RACKBOOT-HOSTS
RACKBOOTD=$1
HOSTS=$2
TEST_NAME=safety_e2e
source "$(dirname "$0")/lib.sh"
e2e_init
command -v curl >/dev/null || fail "missing curl (./rackboot setup)"

RBLOG=$LAB_DIR/rackbootd.log
NODE2_MAC=52:54:00:c6:12:02
NODE2_IP=198.18.0.22
UNKNOWN_MAC=52:54:00:c6:12:99
FAIL_TIMEOUT=50   # s for a boot that must not install: twice what the firmware needs to give up
OK_TIMEOUT=150    # s for a boot that must reach the marker (25-30 s under TCG)

# window_start / window FILE: the rackbootd log lines written since window_start, into FILE.
window_start() { MARK=$(wc -l <"$RBLOG"); }
window() { tail -n +"$((MARK + 1))" "$RBLOG" >"$1"; }

# tftp_get IP FILE: fetches FILE from rackbootd over TFTP inside the lab namespace, from address
# IP (added to rbbr0 for the fetch only, no guest holding it then): a per-host file is served
# only to its host's own address (docs/tftp.md, "Per-host files").
tftp_get() {
  local ip=$1 file=$2 rc=0
  ip netns exec "$LAB_NS" ip addr add "$ip/32" dev rbbr0
  ip netns exec "$LAB_NS" curl -sS --max-time 10 --interface "$ip" "tftp://198.18.0.1/$file" || rc=$?
  ip netns exec "$LAB_NS" ip addr del "$ip/32" dev rbbr0
  return "$rc"
}
# http_get IP PATH / http_refused PATH: the same over HTTP (/boot/PATH; 404 for another address).
http_get() {
  local ip=$1 path=$2 rc=0
  ip netns exec "$LAB_NS" ip addr add "$ip/32" dev rbbr0
  ip netns exec "$LAB_NS" curl -sSf --max-time 10 --interface "$ip" "http://198.18.0.1:8080/boot/$path" || rc=$?
  ip netns exec "$LAB_NS" ip addr del "$ip/32" dev rbbr0
  return "$rc"
}
http_refused() {
  [[ $(ip netns exec "$LAB_NS" curl -s --max-time 10 -o /dev/null -w '%{http_code}' \
    "http://198.18.0.1:8080/boot/$1") == 404 ]]
}
# tftp_refused FILE: from the server's own address (nobody's reservation or lease) the same name
# gets ERROR 1 "File not found" (curl exit 68).
tftp_refused() {
  local rc=0
  ip netns exec "$LAB_NS" curl -sS --max-time 10 -o /dev/null "tftp://198.18.0.1/$1" 2>/dev/null || rc=$?
  [[ $rc -eq 68 ]]
}

# expect_no_install LABEL: the guest lab_guest just booted printed no marker, and its firmware
# ran out of boot devices within the bound (so the timeout did not hide a late install).
expect_no_install() {
  local serial
  serial=$(last_serial)
  expect_line "$GUEST_OUT" "no marker from the guest" "$1: lab.sh guest's verdict"
  if grep -qa RACKBOOT-LAB-MARKER "$serial"; then fail "$1: the guest printed the marker"; fi
  clean_console <"$serial" | grep "No bootable device" >/dev/null ||
    fail "$1: the firmware did not finish trying its boot devices within $FAIL_TIMEOUT s (slow host? raise FAIL_TIMEOUT)"
}

# wait_reload N: waits (10 s at most) until rackbootd logged its Nth "host states reloaded".
wait_reload() {
  local deadline=$((SECONDS + 10))
  until [[ $(grep -c 'host states reloaded from' "$RBLOG" || true) -ge $1 ]]; do
    ((SECONDS < deadline)) || fail "rackbootd did not reload the host states within 10 s"
    sleep 0.2
  done
}

# 0. The lab, kept, and lab-node1 to its marker.
BOOT_TIMEOUT=$OK_TIMEOUT lab_up --keep || fail "lab.sh up --keep: lab-node1 did not reach its marker"
RB_PID=$(cat "$LAB_DIR/rackbootd.pid")
# A kept lab keeps its server: give a stray SIGTERM time to take effect, then look.
sleep 2
if ! kill -0 "$RB_PID" 2>/dev/null || grep -q 'rackbootd: .*, stopping' "$RBLOG"; then
  fail "lab.sh up --keep returned but rackbootd (pid $RB_PID) stopped: $(grep 'rackbootd: .*, stopping' "$RBLOG" || echo 'no stop line'). lab.sh's cleanup kills every pid in PIDS, rackbootd's included, also with --keep: the kept lab has no server"
fi
expect_line "$LAB_DIR/up.out" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 " "0: lab-node1's first boot"
log "0: lab kept, rackbootd pid $RB_PID, lab-node1 booted to its marker"

# 0'. The one-shot install: done reported, token revoked, the next boot local.
TOKEN1=$(grep -ao 'rackboot\.token=[0-9a-f]*' "$(last_serial)" | head -1 | cut -d= -f2)
[[ $TOKEN1 =~ ^[0-9a-f]{32}$ ]] || fail "0: no install token on lab-node1's command line: '$TOKEN1'"
expect_line "$LAB_DIR/up.out" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 .* report=done" "0: lab-node1 reported done"
expect_phase lab-node1 done
[[ $(awk -F'\t' '$1 == "lab-node1" { print $2 "/" $4 }' "$LAB_DIR/state/host-states.tsv") == installed/ ]] ||
  fail "0: lab-node1 after done: $(grep lab-node1 "$LAB_DIR/state/host-states.tsv")"
# from_node1 CURL-ARGS...: curl inside the lab namespace from lab-node1's address (the guest is
# off); prints the HTTP status.
from_node1() {
  local code
  ip netns exec "$LAB_NS" ip addr add "$NODE1_IP/32" dev rbbr0
  code=$(ip netns exec "$LAB_NS" curl -s --max-time 10 --interface "$NODE1_IP" -o /dev/null \
    -w '%{http_code}' "$@")
  ip netns exec "$LAB_NS" ip addr del "$NODE1_IP/32" dev rbbr0
  echo "$code"
}
API=http://198.18.0.1:8080/api/v1/hosts/lab-node1
for f in preseed.cfg ks.cfg user-data meta-data; do
  [[ $(from_node1 "http://198.18.0.1:8080/install/$TOKEN1/$f") == 404 ]] ||
    fail "0: the used token opened /install/<token>/$f"
done
[[ $(from_node1 -X POST -H 'Content-Type: application/json' --data "{\"token\":\"$TOKEN1\"}" "$API/done") == 403 ]] ||
  fail "0: a replayed done report with the used token was not refused (403)"
[[ $(from_node1 -X POST -H 'Content-Type: application/json' \
  --data "{\"token\":\"$TOKEN1\",\"phase\":\"installing\"}" "$API/phase") == 403 ]] ||
  fail "0: a phase report with the used token was not refused (403)"
tftp_get "$NODE1_IP" "pxelinux.cfg/01-${NODE1_MAC//:/-}" >"$LAB_DIR/node1-installed.pxelinux.cfg" ||
  fail "0: cannot fetch installed lab-node1's pxelinux config"
expect_line "$LAB_DIR/node1-installed.pxelinux.cfg" "^ *LOCALBOOT " "0: installed lab-node1's config boots the local disk"
expect_line "$LAB_DIR/node1-installed.pxelinux.cfg" "^ *DEFAULT +local" "0: installed lab-node1's default entry"
expect_no_line "$LAB_DIR/node1-installed.pxelinux.cfg" "rackboot\.token" "0: installed lab-node1's config"
log "0': lab-node1 reported done: installed, its token opens nothing, its config boots the local disk"

# a. lab-node2 (installed): an address, no boot file, nothing over TFTP, no marker.
window_start
BOOT_TIMEOUT=$FAIL_TIMEOUT lab_guest --mac="$NODE2_MAC" && fail "a: lab-node2's guest printed the marker"
window "$LAB_DIR/window-a.log"
expect_line "$LAB_DIR/window-a.log" "dhcp DHCPACK $NODE2_IP to $NODE2_MAC( \([^)]*\))?\$" \
  "a: lab-node2 gets its address without a boot file"
expect_no_line "$LAB_DIR/window-a.log" "$NODE2_MAC.* boot=" "a: lab-node2 was offered a boot file"
expect_no_line "$LAB_DIR/window-a.log" "tftp .*client=$NODE2_IP:" "a: TFTP with lab-node2"
expect_no_line "$LAB_DIR/window-a.log" "file=vmlinuz" "a: a kernel was sent"
expect_no_line "$LAB_DIR/window-a.log" " http [A-Z]+ .* to $NODE2_IP:" "a: HTTP with lab-node2"
expect_no_install "a"
tftp_get "$NODE2_IP" "pxelinux.cfg/01-${NODE2_MAC//:/-}" >"$LAB_DIR/node2.pxelinux.cfg" ||
  fail "a: cannot fetch lab-node2's rendered pxelinux config from its address $NODE2_IP"
tftp_refused "pxelinux.cfg/01-${NODE2_MAC//:/-}" ||
  fail "a: lab-node2's rendered config was not refused to another address (198.18.0.1)"
expect_line "$LAB_DIR/node2.pxelinux.cfg" "^ *LOCALBOOT " "a: lab-node2's rendered config boots the local disk"
expect_no_line "$LAB_DIR/node2.pxelinux.cfg" "(KERNEL|INITRD|vmlinuz)" "a: lab-node2's rendered config"
http_get "$NODE2_IP" "ipxe/01-${NODE2_MAC//:/-}.ipxe" >"$LAB_DIR/node2.ipxe" ||
  fail "a: cannot fetch lab-node2's rendered iPXE script over HTTP from its address $NODE2_IP"
http_refused "ipxe/01-${NODE2_MAC//:/-}.ipxe" ||
  fail "a: lab-node2's iPXE script was not refused (404) to another address (198.18.0.1)"
expect_line "$LAB_DIR/node2.ipxe" "^exit 1$" "a: lab-node2's iPXE script leaves iPXE"
expect_no_line "$LAB_DIR/node2.ipxe" "(kernel|initrd|vmlinuz)" "a: lab-node2's iPXE script"
log "a: lab-node2 (installed): address, no boot file, no TFTP, no marker; its config is LOCALBOOT"

# b. An unknown MAC: no answer at all, recorded as discovered.
window_start
BOOT_TIMEOUT=$FAIL_TIMEOUT lab_guest --mac="$UNKNOWN_MAC" && fail "b: the unknown MAC's guest printed the marker"
window "$LAB_DIR/window-b.log"
expect_no_line "$LAB_DIR/window-b.log" "dhcp DHCP[A-Z]+ .* to $UNKNOWN_MAC" "b: DHCP answered the unknown MAC"
expect_no_line "$LAB_DIR/window-b.log" "^.* tftp (sent|refused|FAILED) " "b: TFTP during the unknown MAC's boot"
expect_no_line "$LAB_DIR/window-b.log" " http [A-Z]+ " "b: HTTP during the unknown MAC's boot"
expect_no_install "b"
clean_console <"$(last_serial)" | grep "No configuration methods" >/dev/null ||
  fail "b: iPXE did not report a DHCP failure"
[[ -e $LAB_DIR/state/discovered.tsv ]] || fail "b: no state/discovered.tsv"
grep -qi "$UNKNOWN_MAC" "$LAB_DIR/state/discovered.tsv" ||
  fail "b: $UNKNOWN_MAC not in discovered.tsv: $(cat "$LAB_DIR/state/discovered.tsv")"
log "b: $UNKNOWN_MAC: no DHCP answer, no TFTP, no marker; recorded in discovered.tsv"

# c. lab-node1, installed by its own done report in 0: its next network boot (real firmware)
#    installs nothing: the one-shot install disarmed itself.
window_start
BOOT_TIMEOUT=$FAIL_TIMEOUT lab_guest && fail "c: installed lab-node1 printed the marker"
window "$LAB_DIR/window-c.log"
expect_line "$LAB_DIR/window-c.log" "dhcp DHCPACK $NODE1_IP to $NODE1_MAC( \([^)]*\))?\$" \
  "c: installed lab-node1 gets its address without a boot file"
expect_no_line "$LAB_DIR/window-c.log" "$NODE1_MAC.* boot=" "c: installed lab-node1 was offered a boot file"
expect_no_line "$LAB_DIR/window-c.log" "tftp .*client=$NODE1_IP:" "c: TFTP with installed lab-node1"
expect_no_line "$LAB_DIR/window-c.log" " http [A-Z]+ .* to $NODE1_IP:" "c: HTTP with installed lab-node1"
expect_no_install "c"
log "c: lab-node1 after its done report: address, no boot file, no TFTP, no HTTP, no marker"

# c'. arm, then disarm, under the running daemon: armed it renders the install entry with a
#     token, disarmed the local one without it.
RELOADS=$(grep -c 'host states reloaded from' "$RBLOG" || true)
hosts_cmd arm lab-node1 >&2 || fail "c': rackboot-hosts arm lab-node1 failed"
wait_reload $((RELOADS + 1))
tftp_get "$NODE1_IP" "pxelinux.cfg/01-${NODE1_MAC//:/-}" >"$LAB_DIR/node1-armed.pxelinux.cfg" ||
  fail "c': cannot fetch armed lab-node1's rendered pxelinux config"
expect_line "$LAB_DIR/node1-armed.pxelinux.cfg" "^ *DEFAULT +install" "c': armed lab-node1's default entry"
expect_line "$LAB_DIR/node1-armed.pxelinux.cfg" "rackboot\.token=[0-9a-f]{32}" "c': armed lab-node1's token"
RELOADS=$(grep -c 'host states reloaded from' "$RBLOG" || true)
hosts_cmd disarm lab-node1 >&2 || fail "c': rackboot-hosts disarm lab-node1 failed"
wait_reload $((RELOADS + 1))
tftp_get "$NODE1_IP" "pxelinux.cfg/01-${NODE1_MAC//:/-}" >"$LAB_DIR/node1-disarmed.pxelinux.cfg" ||
  fail "c': cannot fetch lab-node1's rendered pxelinux config"
expect_line "$LAB_DIR/node1-disarmed.pxelinux.cfg" "^ *DEFAULT +local" "c': disarmed lab-node1's config boots the local disk"
expect_no_line "$LAB_DIR/node1-disarmed.pxelinux.cfg" "(rackboot\.token|^ *DEFAULT +install)" "c': disarmed lab-node1's config"
log "c': arm then disarm under the running daemon: install entry with a token, then local without"

# c''. arm lab-node1 again: the next boot installs (the marker is back).
RELOADS=$(grep -c 'host states reloaded from' "$RBLOG" || true)
hosts_cmd arm lab-node1 >&2 || fail "c: rackboot-hosts arm lab-node1 failed"
wait_reload $((RELOADS + 1))
window_start
BOOT_TIMEOUT=$OK_TIMEOUT lab_guest || fail "c: re-armed lab-node1 did not reach its marker"
window "$LAB_DIR/window-c2.log"
expect_line "$LAB_DIR/window-c2.log" \
  "dhcp DHCPACK $NODE1_IP to $NODE1_MAC .*boot=http://198\.18\.0\.1:8080/boot/ipxe/01-${NODE1_MAC//:/-}\.ipxe" \
  "c: re-armed lab-node1's boot file (its iPXE script)"
expect_line "$LAB_DIR/window-c2.log" "http GET \"/boot/vmlinuz\" 200 [0-9]+ bytes in .* to $NODE1_IP:" \
  "c: re-armed lab-node1's kernel over HTTP"
expect_line "$GUEST_OUT" "GUEST RACKBOOT-LAB-MARKER host=lab-node1 .* report=done" "c: re-armed lab-node1's marker and done report"
TOKEN2=$(grep -ao 'rackboot\.token=[0-9a-f]*' "$(last_serial)" | head -1 | cut -d= -f2)
[[ $TOKEN2 =~ ^[0-9a-f]{32}$ && $TOKEN2 != "$TOKEN1" ]] || fail "c: re-arming made no new token ('$TOKEN2')"

# The same daemon took both changes: never restarted, still running.
kill -0 "$RB_PID" 2>/dev/null || fail "rackbootd (pid $RB_PID) is gone"
[[ $(cat "$LAB_DIR/rackbootd.pid") == "$RB_PID" ]] || fail "rackbootd was restarted"
[[ $(grep -c 'rackbootd: ready' "$LAB_DIR/rackbootd.out") -eq 1 ]] || fail "rackbootd got ready more than once"
expect_no_line "$RBLOG" "stopping" "rackbootd stopped during the test"
log "c: re-armed lab-node1 booted to its marker; rackbootd pid $RB_PID took disarm and arm without a restart"
log "PASS in $SECONDS s"
