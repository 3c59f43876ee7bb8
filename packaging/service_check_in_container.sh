#!/bin/bash
# Runs inside the container that service_systemd_test.sh boots (systemd as PID 1), as a
# oneshot unit once the system is up: installs the .deb as an operator would, then drives
# rackbootd.service through systemctl. Writes its log to /rackboot-check/log and PASS or FAIL
# to /rackboot-check/result, then powers the container off.
exec >/rackboot-check/log 2>&1
set -uo pipefail
export SYSTEMD_PAGER="" SYSTEMD_COLORS=0
result=/rackboot-check/result

finish() {
  echo "RESULT $1"
  echo "$1" >"$result"
  # Straight to the target: `systemctl poweroff` asks logind over D-Bus, which is not here.
  systemctl start --no-block --job-mode=replace-irreversibly poweroff.target
  exit 0
}
fail() {
  echo "FAIL: $*"
  echo "--- systemctl status rackbootd"
  systemctl status --no-pager --lines=40 rackbootd
  echo "--- journalctl -u rackbootd (last 40)"
  journalctl --no-pager -u rackbootd -n 40
  finish FAIL
}
step() { echo "== $*"; }
prop() { systemctl show -P "$1" rackbootd; }
# Called through wait_for.
# shellcheck disable=SC2317
status_starts() { [[ $(prop StatusText) == "$1"* ]]; }
# shellcheck disable=SC2317
is_active() { [[ $(prop ActiveState) == active ]]; }
# shellcheck disable=SC2317
restarted_more_than() { [[ $(prop NRestarts) -gt $1 ]]; }
# waits up to $1 s for command "${@:2}" to succeed
wait_for() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

step "apt-style install: dpkg -i (the libraries came with the system)"
dpkg -i /rackboot-check/rackboot.deb || fail "dpkg -i failed"
id rackboot || fail "no rackboot user after install"
[[ $(systemctl is-enabled rackbootd) == disabled ]] ||
  fail "a fresh install enabled the service: $(systemctl is-enabled rackbootd)"
[[ $(systemctl is-active rackbootd) == inactive ]] || fail "a fresh install started the service"

step "the network it serves: rb0 198.18.77.1/24, a veth pair to a client namespace"
ip netns add client || fail "cannot make a network namespace"
ip link add rb0 type veth peer name rb1 netns client || fail "cannot make a veth pair"
ip addr add 198.18.77.1/24 dev rb0
# The client is node01 of the inventory below.
ip netns exec client ip link set rb1 address 02:00:c6:12:4d:01
ip netns exec client ip link set lo up
ip netns exec client ip link set rb1 up
ip link set rb0 up

step "a site: /etc/rackboot/site.toml, the inventory, a boot tree"
mkdir -p /srv/rackboot/tftp
head -c 300000 /dev/urandom >/srv/rackboot/tftp/vmlinuz
head -c 100000 /dev/urandom >/srv/rackboot/tftp/initrd.img
cat >/etc/rackboot/site.toml <<'EOF'
[server]
interface = "rb0"
address = "198.18.77.1"
state_dir = "/var/lib/rackboot"
inventory = "inventory.csv"
user = "rackboot"

[dhcp]
mode = "authoritative"
probe_seconds = 5

[[dhcp.subnet]]
cidr = "198.18.77.0/24"
pool = "198.18.77.100-198.18.77.200"

[tftp]
root = "/srv/rackboot/tftp"

[http]
listen = "198.18.77.1:80"

[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{hostname}}"
EOF
cat >/etc/rackboot/inventory.csv <<'EOF'
mac,hostname,ip,profile,state
02:00:c6:12:4d:01,node01,198.18.77.11,lab,localboot
EOF

step "rackbootd --check-config, as the service user"
runuser -u rackboot -- rackbootd --check-config=/etc/rackboot/site.toml ||
  fail "--check-config refused the site (exit $?)"

step "systemctl enable --now rackbootd: returns once READY=1 (Type=notify)"
t0=$SECONDS
systemctl enable --now rackbootd || fail "systemctl enable --now failed"
echo "active after $((SECONDS - t0)) s (the DHCP probe alone is 5 s)"
[[ $(prop ActiveState)/$(prop SubState) == active/running ]] ||
  fail "not active/running: $(prop ActiveState)/$(prop SubState)"
((SECONDS - t0 >= 5)) || fail "READY=1 came before the 5 s DHCP probe ended"
status=$(prop StatusText)
echo "StatusText: $status"
[[ $status == "serving 1 host,"* ]] || fail "StatusText is not 'serving 1 host, ...': $status"
pid=$(prop MainPID)
[[ $pid -gt 1 ]] || fail "no MainPID"

step "what the running daemon holds: user, capabilities, no_new_privs, seccomp, sockets"
grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "/proc/$pid/status"
uid=$(id -u rackboot)
[[ $(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$pid/status") == "$uid$uid$uid$uid" ]] ||
  fail "rackbootd does not run as rackboot ($uid) alone"
for cap in CapPrm CapEff CapAmb CapInh; do
  [[ $(awk -v c="$cap:" '$1 == c {print $2}' "/proc/$pid/status") == 0000000000000000 ]] ||
    fail "$cap is not empty after the binds"
done
[[ $(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status") == 1 ]] || fail "no_new_privs unset"
[[ $(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status") == 2 ]] || fail "no seccomp filter"
ss -lnup
ss -lntp
for port in 67 69; do
  ss -lnup | grep -q ":$port .*pid=$pid," || fail "nothing of rackbootd's listens on UDP $port"
done
ss -lntp | grep -Eq "198\.18\.77\.1(%rb0)?:80 .*pid=$pid," || fail "rackbootd does not listen on TCP 80"

step "HTTP: /boot/vmlinuz from the daemon, byte for byte (bash's /dev/tcp)"
exec 3<>/dev/tcp/198.18.77.1/80 || fail "cannot connect to 198.18.77.1:80"
printf 'GET /boot/vmlinuz HTTP/1.0\r\nHost: 198.18.77.1\r\n\r\n' >&3
cat <&3 >/tmp/response
exec 3<&-
head -n 1 /tmp/response | tr -d '\r'
head -n 1 /tmp/response | grep -q '^HTTP/1.[01] 200' || fail "GET /boot/vmlinuz: $(head -n 1 /tmp/response)"
# The body follows the first empty line.
header_bytes=$(grep -abo $'\r$' /tmp/response | awk -F: 'prev + 2 == $1 {print $1 + 2; exit} {prev = $1}')
tail -c +"$((header_bytes + 1))" /tmp/response | cmp - /srv/rackboot/tftp/vmlinuz ||
  fail "the body is not /srv/rackboot/tftp/vmlinuz"

step "DHCP and TFTP to node01 in its namespace (busybox udhcpc and tftp)"
cat >/tmp/udhcpc.script <<'EOF'
#!/bin/sh
# udhcpc calls this with the lease in its environment.
case $1 in
  bound | renew)
    ip addr add "$ip/$mask" dev "$interface"
    echo "$ip $serverid" >/tmp/lease
    ;;
esac
EOF
chmod 0755 /tmp/udhcpc.script
ip netns exec client busybox udhcpc -i rb1 -f -q -n -t 5 -T 2 -s /tmp/udhcpc.script ||
  fail "udhcpc got no lease from rackbootd"
echo "lease: $(cat /tmp/lease)"
[[ $(cat /tmp/lease) == "198.18.77.11 198.18.77.1" ]] ||
  fail "node01 got '$(cat /tmp/lease)', want its inventory address 198.18.77.11 from 198.18.77.1"
ip netns exec client busybox tftp -g -b 1432 -r vmlinuz -l /tmp/vmlinuz.tftp 198.18.77.1 ||
  fail "busybox tftp could not fetch vmlinuz"
cmp /tmp/vmlinuz.tftp /srv/rackboot/tftp/vmlinuz || fail "TFTP's vmlinuz differs from the file"
echo "TFTP: vmlinuz, $(stat -c %s /tmp/vmlinuz.tftp) bytes, byte for byte"
journalctl --no-pager -u rackbootd -o cat | grep -E 'DHCPACK|tftp .*vmlinuz' | tail -n 3

step "WATCHDOG=1 keeps coming (systemd records the last ping)"
w1=$(prop WatchdogTimestampMonotonic)
sleep 2.5
w2=$(prop WatchdogTimestampMonotonic)
echo "WatchdogUSec=$(prop WatchdogUSec) last ping: $w1 then $w2 (monotonic µs)"
[[ $w1 -gt 0 && $w2 -gt $w1 ]] || fail "no watchdog ping in 2.5 s ($w1, $w2)"

step "systemctl reload: --check-config first, then SIGHUP; the new host is served"
echo "02:00:c6:12:4d:02,node02,198.18.77.12,lab,localboot" >>/etc/rackboot/inventory.csv
systemctl reload rackbootd || fail "systemctl reload failed"
wait_for 10 status_starts "serving 2 hosts," ||
  fail "StatusText after a reload: $(prop StatusText)"
echo "StatusText: $(prop StatusText)"
[[ $(prop MainPID) == "$pid" ]] || fail "a reload restarted the daemon"

step "systemctl reload with a broken site.toml: refused by the pre-check, daemon untouched"
cp /etc/rackboot/site.toml /tmp/site.toml.good
echo 'bogus_key = 1' >>/etc/rackboot/site.toml
if systemctl reload rackbootd; then fail "a reload with a broken site.toml succeeded"; fi
[[ $(prop ActiveState) == active && $(prop MainPID) == "$pid" ]] ||
  fail "the daemon did not survive a refused reload"
journalctl --no-pager -u rackbootd -n 20 | grep -q 'bogus_key' ||
  fail "the journal does not say what the check refused"
cp /tmp/site.toml.good /etc/rackboot/site.toml

step "the journal: priorities from <N>, no glog prefix"
journalctl --no-pager -u rackbootd _PID="$pid" -o cat | head -n 20
lines=$(journalctl --no-pager -u rackbootd _PID="$pid" -o cat | wc -l)
((lines > 3)) || fail "rackbootd logged $lines line(s) to the journal"
if journalctl --no-pager -u rackbootd _PID="$pid" -o cat | grep -E '^[IWEF][0-9]{8} '; then
  fail "glog prefixes reached the journal"
fi
journalctl --no-pager -u rackbootd _PID="$pid" -p info..info -o cat | grep -q . ||
  fail "no line at priority 6 (info)"
journalctl --no-pager -u rackbootd _PID="$pid" -p 7 -o cat | grep -Eq '^<[0-7]>' &&
  fail "a <N> prefix was not taken by journald"

step "systemd-analyze security: the exposure this tree states"
systemd-analyze security --no-pager rackbootd.service | tail -n 1
exposure=$(systemd-analyze security --no-pager rackbootd.service |
  sed -n 's/.*Overall exposure level for rackbootd.service: \([0-9.]*\).*/\1/p')
stated=$(cat /rackboot-check/security_exposure.txt)
echo "exposure $exposure, stated $stated"
awk -v a="$exposure" -v b="$stated" 'BEGIN {exit !(a <= b)}' ||
  fail "exposure $exposure is worse than the stated $stated"

step "the watchdog trips: SIGSTOP with WatchdogSec=3s (a drop-in), systemd restarts it"
mkdir -p /etc/systemd/system/rackbootd.service.d
printf '[Service]\nWatchdogSec=3s\n' >/etc/systemd/system/rackbootd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart rackbootd || fail "restart with WatchdogSec=3s failed"
pid=$(prop MainPID)
restarts=$(prop NRestarts)
kill -STOP "$pid"
wait_for 30 restarted_more_than "$restarts" ||
  fail "a stopped daemon was not restarted within 30 s (NRestarts $(prop NRestarts))"
wait_for 30 is_active ||
  fail "not active again after the watchdog restart"
journalctl --no-pager -u rackbootd -n 30 | grep -i 'watchdog timeout' ||
  fail "the journal does not say the watchdog fired"
[[ $(prop MainPID) != "$pid" ]] || fail "the same process still runs"
rm -r /etc/systemd/system/rackbootd.service.d
systemctl daemon-reload

step "systemctl stop: STOPPING=1, a clean exit"
systemctl stop rackbootd
[[ $(prop ActiveState) == inactive ]] || fail "still $(prop ActiveState) after stop"
[[ $(prop Result) == success ]] || fail "stop result: $(prop Result)"
[[ $(prop ExecMainStatus) == 0 ]] || fail "rackbootd exited $(prop ExecMainStatus) on stop"

finish PASS
