#!/usr/bin/python3
"""Checks Debian preseed files.

  check_preseed.py [--di-templates=DIR] FILE...

Each file must pass `debconf-set-selections -c` with exit 0 and nothing on
stderr (it warns, and exits 0, on lines it skips, e.g. an unknown type: so
stderr is the signal), use only the owner "d-i" or a package name, and the
shell commands of preseed/early_command and preseed/late_command must pass
`sh -n`. With --di-templates (a directory of the *.templates files of the
debian-installer's initrd, var/lib/dpkg/info/): a question whose parent
name the initrd's questions use (netcfg/, mirror/http/, preseed/,
debian-installer/, keyboard-configuration/, ...) must be one of them, of
the same type; questions of the components d-i loads later from the mirror
(partman, grub-installer, pkgsel, ...) cannot be checked here.
Exit 1 with one "FILE: what" line per problem on stderr.
"""
import glob
import os
import re
import subprocess
import sys

LINE = re.compile(r"(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?")


def load_di_templates(directory):
    """question -> type, from d-i's *.templates (RFC 822 style blocks)."""
    questions = {}
    for path in glob.glob(os.path.join(directory, "*.templates")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for block in f.read().split("\n\n"):
                name = kind = None
                for line in block.split("\n"):
                    if line.startswith("Template: "):
                        name = line[len("Template: "):].strip()
                    elif line.startswith("Type: "):
                        kind = line[len("Type: "):].strip()
                if name and kind:
                    questions[name] = kind
    return questions


def check_file(path, di_questions=None):
    errors = []
    # A question is checkable when the initrd defines a question with the
    # same parent (netcfg/, mirror/http/, ...): a udeb there owns that name
    # space. finish-install/progress/* hooks in the initrd do not make
    # finish-install/ checkable (its udeb comes later from the mirror).
    parents = {q.rsplit("/", 1)[0] for q in (di_questions or {})}
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
        parent = question.rsplit("/", 1)[0]
        if di_questions and parent in parents:
            if question not in di_questions:
                errors.append(f"{path}:{number}: {question}: not a question of the installer "
                              f"(its {parent}/ questions do not include it)")
            elif di_questions[question] != kind:
                errors.append(f"{path}:{number}: {question}: the installer's type is "
                              f"{di_questions[question]}, not {kind}")
        if kind == "boolean" and value not in ("true", "false"):
            errors.append(f"{path}:{number}: {question}: boolean {value!r}")
        if question in ("preseed/early_command", "preseed/late_command",
                        "partman/early_command"):
            s = subprocess.run(["sh", "-n"], input=value or "", capture_output=True, text=True)
            if s.returncode != 0 or s.stderr:
                errors.append(f"{path}:{number}: {question}: does not parse: {s.stderr.strip()}")
    return errors


def main(argv):
    args = argv[1:]
    di_questions = None
    if args and args[0].startswith("--di-templates="):
        di_questions = load_di_templates(args.pop(0).split("=", 1)[1])
        if not di_questions:
            print("check_preseed.py: no templates in --di-templates", file=sys.stderr)
            return 2
    if not args:
        print("usage: check_preseed.py [--di-templates=DIR] FILE...", file=sys.stderr)
        return 2
    errors = []
    for path in args:
        errors += check_file(path, di_questions)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
