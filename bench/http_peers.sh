#!/usr/bin/env bash
# bench/http_peers.sh: rackbootd's HTTP beside nginx 1.22 (sendfile on, 2 workers, access log
# off), in one run, with the same clients fetching the same files from each. Run as root; usually
# through `./rackboot bench http`. See bench/README.md.
#
# Scenarios (each server starts fresh for each, in a cgroup of its own):
#   a. CLIENTS (32) curl downloads of a 64 MiB file at once over loopback (a namespace's own),
#      median of REPS: wall time, MiB/s, server CPU-s per GiB.
#   b. CROWD (1,000) concurrent downloads of a 40 MiB file over a veth pair between two
#      namespaces: `rackboot-load --flow=http:/boot/FILE` when the load tool speaks HTTP, else
#      wrk with CROWD connections for a fixed time (the report says which): aggregate MiB/s and
#      server CPU-s per GiB.
#   c. IDLE (1,000) keep-alive connections, each answered one HEAD, then held: the server's
#      memory with them minus before them, per connection (VmRSS and RssAnon summed over the
#      server's processes; the kernel's socket buffers are in neither).
# Namespaces, cgroups, servers and files are removed on exit.
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_HTTP_CLIENTS (32)     concurrent curl downloads in scenario a
#   RACKBOOT_BENCH_HTTP_FILE_MIB (64)    the file of scenario a
#   RACKBOOT_BENCH_REPS (3)              repetitions of scenario a (median shown)
#   RACKBOOT_BENCH_HTTP_CROWD (1000)     concurrent downloads in scenario b
#   RACKBOOT_BENCH_HTTP_CROWD_MIB (40)   the file of scenario b
#   RACKBOOT_BENCH_HTTP_SECONDS (15)     wrk's duration in scenario b (when wrk is the client)
#   RACKBOOT_BENCH_HTTP_IDLE (1000)      idle connections in scenario c
#   RACKBOOT_BENCH_HTTP_CLIENT (auto)    scenario b's client: auto | load | wrk
#   RACKBOOT_BENCH_HTTP_SERVERS ("rackbootd rackbootd-epoll nginx")
set -euo pipefail

BENCH_TAG=http_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=${RACKBOOT_BENCH_HTTP_CLIENTS:-32}
FILE_MIB=${RACKBOOT_BENCH_HTTP_FILE_MIB:-64}
REPS=${RACKBOOT_BENCH_REPS:-3}
CROWD=${RACKBOOT_BENCH_HTTP_CROWD:-1000}
CROWD_MIB=${RACKBOOT_BENCH_HTTP_CROWD_MIB:-40}
SECONDS_B=${RACKBOOT_BENCH_HTTP_SECONDS:-15}
IDLE=${RACKBOOT_BENCH_HTTP_IDLE:-1000}
CLIENT_B=${RACKBOOT_BENCH_HTTP_CLIENT:-auto}
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0
RAW=$ROOT/tests/http/http_raw.py

bench_require ip curl nginx wrk python3 timeout bazel ss
[[ -f $RAW ]] || die "missing $RAW"

NS=rbhp-$$
NS_S=rbhp-s-$$
NS_C=rbhp-c-$$
bench_init

BIN=$(bench_build //engine:rackbootd //tools/load:rackboot-load)
WORK=$(bench_workdir rackboot-http-bench)
bench_track_dir "$WORK"
mkdir -p "$WORK/bin" "$WORK/nginx-tmp"
RB=$(bench_copy_binary "$BIN/engine/rackbootd" "$WORK/bin")
LOAD=$(bench_copy_binary "$BIN/tools/load/rackboot-load" "$WORK/bin")
RB_COMMIT=$(bench_commit engine proto tools/load third_party WORKSPACE)
if [[ $CLIENT_B == auto ]]; then
  CLIENT_B=wrk
  "$LOAD" --help 2>&1 | grep -q 'http:' && CLIENT_B=load
fi

# The served tree: world-readable (nginx's workers run as nobody), random bytes, in the page cache.
FILE=f${FILE_MIB}m.bin
BIG=f${CROWD_MIB}m.bin
mkdir -m 755 "$WORK/root"
head -c "$((FILE_MIB << 20))" /dev/urandom >"$WORK/root/$FILE"
head -c "$((CROWD_MIB << 20))" /dev/urandom >"$WORK/root/$BIG"
printf x >"$WORK/root/one"
chmod 644 "$WORK/root"/*
cat "$WORK/root"/* >/dev/null

bench_netns "$NS"
bench_netns_pair "$NS_S" "$NS_C" "rbhps$$" "rbhpc$$" 198.18.0.1/24 198.18.0.2/24
bench_cgroups rackboot-http-bench

# nginx as the issue fixes it: sendfile on, 2 workers, access log off; its own config, pid file
# and temp paths in WORK; not a daemon, so the benchmark owns its process.
nginx_conf() { # nginx_conf ADDR:PORT FILE
  cat >"$2" <<EOF
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
    listen $1;
    location /boot/ { alias $WORK/root/; }
  }
}
EOF
}
nginx_conf 127.0.0.1:8082 "$WORK/nginx-lo.conf"
nginx_conf 198.18.0.1:8082 "$WORK/nginx-veth.conf"

declare -A LABEL=([rackbootd]="rackbootd" [rackbootd-epoll]="rackbootd --io=epoll" [nginx]="nginx")
# server_cmd NAME ADDR
server_cmd() {
  case $1 in
    rackbootd) echo "$RB --tftp_root=$WORK/root --tftp_listen=$2:6901 --http_listen=$2:8081 --dhcp_mode=off --threads=$NPROC --minloglevel=1" ;;
    rackbootd-epoll) echo "$RB --tftp_root=$WORK/root --tftp_listen=$2:6901 --http_listen=$2:8081 --dhcp_mode=off --threads=$NPROC --minloglevel=1 --io=epoll" ;;
    nginx)
      local conf=$WORK/nginx-lo.conf
      [[ $2 == 127.0.0.1 ]] || conf=$WORK/nginx-veth.conf
      echo "nginx -c $conf -e $WORK/nginx-error.log"
      ;;
  esac
}
port_of() { [[ $1 == nginx ]] && echo 8082 || echo 8081; }

# start_server NAME TAG NS ADDR: waits until its TCP port listens. Sets SERVER_PID, SERVER_CG.
start_server() {
  local name=$1 tag=$2 ns=$3 addr=$4 cmd port
  cmd=$(server_cmd "$name" "$addr")
  port=$(port_of "$name")
  SERVER_LOG=$WORK/$tag.log
  SERVER_PORTS=()
  # shellcheck disable=SC2086
  SERVER_WAIT_SECONDS=10 server_spawn "$name" "$tag" "$ns" "$SERVER_LOG" "$SERVER_LOG" $cmd || return 1
  for _ in $(seq 1 200); do
    ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
    sleep 0.05
  done
  log "$name: port $port not listening"
  return 1
}

# Sums a /proc/PID/status field (kB) over the server's processes.
server_status_kib() {
  local p s=0 v
  for p in $(server_pids); do
    v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

declare -A R_WALL R_MIBS R_CPUG R_RSS R_NOTE R_FAIL R_IDLE_RSS R_IDLE_ANON R_IDLE_BASE

# ---------------------------------------------------------------------------------------------
# a. CLIENTS curl downloads at once over loopback. Prints "elapsed_ns failures".
CURL_BATCH='
n=$1 url=$2 bytes=$3 dir=$4
pids=()
start=$(date +%s%N)
for i in $(seq 1 "$n"); do
  curl -s -S -o /dev/null -w "%{size_download}\n" "$url" >"$dir/size.$i" 2>&1 &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
end=$(date +%s%N)
for i in $(seq 1 "$n"); do [[ $(cat "$dir/size.$i") == "$bytes" ]] || fail=$((fail + 1)); done
echo $((end - start)) $fail
'
scenario_a() {
  local name=$1 key="a|$1" url times=() r res ns fails cpu0 cpu1 peak anon
  url="http://127.0.0.1:$(port_of "$name")/boot/$FILE"
  R_FAIL[$key]=""
  if ! start_server "$name" "$name-a" "$NS" 127.0.0.1; then
    R_FAIL[$key]="server did not start"
    stop_server
    return 0
  fi
  # One download compared byte for byte first.
  if ! ip netns exec "$NS" curl -s -S -o "$WORK/check" "$url" || ! cmp -s "$WORK/check" "$WORK/root/$FILE"; then
    R_FAIL[$key]="a download differs from the file"
    stop_server
    return 0
  fi
  rm -f "$WORK/check"
  start_sampler "$WORK/$name-a.mem"
  cpu0=$(server_cpu_usec)
  for r in $(seq 1 "$REPS"); do
    res=$(cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS" timeout 300 bash -c "$CURL_BATCH" _ \
      "$CLIENTS" "$url" "$((FILE_MIB << 20))" "$WORK")
    read -r ns fails <<<"$res"
    if [[ $fails -ne 0 ]]; then
      R_FAIL[$key]="$fails of $CLIENTS downloads failed or incomplete"
      break
    fi
    times+=("$ns")
  done
  cpu1=$(server_cpu_usec)
  read -r peak anon < <(server_peak_rss "$WORK/$name-a.mem")
  stop_server
  [[ -n ${R_FAIL[$key]} ]] && return 0
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  R_NOTE[$key]=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "runs %.2f-%.2f s", v[1] / 1e9, v[NR] / 1e9 }')
  R_WALL[$key]=$(awk -v t="$median" 'BEGIN { printf "%.3f", t / 1e9 }')
  R_MIBS[$key]=$(awk -v t="$median" -v b="$((CLIENTS * FILE_MIB))" 'BEGIN { printf "%.0f", b / (t / 1e9) }')
  R_CPUG[$key]=$(awk -v c="$((cpu1 - cpu0))" -v g="$((CLIENTS * FILE_MIB * REPS))" 'BEGIN { printf "%.2f", (c / 1e6) / (g / 1024) }')
  R_RSS[$key]="$peak ($anon)"
}

# ---------------------------------------------------------------------------------------------
# b. CROWD concurrent downloads over veth.
scenario_b() {
  local name=$1 key="b|$1" port cpu0 cpu1 t0 t1 bytes peak anon out=$WORK/$name-b.out
  port=$(port_of "$name")
  R_FAIL[$key]=""
  if ! start_server "$name" "$name-b" "$NS_S" 198.18.0.1; then
    R_FAIL[$key]="server did not start"
    stop_server
    return 0
  fi
  start_sampler "$WORK/$name-b.mem"
  cpu0=$(server_cpu_usec)
  t0=$(date +%s%N)
  if [[ $CLIENT_B == load ]]; then
    cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS_C" timeout 600 "$LOAD" \
      --http_server="198.18.0.1:$port" --clients="$CROWD" --flow="http:/boot/$BIG" \
      --verify="$WORK/root/$BIG" --duration=300 --progress=never --json="$out.json" \
      >"$out" 2>&1 || R_FAIL[$key]="rackboot-load: $(tail -n 1 "$out")"
    t1=$(date +%s%N)
    load_json "$out.json"
    bytes=${LJ[http.bytes]:-0}
    R_NOTE[$key]="rackboot-load, $CROWD clients × $CROWD_MIB MiB, every byte verified"
    if [[ ${LJ[completed]:-0} != "$CROWD" ]]; then
      # Failed clients by kind (http-stalled, http-first-byte-timeout, ...): a row with a few
      # failures keeps its figures (bytes are what arrived, verified) and says so.
      local k errs=""
      for k in "${!LJ[@]}"; do [[ $k == errors.* ]] && errs+="${errs:+, }${k#errors.} ${LJ[$k]}"; done
      if [[ ${LJ[completed]:-0} == 0 ]]; then
        R_FAIL[$key]="no client completed${errs:+ ($errs)}; rackboot-load exit: $(tail -n 1 "$out")"
      else
        R_FAIL[$key]=""
        R_NOTE[$key]+="; only ${LJ[completed]} of $CROWD completed${errs:+ ($errs)}"
      fi
    fi
  else
    cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS_C" timeout $((SECONDS_B + 60)) \
      wrk -t 2 -c "$CROWD" -d "${SECONDS_B}s" --timeout 60s "http://198.18.0.1:$port/boot/$BIG" \
      >"$out" 2>&1 || R_FAIL[$key]="wrk: $(tail -n 1 "$out")"
    t1=$(date +%s%N)
    # wrk's "Transfer/sec" is bytes read per second over its duration, partial bodies included.
    bytes=$(awk '/^Transfer\/sec:/ {
        v = $2; u = substr(v, length(v) - 1); n = v + 0
        m = (u == "GB") ? 1073741824 : (u == "MB") ? 1048576 : (u == "KB") ? 1024 : 1
        printf "%.0f", n * m }' "$out")
    bytes=$(awk -v r="${bytes:-0}" -v s="$SECONDS_B" 'BEGIN { printf "%.0f", r * s }')
    local done errs
    done=$(awk '/requests in/ { print $1 }' "$out")
    errs=$(grep -o 'Socket errors:.*' "$out" || true)
    grep -q 'Non-2xx' "$out" && R_FAIL[$key]="wrk: $(grep Non-2xx "$out")"
    R_NOTE[$key]="wrk -c $CROWD for $SECONDS_B s, ${done:-0} whole downloads${errs:+; $errs}"
  fi
  cpu1=$(server_cpu_usec)
  read -r peak anon < <(server_peak_rss "$WORK/$name-b.mem")
  stop_server
  [[ -n ${R_FAIL[$key]} ]] && return 0
  local secs
  if [[ $CLIENT_B == load ]]; then secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }'); else secs=$SECONDS_B; fi
  R_WALL[$key]=$(awk -v s="$secs" 'BEGIN { printf "%.3f", s }')
  R_MIBS[$key]=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / 1048576 / s }')
  R_CPUG[$key]=$(awk -v c="$((cpu1 - cpu0))" -v b="$bytes" 'BEGIN { if (b > 0) printf "%.2f", (c / 1e6) / (b / 1073741824); else print "–" }')
  R_RSS[$key]="$peak ($anon)"
}

# ---------------------------------------------------------------------------------------------
# c. IDLE keep-alive connections held: memory per connection.
scenario_c() {
  local name=$1 key="c|$1" port base_r base_a held_r held_a idle_pid
  port=$(port_of "$name")
  R_FAIL[$key]=""
  if ! start_server "$name" "$name-c" "$NS_S" 198.18.0.1; then
    R_FAIL[$key]="server did not start"
    stop_server
    return 0
  fi
  # Warm: one small and one big download, so the baseline has the file mapped and the shards up.
  ip netns exec "$NS_C" curl -s -o /dev/null "http://198.18.0.1:$port/boot/one" || true
  ip netns exec "$NS_C" curl -s -o /dev/null "http://198.18.0.1:$port/boot/$BIG" || true
  sleep 0.5
  base_r=$(server_status_kib VmRSS)
  base_a=$(server_status_kib RssAnon)
  rm -f "$WORK/idle.ready" "$WORK/idle.stop"
  cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS_C" python3 "$RAW" idle 198.18.0.1 "$port" \
    "$IDLE" "$WORK/idle.ready" "$WORK/idle.stop" >"$WORK/$name-idle.out" 2>&1 &
  idle_pid=$!
  bench_track_pid "$idle_pid"
  for _ in $(seq 1 600); do
    [[ -e $WORK/idle.ready ]] && break
    kill -0 "$idle_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ ! -e $WORK/idle.ready ]]; then
    R_FAIL[$key]="idle connections not held: $(tail -n 1 "$WORK/$name-idle.out")"
  else
    sleep 0.5
    held_r=$(server_status_kib VmRSS)
    held_a=$(server_status_kib RssAnon)
    R_IDLE_BASE[$key]=$(awk -v r="$base_r" -v a="$base_a" 'BEGIN { printf "%.1f (%.1f)", r / 1024, a / 1024 }')
    R_IDLE_RSS[$key]=$(awk -v d="$((held_r - base_r))" -v n="$IDLE" 'BEGIN { printf "%.0f", d * 1024 / n }')
    R_IDLE_ANON[$key]=$(awk -v d="$((held_a - base_a))" -v n="$IDLE" 'BEGIN { printf "%.0f", d * 1024 / n }')
  fi
  touch "$WORK/idle.stop"
  wait "$idle_pid" 2>/dev/null || [[ -n ${R_FAIL[$key]} ]] || R_FAIL[$key]="$(tail -n 1 "$WORK/$name-idle.out")"
  stop_server
}

read -r -a SERVERS <<<"${RACKBOOT_BENCH_HTTP_SERVERS:-rackbootd rackbootd-epoll nginx}"
bench_usage_begin
for name in "${SERVERS[@]}"; do
  log "a. $CLIENTS × $FILE_MIB MiB over loopback: ${LABEL[$name]}"
  scenario_a "$name"
  key="a|$name"
  [[ -n ${R_FAIL[$key]} ]] && log "  FAILED: ${R_FAIL[$key]}" ||
    log "  ${R_WALL[$key]} s, ${R_MIBS[$key]} MiB/s, ${R_CPUG[$key]} CPU-s/GiB, RSS ${R_RSS[$key]} MiB"
done
for name in "${SERVERS[@]}"; do
  log "b. $CROWD × $CROWD_MIB MiB over veth ($CLIENT_B): ${LABEL[$name]}"
  scenario_b "$name"
  key="b|$name"
  [[ -n ${R_FAIL[$key]} ]] && log "  FAILED: ${R_FAIL[$key]}" ||
    log "  ${R_MIBS[$key]} MiB/s, ${R_CPUG[$key]} CPU-s/GiB, RSS ${R_RSS[$key]} MiB; ${R_NOTE[$key]}"
done
for name in "${SERVERS[@]}"; do
  log "c. $IDLE idle keep-alive connections: ${LABEL[$name]}"
  scenario_c "$name"
  key="c|$name"
  [[ -n ${R_FAIL[$key]} ]] && log "  FAILED: ${R_FAIL[$key]}" ||
    log "  ${R_IDLE_RSS[$key]} bytes VmRSS (${R_IDLE_ANON[$key]} RssAnon) per idle connection"
done
bench_usage_end "servers and clients"

# ---------------------------------------------------------------------------------------------
make_report() {
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench http\` (bench/http_peers.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and clients share the CPUs. $SHARED"
  echo "- rackbootd: commit $RB_COMMIT, \`bazel build -c opt\`, \`--threads=$NPROC\`. nginx $(version_of nginx-light) (nginx-light): sendfile on, tcp_nopush on, 2 workers, access log off."
  echo "- Clients: curl $(version_of curl); scenario b: $([[ $CLIENT_B == load ]] && echo "rackboot-load (this commit)" || echo "wrk $(version_of wrk) (rackboot-load did not speak HTTP yet)")."
  echo "- Server CPU: $CPU_METHOD, over the scenario (nginx's master and workers together). Peak RSS: sampled sum over the server's processes, anonymous part in brackets; rackbootd maps the files it serves, so its RSS can count pages of the page cache."
  echo "- Ratios: rackbootd's MiB/s ÷ this row's (above 1: rackbootd faster) and rackbootd's CPU-s/GiB ÷ this row's (below 1: rackbootd cheaper)."
  echo
  echo "| scenario | server | wall s | MiB/s | server CPU-s/GiB | peak RSS MiB (anon) | rackbootd ÷ this, MiB/s | rackbootd ÷ this, CPU/GiB | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
  local sc name key base rt rc
  for sc in a b; do
    base="$sc|rackbootd"
    for name in "${SERVERS[@]}"; do
      key="$sc|$name"
      local title
      [[ $sc == a ]] && title="a. $CLIENTS × $FILE_MIB MiB, curl, loopback (median of $REPS)" ||
        title="b. $CROWD × $CROWD_MIB MiB at once, veth"
      if [[ -n ${R_FAIL[$key]} ]]; then
        echo "| $title | ${LABEL[$name]} | FAILED | FAILED | – | – | – | – | ${R_FAIL[$key]//|/\\|} |"
        continue
      fi
      rt="–" rc="–"
      if [[ $name != rackbootd && -z ${R_FAIL[$base]:-} ]]; then
        rt=$(ratio "${R_MIBS[$base]}" "${R_MIBS[$key]}")
        rc=$(ratio "${R_CPUG[$base]}" "${R_CPUG[$key]}")
      fi
      echo "| $title | ${LABEL[$name]} | ${R_WALL[$key]} | ${R_MIBS[$key]} | ${R_CPUG[$key]} | ${R_RSS[$key]} | $rt | $rc | ${R_NOTE[$key]} |"
    done
  done
  echo
  echo "Memory per idle keep-alive connection (c: $IDLE connections over veth, each answered one HEAD, then held; the server's memory with them minus before them, ÷ $IDLE; kernel socket buffers are in neither figure):"
  echo
  echo "| server | before, VmRSS MiB (RssAnon) | per idle connection, bytes of VmRSS | per idle connection, bytes of RssAnon |"
  echo "|---|---:|---:|---:|"
  for name in "${SERVERS[@]}"; do
    key="c|$name"
    if [[ -n ${R_FAIL[$key]} ]]; then
      echo "| ${LABEL[$name]} | FAILED | ${R_FAIL[$key]//|/\\|} | – |"
    else
      echo "| ${LABEL[$name]} | ${R_IDLE_BASE[$key]} | ${R_IDLE_RSS[$key]} | ${R_IDLE_ANON[$key]} |"
    fi
  done
  echo
  echo "Server command lines (\`DIR\` is the served directory; ADDR 127.0.0.1 in a, 198.18.0.1 in b and c):"
  echo
  echo '```'
  for name in "${SERVERS[@]}"; do
    server_cmd "$name" ADDR | sed -e "s|$WORK/root|DIR|g" -e "s|$RB|rackbootd|" -e "s|$WORK/||g"
  done
  echo '```'
}

REPORT=$(make_report)
printf '%s\n' "$REPORT"
if [[ $WRITE_DOC -eq 1 ]]; then
  printf '%s\n' "$REPORT" >"$WORK/section.md"
  bench_write_doc http-peers "$WORK/section.md" "HTTP: rackbootd beside nginx"
fi
