#!/usr/bin/env bash
# bench/tftp_load.sh: rackbootd beside atftpd, tftp-hpa (in.tftpd) and dnsmasq under the
# project's load tool `rackboot-load` (//tools/load), with hundreds of concurrent clients, in one
# run. Run as root; usually through `./rackboot bench tftp`. See bench/README.md.
#
# Two network namespaces joined by a veth pair: the servers' (198.18.0.1/24, every server alone
# on port 69 in turn) and the clients' (198.18.0.2/24, rackboot-load). Each server starts fresh
# for every scenario, in a cgroup of its own (CPU from cpu.stat, children included). Every run
# is bounded: rackboot-load --duration (what still runs then counts as failed, "unfinished"),
# and `timeout` around it. Namespaces, cgroups, servers and files are removed on exit.
#
# Windowed scenarios (blksize 1468; lock-step servers ignore windowsize):
#   s16   1 client  x SINGLE_MIB, windowsize 16
#   s64   1 client  x SINGLE_MIB, windowsize 64
#   k     MANY clients at once x KERNEL_MIB, windowsize 16   (kernel-sized)
#   i     INITRD_CLIENTS at once x INITRD_MIB, windowsize 16 (initrd-sized)
# Lock-step scenarios (windowsize 1: no windowsize option, as PXE ROMs and iPXE ask), with the
# floor row (bench/lockstep_floor_responder.cc: ACK in, next block out, nothing else) beside the
# four servers:
#   L1432 LOCK_CLIENTS at once x LOCK_MIB, blksize 1432
#   L512  LOCK512_CLIENTS at once x LOCK_MIB, blksize 512 (no blksize option)
#   chain CHAIN_CLIENTS at once, each pxelinux.0, ldlinux.c32, pxelinux.cfg/default and a
#         CHAIN_KERNEL_MIB kernel in sequence, blksize 1432 (syslinux's files when installed)
#
# Options:
#   --no-doc   print the report only; do not rewrite the section of docs/benchmarks.md
# Environment:
#   RACKBOOT_BENCH_LOAD_SINGLE_MIB (64)       file of s16 and s64
#   RACKBOOT_BENCH_LOAD_KERNEL_MIB (8)        file of k
#   RACKBOOT_BENCH_LOAD_MANY (1000)           clients of k
#   RACKBOOT_BENCH_LOAD_INITRD_MIB (40)       file of i
#   RACKBOOT_BENCH_LOAD_INITRD_CLIENTS (200)  clients of i
#   RACKBOOT_BENCH_LOAD_CAP (45)              seconds a windowed run may take (--duration)
#   RACKBOOT_BENCH_LOAD_LOCK_CLIENTS (1000)   clients of L1432
#   RACKBOOT_BENCH_LOAD_LOCK512_CLIENTS (LOCK_CLIENTS)  clients of L512
#   RACKBOOT_BENCH_LOAD_LOCK_MIB (2)          file of L1432 and L512
#   RACKBOOT_BENCH_LOAD_CHAIN_CLIENTS (500)   clients of chain
#   RACKBOOT_BENCH_LOAD_CHAIN_KERNEL_MIB (8)  the chain's kernel
#   RACKBOOT_BENCH_LOAD_LOCK_CAP (60)         seconds a lock-step run may take
#   RACKBOOT_BENCH_LOAD_SCENARIOS ("s16 s64 k i L1432 L512 chain"; spaces or commas;
#     RACKBOOT_BENCH_TFTP_SCENARIOS is the same setting)
#   RACKBOOT_BENCH_LOAD_SERVERS ("rackbootd atftpd tftp-hpa dnsmasq floor"; floor only runs
#     the lock-step scenarios)
#   RACKBOOT_BENCH_LOAD_THREADS (2)           rackboot-load --threads (one per core)
#   RACKBOOT_BENCH_LOAD_IO (uring)            rackboot-load --io (uring: io_uring or an error; auto; epoll)
#   RACKBOOT_PEERS_DIR (~/.cache/rackboot/peers)  where the atftpd package is unpacked
set -euo pipefail

BENCH_TAG=tftp_load
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SINGLE_MIB=${RACKBOOT_BENCH_LOAD_SINGLE_MIB:-64}
KERNEL_MIB=${RACKBOOT_BENCH_LOAD_KERNEL_MIB:-8}
MANY=${RACKBOOT_BENCH_LOAD_MANY:-1000}
INITRD_MIB=${RACKBOOT_BENCH_LOAD_INITRD_MIB:-40}
INITRD_CLIENTS=${RACKBOOT_BENCH_LOAD_INITRD_CLIENTS:-200}
CAP=${RACKBOOT_BENCH_LOAD_CAP:-45}
LOCK_CLIENTS=${RACKBOOT_BENCH_LOAD_LOCK_CLIENTS:-1000}
LOCK512_CLIENTS=${RACKBOOT_BENCH_LOAD_LOCK512_CLIENTS:-$LOCK_CLIENTS}
LOCK_MIB=${RACKBOOT_BENCH_LOAD_LOCK_MIB:-2}
CHAIN_CLIENTS=${RACKBOOT_BENCH_LOAD_CHAIN_CLIENTS:-500}
CHAIN_KERNEL_MIB=${RACKBOOT_BENCH_LOAD_CHAIN_KERNEL_MIB:-8}
LOCK_CAP=${RACKBOOT_BENCH_LOAD_LOCK_CAP:-60}
LOAD_THREADS=${RACKBOOT_BENCH_LOAD_THREADS:-2}
SCENARIO_LIST=${RACKBOOT_BENCH_TFTP_SCENARIOS:-${RACKBOOT_BENCH_LOAD_SCENARIOS:-s16 s64 k i L1432 L512 chain}}
read -r -a SCENARIOS <<<"${SCENARIO_LIST//,/ }"
read -r -a SERVERS <<<"${RACKBOOT_BENCH_LOAD_SERVERS:-rackbootd atftpd tftp-hpa dnsmasq floor}"
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
PEERS_DIR=${RACKBOOT_PEERS_DIR:-$HOME/.cache/rackboot/peers}
BLKSIZE=1468
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0

bench_require ip dnsmasq /usr/sbin/in.tftpd timeout apt-get dpkg-deb bazel python3

NS_S=rbtl-s-$$ # servers
NS_C=rbtl-c-$$ # rackboot-load
IF_S=rbts$$
IF_C=rbtc$$
SERVER_ADDR=198.18.0.1
bench_init

# ---------------------------------------------------------------------------------------------
# Binaries: rackbootd and rackboot-load (-c opt, private copies), atftpd (unpacked .deb).
BIN=$(bench_build //engine:rackbootd //tools/load:rackboot-load //bench:lockstep_floor_responder)
WORK=$(bench_workdir rackboot-tftp-load)
bench_track_dir "$WORK"
RB=$(bench_copy_binary "$BIN/engine/rackbootd" "$WORK")
LOAD=$(bench_copy_binary "$BIN/tools/load/rackboot-load" "$WORK")
FLOOR=$(bench_copy_binary "$BIN/bench/lockstep_floor_responder" "$WORK")
RB_COMMIT=$(bench_commit engine proto tools/load bench/lockstep_floor_responder.cc third_party WORKSPACE)

ATFTPD=$PEERS_DIR/atftpd/usr/sbin/atftpd
if [[ ! -x $ATFTPD ]]; then
  log "fetching atftpd into $PEERS_DIR (it conflicts with tftpd-hpa as a package, so it is unpacked, not installed)"
  mkdir -p "$PEERS_DIR"
  (cd "$PEERS_DIR" && apt-get download atftpd >&2) || die "apt-get download atftpd failed"
  rm -rf "$PEERS_DIR/atftpd"
  dpkg -x "$(find "$PEERS_DIR" -maxdepth 1 -name 'atftpd_*.deb' | sort | tail -n 1)" "$PEERS_DIR/atftpd"
fi
[[ -x $ATFTPD ]] || die "no atftpd at $ATFTPD"
ATFTPD_DEB=$(find "$PEERS_DIR" -maxdepth 1 -name 'atftpd_*.deb' | sort | tail -n 1)

# ---------------------------------------------------------------------------------------------
# The served directory (world-readable: the peers drop to nobody), files of random bytes in the
# page cache; rackboot-load compares every byte it receives with them (--verify: one file per
# step of the flow, so every step of the chain is checked).
mkdir -m 755 "$WORK/root"
# SC_FILES: the files a client reads in order (space-separated, relative to the root).
# SC_LOCK: 1 for the lock-step scenarios (windowsize 1, the floor row runs them).
declare -A SC_FILES SC_MIB SC_CLIENTS SC_WINDOW SC_BLKSIZE SC_LOCK SC_CAP SC_TITLE
# random_file NAME MIB: a file of random bytes, once.
random_file() {
  [[ -f $WORK/root/$1 ]] && return 0
  head -c "$(($2 << 20))" /dev/urandom >"$WORK/root/$1"
  chmod 644 "$WORK/root/$1"
}
# The chain's loader and its module: syslinux's own files when installed, else random files of
# their sizes (CHAIN_SOURCE says which); the config as pxelinux reads it.
PXELINUX=/usr/lib/PXELINUX/pxelinux.0
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
chain_files() {
  mkdir -m 755 "$WORK/root/pxelinux.cfg"
  if [[ -f $PXELINUX && -f $LDLINUX ]]; then
    install -m 644 "$PXELINUX" "$LDLINUX" "$WORK/root/"
    CHAIN_SOURCE="syslinux's own pxelinux.0 and ldlinux.c32 (Debian pxelinux $(version_of pxelinux), syslinux-common $(version_of syslinux-common))"
  else
    head -c 42430 /dev/urandom >"$WORK/root/pxelinux.0"
    head -c 119524 /dev/urandom >"$WORK/root/ldlinux.c32"
    chmod 644 "$WORK/root/pxelinux.0" "$WORK/root/ldlinux.c32"
    CHAIN_SOURCE="random files of the sizes of syslinux 6.04's pxelinux.0 and ldlinux.c32 (syslinux is not installed here)"
  fi
  cat >"$WORK/root/pxelinux.cfg/default" <<'EOC'
DEFAULT install
PROMPT 0
TIMEOUT 0
LABEL install
  KERNEL vmlinuz
  APPEND initrd=initrd.gz auto=true priority=critical url=http://198.18.0.1/preseed.cfg console=ttyS0,115200n8 ---
EOC
  chmod 644 "$WORK/root/pxelinux.cfg/default"
  random_file vmlinuz "$CHAIN_KERNEL_MIB"
}
for sc in "${SCENARIOS[@]}"; do
  SC_WINDOW[$sc]=16 SC_BLKSIZE[$sc]=$BLKSIZE SC_LOCK[$sc]=0 SC_CAP[$sc]=$CAP
  case $sc in
    s16 | s64) SC_FILES[$sc]=single.bin SC_MIB[$sc]=$SINGLE_MIB SC_CLIENTS[$sc]=1 SC_WINDOW[$sc]=${sc#s} ;;
    k) SC_FILES[$sc]=kernel SC_MIB[$sc]=$KERNEL_MIB SC_CLIENTS[$sc]=$MANY ;;
    i) SC_FILES[$sc]=initrd SC_MIB[$sc]=$INITRD_MIB SC_CLIENTS[$sc]=$INITRD_CLIENTS ;;
    L1432 | L512)
      SC_FILES[$sc]=lockstep.bin SC_MIB[$sc]=$LOCK_MIB SC_WINDOW[$sc]=1 SC_BLKSIZE[$sc]=${sc#L}
      SC_LOCK[$sc]=1 SC_CAP[$sc]=$LOCK_CAP
      SC_CLIENTS[$sc]=$LOCK_CLIENTS
      [[ $sc == L512 ]] && SC_CLIENTS[$sc]=$LOCK512_CLIENTS
      ;;
    chain)
      SC_FILES[$sc]="pxelinux.0 ldlinux.c32 pxelinux.cfg/default vmlinuz" SC_MIB[$sc]=$CHAIN_KERNEL_MIB
      SC_CLIENTS[$sc]=$CHAIN_CLIENTS SC_WINDOW[$sc]=1 SC_BLKSIZE[$sc]=1432 SC_LOCK[$sc]=1 SC_CAP[$sc]=$LOCK_CAP
      ;;
    *) die "unknown scenario $sc (s16 s64 k i L1432 L512 chain)" ;;
  esac
  if [[ $sc == chain ]]; then
    chain_files
    SC_TITLE[$sc]="chain. $(fmt_rate "${SC_CLIENTS[$sc]}") clients at once, each reading pxelinux.0 ($(stat -c %s "$WORK/root/pxelinux.0") B), ldlinux.c32 ($(stat -c %s "$WORK/root/ldlinux.c32") B), pxelinux.cfg/default ($(stat -c %s "$WORK/root/pxelinux.cfg/default") B) and a $CHAIN_KERNEL_MIB MiB kernel in sequence, blksize 1432, lock-step"
  else
    random_file "${SC_FILES[$sc]}" "${SC_MIB[$sc]}"
    if [[ ${SC_LOCK[$sc]} -eq 1 ]]; then
      SC_TITLE[$sc]="$sc. $(fmt_rate "${SC_CLIENTS[$sc]}") × ${SC_MIB[$sc]} MiB at once, blksize ${SC_BLKSIZE[$sc]}, lock-step (no windowsize option)"
    else
      SC_TITLE[$sc]="$sc. $(fmt_rate "${SC_CLIENTS[$sc]}") × ${SC_MIB[$sc]} MiB at once, blksize $BLKSIZE, windowsize ${SC_WINDOW[$sc]}"
    fi
  fi
done
find "$WORK/root" -type f -exec cat {} + >/dev/null

bench_netns_pair "$NS_S" "$NS_C" "$IF_S" "$IF_C" "$SERVER_ADDR/24" 198.18.0.2/24
bench_cgroups rackboot-tftp-load

# ---------------------------------------------------------------------------------------------
# Servers, each alone on SERVER_ADDR:69, configured as their documentation advises for many
# clients: atftpd and dnsmasq allowed more concurrent transfers than the run has clients.
declare -A LABEL=([rackbootd]="rackbootd" [atftpd]="atftpd" [tftp-hpa]="tftp-hpa" [dnsmasq]="dnsmasq" [floor]="floor (bare lock-step)")
LIMIT=0
for sc in "${SCENARIOS[@]}"; do ((SC_CLIENTS[$sc] + 100 > LIMIT)) && LIMIT=$((SC_CLIENTS[$sc] + 100)); done
server_cmd() {
  local dir=$WORK/root
  case $1 in
    rackbootd) echo "$RB --tftp_root=$dir --tftp_listen=$SERVER_ADDR:69 --threads=$NPROC --tftp_max_per_client=0" ;;
    atftpd) echo "$ATFTPD --daemon --no-fork --port 69 --bind-address $SERVER_ADDR --maxthread $LIMIT --logfile /dev/null --verbose=0 $dir" ;;
    tftp-hpa) echo "/usr/sbin/in.tftpd --foreground --address $SERVER_ADDR:69 --secure --user nobody $dir" ;;
    dnsmasq) echo "dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --pid-file= --interface=$IF_S --bind-interfaces --enable-tftp --tftp-root=$dir --tftp-max=$LIMIT --quiet-tftp --log-facility=/dev/null" ;;
    floor) echo "$FLOOR $SERVER_ADDR:69 $dir $NPROC" ;;
    *) die "unknown server $1" ;;
  esac
}

# start_server NAME TAG: fresh, in the servers' namespace and its own cgroup; waits until port
# 69 is bound (rackbootd: until it says ready). Sets SERVER_PID, SERVER_CG, SERVER_LOG.
start_server() {
  local name=$1 tag=$2 cmd
  cmd=$(server_cmd "$name")
  SERVER_LOG=$WORK/$tag.log
  SERVER_PORTS=(69)
  # shellcheck disable=SC2086
  SERVER_WAIT_SECONDS=5 server_spawn "$name" "$tag" "$NS_S" "$SERVER_LOG" "$SERVER_LOG" $cmd
}

# ---------------------------------------------------------------------------------------------
# One run: run_scenario SC SERVER. Results in R_* keyed "SC|SERVER".
declare -A R_DONE R_WALL R_MIBS R_CPUG R_CPU R_RSS R_LAT R_FB R_FB99 R_NOTE R_FAIL
# flow_of SC / verify_of SC: rackboot-load's --flow and --verify (one local file per step).
flow_of() {
  local f out=()
  for f in ${SC_FILES[$1]}; do out+=("tftp:/$f"); done
  (IFS=,; echo "${out[*]}")
}
verify_of() {
  local f out=()
  for f in ${SC_FILES[$1]}; do out+=("$2/$f"); done
  (IFS=,; echo "${out[*]}")
}
run_scenario() {
  local sc=$1 name=$2 key="$1|$2" tag="$2-$1"
  local n=${SC_CLIENTS[$sc]} cap=${SC_CAP[$sc]}
  R_FAIL[$key]="" R_NOTE[$key]=""
  if ! start_server "$name" "$tag"; then
    R_FAIL[$key]="server did not start"
    stop_server
    return 0
  fi
  start_sampler "$WORK/$tag.mem"
  local cpu0 cpu1 rc=0 json=$WORK/$tag.json
  cpu0=$(server_cpu_usec)
  run_load "$NS_C" $((cap + 30)) "$json" "$WORK/$tag.out" \
    --server="$SERVER_ADDR" --clients="$n" --duration="$cap" --flow="$(flow_of "$sc")" \
    --blksize="${SC_BLKSIZE[$sc]}" --windowsize="${SC_WINDOW[$sc]}" --verify="$(verify_of "$sc" "$WORK/root")" \
    --tftp_timeout=1s --tftp_retries=5 --threads="$LOAD_THREADS" --io="${RACKBOOT_BENCH_LOAD_IO:-uring}" || rc=$?
  server_settle
  cpu1=$(server_cpu_usec)
  local peak anon
  read -r peak anon < <(server_peak_rss "$WORK/$tag.mem")
  if [[ $name == rackbootd ]]; then
    local failed
    failed=$(grep -c 'tftp FAILED' "$SERVER_LOG" || true)
    [[ $failed -gt 0 ]] && R_NOTE[$key]="server: $failed transfers FAILED"
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    # The server died under the load (atftpd aborts once a transfer's socket gets a
    # descriptor >= 1024: it uses select(), and glibc's FD_SET check kills it).
    local why
    why=$(grep -v '^$' "$SERVER_LOG" | tail -n 1 | tr -d '|' | cut -c1-120)
    R_NOTE[$key]="server died during the run${why:+ (\"$why\")}"
  fi
  stop_server
  load_json "$json"
  if [[ -z $(lj completed) ]]; then
    R_FAIL[$key]="rackboot-load exit $rc, no report: $(tail -n 2 "$WORK/$tag.out" | tr '\n' ' ')"
    return 0
  fi
  local bytes wall
  bytes=$(lj tftp.bytes) wall=$(lj wall_seconds)
  R_DONE[$key]="$(lj completed) / $n"
  R_WALL[$key]=$(awk -v w="$wall" 'BEGIN { printf "%.2f", w }')
  R_MIBS[$key]=$(awk -v b="$bytes" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", b / 1048576 / w; else print "–" }')
  R_CPU[$key]=$(awk -v c="$((cpu1 - cpu0))" 'BEGIN { printf "%.2f", c / 1e6 }')
  R_CPUG[$key]=$(awk -v c="$((cpu1 - cpu0))" -v b="$bytes" 'BEGIN { if (b > 0) printf "%.2f", (c / 1e6) / (b / 1073741824); else print "–" }')
  R_RSS[$key]="$peak ($anon)"
  R_LAT[$key]=$(awk -v a="$(lj client_ms.p50)" -v b="$(lj client_ms.p99)" -v c="$(lj client_ms.max)" \
    'BEGIN { printf "%.0f / %.0f / %.0f", a, b, c }')
  R_FB99[$key]=$(awk -v b="$(lj tftp.rrq_to_block1_ms.p99)" 'BEGIN { printf "%.1f", b }')
  R_FB[$key]=$(awk -v a="$(lj tftp.rrq_to_block1_ms.p50)" -v b="${R_FB99[$key]}" -v n="$(lj tftp.rrq_to_block1_n)" \
    'BEGIN { if (n + 0 == 0) print "–"; else printf "%.1f / %.1f", a, b }')
  [[ $(lj tftp.rrq_to_block1_n) == 0 ]] && R_FB99[$key]="–"
  local notes=()
  [[ $(lj failed) -gt 0 ]] && notes+=("$(lj failed) failed: $(lj errors_text)")
  awk -v w="$wall" -v c="$cap" 'BEGIN { exit !(w >= c - 0.5) }' &&
    notes+=("stopped at the ${cap} s cap: MiB/s is what it delivered in that time")
  [[ $(lj tftp.without_block1) -gt 0 ]] &&
    notes+=("$(lj tftp.without_block1) downloads never got DATA 1 (not in the RRQ→first DATA figures)")
  notes+=("client retransmits $(lj tftp.retransmits), timeouts $(lj tftp.timeouts), duplicates $(lj tftp.duplicates)")
  case $name in
    tftp-hpa | dnsmasq) [[ ${SC_WINDOW[$sc]} -gt 1 ]] && notes+=("no windowsize: lock-step") ;;
  esac
  [[ $name == tftp-hpa ]] && notes+=("forks per transfer")
  [[ -n ${R_NOTE[$key]} ]] && notes+=("${R_NOTE[$key]}")
  R_NOTE[$key]=$(
    IFS=';'
    echo "${notes[*]}" | sed 's/;/; /g'
  )
}

bench_usage_begin
declare -A T_SC
for sc in "${SCENARIOS[@]}"; do
  t0=$(date +%s)
  for name in "${SERVERS[@]}"; do
    # The floor only does lock-step (no windowsize): it has no row in the windowed scenarios.
    [[ $name == floor && ${SC_LOCK[$sc]} -eq 0 ]] && continue
    log "scenario ${SC_TITLE[$sc]}: ${LABEL[$name]}"
    run_scenario "$sc" "$name"
    key="$sc|$name"
    if [[ -n ${R_FAIL[$key]} ]]; then
      log "  FAILED: ${R_FAIL[$key]}"
    else
      log "  ${R_DONE[$key]} done in ${R_WALL[$key]} s, ${R_MIBS[$key]} MiB/s, ${R_CPUG[$key]} CPU-s/GiB, RRQ→first DATA ms ${R_FB[$key]}, RSS ${R_RSS[$key]} MiB; ${R_NOTE[$key]}"
    fi
  done
  T_SC[$sc]=$(($(date +%s) - t0))
  log "scenario $sc took ${T_SC[$sc]} s"
done
bench_usage_end "servers and rackboot-load"

# ---------------------------------------------------------------------------------------------
# Report.
verdict() { # verdict VALUE OP LIMIT
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { if (v == "–" || v == "") print "not measured"; else if ((op == ">=" && v + 0 >= l) || (op == "<=" && v + 0 <= l) || (op == "<" && v + 0 < l)) print "**met**"; else print "**missed**" }'
}
# The lock-step targets (issue 17) and the floor ratios, for the lock-step scenarios that ran.
lockstep_targets() {
  local sc any=0
  for sc in "${SCENARIOS[@]}"; do [[ ${SC_LOCK[$sc]} -eq 1 ]] && any=1; done
  [[ $any -eq 1 ]] || return 0
  echo "Targets (issue 17), lock-step:"
  echo
  if [[ -n ${SC_CLIENTS[L1432]:-} ]]; then
    local b="L1432|rackbootd" rd n=${SC_CLIENTS[L1432]} p99 few=""
    rd=$(ratio "${R_CPUG[$b]:-}" "${R_CPUG[L1432|dnsmasq]:-}")
    [[ -n ${R_FAIL[$b]-x} || -n ${R_FAIL[L1432|dnsmasq]-x} ]] && rd="–"
    p99=${R_FB99[$b]:-–}
    [[ -n ${R_FAIL[$b]-x} ]] && p99="–"
    [[ $n -ne 1000 ]] && few=" (this run had $(fmt_rate "$n") clients, not the target's 1,000: not a verdict on the target)"
    echo "- Scenario L1432 ($(fmt_rate "$n") lock-step clients × $LOCK_MIB MiB, blksize 1432): server CPU per GiB at most 0.5× dnsmasq's: rackbootd ${R_CPUG[$b]:-–} vs dnsmasq ${R_CPUG[L1432|dnsmasq]:-–} CPU-s/GiB, ratio $rd: $(verdict "$rd" "<=" 0.5)$few."
    echo "- RRQ→first DATA p99 under 10 ms while $(fmt_rate "$n") transfers run (scenario L1432, rackbootd): ${p99} ms: $(verdict "$p99" "<" 10)$few."
  fi
  for sc in "${SCENARIOS[@]}"; do
    [[ ${SC_LOCK[$sc]} -eq 1 ]] || continue
    local b="$sc|rackbootd" f="$sc|floor" rf
    rf=$(ratio "${R_CPUG[$b]:-}" "${R_CPUG[$f]:-}")
    [[ -n ${R_FAIL[$b]-x} || -n ${R_FAIL[$f]-x} ]] && rf="–"
    echo "- Scenario $sc, rackbootd's CPU/GiB ÷ the floor's: ${R_CPUG[$b]:-–} ÷ ${R_CPUG[$f]:-–} = **$rf** (stated, no target); MiB/s ${R_MIBS[$b]:-–} vs ${R_MIBS[$f]:-–}; RRQ→first DATA p99 ${R_FB99[$b]:-–} vs ${R_FB99[$f]:-–} ms."
  done
  echo "- A missed target stays in the table; a run that stopped at its cap (${LOCK_CAP} s) is measured by what it delivered in that time."
  echo
}

make_report() {
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`./rackboot bench tftp\` (bench/tftp_load.sh, ${T_TOTAL} s)."
  echo
  echo "- Machine: $(machine_desc); servers and rackboot-load share the CPUs. $SHARED"
  echo "- rackbootd and rackboot-load: commit $RB_COMMIT, \`bazel build -c opt\`; rackbootd \`--threads=$NPROC --tftp_max_per_client=0\` (the load clients share one address)."
  echo "- Peers: atftpd $(dpkg-deb -f "$ATFTPD_DEB" Version) (unpacked .deb), tftpd-hpa $(version_of tftpd-hpa), dnsmasq-base $(version_of dnsmasq-base)."
  echo "- Load: rackboot-load in its own namespace (198.18.0.2) over a veth pair to the server's (198.18.0.1:69); every client on its own socket, all started at once, spread over $LOAD_THREADS load threads (\`--threads\`, so that one receiving thread is not the limit of the fastest server); every byte of every step compared with the file served (\`--verify\`, one file per step); client timeout 1 s, 5 retries. Each run is capped at ${CAP} s (windowed) or ${LOCK_CAP} s (lock-step) (\`--duration\`); clients still running then count as failed."
  echo "- Lock-step: \`--windowsize=1\`, so the RRQ asks no windowsize and every block is a round trip, as a PXE ROM, iPXE or pxelinux reads. The RRQ asks tsize always and blksize unless 512 (as firmware does), so each server answers with an OACK and waits for ACK 0 before DATA 1."
  echo "- Floor: \`bench/lockstep_floor_responder\` ($NPROC threads sharing nothing, SO_REUSEPORT on port 69, epoll): RRQ in, the file mapped once, an OACK for blksize and tsize, then ACK n in, DATA n+1 out (the header and the mapped bytes), nothing else: no retransmit timer, no log, no limits. Each thread serves all its transfers from one socket whose port is their server TID (each client's TID is its own, so this is valid TFTP), so one recvmmsg takes up to 256 ACKs and one sendmmsg sends the next blocks: the fewest system calls per block plain sockets allow. rackbootd's CPU/GiB ÷ the floor's is stated per lock-step scenario, and the floor's RRQ→first DATA shows what the shared cores and the load tool add to any server's."
  echo "- MiB/s: bytes received by all clients ÷ the run's wall time (first RRQ to last client done, or the cap). Client ms: one client's time for all its steps, p50 / p99 / max."
  echo "- RRQ→first DATA (block 1) ms: per download, from its first RRQ leaving rackboot-load (a retransmitted RRQ does not restart it) to DATA block 1 arriving, which after the OACK includes the ACK 0 round trip; p50 / p99 over every download that got block 1 (one per client, four per client in chain). All clients start at once, so it includes the server's queue of RRQs while the other transfers run."
  echo "- Server CPU: $CPU_METHOD over the run (children included), per GiB received by the clients. Over veth the sender's CPU includes much of the delivery into the receiving namespace. Peak RSS: the listener's VmHWM or the sampled sum over the server's processes, whichever is larger; anonymous memory (sampled every 0.1 s) in brackets; rackbootd's counts the mapped files' shared page-cache pages."
  echo "- Ratios: rackbootd's MiB/s ÷ this row's (above 1: rackbootd faster) and rackbootd's CPU-s/GiB ÷ this row's (below 1: rackbootd cheaper)."
  echo
  echo "Scenarios:"
  echo
  local sc
  for sc in "${SCENARIOS[@]}"; do echo "- ${SC_TITLE[$sc]} (${T_SC[$sc]} s for all servers)"; done
  echo
  echo "| scenario | server | clients done | wall s | MiB/s | client ms p50 / p99 / max | RRQ→first DATA (block 1) ms p50 / p99 | server CPU-s | server CPU-s/GiB | peak RSS MiB (anon) | rackbootd ÷ this, MiB/s | rackbootd ÷ this, CPU/GiB | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  local name key base
  for sc in "${SCENARIOS[@]}"; do
    base="$sc|rackbootd"
    for name in "${SERVERS[@]}"; do
      key="$sc|$name"
      [[ -n ${R_FAIL[$key]+x} ]] || continue # not run (the floor in a windowed scenario)
      if [[ -n ${R_FAIL[$key]} ]]; then
        echo "| $sc | ${LABEL[$name]} | FAILED | – | – | – | – | – | – | – | – | – | ${R_FAIL[$key]//|/\\|} |"
        continue
      fi
      local rt="–" rc="–"
      if [[ $name != rackbootd && -z ${R_FAIL[$base]-x} ]]; then
        rt=$(ratio "${R_MIBS[$base]}" "${R_MIBS[$key]}")
        rc=$(ratio "${R_CPUG[$base]}" "${R_CPUG[$key]}")
      fi
      echo "| $sc | ${LABEL[$name]} | ${R_DONE[$key]} | ${R_WALL[$key]} | ${R_MIBS[$key]} | ${R_LAT[$key]} | ${R_FB[$key]} | ${R_CPU[$key]} | ${R_CPUG[$key]} | ${R_RSS[$key]} | $rt | $rc | ${R_NOTE[$key]//|/\\|} |"
    done
  done
  echo
  if [[ -n ${SC_CLIENTS[k]:-} ]]; then
    local b="k|rackbootd" ra rd
    ra=$(ratio "${R_MIBS[$b]:-}" "${R_MIBS[k|atftpd]:-}")
    rd=$(ratio "${R_MIBS[$b]:-}" "${R_MIBS[k|dnsmasq]:-}")
    [[ -n ${R_FAIL[$b]-x} ]] && ra="–" rd="–"
    [[ -n ${R_FAIL[k|atftpd]-x} ]] && ra="–"
    [[ -n ${R_FAIL[k|dnsmasq]-x} ]] && rd="–"
    atftpd_short=""
    if [[ -n ${R_DONE[k|atftpd]:-} && ${R_DONE[k|atftpd]} != "$MANY / $MANY" ]]; then
      atftpd_short=" atftpd completed ${R_DONE[k|atftpd]} clients (its row says why), so the ratio compares rackbootd with what atftpd delivered before it stopped."
    fi
    echo "Targets (issue 6), scenario k ($(fmt_rate "$MANY") concurrent windowed clients):"
    echo
    echo "- Aggregate throughput at least 3× atftpd's: rackbootd ${R_MIBS[$b]:-–} vs atftpd ${R_MIBS[k|atftpd]:-–} MiB/s, ratio $ra: $(verdict "$ra" ">=" 3).$atftpd_short"
    echo "- Aggregate throughput at least 8× dnsmasq's: rackbootd ${R_MIBS[$b]:-–} vs dnsmasq ${R_MIBS[k|dnsmasq]:-–} MiB/s, ratio $rd: $(verdict "$rd" ">=" 8)."
    echo "- Server CPU at most 0.2 s per GiB served: rackbootd ${R_CPUG[$b]:-–} CPU-s/GiB: $(verdict "${R_CPUG[$b]:-–}" "<=" 0.2)."
    echo "- A run that stopped at the cap makes its server's figure a rate over the cap (bytes it delivered in ${CAP} s), so a ratio against it is what the peer managed in that time."
    echo
  fi
  lockstep_targets
  echo "Server command lines (\`DIR\` is the served directory; each alone in the servers' namespace):"
  echo
  echo '```'
  for name in "${SERVERS[@]}"; do
    server_cmd "$name" | sed -e "s|$WORK/root|DIR|g" -e "s|$RB|rackbootd|" -e "s|$FLOOR|bench/lockstep_floor_responder|" -e "s|$PEERS_DIR/|~/.cache/rackboot/peers/|" -e "s|$IF_S|IF|g"
  done
  echo '```'
  echo
  echo "Load (N, FLOW, VERIFY, B, W and CAP per scenario; under \`timeout CAP+30\`):"
  echo
  echo '```'
  echo "rackboot-load --server=$SERVER_ADDR --clients=N --duration=CAP --flow=FLOW --blksize=B --windowsize=W --verify=VERIFY --tftp_timeout=1s --tftp_retries=5 --threads=$LOAD_THREADS --json=OUT"
  echo '```'
  echo
  for sc in "${SCENARIOS[@]}"; do
    echo "- $sc: N ${SC_CLIENTS[$sc]}, FLOW \`$(flow_of "$sc")\`, VERIFY \`$(verify_of "$sc" DIR)\`, B ${SC_BLKSIZE[$sc]}, W ${SC_WINDOW[$sc]}, CAP ${SC_CAP[$sc]}"
  done
  [[ -n ${SC_CLIENTS[chain]:-} ]] && echo "- chain's pxelinux.0 and ldlinux.c32: $CHAIN_SOURCE."
  return 0
}

REPORT=$(make_report)
printf '%s\n' "$REPORT"
if [[ $WRITE_DOC -eq 1 ]]; then
  printf '%s\n' "$REPORT" >"$WORK/section.md"
  bench_write_doc tftp-load "$WORK/section.md" "TFTP under rackboot-load: hundreds of clients, rackbootd beside atftpd, tftp-hpa and dnsmasq"
fi
