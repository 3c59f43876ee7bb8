#!/usr/bin/env bash
# bench/send_path.sh: the send path for file bytes, copy against zero copy, as the sending
# process's CPU-s per GiB (`./rackboot bench send`). Needs root (network namespaces).
#
# UDP (TFTP's DATA windows): bench/send_path sends GSO windows of 4-byte header + 1432-byte
# file slice datagrams from a mmap'd 256 MiB file to 198.18.0.2 through a netdev that frees
# every packet it is given, in a namespace of its own (a static neighbour entry, no ARP). Only
# the send path costs CPU: no receiver, no delivery copy. The device is `dummy` where the kernel
# has it, else `ifb` (an ifb device frees, uncounted as sent, every packet not redirected to it
# by tc: a dummy in effect, with the same offload features: SG, HW checksum, software GSO).
#
# TCP (HTTP's file bodies): one connection over a veth pair into a second namespace, where a
# sink reads and discards. A TCP sender needs a peer for its ACKs, so it cannot use the dummy;
# veth rather than loopback so that the receiver is a different device and namespace, as for a
# real client. The sender's CPU includes the veth delivery the kernel runs in its context
# (softirq), but not the receiver's copy to user space (the sink's process).
#
# Each mode runs RACKBOOT_BENCH_REPS times (default 3) for RACKBOOT_SEND_SECONDS (default 2) s,
# the modes interleaved; the table shows the medians. Rewrites the section send-path of
# docs/benchmarks.md (--no-doc: print only).
set -euo pipefail
BENCH_TAG=send-path
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRITE_DOC=1
for arg in "$@"; do
  case $arg in
    --no-doc) WRITE_DOC=0 ;;
    *) die "unknown argument $arg (usage: send_path.sh [--no-doc])" ;;
  esac
done
REPS=${RACKBOOT_BENCH_REPS:-3}
SECONDS_PER_RUN=${RACKBOOT_SEND_SECONDS:-2}

bench_require ip
bench_init
WORK=$(bench_workdir rackboot-send-path)
bench_track_dir "$WORK"
BIN_DIR=$(bench_build //bench:send_path)
BIN=$(bench_copy_binary "$BIN_DIR/bench/send_path" "$WORK")
FILE=$WORK/file.bin
head -c $((256 << 20)) /dev/urandom >"$FILE"
cat "$FILE" >/dev/null # in the page cache before the first run

NS_U=rbsend-$$-u
NS_S=rbsend-$$-s
NS_C=rbsend-$$-c
bench_netns "$NS_U"
if ip -n "$NS_U" link add d0 type dummy 2>/dev/null; then
  SINK_DEV=dummy
elif ip -n "$NS_U" link add d0 type ifb 2>/dev/null; then
  SINK_DEV=ifb
else
  die "the kernel has neither dummy nor ifb netdevs"
fi
ip -n "$NS_U" addr add 198.18.0.1/24 dev d0
ip -n "$NS_U" link set d0 up
ip -n "$NS_U" neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent
bench_netns_pair "$NS_S" "$NS_C" rbs0 rbc0 198.18.1.1/24 198.18.1.2/24
ip netns exec "$NS_C" "$BIN" --mode=tcp-sink --dst=198.18.1.2:8080 &
bench_track_pid $!

# Rows: "label|protocol|what is copied|send_path arguments".
ROWS=(
  "udp-sendmsg 45|UDP|copy|--mode=udp-sendmsg --segments=45"
  "udp-uring 45|UDP|copy (the reactor today)|--mode=udp-uring --segments=45"
  "udp-sendmsg 7|UDP|copy|--mode=udp-sendmsg --segments=7"
  "udp-uring 7|UDP|copy|--mode=udp-uring --segments=7"
  "udp-uring-zc 7|UDP|zero copy|--mode=udp-uring-zc --segments=7"
  "udp-msg-zerocopy 7|UDP|zero copy|--mode=udp-msg-zerocopy --segments=7"
  "udp-uring-zc 45|UDP|zero copy|--mode=udp-uring-zc --segments=45"
  "udp-uring 1|UDP|copy|--mode=udp-uring --segments=1"
  "udp-uring-zc 1|UDP|zero copy|--mode=udp-uring-zc --segments=1"
  "tcp-write|TCP|copy|--mode=tcp-write"
  "tcp-sendfile|TCP|no CPU copy|--mode=tcp-sendfile"
  "tcp-uring-zc|TCP|zero copy|--mode=tcp-uring-zc"
)
RESULTS=$WORK/results.txt
: >"$RESULTS"
for rep in $(seq 1 "$REPS"); do
  for row in "${ROWS[@]}"; do
    IFS='|' read -r label proto _ args <<<"$row"
    if [[ $proto == UDP ]]; then
      ns=$NS_U dst=198.18.0.2:69
    else
      ns=$NS_S dst=198.18.1.2:8080
    fi
    # shellcheck disable=SC2086 # args is a word list
    line=$(ip netns exec "$ns" "$BIN" $args --file="$FILE" --dst="$dst" \
      --seconds="$SECONDS_PER_RUN" || true)
    log "run $rep: $label: ${line:-no output}"
    echo "label=${label// /_} $line" >>"$RESULTS"
  done
done

# The median of field F of label L's runs that sent something.
median() {
  awk -v l="${1// /_}" -v f="$2" '
    { delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (v["label"] == l && v[f] != "" && v["bytes"] + 0 > 0) x[n++] = v[f] + 0 }
    END { if (n == 0) { print "–"; exit }
          for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
          printf "%.2f\n", x[int(n / 2)] }' "$RESULTS"
}
# Sum of field F over label L's runs.
total() {
  awk -v l="${1// /_}" -v f="$2" '
    { delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (v["label"] == l) s += v[f] }
    END { printf "%d", s }' "$RESULTS"
}
first_error() {
  awk -v l="${1// /_}" '
    { delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (v["label"] == l && v["first_error"] != "-" && e == "") e = v["first_error"] }
    END { print e }' "$RESULTS"
}

REPORT=$WORK/report.md
{
  echo "Command: \`./rackboot bench send\` (bench/send_path.sh, bench/send_path.cc), commit $(bench_commit bench engine)."
  echo "Machine: $(machine_desc). $REPS runs of $SECONDS_PER_RUN s per mode, interleaved; medians."
  echo "UDP: to the \`$SINK_DEV\` netdev that frees every packet (send path only), TFTP DATA"
  echo "datagrams of 4 + 1432 bytes, N per GSO sendmsg, from a mmap'd 256 MiB file in the page"
  echo "cache. TCP: one connection over veth to a discarding reader in another namespace, 256 KiB"
  echo "per call. CPU: the sender's process (getrusage), kernel time included."
  echo
  echo "| Protocol | Mode | Per send | File bytes | GiB/s | CPU-s per GiB | Sends failed | Kernel copied anyway |"
  echo "|---|---|---|---|---:|---:|---|---|"
  for row in "${ROWS[@]}"; do
    IFS='|' read -r label proto what _ <<<"$row"
    mode=${label%% *}
    per=${label#* }
    [[ $per == "$label" ]] && per="256 KiB"
    [[ $proto == UDP ]] && per="$per datagram$([[ $per == 1 ]] || echo s)"
    sends=$(total "$label" sends)
    errors=$(total "$label" errors)
    err=""
    [[ $errors -gt 0 ]] && err="$errors of $((sends + errors)) ($(first_error "$label"))"
    notifs=$(total "$label" notifs)
    copied=$(total "$label" copied_notifs)
    anyway="–"
    [[ $notifs -gt 0 ]] && anyway="$copied of $notifs notifications"
    echo "| $proto | \`$mode\` | $per | $what | $(median "$label" gib_per_s) | $(median "$label" cpu_s_per_gib) | ${err:-0} | $anyway |"
  done
} >"$REPORT"
cat "$REPORT"
if [[ $WRITE_DOC -eq 1 ]]; then
  bench_write_doc send-path "$REPORT" "Send path: copy vs zero copy (UDP GSO windows, TCP file bodies)"
fi
