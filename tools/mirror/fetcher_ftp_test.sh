#!/bin/bash
# Fetcher over FTP against a real vsftpd on 127.0.0.1 (anonymous, read-only, started here):
# files fetched and sha256-checked, a missing file is NotFound (FTP 550) with one attempt, and a
# .part is resumed with REST (fewer bytes transferred than the file's size).
# An http:// URL that redirects to the ftp:// one is fetched too (ftp reply codes are not HTTP's).
# Usage: fetcher_ftp_test.sh FETCH_TOOL FAULT_HTTP_SERVER
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FETCH=$(realpath "$1")
SERVER=$(realpath "$2")
command -v vsftpd >/dev/null || { echo "FAIL: vsftpd not installed (./rackboot setup)"; exit 1; }
WORK=$(mktemp -d "${TEST_TMPDIR:-/tmp}/fetchftp.XXXXXX")
PID=""
HPID=""
cleanup() {
  local rc=$?
  set +e
  local p
  for p in $PID $HPID; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $WORK/vsftpd.log ]] && tail -20 "$WORK/vsftpd.log" >&2; exit 1; }

mkdir -p "$WORK/root/pool/a" "$WORK/empty" "$WORK/out"
chmod 755 "$WORK" "$WORK/root" "$WORK/root/pool" "$WORK/root/pool/a" "$WORK/empty"
for i in 1 2 3; do head -c $((i * 70000 + 13)) /dev/urandom >"$WORK/root/pool/a/f$i.deb"; done
head -c 3000000 /dev/urandom >"$WORK/root/big.iso"
chmod 644 "$WORK"/root/pool/a/* "$WORK/root/big.iso"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PASV=$((40000 + RANDOM % 20000))
cat >"$WORK/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
seccomp_sandbox=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$WORK/root
local_enable=NO
write_enable=NO
anon_world_readable_only=YES
secure_chroot_dir=$WORK/empty
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$PASV
pasv_max_port=$((PASV + 50))
connect_from_port_20=NO
vsftpd_log_file=$WORK/vsftpd.log
xferlog_enable=YES
max_clients=16
CONF
vsftpd "$WORK/vsftpd.conf" >"$WORK/vsftpd.stderr" 2>&1 </dev/null &
PID=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || fail "vsftpd does not listen: $(cat "$WORK/vsftpd.stderr")"
URL="ftp://127.0.0.1:$PORT"

field() { sed -n "s/^$1=//p" "$2"; }

for i in 1 2 3; do
  f="$WORK/root/pool/a/f$i.deb"
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  timeout 20 "$FETCH" "$URL/pool/a/f$i.deb" "$WORK/out/pool/a/f$i.deb" "$(stat -c %s "$f")" "$sum" \
    >"$WORK/r$i" || fail "f$i: $(cat "$WORK/r$i")"
  cmp "$f" "$WORK/out/pool/a/f$i.deb" || fail "f$i differs"
  [[ $(field sha256 "$WORK/r$i") == "$sum" ]] || fail "f$i sha256 $(cat "$WORK/r$i")"
done
echo "ok: 3 files over FTP, sha256 checked"

# 550: NotFound (absl code 5), one attempt, nothing left behind.
if timeout 20 "$FETCH" "$URL/pool/a/missing.deb" "$WORK/out/missing.deb" >"$WORK/r550"; then
  fail "missing file fetched: $(cat "$WORK/r550")"
fi
[[ $(field code "$WORK/r550") == 5 ]] || fail "missing file not NotFound: $(cat "$WORK/r550")"
[[ $(field attempts "$WORK/r550") == 1 ]] || fail "missing file retried: $(cat "$WORK/r550")"
[[ ! -e $WORK/out/missing.deb && ! -e $WORK/out/missing.deb.part ]] || fail "missing file left files"
echo "ok: 550 => NotFound, 1 attempt"

# Resume with REST from a 1 MB .part.
big="$WORK/root/big.iso"
head -c 1000000 "$big" >"$WORK/out/big.iso.part"
sum=$(sha256sum "$big" | cut -d' ' -f1)
timeout 20 "$FETCH" "$URL/big.iso" "$WORK/out/big.iso" 3000000 "$sum" >"$WORK/rbig" ||
  fail "resume: $(cat "$WORK/rbig")"
cmp "$big" "$WORK/out/big.iso" || fail "resumed file differs"
[[ $(field transferred "$WORK/rbig") == 2000000 ]] || fail "not resumed: $(cat "$WORK/rbig")"
echo "ok: resumed over FTP, 2000000 of 3000000 bytes transferred"
# http:// -> 302 -> ftp://
python3 "$SERVER" "$WORK/root" --max-seconds 60 >"$WORK/hport" &
HPID=$!
for _ in $(seq 50); do [[ -s $WORK/hport ]] && break; sleep 0.1; done
HPORT=$(head -1 "$WORK/hport")
[[ -n $HPORT ]] || fail "fault_http_server.py did not start"
f="$WORK/root/pool/a/f2.deb"
sum=$(sha256sum "$f" | cut -d' ' -f1)
timeout 20 "$FETCH" "http://127.0.0.1:$HPORT/redirect-to/?to=$URL/pool/a/f2.deb" "$WORK/out/redir.deb" \
  "$(stat -c %s "$f")" "$sum" >"$WORK/rredir" || fail "http->ftp redirect: $(cat "$WORK/rredir")"
cmp "$f" "$WORK/out/redir.deb" || fail "redirected file differs"
echo "ok: http:// redirected to ftp:// fetched and checked"
echo PASS
