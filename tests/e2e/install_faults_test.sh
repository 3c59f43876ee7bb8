#!/usr/bin/env bash
# Installs that cannot succeed fail visibly and change nothing they should not: `lab.sh up
# --install --hosts=2` with two faults at once, each guest a real Debian installer.
#   lab-node1: the inventory names a disk the host does not have (/dev/vdz): the installer's
#              preseed is valid, but the disk is not there
#   lab-node2: the mirror lacks a package the installer needs (debootstrap's .deb is gone from a
#              copy of the mirror; its index still lists it, as on a half-synced mirror)
# Proves, for each host:
#   - the installer reported phase failed with the step and the reason, from the host's address,
#     and lab.sh stopped the guest at once and exited non-zero naming it;
#   - the installer's log was uploaded (state_dir/install-logs/HOST.log holds the reason);
#   - /api/v1/events showed the host go installing -> failed;
#   - the host stays armed with its token (docs/install.md section 7: fix, then power-cycle),
#     and no done report was taken;
#   - nothing was written to the disk of lab-node1 (it never existed) and lab-node2's install
#     stopped before partitioning (its disk image is as qemu-img made it).
#
# Usage: install_faults_test.sh RACKBOOTD RACKBOOT-HOSTS RACKBOOT-MIRROR
RACKBOOTD=$1
HOSTS=$2
export RACKBOOT_MIRROR=$3
TEST_NAME=install_faults
source "$(dirname "$0")/lib.sh"
e2e_init
RACKBOOT_MIRROR=$(cd "$(dirname "$RACKBOOT_MIRROR")" && pwd)/$(basename "$RACKBOOT_MIRROR")

REAL_HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
GOOD_MIRROR=${RACKBOOT_LAB_MIRROR:-${REAL_HOME:-/root}/.cache/rackboot/lab-install/repo/debian12}
[[ -f $GOOD_MIRROR/.rackboot-manifest.json ]] ||
  fail "no install mirror at $GOOD_MIRROR: ./rackboot test makes it first (or: sudo ./rackboot up --install)"

# The broken mirror: a copy (hard links where the file system allows) without debootstrap's .deb.
BROKEN=$LAB_DIR/repo/debian12
mkdir -p "$LAB_DIR/repo"
cp -al "$GOOD_MIRROR" "$BROKEN" 2>/dev/null || cp -a "$GOOD_MIRROR" "$BROKEN"
chmod 755 "$LAB_DIR/repo"
mapfile -t gone < <(find "$BROKEN/pool" -name 'debootstrap_*_all.deb')
[[ ${#gone[@]} -ge 1 ]] || fail "the mirror has no debootstrap .deb to take away"
rm -f "${gone[@]}"
export RACKBOOT_LAB_MIRROR=$BROKEN RACKBOOT_LAB_OFFLINE=1

cat >"$LAB_DIR/inventory-faults.csv" <<'EOF'
mac,hostname,ip,profile,state,gateway,dns,disk
52:54:00:c6:12:01,lab-node1,198.18.0.21,debian12,install,,,/dev/vdz
52:54:00:c6:12:02,lab-node2,198.18.0.22,debian12,install,,,
EOF
export RACKBOOT_LAB_INVENTORY=$LAB_DIR/inventory-faults.csv
# Both fail within minutes; a hang is a failure too.
export INSTALL_TIMEOUT=900

follow_events
rc=0
lab_up --install --hosts=2 || rc=$?
[[ $rc -ne 0 ]] || fail "lab.sh up exited 0 though both installs must fail"
OUT=$LAB_DIR/up.out
RBLOG=$LAB_DIR/rackbootd.log
STATES=$LAB_DIR/state/host-states.tsv

# check_failed HOST IP STEP REASON-REGEX
check_failed() {
  local host=$1 ip=$2 step=$3 reason=$4
  expect_line "$RBLOG" "installer: $host failed: $step: $reason \(from $ip:" "$host's failed report"
  expect_line "$OUT" "$host: failed: .*$step" "lab.sh names $host's failure"
  grep -q "installer: $host done" "$RBLOG" && fail "$host: a done report was taken"
  local log="$LAB_DIR/state/install-logs/$host.log"
  [[ -s $log ]] || fail "$host: no installer log uploaded ($log)"
  grep -Eq "rackboot-install: FAILED at $step: $reason" "$log" || fail "$host: the uploaded log lacks the reason"
  [[ $(awk -F'\t' -v h="$host" '$1 == h { print $2 }' "$STATES") == install ]] ||
    fail "$host: not armed after a failed install: $(grep "^$host" "$STATES")"
  [[ -n $(awk -F'\t' -v h="$host" '$1 == h { print $4 }' "$STATES") ]] || fail "$host: token gone after a failed install"
  expect_phases "$host" installing failed
  log "$host: failed at '$step' with its reason, log uploaded, still armed with its token"
}

check_failed lab-node1 198.18.0.21 "loading disk drivers" "no disk /dev/vdz after loading the drivers"
check_failed lab-node2 198.18.0.22 "fetching the installer tools" "GET http://198.18.0.1:8080/repo/debian12/pool/main/d/debootstrap/debootstrap_[^ ]+_all.deb failed"
# lab-node2 stopped before partitioning: its disk image holds no data.
grep -q "installer: lab-node2 installing: partitioning" "$RBLOG" && fail "lab-node2 went on to partition"
log "PASS"
