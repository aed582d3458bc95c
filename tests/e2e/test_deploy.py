"""Shipping: under a sub-path (GitHub Pages), offline after one visit, updates offered, installable."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest
from PIL import Image

from moodlens_build.paths import DIST, ROOT
from moodlens_build.serve import serve_in_thread
from moodlens_build.site import build

from . import media
from .test_live import iou

CONTROLLED = "() => navigator.serviceWorker.controller !== null"


@pytest.fixture
def served_copy(tmp_path):
    """dist/ copied under tmp/moodlens/ and served from tmp/: the site at the sub-path /moodlens/,
    as GitHub Pages serves a project at https://USER.github.io/REPO/. A copy, so a test can
    deploy a 'new version' into it."""
    root = tmp_path / "www"
    shutil.copytree(DIST, root / "moodlens")
    server, base = serve_in_thread(root)
    yield root / "moodlens", f"{base}moodlens/"
    server.shutdown()


def test_the_site_works_under_a_sub_path(open_app, served_copy):
    _, base = served_copy
    app = open_app("?autostart=1", base=base)
    app.wait_state("running")
    result = app.wait_frames(5)
    assert iou(result["faces"][0]["box"], media.ONE_FACE_BOX) >= 0.35
    assert result["faces"][0]["emotion"] == "happy"
    outside = [u for u in app.requests + app.worker_requests if not u.startswith(base)]
    assert outside == [], outside  # nothing assumes the site root


def test_after_one_visit_the_app_starts_and_runs_offline(open_app):
    app = open_app("?autostart=1")
    app.wait_state("running")
    app.wait_frames(3)
    app.page.wait_for_function(CONTROLLED, timeout=60_000)
    app.page.evaluate("navigator.serviceWorker.ready")
    app.context.set_offline(True)
    app.page.reload()
    app.wait_state("running", timeout=90)
    result = app.wait_frames(5)
    assert result["faces"] and result["faces"][0]["emotion"] == "happy"
    # Photo mode too: its detectors were cached at install.
    app.page.set_input_files("#photos", [str(media.SAMPLES / "sample1.jpg")])
    app.page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Analysed')"
                               " || document.getElementById('status').textContent.startsWith('Running')")
    app.page.wait_for_selector(".photo table")
    assert not app.console_errors, app.console_errors


# Records when the page registers its service worker, on the page's clock.
REGISTER_TIME = """
  const register = navigator.serviceWorker.register.bind(navigator.serviceWorker);
  navigator.serviceWorker.register = (...args) => { window.__registeredAt = performance.now(); return register(...args); };
"""


def test_the_offline_cache_fills_only_once_the_start_is_over(open_app):
    """The service worker, whose install downloads the offline copy, registers after the camera's
    first result (with ?autostart=1), not while the camera starts; without the camera, once the app is ready."""
    app = open_app("?autostart=1", init_script=REGISTER_TIME)
    app.wait_state("running")
    app.wait_frames(1)
    app.page.wait_for_function(CONTROLLED, timeout=60_000)
    registered, first = app.page.evaluate(
        "[window.__registeredAt, performance.getEntriesByName('moodlens:first-emotion')[0].startTime]")
    assert registered >= first, (registered, first)
    idle = open_app("", video=None, init_script=REGISTER_TIME)
    idle.wait_state("ready")
    idle.page.wait_for_function("() => window.__registeredAt !== undefined", timeout=60_000)


# Records when the page starts codecache.js's worker, on the page's clock.
CODECACHE_TIME = """(() => {
  const Worker = window.Worker;
  window.Worker = class extends Worker {
    constructor(url, options) {
      super(url, options);
      if (String(url).includes("codecache.js")) window.__codecacheAt = performance.now();
    }
  };
})();"""


def test_the_workers_scripts_are_compiled_for_the_next_visit_once_the_camera_stops(open_app, tmp_path):
    """The app worker's module scripts (Pyodide's runtime, TF.js) run once from the offline copy on
    the first visit (codecache.js), so Chromium kept their compiled code: the second visit's
    worker compiles none of them (each module's compile consumed a code cache; without that
    first-visit run the second visit compiled all three). That run waits while the camera runs
    (it made the page's frames late beside the analysis) and starts once the camera stops."""
    app = open_app("?autostart=1", init_script=CODECACHE_TIME)
    app.wait_state("running")
    app.wait_offline()
    assert app.page.evaluate("window.__codecacheAt") is None  # the offline copy is in, the camera runs
    stopped_at = app.page.evaluate("performance.now()")
    app.page.click("#start")
    app.wait_state("ready")
    app.page.wait_for_function("document.body.dataset.compiled !== undefined", timeout=60_000)
    assert app.page.evaluate("window.__codecacheAt") >= stopped_at
    trace = tmp_path / "trace.json"
    browser = app.context.browser
    browser.start_tracing(page=app.page, path=str(trace), categories=["v8"])
    app.page.reload()
    app.wait_state("running", timeout=90)
    browser.stop_tracing()
    compiles = [e["args"]["data"] for e in json.loads(trace.read_text())["traceEvents"]
                if e.get("name") == "v8.compileModule" and "data" in e.get("args", {})]
    consumed = {d["url"].rsplit("/", 1)[-1]: d.get("consumedCacheSize", 0) for d in compiles}
    modules = {"pyodide.asm.js", "tf.min.js", "tf-backend-wasm.min.js"}
    assert modules <= consumed.keys(), consumed
    assert all(consumed[name] > 0 for name in modules), consumed


def test_a_new_deploy_is_offered_and_taken_on_request(open_app, served_copy, tmp_path):
    folder, base = served_copy
    app = open_app("", video=None, base=base)
    app.wait_state("ready")
    app.page.wait_for_function(CONTROLLED, timeout=60_000)
    old = app.page.evaluate("caches.keys()")
    # A new version, built by build.py over the deployed one: a model shown under a new name.
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    path = models / "oarriaga-emotion" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["name"] += " (new)"
    path.write_text(json.dumps(manifest))
    build(folder, models_folder=models)
    app.page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    app.page.wait_for_selector("#update:not([hidden])", timeout=60_000)
    assert app.state() == "ready"  # nothing reloads by itself
    assert "(new)" not in app.page.inner_text("#model")
    with app.page.expect_navigation():
        app.page.click("#update-button")
    app.wait_state("ready")
    app.page.wait_for_function("old => caches.keys().then((k) => k.some((n) => !old.includes(n)))", arg=old)
    assert app.page.is_hidden("#update")
    assert "(new)" in app.page.inner_text("#model")  # the page the person now sees is the new deploy


def test_the_app_can_be_installed(open_app, site):
    manifest = json.loads(urllib.request.urlopen(site + "manifest.webmanifest").read())
    assert manifest["name"] == "Moodlens" and manifest["display"] == "standalone"
    assert manifest["start_url"] == "./index.html" and manifest["scope"] == "./"
    for icon in manifest["icons"]:
        size = int(icon["sizes"].split("x")[0])
        with urllib.request.urlopen(site + icon["src"]) as response:
            assert response.headers["Content-Type"] == "image/png"
            assert Image.open(response).size == (size, size)
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    app = open_app("", video=None)
    app.wait_state("ready")
    app.page.wait_for_function(CONTROLLED, timeout=60_000)
    cdp = app.context.new_cdp_session(app.page)
    errors = {e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]}
    # Playwright's contexts are incognito, where Chrome never offers installation; nothing else may be missing.
    assert errors <= {"in-incognito"}, errors
