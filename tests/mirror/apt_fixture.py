#!/usr/bin/python3
"""Builds and indexes the small apt repositories of the mirror tests (used by make_apt_repo.sh).

  apt_fixture.py build OUTDIR N     N real .deb files (ar + control.tar.gz + data.tar.gz, what
                                    dpkg-deb writes) in OUTDIR/pool/main/, a few .udeb files and
                                    the netboot installer images; written in-process because
                                    N=1000 dpkg-deb runs take minutes on 2 shared cores.
  apt_fixture.py deb OUTDIR NAME VERSION [DEPENDS]
                                    one more .deb into the pool (the tests' "the source gained a
                                    version").
  apt_fixture.py index OUTDIR SUITE reads every .deb/.udeb under OUTDIR/pool (their control
                                    members, like dpkg-scanpackages) and writes the uncompressed
                                    Packages indexes under OUTDIR/dists/SUITE/.

The package set (the tests rely on it):
  rb-app      Pre-Depends rb-pre; Depends rb-lib1 (>= 1.0), rb-virtual, rb-missing | rb-alt,
              rb-data:any; Recommends rb-rec
  rb-lib1 -> rb-lib2;  rb-impl Provides rb-virtual;  rb-data is Architecture: all
  rb-req (Priority required) -> rb-reqdep (optional);  rb-imp (Priority important)
  fill-NNNN   the rest up to N, optional, in Depends chains of 10, unrelated to the above
  udebs: kernel-image-6.1.0-99-amd64-di, nic-modules-6.1.0-99-amd64-di, anna, di-utils,
         foo-modules-6.1.0-98-amd64-di (another kernel ABI: a netboot mirror leaves it out)
"""
import gzip
import hashlib
import io
import os
import sys
import tarfile

ARCH = "amd64"
MAINT = "Rackboot Tests <tests@rackboot.invalid>"


def _ar_member(name, data):
    header = "%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name, 0, 0, 0, "100644", len(data))
    out = header.encode() + data
    if len(data) % 2:
        out += b"\n"
    return out


def _tar_gz(files):
    """files: [(name, bytes, mode)] -> a gzip'd tar, deterministic (mtime 0)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = set()
        for name, _, _ in files:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d and d not in dirs and d != ".":
                    dirs.add(d)
        for d in ["."] + sorted(dirs):
            ti = tarfile.TarInfo(d if d == "." else d + "/")
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tar.addfile(ti)
        for name, data, mode in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            tar.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=1) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def control_text(p):
    lines = ["Package: %s" % p["name"], "Version: %s" % p["version"],
             "Architecture: %s" % p.get("arch", ARCH), "Maintainer: %s" % MAINT,
             "Installed-Size: 1"]
    for field in ("Pre-Depends", "Depends", "Recommends", "Provides"):
        if p.get(field):
            lines.append("%s: %s" % (field, p[field]))
    lines.append("Section: %s" % p.get("section", "misc"))
    lines.append("Priority: %s" % p.get("priority", "optional"))
    lines.append("Description: rackboot mirror test package %s" % p["name"])
    lines.append(" Made by tests/mirror/apt_fixture.py.")
    return "\n".join(lines) + "\n"


def write_deb(outdir, p):
    name, version = p["name"], p["version"]
    arch = p.get("arch", ARCH)
    ext = "udeb" if p.get("udeb") else "deb"
    sub = "main"
    letter = name[:4] if name.startswith("lib") else name[0]
    rel = "pool/%s/%s/%s/%s_%s_%s.%s" % (sub, letter, name, name, version.split(":")[-1], arch, ext)
    payload = ("%s %s\n" % (name, version)).encode() + p.get("extra", b"")
    control = _tar_gz([("./control", control_text(p).encode(), 0o644)])
    data = _tar_gz([("./usr/share/rackboot-test/%s" % name, payload, 0o644)])
    deb = b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n") + \
        _ar_member("control.tar.gz", control) + _ar_member("data.tar.gz", data)
    path = os.path.join(outdir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(deb)
    return rel


def package_set(n):
    pk = [
        dict(name="rb-app", version="1.0", **{"Pre-Depends": "rb-pre",
             "Depends": "rb-lib1 (>= 1.0), rb-virtual, rb-missing | rb-alt, rb-data:any",
             "Recommends": "rb-rec"}),
        dict(name="rb-lib1", version="1.0", Depends="rb-lib2"),
        dict(name="rb-lib2", version="1.0"),
        dict(name="rb-impl", version="1.0", Provides="rb-virtual"),
        dict(name="rb-alt", version="1.0"),
        dict(name="rb-data", version="1.0", arch="all"),
        dict(name="rb-pre", version="1.0"),
        dict(name="rb-rec", version="1.0"),
        dict(name="rb-req", version="1.0", priority="required", Depends="rb-reqdep"),
        dict(name="rb-reqdep", version="1.0"),
        dict(name="rb-imp", version="1.0", priority="important"),
    ]
    i = 0
    while len(pk) < n:
        p = dict(name="fill-%04d" % i, version="1.%d" % (i % 7))
        if i % 10:
            p["Depends"] = "fill-%04d" % (i - 1)
        pk.append(p)
        i += 1
    return pk


UDEBS = [
    dict(name="kernel-image-6.1.0-99-amd64-di", version="6.1.99-1", section="debian-installer",
         priority="standard"),
    dict(name="nic-modules-6.1.0-99-amd64-di", version="6.1.99-1", section="debian-installer",
         priority="standard", Depends="kernel-image-6.1.0-99-amd64-di"),
    dict(name="foo-modules-6.1.0-98-amd64-di", version="6.1.98-1", section="debian-installer",
         priority="standard"),
    dict(name="anna", version="1.88", section="debian-installer", priority="standard",
         Depends="di-utils"),
    dict(name="di-utils", version="1.148", section="debian-installer", priority="standard"),
]


def build(outdir, n):
    for p in package_set(n):
        write_deb(outdir, p)
    for u in UDEBS:
        write_deb(outdir, dict(u, udeb=True))


def read_control(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"!<arch>\n"):
        raise SystemExit("%s: not an ar archive" % path)
    off = 8
    while off + 60 <= len(data):
        name = data[off:off + 16].decode().strip()
        size = int(data[off + 48:off + 58].decode().strip())
        body = data[off + 60:off + 60 + size]
        off += 60 + size + (size % 2)
        if name.startswith("control.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for m in tar.getmembers():
                    if m.name in ("./control", "control"):
                        return tar.extractfile(m).read().decode(), data
    raise SystemExit("%s: no control member" % path)


def stanza(outdir, rel):
    text, data = read_control(os.path.join(outdir, rel))
    fields = []
    for line in text.rstrip("\n").split("\n"):
        if line.startswith((" ", "\t")):
            fields[-1][1] += "\n" + line
        else:
            k, v = line.split(":", 1)
            fields.append([k, v.strip()])
    # dpkg-scanpackages order: control fields up to Depends-ish, then the file's fields.
    out, desc = [], None
    for k, v in fields:
        if k == "Description":
            desc = v
            continue
        if k in ("Section", "Priority"):
            continue
        out.append("%s: %s" % (k, v))
    d = dict(fields)
    out.append("Filename: %s" % rel)
    out.append("Size: %d" % len(data))
    out.append("MD5sum: %s" % hashlib.md5(data).hexdigest())
    out.append("SHA1: %s" % hashlib.sha1(data).hexdigest())
    out.append("SHA256: %s" % hashlib.sha256(data).hexdigest())
    out.append("Section: %s" % d.get("Section", "misc"))
    out.append("Priority: %s" % d.get("Priority", "optional"))
    out.append("Description: %s" % desc)
    return "\n".join(out) + "\n"


def index(outdir, suite):
    debs, udebs = [], []
    for root, _, files in os.walk(os.path.join(outdir, "pool")):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), outdir)
            if f.endswith(".udeb"):
                udebs.append(rel)
            elif f.endswith(".deb"):
                debs.append(rel)
    for rels, sub in ((debs, "main/binary-%s" % ARCH),
                      (udebs, "main/debian-installer/binary-%s" % ARCH)):
        d = os.path.join(outdir, "dists", suite, sub)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "Packages"), "w") as f:
            f.write("\n".join(stanza(outdir, r) for r in sorted(rels)))


def main(argv):
    if len(argv) >= 3 and argv[1] == "build":
        build(argv[2], int(argv[3]))
    elif len(argv) >= 5 and argv[1] == "deb":
        p = dict(name=argv[3], version=argv[4])
        if len(argv) > 5 and argv[5]:
            p["Depends"] = argv[5]
        print(write_deb(argv[2], p))
    elif len(argv) == 4 and argv[1] == "index":
        index(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
