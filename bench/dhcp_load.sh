#!/usr/bin/env bash
# bench/dhcp_load.sh: rackbootd beside ISC Kea 2.2 and dnsmasq under the project's load tool
# `rackboot-load` (//tools/load): PXE clients doing full DORA exchanges at rising rates until more
# than 0.1% of them fail. Run as root; usually through `./rackboot bench dhcp`, after
# bench/dhcp_peers.sh (the same ladder under perfdhcp). See bench/README.md.
#
# Two network namespaces joined by a veth pair: the servers' (198.18.0.1/16) and the load
# tool's (198.18.0.2/16). rackboot-load plays a relay agent (giaddr 198.18.0.2, port 67), as
# perfdhcp does in dhcp_peers.sh, with --dhcp_retries=0: a lost or late message (2 s) is a failed
# client, so drops = failed / started. Every client is a PXE client (options 60, 93, 94, 97) and
# counts only when its ACK carries a boot file or next server, so every server is configured to
# give one (rackbootd: an inventory of the load tool's MACs, armed; Kea: next-server and
# boot-file-name; dnsmasq: --dhcp-boot). Each rung starts a fresh server with no leases, alone,
# in a cgroup of its own. Namespaces, cgroups, servers and files are removed on exit.
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_DHCP_LOAD_LADDER ("1000 2000 4000 8000 12000 16000 24000 32000 48000 64000 96000 128000")
#   RACKBOOT_BENCH_DHCP_LOAD_LADDER_DNSMASQ ("100 200 400 800 1600")
#   RACKBOOT_BENCH_DHCP_LOAD_SECS (3)            length of each rung (clients = rate × secs)
#   RACKBOOT_BENCH_DHCP_LOAD_MAX_CLIENTS (100000) clients per rung at most (the pool has 130,815)
#   RACKBOOT_BENCH_DHCP_LOAD_SERVERS ("rackbootd kea kea-mt dnsmasq")
set -euo pipefail

BENCH_TAG=dhcp_load
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
read -r -a LADDER <<<"${RACKBOOT_BENCH_DHCP_LOAD_LADDER:-1000 2000 4000 8000 12000 16000 24000 32000 48000 64000}"
read -r -a LADDER_DNSMASQ <<<"${RACKBOOT_BENCH_DHCP_LOAD_LADDER_DNSMASQ:-100 200 400 800 1600}"
SECS=${RACKBOOT_BENCH_DHCP_LOAD_SECS:-3}
MAX_CLIENTS=${RACKBOOT_BENCH_DHCP_LOAD_MAX_CLIENTS:-100000}
read -r -a SERVERS <<<"${RACKBOOT_BENCH_DHCP_LOAD_SERVERS:-rackbootd kea kea-mt dnsmasq}"
DROP_LIMIT=0.1 # per cent of started clients
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip timeout bazel python3 /usr/sbin/kea-dhcp4 dnsmasq

NS_S=rbdl-s-$$
NS_C=rbdl-c-$$
IF_S=rbls$$
IF_C=rblc$$
bench_init

BIN=$(bench_build //engine:rackbootd //tools/load:rackboot-load)
WORK=$(bench_workdir rackboot-dhcp-load) # on disk, as a lease file would be
bench_track_dir "$WORK"
mkdir -p "$WORK/bin"
RB=$(bench_copy_binary "$BIN/engine/rackbootd" "$WORK/bin")
LOAD=$(bench_copy_binary "$BIN/tools/load/rackboot-load" "$WORK/bin")
RB_COMMIT=$(bench_commit engine proto tools/load third_party WORKSPACE)
STATE_FS=$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')

bench_netns_pair "$NS_S" "$NS_C" "$IF_S" "$IF_C" 198.18.0.1/16 198.18.0.2/16
bench_cgroups rackboot-dhcp-load
bench_inventory "$WORK/inventory.csv" "$MAX_CLIENTS"

# ---------------------------------------------------------------------------------------------
# Servers: the same subnet and pool as dhcp_peers.sh, plus a boot file for PXE clients.
POOL_FIRST=198.18.1.0
POOL_LAST=198.19.255.254
declare -A LABEL=([rackbootd]="rackbootd" [kea]="Kea 2.2 (single-threaded)"
  [kea-mt]="Kea 2.2 (multi-threaded, 2 threads)" [dnsmasq]="dnsmasq")

write_configs() {
  local dir=$1
  bench_rackboot_site "$dir" "$IF_S" "$WORK/inventory.csv" pxelinux.0
  bench_kea_configs "$dir" "$IF_S" 198.18.0.0/15 "$POOL_FIRST" "$POOL_LAST" 3600 pxelinux.0
}

server_cmd() {
  local dir=$2
  case $1 in
    rackbootd) echo "$RB --config=$dir/site.toml --minloglevel=1" ;;
    kea) echo "env KEA_LOCKFILE_DIR=$dir KEA_PIDFILE_DIR=$dir /usr/sbin/kea-dhcp4 -c $dir/kea-false.json" ;;
    kea-mt) echo "env KEA_LOCKFILE_DIR=$dir KEA_PIDFILE_DIR=$dir /usr/sbin/kea-dhcp4 -c $dir/kea-true.json" ;;
    dnsmasq) echo "dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --pid-file= --interface=$IF_S --bind-interfaces --no-ping --quiet-dhcp --dhcp-range=$POOL_FIRST,$POOL_LAST,255.254.0.0,3600 --dhcp-lease-max=$((MAX_CLIENTS + 1000)) --dhcp-boot=pxelinux.0,,198.18.0.1 --dhcp-leasefile=$dir/dnsmasq.leases --log-facility=$dir/dnsmasq.log" ;;
    *) die "unknown server $1" ;;
  esac
}

# start_server NAME TAG: fresh (no leases) in the servers' namespace and its own cgroup.
start_server() {
  local name=$1 tag=$2 cmd
  SERVER_DIR=$WORK/$tag
  mkdir -p "$SERVER_DIR"
  write_configs "$SERVER_DIR"
  cmd=$(server_cmd "$name" "$SERVER_DIR")
  SERVER_LOG=$SERVER_DIR/server.log
  SERVER_PORTS=(67)
  # shellcheck disable=SC2086
  SERVER_WAIT_SECONDS=15 server_spawn "$name" "$tag" "$NS_S" "$SERVER_DIR/stdout" "$SERVER_LOG" $cmd ||
    return 1
  [[ $name == kea* ]] && sleep 0.2 # Kea opens its socket before the last of its start-up
  return 0
}

# ---------------------------------------------------------------------------------------------
# One rung: run_rung NAME RATE KEY. R_OK: ok | drops | slow | failed.
declare -A R_N R_STARTED R_ACKED R_DROP R_XPS R_LAT R_CPU10K R_LOADCPU R_OK R_ERR R_RSS
run_rung() {
  local name=$1 rate=$2 key=$3 n json out
  n=$((rate * SECS))
  ((n > MAX_CLIENTS)) && n=$MAX_CLIENTS
  R_N[$key]=$n
  if ! start_server "$name" "$name-$rate"; then
    R_OK[$key]=failed
    stop_server
    return 0
  fi
  json=$WORK/$name-$rate.json out=$WORK/$name-$rate.out
  local cpu0 cpu1 c0 c1 t0 t1 rc=0
  cpu0=$(server_cpu_usec)
  c0=$(clients_cpu_usec)
  t0=$(date +%s%N)
  run_load "$NS_C" $((SECS + 30)) "$json" "$out" \
    --server=198.18.0.1 --relay=198.18.0.2 --clients="$n" --rate="$rate" --duration="$((SECS + 5))" \
    --flow=dhcp --dhcp_retries=0 --dhcp_timeout=2s || rc=$?
  t1=$(date +%s%N)
  cpu1=$(server_cpu_usec)
  c1=$(clients_cpu_usec)
  R_RSS[$key]=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo "–")
  stop_server
  load_json "$json"
  if [[ -z $(lj completed) ]]; then
    R_OK[$key]=failed
    R_ERR[$key]="rackboot-load exit $rc, no report: $(tail -n 2 "$out" | tr '\n' ' ')"
    return 0
  fi
  R_STARTED[$key]=$(lj dhcp.started)
  R_ACKED[$key]=$(lj dhcp.acked)
  R_ERR[$key]=$(lj errors_text)
  R_DROP[$key]=$(awk -v s="$(lj dhcp.started)" -v f="$(lj failed)" 'BEGIN { printf "%.3f", (s > 0 ? 100 * f / s : 100) }')
  R_XPS[$key]=$(awk -v x="$(lj dhcp.exchanges_per_second)" 'BEGIN { printf "%.0f", x }')
  R_LAT[$key]=$(awk -v a="$(lj dhcp.dora_ms.p50)" -v b="$(lj dhcp.dora_ms.p99)" -v c="$(lj dhcp.dora_ms.max)" \
    'BEGIN { printf "%.2f / %.2f / %.1f", a, b, c }')
  R_CPU10K[$key]=$(awk -v c="$((cpu1 - cpu0))" -v a="$(lj dhcp.acked)" 'BEGIN { if (a > 0) printf "%.3f", c / 1e6 / (a / 1e4); else print "–" }')
  R_LOADCPU[$key]=$(awk -v c="$((c1 - c0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.0f", 100 * c * 1000 / t }')
  # Passed: under DROP_LIMIT % failed, every client started, and the tool kept 95% of the rate.
  R_OK[$key]=$(awk -v d="${R_DROP[$key]}" -v l="$DROP_LIMIT" -v s="$(lj dhcp.started)" -v n="$n" \
    -v x="${R_XPS[$key]}" -v r="$rate" \
    'BEGIN { if (d >= l) print "drops"; else if (s < n || x < 0.95 * r) print "slow"; else print "ok" }')
}

describe() {
  local k=$1
  echo "${R_STARTED[$k]:-0} started, ${R_ACKED[$k]:-0} acked, drops ${R_DROP[$k]:-–}%, ${R_XPS[$k]:-–} exchanges/s, DORA ms p50/p99/max ${R_LAT[$k]:-–}, server ${R_CPU10K[$k]:-–} CPU-s/10k, rackboot-load ${R_LOADCPU[$k]:-–}% CPU${R_ERR[$k]:+; errors: ${R_ERR[$k]}}"
}

bench_usage_begin
declare -A BEST BEST_NOTE LADDER_KEYS PEAK_RSS
for name in "${SERVERS[@]}"; do
  rates=("${LADDER[@]}")
  [[ $name == dnsmasq ]] && rates=("${LADDER_DNSMASQ[@]}")
  BEST[$name]=0 BEST_NOTE[$name]="" LADDER_KEYS[$name]=""
  for rate in "${rates[@]}"; do
    key="$name|$rate"
    log "${LABEL[$name]} at $rate/s for $SECS s"
    run_rung "$name" "$rate" "$key"
    LADDER_KEYS[$name]+="$key "
    awk -v a="${R_RSS[$key]:-0}" -v b="${PEAK_RSS[$name]:-0}" 'BEGIN { exit !(a + 0 > b + 0) }' && PEAK_RSS[$name]=${R_RSS[$key]}
    log "  $(describe "$key") -> ${R_OK[$key]}"
    case ${R_OK[$key]} in
      ok) BEST[$name]=$rate ;;
      drops)
        BEST_NOTE[$name]="drops ≥ $DROP_LIMIT% at $(fmt_rate "$rate")/s (${R_DROP[$key]}%)"
        break
        ;;
      slow)
        BEST[$name]=${R_XPS[$key]}
        BEST_NOTE[$name]="no drops, but rackboot-load reached only ${R_XPS[$key]} of $rate/s: at least that, limited by the load tool"
        break
        ;;
      *)
        BEST_NOTE[$name]="run failed at $rate/s: ${R_ERR[$key]:-server did not start}"
        break
        ;;
    esac
  done
  [[ -n ${BEST_NOTE[$name]} ]] || BEST_NOTE[$name]="no drops at the top rung: at least that, limited by the ladder"
done
bench_usage_end "servers and rackboot-load"

# ---------------------------------------------------------------------------------------------
# Report.
make_report() {
  local name k
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench dhcp\` (bench/dhcp_load.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and rackboot-load share the CPUs. $SHARED"
  echo "- rackbootd and rackboot-load: commit $RB_COMMIT, \`bazel build -c opt\`; lease journal on $STATE_FS (fdatasync before every ACK, group commit)."
  echo "- Peers: kea-dhcp4-server $(version_of kea-dhcp4-server) (memfile, persist on), dnsmasq-base $(version_of dnsmasq-base)."
  echo "- Load: rackboot-load as a relay agent (giaddr 198.18.0.2) over a veth pair; PXE clients (BIOS, options 60/93/94/97), one full DORA each, started at the rung's rate for $SECS s (at most $(fmt_rate "$MAX_CLIENTS") clients), \`--dhcp_retries=0\` with a 2 s timeout: any lost or late message fails the client. Drops = failed ÷ started. A rung passes with under $DROP_LIMIT% drops, every client started and at least 95% of the asked rate completed. Every server starts fresh (no leases) for every rung."
  echo "- Server CPU: $CPU_METHOD over the rung, per 10,000 ACKs. Peak RSS: the server's VmHWM, highest over its rungs."
  echo
  echo "| server | highest rate with < $DROP_LIMIT% drops | DORA ms p50 / p99 / max there | server CPU-s / 10k there | peak RSS MiB | rackbootd ÷ this, no-drop rate | how the ladder ended |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  for name in "${SERVERS[@]}"; do
    local best bk="$name|${BEST[$name]}"
    best="$(fmt_rate "${BEST[$name]}")/s"
    [[ ${BEST[$name]} -eq 0 ]] && best="below the first rung"
    [[ -n ${R_LAT[$bk]:-} ]] || bk=$(awk '{ print $NF }' <<<"${LADDER_KEYS[$name]}") # "slow": the last rung
    local r="–"
    [[ $name != rackbootd ]] && r=$(ratio "${BEST[rackbootd]:-}" "${BEST[$name]}")
    echo "| ${LABEL[$name]} | $best | ${R_LAT[$bk]:-–} | ${R_CPU10K[$bk]:-–} | ${PEAK_RSS[$name]:-–} | $r | ${BEST_NOTE[$name]} |"
  done
  echo
  local bkea=kea
  [[ ${BEST[kea-mt]:-0} -gt ${BEST[kea]:-0} ]] && bkea=kea-mt
  local rr
  rr=$(ratio "${BEST[rackbootd]:-}" "${BEST[$bkea]:-}")
  local v
  v=$(awk -v r="$rr" 'BEGIN { if (r == "–") print "not measured"; else if (r + 0 >= 10) print "**met**"; else print "**missed**" }')
  echo "Target (issue 6): no-drop rate under rackboot-load at least 10× Kea's (the better of its two modes): rackbootd $(fmt_rate "${BEST[rackbootd]:-0}")/s vs ${LABEL[$bkea]} $(fmt_rate "${BEST[$bkea]:-0}")/s, ratio $rr: $v. (${BEST_NOTE[rackbootd]:-}.)"
  echo
  echo "Every rung:"
  echo
  echo "| server | asked /s | clients | started | acked | drops % | exchanges/s | DORA ms p50 / p99 / max | server CPU-s / 10k | rackboot-load CPU % | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for name in "${SERVERS[@]}"; do
    for k in ${LADDER_KEYS[$name]}; do
      echo "| ${LABEL[$name]} | $(fmt_rate "${k##*|}") | ${R_N[$k]} | ${R_STARTED[$k]:-–} | ${R_ACKED[$k]:-–} | ${R_DROP[$k]:-–} | ${R_XPS[$k]:-–} | ${R_LAT[$k]:-–} | ${R_CPU10K[$k]:-–} | ${R_LOADCPU[$k]:-–} | ${R_ERR[$k]:-} |"
    done
  done
  echo
  echo "Server command lines (\`DIR\` is the rung's fresh directory) and load:"
  echo
  echo '```'
  for name in "${SERVERS[@]}"; do
    server_cmd "$name" DIR | sed -e "s|$RB|rackbootd|" -e "s|$IF_S|IF|g"
  done
  echo "rackboot-load --server=198.18.0.1 --relay=198.18.0.2 --clients=RATE×$SECS --rate=RATE --duration=$((SECS + 5)) --flow=dhcp --dhcp_retries=0 --dhcp_timeout=2s --json=OUT"
  echo '```'
  echo
  echo "rackbootd's DIR/site.toml (DIR/inventory.csv: the load tool's MACs 02:52:42:00:00:00 onwards, hostnames load0..., state install); Kea's JSON is dhcp_peers.sh's with \`\"next-server\": \"198.18.0.1\", \"boot-file-name\": \"pxelinux.0\"\`:"
  echo
  echo '```toml'
  bench_rackboot_site "$WORK/show" IF DIR/inventory.csv pxelinux.0
  sed -e "s|$WORK/show|DIR|g" "$WORK/show/site.toml"
  echo '```'
}

REPORT=$(make_report)
printf '%s\n' "$REPORT"
if [[ $WRITE_DOC -eq 1 ]]; then
  printf '%s\n' "$REPORT" >"$WORK/section.md"
  bench_write_doc dhcp-load "$WORK/section.md" "DHCP under rackboot-load: rackbootd beside ISC Kea and dnsmasq"
fi
