# Shared helpers for the tests/e2e sh_tests (sourced, never run).
#
# The end-to-end tests drive the real lab (examples/lab/lab.sh, what `./rackboot up|guest|down`
# run) with QEMU guests network-booting real firmware from rackbootd.
#
# Finding the files. Inside `bazel test` the repository is not the working directory; the test's
# cwd is its runfiles tree ($TEST_SRCDIR/rackboot). Everything comes from runfiles:
#   examples/lab/{lab.sh,site.toml,inventory.csv,build-boot-tree.sh}  data //examples/lab:files
#   engine/rackbootd, tools/hosts/rackboot-hosts                         args $(location ...)
# lab.sh finds site.toml and build-boot-tree.sh beside itself (dirname of its runfiles path, where
# Bazel put symlinks to all four files), and site.toml finds inventory.csv beside itself, so no
# path into the source tree is needed (and no `bazel` call from inside a test, which would wait
# forever for the server lock the running `bazel test` holds).
#
# Isolation. Each test uses a lab directory of its own under $TEST_TMPDIR (RACKBOOT_LAB_DIR: boot
# tree, state dir, rackbootd logs, serial consoles), so it never touches a user's
# ~/.cache/rackboot/lab, and a namespace of its own (RACKBOOT_LAB_NS=rbe2e<pid>), so a lab kept
# with ./rackboot up --keep goes on undisturbed. It refuses to start if that namespace exists,
# removes the lab it made on exit (trap EXIT: `lab.sh down` with the same RACKBOOT_LAB_DIR and
# RACKBOOT_LAB_NS), then checks that the namespace is gone.
#
#   source "$(dirname "$0")/lib.sh"     # RACKBOOTD=$1 HOSTS=$2
#   e2e_init                            # checks, lab dir, trap EXIT cleanup
#   lab_up [--uefi] [--keep]            # lab.sh up; narration in $LAB_DIR/up.out; returns its rc
#   lab_guest [--mac=MAC] ...           # lab.sh guest; narration in $LAB_DIR/guest-N.out
set -euo pipefail

# Bazel runs tests with a minimal PATH; ip lives in sbin.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"

RUNFILES=${TEST_SRCDIR:+$TEST_SRCDIR/rackboot}
RUNFILES=${RUNFILES:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# E2E_LAB_SCRIPTS=DIR (bazel test --test_env=E2E_LAB_SCRIPTS=DIR): take lab.sh, site.toml,
# inventory.csv and build-boot-tree.sh from DIR instead, to try a change to the lab on a copy.
LAB_FILES=${E2E_LAB_SCRIPTS:-$RUNFILES/examples/lab}
LAB_SH="$LAB_FILES/lab.sh"
SITE="$LAB_FILES/site.toml"
# A namespace of the test's own, so a lab kept with ./rackboot up --keep is never touched.
export RACKBOOT_LAB_NS=rbe2e$$
LAB_NS=$RACKBOOT_LAB_NS
NODE1_MAC=52:54:00:c6:12:01    # lab-node1, 198.18.0.21, armed (install) in inventory.csv
NODE1_IP=198.18.0.21
LAB_STARTED=0
GUESTS=0

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${TEST_NAME:-e2e}" -1 "$*" >&2; }

# Prints what a failure needs (narrations, rackbootd's log, the last serial console), then fails.
fail() {
  echo "FAIL: $*" >&2
  local f
  if [[ -n ${LAB_DIR:-} ]]; then
    for f in "$LAB_DIR"/*.out; do
      [[ -e $f ]] || continue
      echo "--- $(basename "$f")" >&2
      cat "$f" >&2
    done
    if [[ -e $LAB_DIR/rackbootd.log ]]; then
      echo "--- rackbootd.log (last 40 lines)" >&2
      tail -n 40 "$LAB_DIR/rackbootd.log" >&2
    fi
    f=$(ls -t "$LAB_DIR"/*.serial.log 2>/dev/null | head -1 || true)
    if [[ -n $f ]]; then
      echo "--- $(basename "$f") (last 1500 bytes, escapes removed)" >&2
      tail -c 1500 "$f" | clean_console >&2 || true
      echo >&2
    fi
  fi
  exit 1
}

# Serial console text without CR, ANSI escapes and backspaces.
clean_console() { tr -d '\r\b' | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'; }

e2e_cleanup() {
  local rc=$?
  set +e
  if [[ $LAB_STARTED -eq 1 ]]; then
    RACKBOOT_LAB_DIR=$LAB_DIR "$LAB_SH" down >/dev/null 2>&1
    if ip netns list 2>/dev/null | grep -qw "$LAB_NS"; then
      echo "FAIL: namespace $LAB_NS still there after lab.sh down" >&2
      rc=1
    fi
  fi
  exit "$rc"
}

e2e_init() {
  [[ ${EUID} -eq 0 ]] || fail "needs root (network namespace, tap devices): run as root"
  [[ -x ${RACKBOOTD:-} ]] || fail "usage: $0 RACKBOOTD RACKBOOT-HOSTS (got rackbootd '${RACKBOOTD:-}')"
  [[ -x ${HOSTS:-} ]] || fail "usage: $0 RACKBOOTD RACKBOOT-HOSTS (got rackboot-hosts '${HOSTS:-}')"
  RACKBOOTD=$(cd "$(dirname "$RACKBOOTD")" && pwd)/$(basename "$RACKBOOTD")
  HOSTS=$(cd "$(dirname "$HOSTS")" && pwd)/$(basename "$HOSTS")
  [[ -x $LAB_SH && -e $SITE ]] || fail "no lab in runfiles: $LAB_SH (data //examples/lab:files)"
  local f
  for f in qemu-system-x86_64 ip timeout curl jq; do
    command -v "$f" >/dev/null || fail "missing $f (./rackboot setup installs the lab's packages)"
  done
  for f in /usr/lib/ipxe/qemu/efi-virtio.rom /usr/share/OVMF/OVMF_CODE.fd /usr/share/OVMF/OVMF_VARS.fd; do
    [[ -e $f ]] || fail "missing $f (packages ipxe-qemu, ovmf: ./rackboot setup)"
  done
  # lab.sh up begins by removing any namespace of its name: make sure it is ours alone.
  if ip netns list | grep -qw "$LAB_NS"; then
    fail "namespace $LAB_NS exists (a lab kept with ./rackboot up --keep, or another run): not touching it; ./rackboot down, then run the test again"
  fi
  LAB_DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/lab.XXXXXX")
  export RACKBOOT_LAB_DIR=$LAB_DIR
  # The daemon and QEMU run as root; the lab directory is theirs to read.
  chmod 755 "$LAB_DIR"
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  log "lab dir $LAB_DIR, lab scripts $LAB_FILES"
}

# lab_up [FLAGS...]: `lab.sh up RACKBOOTD FLAGS`, narration to $LAB_DIR/up.out. Returns its status.
lab_up() {
  LAB_STARTED=1
  local t0=$SECONDS rc=0
  "$LAB_SH" up "$RACKBOOTD" "$@" >"$LAB_DIR/up.out" 2>&1 || rc=$?
  log "lab.sh up $* -> exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

# follow_events: in the background, once lab.sh's rackbootd is ready, subscribes to its
# /api/v1/events inside the lab namespace with curl (?after=0: from the first event on, so a
# subscription made a moment after the daemon started misses nothing) into $LAB_DIR/events.txt,
# until lab.sh removes the namespace (which ends curl). Call before lab_up.
follow_events() {
  EVENTS=$LAB_DIR/events.txt
  : >"$EVENTS"
  (
    for _ in $(seq 600); do
      grep -q '^rackbootd: ready' "$LAB_DIR/rackbootd.out" 2>/dev/null && break
      sleep 0.1
    done
    # Meanwhile, twice a second, the leases (the last answer that lists one is kept).
    (
      while ip netns exec "$LAB_NS" curl -sS --max-time 2 -o "$LAB_DIR/leases.new" \
        http://198.18.0.1:8080/api/v1/leases 2>/dev/null; do
        grep -q '"address"' "$LAB_DIR/leases.new" && mv "$LAB_DIR/leases.new" "$LAB_DIR/leases.json"
        sleep 0.5
      done
    ) &
    # The stream ends when rackbootd does (lab.sh stops it at the end of the run); the bound
    # is only against a daemon that never closes it, so it outlasts the lab's own (an install
    # run can take INSTALL_TIMEOUT, and a fixed 300 s cut the stream of a run that took 312 s,
    # before its "failed" event).
    ip netns exec "$LAB_NS" curl -sN --max-time "$((${INSTALL_TIMEOUT:-600} + 300))" \
      'http://198.18.0.1:8080/api/v1/events?after=0' >"$EVENTS" 2>"$LAB_DIR/events.err"
    wait
  ) &
  EVENTS_PID=$!
}

# expect_lease HOST ADDRESS: GET /api/v1/leases, polled during the boot, listed HOST's bound
# lease of ADDRESS.
expect_lease() {
  [[ -s $LAB_DIR/leases.json ]] || fail "/api/v1/leases never listed a lease during the boot"
  jq -e --arg h "$1" --arg a "$2" '.leases[] | select(.host == $h and .address == $a
      and .state == "bound" and .subnet == "198.18.0.0/24")' "$LAB_DIR/leases.json" >/dev/null ||
    fail "/api/v1/leases: no bound lease of $2 for $1: $(cat "$LAB_DIR/leases.json")"
  log "/api/v1/leases during the boot: $1 holds $2"
}

# expect_phases HOST PHASE...: the events streamed for HOST show these phases in this order
# (others may sit between).
expect_phases() {
  local host=$1 i=0 p
  shift
  local want=("$@")
  wait "$EVENTS_PID" 2>/dev/null || true
  mapfile -t got < <(sed -n 's/^data: //p' "$EVENTS" |
    jq -r --arg h "$host" 'select(.host == $h) | .phase')
  for p in "${got[@]}"; do
    [[ $i -lt ${#want[@]} && $p == "${want[$i]}" ]] && i=$((i + 1))
  done
  [[ $i -eq ${#want[@]} ]] ||
    fail "/api/v1/events: $host's phases ${got[*]:-none}; want ${want[*]} in this order"
  log "/api/v1/events during the boot: $host went ${got[*]}"
}

# lab_guest [FLAGS...]: `lab.sh guest FLAGS` (./rackboot guest), narration to $LAB_DIR/guest-N.out
# (GUEST_OUT). Returns its status: 0 only when the guest printed the marker.
lab_guest() {
  GUESTS=$((GUESTS + 1))
  GUEST_OUT="$LAB_DIR/guest-$GUESTS.out"
  local t0=$SECONDS rc=0
  "$LAB_SH" guest "$@" >"$GUEST_OUT" 2>&1 || rc=$?
  log "lab.sh guest $* (BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}) -> exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

# The serial console of the guest that lab_guest/lab_up last booted (lab.sh names it after the tap).
last_serial() {
  local tap
  tap=$(grep -o 'serial: [^)]*' "${GUEST_OUT:-$LAB_DIR/up.out}" | tail -1 | cut -d' ' -f2)
  [[ -n $tap ]] || fail "no serial console named in ${GUEST_OUT:-$LAB_DIR/up.out}"
  echo "$tap"
}

# expect_line FILE REGEX WHAT: FILE has a line matching REGEX (grep -E), else the test fails.
expect_line() {
  grep -Eq -- "$2" "$1" || fail "$3: no line matching /$2/ in $(basename "$1")"
}

# expect_no_line FILE REGEX WHAT: no line of FILE matches REGEX.
expect_no_line() {
  local hit
  hit=$(grep -E -- "$2" "$1" | head -3 || true)
  [[ -z $hit ]] || fail "$3: $(basename "$1") has: $hit"
}

# hosts_cmd ARGS...: rackboot-hosts on the lab's site and state dir (what ./rackboot hosts|arm|
# disarm run with RACKBOOT_LAB_DIR set).
hosts_cmd() { "$HOSTS" --config="$SITE" --state_dir="$LAB_DIR/state" "$@"; }

# expect_phase HOST PHASE: `rackboot-hosts list` shows PHASE as HOST's last bring-up phase
# (within 5 s: the daemon persists bring-up phases once a second).
expect_phase() {
  local out phase try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    out=$(hosts_cmd list) || fail "rackboot-hosts list failed: $out"
    echo "$out" >"$LAB_DIR/hosts-list.txt"
    # HOST MAC IP PROFILE STATE PHASE...: the phase is the 6th column.
    phase=$(awk -v h="$1" '$1 == h { print $6 }' <<<"$out")
    [[ $phase == "$2" ]] && break
    sleep 0.5
  done
  [[ $phase == "$2" ]] || fail "rackboot-hosts list: $1 last phase '$phase', want '$2':
$out"
  log "rackboot-hosts list: $1 last phase $phase"
}
