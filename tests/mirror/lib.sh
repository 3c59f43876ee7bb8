# shellcheck shell=bash
# Shared helpers for the tests/mirror sh_tests (sourced, never run).
#
#   source "$(dirname "$0")/lib.sh"
#   mirror_lib_init NAME                 # $WORK (temp dir, 0755), one trap EXIT cleanup
#   mirror_ns_setup NAME N               # namespace rbm-NAME-$$, veth to the root namespace:
#                                        #   198.18.N.1/24 inside ($NS_IP), 198.18.N.2 outside;
#                                        #   sets $NS (the namespace's name)
#   start_nginx NS ROOTDIR PORT [CONF]   # nginx in NS serving ROOTDIR on PORT (CONF: extra lines
#                                        #   inside server{}); waits until it answers
#   start_vsftpd NS ROOTDIR              # vsftpd in NS, anonymous read-only FTP of ROOTDIR on 21
#   make_test_key DIR                    # ed25519 signing key; DIR/test.gpg (keyring for gpgv,
#                                        #   --keyring), DIR/gnupghome (the GNUPGHOME's path)
#   gpg_sign KEYDIR ARGS...              # gpg --batch with KEYDIR's GNUPGHOME
#
# Each test passes a distinct N (the happy-path tests use 150..169, the fault tests and the
# bench 170..189) so namespaces, veths and addresses never collide. Everything a test starts (servers, gpg-agents, namespaces,
# veths, temp dirs) is removed by the one EXIT trap, also on failure. Traffic goes only to the
# test's own namespaces (198.18.N.0/24).
set -euo pipefail

# Bazel runs tests with a minimal PATH; ip, nginx and vsftpd live in sbin.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
MIRROR_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
WORK=""
MIRROR_TEST_NAME=""
MIRROR_NAMESPACES=()
MIRROR_VETHS=()
MIRROR_PIDS=()
MIRROR_GNUPGHOMES=()
MIRROR_TMPDIRS=()
MIRROR_LOGS=()

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${MIRROR_TEST_NAME:-mirror}" -1 "$*" >&2; }

# Prints the tail of every server log the test registered, then fails the test.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "${MIRROR_LOGS[@]}"; do
    [[ -s $f ]] || continue
    echo "--- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
  exit 1
}

mirror_lib_cleanup() {
  local rc=$?
  set +e
  local p ns v g d
  for p in "${MIRROR_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for ns in "${MIRROR_NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
  done
  for g in "${MIRROR_GNUPGHOMES[@]}"; do
    GNUPGHOME=$g gpgconf --kill all >/dev/null 2>&1
  done
  sleep 0.3
  for p in "${MIRROR_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for ns in "${MIRROR_NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  for v in "${MIRROR_VETHS[@]}"; do ip link del "$v" 2>/dev/null; done
  for g in "${MIRROR_GNUPGHOMES[@]}"; do rm -rf "$g"; done
  for d in "${MIRROR_TMPDIRS[@]}"; do rm -rf "$d"; done
  if [[ -n $WORK ]]; then
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
      echo "work directory kept: $WORK" >&2
    else
      # Published trees may have been handed to an unprivileged user: root removes anyway.
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

mirror_lib_init() {
  MIRROR_TEST_NAME=$1
  [[ ${EUID} -eq 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
  WORK=$(mktemp -d "/tmp/rackboot-${MIRROR_TEST_NAME}.XXXXXX")
  chmod 755 "$WORK"
  trap mirror_lib_cleanup EXIT
  trap 'exit 130' INT TERM
}

# mirror_ns_setup NAME N: a namespace with lo up and one veth pair to the root namespace.
# Inside: 198.18.N.1/24 (servers); outside: 198.18.N.2/24 (the mirror, curl).
mirror_ns_setup() {
  local name=$1 n=$2
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 254 ]] || fail "mirror_ns_setup: bad N '$n'"
  NS="rbm-${name}-$$"
  NS_IP="198.18.${n}.1"
  HOST_IP="198.18.${n}.2"
  # Interface names: at most 15 bytes.
  local out="rm${n}o$$" in="rm${n}i$$"
  # A stale veth of a killed earlier run with the same N (another pid) would hold the subnet:
  # remove only our own names, never anything else.
  ip netns add "$NS"
  MIRROR_NAMESPACES+=("$NS")
  ip link add "$out" type veth peer name "$in"
  MIRROR_VETHS+=("$out")
  ip link set "$in" netns "$NS"
  ip addr add "$HOST_IP/24" dev "$out"
  ip link set "$out" up
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip addr add "$NS_IP/24" dev "$in"
  ip netns exec "$NS" ip link set "$in" up
  # Wait (bounded) until both ends are up (no ping on this machine; servers are waited for by
  # connecting to them).
  local i
  for i in $(seq 50); do
    if ip link show "$out" | grep -q 'state UP' &&
      ip netns exec "$NS" ip link show "$in" | grep -q 'state UP'; then
      return 0
    fi
    sleep 0.1
  done
  fail "veth $out to $NS does not come up"
}

# wait_tcp HOST PORT: until something accepts on HOST:PORT (bounded: 10 s).
wait_tcp() {
  local host=$1 port=$2 i
  for i in $(seq 100); do
    if timeout 1 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# start_nginx NS ROOTDIR PORT [EXTRA]: nginx (foreground, its own pid, logs in $WORK) serving
# ROOTDIR read-only with autoindex, in namespace NS, on PORT of every address there.
start_nginx() {
  local ns=$1 root=$2 port=$3 extra=${4:-}
  local d="$WORK/nginx-$port"
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
user root root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
  access_log $d/access.log;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  types { application/octet-stream deb; }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen $port;
    root $root;
    autoindex on;
    $extra
  }
}
EOF
  MIRROR_LOGS+=("$d/error.log")
  ip netns exec "$ns" nginx -c "$d/nginx.conf" -g 'daemon off;' >"$d/stdout" 2>&1 </dev/null &
  MIRROR_PIDS+=("$!")
  NGINX_PID=$!
  local ip
  ip=$(ip netns exec "$ns" ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  wait_tcp "$ip" "$port" || fail "nginx in $ns on $ip:$port does not accept: $(cat "$d/stdout")"
}

# start_vsftpd NS ROOTDIR [PORT]: anonymous, read-only FTP of ROOTDIR on PORT (21) in namespace NS
# (the configuration docs/mirror.md shows, plus what running in the foreground needs); names
# starting with .rackboot are hidden and refused. Sets VSFTPD_PID (stop_pid it to restart).
start_vsftpd() {
  local ns=$1 root=$2 port=${3:-21}
  local d="$WORK/vsftpd.${#MIRROR_PIDS[@]}"
  # Passive ports: a range of 100 per server started (at most 20 per test).
  local pasv=$((30000 + 100 * (${#MIRROR_PIDS[@]} % 20)))
  mkdir -p "$d/empty"
  chmod 755 "$d/empty"
  cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_port=$port
background=NO
seccomp_sandbox=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$root
local_enable=NO
write_enable=NO
anon_upload_enable=NO
anon_mkdir_write_enable=NO
anon_other_write_enable=NO
anon_world_readable_only=YES
dirlist_enable=YES
download_enable=YES
secure_chroot_dir=$d/empty
pasv_enable=YES
pasv_min_port=$pasv
pasv_max_port=$((pasv + 99))
port_enable=YES
connect_from_port_20=NO
xferlog_enable=YES
vsftpd_log_file=$d/vsftpd.log
dual_log_enable=YES
xferlog_file=$d/xfer.log
max_clients=64
hide_file={.rackboot*}
deny_file={.rackboot*}
EOF
  MIRROR_LOGS+=("$d/vsftpd.log" "$d/stderr")
  ip netns exec "$ns" vsftpd "$d/vsftpd.conf" >"$d/stderr" 2>&1 </dev/null &
  MIRROR_PIDS+=("$!")
  VSFTPD_PID=$!
  local ip
  ip=$(ip netns exec "$ns" ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  wait_tcp "$ip" "$port" || fail "vsftpd in $ns on $ip:$port does not accept: $(cat "$d/stderr")"
}

# stop_pid PID: SIGTERM, then (after 5 s) SIGKILL; waits for it.
stop_pid() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# make_test_key DIR: an ed25519 signing key in a short GNUPGHOME under /tmp (gpg-agent's socket
# path must stay under 108 bytes; Bazel's TMPDIR would not). Writes DIR/test.gpg (binary public
# keyring: --keyring for gpgv) and DIR/gnupghome (the GNUPGHOME's path, for the make_*.sh
# scripts). The agent is killed and the home removed by the EXIT trap.
make_test_key() {
  local dir=$1 g
  mkdir -p "$dir"
  g=$(mktemp -d /tmp/rbg.XXXXXX)
  chmod 700 "$g"
  MIRROR_GNUPGHOMES+=("$g")
  GNUPGHOME=$g gpg --batch --quiet --passphrase '' --quick-gen-key \
    'Rackboot Mirror Test <mirror-test@rackboot.invalid>' ed25519 sign never 2>"$dir/keygen.log" ||
    fail "gpg key generation: $(cat "$dir/keygen.log")"
  GNUPGHOME=$g gpg --batch --quiet --export >"$dir/test.gpg"
  [[ -s $dir/test.gpg ]] || fail "gpg --export wrote nothing"
  echo "$g" >"$dir/gnupghome"
}

# A second, unrelated key (for "signed by the wrong key" checks).
make_other_key() { make_test_key "$@"; }

# gpg_sign KEYDIR ARGS...: gpg in batch mode with KEYDIR's key.
gpg_sign() {
  local keydir=$1
  shift
  GNUPGHOME=$(cat "$keydir/gnupghome") gpg --batch --yes --quiet "$@"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# tree_sums DIR: "sha256  path" for every regular file under DIR, sorted, paths relative;
# names starting with .rackboot are left out (bookkeeping, not content).
tree_sums() {
  (cd "$1" && find . -type f ! -path '*/.rackboot*' -printf '%P\0' | sort -z |
    xargs -0 -r sha256sum)
}

# Registers a directory for removal on exit (for dirs outside $WORK).
mirror_tmpdir() { MIRROR_TMPDIRS+=("$1"); }

# run_mirror TAG ARGS...: $MIRROR ARGS... (bounded: 120 s); stdout to $WORK/TAG.out, stderr to
# $WORK/TAG.err; sets RC. Never fails by itself: the caller asserts RC.
run_mirror() {
  local tag=$1
  shift
  MIRROR_LOGS+=("$WORK/$tag.err")
  RC=0
  timeout 120 "$MIRROR" "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null || RC=$?
  log "rackboot-mirror $* => exit $RC"
}

# expect_rc TAG WANT: fails with the run's output unless it exited WANT.
expect_rc() {
  local tag=$1 want=$2
  if [[ $RC != "$want" ]]; then
    echo "--- $tag stdout:" >&2
    head -c 4000 "$WORK/$tag.out" >&2
    echo "--- $tag stderr:" >&2
    tail -n 40 "$WORK/$tag.err" >&2
    fail "$tag: exit $RC, want $want"
  fi
}

# jv TAG FILTER: jq -r FILTER over the run's --json object (exactly one JSON object on stdout).
jv() {
  local n
  n=$(jq -s 'length' "$WORK/$1.out" 2>/dev/null) || fail "$1: stdout is not JSON: $(head -c 600 "$WORK/$1.out")"
  [[ $n == 1 ]] || fail "$1: stdout holds $n JSON values, want exactly one"
  jq -r "$2" "$WORK/$1.out"
}

# jexpect TAG FILTER WANT: the JSON field equals WANT.
jexpect() {
  local got
  got=$(jv "$1" "$2")
  [[ $got == "$3" ]] || fail "$1: $2 is '$got', want '$3' (stdout: $(head -c 800 "$WORK/$1.out"))"
}

# tree_matches_source PUB SRC: every regular file of the published tree PUB (bookkeeping names
# .rackboot* aside) exists in SRC with the same sha256; prints how many.
tree_matches_source() {
  local pub=$1 src=$2 n=0 h p
  while read -r h p; do
    [[ -f $src/$p ]] || fail "published $p is not in the source"
    [[ $(sha "$src/$p") == "$h" ]] || fail "published $p differs from the source's"
    n=$((n + 1))
  done < <(tree_sums "$pub")
  echo "$n"
}

# manifest_matches_tree PUB: DIR/.rackboot-manifest.json lists exactly the tree's files, with
# their sizes and sha256.
manifest_matches_tree() {
  local pub=$1
  [[ -s $pub/.rackboot-manifest.json ]] || fail "$pub/.rackboot-manifest.json missing"
  diff <(jq -r '.files[] | "\(.sha256)  \(.path)"' "$pub/.rackboot-manifest.json" | sort -k2) \
    <(tree_sums "$pub" | sort -k2) >"$WORK/manifest.diff" ||
    fail "manifest of $pub does not match its files: $(head -20 "$WORK/manifest.diff")"
}
