#!/usr/bin/env bash
# The other-DHCP-server probe against dnsmasq with its DEFAULT settings: dnsmasq pings an address
# before it offers it (no --no-ping here), so its OFFER comes about 3 s after the DISCOVER. A
# probe that listens only 2 s misses it and rackbootd starts authoritative beside it (the finding
# of issue 11). Checks:
#  a) authoritative rackbootd says what it probes ("probing for other DHCP servers on br0 for 5 s
#     (2 DISCOVERs)"), then exits non-zero naming dnsmasq's address (198.18.0.2) and the address
#     dnsmasq offered (198.18.50.x), and never says ready;
#  b) with --allow_other_dhcp it starts with the loud warning naming the same;
#  c) with dnsmasq gone the probe reports that nobody answered and rackbootd starts.
# Usage: probe_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=probe
source "$(dirname "$0")/lib.sh"
lib_init
command -v dnsmasq >/dev/null || fail "dnsmasq is not installed"

ns_add s; ns_add c; ns_add d
segment
site_toml >"$WORK/site.toml"
inventory >"$WORK/inventory.csv"

attach d eth0
inns d ip addr add 198.18.0.2/16 dev eth0
# Default settings: no --no-ping, no --dhcp-authoritative, only what a dhcp-range needs.
ip netns exec "$(ns d)" dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --port=0 \
  --interface=eth0 --bind-interfaces --dhcp-range=198.18.50.10,198.18.50.50,255.255.0.0,1h \
  --dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
  --log-dhcp --log-facility="$WORK/dnsmasq.log" >"$WORK/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!
PIDS+=("$DNSMASQ_PID")
for _ in $(seq 50); do
  inns d ss -Huln 'sport = :67' | grep -q . && break
  sleep 0.1
done
inns d ss -Huln 'sport = :67' | grep -q . || fail "dnsmasq does not listen on port 67 (test setup)"

log "test setup: dnsmasq (default settings) offers only after its ping, about 3 s"
client c send --iface eth0 --type DISCOVER --mac 02:00:c6:12:00:71 --wait 6 >"$WORK/setup.json"
jq_check "$WORK/setup.json" '[.[] | select(.src == "198.18.0.2" and .type == "OFFER")] | length >= 1' \
  "dnsmasq did not offer within 6 s (test setup)"
log "dnsmasq offered $(jq -s -r '[.[] | select(.src == "198.18.0.2")][0].yiaddr' "$WORK/setup.json")"

log "a) authoritative rackbootd beside it: refuses, naming dnsmasq"
rb_spawn refused
pid=${RB_PID[refused]}
rc=0
timeout 30 tail --pid="$pid" -f /dev/null || fail "rackbootd started authoritative beside dnsmasq (default settings)"
wait "$pid" || rc=$?
(( rc != 0 )) || fail "rackbootd exited 0 beside dnsmasq"
grep -q '^rackbootd: ready' "$WORK/rb-refused.out" && fail "rackbootd said ready beside dnsmasq"
grep -q 'probing for other DHCP servers on br0 for 5s (2 DISCOVERs)' "$WORK/rb-refused.log" ||
  fail "no 'probing for other DHCP servers on br0 for 5s (2 DISCOVERs)' line"
grep -Eq 'another DHCP server answers on br0: 198\.18\.0\.2 .*offered 198\.18\.50\.' "$WORK/rb-refused.log" ||
  fail "the refusal does not name 198.18.0.2 and the address it offered"
log "refused (exit $rc): $(grep -o 'another DHCP server answers.*' "$WORK/rb-refused.log" | cut -c1-140)"

log "b) --allow_other_dhcp: starts, with the warning"
rb_start allowed --allow_other_dhcp
grep -Eq 'ANOTHER DHCP SERVER ANSWERS ON br0: 198\.18\.0\.2 .*offered 198\.18\.50\.' "$WORK/rb-allowed.log" ||
  fail "--allow_other_dhcp: no warning naming 198.18.0.2 and its offer"
rb_stop allowed

log "c) dnsmasq gone: the probe finds nobody and rackbootd starts"
kill "$DNSMASQ_PID"
wait "$DNSMASQ_PID" 2>/dev/null || true
rb_start alone
grep -q 'probe on br0: no other DHCP server answered' "$WORK/rb-alone.log" ||
  fail "no 'no other DHCP server answered' line"
rb_stop alone
log "PASS"
