#!/usr/bin/env bash
# Real HTTP clients against rackbootd (issue 12), in a network namespace of its own (loopback
# only, so fixed ports collide with nothing):
#  A) the command line the issue fixes, no config file:
#       rackbootd --tftp_root=DIR --tftp_listen=127.0.0.1:1069 --http_listen=127.0.0.1:8080
#                 --dhcp_mode=off
#     curl and wget download whole files (sha256 equal, 64 MiB too); HEAD; Range 206/416;
#     ETag/Last-Modified and 304; Content-Type and Content-Length; keep-alive (curl's
#     num_connects); pipelining; every bad input of the issue over a raw socket
#     (tests/http/http_raw.py); clients vanishing mid-file; 2,000 idle keep-alive connections
#     while curl still downloads at full speed; one escaped log line per response; RssAnon and
#     descriptors back near their baseline afterwards; a clean SIGTERM.
#  B) a site.toml with [http] listen, repo_root, max_connections, header_timeout_ms and
#     idle_timeout_ms, and a host with a reservation: /repo/ files; per-host rendered files only
#     to their host (curl --interface from the reserved address and from another); slowloris,
#     endless headers, a silent client and an idle keep-alive connection closed within their
#     timeouts; 503 past max_connections.
# Usage: http_clients_test.sh RACKBOOTD IO_BACKEND (uring | epoll)
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
io=$2
here=$(cd "$(dirname "$0")" && pwd)
raw="$here/http_raw.py"

# Re-run inside a fresh network namespace; delete it whatever happens.
if [[ -z ${RB_HTTP_TEST_NS:-} ]]; then
  [[ $EUID -eq 0 ]] || { echo "needs root (a network namespace)" >&2; exit 1; }
  ns="rbhttp$$"
  ip netns add "$ns"
  rc=0
  RB_HTTP_TEST_NS=$ns ip netns exec "$ns" bash "$0" "$@" || rc=$?
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
fi
ip link set lo up
for a in 1 41 77; do ip addr add "198.18.0.$a/16" dev lo; done

work=$(mktemp -d /tmp/rackboot-http-test.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[http_clients %s %(%H:%M:%S)T] %s\n' "$io" -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$work"/rb-*.log; do
    [[ -e $f ]] || continue
    echo "--- $(basename "$f") (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}
for c in curl wget python3 sha256sum; do command -v $c >/dev/null || fail "missing $c"; done

root=$work/root
repo=$work/repo
mkdir -p "$root/pxelinux.cfg" "$root/dir" "$repo/dists/stable" "$work/out" "$work/state" \
  "$work/outside"
: >"$root/empty"
printf 'x' >"$root/one"
head -c 511 /dev/urandom >"$root/b511"
head -c $((200 * 1024)) /dev/urandom >"$root/pxelinux.cfg/default"
head -c $((3 << 20)) /dev/urandom >"$root/initrd.img"
head -c $((1 << 20)) /dev/urandom >"$root/vmlinuz"
echo pxelinux >"$root/pxelinux.0"
echo '#!ipxe' >"$root/boot.ipxe"
head -c $((64 << 20)) /dev/urandom >"$root/big64m"
head -c 777777 /dev/urandom >"$repo/dists/stable/Release"
secret="SECRET-$RANDOM$RANDOM"
echo "$secret" >"$work/secret"
echo "$secret" >"$work/outside/secret"
ln -s ../secret "$root/escape-link"
ln -s ../outside "$root/escape-dir"
ln -s one "$root/inside-link"
mknod "$root/zero" c 1 5
chmod -R a+rX "$root" "$repo"

# start NAME ARGS...: rackbootd in the background; waits (bounded) for its ready line.
declare -A rb_pid=()
start() {
  local name=$1
  shift
  "$rackbootd" --io="$io" --threads=2 "$@" >"$work/rb-$name.out" 2>"$work/rb-$name.log" </dev/null &
  rb_pid[$name]=$!
  pids+=("$!")
  for _ in $(seq 100); do
    grep -q '^rackbootd: ready' "$work/rb-$name.out" && break
    kill -0 "${rb_pid[$name]}" 2>/dev/null || fail "rackbootd ($name) exited at start"
    sleep 0.1
  done
  grep -q '^rackbootd: ready.*HTTP on ' "$work/rb-$name.out" ||
    fail "rackbootd ($name): no 'HTTP on' in its ready line: $(cat "$work/rb-$name.out")"
  if [[ $io == epoll ]]; then
    grep -q 'on epoll' "$work/rb-$name.log" || fail "--io=epoll not honoured"
  fi
}
stop() {
  local name=$1 pid=${rb_pid[$1]}
  kill -TERM "$pid"
  timeout 10 tail --pid="$pid" -f /dev/null || fail "rackbootd ($name) ignored SIGTERM"
  wait "$pid" || fail "rackbootd ($name) did not exit cleanly on SIGTERM"
}
fds() { ls "/proc/$1/fd" | wc -l; }
rss_anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

################################################################################################
log "A) rackbootd --tftp_root=DIR --tftp_listen=127.0.0.1:1069 --http_listen=127.0.0.1:8080 --dhcp_mode=off"
start a --tftp_root="$root" --tftp_listen=127.0.0.1:1069 --http_listen=127.0.0.1:8080 \
  --dhcp_mode=off
pid=${rb_pid[a]}
url=http://127.0.0.1:8080/boot
responses=0

log "whole files: curl and wget"
for f in empty one b511 pxelinux.cfg/default initrd.img inside-link big64m; do
  n=${f//\//_}
  timeout 60 curl -sS --fail -o "$work/out/curl-$n" "$url/$f" || fail "curl $f"
  [[ $(sha "$work/out/curl-$n") == $(sha "$root/$f") ]] || fail "curl $f: sha256 differs"
  timeout 60 wget -q -O "$work/out/wget-$n" "$url/$f" || fail "wget $f"
  [[ $(sha "$work/out/wget-$n") == $(sha "$root/$f") ]] || fail "wget $f: sha256 differs"
  responses=$((responses + 2))
  rm -f "$work/out/curl-$n" "$work/out/wget-$n"
done
# Also over TFTP from the same daemon: both services on one FileCache.
timeout 30 curl -sS -o "$work/out/tftp-b511" "tftp://127.0.0.1:1069/b511" || fail "tftp b511"
cmp -s "$work/out/tftp-b511" "$root/b511" || fail "tftp b511 differs"
# Baselines, after the first downloads (FileCache and the shards are warm).
base_fds=$(fds "$pid")
base_rss=$(rss_anon_kib "$pid")
log "baseline: $base_fds descriptors, RssAnon $base_rss KiB"

log "HEAD, Content-Type, Content-Length, ETag, Last-Modified"
curl -sS -I "$url/initrd.img" | tr -d '\r' >"$work/head"
responses=$((responses + 1))
grep -q '^HTTP/1.1 200' "$work/head" || fail "HEAD: $(cat "$work/head")"
grep -qi "^content-length: $((3 << 20))$" "$work/head" || fail "HEAD: Content-Length wrong: $(cat "$work/head")"
grep -qi '^content-type: .' "$work/head" || fail "HEAD: no Content-Type"
grep -qi '^accept-ranges: bytes' "$work/head" || fail "HEAD: no Accept-Ranges: bytes"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: //p' "$work/head")
lastmod=$(sed -n 's/^[Ll]ast-[Mm]odified: //p' "$work/head")
[[ -n $etag && -n $lastmod ]] || fail "HEAD: no ETag or Last-Modified: $(cat "$work/head")"
curl -sS -D "$work/get-head" -o /dev/null "$url/boot.ipxe"
grep -qi '^content-length: 7' "$work/get-head" || fail "GET: no Content-Length: $(cat "$work/get-head")"
grep -qi '^content-type: .' "$work/get-head" || fail "GET: no Content-Type"
responses=$((responses + 1))

log "Range: 206 and 416"
code=$(curl -sS -r 0-99 -o "$work/out/r1" -D "$work/rh" -w '%{http_code}' "$url/initrd.img")
[[ $code == 206 ]] || fail "Range 0-99: $code"
cmp -s "$work/out/r1" <(head -c 100 "$root/initrd.img") || fail "Range 0-99: wrong bytes"
grep -qi "^content-range: bytes 0-99/$((3 << 20))" "$work/rh" || fail "Range 0-99: $(cat "$work/rh")"
code=$(curl -sS -r 1000000- -o "$work/out/r2" -w '%{http_code}' "$url/initrd.img")
[[ $code == 206 ]] || fail "Range 1000000-: $code"
cmp -s "$work/out/r2" <(tail -c +1000001 "$root/initrd.img") || fail "Range 1000000-: wrong bytes"
code=$(curl -sS -r -500 -o "$work/out/r3" -w '%{http_code}' "$url/initrd.img")
[[ $code == 206 ]] || fail "Range -500 (suffix): $code"
cmp -s "$work/out/r3" <(tail -c 500 "$root/initrd.img") || fail "Range -500: wrong bytes"
code=$(curl -sS -r 99999999-100000000 -o /dev/null -D "$work/rh" -w '%{http_code}' "$url/initrd.img")
[[ $code == 416 ]] || fail "Range past the end: $code, expected 416"
grep -qi "^content-range: bytes \*/$((3 << 20))" "$work/rh" || fail "416 without Content-Range: bytes */size"
# wget -c resumes with a Range request.
head -c 1234567 "$root/big64m" >"$work/out/resume"
timeout 60 wget -q -c -O "$work/out/resume" "$url/big64m" || fail "wget -c"
[[ $(sha "$work/out/resume") == $(sha "$root/big64m") ]] || fail "wget -c: sha256 differs"
rm -f "$work/out/resume"
responses=$((responses + 5))

log "conditional requests: 304"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url/initrd.img")
[[ $code == 304 ]] || fail "If-None-Match $etag: $code, expected 304"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lastmod" "$url/initrd.img")
[[ $code == 304 ]] || fail "If-Modified-Since $lastmod: $code, expected 304"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$url/initrd.img")
[[ $code == 200 ]] || fail "If-None-Match other: $code, expected 200"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT' \
  "$url/initrd.img")
[[ $code == 200 ]] || fail "If-Modified-Since 1970: $code, expected 200"
responses=$((responses + 4))

log "keep-alive: curl fetches four URLs over one connection"
connects=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' \
  "$url/one" "$url/b511" "$url/vmlinuz" "$url/pxelinux.cfg/default" | awk '{s += $1} END {print s}')
[[ $connects == 1 ]] || fail "four URLs took $connects connections, expected 1"
responses=$((responses + 4))

log "pipelining"
python3 "$raw" pipeline 127.0.0.1 8080 "$root" || fail "pipelining"
responses=$((responses + 5))

log "bad input over a raw socket"
python3 "$raw" badinput 127.0.0.1 8080 "$secret" >"$work/bad.out" || {
  cat "$work/bad.out" >&2
  fail "bad input"
}
log "$(grep -c '^ok' "$work/bad.out") bad-input checks passed"
grep -q 'FORGED-LINE' "$work/rb-a.log" || fail "the request with a newline was not logged"
grep -q '^FORGED-LINE' "$work/rb-a.log" && fail "a file name with a newline forged a log line"
grep -qP '\x1b' "$work/rb-a.log" && fail "an ESC byte reached the log"

log "clients vanish mid-file"
python3 "$raw" vanish 127.0.0.1 8080 /boot/big64m 32 || fail "vanishing clients"
timeout 60 curl -sS --fail -o "$work/out/after-vanish" "$url/big64m" || fail "curl after vanish"
[[ $(sha "$work/out/after-vanish") == $(sha "$root/big64m") ]] || fail "after vanish: differs"
rm -f "$work/out/after-vanish"

log "2,000 idle keep-alive connections while curl downloads"
speed() {  # bytes per second of one 64 MiB download
  curl -sS --fail -o /dev/null -w '%{speed_download}' "$url/big64m" | cut -d. -f1
}
alone=$(speed)
python3 "$raw" idle 127.0.0.1 8080 2000 "$work/idle.ready" "$work/idle.stop" >"$work/idle.out" 2>&1 &
idle_pid=$!
pids+=("$idle_pid")
for _ in $(seq 300); do
  [[ -e $work/idle.ready ]] && break
  kill -0 "$idle_pid" 2>/dev/null || { cat "$work/idle.out" >&2; fail "idle clients died"; }
  sleep 0.1
done
[[ -e $work/idle.ready ]] || fail "2,000 idle connections not open within 30 s"
held_fds=$(fds "$pid")
held_rss=$(rss_anon_kib "$pid")
[[ $held_fds -ge $((base_fds + 2000)) ]] || fail "daemon holds $held_fds descriptors with 2,000 clients (baseline $base_fds)"
crowded=$(speed)
timeout 60 curl -sS --fail -o "$work/out/crowd" "$url/big64m" || fail "curl among idle clients"
[[ $(sha "$work/out/crowd") == $(sha "$root/big64m") ]] || fail "among idle clients: differs"
rm -f "$work/out/crowd"
touch "$work/idle.stop"
wait "$idle_pid" || { cat "$work/idle.out" >&2; fail "idle clients"; }
per_conn=$(((held_rss - base_rss) * 1024 / 2000))
log "64 MiB alone $((alone >> 20)) MiB/s, beside 2,000 idle connections $((crowded >> 20)) MiB/s; RssAnon +$per_conn bytes per idle connection"
[[ $((crowded * 3)) -ge $alone ]] || fail "download beside idle connections at $crowded B/s, alone $alone B/s"

log "descriptors and memory back near baseline"
for _ in $(seq 50); do
  [[ $(fds "$pid") -le $((base_fds + 2)) ]] && break
  sleep 0.1
done
end_fds=$(fds "$pid")
end_rss=$(rss_anon_kib "$pid")
log "end: $end_fds descriptors (baseline $base_fds), RssAnon $end_rss KiB (baseline $base_rss, with 2,000 idle $held_rss)"
[[ $end_fds -le $((base_fds + 2)) ]] || fail "descriptors $end_fds, baseline $base_fds: $(ls -l /proc/$pid/fd | tail -5)"
# What may stay: each shard's receive buffer ring (1,024 buffers of 2 KiB, ReactorOptions), which
# becomes resident once that many connections have received into it, and 3 MiB of allocator
# slack. Without the shard giving freed memory back (malloc_trim once a crowd has gone) RssAnon
# stayed at its peak with 2,000 idle connections (9,252 KiB against a baseline of 968 KiB).
ring_kib=$((2 * 1024 * 2))
[[ $end_rss -le $((base_rss + ring_kib + 3072)) ]] ||
  fail "RssAnon $end_rss KiB, baseline $base_rss KiB (+ $ring_kib KiB of receive buffers)"

log "one log line per response, client text escaped"
# e.g. `http GET "/boot/big64m" 200 67108990 bytes in 61.2ms to 127.0.0.1:40312 (boot file "big64m")`
lines=$(grep -c '\] http [A-Z]* ".*" [0-9]* [0-9]* bytes in .* to 127\.0\.0\.1:' "$work/rb-a.log" || true)
[[ $lines -ge $responses ]] || fail "$lines http log lines for at least $responses responses"
grep -qE '\] http GET "/boot/big64m" 200 671[0-9]{5} bytes in .* to 127\.0\.0\.1:[0-9]+ \(boot file "big64m"\)$' \
  "$work/rb-a.log" || fail "no complete log line for the 64 MiB download: $(grep '\] http ' "$work/rb-a.log" | tail -3)"
stop a

################################################################################################
log "B) site.toml with [http]: /repo/, per-host files, timeouts, max_connections"
MAC_A=02:00:c6:12:00:41
cat >"$work/site.toml" <<EOF
[server]
address = "198.18.0.1"
state_dir = "$work/state"
inventory = "$work/inventory.csv"

[dhcp]
mode = "off"

[[dhcp.subnet]]
cidr = "198.18.0.0/16"

[tftp]
root = "$root"
listen = "198.18.0.1:1069"

[http]
listen = "198.18.0.1:8080"
repo_root = "$repo"
max_connections = 16
header_timeout_ms = 1500
idle_timeout_ms = 2500

[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{hostname}}"
EOF
printf 'mac,hostname,ip,profile,state\n%s,node-a,198.18.0.41,lab,install\n' "$MAC_A" \
  >"$work/inventory.csv"
start b --config="$work/site.toml"
url=http://198.18.0.1:8080

timeout 30 curl -sS --fail -o "$work/out/release" "$url/repo/dists/stable/Release" || fail "/repo/"
cmp -s "$work/out/release" "$repo/dists/stable/Release" || fail "/repo/ file differs"
code=$(curl -sS --path-as-is -o /dev/null -w '%{http_code}' "$url/repo/../secret")
[[ $code == 4* ]] || fail "/repo/../secret: $code"

cfg="pxelinux.cfg/01-${MAC_A//:/-}"
code=$(curl -sS --interface 198.18.0.41 -o "$work/out/a.cfg" -w '%{http_code}' "$url/boot/$cfg")
[[ $code == 200 ]] || fail "node-a's own address: $code for /boot/$cfg"
grep -q 'APPEND hostname=node-a' "$work/out/a.cfg" || fail "node-a's file: $(cat "$work/out/a.cfg")"
code=$(curl -sS --interface 198.18.0.77 -o "$work/out/b.cfg" -w '%{http_code}' "$url/boot/$cfg")
[[ $code == 404 ]] || fail "another address got node-a's file: $code $(cat "$work/out/b.cfg")"
code=$(curl -sS --interface 198.18.0.77 -o /dev/null -w '%{http_code}' \
  "$url/boot/pxelinux.cfg/01-02-00-c6-12-00-99")
[[ $code == 404 ]] || fail "a MAC outside the inventory: $code"

log "slowloris, endless headers, a silent client, an idle keep-alive connection"
python3 "$raw" slow 198.18.0.1 8080 1.5 2.5 || fail "timeouts"
log "503 past max_connections"
python3 "$raw" cap 198.18.0.1 8080 16 || fail "connection cap"
stop b
log "PASS over $io"
