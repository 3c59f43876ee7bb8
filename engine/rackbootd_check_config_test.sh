#!/usr/bin/env bash
# rackbootd --check-config=site.toml (issue 18, must have 3) with real files: the example site,
# completed as the README says, is valid (exit 0, a summary on stdout); a broken inventory line,
# an unknown user and a missing boot file each exit 1 with the file:line and what to fix on
# stderr; a bad command line exits 64. The check opens no socket (strace, when it can trace,
# sees no socket(2) or bind(2) of a network family; and it passes while every port it names is
# held by another socket) and changes nothing in the state directory (its listing and contents
# are compared; an absent one stays absent). Run as root, it also runs as the service user
# (setpriv to nobody), as the systemd unit's ExecReload does, and a running daemon's SIGHUP
# refuses a broken inventory with the very line --check-config printed.
# Usage: rackbootd_check_config_test.sh RACKBOOTD EXAMPLE_SITE_TOML EXAMPLE_INVENTORY_CSV
set -euo pipefail
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
example_site=$2
example_inventory=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=engine/example_site_tree.sh
source "$(dirname "$0")/example_site_tree.sh"
skipped=()
# Under /tmp, not the test's own TMPDIR: the service user must traverse it.
work=$(mktemp -d /tmp/rbcheck.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The example site, copied, with every file it names made here and paths made relative.
make_example_site "$work" "$example_site" "$example_inventory"
echo "t0ken-$RANDOM" >"$work/api-token"
chmod 600 "$work/api-token"
tftp_port=$((20000 + RANDOM % 10000))
http_port=$((30000 + RANDOM % 10000))
sed -i -e 's|^root = .*|root = "tftp"|' -e 's|^repo_root = .*|repo_root = "repo"|' \
  -e 's|^token_file = .*|token_file = "api-token"|' -e 's|^state_dir = .*|state_dir = "state"|' \
  -e 's|^interface = .*|interface = "lo"|' -e 's|^user = .*|user = "root"|' \
  -e "s|^listen = \"0.0.0.0:69\"|listen = \"127.0.0.1:$tftp_port\"|" \
  -e "s|^listen = \"0.0.0.0:8080\"|listen = \"127.0.0.1:$http_port\"|" "$work/site.toml"
grep -q "^listen = \"127.0.0.1:$tftp_port\"" "$work/site.toml" || fail "tftp.listen not rewritten"
grep -q "^listen = \"127.0.0.1:$http_port\"" "$work/site.toml" || fail "http.listen not rewritten"
# A host armed by `rackboot arm` (with its token) and a discovered MAC: read, never rewritten.
printf 'node003\tinstall\t1800000000\t%s\t4102444800\n' 0123456789abcdef0123456789abcdef \
  >"$work/state/host-states.tsv"
printf '52:54:00:99:00:01\t1800000000\tarch 7\n' >"$work/state/discovered.tsv"
chmod -R a+rX "$work"
chmod 600 "$work/api-token"
line_of() { grep -n "$1" "$2" | head -1 | cut -d: -f1; }
state_listing() {
  (cd "$work/state" && find . -printf '%p %s %T@ %m %u\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# check [ARGS...]: runs the check; sets rc, out, err.
check() {
  rc=0
  timeout 20 "$rackbootd" "$@" >"$work/out" 2>"$work/err" || rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}

# 1. Valid: exit 0, "site.toml: OK (6 hosts, 3 profiles, 4 armed)" on stdout, nothing wrong.
before=$(state_listing)
check --check-config="$work/site.toml"
[[ $rc -eq 0 ]] || fail "valid site: exit $rc: $err"
grep -q "^$work/site.toml: OK (6 hosts, 3 profiles, 4 armed)\$" <<<"$out" ||
  fail "valid site: summary is '$out'"
[[ $(state_listing) == "$before" ]] || fail "the state directory changed: $(diff <(echo "$before") <(state_listing))"
# The other spelling, and --config naming the same file, are the same check.
check --check_config="$work/site.toml" --config="$work/site.toml"
[[ $rc -eq 0 ]] || fail "--check_config with the same --config: exit $rc: $err"

# 2. No socket, no write: strace sees no socket(2) of a network family (glog's user-name lookup
# may try nscd's AF_UNIX socket), no bind(2) or listen(2) at all, and no file opened for writing,
# created, renamed, removed or chmod/chowned anywhere.
if strace -f -qq -o "$work/strace" -e trace=socket,bind true 2>/dev/null; then
  rc=0
  strace -f -qq -o "$work/strace" \
    -e trace=socket,bind,listen,open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,truncate,ftruncate,chmod,fchmod,fchmodat,chown,fchown,fchownat \
    "$rackbootd" --check-config="$work/site.toml" >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || fail "under strace: exit $rc"
  grep -q 'inventory.csv' "$work/strace" || fail "strace saw no open of inventory.csv: $(head "$work/strace")"
  if grep -E 'socket\(AF_INET|socket\(AF_INET6|socket\(AF_PACKET|socket\(AF_NETLINK|bind\(|listen\(' \
      "$work/strace"; then
    fail "--check-config opened a network socket (above)"
  fi
  if grep -E 'O_WRONLY|O_RDWR|O_CREAT|creat\(|mkdir|rename|unlink|truncate|chmod|chown' "$work/strace"; then
    fail "--check-config wrote or changed a file (above)"
  fi
else
  skipped+=("strace cannot trace here: the socket(2) trace")
fi
# And it passes while both ports are held by another socket (a start would fail on them).
python3 - "$tftp_port" "$http_port" <<'EOF' &
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", int(sys.argv[1])))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", int(sys.argv[2]))); t.listen(1)
time.sleep(30)
EOF
holder=$!
pids+=("$holder")
for _ in $(seq 50); do
  ss -Hlnu "sport = :$tftp_port" | grep -q . && ss -Hlnt "sport = :$http_port" | grep -q . && break
  sleep 0.1
done
ss -Hlnu "sport = :$tftp_port" | grep -q . || fail "the port holder did not bind $tftp_port"
check --check-config="$work/site.toml"
[[ $rc -eq 0 ]] || fail "with its ports held by another socket: exit $rc: $err"
kill "$holder"
# An absent state directory is not created.
check --check-config="$work/site.toml" --state_dir="$work/fresh/state"
[[ $rc -eq 0 ]] || fail "absent state dir: exit $rc: $err"
[[ ! -e $work/fresh ]] || fail "--check-config created $work/fresh"

# 3. A broken inventory line: exit 1, inventory.csv:line on stderr, a count on stdout.
cp "$work/inventory.csv" "$work/inventory.good"
echo '52:54:00:zz:00:07,node007,198.18.1.7,rocky9,,,,,r02,SN1007' >>"$work/inventory.csv"
bad_line=$(wc -l <"$work/inventory.csv")
check --check-config="$work/site.toml"
[[ $rc -eq 1 ]] || fail "broken inventory: exit $rc (want 1): $err"
grep -q "inventory.csv:$bad_line: mac: \"52:54:00:zz:00:07\"" <<<"$err" ||
  fail "broken inventory: stderr does not name inventory.csv:$bad_line: $err"
grep -q "^$work/site.toml: 1 problem\$" <<<"$out" || fail "broken inventory: summary is '$out'"
inventory_error=$(grep "inventory.csv:$bad_line" <<<"$err")
cp "$work/inventory.good" "$work/inventory.csv"

# 4. An unknown user: exit 1, the key's line and what to do.
sed 's|^user = .*|user = "no-such-user-rb"|' "$work/site.toml" >"$work/user.toml"
check --check-config="$work/user.toml"
[[ $rc -eq 1 ]] || fail "unknown user: exit $rc (want 1): $err"
grep -q "user.toml:$(line_of '^user = ' "$work/user.toml"): server.user: user \"no-such-user-rb\" does not exist: create it (useradd" <<<"$err" ||
  fail "unknown user: $err"

# 5. A missing boot file: exit 1, site.toml:line of its key.
mv "$work/tftp/rocky9/initrd.img" "$work/initrd.img"
check --check-config="$work/site.toml"
[[ $rc -eq 1 ]] || fail "missing boot file: exit $rc (want 1): $err"
grep -q "site.toml:$(line_of '^initrd = "rocky9/initrd.img"' "$work/site.toml"): profile\[1\].initrd: \"rocky9/initrd.img\": not found in tftp.root" <<<"$err" ||
  fail "missing boot file: $err"
mv "$work/initrd.img" "$work/tftp/rocky9/initrd.img"

# 6. Several problems at once: each on a line of its own.
sed 's|^bios = .*|bios = "nope.0"|' "$work/site.toml" >"$work/two.toml"
sed -i 's|^token_file = .*|token_file = "no-token"|' "$work/two.toml"
check --check-config="$work/two.toml"
[[ $rc -eq 1 && $(wc -l <"$work/err") -eq 2 ]] || fail "two problems: exit $rc, stderr: $err"
grep -q "^$work/two.toml: 2 problems\$" <<<"$out" || fail "two problems: summary is '$out'"

# 7. A bad command line: 64, and nothing checked.
for args in "--check-config=$work/site.toml --no_such_flag" "--check-config=$work/site.toml stray" \
            "--check-config=" "--check-config=$work/site.toml --config=$work/user.toml" \
            "--check-config=$work/site.toml --threads=many"; do
  # shellcheck disable=SC2086
  check $args
  [[ $rc -eq 64 ]] || fail "bad command line '$args': exit $rc (want 64): $err"
done
# --help names the flag and its statuses.
help=$("$rackbootd" --help)
grep -q -- '--check-config=site.toml' <<<"$help" || fail "--help does not show --check-config"
grep -q 'exit 0 valid, 1 problems found' <<<"$help" || fail "--help does not give the statuses"

# 8. As the service user (root only): the unit's ExecReload runs it so.
if [[ $EUID -ne 0 ]]; then
  skipped+=("not root: the service-user run and the SIGHUP comparison")
else
  sed 's|^user = .*|user = "nobody"|' "$work/site.toml" >"$work/nobody.toml"
  chown -R nobody "$work/state" "$work/api-token"
  before=$(state_listing)
  rc=0
  setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$rackbootd" --check-config="$work/nobody.toml" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc -eq 0 ]] || fail "as nobody: exit $rc: $(cat "$work/err")"
  grep -q ': OK (6 hosts' "$work/out" || fail "as nobody: $(cat "$work/out")"
  [[ $(state_listing) == "$before" ]] || fail "as nobody: the state directory changed"
  # A state directory the service user cannot write: the system's problem, said so.
  chown root "$work/state"
  chmod 755 "$work/state"
  rc=0
  setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$rackbootd" --check-config="$work/nobody.toml" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc -eq 1 ]] && grep -q 'server.state_dir: .*not writable by uid' "$work/err" ||
    fail "as nobody, a root-owned state dir: exit $rc: $(cat "$work/err")"
  chown -R root "$work/state" "$work/api-token"

  # 9. SIGHUP refuses what --check-config refuses, in the same words. (Served without DHCP, so
  # node005, armed without an address, is disarmed first: no leases would find it.)
  sed -i 's|^\(52:54:00:12:00:05,node005,,rocky9,\)install,|\1localboot,|' "$work/inventory.csv"
  grep -q '^52:54:00:12:00:05,node005,,rocky9,localboot,' "$work/inventory.csv" || fail "node005 not disarmed"
  "$rackbootd" --config="$work/site.toml" --dhcp_mode=off >"$work/rb.out" 2>"$work/rb.log" &
  rb=$!
  pids+=("$rb")
  for _ in $(seq 100); do grep -q 'rackbootd: ready' "$work/rb.out" && break; sleep 0.1; done
  grep -q 'rackbootd: ready' "$work/rb.out" || fail "rackbootd did not start: $(cat "$work/rb.log")"
  echo '52:54:00:zz:00:07,node007,198.18.1.7,rocky9,,,,,r02,SN1007' >>"$work/inventory.csv"
  kill -HUP "$rb"
  for _ in $(seq 50); do grep -q 'keeping the running configuration' "$work/rb.log" && break; sleep 0.1; done
  grep -qF "reload: $inventory_error" "$work/rb.log" ||
    fail "SIGHUP's refusal differs from --check-config's '$inventory_error': $(grep reload "$work/rb.log")"
  kill -TERM "$rb"
  wait "$rb" || fail "rackbootd exited $? after SIGTERM"
  cp "$work/inventory.good" "$work/inventory.csv"
fi

for s in "${skipped[@]}"; do echo "RACKBOOT SKIPPED: $s (the rest passed)"; done
echo PASS
