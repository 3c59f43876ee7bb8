#!/usr/bin/env bash
# Every acknowledged lease survives SIGKILL (ACKs leave only after the journal is fdatasync'ed):
#  - dhcp_client.py `load`: up to 60,000 distinct clients, DORA each (64 in flight, broadcast flag),
#    every ACK appended (mac ip) to a file and flushed;
#  - after ~1.5 s of load: SIGKILL rackbootd; restart it on the same state_dir ("replayed N");
#  - every ACKed (mac, ip) then asks INIT-REBOOT (option 50, no server id, no ciaddr) and must get
#    an ACK for that ip (never a NAK);
#  - no ip was ever ACKed to two MACs; 300 new clients after the restart never get an ACKed ip.
# Usage: durability_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=durability
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
# 65,000 addresses: the load must still be running when the daemon is killed (it does thousands
# of exchanges per second).
SUBNET_POOL=198.18.1.0-198.18.254.254
COUNT=60000
site_toml >"$WORK/site.toml"
inventory >"$WORK/inventory.csv"
rb_start first

log "load: $COUNT clients"
ip netns exec "$(ns c)" timeout 60 "$PY" "$CLIENT" load --iface eth0 --mac 02:10:00:00:00:00 \
  --count "$COUNT" --window 64 --duration 4 --retry 0.5 --tries 2 --acks "$WORK/acks1" \
  >"$WORK/load1.json" 2>"$WORK/load1.err" &
load_pid=$!
PIDS+=("$load_pid")
sleep 1.5
before=$(wc -l <"$WORK/acks1")
rb_kill9 first
log "SIGKILL after $before ACKs"
wait "$load_pid" || { cat "$WORK/load1.err" >&2; fail "load client failed"; }
cat "$WORK/load1.json" >&2
acked=$(wc -l <"$WORK/acks1")
(( acked >= 50 )) || fail "only $acked ACKs before the kill: too few to prove anything"
(( acked < COUNT )) || fail "all $COUNT clients finished before the kill; the kill proved nothing"

rb_start second
grep -o 'replayed [0-9]* lease records.*' "$WORK/rb-second.log" >&2 || fail "no replay line"
replayed=$(sed -n 's/.*replayed \([0-9]*\) lease records.*/\1/p' "$WORK/rb-second.log")
(( replayed >= acked )) || fail "replayed $replayed records, but $acked ACKs were sent"

log "INIT-REBOOT for each of the $acked ACKed leases"
client c verify --iface eth0 --acks "$WORK/acks1" --window 64 --duration 90 --retry 0.5 --tries 3 \
  >"$WORK/verify.json" || { cat "$WORK/verify.json" >&2; fail "an ACKed lease did not survive SIGKILL"; }
cat "$WORK/verify.json" >&2

log "300 new clients after the restart"
client c load --iface eth0 --mac 02:20:00:00:00:00 --count 300 --window 64 --duration 20 \
  --retry 0.5 --tries 3 --acks "$WORK/acks2" >"$WORK/load2.json"
cat "$WORK/load2.json" >&2
jq_check "$WORK/load2.json" '.[0].acks == 300 and .[0].duplicate_ip == 0' "new clients after restart did not all get a lease"

# No ip ACKed to two different MACs, before or after the restart.
dups=$(cat "$WORK/acks1" "$WORK/acks2" | sort -u | awk '{print $2}' | sort | uniq -d | head)
[[ -z $dups ]] || fail "ip ACKed to two MACs: $dups"
rb_stop second
log "PASS: $acked ACKed before SIGKILL, $replayed records replayed, all $acked INIT-REBOOTs ACKed with the same ip, 300 new clients got fresh ips"
