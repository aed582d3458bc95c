"""Photo mode: pictures chosen or dropped, analysed on the device, one message per bad file."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from . import media

SAMPLE6 = media.SAMPLES / "sample6.jpg"
# The group video is sample6 cropped at GROUP_CROP and shrunk to 640 px wide: the hand-marked
# face centres of the video, in the photo's own pixels.
_scale = (media.GROUP_CROP[2] - media.GROUP_CROP[0]) / media.WIDTH
SAMPLE6_CENTRES = [(media.GROUP_CROP[0] + x * _scale, media.GROUP_CROP[1] + y * _scale)
                   for x, y in media.GROUP_FACE_CENTRES]


def photos(app, files, timeout=120_000) -> list[dict]:
    app.page.set_input_files("#photos", [str(f) for f in files])
    return wait_photos(app, len(files), timeout)


def wait_photos(app, count, timeout=120_000) -> list[dict]:
    app.page.wait_for_function(
        f"() => (() => {{ try {{ return JSON.parse(document.getElementById('results').textContent).photos.length === {count}; }}"
        " catch (e) { return false; } })()", timeout=timeout)
    return app.results()["photos"]


def centre(box):
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def test_every_face_of_a_group_photo_is_boxed_scored_and_downloadable(open_app):
    app = open_app("", video=None)
    app.wait_state("ready")
    [entry] = photos(app, [SAMPLE6])
    assert (entry["file"], entry["width"], entry["height"]) == ("sample6.jpg", 1920, 1537)
    faces = entry["faces"]
    assert len(faces) == 4
    for x, y in SAMPLE6_CENTRES:  # every marked face has a box centred on it (within a fifth of a face)
        assert min(np.hypot(*(np.subtract(centre(f["box"]), (x, y)))) for f in faces) < 60, (x, y, faces)
    for f in faces:
        assert list(f["scores"]) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        assert sum(f["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    assert app.page.locator(".photo table tr").count() == 1 + 4
    link = app.page.locator(".photo a[download]")
    link.wait_for()
    assert link.get_attribute("download") == "sample6-moodlens.png"
    with app.page.expect_download() as download:
        link.click()
    png = open(download.value.path(), "rb").read()
    assert download.value.suggested_filename == "sample6-moodlens.png"
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1920 and int.from_bytes(png[20:24], "big") == 1537
    app.screenshot("photos.png", full_page=True)
    assert not app.console_errors


def test_bad_files_and_faceless_pictures_are_explained_and_the_rest_go_through(open_app, tmp_path):
    no_face = tmp_path / "stairs.png"
    media.photo("sample5.jpg", media.NO_FACE_CROP).save(no_face)
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes((media.SAMPLES / "sample1.jpg").read_bytes()[:2000])
    app = open_app("", video=None)
    app.wait_state("ready")
    entries = photos(app, [no_face, text, truncated, media.SAMPLES / "sample1.jpg"])
    by_file = {e["file"]: e for e in entries}
    assert by_file["stairs.png"]["faces"] == [] and "stairs.png: no face found." in by_file["stairs.png"]["notes"]
    for name in ("notes.jpg", "cut.jpg"):
        assert "not a picture this browser or Pillow can read" in by_file[name]["error"], by_file[name]
    assert len(by_file["sample1.jpg"]["faces"]) == 3
    errors = app.page.locator(".photo .error").all_inner_texts()
    assert len(errors) == 2 and all("not a picture" in e for e in errors)
    assert app.state() == "ready" and app.status() == "Analysed 4 pictures."


def test_a_huge_picture_is_shrunk_with_a_note_and_boxes_stay_in_its_pixels(open_app, tmp_path):
    huge = tmp_path / "huge.png"
    Image.open(SAMPLE6).convert("RGB").resize((6000, 4803)).save(huge, compress_level=1)
    app = open_app("", video=None)
    app.wait_state("ready")
    [entry] = photos(app, [huge])
    assert (entry["width"], entry["height"]) == (6000, 4803)
    assert "huge.png is 6000×4803 pixels; analysed at 4096×3279" in " ".join(entry["notes"])
    factor = 6000 / 1920
    assert len(entry["faces"]) == 4
    for x, y in SAMPLE6_CENTRES:
        assert min(np.hypot(*(np.subtract(centre(f["box"]), (x * factor, y * factor)))) for f in entry["faces"]) < 200


def test_a_dropped_picture_is_analysed(open_app):
    app = open_app("", video=None)
    app.wait_state("ready")
    data = base64.b64encode((media.SAMPLES / "sample1.jpg").read_bytes()).decode()
    app.page.evaluate("""(data) => {
      const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
    }""", data)
    [entry] = wait_photos(app, 1)
    assert entry["file"] == "dropped.jpg" and len(entry["faces"]) == 3
    assert app.foreign_requests() == []
