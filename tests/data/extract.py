#!/usr/bin/env python3
"""Cuts the UDP payloads captured by capture.sh into tests/data/{dhcp,tftp}/*.bin and writes
MANIFEST.tsv and README.md.

File names come from the raw bytes (DHCP option 53, TFTP opcode/block); MANIFEST.tsv comes from
tshark's own dissectors (dhcp.*, tftp.*), and the two are cross-checked, so the manifest is an
independent decoding of every vector. Nothing here uses Rackboot code.
"""
import argparse
import datetime
import os
import shutil
import subprocess
import sys

DHCP_TYPES = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak",
              7: "release", 8: "inform"}
TFTP_OPS = {1: "rrq", 2: "wrq", 3: "data", 4: "ack", 5: "error", 6: "oack"}
TFTP_ERRORS = {0: "not-defined", 1: "file-not-found", 2: "access-violation", 3: "disk-full",
               4: "illegal-operation", 5: "unknown-tid", 6: "file-exists", 7: "no-such-user",
               8: "option-refused"}
AGG = "\x1f"  # tshark aggregator for multi-occurrence fields

# Which package produced the datagrams of each program label.
PACKAGES = {
    "udhcpc": ["busybox"],
    "dhclient": ["isc-dhcp-client"],
    "perfdhcp": ["kea-admin"],
    "dnsmasq": ["dnsmasq-base"],
    "ipxe-bios": ["ipxe-qemu", "qemu-system-x86"],
    "ipxe-uefi": ["ipxe-qemu", "ovmf", "qemu-system-x86"],
    "edk2-uefi": ["ovmf", "ipxe-qemu", "qemu-system-x86"],
    "curl": ["curl"],
    "tftpd-hpa": ["tftpd-hpa"],
    "tftp-hpa": ["tftp-hpa"],
    "busybox-tftp": ["busybox"],
    "atftp": ["atftp"],
    "atftpd": ["atftpd"],
}
PROGRAMS = {
    "udhcpc": "busybox udhcpc", "dhclient": "ISC dhclient", "perfdhcp": "ISC Kea perfdhcp",
    "dnsmasq": "dnsmasq", "ipxe-bios": "iPXE virtio ROM, SeaBIOS (QEMU)",
    "ipxe-uefi": "iPXE virtio EFI ROM under OVMF (QEMU)",
    "edk2-uefi": "OVMF's own PXE client (EDK2 UefiPxeBcDxe, over iPXE's SNP) (QEMU)",
    "curl": "curl", "tftpd-hpa": "tftp-hpa server in.tftpd", "tftp-hpa": "tftp-hpa client tftp",
    "busybox-tftp": "busybox tftp", "atftp": "atftp client", "atftpd": "atftpd server",
}

# What the brief asked for; anything missing is reported in README.md.
EXPECTED = [
    "dhcp/udhcpc-discover.bin", "dhcp/udhcpc-request.bin",
    "dhcp/dhclient-discover.bin", "dhcp/dhclient-request.bin",
    "dhcp/perfdhcp-discover.bin", "dhcp/perfdhcp-request.bin",
    "dhcp/dnsmasq-offer.bin", "dhcp/dnsmasq-ack.bin",
    "dhcp/ipxe-bios-discover.bin", "dhcp/ipxe-bios-request.bin",
    "dhcp/ipxe-uefi-discover.bin", "dhcp/ipxe-uefi-request.bin",
    "tftp/curl-rrq-blksize1468.bin", "tftp/curl-rrq-blksize512.bin",
    "tftp/atftp-rrq-windowsize16.bin", "tftp/tftp-hpa-rrq.bin", "tftp/busybox-tftp-rrq-blksize1468.bin",
    "tftp/tftpd-hpa-oack.bin", "tftp/tftpd-hpa-data-1.bin", "tftp/tftpd-hpa-error-file-not-found.bin",
    "tftp/dnsmasq-oack.bin", "tftp/dnsmasq-data-1.bin", "tftp/dnsmasq-error-file-not-found.bin",
    "tftp/atftpd-oack-windowsize16.bin", "tftp/atftpd-data-1-windowsize16.bin",
    "tftp/atftpd-error-file-not-found.bin",
]


def tshark(pcap, fields, display_filter="udp"):
    cmd = ["tshark", "-r", pcap, "-n", "-Y", display_filter, "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=" + AGG]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        parts += [""] * (len(fields) - len(parts))
        rows.append(single(dict(zip(fields, parts))))
    return rows


MULTI = {"dhcp.option.type", "dhcp.option.value", "dhcp.option.length",
         "dhcp.option.request_list_item",
         "tftp.option.name", "tftp.option.value"}


def single(row):
    """Fields that occur once per message: first occurrence (e.g. dhcp.hw.mac_addr is also
    reported inside option 61)."""
    return {k: (v if k in MULTI else v.split(AGG)[0]) for k, v in row.items()}


def hexbytes(s):
    return bytes.fromhex(s.replace(":", ""))


def dhcp_type_raw(p):
    if len(p) < 240 or p[236:240] != b"\x63\x82\x53\x63":
        return None
    i = 240
    while i < len(p):
        code = p[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(p):
            break
        n = p[i + 1]
        if code == 53 and n >= 1:
            return p[i + 2]
        i += 2 + n
    return None


def has_option(p, wanted):
    i = 240
    while i < len(p):
        code = p[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(p):
            return False
        if code == wanted:
            return True
        i += 2 + p[i + 1]
    return False


def pick(blocks, kind):
    """First, middle and last of the distinct block numbers seen (for ACKs also block 1
    when the first one is the ACK of an OACK, block 0)."""
    b = sorted(set(blocks))
    if not b:
        return set()
    keep = {b[0], b[len(b) // 2], b[-1]}
    if kind == "ack" and b[0] == 0 and len(b) > 1:
        keep.add(b[1])
    return keep


def extract(args):
    phases = []
    with open(os.path.join(args.work, "phases.tsv")) as f:
        for line in f:
            name, clabel, cvar, ckeep, slabel, svar, skeep, chaddr = line.rstrip("\n").split("\t")
            phases.append(dict(name=name, chaddr=None if chaddr == "-" else chaddr, roles={
                "client": (clabel, cvar, set(ckeep.split(",")) - {"-", ""}),
                "server": (slabel, svar, set(skeep.split(",")) - {"-", ""})}))

    out = {}  # relative path -> record
    for ph in phases:
        pcap = os.path.join(args.work, ph["name"] + ".pcapng")
        if not os.path.exists(pcap):
            print(f"extract: no capture for phase {ph['name']}", file=sys.stderr)
            continue
        rows = tshark(pcap, ["frame.number", "ip.src", "ip.dst", "udp.srcport", "udp.dstport",
                             "udp.payload"])
        msgs = []
        tftp_ends = set()  # (ip, port) of TFTP clients: a request to port 69 opens a transfer
        for r in rows:
            if not r["udp.payload"] or not r["ip.src"]:
                continue
            payload = hexbytes(r["udp.payload"])
            role = "server" if r["ip.src"] == args.server_ip else "client"
            sport, dport = int(r["udp.srcport"]), int(r["udp.dstport"])
            m = dict(frame=int(r["frame.number"]), role=role, payload=payload)
            if {sport, dport} & {67, 68}:
                t = dhcp_type_raw(payload)
                if t is None:
                    continue
                m.update(proto="dhcp", kind="dhcp", what=DHCP_TYPES.get(t, f"type{t}"),
                         xid=payload[4:8], chaddr=payload[28:34].hex(":"),
                         ipxe=has_option(payload, 175))
            else:
                if len(payload) < 2:
                    continue
                op = int.from_bytes(payload[0:2], "big")
                if role == "client" and dport == 69 and op in (1, 2):
                    tftp_ends.add((r["ip.src"], sport))
                elif role == "server" and (r["ip.dst"], dport) not in tftp_ends:
                    continue
                elif role == "client" and (r["ip.src"], sport) not in tftp_ends:
                    continue
                if op not in TFTP_OPS:
                    continue
                kind = TFTP_OPS[op]
                m.update(proto="tftp", kind=kind, what=kind)
                if kind in ("data", "ack"):
                    m["block"] = int.from_bytes(payload[2:4], "big")
                    m["what"] = f"{kind}-{m['block']}"
                elif kind == "error":
                    code = int.from_bytes(payload[2:4], "big")
                    m["what"] = "error-" + TFTP_ERRORS.get(code, f"code{code}")
            msgs.append(m)
        # DHCP: only the phase's own client, and only server answers to its transactions.
        if ph["chaddr"]:
            msgs = [m for m in msgs if m["proto"] != "dhcp" or m["chaddr"] == ph["chaddr"]]
        xids = {m["xid"] for m in msgs if m["proto"] == "dhcp" and m["role"] == "client"}
        msgs = [m for m in msgs if m["proto"] != "dhcp" or m["role"] == "client" or m["xid"] in xids]
        # Which client program sent / was answered: "a|b" splits by option 175 (iPXE).
        clabels = ph["roles"]["client"][0].split("|")
        by_xid, current = {}, clabels[0]
        for m in msgs:
            if m["proto"] == "dhcp" and m["role"] == "client":
                current = clabels[0] if (len(clabels) == 1 or m["ipxe"]) else clabels[1]
                by_xid.setdefault(m["xid"], current)
            m["program"] = by_xid.get(m["xid"], current) if m["proto"] == "dhcp" else current
        for role in ("client", "server"):
            label, variant, keep = ph["roles"][role]
            for program in clabels:
                mine = [m for m in msgs if m["role"] == role and m["kind"] in keep
                        and m["program"] == program]
                wanted = {k: pick([m["block"] for m in mine if m["kind"] == k], k)
                          for k in ("data", "ack")}
                lab = program if role == "client" else label
                var = ("-" + program) if variant == "@" else variant
                for m in mine:
                    if m["kind"] in wanted and m["block"] not in wanted[m["kind"]]:
                        continue
                    rel = f"{m['proto']}/{lab}-{m['what']}{var}.bin"
                    if rel in out:
                        if out[rel]["phase"] != ph["name"]:
                            sys.exit(f"extract: {rel} produced by two phases")
                        continue  # retransmission: keep the first
                    out[rel] = dict(phase=ph["name"], pcap=pcap, frame=m["frame"], label=lab,
                                    proto=m["proto"], what=m["what"], payload=m["payload"],
                                    raw_kind=m["kind"], block=m.get("block"))
    return phases, out


def opt_list(row, field):
    v = row.get(field, "")
    return v.split(AGG) if v else []


def manifest_fields(rec, row):
    """name=value pairs from tshark's decoding of one frame."""
    f = []
    if rec["proto"] == "dhcp":
        msg = row["dhcp.option.dhcp"]
        f.append(("message_type", msg))
        f.append(("xid", row["dhcp.id"]))
        f.append(("chaddr", row["dhcp.hw.mac_addr"]))
        f.append(("flags", row["dhcp.flags"]))
        for name, key in (("ciaddr", "dhcp.ip.client"), ("yiaddr", "dhcp.ip.your"),
                          ("siaddr", "dhcp.ip.server"), ("giaddr", "dhcp.ip.relay")):
            f.append((name, row[key]))
        if row["dhcp.file"]:
            f.append(("file", row["dhcp.file"]))
        codes = opt_list(row, "dhcp.option.type")
        # tshark 4.0 reports the End option's dhcp.option.type as 0; dhcp.option.end says 255.
        if row["dhcp.option.end"] == "255":
            assert codes and codes[-1] in ("0", "255"), row
            codes[-1] = "255"
        f.append(("options", ",".join(codes)))
        # dhcp.option.value / .length have one entry per option with a length byte.
        values = opt_list(row, "dhcp.option.value")
        lengths = opt_list(row, "dhcp.option.length")
        with_len = [c for c in codes if c not in ("0", "255")]
        assert len(with_len) == len(values) == len(lengths), row
        for v, n in zip(values, lengths):
            assert len(hexbytes(v)) == int(n), row
        byopt = dict(zip(with_len, values))
        if row["dhcp.option.request_list_item"]:
            f.append(("opt55", ",".join(opt_list(row, "dhcp.option.request_list_item"))))
        if row["dhcp.option.dhcp_max_message_size"]:
            f.append(("opt57", row["dhcp.option.dhcp_max_message_size"]))
        if row["dhcp.option.vendor_class_id"]:
            f.append(("opt60", row["dhcp.option.vendor_class_id"]))
        if row["dhcp.option.client_system_architecture"]:
            f.append(("opt93", "0x%04x" % int(row["dhcp.option.client_system_architecture"], 0)))
        for code in ("12", "50", "54", "61", "77", "97"):
            if code in byopt:
                raw = hexbytes(byopt[code])
                if code in ("12", "77") and all(32 <= b < 127 for b in raw):
                    f.append(("opt" + code, raw.decode()))
                elif code in ("50", "54") and len(raw) == 4:
                    f.append(("opt" + code, ".".join(str(b) for b in raw)))
                else:
                    f.append(("opt" + code, "0x" + raw.hex()))
        for code in ("1", "3", "6", "51", "66", "67", "43", "175"):
            if code in byopt:
                f.append(("opt" + code, "0x" + hexbytes(byopt[code]).hex()))
    else:
        op = row["tftp.opcode"]
        f.append(("opcode", op))
        if row["tftp.source_file"]:
            f.append(("filename", row["tftp.source_file"]))
        if row["tftp.type"]:
            f.append(("mode", row["tftp.type"]))
        names = opt_list(row, "tftp.option.name")
        vals = opt_list(row, "tftp.option.value")
        if names or op in ("1", "2", "6"):
            f.append(("options", ",".join(names)))
            for n, v in zip(names, vals):
                f.append(("opt_" + n, v))
        if row["tftp.block"]:
            f.append(("block", row["tftp.block"]))
        if op == "3":
            f.append(("payload_len", str(int(row["udp.length"]) - 8 - 4)))
        if row["tftp.error.code"]:
            f.append(("error_code", row["tftp.error.code"]))
            f.append(("error_message", row["tftp.error.message"]))
    f.append(("udp_len", str(int(row["udp.length"]) - 8)))
    return f


MANIFEST_FIELDS = [
    "frame.number", "udp.length", "udp.srcport", "udp.dstport",
    "dhcp.option.dhcp", "dhcp.id", "dhcp.hw.mac_addr", "dhcp.flags", "dhcp.ip.client",
    "dhcp.ip.your", "dhcp.ip.server", "dhcp.ip.relay", "dhcp.file", "dhcp.option.type",
    "dhcp.option.value", "dhcp.option.length", "dhcp.option.end", "dhcp.option.request_list_item", "dhcp.option.dhcp_max_message_size",
    "dhcp.option.vendor_class_id", "dhcp.option.client_system_architecture",
    "tftp.opcode", "tftp.source_file", "tftp.type", "tftp.option.name", "tftp.option.value",
    "tftp.block", "tftp.error.code", "tftp.error.message",
]


def decode_all(out):
    """tshark decoding of every kept frame, keyed by relative path."""
    by_pcap = {}
    for rel, rec in out.items():
        by_pcap.setdefault(rec["pcap"], []).append(rel)
    decoded = {}
    for pcap, rels in by_pcap.items():
        rows = {int(r["frame.number"]): r for r in tshark(pcap, MANIFEST_FIELDS)}
        # TFTP transfers use ephemeral ports; tell tshark about any it did not follow.
        missing = [rel for rel in rels if out[rel]["proto"] == "tftp"
                   and not rows[out[rel]["frame"]]["tftp.opcode"]]
        if missing:
            ports = sorted({rows[out[rel]["frame"]]["udp.srcport"] for rel in missing})
            cmd_extra = []
            for p in ports:
                cmd_extra += ["-d", f"udp.port=={p},tftp"]
            rows2 = tshark_decode_as(pcap, MANIFEST_FIELDS, cmd_extra)
            for rel in missing:
                rows[out[rel]["frame"]] = rows2[out[rel]["frame"]]
        for rel in rels:
            decoded[rel] = rows[out[rel]["frame"]]
    return decoded


def tshark_decode_as(pcap, fields, extra):
    cmd = ["tshark", "-r", pcap, "-n", "-Y", "udp", "-T", "fields", "-E", "separator=/t",
           "-E", "occurrence=a", "-E", "aggregator=" + AGG] + extra
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in res.splitlines():
        parts = line.split("\t")
        parts += [""] * (len(fields) - len(parts))
        r = single(dict(zip(fields, parts)))
        rows[int(r["frame.number"])] = r
    return rows


def check(rel, rec, row):
    """The name (from raw bytes) must agree with tshark's decoding."""
    if rec["proto"] == "dhcp":
        want = [k for k, v in DHCP_TYPES.items() if v == rec["what"]]
        assert row["dhcp.option.dhcp"] and int(row["dhcp.option.dhcp"]) in want, (rel, row)
    else:
        op = [k for k, v in TFTP_OPS.items() if v == rec["raw_kind"]][0]
        assert row["tftp.opcode"] and int(row["tftp.opcode"]) == op, (rel, row)
        if rec["block"] is not None:
            assert int(row["tftp.block"]) == rec["block"], (rel, row)


def summary(rec, fields):
    d = dict(fields)
    parts = []
    if rec["proto"] == "dhcp":
        parts.append(f"xid {d['xid']}, chaddr {d['chaddr']}")
        if d.get("flags") not in (None, "0x0000"):
            parts.append(f"flags {d['flags']}")
        if d.get("yiaddr") not in (None, "0.0.0.0"):
            parts.append(f"yiaddr {d['yiaddr']}")
        if d.get("giaddr") not in (None, "0.0.0.0"):
            parts.append(f"giaddr {d['giaddr']}")
        if "file" in d:
            parts.append(f"file {d['file']}")
        parts.append(f"options {d['options']}")
        for code, label in (("opt93", "option 93"), ("opt60", "vendor class (60)"),
                            ("opt77", "user class (77)"), ("opt57", "max message size (57)"),
                            ("opt50", "requested IP (50)"), ("opt54", "server id (54)"),
                            ("opt12", "host name (12)")):
            if code in d:
                parts.append(f"{label} {d[code]}")
        if "opt175" in d:
            parts.append("iPXE encapsulated options (175)")
    else:
        if "filename" in d:
            parts.append(f"file {d['filename']}, mode {d.get('mode', '')}")
        if "options" in d:
            opts = [f"{n}={d.get('opt_' + n, '')}" for n in d["options"].split(",") if n]
            parts.append("options " + (" ".join(opts) if opts else "none"))
        if "block" in d:
            parts.append(f"block {d['block']}")
        if "payload_len" in d:
            parts.append(f"{d['payload_len']} data bytes")
        if "error_code" in d:
            parts.append(f"error {d['error_code']} \"{d['error_message']}\"")
    parts.append(f"{d['udp_len']} bytes")
    return "; ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--client-ip", required=True)
    ap.add_argument("--server-ip", required=True)
    args = ap.parse_args()

    phases, out = extract(args)
    decoded = decode_all(out)
    versions = {}
    with open(os.path.join(args.work, "versions.tsv")) as f:
        for line in f:
            k, v = line.rstrip("\n").split("\t", 1)
            versions[k] = v
    accel = open(os.path.join(args.work, "accel")).read().strip()

    # Rewrite the vector directories completely.
    for sub in ("dhcp", "tftp", "pcap"):
        d = os.path.join(args.out, sub)
        if os.path.isdir(d):
            for name in os.listdir(d):
                if name.endswith((".bin", ".pcapng")):
                    os.unlink(os.path.join(d, name))
        os.makedirs(d, exist_ok=True)
    rows = []
    for rel in sorted(out):
        rec = out[rel]
        row = decoded[rel]
        check(rel, rec, row)
        with open(os.path.join(args.out, rel), "wb") as f:
            f.write(rec["payload"])
        fields = manifest_fields(rec, row)
        for k, v in fields:
            assert "\t" not in v and ";" not in v and "\n" not in v, (rel, k, v)
        rows.append((rel, rec, fields))

    with open(os.path.join(args.out, "MANIFEST.tsv"), "w") as f:
        f.write("file\tprotocol\tsource\tmessage\tfields\n")
        for rel, rec, fields in rows:
            f.write("\t".join([rel, rec["proto"], rec["label"], rec["what"],
                               ";".join(f"{k}={v}" for k, v in fields)]) + "\n")

    # Small enough? Keep the captures next to the vectors.
    pcaps = sorted(os.path.join(args.work, ph["name"] + ".pcapng") for ph in phases)
    pcaps = [p for p in pcaps if os.path.exists(p)]
    total = sum(os.path.getsize(p) for p in pcaps)
    kept_pcaps = total < 200 * 1024
    if kept_pcaps:
        for p in pcaps:
            dst = os.path.join(args.out, "pcap", os.path.basename(p))
            shutil.copyfile(p, dst)
            os.chmod(dst, 0o644)
    else:
        os.rmdir(os.path.join(args.out, "pcap")) if not os.listdir(os.path.join(args.out, "pcap")) else None

    missing = [e for e in EXPECTED if e not in out]
    write_readme(args, rows, versions, accel, missing, kept_pcaps, total)
    for rel, rec, _ in rows:
        print(f"{rel}\t{len(rec['payload'])}")
    if missing:
        print("NOT CAPTURED: " + " ".join(missing), file=sys.stderr)


def write_readme(args, rows, versions, accel, missing, kept_pcaps, total):
    def ver(label):
        return ", ".join(f"{p} {versions.get(p, '?')}" for p in PACKAGES.get(label, []))

    L = []
    L.append("# Test vectors captured from real DHCP and TFTP programs")
    L.append("")
    L.append("Every `.bin` file here is the UDP payload of one datagram that a real client or server")
    L.append("sent, captured with tshark. Nothing is hand-made. This file, `MANIFEST.tsv`, `dhcp/`,")
    L.append("`tftp/` and `pcap/` are generated by `capture.sh` (with `extract.py`); do not edit them")
    L.append("by hand, rerun the script:")
    L.append("")
    L.append("    sudo tests/data/capture.sh")
    L.append("")
    L.append("It needs root and the packages listed below (atftpd is unpacked privately with")
    L.append("`apt-get download atftpd && dpkg -x`, never installed, as it conflicts with tftpd-hpa).")
    L.append("It rewrites `dhcp/`, `tftp/`, `pcap/`, `MANIFEST.tsv` and this README completely; xids,")
    L.append("ports and leases change from run to run, everything else should be stable.")
    L.append("")
    L.append("## Capture network")
    L.append("")
    L.append("Two network namespaces created by the script and deleted on exit (also on failure);")
    L.append("no traffic leaves them. Addresses from the benchmarking range 198.18.0.0/15:")
    L.append("")
    L.append("- servers' namespace: bridge `br0` 198.18.0.1/24 with ports `veth0` and `tap0`;")
    L.append("  dnsmasq (DHCP range 198.18.0.100-200, TFTP), later in.tftpd, later atftpd, all on")
    L.append("  198.18.0.1:69; QEMU runs here with its NIC on `tap0`;")
    L.append("- clients' namespace: `veth1` (peer of `veth0`), no address for udhcpc and dhclient,")
    L.append("  198.18.0.2/24 from perfdhcp on. Each DHCP client gets its own fixed MAC")
    L.append("  (02:00:c6:12:00:11 udhcpc, :12 dhclient, :13 perfdhcp base; QEMU guests")
    L.append("  52:54:00:c6:12:21 BIOS, :22 UEFI).")
    L.append(f"- QEMU accelerator in the run that made these files: `{accel}` (the default;")
    L.append("  `ACCEL=kvm` to try KVM; the packets do not depend on it).")
    L.append("")
    L.append("tshark listens on `br0` separately for every step (\"phase\"); the files keep the")
    L.append("first occurrence of each message (retransmissions dropped) and, of DATA and ACK, only")
    L.append("the first, a middle and the last block of each transfer.")
    if kept_pcaps:
        L.append(f"The phase captures are in `pcap/` ({total // 1024} KiB in all).")
    else:
        L.append(f"The phase captures ({total // 1024} KiB) were too large to commit.")
    L.append("")
    L.append("TFTP root: generated files `empty.bin` (0 bytes), `one.bin` (1), `small.bin` (700),")
    L.append("`medium.bin` (3000), `large.bin` (30000), byte i = (7i + 13(i>>8) + 1) mod 256;")
    L.append("`pxelinux.0` is 3 bytes `f4 eb fd` (hlt; jmp back) so the BIOS guest runs something")
    L.append("harmless. dnsmasq gives UEFI clients (option 93 = 7) the boot file `bootx64.efi`,")
    L.append("which does not exist (this yields its TFTP ERROR).")
    L.append("")
    L.append("## Versions")
    L.append("")
    for k, v in versions.items():
        L.append(f"- {k} {v}")
    L.append("")
    L.append("## MANIFEST.tsv")
    L.append("")
    L.append("Columns: `file`, `protocol` (dhcp/tftp), `source` (program label), `message`, `fields`.")
    L.append("`fields` are `name=value` pairs separated by `;`, decoded by tshark's own dissectors")
    L.append("(`dhcp.*`, `tftp.*`), not by Rackboot; the script checks that tshark's message type,")
    L.append("opcode and block number agree with the file name. DHCP: `message_type` (option 53),")
    L.append("`xid`, `chaddr`, `flags`, `ciaddr`/`yiaddr`/`siaddr`/`giaddr`, `file`, `options`")
    L.append("(codes in packet order, ending with 255 End; zero padding after End is not listed),")
    L.append("`opt55` (parameter request list), `opt57`, `opt60`, `opt93`, and `optN` values")
    L.append("(text, address or 0x-hex) for 12, 50, 54, 61, 77, 97, 1, 3, 6, 51, 66, 67, 43, 175 when")
    L.append("present. TFTP: `opcode`, `filename`, `mode`, `options` (names in packet order) and")
    L.append("`opt_<name>` values, `block`, `payload_len` (DATA), `error_code`, `error_message`.")
    L.append("`udp_len` is the payload (= file) length.")
    L.append("")
    L.append("## Files")
    L.append("")
    L.append("Each line: file, program (package versions), message, (phase = `pcap/<phase>.pcapng`),")
    L.append("notable fields as decoded by tshark, payload length.")
    L.append("")
    for rel, rec, fields in rows:
        prog = PROGRAMS.get(rec["label"], rec["label"])
        L.append(f"- `{rel}`: {prog} ({ver(rec['label'])}), {rec['what'].upper() if rec['proto'] == 'dhcp' else rec['what']}"
                 f" ({rec['phase']}): {summary(rec, fields)}")
    L.append("")
    L.append("## Observations from the capture runs")
    L.append("")
    L.append("- xids, leases (yiaddr), ephemeral TFTP ports and dnsmasq's error text (it names the")
    L.append("  absolute path of the scratch TFTP root) change from run to run; the rest is stable.")
    L.append("- dhclient sends the host's name as option 12 (`vm` on the capture machine).")
    L.append("- dnsmasq pings an address before offering it, so its OFFER comes about 3 s after the")
    L.append("  DISCOVER (the clients retransmit meanwhile; only the first copy is kept).")
    L.append("- perfdhcp acts as a relay: its DISCOVER/REQUEST carry giaddr 198.18.0.2 and xid 0,")
    L.append("  and dnsmasq answers unicast to 198.18.0.2:67 (`dnsmasq-*-perfdhcp.bin`).")
    L.append("- Under OVMF the iPXE EFI driver from the NIC ROM boots first (options 77 \"iPXE\" and")
    L.append("  175, UNDI 003010); when its TFTP fails, OVMF's own PXE client (EDK2 UefiPxeBcDxe over")
    L.append("  iPXE's SNP: no 77/175, UNDI 003001, broadcast flag, RRQ with windowsize=4) tries the")
    L.append("  same boot file. Both are kept: `ipxe-uefi-*` and `edk2-uefi-*`.")
    L.append("- curl 7.88 does not acknowledge the OACK of an empty file (tsize=0) and fails with")
    L.append("  \"getpeername() failed\"; the empty DATA block comes from a tftp-hpa transfer instead.")
    L.append("- On the machine that made these files /dev/kvm existed but OVMF died with \"KVM")
    L.append("  internal error\", so QEMU uses software emulation (`tcg`) unless ACCEL=kvm is given;")
    L.append("  each guest reaches DHCP within about 10 s under tcg.")
    L.append("")
    L.append("## Not captured")
    L.append("")
    if not missing:
        L.append("Everything the capture plan asked for was captured in this run.")
    else:
        for m in missing:
            L.append(f"- `{m}`")
        serial = os.path.join(args.work, "ipxe-uefi.serial.log")
        if any("ipxe-uefi" in m for m in missing) and os.path.exists(serial):
            L.append("")
            L.append("Last lines of the UEFI guest's serial console:")
            L.append("")
            with open(serial, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            for line in [l for l in text.replace("\r", "\n").split("\n") if l.strip()][-15:]:
                L.append("    " + "".join(c for c in line if c.isprintable()))
    L.append("")
    L.append(f"Generated {datetime.date.today().isoformat()}.")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
