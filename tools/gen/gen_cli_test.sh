#!/usr/bin/env bash
# rackboot-gen's command line without a daemon (sandboxed, no root): --help lists its own flags;
# missing flags and unknown --hosts exit 1 saying what to fix; a damaged host-states.tsv line
# exits 78 naming path:line; a state directory that does not exist is read as "no states" and
# not made; modes (0644, install files 0600, install/ 0711, install/<token>/ 0700); a symlink
# inside --out is refused and nothing lands outside it; a re-run after the token is revoked
# removes install/<token>/; no whole token in the output.
# Usage: gen_cli_test.sh RACKBOOT_GEN
set -euo pipefail
gen=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/gen-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"

"$gen" --help >help.out || fail "--help exit $?"
for f in --config --out --hosts --state_dir --json; do
  grep -q "^  $f " help.out || fail "--help does not list $f"
done
! grep -q -- "--logtostderr (" help.out || fail "--help lists glog's flags"
grep -q "^  78 " help.out || fail "--help has no exit statuses"

expect() {  # expect RC PATTERN ARGS...: exit status and a stderr line
  local want=$1 pattern=$2 rc=0
  shift 2
  "$gen" "$@" >run.out 2>run.err || rc=$?
  [[ $rc == "$want" ]] || fail "rackboot-gen $*: exit $rc (want $want): $(cat run.err)"
  grep -q -- "$pattern" run.err || fail "rackboot-gen $*: no '$pattern' in: $(cat run.err)"
}
expect 1 "--config=site.toml is required" --out=o
expect 1 "--out=DIR is required" --config=site.toml
expect 1 "unexpected argument 'list'" --config=site.toml --out=o list
expect 78 "nosuch.toml" --config=nosuch.toml --out=o

cat >site.toml <<EOT
[server]
address = "198.18.0.1"
state_dir = "$work/state"
inventory = "inventory.csv"

[dhcp]
mode = "off"

[[dhcp.subnet]]
cidr = "198.18.0.0/16"

[http]
listen = "198.18.0.1:8080"

[[profile]]
name = "rocky"
family = "rhel-kickstart"
kernel = "rocky/vmlinuz"
EOT
cat >inventory.csv <<EOT
mac,hostname,ip,profile,state
52:54:00:00:00:01,node-a,198.18.0.41,rocky,localboot
52:54:00:00:00:02,node-b,198.18.0.42,,localboot
EOT

# No state directory: every host its inventory state; the directory is not made.
"$gen" --config=site.toml --out=o1 >run.out 2>run.err || fail "no state dir: $(cat run.err)"
[[ ! -e state ]] || fail "gen made the state directory"
grep -q "rackboot gen: 2 hosts, 6 files written to o1" run.out || fail "summary: $(cat run.out)"
expect 1 "not in inventory.csv: ghost" --config=site.toml --out=o2 --hosts=node-a,ghost
[[ ! -e o2 ]] || fail "--hosts=ghost made o2"

# node-a armed with a valid token.
mkdir -p state
token=0123456789abcdef0123456789abcdef
now=$(date +%s)
printf 'node-a\tinstall\t%s\t%s\t%s\n' "$now" "$token" $((now + 3600)) >state/host-states.tsv
"$gen" --config=site.toml --out=o3 >run.out 2>run.err || fail "armed: $(cat run.err)"
grep -q "7 files written to o3 (1 install file, mode 0600)" run.out || fail "summary: $(cat run.out)"
grep -q "install/012345…/ks.cfg" run.out || fail "no redacted install path: $(cat run.out)"
! grep -q "$token" run.out run.err || fail "the whole token printed"
[[ $(stat -c %a "o3/install/$token/ks.cfg") == 600 ]] || fail "ks.cfg mode $(stat -c %a "o3/install/$token/ks.cfg")"
[[ $(stat -c %a o3/install) == 711 ]] || fail "install/ mode"
[[ $(stat -c %a "o3/install/$token") == 700 ]] || fail "install/<token>/ mode"
[[ $(stat -c %a o3/pxelinux.cfg/01-52-54-00-00-00-01) == 644 ]] || fail "menu mode"
[[ -z $(find o3 -name '.rackboot-gen-*') ]] || fail "staging left in o3"
"$gen" --config=site.toml --out=o3 --json >run.json 2>run.err || fail "--json: $(cat run.err)"
/usr/bin/python3 -c '
import json, sys
j = json.load(open("run.json"))
assert j["files_written"] == 7 and j["install_files"] == 1, j
a = [h for h in j["hosts"] if h["hostname"] == "node-a"][0]
assert a["armed"] is True and a["family"] == "rhel-kickstart", a
assert any(f["secret"] and f["path"].startswith("install/012345") for f in a["files"]), a
' || fail "--json: $(cat run.json)"

# Revoked (node-a installed): its install directory goes at the next run.
printf 'node-a\tinstalled\t%s\n' "$now" >state/host-states.tsv
"$gen" --config=site.toml --out=o3 >run.out 2>run.err || fail "revoked: $(cat run.err)"
[[ ! -e o3/install/$token ]] || fail "a revoked token's files stay"
grep -q "removed install/012345…/" run.out || fail "no removal line: $(cat run.out)"

# Expired: local menus and a warning naming the host.
printf 'node-a\tinstall\t%s\t%s\t%s\n' $((now - 100)) "$token" $((now - 1)) >state/host-states.tsv
"$gen" --config=site.toml --out=o4 >run.out 2>run.err || fail "expired: $(cat run.err)"
grep -q "warning: node-a: armed but its install token expired at " run.err || fail "no warning: $(cat run.err)"
[[ ! -e o4/install ]] || fail "install files for an expired token"

# node-b removed from the inventory: its old files are named (left), not for a --hosts run.
head -n 2 inventory.csv >inventory-a.csv
sed 's|inventory = "inventory.csv"|inventory = "inventory-a.csv"|' site.toml >site-a.toml
"$gen" --config=site-a.toml --out=o4 >run.out 2>run.err || fail "removed host: $(cat run.err)"
grep -q "warning: o4/pxelinux.cfg/01-52-54-00-00-00-02: no inventory host has this MAC" run.err ||
  fail "no warning for node-b's old files: $(cat run.err)"
[[ -e o4/pxelinux.cfg/01-52-54-00-00-00-02 ]] || fail "node-b's old file removed"
"$gen" --config=site-a.toml --out=o4 --hosts=node-a >run.out 2>run.err || fail "$(cat run.err)"
! grep -q "no inventory host" run.err || fail "--hosts run warned about other files"

# A damaged line: 78, path:line.
printf 'node-a\tinstall\t%s\nnode-b\tsideways\t1\n' "$now" >state/host-states.tsv
expect 78 "$work/state/host-states.tsv:2" --config=site.toml --out=o5
[[ ! -e o5 ]] || fail "files written despite the damaged state file"
rm state/host-states.tsv

# A symlink beneath --out: refused, nothing written through it.
mkdir -p o6 elsewhere
ln -s ../elsewhere o6/grub
expect 1 "o6/grub: not a directory" --config=site.toml --out=o6
[[ -z $(ls elsewhere) ]] || fail "gen wrote through a symlink"
echo PASS
