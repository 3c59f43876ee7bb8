#!/usr/bin/env bash
# rackboot-load against real servers, in two network namespaces of its own joined by a veth
# pair (198.18.0.0/16; names carry $$; everything removed on exit, also on failure):
#
#   ns s: the server, eth0 198.18.0.1/16        ns c: rackboot-load, eth0 198.18.0.2/16
#
#  1. rackbootd (the test's inventory: every simulated MAC armed for install), flow
#     dhcp,tftp:big.bin with 50 clients, direct (broadcast on eth0) and relayed (giaddr
#     198.18.0.2): every client completes, content verified; the tool's TFTP bytes equal
#     rackbootd's "tftp totals ... bytes" and its DHCP acked equals the server's "acks".
#     Then the whole PXE-to-HTTP flow dhcp,tftp:big.bin,http:/boot/big.bin: the http step goes to
#     the lease's next-server on port 80 (no --http_server), rackbootd's --http_listen.
#     Every run reports RRQ -> DATA block 1 for each download that got block 1: one sample per
#     download, none without, 0 < p50 <= p99 <= max, max under the download's own time.
#  2. The same flow against dnsmasq (DHCP + TFTP): every client completes with the right size.
#  3. DHCP count agreement with perfdhcp: against a fresh rackbootd each, rackboot-load
#     (--flow=dhcp, relayed) and perfdhcp (relay mode) each complete all N exchanges: N sent,
#     N offered, N acked on the client's side and N acks on the server's; perfdhcp exits 0 (it
#     exits 3 when any exchange did not complete) and reports no drops.
# Usage: load_test.sh RACKBOOTD RACKBOOT_LOAD LIB_SH
RACKBOOTD=$1
LOAD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
TEST_NAME=load
# shellcheck source=/dev/null
source "$3"
lib_init

CLIENTS=50
ns_add s
ns_add c
inns s ip link add eth0 type veth peer name eth0 netns "$(ns c)"
inns s ip addr add 198.18.0.1/16 dev eth0
inns s ip link set eth0 up
inns c ip addr add 198.18.0.2/16 dev eth0
inns c ip link set eth0 up

mkdir -p "$WORK/tftp"
head -c $((3 * 1024 * 1024 + 777)) /dev/urandom >"$WORK/tftp/big.bin"
SIZE=$(stat -c %s "$WORK/tftp/big.bin")
# rackbootd refuses to start unless every boot file site.toml names is in the root and the armed
# hosts' profile is defined (exit 78).
for f in pxelinux.0 bootnetx64.efi grubaa64.efi; do echo "$f" >"$WORK/tftp/$f"; done
chmod -R a+rX "$WORK/tftp"

TFTP_ROOT="$WORK/tftp"
EXTRA_TOML='
[[profile]]
name = "load"
kernel = "big.bin"'

site_toml | sed 's/^interface = "br0"/interface = "eth0"/' >"$WORK/site.toml"
# The simulated clients: --mac_base 02:52:42 numbers them 02:52:42:00:00:00, :01, ...
lines=()
for ((i = 0; i < CLIENTS; i++)); do
  lines+=("$(printf '02:52:42:00:00:%02x,load%03d,,load,install' "$i" "$i")")
done
inventory "${lines[@]}" >"$WORK/inventory.csv"

# load NAME ARGS...: rackboot-load in ns c; JSON in $WORK/NAME.json, output in $WORK/load-NAME.out.
load() {
  local name=$1; shift
  local rc=0
  timeout 120 ip netns exec "$(ns c)" "$LOAD" --server=198.18.0.1 --json="$WORK/$name.json" \
    "$@" >"$WORK/load-$name.out" 2>&1 || rc=$?
  cat "$WORK/load-$name.out" >&2
  [[ $rc -eq 0 ]] || fail "rackboot-load ($name) exited with $rc"
}
jv() { jq -r "$2" "$WORK/$1.json"; }
# first_block_sane NAME DOWNLOADS: tftp.rrq_to_block1_* exist and make sense.
first_block_sane() {
  local name=$1 n=$2 f=.tftp.rrq_to_block1_ms
  [[ $(jv "$name" .tftp.rrq_to_block1_n) == "$n" && $(jv "$name" .tftp.without_block1) == 0 ]] ||
    fail "$name: rrq_to_block1_n $(jv "$name" .tftp.rrq_to_block1_n), without_block1 $(jv "$name" .tftp.without_block1), want $n and 0"
  jq -e "$f.p50 > 0 and $f.p50 <= $f.p99 and $f.p99 <= $f.max and $f.max < 2000
    and $f.max <= (.phases[] | select(.name | startswith(\"tftp:\")) | .ms.max)
    and (.phases[] | select(.name | startswith(\"tftp:\")) | .rrq_to_block1_ms.max) == $f.max" \
    "$WORK/$name.json" >/dev/null ||
    fail "$name: RRQ->DATA 1 not sane: $(jq -c "$f" "$WORK/$name.json"), tftp phase ms max $(jq -c '.phases[1].ms.max' "$WORK/$name.json")"
  grep -q 'RRQ->DATA 1  p50' "$WORK/load-$name.out" || fail "$name: no RRQ->DATA 1 line in the summary"
}
totals() {  # totals NAME KEY: a key=value from rackbootd's totals lines
  grep -o "$2=[0-9]*" <(grep -E '(tftp|dhcp) totals' "$WORK/rb-$1.log") | head -1 | cut -d= -f2
}

log "rackbootd, $CLIENTS clients, direct DHCP then TFTP of $SIZE bytes"
rb_start main --tftp_max_per_client=0 --http_listen=198.18.0.1:80  # one address for all clients
FLOW="--clients=$CLIENTS --flow=dhcp,tftp:big.bin --verify=$WORK/tftp/big.bin"
load direct $FLOW --interface=eth0 --rate=200
log "rackbootd, $CLIENTS clients, relayed (giaddr 198.18.0.2)"
load relayed $FLOW --interface=eth0 --relay=198.18.0.2 --io=epoll
log "rackbootd, $CLIENTS clients, direct, two load threads"
load threaded $FLOW --interface=eth0 --rate=200 --threads=2
log "rackbootd, $CLIENTS clients, dhcp then tftp then http from the lease's next-server:80"
load http --clients=$CLIENTS --flow=dhcp,tftp:big.bin,http:/boot/big.bin \
  --verify="$WORK/tftp/big.bin" --interface=eth0 --rate=200
[[ $(jv http .completed) == "$CLIENTS" && $(jv http .http.files) == "$CLIENTS" ]] ||
  fail "http: completed $(jv http .completed), http files $(jv http .http.files)"
[[ $(jv http .http.bytes) == $((CLIENTS * SIZE)) && $(jv http .tftp.bytes) == $((CLIENTS * SIZE)) ]] ||
  fail "http: http bytes $(jv http .http.bytes), tftp bytes $(jv http .tftp.bytes)"
[[ $(jv http '.phases | map(.name) | join(",")') == "dhcp,tftp:big.bin,http:/boot/big.bin" ]] ||
  fail "http: phases $(jv http '.phases | map(.name) | join(",")')"
rb_stop main
for run in direct relayed threaded; do
  [[ $(jv $run .completed) == "$CLIENTS" && $(jv $run .failed) == 0 ]] ||
    fail "$run: completed $(jv $run .completed) of $CLIENTS"
  [[ $(jv $run .tftp.bytes) == $((CLIENTS * SIZE)) ]] ||
    fail "$run: tftp bytes $(jv $run .tftp.bytes), want $((CLIENTS * SIZE))"
  [[ $(jv $run '.phases | map(.name) | join(",")') == "dhcp,tftp:big.bin" ]] ||
    fail "$run: phases $(jv $run '.phases | map(.name) | join(",")')"
  first_block_sane $run "$CLIENTS"
done
first_block_sane http "$CLIENTS"
log "RRQ->DATA 1 (direct): $(jq -c .tftp.rrq_to_block1_ms "$WORK/direct.json")"
client_bytes=$(($(jv direct .tftp.bytes) + $(jv relayed .tftp.bytes) + $(jv threaded .tftp.bytes) +
  $(jv http .tftp.bytes)))
client_acks=$(($(jv direct .dhcp.acked) + $(jv relayed .dhcp.acked) + $(jv threaded .dhcp.acked) +
  $(jv http .dhcp.acked)))
# Relayed DHCP cannot be shared by threads (unicast replies reach one socket): a usage error.
rc=0
ip netns exec "$(ns c)" "$LOAD" --server=198.18.0.1 --clients=2 --flow=dhcp --relay=198.18.0.2 \
  --threads=2 >"$WORK/threads-relay.out" 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--threads > 1 with --relay" "$WORK/threads-relay.out" ||
  fail "--threads=2 --relay: exit $rc, $(cat "$WORK/threads-relay.out")"
[[ $(totals main bytes) == "$client_bytes" ]] ||
  fail "rackbootd sent $(totals main bytes) TFTP bytes, the clients received $client_bytes"
[[ $(totals main acks) == "$client_acks" ]] ||
  fail "rackbootd acked $(totals main acks), the clients counted $client_acks"
log "rackbootd: $client_acks acks, $client_bytes bytes on both sides"
http_server_bytes=$(grep -o 'http totals:.*' "$WORK/rb-main.log" | grep -o ' bytes=[0-9]*' | cut -d= -f2)
[[ $http_server_bytes == $(($(jv http .http.bytes) + $(jv http .http.head_bytes))) ]] ||
  fail "rackbootd wrote $http_server_bytes HTTP bytes, the clients received $(jv http .http.bytes) + $(jv http .http.head_bytes) head bytes"

log "dnsmasq, $CLIENTS clients, same flow"
ip netns exec "$(ns s)" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --user=root \
  --interface=eth0 --bind-interfaces --no-ping --dhcp-range=198.18.16.1,198.18.31.254,255.255.0.0,1h \
  --dhcp-boot=big.bin --enable-tftp --tftp-root="$WORK/tftp" --tftp-max=1000 \
  --dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
  --log-facility="$WORK/dnsmasq.log" >"$WORK/dnsmasq.out" 2>&1 &
DNSMASQ=$!
PIDS+=("$DNSMASQ")
for _ in $(seq 50); do
  inns s ss -Huln 'sport = :67' | grep -q . && break
  sleep 0.1
done
load dnsmasq $FLOW --interface=eth0 --rate=200
[[ $(jv dnsmasq .completed) == "$CLIENTS" && $(jv dnsmasq .tftp.bytes) == $((CLIENTS * SIZE)) ]] ||
  fail "dnsmasq: completed $(jv dnsmasq .completed), bytes $(jv dnsmasq .tftp.bytes)"
first_block_sane dnsmasq "$CLIENTS"
kill "$DNSMASQ"
wait "$DNSMASQ" 2>/dev/null || true
log "dnsmasq: $CLIENTS clients, $(jv dnsmasq .tftp.bytes) bytes"

N=1000
log "DHCP counts: rackboot-load --flow=dhcp and perfdhcp, $N exchanges each, relayed"
UNKNOWN_PXE=localboot
site_toml | sed 's/^interface = "br0"/interface = "eth0"/' >"$WORK/site.toml"
inventory >"$WORK/inventory.csv"
rm -rf "$WORK/state" && mkdir -p "$WORK/state"
rb_start loadcount
load count --clients=$N --rate=500 --flow=dhcp --relay=198.18.0.2 --interface=eth0 \
  --mac_base=02:52:43
rb_stop loadcount
# Every one of the N exchanges completed, on the client's count and on the server's.
for key in .completed .dhcp.started .dhcp.offers .dhcp.acked; do
  [[ $(jv count $key) == "$N" ]] || fail "rackboot-load --flow=dhcp: $key $(jv count $key), want $N"
done
[[ $(jv count .failed) == 0 ]] || fail "rackboot-load --flow=dhcp: $(jv count .failed) failed"
[[ $(totals loadcount acks) == "$N" ]] ||
  fail "rackbootd acked $(totals loadcount acks), rackboot-load counted $(jv count .dhcp.acked) of $N"

rb_start perf
perf_rc=0
timeout 60 ip netns exec "$(ns c)" /usr/sbin/perfdhcp -4 -r 500 -n $N -R $N -s 42 -W 500000 \
  -l 198.18.0.2 198.18.0.1 >"$WORK/perfdhcp.out" 2>&1 || perf_rc=$?
rb_stop perf
# perfdhcp_stat EXCHANGE KEY: a value from perfdhcp's "Statistics for: EXCHANGE" block.
perfdhcp_stat() {
  awk -v ex="Statistics for: $1" -v key="$2: " '
    { line = $0; gsub(/\*/, "", line) }  # the heading is ***Statistics for: X***
    line == ex { b = 1; next }
    line ~ /^Statistics for:/ { b = 0 }
    b && index(line, key) == 1 { print substr(line, length(key) + 1); exit }' "$WORK/perfdhcp.out"
}
perf_fail() { cat "$WORK/perfdhcp.out" >&2; fail "perfdhcp: $*"; }
# Exit status 3: "one or more exchanges are not successfully completed" (drops).
[[ $perf_rc -eq 0 ]] || perf_fail "exited with $perf_rc (3: some exchanges did not complete)"
for exchange in DISCOVER-OFFER REQUEST-ACK; do
  for key in "sent packets" "received packets"; do
    [[ $(perfdhcp_stat $exchange "$key") == "$N" ]] ||
      perf_fail "$exchange $key: '$(perfdhcp_stat $exchange "$key")', want $N"
  done
  [[ $(perfdhcp_stat $exchange drops) == 0 ]] ||
    perf_fail "$exchange drops: '$(perfdhcp_stat $exchange drops)', want 0"
done
[[ $(totals perf acks) == "$N" ]] || perf_fail "rackbootd acked $(totals perf acks), want $N"
log "DHCP counts agree: rackboot-load $N exchanges = server, perfdhcp exit 0, $N sent = $N received = server"
log "PASS"
