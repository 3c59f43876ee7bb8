#!/usr/bin/env bash
# embed_status_page.py refuses a page the Content-Security-Policy would break or that would reach
# outside the daemon, and embeds the real page with hashes that match its script and style.
# Usage: embed_status_page_test.sh EMBED_PY STATUS_PAGE_HTML
set -euo pipefail
embed=$1
page=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

"$py" "$embed" "$page" "$work/ok.cc" || { echo "FAIL: the real page was refused"; exit 1; }
# The hashes are sha256 (base64) of the exact text of the one <script> and the one <style>.
want=$("$py" - "$page" <<'PY'
import base64, hashlib, re, sys
t = open(sys.argv[1], encoding="utf-8").read()
for tag in ("script", "style"):
    body = re.search(r"<%s>(.*?)</%s>" % (tag, tag), t, re.S).group(1).encode()
    print("sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode())
PY
)
got=$(grep -o 'sha256-[A-Za-z0-9+/=]*' "$work/ok.cc")
[[ $got == "$want" ]] || { echo "FAIL: hashes $got, want $want"; exit 1; }
grep -q "kStatusPageHtml(kBytes, $(stat -L -c %s "$page"))" "$work/ok.cc" ||
  { echo "FAIL: the embedded size is not the page's"; exit 1; }

# variant NAME SED_EXPR: the page changed by SED_EXPR must be refused.
variant() {
  local name=$1 expr=$2
  sed "$expr" "$page" >"$work/$name.html"
  cmp -s "$page" "$work/$name.html" && { echo "FAIL: $name: the edit changed nothing"; exit 1; }
  if "$py" "$embed" "$work/$name.html" "$work/$name.cc" 2>"$work/$name.err"; then
    echo "FAIL: $name was embedded"
    exit 1
  fi
  echo "refused $name: $(cat "$work/$name.err")"
}
variant external-url 's|<link rel="icon" href="data:,">|<link rel="icon" href="https://cdn.example.com/i.png">|'
variant external-script 's|</head>|<script src="//cdn.example.com/x.js"></script></head>|'
variant second-style 's|</head>|<style>p{}</style></head>|'
variant style-attribute 's|<div id="banner" hidden>|<div id="banner" style="color:red" hidden>|'
variant event-handler 's|<button id="arm" class="b" type="button" disabled>|<button id="arm" onclick="x()" class="b" type="button" disabled>|'
variant inner-html 's|e.textContent = String(text);|e.innerHTML = String(text);|'
variant eval 's|var PHASE_SET = {};|var PHASE_SET = eval("({})");|'
echo PASS
