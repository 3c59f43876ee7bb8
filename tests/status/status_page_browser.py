#!/usr/bin/python3
"""The status page in a real browser (Chromium headless through chromedriver and selenium),
against a running rackbootd with a generated inventory. Run by status_page_test.sh inside the
server's network namespace; it runs `rackboot load` in the client namespace through the commands
it is given. Checks (each failure exits 1 with a message):

  1. GET / answers text/html with the Content-Security-Policy (script and style by sha256),
     X-Content-Type-Options: nosniff; the browser reports no CSP violation and no script error.
  2. The page renders one tile per inventory host (data-host, data-phase), in under 1 s from its
     first line of script (which asks for /api/v1/hosts) to the tiles painted, by the page's own
     performance marks (median of three loads in a warm browser; the figures are printed).
  3. While `rackboot load` plays clients (DHCP leases, TFTP files: hundreds of events a second),
     every phase change of every host reaches its tile within 1 s of the event: an SSE reader of
     our own records each event's arrival (and its server time), a MutationObserver in the page
     records each tile's data-phase change; after the run every tile equals the API's phase and
     the legend's counts equal the API's counts.
  4. Clicking a tile shows its timeline; the arm button is disabled without a token, a wrong
     token gets 401 and changes nothing, the right token arms the host: the API and the state
     file (host-states.tsv) say install, and its tile turns "armed".
  5. The throughput chart shows a rate from /metrics?format=json.
  6. A screenshot is saved to --screenshot.
  7. rackbootd stopped: the indicator says disconnected; started again (--restart): the page
     reconnects by itself and every tile equals the new daemon's hosts.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError as e:  # the caller checked; still never pass silently
    print("RACKBOOT SKIPPED: python3-selenium not importable: %s" % e)
    sys.exit(0)


def log(msg):
    sys.stderr.write("[status %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def now_ms():
    return time.time() * 1000.0


def http_get(url, timeout=10):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers.items()), r.read()


def get_json(url):
    _, _, body = http_get(url)
    return json.loads(body)


def parse_rfc3339_ms(s):
    """Milliseconds since the epoch of an RFC 3339 UTC time, and whether it had a fraction."""
    if not s or not s.endswith("Z"):
        return None, False
    base, frac = s[:-1], ""
    if "." in base:
        base, frac = base.split(".", 1)
    t = time.strptime(base, "%Y-%m-%dT%H:%M:%S")
    import calendar
    ms = calendar.timegm(t) * 1000.0
    if frac:
        ms += float("0." + frac) * 1000.0
    return ms, bool(frac)


class SseReader(threading.Thread):
    """Our own subscriber to /api/v1/events: every event with the time it arrived."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.events = []
        self.error = None
        self.ready = threading.Event()
        self.stop = False

    def run(self):
        try:
            req = urllib.request.Request(self.url, headers={"Accept": "text/event-stream"})
            with urllib.request.urlopen(req, timeout=120) as r:
                self.ready.set()
                name, data = "message", []
                while not self.stop:
                    line = r.readline()
                    if not line:
                        break
                    line = line.decode("utf-8").rstrip("\r\n")
                    if line == "":
                        if data and name == "host":
                            ev = json.loads("\n".join(data))
                            ev["_recv"] = now_ms()
                            self.events.append(ev)
                        name, data = "message", []
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
        except Exception as e:  # reported by the caller
            if not self.stop:
                self.error = e
            self.ready.set()


OBSERVER_JS = r"""
window.__rb = {changes: [], longtasks: []};
var mo = new MutationObserver(function (muts) {
  var t = Date.now();
  for (var i = 0; i < muts.length; i++) {
    var m = muts[i];
    if (m.attributeName === 'data-phase' && m.target.dataset.host)
      window.__rb.changes.push([m.target.dataset.host, m.target.dataset.phase, t]);
  }
});
mo.observe(document.getElementById('groups'), {subtree: true, attributes: true,
  attributeFilter: ['data-phase']});
try {
  new PerformanceObserver(function (l) {
    l.getEntries().forEach(function (e) { window.__rb.longtasks.push(e.duration); });
  }).observe({entryTypes: ['longtask']});
} catch (e) {}
var s = {};
document.querySelectorAll('.tile[data-host]').forEach(function (t) { s[t.dataset.host] = t.dataset.phase; });
return s;
"""


def make_driver(args):
    o = Options()
    o.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1400,1000", "--no-first-run", "--no-default-browser-check",
              "--disable-extensions", "--disable-background-networking",
              "--user-data-dir=" + args.profile):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(args.chromedriver, log_output=os.devnull), options=o)


def wait_for(fn, timeout, what, interval=0.05):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def console_problems(driver, seen):
    bad = []
    for entry in driver.get_log("browser"):
        seen.append(entry)
        msg = entry.get("message", "")
        if "Content Security Policy" in msg or "Content-Security-Policy" in msg:
            bad.append("CSP: " + msg)
        elif entry.get("level") == "SEVERE" and ("Uncaught" in msg or "TypeError" in msg or
                                                 "ReferenceError" in msg):
            bad.append("script error: " + msg)
    return bad


def load_page(driver, url, hosts):
    driver.get(url)
    wait_for(lambda: driver.execute_script(
        "return document.documentElement.dataset.rendered"), 20, "the tiles")
    marks = driver.execute_script("""
      function m(n) { var e = performance.getEntriesByName(n); return e.length ? e[0].startTime : null; }
      var r = performance.getEntriesByName('rb-render');
      return {script: m('rb-script-start'), fetched: m('rb-hosts-fetched'),
              rendered: m('rb-tiles-rendered'), render: r.length ? r[0].duration : null,
              tiles: document.querySelectorAll('.tile[data-host]').length,
              marked: Number(document.documentElement.dataset.rendered)};""")
    check(marks["tiles"] == hosts and marks["marked"] == hosts,
          "the page shows %d tiles (marked %s), want %d" % (marks["tiles"], marks["marked"], hosts))
    return marks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--state_dir", required=True)
    ap.add_argument("--arm_host", required=True)
    ap.add_argument("--detail_host", required=True)
    ap.add_argument("--stall_host", help="a host that stalls after the load: wait for its tile")
    ap.add_argument("--daemon_pid", type=int, help="rackbootd: stopped to see the page reconnect")
    ap.add_argument("--restart", help="the command that starts rackbootd again (shell words)")
    ap.add_argument("--restart_log", help="where the restarted rackbootd writes")
    ap.add_argument("--load", action="append", default=[], help="a load command (shell words)")
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    figures = {}

    # 1. The page's own headers.
    status, headers, body = http_get(base + "/")
    h = {k.lower(): v for k, v in headers.items()}
    check(status == 200, "GET /: %d" % status)
    check(h.get("content-type", "").startswith("text/html"), "GET /: Content-Type %r" % h.get("content-type"))
    csp = h.get("content-security-policy", "")
    check(csp.startswith("default-src 'none'") and "script-src 'sha256-" in csp and
          "style-src 'sha256-" in csp and "connect-src 'self'" in csp and "unsafe" not in csp,
          "GET /: Content-Security-Policy %r" % csp)
    check(h.get("x-content-type-options") == "nosniff", "GET /: no X-Content-Type-Options: nosniff")
    check(b"http://" not in body and b"https://" not in body, "the page names an external URL")
    log("GET /: %d bytes, CSP %s" % (len(body), csp))

    try:
        driver = make_driver(args)
    except WebDriverException as e:
        print("RACKBOOT SKIPPED: Chromium does not start here: %s" % str(e).splitlines()[0])
        return 0
    console = []
    try:
        # 2. Render time: a first load warms the browser (process start, font caches), then
        # three loads measured by the page's own marks.
        load_page(driver, base + "/", args.hosts)
        runs = []
        for _ in range(3):
            runs.append(load_page(driver, base + "/", args.hosts))
        from_script = [r["rendered"] - r["script"] for r in runs]
        from_nav = [r["rendered"] for r in runs]
        render = [r["render"] for r in runs]
        figures["render_from_script_ms"] = statistics.median(from_script)
        figures["render_from_navigation_ms"] = statistics.median(from_nav)
        figures["render_only_ms"] = statistics.median(render)
        log("%d tiles: script start -> painted %s ms, navigation -> painted %s ms, "
            "answer -> painted %s ms" % (args.hosts, [round(x) for x in from_script],
                                         [round(x) for x in from_nav], [round(x) for x in render]))
        check(figures["render_from_script_ms"] < 1000,
              "1,000 tiles took %.0f ms (median) from the page's script start to painted, want < 1000"
              % figures["render_from_script_ms"])
        wait_for(lambda: driver.execute_script("return document.documentElement.dataset.live") == "live",
                 10, "the live indicator")
        problems = console_problems(driver, console)
        check(not problems, "browser console: %s" % problems)

        # 3. Events -> tiles while load runs.
        initial = driver.execute_script(OBSERVER_JS)
        check(len(initial) == args.hosts, "observer saw %d tiles" % len(initial))
        sse = SseReader(base + "/api/v1/events")
        sse.start()
        check(sse.ready.wait(10) and sse.error is None, "our SSE reader: %s" % sse.error)
        time.sleep(0.3)
        t_load = time.time()
        for cmd in args.load:
            log("load: %s" % cmd)
            p = subprocess.run(shlex.split(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=90)
            out = p.stdout.decode("utf-8", "replace")
            sys.stderr.write(out)
            check(p.returncode == 0, "rackboot load exited %d" % p.returncode)
        load_s = time.time() - t_load
        time.sleep(1.5)
        t_snap = now_ms()
        rb = driver.execute_script("return window.__rb")
        sse.stop = True
        check(sse.error is None, "our SSE reader failed: %s" % sse.error)
        # Only events the page had a full second to show before we looked.
        events = [e for e in sse.events if e["_recv"] <= t_snap - 1000]
        changes = rb["changes"]
        check(events, "no events while rackboot load ran")
        figures["events"] = len(events)
        figures["events_per_s"] = len(events) / max(load_s, 0.001)
        log("%d events in %.1f s of load (%.0f/s), %d tile changes seen in the page" %
            (len(events), load_s, figures["events_per_s"], len(changes)))

        # Phase transitions per host, in event order; each must reach the tile (its phase or a
        # later one of the same host: the page batches per frame) within 1 s.
        by_host_changes = {}
        for host, phase, t in changes:
            by_host_changes.setdefault(host, []).append((t, phase))
        transitions = {}
        last = dict(initial)
        precise = all(parse_rfc3339_ms(e.get("time", ""))[1] for e in events)
        for e in events:
            host, phase = e.get("host") or "", e.get("phase") or ""
            if not host or host not in last or not phase:
                continue
            if phase != last[host]:
                ref = parse_rfc3339_ms(e["time"])[0] if precise else e["_recv"]
                transitions.setdefault(host, []).append((ref, phase, e["_recv"], e["id"]))
                last[host] = phase
        lat, lat_recv, missing = [], [], []
        for host, ts in transitions.items():
            seen = by_host_changes.get(host, [])
            for i, (ref, phase, recv, eid) in enumerate(ts):
                # The first moment from the event on at which the tile shows this phase or a
                # later one of the host (the page may skip one within a frame).
                later = {p for _, p, _, _ in ts[i:]}
                start = min(ref, recv)
                shown = initial[host]
                for t, p in seen:
                    if t > start:
                        break
                    shown = shown if p is None else p
                hit = start if shown in later else next(
                    (t for t, p in seen if t > start and p in later), None)
                if hit is None:
                    missing.append((host, phase, eid))
                    continue
                lat.append(max(0.0, hit - ref))
                lat_recv.append(max(0.0, hit - recv))
        n = len(lat) + len(missing)
        check(n > 0, "no phase transitions in %d events" % len(events))
        check(not missing, "%d of %d phase changes never reached their tile, e.g. %s" %
              (len(missing), n, missing[:5]))
        lat.sort()
        figures["transitions"] = n
        figures["latency_p50_ms"] = lat[len(lat) // 2]
        figures["latency_p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        figures["latency_max_ms"] = lat[-1]
        figures["latency_from"] = "event time" if precise else "our SSE reader's arrival"
        figures["longtasks"] = len(rb["longtasks"])
        figures["longtask_max_ms"] = max(rb["longtasks"]) if rb["longtasks"] else 0
        log("%d phase changes on %d hosts: tile within p50 %.0f / p99 %.0f / max %.0f ms of the %s "
            "(vs our reader: max %.0f ms); %d long tasks (max %.0f ms)" %
            (n, len(transitions), figures["latency_p50_ms"], figures["latency_p99_ms"],
             figures["latency_max_ms"], figures["latency_from"], max(lat_recv),
             figures["longtasks"], figures["longtask_max_ms"]))
        check(figures["latency_max_ms"] < 1000, "a tile changed %.0f ms after its event, want < 1000"
              % figures["latency_max_ms"])

        # Every tile and the legend agree with the API.
        api = get_json(base + "/api/v1/hosts")
        dom = driver.execute_script("""var s = {};
          document.querySelectorAll('.tile[data-host]').forEach(function (t) { s[t.dataset.host] = t.dataset.phase; });
          var c = {}; document.querySelectorAll('#legend .lg').forEach(function (b) {
            c[b.dataset.phase] = Number(b.querySelector('.n').textContent); });
          return {tiles: s, counts: c};""")
        wrong = [(x["name"], x["phase"], dom["tiles"].get(x["name"])) for x in api["hosts"]
                 if dom["tiles"].get(x["name"]) != x["phase"]]
        check(not wrong, "%d tiles differ from the API after the run, e.g. %s" % (len(wrong), wrong[:5]))
        want_counts = {k: v for k, v in api["counts"].items()}
        check(all(dom["counts"].get(k, 0) == want_counts.get(k, 0) for k in set(want_counts) | set(dom["counts"])),
              "legend counts %s, API counts %s" % (dom["counts"], want_counts))
        figures["phases"] = {k: v for k, v in want_counts.items() if v}
        log("tiles and legend equal the API: %s" % figures["phases"])
        # Not the page's to check, but worth seeing: a host whose files all arrived should not
        # stay in booting.
        for x in api["hosts"]:
            if x["phase"] == "booting" and x["name"] < "node0400":
                tl = get_json(base + "/api/v1/hosts/" + x["name"]).get("timeline", [])
                log("note: %s still booting after its whole flow; timeline %s" %
                    (x["name"], [(e["kind"], e["phase"], e["detail"]) for e in tl]))
                break

        # 4. Timeline on click, then arm through the page.
        driver.find_element(By.CSS_SELECTOR, '.tile[data-host="%s"]' % args.detail_host).click()
        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#timeline li")) > 0, 5,
                 "the timeline of %s" % args.detail_host)
        tl = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#timeline li")]
        log("timeline of %s: %d lines, last %r" % (args.detail_host, len(tl), tl[-1]))
        check(driver.find_element(By.ID, "detail-name").text == args.detail_host, "detail panel name")

        tile = driver.find_element(By.CSS_SELECTOR, '.tile[data-host="%s"]' % args.arm_host)
        before = get_json(base + "/api/v1/hosts/" + args.arm_host)
        check(before["state"] != "install", "%s is already armed" % args.arm_host)
        tile.click()
        wait_for(lambda: driver.find_element(By.ID, "detail-name").text == args.arm_host, 5, "the panel")
        token = driver.find_element(By.ID, "token")
        arm = driver.find_element(By.ID, "arm")
        token.clear()
        check(not arm.is_enabled(), "arm is enabled without a token")

        def result():
            return driver.find_element(By.ID, "act-msg").get_attribute("data-result") or ""
        token.send_keys("wrong-" + args.token)
        check(arm.is_enabled(), "arm stays disabled with a token typed")
        arm.click()
        wait_for(lambda: result().startswith("arm:"), 5, "the arm answer (wrong token)")
        check(result() == "arm:401", "a wrong token got %r, want arm:401" % result())
        check(get_json(base + "/api/v1/hosts/" + args.arm_host)["state"] == before["state"],
              "a wrong token changed the host's state")
        log("wrong token: %r (%s)" % (result(), driver.find_element(By.ID, "act-msg").text))
        token.clear()
        token.send_keys(args.token)
        driver.execute_script("document.getElementById('act-msg').removeAttribute('data-result')")
        t_arm = now_ms()
        arm.click()
        wait_for(lambda: result().startswith("arm:"), 5, "the arm answer")
        check(result() == "arm:ok", "arm with the token: %r (%s)" %
              (result(), driver.find_element(By.ID, "act-msg").text))
        after = get_json(base + "/api/v1/hosts/" + args.arm_host)
        check(after["state"] == "install", "after arm the API says state %r" % after["state"])
        states = open(os.path.join(args.state_dir, "host-states.tsv")).read()
        check(any(l.split("\t")[:2] == [args.arm_host, "install"] or
                  (args.arm_host in l.split() and "install" in l.split()) for l in states.splitlines()),
              "host-states.tsv does not arm %s:\n%s" % (args.arm_host, states))
        wait_for(lambda: tile.get_attribute("data-phase") == "armed", 2, "%s's tile to turn armed" % args.arm_host)
        figures["arm_to_tile_ms"] = now_ms() - t_arm
        stored = driver.execute_script("return sessionStorage.getItem('rackboot.token')")
        check(stored == args.token, "the token is not kept in sessionStorage")
        log("armed %s through the page: API state install, host-states.tsv, tile armed %.0f ms "
            "after the click" % (args.arm_host, figures["arm_to_tile_ms"]))

        # 5. Throughput from /metrics (the page samples every 5 s).
        wait_for(lambda: "/s" in driver.find_element(By.ID, "tput-now").text, 15, "a throughput figure")
        figures["throughput_shown"] = driver.find_element(By.ID, "tput-now").text
        log("throughput: %s (%s)" % (figures["throughput_shown"],
                                     driver.find_element(By.ID, "tput-note").text))

        problems = console_problems(driver, console)
        check(not problems, "browser console: %s" % problems)

        # 5b. Stalled hosts reach the page (the fleet's Tick marks them, an event carries it).
        if args.stall_host:
            t0 = time.time()
            sel = '.tile[data-host="%s"]' % args.stall_host
            wait_for(lambda: driver.find_element(By.CSS_SELECTOR, sel).get_attribute("data-phase")
                     == "stalled", 30, "%s's tile to show stalled" % args.stall_host)
            x = get_json(base + "/api/v1/hosts/" + args.stall_host)
            check(x["phase"] == "stalled" and x["reason"], "the API says %s for %s" %
                  ((x["phase"], x["reason"]), args.stall_host))
            title = driver.find_element(By.CSS_SELECTOR, sel).get_attribute("title")
            check(x["reason"] in title, "the stalled tile's title %r lacks the reason %r" %
                  (title, x["reason"]))
            log("%s stalled on the page (waited %.1f s): %s" % (args.stall_host, time.time() - t0,
                                                                  x["reason"]))

        # 5c. Search and phase filter hide the other tiles (and empty racks).
        def visible():
            return driver.execute_script("""return Array.from(document.querySelectorAll(
                '.tile[data-host]')).filter(function (t) { return t.offsetParent !== null; })
                .map(function (t) { return t.dataset.host; });""")
        search = driver.find_element(By.ID, "search")
        search.send_keys("node001")
        want = ["node%04d" % i for i in range(10, 20)]
        wait_for(lambda: sorted(visible()) == want, 3, "search node001 to show node0010..0019")
        search.clear()
        search.send_keys(" ")  # an input event with an empty query
        wait_for(lambda: len(visible()) == args.hosts, 3, "all tiles back")
        driver.execute_script("document.querySelector('#legend .lg[data-phase=stalled]').click()")
        stalled = sorted(x["name"] for x in get_json(base + "/api/v1/hosts")["hosts"]
                         if x["phase"] == "stalled")
        wait_for(lambda: sorted(visible()) == stalled, 3, "the stalled filter to show %d tiles"
                 % len(stalled))
        groups = driver.execute_script("return Array.from(document.querySelectorAll('.group'))"
                                       ".filter(function (g) { return g.offsetParent !== null; }).length")
        driver.execute_script("document.querySelector('#legend .lg[data-phase=stalled]').click()")
        wait_for(lambda: len(visible()) == args.hosts, 3, "all tiles back")
        log("search and filter: 'node001' shows 10 tiles; the stalled filter %d tiles in %d racks"
            % (len(stalled), groups))

        # 6. The screenshot: every rack (a tall window), a stalled host's panel open.
        shown = args.stall_host or args.detail_host
        driver.set_window_size(1400, 2200)
        # (a script click: in the tall window the tile may sit under the open panel)
        driver.execute_script("arguments[0].click()", driver.find_element(
            By.CSS_SELECTOR, '.tile[data-host="%s"]' % shown))
        wait_for(lambda: driver.find_element(By.ID, "detail-name").text == shown and
                 len(driver.find_elements(By.CSS_SELECTOR, "#timeline li")) > 0, 5, "the timeline")
        time.sleep(0.5)
        check(driver.save_screenshot(args.screenshot), "screenshot to %s failed" % args.screenshot)
        log("screenshot: %s" % args.screenshot)

        # 7. The daemon goes away and comes back: "disconnected", then live again by itself
        # (backoff), with every tile equal to the new daemon's hosts.
        if args.daemon_pid and args.restart:
            live = lambda: driver.execute_script("return document.documentElement.dataset.live")
            os.kill(args.daemon_pid, 15)
            t0 = time.time()
            wait_for(lambda: live() == "down", 5, "the indicator to say disconnected")
            figures["disconnect_shown_ms"] = (time.time() - t0) * 1000
            text = driver.find_element(By.ID, "live").text
            check("disconnected" in text, "the indicator says %r" % text)
            wait_for(lambda: subprocess.run(["sh", "-c", "! kill -0 %d 2>/dev/null" % args.daemon_pid]).returncode == 0,
                     10, "rackbootd to exit")
            out = open(args.restart_log, "w")
            p = subprocess.Popen(shlex.split(args.restart), stdout=out, stderr=out,
                                 stdin=subprocess.DEVNULL)
            open(args.restart_log + ".pid", "w").write(str(p.pid))
            t1 = time.time()
            wait_for(lambda: live() == "live", 30, "the page to reconnect")
            figures["reconnect_after_restart_s"] = time.time() - t1
            time.sleep(1.0)
            api = get_json(base + "/api/v1/hosts")
            tiles = driver.execute_script("""var s = {};
              document.querySelectorAll('.tile[data-host]').forEach(function (t) { s[t.dataset.host] = t.dataset.phase; });
              return s;""")
            wrong = [(x["name"], x["phase"], tiles.get(x["name"])) for x in api["hosts"]
                     if tiles.get(x["name"]) != x["phase"]]
            check(not wrong, "after the reconnect %d tiles differ from the API, e.g. %s" %
                  (len(wrong), wrong[:5]))
            log("daemon stopped: 'disconnected' shown after %.0f ms (%r); restarted: live again %.1f s "
                "later, every tile equal to the new daemon's hosts" %
                (figures["disconnect_shown_ms"], text, figures["reconnect_after_restart_s"]))
    except (Fail, WebDriverException) as e:
        print("FAIL: %s" % (e if isinstance(e, Fail) else "webdriver: %s" % str(e).splitlines()[0]))
        for entry in console[-20:]:
            sys.stderr.write("console: %s\n" % entry)
        try:
            driver.save_screenshot(args.screenshot)
            print("screenshot of the failure: %s" % args.screenshot)
        except Exception:
            pass
        return 1
    finally:
        driver.quit()
    print("RESULT %s" % json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Fail, WebDriverException) as e:
        print("FAIL: %s" % (e if isinstance(e, Fail) else "webdriver: %s" % str(e).splitlines()[0]))
        sys.exit(1)
