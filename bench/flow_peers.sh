#!/usr/bin/env bash
# bench/flow_peers.sh: a whole rack powering on. CLIENTS PXE clients at once, each doing DHCP
# (DORA), then a kernel and an initrd over TFTP, against rackbootd (DHCP + TFTP) and against
# dnsmasq serving both, with the project's load tool `rackboot-load` (//tools/load). The
# figure is the time until the last client has both files. Run as root; usually through
# `./rackboot bench flow`. See bench/README.md.
#
# Two network namespaces joined by a veth pair: the server's (198.18.0.1/16) and the clients'
# (198.18.0.2/16; rackboot-load's clients are directly attached: broadcast DISCOVERs on the veth,
# unless RACKBOOT_BENCH_FLOW_RELAY=1 makes it a relay agent). Each server starts fresh (no
# leases) in a cgroup of its own. Every run is bounded (--duration and `timeout`). Namespaces,
# cgroups, servers and files are removed on exit.
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_FLOW_CLIENTS (500)
#   RACKBOOT_BENCH_FLOW_KERNEL_MIB (8)
#   RACKBOOT_BENCH_FLOW_INITRD_MIB (40)
#   RACKBOOT_BENCH_FLOW_CAP (120)        seconds a run may take (--duration)
#   RACKBOOT_BENCH_FLOW_WINDOWSIZE (16)  asked for by every client (dnsmasq ignores it)
#   RACKBOOT_BENCH_FLOW_RELAY (0)        1: clients behind a relay (giaddr 198.18.0.2)
#   RACKBOOT_BENCH_FLOW_SERVERS ("rackbootd dnsmasq")
#   RACKBOOT_BENCH_FLOW_LOAD_THREADS (2) rackboot-load --threads (direct DHCP only)
set -euo pipefail

BENCH_TAG=flow_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=${RACKBOOT_BENCH_FLOW_CLIENTS:-500}
KERNEL_MIB=${RACKBOOT_BENCH_FLOW_KERNEL_MIB:-8}
INITRD_MIB=${RACKBOOT_BENCH_FLOW_INITRD_MIB:-40}
CAP=${RACKBOOT_BENCH_FLOW_CAP:-120}
WINDOW=${RACKBOOT_BENCH_FLOW_WINDOWSIZE:-16}
RELAY=${RACKBOOT_BENCH_FLOW_RELAY:-0}
read -r -a SERVERS <<<"${RACKBOOT_BENCH_FLOW_SERVERS:-rackbootd dnsmasq}"
BLKSIZE=1468
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip timeout bazel python3 dnsmasq

NS_S=rbfl-s-$$
NS_C=rbfl-c-$$
IF_S=rbfs$$
IF_C=rbfc$$
bench_init

BIN=$(bench_build //engine:rackbootd //tools/load:rackboot-load)
WORK=$(bench_workdir rackboot-flow) # on disk, as lease files would be
bench_track_dir "$WORK"
mkdir -p "$WORK/bin"
RB=$(bench_copy_binary "$BIN/engine/rackbootd" "$WORK/bin")
LOAD=$(bench_copy_binary "$BIN/tools/load/rackboot-load" "$WORK/bin")
RB_COMMIT=$(bench_commit engine proto tools/load third_party WORKSPACE)

# The boot tree: world-readable (dnsmasq drops to nobody), random bytes, in the page cache.
mkdir -m 755 "$WORK/root"
head -c "$((KERNEL_MIB << 20))" /dev/urandom >"$WORK/root/kernel"
head -c "$((INITRD_MIB << 20))" /dev/urandom >"$WORK/root/initrd"
chmod 644 "$WORK/root/kernel" "$WORK/root/initrd"
cat "$WORK/root"/* >/dev/null

bench_netns_pair "$NS_S" "$NS_C" "$IF_S" "$IF_C" 198.18.0.1/16 198.18.0.2/16
bench_cgroups rackboot-flow
bench_inventory "$WORK/inventory.csv" "$CLIENTS"

declare -A LABEL=([rackbootd]="rackbootd (DHCP + TFTP)" [dnsmasq]="dnsmasq (DHCP + TFTP)")
POOL_FIRST=198.18.1.0
POOL_LAST=198.19.255.254
server_cmd() {
  local dir=$2
  case $1 in
    rackbootd) echo "$RB --config=$dir/site.toml --threads=$NPROC --tftp_max_per_client=0 --minloglevel=1" ;;
    dnsmasq) echo "dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --pid-file= --interface=$IF_S --bind-interfaces --no-ping --quiet-dhcp --dhcp-range=$POOL_FIRST,$POOL_LAST,255.254.0.0,3600 --dhcp-lease-max=$((CLIENTS + 1000)) --dhcp-boot=kernel --dhcp-leasefile=$dir/dnsmasq.leases --enable-tftp --tftp-root=$WORK/root --tftp-max=$((CLIENTS * 2 + 100)) --quiet-tftp --log-facility=$dir/dnsmasq.log" ;;
    *) die "unknown server $1" ;;
  esac
}

start_server() {
  local name=$1 tag=$2 cmd
  SERVER_DIR=$WORK/$tag
  mkdir -p "$SERVER_DIR"
  bench_rackboot_site "$SERVER_DIR" "$IF_S" "$WORK/inventory.csv" kernel "$WORK/root"
  cmd=$(server_cmd "$name" "$SERVER_DIR")
  SERVER_LOG=$SERVER_DIR/server.log
  SERVER_PORTS=(67 69)
  # shellcheck disable=SC2086
  SERVER_WAIT_SECONDS=15 server_spawn "$name" "$tag" "$NS_S" "$SERVER_DIR/stdout" "$SERVER_LOG" $cmd
}

# shellcheck disable=SC2054 # --flow takes a comma-separated list
LOAD_ARGS=(--server=198.18.0.1 --clients="$CLIENTS" --duration="$CAP" --flow=dhcp,tftp:/kernel,tftp:/initrd
  --blksize="$BLKSIZE" --windowsize="$WINDOW" --verify="$WORK/root/kernel,$WORK/root/initrd"
  --dhcp_retries=3 --dhcp_timeout=2s --tftp_timeout=1s --tftp_retries=5)
# Two load threads (one per core) unless relayed: a single thread receives about 1 GiB/s, which
# would make rackboot-load, not the server, the limit of the faster server's row.
if [[ $RELAY -eq 1 ]]; then
  LOAD_ARGS+=(--relay=198.18.0.2)
else
  LOAD_ARGS+=(--interface="$IF_C" --threads="${RACKBOOT_BENCH_FLOW_LOAD_THREADS:-2}")
fi

declare -A R_DONE R_WALL R_MIBS R_CPU R_CPUG R_RSS R_DORA R_PH R_NOTE R_FAIL R_PROJ
bench_usage_begin
for name in "${SERVERS[@]}"; do
  log "${LABEL[$name]}: $CLIENTS clients, DHCP then ${KERNEL_MIB} MiB and ${INITRD_MIB} MiB over TFTP (cap ${CAP} s)"
  key=$name R_FAIL[$key]="" R_NOTE[$key]=""
  T0=$(date +%s)
  if ! start_server "$name" "$name"; then
    R_FAIL[$key]="server did not start"
    stop_server
    continue
  fi
  start_sampler "$WORK/$name.mem"
  cpu0=$(server_cpu_usec)
  rc=0
  run_load "$NS_C" $((CAP + 30)) "$WORK/$name.json" "$WORK/$name.out" "${LOAD_ARGS[@]}" || rc=$?
  server_settle
  cpu1=$(server_cpu_usec)
  read -r peak anon < <(server_peak_rss "$WORK/$name.mem")
  stop_server
  load_json "$WORK/$name.json"
  if [[ -z $(lj completed) ]]; then
    R_FAIL[$key]="rackboot-load exit $rc, no report: $(tail -n 2 "$WORK/$name.out" | tr '\n' ' ')"
    log "  FAILED: ${R_FAIL[$key]}"
    continue
  fi
  wall=$(lj wall_seconds) bytes=$(lj tftp.bytes)
  R_DONE[$key]="$(lj completed) / $CLIENTS"
  R_WALL[$key]=$(awk -v w="$wall" 'BEGIN { printf "%.2f", w }')
  R_MIBS[$key]=$(awk -v b="$bytes" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", b / 1048576 / w; else print "–" }')
  R_CPU[$key]=$(awk -v c="$((cpu1 - cpu0))" 'BEGIN { printf "%.2f", c / 1e6 }')
  R_CPUG[$key]=$(awk -v c="$((cpu1 - cpu0))" -v b="$bytes" 'BEGIN { if (b > 0) printf "%.2f", (c / 1e6) / (b / 1073741824); else print "–" }')
  R_RSS[$key]="$peak ($anon)"
  R_DORA[$key]=$(awk -v a="$(lj dhcp.dora_ms.p50)" -v b="$(lj dhcp.dora_ms.p99)" -v c="$(lj dhcp.dora_ms.max)" 'BEGIN { printf "%.1f / %.1f / %.0f", a, b, c }')
  R_PH[$key]=$(awk -v a="$(lj 'phase:tftp:/kernel.ms.p50')" -v b="$(lj 'phase:tftp:/kernel.ms.max')" \
    -v c="$(lj 'phase:tftp:/initrd.ms.p50')" -v d="$(lj 'phase:tftp:/initrd.ms.max')" 'BEGIN { printf "%.0f / %.0f | %.0f / %.0f", a, b, c, d }')
  notes=()
  [[ $(lj failed) -gt 0 ]] && notes+=("$(lj failed) failed: $(lj errors_text)")
  # Stopped at the cap: how long all would have taken at the rate it delivered until then.
  R_PROJ[$key]=""
  if awk -v w="$wall" -v c="$CAP" 'BEGIN { exit !(w >= c - 0.5) }'; then
    R_PROJ[$key]=$(awk -v w="$wall" -v b="$bytes" -v t="$((CLIENTS * (KERNEL_MIB + INITRD_MIB) << 20))" 'BEGIN { if (b > 0) printf "%.0f", w * t / b }')
    notes+=("stopped at the ${CAP} s cap; at the rate it delivered until then all would take about ${R_PROJ[$key]:-?} s (projected)")
  fi
  notes+=("DHCP retransmits $(lj dhcp.retransmits), TFTP retransmits $(lj tftp.retransmits), timeouts $(lj tftp.timeouts)")
  [[ $name == dnsmasq && $WINDOW -gt 1 ]] && notes+=("no windowsize: lock-step")
  R_NOTE[$key]=$(
    IFS=';'
    echo "${notes[*]}" | sed 's/;/; /g'
  )
  log "  ${R_DONE[$key]} done in ${R_WALL[$key]} s ($(($(date +%s) - T0)) s with start-up), ${R_MIBS[$key]} MiB/s, server ${R_CPU[$key]} CPU-s; ${R_NOTE[$key]}"
done
bench_usage_end "servers and rackboot-load"

make_report() {
  local name
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench flow\` (bench/flow_peers.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and rackboot-load share the CPUs. $SHARED"
  echo "- rackbootd and rackboot-load: commit $RB_COMMIT, \`bazel build -c opt\`; rackbootd \`--threads=$NPROC --tftp_max_per_client=0\` (the load clients share one address), lease journal on disk (fdatasync before every ACK)."
  echo "- Peer: dnsmasq-base $(version_of dnsmasq-base), DHCP and TFTP in one process, as it is used for PXE."
  echo "- Load: $(fmt_rate "$CLIENTS") PXE clients (BIOS) started at once by rackboot-load in its own namespace ($([[ $RELAY -eq 1 ]] && echo "one thread" || echo "${RACKBOOT_BENCH_FLOW_LOAD_THREADS:-2} threads, \`--threads\`")), $([[ $RELAY -eq 1 ]] && echo "behind a relay (giaddr 198.18.0.2)" || echo "directly attached (broadcast DISCOVERs on the veth)"); each does DORA (2 s timeout, 3 retries), then reads /kernel (${KERNEL_MIB} MiB) and /initrd (${INITRD_MIB} MiB) with blksize $BLKSIZE and windowsize $WINDOW (1 s timeout, 5 retries), every byte compared with the files served. The run is capped at ${CAP} s."
  echo "- Time for all: from the first DISCOVER until the last client has both files (rackboot-load's wall time). Server CPU: $CPU_METHOD over the run."
  echo
  echo "| server | clients done | time for all, s | MiB/s | DORA ms p50 / p99 / max | kernel ms p50 / max \\| initrd ms p50 / max | server CPU-s | server CPU-s/GiB | peak RSS MiB (anon) | dnsmasq's time ÷ this | notes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for name in "${SERVERS[@]}"; do
    if [[ -n ${R_FAIL[$name]} ]]; then
      echo "| ${LABEL[$name]} | FAILED | – | – | – | – | – | – | – | – | ${R_FAIL[$name]//|/\\|} |"
      continue
    fi
    echo "| ${LABEL[$name]} | ${R_DONE[$name]} | ${R_WALL[$name]} | ${R_MIBS[$name]} | ${R_DORA[$name]} | ${R_PH[$name]//|/\\|} | ${R_CPU[$name]} | ${R_CPUG[$name]} | ${R_RSS[$name]} | $(ratio "${R_PROJ[dnsmasq]:-${R_WALL[dnsmasq]:-}}" "${R_WALL[$name]}") | ${R_NOTE[$name]//|/\\|} |"
  done
  echo
  local r v capped="" dt=${R_WALL[dnsmasq]:-}
  if [[ -n ${R_PROJ[dnsmasq]:-} ]]; then
    dt=${R_PROJ[dnsmasq]}
    capped=" dnsmasq stopped at the ${CAP} s cap; its time is projected from the bytes it had delivered by then (lock-step TFTP runs at a steady rate), and at least ${CAP} s measured."
  fi
  r=$(ratio "$dt" "${R_WALL[rackbootd]:-}")
  [[ ${R_DONE[rackbootd]:-} == "$CLIENTS / $CLIENTS" ]] || r="–"
  v=$(awk -v r="$r" 'BEGIN { if (r == "–") print "not measured (or rackbootd did not finish every client)"; else if (r + 0 >= 5) print "**met**"; else print "**missed**" }')
  echo "Target (issue 6): all $(fmt_rate "$CLIENTS") clients finish at least 5× sooner with rackbootd than with dnsmasq: ${R_WALL[rackbootd]:-–} s vs ${dt:-–} s, ratio $r: $v.$capped"
  echo
  echo "Server command lines (\`DIR\` is the run's fresh directory, \`ROOT\` the boot tree) and load:"
  echo
  echo '```'
  for name in "${SERVERS[@]}"; do
    server_cmd "$name" DIR | sed -e "s|$RB|rackbootd|" -e "s|$IF_S|IF|g" -e "s|$WORK/root|ROOT|g"
  done
  echo "rackboot-load ${LOAD_ARGS[*]} --json=OUT" | sed -e "s|$WORK/root|ROOT|g" -e "s|$IF_C|IF|g"
  echo '```'
  echo
  echo "rackbootd's DIR/site.toml (DIR/inventory.csv: the load tool's MACs 02:52:42:00:00:00 onwards, state install):"
  echo
  echo '```toml'
  bench_rackboot_site "$WORK/show" IF DIR/inventory.csv kernel ROOT
  sed -e "s|$WORK/show|DIR|g" "$WORK/show/site.toml"
  echo '```'
}

REPORT=$(make_report)
printf '%s\n' "$REPORT"
if [[ $WRITE_DOC -eq 1 ]]; then
  printf '%s\n' "$REPORT" >"$WORK/section.md"
  bench_write_doc flow "$WORK/section.md" "Flow: a rack powering on, rackbootd beside dnsmasq"
fi
