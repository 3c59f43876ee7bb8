#!/usr/bin/env python3
"""Thousands of concurrent windowed TFTP transfers against one rackbootd on loopback.

Opens N client sockets (each a distinct client TID), starts every transfer, and holds them all
open at once (negotiated, not yet acknowledged) while it reads the server's resident memory and
open descriptors from /proc; asserts at most --max_bytes_per_transfer (4 KiB) of RSS growth per
idle open transfer; then runs every transfer to the end and checks each file byte for byte and
the server's totals. Bounded: the whole run stops after --deadline seconds.

All clients share 127.0.0.1 and stay unacknowledged for seconds, which the abuse limits would
stop (docs/tftp.md "Limits"): the daemon runs with the per-address cap off, an unconfirmed budget
above N and enough unconfirmed retries.

Usage: tftp_concurrency_test.py RACKBOOTD [--clients N] [--io uring|epoll]
"""
import argparse
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BLKSIZE = 1468
WINDOW = 4


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rackbootd")
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--io", default="uring")
    parser.add_argument("--deadline", type=float, default=150)
    parser.add_argument("--max_bytes_per_transfer", type=int, default=4096)
    args = parser.parse_args()
    n = args.clients
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < n + 400:  # the daemon keeps 256 descriptors in reserve
        sys.exit(f"FAIL: descriptor hard limit {hard} is below {n + 400}")

    work = tempfile.mkdtemp()
    os.chmod(work, 0o755)  # rackbootd serves it as user nobody
    content = os.urandom(BLKSIZE * 11 + 100)  # 12 blocks: 3 windows of 4
    with open(os.path.join(work, "kernel"), "wb") as f:
        f.write(content)
    log = open(os.path.join(work, "rackbootd.log"), "w+")
    server = subprocess.Popen(
        [args.rackbootd, f"--tftp_root={work}", "--tftp_listen=127.0.0.1:0",
         "--threads=2", f"--io={args.io}", "--tftp_timeout_ms=3000",
         "--tftp_max_retries=10", "--tftp_max_per_client=0",
         f"--tftp_max_unconfirmed={n + 1000}", "--tftp_unconfirmed_retries=60"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    started = time.monotonic()

    def fail(message):
        server.kill()
        log.seek(0)
        sys.stderr.write(log.read()[-3000:])
        sys.exit(f"FAIL: {message}")

    line = server.stdout.readline()
    if not line.startswith("rackbootd: ready"):
        fail(f"rackbootd did not start: {line!r}")
    port = int(line.rsplit(":", 1)[1])
    idle_rss = rss_kib(server.pid)

    rrq = (b"\0\1kernel\0octet\0blksize\0" + str(BLKSIZE).encode() +
           b"\0windowsize\0" + str(WINDOW).encode() + b"\0tsize\0" + b"0\0")
    poller = select.epoll()
    clients = {}
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        clients[s.fileno()] = {"sock": s, "tid": None, "expected": 1, "data": [],
                               "in_window": 0, "done": False, "last": 0.0}
        poller.register(s.fileno(), select.EPOLLIN)

    def ack(c, block):
        c["sock"].sendto(struct.pack("!HH", 4, block & 0xFFFF), c["tid"])
        c["last"] = time.monotonic()

    def pump(timeout, acknowledge):
        for fd, _ in poller.poll(timeout):
            c = clients[fd]
            while True:
                try:
                    data, addr = c["sock"].recvfrom(2048)
                except BlockingIOError:
                    break
                opcode = struct.unpack("!H", data[:2])[0]
                if c["tid"] is None:
                    c["tid"] = addr
                if opcode == 6:  # OACK
                    c["last"] = time.monotonic()
                    if acknowledge and c["expected"] == 1:
                        ack(c, 0)
                elif opcode == 3 and acknowledge:
                    block = struct.unpack("!H", data[2:4])[0]
                    if block != c["expected"] & 0xFFFF:
                        continue  # a retransmission or a gap: wait for the window end
                    c["data"].append(data[4:])
                    c["expected"] += 1
                    c["in_window"] += 1
                    last = len(data) - 4 < BLKSIZE
                    if c["in_window"] == WINDOW or last:
                        c["in_window"] = 0
                        ack(c, block)
                    if last:
                        c["done"] = True
                        poller.unregister(fd)
                        break
                elif opcode == 5:
                    fail(f"ERROR from server: {data!r}")

    # Phase 1: every request out (in bursts, draining OACKs between), no acknowledgements.
    fds = list(clients)
    for start in range(0, n, 500):
        for fd in fds[start:start + 500]:
            clients[fd]["sock"].sendto(rrq, ("127.0.0.1", port))
            clients[fd]["last"] = time.monotonic()
        pump(0.01, acknowledge=False)
    while sum(c["tid"] is not None for c in clients.values()) < n:
        if time.monotonic() - started > args.deadline / 3:
            fail(f"only {sum(c['tid'] is not None for c in clients.values())} of {n} "
                 "transfers answered")
        pump(0.2, acknowledge=False)
        now = time.monotonic()
        for c in clients.values():  # a lost RRQ or OACK: ask again, as clients do
            if c["tid"] is None and now - c["last"] > 2:
                c["sock"].sendto(rrq, ("127.0.0.1", port))
                c["last"] = now

    # Every transfer is now open on the server at once.
    peak_rss = rss_kib(server.pid)
    server_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    per_transfer = (peak_rss - idle_rss) * 1024 / n
    print(f"{n} concurrent transfers: server RSS {idle_rss} KiB idle, {peak_rss} KiB with all "
          f"open ({per_transfer:.0f} bytes per transfer), {server_fds} descriptors")
    if server_fds < n:
        fail(f"server has {server_fds} descriptors for {n} transfers")
    if per_transfer > args.max_bytes_per_transfer:
        fail(f"{per_transfer:.0f} bytes of resident memory per idle transfer, more than "
             f"{args.max_bytes_per_transfer}")

    # Phase 2: run every transfer to the end.
    for c in clients.values():
        ack(c, 0)
    while not all(c["done"] for c in clients.values()):
        if time.monotonic() - started > args.deadline:
            fail(f"{sum(not c['done'] for c in clients.values())} transfers unfinished "
                 f"after {args.deadline} s")
        pump(0.2, acknowledge=True)
        now = time.monotonic()
        for c in clients.values():  # the receiver's own timeout: acknowledge again
            if not c["done"] and now - c["last"] > 2:
                c["in_window"] = 0
                ack(c, c["expected"] - 1)

    bad = sum(b"".join(c["data"]) != content for c in clients.values())
    if bad:
        fail(f"{bad} of {n} files differ from the original")
    elapsed = time.monotonic() - started
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    log.seek(0)
    totals = [l for l in log.read().splitlines() if "tftp totals" in l]
    print(totals[-1] if totals else "no totals line")
    if not totals or f"completed={n} failed=0" not in totals[-1]:
        fail("server totals disagree with the clients")
    print(f"PASS: {n} transfers byte-identical in {elapsed:.1f} s over {args.io}")


if __name__ == "__main__":
    main()
