#!/usr/bin/python3
"""Checks that a host's three boot menus say the same thing.

  check_menus.py HOST_DIR...

HOST_DIR holds one host's pxelinux.cfg/01-<mac>, grub/grub.cfg-01-<mac> and
ipxe/01-<mac>.ipxe (as render_fixture and `rackboot gen` write them). Each
menu is read the way its loader reads it: the entries, the default, the
timeout, and per entry the kernel, the initrd and the kernel arguments (GRUB's
`linux` line split by GRUB's quoting rules, where an unquoted ';' ends the
command; iPXE's `initrd=<name>` argument dropped). All three must agree
("menus on par"), and grub-script-check must accept the GRUB file. Exit 1 with
one "DIR: what" line per problem on stderr.
"""
import glob
import os
import re
import shlex
import subprocess
import sys
import urllib.parse


def boot_path(path):
    """Kernel/initrd path as the TFTP tree names it, for every loader."""
    if re.match(r"^https?://", path):  # iPXE: a URL, percent-encoded
        path = urllib.parse.unquote(re.sub(r"^https?://[^/]+/boot/", "", path))
    return path.lstrip("/")


def read_pxelinux(text, errors):
    menu = {"entries": {}, "default": None, "timeout": None}
    current = None
    prompt = None
    for line in text.split("\n"):
        words = line.split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        key, rest = words[0].upper(), words[1] if len(words) > 1 else ""
        if key == "DEFAULT":
            menu["default"] = rest.strip()
        elif key == "TIMEOUT":
            menu["timeout"] = int(rest) / 10
        elif key == "PROMPT":
            prompt = rest.strip()
        elif key == "LABEL":
            current = menu["entries"].setdefault(rest.strip(), {})
        elif key in ("KERNEL", "LINUX") and current is not None:
            current["kernel"] = boot_path(rest.strip())
        elif key == "INITRD" and current is not None:
            current["initrd"] = boot_path(rest.strip())
        elif key == "APPEND" and current is not None:
            current["args"] = rest.split()
        elif key == "LOCALBOOT" and current is not None:
            current["local"] = True
        elif key not in ("SAY", "DISPLAY", "MENU", "SERIAL", "IPAPPEND", "SYSAPPEND"):
            errors.append(f"pxelinux: unknown keyword {words[0]}")
    if prompt == "0":
        menu["timeout"] = 0.0
    return menu


def read_grub(text, errors):
    menu = {"entries": {}, "default": None, "timeout": None}
    current = None
    for number, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.fullmatch(r"set (default|timeout)=(\S+)", s)
        if m:
            if m.group(1) == "default":
                menu["default"] = m.group(2).strip("'\"")
            else:
                menu["timeout"] = float(m.group(2))
            continue
        m = re.fullmatch(r"menuentry .* --id (\S+) \{", s)
        if m:
            current = menu["entries"].setdefault(m.group(1), {})
            continue
        if s == "}":
            current = None
            continue
        if current is None:
            errors.append(f"grub:{number}: {s!r} outside a menuentry")
            continue
        lexer = shlex.shlex(s, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words = list(lexer)
        for w in (";", "&", "|", "&&", "||", ";;"):
            if w in words:
                errors.append(f"grub:{number}: an unquoted {w!r} ends the {words[0]} command")
        if words[0] == "linux":
            current["kernel"] = boot_path(words[1])
            current["args"] = words[2:]
        elif words[0] == "initrd":
            current["initrd"] = boot_path(words[1])
        elif words[0] == "exit":
            current["local"] = True
        else:
            errors.append(f"grub:{number}: unexpected command {words[0]!r}")
    return menu


def read_ipxe(text, errors):
    menu = {"entries": {}, "default": None, "timeout": None}
    current = None
    lines = text.split("\n")
    if lines[0] != "#!ipxe":
        errors.append("ipxe: the first line is not #!ipxe")
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        words = s.split()
        if s.startswith(":"):
            current = menu["entries"].setdefault(s[1:], {})
        elif current is None:
            if words[0] == "choose":
                m = re.search(r"--timeout (\d+)", s)
                menu["timeout"] = int(m.group(1)) / 1000 if m else None
                m = re.search(r"--default (\S+)", s)
                menu["default"] = m.group(1) if m else None
            elif words[0] == "goto" and menu["default"] is None:
                menu["default"], menu["timeout"] = words[1], 0.0
            elif words[0] not in ("menu", "item"):
                errors.append(f"ipxe:{number}: unexpected {words[0]!r} before the first label")
        elif words[0] == "kernel":
            current["kernel"] = boot_path(words[1])
            args = words[2:]
            if "initrd" in current or any(a.startswith("initrd=") for a in args[:1]):
                args = args[1:]
            current["args"] = args
        elif words[0] == "initrd":
            current["initrd"] = boot_path(words[1])
        elif words[0] == "exit":
            current["local"] = True
        elif words[0] not in ("boot", "echo", "imgargs"):
            errors.append(f"ipxe:{number}: unexpected {words[0]!r}")
    return menu


def check_host(directory):
    errors = []
    files = {}
    for kind, pattern in (("pxelinux", "pxelinux.cfg/01-*"), ("grub", "grub/grub.cfg-01-*"),
                          ("ipxe", "ipxe/01-*.ipxe")):
        found = glob.glob(os.path.join(directory, pattern))
        if len(found) != 1:
            errors.append(f"{directory}: {len(found)} {kind} menus, expected 1")
            continue
        files[kind] = found[0]
    if errors:
        return errors
    r = subprocess.run(["grub-script-check", files["grub"]], capture_output=True, text=True)
    if r.returncode != 0:
        errors.append(f"{files['grub']}: grub-script-check: {(r.stderr or r.stdout).strip()}")
    menus = {}
    for kind, reader in (("pxelinux", read_pxelinux), ("grub", read_grub), ("ipxe", read_ipxe)):
        problems = []
        with open(files[kind]) as f:
            menus[kind] = reader(f.read(), problems)
        errors += [f"{files[kind]}: {p}" for p in problems]
    base = menus["pxelinux"]
    for kind in ("grub", "ipxe"):
        other = menus[kind]
        for key in ("default", "timeout"):
            if other[key] != base[key]:
                errors.append(f"{directory}: {kind} {key} {other[key]!r}, pxelinux {base[key]!r}")
        if set(other["entries"]) != set(base["entries"]):
            errors.append(f"{directory}: {kind} entries {sorted(other['entries'])}, "
                          f"pxelinux {sorted(base['entries'])}")
            continue
        for name, entry in base["entries"].items():
            if other["entries"][name] != entry:
                errors.append(f"{directory}: entry {name}: {kind} {other['entries'][name]}, "
                              f"pxelinux {entry}")
    if base["default"] not in base["entries"]:
        errors.append(f"{directory}: the default {base['default']!r} is not an entry")
    return errors


def main(argv):
    if len(argv) < 2:
        print("usage: check_menus.py HOST_DIR...", file=sys.stderr)
        return 2
    errors = []
    for directory in argv[1:]:
        errors += check_host(directory)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
