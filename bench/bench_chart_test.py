#!/usr/bin/python3
"""Tests of bench/bench_chart.py over the real tables of docs/benchmarks.md as of 2026-11-30
(testdata/benchmarks_2026-11-30.md) and over tables the benches may write next
(testdata/variants.md: added scenarios and columns, a floor row, a missing value, an odd header).
Every SVG must parse as XML and hold the bars and labels of its table."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "bench_chart.py")
REAL = os.path.join(HERE, "testdata", "benchmarks_2026-11-30.md")
VARIANTS = os.path.join(HERE, "testdata", "variants.md")
SVG_NS = "{http://www.w3.org/2000/svg}"

spec = importlib.util.spec_from_file_location("bench_chart", SCRIPT)
bench_chart = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_chart)


def run_all(fixture):
    """Copies fixture into a fresh directory, runs `bench_chart.py --doc COPY --all` as a bench
    user would, and returns (directory, document after, SVGs by section name)."""
    d = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    doc = os.path.join(d, "benchmarks.md")
    shutil.copy(fixture, doc)
    subprocess.run([sys.executable, SCRIPT, "--doc", doc, "--all"], check=True)
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    svgs = {}
    charts = os.path.join(d, "charts")
    for name in sorted(os.listdir(charts)) if os.path.isdir(charts) else []:
        with open(os.path.join(charts, name), "rb") as f:
            svgs[name[:-4]] = f.read()
    return d, text, svgs


def section(text, name):
    m = re.search(r"<!-- %s:begin -->\n(.*?)<!-- %s:end -->" % (name, name), text, re.S)
    return m.group(1)


class Chart:
    """What a reader sees in one SVG: bars (name, value label), texts, dashed lines."""

    def __init__(self, data):
        self.root = ET.fromstring(data)  # well-formed XML, or the test fails here
        self.texts = ["".join(t.itertext()) for t in self.root.iter(SVG_NS + "text")]
        self.bars = [r.find(SVG_NS + "title").text for r in self.root.iter(SVG_NS + "rect")
                     if r.find(SVG_NS + "title") is not None]
        self.dashed = [l for l in self.root.iter(SVG_NS + "line") if l.get("stroke-dasharray")]
        self.widths = [float(r.get("width")) for r in self.root.iter(SVG_NS + "rect")
                       if r.find(SVG_NS + "title") is not None]


class RealTables(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir, cls.text, cls.svgs = run_all(REAL)

    def test_every_side_by_side_section_has_a_chart_and_one_link_after_its_table(self):
        names = ["tftp-peers", "tftp-load", "dhcp-peers", "dhcp-load", "flow", "send-path",
                 "http-peers", "metrics-overhead", "mirror-peers", "install-peers"]
        self.assertEqual(sorted(self.svgs), sorted(names))
        for name in names:
            lines = section(self.text, name).split("\n")
            links = [i for i, l in enumerate(lines) if l.endswith("](charts/%s.svg)" % name)]
            self.assertEqual(len(links), 1, name)
            i = links[0]
            self.assertTrue(lines[i].startswith("![Chart of the table above"), name)
            self.assertEqual(lines[i - 1], "", name)
            self.assertTrue(lines[i - 2].startswith("|"), name)  # right after the table
            self.assertEqual(lines[i + 1], "", name)
            root = Chart(self.svgs[name]).root
            self.assertEqual(root.get("width"), "800", name)
            background = root.find(SVG_NS + "rect")  # opaque, for GitHub's dark theme too
            self.assertEqual((background.get("width"), background.get("fill")), ("100%", "#ffffff"), name)

    def test_tftp_peers_bars(self):
        c = Chart(self.svgs["tftp-peers"])
        self.assertEqual(len(c.bars), 40)  # 20 rows, 2 panels
        self.assertIn("rackbootd --tftp_gso=false: 2.83", c.bars)
        self.assertIn("dnsmasq: 121", c.bars)
        self.assertIn("a. 1 × 64 MiB, atftp, blksize 1468, windowsize 64 (median of 3)", c.texts)
        self.assertIn("Server CPU-s per GiB delivered (lower is better)", c.texts)
        self.assertIn("Throughput, MiB/s (higher is better)", c.texts)
        self.assertFalse(c.dashed)  # no floor row yet

    def test_tftp_load_unfinished_clients_are_said(self):
        c = Chart(self.svgs["tftp-load"])
        self.assertEqual(len(c.bars), 32)
        self.assertIn("tftp-hpa: 77 (325 of 1000 clients done)", c.bars)

    def test_dhcp_peers_value_at_another_rate_is_not_drawn(self):
        c = Chart(self.svgs["dhcp-peers"])
        self.assertIn("at 2,000/s", c.texts)
        self.assertIn("at 8,000/s", c.texts)
        self.assertIn("only at 200/s: 11.042", c.texts)
        self.assertIn("no value", c.texts)  # dnsmasq at 8,000/s: –
        self.assertEqual(len(c.bars), 3 + 3 + 4)
        self.assertIn("Kea 2.2 (single-threaded): 8,000/s", c.bars)

    def test_variants_and_modes(self):
        send = Chart(self.svgs["send-path"])
        self.assertIn("udp-uring 45 datagrams: 0.12", send.bars)
        self.assertTrue(any(t.startswith("no value; sends failed: 1631320 of 1631320") for t in send.texts))
        self.assertEqual(len(send.bars), 2 * 11)
        metrics = Chart(self.svgs["metrics-overhead"])
        self.assertEqual(len(metrics.bars), 18)
        self.assertIn("scrape: 226.7", metrics.bars)
        flow = Chart(self.svgs["flow"])
        self.assertIn("tftp: kernel | initrd over TFTP", flow.texts)  # escaped pipe in a cell
        self.assertEqual(len(flow.bars), 12)
        install = Chart(self.svgs["install-peers"])  # servers as columns
        self.assertIn("dnsmasq + nginx: 129.74", install.bars)
        self.assertEqual(len(install.bars), 17)
        self.assertEqual(len(Chart(self.svgs["mirror-peers"]).bars), 8)
        self.assertEqual(len(Chart(self.svgs["dhcp-load"]).bars), 8)
        self.assertEqual(len(Chart(self.svgs["http-peers"]).bars), 12)

    def test_rerun_gives_the_same_bytes(self):
        _, text2, svgs2 = run_all(REAL)
        self.assertEqual(text2, self.text)
        self.assertEqual(svgs2, self.svgs)
        doc = os.path.join(self.dir, "benchmarks.md")  # and again over its own output
        subprocess.run([sys.executable, SCRIPT, "--doc", doc, "--all"], check=True)
        with open(doc, encoding="utf-8") as f:
            self.assertEqual(f.read(), self.text)

    def test_report_mode_writes_what_all_writes(self):
        d = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        doc = os.path.join(d, "benchmarks.md")
        shutil.copy(REAL, doc)
        report = os.path.join(d, "report.md")
        with open(REAL, encoding="utf-8") as f:
            before = section(f.read(), "tftp-peers")
        with open(report, "w", encoding="utf-8") as f:
            f.write(before)
        subprocess.run([sys.executable, SCRIPT, "--doc", doc, "--name", "tftp-peers",
                        "--report", report, "--title", "another heading"], check=True)
        with open(os.path.join(d, "charts", "tftp-peers.svg"), "rb") as f:
            self.assertEqual(f.read(), self.svgs["tftp-peers"])
        with open(report, encoding="utf-8") as f:
            self.assertEqual(f.read(), section(self.text, "tftp-peers"))


class NewTables(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir, cls.text, cls.svgs = run_all(VARIANTS)

    def test_floor_rows_are_dashed_lines_not_bars(self):
        c = Chart(self.svgs["tftp-load"])
        self.assertFalse([b for b in c.bars if b.startswith("floor")])
        # L1432 and L512 have a floor: one line each in the CPU, MiB/s and RRQ panels
        self.assertEqual(len(c.dashed), 6)
        self.assertIn("4.55 (floor, dashed line)", c.texts)
        self.assertIn("L1432. 1,000 × 2 MiB at once, blksize 1432, lock-step", c.texts)
        self.assertIn("chain. 500 clients: pxelinux.0, ldlinux.c32, a config, an 8 MiB kernel, "
                      "blksize 1432, lock-step", c.texts)
        self.assertIn("RRQ to first DATA p99, ms (lower is better)", c.texts)
        self.assertIn("rackbootd: 3.30", c.bars)  # the p99 of "0.35 / 3.30"
        self.assertIn("tftp-hpa: 30.20", c.bars)
        self.assertIn("no value; notes: latency not recorded", c.texts)  # L512 rackbootd: –
        self.assertIn("rackbootd: 7.00", c.bars)  # CPU/GiB found after the reordered columns
        self.assertEqual(len(c.bars), 7 * 3 - 1)
        self.assertIn("the floor is a dashed line", section(self.text, "tftp-load"))

    def test_dhcp_floor_and_missing_value(self):
        c = Chart(self.svgs["dhcp-peers"])
        self.assertEqual(len(c.dashed), 3)  # at 2,000/s, at 8,000/s, no-drop rate
        self.assertIn("0.870 (floor, dashed line)", c.texts)
        self.assertNotIn("Kea 2.2 (single-threaded): –", c.bars)
        self.assertEqual(len(c.bars), 2 + 1 + 3)  # floor and missing values drawn as no bar
        self.assertIn("rackbootd: 2,000/s", c.bars)

    def test_odd_header_and_code_block(self):
        c = Chart(self.svgs["http-peers"])
        self.assertNotIn("fake: 1", c.bars)
        self.assertIn("a | loopback", c.texts)
        self.assertEqual(sorted(c.bars), sorted(["rackbootd: 0.37", "nginx: 0.43", "nginx: 0.44",
                                                 "rackbootd: 858", "nginx: 664", "rackbootd: 430",
                                                 "nginx: 990"]))
        lines = section(self.text, "http-peers").split("\n")
        i = [n for n, l in enumerate(lines) if "charts/http-peers.svg" in l][0]
        self.assertEqual((lines[i - 1], lines[i + 1], lines[i + 2]), ("", "", "Text right after the table."))

    def test_sections_without_a_chart_are_left_alone(self):
        self.assertNotIn("no-such-bench", self.svgs)
        self.assertNotIn("metrics-overhead", self.svgs)
        with open(VARIANTS, encoding="utf-8") as f:
            before = f.read()
        for name in ("no-such-bench", "metrics-overhead"):
            self.assertEqual(section(self.text, name), section(before, name))

    def test_longest_bar_is_the_largest_value(self):
        c = Chart(self.svgs["dhcp-peers"])
        widths = dict(zip(c.bars, c.widths))
        self.assertEqual(max(widths, key=widths.get), "Kea 2.2 (single-threaded): 2.700")
        self.assertAlmostEqual(widths["rackbootd: 1.590"] / widths["Kea 2.2 (single-threaded): 2.700"],
                               1.590 / 2.700, places=2)


class Values(unittest.TestCase):
    def test_cells(self):
        v = bench_chart.value
        self.assertEqual(v("12,000/s"), (12000.0, None))
        self.assertEqual(v("0.629"), (0.629, None))
        self.assertEqual(v("72.2 (2.9)"), (72.2, None))
        self.assertEqual(v("–"), (None, "no value"))
        self.assertEqual(v(""), (None, "no value"))
        self.assertEqual(v("11.042 (at 200/s)"), (None, "only at 200/s: 11.042"))
        self.assertEqual(v("0.35 / 3.30", 1), (3.3, None))
        self.assertEqual(v("0.35/3.30", 1), (3.3, None))
        self.assertEqual(v("0.35", 1), (None, "no value"))

    def test_split_row_keeps_escaped_pipes_and_drops_markup(self):
        self.assertEqual(bench_chart.split_row("| a \\| b | `udp-uring` | **met** |"),
                         ["a | b", "udp-uring", "met"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
