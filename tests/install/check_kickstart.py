#!/usr/bin/python3
"""Checks kickstart files against what Rackboot's kickstart templates may use.

  check_kickstart.py FILE...

An allow-list, not a full pykickstart: each command the built-in template
(engine/install/templates/rhel-kickstart.cfg.mustache) and reasonable site
templates use, with the options RHEL 9's kickstart reference documents for it
(and, for some, the values), and the sections %packages, %pre, %pre-install,
%post, %onerror closed by %end. Fails (exit 1, one "FILE:LINE: what" per
problem on stderr) on an unknown command, an unknown or malformed option, a
missing required argument, a one-per-file command given twice, a section
that is unknown, nested or not closed, a package name that is not one, or a
script body `sh -n` rejects. Exit 0 and nothing on stderr when all is well.
"""
import re
import shlex
import subprocess
import sys

# Option spec: name -> None (a flag) or a regex the value must match in full.
ANY = r"\S+"
IPV4 = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
DISK = r"(/dev/)?[A-Za-z0-9/_.:-]+"
URL = r"(https?|ftp|nfs)://\S+"

# command -> (options, min positional, max positional, may repeat)
COMMANDS = {
    "text": ({"--non-interactive": None}, 0, 0, False),
    "graphical": ({"--non-interactive": None}, 0, 0, False),
    "cmdline": ({}, 0, 0, False),
    "url": ({"--url": URL, "--mirrorlist": URL, "--metalink": URL, "--proxy": URL,
             "--noverifyssl": None}, 0, 0, False),
    "repo": ({"--name": r"[A-Za-z0-9._-]+", "--baseurl": URL, "--mirrorlist": URL,
              "--cost": r"\d+", "--install": None, "--noverifyssl": None}, 0, 0, True),
    "lang": ({"--addsupport": r"[A-Za-z0-9_.@,-]+"}, 1, 1, False),
    "keyboard": ({"--vckeymap": r"[A-Za-z0-9_-]+", "--xlayouts": r"[A-Za-z0-9_(),-]+",
                  "--switch": ANY}, 0, 1, False),
    "timezone": ({"--utc": None, "--isUtc": None, "--nontp": None,
                  "--ntpservers": ANY}, 0, 1, False),
    "timesource": ({"--ntp-server": ANY, "--ntp-pool": ANY, "--ntp-disable": None,
                    "--nts": None}, 0, 0, True),
    "network": ({"--device": r"[A-Za-z0-9:._-]+", "--bootproto": r"dhcp|static|bootp|ibft",
                 "--ip": IPV4, "--netmask": IPV4, "--gateway": IPV4,
                 "--nameserver": IPV4 + r"(," + IPV4 + r")*", "--hostname": r"[A-Za-z0-9.-]+",
                 "--activate": None, "--no-activate": None, "--onboot": r"yes|no|on|off|true|false",
                 "--noipv4": None, "--noipv6": None, "--ipv6": ANY, "--mtu": r"\d+",
                 "--nodefroute": None, "--nodns": None}, 0, 0, True),
    "rootpw": ({"--iscrypted": None, "--plaintext": None, "--lock": None,
                "--allow-ssh": None}, 0, 1, False),
    "user": ({"--name": r"[a-z_][a-z0-9_-]*", "--password": ANY, "--iscrypted": None,
              "--groups": ANY, "--lock": None}, 0, 0, True),
    "sshkey": ({"--username": r"[a-z_][a-z0-9_-]*"}, 1, 1, True),
    "firstboot": ({"--disable": None, "--enable": None, "--reconfig": None}, 0, 0, False),
    "skipx": ({}, 0, 0, False),
    "selinux": ({"--enforcing": None, "--permissive": None, "--disabled": None}, 0, 0, False),
    "firewall": ({"--enabled": None, "--disabled": None, "--service": ANY,
                  "--port": ANY}, 0, 0, False),
    "services": ({"--enabled": ANY, "--disabled": ANY}, 0, 0, False),
    "ignoredisk": ({"--only-use": DISK + r"(," + DISK + r")*", "--drives": DISK + r"(," + DISK + r")*"},
                   0, 0, False),
    "zerombr": ({}, 0, 0, False),
    "clearpart": ({"--all": None, "--initlabel": None, "--linux": None, "--none": None,
                   "--drives": DISK + r"(," + DISK + r")*", "--list": ANY,
                   "--disklabel": r"gpt|msdos"}, 0, 0, False),
    "autopart": ({"--type": r"lvm|plain|btrfs|thinp", "--encrypted": None, "--nohome": None,
                  "--noswap": None, "--nolvm": None, "--fstype": r"[a-z0-9]+"}, 0, 0, False),
    "reqpart": ({"--add-boot": None}, 0, 0, False),
    "bootloader": ({"--boot-drive": DISK, "--location": r"mbr|partition|none|boot",
                    "--append": ANY, "--timeout": r"\d+", "--driveorder": ANY,
                    "--iscrypted": None, "--password": ANY}, 0, 0, False),
    "reboot": ({"--eject": None, "--kexec": None}, 0, 0, False),
    "poweroff": ({}, 0, 0, False),
    "halt": ({}, 0, 0, False),
    "eula": ({"--agreed": None}, 0, 0, False),
}
# The install ends in exactly one of these.
ENDINGS = {"reboot", "poweroff", "halt"}
# section -> options (same spec as commands)
SECTIONS = {
    "%packages": {"--ignoremissing": None, "--excludedocs": None, "--nocore": None,
                  "--inst-langs": ANY, "--exclude-weakdeps": None},
    "%pre": {"--interpreter": r"/[A-Za-z0-9/_.-]+", "--erroronfail": None, "--log": ANY},
    "%pre-install": {"--interpreter": r"/[A-Za-z0-9/_.-]+", "--erroronfail": None, "--log": ANY},
    "%post": {"--interpreter": r"/[A-Za-z0-9/_.-]+", "--nochroot": None, "--erroronfail": None,
              "--log": ANY},
    "%onerror": {"--interpreter": r"/[A-Za-z0-9/_.-]+", "--log": ANY},
}
PACKAGE = re.compile(r"-?(@\^?[A-Za-z0-9][A-Za-z0-9+._-]*|[A-Za-z0-9][A-Za-z0-9+._*-]*)")


def check_options(where, name, spec, words, errors):
    """Checks `words` (the options of a command or section); returns the positionals."""
    positionals = []
    seen = set()
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if not w.startswith("--"):
            positionals.append(w)
            continue
        opt, eq, value = w.partition("=")
        if opt not in spec:
            errors.append(f"{where}: {name}: unknown option {opt}")
            continue
        if opt in seen:
            errors.append(f"{where}: {name}: {opt} given twice")
        seen.add(opt)
        pattern = spec[opt]
        if pattern is None:
            if eq:
                errors.append(f"{where}: {name}: {opt} takes no value")
            continue
        if not eq:
            if i < len(words) and not words[i].startswith("--"):
                value = words[i]
                i += 1
            else:
                errors.append(f"{where}: {name}: {opt} needs a value")
                continue
        if not re.fullmatch(pattern, value):
            errors.append(f"{where}: {name}: {opt}={value!r} is not a valid value")
    return positionals, seen


def check_script(where, interpreter, body, errors):
    shell = interpreter or "/bin/sh"
    if shell not in ("/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/sh"):
        return  # only shell scripts can be checked here
    r = subprocess.run(["sh", "-n"], input=body, capture_output=True, text=True)
    if r.returncode != 0 or r.stderr:
        errors.append(f"{where}: script does not parse: {r.stderr.strip()}")


def check_file(path):
    errors = []
    counts = {}
    section = None  # (name, start line, opts, body lines)
    with open(path, encoding="ascii") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        where = f"{path}:{number}"
        stripped = line.strip()
        if section is not None:
            name, start, opts, body = section
            if stripped == "%end":
                if name in ("%pre", "%pre-install", "%post", "%onerror"):
                    check_script(f"{path}:{start}", opts.get("--interpreter"),
                                 "\n".join(body) + "\n", errors)
                section = None
                continue
            if stripped.startswith("%"):
                errors.append(f"{where}: {stripped.split()[0]} inside {name} "
                              f"(line {start}): sections do not nest; missing %end?")
                continue
            if name == "%packages" and stripped and not stripped.startswith("#"):
                if not PACKAGE.fullmatch(stripped):
                    errors.append(f"{where}: %packages: {stripped!r} is not a package or group")
            body.append(line)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError as e:
            errors.append(f"{where}: cannot split the line: {e}")
            continue
        if not words:
            continue
        head = words[0]
        if head.startswith("%"):
            if head == "%end":
                errors.append(f"{where}: %end outside a section")
                continue
            if head not in SECTIONS:
                errors.append(f"{where}: unknown section {head}")
                continue
            positionals, _ = check_options(where, head, SECTIONS[head], words[1:], errors)
            if positionals:
                errors.append(f"{where}: {head}: unexpected argument {positionals[0]!r}")
            opts = {}
            for w in words[1:]:
                k, _, v = w.partition("=")
                opts[k] = v
            section = (head, number, opts, [])
            continue
        if head not in COMMANDS:
            errors.append(f"{where}: unknown command {head!r}")
            continue
        spec, lo, hi, repeat = COMMANDS[head]
        counts[head] = counts.get(head, 0) + 1
        if counts[head] > 1 and not repeat:
            errors.append(f"{where}: {head} given more than once")
        positionals, seen = check_options(where, head, spec, words[1:], errors)
        if not lo <= len(positionals) <= hi:
            errors.append(f"{where}: {head}: {len(positionals)} arguments, expected "
                          f"{lo}..{hi}")
        if head == "rootpw":
            if ("--lock" in seen) == bool(positionals) and "--lock" in seen:
                errors.append(f"{where}: rootpw --lock takes no password")
            if "--lock" not in seen and not positionals:
                errors.append(f"{where}: rootpw needs a password or --lock")
            if "--iscrypted" in seen and positionals and not re.fullmatch(
                    r"\$[0-9a-z]+\$[A-Za-z0-9./$]+", positionals[0]):
                errors.append(f"{where}: rootpw --iscrypted: not a crypt(3) hash")
        if head == "sshkey" and "--username" not in seen:
            errors.append(f"{where}: sshkey needs --username")
        if head == "network" and seen & {"--ip", "--netmask"} and "--bootproto" in seen:
            m = re.search(r"--bootproto=(\S+)", stripped)
            if m and m.group(1) != "static":
                errors.append(f"{where}: network: --ip with --bootproto={m.group(1)}")
    if section is not None:
        errors.append(f"{path}:{section[1]}: {section[0]} never closed with %end")
    if not any(counts.get(e) for e in ENDINGS):
        errors.append(f"{path}: no reboot, poweroff or halt: the install would wait at the end")
    if sum(counts.get(e, 0) for e in ENDINGS) > 1:
        errors.append(f"{path}: more than one of reboot, poweroff, halt")
    for required in ("rootpw", "lang", "timezone", "bootloader"):
        if required not in counts:
            errors.append(f"{path}: no {required} command: the install would stop and ask")
    return errors


def main(argv):
    if len(argv) < 2:
        print("usage: check_kickstart.py FILE...", file=sys.stderr)
        return 2
    errors = []
    for path in argv[1:]:
        errors += check_file(path)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
