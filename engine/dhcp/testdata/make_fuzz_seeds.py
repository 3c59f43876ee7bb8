#!/usr/bin/env python3
"""Writes the seed inputs of //engine/dhcp:dhcp_server_fuzzer and :lease_journal_fuzzer.

Run from the workspace root: python3 engine/dhcp/testdata/make_fuzz_seeds.py
The captured client datagrams in tests/data/dhcp are seeds of the server fuzzer as well; these add
what no capture has: relayed, INIT-REBOOT, RENEWING, DECLINE, RELEASE and INFORM requests, and
client identifiers for the inventory MACs. Journal seeds follow engine/dhcp/lease_journal.h.
"""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "..", "..", "..", "tests", "dhcp"))
import dhcp_client as dc  # noqa: E402  (build() makes the DHCP requests)

ARMED = "52:54:00:c6:12:21"  # the fuzzer's inventory (and the captured iPXE BIOS guest)
LOCAL = "52:54:00:c6:12:22"
OTHER = "02:00:c6:12:00:31"
PXE = "PXEClient:Arch:00000:UNDI:002001"


def server_seeds():
    out = os.path.join(ROOT, "dhcp_server_fuzzer")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "discover-armed-clientid": dc.build(1, ARMED, 1, vendor=PXE, arch=0,
                                            client_id="00" + "11" * 16),
        "discover-armed-ipxe": dc.build(1, ARMED, 2, vendor=PXE, arch=0, user_class="iPXE",
                                        client_id="01525400c61221"),
        "discover-local": dc.build(1, LOCAL, 3, vendor=PXE, arch=7),
        "discover-relayed": dc.build(1, OTHER, 4, giaddr="198.19.7.1", hops=1,
                                     opt82="0104706f72740202abcd"),
        "discover-unknown-pxe": dc.build(1, OTHER, 5, vendor="PXEClient:\n\tx", arch=0),
        "request-init-reboot-reserved": dc.build(3, ARMED, 6, requested="198.18.0.21",
                                                 client_id="01aabbcc"),
        "request-init-reboot-other": dc.build(3, OTHER, 7, requested="198.18.0.21"),
        "request-selecting": dc.build(3, OTHER, 8, requested="198.18.0.100",
                                      server_id="198.18.0.1"),
        "request-another-server": dc.build(3, OTHER, 9, requested="198.18.0.100",
                                           server_id="198.18.0.9"),
        "request-renewing": dc.build(3, LOCAL, 10, ciaddr="198.18.0.22", flags=0),
        "decline": dc.build(4, OTHER, 11, requested="198.18.0.100", server_id="198.18.0.1"),
        "release": dc.build(7, LOCAL, 12, ciaddr="198.18.0.22", server_id="198.18.0.1"),
        "inform": dc.build(8, OTHER, 13, ciaddr="198.18.0.77"),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def record(address, state, kind, client, mac, expires_us):
    a = struct.unpack("!I", bytes(int(x) for x in address.split(".")))[0]
    payload = (bytes([1]) + struct.pack("<I", a) + bytes([state, kind, len(client)]) + client +
               dc.mac_bytes(mac) + struct.pack("<q", expires_us))
    length = struct.pack("<I", len(payload))
    return struct.pack("<I", 0x4A4C4252) + length + struct.pack("<I", crc32c(length + payload)) + payload


def journal_seeds():
    out = os.path.join(ROOT, "lease_journal_fuzzer")
    os.makedirs(out, exist_ok=True)
    t = 1_800_000_000_000_000
    bound = record("198.18.0.100", 2, 1, dc.mac_bytes(OTHER), OTHER, t)
    by_id = record("198.18.0.21", 2, 0, bytes.fromhex("01525400c61221"), ARMED, t)
    released = record("198.18.0.100", 3, 1, dc.mac_bytes(OTHER), OTHER, t + 5)
    declined = record("198.18.0.101", 4, 0, b"\x00" * 32, LOCAL, t + 600_000_000)
    infinite = record("198.18.0.102", 2, 0xff, b"", LOCAL, 2**63 - 1)
    outside = record("203.0.113.7", 2, 1, dc.mac_bytes(OTHER), OTHER, -(2**63))
    seeds = {
        "empty": b"",
        "one-bound": bound,
        "several": bound + by_id + released + declined + infinite + outside,
        "torn-tail": bound + by_id[:17],
        "damaged-middle": bound + b"\xde\xad\xbe\xef" * 3 + by_id + released,
        "bad-crc": bound[:10] + bytes([bound[10] ^ 1]) + bound[11:] + by_id,
        "bad-version": record("198.18.0.100", 2, 1, b"", OTHER, t).replace(b"\x01", b"\x02", 1),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)


server_seeds()
journal_seeds()
