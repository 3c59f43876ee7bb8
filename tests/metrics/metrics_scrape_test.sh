#!/usr/bin/env bash
# GET /metrics against a running rackbootd (authoritative DHCP, TFTP and HTTP on one daemon), in
# network namespaces of its own (198.18.0.0/15, tests/dhcp/lib.sh):
#  - 20 DHCP clients (dhcp_client.py load: DISCOVER, REQUEST each), 5 TFTP downloads (curl),
#    6 HTTP downloads and one 404 (curl), then a scrape while the daemon runs;
#  - `promtool check metrics` accepts the body (format 0.0.4, names, HELP/TYPE, units);
#  - the counters match the traffic: rackboot_dhcp_messages_total{discover,offer} and
#    {request,ack}, rackboot_dhcp_leases{bound} == 20, transfers complete and bytes per transport,
#    responses by class, journal syncs and commit latency observed, per-thread CPU for the named
#    shard threads; the JSON form (?format=json) says the same;
#  - the server CPU one scrape costs with 1,000 inventory hosts (rackbootd's utime+stime over 400
#    scrapes on one keep-alive connection, and over 200 with a connection each) is printed;
#  - at SIGTERM the stop-time totals lines still carry the same numbers.
# Usage: metrics_scrape_test.sh RACKBOOTD
RACKBOOTD=$1
TEST_NAME=metrics_scrape
source "$(dirname "$0")/../dhcp/lib.sh"
lib_init
for c in curl jq promtool; do command -v $c >/dev/null || fail "missing $c"; done

ns_add s; ns_add c
segment
root=$WORK/root
mkdir -p "$root"
for f in pxelinux.0 bootnetx64.efi grubaa64.efi; do echo "$f" >"$root/$f"; done
head -c 100000 /dev/urandom >"$root/t100k"
head -c 3000000 /dev/urandom >"$root/h3m"
chmod -R a+rX "$root"
TFTP_ROOT=$root
# A /22 as a 1,000-host site would have (the leases collector reads every address of each
# subnet on every scrape), and an inventory of 1,000 hosts.
SUBNET_CIDR=198.18.0.0/22
SUBNET_POOL=198.18.1.0-198.18.3.254
site_toml >"$WORK/site.toml"
printf '\n[http]\nlisten = "198.18.0.1:8080"\n' >>"$WORK/site.toml"
{
  echo "mac,hostname,ip,profile,state"
  for i in $(seq 1000); do
    printf '02:40:00:00:%02x:%02x,node%04d,,,installed\n' $((i / 256)) $((i % 256)) "$i"
  done
} >"$WORK/inventory.csv"
rb_start main --threads=2

url=http://198.18.0.1:8080
scrape() {  # scrape OUT [QUERY]
  inns s curl -sS --fail -o "$1" -D "$1.head" "$url/metrics${2:-}" || fail "GET /metrics${2:-}"
}
# value NAME LABELS: the sample's value in $WORK/m.txt ("" when absent). LABELS as exported,
# e.g. '{transport="tftp"}' or ''.
value() {
  awk -v want="$1$2" '$1 == want {print $2}' "$WORK/m.txt"
}
expect_eq() {  # expect_eq NAME LABELS VALUE
  local got
  got=$(value "$1" "$2")
  [[ $got == "$3" ]] || fail "$1$2 is '$got', want $3"
}
expect_ge() {  # expect_ge NAME LABELS MIN
  local got
  got=$(value "$1" "$2")
  [[ -n $got ]] && awk -v g="$got" -v m="$3" 'BEGIN {exit !(g >= m)}' ||
    fail "$1$2 is '$got', want >= $3"
}

log "before any traffic: a valid body with the families at zero"
scrape "$WORK/m.txt"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$WORK/m.txt.head" ||
  fail "Content-Type: $(cat "$WORK/m.txt.head")"
promtool check metrics <"$WORK/m.txt" || fail "promtool check metrics (idle)"
expect_eq rackboot_transfers_total '{transport="tftp",result="complete"}' 0
expect_eq rackboot_dhcp_leases '{subnet="198.18.0.0/22",state="bound"}' 0
expect_eq rackboot_dhcp_leases '{subnet="198.18.0.0/22",state="free"}' 767
# The fleet's collectors (engine/site/fleet_metrics.h): every inventory host by phase and state.
expect_eq rackboot_hosts '{phase="installed"}' 1000
expect_eq rackboot_hosts '{phase="stalled"}' 0
expect_eq rackboot_hosts_by_state '{state="installed"}' 1000
expect_eq rackboot_hosts_by_state '{state="install"}' 0

log "traffic: 20 DHCP clients, 5 TFTP and 6 HTTP downloads, one 404"
client c load --iface eth0 --mac 02:30:00:00:00:00 --count 20 --window 8 --duration 20 \
  --retry 3 --tries 3 --acks "$WORK/acks" >"$WORK/load.json"
jq_check "$WORK/load.json" '.[0].acks == 20' "not every DHCP client got a lease"
for i in 1 2 3 4 5; do
  inns s curl -sS --fail -o "$WORK/t$i" "tftp://198.18.0.1/t100k" || fail "tftp t100k"
  cmp -s "$WORK/t$i" "$root/t100k" || fail "tftp t100k differs"
done
for i in 1 2 3 4 5 6; do
  inns s curl -sS --fail -o "$WORK/h$i" "$url/boot/h3m" || fail "http h3m"
  cmp -s "$WORK/h$i" "$root/h3m" || fail "http h3m differs"
done
code=$(inns s curl -sS -o /dev/null -w '%{http_code}' "$url/boot/missing")
[[ $code == 404 ]] || fail "GET /boot/missing: $code"

log "scrape while running"
scrape "$WORK/m.txt"
promtool check metrics <"$WORK/m.txt" || fail "promtool check metrics (after traffic)"
expect_ge rackboot_dhcp_messages_total '{type="discover",outcome="offer"}' 20
expect_ge rackboot_dhcp_messages_total '{type="request",outcome="ack"}' 20
expect_eq rackboot_dhcp_messages_total '{type="request",outcome="nak"}' 0
expect_eq rackboot_dhcp_leases '{subnet="198.18.0.0/22",state="bound"}' 20
expect_eq rackboot_dhcp_leases '{subnet="198.18.0.0/22",state="free"}' 747
expect_ge rackboot_lease_journal_syncs_total '' 1
expect_ge rackboot_lease_journal_records_total '' 20
expect_ge rackboot_lease_journal_commit_seconds_count '' 1
expect_eq rackboot_transfers_total '{transport="tftp",result="complete"}' 5
expect_eq rackboot_transfers_total '{transport="tftp",result="failed"}' 0
expect_eq rackboot_transfer_bytes_total '{transport="tftp"}' 500000
expect_eq rackboot_transfer_duration_seconds_count '{transport="tftp"}' 5
expect_eq rackboot_transfers_active '{transport="tftp"}' 0
expect_eq rackboot_tftp_retransmits_total '' 0
expect_eq rackboot_transfers_total '{transport="http",result="complete"}' 6
expect_ge rackboot_transfer_bytes_total '{transport="http"}' 18000000
expect_eq rackboot_transfer_duration_seconds_count '{transport="http"}' 6
expect_eq rackboot_transfers_active '{transport="http"}' 0
expect_eq rackboot_http_responses_total '{code="4xx"}' 1
# 2xx: the six files and the first scrape (this scrape's own response ends after it was built).
expect_eq rackboot_http_responses_total '{code="2xx"}' 7
expect_ge rackboot_process_resident_memory_bytes '' 1000000
expect_ge rackboot_process_open_fds '' 5
for t in shard-0 shard-1 dhcp-0 lease-journal; do
  grep -q "^rackboot_thread_cpu_seconds_total{thread=\"$t\"} " "$WORK/m.txt" ||
    fail "no CPU line for thread $t: $(grep thread_cpu "$WORK/m.txt")"
done

log "the JSON form says the same"
scrape "$WORK/m.json" '?format=json'
grep -qi '^content-type: application/json' "$WORK/m.json.head" || fail "JSON Content-Type"
jq -e '.metrics.rackboot_transfers_total.samples[]
       | select(.labels.transport == "tftp" and .labels.result == "complete") | .value == 5' \
  "$WORK/m.json" >/dev/null || fail "JSON: tftp complete != 5"
jq -e '.metrics.rackboot_dhcp_leases.samples[]
       | select(.labels.state == "bound") | .value == 20' "$WORK/m.json" >/dev/null ||
  fail "JSON: bound leases != 20"
jq -e '.metrics.rackboot_transfer_duration_seconds.samples[]
       | select(.labels.transport == "http") | .count == 6 and (.buckets[-1].le == "+Inf")' \
  "$WORK/m.json" >/dev/null || fail "JSON: http duration histogram"

log "server CPU per scrape (1,000 inventory hosts, a /22 subnet)"
pid=${RB_PID[main]}
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
# 400 scrapes over one keep-alive connection (as Prometheus scrapes), then 200 with a new
# connection each; rackbootd's utime+stime per scrape, its INFO line per response included.
args=()
for i in $(seq 400); do args+=(-o /dev/null "$url/metrics"); done
t0=$(ticks)
inns s curl -sS "${args[@]}" || fail "400 keep-alive scrapes"
t1=$(ticks)
per=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.3f", d / hz / 400 * 1000}')
echo "METRIC metrics_scrape_server_cpu_ms_keepalive=$per (rackbootd utime+stime / 400 scrapes on one connection, 1,000 hosts, /22 subnet)" >&2
t0=$(ticks)
inns s bash -c "for i in \$(seq 200); do curl -sS -o /dev/null $url/metrics || exit 1; done" ||
  fail "200 scrapes"
t1=$(ticks)
per=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.3f", d / hz / 200 * 1000}')
echo "METRIC metrics_scrape_server_cpu_ms=$per (rackbootd utime+stime / 200 scrapes, a connection each, 1,000 hosts, /22 subnet)" >&2

log "stop: the totals lines keep their numbers"
rb_stop main
grep -q 'tftp totals: completed=5 failed=0 .*bytes=500000 retransmits=0' "$WORK/rb-main.log" ||
  fail "tftp totals: $(grep 'tftp totals' "$WORK/rb-main.log")"
grep -q 'http totals: .* files=6 ' "$WORK/rb-main.log" ||
  fail "http totals: $(grep 'http totals' "$WORK/rb-main.log")"
grep -q 'dhcp totals: .*acks=' "$WORK/rb-main.log" || fail "no dhcp totals"
log "PASS"
