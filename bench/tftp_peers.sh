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

BENCH_TAG=tftp_peers
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FILE_MIB=${RACKBOOT_BENCH_FILE_MIB:-64}
CLIENTS=${RACKBOOT_BENCH_CLIENTS:-16}
REPS_SINGLE=${RACKBOOT_BENCH_REPS_SINGLE:-5}
REPS=${RACKBOOT_BENCH_REPS:-3}
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
PEERS_DIR=${RACKBOOT_PEERS_DIR:-$HOME/.cache/rackboot/peers}
BLKSIZE=1468
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip atftp curl /usr/sbin/in.tftpd dnsmasq timeout apt-get dpkg-deb bazel

# Clean-up (bench/lib.sh): namespace, cgroups, servers and directories go on exit.
NS=rackboot-bench-$$
bench_init

# ---------------------------------------------------------------------------------------------
# Build rackbootd (optimised) and fetch atftpd.
RB_BUILT=$(bench_build //engine:rackbootd)/engine/rackbootd
WORK=$(bench_workdir rackboot-bench)
bench_track_dir "$WORK"
OUT=$(bench_workdir rackboot-bench /dev/shm) # downloads land on tmpfs
bench_track_dir "$OUT"
RB=$(bench_copy_binary "$RB_BUILT" "$WORK")
RB_COMMIT=$(bench_commit engine proto third_party WORKSPACE)

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
bench_netns "$NS"
ip -n "$NS" link add rbb0 type veth peer name rbb1
ip -n "$NS" addr add 198.18.0.1/24 dev rbb0
ip -n "$NS" link set rbb0 up
ip -n "$NS" link set rbb1 up

bench_cgroups rackboot-bench

# ---------------------------------------------------------------------------------------------
# Servers. Each starts fresh for every scenario, on its own port of 127.0.0.1 in the namespace.
declare -A PORT=([rackbootd]=6901 [rackbootd-nogso]=6901 [rackbootd-epoll]=6901
  [atftpd]=6902 [tftp-hpa]=6903 [dnsmasq]=69)
declare -A LABEL=([rackbootd]="rackbootd" [rackbootd-nogso]="rackbootd --tftp_gso=false"
  [rackbootd-epoll]="rackbootd --io=epoll" [atftpd]="atftpd" [tftp-hpa]="tftp-hpa"
  [dnsmasq]="dnsmasq")

server_cmd() {
  local dir=$WORK/root
  case $1 in
    rackbootd) echo "$RB --tftp_root=$dir --tftp_listen=127.0.0.1:6901 --threads=$NPROC --tftp_max_per_client=0" ;;
    rackbootd-nogso) echo "$RB --tftp_root=$dir --tftp_listen=127.0.0.1:6901 --threads=$NPROC --tftp_max_per_client=0 --tftp_gso=false" ;;
    rackbootd-epoll) echo "$RB --tftp_root=$dir --tftp_listen=127.0.0.1:6901 --threads=$NPROC --tftp_max_per_client=0 --io=epoll" ;;
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
  SERVER_PORTS=("${PORT[$name]}")
  # shellcheck disable=SC2086
  SERVER_WAIT_SECONDS=5 server_spawn "$name" "$tag" "$NS" "$SERVER_LOG" "$SERVER_LOG" $cmd
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
  res=$(cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS" bash -c "$CLIENT_BATCH" _ "$kind" "$n" "$port" "$FILE" "$OUT" "$tmo" "$BLKSIZE")
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
  local peak anon
  read -r peak anon < <(server_peak_rss "$WORK/$tag.mem")
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
  R_RSS[$key]="$peak ($anon)"
}

bench_usage_begin
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
bench_usage_end "servers and clients"

# ---------------------------------------------------------------------------------------------
# Report.
make_report() {
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench tftp\` (bench/tftp_peers.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and clients share the CPUs. $SHARED"
  echo "- rackbootd: commit $RB_COMMIT, \`bazel build -c opt\`, \`--threads=$NPROC --tftp_max_per_client=0\` (the clients share one address)."
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
  printf '%s\n' "$REPORT" >"$WORK/section.md"
  bench_write_doc tftp-peers "$WORK/section.md" "TFTP: rackbootd beside atftpd, tftp-hpa and dnsmasq"
fi
