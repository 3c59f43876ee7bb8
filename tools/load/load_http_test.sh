#!/usr/bin/env bash
# rackboot-load's http steps against a real HTTP server (nginx 1.22, run as a non-daemon from a
# config of the test's own), in two network namespaces joined by a veth pair (names carry $$;
# everything removed on exit, also on failure):
#
#   ns s: nginx, rackbootd, eth0 198.18.0.1/16             ns c: rackboot-load, eth0 198.18.0.2/16
#
#  1. 200 simulated hosts, --flow=http:/boot/file: every host completes, every byte compared with
#     the local copy (--verify), bytes = 200 x size, one connection per host.
#  2. Two http steps per host: the second rides the first's kept-alive connection (200
#     connections, 200 reused), both files verified.
#  3. Wrong answers must fail, never pass: a file whose length differs from the --verify copy
#     (size-mismatch), one byte changed (content-mismatch), a 404 (http-status 404), a chunked
#     response (nginx's sub_filter drops Content-Length: http-chunked), and nginx serving a file
#     truncated under its open_file_cache (it announces the old Content-Length, sends less and
#     closes: http-truncated). Each run exits 1 with no client completed and the reason counted
#     for its step.
#  4. The same 200 hosts against rackbootd's HTTP (--tftp_root=DIR --http_listen, /boot/ = DIR),
#     on both reactor backends of the tool: every byte verified, and the head and body bytes the
#     tool counted equal rackbootd's "http totals ... bytes" (what it wrote).
# Usage: load_http_test.sh RACKBOOTD RACKBOOT_LOAD LIB_SH
RACKBOOTD=$1
LOAD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
TEST_NAME=load_http
# shellcheck source=/dev/null
source "$3"
lib_init

if ! command -v nginx >/dev/null; then
  echo "RACKBOOT SKIPPED: nginx is not installed (nginx-light; ./rackboot setup installs it)"
  exit 0
fi

HOSTS=200
ns_add s
ns_add c
inns s ip link add eth0 type veth peer name eth0 netns "$(ns c)"
inns s ip addr add 198.18.0.1/16 dev eth0
inns s ip link set eth0 up
inns c ip addr add 198.18.0.2/16 dev eth0
inns c ip link set eth0 up

WWW="$WORK/www"
mkdir -p "$WWW/boot" "$WWW/chunked" "$WORK/nginx-tmp"
head -c $((2 * 1024 * 1024 + 333)) /dev/urandom >"$WWW/boot/file"
head -c $((64 * 1024 + 7)) /dev/urandom >"$WWW/boot/small"
SIZE=$(stat -c %s "$WWW/boot/file")
SMALL=$(stat -c %s "$WWW/boot/small")
# Local copies that do not match what nginx serves.
head -c $((SIZE - 1)) "$WWW/boot/file" >"$WORK/short-copy"
cp "$WWW/boot/file" "$WORK/changed-copy"
printf '\x5a' | dd of="$WORK/changed-copy" bs=1 seek=$((SIZE / 2)) conv=notrunc status=none
cmp -s "$WORK/changed-copy" "$WWW/boot/file" && printf '\xa5' |
  dd of="$WORK/changed-copy" bs=1 seek=$((SIZE / 2)) conv=notrunc status=none
echo "some text a b c" >"$WWW/chunked/page.txt"
head -c $((1024 * 1024)) /dev/urandom >"$WWW/boot/shrinks"
chmod -R a+rX "$WWW"

# nginx as the issue's peer is configured: sendfile on, access log off. One worker, so that the
# open_file_cache warmed below is the one every request meets.
cat >"$WORK/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user root;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000;
  keepalive_timeout 60s;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  server {
    listen 198.18.0.1:8080 backlog=4096;
    root $WWW;
    location /chunked/ {
      sub_filter 'a' 'A';
      sub_filter_once off;
      sub_filter_types *;
    }
    location = /boot/shrinks {
      open_file_cache max=16 inactive=60s;
      open_file_cache_valid 60s;
    }
  }
}
EOF
ip netns exec "$(ns s)" nginx -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" \
  >"$WORK/nginx.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do
  inns s ss -Htln 'sport = :8080' | grep -q . && break
  sleep 0.1
done
inns s ss -Htln 'sport = :8080' | grep -q . ||
  fail "nginx did not listen: $(cat "$WORK/nginx.out" "$WORK/nginx-error.log" 2>/dev/null)"

# run NAME ARGS...: rackboot-load in ns c against nginx; JSON in $WORK/NAME.json; exit status in
# $RC.
run() {
  local name=$1
  shift
  RC=0
  timeout 120 ip netns exec "$(ns c)" "$LOAD" --http_server=198.18.0.1:8080 --io=auto \
    --json="$WORK/$name.json" "$@" >"$WORK/load-$name.out" 2>&1 || RC=$?
  cat "$WORK/load-$name.out" >&2
  [[ -s $WORK/$name.json ]] || fail "$name: no JSON report (exit $RC)"
}
jv() { jq -r "$2" "$WORK/$1.json"; }

log "nginx, $HOSTS hosts, http:/boot/file ($SIZE bytes), every byte verified"
run one --clients=$HOSTS --flow=http:/boot/file --verify="$WWW/boot/file"
[[ $RC -eq 0 ]] || fail "one: exit $RC"
[[ $(jv one .completed) == "$HOSTS" && $(jv one .failed) == 0 ]] ||
  fail "one: completed $(jv one .completed) of $HOSTS"
[[ $(jv one .http.files) == "$HOSTS" && $(jv one .http.bytes) == $((HOSTS * SIZE)) ]] ||
  fail "one: http files $(jv one .http.files), bytes $(jv one .http.bytes), want $((HOSTS * SIZE))"
[[ $(jv one .http.connections) == "$HOSTS" ]] || fail "one: $(jv one .http.connections) connections"
[[ $(jv one '.phases[0].name') == "http:/boot/file" && $(jv one '.phases[0].ok') == "$HOSTS" ]] ||
  fail "one: phase $(jv one '.phases[0]')"
[[ $(jv one '.phases[0].bytes') == $((HOSTS * SIZE)) ]] || fail "one: phase bytes"
[[ $(jv one '.phases[0].ms.p50 > 0') == true ]] || fail "one: no latency measured"
grep -q "^http: *$HOSTS files, 0 failed, $((HOSTS * SIZE)) bytes" "$WORK/load-one.out" ||
  fail "one: the text summary has no http line"

log "nginx, $HOSTS hosts, two http steps on one kept-alive connection each"
run two --clients=$HOSTS --rate=2000 --flow=http:/boot/file,http:/boot/small \
  --verify="$WWW/boot/file,$WWW/boot/small"
[[ $RC -eq 0 && $(jv two .completed) == "$HOSTS" ]] || fail "two: exit $RC"
[[ $(jv two .http.connections) == "$HOSTS" && $(jv two .http.reused) == "$HOSTS" ]] ||
  fail "two: connections $(jv two .http.connections), reused $(jv two .http.reused)"
[[ $(jv two .http.bytes) == $((HOSTS * (SIZE + SMALL))) ]] || fail "two: bytes $(jv two .http.bytes)"

# must_fail NAME KIND FLOW [ARGS...]: every host fails in the (only) step with KIND.
must_fail() {
  local name=$1 kind=$2 flow=$3
  shift 3
  run "$name" --clients=20 --flow="$flow" "$@"
  [[ $RC -eq 1 ]] || fail "$name: exit $RC, want 1 (failures)"
  [[ $(jv "$name" .completed) == 0 && $(jv "$name" .failed) == 20 ]] ||
    fail "$name: completed $(jv "$name" .completed), failed $(jv "$name" .failed): wrong answers passed"
  [[ $(jv "$name" ".phases[0].errors[\"$kind\"]") == 20 ]] ||
    fail "$name: errors $(jv "$name" '.phases[0].errors'), want $kind=20"
  [[ $(jv "$name" ".errors[\"$kind\"]") == 20 && $(jv "$name" .http.failed) == 20 ]] ||
    fail "$name: totals $(jv "$name" .errors) http.failed $(jv "$name" .http.failed)"
  grep -q "errors: $kind=20" "$WORK/load-$name.out" || fail "$name: the summary has no $kind"
  log "$name: 20 of 20 failed with $kind"
}
log "wrong answers fail"
must_fail short size-mismatch http:/boot/file --verify="$WORK/short-copy"
must_fail changed content-mismatch http:/boot/file --verify="$WORK/changed-copy"
must_fail missing "http-status 404" http:/boot/missing
must_fail chunked http-chunked http:/chunked/page.txt

# nginx caches the open file and its size; truncated afterwards, it still announces the old
# Content-Length and then sends what is left and closes (sendfile reports the truncation).
warm=$(ip netns exec "$(ns c)" curl -s -o /dev/null -w '%{size_download}' \
  http://198.18.0.1:8080/boot/shrinks)
[[ $warm == $((1024 * 1024)) ]] || fail "warming /boot/shrinks: $warm bytes"
truncate -s $((512 * 1024)) "$WWW/boot/shrinks"
must_fail truncated http-truncated http:/boot/shrinks
grep -q "truncated" "$WORK/nginx-error.log" || log "(nginx logged no truncation line)"

log "rackbootd --http_listen, $HOSTS hosts, http:/boot/file, both load backends"
mkdir -p "$WORK/state"
ip netns exec "$(ns s)" "$RACKBOOTD" --tftp_root="$WWW/boot" --tftp_listen=198.18.0.1:69 \
  --http_listen=198.18.0.1:8081 --dhcp_mode=off --user=root --state_dir="$WORK/state" \
  >"$WORK/rb-http.out" 2>"$WORK/rb-http.log" </dev/null &
RB=$!
PIDS+=("$RB")
for _ in $(seq 100); do
  grep -q '^rackbootd: ready' "$WORK/rb-http.out" && break
  kill -0 "$RB" 2>/dev/null || fail "rackbootd exited at start: $(cat "$WORK/rb-http.log")"
  sleep 0.1
done
grep -q '^rackbootd: ready.*HTTP on ' "$WORK/rb-http.out" ||
  fail "rackbootd: no 'HTTP on' in its ready line: $(cat "$WORK/rb-http.out" "$WORK/rb-http.log")"
rb_bytes=0
for io in uring epoll; do
  run "rb-$io" --http_server=198.18.0.1:8081 --io=$io --clients=$HOSTS \
    --flow=http:/boot/file,http:/boot/small --verify="$WWW/boot/file,$WWW/boot/small"
  [[ $RC -eq 0 && $(jv "rb-$io" .completed) == "$HOSTS" ]] || fail "rackbootd ($io): exit $RC"
  [[ $(jv "rb-$io" .http.bytes) == $((HOSTS * (SIZE + SMALL))) ]] ||
    fail "rackbootd ($io): bytes $(jv "rb-$io" .http.bytes), want $((HOSTS * (SIZE + SMALL)))"
  [[ $(jv "rb-$io" .http.connections) == "$HOSTS" && $(jv "rb-$io" .http.reused) == "$HOSTS" ]] ||
    fail "rackbootd ($io): connections $(jv "rb-$io" .http.connections), reused $(jv "rb-$io" .http.reused)"
  # rackbootd counts every byte it wrote: heads and bodies.
  rb_bytes=$((rb_bytes + $(jv "rb-$io" .http.bytes) + $(jv "rb-$io" .http.head_bytes)))
done
kill -TERM "$RB"
timeout 10 tail --pid="$RB" -f /dev/null || fail "rackbootd ignored SIGTERM"
totals=$(cat "$WORK/rb-http.log" "$WORK/rb-http.out" | grep -o "http totals:.*" | head -1)
[[ -n $totals ]] || fail "rackbootd logged no http totals: $(tail -5 "$WORK/rb-http.log")"
server_bytes=$(grep -o ' bytes=[0-9]*' <<<"$totals" | cut -d= -f2)
[[ $server_bytes == "$rb_bytes" ]] ||
  fail "rackbootd sent $server_bytes bytes ($totals), the tool received $rb_bytes (heads and bodies)"
log "rackbootd: $rb_bytes bytes on both sides ($totals)"
log "PASS"
