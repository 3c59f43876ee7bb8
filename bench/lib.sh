# bench/lib.sh: helpers shared by the peer benchmarks (tftp_peers.sh, dhcp_peers.sh,
# tftp_load.sh, dhcp_load.sh, flow_peers.sh). Sourced, never run. The sourcing script sets
# BENCH_TAG (its log prefix) first, then calls bench_init.
#
# What it gives:
#   - clean-up on exit and on Ctrl-C (trap EXIT): the running server and its cgroup, processes
#     registered with bench_track_pid, the benchmark's cgroups, its network namespaces, and its
#     directories; a script may define bench_on_stop (called before a server is stopped: stop a
#     sampler, perf) and bench_on_cleanup (called once at exit);
#   - cgroups: one parent per run (cgroup v2), one child per server start, one for the clients,
#     so cpu.stat gives each server's CPU time, forked children included;
#   - namespaces: one with a loopback only, or a server and a client namespace joined by a veth
#     pair (198.18.0.0/15 addresses);
#   - building rackbootd (and rackboot-load) with `-c opt` into a private copy;
#   - CPU and memory accounting (server_cpu_usec, a peak-RSS sampler), what the rest of the
#     machine used during the run, and writing a report between markers of docs/benchmarks.md;
#   - rackboot-load's JSON flattened into the associative array LJ (load_json).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOC=$ROOT/docs/benchmarks.md
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

log() { printf '%s: %s\n' "${BENCH_TAG:-bench}" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# bench_require TOOL...: every tool on PATH (or an absolute path that exists), else exit.
bench_require() {
  [[ $(id -u) -eq 0 ]] || die "run as root (network namespaces, cgroups)"
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "missing $tool; run ./rackboot setup"
  done
}

# ---------------------------------------------------------------------------------------------
# Clean-up. Everything the script makes is recorded here and removed on exit.
BENCH_NETNS=()  # namespaces to delete
BENCH_DIRS=()   # directories to remove
BENCH_PIDS=()   # background processes to kill (and wait for)
CG_PARENT=""    # this run's cgroup (with children: one per server start, and clients)
SERVER_PID=""   # the running server (ip netns exec ... exec'd into it)
SERVER_CG=""    # its cgroup
SAMPLER_PID=""  # the peak-RSS sampler

bench_track_pid() { BENCH_PIDS+=("$1"); }
bench_track_dir() { BENCH_DIRS+=("$1"); }

stop_sampler() {
  if [[ -n $SAMPLER_PID ]]; then
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
  fi
}

# kill_cgroup CG: kills every process left in CG, waits up to 2.5 s for it to empty, removes it.
kill_cgroup() {
  local cg=$1 pid
  [[ -n $cg && -d $cg ]] || return 0
  for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    [[ -z $(cat "$cg/cgroup.procs" 2>/dev/null) ]] && break
    sleep 0.05
  done
  rmdir "$cg" 2>/dev/null || true
}

# Stops the running server (TERM, then KILL after 5 s; its children through its cgroup).
stop_server() {
  stop_sampler
  if declare -F bench_on_stop >/dev/null; then bench_on_stop; fi
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  kill_cgroup "$SERVER_CG"
  SERVER_CG=""
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  if declare -F bench_on_cleanup >/dev/null; then bench_on_cleanup || true; fi
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $CG_PARENT && -d $CG_PARENT ]]; then
    local cg
    for cg in "$CG_PARENT"/*/; do [[ -d $cg ]] && kill_cgroup "${cg%/}"; done
    rmdir "$CG_PARENT" 2>/dev/null || true
  fi
  local ns
  for ns in "${BENCH_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  local d
  for d in "${BENCH_DIRS[@]}"; do [[ -n $d && -d $d ]] && rm -rf "$d"; done
  exit "$rc"
}

# bench_init: the traps. Call once, before making anything.
bench_init() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  # 1,000 concurrent transfers: a socket each in the load tool and in some servers.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# bench_workdir PREFIX [BASE]: a fresh directory (removed on exit); prints its path.
bench_workdir() {
  local d
  d=$(mktemp -d "${2:-/tmp}/$1.XXXXXX")
  chmod 755 "$d"
  echo "$d"
}

# ---------------------------------------------------------------------------------------------
# Building. bench_build TARGET...: `bazel build -c opt` (output shown only on failure); prints
# the -c opt bazel-bin directory (bazel-bin may point at the fastbuild tree; Bazel 4.2's cquery
# has no --output=files).
bench_build() {
  local build_log=${TMPDIR:-/tmp}/${BENCH_TAG:-bench}_build.$$
  log "building $* (bazel build -c opt)"
  if ! (cd "$ROOT" && bazel build -c opt "$@") >"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    rm -f "$build_log"
    die "bazel build failed"
  fi
  rm -f "$build_log"
  (cd "$ROOT" && bazel info -c opt bazel-bin 2>/dev/null)
}

# bench_copy_binary BUILT DIR: a private copy (other builds in the same tree cannot swap the
# binary mid-run); prints its path.
bench_copy_binary() {
  [[ -x $1 ]] || die "no binary at $1"
  cp "$1" "$2/$(basename "$1")"
  echo "$2/$(basename "$1")"
}

# bench_commit PATH...: the short commit, marked when PATHs have uncommitted changes.
bench_commit() {
  local c
  c=$(cd "$ROOT" && git rev-parse --short HEAD)
  if [[ -n $(cd "$ROOT" && git status --porcelain -- "$@" 2>/dev/null) ]]; then
    c="$c + uncommitted changes under $*"
  fi
  echo "$c"
}

# ---------------------------------------------------------------------------------------------
# Network namespaces. Names carry the script's pid, so two runs never collide.

# bench_netns NAME: a namespace with its loopback up (deleted on exit).
bench_netns() {
  ip netns add "$1"
  BENCH_NETNS+=("$1")
  ip -n "$1" link set lo up
}

# bench_netns_pair NS_S NS_C IF_S IF_C ADDR_S/LEN ADDR_C/LEN: two namespaces joined by a veth
# pair (the pair dies with the namespaces).
bench_netns_pair() {
  local ns_s=$1 ns_c=$2 if_s=$3 if_c=$4
  bench_netns "$ns_s"
  bench_netns "$ns_c"
  ip link add "$if_s" type veth peer name "$if_c"
  ip link set "$if_s" netns "$ns_s"
  ip link set "$if_c" netns "$ns_c"
  ip -n "$ns_s" addr add "$5" dev "$if_s"
  ip -n "$ns_c" addr add "$6" dev "$if_c"
  ip -n "$ns_s" link set "$if_s" up
  ip -n "$ns_c" link set "$if_c" up
}

# ---------------------------------------------------------------------------------------------
# CPU accounting: a cgroup v2 hierarchy if one is writable (cpu.stat usage_usec counts every
# process of the server, forked children included); else /proc/PID/stat of the server.
# bench_cgroups NAME: sets CG_PARENT (NAME-PID, with a "clients" child) and CPU_METHOD.
# shellcheck disable=SC2034 # CPU_METHOD is for the sourcing script
bench_cgroups() {
  local d name=$1-$$
  for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    if [[ $(stat -fc %T "$d" 2>/dev/null) == cgroup2fs ]] && mkdir "$d/$name" 2>/dev/null; then
      if [[ -r $d/$name/cpu.stat ]]; then
        CG_PARENT=$d/$name
        break
      fi
      rmdir "$d/$name"
    fi
  done
  if [[ -n $CG_PARENT ]]; then
    mkdir "$CG_PARENT/clients"
    CPU_METHOD="cgroup v2 cpu.stat usage_usec ($CG_PARENT)"
  else
    CPU_METHOD="/proc/PID/stat utime+stime+cutime+cstime"
  fi
}

# cg_exec CG COMMAND...: runs COMMAND in cgroup CG (none when CG is empty). The process joins
# before it execs, so everything it forks is counted; join before `ip netns exec`, which
# remounts /sys and hides the cgroup mounts (it keeps the process id).
cg_exec() {
  bash -c '[[ -z $1 ]] || echo $$ >"$1/cgroup.procs"; shift; exec "$@"' _ "$@"
}
# cg_spawn CG COMMAND... &: the same for a background server, whose $! must be the server
# itself (TERM reaches it; /proc/$!/status is its own): the function's subshell execs. Only ever
# call it with `&`.
cg_spawn() {
  exec bash -c '[[ -z $1 ]] || echo $$ >"$1/cgroup.procs"; shift; exec "$@"' _ "$@"
}

# server_cgroup TAG: makes the cgroup for the next server start; sets SERVER_CG.
server_cgroup() {
  SERVER_CG=""
  if [[ -n $CG_PARENT ]]; then
    SERVER_CG=$CG_PARENT/$1
    mkdir "$SERVER_CG"
  fi
}

# server_spawn NAME TAG NS OUT ERR CMD...: starts CMD in namespace NS and a fresh cgroup (TAG),
# stdout to OUT and stderr to ERR, and waits until it serves: every UDP port in SERVER_PORTS
# (an array the caller sets) is bound in NS and, for rackbootd, OUT or ERR says
# "rackbootd: ready" (it binds a socket per shard, and probes for another DHCP server first).
# Gives up after SERVER_WAIT_SECONDS (default 20: the DHCP probe alone takes 5 s). Sets
# SERVER_PID, SERVER_CG; returns 1 with a log line naming the server when it exits or does not get ready.
server_spawn() {
  local name=$1 tag=$2 ns=$3 out=$4 err=$5 port ready
  shift 5
  server_cgroup "$tag"
  cg_spawn "$SERVER_CG" ip netns exec "$ns" "$@" >"$out" 2>"$err" &
  SERVER_PID=$!
  local ticks=$((${SERVER_WAIT_SECONDS:-20} * 20))
  for ((; ticks > 0; ticks--)); do
    kill -0 "$SERVER_PID" 2>/dev/null || {
      log "$name exited at start-up: $(tail -n 3 "$err")"
      SERVER_PID=""
      return 1
    }
    ready=1
    if [[ $name == rackbootd* ]]; then
      grep -q 'rackbootd: ready' "$out" "$err" 2>/dev/null || ready=0
    fi
    for port in "${SERVER_PORTS[@]}"; do
      [[ $ready -eq 1 ]] || break
      ip netns exec "$ns" ss -Hlun "sport = :$port" 2>/dev/null | grep -q . || ready=0
    done
    [[ $ready -eq 1 ]] && return 0
    sleep 0.05
  done
  log "$name did not start serving (ports ${SERVER_PORTS[*]}) within ${SERVER_WAIT_SECONDS:-20} s"
  return 1
}

server_pids() {
  if [[ -n $SERVER_CG ]]; then
    cat "$SERVER_CG/cgroup.procs" 2>/dev/null
  else
    echo "$SERVER_PID"
    pgrep -P "$SERVER_PID" 2>/dev/null || true
  fi
}

# CPU time of the server so far, in microseconds (children it waited for included).
server_cpu_usec() {
  if [[ -n $SERVER_CG ]]; then
    awk '$1 == "usage_usec" { print $2 }' "$SERVER_CG/cpu.stat"
  else
    # Fields after the ")" of the command: utime is the 12th, stime 13th, cutime 14th, cstime 15th.
    local s
    s=$(cat "/proc/$SERVER_PID/stat" 2>/dev/null) || {
      echo 0
      return
    }
    echo "${s##*) }" | awk -v hz="$CLK_TCK" '{ printf "%d\n", ($12 + $13 + $14 + $15) * 1000000 / hz }'
  fi
}
clients_cpu_usec() {
  if [[ -n $CG_PARENT ]]; then awk '$1 == "usage_usec" { print $2 }' "$CG_PARENT/clients/cpu.stat"; else echo 0; fi
}

# Waits (up to 3 s) until a forking server has only its listener left, so finished children
# have been reaped and counted.
server_settle() {
  for _ in $(seq 1 60); do
    [[ $(server_pids | wc -l) -le 1 ]] && return 0
    sleep 0.05
  done
}

# Memory: a sampler sums VmRSS and RssAnon over the server's processes every 0.1 s and writes
# "peak_kib anon_kib" to FILE when stopped; server_peak_rss adds the listener's own VmHWM.
start_sampler() {
  local out=$1
  (
    set +e # a process may exit between listing and reading
    peak=0 anon=0
    trap 'echo "$peak $anon" >"$out"; exit 0' TERM
    while :; do
      pids=$(server_pids | sed 's|.*|/proc/&/status|')
      if [[ -n $pids ]]; then
        r=0 a=0
        # shellcheck disable=SC2086
        read -r r a < <(cat $pids 2>/dev/null |
          awk '/^VmRSS:/ { r += $2 } /^RssAnon:/ { a += $2 } END { print r + 0, a + 0 }')
        ((r > peak)) && peak=$r
        ((a > anon)) && anon=$a
      fi
      sleep 0.1 &
      wait $!
    done
  ) &
  SAMPLER_PID=$!
}

# server_peak_rss FILE: stops the sampler; prints "peak_mib anon_mib" (the larger of the
# listener's VmHWM and the sampled sum).
server_peak_rss() {
  local hwm peak=0 anon=0
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
  stop_sampler
  [[ -s $1 ]] && read -r peak anon <"$1"
  ((${hwm:-0} > peak)) && peak=$hwm
  awk -v p="$peak" -v a="$anon" 'BEGIN { printf "%.1f %.1f\n", p / 1024, a / 1024 }'
}

# ---------------------------------------------------------------------------------------------
# What the rest of the machine did: the CPU the whole machine spent (the cgroup v2 root's
# cpu.stat; /proc/stat's jiffies otherwise) minus what this run's cgroup spent.
machine_busy_usec() {
  if [[ -n $CG_PARENT ]]; then
    awk '$1 == "usage_usec" { print $2 }' "$(dirname "$CG_PARENT")/cpu.stat"
  else
    awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%d\n", ($2 + $3 + $4 + $7 + $8 + $9) * 1000000 / hz }' /proc/stat
  fi
}
bench_usec() {
  if [[ -n $CG_PARENT ]]; then awk '$1 == "usage_usec" { print $2 }' "$CG_PARENT/cpu.stat"; else echo 0; fi
}

# bench_usage_begin / bench_usage_end WHO: sets T_START, then T_TOTAL and SHARED (a sentence
# for the report's machine line). WHO names what the run's own cgroup holds.
bench_usage_begin() {
  LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
  BUSY0=$(machine_busy_usec)
  OURS0=$(bench_usec)
  T_START=$(date +%s)
}
bench_usage_end() {
  local who=$1 busy1 ours1 others pct
  T_TOTAL=$(($(date +%s) - T_START))
  busy1=$(machine_busy_usec)
  ours1=$(bench_usec)
  if [[ -n $CG_PARENT ]]; then
    others=$(awk -v b="$((busy1 - BUSY0))" -v o="$((ours1 - OURS0))" -v t="$T_TOTAL" -v n="$NPROC" \
      'BEGIN { x = (b - o) / 1e6; if (x < 0) x = 0; printf "%.0f CPU-s of the %d available (%.0f%%)", x, t * n, (t > 0 ? 100 * x / (t * n) : 0) }')
    SHARED="CPU used during the run by anything but the benchmark's $who (the script itself, other work on the machine): $others; load average before the run $LOAD_BEFORE."
    pct=$(awk -v b="$((busy1 - BUSY0))" -v o="$((ours1 - OURS0))" -v t="$T_TOTAL" -v n="$NPROC" 'BEGIN { printf "%d", (t > 0 ? 100 * (b - o) / 1e6 / (t * n) : 0) }')
    if [[ $pct -gt 10 ]]; then
      SHARED+=" **Other work took a good part of the machine during this run: the figures are lower and noisier than on an idle machine; compare rows, and rerun on a quiet machine before quoting them.**"
      log "other work used ${pct}% of the machine during the run; numbers are noisy"
    fi
  else
    SHARED="Load average before the run: $LOAD_BEFORE."
  fi
}

# ---------------------------------------------------------------------------------------------
# Report helpers.
ratio() { # ratio A B: A / B with two decimals, or "–"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "–" || b == "–" || b + 0 == 0) print "–"; else printf "%.2f", a / b }'
}
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
fmt_rate() { sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta' <<<"$1"; } # 64000 -> 64,000
machine_desc() {                                                       # "2 CPUs (model), kernel K, 24 GiB"
  echo "$NPROC CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
}

# bench_write_doc NAME REPORT_FILE HEADING: replaces the section between <!-- NAME:begin -->
# and <!-- NAME:end --> of docs/benchmarks.md with REPORT_FILE; appends the heading and the
# markers first when they are missing. bench/bench_chart.py draws the section's table as
# docs/charts/NAME.svg and the section gets its image link after the table, so the chart is
# always the table's; if that fails, the table is written without a new chart and a warning.
bench_write_doc() {
  local name=$1 report=$2 heading=$3
  local begin="<!-- $name:begin -->" end="<!-- $name:end -->"
  [[ -f $DOC ]] || printf '# Benchmarks\n' >"$DOC"
  if ! grep -qF "$begin" "$DOC"; then
    printf '\n## %s\n\n%s\n%s\n' "$heading" "$begin" "$end" >>"$DOC"
  fi
  local tmp section
  tmp=$(mktemp)
  section=$(mktemp)
  cat "$report" >"$section"
  python3 "$ROOT/bench/bench_chart.py" --doc "$DOC" --name "$name" --report "$section" --title "$heading" ||
    log "WARNING: bench/bench_chart.py failed: the section $name is written without a new chart"
  awk -v b="$begin" -v e="$end" -v f="$section" '
    $0 == b { print; while ((getline line < f) > 0) print line; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' "$DOC" >"$tmp"
  cat "$tmp" >"$DOC"
  rm -f "$tmp" "$section"
  log "wrote the section $name of ${DOC#"$ROOT"/}"
}

# ---------------------------------------------------------------------------------------------
# Kea. bench_kea_configs DIR IF SUBNET POOL_FIRST POOL_LAST LEASE_SECS [BOOT_FILE]: DIR/kea-false.json
# (single-threaded) and DIR/kea-true.json (2 threads): memfile leases with persist on, UDP
# sockets on IF, host-reservation lookups off, logging at WARN; with BOOT_FILE, next-server
# 198.18.0.1 and that boot file (so PXE clients count as served).
bench_kea_configs() {
  local dir=$1 iface=$2 subnet=$3 first=$4 last=$5 lease=$6 boot=${7:-} mt extra pxe=""
  [[ -n $boot ]] && pxe="\"next-server\": \"198.18.0.1\", \"boot-file-name\": \"$boot\","
  for mt in false true; do
    extra=""
    [[ $mt == true ]] && extra=', "thread-pool-size": 2, "packet-queue-size": 64'
    cat >"$dir/kea-$mt.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$iface" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$dir/leases4.csv", "lfc-interval": 0 },
    "multi-threading": { "enable-multi-threading": $mt$extra },
    "reservations-global": false,
    "reservations-in-subnet": false,
    "reservations-out-of-pool": false,
    "valid-lifetime": $lease, $pxe
    "subnet4": [ { "id": 1, "subnet": "$subnet", "pools": [ { "pool": "$first - $last" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stderr" } ], "severity": "WARN" } ]
  }
}
EOF
  done
}

# ---------------------------------------------------------------------------------------------
# rackboot-load. bench_build_load DIR: builds it with -c opt and copies it into DIR; sets LOAD.
bench_build_load() {
  local bin
  bin=$(bench_build //tools/load:rackboot-load)/tools/load/rackboot-load
  LOAD=$(bench_copy_binary "$bin" "$1")
}

# load_json FILE: rackboot-load's JSON, flattened into the associative array LJ: "completed",
# "dhcp.acked", "tftp.bytes", "dhcp.dora_ms.p99", "errors.<kind>", and for every phase
# "phase:<name>.<field>" (e.g. "phase:tftp:/kernel.ms.p50"). Empty when the file is missing
# or not JSON.
declare -gA LJ=()
load_json() {
  local k v
  LJ=()
  [[ -s $1 ]] || return 0
  while IFS=$'\t' read -r k v; do LJ[$k]=$v; done < <(python3 -c '
import json, sys
def walk(prefix, o):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from walk(prefix + "." + k if prefix else k, v)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from walk(prefix + "." + str(i), v)
    else:
        yield prefix, o
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
for k, v in walk("", d):
    print("%s\t%s" % (k, "" if v is None else v))
for p in d.get("phases") or []:
    for k, v in walk("", p):
        print("phase:%s.%s\t%s" % (p.get("name"), k, v))
errs = d.get("errors") or {}
print("errors_text\t%s" % ", ".join("%s %s" % (k, v) for k, v in sorted(errs.items(), key=lambda kv: -kv[1])))
' "$1")
}
lj() { echo "${LJ[$1]:-}"; } # lj KEY: the value or empty

# run_load NS TIMEOUT_S JSON LOGFILE ARGS...: rackboot-load in the clients' cgroup and NS, under
# `timeout` (INT, then KILL 5 s later); returns its exit status (0 all completed, 1 some failed,
# 124 timed out).
run_load() {
  local ns=$1 tmo=$2 json=$3 out=$4
  shift 4
  rm -f "$json"
  cg_exec "${CG_PARENT:+$CG_PARENT/clients}" timeout -s INT -k 5 "$tmo" \
    ip netns exec "$ns" "$LOAD" --json="$json" "$@" >"$out" 2>&1
}

# ---------------------------------------------------------------------------------------------
# rackbootd as a PXE server for rackboot-load's clients. rackbootd answers a PXE client with a
# boot file only when the client is in the inventory and armed (product rule: unknown machines
# are never booted), so the inventory lists the load tool's MACs: --mac_base 02:52:42 (its
# default) followed by the client index, big-endian, for indices 0..N.
#
# bench_inventory FILE N: the inventory, every host armed for install with profile "bench" (which
# bench_rackboot_site defines when rackbootd serves TFTP: an armed host needs its [[profile]]).
bench_inventory() {
  awk -v n="$2" 'BEGIN {
    print "mac,hostname,profile,state"
    for (i = 0; i <= n; i++)
      printf "02:52:42:%02x:%02x:%02x,load%d,bench,install\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, i
  }' >"$1"
}

# bench_rackboot_site DIR IF INVENTORY BOOT_FILE [TFTP_ROOT]: DIR/site.toml for rackbootd on IF
# at 198.18.0.1, authoritative DHCP for 198.18.0.0/15 (a pool of 130,815 addresses, so no run
# exhausts it), the boot file for BIOS clients (rackboot-load's default architecture 0) and,
# with TFTP_ROOT, TFTP on 198.18.0.1:69.
bench_rackboot_site() {
  local dir=$1 if=$2 inventory=$3 boot=$4 troot=${5:-}
  mkdir -p "$dir"
  {
    cat <<EOT
[server]
interface = "$if"
address = "198.18.0.1"
state_dir = "$dir/state"
inventory = "$inventory"

[dhcp]
mode = "authoritative"
lease_seconds = 3600

[[dhcp.subnet]]
cidr = "198.18.0.0/15"
pool = "198.18.1.0-198.19.255.254"

[boot]
bios = "$boot"
EOT
    if [[ -n $troot ]]; then
      printf '\n[tftp]\nroot = "%s"\nlisten = "198.18.0.1:69"\nmax_blksize = 1468\nmax_windowsize = 64\n' "$troot"
      printf '\n[[profile]]\nname = "bench"\nkernel = "%s"\n' "$boot"
    fi
  } >"$dir/site.toml"
}
