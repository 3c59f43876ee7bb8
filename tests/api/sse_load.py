#!/usr/bin/env python3
"""Event subscribers against a running rackbootd (tests/api/api_test.sh runs it).

  (both take the API's bearer token as an optional last argument)
  sse_load.py many PORT PID HOST   1,100 subscribers: up to the cap get 200, the rest a JSON
                                   503 "busy"; the daemon's RSS grows by a bounded amount; an
                                   event (HOST armed then disarmed through the API) reaches
                                   every one of them; GET /api/v1/hosts still answers quickly.
  sse_load.py stuck PORT PID HOST  one subscriber that never reads (a 4 KiB receive buffer)
                                   and one that reads; 5,000 state changes: the reader gets
                                   every event in order, the stuck one is dropped (its
                                   connection ends), the daemon's RSS stays bounded.
Prints one line per figure; exits non-zero with "FAIL: ..." on any failed check.
"""
import http.client
import json
import resource
import selectors
import socket
import sys
import time


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def subscribe(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
    return s


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


TOKEN = ""


def toggle(conn, host, arm):
    path = "/api/v1/hosts/%s/%s" % (host, "arm" if arm else "disarm")
    headers = {"Content-Type": "application/json"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    conn.request("POST", path, body="{}", headers=headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        fail("POST %s: %d %s" % (path, r.status, body[:200]))


def events_in(text):
    """(id, data) of every complete event in SSE text."""
    out = []
    for block in text.split("\n\n"):
        eid, data = None, None
        for line in block.split("\n"):
            if line.startswith("id: "):
                eid = int(line[4:])
            elif line.startswith("data: "):
                data = line[6:]
        if eid is not None and data is not None:
            out.append((eid, data))
    return out


def many(port, pid, host):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rss0 = rss_kib(pid)
    subs, busy = [], 0
    t0 = time.monotonic()
    for i in range(1100):
        s = subscribe(port)
        head, rest = read_head(s)
        status = head.split(" ")[1] if " " in head else "?"
        if status == "200":
            if "text/event-stream" not in head:
                fail("subscriber %d: 200 without text/event-stream: %s" % (i, head))
            subs.append([s, rest.decode()])
        elif status == "503":
            body = rest
            while len(body) < 10 or not body.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
            j = json.loads(body)
            if j.get("error") != "busy":
                fail("subscriber %d: 503 body %r" % (i, body))
            busy += 1
            s.close()
        else:
            fail("subscriber %d: %r" % (i, head))
    print("subscribers: %d accepted, %d refused with 503 busy, in %.1f s"
          % (len(subs), busy, time.monotonic() - t0), flush=True)
    if len(subs) < 1000 or busy == 0 or len(subs) + busy != 1100:
        fail("want >= 1,000 accepted and the rest refused: %d and %d" % (len(subs), busy))
    rss1 = rss_kib(pid)
    print("daemon RSS %d KiB before, %d KiB with %d subscribers (+%d KiB)"
          % (rss0, rss1, len(subs), rss1 - rss0), flush=True)
    if rss1 - rss0 > 64 * 1024:
        fail("RSS grew by %d KiB for %d idle subscribers" % (rss1 - rss0, len(subs)))
    # Others unaffected: the API still answers.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t0 = time.monotonic()
    conn.request("GET", "/api/v1/hosts")
    r = conn.getresponse()
    r.read()
    ms = (time.monotonic() - t0) * 1000
    print("GET /api/v1/hosts with %d subscribers: %d in %.1f ms" % (len(subs), r.status, ms))
    if r.status != 200 or ms > 2000:
        fail("GET /api/v1/hosts: %d in %.0f ms" % (r.status, ms))
    toggle(conn, host, True)
    toggle(conn, host, False)
    # Every subscriber gets both events.
    sel = selectors.DefaultSelector()
    for k, sub in enumerate(subs):
        sub[0].setblocking(False)
        sel.register(sub[0], selectors.EVENT_READ, k)
    pending = set(range(len(subs)))
    deadline = time.monotonic() + 20
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            k = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            subs[k][1] += chunk.decode()
            if k in pending and len([e for e in events_in(subs[k][1])
                                     if '"kind":"state"' in e[1]]) >= 2:
                pending.discard(k)
    if pending:
        fail("%d of %d subscribers did not get both state events" % (len(pending), len(subs)))
    print("both state events reached all %d subscribers" % len(subs), flush=True)
    for sub in subs:
        sub[0].close()


def stuck(port, pid, host):
    rss0 = rss_kib(pid)
    stuck_sock = subscribe(port, rcvbuf=4096)
    head, _ = read_head(stuck_sock)
    if " 200 " not in head:
        fail("stuck subscriber: %r" % head)
    reader = subscribe(port)
    head, rest = read_head(reader)
    if " 200 " not in head:
        fail("reader: %r" % head)
    reader.setblocking(False)
    text = rest.decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 5000
    t0 = time.monotonic()
    for i in range(n):
        toggle(conn, host, i % 2 == 0)
        try:
            while True:
                chunk = reader.recv(65536)
                if not chunk:
                    fail("the reading subscriber was dropped after %d changes" % i)
                text += chunk.decode()
        except BlockingIOError:
            pass
    secs = time.monotonic() - t0
    reader.setblocking(True)
    reader.settimeout(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = [e for e in events_in(text) if '"kind":"state"' in e[1]]
        if len(got) >= n:
            break
        try:
            chunk = reader.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            fail("the reading subscriber was dropped")
        text += chunk.decode()
    got = [e for e in events_in(text) if '"kind":"state"' in e[1]]
    ids = [e[0] for e in events_in(text)]
    print("%d state changes through the API in %.1f s (%.0f/s); the reader got %d state events"
          % (n, secs, n / secs, len(got)), flush=True)
    if len(got) != n:
        fail("the reader got %d state events, want %d" % (len(got), n))
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        fail("event ids out of order or repeated")
    # The stuck subscriber: what was queued, then the end of the stream.
    stuck_sock.settimeout(5)
    received, eof = 0, False
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        try:
            chunk = stuck_sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        received += len(chunk)
    print("stuck subscriber: %d bytes reached it, then %s" % (received, "its stream ended" if eof else "nothing"))
    if not eof:
        fail("the subscriber that never read was not dropped")
    rss1 = rss_kib(pid)
    print("daemon RSS %d KiB before, %d KiB after (+%d KiB)" % (rss0, rss1, rss1 - rss0))
    if rss1 - rss0 > 32 * 1024:
        fail("RSS grew by %d KiB" % (rss1 - rss0))


def main():
    global TOKEN
    mode, port, pid, host = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    TOKEN = sys.argv[5] if len(sys.argv) > 5 else ""
    {"many": many, "stuck": stuck}[mode](port, pid, host)


if __name__ == "__main__":
    main()
