"""The live app in headless Chromium, camera fed with real photos (see media.py)."""

from __future__ import annotations

import io
import urllib.request

import numpy as np
import pytest
from PIL import Image

from moodlens import manifest

from . import media
from .conftest import HeldRoute
from .windows import animation_frames

EMOTION = manifest.load(media.ROOT / "models" / "fer-mini-xception" / "manifest.json")  # the default


def iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def test_a_face_is_found_boxed_and_classified(open_app):
    """The smiling face in the video is found where it is and read as happy."""
    app = open_app()
    app.wait_state("running")
    result = app.wait_frames(10)
    assert result["model"] == EMOTION.id
    assert len(result["faces"]) == 1
    face = result["faces"][0]
    assert iou(face["box"], media.ONE_FACE_BOX) >= 0.35, face["box"]
    assert list(face["scores"]) == list(EMOTION.label_names)
    assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    assert face["emotion"] == "happy" and face["scores"]["happy"] > 0.8


def test_screenshot_shows_box_emoji_bars_and_mood_colour(open_app):
    app = open_app()
    app.wait_state("running")
    face = app.wait_frames(10)["faces"][0]
    happy = EMOTION.label("happy")
    page = app.page
    # The page colour eases to the mood: wait for the transition to end.
    page.wait_for_function(
        "c => getComputedStyle(document.body).borderTopColor === c", arg=f"rgb{hex_rgb(happy.color)}"
    )
    shot = np.asarray(Image.open(io.BytesIO(app.screenshot("running.png"))).convert("RGB")).astype(int)

    # The box: its left edge, drawn in the label colour on the mirrored overlay.
    rect = page.eval_on_selector("#overlay", "e => e.getBoundingClientRect().toJSON()")
    scale = rect["width"] / media.WIDTH
    x, y, w, h = face["box"]
    left = rect["x"] + (media.WIDTH - x - w) * scale  # mirrored
    ys = np.linspace(rect["y"] + (y + 0.3 * h) * scale, rect["y"] + (y + 0.9 * h) * scale, 20).astype(int)
    edge = shot[ys[:, None], np.arange(int(left) - 2, int(left) + 3)[None, :]]
    hits = (np.abs(edge - np.array(hex_rgb(happy.color))).max(axis=2) < 40).any(axis=1)
    assert hits.mean() > 0.8, "no box edge in the label colour where the face is"

    # The emoji and the bars.
    assert page.text_content("#emoji") == happy.emoji
    assert page.is_visible("#emoji")
    widths = page.eval_on_selector_all(
        ".bar", "bars => bars.map(b => b.querySelector('.bar-fill').getBoundingClientRect().width"
        " / b.querySelector('.bar-track').getBoundingClientRect().width)"
    )
    assert len(widths) == len(EMOTION.labels)
    assert widths[EMOTION.label_names.index("happy")] > 0.8
    assert sum(widths) == pytest.approx(1.0, abs=0.05)
    # The mood colour shows in the screenshot's frame, too.
    assert tuple(shot[3, 3]) == pytest.approx(hex_rgb(happy.color), abs=3)


def test_a_video_with_no_face_yields_no_faces(open_app):
    app = open_app(video="no_face")
    app.wait_state("running")
    seen = []
    for n in (3, 8, 15):
        seen.append(app.wait_frames(n))
    assert all(r["faces"] == [] for r in seen), [r["faces"] for r in seen]
    assert app.page.text_content("#mood-label") == "No face in view"


def test_every_face_in_view_is_handled_up_to_max_faces(open_app):
    app = open_app(video="group")
    app.wait_state("running")
    faces = app.wait_frames(10)["faces"]
    assert len(faces) == len(media.GROUP_FACE_CENTRES)
    assert len({f["id"] for f in faces}) == len(faces)
    centres = sorted((x + w / 2, y + h / 2) for x, y, w, h in (f["box"] for f in faces))
    for (cx, cy), (ex, ey) in zip(centres, media.GROUP_FACE_CENTRES):
        assert abs(cx - ex) < 45 and abs(cy - ey) < 45, (centres, media.GROUP_FACE_CENTRES)
    for f in faces:
        assert sum(f["scores"].values()) == pytest.approx(1.0, abs=1e-3)

    capped = open_app("?autostart=1&max_faces=1", video="group")
    capped.wait_state("running")
    assert len(capped.wait_frames(10)["faces"]) == 1


def test_tensors_do_not_accumulate(open_app):
    app = open_app()
    app.wait_state("running")
    # From once the face has its person: the face-descriptor model loads after the first emotion
    # (172 tensors before it, 300 after), and a count taken while it loaded failed on a busy machine.
    linked = app.wait_person()
    early = app.wait_frames(linked["frame"] + 5)["diagnostics"]["tensors"]
    later = app.wait_frames(linked["frame"] + 55)["diagnostics"]["tensors"]
    assert later == early


def test_stop_releases_the_camera(open_app):
    app = open_app()
    app.wait_state("running")
    app.wait_frames(3)
    page = app.page
    page.evaluate("window.__stream = document.getElementById('video').srcObject")
    page.click("#start")
    app.wait_state("ready")
    assert page.evaluate("document.getElementById('video').srcObject") is None
    assert page.evaluate("window.__stream.getTracks().every(t => t.readyState === 'ended')")
    assert page.text_content("#start") == "Start camera"
    frame = app.results()["frame"]
    animation_frames(page, 30)
    assert app.results()["frame"] == frame, "inference went on after Stop"


def test_keyboard_alone_starts_the_camera(open_app):
    app = open_app("")
    app.wait_state("ready")
    page = app.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "start"
    page.keyboard.press("Enter")
    app.wait_state("running")
    app.wait_frames(3)
    assert page.get_attribute("#start", "aria-pressed") == "true"


def test_emotion_is_announced_to_screen_readers(open_app):
    app = open_app()
    app.wait_state("running")
    app.wait_frames(5)
    app.page.wait_for_function("() => document.getElementById('announce').textContent.startsWith('Happy')")
    assert app.page.get_attribute("#announce", "aria-live") == "polite"


def test_loading_shows_named_stages(open_app, browsers, site):
    context = browsers("one_face").new_context()
    page = context.new_page()
    page.add_init_script(
        """new MutationObserver(() => {
             const s = document.getElementById('status');
             if (s) (window.__statuses ||= []).push(s.textContent);
           }).observe(document, {subtree: true, childList: true, characterData: true});"""
    )
    page.goto(f"{site}index.html")
    assert page.text_content("#stages").split() == ["Python", "runtime", "NumPy", "Models", "Warm-up"]
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60000)
    statuses = page.evaluate("window.__statuses")
    context.close()
    assert any("NumPy" in s for s in statuses), statuses
    assert statuses[-1].startswith("Ready")


def test_bad_url_parameters_are_clamped_with_visible_notes(open_app):
    app = open_app("?autostart=1&interval=5&max_faces=lots&smoothing=7&model=nope&backend=quantum")
    app.wait_state("running")
    app.wait_frames(3)
    notes = app.page.inner_text("#notes")
    for fragment in ("interval=5", "max_faces=lots", "smoothing=7", "model=nope", "backend=quantum"):
        assert fragment in notes
    assert app.page.is_visible("#notes")


def test_interval_sets_the_least_time_between_inferences(open_app):
    app = open_app("?autostart=1&interval=500")
    app.wait_state("running")
    app.page.evaluate(RECORD_FRAME_TIMES)
    app.page.wait_for_function("() => window.__frameTimes.length >= 6", timeout=60_000)
    times = app.page.evaluate("window.__frameTimes")
    gaps = [b - a for a, b in zip(times, times[1:])]
    # The camera hands out a frame at least 500 ms after the last one analysed; without the
    # interval the analysed frames are one or two camera frames (33-67 ms) apart.
    assert min(gaps) >= 500 - 0.1, f"analysed frames {gaps} ms apart at a 500 ms interval"  # 0.1: rounding
    assert sorted(gaps)[len(gaps) // 2] < 1000, f"analysed frames {gaps} ms apart: the interval taken twice?"


# When each new result's frame showed, on the page's clock (#results is rewritten per inference).
RECORD_FRAME_TIMES = """() => {
  window.__frameTimes = [];
  let last = null;
  const record = () => {
    try {
      const r = JSON.parse(document.getElementById('results').textContent);
      if (r.frame !== last) { last = r.frame; window.__frameTimes.push(r.frame_ms); }
    } catch (e) {}
  };
  new MutationObserver(record).observe(document.getElementById('results'),
                                       {childList: true, characterData: true, subtree: true});
}"""


def test_native_detector_request_falls_back_to_blazeface(open_app):
    app = open_app("?autostart=1&detector=native")
    app.wait_state("running")
    assert len(app.wait_frames(5)["faces"]) == 1
    assert "no built-in FaceDetector" in app.page.inner_text("#notes")
    assert "BlazeFace" in app.status()


def test_forced_backend_is_used(open_app):
    app = open_app("?autostart=1&backend=cpu")
    app.wait_state("running")
    result = app.wait_frames(3)
    assert result["diagnostics"]["backend"] == "cpu"
    assert result["faces"] and result["faces"][0]["emotion"] == "happy"


def test_fits_a_phone_viewport(open_app):
    app = open_app(viewport=(390, 844))
    app.wait_state("running")
    app.wait_frames(3)
    page = app.page
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    button = page.eval_on_selector("#start", "e => e.getBoundingClientRect().toJSON()")
    assert button["x"] >= 0 and button["x"] + button["width"] <= 390
    app.screenshot("phone.png", full_page=True)


def test_the_camera_is_sampled_nearest_neighbour_only_at_its_own_size(open_app):
    """At exactly its own size the picture is drawn nearest-neighbour (the same pixels, and no
    filtering of the mirrored picture on every frame without a GPU); scaled, it is smoothed."""
    app = open_app()
    app.wait_state("running")
    app.wait_frames(3)
    page = app.page
    shown = """() => { const v = document.getElementById('video'), r = v.getBoundingClientRect();
                       return [r.width * devicePixelRatio, v.videoWidth, getComputedStyle(v).imageRendering]; }"""
    width, video_width, rendering = page.evaluate(shown)
    assert width == video_width == 640 and rendering == "pixelated"
    page.set_viewport_size({"width": 560, "height": 800})  # one column, narrower than the picture
    page.wait_for_function("() => !document.getElementById('viewport').classList.contains('exact')")
    width, _, rendering = page.evaluate(shown)
    assert width < 640 and rendering == "auto"


def test_a_whole_session_fetches_only_from_its_own_origin(open_app):
    app = open_app("")
    app.wait_state("ready")
    app.page.click("#start")
    app.wait_state("running")
    app.wait_frames(20)
    app.page.click("#start")
    app.wait_state("ready")
    assert len(app.requests) > 20  # the runtime, wheels, models and scripts were all seen
    assert app.foreign_requests() == []
    assert not app.console_errors, app.console_errors


@pytest.mark.parametrize(
    "path, content_type",
    [("pyodide/pyodide.asm.wasm", "application/wasm"), ("pyodide/pyodide.js", "text/javascript"), ("worker.js", "text/javascript"),
     ("vendor/tfjs/tfjs-backend-wasm-simd.wasm", "application/wasm"), ("models/index.json", "application/json")],
)
def test_the_server_sends_the_types_browsers_require(site, path, content_type):
    with urllib.request.urlopen(site + path) as response:
        assert response.headers["Content-Type"] == content_type


def test_every_file_of_a_start_is_fetched_once(open_app):
    """The page and its worker fetch the runtime, the app, NumPy, TF.js and the models once each
    (a file fetched twice is a download the start waits for twice)."""
    app = open_app()
    app.wait_state("running")
    app.wait_frames(3)
    fetched = [url for url in app.requests if not url.startswith(("data:", "blob:"))]
    for name in ("worker.js", "pyodide/pyodide.asm.wasm", "moodlens.zip", "pyodide/numpy-", "vendor/tfjs/tf.min.js",
                 "models/index.json"):
        assert any(name in url for url in fetched), f"{name} was not seen: {fetched}"
    twice = {url for url in fetched if fetched.count(url) > 1}
    assert not twice, twice


COUNT_CAMERA_REQUESTS = """
window.__gum = 0;
const original = MediaDevices.prototype.getUserMedia;
MediaDevices.prototype.getUserMedia = function (...args) { window.__gum += 1; return original.apply(this, args); };
window.__loads = 0;  // the video's loads: media events do not bubble, so listen in the capture phase
document.addEventListener("loadstart", () => { window.__loads += 1; }, true);
"""
START_ENABLED = "() => { const b = document.getElementById('start'); return !!b && !b.disabled; }"
PYTHON_UP = "document.querySelector('[data-stage=\"python\"].done') !== null"


# The app's package held back until the clicks are measured: without it Python cannot take
# Start over, so the clicks before are surely boot.js's (on a fast machine the app was once up
# between a test's "not up yet" check and its click).
PACKAGE = "**/moodlens.zip"


def test_start_works_before_python_is_up_and_the_app_takes_the_camera_over(open_app):
    package = HeldRoute()
    app = open_app("", init_script=COUNT_CAMERA_REQUESTS, routes=[(PACKAGE, package)])
    page = app.page
    page.wait_for_function(START_ENABLED, timeout=30000)
    assert not page.evaluate(PYTHON_UP), "the page was not expected to be up yet"
    page.click("#start")
    camera = "window.moodlensCamera"
    assert page.evaluate(f"({camera}.stream || {camera}.opening) !== null && !{camera}.handedOver")
    # The person sees themselves while Python boots (how soon: `build.py bench`) ...
    page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=30000)
    assert page.get_attribute("#start", "aria-pressed") == "true"
    assert page.evaluate("getComputedStyle(document.getElementById('placeholder')).display") == "none"
    early_transform = page.evaluate("getComputedStyle(document.getElementById('video')).transform")
    app.screenshot("early-camera.png")
    package.release()
    # ... and the analysis starts on that same stream once it is: the camera is asked once.
    app.wait_state("running")
    faces = app.wait_frames(3)["faces"]
    assert faces and faces[0]["emotion"] == "happy"
    assert page.evaluate("window.__gum") == 1
    # ... without loading the video again (a black flash, then a new first frame to wait for),
    # or flipping it: the early picture is mirrored as the app's is
    assert page.evaluate("window.__loads") == 1
    assert early_transform == page.evaluate("getComputedStyle(document.getElementById('video')).transform")
    assert early_transform.startswith("matrix(-1"), early_transform
    assert page.text_content("#start") == "Stop camera"
    assert not page.evaluate("document.body.classList.contains('early-camera')")


def test_autostart_opens_the_camera_while_the_models_load(open_app):
    """?autostart=1: the camera is asked for once, as soon as Python has read the URL, and the
    app takes that stream over: the camera's start overlaps the models' instead of following."""
    app = open_app("?autostart=1", init_script=COUNT_CAMERA_REQUESTS +
                   "MediaDevices.prototype.getUserMedia = ((f) => function (...a) {"
                   " window.__gumAt = performance.now(); return f.apply(this, a); })"
                   "(MediaDevices.prototype.getUserMedia);")
    app.wait_state("running")
    assert app.wait_frames(3)["faces"]
    page = app.page
    asked, models_ready = page.evaluate(
        "[window.__gumAt, performance.getEntriesByName('moodlens:warmup')[0].startTime]")
    assert asked < models_ready, (asked, models_ready)
    assert page.evaluate("window.__gum") == 1
    assert page.evaluate("window.__loads") == 1
    assert not page.evaluate("document.body.classList.contains('early-camera')")


def test_start_then_stop_before_python_is_up_leaves_the_camera_off(open_app):
    package = HeldRoute()
    app = open_app("", init_script=COUNT_CAMERA_REQUESTS, routes=[(PACKAGE, package)])
    page = app.page
    page.wait_for_function(START_ENABLED, timeout=30000)
    page.click("#start")
    page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=30000)
    page.evaluate("window.__stream = document.getElementById('video').srcObject")
    page.click("#start")
    assert page.text_content("#start") == "Start camera"
    assert not page.evaluate("window.moodlensCamera.handedOver")
    package.release()
    app.wait_state("ready")
    assert page.evaluate("window.__stream.getTracks().every(t => t.readyState === 'ended')")
    assert page.evaluate("document.getElementById('video').srcObject") is None
    assert page.get_attribute("#start", "aria-pressed") == "false"
    page.click("#start")  # and Python's own Start works afterwards
    app.wait_state("running")
    assert app.wait_frames(2)["faces"]
