#!/usr/bin/env bash
# curl against the HTTP plumbing of issue 13 (engine/http: POST bodies, generated answers, event
# streams), served by tests/http/http_routes_server (HttpService with test routes beside /boot/,
# the code rackbootd runs) on a loopback port the kernel picks:
#   - curl -d: the body reaches the route, JSON comes back with Content-Length and
#     Cache-Control: no-store, the connection is reused (curl's num_connects), a 4 KiB body too;
#   - 413 past the route's 4 KiB, 405 with Allow for PUT and for a POST to /boot/, 411 chunked;
#   - HEAD of a generated answer: its Content-Length, no body;
#   - a route's field with CR LF in its value is never sent (and the log says so);
#   - curl -N on the event stream: events arrive while the stream is open (no Content-Length,
#     Connection: close), Last-Event-ID resumes after the given id, ?end=K ends the stream and
#     curl exits 0 with every event; a client that leaves mid-stream is logged, and the server
#     stops cleanly with streams open.
# Usage: http_routes_curl_test.sh SERVER IO_BACKEND (uring | epoll)
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
server=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
io=$2

work=$(mktemp -d /tmp/rackboot-http-routes-test.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[http_routes_curl %s %(%H:%M:%S)T] %s\n' "$io" -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  [[ -e $work/server.log ]] && { echo "--- server.log (last 40 lines)" >&2; tail -n 40 "$work/server.log" >&2; }
  exit 1
}
command -v curl >/dev/null || fail "missing curl"

mkdir -p "$work/root"
printf 'kernel' >"$work/root/vmlinuz"
"$server" --root="$work/root" --port_file="$work/port" --io="$io" >"$work/server.log" 2>&1 &
spid=$!
pids+=("$spid")
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
[[ -s $work/port ]] || fail "the server did not start"
port=$(cat "$work/port")
base="http://127.0.0.1:$port"
log "server on $base"

# --- POST bodies --------------------------------------------------------------------------
out=$(curl -sS -D "$work/h1" -H 'Content-Type: application/json' -H 'Authorization: Bearer t0k' \
  -d '{"x":1}' -w '%{http_code} %{num_connects}\n' \
  "$base/api/v1/echo?a=1" --next -sS -w '%{http_code} %{num_connects}\n' "$base/api/v1/echo")
log "POST and GET on one connection: $(echo "$out" | tr '\n' ' ')"
grep -q '"method":"POST","content_type":"application/json","authorization":"Bearer t0k","query":"a=1","bytes":7,"body":"{\\"x\\":1}"' <<<"$out" \
  || fail "POST body not echoed: $out"
grep -q '"method":"GET"' <<<"$out" || fail "GET after POST: $out"
[[ $(grep -c '^200 ' <<<"$out") -eq 2 ]] || fail "statuses: $out"
# The second request reused the connection: num_connects 0.
grep -q '^200 0$' <<<"$out" || fail "connection not kept alive: $out"
grep -qi '^Cache-Control: no-store' "$work/h1" || fail "no Cache-Control: $(cat "$work/h1")"
grep -qi '^Content-Type: application/json' "$work/h1" || fail "Content-Type: $(cat "$work/h1")"
grep -qi '^Content-Length: ' "$work/h1" || fail "no Content-Length"

# 4 KiB: the route's limit, taken whole (curl sends Expect: 100-continue past 1 KiB; the
# server answers no 100, so curl waits up to 1 s and sends: allowed, and timed here).
head -c 4096 /dev/zero | tr '\0' 'a' >"$work/4k"
t0=$(date +%s%N)
out=$(curl -sS -H 'Content-Type: text/plain' --data-binary @"$work/4k" -w '\n%{http_code}' "$base/api/v1/echo")
t1=$(date +%s%N)
log "4 KiB POST: $(tail -n1 <<<"$out") in $(((t1 - t0) / 1000000)) ms"
grep -q '"bytes":4096' <<<"$out" || fail "4 KiB body: ${out:0:200}"
# Past it: 413 (and curl without Expect, so the body is on its way: the server closes).
head -c 4097 /dev/zero | tr '\0' 'a' >"$work/4k1"
code=$(curl -sS -o /dev/null -H 'Expect:' --data-binary @"$work/4k1" -w '%{http_code}' "$base/api/v1/echo" || true)
[[ $code == 413 ]] || fail "4097 bytes: $code, want 413"
# Chunked: 411.
code=$(curl -sS -o /dev/null -H 'Transfer-Encoding: chunked' -d '{}' -w '%{http_code}' "$base/api/v1/echo" || true)
[[ $code == 411 ]] || fail "chunked: $code, want 411"
# Methods the route does not take: 405 with what it takes.
curl -sS -o /dev/null -D "$work/h405" -X PUT -d '{}' "$base/api/v1/echo" || true
grep -q '^HTTP/1.1 405' "$work/h405" || fail "PUT: $(head -n1 "$work/h405")"
grep -qi '^Allow: GET, HEAD, POST' "$work/h405" || fail "PUT Allow: $(cat "$work/h405")"
curl -sS -o /dev/null -D "$work/h405b" -d 'x' "$base/boot/vmlinuz" || true
grep -q '^HTTP/1.1 405' "$work/h405b" || fail "POST /boot/: $(head -n1 "$work/h405b")"
grep -qi '^Allow: GET, HEAD' "$work/h405b" || fail "POST /boot/ Allow"
log "413, 411, 405 with Allow: as expected"

# HEAD of a generated answer: Content-Length, no body (curl -I would hang on a body).
curl -sS -I --max-time 5 "$base/api/v1/echo" >"$work/hhead" || fail "HEAD"
grep -q '^HTTP/1.1 200' "$work/hhead" || fail "HEAD status"
grep -qi '^Content-Length: [1-9]' "$work/hhead" || fail "HEAD Content-Length: $(cat "$work/hhead")"
# A JSON 404 keeps the connection (a normal answer).
out=$(curl -sS -w '%{http_code} %{num_connects}\n' "$base/api/v1/nothing" --next -sS \
  -w '%{http_code} %{num_connects}\n' "$base/api/v1/nothing")
grep -q '^404 0$' <<<"$out" || fail "JSON 404 not kept alive: $out"
# Header injection from a route: never on the wire.
curl -sS -D "$work/hinj" -o /dev/null "$base/api/v1/inject"
grep -qi 'Set-Cookie\|X-Injected' "$work/hinj" && fail "injected field sent: $(cat "$work/hinj")"
grep -qi '^X-Fine: yes' "$work/hinj" || fail "good field missing"
grep -q 'route fields dropped: "X-Injected" (control character in value)' "$work/server.log" \
  || fail "the dropped field is not logged"

# --- Event streams (curl -N) ----------------------------------------------------------------
# ?end=5: five events, then the server ends the stream; curl exits 0.
t0=$(date +%s%N)
curl -sS -N -D "$work/hsse" --max-time 10 "$base/api/v1/events?end=5" >"$work/sse1" \
  || fail "curl -N on an ending stream: exit $?"
t1=$(date +%s%N)
log "stream of 5 events ended by the server after $(((t1 - t0) / 1000000)) ms"
grep -qi '^Content-Type: text/event-stream' "$work/hsse" || fail "SSE Content-Type"
grep -qi '^Connection: close' "$work/hsse" || fail "SSE Connection: close"
grep -qi '^Content-Length' "$work/hsse" && fail "SSE with Content-Length"
[[ $(grep -c '^id: ' "$work/sse1") -eq 5 ]] || fail "events: $(cat "$work/sse1")"
[[ $(grep '^id: ' "$work/sse1" | tr '\n' ' ') == "id: 1 id: 2 id: 3 id: 4 id: 5 " ]] \
  || fail "event ids: $(grep '^id: ' "$work/sse1" | tr '\n' ' ')"
# Resume: Last-Event-ID 40 -> the next event is 41.
curl -sS -N -H 'Last-Event-ID: 40' --max-time 10 "$base/api/v1/events?end=43" >"$work/sse2" \
  || fail "resume"
[[ $(grep '^id: ' "$work/sse2" | tr '\n' ' ') == "id: 41 id: 42 id: 43 " ]] \
  || fail "resumed ids: $(cat "$work/sse2")"
# Events arrive while the stream is open: an endless stream read for 1 s has ~20 events
# (one per 50 ms) when curl's --max-time cuts it (exit 28).
rc=0
curl -sS -N --max-time 1 "$base/api/v1/events" >"$work/sse3" 2>/dev/null || rc=$?
[[ $rc -eq 28 ]] || fail "endless stream: curl exit $rc, want 28 (timeout)"
n=$(grep -c '^id: ' "$work/sse3" || true)
log "endless stream read for 1 s: $n events"
((n >= 10)) || fail "only $n events in 1 s"
# HEAD of the stream route: the head alone, the connection closed.
curl -sS -I --max-time 5 "$base/api/v1/events" >"$work/hsseh" || fail "HEAD of a stream hangs"
grep -qi '^Content-Type: text/event-stream' "$work/hsseh" || fail "HEAD of a stream"
# Ten streams open while the server stops: it stops cleanly, every curl sees the end.
cpids=()
for i in $(seq 10); do
  curl -sS -N --max-time 20 "$base/api/v1/events" >"$work/open$i" 2>/dev/null &
  cpids+=($!)
done
sleep 0.5
grep -q 'stream closed by the client' "$work/server.log" || fail "the client that left is not logged"
kill -TERM "$spid"
rc=0
wait "$spid" || rc=$?
[[ $rc -eq 0 ]] || fail "server exit $rc after SIGTERM with open streams"
for p in "${cpids[@]}"; do
  # curl ends (the connection is closed) long before its --max-time.
  wait "$p" || true
done
for i in $(seq 10); do grep -q '^id: ' "$work/open$i" || fail "stream $i got no event"; done
grep -q 'http_routes_server: stopped' "$work/server.log" || fail "no clean stop"
log "10 open streams, SIGTERM: the server stopped cleanly"
grep 'http GET "/api/v1/events' "$work/server.log" | head -n 3 >&2 || true
echo PASS
