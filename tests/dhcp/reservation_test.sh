#!/usr/bin/env bash
# Reservations by MAC, with real clients, in namespaces of its own (issue 11: an inventory host got
# its reserved address only while it sent the same client identifier, option 61; its PXE ROM, iPXE
# and the installer each send their own):
#  a) one inventory MAC, one client after the other, none releasing its lease: busybox udhcpc with
#     its default identifier (01+MAC), with a UUID-style one (-x 0x3d:00...), with none (-C), with
#     a DUID-style one, then ISC dhclient with a text identifier and with none: every one gets the
#     reservation, and nothing is NAKed;
#  b) outside the inventory RFC 2131 4.2 still holds: one MAC with two identifiers is two clients
#     and gets two pool addresses;
#  c) log hygiene: unknown PXE clients whose vendor class carries a newline and a tab (with
#     unknown_pxe = discover) leave one escaped log line each (no forged line), discovered.tsv
#     keeps three tab-separated fields a line, and a flood of them is rate-limited with an
#     "N similar suppressed" note.
# Usage: reservation_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=reservation
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
HOST_MAC=02:00:c6:12:00:60
HOST_IP=198.18.0.60
UNKNOWN_PXE=discover
site_toml >"$WORK/site.toml"
inventory "$HOST_MAC,node060,$HOST_IP,debian12,installed" >"$WORK/inventory.csv"
rb_start main

cat >"$WORK/udhcpc.sh" <<SCRIPT
#!/bin/sh
env | sort >"$WORK/udhcpc.\$1"
SCRIPT
chmod 755 "$WORK/udhcpc.sh"
udhcpc() {  # udhcpc MAC [ARGS...]: one run, prints the address bound
  local mac=$1; shift
  rm -f "$WORK"/udhcpc.bound
  set_mac c eth0 "$mac"
  timeout 30 ip netns exec "$(ns c)" busybox udhcpc -i eth0 -n -q -f -t 5 -T 2 \
    -s "$WORK/udhcpc.sh" "$@" >>"$WORK/udhcpc.out" 2>&1 || { cat "$WORK/udhcpc.out" >&2; fail "udhcpc $* got no lease"; }
  sed -n 's/^ip=//p' "$WORK/udhcpc.bound"
}

cat >"$WORK/dhclient-script" <<SCRIPT
#!/bin/sh
env | sort >"$WORK/dhclient.\$reason"
exit 0
SCRIPT
chmod 755 "$WORK/dhclient-script"
dh() {  # dh CONF_LINE: one dhclient run (fresh lease file), prints the address bound
  printf '%s\nrequest subnet-mask, routers, dhcp-lease-time, dhcp-server-identifier;\n' "$1" \
    >"$WORK/dhclient.conf"
  rm -f "$WORK/dhclient.leases" "$WORK/dhclient.BOUND"
  timeout 40 ip netns exec "$(ns c)" dhclient -4 -1 -v -cf "$WORK/dhclient.conf" \
    -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" -sf "$WORK/dhclient-script" eth0 \
    >>"$WORK/dhclient.out" 2>&1 || { cat "$WORK/dhclient.out" >&2; fail "dhclient ($1) got no lease"; }
  timeout 10 ip netns exec "$(ns c)" dhclient -4 -x -pf "$WORK/dhclient.pid" eth0 >/dev/null 2>&1 || true
  sed -n 's/^new_ip_address=//p' "$WORK/dhclient.BOUND"
}

log "a) one inventory host, six client identities, no release in between"
mac_hex=${HOST_MAC//:/}
for spec in "default (01+MAC):" \
            "UUID-style:-x 0x3d:001f2e3d4c5b6a79880123456789abcdef" \
            "none (-C):-C" \
            "DUID-style:-x 0x3d:ff000000010001000000010000$mac_hex"; do
  label=${spec%%:*} args=${spec#*:}
  # shellcheck disable=SC2086
  got=$(udhcpc "$HOST_MAC" $args)
  [[ $got == "$HOST_IP" ]] || fail "udhcpc with client identifier $label got $got, not the reservation $HOST_IP"
  log "udhcpc, identifier $label: $got"
done
set_mac c eth0 "$HOST_MAC"
got=$(dh 'send dhcp-client-identifier "installer-node060";')
[[ $got == "$HOST_IP" ]] || fail "dhclient with a text client identifier got $got, not $HOST_IP"
log "dhclient, identifier \"installer-node060\": $got"
got=$(dh '')
[[ $got == "$HOST_IP" ]] || fail "dhclient without a client identifier got $got, not $HOST_IP"
log "dhclient, no identifier: $got"

log "b) outside the inventory: two identifiers, two clients"
OTHER=02:00:c6:12:00:61
one=$(udhcpc "$OTHER" -x 0x3d:01aa)
two=$(udhcpc "$OTHER" -x 0x3d:01bb)
[[ -n $one && -n $two && $one != "$two" ]] || fail "non-inventory MAC with two identifiers got $one and $two"
[[ $one != "$HOST_IP" && $two != "$HOST_IP" ]] || fail "a non-inventory client got the reservation"
log "got $one and $two"

log "c) unknown PXE clients with a newline and a tab in their vendor class"
for i in $(seq 10 39); do
  client c send --iface eth0 --type DISCOVER --mac "02:00:c6:12:01:$i" \
    --vendor $'PXEClient:Arch:00000\nE1130 00:00:00.000000 1 forged.cc:1]\tforged line' --arch 0 \
    --wait 0.05 >/dev/null
done
sleep 0.5
! grep -q '^E1130 00:00:00.000000 1 forged' "$WORK/rb-main.log" || fail "a client forged a log line"
lines=$(grep -c 'from unknown PXE client' "$WORK/rb-main.log" || true)
(( lines >= 1 && lines <= 10 )) || fail "$lines 'unknown PXE client' lines for 30 DISCOVERs (want 1..10, rate-limited)"
grep -Fq 'vendor="PXEClient:Arch:00000\x0aE1130 00:00:00.000000 1 forged' "$WORK/rb-main.log" ||
  fail "the vendor class is not escaped in the log"
grep -Fq 'arch=0 PXEClient:Arch:00000\x0aE1130 00:00:00.000000 1 forged' "$WORK/state/discovered.tsv" ||
  fail "the vendor class is not escaped in discovered.tsv"
[[ $(wc -l <"$WORK/state/discovered.tsv") -eq 30 ]] || { cat "$WORK/state/discovered.tsv" >&2; fail "discovered.tsv: want 30 lines"; }
awk -F'\t' 'NF != 3 { bad = 1 } END { exit bad }' "$WORK/state/discovered.tsv" ||
  { cat -A "$WORK/state/discovered.tsv" >&2; fail "discovered.tsv: a line without exactly 3 fields"; }
log "$lines log lines for 30 DISCOVERs; discovered.tsv: $(head -1 "$WORK/state/discovered.tsv")"
log "after the 10 s interval the next line says how many were suppressed"
sleep 10.2
client c send --iface eth0 --type DISCOVER --mac 02:00:c6:12:01:99 --vendor PXEClient:Arch:00000 --arch 0 \
  --wait 0.3 >/dev/null
sleep 0.3
grep -Eq 'from unknown PXE client 02:00:c6:12:01:99 .*\(([0-9]+) similar suppressed\)' "$WORK/rb-main.log" ||
  fail "no 'similar suppressed' note on the next unknown-PXE line"
log "$(grep -o 'from unknown PXE client 02:00:c6:12:01:99.*' "$WORK/rb-main.log")"

rb_stop main
totals=$(grep -o 'dhcp totals.*' "$WORK/rb-main.log")
[[ $totals == *" naks=0 "* ]] || fail "NAKs on the way: $totals"
log "PASS ($totals)"
