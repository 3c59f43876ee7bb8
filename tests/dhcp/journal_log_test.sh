#!/usr/bin/env bash
# rackbootd under systemd's journal (issue 18): the DHCP thread's per-lease lines (written in
# batches by engine/log's LineWriter) take the journal's format like every other record: one
# "<6>dhcp DHCPACK ..." line each, no glog prefix, the totals at stop a <4> warning. journald is
# simulated the way systemd tells a service its stderr is the journal: JOURNAL_STREAM holds the
# device:inode of stderr (here a file). One busybox udhcpc across a veth, in namespaces of its own.
# Usage: journal_log_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=journal_log
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
site_toml >"$WORK/site.toml"
inventory >"$WORK/inventory.csv"
# rb_spawn truncates this file (same inode) for rackbootd's stderr.
: >"$WORK/rb-main.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/rb-main.log")
export JOURNAL_STREAM
rb_start main
unset JOURNAL_STREAM

MAC=02:00:c6:12:00:21
set_mac c eth0 "$MAC"
cat >"$WORK/udhcpc.sh" <<SCRIPT
#!/bin/sh
env | sort >"$WORK/udhcpc.\$1"
SCRIPT
chmod 755 "$WORK/udhcpc.sh"
timeout 30 ip netns exec "$(ns c)" busybox udhcpc -i eth0 -n -q -f -t 5 -T 2 \
  -s "$WORK/udhcpc.sh" >"$WORK/udhcpc.out" 2>&1 || { cat "$WORK/udhcpc.out" >&2; fail "udhcpc got no lease"; }
ip=$(sed -n 's/^ip=//p' "$WORK/udhcpc.bound")
[[ -n $ip ]] || fail "udhcpc: no address in its 'bound' call"
rb_stop main

log_file="$WORK/rb-main.log"
grep -Eq "^<6>dhcp DHCPOFFER ${ip//./\\.} to $MAC\$" "$log_file" ||
  fail "no <6> OFFER record for $ip: $(grep -a 'dhcp DHCP' "$log_file")"
grep -Eq "^<6>dhcp DHCPACK ${ip//./\\.} to $MAC\$" "$log_file" ||
  fail "no <6> ACK record for $ip: $(grep -a 'dhcp DHCP' "$log_file")"
grep -Eq '^<4>dhcp totals: .* acks=1 ' "$log_file" || fail "the totals are not a <4> record"
bad=$(grep -Ev '^<[2346]>' "$log_file" || true)
[[ -z $bad ]] || fail "lines that are not journal records: $bad"
log "per-lease lines and every other record in the journal's format"
log "PASS"
