#!/usr/bin/env bash
# rackboot-hosts lists, arms and disarms; bad input changes nothing.
set -euo pipefail
hosts=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cat >"$work/site.toml" <<'TOML'
[server]
state_dir = "state"
inventory = "inventory.csv"
TOML
printf 'mac,hostname,ip,profile,state\n52:54:00:00:00:01,node1,,lab,install\n52:54:00:00:00:02,node2,,lab,installed\n' \
  >"$work/inventory.csv"
printf 'node1\tdhcp\t1800000000\n' >"$work/state/bring-up.tsv" 2>/dev/null || {
  mkdir -p "$work/state"
  printf 'node1\tdhcp\t1800000000\n' >"$work/state/bring-up.tsv"
}

out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node1 .*52:54:00:00:00:01 .*lab .*install .*dhcp .*2027-01-15' <<<"$out" ||
  fail "list: $out"
grep -q '^node2 .*installed *- *- *unconfirmed$' <<<"$out" || fail "list node2: $out"
grep -q '^APPLIED unconfirmed: no status from a running rackbootd' <<<"$out" || fail "no unconfirmed note: $out"

"$hosts" --config="$work/site.toml" disarm node1 | grep -q 'node1: localboot' || fail disarm
"$hosts" --config="$work/site.toml" list | grep -q '^node1 .*localboot' || fail "disarm not kept"
"$hosts" --config="$work/site.toml" arm NODE2 | grep -q 'node2: install' || fail arm
grep -q "^node2	install" "$work/state/host-states.tsv" || fail "arm not written"

if out=$("$hosts" --config="$work/site.toml" arm nosuch 2>&1); then fail "unknown host accepted"; fi
grep -q "no host 'nosuch'" <<<"$out" || fail "unknown host error: $out"
# A host this site cannot install is refused, and nothing is written: with a TFTP root rackbootd
# renders the boot files, so an armed host needs a [[profile]] (issue 11: it silently booted from
# disk). Checked to fail before CheckArmedHost.
mkdir -p "$work/tftp"
cp "$work/site.toml" "$work/site-root.toml"
printf '[tftp]\nroot = "tftp"\n' >>"$work/site-root.toml"
"$hosts" --config="$work/site.toml" disarm node1 >/dev/null
before=$(cat "$work/state/host-states.tsv")
rc=0; out=$("$hosts" --config="$work/site-root.toml" arm node1 2>&1) || rc=$?
[[ $rc -eq 78 ]] || fail "arm without a [[profile]]: exit $rc, want 78: $out"
grep -q "cannot arm node1: .*inventory.csv:2: node1 is armed for install (rackboot arm) but its profile \"lab\" is not a \[\[profile\]\]" <<<"$out" ||
  fail "arm without a [[profile]]: $out"
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "a refused arm changed the states"
printf '[[profile]]\nname = "lab"\nkernel = "vmlinuz"\n' >>"$work/site-root.toml"
# Without authoritative DHCP there are no leases: per-host files go to a reservation only, and
# node1 has none.
rc=0; out=$("$hosts" --config="$work/site-root.toml" arm node1 2>&1) || rc=$?
[[ $rc -eq 78 ]] && grep -q "node1 is armed for install (rackboot arm) but has no ip" <<<"$out" ||
  fail "arm without ip, DHCP off: exit $rc: $out"
printf '[dhcp]\nmode = "authoritative"\n[[dhcp.subnet]]\ncidr = "198.18.0.0/24"\n' >>"$work/site-root.toml"
"$hosts" --config="$work/site-root.toml" arm node1 | grep -q 'node1: install' || fail "arm with its profile"

before=$(cat "$work/state/host-states.tsv")
if "$hosts" --config="$work/site.toml" frobnicate node1 2>/dev/null; then fail "bad command"; fi
if "$hosts" list 2>/dev/null; then fail "missing --config accepted"; fi
[[ $(cat "$work/state/host-states.tsv") == "$before" ]] || fail "bad input changed the states"

# What a running daemon applies (host-states.applied, as rackbootd writes it; this shell's pid
# stands for the daemon's): node1 matches, node2 does not yet.
"$hosts" --config="$work/site.toml" disarm node1 >/dev/null
status() {
  { printf '# test\npid\t%s\nwritten\t1800000000\n' "$1"; shift; printf '%s\n' "$@"; } \
    >"$work/state/host-states.applied"
}
status $$ $'host\tnode1\tlocalboot' $'host\tnode2\tinstalled'
out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node1 .*localboot .* yes$' <<<"$out" || fail "applied node1: $out"
grep -q '^node2 .*install .* pending$' <<<"$out" || fail "pending node2: $out"
status $$ $'degraded\thost-states.tsv: cannot open: Too many open files' \
  $'host\tnode1\tlocalboot' $'host\tnode2\tlocalboot'
out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node1 .*localboot .* yes$' <<<"$out" || fail "degraded node1: $out"
grep -q '^node2 .*install .* no (degraded)$' <<<"$out" || fail "degraded node2: $out"
grep -q 'is DEGRADED: host states unreadable (host-states.tsv: cannot open: Too many open files)' \
  <<<"$out" || fail "no degraded note: $out"
# A daemon that is gone confirms nothing.
sleep 0 & gone=$!; wait "$gone"
status "$gone" $'host\tnode1\tlocalboot' $'host\tnode2\tinstall'
out=$("$hosts" --config="$work/site.toml" list)
grep -q '^node2 .*install .* unconfirmed$' <<<"$out" || fail "stale status confirmed node2: $out"
grep -q "rackbootd (pid $gone) that wrote .* is not running" <<<"$out" || fail "no stale note: $out"
echo PASS
