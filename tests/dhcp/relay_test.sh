#!/usr/bin/env bash
# Relayed DHCP (giaddr) against rackbootd, in namespaces of its own:
#
#   ns s: rackbootd on br0 198.18.0.1/16, route to 198.19.7.0/24 via the relay
#   ns r: the relay: eth0 198.18.0.2/16 on br0, eth1 198.19.7.1/24 towards ns b
#   ns b: a client on the second segment (198.19.7.0/24)
#
#  1. dhcp_client.py acts as the relay itself (in ns r): DISCOVER/REQUEST with giaddr 198.19.7.1
#     and option 82 to the server; the OFFER and ACK come back to port 67 of giaddr, with an
#     address and the router of the second subnet, and option 82 byte-identical.
#  2. dnsmasq relays (--dhcp-relay) for busybox udhcpc in ns b: udhcpc gets 198.19.7.x with that
#     subnet's router and dns.
# Usage: relay_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=relay
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c; ns_add r; ns_add b
segment
attach r eth0
inns r ip addr add 198.18.0.2/16 dev eth0
inns r ip link add eth1 type veth peer name eth0 netns "$(ns b)"
inns r ip addr add 198.19.7.1/24 dev eth1
inns r ip link set eth1 up
inns b ip link set eth0 up
inns s ip route add 198.19.7.0/24 via 198.18.0.2

EXTRA_TOML='
[[dhcp.subnet]]
cidr = "198.19.7.0/24"
pool = "198.19.7.100-198.19.7.150"
router = "198.19.7.1"
dns = ["198.19.7.53"]
domain = "rack2.test"'
site_toml >"$WORK/site.toml"
inventory >"$WORK/inventory.csv"
rb_start main

log "dhcp_client.py as the relay: giaddr 198.19.7.1, option 82"
OPT82=0106000401020304020a0008c612000102030405   # circuit id + remote id, arbitrary bytes
client r dora --bind 198.19.7.1 --giaddr 198.19.7.1 --server 198.18.0.1 \
  --mac 02:00:c6:13:07:01 --opt82 "$OPT82" --wait 5 >"$WORK/relayed.json" ||
  { cat "$WORK/relayed.json" >&2; fail "no relayed OFFER/ACK (on port 67 of giaddr)"; }
for t in OFFER ACK; do
  jq_check "$WORK/relayed.json" \
    "[.[] | select(.type == \"$t\")] | length == 1 and (.[0] |
      .src == \"198.18.0.1\" and .sport == 67 and .giaddr == \"198.19.7.1\" and
      (.yiaddr | test(\"^198\\\\.19\\\\.7\\\\.(1[0-4][0-9]|150)$\")) and
      .router == [\"198.19.7.1\"] and .subnet == \"255.255.255.0\" and .dns == [\"198.19.7.53\"] and
      .domain == \"rack2.test\" and .opt82 == \"$OPT82\")" \
    "relayed $t: wrong address/options, or option 82 not echoed byte-identical"
done
log "relayed: $(jq -r 'select(.type=="ACK") | .yiaddr' "$WORK/relayed.json"), option 82 echoed"

log "dnsmasq as the relay, busybox udhcpc behind it"
ip netns exec "$(ns r)" dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --port=0 \
  --dhcp-relay=198.19.7.1,198.18.0.1 --interface=eth1 --interface=eth0 \
  --pid-file="$WORK/dnsmasq-relay.pid" --dhcp-leasefile="$WORK/dnsmasq-relay.leases" \
  --log-dhcp --log-facility="$WORK/dnsmasq-relay.log" >"$WORK/dnsmasq-relay.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do
  inns r ss -Huln 'sport = :67' | grep -q . && break
  sleep 0.1
done
inns r ss -Huln 'sport = :67' | grep -q . || { cat "$WORK/dnsmasq-relay.out" >&2; fail "dnsmasq relay did not start"; }

cat >"$WORK/udhcpc.sh" <<SCRIPT
#!/bin/sh
env | sort >"$WORK/udhcpc.\$1"
SCRIPT
chmod 755 "$WORK/udhcpc.sh"
timeout 30 ip netns exec "$(ns b)" busybox udhcpc -i eth0 -n -q -f -t 5 -T 2 \
  -s "$WORK/udhcpc.sh" >"$WORK/udhcpc.out" 2>&1 ||
  { cat "$WORK/udhcpc.out" "$WORK/dnsmasq-relay.log" >&2; fail "udhcpc behind the relay got no lease"; }
envvar() { sed -n "s/^$1=//p" "$WORK/udhcpc.bound"; }
ip=$(envvar ip)
[[ $ip =~ ^198\.19\.7\.(1[0-4][0-9]|150)$ ]] || fail "udhcpc behind the relay got $ip"
[[ $(envvar router) == 198.19.7.1 ]] || fail "router $(envvar router), want 198.19.7.1"
[[ $(envvar subnet) == 255.255.255.0 ]] || fail "subnet $(envvar subnet)"
[[ $(envvar dns) == 198.19.7.53 ]] || fail "dns $(envvar dns)"
[[ $(envvar serverid) == 198.18.0.1 ]] || fail "server id $(envvar serverid)"
log "udhcpc behind dnsmasq relay: $ip router $(envvar router)"

rb_stop main
log "PASS ($(grep -o 'dhcp totals.*' "$WORK/rb-main.log"))"
