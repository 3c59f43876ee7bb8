#!/bin/sh
# lab-marker.sh TARGET: installs the lab's marker service into an installed system (run by the lab
# preseed's late_command with TARGET=/target). On every boot of the installed system it prints
#   RACKBOOT-LAB-MARKER installed host=<hostname> ip=<eth0's IPv4/prefix> method=<ifupdown method>
#     debian_version=<...> root=<root device>
# on the serial console, then powers the guest off: `./rackboot up --install` reads the line to
# check the installed disk's own boot (its hostname, the inventory's static address). A lab
# convenience, not something a real site installs.
set -eu
T=${1:?usage: lab-marker.sh TARGET}
mkdir -p "$T/usr/local/sbin" "$T/etc/systemd/system/multi-user.target.wants"
cat >"$T/usr/local/sbin/rackboot-lab-marker" <<'SCRIPT'
#!/bin/sh
# Waits up to 60 s for eth0's address (ifupdown brings it up), prints the marker, powers off.
addr=
for _ in $(seq 60); do
  addr=$(ip -4 -o addr show dev eth0 2>/dev/null | awk '{ print $4; exit }')
  [ -n "$addr" ] && break
  sleep 1
done
method=$(awk '$1 == "iface" && $2 == "eth0" { print $4 }' /etc/network/interfaces)
echo "RACKBOOT-LAB-MARKER installed host=$(hostname) ip=${addr:-none} method=${method:-none} debian_version=$(cat /etc/debian_version) root=$(findmnt -no SOURCE /)" >/dev/ttyS0
systemctl poweroff
SCRIPT
chmod 755 "$T/usr/local/sbin/rackboot-lab-marker"
cat >"$T/etc/systemd/system/rackboot-lab-marker.service" <<'UNIT'
[Unit]
Description=Rackboot lab: print the installed marker on the serial console, then power off
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/rackboot-lab-marker

[Install]
WantedBy=multi-user.target
UNIT
ln -sf ../rackboot-lab-marker.service "$T/etc/systemd/system/multi-user.target.wants/rackboot-lab-marker.service"
