#!/usr/bin/env bash
# `rackboot gen` writes the bytes the live daemon serves (issue 14, "Done when"). A real rackbootd
# in a network namespace of its own (198.18.0.1 and every host's reserved address on lo, so that
# curl --interface speaks from each host's own address), DHCP off, TFTP and HTTP on. Inventory:
#   node-a  debian-preseed, armed by its state column (the daemon issues its token at start)
#   node-k  rhel-kickstart, armed;  node-u  ubuntu-autoinstall, armed (user-data + meta-data)
#   node-b  debian-preseed, localboot;  node-c  no profile
#   node-e  armed in host-states.tsv with a token that expired (local menus, a warning)
# Then rackboot-gen on the same site.toml and state directory, and for every file it wrote, the
# daemon's bytes from that host's address are identical (cmp): TFTP for pxelinux.cfg/ and grub/,
# HTTP /boot/ for ipxe/, HTTP /install/<token>/ for install files. Also: install files are 0600;
# gen never changes host-states.tsv; --hosts=node-b writes node-b's 3 files and nothing else;
# --hosts=ghost exits 1 naming it; a template with a syntax error exits 78 naming file:line and
# writes nothing; a token no longer valid has its install/<token>/ removed by the next run.
# Checked that it fails when gen's bytes differ: a space appended to gen's iPXE scripts gave
# "FAIL: node-u: ipxe/01-02-00-c6-12-0e-45.ipxe differs from the daemon's http://.../boot/...".
# About 5 s of wall time (22 files fetched).
# Usage: gen_test.sh RACKBOOTD RACKBOOT_GEN
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
rackbootd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
gen=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")

if [[ -z ${RB_GEN_TEST_NS:-} ]]; then
  [[ $EUID -eq 0 ]] || { echo "needs root (a network namespace)" >&2; exit 1; }
  ns="rbgen$$"
  ip netns add "$ns"
  rc=0
  RB_GEN_TEST_NS=$ns ip netns exec "$ns" bash "$0" "$@" || rc=$?
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
fi

declare -A IP=([node-a]=41 [node-b]=42 [node-c]=43 [node-e]=44 [node-k]=46 [node-u]=45)
ip link set lo up
ip addr add 198.18.0.1/16 dev lo
for h in "${!IP[@]}"; do ip addr add "198.18.0.${IP[$h]}/16" dev lo; done

work=$(mktemp -d /tmp/rackboot-gen-test.XXXXXX)
chmod 755 "$work"
pid=""
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[gen %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  [[ -e $work/rb.log ]] && { echo "--- rackbootd log (last 30 lines)" >&2; tail -n 30 "$work/rb.log" >&2; }
  exit 1
}
command -v curl >/dev/null || fail "missing curl"

root=$work/tftp
mkdir -p "$root/debian" "$root/rocky" "$root/ubuntu" "$work/state"
for f in pxelinux.0 bootnetx64.efi debian/linux debian/initrd.gz rocky/vmlinuz rocky/initrd.img \
  ubuntu/vmlinuz ubuntu/initrd; do echo "$f" >"$root/$f"; done
chmod -R a+rX "$root"
KEY='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVuZXJhdGVkIGJ5IHRoZSB0ZXN0IGZvciByYWNrYm9vdA gen@test'
HASH='$6$saltsalt$Kx0Q0uOvQJ1l0S7CkC2z8bY1n0b3fWq8Yy3oGkz7Fv0a3dE1cFqvX1wGkJ6H8rZr5sQ0mG3N2pT7uV1yW9x0.'
profiles() {
  cat <<EOT
[[profile]]
name = "deb"
family = "debian-preseed"
kernel = "debian/linux"
initrd = "debian/initrd.gz"
append = "console=ttyS0 hostname={{hostname}}"
source = "http://deb.debian.org/debian"
timezone = "Europe/Paris"
packages = ["openssh-server", "curl"]
root_password_hash = '$HASH'
ssh_keys = ['$KEY']

[[profile]]
name = "rocky"
family = "rhel-kickstart"
kernel = "rocky/vmlinuz"
initrd = "rocky/initrd.img"
source = "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os"
partitioning = "lvm"
packages = ["@core", "vim-enhanced"]

[[profile]]
name = "ubu"
family = "ubuntu-autoinstall"
kernel = "ubuntu/vmlinuz"
initrd = "ubuntu/initrd"
ssh_keys = ['$KEY']
EOT
}
site() {
  cat <<EOT
[server]
address = "198.18.0.1"
state_dir = "$work/state"
inventory = "$work/inventory.csv"
user = "root"

[dhcp]
mode = "off"

[[dhcp.subnet]]
cidr = "198.18.0.0/16"
router = "198.18.0.254"
dns = ["198.18.0.53"]
domain = "rack.test"

[tftp]
root = "$root"
listen = "198.18.0.1:69"

[http]
listen = "198.18.0.1:8080"

[boot]
bios = "pxelinux.0"
uefi_x64 = "bootnetx64.efi"
menu_timeout = 5

EOT
  profiles
}
site >"$work/site.toml"
MAC_E=02:00:c6:12:0e:44
cat >"$work/inventory.csv" <<EOT
mac,hostname,ip,profile,state,disk
02:00:c6:12:0e:41,node-a,198.18.0.41,deb,install,/dev/vda
02:00:c6:12:0e:42,node-b,198.18.0.42,deb,localboot,
02:00:c6:12:0e:43,node-c,198.18.0.43,,localboot,
$MAC_E,node-e,198.18.0.44,deb,localboot,
02:00:c6:12:0e:46,node-k,198.18.0.46,rocky,install,
02:00:c6:12:0e:45,node-u,198.18.0.45,ubu,install,
EOT
# node-e: armed an hour ago with a token that expired a second ago.
now=$(date +%s)
printf 'node-e\tinstall\t%s\t%s\t%s\n' $((now - 3600)) 0123456789abcdef0123456789abcdef \
  $((now - 1)) >"$work/state/host-states.tsv"
chmod 600 "$work/state/host-states.tsv"

log "rackbootd: issues tokens for node-a, node-k, node-u"
"$rackbootd" --config="$work/site.toml" >"$work/rb.out" 2>"$work/rb.log" </dev/null &
pid=$!
for _ in $(seq 200); do
  grep -q '^rackbootd: ready' "$work/rb.out" && break
  kill -0 "$pid" 2>/dev/null || fail "rackbootd exited before ready"
  sleep 0.1
done
grep -q '^rackbootd: ready' "$work/rb.out" || fail "rackbootd not ready within 20 s"
declare -A TOKEN=()
while IFS=$'\t' read -r host state _ token expires _; do
  [[ $host == \#* || $state != install || -z ${token:-} ]] && continue
  (( expires > now )) && TOKEN[$host]=$token
done <"$work/state/host-states.tsv"
for h in node-a node-k node-u; do [[ -n ${TOKEN[$h]:-} ]] || fail "no install token for $h in host-states.tsv"; done
[[ -z ${TOKEN[node-e]:-} ]] || fail "node-e's expired token was renewed"
states_sum=$(sha256sum "$work/state/host-states.tsv")

log "rackboot-gen on the same site.toml and state directory"
out=$work/out
"$gen" --config="$work/site.toml" --out="$out" >"$work/gen.out" 2>"$work/gen.err" ||
  fail "rackboot-gen exit $?: $(cat "$work/gen.err")"
cat "$work/gen.out" >&2
grep -q "rackboot gen: 6 hosts, 22 files written to $out (4 install files, mode 0600)" "$work/gen.out" ||
  fail "summary: $(cat "$work/gen.out")"
grep -q "warning: node-e: armed but its install token expired at " "$work/gen.err" ||
  fail "no warning for node-e's expired token: $(cat "$work/gen.err")"
for h in node-a node-k node-u; do
  ! grep -q "${TOKEN[$h]}" "$work/gen.out" "$work/gen.err" || fail "a whole token printed"
done
[[ $(sha256sum "$work/state/host-states.tsv") == "$states_sum" ]] || fail "gen changed host-states.tsv"

# The host of a written path: by MAC (menus) or by token (install files).
host_of() {
  local path=$1 mac h
  if [[ $path == install/* ]]; then
    local token=${path#install/}; token=${token%%/*}
    for h in "${!TOKEN[@]}"; do [[ ${TOKEN[$h]} == "$token" ]] && { echo "$h"; return; }; done
    return 1
  fi
  mac=$(grep -o '01-[0-9a-f-]\{17\}' <<<"$path") || return 1
  mac=${mac#01-}; mac=${mac//-/:}
  awk -F, -v m="$mac" 'tolower($1) == m { print $2 }' "$work/inventory.csv"
}
# The daemon's URL for a written path.
url_of() {
  case $1 in
    pxelinux.cfg/* | grub/*) echo "tftp://198.18.0.1/$1" ;;
    ipxe/*) echo "http://198.18.0.1:8080/boot/$1" ;;
    install/*) echo "http://198.18.0.1:8080/$1" ;;
    *) return 1 ;;
  esac
}

log "every file gen wrote, from the daemon at its host's address: the same bytes"
n=0
install_files=0
declare -A seen_kind=()
while IFS= read -r -d '' f; do
  path=${f#"$out"/}
  host=$(host_of "$path") || fail "gen wrote $path: no inventory host owns it"
  [[ -n $host ]] || fail "gen wrote $path: no inventory host owns it"
  url=$(url_of "$path") || fail "gen wrote $path: not a path the daemon serves"
  got=$work/got
  rm -f "$got"
  curl -sS -f --max-time 20 --interface "198.18.0.${IP[$host]}" -o "$got" "$url" ||
    fail "$host: the daemon did not serve $url"
  cmp "$f" "$got" >&2 || {
    diff <(cat "$f") <(cat "$got") >&2 || true
    fail "$host: $path differs from the daemon's $url"
  }
  mode=$(stat -c %a "$f")
  if [[ $path == install/* ]]; then
    [[ $mode == 600 ]] || fail "$path: mode $mode (want 600)"
    install_files=$((install_files + 1))
  else
    [[ $mode == 644 ]] || fail "$path: mode $mode (want 644)"
  fi
  seen_kind[${path%%/*}]=1
  n=$((n + 1))
done < <(find "$out" -type f -print0)
[[ $n == 22 && $install_files == 4 ]] || fail "$n files ($install_files install files) compared, want 22 (4)"
[[ ${#seen_kind[@]} == 4 ]] || fail "kinds compared: ${!seen_kind[*]}"
# The comparison compared something that matters: node-a's menu installs with its token, node-e's
# boots from disk.
grep -q "url=http://198.18.0.1:8080/install/${TOKEN[node-a]}/preseed.cfg" \
  "$out/pxelinux.cfg/01-02-00-c6-12-0e-41" || fail "node-a's pxelinux menu does not install"
! grep -q "install/" "$out/pxelinux.cfg/01-${MAC_E//:/-}" || fail "node-e (expired) got an install menu"
[[ ! -e $out/install/0123456789abcdef0123456789abcdef ]] || fail "install files for node-e's expired token"
log "compared $n files ($install_files install files) byte for byte"

log "--hosts=node-b: its 3 files, nothing for the others"
"$gen" --config="$work/site.toml" --out="$work/only" --hosts=node-b >"$work/only.out" 2>&1 ||
  fail "gen --hosts=node-b: $(cat "$work/only.out")"
got=$(cd "$work/only" && find . -type f | sort | tr '\n' ' ')
want="./grub/grub.cfg-01-02-00-c6-12-0e-42 ./ipxe/01-02-00-c6-12-0e-42.ipxe ./pxelinux.cfg/01-02-00-c6-12-0e-42 "
[[ $got == "$want" ]] || fail "gen --hosts=node-b wrote: $got"
for f in grub/grub.cfg-01-02-00-c6-12-0e-42 ipxe/01-02-00-c6-12-0e-42.ipxe; do
  cmp "$work/only/$f" "$out/$f" || fail "$f differs between --hosts and a full run"
done
rc=0
"$gen" --config="$work/site.toml" --out="$work/ghost" --hosts=node-b,ghost >"$work/ghost.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "gen --hosts=ghost: exit $rc (want 1)"
grep -q "not in $work/inventory.csv: ghost" "$work/ghost.out" || fail "ghost: $(cat "$work/ghost.out")"
[[ -z $(find "$work/ghost" -type f 2>/dev/null) ]] || fail "gen --hosts=ghost wrote files"

log "a template with a syntax error: exit 78 with file:line, nothing written"
printf '# a broken answer file\nd-i debian-installer/locale string {{locale}}\n{{#lvm}}\nd-i partman/x\n' \
  >"$work/broken.mustache"
{ site; printf '\n[[profile]]\nname = "broken"\nfamily = "debian-preseed"\nkernel = "debian/linux"\ntemplate_file = "%s"\n' \
  "$work/broken.mustache"; } >"$work/broken.toml"
rc=0
"$gen" --config="$work/broken.toml" --out="$work/broken" >"$work/broken.out" 2>&1 || rc=$?
[[ $rc == 78 ]] || fail "broken template: exit $rc (want 78): $(cat "$work/broken.out")"
grep -q "$work/broken.mustache:3" "$work/broken.out" || fail "no file:line: $(cat "$work/broken.out")"
[[ -z $(find "$work/broken" -type f 2>/dev/null) ]] || fail "files written despite the template error"

log "node-a disarmed: its token is revoked, the next run removes its install directory"
printf 'node-a\tlocalboot\t%s\n' "$(date +%s)" >"$work/state/host-states.tsv.new"
grep -v '^node-a	' "$work/state/host-states.tsv" >>"$work/state/host-states.tsv.new" || true
chmod 600 "$work/state/host-states.tsv.new"
mv -f "$work/state/host-states.tsv.new" "$work/state/host-states.tsv"
"$gen" --config="$work/site.toml" --out="$out" --hosts=node-a >"$work/disarm.out" 2>&1 ||
  fail "gen after disarm: $(cat "$work/disarm.out")"
[[ ! -e $out/install/${TOKEN[node-a]} ]] || fail "node-a's revoked install files stay in --out"
[[ -e $out/install/${TOKEN[node-k]}/ks.cfg ]] || fail "node-k's install files (still valid) removed"
grep -q "removed install/${TOKEN[node-a]:0:6}" "$work/disarm.out" || fail "no removal line: $(cat "$work/disarm.out")"
# The daemon (reloads host-states.tsv within a second) agrees: node-a's menu is its local one.
for _ in $(seq 30); do
  curl -sS -f --max-time 10 --interface 198.18.0.41 -o "$work/got" \
    "tftp://198.18.0.1/pxelinux.cfg/01-02-00-c6-12-0e-41" && cmp -s "$work/got" "$out/pxelinux.cfg/01-02-00-c6-12-0e-41" && break
  sleep 0.2
done
cmp "$work/got" "$out/pxelinux.cfg/01-02-00-c6-12-0e-41" || fail "node-a's local menu differs from the daemon's"
log "PASS"
