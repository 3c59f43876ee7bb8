#!/usr/bin/env bash
# bench/flow_peers.sh: a whole rack powering on. CLIENTS PXE clients at once, each doing DHCP
# (DORA) and then downloading its boot files, with the project's load tool `rackboot-load`
# (//tools/load). Two scenarios (RACKBOOT_BENCH_FLOW_MODE):
#   tftp  DHCP, then a kernel and an initrd over TFTP: rackbootd (DHCP + TFTP) against dnsmasq
#         serving both (issue 6's target);
#   http  DHCP, a 1 MiB loader over lock-step TFTP (blksize 1432, no windowsize, as iPXE's
#         undionly.kpxe is fetched by the NIC's PXE ROM), then the kernel and the initrd over HTTP:
#         rackbootd alone (DHCP + TFTP + HTTP, one process) against dnsmasq (DHCP + TFTP) plus
#         nginx (HTTP) (issue 12's target).
# The figure is the time until the last client has every file, and the servers' total CPU. Run
# as root; usually through `./rackboot bench flow`. See bench/README.md.
#
# Two network namespaces joined by a veth pair: the server's (198.18.0.1/16) and the clients'
# (198.18.0.2/16; rackboot-load's clients are directly attached: broadcast DISCOVERs on the veth,
# unless RACKBOOT_BENCH_FLOW_RELAY=1 makes it a relay agent). Each server starts fresh (no
# leases) in a cgroup of its own (dnsmasq and nginx share one, so its CPU is both peers'). Every
# run is bounded (--duration and `timeout`). Namespaces, cgroups, servers and files are removed
# on exit.
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_FLOW_MODE (both)      tftp, http or both
#   RACKBOOT_BENCH_FLOW_CLIENTS (500)
#   RACKBOOT_BENCH_FLOW_KERNEL_MIB (8)
#   RACKBOOT_BENCH_FLOW_INITRD_MIB (40)
#   RACKBOOT_BENCH_FLOW_LOADER_MIB (1)   the http scenario's TFTP file
#   RACKBOOT_BENCH_FLOW_CAP (120)        seconds a run may take (--duration)
#   RACKBOOT_BENCH_FLOW_WINDOWSIZE (16)  asked for by every client in the tftp scenario (dnsmasq
#                                        ignores it); the http scenario is always lock-step
#   RACKBOOT_BENCH_FLOW_RELAY (0)        1: clients behind a relay (giaddr 198.18.0.2)
#   RACKBOOT_BENCH_FLOW_SERVERS ("rackbootd dnsmasq")  dnsmasq means dnsmasq + nginx in http
#   RACKBOOT_BENCH_FLOW_LOAD_THREADS (2) rackboot-load --threads (direct DHCP only)
#   RACKBOOT_BENCH_FLOW_PERF (0)         1: `perf record -g` rackbootd during the http run and
#                                        print its top symbols (needs perf)
set -euo pipefail

BENCH_TAG=flow_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=${RACKBOOT_BENCH_FLOW_CLIENTS:-500}
KERNEL_MIB=${RACKBOOT_BENCH_FLOW_KERNEL_MIB:-8}
INITRD_MIB=${RACKBOOT_BENCH_FLOW_INITRD_MIB:-40}
LOADER_MIB=${RACKBOOT_BENCH_FLOW_LOADER_MIB:-1}
CAP=${RACKBOOT_BENCH_FLOW_CAP:-120}
MODE=${RACKBOOT_BENCH_FLOW_MODE:-both}
PERF_ON=${RACKBOOT_BENCH_FLOW_PERF:-0}
case $MODE in
  tftp | http) MODES=("$MODE") ;;
  both) MODES=(tftp http) ;;
  *) echo "RACKBOOT_BENCH_FLOW_MODE=$MODE: tftp, http or both" >&2 && exit 2 ;;
esac
WINDOW=${RACKBOOT_BENCH_FLOW_WINDOWSIZE:-16}
RELAY=${RACKBOOT_BENCH_FLOW_RELAY:-0}
read -r -a SERVERS <<<"${RACKBOOT_BENCH_FLOW_SERVERS:-rackbootd dnsmasq}"
BLKSIZE=1468
HTTP_BLKSIZE=1432 # what a PXE ROM asks for when it fetches the loader
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip timeout bazel python3 dnsmasq
[[ ${MODES[*]} != *http* ]] || bench_require nginx ss

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
head -c "$((LOADER_MIB << 20))" /dev/urandom >"$WORK/root/loader"
chmod 644 "$WORK/root/kernel" "$WORK/root/initrd" "$WORK/root/loader"
mkdir -p "$WORK/nginx-tmp"
cat "$WORK/root"/* >/dev/null

bench_netns_pair "$NS_S" "$NS_C" "$IF_S" "$IF_C" 198.18.0.1/16 198.18.0.2/16
bench_cgroups rackboot-flow
bench_inventory "$WORK/inventory.csv" "$CLIENTS"

declare -A LABEL=([tftp\|rackbootd]="rackbootd (DHCP + TFTP)" [tftp\|dnsmasq]="dnsmasq (DHCP + TFTP)"
  [http\|rackbootd]="rackbootd (DHCP + TFTP + HTTP, one process)" [http\|dnsmasq]="dnsmasq (DHCP + TFTP) + nginx (HTTP)")
POOL_FIRST=198.18.1.0
POOL_LAST=198.19.255.254
# nginx as issue 12 fixes it: sendfile on, 2 workers, access log off; the boot tree under /boot/
# (rackbootd's URL space); not a daemon, so the benchmark owns its process (as in http_peers.sh).
cat >"$WORK/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 65536;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 16384; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_timeout 120s;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  server {
    listen 198.18.0.1:80;
    location /boot/ { alias $WORK/root/; }
  }
}
EOF
NGINX_CMD="nginx -c $WORK/nginx.conf -e $WORK/nginx-error.log"

# server_cmd NAME DIR [MODE]
server_cmd() {
  local dir=$2 http=""
  [[ ${3:-tftp} == http ]] && http=" --http_listen=198.18.0.1:80"
  case $1 in
    rackbootd) echo "$RB --config=$dir/site.toml --threads=$NPROC --tftp_max_per_client=0$http --minloglevel=1" ;;
    dnsmasq) echo "dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --pid-file= --interface=$IF_S --bind-interfaces --no-ping --quiet-dhcp --dhcp-range=$POOL_FIRST,$POOL_LAST,255.254.0.0,3600 --dhcp-lease-max=$((CLIENTS + 1000)) --dhcp-boot=kernel --dhcp-leasefile=$dir/dnsmasq.leases --enable-tftp --tftp-root=$WORK/root --tftp-max=$((CLIENTS * 2 + 100)) --quiet-tftp --log-facility=$dir/dnsmasq.log" ;;
    *) die "unknown server $1" ;;
  esac
}

# start_server NAME TAG MODE: in the http mode rackbootd also listens on port 80, and dnsmasq gets
# nginx beside it in its cgroup (so the cgroup's CPU and the RSS sampler count both peers).
NGINX_PID=""
start_server() {
  local name=$1 tag=$2 mode=$3 cmd
  SERVER_DIR=$WORK/$tag
  mkdir -p "$SERVER_DIR"
  bench_rackboot_site "$SERVER_DIR" "$IF_S" "$WORK/inventory.csv" kernel "$WORK/root"
  cmd=$(server_cmd "$name" "$SERVER_DIR" "$mode")
  SERVER_LOG=$SERVER_DIR/server.log
  SERVER_PORTS=(67 69)
  # shellcheck disable=SC2086
  SERVER_WAIT_SECONDS=15 server_spawn "$name" "$tag" "$NS_S" "$SERVER_DIR/stdout" "$SERVER_LOG" $cmd || return 1
  [[ $mode == http ]] || return 0
  if [[ $name == dnsmasq ]]; then
    # shellcheck disable=SC2086
    cg_spawn "$SERVER_CG" ip netns exec "$NS_S" $NGINX_CMD >"$SERVER_DIR/nginx.out" 2>&1 &
    NGINX_PID=$!
  fi
  for _ in $(seq 1 200); do
    ip netns exec "$NS_S" ss -Hltn "sport = :80" | grep -q . && return 0
    sleep 0.05
  done
  log "$name: port 80 not listening: $(tail -n 2 "$SERVER_DIR/nginx.out" 2>/dev/null)"
  return 1
}
# Called by stop_server (bench/lib.sh) before the server goes: nginx first (TERM, then its cgroup).
bench_on_stop() {
  if [[ -n $NGINX_PID ]]; then
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
  fi
}

# shellcheck disable=SC2054 # --flow and --verify take comma-separated lists
LOAD_COMMON=(--server=198.18.0.1 --clients="$CLIENTS" --duration="$CAP"
  --dhcp_retries=3 --dhcp_timeout=2s --tftp_timeout=1s --tftp_retries=5)
# Two load threads (one per core) unless relayed: a single thread receives about 1 GiB/s, which
# would make rackboot-load, not the server, the limit of the faster server's row.
if [[ $RELAY -eq 1 ]]; then
  LOAD_COMMON+=(--relay=198.18.0.2)
else
  LOAD_COMMON+=(--interface="$IF_C" --threads="${RACKBOOT_BENCH_FLOW_LOAD_THREADS:-2}")
fi
# shellcheck disable=SC2054
TFTP_ARGS=("${LOAD_COMMON[@]}" --flow=dhcp,tftp:/kernel,tftp:/initrd --blksize="$BLKSIZE"
  --windowsize="$WINDOW" --verify="$WORK/root/kernel,$WORK/root/initrd")
# The http scenario: the loader lock-step (--windowsize=1 sends no windowsize option), then
# HTTP to the server's address on port 80 (what the lease's next-server would give).
# shellcheck disable=SC2054
HTTP_ARGS=("${LOAD_COMMON[@]}" --flow=dhcp,tftp:/loader,http:/boot/kernel,http:/boot/initrd
  --blksize="$HTTP_BLKSIZE" --windowsize=1 --http_server=198.18.0.1:80
  --verify="$WORK/root/loader,$WORK/root/kernel,$WORK/root/initrd")
TOTAL_MIB=$((KERNEL_MIB + INITRD_MIB))

# perf record of rackbootd during its http run (RACKBOOT_BENCH_FLOW_PERF=1): top symbols.
PERF_PID=""
PERF_TOP=""
perf_start() {
  [[ $PERF_ON -eq 1 ]] && command -v perf >/dev/null || return 0
  perf record -F 499 -g -p "$SERVER_PID" -o "$WORK/perf.data" >/dev/null 2>&1 &
  PERF_PID=$!
  bench_track_pid "$PERF_PID"
}
perf_stop() {
  [[ -n $PERF_PID ]] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
  PERF_TOP=$(perf report -i "$WORK/perf.data" --no-children --sort=dso,sym --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 15 || true)
}

declare -A R_DONE R_WALL R_MIBS R_CPU R_CPUG R_RSS R_DORA R_PH R_NOTE R_FAIL R_PROJ
bench_usage_begin
for mode in "${MODES[@]}"; do
  for name in "${SERVERS[@]}"; do
    key="$mode|$name"
    if [[ $mode == tftp ]]; then
      args=("${TFTP_ARGS[@]}")
      log "${LABEL[$key]}: $CLIENTS clients, DHCP then ${KERNEL_MIB} MiB and ${INITRD_MIB} MiB over TFTP (cap ${CAP} s)"
    else
      args=("${HTTP_ARGS[@]}")
      log "${LABEL[$key]}: $CLIENTS clients, DHCP, ${LOADER_MIB} MiB lock-step TFTP, then ${KERNEL_MIB} MiB and ${INITRD_MIB} MiB over HTTP (cap ${CAP} s)"
    fi
    R_FAIL[$key]="" R_NOTE[$key]=""
    T0=$(date +%s)
    if ! start_server "$name" "$mode-$name" "$mode"; then
      R_FAIL[$key]="server did not start"
      stop_server
      continue
    fi
    start_sampler "$WORK/$mode-$name.mem"
    [[ $mode == http && $name == rackbootd ]] && perf_start
    cpu0=$(server_cpu_usec)
    rc=0
    run_load "$NS_C" $((CAP + 30)) "$WORK/$mode-$name.json" "$WORK/$mode-$name.out" "${args[@]}" || rc=$?
    [[ -n $NGINX_PID ]] || server_settle
    cpu1=$(server_cpu_usec)
    perf_stop
    read -r peak anon < <(server_peak_rss "$WORK/$mode-$name.mem")
    stop_server
    load_json "$WORK/$mode-$name.json"
    if [[ -z $(lj completed) ]]; then
      R_FAIL[$key]="rackboot-load exit $rc, no report: $(tail -n 2 "$WORK/$mode-$name.out" | tr '\n' ' ')"
      log "  FAILED: ${R_FAIL[$key]}"
      continue
    fi
    wall=$(lj wall_seconds) bytes=$(($(lj tftp.bytes) + $(lj http.bytes)))
    R_DONE[$key]="$(lj completed) / $CLIENTS"
    R_WALL[$key]=$(awk -v w="$wall" 'BEGIN { printf "%.2f", w }')
    R_MIBS[$key]=$(awk -v b="$bytes" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", b / 1048576 / w; else print "–" }')
    R_CPU[$key]=$(awk -v c="$((cpu1 - cpu0))" 'BEGIN { printf "%.2f", c / 1e6 }')
    R_CPUG[$key]=$(awk -v c="$((cpu1 - cpu0))" -v b="$bytes" 'BEGIN { if (b > 0) printf "%.2f", (c / 1e6) / (b / 1073741824); else print "–" }')
    R_RSS[$key]="$peak ($anon)"
    R_DORA[$key]=$(awk -v a="$(lj dhcp.dora_ms.p50)" -v b="$(lj dhcp.dora_ms.p99)" -v c="$(lj dhcp.dora_ms.max)" 'BEGIN { printf "%.1f / %.1f / %.0f", a, b, c }')
    if [[ $mode == tftp ]]; then
      R_PH[$key]=$(awk -v a="$(lj 'phase:tftp:/kernel.ms.p50')" -v b="$(lj 'phase:tftp:/kernel.ms.max')" \
        -v c="$(lj 'phase:tftp:/initrd.ms.p50')" -v d="$(lj 'phase:tftp:/initrd.ms.max')" 'BEGIN { printf "%.0f / %.0f | %.0f / %.0f", a, b, c, d }')
    else
      R_PH[$key]=$(awk -v l="$(lj 'phase:tftp:/loader.ms.p50')" -v m="$(lj 'phase:tftp:/loader.ms.max')" \
        -v a="$(lj 'phase:http:/boot/kernel.ms.p50')" -v b="$(lj 'phase:http:/boot/kernel.ms.max')" \
        -v c="$(lj 'phase:http:/boot/initrd.ms.p50')" -v d="$(lj 'phase:http:/boot/initrd.ms.max')" \
        'BEGIN { printf "%.0f / %.0f | %.0f / %.0f | %.0f / %.0f", l, m, a, b, c, d }')
    fi
    notes=()
    [[ $(lj failed) -gt 0 ]] && notes+=("$(lj failed) failed: $(lj errors_text)")
    # Stopped at the cap: how long all would have taken at the rate it delivered until then.
    R_PROJ[$key]=""
    if awk -v w="$wall" -v c="$CAP" 'BEGIN { exit !(w >= c - 0.5) }'; then
      local_total=$((CLIENTS * TOTAL_MIB << 20))
      [[ $mode == http ]] && local_total=$((CLIENTS * (TOTAL_MIB + LOADER_MIB) << 20))
      R_PROJ[$key]=$(awk -v w="$wall" -v b="$bytes" -v t="$local_total" 'BEGIN { if (b > 0) printf "%.0f", w * t / b }')
      notes+=("stopped at the ${CAP} s cap; at the rate it delivered until then all would take about ${R_PROJ[$key]:-?} s (projected)")
    fi
    notes+=("DHCP retransmits $(lj dhcp.retransmits), TFTP retransmits $(lj tftp.retransmits), timeouts $(lj tftp.timeouts)")
    [[ $mode == http ]] && notes+=("HTTP connections $(lj http.connections), reused $(lj http.reused)")
    [[ $mode == tftp && $name == dnsmasq && $WINDOW -gt 1 ]] && notes+=("no windowsize: lock-step")
    R_NOTE[$key]=$(
      IFS=';'
      echo "${notes[*]}" | sed 's/;/; /g'
    )
    log "  ${R_DONE[$key]} done in ${R_WALL[$key]} s ($(($(date +%s) - T0)) s with start-up), ${R_MIBS[$key]} MiB/s, server ${R_CPU[$key]} CPU-s; ${R_NOTE[$key]}"
  done
done
bench_usage_end "servers and rackboot-load"

# verdict MODE FACTOR: "A s vs B s, ratio R: **met**/**missed**" for rackbootd's wall time against
# dnsmasq's (projected when capped) needing ratio >= FACTOR; and CPU when FACTOR is 1.
time_ratio() {
  local mode=$1 dt=${R_WALL[$1|dnsmasq]:-}
  [[ -n ${R_PROJ[$mode|dnsmasq]:-} ]] && dt=${R_PROJ[$mode|dnsmasq]}
  if [[ ${R_DONE[$mode|rackbootd]:-} != "$CLIENTS / $CLIENTS" ]]; then echo "– –"; else echo "${dt:-–} $(ratio "$dt" "${R_WALL[$mode|rackbootd]:-}")"; fi
}
met() { awk -v r="$1" -v f="$2" 'BEGIN { if (r == "–" || r == "") print "not measured (or rackbootd did not finish every client)"; else if (r + 0 >= f) print "**met**"; else print "**missed**" }'; }

make_report() {
  local mode name key dt r
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench flow\` (bench/flow_peers.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and rackboot-load share the CPUs. $SHARED"
  echo "- rackbootd and rackboot-load: commit $RB_COMMIT, \`bazel build -c opt\`; rackbootd \`--threads=$NPROC --tftp_max_per_client=0\` (the load clients share one address), lease journal on disk (fdatasync before every ACK)."
  echo "- Peers: dnsmasq-base $(version_of dnsmasq-base), DHCP and TFTP in one process, as it is used for PXE; in the http scenario with nginx $(version_of nginx-light) (nginx-light) beside it for HTTP: sendfile on, tcp_nopush on, 2 workers, access log off, the boot tree under /boot/. dnsmasq and nginx run in one cgroup, so their CPU and RSS are summed."
  echo "- Load: $(fmt_rate "$CLIENTS") PXE clients (BIOS) started at once by rackboot-load in its own namespace ($([[ $RELAY -eq 1 ]] && echo "one thread" || echo "${RACKBOOT_BENCH_FLOW_LOAD_THREADS:-2} threads, \`--threads\`")), $([[ $RELAY -eq 1 ]] && echo "behind a relay (giaddr 198.18.0.2)" || echo "directly attached (broadcast DISCOVERs on the veth)"); each does DORA (2 s timeout, 3 retries), then"
  [[ ${MODES[*]} == *tftp* ]] && echo "  - tftp: reads /kernel (${KERNEL_MIB} MiB) and /initrd (${INITRD_MIB} MiB) over TFTP with blksize $BLKSIZE and windowsize $WINDOW (1 s timeout, 5 retries);"
  [[ ${MODES[*]} == *http* ]] && echo "  - http: reads /loader (${LOADER_MIB} MiB) over TFTP lock-step (blksize $HTTP_BLKSIZE, no windowsize option), then GET /boot/kernel (${KERNEL_MIB} MiB) and /boot/initrd (${INITRD_MIB} MiB) over one keep-alive HTTP/1.1 connection to 198.18.0.1:80;"
  echo "  every byte compared with the files served. Each run is capped at ${CAP} s."
  echo "- Time for all: from the first DISCOVER until the last client has every file (rackboot-load's wall time). MiB/s: TFTP and HTTP body bytes ÷ that time. Server CPU: $CPU_METHOD over the run (all the row's server processes)."
  echo
  echo "| scenario | server | clients done | time for all, s | MiB/s | DORA ms p50 / p99 / max | per-file ms p50 / max | server CPU-s | server CPU-s/GiB | peak RSS MiB (anon) | peer's time ÷ this | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for mode in "${MODES[@]}"; do
    for name in "${SERVERS[@]}"; do
      key="$mode|$name"
      local sc="tftp: kernel \\| initrd over TFTP"
      [[ $mode == http ]] && sc="http: loader (TFTP) \\| kernel \\| initrd (HTTP)"
      if [[ -n ${R_FAIL[$key]} ]]; then
        echo "| $sc | ${LABEL[$key]} | FAILED | – | – | – | – | – | – | – | – | ${R_FAIL[$key]//|/\\|} |"
        continue
      fi
      dt=${R_PROJ[$mode|dnsmasq]:-${R_WALL[$mode|dnsmasq]:-}}
      echo "| $sc | ${LABEL[$key]} | ${R_DONE[$key]} | ${R_WALL[$key]} | ${R_MIBS[$key]} | ${R_DORA[$key]} | ${R_PH[$key]//|/\\|} | ${R_CPU[$key]} | ${R_CPUG[$key]} | ${R_RSS[$key]} | $(ratio "$dt" "${R_WALL[$key]}") | ${R_NOTE[$key]//|/\\|} |"
    done
  done
  echo
  local capped
  for mode in "${MODES[@]}"; do
    read -r dt r < <(time_ratio "$mode")
    capped=""
    [[ -n ${R_PROJ[$mode|dnsmasq]:-} ]] && capped=" The peer stopped at the ${CAP} s cap; its time is projected from the bytes it had delivered by then, and at least ${CAP} s measured."
    if [[ $mode == tftp ]]; then
      echo "Target (issue 6): all $(fmt_rate "$CLIENTS") clients finish at least 5× sooner with rackbootd than with dnsmasq: ${R_WALL[tftp|rackbootd]:-–} s vs $dt s, ratio $r: $(met "$r" 5).$capped"
    else
      local rc
      rc=$(ratio "${R_CPU[http|dnsmasq]:-}" "${R_CPU[http|rackbootd]:-}")
      echo "Target (issue 12): rackbootd alone finishes the http flow sooner than dnsmasq + nginx: ${R_WALL[http|rackbootd]:-–} s vs $dt s, ratio $r: $(met "$r" 1.0001); and with less total server CPU: ${R_CPU[http|rackbootd]:-–} vs ${R_CPU[http|dnsmasq]:-–} CPU-s, ratio $rc (peer's ÷ rackbootd's): $(met "$rc" 1.0001).$capped"
    fi
    echo
  done
  if [[ -n $PERF_TOP ]]; then
    echo "Where rackbootd's CPU went in the http run (\`perf record -F 499 -g -p\`, self time by DSO and symbol, top 15):"
    echo
    echo '```'
    printf '%s\n' "$PERF_TOP" | sed -e 's/[[:space:]]*$//'
    echo '```'
    echo
  fi
  echo "Server command lines (\`DIR\` is the run's fresh directory, \`ROOT\` the boot tree) and load:"
  echo
  echo '```'
  for name in "${SERVERS[@]}"; do
    server_cmd "$name" DIR tftp | sed -e "s|$RB|rackbootd|" -e "s|$IF_S|IF|g" -e "s|$WORK/root|ROOT|g"
  done
  if [[ ${MODES[*]} == *http* ]]; then
    echo "# http scenario: rackbootd adds --http_listen; dnsmasq as above, beside nginx:"
    server_cmd rackbootd DIR http | sed -e "s|$RB|rackbootd|"
    echo "nginx -c DIR/nginx.conf   # nginx.conf: the settings above, listen 198.18.0.1:80, location /boot/ { alias ROOT/; }"
  fi
  [[ ${MODES[*]} == *tftp* ]] && echo "rackboot-load ${TFTP_ARGS[*]} --json=OUT" | sed -e "s|$WORK/root|ROOT|g" -e "s|$IF_C|IF|g"
  [[ ${MODES[*]} == *http* ]] && echo "rackboot-load ${HTTP_ARGS[*]} --json=OUT" | sed -e "s|$WORK/root|ROOT|g" -e "s|$IF_C|IF|g"
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
  bench_write_doc flow "$WORK/section.md" "Flow: a rack powering on, rackbootd beside dnsmasq (and nginx)"
fi
