"""Privacy, proven on the built site served with its production headers."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from moodlens_build.paths import DIST
from moodlens_build.site import meta_csp, site_headers

from .windows import session

# Records every way a page could send data without an ordinary request showing it.
INSTRUMENT = """
(() => {
  const log = (window.__privacy = {rtc: 0, websocket: 0, beacon: 0, csp: []});
  const count = (name, key) => {
    if (!window[name]) return;
    window[name] = new Proxy(window[name], {construct(target, args) { log[key]++; return Reflect.construct(target, args); }});
  };
  count("RTCPeerConnection", "rtc");
  count("webkitRTCPeerConnection", "rtc");
  count("WebSocket", "websocket");
  const beacon = navigator.sendBeacon ? navigator.sendBeacon.bind(navigator) : null;
  navigator.sendBeacon = (...args) => { log.beacon++; return beacon ? beacon(...args) : false; };
  document.addEventListener("securitypolicyviolation",
    (e) => log.csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
})();
"""

# Everything the page could have stored. IndexedDB: every entry of every store of every
# database (PyScript opens two of its own, a package cache and a file-system map).
STORED = """async () => {
  const indexeddb = {};
  for (const {name} of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = fail; });
    for (const store of db.objectStoreNames) {
      indexeddb[`${name}/${store}`] = await new Promise((ok) => {
        const r = db.transaction(store).objectStore(store).getAll();
        r.onsuccess = () => ok(r.result.map((v) => JSON.stringify(v) ?? String(v)));
      });
    }
    db.close();
  }
  const opfs = [];
  for await (const [name] of (await navigator.storage.getDirectory()).entries()) opfs.push(name);
  const cached = {};
  for (const key of await caches.keys()) cached[key] = (await (await caches.open(key)).keys()).map((r) => r.url);
  return {local: Object.entries(localStorage), session: Object.entries(sessionStorage), cookies: document.cookie,
          indexeddb, caches: cached, opfs};
}"""

SESSION_SECONDS = float(os.environ.get("MOODLENS_PRIVACY_SECONDS", "60"))


@pytest.mark.parametrize("path", ["index.html", "pyodide/pyodide.asm.wasm", "worker.js", "models/index.json"])
def test_every_file_is_served_with_the_production_headers(site, path):
    with urllib.request.urlopen(site + path) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "unsafe-inline" not in csp
    assert "camera=(self)" in headers["Permissions-Policy"] and "microphone=()" in headers["Permissions-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_netlify_headers_and_meta_tag_carry_the_same_policy():
    served = site_headers()
    netlify = (DIST / "_headers").read_text()
    assert netlify.startswith("/*\n")
    for name, value in served.items():
        assert f"  {name}: {value}\n" in netlify
    html = (DIST / "index.html").read_text()
    assert f'content="{meta_csp(served["Content-Security-Policy"])}"' in html


def test_a_whole_session_sends_nothing_anywhere(open_app):
    """Load, start, SESSION_SECONDS of inference with faces coming and going, stop: nothing
    leaves the origin, nothing breaks the CSP, no peer connection, socket or beacon, and
    nothing stored holds an image."""
    app = open_app("", video="coming_and_going", init_script=INSTRUMENT)
    app.wait_state("ready")
    app.page.click("#start")
    app.wait_state("running")
    session(app.page, SESSION_SECONDS)  # returns once faces have also come and gone (or fails)
    app.page.click("#start")
    app.wait_state("ready")

    assert app.foreign_requests() == []
    log = app.page.evaluate("window.__privacy")
    assert log == {"rtc": 0, "websocket": 0, "beacon": 0, "csp": []}
    stored = app.page.evaluate(STORED)
    assert stored["session"] == [] and stored["cookies"] == ""
    assert stored["opfs"] == []
    # The service worker's cache holds the site's own files (offline use) and nothing else.
    site_files = set(json.loads(urllib.request.urlopen(app.base + "files.json").read())) | {"sw.js", "files.json"}
    for key, urls in stored["caches"].items():
        assert key.startswith("moodlens-"), key
        assert all(u.startswith(app.base) and u[len(app.base):] in site_files for u in urls), urls
    assert all(entries == [] for entries in stored["indexeddb"].values()), stored["indexeddb"]
    for key, value in stored["local"]:
        assert key.startswith("moodlens.") and len(value) < 256 and "data:" not in value, (key, value[:80])
    assert not app.console_errors, app.console_errors
