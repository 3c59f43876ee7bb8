#!/usr/bin/env python3
"""Raw-socket HTTP checks against rackbootd for tests/http/http_clients_test.sh.

What curl and wget will not send: pipelined requests, every encoding of traversal, smuggling,
oversized and endless headers, slowloris, idle crowds, clients that vanish mid-file, the
connection cap. Each subcommand checks its own expectations, prints one line per check and exits
1 on the first failure (with what was expected and what came back).

Usage:
  http_raw.py pipeline HOST PORT ROOT
  http_raw.py badinput HOST PORT SECRET
  http_raw.py slow HOST PORT HEADER_TIMEOUT_S IDLE_TIMEOUT_S
  http_raw.py idle HOST PORT COUNT READY_FILE STOP_FILE
  http_raw.py vanish HOST PORT PATH COUNT
  http_raw.py cap HOST PORT CAP
"""
import os
import resource
import select
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
PORT = 0


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}", flush=True)


def connect(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads HTTP/1.1 responses off one socket (Content-Length framing only: the server
    never chunks)."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.buf = b""
        self.closed = False
        self.timeout = timeout

    def _fill(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                self.closed = True
                return False
            if not data:
                self.closed = True
                return False
            self.buf += data
            return True

    def response(self, head=False, timeout=None):
        """Returns (status, headers dict lower-case, body) or None on close / timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                return None
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            fail(f"not an HTTP status line: {lines[0]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        n = 0
        if not head and status not in (204, 304) and status >= 200:
            if "content-length" not in headers:
                fail(f"response {status} without Content-Length: {raw!r}")
            n = int(headers["content-length"])
        while len(self.buf) < n:
            if not self._fill(deadline):
                fail(f"body of {status} cut at {len(self.buf)} of {n} bytes")
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def wait_closed(self, timeout):
        """True when the peer closes (EOF or reset) within `timeout`; data is discarded."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if not self._fill(deadline):
                return self.closed
            self.buf = b""
        return True


def get(path, extra=b"", method=b"GET"):
    return method + b" " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def pipeline(root):
    files = [b"one", b"b511", b"pxelinux.cfg/default"]
    want = [open(os.path.join(root, f.decode()), "rb").read() for f in files]
    s = connect()
    # Three GETs and a HEAD in one segment: answered in order, each whole.
    s.sendall(get(b"/boot/" + files[0]) + get(b"/boot/" + files[1], method=b"HEAD") +
              get(b"/boot/" + files[1]) + get(b"/boot/" + files[2]))
    r = Reader(s)
    got = r.response()
    if not got or got[0] != 200 or got[2] != want[0]:
        fail(f"pipelined 1: {got and got[:2]}")
    got = r.response(head=True)
    if not got or got[0] != 200 or got[2] != b"" or int(got[1]["content-length"]) != len(want[1]):
        fail(f"pipelined HEAD: {got and got[:2]}")
    got = r.response()
    if not got or got[0] != 200 or got[2] != want[1]:
        fail(f"pipelined 3: {got and got[:2]}")
    got = r.response()
    if not got or got[0] != 200 or got[2] != want[2]:
        fail(f"pipelined 4: {got and got[:2]}")
    # And the connection stays usable: one request per byte, to split the parser's input.
    for b in get(b"/boot/one"):
        s.send(bytes([b]))
    got = r.response()
    if not got or got[0] != 200 or got[2] != want[0]:
        fail(f"byte-at-a-time request: {got and got[:2]}")
    s.close()
    ok("4 pipelined requests answered in order, then a request sent one byte per segment")


# (request bytes, allowed statuses). None in the set: closing without an answer is allowed.
REFUSED = {400, 403, 404, None}


def bad_cases():
    cases = []
    trav = [
        b"/boot/../secret", b"/boot/%2e%2e/secret", b"/boot/%2E%2E/secret", b"/boot/.%2e/secret",
        b"/boot/%2e./secret", b"/boot/..%2fsecret", b"/boot/%2e%2e%2fsecret",
        b"/boot/%2e%2e%2Fsecret", b"/boot/%252e%252e/secret", b"/boot/%252e%252e%252fsecret",
        b"/boot/..%252fsecret", b"/boot/..\\secret", b"/boot/..%5csecret", b"/boot/%5c..%5csecret",
        b"/boot/%c0%ae%c0%ae/secret", b"/boot/%c0%ae%c0%ae%c0%afsecret",
        b"/boot/%e0%80%ae%e0%80%ae/secret", b"/boot/%c0%2e%c0%2e/secret",
        b"/boot/dir/../../secret", b"/boot/dir/%2e%2e/%2e%2e/secret", b"/boot//../secret",
        b"/boot/./../secret", b"/boot/..", b"/boot/%2e%2e", b"/repo/../secret",
        b"/repo/%2e%2e/secret", b"/boot/%2fetc%2fpasswd", b"/boot//etc/passwd",
        b"/boot/%2f%2e%2e%2fsecret", b"/../secret", b"/%2e%2e/secret",
        b"/boot/one%00", b"/boot/one%00.txt", b"/boot/%00", b"/boot/escape-link",
        b"/boot/escape-dir/secret", b"/boot/zero", b"/boot/dir", b"/boot/dir/",
        b"/boot/no-such-file", b"/api/v1/", b"/install/x", b"/index.htm", b"/status",
        b"http://evil/boot/../secret", b"*",
    ]
    for p in trav:
        cases.append((f"path {p!r}", get(p), REFUSED, True))
    # /metrics is served (docs/metrics.md); a path below it is not.
    cases.append(("path b'/metrics'", get(b"/metrics"), {200}, False))
    cases.append(("path b'/metrics/x'", get(b"/metrics/x"), REFUSED, True))
    # / and /index.html are the status page (docs/operations.md).
    cases.append(("path b'/'", get(b"/"), {200}, False))
    cases.append(("path b'/index.html'", get(b"/index.html"), {200}, False))
    cases += [
        ("raw NUL in the path", get(b"/boot/one\0x"), {400, None}, True),
        ("raw NUL in a header", get(b"/boot/one", b"X: a\0b\r\n"), {400, None}, True),
        ("bare CR in a header", get(b"/boot/one", b"X: a\rY: b\r\n"), {400, None}, True),
        ("obs-fold continuation", get(b"/boot/one", b"X: a\r\n b\r\n"), {400, None}, True),
        ("space before colon", get(b"/boot/one", b"X : a\r\n"), {400, None}, True),
        ("two Host headers", get(b"/boot/one", b"Host: u\r\n"), {400, None}, True),
        ("bad version", b"GET /boot/one HTTP/9.9\r\nHost: t\r\n\r\n", {400, 505, None}, True),
        ("no version", b"GET /boot/one\r\n\r\n", {400, None}, True),
        ("lower-case method", get(b"/boot/one", method=b"get"), {400, 405, 501, None}, True),
        ("unknown method", get(b"/boot/one", method=b"BREW"), {400, 405, 501, None}, True),
        ("smuggling CL+TE", b"POST /boot/one HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /boot/one HTTP/1.1\r\nHost: t\r\n\r\n",
         {400, None}, True),
        ("smuggling TE+CL on GET", b"GET /boot/one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
         b"chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /boot/b511 HTTP/1.1\r\n\r\n",
         {400, None}, True),
        ("two Content-Lengths", b"GET /boot/one HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
         b"Content-Length: 5\r\n\r\n", {400, None}, True),
        ("TE obfuscated", b"POST /boot/one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked"
         b"\r\n\r\n", {400, 405, 411, 413, 501, None}, True),
        ("huge Content-Length", b"POST /boot/one HTTP/1.1\r\nHost: t\r\nContent-Length: "
         b"99999999999\r\n\r\n", {400, 405, 413, None}, True),
        ("POST to a file", b"POST /boot/one HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
         {400, 405, 413, None}, False),
        ("oversized header (9 KiB)", get(b"/boot/one", b"X: " + b"a" * 9216 + b"\r\n"),
         {431}, True),
        ("header block over 8 KiB in small lines",
         get(b"/boot/one", b"".join(b"X-%d: %s\r\n" % (i, b"b" * 60) for i in range(200))),
         {431}, True),
        ("request line over 8 KiB", get(b"/boot/" + b"a" * 9000), {400, 414, 431}, True),
        ("TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + os.urandom(64),
         {400, None}, True),
    ]
    return cases


def badinput(secret):
    # First, before the flood below fills the rate limit of error lines: a
    # file name with a newline and an ESC must not forge a log line (the
    # script checks the log).
    s = connect()
    s.sendall(get(b"/boot/%0aFORGED-LINE%1b[31m"))
    Reader(s).response()
    s.close()
    for name, req, allowed, must_close in bad_cases():
        s = connect()
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = Reader(s, timeout=5.0)
        got = r.response()
        status = got[0] if got else None
        body = got[2] if got else b""
        if status not in allowed:
            fail(f"{name}: status {status}, expected one of {sorted(allowed, key=str)}"
                 f" (body {body[:80]!r})")
        if secret.encode() in body or b"root:x:0:0" in body or secret.encode() in r.buf:
            fail(f"{name}: served bytes from outside the root")
        if status == 400 or status == 431 or must_close and status is None:
            if not r.wait_closed(3.0):
                fail(f"{name}: answered {status} but the connection stayed open")
        s.close()
        ok(f"{name}: {status if status else 'closed'}")
    # Pipelined junk: the good request before it is answered, then 400 or a close.
    s = connect()
    s.sendall(get(b"/boot/one") + b"\x16\x03\x01\x00junk\r\n\r\n" + get(b"/boot/one"))
    r = Reader(s)
    got = r.response()
    if not got or got[0] != 200 or got[2] != b"x":
        fail(f"request before pipelined junk: {got and got[:2]}")
    got = r.response()
    if got and got[0] != 400:
        fail(f"pipelined junk: answered {got[0]}")
    if not r.wait_closed(3.0):
        fail("pipelined junk: connection stayed open")
    s.close()
    ok("pipelined junk: first request served, then " + (f"{got[0]}" if got else "closed"))
    # Still serving after all that.
    s = connect()
    s.sendall(get(b"/boot/one"))
    got = Reader(s).response()
    if not got or got[0] != 200 or got[2] != b"x":
        fail(f"after the bad input: {got and got[:2]}")
    s.close()
    ok("still serving after the bad input")


def slow(header_timeout, idle_timeout):
    # Started together, so the whole check takes one timeout, not four.
    t0 = time.monotonic()
    loris = connect()
    loris.sendall(b"GET /boot/one HTTP/1.1\r\n")
    endless = connect()
    endless.sendall(b"GET /boot/one HTTP/1.1\r\n")
    silent = connect()
    idle = connect()
    idle.sendall(get(b"/boot/one"))
    ir = Reader(idle)
    got = ir.response()
    if not got or got[0] != 200:
        fail(f"keep-alive request: {got and got[:2]}")
    t_idle = time.monotonic()
    rs = {"slowloris": Reader(loris), "endless headers": Reader(endless),
          "silent": Reader(silent)}
    closed_at = {}
    i = 0
    limit = max(header_timeout, idle_timeout) + 3.0
    while len(closed_at) < 4 and time.monotonic() - t0 < limit:
        i += 1
        for name, s in (("slowloris", loris), ("endless headers", endless)):
            if name in closed_at:
                continue
            try:
                s.send(b"X" if name == "slowloris" else b"X-%d: y\r\n" % i)
            except OSError:
                closed_at[name] = time.monotonic() - t0
        for name, r in list(rs.items()) + [("idle keep-alive", ir)]:
            if name in closed_at:
                continue
            r.sock.setblocking(False)
            try:
                d = r.sock.recv(65536)
                if d == b"":
                    closed_at[name] = time.monotonic() - (t_idle if name == "idle keep-alive"
                                                          else t0)
            except BlockingIOError:
                pass
            except OSError:
                closed_at[name] = time.monotonic() - t0
        # A good client meanwhile gets its file at once.
        if i == 3:
            g = connect()
            g.sendall(get(b"/boot/one"))
            got = Reader(g, timeout=2.0).response()
            if not got or got[0] != 200:
                fail(f"a good client during slowloris: {got and got[:2]}")
            g.close()
        time.sleep(0.2)
    for name, t in (("slowloris", header_timeout), ("endless headers", header_timeout),
                    ("silent", header_timeout), ("idle keep-alive", idle_timeout)):
        if name not in closed_at:
            fail(f"{name}: still open after {limit:.1f} s (timeout {t} s)")
        if closed_at[name] > t + 1.5:
            fail(f"{name}: closed after {closed_at[name]:.2f} s, timeout {t} s")
        if name != "idle keep-alive" and closed_at[name] < t * 0.5:
            fail(f"{name}: closed after {closed_at[name]:.2f} s, before the timeout {t} s")
        ok(f"{name}: closed after {closed_at[name]:.2f} s (timeout {t} s)")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))


def idle(count, ready_file, stop_file):
    """Opens COUNT keep-alive connections (each answered one HEAD), holds them until STOP_FILE
    exists, then checks none was closed by the server meanwhile."""
    raise_nofile(count)
    socks = []
    for i in range(count):
        s = connect()
        s.sendall(get(b"/boot/one", method=b"HEAD"))
        socks.append(s)
    for i, s in enumerate(socks):
        got = Reader(s).response(head=True)
        if not got or got[0] != 200:
            fail(f"idle connection {i}: {got and got[:2]}")
    with open(ready_file, "w") as f:
        f.write("ready\n")
    deadline = time.monotonic() + 120
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    if closed:
        fail(f"{closed} of {count} idle connections closed by the server while held")
    ok(f"{count} idle keep-alive connections held")


def vanish(path, count):
    """COUNT clients ask for a big file, read a little, and go away: half close (FIN), half
    reset (SO_LINGER 0), some without reading anything."""
    socks = []
    for i in range(count):
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(get(path.encode()))
        socks.append(s)
    for i, s in enumerate(socks):
        if i % 4 != 3:
            n = 0
            s.settimeout(5)
            while n < 256 * 1024:
                d = s.recv(65536)
                if not d:
                    fail(f"vanishing client {i}: server closed after {n} bytes")
                n += len(d)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    ok(f"{count} clients vanished mid-file ({count // 2} by reset)")


def cap(limit):
    """LIMIT connections held (each answered once); one more gets 503 and a close; after one
    goes away, a new one is served."""
    socks = []
    for i in range(limit):
        s = connect()
        s.sendall(get(b"/boot/one"))
        got = Reader(s).response()
        if not got or got[0] != 200:
            fail(f"connection {i} of {limit}: {got and got[:2]}")
        socks.append(s)
    time.sleep(0.3)
    for extra in range(3):
        s = connect()
        try:
            s.sendall(get(b"/boot/one"))
        except OSError:
            pass
        r = Reader(s)
        got = r.response()
        if not got or got[0] != 503:
            fail(f"connection {limit + 1 + extra} past the cap of {limit}: "
                 f"{got and got[:2]}, expected 503")
        if not r.wait_closed(3.0):
            fail("503 but the connection stayed open")
        s.close()
    ok(f"past the cap of {limit}: 503 and closed")
    socks.pop().close()
    deadline = time.monotonic() + 3
    while True:
        s = connect()
        s.sendall(get(b"/boot/one"))
        got = Reader(s).response()
        s.close()
        if got and got[0] == 200:
            break
        if time.monotonic() > deadline:
            fail(f"after one connection closed, a new one still gets {got and got[:2]}")
        time.sleep(0.1)
    ok("a freed slot is served again")
    for s in socks:
        s.close()


def main():
    global HOST, PORT
    cmd, HOST, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
    a = sys.argv[4:]
    if cmd == "pipeline":
        pipeline(a[0])
    elif cmd == "badinput":
        badinput(a[0])
    elif cmd == "slow":
        slow(float(a[0]), float(a[1]))
    elif cmd == "idle":
        idle(int(a[0]), a[1], a[2])
    elif cmd == "vanish":
        vanish(a[0], int(a[1]))
    elif cmd == "cap":
        cap(int(a[0]))
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
