#!/usr/bin/env bash
# bench/metrics_overhead.sh: what the metrics cost the packet paths (issue 13's target: at most
# 2% of throughput). Two builds of rackbootd with -c opt: with the metric cells (as shipped) and
# with every cell write compiled out (--copt=-DRACKBOOT_METRICS_OFF; see
# engine/metrics/metrics_registry.h), run one after the other on the same loopback in a network
# namespace, in three modes:
#   off     the build without cells, never scraped;
#   on      the shipped build, never scraped;
#   scrape  the shipped build with GET /metrics every second during the load (the readers'
#           cost: collectors, /proc reads, the text).
# Workloads, each on a fresh daemon (--threads=NPROC), modes interleaved per repetition:
#   tftp    CLIENTS x FILE_MIB MiB at once, atftp, blksize 1468, windowsize 16 (per window the
#           shard adds bytes, datagrams and retransmits to its cells);
#   tftp1   CLIENTS x FILE_MIB MiB at once, curl in lock-step (one datagram per window: the
#           most cell writes per byte);
#   http    CLIENTS x (4 x FILE_MIB MiB) at once over HTTP, curl (cells per response).
# Reports the median MiB/s and server CPU seconds per GiB of REPS runs, and each mode's change
# against "off". Prints a markdown table; unless --no-doc, rewrites the section between
# <!-- metrics-overhead:begin --> and <!-- metrics-overhead:end --> of docs/benchmarks.md.
# Root (namespaces, cgroups). About 5 minutes on 2 cores with the defaults.
# Environment: RACKBOOT_BENCH_FILE_MIB (32), RACKBOOT_BENCH_CLIENTS (8), RACKBOOT_BENCH_REPS (3).
set -euo pipefail
BENCH_TAG=metrics-overhead
source "$(dirname "$0")/lib.sh"
WRITE_DOC=1
[[ ${1:-} == --no-doc ]] && WRITE_DOC=0
FILE_MIB=${RACKBOOT_BENCH_FILE_MIB:-32}
CLIENTS=${RACKBOOT_BENCH_CLIENTS:-8}
REPS=${RACKBOOT_BENCH_REPS:-3}
bench_require atftp curl ip
bench_init

WORK=$(bench_workdir rackboot-metrics-bench)
bench_track_dir "$WORK"
NS=rbmetrics$$

# The two builds, each copied aside (the second build replaces bazel-bin's binary).
bin=$(bench_build //engine:rackbootd)
RB_ON=$(bench_copy_binary "$bin/engine/rackbootd" "$WORK")
mv "$RB_ON" "$WORK/rackbootd-on"
RB_ON=$WORK/rackbootd-on
bin=$(bench_build --copt=-DRACKBOOT_METRICS_OFF //engine:rackbootd)
mv "$(bench_copy_binary "$bin/engine/rackbootd" "$WORK")" "$WORK/rackbootd-off"
RB_OFF=$WORK/rackbootd-off
COMMIT=$(bench_commit engine)

FILE=f${FILE_MIB}m.bin
HFILE=h$((FILE_MIB * 4))m.bin
mkdir -m 755 "$WORK/root" "$WORK/out"
head -c $((FILE_MIB << 20)) /dev/urandom >"$WORK/root/$FILE"
head -c $((FILE_MIB * 4 << 20)) /dev/urandom >"$WORK/root/$HFILE"
chmod 644 "$WORK/root/"*
cat "$WORK/root/"* >/dev/null
bench_netns "$NS"
bench_cgroups rackboot-metrics-bench

# run_load KIND: CLIENTS downloads at once in the namespace; sets RUN_NS (elapsed) and RUN_BYTES;
# fails the benchmark when a download is short.
run_load() {
  local kind=$1 file=$FILE i pids=() start end size fail=0
  [[ $kind == http ]] && file=$HFILE
  rm -f "$WORK/out/"*
  start=$(date +%s%N)
  for i in $(seq "$CLIENTS"); do
    case $kind in
      tftp) cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS" timeout 120 atftp \
        --option "blksize 1468" --option "windowsize 16" --get -r "$file" -l "$WORK/out/o.$i" \
        127.0.0.1 6901 >/dev/null 2>&1 & ;;
      tftp1) cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS" timeout 120 curl -sS \
        --tftp-blksize 1468 -o "$WORK/out/o.$i" "tftp://127.0.0.1:6901/$file" & ;;
      http) cg_exec "${CG_PARENT:+$CG_PARENT/clients}" ip netns exec "$NS" timeout 120 curl -sS \
        -o "$WORK/out/o.$i" "http://127.0.0.1:8091/boot/$file" & ;;
    esac
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail=$((fail + 1)); done
  end=$(date +%s%N)
  RUN_NS=$((end - start))
  RUN_BYTES=0
  for i in $(seq "$CLIENTS"); do
    size=$(stat -c %s "$WORK/out/o.$i" 2>/dev/null || echo 0)
    [[ $size -eq $(stat -c %s "$WORK/root/$file") ]] || die "$kind: download $i short ($size bytes)"
    RUN_BYTES=$((RUN_BYTES + size))
  done
  ((fail == 0)) || die "$kind: $fail clients failed"
}

declare -A MIBS CPUG
KINDS=(tftp tftp1 http)
MODES=(off on scrape)
for rep in $(seq "$REPS"); do
  for mode in "${MODES[@]}"; do
    rb=$RB_ON
    [[ $mode == off ]] && rb=$RB_OFF
    for kind in "${KINDS[@]}"; do
      SERVER_PORTS=(6901)
      server_spawn "rackbootd-$mode" "$mode-$kind-$rep" "$NS" "$WORK/rb.out" "$WORK/rb.log" \
        "$rb" --tftp_root="$WORK/root" --tftp_listen=127.0.0.1:6901 \
        --http_listen=127.0.0.1:8091 --threads="$NPROC" --tftp_max_per_client=0 \
        --minloglevel=1 || die "rackbootd ($mode) did not start"
      scraper=""
      if [[ $mode == scrape ]]; then
        ip netns exec "$NS" bash -c 'while :; do curl -s -o /dev/null http://127.0.0.1:8091/metrics; sleep 1; done' &
        scraper=$!
        bench_track_pid "$scraper"
      fi
      cpu0=$(server_cpu_usec)
      run_load "$kind"
      cpu1=$(server_cpu_usec)
      if [[ -n $scraper ]]; then kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; fi
      stop_server
      MIBS[$kind|$mode|$rep]=$(awk -v b="$RUN_BYTES" -v ns="$RUN_NS" 'BEGIN {printf "%.1f", b / 1048576 / (ns / 1e9)}')
      CPUG[$kind|$mode|$rep]=$(awk -v c=$((cpu1 - cpu0)) -v b="$RUN_BYTES" 'BEGIN {printf "%.3f", c / 1e6 / (b / 1073741824)}')
      log "rep $rep $mode $kind: ${MIBS[$kind|$mode|$rep]} MiB/s, ${CPUG[$kind|$mode|$rep]} CPU-s/GiB"
    done
  done
done

median() { tr ' ' '\n' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
declare -A TITLE=(
  [tftp]="tftp: $CLIENTS × $FILE_MIB MiB, atftp windowsize 16"
  [tftp1]="tftp1: $CLIENTS × $FILE_MIB MiB, curl lock-step"
  [http]="http: $CLIENTS × $((FILE_MIB * 4)) MiB, curl")
report=$WORK/report.md
{
  echo "\`bench/metrics_overhead.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT, $(machine_desc)):"
  echo "rackbootd -c opt with the metric cells (on, scrape: GET /metrics every second during the"
  echo "load) and with every cell write compiled out (off, \`--copt=-DRACKBOOT_METRICS_OFF\`); median of"
  echo "$REPS runs each, modes interleaved, a fresh daemon per run, loopback in a namespace. Server CPU"
  echo "from cgroup v2 cpu.stat."
  echo
  echo "| workload | mode | MiB/s | vs off | server CPU-s/GiB | vs off |"
  echo "|---|---|---:|---:|---:|---:|"
  for kind in "${KINDS[@]}"; do
    base_m="" base_c=""
    for mode in "${MODES[@]}"; do
      m=$(for r in $(seq "$REPS"); do echo -n "${MIBS[$kind|$mode|$r]} "; done | median)
      c=$(for r in $(seq "$REPS"); do echo -n "${CPUG[$kind|$mode|$r]} "; done | median)
      [[ $mode == off ]] && base_m=$m base_c=$c
      dm=$(awk -v a="$m" -v b="$base_m" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}')
      dc=$(awk -v a="$c" -v b="$base_c" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}')
      echo "| ${TITLE[$kind]} | $mode | $m | $dm | $c | $dc |"
    done
  done
} >"$report"
cat "$report"
if [[ $WRITE_DOC -eq 1 ]]; then
  bench_write_doc metrics-overhead "$report" "Metrics: the packet paths with and without metrics"
fi
