#!/usr/bin/env bash
# bench/dhcp_peers.sh: rackbootd beside ISC Kea 2.2 (kea-dhcp4), dnsmasq and the floor (a bare
# responder with rackbootd's durability, bench/dhcp_floor_responder.cc) under ISC's load
# generator perfdhcp, in one run. Run as root; usually through `./rackboot bench dhcp`. See
# bench/README.md for what it measures and how.
#
# Two network namespaces joined by a veth pair: the servers' (198.18.0.1/16) and perfdhcp's
# (198.18.0.2/16). perfdhcp acts as a relay agent (giaddr 198.18.0.2, from port 67), the way it
# loads a server by default, so every server sees relayed DORA exchanges from up to
# RACKBOOT_BENCH_DHCP_CLIENTS distinct MACs and answers to giaddr:67. Each server runs alone,
# started fresh for every measurement with empty lease storage, in a cgroup of its own so its
# CPU time can be read from cpu.stat. Namespaces, cgroups, servers and files are removed on exit.
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_DHCP_CLIENTS (100000)     perfdhcp -R: distinct client MACs
#   RACKBOOT_BENCH_DHCP_FIXED ("2000 8000")  fixed rates for CPU and latency (exchanges/s)
#   RACKBOOT_BENCH_DHCP_FIXED_SECS (8)       length of each fixed-rate run
#   RACKBOOT_BENCH_DHCP_LADDER ("1000 2000 4000 8000 12000 16000 20000 24000 32000 48000 64000")
#   RACKBOOT_BENCH_DHCP_LADDER_DNSMASQ ("100 200 400 800 1600")
#   RACKBOOT_BENCH_DHCP_RUNG_SECS (4)        length of each ladder rung
#   RACKBOOT_BENCH_DHCP_PROFILE (1)          0: skip the perf profile of rackbootd
set -euo pipefail

BENCH_TAG=dhcp_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=${RACKBOOT_BENCH_DHCP_CLIENTS:-100000}
read -r -a FIXED_RATES <<<"${RACKBOOT_BENCH_DHCP_FIXED:-2000 8000}"
FIXED_SECS=${RACKBOOT_BENCH_DHCP_FIXED_SECS:-8}
read -r -a LADDER <<<"${RACKBOOT_BENCH_DHCP_LADDER:-1000 2000 4000 8000 12000 16000 20000 24000 32000 48000 64000}"
read -r -a LADDER_DNSMASQ <<<"${RACKBOOT_BENCH_DHCP_LADDER_DNSMASQ:-100 200 400 800 1600}"
RUNG_SECS=${RACKBOOT_BENCH_DHCP_RUNG_SECS:-4}
PROFILE=${RACKBOOT_BENCH_DHCP_PROFILE:-1}
DNSMASQ_FIXED=200 # dnsmasq's fixed-rate run: what it sustains (it cannot do 2,000/s)
DROP_LIMIT=0.1    # per cent, in each of DISCOVER-OFFER and REQUEST-ACK
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip timeout bazel /usr/sbin/perfdhcp /usr/sbin/kea-dhcp4 dnsmasq

# Clean-up (bench/lib.sh): namespaces, cgroups, servers, perf and directories go on exit.
NS_S=rbdhcp-s-$$ # the servers' namespace
NS_C=rbdhcp-c-$$ # perfdhcp's namespace
IF_S=rbds$$      # veth ends (at most 15 characters)
IF_C=rbdc$$
AUX_PID="" # perf stat / perf record attached to the server
stop_aux() {
  if [[ -n $AUX_PID ]]; then
    kill -INT "$AUX_PID" 2>/dev/null || true
    wait "$AUX_PID" 2>/dev/null || true
    AUX_PID=""
  fi
}
bench_on_stop() { stop_aux; }
bench_init

# ---------------------------------------------------------------------------------------------
# Build rackbootd (optimised) into a private copy.
BIN_DIR=$(bench_build //engine:rackbootd //bench:dhcp_floor_responder)
WORK=$(bench_workdir rackboot-dhcp-bench) # on disk, as a lease file would be
bench_track_dir "$WORK"
RB=$(bench_copy_binary "$BIN_DIR/engine/rackbootd" "$WORK")
FLOOR=$(bench_copy_binary "$BIN_DIR/bench/dhcp_floor_responder" "$WORK")
RB_COMMIT=$(bench_commit engine proto third_party WORKSPACE bench/dhcp_floor_responder.cc)
STATE_FS=$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')

# ---------------------------------------------------------------------------------------------
# Namespaces: servers' side and perfdhcp's side of one veth pair.
bench_netns_pair "$NS_S" "$NS_C" "$IF_S" "$IF_C" 198.18.0.1/16 198.18.0.2/16

# CPU accounting (bench/lib.sh): a cgroup per server start, one for perfdhcp.
bench_cgroups rackboot-dhcp-bench

# ---------------------------------------------------------------------------------------------
# Servers. The DHCP subnet is 198.18.0.0/15 with a pool of 130,815 addresses (198.18.1.0 -
# 198.19.255.254), more than perfdhcp's distinct clients, so no run can exhaust it however many
# exchanges it makes; the relay address 198.18.0.2 lies in it.
POOL_FIRST=198.18.1.0
POOL_LAST=198.19.255.254
SUBNET=198.18.0.0/15
LEASE_SECS=3600
# floor: the bare responder (journal + group-committed fdatasync before each ACK, nothing else);
# rackbootd at --minloglevel=1 (as Kea runs at WARN) and rackbootd-info at its default logging
# (a line per OFFER and ACK), the configuration the floor targets are stated for.
SERVERS=(floor rackbootd rackbootd-info kea kea-mt dnsmasq)
declare -A LABEL=([floor]="floor (bare responder: journal + fdatasync per ACK batch)"
  [rackbootd]="rackbootd (--minloglevel=1)" [rackbootd-info]="rackbootd (default logging)"
  [kea]="Kea 2.2 (single-threaded)" [kea-mt]="Kea 2.2 (multi-threaded, 2 threads)" [dnsmasq]="dnsmasq")

# write_configs DIR: site.toml, inventory and Kea's JSON for a fresh run in DIR.
write_configs() {
  local dir=$1
  echo "mac,hostname,ip,profile,state" >"$dir/inventory.csv"
  cat >"$dir/site.toml" <<EOF
[server]
interface = "$IF_S"
address = "198.18.0.1"
state_dir = "$dir/state"
inventory = "$dir/inventory.csv"

[dhcp]
mode = "authoritative"
lease_seconds = $LEASE_SECS

[[dhcp.subnet]]
cidr = "$SUBNET"
pool = "$POOL_FIRST-$POOL_LAST"
EOF
  bench_kea_configs "$dir" "$IF_S" "$SUBNET" "$POOL_FIRST" "$POOL_LAST" "$LEASE_SECS"
}

# server_cmd NAME DIR [LOGLEVEL]
server_cmd() {
  local dir=$2
  case $1 in
    rackbootd) echo "$RB --config=$dir/site.toml --minloglevel=${3:-1}" ;;
    rackbootd-info) echo "$RB --config=$dir/site.toml" ;;
    floor) echo "$FLOOR --journal=$dir/floor.journal --server_id=198.18.0.1 --pool_first=$POOL_FIRST --pool_size=130815 --lease_seconds=$LEASE_SECS --commit_window_us=2000" ;;
    kea) echo "env KEA_LOCKFILE_DIR=$dir KEA_PIDFILE_DIR=$dir /usr/sbin/kea-dhcp4 -c $dir/kea-false.json" ;;
    kea-mt) echo "env KEA_LOCKFILE_DIR=$dir KEA_PIDFILE_DIR=$dir /usr/sbin/kea-dhcp4 -c $dir/kea-true.json" ;;
    dnsmasq) echo "dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --pid-file= --interface=$IF_S --bind-interfaces --no-ping --quiet-dhcp --dhcp-range=$POOL_FIRST,$POOL_LAST,255.254.0.0,$LEASE_SECS --dhcp-lease-max=$CLIENTS --dhcp-leasefile=$dir/dnsmasq.leases --log-facility=$dir/dnsmasq.log" ;;
  esac
}

# start_server NAME TAG [LOGLEVEL]: starts it fresh (empty lease storage) in the servers'
# namespace and its own cgroup; waits until it serves. Sets SERVER_PID, SERVER_CG, SERVER_LOG,
# SERVER_DIR.
start_server() {
  local name=$1 tag=$2 cmd
  SERVER_DIR=$WORK/$tag
  mkdir -p "$SERVER_DIR"
  write_configs "$SERVER_DIR"
  cmd=$(server_cmd "$name" "$SERVER_DIR" "${3:-1}")
  SERVER_LOG=$SERVER_DIR/server.log
  SERVER_PORTS=(67)
  # shellcheck disable=SC2086
  server_spawn "$name" "$tag" "$NS_S" "$SERVER_DIR/stdout" "$SERVER_LOG" $cmd || return 1
  [[ $name == kea* ]] && sleep 0.2 # Kea opens its socket before the last of its start-up
  return 0
}

# UDP receive-buffer overflows in a namespace (datagrams dropped before a socket read them).
rcvbuf_errors() {
  ip netns exec "$1" awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp
}

# ---------------------------------------------------------------------------------------------
# One perfdhcp run against the running server: run_load RATE SECS KEY. perfdhcp acts as a
# relay (giaddr = its address) and sends from port 67; -R distinct MACs, fixed seed so every
# server sees the same clients; -W waits 200 ms for late answers before counting drops.
# Fills the R_* arrays under KEY.
declare -A R_RATE R_SENDRATE R_SENT_DO R_RECV_DO R_SENT_RA R_RECV_RA R_DROP_DO R_DROP_RA R_AVG_DO R_MAX_DO \
  R_AVG_RA R_MAX_RA R_CPU10K R_CLIENT_CPU R_SRV_RCVBUF R_CLI_RCVBUF R_RSS R_ANON R_OK R_NOTE
PERFDHCP_ARGS="-4 -R $CLIENTS -s 42 -W 200000 -l 198.18.0.2"
run_load() {
  local rate=$1 secs=$2 key=$3 out=$WORK/perfdhcp.$3.out
  local cpu0 cpu1 ccpu0 ccpu1 srb0 srb1 crb0 crb1 t0 t1
  srb0=$(rcvbuf_errors "$NS_S")
  crb0=$(rcvbuf_errors "$NS_C")
  cpu0=$(server_cpu_usec)
  ccpu0=$(clients_cpu_usec)
  t0=$(date +%s%N)
  # shellcheck disable=SC2086
  cg_exec "${CG_PARENT:+$CG_PARENT/clients}" timeout -s INT -k 5 $((secs + 15)) \
    ip netns exec "$NS_C" /usr/sbin/perfdhcp $PERFDHCP_ARGS -r "$rate" -p "$secs" 198.18.0.1 \
    >"$out" 2>&1 || true
  t1=$(date +%s%N)
  cpu1=$(server_cpu_usec)
  ccpu1=$(clients_cpu_usec)
  srb1=$(rcvbuf_errors "$NS_S")
  crb1=$(rcvbuf_errors "$NS_C")
  # Per exchange block: sent, received, avg and max delay.
  local parsed
  parsed=$(awk '
    /Statistics for: DISCOVER-OFFER/ { b = "do" }
    /Statistics for: REQUEST-ACK/ { b = "ra" }
    /^Rate:/ { rate = $2 }
    b != "" && /^sent packets:/ { s[b] = $3 }
    b != "" && /^received packets:/ { r[b] = $3 }
    b != "" && /^avg delay:/ { a[b] = $3 }
    b != "" && /^max delay:/ { m[b] = $3 }
    END { printf "%s %d %d %d %d %s %s %s %s\n", (rate == "" ? 0 : rate), s["do"], r["do"], s["ra"], r["ra"],
            (a["do"] == "" ? "-" : a["do"]), (m["do"] == "" ? "-" : m["do"]),
            (a["ra"] == "" ? "-" : a["ra"]), (m["ra"] == "" ? "-" : m["ra"]) }' "$out")
  read -r R_RATE[$key] R_SENT_DO[$key] R_RECV_DO[$key] R_SENT_RA[$key] R_RECV_RA[$key] \
    R_AVG_DO[$key] R_MAX_DO[$key] R_AVG_RA[$key] R_MAX_RA[$key] <<<"$parsed"
  R_DROP_DO[$key]=$(awk -v s="${R_SENT_DO[$key]}" -v r="${R_RECV_DO[$key]}" 'BEGIN { printf "%.3f", s ? 100 * (s - r) / s : 100 }')
  R_DROP_RA[$key]=$(awk -v s="${R_SENT_RA[$key]}" -v r="${R_RECV_RA[$key]}" 'BEGIN { printf "%.3f", s ? 100 * (s - r) / s : 100 }')
  # CPU per 10,000 completed DORA exchanges (ACKs received).
  R_CPU10K[$key]=$(awk -v c="$((cpu1 - cpu0))" -v n="${R_RECV_RA[$key]}" 'BEGIN { if (n > 0) printf "%.3f", c / 1e6 / (n / 1e4); else print "–" }')
  R_CLIENT_CPU[$key]=$(awk -v c="$((ccpu1 - ccpu0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.0f", 100 * c * 1000 / t }')
  R_SRV_RCVBUF[$key]=$((srb1 - srb0))
  R_CLI_RCVBUF[$key]=$((crb1 - crb0))
  R_RSS[$key]=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo "–")
  R_ANON[$key]=$(awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo "–")
  # perfdhcp's own "Rate:" divides by the run plus the -W wait; this is per second of sending:
  # DISCOVERs sent (what perfdhcp managed to offer) and exchanges completed.
  R_SENDRATE[$key]=$(awk -v n="${R_SENT_DO[$key]}" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  R_RATE[$key]=$(awk -v n="${R_RECV_RA[$key]}" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  # Passed: under DROP_LIMIT % drops in both exchanges and perfdhcp kept (97% of) the rate.
  R_OK[$key]=$(awk -v a="${R_DROP_DO[$key]}" -v b="${R_DROP_RA[$key]}" -v l="$DROP_LIMIT" \
    -v got="${R_SENDRATE[$key]}" -v want="$rate" -v n="${R_SENT_DO[$key]}" \
    'BEGIN { if (n == 0) print "none"; else if (a >= l || b >= l) print "drops"; else if (got < 0.97 * want) print "slow"; else print "ok" }')
  [[ ${R_SENT_DO[$key]} -gt 0 ]] || log "perfdhcp produced no statistics: $(tail -n 3 "$out")"
}

describe() { # one log line for a run
  local k=$1
  echo "${R_SENDRATE[$k]}/s sent, ${R_RATE[$k]}/s completed, drops ${R_DROP_DO[$k]}% / ${R_DROP_RA[$k]}%, delay avg ${R_AVG_DO[$k]}/${R_AVG_RA[$k]} ms max ${R_MAX_DO[$k]}/${R_MAX_RA[$k]} ms, server ${R_CPU10K[$k]} CPU-s/10k, perfdhcp ${R_CLIENT_CPU[$k]}% CPU, rcvbuf drops server ${R_SRV_RCVBUF[$k]} client ${R_CLI_RCVBUF[$k]}"
}

# rackbootd's journal: fdatasync calls counted by perf (tracepoint) during a run, when perf
# is there; the totals line of a verification run says the same from the daemon's own counters.
PERF=$(command -v perf || true)
count_syncs_start() {
  AUX_PID=""
  [[ -n $PERF ]] || return 0
  "$PERF" stat -e syscalls:sys_enter_fdatasync -x, -o "$WORK/syncs.$1" -p "$SERVER_PID" >/dev/null 2>&1 &
  AUX_PID=$!
  sleep 0.3
}
count_syncs_stop() {
  local key=$1 n
  stop_aux
  n=$(awk -F, '/fdatasync/ { print $1 }' "$WORK/syncs.$key" 2>/dev/null)
  if [[ $n =~ ^[0-9]+$ && $n -gt 0 ]]; then
    R_NOTE[$key]="fdatasync $n for ${R_RECV_RA[$key]} ACKs (group commit $(awk -v a="${R_RECV_RA[$key]}" -v s="$n" 'BEGIN { printf "%.2f", a / s }') ACKs per sync)"
  fi
}

# The floor's stop line (after stop_server): ACKs sent, journal records and fdatasyncs.
floor_note() {
  local key=$1 line
  line=$(grep -o 'floor: offers=.*' "$SERVER_LOG" | tail -n 1 || true)
  [[ -n $line ]] || return 0
  R_NOTE[$key]=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { printf "%d ACKs sent, %d journal records in %d fdatasyncs (%.2f per sync)", v["acks"],
      v["journal_records"], v["journal_syncs"], v["journal_syncs"] ? v["journal_records"] / v["journal_syncs"] : 0 }' <<<"$line")
}

# ---------------------------------------------------------------------------------------------
# Machine load: what everything but our servers and perfdhcp took.
bench_usage_begin
T_START=$(date +%s)

# ---------------------------------------------------------------------------------------------
# a/c. Fixed rates: CPU per 10,000 exchanges and latency. A fresh server for every run.
declare -A PEAK_RSS PEAK_ANON
note_rss() {
  local name=$1 key=$2
  awk -v a="${R_RSS[$key]}" -v b="${PEAK_RSS[$name]:-0}" 'BEGIN { exit !(a + 0 > b + 0) }' &&
    PEAK_RSS[$name]=${R_RSS[$key]} && PEAK_ANON[$name]=${R_ANON[$key]}
  return 0
}

fixed_rates_for() {
  if [[ $1 == dnsmasq ]]; then echo "$DNSMASQ_FIXED"; else echo "${FIXED_RATES[*]}"; fi
}
for name in "${SERVERS[@]}"; do
  for rate in $(fixed_rates_for "$name"); do
    key="fixed|$name|$rate"
    log "fixed rate: ${LABEL[$name]} at $rate/s for $FIXED_SECS s"
    if ! start_server "$name" "fixed-$name-$rate"; then
      R_OK[$key]=failed
      stop_server
      continue
    fi
    [[ $name == rackbootd ]] && count_syncs_start "$key"
    run_load "$rate" "$FIXED_SECS" "$key"
    [[ $name == rackbootd ]] && count_syncs_stop "$key"
    note_rss "$name" "$key"
    stop_server
    [[ $name == floor ]] && floor_note "$key"
    log "  $(describe "$key")${R_NOTE[$key]:+; ${R_NOTE[$key]}}"
  done
done

# ---------------------------------------------------------------------------------------------
# b. Ladder: rising rates, a fresh server for each rung, until the first rung with drops.
declare -A BEST BEST_NOTE LADDER_KEYS
for name in "${SERVERS[@]}"; do
  rates=("${LADDER[@]}")
  [[ $name == dnsmasq ]] && rates=("${LADDER_DNSMASQ[@]}")
  BEST[$name]=0
  BEST_NOTE[$name]=""
  LADDER_KEYS[$name]=""
  for rate in "${rates[@]}"; do
    key="ladder|$name|$rate"
    log "ladder: ${LABEL[$name]} at $rate/s for $RUNG_SECS s"
    if ! start_server "$name" "ladder-$name-$rate"; then
      BEST_NOTE[$name]="server did not start at $rate/s"
      stop_server
      break
    fi
    run_load "$rate" "$RUNG_SECS" "$key"
    note_rss "$name" "$key"
    stop_server
    LADDER_KEYS[$name]+="$key "
    log "  $(describe "$key") -> ${R_OK[$key]}"
    case ${R_OK[$key]} in
      ok) BEST[$name]=$rate ;;
      drops)
        BEST_NOTE[$name]="drops ≥ $DROP_LIMIT% at $(fmt_rate "$rate")/s"
        if [[ ${R_SRV_RCVBUF[$key]} -eq 0 && ${R_CLI_RCVBUF[$key]} -gt 0 ]]; then
          BEST_NOTE[$name]+=", all lost in perfdhcp's receive buffer (${R_CLI_RCVBUF[$key]} datagrams, perfdhcp at ${R_CLIENT_CPU[$key]}% CPU), none in the server's"
        elif [[ ${R_SRV_RCVBUF[$key]} -gt 0 ]]; then
          BEST_NOTE[$name]+=", ${R_SRV_RCVBUF[$key]} datagrams lost in the server's receive buffer, ${R_CLI_RCVBUF[$key]} in perfdhcp's"
        fi
        break
        ;;
      slow)
        BEST[$name]=${R_SENDRATE[$key]}
        BEST_NOTE[$name]="no drops, but perfdhcp sent only ${R_SENDRATE[$key]} of $rate/s: at least that, limited by perfdhcp"
        break
        ;;
      *)
        BEST_NOTE[$name]="no statistics at $rate/s"
        break
        ;;
    esac
  done
  if [[ -z ${BEST_NOTE[$name]} ]]; then
    BEST_NOTE[$name]="no drops at the top rung: at least ${BEST[$name]}/s, limited by the ladder/perfdhcp"
  fi
done

# ---------------------------------------------------------------------------------------------
# rackbootd checks: the journal's own counters (its stop line is INFO, so this run logs at
# INFO: not a measured run), and where its CPU goes (perf record -g during a fixed-rate run).
VERIFY_RATE=${FIXED_RATES[-1]}
log "rackbootd verification run (--minloglevel=0) at $VERIFY_RATE/s for 3 s"
TOTALS=""
VERIFY_KEY="verify|rackbootd|$VERIFY_RATE"
if start_server rackbootd verify-rackbootd 0; then
  run_load "$VERIFY_RATE" 3 "$VERIFY_KEY"
  VERIFY_DIR=$SERVER_DIR
  stop_server
  TOTALS=$(grep -o 'dhcp totals: .*' "$VERIFY_DIR/server.log" | tail -n 1 || true)
  JOURNAL_BYTES=$(stat -c %s "$VERIFY_DIR/state/leases.journal" 2>/dev/null || echo 0)
  log "  $(describe "$VERIFY_KEY")"
  log "  ${TOTALS:-no totals line in the rackbootd log}"
else
  stop_server
fi
GROUP_COMMIT=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
  END { if (v["journal_syncs"] > 0) printf "%.2f", v["journal_records"] / v["journal_syncs"] }' <<<"$TOTALS")

PROFILE_TOP=""
PROFILE_INCL=""
PROFILE_DSO=""
PROFILE_RATE=${FIXED_RATES[0]}
if [[ $PROFILE -eq 1 && -n $PERF ]]; then
  log "profiling rackbootd (default logging; perf record -g) at $PROFILE_RATE/s for 5 s"
  if start_server rackbootd-info profile-rackbootd; then
    "$PERF" record -g -o "$WORK/perf.data" -p "$SERVER_PID" >/dev/null 2>&1 &
    AUX_PID=$!
    sleep 0.3
    run_load "$PROFILE_RATE" 5 "profile|rackbootd|$PROFILE_RATE"
    stop_server
    PROFILE_TOP=$("$PERF" report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' | awk 'NR <= 15' | sed -e 's/^ *//' -e 's/ \+/ /g')
    PROFILE_DSO=$("$PERF" report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' | awk 'NR <= 6 { printf "%s%s %s", (n++ ? ", " : ""), $2, $1 }')
    # Inclusive: the calls that explain the time (user-space frames and the big system calls).
    PROFILE_INCL=$("$PERF" report -i "$WORK/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' | grep -E 'rackboot::|fdatasync|sys_io_uring_enter|io_cqring_wait|ext4_sync_file|ext4_write_inode|sendmsg|udp_sendmsg|futex|__schedule|virtqueue_notify' |
      awk 'NR <= 14' | sed -e 's/^ *//' -e 's/ \+/ /g')
  else
    stop_server
  fi
fi

bench_usage_end "servers and perfdhcp"

# ---------------------------------------------------------------------------------------------
# Report.
lat() { # lat KEY: "D-O avg / max; R-A avg / max" in ms
  local k=$1
  if [[ -z ${R_SENT_DO[$k]:-} || ${R_SENT_DO[$k]} -eq 0 ]]; then
    echo "– | –"
  else
    echo "${R_AVG_DO[$k]} / ${R_MAX_DO[$k]} | ${R_AVG_RA[$k]} / ${R_MAX_RA[$k]}"
  fi
}
cell_cpu() { # cell_cpu KEY: CPU-s/10k, marked when the run had drops
  local k=$1
  if [[ -z ${R_OK[$k]:-} || ${R_OK[$k]} == failed || ${R_OK[$k]} == none ]]; then
    echo "–"
  elif [[ ${R_OK[$k]} == ok ]]; then
    echo "${R_CPU10K[$k]}"
  else
    echo "${R_CPU10K[$k]} (drops ${R_DROP_DO[$k]}% / ${R_DROP_RA[$k]}%)"
  fi
}

# The better Kea for each figure (lower CPU, higher no-drop rate).
better_kea_cpu() {
  local rate=$1 a b
  a=${R_CPU10K[fixed|kea|$rate]:-} b=${R_CPU10K[fixed|kea-mt|$rate]:-}
  [[ ${R_OK[fixed|kea|$rate]:-} == ok ]] || a=""
  [[ ${R_OK[fixed|kea-mt|$rate]:-} == ok ]] || b=""
  if [[ -z $a && -z $b ]]; then echo "– –"; elif [[ -z $b ]] || { [[ -n $a ]] && awk -v a="$a" -v b="$b" 'BEGIN { exit !(a <= b) }'; }; then echo "kea $a"; else echo "kea-mt $b"; fi
}

make_report() {
  local name rate k
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench dhcp\` (bench/dhcp_peers.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and perfdhcp share the CPUs. $SHARED"
  echo "- rackbootd: commit $RB_COMMIT, \`bazel build -c opt\`, lease journal on $STATE_FS (fdatasync before every ACK, group commit)."
  echo "- Peers: kea-dhcp4-server $(version_of kea-dhcp4-server) (memfile, persist on: lease file on the same disk, written without fsync), dnsmasq-base $(version_of dnsmasq-base) (lease file on the same disk). Load: perfdhcp from kea-admin $(version_of kea-admin)."
  echo "- Load: perfdhcp as a relay agent (giaddr 198.18.0.2, from port 67) over a veth pair into the servers' namespace; $(fmt_rate "$CLIENTS") distinct client MACs (same seed for every server), full DORA exchanges. Every server starts fresh (no leases) for every run; subnet 198.18.0.0/15, pool of 130,815 addresses, so no run exhausts it."
  echo "- Server CPU: $CPU_METHOD over the perfdhcp run, per 10,000 completed exchanges (ACKs received). Peak RSS: the server's VmHWM, highest over its runs (anonymous part in brackets, at that run's end)."
  echo "- Drops: perfdhcp's sent vs received for each exchange; a rung passes with under $DROP_LIMIT% in both and at least 97% of the asked rate reached."
  echo
  echo "| server | CPU-s / 10k exchanges at $(fmt_rate "${FIXED_RATES[0]}")/s | CPU-s / 10k at $(fmt_rate "${FIXED_RATES[-1]}")/s | highest rate with < $DROP_LIMIT% drops | DISCOVER-OFFER avg / max ms at $(fmt_rate "${FIXED_RATES[0]}")/s | REQUEST-ACK avg / max ms at $(fmt_rate "${FIXED_RATES[0]}")/s | DISCOVER-OFFER avg / max ms at $(fmt_rate "${FIXED_RATES[-1]}")/s | REQUEST-ACK avg / max ms at $(fmt_rate "${FIXED_RATES[-1]}")/s | peak RSS MiB (anon) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${SERVERS[@]}"; do
    local c1 c2 l1 best
    best="$(fmt_rate "${BEST[$name]}")/s"
    [[ ${BEST[$name]} -eq 0 ]] && best="below the first rung"
    if [[ $name == dnsmasq ]]; then
      k="fixed|dnsmasq|$DNSMASQ_FIXED"
      c1="$(cell_cpu "$k") (at $DNSMASQ_FIXED/s)"
      c2="–"
      l1="$(lat "$k")"
      echo "| ${LABEL[$name]} | $c1 | $c2 | $best | ${l1% | *} (at $DNSMASQ_FIXED/s) | ${l1#* | } (at $DNSMASQ_FIXED/s) | – | – | ${PEAK_RSS[$name]:-–} (${PEAK_ANON[$name]:-–}) |"
      continue
    fi
    c1=$(cell_cpu "fixed|$name|${FIXED_RATES[0]}")
    c2=$(cell_cpu "fixed|$name|${FIXED_RATES[-1]}")
    echo "| ${LABEL[$name]} | $c1 | $c2 | $best | $(lat "fixed|$name|${FIXED_RATES[0]}") | $(lat "fixed|$name|${FIXED_RATES[-1]}") | ${PEAK_RSS[$name]:-–} (${PEAK_ANON[$name]:-–}) |"
  done
  echo
  echo "rackbootd ÷ each peer (CPU: below 1 means rackbootd is cheaper; rate: above 1 means rackbootd holds more):"
  echo
  echo "| peer | CPU at $(fmt_rate "${FIXED_RATES[0]}")/s | CPU at $(fmt_rate "${FIXED_RATES[-1]}")/s | no-drop rate |"
  echo "|---|---:|---:|---:|"
  for name in floor kea kea-mt dnsmasq; do
    local r1 r2
    if [[ $name == dnsmasq ]]; then
      r1="$(ratio "${R_CPU10K[fixed|rackbootd|${FIXED_RATES[0]}]:-}" "${R_CPU10K[fixed|dnsmasq|$DNSMASQ_FIXED]:-}") (dnsmasq at $DNSMASQ_FIXED/s)"
      r2="–"
    else
      r1=$(ratio "${R_CPU10K[fixed|rackbootd|${FIXED_RATES[0]}]:-}" "${R_CPU10K[fixed|$name|${FIXED_RATES[0]}]:-}")
      r2=$(ratio "${R_CPU10K[fixed|rackbootd|${FIXED_RATES[-1]}]:-}" "${R_CPU10K[fixed|$name|${FIXED_RATES[-1]}]:-}")
    fi
    echo "| ${LABEL[$name]} | $r1 | $r2 | $(ratio "${BEST[rackbootd]}" "${BEST[$name]}") |"
  done
  echo
  # Targets, against the better Kea for each figure.
  local bk bkname bkcpu cpu_ratio rate_ratio best_kea_rate best_kea_name
  bk=$(better_kea_cpu "${FIXED_RATES[0]}")
  bkname=${bk% *} bkcpu=${bk#* }
  cpu_ratio=$(ratio "${R_CPU10K[fixed|rackbootd|${FIXED_RATES[0]}]:-}" "$bkcpu")
  if [[ ${BEST[kea]} -ge ${BEST[kea-mt]} ]]; then best_kea_name=kea; else best_kea_name=kea-mt; fi
  best_kea_rate=${BEST[$best_kea_name]}
  rate_ratio=$(ratio "${BEST[rackbootd]}" "$best_kea_rate")
  echo "Targets (against the better of Kea's two modes for each figure):"
  echo
  local verdict
  verdict=$(awk -v r="$cpu_ratio" 'BEGIN { if (r == "–") print "not measured"; else if (r + 0 <= 0.1) print "**met**"; else print "**missed**" }')
  echo "- CPU per exchange at $(fmt_rate "${FIXED_RATES[0]}")/s at most 1/10 of Kea's: rackbootd ${R_CPU10K[fixed|rackbootd|${FIXED_RATES[0]}]:-–} vs ${LABEL[$bkname]:-Kea} $bkcpu CPU-s per 10,000, ratio $cpu_ratio: $verdict."
  verdict=$(awk -v r="$rate_ratio" 'BEGIN { if (r == "–") print "not measured"; else if (r + 0 >= 10) print "**met**"; else print "**missed**" }')
  echo "- No-drop rate at least 10× Kea's: rackbootd $(fmt_rate "${BEST[rackbootd]}")/s (${BEST_NOTE[rackbootd]}) vs ${LABEL[$best_kea_name]} $(fmt_rate "$best_kea_rate")/s (${BEST_NOTE[$best_kea_name]}), ratio $rate_ratio: $verdict."
  echo "- Kea's better mode here: $([[ $bkname == kea ]] && echo "single-threaded" || echo "multi-threaded") for CPU at $(fmt_rate "${FIXED_RATES[0]}")/s, $([[ $best_kea_name == kea ]] && echo "single-threaded" || echo "multi-threaded") for the no-drop rate."
  echo
  # Targets against the floor: rackbootd with its default logging (a line per OFFER and ACK).
  echo "Targets against the floor (rackbootd with its default logging; in brackets at \`--minloglevel=1\`):"
  echo
  for rate in "${FIXED_RATES[@]}"; do
    local ri rw fl
    ri=$(ratio "${R_CPU10K[fixed|rackbootd-info|$rate]:-}" "${R_CPU10K[fixed|floor|$rate]:-}")
    rw=$(ratio "${R_CPU10K[fixed|rackbootd|$rate]:-}" "${R_CPU10K[fixed|floor|$rate]:-}")
    [[ ${R_OK[fixed|floor|$rate]:-} == ok && ${R_OK[fixed|rackbootd-info|$rate]:-} == ok ]] || ri="$ri (a run with drops or no run: see the table)"
    verdict=$(awk -v r="${ri%% *}" 'BEGIN { if (r == "–") print "not measured"; else if (r + 0 <= 1.25) print "**met**"; else print "**missed**" }')
    echo "- Server CPU per 10,000 exchanges at $(fmt_rate "$rate")/s at most 1.25× the floor's: rackbootd ${R_CPU10K[fixed|rackbootd-info|$rate]:-–} (${R_CPU10K[fixed|rackbootd|$rate]:-–}) vs floor ${R_CPU10K[fixed|floor|$rate]:-–} CPU-s, ratio $ri ($rw): $verdict."
  done
  rate_ratio=$(ratio "${BEST[rackbootd-info]}" "${BEST[floor]}")
  verdict=$(awk -v r="$rate_ratio" 'BEGIN { if (r == "–") print "not measured"; else if (r + 0 >= 0.8) print "**met**"; else print "**missed**" }')
  echo "- No-drop rate at least 0.8× the floor's: rackbootd $(fmt_rate "${BEST[rackbootd-info]}")/s (${BEST_NOTE[rackbootd-info]}) vs floor $(fmt_rate "${BEST[floor]}")/s (${BEST_NOTE[floor]}), ratio $rate_ratio ($(ratio "${BEST[rackbootd]}" "${BEST[floor]}") at \`--minloglevel=1\`): $verdict."
  echo
  echo "Notes:"
  echo
  for rate in "${FIXED_RATES[@]}"; do
    k="fixed|floor|$rate"
    [[ -n ${R_NOTE[$k]:-} ]] && echo "- floor at $(fmt_rate "$rate")/s: ${R_NOTE[$k]} (its stop line)."
  done
  for rate in "${FIXED_RATES[@]}"; do
    k="fixed|rackbootd|$rate"
    [[ -n ${R_NOTE[$k]:-} ]] && echo "- rackbootd at $(fmt_rate "$rate")/s: ${R_NOTE[$k]}, counted with \`perf stat -e syscalls:sys_enter_fdatasync\`."
  done
  if [[ -n $TOTALS ]]; then
    echo "- Journal check (a separate run at $(fmt_rate "$VERIFY_RATE")/s for 3 s with \`--minloglevel=0\`, because the daemon's stop line is an INFO line that \`--minloglevel=1\` hides): \`$TOTALS\`; group-commit factor (records per fdatasync) $GROUP_COMMIT; journal file $JOURNAL_BYTES bytes. That run: $(describe "$VERIFY_KEY")."
  else
    echo "- Journal check: rackbootd's verification run printed no \`dhcp totals\` line."
  fi
  echo "- Where datagrams were lost (UDP receive-buffer overflows, /proc/net/snmp of each namespace; the rest is never answered or answered late), and perfdhcp's own CPU, per ladder rung:"
  echo
  echo "| server | asked /s | sent / completed per s | drops DISCOVER-OFFER % | drops REQUEST-ACK % | REQUEST-ACK avg / max ms | server CPU-s / 10k | rcvbuf drops server / perfdhcp | perfdhcp CPU % |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${SERVERS[@]}"; do
    for k in ${LADDER_KEYS[$name]}; do
      rate=${k##*|}
      echo "| ${LABEL[$name]} | $(fmt_rate "$rate") | $(fmt_rate "${R_SENDRATE[$k]}") / $(fmt_rate "${R_RATE[$k]}") | ${R_DROP_DO[$k]} | ${R_DROP_RA[$k]} | ${R_AVG_RA[$k]} / ${R_MAX_RA[$k]} | ${R_CPU10K[$k]} | ${R_SRV_RCVBUF[$k]} / ${R_CLI_RCVBUF[$k]} | ${R_CLIENT_CPU[$k]} |"
    done
  done
  echo
  if [[ -n $PROFILE_TOP ]]; then
    echo "Where rackbootd's CPU goes (default logging): \`perf record -g -p PID\` during a $(fmt_rate "$PROFILE_RATE")/s run (5 s; a separate run, not one of the measured ones). Top symbols by own samples (overhead, object, symbol):"
    echo
    echo '```'
    printf '%s\n' "$PROFILE_TOP"
    echo '```'
    echo
    echo "By object: $PROFILE_DSO."
    echo
    pct() { awk -v pat="$2" '$0 ~ pat { print $1; exit }' <<<"$1"; }
    # Only the frames the profile shows: a frame below perf's cut-off has no figure to quote.
    local inode notify parts=()
    inode=$(pct "$PROFILE_INCL" 'ext4_write_inode')
    notify=$(pct "$PROFILE_INCL" 'virtqueue_notify')
    [[ -z $inode ]] || parts+=("\`ext4_write_inode\`, the synchronous inode write of a file that grows with every append, $inode")
    [[ -z $notify ]] || parts+=("the virtio disk notification \`virtqueue_notify\` $notify")
    local of_which=
    if [[ ${#parts[@]} -eq 2 ]]; then
      of_which=" (of which ${parts[0]}, and ${parts[1]})"
    elif [[ ${#parts[@]} -eq 1 ]]; then
      of_which=" (of which ${parts[0]})"
    fi
    echo "In short: the journal thread (\`LeaseJournal::WriterLoop\`) has $(pct "$PROFILE_INCL" 'WriterLoop') of rackbootd's samples, \`fdatasync\` $(pct "$PROFILE_INCL" '\\] fdatasync')$of_which; the DHCP thread's \`io_uring_enter\` $(pct "$PROFILE_INCL" 'sys_io_uring_enter'), most of it waiting (\`io_cqring_wait\` $(pct "$PROFILE_INCL" 'io_cqring_wait')); \`finish_task_switch\` alone (the cost of going to sleep and waking up, on a virtual machine) $(pct "$PROFILE_TOP" 'finish_task_switch')."
    if grep -q 'rackboot::' <<<"$PROFILE_TOP"; then
      echo "rackbootd's own functions in the top 15: $(grep 'rackboot::' <<<"$PROFILE_TOP" | awk '{ p = $1; $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "%s`%s` %s", (n++ ? ", " : ""), $0, p }')."
    else
      echo "None of rackbootd's own functions (decoding, lease table, encoding) is in the top 15."
    fi
    echo
    echo "Inclusive (children, overhead of all samples below the frame) for the frames that explain it:"
    echo
    echo '```'
    printf '%s\n' "$PROFILE_INCL"
    echo '```'
    echo
  fi
  echo "Server command lines (\`DIR\` is the run's fresh directory; every server in the servers' namespace, alone):"
  echo
  echo '```'
  for name in "${SERVERS[@]}"; do
    server_cmd "$name" DIR | sed -e "s|$RB|rackbootd|" -e "s|$FLOOR|dhcp_floor_responder|" -e "s|$IF_S|IF|g"
  done
  echo '```'
  echo
  echo "DIR/site.toml (DIR/inventory.csv is the header line only):"
  echo
  echo '```toml'
  write_configs "$WORK" >/dev/null
  sed -e "s|$WORK|DIR|g" -e "s|$IF_S|IF|g" "$WORK/site.toml"
  echo '```'
  echo
  echo "DIR/kea-false.json (kea-true.json differs only in \`\"multi-threading\": { \"enable-multi-threading\": true, \"thread-pool-size\": 2, \"packet-queue-size\": 64 }\`):"
  echo
  echo '```json'
  sed -e "s|$WORK|DIR|g" -e "s|$IF_S|IF|g" "$WORK/kea-false.json"
  echo '```'
  echo
  echo "Load, in perfdhcp's namespace (RATE and SECONDS per run; every run also under \`timeout\`):"
  echo
  echo '```'
  echo "perfdhcp $PERFDHCP_ARGS -r RATE -p SECONDS 198.18.0.1"
  echo '```'
}

REPORT=$(make_report)
printf '%s\n' "$REPORT"

if [[ $WRITE_DOC -eq 1 ]]; then
  printf '%s\n' "$REPORT" >"$WORK/section.md"
  bench_write_doc dhcp-peers "$WORK/section.md" "DHCP: rackbootd beside ISC Kea and dnsmasq"
fi
