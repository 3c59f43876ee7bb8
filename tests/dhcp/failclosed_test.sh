#!/usr/bin/env bash
# Fail closed (issue 11, item 2): when rackbootd cannot read host-states.tsv it treats every host as
# not armed until it can, says so once, marks itself degraded, and `rackboot hosts` never shows a
# state as applied when it is not. Against a real rackbootd (authoritative DHCP + TFTP, dropped to
# user nobody) in namespaces of its own:
#  1) node041 armed: a PXE DISCOVER gets pxelinux.0, its pxelinux.cfg/01-<mac> (fetched with curl
#     from the host's own address) installs; `rackboot hosts` says APPLIED yes;
#  2) a new version of host-states.tsv that the daemon (user nobody) cannot read (mode 000, still
#     "install"): within ~2 s the host gets no boot file and a local-disk config, the log says
#     "host states unreadable" once (not every second), `rackboot hosts` says "no (degraded)";
#  3) readable again: within ~2 s the install applies again, "host states readable again";
#  4) a line that does not parse: local boot again, the log names host-states.tsv:LINE; fixed: back.
# Usage: failclosed_test.sh RACKBOOTD RACKBOOT_HOSTS
RACKBOOTD=$1
HOSTS_TOOL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
TEST_NAME=failclosed
source "$(dirname "$0")/lib.sh"
lib_init

ns_add s; ns_add c
segment
HOST_MAC=02:00:c6:12:00:41
HOST_IP=198.18.0.41
CFG="pxelinux.cfg/01-${HOST_MAC//:/-}"
TFTP_ROOT=$WORK/tftproot
mkdir -p "$TFTP_ROOT/rocky9"
for f in pxelinux.0 bootnetx64.efi grubaa64.efi rocky9/vmlinuz rocky9/initrd.img; do
  echo "$f" >"$TFTP_ROOT/$f"
done
chmod -R a+rX "$TFTP_ROOT"
EXTRA_TOML='
[[profile]]
name = "rocky9"
kernel = "rocky9/vmlinuz"
initrd = "rocky9/initrd.img"
append = "inst.ks=http://198.18.0.1/ks/{{hostname}}"

[http]
listen = "198.18.0.1:8080"
'
site_toml >"$WORK/site.toml"
inventory "$HOST_MAC,node041,$HOST_IP,rocky9,localboot" >"$WORK/inventory.csv"
STATES=$WORK/state/host-states.tsv
# write_states STATE [MODE] [EXTRA_LINE]: a new version of host-states.tsv (temp + rename, as
# `rackboot arm` writes it), with the given mode.
write_states() {
  local tmp=$WORK/state/host-states.tsv.tmp
  { printf '# hostname\tstate\tchanged\nnode041\t%s\t%s\n' "$1" "$(date +%s%N | cut -c1-10)"
    [[ -n ${3:-} ]] && printf '%s\n' "$3"; true; } >"$tmp"
  chmod "${2:-644}" "$tmp"
  mv -f "$tmp" "$STATES"
}
write_states install
rb_start main
inns c ip addr add "$HOST_IP/16" dev eth0

pxe_file() {  # the boot file of one PXE DISCOVER for node041 ("" = none), "NONE" without an answer
  client c send --iface eth0 --type DISCOVER --mac "$HOST_MAC" --vendor "PXEClient:Arch:00000:UNDI:002001" \
    --arch 0 --uuid --wait 0.5 >"$WORK/pxe.json"
  jq -r -s 'if length == 0 then "NONE" else .[0].file end' "$WORK/pxe.json"
}
cfg() {  # node041's pxelinux config over TFTP, from its own address
  inns c curl -s --max-time 5 "tftp://198.18.0.1/$CFG" || true
}
# The files' view (--api=off); the daemon's own view is api_degraded.
hosts_list() { "$HOSTS_TOOL" --config="$WORK/site.toml" --api=off list 2>&1 || true; }
api_degraded() {  # GET /api/v1/hosts's "degraded": null, or why no state applies
  inns c curl -s --max-time 5 http://198.18.0.1:8080/api/v1/hosts | jq -r .degraded
}
node_line() { hosts_list | grep '^node041' || true; }
# until_within SECONDS WANT CMD...: polls CMD until its output contains WANT; prints the seconds.
until_within() {
  local limit=$1 want=$2; shift 2
  local t0 t1 out
  t0=$(date +%s.%N)
  while :; do
    out=$("$@")
    t1=$(date +%s.%N)
    if grep -q -- "$want" <<<"$out"; then echo "$t1 - $t0" | bc; return 0; fi
    (( $(echo "$t1 - $t0 > $limit" | bc) )) && { echo "last: $out" >&2; return 1; }
    sleep 0.2
  done
}

log "1) armed: boot file, install config, APPLIED yes"
[[ $(pxe_file) == pxelinux.0 ]] || fail "armed node041 got no pxelinux.0"
cfg | grep -q 'KERNEL rocky9/vmlinuz' || fail "armed node041's config does not install"
cfg | grep -q '^DEFAULT install$' || fail "armed node041's config does not default to install: $(cfg)"
until_within 3 'yes$' node_line >/dev/null ||
  fail "rackboot hosts does not say node041 is applied: $(hosts_list)"
grep -q '^pid' "$WORK/state/host-states.applied" || fail "no host-states.applied"
[[ $(api_degraded) == null ]] || fail "the API says degraded while the states apply: $(api_degraded)"

log "2) host-states.tsv unreadable by the daemon (mode 000): every host boots from disk"
write_states install 000
took=$(until_within 4 '^$' pxe_file) || fail "unreadable host states: node041 still got a boot file"
log "no boot file after ${took}s"
# Every menu has a local entry; the default says which one boots.
cfg | grep -q '^DEFAULT local$' || fail "unreadable host states: the config still installs: $(cfg)"
cfg | grep -q 'KERNEL' && fail "unreadable host states: the config still has an install entry: $(cfg)"
grep -q 'host states unreadable: .*host-states.tsv.*Permission denied; every host boots from disk until it is readable' \
  "$WORK/rb-main.log" || fail "no 'host states unreadable' line"
out=$(hosts_list)
grep -q '^node041 .*install .*no (degraded)$' <<<"$out" || fail "rackboot hosts shows node041 as applied: $out"
grep -q 'is DEGRADED: host states unreadable' <<<"$out" || fail "rackboot hosts does not say degraded: $out"
grep -q 'host-states.tsv.*Permission denied' <<<"$(api_degraded)" ||
  fail "GET /api/v1/hosts does not say degraded: $(api_degraded)"
sleep 3  # three more polls, each failing
n=$(grep -c 'host states unreadable' "$WORK/rb-main.log")
(( n == 1 )) || fail "'host states unreadable' logged $n times in ~4 s (want once)"
[[ $(pxe_file) == "" ]] || fail "node041 got a boot file while degraded"

log "3) readable again: the install applies within ~2 s"
chmod 644 "$STATES"
touch "$STATES"
took=$(until_within 4 '^pxelinux.0$' pxe_file) || fail "readable again: no boot file"
log "pxelinux.0 again after ${took}s"
(( $(echo "$took < 3" | bc) )) || fail "recovery took ${took}s"
grep -q 'host states readable again' "$WORK/rb-main.log" || fail "no 'readable again' line"
cfg | grep -q 'KERNEL rocky9/vmlinuz' || fail "recovered: config does not install"
until_within 3 'yes$' node_line >/dev/null ||
  fail "rackboot hosts: node041 not applied after recovery: $(hosts_list)"
[[ $(api_degraded) == null ]] || fail "the API still says degraded after recovery: $(api_degraded)"

log "4) a line that does not parse: local boot, the log names the line"
write_states install 644 $'node042\tarmed\t1'
took=$(until_within 4 '^$' pxe_file) || fail "damaged host states: node041 still got a boot file"
grep -q 'host states unreadable: .*host-states.tsv:3: state "armed"' "$WORK/rb-main.log" ||
  fail "the log does not name host-states.tsv:3"
out=$(hosts_list)
grep -q 'host-states.tsv:3' <<<"$out" || fail "rackboot hosts does not report the damaged line: $out"
write_states install
took=$(until_within 4 '^pxelinux.0$' pxe_file) || fail "fixed file: no boot file"
log "fixed: pxelinux.0 again after ${took}s"
rb_stop main
[[ ! -e $WORK/state/host-states.applied ]] || fail "host-states.applied left behind after a clean stop"
log "PASS"
