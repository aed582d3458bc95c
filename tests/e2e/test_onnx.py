"""ONNX models in the page (onnxruntime-web), with valence and arousal, against onnxruntime.

The models are made by the tests with the ``onnx`` package (tests/onnx_models.py) and converted
with the command a person runs. The reference is onnxruntime under CPython, fed the model input
the page's own preprocessing makes from the same pixels (a PNG: decoded alike everywhere).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from moodlens import manifest as manifests
from moodlens import preprocess
from moodlens.pipeline import to_probabilities
from moodlens_build.paths import ROOT

from .. import onnx_models
from . import media

LABELS = onnx_models.HSEMOTION_LABELS
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def convert(source, out, *options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "build.py"), "convert", str(source), "--labels", ",".join(LABELS),
                           "--out", str(out), *options], capture_output=True, text=True)


@pytest.fixture(scope="module")
def onnx_folders(tmp_path_factory):
    """Two converted models: PyTorch-style (NCHW, RGB, ImageNet mean/std, 8 logits + valence +
    arousal, any batch) and TensorFlow-style (NHWC, grayscale, softmax, a fixed batch of 1)."""
    root = tmp_path_factory.mktemp("onnx")
    va = onnx_models.va_model(root / "va.onnx")
    done = convert(va, root / "hsemotion-like", "--name", "HSEmotion-like (test)", "--valence-output", "8",
                   "--arousal-output", "9", "--mean", ",".join(map(str, IMAGENET_MEAN)),
                   "--std", ",".join(map(str, IMAGENET_STD)), "--margin", "0.1")
    assert done.returncode == 0, done.stderr
    gray = onnx_models.va_model(root / "gray.onnx", size=64, seed=11, batch=1, layout="nhwc", channels=1, va=False)
    done = convert(gray, root / "gray-nhwc", "--name", "Grey NHWC (test)", "--mean", "0.5", "--std", "0.5")
    assert done.returncode == 0, done.stderr
    return {"hsemotion-like": (root / "hsemotion-like", va), "gray-nhwc": (root / "gray-nhwc", gray)}


def own_files(folder) -> list[str]:
    return [str(p) for p in sorted(folder.iterdir())]


def use_own_model(app, folder) -> None:
    model_id = manifests.load(folder / "manifest.json").id
    app.page.wait_for_function("!document.getElementById('own-model').disabled", timeout=120_000)
    app.page.set_input_files("#own-model", own_files(folder))
    app.page.wait_for_function("id => { const m = document.getElementById('model'); return !m.disabled && "
                               "m.value === id; }", arg=model_id, timeout=120_000)


def face_png(path) -> Image.Image:
    image = media.photo("sample1.jpg", (1180, 110, 1820, 750), size=(160, 160))
    image.save(path)
    return image


def reference(model_path, manifest, image: Image.Image) -> np.ndarray:
    """What onnxruntime under CPython gives for the page's model input of this picture."""
    import onnxruntime

    rgba = np.asarray(image.convert("RGBA"))
    h, w = rgba.shape[:2]
    batch = preprocess.face_batch(rgba, [(0.0, 0.0, float(w), float(h))], manifest.input, manifest.crop_margin)
    x = batch.transpose(0, 3, 1, 2) if manifest.input.layout == "nchw" else batch
    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x, np.float32)})[0]
    return to_probabilities(out, manifest)[0]


@pytest.mark.parametrize("name", ["hsemotion-like", "gray-nhwc"])
def test_the_page_matches_onnxruntime_on_the_same_model_input(open_app, onnx_folders, tmp_path, name):
    folder, source = onnx_folders[name]
    manifest = manifests.load(folder / "manifest.json")
    image = face_png(tmp_path / "face.png")
    expected = reference(source, manifest, image)

    app = open_app("", video=None, routes=[("**/__face__.png", lambda route: route.fulfill(
        path=str(tmp_path / "face.png"), content_type="image/png"))])
    app.wait_state("ready")
    use_own_model(app, folder)
    entry = app.page.evaluate("async (url) => await window.moodlensAnalyse(url, 'face.png', true)",
                              f"{app.base}__face__.png")
    entry = json.loads(entry) if isinstance(entry, str) else entry
    face = entry["faces"][0]
    got = [face["scores"][label] for label in LABELS] + [face[k] for k in manifest.regression_names]
    assert len(got) == manifest.outputs
    assert np.abs(np.asarray(got) - expected).max() < 1e-4, (got, expected.tolist())
    assert ("valence" in face) == (name == "hsemotion-like")  # never invented for a model without it
    assert not app.console_errors


def test_valence_and_arousal_on_the_camera_the_plane_and_the_timeline(open_app, onnx_folders):
    folder, _ = onnx_folders["hsemotion-like"]
    app = open_app("?autostart=1")
    app.wait_state("running")
    assert app.page.locator("#affect").is_hidden()  # the default model gives no valence
    use_own_model(app, folder)
    result = app.wait_result("r.model === 'hsemotion-like' && r.faces.length === 1", 60)
    result = app.wait_frames(result["frame"] + 5)
    face = result["faces"][0]
    assert -1 <= face["valence"] <= 1 and -1 <= face["arousal"] <= 1 and tuple(face["scores"]) == LABELS
    assert app.page.locator("#affect").is_visible()
    shown = float(app.page.inner_text("#valence"))
    assert abs(shown - app.results()["faces"][0]["valence"]) < 0.05  # the numbers follow the results
    cx = float(app.page.get_attribute("#affect-point", "cx"))
    assert abs(cx - max(-1, min(1, shown))) < 0.05
    assert len(app.page.get_attribute("#affect-trail", "points").split()) >= 2
    app.page.wait_for_function("!document.getElementById('live-result').hidden", timeout=30_000)
    assert app.page.locator("#live-extras").is_visible()
    summary = app.page.inner_text("#live-summary")
    assert "valence" in summary and "arousal" in summary
    app.page.focus("#live-timeline")  # the cursor's readout gives the moment's valence and arousal too
    app.page.keyboard.press("End")
    app.page.wait_for_function("() => document.getElementById('live-readout').textContent.includes('valence')")
    assert re.search(r"valence [+-]\d\.\d\d, arousal [+-]\d\.\d\d", app.page.text_content("#live-readout"))
    app.screenshot("onnx-valence-arousal.png", full_page=True)
    assert not app.console_errors


def test_start_up_loads_no_onnx_runtime(open_app):
    """A visitor who never picks an ONNX model never fetches onnxruntime-web."""
    app = open_app("?autostart=1")
    app.wait_state("running")
    app.wait_result("r.faces && r.faces.length === 1 && r.faces[0].person_id !== null", 60)
    assert not [u for u in app.requests + app.worker_requests if "/vendor/ort/" in u]


def test_analyse_with_a_model_folder_writes_valence_and_arousal(onnx_folders, tmp_path):
    folder, _ = onnx_folders["hsemotion-like"]
    video = media.face_then_empty(tmp_path / "face.webm", seconds=1.5)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "analyse", str(video), "--out", str(out),
                           "--model", str(folder), "--no-people"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(csv.DictReader(io.StringIO((out / "face.csv").read_text())))
    assert rows and list(rows[0])[-10:] == [*LABELS, "valence", "arousal"]
    assert all(-1 <= float(r["valence"]) <= 1 for r in rows)
    data = json.loads((out / "face.json").read_text())
    assert data["regressions"] == ["valence", "arousal"] and data["metadata"]["model"]["id"] == "hsemotion-like"
    face = next(iter(data["summary"]["faces"].values()))
    assert face["valence"]["min"] <= face["valence"]["mean"] <= face["valence"]["max"]
    assert (out / "face-timeline.png").stat().st_size > 10_000


def test_bad_model_folders_are_refused_with_a_reason(onnx_folders, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "manifest.json").write_text((onnx_folders["hsemotion-like"][0] / "manifest.json").read_text())
    video = media.face_then_empty(tmp_path / "face.webm", seconds=0.5)
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "analyse", str(video), "--out", str(tmp_path / "o"),
                           "--model", str(folder)], capture_output=True, text=True)
    assert done.returncode == 2 and "model.onnx missing" in done.stderr, done.stderr
