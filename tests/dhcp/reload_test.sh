#!/usr/bin/env bash
# SIGHUP reloads site.toml and inventory.csv (issue 11, item 5), against a real rackbootd
# (authoritative DHCP + TFTP) in namespaces of its own:
#  a) a SIGHUP during startup (the other-server probe) does not kill it;
#  b) a valid edit (host added, a host's profile changed, lease_seconds changed, a TFTP setting that
#     needs a restart): the daemon keeps running and logs each change; the new host is served per
#     the new inventory (its reservation and boot file); the changed host's rendered config names
#     its new profile; an existing lease survives (INIT-REBOOT gets the same address, with the new
#     lease time); a TFTP transfer in progress during the SIGHUP completes intact;
#  c) an invalid site.toml, then an invalid inventory.csv: the daemon keeps running with the
#     previous configuration and logs the file:line error and "keeping the running configuration".
# Usage: reload_test.sh RACKBOOTD RACKBOOT_HOSTS
RACKBOOTD=$1
TEST_NAME=reload
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
HOST_MAC=02:00:c6:12:00:41
HOST_IP=198.18.0.41
NEW_MAC=02:00:c6:12:00:50
NEW_IP=198.18.0.50
PLAIN_MAC=02:00:c6:12:00:77
TFTP_ROOT=$WORK/tftproot
mkdir -p "$TFTP_ROOT/rocky9" "$TFTP_ROOT/alma9"
for f in pxelinux.0 bootnetx64.efi grubaa64.efi rocky9/vmlinuz rocky9/initrd.img alma9/vmlinuz \
  alma9/initrd.img; do
  echo "$f" >"$TFTP_ROOT/$f"
done
head -c 1000000 /dev/urandom >"$TFTP_ROOT/big.img"
chmod -R a+rX "$TFTP_ROOT"
EXTRA_TOML='
[[profile]]
name = "rocky9"
kernel = "rocky9/vmlinuz"
initrd = "rocky9/initrd.img"
append = "inst.ks=http://198.18.0.1/ks/{{hostname}}"

[[profile]]
name = "alma9"
kernel = "alma9/vmlinuz"
initrd = "alma9/initrd.img"
append = "inst.ks=http://198.18.0.1/ks/{{hostname}}"
'
site_toml >"$WORK/site.toml"
inventory "$HOST_MAC,node041,$HOST_IP,rocky9,install" >"$WORK/inventory.csv"

alive() { kill -0 "${RB_PID[main]}" 2>/dev/null || fail "rackbootd died ($1)"; }
pxe() {  # pxe MAC OUT: one PXE (BIOS) DISCOVER, replies as JSON lines in OUT
  client c send --iface eth0 --type DISCOVER --mac "$1" --vendor "PXEClient:Arch:00000:UNDI:002001" \
    --arch 0 --uuid --wait "${WAIT:-1}" >"$2"
}
hup() {  # hup: SIGHUP, then wait (bounded) for the reload's last log line
  local before
  before=$(grep -c 'reload: ' "$WORK/rb-main.log" || true)
  kill -HUP "${RB_PID[main]}"
  for _ in $(seq 50); do
    (( $(grep -c 'reload: ' "$WORK/rb-main.log" || true) > before )) && { sleep 0.2; return 0; }
    sleep 0.1
  done
  fail "no reload line within 5 s of SIGHUP"
}

log "a) SIGHUP during startup"
rb_spawn main
sleep 0.3
kill -HUP "${RB_PID[main]}"
rb_wait_ready main
alive "SIGHUP during startup"

log "b) a lease and a transfer in progress, then a valid edit and SIGHUP"
client c dora --iface eth0 --mac "$PLAIN_MAC" --wait 2 >"$WORK/lease.json"
LEASED=$(jq -r -s 'map(select(.type == "ACK")) | .[0].yiaddr' "$WORK/lease.json")
[[ $LEASED == 198.18.* ]] || fail "no lease for $PLAIN_MAC: $(cat "$WORK/lease.json")"
pxe "$NEW_MAC" "$WORK/new-before.json"
jq_check "$WORK/new-before.json" 'length == 0' "a MAC not yet in the inventory got an answer"
inns c ip addr add "$HOST_IP/16" dev eth0
# A slow TFTP reader (lockstep, 512-byte blocks, ~6 ms between ACKs: about 6 s for 1 MB), so that
# the SIGHUP lands in the middle of the transfer. curl's --limit-rate does not slow TFTP.
cat >"$WORK/slow_tftp.py" <<'PY'
import socket, struct, sys, time
server, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"\x00\x01" + name.encode() + b"\x00octet\x00", (server, 69))
data, expect = bytearray(), 1
while True:
    pkt, peer = s.recvfrom(600)
    op, block = struct.unpack("!HH", pkt[:4])
    if op != 3:
        sys.exit("tftp error: %r" % pkt)
    if block == expect:
        data += pkt[4:]
        expect = (expect + 1) & 0xFFFF
    time.sleep(0.006)
    s.sendto(struct.pack("!HH", 4, block), peer)
    if block == (expect - 1) & 0xFFFF and len(pkt) < 516:
        break
open(out, "wb").write(data)
PY
ip netns exec "$(ns c)" timeout 40 "$PY" "$WORK/slow_tftp.py" 198.18.0.1 big.img "$WORK/big.out" \
  2>"$WORK/reader.err" &
READER=$!
PIDS+=("$READER")
sleep 1.5
inventory "$HOST_MAC,node041,$HOST_IP,alma9,install" "$NEW_MAC,node050,$NEW_IP,rocky9,install" \
  >"$WORK/inventory.csv"
sed -i -e 's/^lease_seconds = .*/lease_seconds = 600/' \
  -e 's/^listen = "\(.*\):69"$/listen = "\1:69"\nmax_windowsize = 32/' "$WORK/site.toml"
hup
alive "valid SIGHUP"
kill -0 "$READER" 2>/dev/null || fail "the transfer had ended before the SIGHUP (too fast to test)"
for want in 'reload: hosts added: node050' \
  'reload: hosts changed: node041 (profile rocky9 -> alma9)' \
  'reload: dhcp changed: lease_seconds 1234 -> 600' \
  'reload: tftp.max_windowsize (64 -> 32) needs a restart, not applied' \
  'reload: applied; running with 2 hosts and 2 profiles'; do
  grep -qF "$want" "$WORK/rb-main.log" || fail "no log line '$want'"
done

pxe "$NEW_MAC" "$WORK/new-after.json"
jq_check "$WORK/new-after.json" \
  "length == 1 and (.[0] | .type == \"OFFER\" and .yiaddr == \"$NEW_IP\" and .file == \"pxelinux.0\")" \
  "the new host is not served per the new inventory"
CFG="pxelinux.cfg/01-${HOST_MAC//:/-}"
cfg=$(inns c curl -s --max-time 5 "tftp://198.18.0.1/$CFG" || true)
grep -q 'KERNEL alma9/vmlinuz' <<<"$cfg" || fail "node041's config does not follow its new profile: $cfg"
client c send --iface eth0 --type REQUEST --mac "$PLAIN_MAC" --requested "$LEASED" --wait 1 \
  >"$WORK/reboot.json"
jq_check "$WORK/reboot.json" \
  "length == 1 and (.[0] | .type == \"ACK\" and .yiaddr == \"$LEASED\" and .lease == 600)" \
  "the lease did not survive the reload (or the new lease time is not applied)"

wait "$READER" || fail "the TFTP transfer across the SIGHUP failed: $(cat "$WORK/reader.err")"
cmp -s "$WORK/big.out" "$TFTP_ROOT/big.img" || fail "the TFTP transfer across the SIGHUP is not intact"
log "transfer across the SIGHUP intact; lease $LEASED kept"

log "c) invalid site.toml: kept"
cp "$WORK/site.toml" "$WORK/site.good"
sed -i 's/^lease_seconds = .*/lease_seconds = "soon"/' "$WORK/site.toml"
line=$(grep -n '^lease_seconds' "$WORK/site.toml" | cut -d: -f1)
hup
alive "invalid site.toml"
grep -q "reload: .*site.toml:$line.*; keeping the running configuration" "$WORK/rb-main.log" ||
  fail "no 'site.toml:$line ... keeping the running configuration' line"
WAIT=1 pxe "$NEW_MAC" "$WORK/new-kept.json"
jq_check "$WORK/new-kept.json" "length == 1 and .[0].yiaddr == \"$NEW_IP\"" \
  "the running configuration was not kept after an invalid site.toml"
cp "$WORK/site.good" "$WORK/site.toml"

log "c) invalid inventory.csv: kept"
inventory "$HOST_MAC,node041,$HOST_IP,alma9,install" "02:00:zz:12:00:51,node051,,rocky9,install" \
  >"$WORK/inventory.csv"
hup
alive "invalid inventory"
grep -q 'reload: .*inventory.csv:3: mac.*; keeping the running configuration' "$WORK/rb-main.log" ||
  fail "no 'inventory.csv:3: mac ... keeping the running configuration' line"
WAIT=1 pxe "$NEW_MAC" "$WORK/new-kept2.json"
jq_check "$WORK/new-kept2.json" "length == 1 and .[0].yiaddr == \"$NEW_IP\" and .[0].file == \"pxelinux.0\"" \
  "the running inventory was not kept after an invalid inventory.csv"
rb_stop main
log "PASS"
