#!/usr/bin/python3
"""Charts for docs/benchmarks.md: one SVG per side-by-side section, drawn from its table.

Every bench writes its section through bench/lib.sh's bench_write_doc, which runs
  bench_chart.py --name NAME --report REPORT --doc docs/benchmarks.md --title HEADING
to write docs/charts/NAME.svg and put its image link into REPORT right after the charted
table, so the chart is regenerated with the table. Without running any bench,
  bench_chart.py --doc docs/benchmarks.md --all
redraws every section's chart from the tables now in the document and refreshes the links.

Python 3 standard library only; the SVG is written by hand and is deterministic (the same
table gives the same bytes). Columns are found by header name, so added columns, rows and
scenarios need no change here; a section is described by one entry of SPECS.
"""

import argparse
import os
import re
import sys
from xml.sax.saxutils import escape, quoteattr

LOWER, HIGHER = "lower is better", "higher is better"


def panel(col, title, better, part=0):
    """col: regex over a header; one matching column, or several (each then a group, named by
    the regex's first capture). part: which of "a / b / c" numbers a cell's value is."""
    return {"col": col, "title": title, "better": better, "part": part}


CPU_GIB = panel(r"^server CPU-s ?/ ?GiB$", "Server CPU-s per GiB delivered", LOWER)
MIB_S = panel(r"^MiB/s$", "Throughput, MiB/s", HIGHER)

# group: the column whose rows form groups (scenarios), or None; series: the column(s) that
# name a bar (joined with a space), or "wide" when every other column but notes is a series
# (servers as columns); by: what the bars compare, for the alt text (default server by server).
SPECS = {
    "tftp-peers": {"group": r"^scenario$", "series": [r"^server$"], "panels": [CPU_GIB, MIB_S]},
    "tftp-load": {"group": r"^scenario$", "series": [r"^server$"], "panels": [
        CPU_GIB, MIB_S,
        panel(r"RRQ.*first.DATA", "RRQ to first DATA p99, ms", LOWER, part=1)]},
    "dhcp-peers": {"group": None, "series": [r"^server$"], "panels": [
        panel(r"^CPU-s / 10k.* (at [\d,]+/s)$", "Server CPU-s per 10,000 exchanges, at a fixed rate", LOWER),
        panel(r"^highest rate with < ?0\.1% drops$", "Highest rate with < 0.1% drops, exchanges/s", HIGHER)]},
    "dhcp-load": {"group": None, "series": [r"^server$"], "panels": [
        panel(r"^server CPU-s / 10k there$", "Server CPU-s per 10,000 exchanges, at its highest no-drop rate", LOWER),
        panel(r"^highest rate with < ?0\.1% drops$", "Highest rate with < 0.1% drops, exchanges/s", HIGHER)]},
    "flow": {"group": r"^scenario$", "series": [r"^server$"], "panels": [
        panel(r"^time for all, s$", "Time until every client has every file, s", LOWER), CPU_GIB, MIB_S]},
    "send-path": {"by": "send mode by send mode", "group": r"^protocol$", "series": [r"^mode$", r"^per send$"], "panels": [
        panel(r"^CPU-s per GiB$", "Sender CPU-s per GiB", LOWER),
        panel(r"^GiB/s$", "Throughput, GiB/s", HIGHER)]},
    "http-peers": {"group": r"^scenario$", "series": [r"^server$"], "panels": [CPU_GIB, MIB_S]},
    "metrics-overhead": {"by": "metrics off, on and scraped", "group": r"^workload$", "series": [r"^mode$"], "panels": [CPU_GIB, MIB_S]},
    "mirror-peers": {"by": "mirror by mirror", "group": r"^run$", "series": [r"^mirror$"], "panels": [
        panel(r"^wall s$", "Wall time, s", LOWER)]},
    "install-peers": {"by": "rackbootd beside its peer", "group": r"^phase", "series": "wide", "panels": [
        panel(r"^phase", "Seconds from QEMU's start to the event", LOWER)]},
}

FLOOR = re.compile(r"\b(floor|bare)\b", re.I)
NUMBER = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?")
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F",
           "#8C6D31", "#6A3D9A", "#B15928"]

# ----------------------------------------------------------------------------------- tables


def split_row(line):
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"[`*]", "", c.replace("\\|", "|")).strip() for c in cells]


def tables(text):
    """Markdown tables outside code fences: (header cells, rows of cells, index of last line)."""
    lines, out, fence, i = text.split("\n"), [], False, 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("```"):
            fence = not fence
        elif (not fence and s.startswith("|") and i + 1 < len(lines)
              and re.match(r"^\|[\s:|-]+\|$", lines[i + 1].strip())):
            header, rows, j = split_row(s), [], i + 2
            while j < len(lines) and lines[j].strip().startswith("|"):
                rows.append(split_row(lines[j]))
                j += 1
            out.append((header, rows, j - 1))
            i = j
            continue
        i += 1
    return out


def value(cell, part=0):
    """(number, note): number None when the cell has none; a cell qualified "(at 200/s)" was
    measured under other conditions, so it is not drawn either and says why."""
    cell = (cell or "").strip()
    pieces = re.split(r"\s*/\s*", cell) if part else [cell]
    if part >= len(pieces):
        return None, "no value"
    m = NUMBER.match(pieces[part])
    if not m:
        return None, "no value" if cell in ("", "–", "-") else cell
    at = re.search(r"\((at [^)]*)\)", cell)
    if at:
        return None, "only %s: %s" % (at.group(1), m.group(0))
    return float(m.group(0).replace(",", "")), None


def find(header, pattern):
    return [i for i, h in enumerate(header) if re.search(pattern, h, re.I)]


def chart_data(spec, text):
    """The first table the spec fits, as panels of groups of bars, and the index of its last line."""
    blurbs = dict(re.findall(r"^- (\S+?)\. (.+)$", text, re.M))  # "- a. 1 × 64 MiB, ..."
    for header, rows, last in tables(text):
        gcol = find(header, spec["group"])[:1] if spec["group"] else []
        if spec["group"] and not gcol:
            continue
        if spec["series"] == "wide":
            scols = [i for i in range(len(header)) if i not in gcol and header[i].lower() != "notes"]
        else:
            scols = [find(header, p)[:1] for p in spec["series"]]
            if not all(scols):
                continue
            scols = [c[0] for c in scols]
        done = find(header, r"^clients done$")
        why = [(c, header[c]) for c in find(header, r"failed|^notes$")]  # said where a value is missing
        panels = []
        for p in spec["panels"]:
            groups = []
            if spec["series"] == "wide":
                for row in rows:
                    g = row[gcol[0]] if gcol and gcol[0] < len(row) else ""
                    groups.append((g, [bar(header[c], row, c, p, None, why) for c in scols]))
            else:
                cols = find(header, p["col"])
                if not cols:
                    continue
                for c in cols:
                    m = re.search(p["col"], header[c], re.I)
                    for row in rows:
                        key = row[gcol[0]] if gcol else (m.group(1) if m.groups() else "")
                        if len(cols) > 1 and gcol:
                            key += ", " + (m.group(1) if m.groups() else header[c])
                        name = " ".join(row[i] for i in scols if i < len(row))
                        b = bar(name, row, c, p, done[0] if done else None, why)
                        for gkey, bars in groups:
                            if gkey == key:
                                bars.append(b)
                                break
                        else:
                            groups.append((key, [b]))
            groups = [("%s. %s" % (k, blurbs[k]) if k in blurbs else k, bs) for k, bs in groups]
            panels.append(dict(p, groups=groups))
        if panels:
            return panels, last
    return None, None


def bar(name, row, col, p, done_col, why):
    num, note = value(row[col] if col < len(row) else "", p["part"])
    label = ""
    if num is None:
        note += "".join("; %s: %s" % (h.lower(), row[c]) for c, h in why
                        if c < len(row) and row[c] not in ("", "0", "–"))
    else:
        label = re.split(r"\s*/\s*", row[col])[p["part"]] if p["part"] else row[col]
        if done_col is not None and done_col < len(row):
            d = re.match(r"^\s*(\d+)\s*/\s*(\d+)", row[done_col])
            if d and int(d.group(1)) < int(d.group(2)):
                label += " (%s of %s clients done)" % d.groups()
    return {"name": name, "value": num, "label": label, "note": note,
            "floor": bool(FLOOR.search(name))}

# ---------------------------------------------------------------------------------------- SVG

W, PAD, ROW, BAR_H, CH = 800, 16, 18, 13, 6.6  # CH: average glyph width at 12px, for layout


def text(x, y, s, size=12, anchor="start", weight=None, fill="#1a1a1a", italic=False, halo=False):
    extra = (' font-weight="%s"' % weight if weight else "") + (' font-style="italic"' if italic else "")
    if halo:  # a white outline under the glyphs keeps a label readable where a floor line crosses it
        extra += ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'
    return '<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" fill="%s"%s>%s</text>' % (
        x, y, size, anchor, fill, extra, escape(s))


def fit(s, width):
    n = int(width / CH)
    return s if len(s) <= n else s[: max(n - 1, 1)] + "…"


def svg(title, panels):
    bars = [b for p in panels for _, bs in p["groups"] for b in bs]
    colors = {}
    for b in bars:
        if not b["floor"]:
            colors.setdefault(b["name"], PALETTE[len(colors) % len(PALETTE)])
    label_w = min(max(len(b["name"]) for b in bars) * CH + 8, 300)
    x0 = PAD + label_w + 8
    bar_w = W - x0 - PAD - 150
    out, y = [], PAD + 14
    out.append(text(PAD, y, title, 14, weight="bold"))
    y += 18
    out.append(text(PAD, y, "Drawn from the table by bench/bench_chart.py. A floor row is the dashed "
                    "line; a missing value is not drawn as zero.", 11, fill="#555"))
    for p in panels:
        y += 30
        out.append(text(PAD, y, "%s (%s)" % (p["title"], p["better"]), 13, weight="bold"))
        top = max([b["value"] for _, bs in p["groups"] for b in bs if b["value"] is not None] + [0])
        scale = bar_w / top if top > 0 else 0
        for gname, bars in p["groups"]:
            y += 8
            if gname:
                y += ROW
                out.append(text(PAD, y - 4, fit(gname, W - 2 * PAD), 12, weight="bold", fill="#333"))
            g_top, shapes, labels = y, [], []  # labels last: over the floor line, with a halo
            for b in bars:
                cy = y + ROW / 2
                labels.append(text(x0 - 8, cy + 4, fit(b["name"], label_w), 12, "end",
                                   fill="#B00020" if b["floor"] else "#1a1a1a"))
                if b["value"] is None:
                    labels.append(text(x0 + 4, cy + 4, fit(b["note"], W - x0 - PAD - 4), 12, fill="#777",
                                       italic=True, halo=True))
                elif b["floor"]:
                    fx, s = x0 + b["value"] * scale, b["label"] + " (floor, dashed line)"
                    right = fx + 5 + len(s) * CH <= W - 4
                    labels.append(text(fx + 5 if right else fx - 5, cy + 4, s, 12, "start" if right else "end",
                                       fill="#B00020", halo=True))
                else:
                    w = b["value"] * scale
                    shapes.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                                  % (x0, cy - BAR_H / 2, w, BAR_H, colors[b["name"]],
                                     escape("%s: %s" % (b["name"], b["label"]))))
                    if x0 + w + 5 + len(b["label"]) * CH > W - 4:  # no room right of it: inside
                        labels.append(text(x0 + w - 5, cy + 4, b["label"], 12, "end", fill="#ffffff"))
                    else:
                        labels.append(text(x0 + w + 5, cy + 4, b["label"], 12, halo=True))
                y += ROW
            shapes.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-width="1"/>'
                          % (x0, g_top, x0, y))
            for b in bars:
                if b["floor"] and b["value"] is not None:
                    fx = x0 + b["value"] * scale
                    shapes.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#B00020" '
                                  'stroke-width="2" stroke-dasharray="5,3"/>' % (fx, g_top, fx, y))
            out += shapes + labels
    h = int(y + PAD)
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'role="img" aria-label=%s font-family="Helvetica, Arial, sans-serif">\n<title>%s</title>\n'
            '<rect width="100%%" height="100%%" fill="#ffffff"/>\n' % (W, h, W, h, quoteattr(title), escape(title)))
    return head + "\n".join(out) + "\n</svg>\n"


def lower_first(title):
    """'Server CPU-s' -> 'server CPU-s', but an acronym ('RRQ to ...') stays as it is."""
    if len(title) > 1 and title[1].isupper():
        return title
    return title[:1].lower() + title[1:]


def alt_text(spec, panels):
    what = ["%s (%s)" % (lower_first(p["title"]), p["better"]) for p in panels]
    what = ", ".join(what[:-1]) + " and " + what[-1] if len(what) > 1 else what[0]
    by = spec.get("by", "server by server")
    if spec["group"]:
        by += " for each " + spec["group"].strip("^$").rstrip()
    floor = any(b["floor"] for p in panels for _, bs in p["groups"] for b in bs)
    return "Chart of the table above, %s: %s%s" % (by, what, "; the floor is a dashed line" if floor else "")


# ------------------------------------------------------------------------------------ sections


def chart_section(name, body, title, charts_dir):
    """Writes charts_dir/NAME.svg from the section's text; returns the text with its image link
    (an old link to the same chart removed) after the charted table. Unchanged when no table fits."""
    link_re = re.compile(r"\n?!\[[^\]]*\]\(charts/%s\.svg\)\n" % re.escape(name))
    body = link_re.sub("", body)
    spec = SPECS.get(name)
    if not spec:
        return body
    panels, last = chart_data(spec, body)
    if not panels:
        print("bench_chart: no table in section %s fits its chart; no chart" % name, file=sys.stderr)
        return body
    os.makedirs(charts_dir, exist_ok=True)
    with open(os.path.join(charts_dir, name + ".svg"), "w", encoding="utf-8") as f:
        f.write(svg(title, panels))
    lines = body.split("\n")
    link = "![%s](charts/%s.svg)" % (re.sub(r"[][]", "", alt_text(spec, panels)), name)
    lines[last + 1:last + 1] = ["", link]
    if last + 3 < len(lines) and lines[last + 3].strip():
        lines.insert(last + 3, "")
    return "\n".join(lines)


def heading(text):
    """The last "## " heading of text: the title of the section that follows it."""
    heads = re.findall(r"^## (.+)$", text, re.M)
    return heads[-1].strip() if heads else None


def all_sections(doc, charts_dir):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    pat = re.compile(r"(<!-- ([\w.-]+):begin -->\n)(.*?)(<!-- \2:end -->)", re.S)

    def redo(m):
        title = heading(text[: m.start()]) or m.group(2)
        return m.group(1) + chart_section(m.group(2), m.group(3), title, charts_dir) + m.group(4)
    new = pat.sub(redo, text)
    if new != text:
        with open(doc, "w", encoding="utf-8") as f:
            f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--doc", required=True, help="docs/benchmarks.md; charts go to its charts/")
    ap.add_argument("--all", action="store_true", help="redraw every section of --doc in place")
    ap.add_argument("--name", help="the section's name (the NAME of <!-- NAME:begin -->)")
    ap.add_argument("--report", help="the section's new text; rewritten with the image link")
    ap.add_argument("--title", help="the chart's title (the section's heading)")
    a = ap.parse_args()
    charts_dir = os.path.join(os.path.dirname(os.path.abspath(a.doc)), "charts")
    if a.all:
        all_sections(a.doc, charts_dir)
        return
    if not (a.name and a.report):
        ap.error("give --all, or --name and --report")
    with open(a.report, encoding="utf-8") as f:
        body = f.read()
    title = a.title or a.name
    if os.path.exists(a.doc):  # the document's heading, so that --all draws the same bytes
        with open(a.doc, encoding="utf-8") as f:
            text = f.read()
        at = text.find("<!-- %s:begin -->" % a.name)
        title = (heading(text[:at]) if at >= 0 else None) or title
    new = chart_section(a.name, body, title, charts_dir)
    if new != body:
        with open(a.report, "w", encoding="utf-8") as f:
            f.write(new)


if __name__ == "__main__":
    main()
