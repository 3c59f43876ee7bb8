#!/usr/bin/env bash
# rackboot-mirror's command line without network (sandboxed, no root): --help lists its own flags
# and exit statuses; bad flags, missing --from/--to, an apt URL without a selection exit 64 saying
# the fix; a directory source (Debian media layout) is published with its manifest, --json fields,
# the profile stub and --boot_dir copies; a second run is up_to_date without a swap; a changed
# file is re-copied and the rest reused; a dropped file is kept, then pruned with --prune;
# unknown media is the exact error and nothing is published; a held lock fails at once; a
# non-mirror directory at --to is never replaced.
# Usage: mirror_cli_test.sh RACKBOOT_MIRROR
set -euo pipefail
mirror=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/mirror-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null || fail "jq is not installed (./rackboot setup)"
cd "$work"

"$mirror" --help >help.out || fail "--help exit $?"
for f in --from --to --suite --components --arch --packages --priorities --all --installer \
  --udebs --recommends --keyring --prune --json --boot_dir --connections --per_host --retries --timeout; do
  grep -q "^  $f " help.out || fail "--help does not list $f"
done
grep -q "^  64 " help.out && grep -q "^  130 " help.out || fail "--help has no exit statuses"

expect() {  # expect RC PATTERN ARGS...: exit status and a stderr line
  local want=$1 pattern=$2 rc=0
  shift 2
  "$mirror" "$@" >run.out 2>run.err || rc=$?
  [[ $rc == "$want" ]] || fail "rackboot-mirror $*: exit $rc (want $want): $(cat run.err)"
  grep -q -- "$pattern" run.err || fail "rackboot-mirror $*: no '$pattern' in: $(cat run.err)"
}
expect 64 "unknown flag --bogus" --bogus --from=a --to=b
expect 64 "bad value for --connections: 'many'" --connections=many --from=a --to=b
expect 64 "unexpected argument 'extra'" --from=a --to=b extra
expect 64 "--from=SOURCE is required" --to=b
expect 64 "--to=DIR is required" --from=a
expect 64 "--connections must be 1..256" --from=a --to=b --connections=0
expect 64 "needs a selection: add --packages" --from=http://198.18.0.1/debian --suite=bookworm \
  --to=b
expect 64 "give --installer or --udebs, not both" --from=http://198.18.0.1/debian \
  --suite=bookworm --installer --udebs=anna --to=b
expect 64 "--udebs applies to an apt repository" --from=http://198.18.0.1/rocky --udebs=anna \
  --to=b
expect 64 "only http://, https:// and ftp://" --from=file:///srv --to=b
expect 1 "no such file or directory\|No such file" --from=nosuch --to=b
expect 64 "unknown flag --bogus" --bogus --from=a --json
jq -e '.ok == false and (.error | test("unknown flag --bogus"))' run.out >/dev/null ||
  fail "--json on an unknown flag: $(cat run.out)"
expect 64 "--to=DIR is required" --from=a --json
jq -e '.ok == false and .published == false and (.error | test("--to=DIR is required"))' \
  run.out >/dev/null || fail "--json on a bad command line: $(cat run.out)"

# A directory holding Debian netinst media.
mkdir -p src/.disk src/install.amd src/pool/main/a srv boot
echo 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27' \
  >src/.disk/info
echo "kernel" >src/install.amd/vmlinuz
echo "initrd" >src/install.amd/initrd.gz
head -c 300000 /dev/urandom >src/pool/main/a/a_1_amd64.deb
echo "b" >src/pool/main/a/b_1_all.deb
cp src/pool/main/a/a_1_amd64.deb src/pool/main/a/a-copy.deb
ln -s ../../../.disk/info src/pool/main/a/link
n=6
pub=$work/srv/deb12

run() {  # run NAME ARGS...: --json on NAME.json, stderr on NAME.err, exit status in NAME.rc
  local name=$1 rc=0
  shift
  "$mirror" --json "$@" >"$name.json" 2>"$name.err" || rc=$?
  echo "$rc" >"$name.rc"
  jq -e . "$name.json" >/dev/null || fail "$name: not one JSON object: $(cat "$name.json")"
}
jexpect() {  # jexpect NAME FILTER VALUE
  local got
  got=$(jq -r "$2" "$1.json")
  [[ $got == "$3" ]] || fail "$1: $2 is '$got', want '$3': $(cat "$1.json") $(cat "$1.err")"
}

run a --from=src --to="$pub" --boot_dir=boot
jexpect a '.ok' true
jexpect a '.published' true
jexpect a '.up_to_date' false
jexpect a '.kind' directory
jexpect a '.to' "$pub"
jexpect a '.source' src
jexpect a '.files' $n
jexpect a '.fetched' $n
jexpect a '.reused' 0
jexpect a '.kept' 0
jexpect a '.pruned' 0
jexpect a '.media.family' debian-preseed
jexpect a '.media.arch' amd64
jexpect a '.media.kernel' install.amd/vmlinuz
jexpect a '.media.initrd' install.amd/initrd.gz
jexpect a '.warnings | length > 0' true  # the symlink, skipped
jexpect a 'has("error")' false
[[ $(jq -r '.bytes_fetched' a.json) -ge 300000 ]] || fail "a: bytes_fetched $(cat a.json)"
[[ $(cat a.rc) == 0 ]] || fail "a: exit $(cat a.rc)"
for f in .disk/info install.amd/vmlinuz install.amd/initrd.gz pool/main/a/a_1_amd64.deb \
  pool/main/a/b_1_all.deb pool/main/a/a-copy.deb; do
  cmp "src/$f" "$pub/$f" || fail "a: $f differs"
done
[[ ! -e $pub/pool/main/a/link ]] || fail "a: the symlink was copied"
jq -e '.version == 1 and .kind == "directory" and (.files | length) == 6' \
  "$pub/.rackboot-manifest.json" >/dev/null || fail "a: manifest: $(cat "$pub/.rackboot-manifest.json")"
want=$(sha256sum src/pool/main/a/b_1_all.deb | cut -d' ' -f1)
[[ $(jq -r '.files[] | select(.path == "pool/main/a/b_1_all.deb") | .sha256' \
  "$pub/.rackboot-manifest.json") == "$want" ]] || fail "a: manifest sha256 of b"
cmp boot/deb12/vmlinuz src/install.amd/vmlinuz || fail "a: --boot_dir kernel"
cmp boot/deb12/initrd.gz src/install.amd/initrd.gz || fail "a: --boot_dir initrd"
[[ -f srv/.rackboot-mirror-deb12/lock && ! -e srv/.rackboot-mirror-deb12/staging ]] ||
  fail "a: bookkeeping: $(ls -la srv/.rackboot-mirror-deb12)"

# Text mode: the summary and the profile stub on stdout, up to date, no swap.
inode=$(stat -c %i "$pub")
"$mirror" --from=src --to="$pub" >b.out 2>b.err || fail "b: exit $?: $(cat b.err)"
grep -q "is up to date: $n files" b.out || fail "b: $(cat b.out)"
for line in '[[profile]]' 'name = "deb12"' 'family = "debian-preseed"' \
  'kernel = "deb12/vmlinuz"' 'initrd = "deb12/initrd.gz"' 'source = "/repo/deb12"'; do
  grep -qxF "$line" b.out || fail "b: profile stub lacks '$line': $(cat b.out)"
done
[[ $(stat -c %i "$pub") == "$inode" ]] || fail "b: an up-to-date run swapped the tree"
run c --from=src --to="$pub"
jexpect c '.up_to_date' true
jexpect c '.published' false
jexpect c '.fetched' 0
jexpect c '.reused' $n

# One file changed: it alone is copied.
sleep 0.01
echo "b2" >src/pool/main/a/b_1_all.deb
run d --from=src --to="$pub"
jexpect d '.published' true
jexpect d '.fetched' 1
jexpect d '.reused' $((n - 1))
cmp src/pool/main/a/b_1_all.deb "$pub/pool/main/a/b_1_all.deb" || fail "d: not updated"
[[ $(stat -c %i "$pub") != "$inode" ]] || fail "d: the tree was not swapped"

# A dropped file is kept without --prune, removed with it.
rm src/pool/main/a/a-copy.deb
run e --from=src --to="$pub"
jexpect e '.kept' 1
jexpect e '.files' $n
jexpect e '.up_to_date' true
[[ -f $pub/pool/main/a/a-copy.deb ]] || fail "e: kept file gone"
run f --from=src --to="$pub" --prune
jexpect f '.pruned' 1
jexpect f '.published' true
jexpect f '.files' $((n - 1))
[[ ! -e $pub/pool/main/a/a-copy.deb ]] || fail "f: pruned file still there"

# Unknown media: the exact error, nothing published.
mkdir -p junk/stuff
echo hi >junk/README.TXT
run g --from=junk --to="$work/srv/junk"
[[ $(cat g.rc) == 1 ]] || fail "g: exit $(cat g.rc)"
jexpect g '.ok' false
jexpect g '.published' false
jexpect g '.error' "unrecognised media at junk: found README.TXT, stuff; expected .treeinfo (RHEL-like), .disk/info (Debian/Ubuntu media), dists/*/Release (apt) or repodata/repomd.xml (yum)"
grep -qF "rackboot-mirror: unrecognised media at junk: found README.TXT, stuff; expected" g.err ||
  fail "g: stderr: $(cat g.err)"
[[ ! -e $work/srv/junk ]] || fail "g: something was published"

# A held lock fails at once; the tree is untouched.
exec 9>srv/.rackboot-mirror-deb12/lock
flock -n 9 || fail "cannot take the lock for the test"
expect 1 "another rackboot mirror holds" --from=src --to="$pub"
exec 9>&-

# A directory that is not a mirror is never swapped away.
mkdir -p srv/mine
echo precious >srv/mine/file
expect 1 "not a rackboot mirror" --from=src --to="$work/srv/mine"
[[ $(cat srv/mine/file) == precious ]] || fail "srv/mine was touched"
echo "PASS"
