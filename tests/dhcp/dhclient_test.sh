#!/usr/bin/env bash
# ISC dhclient against rackbootd (authoritative), in namespaces of its own, with its own lease,
# pid, config and script files (never the host's):
#  - a lease with router, dns, domain, subnet mask and lease time as configured;
#  - `dhclient -r` releases it: the daemon journals a "released" record for that address and MAC;
#  - after the release (and with dhclient's lease file gone, so the client cannot ask for it),
#    the same client gets the same address again.
# Usage: dhclient_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=dhclient
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
MAC=02:00:c6:12:00:21
set_mac c eth0 "$MAC"
site_toml >"$WORK/site.toml"
inventory >"$WORK/inventory.csv"
rb_start main

# The script configures the address like dhclient-script would (the RELEASE is sent by unicast
# from it) and keeps each call's environment.
cat >"$WORK/dhclient-script" <<SCRIPT
#!/bin/sh
env | sort >"$WORK/dhclient.\$reason"
case "\$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    ip addr flush dev "\$interface"
    ip addr add "\$new_ip_address/\$new_subnet_mask" dev "\$interface" ;;
  RELEASE|EXPIRE|FAIL|STOP)
    ip addr flush dev "\$interface" ;;
esac
exit 0
SCRIPT
chmod 755 "$WORK/dhclient-script"
cat >"$WORK/dhclient.conf" <<'CONF'
request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers,
        dhcp-lease-time, dhcp-server-identifier;
CONF
dh() {  # dh [-r]: dhclient in ns c with only our files
  timeout 40 ip netns exec "$(ns c)" dhclient -4 "$@" -1 -v -cf "$WORK/dhclient.conf" \
    -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" -sf "$WORK/dhclient-script" eth0 \
    >>"$WORK/dhclient.out" 2>&1
}
envvar() { sed -n "s/^$2=//p" "$WORK/dhclient.$1"; }
expect() {  # expect VAR VALUE
  local got
  got=$(envvar BOUND "$1")
  [[ $got == "$2" ]] || { cat "$WORK/dhclient.BOUND" >&2; fail "dhclient: $1 is '$got', want '$2'"; }
}

log "dhclient: first lease"
dh || { cat "$WORK/dhclient.out" >&2; fail "dhclient got no lease"; }
[[ -s $WORK/dhclient.BOUND ]] || { cat "$WORK/dhclient.out" >&2; fail "dhclient: no BOUND"; }
ip1=$(envvar BOUND new_ip_address)
[[ $ip1 == 198.18.1[6-9].* || $ip1 == 198.18.2[0-9].* || $ip1 == 198.18.3[01].* ]] ||
  fail "dhclient: $ip1 is not from the pool"
expect new_subnet_mask 255.255.0.0
expect new_routers 198.18.0.254
expect new_domain_name_servers "198.18.0.53 198.18.0.54"
expect new_domain_name rack.test
expect new_dhcp_lease_time 1234
expect new_dhcp_server_identifier 198.18.0.1
inns c ip -4 addr show dev eth0 | grep -q "inet $ip1/16" || fail "address not configured by the script"
log "bound to $ip1"

log "dhclient -r: release"
dh -r || { cat "$WORK/dhclient.out" >&2; fail "dhclient -r failed"; }
grep -q "DHCPRELEASE" "$WORK/dhclient.out" || { cat "$WORK/dhclient.out" >&2; fail "dhclient sent no DHCPRELEASE"; }
# The RELEASE gets no reply, but its journal record must reach the disk promptly on its own (the
# journal is group-committed per reactor loop iteration). Checked for 3 s with no other traffic;
# the verdict comes at the end, after the other checks.
journal_has_release() {
  client c journal --path "$WORK/state/leases.journal" |
    jq -e -s --arg ip "$ip1" --arg mac "$MAC" \
      'any(.[]; .address == $ip and .mac == $mac and .state == "released")' >/dev/null
}
release_live=no
for _ in $(seq 30); do
  if journal_has_release; then release_live=yes; break; fi
  sleep 0.1
done
log "release of $ip1 in the journal within 3 s: $release_live"

log "dhclient again (no lease file): the same address"
rm -f "$WORK/dhclient.leases" "$WORK/dhclient.BOUND"
inns c ip addr flush dev eth0
dh || { cat "$WORK/dhclient.out" >&2; fail "second dhclient got no lease"; }
ip2=$(envvar BOUND new_ip_address)
[[ $ip2 == "$ip1" ]] || fail "after release the client got $ip2, not its old $ip1"
# Stop the daemonized dhclient (by its pid file; it lives in our namespace anyway).
dh -x || true

rb_stop main
totals=$(grep 'dhcp totals' "$WORK/rb-main.log")
[[ $totals =~ acks=([0-9]+) ]] && (( BASH_REMATCH[1] >= 2 )) || fail "totals: $totals"
[[ $totals =~ journal_records=([0-9]+) ]] && (( BASH_REMATCH[1] >= 3 )) || fail "bound, released, bound: $totals"
journal_has_release || fail "no 'released' journal record for $ip1 even after SIGTERM"
if [[ $release_live != yes ]]; then
  client c journal --path "$WORK/state/leases.journal" >&2
  fail "rackbootd BUG: the RELEASE of $ip1 was journaled only at shutdown, not within 3 s:" \
    "records of requests without a reply (RELEASE, DECLINE) stay in the journal's pending batch" \
    "until the next ACK (DhcpShard::OnDatagram calls journal_->Commit() only for held replies)"
fi
log "PASS ($totals)"
