#!/usr/bin/env bash
# Per-host boot files only to their host (issue 11 item 8), with real TFTP clients in network
# namespaces of their own. rackbootd (authoritative DHCP + TFTP) on br0 198.18.0.1/16 in ns s;
# ns c and ns d are two machines on the same segment.
#  a) node-a has a reservation (198.18.0.41): from that address curl gets pxelinux.cfg/01-<mac>
#     (its rendered install entry); from 198.18.0.77 (ns d) the same name gets ERROR 1 "File not
#     found" (curl and busybox tftp), exactly as a MAC outside the inventory does, and so does
#     grub.cfg-01-<mac>; the refusal is logged with the asker's address.
#  b) node-b has no reservation: busybox udhcpc in ns c (with node-b's MAC) leases an address;
#     from that address its file arrives; from ns d, and for node-a's file from node-b's lease,
#     ERROR 1.
#  c) node-c's profile is not a [[profile]]: a warning at start (it is not armed); armed in
#     host-states.tsv while the daemon runs, an ERROR line at the reload.
# Before the fix, every one of the refused requests got the file (checked).
# Usage: per_host_files_test.sh RACKBOOTD   (lib.sh and dhcp_client.py from tests/dhcp)
RACKBOOTD=$1
TEST_NAME=per_host_files
source "$(dirname "$0")/../dhcp/lib.sh"
lib_init
command -v curl >/dev/null || fail "missing curl"
command -v busybox >/dev/null || fail "missing busybox"

ns_add s; ns_add c; ns_add d
segment
attach d eth0

MAC_A=02:00:c6:12:00:41
IP_A=198.18.0.41
MAC_B=02:00:c6:12:00:42
OTHER_IP=198.18.0.77
TFTP_ROOT=$WORK/tftp
mkdir -p "$TFTP_ROOT"
for f in pxelinux.0 bootnetx64.efi grubaa64.efi vmlinuz initrd.img; do echo "$f" >"$TFTP_ROOT/$f"; done
chmod -R a+rX "$TFTP_ROOT"
EXTRA_TOML='
[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{hostname}}"'
site_toml >"$WORK/site.toml"
inventory "$MAC_A,node-a,$IP_A,lab,install" "$MAC_B,node-b,,lab,install" \
  "02:00:c6:12:00:43,node-c,,nosuch,localboot" >"$WORK/inventory.csv"
rb_start main
# node-c's profile is unknown but it is not armed: a warning, not an error.
grep -q "inventory.csv:4: node-c's profile 'nosuch' is not a \[\[profile\]\]" "$WORK/rb-main.log" ||
  fail "no warning for node-c's unknown profile"
cfg() { echo "pxelinux.cfg/01-${1//:/-}"; }

# fetch NS NAME OUT: curl's exit status (0: got it; 68: TFTP "File not found").
fetch() {
  local rc=0
  rm -f "$3"
  inns "$1" timeout 20 curl -s --connect-timeout 5 -o "$3" "tftp://198.18.0.1/$2" || rc=$?
  echo "$rc"
}
# refused NS NAME: both clients get ERROR 1 "File not found".
refused() {
  local rc out
  rc=$(fetch "$1" "$2" "$WORK/refused.out")
  [[ $rc == 68 ]] || fail "curl from ns $1 for $2: exit $rc (want 68, TFTP file not found): $(cat "$WORK/refused.out" 2>/dev/null)"
  out=$(cd "$WORK" && inns "$1" timeout 20 busybox tftp -g -r "$2" -l "$WORK/bb.out" 198.18.0.1 2>&1) &&
    fail "busybox tftp from ns $1 got $2"
  grep -q '(1) File not found' <<<"$out" || fail "busybox tftp from ns $1 for $2: $out"
}

log "a) reservation: $IP_A gets node-a's file; $OTHER_IP does not"
inns c ip addr add "$IP_A/16" dev eth0
inns d ip addr add "$OTHER_IP/16" dev eth0
rc=$(fetch c "$(cfg $MAC_A)" "$WORK/a.cfg")
[[ $rc == 0 ]] || fail "node-a's own address: curl exit $rc for $(cfg $MAC_A)"
grep -q 'APPEND hostname=node-a' "$WORK/a.cfg" || fail "node-a's file: $(cat "$WORK/a.cfg")"
refused d "$(cfg $MAC_A)"
refused d "grub.cfg-01-${MAC_A//:/-}"
refused d "$(cfg 02:00:c6:12:00:99)"   # a MAC outside the inventory: the same answer
grep -q "per-host file \"$(cfg $MAC_A)\" of node-a asked by $OTHER_IP:" "$WORK/rb-main.log" ||
  fail "no log line for the refused request"

log "b) lease: node-b's leased address gets its file; others do not"
inns c ip addr flush dev eth0
set_mac c eth0 "$MAC_B"
cat >"$WORK/udhcpc.sh" <<SCRIPT
#!/bin/sh
[ "\$1" = bound ] && echo "\$ip" >"$WORK/leased"
exit 0
SCRIPT
chmod 755 "$WORK/udhcpc.sh"
timeout 30 ip netns exec "$(ns c)" busybox udhcpc -i eth0 -n -q -f -t 5 -T 2 -s "$WORK/udhcpc.sh" \
  >"$WORK/udhcpc.out" 2>&1 || fail "udhcpc got no lease: $(cat "$WORK/udhcpc.out")"
leased=$(cat "$WORK/leased")
[[ $leased == 198.18.* && $leased != "$IP_A" ]] || fail "node-b leased '$leased'"
inns c ip addr add "$leased/16" dev eth0
rc=$(fetch c "$(cfg $MAC_B)" "$WORK/b.cfg")
[[ $rc == 0 ]] || fail "node-b from its lease $leased: curl exit $rc"
grep -q 'APPEND hostname=node-b' "$WORK/b.cfg" || fail "node-b's file: $(cat "$WORK/b.cfg")"
refused d "$(cfg $MAC_B)"
refused c "$(cfg $MAC_A)"   # node-b's lease does not open node-a's file

log "c) node-c armed behind the daemon's back (host-states.tsv): an ERROR at the reload"
printf 'node-c\tinstall\t%s\n' "$(date +%s)" >"$WORK/state/host-states.tsv.tmp"
mv -f "$WORK/state/host-states.tsv.tmp" "$WORK/state/host-states.tsv"
for _ in $(seq 50); do
  grep -q "node-c is armed for install ($WORK/state/host-states.tsv) but its profile \"nosuch\"" \
    "$WORK/rb-main.log" && break
  sleep 0.1
done
grep -q "^E.*node-c is armed for install ($WORK/state/host-states.tsv) but its profile \"nosuch\"" \
  "$WORK/rb-main.log" || fail "no ERROR line for node-c armed without its [[profile]]"
log "PASS"
rb_stop main
