#!/usr/bin/env bash
# bench/dhcp_floor_responder_test.sh: the floor row of `./rackboot bench dhcp` is a real DHCP
# server. perfdhcp (as a relay, the way the bench runs it) makes full DORA exchanges with
# dhcp_floor_responder across a veth between two namespaces; every exchange must complete, and
# the responder's journal must hold one well-formed record per ACK it sent, each from the pool,
# written by fewer fdatasyncs than records (group commit) and no ACK without its record.
# Usage: dhcp_floor_responder_test.sh DHCP_FLOOR_RESPONDER
set -euo pipefail
FLOOR=$(readlink -f "$1")
log() { echo "floor_test: $*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
[[ $(id -u) -eq 0 ]] || fail "needs root (network namespaces)"
PERFDHCP=/usr/sbin/perfdhcp
[[ -x $PERFDHCP ]] || fail "no $PERFDHCP (kea-admin; ./rackboot setup installs it)"

NS_S=rbfloor-s-$$
NS_C=rbfloor-c-$$
WORK=$(mktemp -d /tmp/rbfloor-test.XXXXXX)
PID=""
cleanup() {
  [[ -n $PID ]] && kill -KILL "$PID" 2>/dev/null || true
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add fls$$ netns "$NS_S" type veth peer name flc$$ netns "$NS_C"
ip -n "$NS_S" addr add 198.18.0.1/16 dev fls$$
ip -n "$NS_C" addr add 198.18.0.2/16 dev flc$$
for ns in "$NS_S" "$NS_C"; do
  ip -n "$ns" link set lo up
done
ip -n "$NS_S" link set fls$$ up
ip -n "$NS_C" link set flc$$ up

JOURNAL=$WORK/floor.journal
ip netns exec "$NS_S" "$FLOOR" --journal="$JOURNAL" --server_id=198.18.0.1 \
  --pool_first=198.18.1.0 --pool_size=1000 --lease_seconds=3600 2>"$WORK/floor.err" &
PID=$!
for _ in $(seq 1 100); do
  grep -q 'floor: ready' "$WORK/floor.err" && break
  kill -0 "$PID" 2>/dev/null || fail "the responder exited: $(cat "$WORK/floor.err")"
  sleep 0.05
done
grep -q 'floor: ready' "$WORK/floor.err" || fail "the responder did not start"

# 300 exchanges/s for 3 s from 500 distinct MACs, relayed from 198.18.0.2.
CLIENTS=500
log "perfdhcp -r 300 -p 3 -R $CLIENTS"
timeout -s INT -k 5 20 ip netns exec "$NS_C" "$PERFDHCP" -4 -R $CLIENTS -s 7 -W 500000 \
  -l 198.18.0.2 -r 300 -p 3 198.18.0.1 >"$WORK/perfdhcp.out" 2>&1 || true
kill -TERM "$PID"
wait "$PID" || fail "the responder exited with status $? on SIGTERM"
PID=""
cat "$WORK/perfdhcp.out" >&2
cat "$WORK/floor.err" >&2

read -r sent_do recv_do sent_ra recv_ra < <(awk '
  /Statistics for: DISCOVER-OFFER/ { b = "do" }
  /Statistics for: REQUEST-ACK/ { b = "ra" }
  b != "" && /^sent packets:/ { s[b] = $3 }
  b != "" && /^received packets:/ { r[b] = $3 }
  END { printf "%d %d %d %d\n", s["do"], r["do"], s["ra"], r["ra"] }' "$WORK/perfdhcp.out")
log "DISCOVER-OFFER $recv_do of $sent_do, REQUEST-ACK $recv_ra of $sent_ra"
[[ $sent_do -ge 500 ]] || fail "perfdhcp sent only $sent_do DISCOVERs"
[[ $recv_do -eq $sent_do ]] || fail "OFFERs: $recv_do of $sent_do"
[[ $sent_ra -eq $recv_do ]] || fail "REQUESTs: $sent_ra for $recv_do OFFERs"
[[ $recv_ra -eq $sent_ra ]] || fail "ACKs: $recv_ra of $sent_ra"

stop=$(grep -o 'floor: offers=.*' "$WORK/floor.err") || fail "no stop line"
val() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $stop"; }
acks=$(val acks) records=$(val journal_records) syncs=$(val journal_syncs)
[[ $acks -eq $recv_ra ]] || fail "the responder sent $acks ACKs, perfdhcp received $recv_ra"
[[ $records -eq $acks ]] || fail "$records journal records for $acks ACKs"
lines=$(wc -l <"$JOURNAL")
[[ $lines -eq $acks ]] || fail "the journal file has $lines records for $acks ACKs"
[[ $syncs -ge 1 && $syncs -lt $records ]] || fail "$syncs fdatasyncs for $records records: no group commit"
# Every record: expiry about an hour ahead, a MAC, an address from the pool (198.18.1.0 + < 1000).
now=$(date +%s)
bad=$(awk -v now="$now" '
  { split($3, a, ".") }
  !($1 > now + 3500 && $1 <= now + 3600 && $2 ~ /^[0-9a-f][0-9a-f](:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])(:[0-9a-f][0-9a-f])$/ &&
    a[1] == 198 && a[2] == 18 && (a[3] - 1) * 256 + a[4] >= 0 && (a[3] - 1) * 256 + a[4] < 1000) { n++ }
  END { print n + 0 }' "$JOURNAL")
[[ $bad -eq 0 ]] || fail "$bad malformed journal records: $(head -n 3 "$JOURNAL")"
macs=$(awk '{ print $2 }' "$JOURNAL" | sort -u | wc -l)
[[ $macs -ge 2 ]] || fail "all records for $macs MAC"
log "PASS: $acks exchanges, $records records in $syncs fdatasyncs, $macs distinct MACs"
