#!/usr/bin/env bash
# rackbootd.service: `systemd-analyze verify` prints nothing and succeeds, its offline security
# exposure is not worse than the figure recorded in security_exposure.txt, the syscall filter
# keeps io_uring, and the settings the daemon relies on are there. systemd need not be PID 1
# (//packaging:service_systemd_test runs the unit under one).
# Usage: unit_test.sh RACKBOOTD_SERVICE SECURITY_EXPOSURE_TXT
set -euo pipefail
unit=$1
recorded_file=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify resolves ExecStart= and the units it depends on beneath --root: give it the host's
# units and stand-ins for the two programs the unit runs (/usr/sbin/rackbootd, /bin/kill).
make_root() {
  local root=$1
  mkdir -p "$root/usr/sbin" "$root/bin" "$root/lib/systemd"
  cp -a /lib/systemd/system "$root/lib/systemd/"
  printf '#!/bin/sh\nexit 0\n' >"$root/usr/sbin/rackbootd"
  chmod 0755 "$root/usr/sbin/rackbootd"
  cp /bin/kill "$root/bin/kill"
}
verify() { # ROOT UNIT_FILE: prints verify's output, returns its status
  cp "$2" "$1/lib/systemd/system/rackbootd.service"
  systemd-analyze verify --man=no --root="$1" rackbootd.service 2>&1
}

make_root "$work/root"
out=$(verify "$work/root" "$unit") || fail "systemd-analyze verify failed: $out"
[[ -z $out ]] || fail "systemd-analyze verify is not clean: $out"
# The check can fail: a misspelt key must be reported.
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$unit" >"$work/broken.service"
out=$(verify "$work/root" "$work/broken.service") || true
grep -q 'Unknown key' <<<"$out" || fail "verify did not notice a misspelt key (output: $out)"
echo "verify: clean"

# The exposure, e.g. "→ Overall exposure level for rackbootd.service: 1.5 OK".
exposure_of() { grep -o 'Overall exposure level for [^:]*: [0-9.]*' | awk '{print $NF}'; }
cp "$unit" "$work/rackbootd.service"
report=$(systemd-analyze security --offline=true "$work/rackbootd.service" 2>&1) || true
now=$(exposure_of <<<"$report")
recorded=$(exposure_of <"$recorded_file")
[[ -n $now ]] || fail "no exposure level in systemd-analyze security's output: $report"
[[ -n $recorded ]] || fail "no exposure level recorded in $recorded_file"
awk -v now="$now" -v rec="$recorded" 'BEGIN { exit !(now <= rec) }' ||
  fail "exposure $now is worse than the recorded $recorded; the lines it counts:
$(grep '✗' <<<"$report")"
echo "exposure: $now (recorded $recorded)"

# io_uring stays allowed: expand the allow list (@system-service and its nested groups), take
# away the denied groups, add the single calls added back, and look for the three calls.
expand() { # GROUP...: every system call in the groups, nested groups expanded
  local g
  for g in "$@"; do
    if [[ $g == @* ]]; then
      # shellcheck disable=SC2046
      expand $(systemd-analyze syscall-filter "$g" 2>/dev/null | sed -n 's/^    \([^#]\)/\1/p')
    else
      echo "$g"
    fi
  done
}
allowed=$(mktemp -p "$work")
denied=$(mktemp -p "$work")
while IFS= read -r line; do
  value=${line#SystemCallFilter=}
  if [[ $value == ~* ]]; then
    # shellcheck disable=SC2086
    expand ${value#\~} >>"$denied"
  else
    # shellcheck disable=SC2086
    expand $value >>"$allowed"
  fi
done < <(grep '^SystemCallFilter=' "$unit")
for call in io_uring_setup io_uring_enter io_uring_register capset prlimit64 sendmsg \
  recvmsg fdatasync; do
  grep -qx "$call" "$allowed" || fail "SystemCallFilter does not allow $call"
  # A call denied by a group but listed again later is allowed (capset).
  if grep -qx "$call" "$denied" && ! grep -qx "SystemCallFilter=.*\b$call\b.*" "$unit"; then
    fail "SystemCallFilter denies $call"
  fi
done
for call in setresuid chroot sched_setaffinity; do
  grep -qx "$call" "$denied" || fail "SystemCallFilter should deny $call"
done
echo "syscall filter: io_uring allowed"

# What the daemon and the package rely on ($MAINPID is the unit's, not the shell's).
# shellcheck disable=SC2016
for setting in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' 'Restart=on-failure' \
  'RestartPreventExitStatus=78' 'User=rackboot' 'Group=rackboot' \
  'ExecStart=/usr/sbin/rackbootd --config=/etc/rackboot/site.toml' \
  'ExecReload=/usr/sbin/rackbootd --check-config=/etc/rackboot/site.toml' \
  'ExecReload=/bin/kill -HUP $MAINPID' \
  'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' \
  'StateDirectory=rackboot' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'SystemCallFilter=@system-service' \
  'SystemCallArchitectures=native' 'MemoryDenyWriteExecute=yes' 'UMask=0077' \
  'LimitNOFILE=65536' 'WantedBy=multi-user.target'; do
  grep -qxF -- "$setting" "$unit" || fail "the unit lacks $setting"
done
# openat2 (every file rackbootd serves) stays allowed: RestrictSUIDSGID=yes fails it with
# ENOSYS (//packaging:service_systemd_test saw the daemon refuse to start under it).
if grep -qx 'RestrictSUIDSGID=yes' "$unit"; then
  fail "RestrictSUIDSGID=yes blocks openat2, which rackbootd opens every served file with"
fi
# The check comes before the signal.
[[ $(grep -n '^ExecReload=' "$unit" | head -n 1) == *check-config* ]] ||
  fail "ExecReload= does not run --check-config first"
echo "PASS"
