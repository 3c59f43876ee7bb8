#!/usr/bin/env bash
# Real TFTP clients against rackbootd on loopback: curl, atftp (windowsize 1, 4, 16, 64),
# tftp-hpa's tftp and busybox tftp. Every file must arrive byte-identical, and every refused
# request must get the right ERROR.
# Usage: tftp_clients_test.sh RACKBOOTD IO_BACKEND [RACKBOOTD_FLAG...]
# (tftp_clients_zero_copy_test passes --tftp_zero_copy=true: windows by io_uring SENDMSG_ZC.)
set -euo pipefail
rackbootd=$1
io=$2
shift 2
extra_flags=("$@")

work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- rackbootd log (last 30 lines)" >&2
  tail -n 30 "$work/rackbootd.log" >&2 || true
  exit 1
}

root=$work/root
mkdir -p "$root/pxelinux.cfg" "$work/out"
: >"$root/empty"
printf 'x' >"$root/one"
head -c 511 /dev/urandom >"$root/b511"
head -c 512 /dev/urandom >"$root/b512"
head -c 513 /dev/urandom >"$root/b513"
head -c $((1468 * 3)) /dev/urandom >"$root/multiple1468"
head -c $((200 * 1024)) /dev/urandom >"$root/pxelinux.cfg/default"
# 48 MiB: 98,304 blocks of 512, so block numbers roll over past 65535.
head -c $((48 << 20)) /dev/urandom >"$root/big48m"
echo secret >"$work/secret"
ln -s ../secret "$root/escape-link"
mkdir "$root/dir"

"$rackbootd" --tftp_root="$root" --tftp_listen=127.0.0.1:0 --threads=2 --io="$io" "${extra_flags[@]}" \
  >"$work/ready" 2>"$work/rackbootd.log" &
pid=$!
for _ in $(seq 100); do
  grep -q '^rackbootd: ready' "$work/ready" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "rackbootd exited at start"
  sleep 0.1
done
port=$(sed -n 's/^rackbootd: ready, TFTP on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/ready")
[[ -n $port ]] || fail "rackbootd did not report its port"
if [[ $io == epoll ]]; then
  grep -q 'on epoll' "$work/rackbootd.log" || fail "--io=epoll not honoured"
fi

transfers=0
check() {  # check NAME FILE: the download of FILE equals the original
  cmp -s "$root/$2" "$work/out/$1" || fail "$1: $2 differs from the original"
  transfers=$((transfers + 1))
  rm -f "$work/out/$1"
}

small=(empty one b511 b512 b513 multiple1468 pxelinux.cfg/default)
for f in "${small[@]}"; do
  n=${f//\//_}
  for b in 512 1468; do
    timeout 30 curl -sS --tftp-blksize "$b" -o "$work/out/curl$b-$n" \
      "tftp://127.0.0.1:$port/$f" || fail "curl blksize $b: $f"
    check "curl$b-$n" "$f"
  done
  for w in 1 4 16 64; do
    timeout 30 atftp --option "blksize 1468" --option "windowsize $w" \
      --get -r "$f" -l "$work/out/atftp$w-$n" 127.0.0.1 "$port" >/dev/null 2>&1 ||
      fail "atftp windowsize $w: $f"
    check "atftp$w-$n" "$f"
  done
  timeout 30 tftp 127.0.0.1 "$port" -m binary -c get "$f" "$work/out/hpa-$n" ||
    fail "tftp-hpa: $f"
  check "hpa-$n" "$f"
  timeout 30 busybox tftp -g -r "$f" -l "$work/out/busybox-$n" 127.0.0.1 "$port" ||
    fail "busybox tftp: $f"
  check "busybox-$n" "$f"
done

# 48 MiB at blksize 512: the block number rolls over 65535 -> 0.
timeout 120 curl -sS --tftp-blksize 512 -o "$work/out/curl-big" \
  "tftp://127.0.0.1:$port/big48m" || fail "curl: big48m"
check curl-big big48m
timeout 120 atftp --option "blksize 512" --option "windowsize 16" \
  --get -r big48m -l "$work/out/atftp-big" 127.0.0.1 "$port" >/dev/null 2>&1 ||
  fail "atftp: big48m"
check atftp-big big48m
timeout 120 tftp 127.0.0.1 "$port" -m binary -c get big48m "$work/out/hpa-big" ||
  fail "tftp-hpa: big48m"
check hpa-big big48m
timeout 120 busybox tftp -g -r big48m -l "$work/out/busybox-big" 127.0.0.1 "$port" ||
  fail "busybox: big48m"
check busybox-big big48m

# Netascii: LF becomes CR LF on the wire, and tftp-hpa's client turns it back.
printf 'line one\nline two\n' >"$root/text"
timeout 30 tftp 127.0.0.1 "$port" -m netascii -c get text "$work/out/ascii" ||
  fail "tftp-hpa netascii"
check ascii text

# Refusals, each with the right ERROR code (tftp-hpa's client prints it).
expect_error() {  # expect_error CODE COMMAND...
  local code=$1 out
  shift
  out=$(timeout 30 "$@" 2>&1 || true)
  grep -q "Error code $code" <<<"$out" || fail "expected ERROR $code from '$*', got: $out"
}
expect_error 1 tftp 127.0.0.1 "$port" -m binary -c get no-such-file "$work/out/x"
expect_error 2 tftp 127.0.0.1 "$port" -m binary -c get ../secret "$work/out/x"
expect_error 2 tftp 127.0.0.1 "$port" -m binary -c get pxelinux.cfg/../../secret "$work/out/x"
expect_error 2 tftp 127.0.0.1 "$port" -m binary -c get escape-link "$work/out/x"
expect_error 2 tftp 127.0.0.1 "$port" -m binary -c get dir "$work/out/x"
expect_error 1 tftp 127.0.0.1 "$port" -m binary -c get "$work/secret" "$work/out/x"
expect_error 2 tftp 127.0.0.1 "$port" -m binary -c put "$root/one" uploaded
[[ ! -e $root/uploaded ]] || fail "a WRQ created a file"
# curl maps ERROR 1 to exit 68 and ERROR 2 to exit 69.
rc=0; timeout 30 curl -s --path-as-is -o /dev/null "tftp://127.0.0.1:$port/../secret" || rc=$?
[[ $rc -eq 69 ]] || fail "curl ../secret: exit $rc, expected 69 (access violation)"
rc=0; timeout 30 curl -s -o /dev/null "tftp://127.0.0.1:$port/no-such-file" || rc=$?
[[ $rc -eq 68 ]] || fail "curl no-such-file: exit $rc, expected 68 (file not found)"

# The log has one line per finished transfer, with the figures an operator needs.
sent=$(grep -c 'tftp sent client=127.0.0.1:' "$work/rackbootd.log" || true)
[[ $sent -ge $transfers ]] || fail "$sent transfer log lines for $transfers downloads"
grep -q 'tftp sent .* file="big48m" bytes=50331648 size=50331648 blksize=512 windowsize=16 duration=.* retransmits=' \
  "$work/rackbootd.log" || fail "no complete log line for the windowed 48 MiB transfer"
grep -q 'FAILED' "$work/rackbootd.log" && fail "a transfer failed"
# Zero copy asked for: the kernel must have taken it (no fallback to copying).
grep -q 'SENDMSG_ZC refused' "$work/rackbootd.log" && fail "the kernel refused zero copy"

kill -TERM "$pid"
wait "$pid" || fail "rackbootd did not exit cleanly on SIGTERM"
pid=
grep -q "tftp totals: completed=$sent failed=0" "$work/rackbootd.log" ||
  fail "totals disagree: $(grep 'tftp totals' "$work/rackbootd.log")"
echo "PASS: $transfers downloads byte-identical over $io, refusals correct"
