#!/usr/bin/env python3
"""A small HTTP/1.1 file server with fault modes, for the mirror fetcher tests.

Command line:
  fault_http_server.py ROOT [--bind 127.0.0.1] [--port 0] [--flaky-count 2]
                            [--slow-rate 64] [--max-seconds 120]
                            [--tls-cert CERT.pem --tls-key KEY.pem]
Prints the bound port (one line) on stdout, then serves ROOT until killed or
--max-seconds have passed (HTTPS with --tls-cert/--tls-key). Threaded (one thread per connection), keep-alive.

Paths: /PATH serves ROOT/PATH (Range: bytes=N- and N-M supported, 416 past the
end). A fault mode is chosen by the first path component; the rest of the path
names the file under ROOT:
  /truncate/F       first request per F: Content-Length of the full answer, half
                    the bytes, clean close; later requests normal
  /die/F            first request per F: half the bytes, then a TCP reset; later
                    requests normal (Range works, so a client resumes)
  /eof/F            first request per F: no Content-Length, half the bytes, close
                    (the client cannot tell it was cut); later requests normal
  /slow/F           always trickles --slow-rate bytes/s (below a 1 KiB/s stall limit)
  /flaky/F          500 for the first --flaky-count requests per F, then normal
  /norange/F        ignores Range, always 200 with the whole file
  /wrong/F          same length, first byte flipped (bytes differ from the checksum)
  /redirect/F       302 to /F on this server
  /redirect-file/F  302 to file:///etc/passwd
  /redirect-to/?to=URL  302 to URL (e.g. an ftp:// one)
  /status/NNN/F     answers HTTP NNN with a small body (e.g. 403, 410, 429, 503);
                    with "?retry_after=S" a Retry-After: S header
  /huge/F           200 without Content-Length, an endless stream of zeros
                    (bounded by --max-seconds)
Query "?delay=MS" (any path) waits MS milliseconds before answering; "?tag=T"
counts the request in group T too.
GET /_stats returns JSON {"max_concurrent": N, "tags": {T: N}, "requests":
{path: count}}: max_concurrent is the most requests in flight at once (a client
has at most one per connection), overall and per tag (a tag isolates one test
from requests another test left in flight). GET /_stats?reset=1 returns then
clears them.
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"in_flight": 0, "max_concurrent": 0, "requests": {},
         "tag_in_flight": {}, "tags": {}}
ARGS = None
CHUNK = 64 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault_http_server/1"

    def log_message(self, fmt, *args):  # quiet: tests read stdout for the port only
        pass

    def do_GET(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query)
        path = urllib.parse.unquote(parsed.path)
        if path == "/_stats":
            with LOCK:
                body = json.dumps({"max_concurrent": STATE["max_concurrent"],
                                   "tags": STATE["tags"],
                                   "requests": STATE["requests"]}).encode()
                if "reset" in query:
                    STATE["max_concurrent"] = STATE["in_flight"]
                    STATE["requests"] = {}
                    STATE["tags"] = {}
            return self.answer(200, body, "application/json")
        tag = query.get("tag", [None])[0]
        with LOCK:
            STATE["in_flight"] += 1
            STATE["max_concurrent"] = max(STATE["max_concurrent"], STATE["in_flight"])
            if tag is not None:
                n = STATE["tag_in_flight"].get(tag, 0) + 1
                STATE["tag_in_flight"][tag] = n
                STATE["tags"][tag] = max(STATE["tags"].get(tag, 0), n)
            count = STATE["requests"].get(path, 0) + 1
            STATE["requests"][path] = count
        try:
            if "delay" in query:
                time.sleep(int(query["delay"][0]) / 1000.0)
            self.serve(path, count, query)
        finally:
            with LOCK:
                STATE["in_flight"] -= 1
                if tag is not None:
                    STATE["tag_in_flight"][tag] -= 1

    def answer(self, code, body, ctype="text/plain", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def file_bytes(self, rel):
        full = os.path.realpath(os.path.join(ARGS.root, rel.lstrip("/")))
        if not full.startswith(os.path.realpath(ARGS.root) + os.sep) or not os.path.isfile(full):
            return None
        with open(full, "rb") as f:
            return f.read()

    def serve(self, path, count, query):
        parts = path.lstrip("/").split("/", 1)
        mode, rest = (parts[0], "/" + parts[1]) if len(parts) == 2 else ("", path)
        if mode == "status":
            code, _, rest = rest.lstrip("/").partition("/")
            extra = {"Retry-After": query["retry_after"][0]} if "retry_after" in query else {}
            return self.answer(int(code), b"fault_http_server status\n", extra=extra)
        if mode == "redirect":
            return self.answer(302, b"", extra={"Location": rest})
        if mode == "redirect-to":
            return self.answer(302, b"", extra={"Location": query["to"][0]})
        if mode == "redirect-file":
            return self.answer(302, b"", extra={"Location": "file:///etc/passwd"})
        if mode == "huge":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            zeros = b"\0" * CHUNK
            end = time.time() + ARGS.max_seconds
            try:
                while time.time() < end:
                    self.wfile.write(zeros)
            except OSError:
                pass
            return
        if mode not in ("truncate", "die", "eof", "slow", "flaky", "norange", "wrong"):
            mode, rest = "", path
        data = self.file_bytes(rest)
        if data is None:
            return self.answer(404, b"not found\n")
        if mode == "flaky" and count <= ARGS.flaky_count:
            return self.answer(500, b"flaky\n")
        if mode == "wrong" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start, end, code = 0, len(data), 200
        rng = self.headers.get("Range")
        if rng and mode != "norange" and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first)
            if start >= len(data):
                return self.answer(416, b"", extra={"Content-Range": "bytes */%d" % len(data)})
            if last:
                end = min(len(data), int(last) + 1)
            code = 206
        body = data[start:end]
        if mode == "eof" and count == 1:
            self.send_response(code)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, len(data)))
        self.end_headers()
        if mode in ("truncate", "die") and count == 1:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            if mode == "die":  # RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            return
        if mode == "slow":
            end_time = time.time() + ARGS.max_seconds
            try:
                for i in range(len(body)):
                    if time.time() > end_time:
                        break
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(1.0 / ARGS.slow_rate)
            except OSError:
                pass
            self.close_connection = True
            return
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients hanging up mid-answer is what the fault tests do; not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--flaky-count", type=int, default=2)
    p.add_argument("--slow-rate", type=int, default=64)
    p.add_argument("--max-seconds", type=int, default=120)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    ARGS = p.parse_args()
    server = Server((ARGS.bind, ARGS.port), Handler)
    if ARGS.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Timer(ARGS.max_seconds, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
