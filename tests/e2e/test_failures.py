"""Failures a person will meet: each ends in a clear message, a way forward, a working page."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from urllib.parse import urlsplit

import pytest

from moodlens_build.paths import DIST, ROOT
from moodlens_build.serve import serve_in_thread
from moodlens_build.site import build

from . import media
from .conftest import HeldRoute, worker_prelude
from .windows import animation_frames

STUB_GUM = """
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  let calls = 0;
  navigator.mediaDevices.getUserMedia = (constraints) => {
    calls += 1;
    window.__gumCalls = calls;
    %s
    return real(constraints);
  };
"""


def reject_with(name: str, first_only: bool = False) -> str:
    condition = "calls === 1" if first_only else "true"
    return STUB_GUM % f"if ({condition}) return Promise.reject(new DOMException('stubbed', '{name}'));"


def expect_error(app, *fragments: str) -> str:
    app.wait_state("error")
    status = app.status()
    for fragment in fragments:
        assert fragment in status, status
    return status


def test_insecure_context_explains_https(open_app, site):
    port = urlsplit(site).port
    app = open_app(flags=("--host-resolver-rules=MAP moodlens.test 127.0.0.1",), base=f"http://moodlens.test:{port}/")
    expect_error(app, "secure page", "HTTPS", "localhost")
    assert app.page.evaluate("window.isSecureContext") is False
    app.screenshot("insecure-context.png")


def test_browser_without_camera_api(open_app):
    app = open_app(init_script="Object.defineProperty(Navigator.prototype, 'mediaDevices', {get: () => undefined});")
    expect_error(app, "no camera API")


def test_no_camera_at_all(open_app):
    app = open_app(video=None)  # this machine has no camera and no fake one
    expect_error(app, "No camera was found", "Start camera again")
    assert app.page.is_enabled("#start") and app.page.text_content("#start") == "Start camera"


def test_permission_denied(open_app):
    app = open_app(init_script=reject_with("NotAllowedError"))
    expect_error(app, "permission was denied", "Allow the camera")
    app.screenshot("permission-denied.png")


def test_camera_busy_then_freed(open_app):
    app = open_app(init_script=reject_with("NotReadableError", first_only=True))
    expect_error(app, "busy", "another application")
    app.press_start()  # the other app let go: a second press works
    app.wait_state("running")
    assert app.wait_frames(3)["faces"]


def test_impossible_constraints_are_retried_looser(open_app):
    app = open_app(init_script=reject_with("OverconstrainedError", first_only=True))
    app.wait_state("running")
    assert app.wait_frames(3)["faces"]
    assert app.page.evaluate("window.__gumCalls") == 2
    assert "its own format" in app.page.inner_text("#notes")


def test_camera_unplugged_mid_stream(open_app):
    app = open_app()
    app.wait_state("running")
    app.wait_frames(3)
    page = app.page
    page.evaluate("""() => { window.__stream = document.getElementById('video').srcObject;
                            window.__stream.getVideoTracks()[0].dispatchEvent(new Event('ended')); }""")
    expect_error(app, "camera stopped", "Reconnect it")
    assert page.evaluate("window.__stream.getTracks().every(t => t.readyState === 'ended')")
    assert page.text_content("#start") == "Start camera"
    app.press_start()
    app.wait_state("running")


def test_camera_picker_switches_and_remembers(open_app):
    flags = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=device-count=2")
    app = open_app(video=None, flags=flags)
    app.wait_state("running")
    page = app.page
    page.wait_for_selector("#camera-picker:not([hidden])")
    options = page.eval_on_selector_all("#camera option", "os => os.map(o => o.value)")
    assert len(options) == 2
    current = page.evaluate("document.getElementById('video').srcObject.getVideoTracks()[0].getSettings().deviceId")
    other = next(o for o in options if o != current)
    page.select_option("#camera", other)
    page.wait_for_function(
        "id => document.getElementById('video').srcObject?.getVideoTracks()[0].getSettings().deviceId === id", arg=other
    )
    app.wait_state("running")
    assert page.evaluate("localStorage.getItem('moodlens.camera')") == other
    page.reload()
    app.wait_state("running")
    assert page.evaluate("document.getElementById('video').srcObject.getVideoTracks()[0].getSettings().deviceId") == other


def test_hidden_tab_pauses_and_resumes(open_app):
    app = open_app()
    app.wait_state("running")
    app.wait_frames(3)
    page = app.page
    hidden_at = page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
        return performance.now(); }""")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Paused')")
    # An analysis under way when the tab hid may still finish, however long it takes on a busy
    # machine; what must not happen is a frame shown after the hide being analysed. Each result
    # says when its frame showed, on the page's clock: 60 frames on, the newest is still older.
    animation_frames(page, 60)
    newest = app.results()
    assert newest["frame_ms"] <= hidden_at, f"inference went on in a hidden tab: {newest['frame_ms']} > {hidden_at}"
    assert app.status().startswith("Paused")
    page.evaluate("""() => { delete document.hidden; delete document.visibilityState;
                            document.dispatchEvent(new Event('visibilitychange')); }""")
    app.wait_result(f"r.frame_ms > {hidden_at}")
    assert app.status().startswith("Running")


def fulfil(body: bytes, status: int = 200):
    return lambda route: route.fulfill(status=status, body=body)


ADVICE = " Reload to try again; if it keeps happening, the site's files are damaged: tell whoever hosts this page."


def damaged(path: str, detail: str) -> str:
    """The one message for a file that did not arrive as built, from boot.js or from Python."""
    return f"Moodlens could not start: {path} ({detail}) is missing or damaged.{ADVICE}"


def built_size(path: str) -> int:
    return json.loads((DIST / "files.json").read_text())[path]


def listed_sha256(path: str) -> str:
    folder, name = path.rsplit("/", 1)
    served = json.loads((DIST / folder / "manifest.json").read_text())["files"]
    return next(f["sha256"] for f in served if f["name"] == name)


ZEROS = b"\0" * 1000


@pytest.mark.parametrize(
    "pattern, handler, path, detail",
    [
        # boot.js's: a file the boot loads, checked against build.py's files.json
        ("**/pyodide/python_stdlib.zip", fulfil(b"PK\x03\x04"), "pyodide/python_stdlib.zip",
         lambda path: f"4 bytes, expected {built_size(path)}"),
        # Python's: everything under models/, a model file checked against its manifest
        ("**/models/fer-mini-xception/weights.bin", fulfil(ZEROS), "models/fer-mini-xception/weights.bin",
         lambda path: f"1000 bytes with sha256 {hashlib.sha256(ZEROS).hexdigest()}; "
                      f"its manifest lists sha256 {listed_sha256(path)}"),
        ("**/models/fer-mini-xception/model.json", fulfil(b"", 404), "models/fer-mini-xception/model.json",
         lambda path: "HTTP 404"),
    ],
    ids=["stdlib-truncated", "truncated-weights", "missing-model-json"],
)
def test_a_damaged_file_is_named_in_one_message(open_app, pattern, handler, path, detail):
    """Each file has one owner — boot.js for what the boot loads, Python for models/ — and both
    say the same sentence: the file, and how it differs from what was built."""
    app = open_app("", routes=[(pattern, handler)])
    assert expect_error(app) == damaged(path, detail(path))
    if path.startswith("pyodide/"):
        app.screenshot("runtime-damaged.png")


def test_a_manifest_changed_on_its_way_is_refused_by_its_field(open_app):
    def tampered(route):
        data = route.fetch().json()
        data["input"]["color"] = "cmyk"
        route.fulfill(json=data)

    app = open_app("", routes=[("**/models/blazeface-short/manifest.json", tampered)])
    status = expect_error(app, "could not start", "models/blazeface-short/manifest.json", "input.color", "cmyk")
    assert "missing or damaged" not in status


@pytest.fixture(scope="module")
def mismatched_site(tmp_path_factory):
    """A site built by build.py (file list and hashes included) whose models do not fit their
    manifests: oarriaga-emotion's lists 6 labels for 7 outputs; oarriaga-48 says 48x48 input
    for a 64x64 model. Only the page can notice (the build does not run graph models)."""
    folder = tmp_path_factory.mktemp("mismatched")
    models = folder / "models"
    shutil.copytree(ROOT / "models", models)
    manifest = json.loads((models / "oarriaga-emotion" / "manifest.json").read_text())
    (models / "oarriaga-48").mkdir()
    manifest.update(id="oarriaga-48", name="oarriaga at 48x48 (test)")
    manifest["input"].update(width=48, height=48)
    (models / "oarriaga-48" / "manifest.json").write_text(json.dumps(manifest))
    manifest = json.loads((models / "oarriaga-emotion" / "manifest.json").read_text())
    manifest["labels"].pop()
    (models / "oarriaga-emotion" / "manifest.json").write_text(json.dumps(manifest))
    site = build(folder / "site", models_folder=models, extra_models=("oarriaga-48",))
    server, base = serve_in_thread(site)
    yield base
    server.shutdown()


@pytest.mark.parametrize(
    "model_id, fragments",
    [("oarriaga-emotion", ("models/oarriaga-emotion/emotion.json", "outputs 7 values but the manifest lists 6 labels")),
     ("oarriaga-48", ("models/oarriaga-48/emotion.json", "input is [64, 64, 1]", "[48, 48, 1]"))],
    ids=["label-count", "input-shape"],
)
def test_a_model_that_does_not_fit_its_manifest_is_explained(open_app, mismatched_site, model_id, fragments):
    app = open_app(f"?model={model_id}", base=mismatched_site)
    status = expect_error(app, "could not start", *fragments)
    assert "missing or damaged" not in status  # the files are as built: the mismatch is the news


@pytest.mark.parametrize(
    "pattern, body, status, fragments",
    [
        ("**/pyodide/pyodide.asm.wasm", b"", 404, ("pyodide/pyodide.asm.wasm", "HTTP 404")),
        ("**/vendor/tfjs/tf.min.js", b"", 404, ("vendor/tfjs/tf.min.js",)),
        ("**/pyodide/numpy-*.whl", b"", 404, ("pyodide/numpy-2.0.2", ".whl")),
        ("**/pyodide/numpy-*.whl", None, 200, ("pyodide/numpy-2.0.2", ".whl")),
    ],
    ids=["runtime-missing", "tfjs-missing", "numpy-missing", "numpy-incomplete"],
)
def test_broken_runtime_files_are_named(open_app, pattern, body, status, fragments):
    if body is None:  # a well-formed wheel without NumPy's core: it unpacks, and the import fails
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as wheel:
            wheel.writestr("numpy/__init__.py", "from ._core import multiarray\n")
        body = archive.getvalue()
    app = open_app("", routes=[(pattern, fulfil(body, status))])
    expect_error(app, *fragments)


def test_webgl_context_loss_falls_back_without_reload(open_app):
    app = open_app("?autostart=1&backend=webgl")
    app.wait_state("running")
    first = app.wait_frames(3)
    assert first["diagnostics"]["backend"] == "webgl"
    page = app.page
    page.evaluate("window.__marker = 'same page'")
    app.worker().evaluate("tf.backend().gpgpu.gl.getExtension('WEBGL_lose_context').loseContext()")
    page.wait_for_function(
        "() => JSON.parse(document.getElementById('results').textContent).diagnostics.backend === 'wasm'", timeout=30000
    )
    after = app.wait_frames(app.results()["frame"] + 3)
    assert after["faces"] and after["faces"][0]["emotion"] == "happy"
    assert "context was lost" in page.inner_text("#notes")
    assert page.text_content("#backend") == "wasm"
    assert page.evaluate("window.__marker") == "same page"
    assert app.state() == "running"


# -- nothing ever stuck ------------------------------------------------------------------------
def test_video_play_refused_is_explained_and_the_camera_let_go(open_app):
    app = open_app(init_script="""
      HTMLMediaElement.prototype.play = function () {
        window.__played = this.srcObject; return Promise.reject(new DOMException('no', 'NotAllowedError')); };""")
    expect_error(app, "did not let the video play", "Press Start camera")
    page = app.page
    assert page.evaluate("window.__played.getTracks().every((t) => t.readyState === 'ended')")
    assert page.is_enabled("#start") and page.text_content("#start") == "Start camera"


def test_an_action_that_fails_unexpectedly_is_said_logged_and_leaves_controls_usable(open_app):
    """Photo mode with a browser whose OffscreenCanvas gives no readable context (the kind a picture
    is decoded on): nothing in photos.py expects it."""
    app = open_app("", routes=[worker_prelude("""
      const getContext = OffscreenCanvas.prototype.getContext;
      OffscreenCanvas.prototype.getContext = function (kind, options) {
        if (options && options.willReadFrequently) throw new Error('no canvas');
        return getContext.call(this, kind, options);
      };""")])
    app.wait_state("ready")
    app.page.set_input_files("#photos", [str(media.SAMPLES / "sample1.jpg")])
    app.page.wait_for_function("() => document.getElementById('status').textContent.includes('did not work')")
    status = app.status()
    assert "Analysing the pictures did not work" in status and "no canvas" in status, status
    assert not status.endswith("…")
    assert app.page.is_enabled("#photos") and app.page.is_enabled("#start") and app.page.is_enabled("#model")
    assert any("Traceback" in e and "no canvas" in e for e in app.console_errors), app.console_errors
    app.press_start()  # the app still works
    app.wait_state("running")


STALL_ON_WEBGL = """() => {
  const data = tf.Tensor.prototype.data;
  self.__stall = true;
  tf.Tensor.prototype.data = function () {
    return self.__stall && tf.getBackend() === 'webgl' ? new Promise(() => {}) : data.call(this);
  };
}"""


def test_a_stalled_loop_is_restarted_then_moved_to_another_backend(open_app):
    """A GPU that stops answering: every read-back on WebGL waits forever. (On wasm and cpu the
    app reads a model's output at once, tfjs.read_values: nothing there waits.)"""
    app = open_app("?autostart=1&backend=webgl")
    app.wait_state("running")
    assert app.wait_frames(3)["diagnostics"]["backend"] == "webgl"
    page = app.page
    app.worker().evaluate(STALL_ON_WEBGL)
    page.wait_for_function("() => document.getElementById('notes').textContent.includes('loop was restarted')",
                           timeout=15_000)
    page.wait_for_function(
        "() => JSON.parse(document.getElementById('results').textContent).diagnostics.backend !== 'webgl'", timeout=30_000)
    after = app.wait_frames(app.results()["frame"] + 3)
    assert after["faces"] and after["faces"][0]["emotion"] == "happy"
    assert after["diagnostics"]["backend_how"] == "fallback"
    assert "No result for" in page.inner_text("#notes") and "continuing on TF.js" in page.inner_text("#notes")
    assert app.state() == "running"


def test_a_lost_frame_callback_is_restarted_and_the_backend_kept(open_app):
    """The browser drops one requestVideoFrameCallback: the loop would end there."""
    app = open_app("?autostart=1&backend=wasm")
    app.wait_state("running")
    app.wait_frames(3)
    page = app.page
    page.evaluate("""() => {
      const request = HTMLVideoElement.prototype.requestVideoFrameCallback;
      let drop = 1;
      HTMLVideoElement.prototype.requestVideoFrameCallback = function (callback) {
        return drop-- > 0 ? 0 : request.call(this, callback);
      };
    }""")
    page.wait_for_function("() => document.getElementById('notes').textContent.includes('loop was restarted')",
                           timeout=15_000)
    after = app.wait_frames(app.results()["frame"] + 5)
    assert after["diagnostics"]["backend"] == "wasm"
    assert app.status().startswith("Running")


def test_switching_the_model_while_photos_are_analysed_keeps_the_old_one_until_they_are_done(open_app):
    """The switch lands while a picture's faces are being found (its detector's read-back is
    held until the new model is in): that picture still finishes on the model it started with.
    On WebGL, whose read-backs are awaited: on wasm a picture's detection and classification run
    without a pause (tfjs.read_values), so no switch can land between them."""
    app = open_app("?backend=webgl")
    app.wait_state("ready")
    page = app.page
    page.set_input_files("#photos", [str(media.SAMPLES / "sample1.jpg")])  # photo mode's detectors load
    page.wait_for_function("() => document.getElementById('status').textContent === 'Analysed 1 picture.'")
    worker = app.worker()
    worker.evaluate("""() => {
      const data = tf.Tensor.prototype.data;
      const gate = new Promise((resolve) => { self.__release = resolve; });
      self.__hold = true;
      self.__held = 0;
      tf.Tensor.prototype.data = function () {  // detector outputs are [1, anchors, 17]
        if (self.__hold && this.shape.length === 3) { self.__held += 1; return gate.then(() => data.call(this)); }
        return data.call(this);
      };
    }""")
    page.set_input_files("#photos", [str(media.SAMPLES / "sample1.jpg"), str(media.SAMPLES / "sample2.jpg")])
    worker.evaluate("""() => new Promise((resolve, reject) => {
      const until = performance.now() + 60000;
      const check = () => (self.__held > 0 ? resolve() :  // polled in the worker
        performance.now() > until ? reject(new Error("no detector read-back was held")) : setTimeout(check, 20));
      check();
    })""")
    page.select_option("#model", "oarriaga-emotion")
    page.wait_for_function("() => location.search.includes('model=oarriaga-emotion')")  # switched: the old model retired
    worker.evaluate("self.__hold = false; self.__release()")
    page.wait_for_function("() => (() => { try { return JSON.parse(document.getElementById('results').textContent)"
                           ".photos.length === 2; } catch (e) { return false; } })()", timeout=120_000)
    entries = app.results()["photos"]
    assert all("error" not in e and e["faces"] for e in entries), entries
    assert [e["model"] for e in entries] == ["fer-mini-xception", "oarriaga-emotion"]
    assert app.status() == "Analysed 2 pictures.", app.status()
    assert page.is_enabled("#photos") and page.is_enabled("#model")


def test_a_camera_opened_while_python_boots_is_let_go_when_the_start_fails(open_app):
    # the model's 404, answered only once the camera is on (or the start might fail first)
    missing = HeldRoute(fulfil(b"", 404))
    app = open_app("", routes=[("**/models/fer-mini-xception/model.json", missing)])
    page = app.page
    page.wait_for_function("() => { const b = document.getElementById('start'); return !!b && !b.disabled; }")
    page.click("#start")  # before Python is up: boot.js opens the camera
    page.wait_for_function("() => document.getElementById('video').srcObject !== null")
    page.evaluate("window.__stream = document.getElementById('video').srcObject")
    missing.release()
    expect_error(app, "model.json", "HTTP 404")
    page.wait_for_function("() => window.__stream.getTracks().every(t => t.readyState === 'ended')", timeout=10000)
    assert page.evaluate("document.getElementById('video').srcObject") is None
    assert page.text_content("#start") == "Start camera"
    assert page.get_attribute("#start", "aria-pressed") == "false"
    # Start stays usable and does not open a camera nothing analyses: it tries again, from a reload.
    assert page.is_enabled("#start")
    page.click("#start")
    page.wait_for_url("**/index.html?autostart=1")
