"""`build.py train`: a labelled folder -> a model folder the page, analyse and evaluate use.

The folders are made from real faces (tests/e2e/media.py: three people of the face-api demo
photos as three labels, each crop a little different). The reference for the page's outputs is
the trained Keras model itself (model.h5 in the folder), fed the input the page's own
preprocessing makes from the same PNG.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from moodlens import manifest as manifests
from moodlens import preprocess
from moodlens_build.paths import ROOT
from moodlens_tools import model_choice

from . import media

LABELS = sorted(media.TRAIN_FACES)


def train(data, out, *options, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "build.py"), "train", str(data), "--out", str(out), *options],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Three people, 24 face crops each, plus a damaged picture and a file that is no picture."""
    root = tmp_path_factory.mktemp("train")
    data = media.labelled_faces(root / "faces")
    (data / "ann" / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (data / "bea" / "notes.txt").write_text("not a picture")
    done = train(data, root / "people-model", "--epochs", "25", "--seed", "3", "--name", "Three people (test)")
    assert done.returncode == 0, done.stdout + done.stderr
    return root, data, root / "people-model", done


def test_training_reports_per_epoch_and_beats_chance_on_held_out_faces(trained):
    _, _, folder, done = trained
    epochs = [line for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert epochs and all("validation loss" in line and "left" in line for line in epochs)
    report = json.loads((folder / "report.json").read_text())
    # Of each label's 24 pictures: 4 held out for the report (15 %), 4 of the rest for validation (20 %).
    assert report["labels"] == LABELS and report["evaluated"] == 12
    assert report["accuracy"] >= 0.8, report["accuracy"]  # chance: 1/3
    t = report["training"]
    assert t["pictures_per_label"] == {"ann": 16, "bea": 16, "cat": 16}
    assert not set(t["held_out_files"]) & set(t["validation_files"]) and len(t["validation_files"]) == 12
    assert 1 <= t["best_epoch"] <= t["epochs"] <= 25 and len(t["history"]["val_loss"]) == t["epochs"]
    assert t["best_epoch"] == int(np.argmin(t["history"]["val_loss"])) + 1
    # Unreadable files are listed, and the rest trained.
    assert {f["file"] for f in report["failures"]} == {"ann/damaged.png", "bea/notes.txt"}
    assert "ann/damaged.png" in done.stderr and "bea/notes.txt" in done.stderr
    for name in ("model.json", "weights.bin", "model.h5", "summary.md"):
        assert (folder / name).stat().st_size > 0
    for name in ("confusion.png", "curves.png"):
        assert Image.open(folder / name).size[0] > 400
    summary = (folder / "summary.md").read_text()
    assert "Held-out" in summary and "| cat |" in summary
    manifest = manifests.load(folder / "manifest.json")
    assert manifest.label_names == tuple(LABELS) and manifest.input.shape == (64, 64, 1)
    assert manifest.training.accuracy == report["accuracy"] and "Fine-tuned" in manifest.training.summary


def keras_inputs(folder, data, names):
    manifest = manifests.load(folder / "manifest.json")
    rgba = [np.asarray(Image.open(data / name).convert("RGBA")) for name in names]
    return np.concatenate([preprocess.face_batch(p, [(0.0, 0.0, float(p.shape[1]), float(p.shape[0]))],
                                                 manifest.input, manifest.crop_margin) for p in rgba])


def test_the_kept_weights_are_the_best_epochs(trained):
    """model.h5 gives the validation loss of the best epoch, not the last one's."""
    import tf_keras

    _, data, folder, _ = trained
    t = json.loads((folder / "report.json").read_text())["training"]
    names = t["validation_files"]
    x = keras_inputs(folder, data, names)
    y = np.array([LABELS.index(name.split("/")[0]) for name in names])
    model = tf_keras.models.load_model(folder / "model.h5", compile=False)
    loss = float(tf_keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0)).numpy().mean())
    loss += float(sum(model.losses))  # mini-XCEPTION's L2 penalties count in Keras's validation loss
    assert loss == pytest.approx(min(t["history"]["val_loss"]), rel=1e-3)
    if t["best_epoch"] < t["epochs"]:
        assert loss != pytest.approx(t["history"]["val_loss"][-1], rel=1e-3)


def test_the_page_runs_the_trained_model_as_keras_does_and_shows_its_training(open_app, trained, tmp_path):
    import tf_keras

    _, data, folder, _ = trained
    x = keras_inputs(folder, data, ["bea/03.png"])
    expected = tf_keras.models.load_model(folder / "model.h5", compile=False).predict(x, verbose=0)[0]

    app = open_app("", video=None, routes=[("**/__face__.png", lambda route: route.fulfill(
        path=str(data / "bea" / "03.png"), content_type="image/png"))])
    app.wait_state("ready")
    model_choice.use_folder(app, folder)
    entry = app.page.evaluate("async (url) => await window.moodlensAnalyse(url, 'face.png', true)",
                              f"{app.base}__face__.png")
    entry = json.loads(entry) if isinstance(entry, str) else entry
    got = np.array([entry["faces"][0]["scores"][label] for label in LABELS])
    assert np.abs(got - expected).max() < 1e-4, (got.tolist(), expected.tolist())
    assert entry["faces"][0]["emotion"] == "bea"

    details = app.page.locator("#model-details")
    details.locator("summary").click()
    assert "Three people (test)" in details.inner_text()
    assert "Held-out accuracy" in app.page.inner_text("#model-training")
    colors = app.page.eval_on_selector_all("#model-labels li", "els => els.map(e => getComputedStyle(e, '::before')"
                                                               ".backgroundColor)")
    assert app.page.inner_text("#model-labels").split() == [t for label in LABELS for t in (manifests.DEFAULT_EMOJI, label)]
    assert len(set(colors)) == len(LABELS)  # labels Moodlens does not know still get colours of their own
    app.screenshot("train-model-details.png", full_page=True)
    assert not app.console_errors


def test_analyse_with_the_trained_folder_names_each_person(trained, tmp_path):
    _, _, folder, _ = trained
    video = media.people_video(tmp_path / "two.webm", order=("a", "b"), gap=1.0)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "analyse", str(video), "--out", str(out),
                           "--model", str(folder), "--no-people"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(csv.DictReader(io.StringIO((out / "two.csv").read_text())))
    first = [r["emotion"] for r in rows if float(r["time_s"]) < 2.0]  # person A ("ann"), then the gap, then B
    second = [r["emotion"] for r in rows if float(r["time_s"]) >= 3.0]
    assert first and second
    assert first.count("ann") / len(first) >= 0.8 and second.count("bea") / len(second) >= 0.8, (first, second)


def test_evaluate_with_the_trained_folder_agrees_with_the_training_report(trained, tmp_path):
    _, data, folder, _ = trained
    held_out = tmp_path / "held-out"
    report = json.loads((folder / "report.json").read_text())
    for label in LABELS:  # the held-out pictures the report is about, as a folder of their own
        (held_out / label).mkdir(parents=True)
    split = report["training"]["held_out_files"]
    for name in split:
        (held_out / name).write_bytes((data / name).read_bytes())
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "evaluate", str(held_out), "--model", str(folder),
                           "--cropped", "--out", str(tmp_path / "eval")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    evaluated = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert evaluated["evaluated"] == report["evaluated"] == len(split)
    # The browser pipeline and Keras agree within 1e-4 per score, so the predictions are the same.
    assert evaluated["confusion_matrix"] == report["confusion_matrix"]


def test_detect_crops_whole_pictures_with_the_pages_detector(tmp_path):
    data = media.labelled_pictures(tmp_path / "pictures", per_label=14)
    media.photo("sample5.jpg", media.NO_FACE_CROP).save(data / "cat" / "stairs.jpg")
    done = train(data, tmp_path / "detected", "--detect", "--epochs", "20", "--seed", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "detected" / "report.json").read_text())
    assert report["failures"] == [{"file": "cat/stairs.jpg", "reason": "no face found"}]
    assert "cat/stairs.jpg: no face found" in done.stderr
    assert report["evaluated"] == 6 and report["accuracy"] >= 2 / 3, report  # chance: 1/3


@pytest.mark.parametrize("case, message", [
    ("one label", "needs at least 2 label folders"),
    ("few pictures", "each label needs at least 10 pictures"),
    ("out exists", "exists; choose another --out, or add --force"),
    ("bad option", "--val-split is a share of each label's pictures"),
    ("unreadable label", "each label needs at least 10 usable pictures; too few in cat/ (0)"),
    ("out inside the pictures", "is inside the pictures"),
])
def test_bad_input_is_refused_with_a_message(tmp_path, case, message):
    data = tmp_path / "data"
    media.labelled_faces(data, per_label=12)
    out, options = tmp_path / "model", []
    if case == "one label":
        for label in ("bea", "cat"):
            for p in (data / label).iterdir():
                p.unlink()
            (data / label).rmdir()
    elif case == "few pictures":
        for p in sorted((data / "cat").iterdir())[3:]:
            p.unlink()
    elif case == "out exists":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "unreadable label":
        for p in (data / "cat").iterdir():
            p.write_bytes(b"not a png")
    elif case == "out inside the pictures":
        out = data / "model"
        options = ["--force"]
    else:
        options = ["--val-split", "0.9"]
    done = train(data, out, *options, timeout=300)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    if case == "few pictures":
        assert "cat/ (3)" in done.stderr
    if case == "unreadable label":
        assert "train: left out cat/00.png: not a picture Pillow can read" in done.stderr
    if case == "out exists":
        assert (out / "keep.txt").read_text() == "mine"  # nothing of theirs is lost
    else:
        assert not out.exists()


def test_the_same_seed_gives_the_same_model(tmp_path):
    data = media.labelled_faces(tmp_path / "data", per_label=12)
    weights = []
    for run in ("first", "second"):
        done = train(data, tmp_path / run, "--epochs", "3", "--seed", "7")
        assert done.returncode == 0, done.stderr
        weights.append((tmp_path / run / "weights.bin").read_bytes())
    assert weights[0] == weights[1]


def test_the_start_model_keeps_its_head_for_its_own_labels_and_learns_a_new_one_otherwise():
    from moodlens_build.model_files import model_manifests, model_sources
    from moodlens_tools import train as training

    _, keras = training._keras()
    start = model_manifests([training.START_MODEL])[0]
    source = model_sources(start)["emotion_model.hdf5"]
    fer = keras.models.load_model(source, compile=False)
    own = list(start.label_names)
    kept, how = training.start_model(keras, source, own, own, from_scratch=False)
    assert "head" in how and kept.output_shape == (None, 7)
    assert all(np.array_equal(a, b) for a, b in zip(kept.get_weights(), fer.get_weights()))  # FER-2013's, all of them
    assert not any(layer.trainable for layer in kept.layers if isinstance(layer, keras.layers.BatchNormalization))
    new, how = training.start_model(keras, source, LABELS, own, from_scratch=False)
    assert "new head" in how and new.output_shape == (None, 3) and new.get_layer("head_conv")
    scratch, how = training.start_model(keras, source, LABELS, own, from_scratch=True)
    assert "fresh weights" in how
    first = next(layer for layer in scratch.layers if layer.get_weights())
    assert not np.array_equal(first.get_weights()[0], fer.get_layer(first.name).get_weights()[0])


def test_augmentation_keeps_faces_in_pixel_range_dark_and_light():
    """On face pixels (0-255) before normalisation: a dark half stays dark, a light half light."""
    from moodlens_tools import train as training

    _, keras = training._keras()
    batch = np.zeros((8, 64, 64, 1), np.float32)
    batch[:, :, 32:] = 255.0
    out = training.augmenter(keras, seed=3)(batch, training=True).numpy()
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert (out < 60).mean() > 0.3 and (out > 195).mean() > 0.3, "contrast and brightness must not wash a face out"
