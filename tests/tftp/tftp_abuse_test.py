#!/usr/bin/env python3
"""rackbootd's TFTP under the attack of issue 11, in two network namespaces.

A daemon with a site (inventory, host states, a profile) and a descriptor limit of 1024 serves
198.18.0.1 in namespace s; namespace c (198.18.0.2, plus one attacker address 198.18.1.1 and 200
more in 198.18.2.0/24) sends, over about 13 s, 20,000 RRQs asking `timeout 255` from distinct
source ports of 198.18.1.1 and 20,000 more spread over the 200 addresses, never acknowledged.
While that runs it checks:
  (a) a good client (curl, then busybox tftp) downloads a file whole;
  (b) `rackboot-hosts disarm` is applied: "host states reloaded" within 2 s, never
      "Too many open files";
  (c) excess requests get ERROR 0 "Server busy", and no ERROR 2 is sent at all;
  (d) the daemon's descriptors stay below its limit minus the 256 reserved;
then that (e) a file name with a newline and an ESC byte is logged escaped, (f) 50,000 junk
datagrams write at most a few dozen lines, and (g) SIGTERM with hundreds of transfers open writes
no "io_uring_submit" line.

The attackers send through one raw socket (any source address and port, no descriptor each);
a packet socket in c counts the ERROR codes the server sends. Bounded (about 40 s); namespaces,
processes and files are removed on exit, also on failure.

Usage: tftp_abuse_test.py RACKBOOTD RACKBOOT_HOSTS
       (internal) tftp_abuse_test.py --attack | --junk | --sniff FILE SECONDS | --probe SRC NAME
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SERVER = "198.18.0.1"
GOOD = "198.18.0.2"
SINGLE = "198.18.1.1"
MANY = [f"198.18.2.{i}" for i in range(1, 201)]
NOFILE = 1024
RESERVE = 256
TAG = f"rbta{os.getpid()}"
NS_S, NS_C = TAG + "s", TAG + "c"
ENV = dict(os.environ, PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


def rrq(name, options=()):
    out = b"\0\1" + name + b"\0octet\0"
    for k, v in options:
        out += k + b"\0" + v + b"\0"
    return out


def udp_packet(src, sport, payload):
    """An IPv4+UDP datagram for a raw socket (the kernel fills checksum, length and id)."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(SERVER))
    udp = struct.pack("!HHHH", sport, 69, 8 + len(payload), 0)
    return ip + udp + payload


def raw_socket():
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def attack():
    """20,000 RRQs from SINGLE and 20,000 from MANY, interleaved, about 3,000 a second."""
    s = raw_socket()
    payload = rrq(b"kernel", [(b"timeout", b"255")])
    start = time.monotonic()
    sent = 0
    for i in range(20000):
        port = 1024 + i
        s.sendto(udp_packet(SINGLE, port, payload), (SERVER, 0))
        s.sendto(udp_packet(MANY[i % len(MANY)], port, payload), (SERVER, 0))
        sent += 2
        if sent % 200 == 0:
            ahead = start + sent / 3000 - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print(f"attack: {sent} requests in {time.monotonic() - start:.1f} s", flush=True)


def junk():
    """50,000 datagrams that are not valid requests, as fast as they go."""
    s = raw_socket()
    rnd = random.Random(11)
    for i in range(50000):
        kind = i % 3
        if kind == 0:
            payload = bytes(rnd.getrandbits(8) for _ in range(12))
        elif kind == 1:
            payload = b"\0\4\0\1"  # an ACK on the request port
        else:
            payload = b"\0\1no-mode-here"  # a malformed RRQ: ERROR 4
        s.sendto(udp_packet(MANY[i % len(MANY)], 2000 + i % 60000, payload), (SERVER, 0))


def sniff(path, seconds):
    """Counts the TFTP ERROR codes the server sends into this namespace."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    s.bind(("eth0", 0x0800))
    s.settimeout(0.2)
    codes = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame = s.recv(2048)
        except socket.timeout:
            continue
        if len(frame) < 32 or frame[9] != 17 or socket.inet_ntoa(frame[12:16]) != SERVER:
            continue
        ihl = (frame[0] & 15) * 4
        tftp = frame[ihl + 8:]
        if len(tftp) >= 4 and tftp[:2] == b"\0\5":
            code = struct.unpack("!H", tftp[2:4])[0]
            codes[code] = codes.get(code, 0) + 1
    with open(path, "w") as f:
        json.dump(codes, f)


def probe(src, name):
    """One RRQ from a real socket at `src`; prints the first answer as JSON."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(2)
    s.sendto(rrq(name.encode("latin-1")), (SERVER, 69))
    try:
        data, _ = s.recvfrom(2048)
    except socket.timeout:
        print(json.dumps({"timeout": True}))
        return
    opcode = struct.unpack("!H", data[:2])[0]
    answer = {"opcode": opcode}
    if opcode == 5:
        answer["code"] = struct.unpack("!H", data[2:4])[0]
        answer["message"] = data[4:].split(b"\0")[0].decode("latin-1")
    print(json.dumps(answer))


class Test:
    def __init__(self, rackbootd, hosts):
        self.rackbootd = os.path.abspath(rackbootd)
        self.hosts = os.path.abspath(hosts)
        self.work = tempfile.mkdtemp(prefix="rackboot-tftp-abuse.")
        os.chmod(self.work, 0o755)  # served as user nobody
        self.namespaces = []
        self.procs = []
        self.server = None

    def run(self, *cmd, ns=None, check=True, **kw):
        if ns:
            cmd = ("ip", "netns", "exec", ns) + cmd
        return subprocess.run(cmd, check=check, env=ENV, **kw)

    def spawn(self, *cmd, ns=None, **kw):
        if ns:
            cmd = ("ip", "netns", "exec", ns) + cmd
        p = subprocess.Popen(cmd, env=ENV, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], env=ENV, stderr=subprocess.DEVNULL)
        if os.environ.get("KEEP_WORK") == "1":
            print(f"work directory kept: {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def log_lines(self):
        with open(os.path.join(self.work, "rackbootd.log"), "rb") as f:
            return f.read().split(b"\n")

    def fail(self, message):
        lines = self.log_lines()
        sys.stderr.write("--- rackbootd.log (last 40 lines)\n")
        sys.stderr.write(b"\n".join(lines[-40:]).decode("latin-1") + "\n")
        raise SystemExit(f"FAIL: {message}")

    def setup(self):
        for ns in (NS_S, NS_C):
            self.run("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            self.run("ip", "-n", ns, "link", "set", "lo", "up")
        self.run("ip", "link", "add", "eth0", "netns", NS_S, "type", "veth",
                 "peer", "name", "eth0", "netns", NS_C)
        batch = [f"addr add {SERVER}/16 dev eth0", "link set eth0 up"]
        self.run("ip", "-n", NS_S, "-batch", "-", input="\n".join(batch) + "\n", text=True)
        batch = [f"addr add {GOOD}/16 dev eth0", f"addr add {SINGLE}/16 dev eth0"]
        batch += [f"addr add {a}/16 dev eth0" for a in MANY]
        batch.append("link set eth0 up")
        self.run("ip", "-n", NS_C, "-batch", "-", input="\n".join(batch) + "\n", text=True)

        root = os.path.join(self.work, "tftp")
        os.makedirs(root)
        self.content = os.urandom(300 * 1024 + 17)
        for name in ("kernel", "vmlinuz"):
            with open(os.path.join(root, name), "wb") as f:
                f.write(self.content)
        os.makedirs(os.path.join(self.work, "state"))
        with open(os.path.join(self.work, "inventory.csv"), "w") as f:
            f.write("mac,hostname,ip,profile,state\n"
                    f"52:54:00:aa:00:01,node1,{GOOD},lab,install\n")
        self.site = os.path.join(self.work, "site.toml")
        with open(self.site, "w") as f:
            f.write(f"""[server]
address = "{SERVER}"
state_dir = "{self.work}/state"
inventory = "{self.work}/inventory.csv"

[tftp]
root = "{root}"
listen = "{SERVER}:69"

[[dhcp.subnet]]
cidr = "198.18.0.0/24"

[[profile]]
name = "lab"
kernel = "vmlinuz"
append = "console=ttyS0"
""")

    def start(self):
        self.log = open(os.path.join(self.work, "rackbootd.log"), "w")
        self.server = self.spawn(
            "prlimit", f"--nofile={NOFILE}:{NOFILE}", self.rackbootd,
            f"--config={self.site}", "--threads=2", ns=NS_S,
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        ready = []
        reader = threading.Thread(target=lambda: ready.append(self.server.stdout.readline()))
        reader.start()
        reader.join(20)
        if not ready or not ready[0].startswith("rackbootd: ready"):
            self.fail(f"rackbootd not ready: {ready!r}")
        with open(f"/proc/{self.server.pid}/comm") as f:
            if f.read().strip() != "rackbootd":
                self.fail("the spawned process is not rackbootd")

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.server.pid}/fd"))
        except OSError:
            return 0

    def me(self, *args, ns=NS_C, **kw):
        return self.spawn(sys.executable, os.path.abspath(__file__), *args, ns=ns, **kw)

    def probe(self, src, name):
        out = self.run(sys.executable, os.path.abspath(__file__), "--probe", src, name,
                       ns=NS_C, capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout)

    def good_download(self, tool):
        out = os.path.join(self.work, f"good-{tool}")
        if os.path.exists(out):
            os.unlink(out)
        if tool == "curl":
            cmd = ("curl", "-s", "--max-time", "20", "-o", out, f"tftp://{SERVER}/kernel")
        else:
            cmd = ("busybox", "tftp", "-g", "-r", "kernel", "-l", out, SERVER)
        t0 = time.monotonic()
        rc = self.run("timeout", "25", *cmd, ns=NS_C, check=False).returncode
        took = time.monotonic() - t0
        with open(out, "rb") if os.path.exists(out) else open(os.devnull, "rb") as f:
            got = f.read()
        if rc != 0 or got != self.content:
            self.fail(f"(a) good client {tool}: exit {rc}, {len(got)} of "
                      f"{len(self.content)} bytes")
        print(f"(a) {tool} downloaded {len(got)} bytes whole in {took:.2f} s during the attack")

    def host_config(self):
        """node1's rendered pxelinux config, fetched from node1's own address (GOOD)."""
        out = os.path.join(self.work, "node1.cfg")
        if os.path.exists(out):
            os.unlink(out)
        self.run("timeout", "10", "curl", "-s", "--max-time", "5", "-o", out,
                 f"tftp://{SERVER}/pxelinux.cfg/01-52-54-00-aa-00-01", ns=NS_C, check=False)
        with open(out) if os.path.exists(out) else open(os.devnull) as f:
            return f.read()

    def main(self):
        self.setup()
        self.start()
        budget = [l for l in self.log_lines() if b"descriptor limit" in l]
        print(budget[0].decode() if budget else "no budget line")

        # (e) before the flood, so that the rate limiter has not spent its lines.
        evil = "evil\nE1130 00:00:00.000000 1 forged.cc:1] FORGED\x1b[31m"
        answer = self.probe(GOOD, evil)
        if answer.get("code") != 1:
            self.fail(f"(e) RRQ for a missing file: {answer}")
        time.sleep(0.3)
        raw = b"\n".join(self.log_lines())
        if b"\x1b" in raw:
            self.fail("(e) an ESC byte reached the log")
        forged = [l for l in self.log_lines() if b"FORGED" in l]
        if not forged or any(not l.startswith((b"I", b"W", b"E")) or b"evil\\x0aE1130" not in l
                             for l in forged):
            self.fail(f"(e) the file name is not escaped in one line: {forged}")
        print(f"(e) logged escaped: {forged[0].decode()[-120:]}")

        lines_before = len(self.log_lines())
        sniff_file = os.path.join(self.work, "errors.json")
        sniffer = self.me("--sniff", sniff_file, "17")
        time.sleep(0.3)
        started = time.monotonic()
        attacker = self.me("--attack", stdout=subprocess.PIPE, text=True)
        max_fds = [0]
        stop = threading.Event()

        def watch_fds():
            while not stop.is_set():
                max_fds[0] = max(max_fds[0], self.fds())
                time.sleep(0.1)

        watcher = threading.Thread(target=watch_fds)
        watcher.start()
        try:
            time.sleep(2)
            # (c) the single attacker address is at its cap.
            answer = self.probe(SINGLE, "kernel")
            if answer.get("opcode") != 5 or answer.get("code") != 0 or \
                    answer.get("message") != "Server busy":
                self.fail(f"(c) request beyond the per-address cap: {answer}")
            print(f"(c) beyond the cap: ERROR 0 {answer['message']!r}")
            self.good_download("curl")
            # (b) disarm during the attack: node1's own config says install before, and local
            # boot within a second or two after (what it is served, not only the log).
            before = self.host_config()
            if "KERNEL" not in before or "DEFAULT install" not in before:
                self.fail(f"(b) armed node1's config before the disarm: {before!r}")
            reloads = sum(b"host states reloaded" in l for l in self.log_lines())
            out = self.run(self.hosts, f"--config={self.site}", "disarm", "node1",
                           capture_output=True, text=True, timeout=10)
            disarmed = time.monotonic()
            while sum(b"host states reloaded" in l for l in self.log_lines()) == reloads:
                if time.monotonic() - disarmed > 2:
                    self.fail(f"(b) disarm ({out.stdout.strip()}) not reloaded within 2 s")
                time.sleep(0.05)
            # Every menu has a local entry (LOCALBOOT 0): the default says which boots.
            while "DEFAULT local" not in self.host_config():
                if time.monotonic() - disarmed > 2:
                    self.fail("(b) node1 still served its install config 2 s after the disarm")
                time.sleep(0.05)
            print(f"(b) disarm applied {time.monotonic() - disarmed:.2f} s after "
                  f"rackboot-hosts ({out.stdout.strip()}): node1's config says DEFAULT local")
            self.good_download("busybox")
            if attacker.poll() is not None:
                self.fail("the attack ended before the checks did: they did not run under it")
            attacker.wait(timeout=30)
        finally:
            stop.set()
            watcher.join()
        attack_time = time.monotonic() - started
        print(attacker.stdout.read().strip())
        sniffer.wait(timeout=30)
        with open(sniff_file) as f:
            codes = {int(k): v for k, v in json.load(f).items()}
        print(f"(c) ERROR codes seen by the clients during the attack: {codes}")
        if codes.get(0, 0) == 0 or codes.get(2, 0) != 0:
            self.fail(f"(c) expected ERROR 0 and no ERROR 2: {codes}")
        limit = NOFILE - RESERVE
        print(f"(d) at most {max_fds[0]} descriptors open (limit {NOFILE}, reserve {RESERVE})")
        if max_fds[0] == 0 or max_fds[0] >= limit:
            self.fail(f"(d) {max_fds[0]} descriptors, not below {limit}")
        attack_lines = self.log_lines()[lines_before:]
        if any(b"Too many open files" in l or b"Access violation" in l for l in attack_lines):
            self.fail("(b) 'Too many open files' or 'Access violation' in the log")
        print(f"{len(attack_lines)} log lines during the {attack_time:.0f} s attack")
        if len(attack_lines) > 300:
            self.fail(f"{len(attack_lines)} log lines during the attack: not rate-limited")

        # (f) junk.
        before = len(self.log_lines())
        self.me("--junk").wait(timeout=60)
        time.sleep(0.5)
        junk_lines = self.log_lines()[before:]
        print(f"(f) 50,000 junk datagrams: {len(junk_lines)} log lines")
        if len(junk_lines) > 60:
            self.fail(f"(f) {len(junk_lines)} log lines for junk datagrams")

        # (g) stop with transfers open.
        flood = self.me("--attack")
        time.sleep(1.5)
        open_fds = self.fds()
        before = len(self.log_lines())
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.fail("(g) rackbootd ignored SIGTERM")
        flood.kill()
        stop_lines = self.log_lines()[before:]
        print(f"(g) SIGTERM with {open_fds} descriptors open: {len(stop_lines)} log lines")
        if any(b"io_uring_submit" in l for l in stop_lines) or len(stop_lines) > 40:
            self.fail(f"(g) shutdown wrote {len(stop_lines)} lines")
        totals = [l for l in stop_lines if b"tftp totals" in l]
        print(totals[0].decode() if totals else "no totals line")
        if not totals:
            self.fail("(g) no totals line")
        print("PASS")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--attack":
        return attack()
    if len(sys.argv) >= 2 and sys.argv[1] == "--junk":
        return junk()
    if len(sys.argv) >= 4 and sys.argv[1] == "--sniff":
        return sniff(sys.argv[2], float(sys.argv[3]))
    if len(sys.argv) >= 4 and sys.argv[1] == "--probe":
        return probe(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit("FAIL: needs root (network namespaces)")
    test = Test(sys.argv[1], sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        test.main()
    finally:
        test.cleanup()


if __name__ == "__main__":
    main()
