#!/usr/bin/env python3
"""A small DHCP client for tests: what busybox udhcpc and dhclient cannot do.

Plain UDP sockets and struct; run it inside a network namespace.

  dhcp_client.py send     send one DISCOVER/REQUEST/RELEASE/INFORM with chosen fields, print every
                          reply that arrives within --wait seconds as one JSON line
  dhcp_client.py dora     DISCOVER, REQUEST the first OFFER (optionally from --server-id only), print
                          every reply (OFFERs and the ACK/NAK) as JSON lines
  dhcp_client.py load     many distinct clients (MACs), DORA each; appends "mac ip" of every ACK to
                          --acks (flushed after each); bounded by --count and --duration
  dhcp_client.py verify   INIT-REBOOT (option 50, no server id, no ciaddr) for every "mac ip" line of
                          --acks; prints counts as JSON; exit 1 unless every one got an ACK with its ip
  dhcp_client.py journal  decode <state_dir>/leases.journal, one JSON line per record

Replies are collected on --listen-port (68; 67 when acting as a relay with --giaddr).
"""
import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"
TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
         7: "RELEASE", 8: "INFORM"}
TYPE_NUM = {v: k for k, v in TYPES.items()}


def mac_bytes(mac):
    b = bytes(int(x, 16) for x in mac.replace("-", ":").split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC " + mac)
    return b


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def ip_bytes(ip):
    return socket.inet_aton(ip)


def ip_str(b):
    return socket.inet_ntoa(b)


def build(msg_type, mac, xid, flags=0x8000, ciaddr="0.0.0.0", giaddr="0.0.0.0", hops=0,
          requested=None, server_id=None, vendor=None, arch=None, user_class=None, uuid=None,
          client_id=None, opt82=None, params=None):
    chaddr = mac_bytes(mac) + b"\x00" * 10
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, hops, xid, 0, flags,
                       ip_bytes(ciaddr), b"\x00" * 4, b"\x00" * 4, ip_bytes(giaddr), chaddr,
                       b"", b"")
    opts = bytearray()

    def opt(code, data):
        opts.extend(bytes([code, len(data)]) + data)

    opt(53, bytes([msg_type]))
    if client_id is not None:
        opt(61, bytes.fromhex(client_id))
    if requested:
        opt(50, ip_bytes(requested))
    if server_id:
        opt(54, ip_bytes(server_id))
    if msg_type in (1, 3, 8):
        opt(55, bytes(params or [1, 3, 6, 15, 28, 51, 54, 58, 59, 66, 67, 43, 60, 97]))
        opt(57, struct.pack("!H", 1500))
    if vendor is not None:
        opt(60, vendor.encode())
    if arch is not None:
        opt(93, struct.pack("!H", arch))
        opt(94, bytes([1, 2, 1]))  # client NDI: UNDI 2.1
    if uuid is not None:
        opt(97, b"\x00" + uuid)
    if user_class is not None:
        opt(77, user_class.encode())
    if opt82 is not None:  # a relay appends option 82 last (RFC 3046 2.1)
        opt(82, bytes.fromhex(opt82))
    opts.append(255)
    return head + MAGIC + bytes(opts)


def parse_options(data):
    opts = {}
    i = 0
    overload = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        if i + 1 >= len(data):
            break
        n = data[i + 1]
        val = data[i + 2:i + 2 + n]
        opts[code] = opts.get(code, b"") + val  # RFC 3396 concatenation
        i += 2 + n
    return opts


def decode(pkt, src):
    if len(pkt) < 240 or pkt[236:240] != MAGIC:
        return {"src": src[0], "sport": src[1], "malformed": True, "len": len(pkt)}
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
     bootfile) = struct.unpack("!BBBBIHH4s4s4s4s16s64s128s", pkt[:236])
    o = parse_options(pkt[240:])
    if 52 in o and o[52]:
        ov = o[52][0]
        if ov & 1:
            o.update({k: v for k, v in parse_options(bootfile).items() if k not in o})
        if ov & 2:
            o.update({k: v for k, v in parse_options(sname).items() if k not in o})
    r = {
        "src": src[0], "sport": src[1], "op": op, "xid": xid, "flags": flags,
        "type": TYPES.get(o.get(53, b"\x00")[0], "NONE"),
        "chaddr": mac_str(chaddr[:6]), "ciaddr": ip_str(ciaddr), "yiaddr": ip_str(yiaddr),
        "siaddr": ip_str(siaddr), "giaddr": ip_str(giaddr),
        "sname": sname.split(b"\x00")[0].decode("latin-1"),
        "file": bootfile.split(b"\x00")[0].decode("latin-1"),
        "options": sorted(o.keys()),
    }
    def ips(b):
        return [ip_str(b[j:j + 4]) for j in range(0, len(b) - len(b) % 4, 4)]
    for code, key in ((1, "subnet"), (28, "broadcast"), (54, "server_id")):
        if code in o and len(o[code]) == 4:
            r[key] = ip_str(o[code])
    for code, key in ((3, "router"), (6, "dns")):
        if code in o:
            r[key] = ips(o[code])
    for code, key in ((51, "lease"), (58, "t1"), (59, "t2")):
        if code in o and len(o[code]) == 4:
            r[key] = struct.unpack("!I", o[code])[0]
    for code, key in ((15, "domain"), (60, "vendor"), (66, "tftp_server"), (67, "bootfile"),
                      (56, "message")):
        if code in o:
            r[key] = o[code].decode("latin-1")
    for code, key in ((43, "opt43"), (82, "opt82"), (97, "opt97"), (61, "opt61")):
        if code in o:
            r[key] = o[code].hex()
    return r


def open_socket(args, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if args.iface:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.iface.encode())
    s.bind((args.bind, port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def listen_port(args):
    if args.listen_port:
        return args.listen_port
    return 67 if args.giaddr != "0.0.0.0" else 68


def common_fields(args):
    return dict(flags=0 if args.no_broadcast else 0x8000, giaddr=args.giaddr,
                hops=1 if args.giaddr != "0.0.0.0" else 0, vendor=args.vendor, arch=args.arch,
                user_class=args.user_class,
                uuid=(bytes(range(16)) if args.uuid else None), client_id=args.client_id,
                opt82=args.opt82)


def emit(r):
    sys.stdout.write(json.dumps(r, sort_keys=True) + "\n")
    sys.stdout.flush()


def collect(s, xid, until, want=None):
    """Prints every reply with our xid until `until`; returns them. Stops early when `want`
    (a predicate) matches one."""
    got = []
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return got
        ready, _, _ = select.select([s], [], [], left)
        if not ready:
            return got
        pkt, src = s.recvfrom(4096)
        r = decode(pkt, src)
        if r.get("xid") != xid:
            continue
        emit(r)
        got.append(r)
        if want and want(r):
            return got


def cmd_send(args):
    s = open_socket(args, listen_port(args))
    xid = args.xid if args.xid is not None else random.getrandbits(32)
    pkt = build(TYPE_NUM[args.type.upper()], args.mac, xid, ciaddr=args.ciaddr,
                requested=args.requested, server_id=args.server_id, **common_fields(args))
    if args.source_port:
        src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        src.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.iface:
            src.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.iface.encode())
        src.bind((args.bind, args.source_port))
        src.sendto(pkt, (args.server, args.port))
        # Replies to a proxyDHCP REQUEST come back to the port it was sent from.
        s2 = src
    else:
        s.sendto(pkt, (args.server, args.port))
        s2 = None
    until = time.monotonic() + args.wait
    got = []
    if s2 is None:
        got = collect(s, xid, until)
    else:
        while time.monotonic() < until:
            ready, _, _ = select.select([s, s2], [], [], max(0, until - time.monotonic()))
            for sock in ready:
                pkt, src_addr = sock.recvfrom(4096)
                r = decode(pkt, src_addr)
                if r.get("xid") == xid:
                    emit(r)
                    got.append(r)
    return 0


def cmd_dora(args):
    s = open_socket(args, listen_port(args))
    xid = args.xid if args.xid is not None else random.getrandbits(32)
    f = common_fields(args)
    deadline = time.monotonic() + args.wait
    offer = None
    for attempt in range(3):
        s.sendto(build(1, args.mac, xid, requested=args.requested, **f), (args.server, args.port))
        offers = collect(s, xid, min(deadline, time.monotonic() + args.offer_wait))
        offers = [r for r in offers if r["type"] == "OFFER" and
                  (not args.server_id or r.get("server_id") == args.server_id)]
        if offers:
            offer = offers[0]
            break
        if time.monotonic() >= deadline:
            break
    if offer is None:
        return 3
    s.sendto(build(3, args.mac, xid, requested=offer["yiaddr"],
                   server_id=offer.get("server_id"), **f), (args.server, args.port))
    got = collect(s, xid, deadline, want=lambda r: r["type"] in ("ACK", "NAK"))
    return 0 if any(r["type"] == "ACK" for r in got) else 4


def load_macs(base, count):
    b = mac_bytes(base)
    n = int.from_bytes(b, "big")
    return [mac_str((n + i).to_bytes(6, "big")) for i in range(count)]


def cmd_load(args):
    """Many clients from one socket. Each: DISCOVER -> OFFER -> REQUEST -> ACK, with retries."""
    s = open_socket(args, listen_port(args))
    s.setblocking(False)
    macs = load_macs(args.mac, args.count)
    acks = open(args.acks, "a")
    pending = list(reversed(macs))
    active = {}  # xid -> [mac, stage, sent_at, tries, offer_ip, server_id]
    stats = {"clients": len(macs), "acks": 0, "naks": 0, "offers": 0, "gave_up": 0,
             "sent": 0, "duplicate_ip": 0}
    ip_owner = {}
    start = time.monotonic()
    end = start + args.duration
    f = common_fields(args)

    def send(xid, st):
        mac, stage = st[0], st[1]
        if stage == 1:
            pkt = build(1, mac, xid, **f)
        else:
            pkt = build(3, mac, xid, requested=st[4], server_id=st[5], **f)
        try:
            s.sendto(pkt, (args.server, args.port))
            stats["sent"] += 1
        except BlockingIOError:
            pass
        st[2] = time.monotonic()

    while time.monotonic() < end and (pending or active):
        while pending and len(active) < args.window:
            xid = random.getrandbits(32)
            while xid in active:
                xid = random.getrandbits(32)
            st = [pending.pop(), 1, 0.0, 0, None, None]
            active[xid] = st
            send(xid, st)
        ready, _, _ = select.select([s], [], [], 0.05)
        if ready:
            while True:
                try:
                    pkt, src = s.recvfrom(4096)
                except BlockingIOError:
                    break
                r = decode(pkt, src)
                st = active.get(r.get("xid"))
                if st is None or r["chaddr"] != st[0]:
                    continue
                if r["type"] == "OFFER" and st[1] == 1:
                    stats["offers"] += 1
                    st[1], st[3], st[4], st[5] = 3, 0, r["yiaddr"], r.get("server_id")
                    send(r["xid"], st)
                elif r["type"] == "ACK" and st[1] == 3:
                    stats["acks"] += 1
                    acks.write("%s %s\n" % (st[0], r["yiaddr"]))
                    acks.flush()
                    owner = ip_owner.setdefault(r["yiaddr"], st[0])
                    if owner != st[0]:
                        stats["duplicate_ip"] += 1
                    del active[r["xid"]]
                elif r["type"] == "NAK" and st[1] == 3:
                    stats["naks"] += 1
                    del active[r["xid"]]
        now = time.monotonic()
        for xid, st in list(active.items()):
            if now - st[2] > args.retry:
                st[3] += 1
                if st[3] > args.tries:
                    stats["gave_up"] += 1
                    del active[xid]
                else:
                    send(xid, st)
    stats["unfinished"] = len(active) + len(pending)
    stats["seconds"] = round(time.monotonic() - start, 3)
    acks.close()
    emit(stats)
    return 0


def cmd_verify(args):
    """INIT-REBOOT for every acknowledged (mac, ip): it must be ACKed with that ip."""
    pairs = []
    with open(args.acks) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2:
                pairs.append((parts[0], parts[1]))
    s = open_socket(args, listen_port(args))
    s.setblocking(False)
    f = common_fields(args)
    pending = list(reversed(pairs))
    active = {}  # xid -> [mac, ip, sent_at, tries]
    result = {"checked": len(pairs), "ack_same_ip": 0, "ack_other_ip": 0, "nak": 0,
              "no_reply": 0}
    bad = []
    end = time.monotonic() + args.duration

    def send(xid, st):
        try:
            s.sendto(build(3, st[0], xid, requested=st[1], **f), (args.server, args.port))
        except BlockingIOError:
            pass
        st[2] = time.monotonic()

    while time.monotonic() < end and (pending or active):
        while pending and len(active) < args.window:
            xid = random.getrandbits(32)
            mac, ip = pending.pop()
            active[xid] = [mac, ip, 0.0, 0]
            send(xid, active[xid])
        ready, _, _ = select.select([s], [], [], 0.05)
        if ready:
            while True:
                try:
                    pkt, src = s.recvfrom(4096)
                except BlockingIOError:
                    break
                r = decode(pkt, src)
                st = active.pop(r.get("xid"), None)
                if st is None:
                    continue
                if r["type"] == "ACK" and r["yiaddr"] == st[1]:
                    result["ack_same_ip"] += 1
                elif r["type"] == "ACK":
                    result["ack_other_ip"] += 1
                    bad.append({"mac": st[0], "ip": st[1], "got": r["yiaddr"]})
                else:
                    result["nak"] += 1
                    bad.append({"mac": st[0], "ip": st[1], "got": r["type"],
                                "message": r.get("message", "")})
        now = time.monotonic()
        for xid, st in list(active.items()):
            if now - st[2] > args.retry:
                st[3] += 1
                if st[3] > args.tries:
                    result["no_reply"] += 1
                    bad.append({"mac": st[0], "ip": st[1], "got": "nothing"})
                    del active[xid]
                else:
                    send(xid, st)
    result["no_reply"] += len(active) + len(pending)
    result["bad_examples"] = bad[:10]
    emit(result)
    ok = result["ack_same_ip"] == len(pairs)
    return 0 if ok else 1


STATES = {0: "free", 1: "offered", 2: "bound", 3: "released", 4: "declined"}


def cmd_journal(args):
    with open(args.path, "rb") as fh:
        data = fh.read()
    i = 0
    while i + 12 <= len(data):
        magic, length, crc = struct.unpack_from("<III", data, i)
        if magic != 0x4A4C4252 or i + 12 + length > len(data):
            emit({"damaged_at": i})
            break
        p = data[i + 12:i + 12 + length]
        version = p[0]
        addr = struct.pack("!I", struct.unpack_from("<I", p, 1)[0])
        state, kind, size = p[5], p[6], p[7]
        client = p[8:8 + size]
        mac = p[8 + size:14 + size]
        expires = struct.unpack_from("<q", p, 14 + size)[0]
        emit({"offset": i, "version": version, "address": ip_str(addr),
              "state": STATES.get(state, state), "client_kind": kind, "client": client.hex(),
              "mac": mac_str(mac), "expires_us": expires})
        i += 12 + length
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["send", "dora", "load", "verify", "journal"])
    ap.add_argument("--iface", help="SO_BINDTODEVICE")
    ap.add_argument("--bind", default="", help="local address to bind (default any)")
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--source-port", type=int, default=0,
                    help="send from this port on a second socket (proxyDHCP REQUEST to 4011)")
    ap.add_argument("--server", default="255.255.255.255")
    ap.add_argument("--port", type=int, default=67)
    ap.add_argument("--type", default="DISCOVER")
    ap.add_argument("--mac", default="02:00:c6:12:00:01")
    ap.add_argument("--xid", type=lambda x: int(x, 0))
    ap.add_argument("--ciaddr", default="0.0.0.0")
    ap.add_argument("--giaddr", default="0.0.0.0")
    ap.add_argument("--requested", help="option 50")
    ap.add_argument("--server-id", help="option 54")
    ap.add_argument("--vendor", help="option 60, e.g. PXEClient:Arch:00000:UNDI:002001")
    ap.add_argument("--arch", type=int, help="option 93")
    ap.add_argument("--user-class", help="option 77, e.g. iPXE")
    ap.add_argument("--uuid", action="store_true", help="option 97")
    ap.add_argument("--client-id", help="option 61, hex")
    ap.add_argument("--opt82", help="option 82, hex (relay agent information)")
    ap.add_argument("--no-broadcast", action="store_true", help="clear the broadcast flag")
    ap.add_argument("--wait", type=float, default=3.0, help="seconds to collect replies")
    ap.add_argument("--offer-wait", type=float, default=1.5)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--retry", type=float, default=1.0)
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--acks", help="load: file to append 'mac ip' ACKs to; verify: file to read")
    ap.add_argument("--path", help="journal: the leases.journal file")
    args = ap.parse_args()
    return {"send": cmd_send, "dora": cmd_dora, "load": cmd_load, "verify": cmd_verify,
            "journal": cmd_journal}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
