#!/usr/bin/env bash
# The .deb installed for real into a throwaway root (dpkg --root with its own database; the
# maintainer scripts run with DPKG_ROOT, --force-script-chrootless): files, modes, conffiles,
# the rackboot user made by postinst, the unit verified in place, the installed binaries run
# (linked to the system's libraries), a reinstall keeps an edited conffile, purge removes the
# state. The host's own dpkg database, users and systemd are never touched.
# Usage: deb_install_test.sh DEB UNIT_SOURCE
set -euo pipefail
# dpkg wants ldconfig and start-stop-daemon in PATH (Bazel gives tests /bin:/usr/bin only).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
deb=$(realpath "$1")
unit_source=$(realpath "$2")
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "needs root (dpkg installs files owned by root; run as CI does)"
for tool in dpkg dpkg-deb dpkg-query systemd-sysusers systemd-analyze readelf ldd; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
root=$(mktemp -d /tmp/rackboot-deb-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
host_passwd=$(md5sum /etc/passwd /etc/group)
host_status=$(md5sum /var/lib/dpkg/status)

# A minimal system for dpkg and systemd-sysusers: an empty dpkg database, root's entries.
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers" \
  "$root/etc" "$root/usr/sbin" "$root/var/log"
: >"$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
echo 'root:x:0:0:root:/root:/bin/bash' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'root:*:20000:0:99999:7:::' >"$root/etc/shadow"
echo 'root:*::' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
# --force-depends: the throwaway database knows none of the libraries (checked above against
# the host's). Its complaints about them are left out of the log.
dpkg_root() {
  dpkg --root="$root" --force-script-chrootless --force-depends \
    --log="$root/var/log/dpkg.log" "$@" 2>&1 | grep -v 'depends on \|is not installed\.$'
  return "${PIPESTATUS[0]}"
}

echo "== dpkg --root=$root -i $(basename "$deb")"
dpkg-deb --field "$deb" Package Version Depends
dpkg_root -i "$deb" || fail "dpkg -i failed"
[[ $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status} ${Version}' rackboot) == \
  "install ok installed $(dpkg-deb --field "$deb" Version)" ]] || fail "rackboot is not installed"
grep -q '^Depends: .*liburing2' < <(dpkg-deb --field "$deb") || fail "Depends lacks liburing2"
# Depends is satisfiable on Debian 12: each alternative group has an installed package on
# this machine (the binaries run here against these very libraries below).
IFS=',' read -ra groups <<<"$(dpkg-deb --field "$deb" Depends)"
for group in "${groups[@]}"; do
  ok=0
  IFS='|' read -ra alternatives <<<"$group"
  for alternative in "${alternatives[@]}"; do
    name=$(awk '{print $1}' <<<"$alternative")
    dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' && ok=1
  done
  [[ $ok -eq 1 ]] || fail "no package of Depends group '$group' is installed here"
done

echo "== lintian"
command -v lintian >/dev/null || fail "lintian is missing (./rackboot setup installs it)"
# Errors fail; warnings are listed (docs/operations.md says why each is expected).
rc=0
out=$(lintian --fail-on error "$deb" 2>&1) || rc=$?
grep -v 'running with root privileges' <<<"$out" || true
[[ $rc -eq 0 ]] || fail "lintian reports errors (exit $rc)"
grep -q '^E:' <<<"$out" && fail "lintian reports errors"

echo "== files"
for f in usr/sbin/rackbootd usr/bin/rackboot-gen usr/bin/rackboot-hosts usr/bin/rackboot-load \
  usr/bin/rackboot-mirror; do
  [[ $(stat -c '%a %U:%G' "$root/$f") == "755 root:root" ]] || fail "$f: $(stat -c '%a %U:%G' "$root/$f")"
  readelf -S "$root/$f" | grep -qE '\.symtab|\.debug_info' && fail "$f is not stripped"
  readelf -n "$root/$f" | grep -q 'Build ID' || fail "$f has no build id"
  # The binaries use the system's libraries, no LD_LIBRARY_PATH.
  ldd "$root/$f" | grep -q 'not found' && fail "$f: $(ldd "$root/$f" | grep 'not found')"
done
for f in lib/systemd/system/rackbootd.service usr/lib/sysusers.d/rackboot.conf \
  etc/rackboot/site.toml etc/rackboot/inventory.csv usr/share/man/man8/rackbootd.8.gz \
  usr/share/man/man1/rackboot-gen.1.gz usr/share/man/man1/rackboot-hosts.1.gz \
  usr/share/man/man1/rackboot-load.1.gz usr/share/man/man1/rackboot-mirror.1.gz \
  usr/share/doc/rackboot/copyright usr/share/doc/rackboot/changelog.gz; do
  [[ $(stat -c '%a %U:%G' "$root/$f") == "644 root:root" ]] || fail "$f: $(stat -c '%a %U:%G' "$root/$f" 2>&1)"
done
cmp "$root/lib/systemd/system/rackbootd.service" "$unit_source" || fail "the installed unit differs"
grep -q 'All rights reserved' "$root/usr/share/doc/rackboot/copyright" || fail "copyright"
conffiles=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}' rackboot)
for f in /etc/rackboot/site.toml /etc/rackboot/inventory.csv; do
  grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
done
grep -qx 'user = "rackboot"' "$root/etc/rackboot/site.toml" || fail "site.toml's server.user is not rackboot"
for page in "$root"/usr/share/man/man*/*.gz; do
  warnings=$(LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null) || fail "man $page"
  [[ -z $warnings ]] || fail "man $page: $warnings"
done

echo "== the user made by postinst (systemd-sysusers --root)"
entry=$(grep '^rackboot:' "$root/etc/passwd") || fail "postinst made no user rackboot"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
[[ $uid -lt 1000 && $home == /var/lib/rackboot && $shell == */nologin ]] || fail "user: $entry"
# The state directory exists before the first start (--check-config as the user needs it).
[[ $(stat -c '%u:%g %a' "$root/var/lib/rackboot") == "$uid:$gid 750" ]] ||
  fail "/var/lib/rackboot after install: $(stat -c '%u:%g %a' "$root/var/lib/rackboot" 2>&1)"
grep -q "^rackboot:x:$gid:" "$root/etc/group" || fail "no group rackboot with gid $gid"
[[ $(md5sum /etc/passwd /etc/group) == "$host_passwd" ]] || fail "the host's users changed"
[[ $(md5sum /var/lib/dpkg/status) == "$host_status" ]] || fail "the host's dpkg database changed"
echo "$entry"

echo "== the unit, verified where it is installed"
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"
for u in /lib/systemd/system/*; do
  [[ -e $root/lib/systemd/system/$(basename "$u") ]] || cp -a "$u" "$root/lib/systemd/system/"
done
out=$(systemd-analyze verify --man=no --root="$root" rackbootd.service 2>&1) ||
  fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify is not clean: $out"

echo "== the installed binaries"
help=$("$root/usr/sbin/rackbootd" --help) || fail "rackbootd --help failed"
grep -q '^Usage: rackbootd' <<<"$help" || fail "rackbootd --help: $help"
for tool in rackboot-gen rackboot-hosts rackboot-load rackboot-mirror; do
  "$root/usr/bin/$tool" --help >"$root/help.txt" 2>&1 || fail "$tool --help: $(cat "$root/help.txt")"
  grep -qi 'usage' "$root/help.txt" || fail "$tool --help prints no usage"
done
grep -q -- '--check-config' <<<"$help" || fail "rackbootd --help names no --check-config"
{
  # The example names an interface, a boot tree and boot files this machine lacks: the check
  # must say so (status 1, problems) rather than fail on its command line (64) or pass.
  rc=0
  out=$("$root/usr/sbin/rackbootd" --check-config="$root/etc/rackboot/site.toml" 2>&1) || rc=$?
  [[ $rc -eq 1 ]] || fail "--check-config on the shipped example: exit $rc (want 1): $out"
  grep -q 'site.toml' <<<"$out" || fail "--check-config names no file: $out"
  echo "--check-config on the example: exit 1, $(grep -c . <<<"$out") line(s)"
}

echo "== reinstall (upgrade path): an edited conffile is kept, postinst runs again"
echo '# edited by the operator' >>"$root/etc/rackboot/inventory.csv"
mkdir -p "$root/var/lib/rackboot"
echo lease >"$root/var/lib/rackboot/leases.journal"
dpkg_root -i "$deb" || fail "reinstall failed"
tail -n 1 "$root/etc/rackboot/inventory.csv" | grep -q 'edited by the operator' ||
  fail "the edited conffile was replaced"
[[ -f $root/var/lib/rackboot/leases.journal ]] || fail "the state did not survive an upgrade"
[[ $(grep -c '^rackboot:' "$root/etc/passwd") -eq 1 ]] || fail "postinst made the user twice"

echo "== remove, then purge"
dpkg_root -r rackboot || fail "dpkg -r failed"
[[ ! -e $root/usr/sbin/rackbootd ]] || fail "rackbootd left after remove"
[[ -f $root/etc/rackboot/site.toml ]] || fail "remove deleted a conffile"
[[ -f $root/var/lib/rackboot/leases.journal ]] || fail "remove deleted the state"
dpkg_root --purge rackboot || fail "dpkg --purge failed"
[[ ! -e $root/etc/rackboot/site.toml && ! -e $root/var/lib/rackboot ]] ||
  fail "purge left conffiles or state"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' rackboot 2>/dev/null |
  grep -q ' installed' && fail "rackboot still known to dpkg after purge"
[[ $(md5sum /var/lib/dpkg/status) == "$host_status" ]] || fail "the host's dpkg database changed"
echo PASS
