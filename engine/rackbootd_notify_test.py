#!/usr/bin/env python3
"""rackbootd under a stand-in for systemd's manager (issue 18, must have 1).

A unix datagram socket plays /run/systemd/notify (SO_PASSCRED on, so every message's sender pid
is checked against the daemon's, as NotifyAccess=main does). rackbootd runs with NOTIFY_SOCKET
and WATCHDOG_USEC=2000000, a site of two hosts, TFTP and HTTP on loopback, and (as root) drops
to user nobody: the notify socket must stay reachable after the drop. Checked:
  - READY=1 arrives, and at that moment the HTTP port accepts a connection and the TFTP port
    answers an RRQ with DATA (readiness means bound); its STATUS= reads "serving 2 hosts, ...";
  - WATCHDOG=1 repeats (every third of WATCHDOG_USEC), never WATCHDOG_USEC apart;
  - SIGHUP with a third host in the inventory: RELOADING=1 with MONOTONIC_USEC= (the monotonic
    clock between the signal and its receipt), then READY=1 with "serving 3 hosts ...; reload
    applied"; a SIGHUP with a broken site.toml: READY=1 with "reload refused: <why>";
  - SIGTERM: STOPPING=1, exit status 0, nothing after STOPPING=1;
  - a start that fails (the HTTP port taken): STATUS=cannot start: ... Address already in use
    and ERRNO=98, exit 1, no READY=1;
  - garbage in WATCHDOG_USEC: exit 78 naming the variable.
Bounded (about 15 s); the daemons, sockets and files are removed on exit, also on failure.

Usage: rackbootd_notify_test.py RACKBOOTD
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

WATCHDOG_USEC = 2_000_000


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Manager:
    """The manager's end: receives notifications with the sender's credentials."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        os.chmod(path, 0o777)  # as systemd's: writable after the daemon drops root
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic µs, pid, text)
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        cred_size = struct.calcsize("3i")
        while not self.done:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(8192, socket.CMSG_SPACE(cred_size))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:cred_size])[0]
            with self.lock:
                self.messages.append((monotonic_usec(), pid, data.decode("utf-8", "replace")))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate, after, limit, what):
        """The first message at index >= after for which predicate(text) holds, as (index, msg)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            messages = self.snapshot()
            for i in range(after, len(messages)):
                if predicate(messages[i][2]):
                    return i, messages[i]
            time.sleep(0.02)
        fail(f"no {what} within {limit}s; messages: {self.snapshot()[after:]}")

    def close(self):
        self.done = True
        self.thread.join(timeout=2)
        self.sock.close()


def assignments(text):
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tftp_get_first_block(port, name):
    """Sends an RRQ for `name` to 127.0.0.1:port; the first DATA's payload, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"\x00\x01" + name.encode() + b"\x00octet\x00", ("127.0.0.1", port))
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            return None
        if data[:4] != b"\x00\x03\x00\x01":
            return None
        s.sendto(b"\x00\x04\x00\x01", peer)  # ACK, so the transfer ends cleanly
        return data[4:]


def main():
    if len(sys.argv) != 2:
        fail(__doc__)
    rackbootd = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="rb-notify-", dir="/tmp")
    os.chmod(work, 0o755)
    processes = []
    managers = []
    try:
        run(rackbootd, work, processes, managers)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        for m in managers:
            m.close()
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


def write_site(work, http_port, hosts, broken=False):
    with open(f"{work}/site.toml", "w") as f:
        f.write(f"""[server]
address = "127.0.0.1"
state_dir = "{work}/state"
inventory = "{work}/inventory.csv"

[dhcp]
mode = "off"

[[dhcp.subnet]]
cidr = "198.18.0.0/16"

[tftp]
root = "{work}/tftp"

[http]
listen = "127.0.0.1:{http_port}"
{"max_connections = -5" if broken else ""}

[[profile]]
name = "lab"
kernel = "vmlinuz"
initrd = "initrd.img"
append = "hostname={{{{hostname}}}}"
""")
    with open(f"{work}/inventory.csv", "w") as f:
        f.write("mac,hostname,ip,profile,state,rack\n")
        for i in range(1, hosts + 1):
            f.write(f"02:00:c6:12:00:{i:02x},node{i:03d},198.18.0.{40 + i},lab,localboot,r1\n")


def start(rackbootd, work, env_extra, name, user):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(env_extra)
    out = open(f"{work}/{name}.out", "w")
    err = open(f"{work}/{name}.log", "w")
    return subprocess.Popen(
        [rackbootd, f"--config={work}/site.toml", "--tftp_listen=127.0.0.1:0", "--threads=2",
         f"--user={user}"],
        stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)


def log_tail(work, name):
    try:
        with open(f"{work}/{name}.log") as f:
            return "".join(f.readlines()[-20:])
    except OSError:
        return "(no log)"


def run(rackbootd, work, processes, managers):
    os.makedirs(f"{work}/tftp")
    os.makedirs(f"{work}/state")
    with open(f"{work}/tftp/vmlinuz", "w") as f:
        f.write("kernel\n")
    with open(f"{work}/tftp/initrd.img", "w") as f:
        f.write("initrd\n")
    for d, _, files in os.walk(work):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    http_port = free_tcp_port()
    write_site(work, http_port, hosts=2)
    # As root, drop to nobody, as the unit's daemon does; otherwise nothing to drop.
    user = "nobody" if os.geteuid() == 0 else "root"

    manager = Manager(f"{work}/notify.sock")
    managers.append(manager)
    daemon = start(rackbootd, work, {"NOTIFY_SOCKET": manager.path,
                                     "WATCHDOG_USEC": str(WATCHDOG_USEC)}, "rb", user)
    processes.append(daemon)

    # READY=1, and the ports answer at that moment.
    _, (ready_at, pid, text) = manager.wait_for(lambda t: "READY=1" in t.split("\n"), 0, 20,
                                                "READY=1")
    if daemon.poll() is not None:
        fail(f"rackbootd exited ({daemon.returncode}): {log_tail(work, 'rb')}")
    if pid != daemon.pid:
        fail(f"READY=1 came from pid {pid}, not the daemon's {daemon.pid}")
    with socket.create_connection(("127.0.0.1", http_port), timeout=2):
        pass
    with open(f"{work}/rb.out") as f:
        ready_line = f.read()
    match = re.search(r"TFTP on 127\.0\.0\.1:(\d+)", ready_line)
    if not match:
        fail(f"no TFTP port in the ready line: {ready_line!r}")
    block = tftp_get_first_block(int(match.group(1)), "vmlinuz")
    if block != b"kernel\n":
        fail(f"TFTP after READY=1: first block {block!r}")
    status = assignments(text).get("STATUS", "")
    if not re.fullmatch(r"serving 2 hosts, 0 installing, \d+ TFTP transfers?, \d+ HTTP "
                        r"transfers?", status):
        fail(f"READY=1's STATUS= reads {status!r}")
    print(f"READY=1 with STATUS={status}", flush=True)

    # WATCHDOG=1 repeats, at most WATCHDOG_USEC/2 apart.
    time.sleep(3)
    pings = [(t, pid) for t, pid, text in manager.snapshot()
             if "WATCHDOG=1" in text.split("\n") and t >= ready_at]
    # Ticks of a third of it: about 4 in 3 s; 3 leaves room for a loaded machine.
    if len(pings) < 3:
        fail(f"{len(pings)} WATCHDOG=1 in 3 s after READY=1 (want >= 3): {manager.snapshot()}")
    if any(pid != daemon.pid for _, pid in pings):
        fail("a WATCHDOG=1 from another pid")
    # systemd kills after WATCHDOG_USEC without one.
    gaps = [b[0] - a[0] for a, b in zip([(ready_at, 0)] + pings, pings)]
    if max(gaps) >= WATCHDOG_USEC:
        fail(f"WATCHDOG=1 gaps up to {max(gaps)} µs (systemd kills at {WATCHDOG_USEC})")
    print(f"{len(pings)} WATCHDOG=1 in 3 s, largest gap {max(gaps) / 1e6:.2f} s", flush=True)

    # SIGHUP with a third host: RELOADING=1 + MONOTONIC_USEC, then READY=1, reload applied.
    write_site(work, http_port, hosts=3)
    after = len(manager.snapshot())
    before_usec = monotonic_usec()
    daemon.send_signal(signal.SIGHUP)
    i, (_, pid, text) = manager.wait_for(lambda t: "RELOADING=1" in t.split("\n"), after, 10,
                                         "RELOADING=1")
    fields = assignments(text)
    if pid != daemon.pid:
        fail(f"RELOADING=1 from pid {pid}")
    usec = int(fields.get("MONOTONIC_USEC", "-1"))
    if not before_usec <= usec <= monotonic_usec():
        fail(f"MONOTONIC_USEC={usec} is not between the signal ({before_usec}) and now")
    _, (_, _, text) = manager.wait_for(lambda t: "READY=1" in t.split("\n"), i + 1, 10,
                                       "READY=1 after the reload")
    status = assignments(text).get("STATUS", "")
    if not (status.startswith("serving 3 hosts, 0 installing") and
            status.endswith("; reload applied")):
        fail(f"after the reload: STATUS={status!r}")
    print(f"SIGHUP: RELOADING=1 MONOTONIC_USEC={usec}, READY=1 STATUS={status}", flush=True)

    # A broken site.toml: refused, said so.
    write_site(work, http_port, hosts=3, broken=True)
    after = len(manager.snapshot())
    daemon.send_signal(signal.SIGHUP)
    i, _ = manager.wait_for(lambda t: "RELOADING=1" in t.split("\n"), after, 10, "RELOADING=1")
    _, (_, _, text) = manager.wait_for(lambda t: "READY=1" in t.split("\n"), i + 1, 10,
                                       "READY=1 after the refused reload")
    status = assignments(text).get("STATUS", "")
    if "; reload refused: " not in status or "max_connections" not in status:
        fail(f"after the refused reload: STATUS={status!r}")
    print(f"broken SIGHUP: STATUS={status}", flush=True)
    # The watchdog goes on after reloads.
    after = len(manager.snapshot())
    manager.wait_for(lambda t: "WATCHDOG=1" in t.split("\n"), after, 2, "WATCHDOG=1 after reloads")

    # SIGTERM: STOPPING=1, exit 0, nothing after.
    after = len(manager.snapshot())
    daemon.send_signal(signal.SIGTERM)
    i, (_, pid, text) = manager.wait_for(lambda t: "STOPPING=1" in t.split("\n"), after, 10,
                                         "STOPPING=1")
    try:
        rc = daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fail("rackbootd did not exit within 10 s of SIGTERM")
    if rc != 0:
        fail(f"exit {rc} after SIGTERM: {log_tail(work, 'rb')}")
    time.sleep(0.3)
    later = manager.snapshot()[i + 1:]
    if later:
        fail(f"messages after STOPPING=1: {later}")
    print(f"SIGTERM: {text!r}, exit 0", flush=True)

    # A start that fails: the HTTP port taken.
    write_site(work, http_port, hosts=2)
    failing_manager = Manager(f"{work}/notify-fail.sock")
    managers.append(failing_manager)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", http_port))
        taken.listen()
        failing = start(rackbootd, work, {"NOTIFY_SOCKET": failing_manager.path,
                                          "WATCHDOG_USEC": str(WATCHDOG_USEC)}, "fail", user)
        processes.append(failing)
        try:
            rc = failing.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fail("rackbootd with its HTTP port taken did not exit")
    if rc != 1:
        fail(f"with the HTTP port taken: exit {rc}, want 1: {log_tail(work, 'fail')}")
    time.sleep(0.3)
    texts = [text for _, _, text in failing_manager.snapshot()]
    if any("READY=1" in t.split("\n") for t in texts) or len(texts) != 1:
        fail(f"a failed start sent {texts}")
    fields = assignments(texts[0])
    if not (fields.get("STATUS", "").startswith("cannot start: ") and
            "Address already in use" in fields["STATUS"] and fields.get("ERRNO") == "98"):
        fail(f"a failed start sent {texts[0]!r}")
    print(f"failed start: {texts[0]!r}", flush=True)

    # Garbage from the environment: refused, named.
    bad = start(rackbootd, work, {"NOTIFY_SOCKET": failing_manager.path,
                                  "WATCHDOG_USEC": "2s"}, "bad", user)
    processes.append(bad)
    rc = bad.wait(timeout=10)
    log = log_tail(work, "bad")
    if rc != 78 or 'WATCHDOG_USEC="2s": not a number of microseconds' not in log:
        fail(f"WATCHDOG_USEC=2s: exit {rc} (want 78): {log}")
    print("WATCHDOG_USEC=2s: exit 78, named", flush=True)


if __name__ == "__main__":
    main()
