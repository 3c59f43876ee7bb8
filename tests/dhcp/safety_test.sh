#!/usr/bin/env bash
# The product's safety rules against a running rackbootd (authoritative), in namespaces of its own:
#  a) an unknown PXE MAC gets no answer at all (unknown_pxe = ignore); a non-PXE client on the same
#     segment gets an address;
#  c) a known host in state `installed` gets an address but no boot file;
#  e) arming it in <state_dir>/host-states.tsv (temp + rename, as `rackboot arm` writes it) while
#     the daemon runs takes effect within ~2 s, without a restart;
#  d) armed, it gets the boot file for its architecture: 0 -> pxelinux.0, 7 and 9 ->
#     bootnetx64.efi, 11 -> grubaa64.efi; disarming (installed again) removes the boot file;
#  b) with unknown_pxe = discover the unknown MAC gets no answer but lands in discovered.tsv;
#  f) the probe: with dnsmasq serving DHCP on the segment, authoritative rackbootd exits non-zero
#     naming dnsmasq's address; with --allow_other_dhcp it starts and logs a warning.
# Usage: safety_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=safety
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c; ns_add d
segment
HOST_MAC=02:00:c6:12:00:41
HOST_IP=198.18.0.41
UNKNOWN_MAC=02:00:c6:12:00:99
site_toml >"$WORK/site.toml"
inventory "$HOST_MAC,node041,$HOST_IP,rocky9,installed" >"$WORK/inventory.csv"
rb_start main

pxe() {  # pxe MAC ARCH OUT: a PXE DISCOVER, replies as JSON lines in OUT
  local arch5
  arch5=$(printf '%05d' "$2")
  client c send --iface eth0 --type DISCOVER --mac "$1" --vendor "PXEClient:Arch:$arch5:UNDI:002001" \
    --arch "$2" --uuid --wait "${WAIT:-2}" >"$3"
}

log "a) unknown PXE MAC: no answer; non-PXE client: an address"
pxe "$UNKNOWN_MAC" 0 "$WORK/a-unknown.json"
jq_check "$WORK/a-unknown.json" 'length == 0' "an unknown PXE client got an answer"
client c send --iface eth0 --type DISCOVER --mac 02:00:c6:12:00:42 --wait 2 >"$WORK/a-plain.json"
jq_check "$WORK/a-plain.json" \
  'length == 1 and .[0].type == "OFFER" and (.[0].yiaddr | startswith("198.18.")) and .[0].file == ""' \
  "a non-PXE client got no address"

log "c) known host, state installed: an address, no boot file"
pxe "$HOST_MAC" 0 "$WORK/c.json"
jq_check "$WORK/c.json" \
  "length == 1 and (.[0] | .type == \"OFFER\" and .yiaddr == \"$HOST_IP\" and .file == \"\" and .bootfile == null)" \
  "an installed host was offered a boot file (or no address)"

set_state() {  # set_state STATE: host-states.tsv rewritten atomically, as `rackboot arm` does
  printf '# hostname\tstate\tchanged\nnode041\t%s\t%s\n' "$1" "$(date +%s)" >"$WORK/state/host-states.tsv.tmp"
  mv -f "$WORK/state/host-states.tsv.tmp" "$WORK/state/host-states.tsv"
}

log "e) arm node041 in host-states.tsv while running"
set_state install
t0=$(date +%s.%N)
armed=no
for _ in $(seq 12); do
  WAIT=0.5 pxe "$HOST_MAC" 0 "$WORK/e.json"
  if jq -s -e 'any(.[]; .file == "pxelinux.0")' "$WORK/e.json" >/dev/null; then armed=yes; break; fi
done
t1=$(date +%s.%N)
took=$(echo "$t1 - $t0" | bc)
[[ $armed == yes ]] || fail "arming in host-states.tsv did not take effect within ~6 s"
(( $(echo "$took < 3.5" | bc) )) || fail "arming took ${took}s (want about 2 s at most)"
grep -q 'host states reloaded' "$WORK/rb-main.log" || fail "no 'host states reloaded' log line"
log "armed after ${took}s"

log "d) boot file by architecture"
for spec in 0:pxelinux.0 7:bootnetx64.efi 9:bootnetx64.efi 11:grubaa64.efi; do
  arch=${spec%%:*} want=${spec#*:}
  pxe "$HOST_MAC" "$arch" "$WORK/d-$arch.json"
  jq_check "$WORK/d-$arch.json" \
    "length == 1 and (.[0] | .type == \"OFFER\" and .yiaddr == \"$HOST_IP\" and .file == \"$want\" and
      .siaddr == \"198.18.0.1\" and .vendor == null)" \
    "arch $arch: want boot file $want"
done
log "disarm again: no boot file"
set_state installed
disarmed=no
for _ in $(seq 12); do
  WAIT=0.5 pxe "$HOST_MAC" 0 "$WORK/e2.json"
  if jq -s -e 'length == 1 and .[0].file == ""' "$WORK/e2.json" >/dev/null; then disarmed=yes; break; fi
done
[[ $disarmed == yes ]] || fail "disarming in host-states.tsv did not take effect"
rb_stop main

log "b) unknown_pxe = discover"
UNKNOWN_PXE=discover
site_toml >"$WORK/site.toml"
rb_start discover
pxe "$UNKNOWN_MAC" 7 "$WORK/b.json"
jq_check "$WORK/b.json" 'length == 0' "an unknown PXE client got an answer (discover mode)"
found=no
for _ in $(seq 30); do
  grep -qi "^$UNKNOWN_MAC" "$WORK/state/discovered.tsv" 2>/dev/null && { found=yes; break; }
  sleep 0.1
done
[[ $found == yes ]] || { cat "$WORK/state/discovered.tsv" >&2 || true; fail "$UNKNOWN_MAC not in discovered.tsv"; }
log "discovered.tsv: $(grep -i "^$UNKNOWN_MAC" "$WORK/state/discovered.tsv")"
rb_stop discover

log "f) probe: another DHCP server on the segment"
attach d eth0
inns d ip addr add 198.18.0.2/16 dev eth0
ip netns exec "$(ns d)" dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --port=0 \
  --interface=eth0 --bind-interfaces --no-ping --dhcp-range=198.18.50.10,198.18.50.50,255.255.0.0,1h \
  --dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
  --log-facility="$WORK/dnsmasq.log" >"$WORK/dnsmasq.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do
  inns d ss -Huln 'sport = :67' | grep -q . && break
  sleep 0.1
done
rb_spawn refused
pid=${RB_PID[refused]}
rc=0
timeout 20 tail --pid="$pid" -f /dev/null || fail "rackbootd kept running beside another DHCP server"
wait "$pid" || rc=$?
(( rc != 0 )) || fail "rackbootd exited 0 beside another DHCP server"
grep -q '^rackbootd: ready' "$WORK/rb-refused.out" && fail "rackbootd said ready beside another DHCP server"
grep -q 'another DHCP server answers on br0: 198.18.0.2' "$WORK/rb-refused.log" ||
  fail "the refusal does not name 198.18.0.2"
log "refused (exit $rc): $(grep -o 'another DHCP server answers.*' "$WORK/rb-refused.log" | cut -c1-120)"

rb_start allowed --allow_other_dhcp
grep -q 'ANOTHER DHCP SERVER ANSWERS ON br0: 198.18.0.2' "$WORK/rb-allowed.log" ||
  fail "--allow_other_dhcp: no warning naming 198.18.0.2"
rb_stop allowed
log "PASS"
