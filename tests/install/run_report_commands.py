#!/usr/bin/python3
"""Runs the report commands of rendered install files against a local server.

  run_report_commands.py BUSYBOX FILE...

For each preseed.cfg, ks.cfg and user-data: takes the commands the installer
would run (preseed/early_command and late_command; %pre, %post, %onerror;
early-, late- and error-commands), points them at a recording HTTP server on
127.0.0.1 instead of the file's report URL (paths under /target and /tmp
moved into a scratch directory), runs them with sh -c (d-i's commands with
busybox as `wget`, as d-i has; `curtin` a no-op), and checks what arrived, in order:
  POST .../phase  application/json {"token": T, "phase": "installing", ...}
  POST .../log?token=T  text/plain
  POST .../done   application/json {"token": T, ...}
and from the failure hooks (kickstart %onerror, autoinstall error-commands)
POST .../phase {"phase": "failed"}. Then runs every command again against a
closed port: each must still exit 0 (a report never fails the install).
Exit 1 with the problems on stderr.
"""
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

import yaml

REPORT = re.compile(r"(http://[0-9.]+:[0-9]+)/api/v1/hosts/([a-z0-9.-]+)/phase")
TOKEN = re.compile(r"/log\?token=([0-9a-f]{32})")


class Recorder(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        Recorder.requests.append({"path": self.path,
                                  # Two Content-Type headers (busybox adds its
                                  # own unless told one) would be ambiguous.
                                  "type": ",".join(self.headers.get_all("Content-Type", [])),
                                  "body": body})
        reply = b'{"ok":true}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def commands(path, text):
    """(shell, [normal commands in order], [failure commands])."""
    name = os.path.basename(path)
    if name == "preseed.cfg":
        cmds = {}
        for line in text.split("\n"):
            m = re.match(r"d-i preseed/(early|late)_command string (.*)", line)
            if m:
                cmds[m.group(1)] = m.group(2)
        return "d-i", [cmds.get("early", ""), cmds.get("late", "")], []
    if name == "ks.cfg":
        normal, failure, section, body = [], [], None, []
        for line in text.split("\n"):
            if section is None and re.match(r"%(pre|post|onerror)\b", line):
                section, body = line.split()[0], []
            elif section is not None and line.strip() == "%end":
                (failure if section == "%onerror" else normal).append("\n".join(body))
                section = None
            elif section is not None:
                body.append(line)
        return "anaconda", normal, failure
    if name == "user-data":
        doc = yaml.safe_load(text)["autoinstall"]
        return ("subiquity",
                doc.get("early-commands", []) + doc.get("late-commands", []),
                doc.get("error-commands", []))
    raise ValueError(f"{path}: not an install file this script knows")


def run(cmds, base, url, scratch, env):
    results = []
    for cmd in cmds:
        cmd = cmd.replace(base, url).replace("/target/", f"{scratch}/target/")
        cmd = cmd.replace("/tmp/", f"{scratch}/")
        start = time.monotonic()
        r = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True,
                           timeout=60)
        results.append((r.returncode, time.monotonic() - start, r.stderr))
    return results


def main(argv):
    busybox, files = argv[1], argv[2:]
    errors = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    # A port nobody listens on: bind, note, close.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    for path in files:
        with open(path) as f:
            text = f.read()
        m, t = REPORT.search(text), TOKEN.search(text)
        if not m or not t:
            errors.append(f"{path}: no report URL or log token found")
            continue
        base, host, token = m.group(1), m.group(2), t.group(1)
        kind, normal, failure = commands(path, text)
        with tempfile.TemporaryDirectory() as scratch:
            os.makedirs(f"{scratch}/target/root")
            env = dict(os.environ)
            os.makedirs(f"{scratch}/bin")
            env["PATH"] = f"{scratch}/bin:" + env.get("PATH", "/usr/bin:/bin")
            if kind == "d-i":  # d-i's wget is busybox's
                os.symlink(busybox, f"{scratch}/bin/wget")
            if kind == "subiquity":  # curtin in-target acts on /target: not here
                with open(f"{scratch}/bin/curtin", "w") as f:
                    f.write("#!/bin/sh\nexit 0\n")
                os.chmod(f"{scratch}/bin/curtin", 0o755)
            for stage, cmds, want in (
                    ("normal", normal, ["phase:installing", "log", "done"]),
                    ("failure", failure, ["phase:failed"] if failure else [])):
                Recorder.requests = []
                for rc, _, stderr in run(cmds, base, url, scratch, env):
                    if rc != 0:
                        errors.append(f"{path}: {stage} command exited {rc}: {stderr.strip()}")
                got = []
                for req in Recorder.requests:
                    prefix = f"/api/v1/hosts/{host}/"
                    if not req["path"].startswith(prefix):
                        errors.append(f"{path}: request to {req['path']}, not under {prefix}")
                        continue
                    what = req["path"][len(prefix):]
                    if what == f"log?token={token}":
                        if req["type"] != "text/plain":
                            errors.append(f"{path}: log sent as {req['type']!r}")
                        got.append("log")
                        continue
                    if req["type"] != "application/json":
                        errors.append(f"{path}: {what} sent as {req['type']!r}")
                    try:
                        body = json.loads(req["body"])
                    except ValueError as e:
                        errors.append(f"{path}: {what}: body is not JSON ({e}): {req['body']!r}")
                        continue
                    if body.get("token") != token:
                        errors.append(f"{path}: {what}: token {body.get('token')!r}")
                    if not isinstance(body.get("detail", ""), str) or len(body.get("detail", "")) > 200:
                        errors.append(f"{path}: {what}: bad detail")
                    got.append(f"phase:{body.get('phase')}" if what == "phase" else what)
                if got != want:
                    errors.append(f"{path}: {stage} reports {got}, expected {want}")
            # Unreachable server: nothing may fail.
            for rc, seconds, stderr in run(normal + failure, base, closed, scratch, env):
                if rc != 0:
                    errors.append(f"{path}: with the server down a command exited {rc}: "
                                  f"{stderr.strip()}")
                if seconds > 30:
                    errors.append(f"{path}: with the server down a command took {seconds:.0f}s")
        print(f"{path}: reports ok" if not errors else f"{path}: checked")
    server.shutdown()
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
