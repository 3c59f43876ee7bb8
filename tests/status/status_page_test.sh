#!/usr/bin/env bash
# The status page (issue 13) in Chromium against the real rackbootd with a 1,000-host inventory
# while `rackboot load` plays clients. Two network namespaces of the test's own (names carry
# $$, everything removed on exit):
#
#   ns s: rackbootd on br0 198.18.0.1/16 (DHCP, TFTP, HTTP :80 with the page and the API),
#         Chromium + chromedriver + the selenium driver (status_page_browser.py)
#   ns c: rackboot-load on eth0 (a veth into br0)
#
# Inventory: node0000..node0999 (MACs 02:52:42:00:HH:LL, the load tool's numbering), 25 racks of
# 40 (the `rack` column); node0000..0599 armed with profile "lab", node0950..0999 installed, the
# rest local boot; [status] stall_booting = "10s". Load: 400 armed clients (node0000..0399) DHCP +
# pxelinux.0 + the profile's kernel and initrd (phases dhcp, booting, installing; 1,600 events at
# 100 clients/s), then 88 (node0512..0599) DHCP + pxelinux.0 only, which stall in booting 10 s
# later. status_page_browser.py says what is checked. Figures are printed on a RESULT line.
#
# Usage: status_page_test.sh RACKBOOTD RACKBOOT_LOAD LIB_SH BROWSER_PY
# The screenshot goes to $RACKBOOT_STATUS_SCREENSHOT, else Bazel's undeclared outputs
# (status-page.png in test.outputs), else the work directory (kept then).
RACKBOOTD=$1
LOAD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
BROWSER=$(cd "$(dirname "$4")" && pwd)/$(basename "$4")
TEST_NAME=status
# shellcheck source=/dev/null
source "$3"

skip() { echo "RACKBOOT SKIPPED: $*"; exit 0; }
[[ -x /usr/bin/chromium ]] || skip "no /usr/bin/chromium (Debian's chromium)"
[[ -x /usr/bin/chromedriver ]] || skip "no /usr/bin/chromedriver (Debian's chromium-driver)"
/usr/bin/python3 -c 'import selenium' 2>/dev/null || skip "no selenium for /usr/bin/python3 (python3-selenium)"

lib_init
HOSTS=1000
ARMED=600
INSTALLED_FROM=950
TOKEN="rb-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"

ns_add s
ns_add c
segment
# The clients' TFTP comes from their leased addresses (--tftp_from_lease), so that rackbootd
# attributes every file to its host: the whole pool is local in ns c (AnyIP), which also makes
# ns c answer ARP for it.
inns c ip addr add 198.18.0.2/16 dev eth0
inns c ip route add local 198.18.16.0/20 dev lo

mkdir -p "$WORK/tftp/lab" "$WORK/chrome" "$WORK/home"
for f in pxelinux.0 bootnetx64.efi grubaa64.efi; do echo "$f" >"$WORK/tftp/$f"; done
head -c $((96 * 1024)) /dev/urandom >"$WORK/tftp/lab/vmlinuz"
head -c $((256 * 1024)) /dev/urandom >"$WORK/tftp/lab/initrd.img"
chmod -R a+rX "$WORK/tftp"
printf '%s\n' "$TOKEN" >"$WORK/api-token"
chmod 600 "$WORK/api-token"
# The service user's (server.user, nobody here): rackbootd re-reads it on SIGHUP after dropping
# root, and refuses to start with a token it could not re-read.
chown nobody "$WORK/api-token"

TFTP_ROOT="$WORK/tftp"
EXTRA_TOML="
[[profile]]
name = \"lab\"
kernel = \"lab/vmlinuz\"
initrd = \"lab/initrd.img\"

[http]
listen = \"198.18.0.1:80\"

[api]
token_file = \"$WORK/api-token\"

[status]
stall_booting = \"10s\""
site_toml >"$WORK/site.toml"
{
  echo "mac,hostname,ip,profile,state,rack"
  for ((i = 0; i < HOSTS; i++)); do
    state=localboot
    ((i < ARMED)) && state=install
    ((i >= INSTALLED_FROM)) && state=installed
    printf '02:52:42:00:%02x:%02x,node%04d,,lab,%s,r%02d\n' $((i >> 8)) $((i & 255)) "$i" "$state" \
      $((i / 40 + 1))
  done
} >"$WORK/inventory.csv"

rb_start main
grep -q 'HTTP on 198.18.0.1:80' "$WORK/rb-main.out" || fail "no HTTP on 198.18.0.1:80: $(cat "$WORK/rb-main.out")"

shot=${RACKBOOT_STATUS_SCREENSHOT:-}
if [[ -z $shot ]]; then
  if [[ -n ${TEST_UNDECLARED_OUTPUTS_DIR:-} ]]; then
    shot=$TEST_UNDECLARED_OUTPUTS_DIR/status-page.png
  else
    shot=/tmp/rackboot-status-page-$$.png
  fi
fi

in_c="ip netns exec $(ns c) timeout 80 $LOAD --server=198.18.0.1 --interface=eth0 --progress=never"
load_armed="$in_c --clients=400 --rate=100 --tftp_from_lease --flow=dhcp,tftp:pxelinux.0,tftp:lab/vmlinuz,tftp:lab/initrd.img"
load_stall="$in_c --clients=88 --rate=20 --tftp_from_lease --flow=dhcp,tftp:pxelinux.0 --mac_base=02:52:42:00:02"

log "Chromium against rackbootd ($HOSTS hosts), load in ns c"
rc=0
HOME=$WORK/home timeout 170 ip netns exec "$(ns s)" /usr/bin/python3 "$BROWSER" \
  --url=http://198.18.0.1:80/ --hosts=$HOSTS --token="$TOKEN" --state_dir="$WORK/state" \
  --arm_host=node0700 --detail_host=node0003 --load="$load_armed" --load="$load_stall" --stall_host=node0512 \
  --screenshot="$shot" --profile="$WORK/chrome" --daemon_pid="${RB_PID[main]}" \
  --restart="$RACKBOOTD --config=$WORK/site.toml" --restart_log="$WORK/rb-restart.log" \
  >"$WORK/browser.out" || rc=$?
if [[ -s $WORK/rb-restart.log.pid ]]; then
  RB_PID[restart]=$(cat "$WORK/rb-restart.log.pid")
  PIDS+=("${RB_PID[restart]}")
fi
cat "$WORK/browser.out"
if grep -q '^RACKBOOT SKIPPED' "$WORK/browser.out"; then
  exit 0
fi
[[ $rc -eq 0 ]] || fail "the browser test failed (exit $rc)"
grep -q '^RESULT ' "$WORK/browser.out" || fail "no RESULT line"
grep -q 'api: POST /api/v1/hosts/node0700/arm from ' "$WORK/rb-main.log" ||
  fail "rackbootd did not log the arm"
# The browser test stopped the first daemon (SIGTERM) and started a second one.
grep -q 'dhcp totals:' "$WORK/rb-main.log" || fail "rackbootd (main): no dhcp totals at its stop"
[[ -n ${RB_PID[restart]:-} ]] || fail "no restarted rackbootd"
rb_stop restart
log "passed; screenshot $shot"
