#!/usr/bin/env bash
# bench/tftp_peers.sh: rackbootd beside atftpd, tftp-hpa (in.tftpd) and dnsmasq, in one run, with
# the same clients (atftp, curl) fetching the same file from each. Run as root; usually through
# `./rackboot bench tftp`. See bench/README.md for what it measures and how.
#
# Everything runs inside a network namespace the script creates (loopback only; dnsmasq's TFTP
# port is fixed at 69, so the namespace keeps it off the host's port 69, and every server gets
# the same loopback). Each server runs in a cgroup of its own so its CPU time, children included,
# can be read from cpu.stat. The namespace, cgroups, servers and files are removed on exit.
#
# Options:
#   --no-doc   print the table only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_FILE_MIB (64)  size of the file served
#   RACKBOOT_BENCH_CLIENTS (16)   concurrent downloads in scenarios b and c2
#   RACKBOOT_BENCH_REPS_SINGLE (5) sequential single downloads in scenarios a and c1 (median shown)
#   RACKBOOT_BENCH_REPS (3)       repetitions of scenario b (median shown)
#   RACKBOOT_PEERS_DIR (~/.cache/rackboot/peers)  where the atftpd package is unpacked
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOC=$ROOT/docs/benchmarks.md
FILE_MIB=${RACKBOOT_BENCH_FILE_MIB:-64}
CLIENTS=${RACKBOOT_BENCH_CLIENTS:-16}
REPS_SINGLE=${RACKBOOT_BENCH_REPS_SINGLE:-5}
REPS=${RACKBOOT_BENCH_REPS:-3}
PEERS_DIR=${RACKBOOT_PEERS_DIR:-$HOME/.cache/rackboot/peers}
BLKSIZE=1468
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

log() { printf 'tftp_peers: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (network namespace, cgroups)"
for tool in ip atftp curl /usr/sbin/in.tftpd dnsmasq timeout apt-get dpkg-deb bazel; do
  command -v "$tool" >/dev/null || die "missing $tool; run ./rackboot setup"
done

# ---------------------------------------------------------------------------------------------
# Clean-up: everything the script makes is recorded here and removed on exit.
NS=rackboot-bench-$$
WORK=""
OUT=""
CG_PARENT=""
SERVER_PID=""
SERVER_CG=""
SAMPLER_PID=""

stop_sampler() {
  if [[ -n $SAMPLER_PID ]]; then
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
  fi
}

# Stops the running server (and, through its cgroup, any children it forked).
stop_server() {
  stop_sampler
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [[ -n $SERVER_CG && -d $SERVER_CG ]]; then
    local pid
    for pid in $(cat "$SERVER_CG/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    local i
    for i in $(seq 1 50); do
      [[ -z $(cat "$SERVER_CG/cgroup.procs" 2>/dev/null) ]] && break
      sleep 0.05
    done
    rmdir "$SERVER_CG" 2>/dev/null || true
  fi
  SERVER_CG=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  [[ -n $CG_PARENT && -d $CG_PARENT/clients ]] && rmdir "$CG_PARENT/clients" 2>/dev/null
  [[ -n $CG_PARENT && -d $CG_PARENT ]] && rmdir "$CG_PARENT" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  [[ -n $WORK ]] && rm -rf "$WORK"
  [[ -n $OUT ]] && rm -rf "$OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Build rackbootd (optimised) and fetch atftpd.
log "building rackbootd (bazel build -c opt)"
(cd "$ROOT" && bazel build -c opt //engine:rackbootd) >&2 2>"${TMPDIR:-/tmp}/tftp_peers_build.$$" ||
  {
    tail -n 30 "${TMPDIR:-/tmp}/tftp_peers_build.$$" >&2
    rm -f "${TMPDIR:-/tmp}/tftp_peers_build.$$"
    die "bazel build failed"
  }
rm -f "${TMPDIR:-/tmp}/tftp_peers_build.$$"
# (bazel-bin may point at the fastbuild tree; Bazel 4.2's cquery has no --output=files.)
RB_BUILT=$(cd "$ROOT" && bazel info -c opt bazel-bin 2>/dev/null)/engine/rackbootd
[[ -x $RB_BUILT ]] || die "no rackbootd binary at $RB_BUILT"

WORK=$(mktemp -d /tmp/rackboot-bench.XXXXXX)
OUT=$(mktemp -d /dev/shm/rackboot-bench.XXXXXX) # downloads land on tmpfs
chmod 755 "$WORK"
# A private copy: other builds in the same tree cannot swap the binary mid-run.
cp "$RB_BUILT" "$WORK/rackbootd"
RB=$WORK/rackbootd
RB_COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD)
if [[ -n $(cd "$ROOT" && git status --porcelain -- engine proto third_party WORKSPACE 2>/dev/null) ]]; then
  RB_COMMIT="$RB_COMMIT + uncommitted changes under engine/ proto/"
fi

ATFTPD=$PEERS_DIR/atftpd/usr/sbin/atftpd
if [[ ! -x $ATFTPD ]]; then
  log "fetching atftpd into $PEERS_DIR (it conflicts with tftpd-hpa as a package, so it is unpacked, not installed)"
  mkdir -p "$PEERS_DIR"
  (cd "$PEERS_DIR" && apt-get download atftpd >&2) || die "apt-get download atftpd failed"
  deb=$(ls -t "$PEERS_DIR"/atftpd_*.deb | head -n 1)
  rm -rf "$PEERS_DIR/atftpd"
  dpkg -x "$deb" "$PEERS_DIR/atftpd"
fi
[[ -x $ATFTPD ]] || die "no atftpd at $ATFTPD"
ATFTPD_DEB=$(ls -t "$PEERS_DIR"/atftpd_*.deb | head -n 1)

# ---------------------------------------------------------------------------------------------
# The served directory: world-readable, since atftpd, in.tftpd and dnsmasq drop to nobody.
FILE=f${FILE_MIB}m.bin
FILE_BYTES=$((FILE_MIB << 20))
mkdir -m 755 "$WORK/root"
head -c "$FILE_BYTES" /dev/urandom >"$WORK/root/$FILE"
chmod 644 "$WORK/root/$FILE"
cat "$WORK/root/$FILE" >/dev/null # in the page cache for everyone alike

# The namespace: loopback for all traffic. in.tftpd resolves its --address with AI_ADDRCONFIG,
# which fails when only loopback has addresses, so a veth pair inside the namespace carries one
# address from the benchmarking range (nothing is sent to it).
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add rbb0 type veth peer name rbb1
ip -n "$NS" addr add 198.18.0.1/24 dev rbb0
ip -n "$NS" link set rbb0 up
ip -n "$NS" link set rbb1 up

# CPU accounting: a cgroup v2 hierarchy if one is writable (cpu.stat usage_usec counts every
# process of the server, forked children included); else /proc/PID/stat of the server.
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if [[ $(stat -fc %T "$d" 2>/dev/null) == cgroup2fs ]] && mkdir "$d/rackboot-bench-$$" 2>/dev/null; then
    if [[ -r $d/rackboot-bench-$$/cpu.stat ]]; then
      CG_PARENT=$d/rackboot-bench-$$
      break
    fi
    rmdir "$d/rackboot-bench-$$"
  fi
done
if [[ -n $CG_PARENT ]]; then
  mkdir "$CG_PARENT/clients"
  CPU_METHOD="cgroup v2 cpu.stat usage_usec ($CG_PARENT)"
else
  CPU_METHOD="/proc/PID/stat utime+stime+cutime+cstime"
fi
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# Servers. Each starts fresh for every scenario, on its own port of 127.0.0.1 in the namespace.
NPROC=$(nproc)
declare -A PORT=([rackbootd]=6901 [rackbootd-nogso]=6901 [rackbootd-epoll]=6901
  [atftpd]=6902 [tftp-hpa]=6903 [dnsmasq]=69)
declare -A LABEL=([rackbootd]="rackbootd" [rackbootd-nogso]="rackbootd --tftp_gso=false"
  [rackbootd-epoll]="rackbootd --io=epoll" [atftpd]="atftpd" [tftp-hpa]="tftp-hpa"
  [dnsmasq]="dnsmasq")

server_cmd() {
  local dir=$WORK/root
  case $1 in
    rackbootd) echo "$RB --tftp_root=$dir --tftp_listen=127.0.0.1:6901 --threads=$NPROC" ;;
    rackbootd-nogso) echo "$RB --tftp_root=$dir --tftp_listen=127.0.0.1:6901 --threads=$NPROC --tftp_gso=false" ;;
    rackbootd-epoll) echo "$RB --tftp_root=$dir --tftp_listen=127.0.0.1:6901 --threads=$NPROC --io=epoll" ;;
    atftpd) echo "$ATFTPD --daemon --no-fork --port 6902 --bind-address 127.0.0.1 --maxthread 100 --logfile /dev/null --verbose=0 $dir" ;;
    tftp-hpa) echo "/usr/sbin/in.tftpd --foreground --address 127.0.0.1:6903 --secure --user nobody $dir" ;;
    dnsmasq) echo "dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --pid-file= --interface=lo --bind-interfaces --enable-tftp --tftp-root=$dir --tftp-max=$((CLIENTS * 4)) --quiet-tftp --log-facility=/dev/null" ;;
  esac
}

# start_server NAME TAG: starts it in the namespace and its own cgroup; waits until its port is
# bound. Sets SERVER_PID, SERVER_CG, SERVER_LOG.
start_server() {
  local name=$1 tag=$2 cmd
  cmd=$(server_cmd "$name")
  SERVER_LOG=$WORK/$tag.log
  SERVER_CG=""
  if [[ -n $CG_PARENT ]]; then
    SERVER_CG=$CG_PARENT/$tag
    mkdir "$SERVER_CG"
  fi
  # The server joins its cgroup before it execs, so everything it forks is counted. (Before
  # entering the namespace: `ip netns exec` remounts /sys, hiding the cgroup mounts; it keeps
  # the process id.)
  # shellcheck disable=SC2086
  bash -c '[[ -z $1 ]] || echo $$ >"$1/cgroup.procs"; shift; exec ip netns exec "$@"' _ \
    "$SERVER_CG" "$NS" $cmd >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || {
      log "$name exited at start-up: $(tail -n 3 "$SERVER_LOG")"
      SERVER_PID=""
      return 1
    }
    if ip netns exec "$NS" ss -Hlun "sport = :${PORT[$name]}" 2>/dev/null | grep -q .; then
      # rackbootd binds one socket per shard; "ready" means all are serving.
      [[ $name != rackbootd* ]] || grep -q 'rackbootd: ready' "$SERVER_LOG" && return 0
    fi
    sleep 0.05
  done
  log "$name did not bind port ${PORT[$name]} within 5 s"
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

# CPU time of the server so far, in microseconds.
server_cpu_usec() {
  if [[ -n $SERVER_CG ]]; then
    awk '$1 == "usage_usec" { print $2 }' "$SERVER_CG/cpu.stat"
  else
    # Fields after the ")" of the command: utime is the 12th, stime 13th, cutime 14th, cstime 15th.
    local s
    s=$(cat "/proc/$SERVER_PID/stat")
    echo "${s##*) }" | awk -v hz="$CLK_TCK" '{ printf "%d\n", ($12 + $13 + $14 + $15) * 1000000 / hz }'
  fi
}

# Waits (up to 3 s) until a forking server has only its listener left, so finished children
# have been reaped and counted.
server_settle() {
  local i n
  for i in $(seq 1 60); do
    n=$(server_pids | wc -l)
    [[ $n -le 1 ]] && return 0
    sleep 0.05
  done
}

# Memory: a sampler sums VmRSS and RssAnon over the server's processes every 0.1 s and keeps the
# peaks; the listener's own VmHWM is read at the end (exact for single-process servers).
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

# ---------------------------------------------------------------------------------------------
# Clients. One batch runs inside the namespace and times itself: N clients at once, then wait.
# Prints "elapsed_ns failed_count".
CLIENT_BATCH='
kind=$1 n=$2 port=$3 file=$4 dir=$5 tmo=$6 blk=$7
pids=()
start=$(date +%s%N)
for i in $(seq 1 "$n"); do
  case $kind in
    atftp-w*)
      timeout "$tmo" atftp --option "blksize $blk" --option "windowsize ${kind#atftp-w}" \
        --get -r "$file" -l "$dir/o.$i" 127.0.0.1 "$port" >"$dir/log.$i" 2>&1 & ;;
    curl)
      timeout "$tmo" curl -s -S -o "$dir/o.$i" --tftp-blksize "$blk" \
        "tftp://127.0.0.1:$port/$file" >"$dir/log.$i" 2>&1 & ;;
  esac
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
end=$(date +%s%N)
echo $((end - start)) $fail
'

# run_batch KIND N PORT TIMEOUT: runs a batch, verifies every file's size and one file's bytes.
# Sets BATCH_NS (elapsed) and BATCH_ERR (empty when all N downloads are complete and correct).
run_batch() {
  local kind=$1 n=$2 port=$3 tmo=$4 res fail i size
  rm -f "$OUT"/o.* "$OUT"/log.*
  # The clients get a cgroup too, so that the CPU the rest of the machine used can be told apart.
  res=$(bash -c '[[ -z $1 ]] || echo $$ >"$1/cgroup.procs"; shift; exec ip netns exec "$@"' _ \
    "${CG_PARENT:+$CG_PARENT/clients}" "$NS" bash -c "$CLIENT_BATCH" _ "$kind" "$n" "$port" "$FILE" "$OUT" "$tmo" "$BLKSIZE")
  read -r BATCH_NS fail <<<"$res"
  BATCH_ERR=""
  local bad=0
  for i in $(seq 1 "$n"); do
    size=$(stat -c %s "$OUT/o.$i" 2>/dev/null || echo 0)
    [[ $size -eq $FILE_BYTES ]] || bad=$((bad + 1))
  done
  if [[ $bad -gt 0 || $fail -gt 0 ]]; then
    BATCH_ERR="$bad of $n files incomplete, $fail clients failed"
    local first
    first=$(grep -lv '^Option' "$OUT"/log.* 2>/dev/null | head -n 1 || true)
    [[ -n $first ]] && BATCH_ERR+=" ($(grep -v '^Option' "$first" | tail -n 1))"
  elif ! cmp -s "$OUT/o.1" "$WORK/root/$FILE"; then
    BATCH_ERR="content of download 1 differs from the file served"
  fi
  rm -f "$OUT"/o.*
}

# ---------------------------------------------------------------------------------------------
# Scenarios. Results go into R_* keyed "scenario|server".
declare -A R_WALL R_MIBS R_CPUG R_RSS R_NOTE R_FAIL
SCENARIOS=(a b c1 c2)
declare -A SC_TITLE=(
  [a]="a. 1 × ${FILE_MIB} MiB, atftp, blksize $BLKSIZE, windowsize 64 (median of $REPS_SINGLE)"
  [b]="b. $CLIENTS × ${FILE_MIB} MiB at once, atftp, blksize $BLKSIZE, windowsize 16 (median of $REPS)"
  [c1]="c1. 1 × ${FILE_MIB} MiB, curl, blksize $BLKSIZE, lock-step (median of $REPS_SINGLE)"
  [c2]="c2. $CLIENTS × ${FILE_MIB} MiB at once, curl, blksize $BLKSIZE, lock-step")
declare -A SC_SERVERS=(
  [a]="rackbootd rackbootd-nogso rackbootd-epoll atftpd tftp-hpa dnsmasq"
  [b]="rackbootd rackbootd-nogso rackbootd-epoll atftpd tftp-hpa dnsmasq"
  [c1]="rackbootd atftpd tftp-hpa dnsmasq"
  [c2]="rackbootd atftpd tftp-hpa dnsmasq")

# run_scenario SCENARIO SERVER
run_scenario() {
  local sc=$1 name=$2 key="$1|$2" tag="$2-$1"
  local kind n reps tmo
  case $sc in
    a) kind=atftp-w64 n=1 reps=$REPS_SINGLE tmo=60 ;;
    b) kind=atftp-w16 n=$CLIENTS reps=$REPS tmo=120 ;;
    c1) kind=curl n=1 reps=$REPS_SINGLE tmo=60 ;;
    c2) kind=curl n=$CLIENTS reps=1 tmo=120 ;;
  esac
  R_FAIL[$key]=""
  if ! start_server "$name" "$tag"; then
    R_FAIL[$key]="server did not start"
    stop_server
    return 0
  fi
  start_sampler "$WORK/$tag.mem"
  local cpu0 cpu1 times=() r
  cpu0=$(server_cpu_usec)
  for r in $(seq 1 "$reps"); do
    run_batch "$kind" "$n" "${PORT[$name]}" "$tmo"
    if [[ -n $BATCH_ERR ]]; then
      R_FAIL[$key]=$BATCH_ERR
      break
    fi
    times+=("$BATCH_NS")
  done
  server_settle
  cpu1=$(server_cpu_usec)
  local hwm=0
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
  stop_sampler
  local peak=0 anon=0
  [[ -s $WORK/$tag.mem ]] && read -r peak anon <"$WORK/$tag.mem"
  ((hwm > peak)) && peak=$hwm
  local note=""
  case $name in
    rackbootd*)
      # One INFO line per transfer: count failures and retransmits.
      local rtx failed
      rtx=$(grep -o 'retransmits=[0-9]*' "$SERVER_LOG" | awk -F= '{ s += $2 } END { print s + 0 }')
      failed=$(grep -c 'tftp FAILED' "$SERVER_LOG" || true)
      note="retransmits $rtx"
      [[ $failed -gt 0 ]] && note+=", $failed transfers FAILED"
      ;;
    tftp-hpa | dnsmasq) [[ $kind == atftp-* ]] && note="no windowsize: lock-step" ;;
  esac
  [[ $name == tftp-hpa ]] && note="${note:+$note; }forks per transfer"
  stop_server
  R_NOTE[$key]=$note
  [[ -n ${R_FAIL[$key]} ]] && return 0
  local median range
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  if [[ $reps -gt 1 ]]; then
    range=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f-%.2f s", v[1] / 1e9, v[NR] / 1e9 }')
    R_NOTE[$key]="runs $range${note:+; $note}"
  fi
  local bytes=$((FILE_BYTES * n * reps))
  R_WALL[$key]=$(awk -v t="$median" 'BEGIN { printf "%.3f", t / 1e9 }')
  R_MIBS[$key]=$(awk -v t="$median" -v b="$((FILE_BYTES * n))" 'BEGIN { printf "%.0f", b / 1048576 / (t / 1e9) }')
  R_CPUG[$key]=$(awk -v c="$((cpu1 - cpu0))" -v b="$bytes" 'BEGIN { printf "%.2f", (c / 1e6) / (b / 1073741824) }')
  R_RSS[$key]=$(awk -v p="$peak" -v a="$anon" 'BEGIN { printf "%.1f (%.1f)", p / 1024, a / 1024 }')
}

# CPU the whole machine spent (the cgroup v2 root's cpu.stat; /proc/stat's jiffies otherwise,
# which some virtual machines do not keep up to date), and what the benchmark's own servers and
# clients spent (its cgroup, removed children included).
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
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
BUSY0=$(machine_busy_usec)
OURS0=$(bench_usec)
T_START=$(date +%s)
for sc in "${SCENARIOS[@]}"; do
  for name in ${SC_SERVERS[$sc]}; do
    log "scenario $sc: ${LABEL[$name]}"
    run_scenario "$sc" "$name"
    key="$sc|$name"
    if [[ -n ${R_FAIL[$key]} ]]; then
      log "  FAILED: ${R_FAIL[$key]}"
    else
      log "  ${R_WALL[$key]} s, ${R_MIBS[$key]} MiB/s, ${R_CPUG[$key]} CPU-s/GiB, RSS ${R_RSS[$key]} MiB ${R_NOTE[$key]}"
    fi
  done
done
T_TOTAL=$(($(date +%s) - T_START))
BUSY1=$(machine_busy_usec)
OURS1=$(bench_usec)
if [[ -n $CG_PARENT ]]; then
  OTHERS=$(awk -v b="$((BUSY1 - BUSY0))" -v o="$((OURS1 - OURS0))" -v t="$T_TOTAL" -v n="$NPROC" \
    'BEGIN { x = (b - o) / 1e6; if (x < 0) x = 0; printf "%.0f CPU-s of the %d available (%.0f%%)", x, t * n, 100 * x / (t * n) }')
  SHARED="CPU used during the run by anything but the benchmark's servers and clients (the script itself, other work on the machine): $OTHERS; load average before the run $LOAD_BEFORE."
  OTHERS_PCT=$(awk -v b="$((BUSY1 - BUSY0))" -v o="$((OURS1 - OURS0))" -v t="$T_TOTAL" -v n="$NPROC" 'BEGIN { printf "%d", 100 * (b - o) / 1e6 / (t * n) }')
  if [[ $OTHERS_PCT -gt 10 ]]; then
    SHARED+=" **Other work took a good part of the machine during this run: the absolute figures are lower and noisier than on an idle machine; compare rows, and rerun on a quiet machine before quoting them.**"
    log "other work used ${OTHERS_PCT}% of the machine during the run; numbers are noisy"
  fi
else
  SHARED="Load average before the run: $LOAD_BEFORE."
fi

# ---------------------------------------------------------------------------------------------
# Report.
ratio() { # ratio A B: A / B with two decimals, or "–"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "–"; else printf "%.2f", a / b }'
}

version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

make_report() {
  local model kernel
  model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  kernel=$(uname -r)
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench tftp\` (bench/tftp_peers.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $NPROC CPUs ($model), kernel $kernel, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); servers and clients share the CPUs. $SHARED"
  echo "- rackbootd: commit $RB_COMMIT, \`bazel build -c opt\`, \`--threads=$NPROC\`."
  echo "- Peers: atftpd $(dpkg-deb -f "$ATFTPD_DEB" Version) (unpacked .deb), tftpd-hpa $(version_of tftpd-hpa), dnsmasq-base $(version_of dnsmasq-base)."
  echo "- Clients: atftp $(version_of atftp), curl $(version_of curl)."
  echo "- One ${FILE_MIB} MiB file of random bytes, in the page cache; downloads written to tmpfs; every download's size checked and one per batch compared byte for byte."
  echo "- Server CPU: $CPU_METHOD, over the whole scenario (children included). Peak RSS: the listener's VmHWM or the sampled sum over the server's processes, whichever is larger; anonymous memory (sampled every 0.1 s) in brackets. rackbootd maps served files, so its RSS counts the file's pages of the shared page cache."
  echo "- Ratios: rackbootd's MiB/s ÷ this row's (above 1: rackbootd faster) and rackbootd's CPU-s/GiB ÷ this row's (below 1: rackbootd cheaper); for the rackbootd variant rows, against default rackbootd."
  echo
  local sc
  echo "Scenarios:"
  echo
  for sc in "${SCENARIOS[@]}"; do echo "- ${SC_TITLE[$sc]}"; done
  echo
  echo "| scenario | server | wall s | MiB/s | server CPU-s/GiB | peak RSS MiB (anon) | rackbootd ÷ this, MiB/s | rackbootd ÷ this, CPU/GiB | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
  local name key base
  for sc in "${SCENARIOS[@]}"; do
    base="$sc|rackbootd"
    for name in ${SC_SERVERS[$sc]}; do
      key="$sc|$name"
      if [[ -n ${R_FAIL[$key]} ]]; then
        echo "| ${sc} | ${LABEL[$name]} | FAILED | FAILED | – | – | – | – | ${R_FAIL[$key]//|/\\|}${R_NOTE[$key]:+; ${R_NOTE[$key]}} |"
        continue
      fi
      local rt="–" rc="–"
      if [[ $name != rackbootd && -z ${R_FAIL[$base]} ]]; then
        rt=$(ratio "${R_MIBS[$base]}" "${R_MIBS[$key]}")
        rc=$(ratio "${R_CPUG[$base]}" "${R_CPUG[$key]}")
      fi
      echo "| ${sc} | ${LABEL[$name]} | ${R_WALL[$key]} | ${R_MIBS[$key]} | ${R_CPUG[$key]} | ${R_RSS[$key]} | $rt | $rc | ${R_NOTE[$key]} |"
    done
  done
  echo
  echo "Server command lines (\`DIR\` is the served directory; each in the benchmark's own network namespace):"
  echo
  echo '```'
  for name in rackbootd rackbootd-nogso rackbootd-epoll atftpd tftp-hpa dnsmasq; do
    server_cmd "$name" | sed -e "s|$WORK/root|DIR|g" -e "s|$RB|rackbootd|" -e "s|$PEERS_DIR/|~/.cache/rackboot/peers/|"
  done
  echo '```'
  echo
  echo "Clients (N at once, each timed from the first start to the last exit):"
  echo
  echo '```'
  echo "atftp --option \"blksize $BLKSIZE\" --option \"windowsize W\" --get -r $FILE -l OUT 127.0.0.1 PORT"
  echo "curl -s -S -o OUT --tftp-blksize $BLKSIZE tftp://127.0.0.1:PORT/$FILE"
  echo '```'
}

REPORT=$(make_report)
printf '%s\n' "$REPORT"

if [[ $WRITE_DOC -eq 1 ]]; then
  BEGIN_MARK='<!-- tftp-peers:begin -->'
  END_MARK='<!-- tftp-peers:end -->'
  if [[ ! -f $DOC ]]; then
    cat >"$DOC" <<'EOF'
# Benchmarks

Numbers measured on the project's machines, each table from one run in which Rackboot and its
peers were measured side by side (never against a figure from another day). `bench/README.md`
says what each benchmark measures and how; rerun a table with the command it names.

## TFTP: rackbootd beside atftpd, tftp-hpa and dnsmasq

EOF
  fi
  if ! grep -qF "$BEGIN_MARK" "$DOC"; then
    printf '%s\n%s\n' "$BEGIN_MARK" "$END_MARK" >>"$DOC"
  fi
  section=$WORK/section.md
  printf '%s\n' "$REPORT" >"$section"
  awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v f="$section" '
    $0 == b { print; while ((getline line < f) > 0) print line; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' "$DOC" >"$WORK/doc.new"
  cat "$WORK/doc.new" >"$DOC"
  log "wrote the table into ${DOC#"$ROOT"/}"
fi
