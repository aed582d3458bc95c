"""URL parameters, parsed and clamped in one place.

Contract: a query string (``location.search``) -> a frozen :class:`Config` plus human-readable
notes for every value that was out of range, malformed or unknown. Nothing here raises on
user input: a bad value is clamped or ignored and the note says which.

    >>> cfg = parse("?max_faces=99&smoothing=abc", models=["oarriaga-emotion"])
    >>> cfg.max_faces, cfg.smoothing, len(cfg.notes)
    (20, 0.6, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import parse_qs

BACKENDS = ("webgl", "wasm", "cpu")
DETECTORS = ("native", "blazeface")


@dataclass(frozen=True)
class Param:
    """One URL parameter: what docs/url-parameters.md's table says about it."""

    name: str
    default: object
    description: str
    lo: float | None = None
    hi: float | None = None


PARAMS = (
    Param("autostart", False, "`1` starts the camera without a click (kiosks, tests)."),
    Param("model", None, "Emotion model id from `models/` (default: the first listed in `models/index.json`)."),
    Param("backend", None, "Force a TF.js backend: `webgl`, `wasm` or `cpu` (default: the fastest measured in "
          "this browser on the first visit, then remembered)."),
    Param("detector", None, "`native` (browser FaceDetector) or `blazeface` (default: native where the browser has it)."),
    Param("max_faces", 5, "Most faces handled per frame.", 1, 20),
    Param("smoothing", 0.6, "Score smoothing, 0 = raw scores; higher = steadier, slower to change.", 0.0, 1.0),
    Param("detect_every", 2, "Find faces on every Nth inference and follow the tracked boxes in between "
          "(`1` = detect on every frame; frames with no face are always searched).", 1, 10),
    Param("interval", None, "Least milliseconds between inferences (default: as often as the machine sustains).", 10, 1000),
    Param("mirror", True, "`0` shows the video unmirrored.",),
    Param("landmarks", False, "`1` draws facial landmarks (MediaPipe Face Mesh, 468 points) on every face."),
    Param("people", True, "`0` leaves faces unlinked: no face descriptors, no person ids (docs/people.md)."),
    Param("match", 0.32, "How alike two faces must be to be one person: the largest cosine distance between "
          "face descriptors that still links them (docs/people.md). Lower splits people more readily.", 0.05, 0.8),
    Param("debug", False, "`1` shows, per face, the exact input the emotion model receives, and counts live "
          "Pyodide proxies (`py_proxies` in `#results`)."),
)
_BY_NAME = {p.name: p for p in PARAMS}


@dataclass(frozen=True)
class Config:
    autostart: bool = False
    model: str | None = None
    backend: str | None = None
    detector: str | None = None
    max_faces: int = 5
    smoothing: float = 0.6
    detect_every: int = 2
    interval_ms: int | None = None
    mirror: bool = True
    landmarks: bool = False
    people: bool = True
    match: float = 0.32
    debug: bool = False
    notes: tuple[str, ...] = field(default=())


def parse(query: str, models: list[str] | tuple[str, ...] = ()) -> Config:
    """Parse ``?a=b&...``; ``models`` are the ids that ``?model=`` may name."""
    raw = {k: v[-1].strip() for k, v in parse_qs(query.lstrip("?"), keep_blank_values=True).items()}
    notes: list[str] = []
    values: dict[str, object] = {}

    for name in ("autostart", "mirror", "landmarks", "people", "debug"):
        if name in raw:
            flag = _flag(raw[name])
            if flag is None:
                notes.append(f"?{name}={raw[name]!s} is not 1 or 0; ignored.")
            else:
                values[name] = flag

    for name, options in (("backend", BACKENDS), ("detector", DETECTORS), ("model", tuple(models))):
        if name in raw and raw[name]:
            if raw[name] in options:
                values[name] = raw[name]
            else:
                notes.append(f"?{name}={raw[name]!s} is unknown (choose {', '.join(options)}); using the default.")

    for name, key, cast in (
        ("max_faces", "max_faces", int),
        ("smoothing", "smoothing", float),
        ("detect_every", "detect_every", int),
        ("interval", "interval_ms", int),
        ("match", "match", float),
    ):
        if name in raw:
            value = _number(raw[name], _BY_NAME[name], notes, cast)
            if value is not None:
                values[key] = value

    unknown = sorted(set(raw) - set(_BY_NAME))
    if unknown:
        notes.append(f"Unknown URL parameter(s) ignored: {', '.join(unknown)}.")
    return Config(**values, notes=tuple(notes))


def _flag(text: str) -> bool | None:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    return None


def _number(text: str, param: Param, notes: list[str], cast):
    try:
        value = float(text)
    except ValueError:
        notes.append(f"?{param.name}={text!s} is not a number; using the default.")
        return None
    if not math.isfinite(value):
        notes.append(f"?{param.name}={text!s} is not a finite number; using the default.")
        return None
    clamped = min(max(value, param.lo), param.hi)
    if cast is int:
        clamped = int(round(clamped))
    if clamped != value:
        notes.append(f"?{param.name}={text!s} is outside {_fmt(param.lo)}–{_fmt(param.hi)}; using {clamped}.")
    return cast(clamped)


def _fmt(x: float) -> str:
    return f"{x:g}"
