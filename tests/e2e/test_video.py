"""Video mode: a file analysed on the device with progress, Cancel, the timeline, downloads and
a message for every bad file; the live session's download; `build.py analyse`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from moodlens import manifest

from . import media
from .test_live import iou

EMOTION = manifest.load(media.ROOT / "models" / "fer-mini-xception" / "manifest.json")
DONE = """name => { try { const r = JSON.parse(document.getElementById('results').textContent);
  return r.source === 'video' && r.file === name && r.done; } catch (e) { return false; } }"""


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    made = {
        "webm": media.face_then_empty(folder / "smile.webm", "libvpx"),
        "mp4": media.face_then_empty(folder / "smile-h264.mp4", "libx264"),
        "long": media.face_then_empty(folder / "long.webm", "libvpx", seconds=12),
        "group": media.group_clip(folder / "group.mp4"),
        "4k": media.big_face_clip(folder / "big.webm"),
        "mpeg4": media.write_video(folder / "old-codec.mp4", [media.photo("sample1.jpg", media.ONE_FACE_CROP)] * 10,
                                   "mpeg4"),
    }
    (folder / "notes.mp4").write_text("not a video at all\n")
    made["text"] = folder / "notes.mp4"
    (folder / "empty.webm").write_bytes(b"")
    made["empty"] = folder / "empty.webm"
    data = made["mp4"].read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 3])
    made["cut"] = folder / "cut.mp4"
    return made


def analyse(app, path, every: str | None = None, timeout=120_000) -> dict:
    if every:
        app.page.select_option("#video-every", every)
    app.page.set_input_files("#video-file", str(path))
    app.page.wait_for_function(DONE, arg=path.name, timeout=timeout)
    return app.results()


def download(app, selector: str) -> bytes:
    with app.page.expect_download() as info:
        app.page.click(selector)
    return open(info.value.path(), "rb").read()


def test_a_video_is_analysed_charted_and_downloaded(open_app, videos):
    app = open_app("", video=None)
    app.wait_state("ready")
    page = app.page
    page.evaluate("""() => { window.__progress = []; new MutationObserver(() => { try {
        const r = JSON.parse(document.getElementById('results').textContent);
        if (r.source === 'video') window.__progress.push(r.progress); } catch (e) {} })
        .observe(document.getElementById('results'), {childList: true, characterData: true, subtree: true}); }""")
    result = analyse(app, videos["webm"])
    assert result["done"] and not result.get("error") and not result["cancelled"]
    fps = 30
    total = (media.FACE_SECONDS + media.EMPTY_SECONDS) * fps
    assert result["frames_analysed"] == total
    progress = page.evaluate("window.__progress")
    assert any(0 < p < 1 for p in progress) and progress[-1] == 1, progress
    summary = result["summary"]
    assert (summary["frames"], summary["analysed_frames"]) == (total, total)
    assert list(summary["faces"]) == ["1"], "one face, one id for the whole video"
    face = summary["faces"]["1"]
    assert face["share"]["happy"] > 0.9 and face["frames"] == media.FACE_SECONDS * fps
    assert face["first_s"] == 0.0 and face["last_s"] == pytest.approx(media.FACE_SECONDS - 1 / fps, abs=0.002)
    assert "Analysed 90 frames of smile.webm" in page.text_content("#video-status")

    # The chart: a lane painted in the happy colour; the summary table; the cursor from the keyboard.
    page.focus("#video-timeline")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('video-readout').textContent !== ''")  # the worker's answer
    readout = page.text_content("#video-readout")
    assert readout.startswith("0:00") and "Person 1: happy" in readout, readout
    happy = tuple(int(EMOTION.label("happy").color[i:i + 2], 16) for i in (1, 3, 5))
    painted = page.evaluate("""() => { const c = document.getElementById('video-timeline');
        const d = c.getContext('2d').getImageData(Math.round(c.width * 0.3), 2, 1, 1).data; return [d[0], d[1], d[2]]; }""")
    assert max(abs(a - b) for a, b in zip(painted, happy)) < 30, painted
    assert "Person 1" in page.text_content("#video-summary")
    page.evaluate("document.getElementById('video-section').scrollIntoView()")
    app.screenshot("video.png")

    # The CSV: the face segment labelled, nothing in the face-free segment.
    rows = list(csv.DictReader(io.StringIO(download(app, "#video-csv").decode())))
    assert list(rows[0])[:9] == ["time_s", "frame", "face_id", "person_id", "x", "y", "w", "h", "emotion"]
    assert list(rows[0])[9:] == list(EMOTION.label_names)
    assert {r["person_id"] for r in rows} == {"1"}
    assert len(rows) == media.FACE_SECONDS * fps
    assert all(float(r["time_s"]) < media.FACE_SECONDS for r in rows)
    assert {r["emotion"] for r in rows} == {"happy"} and {r["face_id"] for r in rows} == {"1"}
    box = [float(rows[30][k]) for k in ("x", "y", "w", "h")]
    assert iou(box, media.ONE_FACE_BOX) >= 0.35, box
    # The JSON: the same rows, metadata and summary.
    data = json.loads(download(app, "#video-json"))
    meta = data["metadata"]
    assert meta["file"] == "smile.webm" and meta["duration_s"] == pytest.approx(3.0, abs=0.05)
    assert meta["frame_rate"] == pytest.approx(30, abs=0.5) and meta["frames"] == total
    assert meta["model"]["id"] == EMOTION.id and all(len(h) == 64 for h in meta["model"]["files"].values())
    assert meta["moodlens"] and meta["settings"]["every"] == 1 and "smoothing" in meta["settings"]
    assert len(data["rows"]) == len(rows) and data["summary"]["faces"]["1"]["frames"] == len(rows)


def test_an_mp4_every_fifth_frame_and_a_group(open_app, videos):
    app = open_app("", video=None)
    app.wait_state("ready")
    result = analyse(app, videos["mp4"], every="5")
    assert result["frames_analysed"] == 90 // 5 and result["summary"]["faces"]["1"]["share"]["happy"] > 0.9
    result = analyse(app, videos["group"], every="1")
    assert len(result["summary"]["faces"]) == len(media.GROUP_FACE_CENTRES), result["summary"]["faces"].keys()
    people = result["summary"]["people"]
    assert len(people) == len(media.GROUP_FACE_CENTRES), "four women, four people: none merged"
    assert all(f["frames"] == 60 for f in result["summary"]["faces"].values()), "each face keeps its id"


def test_cancel_stops_and_keeps_what_was_analysed(open_app, videos):
    app = open_app("", video=None)
    app.wait_state("ready")
    page = app.page
    page.set_input_files("#video-file", str(videos["long"]))
    page.wait_for_function("() => (() => { try { const r = JSON.parse(document.getElementById('results').textContent);"
                           " return r.source === 'video' && r.frames_analysed >= 20; } catch (e) { return false; } })()")
    assert page.is_enabled("#video-cancel")
    page.click("#video-cancel")
    page.wait_for_function(DONE, arg="long.webm")
    result = app.results()
    assert result["cancelled"] and 20 <= result["frames_analysed"] < 360
    assert "Cancelled after" in page.text_content("#video-status")
    rows = list(csv.DictReader(io.StringIO(download(app, "#video-csv").decode())))
    assert rows and len(rows) <= result["frames_analysed"]
    assert page.is_enabled("#video-file") and page.is_hidden("#video-progress")


@pytest.mark.parametrize("name, fragments", [
    ("text", ("notes.mp4", "not a video this browser can read")),
    ("empty", ("empty.webm", "is empty")),
    ("cut", ("cut.mp4",)),
    ("mpeg4", ("old-codec.mp4", "cannot decode its video")),
])
def test_a_bad_video_is_explained_and_the_page_keeps_working(open_app, videos, name, fragments):
    app = open_app("", video=None)
    app.wait_state("ready")
    page = app.page
    result = analyse(app, videos[name])
    status = page.text_content("#video-status")
    for fragment in fragments:
        assert fragment in status, status
    assert page.evaluate("document.getElementById('video-status').classList.contains('error')") or \
        name == "cut" and result["frames_analysed"] > 0, (status, result)
    assert result.get("error") or name == "cut", result
    assert page.is_enabled("#video-file") and app.state() == "ready"
    assert analyse(app, videos["webm"])["frames_analysed"] == 90  # the next video goes through


def test_a_4k_video_is_analysed_downscaled_with_boxes_in_its_own_pixels(open_app, videos):
    app = open_app("", video=None)
    app.wait_state("ready")
    analyse(app, videos["4k"])
    status = app.page.text_content("#video-status")
    assert "3840×2880; analysed at 1920×1440" in status, status
    rows = list(csv.DictReader(io.StringIO(download(app, "#video-csv").decode())))
    box = [float(rows[-1][k]) for k in ("x", "y", "w", "h")]
    assert iou(box, [v * 6 for v in media.ONE_FACE_BOX]) >= 0.35, box


def test_the_live_session_is_charted_and_downloadable(open_app):
    app = open_app()
    app.wait_state("running")
    page = app.page
    page.wait_for_selector("#live-result:not([hidden])")
    app.wait_frames(15)
    rows = list(csv.DictReader(io.StringIO(download(app, "#live-csv").decode())))
    assert len(rows) >= 10 and {r["emotion"] for r in rows} == {"happy"} and {r["face_id"] for r in rows} == {"1"}
    data = json.loads(download(app, "#live-json"))
    assert data["metadata"]["source"] == "camera" and data["summary"]["faces"]["1"]["share"]["happy"] > 0.9
    # A model switch keeps the face's id (and, with the same labels, the session's rows).
    page.select_option("#model", "oarriaga-emotion")
    page.wait_for_function("() => JSON.parse(document.getElementById('results').textContent).model === 'oarriaga-emotion'")
    assert [f["id"] for f in app.wait_frames(app.results()["frame"] + 3)["faces"]] == [1]
    rows_after = list(csv.DictReader(io.StringIO(download(app, "#live-csv").decode())))
    assert len(rows_after) > len(rows) and {r["face_id"] for r in rows_after} == {"1"}


def test_build_py_analyse_writes_three_files_per_video_and_reports_a_broken_one(videos, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "moodlens_tools.analyse", str(videos["webm"]), str(videos["mp4"]),
                           str(videos["text"]), "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=media.ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED notes.mp4" in done.stdout and "not a video this browser can read" in done.stdout, done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "people.json", "smile-h264-timeline.png", "smile-h264.csv", "smile-h264.json", "smile-timeline.png", "smile.csv", "smile.json"]
    for stem, file in (("smile", "smile.webm"), ("smile-h264", "smile-h264.mp4")):
        data = json.loads((out / f"{stem}.json").read_text())
        assert data["metadata"]["file"] == file and data["summary"]["analysed_frames"] == 90
        rows = list(csv.DictReader(open(out / f"{stem}.csv")))
        assert len(rows) == 60 and {r["emotion"] for r in rows} == {"happy"}
        assert all(float(r["time_s"]) < media.FACE_SECONDS for r in rows)
        assert Image.open(out / f"{stem}-timeline.png").size[0] >= 800
