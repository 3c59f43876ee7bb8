#!/usr/bin/env bash
# rackbootd.service under a real systemd as PID 1: a Debian 12 system made by debootstrap from
# the install tests' mirror (~/.cache/rackboot/lab-install/repo/debian12, made by ./rackboot
# test before the tests), booted with systemd-nspawn --boot on a private network. Inside, a
# oneshot unit (service_check_in_container.sh) installs the .deb with dpkg, writes a site on a
# veth pair in 198.18.77.0/24, and drives the service with systemctl: readiness after the DHCP
# probe, StatusText, the running daemon's user, capabilities, no_new_privs and seccomp, HTTP
# served, a DHCP lease and a TFTP download by busybox in a client namespace, watchdog pings, reload applied and reload refused by the pre-check, journal
# priorities, `systemd-analyze security` not above security_exposure.txt, a watchdog restart
# of a stopped daemon, a clean stop. Nothing of the host's systemd, users or network is used.
# Usage: service_systemd_test.sh DEB CHECK_SCRIPT SECURITY_EXPOSURE_TXT
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
deb=$(realpath "$1")
check_script=$(realpath "$2")
exposure_file=$(realpath "$3")
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "needs root (debootstrap and systemd-nspawn; run as CI does)"
for tool in debootstrap systemd-nspawn dpkg-deb; do
  command -v "$tool" >/dev/null || fail "$tool is missing (./rackboot setup installs it)"
done
REAL_HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
mirror=${RACKBOOT_LAB_MIRROR:-${REAL_HOME:-/root}/.cache/rackboot/lab-install/repo/debian12}
[[ -f $mirror/.rackboot-manifest.json ]] ||
  fail "no Debian mirror at $mirror: ./rackboot test makes it before the tests (examples/lab/lab.sh mirror)"

work=$(mktemp -d /tmp/rackboot-systemd.XXXXXX)
machine=rackboot-svc-$$
nspawn_pid=
cleanup() {
  if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    sleep 2
    kill -KILL "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  # nspawn's bind mounts are gone with its namespace; refuse to delete through a live mount.
  if ! grep -q " $work/" /proc/mounts; then rm -rf "$work"; fi
}
trap cleanup EXIT

# The system: systemd as init, iproute2 for the veth pair and the client's namespace, busybox
# for the client's udhcpc and tftp, and the .deb's Depends (the first
# package of each alternative group), all from the mirror: no archive is reached.
depends=$(dpkg-deb --field "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' |
  grep . | paste -sd, -)
echo "== debootstrap bookworm from $mirror with systemd, iproute2, busybox and $depends"
# The mirror's index lists the whole archive; its pool holds what the lab needs. Each package
# must be in the pool.
index=$(zcat "$mirror/dists/bookworm/main/binary-amd64/Packages.gz") ||
  fail "cannot read the mirror's Packages.gz"
missing=
for package in ${depends//,/ } procps iproute2 busybox; do
  filename=$(awk -v p="$package" '$1 == "Package:" { name = $2 }
    $1 == "Filename:" && name == p { print $2; exit }' <<<"$index")
  [[ -n $filename && -f $mirror/$filename ]] || missing+=" $package"
done
[[ -z $missing ]] ||
  fail "the mirror lacks$missing: add it to LAB_MIRROR_PACKAGES in examples/lab/install-lab.sh"
t0=$SECONDS
if ! debootstrap --variant=minbase --include="systemd,systemd-sysv,iproute2,busybox,$depends" \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg bookworm "$work/root" \
  "file://$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  fail "debootstrap failed (log above)"
fi
echo "debootstrap: $((SECONDS - t0)) s"

# The check, as a oneshot unit of the container's multi-user.target.
mkdir -p "$work/check"
cp "$deb" "$work/check/rackboot.deb"
cp "$check_script" "$work/check/check.sh"
chmod 0755 "$work/check/check.sh"
sed -n 's/.*Overall exposure level for rackbootd.service: \([0-9.]*\).*/\1/p' "$exposure_file" \
  >"$work/check/security_exposure.txt"
[[ -s $work/check/security_exposure.txt ]] || fail "no exposure level in $exposure_file"
cat >"$work/root/etc/systemd/system/rackboot-check.service" <<'EOF'
[Unit]
Description=Rackboot service check (service_systemd_test)
After=systemd-sysusers.service systemd-journald.service
[Service]
Type=oneshot
ExecStart=/rackboot-check/check.sh
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/rackboot-check.service \
  "$work/root/etc/systemd/system/multi-user.target.wants/rackboot-check.service"
# No login prompt on the console: nothing reads it.
ln -sf /dev/null "$work/root/etc/systemd/system/console-getty.service"

echo "== systemd-nspawn --boot (systemd $(dpkg-query -W -f='${Version}' systemd 2>/dev/null || echo '?') on the host)"
# --register=no --keep-unit: the host has no systemd-machined to register with.
timeout 300 systemd-nspawn --quiet --register=no --keep-unit --machine="$machine" \
  --directory="$work/root" --private-network --bind="$work/check:/rackboot-check" \
  --console=pipe --boot </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
rc=0
wait "$nspawn_pid" || rc=$?
nspawn_pid=
echo "systemd-nspawn exited $rc"
echo "---- the check's log (inside the container)"
cat "$work/check/log" 2>/dev/null || echo "(no log: the check unit did not run)"
echo "----"
result=$(cat "$work/check/result" 2>/dev/null || true)
if [[ $result != PASS ]]; then
  echo "---- the container's console (last 40 lines)"
  tail -n 40 "$work/console.log"
  [[ $rc -ne 124 ]] || fail "the container did not power off within 300 s"
  fail "the check in the container did not pass (result: '${result:-none}')"
fi
echo PASS
