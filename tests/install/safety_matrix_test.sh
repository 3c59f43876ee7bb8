#!/usr/bin/env bash
# The install safety matrix of issue 14, end to end: a real rackbootd (authoritative DHCP, TFTP,
# HTTP) in network namespaces (tests/dhcp/lib.sh): ns s holds the server on br0 198.18.0.1/16,
# ns c plays each host in turn (its reserved address), ns d "another host" (someone else's
# reserved address). Only one of c and d holds an address at a time.
#
# Hosts, one per state:
#   unknown    a MAC outside the inventory
#   localboot  never armed
#   armed      armed by the inventory (the daemon issues its token at start), debian-preseed
#   armed-rh   armed in host-states.tsv (rhel-kickstart), then re-armed: the first token replaced
#   armed-ub   armed by the inventory, ubuntu-autoinstall
#   installed  installed
#   expired    armed in host-states.tsv with a token whose expiry is in the past (never
#              renewed by the daemon; the API shows it failed, "install token expired at ...")
#   done       armed, then its installer POSTs done: installed, the token revoked (replayed)
# For each host x BIOS (pxelinux.cfg/01-<mac> over TFTP, tftp-hpa), UEFI (grub.cfg-01-<mac> over
# TFTP, busybox tftp) and iPXE (ipxe/01-<mac>.ipxe over HTTP, curl), from the host's own address
# and from another host's address: the menu default it gets (install only for an armed host with
# a valid token, from its own address), and every install URL /install/<token>/<file> the test
# knows (every token it has seen, every family's file names) from that address. Counted: install
# files served where they must not be, install boots that must not happen (a menu defaulting to
# install, or carrying an install URL, for a host that must not install). Both must be 0, and
# the armed hosts must get theirs (the positive control). The matrix is printed as a table.
# Bad input: guessed, truncated, uppercase, suffixed tokens and path traversals from the armed
# host's own address; an inventory reload (SIGHUP) that renames one armed host and removes
# another: their tokens open nothing, the renamed host is not armed; site.toml and inventory
# values with newlines or shell metacharacters stop rackbootd at start (exit 78, file:line).
# Usage: safety_matrix_test.sh RACKBOOTD   (lib.sh and dhcp_client.py from tests/dhcp)
RACKBOOTD=$1
TEST_NAME=safety_matrix
source "$(dirname "$0")/../dhcp/lib.sh"
lib_init
for c in curl busybox tftp jq; do command -v $c >/dev/null || fail "missing $c"; done

ns_add s; ns_add c; ns_add d
segment
attach d eth0

SERVER=198.18.0.1
HTTP=http://$SERVER:8080
TFTP_ROOT=$WORK/tftp
mkdir -p "$TFTP_ROOT"
for f in pxelinux.0 bootnetx64.efi grubaa64.efi undionly.kpxe snponly.efi vmlinuz initrd.img; do
  echo "$f" >"$TFTP_ROOT/$f"
done
chmod -R a+rX "$TFTP_ROOT"
PROFILES='
[[profile]]
name = "deb"
family = "debian-preseed"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "console=ttyS0 hostname={{hostname}}"
timezone = "Europe/Paris"
packages = ["openssh-server"]

[[profile]]
name = "rh"
family = "rhel-kickstart"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "console=ttyS0"
source = "http://198.18.0.1:8080/boot/"

[[profile]]
name = "ub"
family = "ubuntu-autoinstall"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "console=ttyS0"
'
EXTRA_TOML="
[http]
listen = \"0.0.0.0:8080\"

[install]
token_ttl = \"1h\"
$PROFILES"
site_toml >"$WORK/site.toml"
# The [boot] table is site_toml's last: iPXE for firmware that is not iPXE yet.
printf 'ipxe_bios = "undionly.kpxe"\nipxe_uefi = "snponly.efi"\nmenu_timeout = 3\n' >>"$WORK/site.toml"

# name|mac|ip|profile|inventory state
HOSTS=(
  "unknown|02:00:c6:12:01:99|198.18.1.99|-|-"
  "localboot|02:00:c6:12:01:11|198.18.1.11|deb|localboot"
  "armed|02:00:c6:12:01:12|198.18.1.12|deb|install"
  "armed-rh|02:00:c6:12:01:13|198.18.1.13|rh|localboot"
  "armed-ub|02:00:c6:12:01:14|198.18.1.14|ub|install"
  "installed|02:00:c6:12:01:15|198.18.1.15|deb|installed"
  "expired|02:00:c6:12:01:16|198.18.1.16|deb|localboot"
  "done|02:00:c6:12:01:17|198.18.1.17|ub|install"
)
declare -A MAC=() IP=()
rows=()
for h in "${HOSTS[@]}"; do
  IFS='|' read -r name mac ip prof st <<<"$h"
  MAC[$name]=$mac; IP[$name]=$ip
  [[ $prof == - ]] || rows+=("$mac,$name,$ip,$prof,$st")
done
inventory "${rows[@]}" >"$WORK/inventory.csv"
FILES=(preseed.cfg ks.cfg user-data meta-data)

# expired: armed behind the daemon's back with a token that expired a minute ago.
now=$(date +%s)
TOKEN_EXPIRED=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'expired\tinstall\t%s\t%s\t%s\n' $((now - 7200)) "$TOKEN_EXPIRED" $((now - 60)) \
  >"$WORK/state/host-states.tsv"
chmod 600 "$WORK/state/host-states.tsv"

rb_start main
RBLOG=$WORK/rb-main.log

# token HOST: the host's current token in host-states.tsv ("" when none).
token() { awk -F'\t' -v h="$1" '$1 == h { print $4 }' "$WORK/state/host-states.tsv"; }
# arm_behind HOST: arms HOST in host-states.tsv as the operator's tools do without an API (a
# 3-field line, no token; the other lines kept), then waits for the daemon's reload to give it a
# fresh token. (The API is not reachable from loopback here: HTTP is bound to br0.)
arm_behind() {
  local f=$WORK/state/host-states.tsv before=$(token "$1") i
  { awk -F'\t' -v h="$1" '$1 != h' "$f"; printf '%s\tinstall\t%s\n' "$1" "$(date +%s)"; } >"$f.tmp"
  chmod 600 "$f.tmp"
  chown --reference="$WORK/state" "$f.tmp"   # the daemon runs as server.user (nobody)
  mv -f "$f.tmp" "$f"
  for i in $(seq 50); do
    [[ $(token "$1") =~ ^[0-9a-f]{32}$ && $(token "$1") != "$before" ]] && return 0
    sleep 0.1
  done
  fail "armed $1 in host-states.tsv: no fresh token within 5 s ($(grep "^$1" "$f"))"
}
# use_addr NS IP: NS (c or d) alone holds IP on its eth0 (the other none); server's ARP forgotten.
use_addr() {
  inns c ip addr flush dev eth0
  inns d ip addr flush dev eth0
  inns "$1" ip addr add "$2/16" dev eth0
  inns s ip neigh flush all
}

# Tokens: issued at start for hosts the inventory arms, never for the expired one.
for h in armed armed-ub done; do
  t=$(token $h)
  [[ $t =~ ^[0-9a-f]{32}$ ]] || fail "no token issued at start for $h (host-states.tsv: '$t')"
done
[[ $(token expired) == "$TOKEN_EXPIRED" ]] || fail "the expired token was replaced: $(token expired)"
[[ $(stat -c %a "$WORK/state/host-states.tsv") == 600 ]] ||
  fail "host-states.tsv holds tokens but is mode $(stat -c %a "$WORK/state/host-states.tsv")"
# armed-rh: armed in host-states.tsv, twice: re-arming replaces the token.
arm_behind armed-rh
TOKEN_REARMED=$(token armed-rh)
arm_behind armed-rh
declare -A TOKEN=()
for h in armed armed-rh armed-ub done; do TOKEN[$h]=$(token $h); done
# No token in any log line.
for h in armed armed-rh armed-ub done; do
  ! grep -q "${TOKEN[$h]}" "$RBLOG" "$WORK/rb-main.out" || fail "$h's whole token is in a log"
done

# expired: shown failed with the reason (FleetStatus), so the operator knows to re-arm.
for _ in $(seq 30); do
  inns s curl -s -o "$WORK/expired.json" "$HTTP/api/v1/hosts/expired" || true
  jq -e '.phase == "failed" and (.reason | test("install token expired at"))' "$WORK/expired.json" \
    >/dev/null 2>&1 && break
  sleep 0.2
done
jq -e '.phase == "failed" and (.reason | test("install token expired at"))' "$WORK/expired.json" >/dev/null ||
  fail "the expired host is not shown failed with 'install token expired at': $(cat "$WORK/expired.json")"

# done: its installer (from its own address) reports done; installed, token revoked.
use_addr c "${IP[done]}"
code=$(inns c curl -sS -o "$WORK/done.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "{\"token\":\"${TOKEN[done]}\",\"detail\":\"test\"}" "$HTTP/api/v1/hosts/done/done")
[[ $code == 200 ]] || fail "done report: $code $(cat "$WORK/done.body")"
for _ in $(seq 30); do
  [[ $(awk -F'\t' '$1 == "done" { print $2 }' "$WORK/state/host-states.tsv") == installed ]] && break
  sleep 0.1
done
[[ $(awk -F'\t' '$1 == "done" { print $2 }' "$WORK/state/host-states.tsv") == installed ]] ||
  fail "done did not make the host installed: $(grep '^done' "$WORK/state/host-states.tsv")"
[[ -z $(token done) ]] || fail "done left a token in host-states.tsv"
# A second done with the same token (a replayed report) is refused.
code=$(inns c curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "{\"token\":\"${TOKEN[done]}\"}" "$HTTP/api/v1/hosts/done/done")
[[ $code == 403 ]] || fail "a replayed done report: $code, want 403"

# Every token the test knows, and the hosts it belongs to (for the "must serve" positive control).
ALL_TOKENS=("${TOKEN[armed]}" "${TOKEN[armed-rh]}" "${TOKEN[armed-ub]}" "${TOKEN[done]}"
  "$TOKEN_EXPIRED" "$TOKEN_REARMED")
# Files a valid armed host's family has.
declare -A OWN_FILES=([armed]="preseed.cfg" [armed-rh]="ks.cfg" [armed-ub]="user-data meta-data")
VALID=(armed armed-rh armed-ub)
is_valid() { local v; for v in "${VALID[@]}"; do [[ $v == "$1" ]] && return 0; done; return 1; }

BAD_FILES=0      # install files served where they must not be
BAD_BOOTS=0      # install boots that must not happen
GOOD_FILES=0     # install files served where they must be
MISSED=0         # menus or files a valid armed host did not get
declare -a TABLE=()

# menu_default KIND FILE: the menu's default entry ("" when none found).
menu_default() {
  case $1 in
    bios) sed -nE 's/^[[:space:]]*DEFAULT[[:space:]]+([^[:space:]]+).*/\1/Ip' "$2" | head -1 ;;
    uefi) sed -nE "s/^[[:space:]]*set[[:space:]]+default=[\"']?([A-Za-z0-9_-]+).*/\1/p" "$2" | head -1 ;;
    ipxe)
      local d
      d=$(sed -nE 's/.*choose.*--default[[:space:]]+([^[:space:]]+).*/\1/p' "$2" | head -1)
      [[ -n $d ]] || d=$(sed -nE 's/^[[:space:]]*goto[[:space:]]+([^[:space:]]+).*/\1/p' "$2" | head -1)
      echo "$d"
      ;;
  esac
}

# fetch_menu NS KIND MAC OUT: fetches the host's menu of that kind; exit 0 when served.
fetch_menu() {
  local n=$1 kind=$2 mac=$3 out=$4 dashed="01-${3//:/-}" err
  rm -f "$out"
  case $kind in
    bios)  # tftp-hpa
      err=$(cd "$WORK" && inns "$n" timeout 10 tftp "$SERVER" -c get "pxelinux.cfg/$dashed" "$out" 2>&1) || true
      [[ -s $out && $err != *rror* ]] || { rm -f "$out"; return 1; } ;;
    uefi)  # busybox tftp
      (cd "$WORK" && inns "$n" timeout 10 busybox tftp -g -r "grub/grub.cfg-$dashed" -l "$out" "$SERVER" \
        >/dev/null 2>&1) || { rm -f "$out"; return 1; } ;;
    ipxe)  # curl over HTTP
      [[ $(inns "$n" timeout 10 curl -s -o "$out" -w '%{http_code}' "$HTTP/boot/ipxe/$dashed.ipxe") == 200 ]] ||
        { rm -f "$out"; return 1; } ;;
  esac
}

# probe_files NS HOST FROM: every known token x every file name from NS's address; counts.
# Sets PROBED to "<served>/<tried>" (no subshell: the counters are globals).
probe_files() {
  local n=$1 host=$2 from=$3 t f cfg=$WORK/curl.cfg served=0 tried=0 code url
  : >"$cfg"
  for t in "${ALL_TOKENS[@]}"; do
    for f in "${FILES[@]}"; do
      printf 'url = "%s/install/%s/%s"\noutput = "/dev/null"\n' "$HTTP" "$t" "$f" >>"$cfg"
    done
  done
  while read -r code url; do
    tried=$((tried + 1))
    [[ $code == 200 ]] || continue
    served=$((served + 1))
    t=${url#"$HTTP/install/"}; f=${t#*/}; t=${t%%/*}
    local want=0 v
    if [[ $from == own ]] && is_valid "$host" && [[ $t == "${TOKEN[$host]}" ]]; then
      for v in ${OWN_FILES[$host]}; do [[ $v == "$f" ]] && want=1; done
    fi
    if ((want)); then
      GOOD_FILES=$((GOOD_FILES + 1))
    else
      BAD_FILES=$((BAD_FILES + 1))
      echo "BAD: install file $url served to $host's $from address" >&2
    fi
  done < <(inns "$n" curl -s -K "$cfg" -w '%{http_code} %{url_effective}\n' 2>/dev/null)
  PROBED="$served/$tried"
}

row() {
  local host=$1 from=$2 n ip kind menu def want cells=() dhcp=-
  if [[ $from == own ]]; then n=c; ip=${IP[$host]}; else n=d; ip=${IP[localboot]}
    [[ $host == localboot ]] && ip=${IP[installed]}; fi
  use_addr "$n" "$ip"
  if [[ $from == own ]]; then
    # DHCP as a BIOS PXE ROM: the reserved address, and a boot file only for a host that may boot.
    client "$n" dora --iface eth0 --mac "${MAC[$host]}" --vendor PXEClient:Arch:00000:UNDI:002001 \
      --arch 0 --wait 3 --offer-wait 0.3 >"$WORK/dhcp.json" 2>/dev/null || true
    dhcp=$(jq -r 'select(.type == "ACK") | "\(.yiaddr) \(if .file == "" then "-" else .file end)"' \
      "$WORK/dhcp.json" | tail -1)
    [[ -n $dhcp ]] || dhcp="no-answer"
    if [[ $host == unknown && $dhcp != no-answer ]]; then
      fail "an unknown MAC got a DHCP answer: $dhcp"
    fi
    if [[ $host != unknown && $dhcp != "${IP[$host]} "* ]]; then
      fail "$host did not get its reserved address ${IP[$host]} over DHCP: '$dhcp'"
    fi
  fi
  for kind in bios uefi ipxe; do
    menu=$WORK/menu.$kind
    if fetch_menu "$n" "$kind" "${MAC[$host]}" "$menu"; then
      def=$(menu_default "$kind" "$menu")
      [[ -n $def ]] || def="?"
    else
      def="none"
    fi
    # What it must be.
    if [[ $from == other || $host == unknown ]]; then want=none
    elif is_valid "$host"; then want=install
    else want=local; fi
    if [[ $def != none && $want != install ]]; then
      if [[ $def == install ]] || grep -q '/install/' "$menu"; then
        BAD_BOOTS=$((BAD_BOOTS + 1))
        echo "BAD: $kind menu of $host from its $from address boots install: $(tr '\n' '|' <"$menu")" >&2
      fi
    fi
    if [[ $def != "$want" ]]; then
      MISSED=$((MISSED + 1))
      echo "WRONG: $kind menu of $host from its $from address: default '$def', want '$want'" >&2
      [[ -e $menu ]] && sed 's/^/    | /' "$menu" >&2
    fi
    if [[ $want == install ]] && ! grep -q "/install/${TOKEN[$host]}/" "$menu"; then
      MISSED=$((MISSED + 1))
      echo "WRONG: $kind install menu of $host carries no /install/<its token>/ URL" >&2
    fi
    cells+=("$def")
  done
  probe_files "$n" "$host" "$from"
  TABLE+=("$(printf '%-10s %-6s %-15s %-26s %-8s %-8s %-8s %s' "$host" "$from" "$ip" "$dhcp" "${cells[@]}" "$PROBED")")
}

log "the matrix: ${#HOSTS[@]} hosts x own/other address x BIOS/UEFI/iPXE, ${#ALL_TOKENS[@]} tokens x ${#FILES[@]} files"
for h in "${HOSTS[@]}"; do
  name=${h%%|*}
  row "$name" own
  row "$name" other
done
# Positive control: each valid armed host got each of its own files from its own address.
want_good=0
for h in "${VALID[@]}"; do for f in ${OWN_FILES[$h]}; do want_good=$((want_good + 1)); done; done

{
  echo
  echo "install safety matrix (menu default per firmware; install files served/tried)"
  printf '%-10s %-6s %-15s %-26s %-8s %-8s %-8s %s\n' host from address "dhcp ack (bios)" bios uefi ipxe files
  for r in "${TABLE[@]}"; do echo "$r"; done
  echo "install files served where they must not be: $BAD_FILES"
  echo "install boots that must not happen: $BAD_BOOTS"
  echo "install files served to their armed host: $GOOD_FILES of $want_good"
  echo "menus not as expected: $MISSED"
} >&2

# Bad input from the armed host's own address: nothing served, each refusal a 404.
log "bad tokens and paths from armed's own address"
use_addr c "${IP[armed]}"
T=${TOKEN[armed]}
GUESS=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
BAD_PATHS=(
  "/install/$GUESS/preseed.cfg"                 # guessed
  "/install/${T:0:31}/preseed.cfg"              # truncated by one
  "/install/${T:0:16}/preseed.cfg"              # half
  "/install/${T^^}/preseed.cfg"                 # uppercase
  "/install/${T}0/preseed.cfg"                  # one digit more
  "/install/$T/../$T/preseed.cfg"               # traversal that lands on itself
  "/install/$T/%2e%2e/$T/preseed.cfg"
  "/install/$T/../../etc/passwd"
  "/install/..%2f..%2f$T/preseed.cfg"
  "/install/$T/preseed.cfg/"
  "/install/$T/preseed.cfg%00"
  "/install/$T/ks.cfg"                          # not its family's file
  "/install/$T/"                                # never listed
  "/install/"
  "/install/$T"
  "/boot/../install/$T/preseed.cfg"
)
for p in "${BAD_PATHS[@]}"; do
  code=$(inns c curl -s --path-as-is -o "$WORK/bad.body" -w '%{http_code}' "$HTTP$p")
  if [[ $code == 200 ]]; then
    BAD_FILES=$((BAD_FILES + 1))
    echo "BAD: $p served to armed: $(head -c 200 "$WORK/bad.body")" >&2
  elif [[ $code != 404 && $code != 400 ]]; then
    fail "$p: status $code (want 404)"
  fi
done
# The bad ones did not disturb the good one.
[[ $(inns c curl -s -o /dev/null -w '%{http_code}' "$HTTP/install/$T/preseed.cfg") == 200 ]] ||
  fail "armed's preseed.cfg refused after the bad requests"
# A bad token is refused over the API too, and a report from another host's address.
code=$(inns c curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "{\"token\":\"$GUESS\",\"phase\":\"installing\"}" "$HTTP/api/v1/hosts/armed/phase")
[[ $code == 403 ]] || fail "phase report with a guessed token: $code, want 403"
use_addr d "${IP[localboot]}"
code=$(inns d curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "{\"token\":\"$T\"}" "$HTTP/api/v1/hosts/armed/done")
[[ $code == 403 ]] || fail "done for armed from localboot's address: $code, want 403"
[[ $(awk -F'\t' '$1 == "armed" { print $2 }' "$WORK/state/host-states.tsv") == install ]] ||
  fail "a refused done report changed armed's state"
# The refusals are logged without the whole token (DESIGN14: paths carrying tokens are redacted in
# every log line), whichever segment of the path carries it.
if grep -q "$T" "$RBLOG" "$WORK/rb-main.out"; then
  grep -h "$T" "$RBLOG" "$WORK/rb-main.out" | head -3 >&2
  fail "armed's whole token is in a log after the refusals (lines above)"
fi

# Inventory reload (SIGHUP): armed-rh renamed to renamed-rh, armed-ub removed. Their tokens open
# nothing, the renamed host is not armed (its menus boot local), the removed MAC has no menu.
log "SIGHUP: an armed host renamed, another removed"
sed -i -e 's/,armed-rh,/,renamed-rh,/' -e '/,armed-ub,/d' "$WORK/inventory.csv"
kill -HUP "${RB_PID[main]}"
for _ in $(seq 50); do grep -q 'reload' "$RBLOG" && break; sleep 0.1; done
sleep 0.5
for pair in "armed-rh|${TOKEN[armed-rh]}|ks.cfg" "armed-ub|${TOKEN[armed-ub]}|user-data"; do
  IFS='|' read -r host t f <<<"$pair"
  use_addr c "${IP[$host]}"
  code=$(inns c curl -s -o /dev/null -w '%{http_code}' "$HTTP/install/$t/$f")
  if [[ $code == 200 ]]; then
    BAD_FILES=$((BAD_FILES + 1)); echo "BAD: $host's $f served after the reload" >&2
  fi
  for kind in bios uefi ipxe; do
    if fetch_menu c "$kind" "${MAC[$host]}" "$WORK/reload.$kind"; then
      def=$(menu_default "$kind" "$WORK/reload.$kind")
      if [[ $def == install ]] || grep -q '/install/' "$WORK/reload.$kind"; then
        BAD_BOOTS=$((BAD_BOOTS + 1)); echo "BAD: $kind menu of $host boots install after the reload" >&2
      fi
      [[ $host == armed-rh && $def == local ]] ||
        fail "$kind menu of $host after the reload: default '$def' (want: renamed -> local, removed -> none)"
    else
      [[ $host == armed-ub ]] || fail "renamed-rh's $kind menu not served after the reload"
    fi
  done
done
kill -0 "${RB_PID[main]}" || fail "rackbootd died"
rb_stop main

echo "after bad input and the reload: install files served where they must not be: $BAD_FILES," \
  "install boots that must not happen: $BAD_BOOTS" >&2
((BAD_FILES == 0)) || fail "$BAD_FILES install files served where they must not be"
((BAD_BOOTS == 0)) || fail "$BAD_BOOTS install boots that must not happen"
((GOOD_FILES == want_good)) || fail "armed hosts got $GOOD_FILES of their $want_good install files"
((MISSED == 0)) || fail "$MISSED menus not as expected (see WRONG lines)"

# Values with newlines or shell metacharacters in site.toml / inventory.csv: rackbootd refuses
# to start, exit 78, naming the file and line.
log "bad values stop rackbootd at start"
cp "$WORK/site.toml" "$WORK/good.toml"
cp "$WORK/inventory.csv" "$WORK/good.csv"
# bad_start FILE_SUFFIX PATTERN: rackbootd on the current site.toml/inventory exits 78 naming PATTERN.
bad_start() {
  local what=$1 pattern=$2 rc=0
  inns s timeout 10 "$RACKBOOTD" --config="$WORK/site.toml" >"$WORK/bad.out" 2>"$WORK/bad.log" </dev/null || rc=$?
  [[ $rc == 78 ]] || fail "$what: rackbootd exit $rc, want 78: $(tail -3 "$WORK/bad.log")"
  grep -qE "$pattern" "$WORK/bad.log" || fail "$what: no '$pattern' in: $(tail -3 "$WORK/bad.log")"
  log "  $what: $(grep -E "$pattern" "$WORK/bad.log" | head -1)"
}
# bad_key KEY VALUE: a profile "bad" (no host uses it) gets KEY = VALUE (a TOML value) on a
# known line; rackbootd must name that line.
bad_key() {
  local key=$1 value=$2 line
  cp "$WORK/good.toml" "$WORK/site.toml"
  printf '\n[[profile]]\nname = "bad"\nfamily = "debian-preseed"\nkernel = "vmlinuz"\n' >>"$WORK/site.toml"
  printf '%s = %s\n' "$key" "$value" >>"$WORK/site.toml"
  line=$(wc -l <"$WORK/site.toml")
  bad_start "$key = $value" "site\.toml:$line"
}
bad_key timezone '"Europe/Paris\nreboot"'
bad_key append '"console=ttyS0\nreboot"'
bad_key timezone '"UTC;reboot"'
bad_key locale '"en_US$(reboot)"'
bad_key disk '"/dev/sda`reboot`"'
bad_key source '"http://198.18.0.1/x;reboot"'
bad_key source "\"http://198.18.0.1/x'y\""
bad_key packages '["vim", "curl&&reboot"]'
bad_key root_password_hash '"$6$x$y z"'
bad_key ssh_keys '["ssh-ed25519 AAAA x\";reboot"]'
bad_key append '"hostname={hostname}"'
cp "$WORK/good.toml" "$WORK/site.toml"
printf 'mac,hostname,ip,profile,state,disk\n02:00:c6:12:01:11,localboot,198.18.1.11,deb,localboot,/dev/sda;reboot\n' \
  >"$WORK/inventory.csv"
bad_start "inventory disk with ';'" "inventory\.csv:2"
printf 'mac,hostname,ip,profile,state,dns\n02:00:c6:12:01:11,localboot,198.18.1.11,deb,localboot,198.18.0.53$(reboot)\n' \
  >"$WORK/inventory.csv"
bad_start "inventory dns with \$()" "inventory\.csv:2"
cp "$WORK/good.csv" "$WORK/inventory.csv"

log "PASS in $SECONDS s"
