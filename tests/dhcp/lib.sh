# Shared helpers for the tests/dhcp sh_tests (sourced, never run).
#
#   source "$(dirname "$0")/lib.sh"      # after: RACKBOOTD=$1
#   lib_init                             # temp dir, trap EXIT cleanup
#   ns_add s; ns_add c                   # namespaces <tag>s, <tag>c
#   segment                              # br0 198.18.0.1/16 in s, veth "eth0" into c
#   site_toml >"$WORK/site.toml"; inventory >"$WORK/inventory.csv"
#   rb_start main [flags...]             # rackbootd in ns s, waits for its ready line
#   rb_stop main                         # SIGTERM, waits for "dhcp totals"
#
# Everything lives in namespaces this test creates, addressed from 198.18.0.0/15, and is removed
# on exit (also on failure): our processes by id, anything left in our namespaces, the
# namespaces, the temp directory.
set -euo pipefail

# Bazel runs tests with a minimal PATH; ip, sysctl, dhclient and dnsmasq live in sbin.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
CLIENT="$HERE/dhcp_client.py"
TAG="rbd$$"
WORK=""
NAMESPACES=()
PIDS=()
declare -A RB_PID=()

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${TEST_NAME:-dhcp}" -1 "$*" >&2; }

# Prints the tail of every rackbootd log, then fails the test.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$WORK"/rb-*.log; do
    [[ -e $f ]] || continue
    echo "--- $(basename "$f") (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}

lib_cleanup() {
  local rc=$?
  set +e
  local p ns
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for ns in "${NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
  done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for ns in "${NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [[ -n $WORK ]]; then
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
      echo "work directory kept: $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

lib_init() {
  [[ ${EUID} -eq 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
  [[ -x ${RACKBOOTD:-} ]] || { echo "usage: $0 RACKBOOTD" >&2; exit 2; }
  RACKBOOTD=$(cd "$(dirname "$RACKBOOTD")" && pwd)/$(basename "$RACKBOOTD")
  WORK=$(mktemp -d /tmp/rackboot-dhcp-test.XXXXXX)
  chmod 755 "$WORK"
  mkdir -p "$WORK/state"
  trap lib_cleanup EXIT
  trap 'exit 130' INT TERM
}

ns() { echo "${TAG}$1"; }
# inns NS CMD...: run CMD in namespace NS (short name). For background processes use
# `ip netns exec "$(ns NS)" ... &` directly, so that $! is the process itself.
inns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

ns_add() {
  local name
  name=$(ns "$1")
  ip netns add "$name"
  NAMESPACES+=("$name")
  ip netns exec "$name" ip link set lo up
  ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$name" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

# segment [SERVER_CIDR]: bridge br0 in ns s with the server's address, and one veth into ns c
# (named eth0 there, no address).
segment() {
  local cidr=${1:-198.18.0.1/16}
  inns s ip link add br0 type bridge forward_delay 0 stp_state 0
  inns s ip addr add "$cidr" dev br0
  inns s ip link set br0 up
  attach c eth0
}

# attach NS IFNAME [MAC]: a veth from br0 (ns s) into NS, named IFNAME there.
attach() {
  local n=$1 ifname=$2 mac=${3:-}
  local side="v${n}${ifname}"
  side=${side:0:15}
  inns s ip link add "$side" type veth peer name "$ifname" netns "$(ns "$n")"
  inns s ip link set "$side" master br0
  inns s ip link set "$side" up
  [[ -n $mac ]] && inns "$n" ip link set "$ifname" address "$mac"
  inns "$n" ip link set "$ifname" up
}

# set_mac NS IF MAC
set_mac() {
  inns "$1" ip link set "$2" down
  inns "$1" ip link set "$2" address "$3"
  inns "$1" ip link set "$2" up
}

# The defaults every test shares; override before calling site_toml.
MODE=authoritative
UNKNOWN_PXE=ignore
LEASE_SECONDS=1234
SUBNET_CIDR=198.18.0.0/16
SUBNET_POOL=198.18.16.0-198.18.31.254
ROUTER=198.18.0.254
DNS='"198.18.0.53", "198.18.0.54"'
DNS_LIST=198.18.0.53,198.18.0.54
DOMAIN=rack.test
SERVER_ADDR=198.18.0.1
TFTP_ROOT=""
EXTRA_TOML=""

# Prints a site.toml for the server on br0 in ns s; EXTRA_TOML is appended.
site_toml() {
  cat <<EOF
[server]
interface = "br0"
address = "$SERVER_ADDR"
state_dir = "$WORK/state"
inventory = "$WORK/inventory.csv"

[dhcp]
mode = "$MODE"
unknown_pxe = "$UNKNOWN_PXE"
lease_seconds = $LEASE_SECONDS
offer_seconds = 30

[[dhcp.subnet]]
cidr = "$SUBNET_CIDR"
pool = "$SUBNET_POOL"
router = "$ROUTER"
dns = [$DNS]
domain = "$DOMAIN"
$EXTRA_TOML

[tftp]
root = "$TFTP_ROOT"
listen = "$SERVER_ADDR:69"

[boot]
bios = "pxelinux.0"
uefi_x64 = "bootnetx64.efi"
arm64 = "grubaa64.efi"
EOF
}

# inventory LINE...: prints an inventory.csv with the given "mac,hostname,ip,profile,state" lines.
inventory() {
  echo "mac,hostname,ip,profile,state"
  local l
  for l in "$@"; do echo "$l"; done
}

# rb_start NAME [FLAGS...]: starts rackbootd in ns s with $WORK/site.toml; waits (bounded) for its
# ready line. Log: $WORK/rb-NAME.log. Fails with the log tail if it exits first.
rb_start() {
  local name=$1; shift
  rb_spawn "$name" "$@"
  rb_wait_ready "$name"
}

rb_spawn() {
  local name=$1; shift
  : >"$WORK/rb-$name.out"
  # `ip netns exec` directly (not through a function), so that $! is rackbootd itself.
  ip netns exec "$(ns s)" "$RACKBOOTD" --config="$WORK/site.toml" "$@" \
    >"$WORK/rb-$name.out" 2>"$WORK/rb-$name.log" </dev/null &
  RB_PID[$name]=$!
  PIDS+=("$!")
}

rb_wait_ready() {
  local name=$1 pid=${RB_PID[$1]} i
  for i in $(seq 200); do
    grep -q '^rackbootd: ready' "$WORK/rb-$name.out" && return 0
    kill -0 "$pid" 2>/dev/null || fail "rackbootd ($name) exited before ready"
    sleep 0.1
  done
  fail "rackbootd ($name) not ready within 20 s"
}

# rb_stop NAME: SIGTERM, bounded wait; the log must end with the totals.
rb_stop() {
  local name=$1 pid=${RB_PID[$1]}
  kill -TERM "$pid" 2>/dev/null || true
  timeout 10 tail --pid="$pid" -f /dev/null || { kill -9 "$pid" 2>/dev/null; fail "rackbootd ($name) ignored SIGTERM"; }
  wait "$pid" 2>/dev/null || true
  grep -q 'dhcp totals:' "$WORK/rb-$name.log" || fail "rackbootd ($name): no dhcp totals at stop"
}

rb_kill9() {
  local name=$1 pid=${RB_PID[$1]}
  kill -9 "$pid" 2>/dev/null || true
  timeout 5 tail --pid="$pid" -f /dev/null || true
  wait "$pid" 2>/dev/null || true
}

# client NS [ARGS...]: dhcp_client.py in NS (bounded by `timeout`).
client() {
  local n=$1; shift
  timeout 150 ip netns exec "$(ns "$n")" "$PY" "$CLIENT" "$@"
}

# jq_check FILE EXPR DESCRIPTION: fails unless `jq -e EXPR` holds over FILE's JSON lines (slurped).
jq_check() {
  local file=$1 expr=$2 what=$3
  if ! jq -s -e "$expr" "$file" >/dev/null; then
    echo "--- $file:" >&2
    cat "$file" >&2
    fail "$what"
  fi
}
