#!/usr/bin/env bash
# proxyDHCP: rackbootd --dhcp_mode=proxy beside dnsmasq as the segment's DHCP server (addresses
# only, no PXE options of its own), in namespaces of its own:
#
#   ns s: rackbootd (proxy) on br0 198.18.0.1/16
#   ns d: dnsmasq on eth0 198.18.0.2/16 (range 198.18.40.10-198.18.40.50)
#   ns c: dhcp_client.py
#
#  - rackbootd starts in proxy mode although another DHCP server answers (no probe refusal);
#  - a PXE client (option 60 PXEClient:Arch:00000, option 93 = 0, its MAC in the inventory with
#    state install) gets two OFFERs: dnsmasq's with an address, rackbootd's with yiaddr 0.0.0.0,
#    the boot file, option 60 "PXEClient" and option 43;
#  - its REQUEST to rackbootd's port 4011 gets an ACK with the boot file, back to the client;
#  - a non-PXE client, and an unknown PXE client, get nothing from rackbootd (dnsmasq answers).
# Usage: proxy_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=proxy
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c; ns_add d
segment
attach d eth0
inns d ip addr add 198.18.0.2/16 dev eth0

ip netns exec "$(ns d)" dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --port=0 \
  --interface=eth0 --bind-interfaces --no-ping \
  --dhcp-range=198.18.40.10,198.18.40.50,255.255.0.0,1h \
  --dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
  --log-dhcp --log-facility="$WORK/dnsmasq.log" >"$WORK/dnsmasq.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do
  inns d ss -Huln 'sport = :67' | grep -q . && break
  sleep 0.1
done
inns d ss -Huln 'sport = :67' | grep -q . || { cat "$WORK/dnsmasq.out" >&2; fail "dnsmasq did not start"; }

PXE_MAC=02:00:c6:12:00:31
MODE=proxy
site_toml >"$WORK/site.toml"
inventory "$PXE_MAC,node031,,rocky9,install" >"$WORK/inventory.csv"
rb_start main
grep -q 'DHCP proxy on br0' "$WORK/rb-main.out" || fail "ready line: $(cat "$WORK/rb-main.out")"

PXE=(--vendor PXEClient:Arch:00000:UNDI:002001 --arch 0 --uuid)

log "PXE DISCOVER: two offers"
client c send --iface eth0 --type DISCOVER --mac "$PXE_MAC" "${PXE[@]}" --wait 4 >"$WORK/pxe.json"
jq_check "$WORK/pxe.json" \
  '[.[] | select(.type == "OFFER" and .src == "198.18.0.2")] | length >= 1 and
   (.[0].yiaddr | test("^198\\.18\\.40\\.")) and (.[0].file == "") and (.[0].bootfile == null)' \
  "no address OFFER from dnsmasq (or it carried a boot file)"
jq_check "$WORK/pxe.json" \
  '[.[] | select(.type == "OFFER" and .src == "198.18.0.1")] | length == 1 and (.[0] |
     .yiaddr == "0.0.0.0" and .file == "pxelinux.0" and .vendor == "PXEClient" and
     .opt43 != null and .server_id == "198.18.0.1" and .siaddr == "198.18.0.1" and
     .router == null and .lease == null)' \
  "rackbootd's proxy OFFER: want yiaddr 0.0.0.0, file pxelinux.0, option 60 PXEClient, option 43, no address options"
log "offers: $(jq -r -c '[.src, .yiaddr, .file, .opt43] | tostring' "$WORK/pxe.json" | tr '\n' ' ')"

log "PXE REQUEST to port 4011"
# The client holds dnsmasq's address by now (here: a static one of that range).
inns c ip addr add 198.18.40.200/16 dev eth0
set_mac c eth0 "$PXE_MAC"
client c send --iface eth0 --type REQUEST --mac "$PXE_MAC" "${PXE[@]}" --ciaddr 198.18.40.200 \
  --server 198.18.0.1 --port 4011 --no-broadcast --wait 3 >"$WORK/pxe4011.json"
jq_check "$WORK/pxe4011.json" \
  '[.[] | select(.src == "198.18.0.1")] | length == 1 and (.[0] |
     .type == "ACK" and .file == "pxelinux.0" and .vendor == "PXEClient" and
     .yiaddr == "0.0.0.0" and .sport == 4011)' \
  "no ACK with the boot file from rackbootd's port 4011"
inns c ip addr flush dev eth0

log "non-PXE and unknown PXE clients: nothing from rackbootd"
client c send --iface eth0 --type DISCOVER --mac 02:00:c6:12:00:32 --wait 3 >"$WORK/plain.json"
jq_check "$WORK/plain.json" '[.[] | select(.src == "198.18.0.2" and .type == "OFFER")] | length >= 1' \
  "dnsmasq did not answer the non-PXE client (test setup)"
jq_check "$WORK/plain.json" '[.[] | select(.src == "198.18.0.1")] | length == 0' \
  "rackbootd (proxy) answered a non-PXE client"
client c send --iface eth0 --type DISCOVER --mac 02:00:c6:12:00:33 "${PXE[@]}" --wait 3 >"$WORK/unknown.json"
jq_check "$WORK/unknown.json" '[.[] | select(.src == "198.18.0.1")] | length == 0' \
  "rackbootd (proxy) answered an unknown PXE client"

rb_stop main
totals=$(grep -o 'dhcp totals.*' "$WORK/rb-main.log")
[[ $totals == *"acks=1 "* ]] || fail "totals: $totals"
log "PASS ($totals)"
