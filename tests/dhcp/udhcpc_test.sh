#!/usr/bin/env bash
# busybox udhcpc against rackbootd (authoritative) across a veth, in namespaces of its own:
#  - a lease from the pool, and the script sees router, dns, domain, subnet, lease time and server
#    id exactly as site.toml configures them;
#  - the same client again gets the same address (returning client);
#  - an inventory host's MAC gets its reserved address (outside the pool).
# Usage: udhcpc_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=udhcpc
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
RESERVED_MAC=02:00:c6:12:00:50
RESERVED_IP=198.18.0.50
site_toml >"$WORK/site.toml"
inventory "$RESERVED_MAC,node050,$RESERVED_IP,debian12,installed" >"$WORK/inventory.csv"
rb_start main

cat >"$WORK/udhcpc.sh" <<SCRIPT
#!/bin/sh
# udhcpc calls this with the event (deconfig, bound, renew, nak, leasefail); keep its env.
env | sort >"$WORK/udhcpc.\$1"
SCRIPT
chmod 755 "$WORK/udhcpc.sh"

udhcpc() {  # udhcpc MAC: one run; leaves $WORK/udhcpc.bound
  rm -f "$WORK"/udhcpc.bound
  set_mac c eth0 "$1"
  timeout 30 ip netns exec "$(ns c)" busybox udhcpc -i eth0 -n -q -f -t 5 -T 2 \
    -s "$WORK/udhcpc.sh" >>"$WORK/udhcpc.out" 2>&1 || { cat "$WORK/udhcpc.out" >&2; fail "udhcpc ($1) got no lease"; }
  [[ -s $WORK/udhcpc.bound ]] || fail "udhcpc ($1): script not called with 'bound'"
}
envvar() { sed -n "s/^$1=//p" "$WORK/udhcpc.bound"; }
expect() {  # expect VAR VALUE
  local got
  got=$(envvar "$1")
  [[ $got == "$2" ]] || { cat "$WORK/udhcpc.bound" >&2; fail "udhcpc: $1 is '$got', want '$2'"; }
}
in_pool() {  # 198.18.16.0 - 198.18.31.254
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  [[ $a == 198 && $b == 18 && $c -ge 16 && $c -le 31 ]]
}

log "first run"
udhcpc 02:00:c6:12:00:11
first=$(envvar ip)
in_pool "$first" || fail "udhcpc: address $first is not from the pool"
expect subnet 255.255.0.0
expect router 198.18.0.254
expect dns "198.18.0.53 198.18.0.54"
expect domain rack.test
expect lease 1234
expect serverid 198.18.0.1
log "got $first with all options as configured"

log "second run, same MAC"
udhcpc 02:00:c6:12:00:11
expect ip "$first"

log "another MAC gets another address"
udhcpc 02:00:c6:12:00:12
other=$(envvar ip)
in_pool "$other" || fail "second client: $other not from the pool"
[[ $other != "$first" ]] || fail "two clients got the same address $first"

log "inventory host gets its reservation"
udhcpc "$RESERVED_MAC"
expect ip "$RESERVED_IP"
expect router 198.18.0.254

rb_stop main
grep -Eq 'dhcp totals: .* acks=4 naks=0 ' "$WORK/rb-main.log" ||
  fail "unexpected totals: $(grep 'dhcp totals' "$WORK/rb-main.log")"

# The line per OFFER and ACK (written in batches off the DHCP thread): glog's prefix, one whole
# line each, all four ACKs written by the time rackbootd stopped.
PREFIX='^I[0-9]{8} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} +[0-9]+ dhcp_shard\.cc:[0-9]+\] '
grep -Eq "${PREFIX}dhcp DHCPOFFER ${first//./\\.} to 02:00:c6:12:00:11\$" "$WORK/rb-main.log" ||
  fail "no OFFER line for $first: $(grep -a 'dhcp DHCP' "$WORK/rb-main.log")"
grep -Eq "${PREFIX}dhcp DHCPACK ${first//./\\.} to 02:00:c6:12:00:11\$" "$WORK/rb-main.log" ||
  fail "no ACK line for $first: $(grep -a 'dhcp DHCP' "$WORK/rb-main.log")"
acks=$(grep -Ec "${PREFIX}dhcp DHCPACK [0-9.]+ to [0-9a-f:]+( \([^)]*\))?\$" "$WORK/rb-main.log" || true)
[[ $acks -eq 4 ]] || fail "$acks whole DHCPACK lines for 4 ACKs: $(grep -a 'dhcp DHCP' "$WORK/rb-main.log")"
log "OFFER and ACK lines as operators read them ($acks ACK lines)"
log "PASS"
