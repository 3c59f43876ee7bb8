#!/usr/bin/python3
"""Checks Debian preseed files.

  check_preseed.py FILE...

Each file must pass `debconf-set-selections -c` with exit 0 and nothing on
stderr (it warns, and exits 0, on lines it skips, e.g. an unknown type: so
stderr is the signal), use only the owner "d-i" or a package name, and the
shell commands of preseed/early_command and preseed/late_command must pass
`sh -n`. Exit 1 with one "FILE: what" line per problem on stderr.
"""
import re
import subprocess
import sys

LINE = re.compile(r"(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?")


def check_file(path):
    errors = []
    r = subprocess.run(["debconf-set-selections", "-c", path], capture_output=True, text=True)
    if r.returncode != 0 or r.stderr:
        errors.append(f"{path}: debconf-set-selections -c: exit {r.returncode}: "
                      f"{r.stderr.strip() or '(no message)'}")
    with open(path, encoding="ascii") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            errors.append(f"{path}:{number}: continued line (write each setting on one line)")
            continue
        m = LINE.fullmatch(line)
        if not m:
            continue  # debconf-set-selections already said so
        owner, question, kind, value = m.groups()
        if kind not in ("string", "boolean", "select", "multiselect", "note", "password",
                        "text", "error", "title"):
            errors.append(f"{path}:{number}: {question}: unknown type {kind}")
        if kind == "boolean" and value not in ("true", "false"):
            errors.append(f"{path}:{number}: {question}: boolean {value!r}")
        if question in ("preseed/early_command", "preseed/late_command",
                        "partman/early_command"):
            s = subprocess.run(["sh", "-n"], input=value or "", capture_output=True, text=True)
            if s.returncode != 0 or s.stderr:
                errors.append(f"{path}:{number}: {question}: does not parse: {s.stderr.strip()}")
    return errors


def main(argv):
    if len(argv) < 2:
        print("usage: check_preseed.py FILE...", file=sys.stderr)
        return 2
    errors = []
    for path in argv[1:]:
        errors += check_file(path)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
