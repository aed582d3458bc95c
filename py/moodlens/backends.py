"""Which TF.js backend runs the models: ranked from timings taken in the visitor's own browser.

Contract: the browser probes its capabilities once (``browser/env.py``) and times the real
models on each backend that initialises (``browser/registry.py``); this module, pure Python, says
which backends to try and in what order, when a trial can stop early, which backend wins and
why, and how the choice is remembered for later visits.

    >>> caps = Capabilities(webgl="webgl2", webgl_renderer="Apple GPU", wasm=True)
    >>> candidates(caps)
    ('wasm', 'webgl', 'cpu')
    >>> trials = [Trial("wasm", emotion_ms=3.1, detector_ms=8.2), Trial("webgl", emotion_ms=34.0),
    ...           Trial("cpu", error="did not initialise")]
    >>> choose(trials).backend
    'wasm'

Why time instead of trusting the renderer's name: WebKit reports every WebGL renderer as
"Apple GPU", so a software renderer (llvmpipe) cannot be told from a GPU by name, and there
WebGL ran these models ten times slower than the wasm backend. Names that do say "software"
(SwiftShader, llvmpipe, Microsoft Basic Render) still put WebGL last.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .config import BACKENDS  # the one list of TF.js backends (?backend= checks it too)

SOFTWARE_NAMES = {"swiftshader": "SwiftShader", "llvmpipe": "llvmpipe", "softpipe": "softpipe",
                  "basic render": "Microsoft Basic Render", "software": "a software renderer"}
SOFTWARE_RENDERERS = tuple(SOFTWARE_NAMES)
STORAGE_KEY = "moodlens.backend"  # localStorage: the last choice, for this TF.js and this browser


@dataclass(frozen=True)
class Capabilities:
    """What the browser offers, probed once at start-up (``browser/env.py``)."""

    webgl: str | None = None  # "webgl2", "webgl" or None: no context could be made
    webgl_renderer: str = ""  # the unmasked renderer where the browser tells it
    wasm: bool = True
    wasm_simd: bool = False
    video_frame_callback: bool = True  # HTMLVideoElement.requestVideoFrameCallback
    offscreen_canvas: bool = False
    performance_memory: bool = False  # Chrome's performance.memory
    jspi: bool = False  # WebAssembly JS Promise Integration (hidden from Pyodide by boot.js)
    face_detector: bool = False  # the Shape Detection API's FaceDetector
    video_frame_copy: bool = False  # WebCodecs' VideoFrame (copyTo is tried, the canvas is the fallback)
    user_agent: str = ""

    @property
    def software_webgl(self) -> bool:
        renderer = self.webgl_renderer.lower()
        return any(word in renderer for word in SOFTWARE_RENDERERS)

    def to_json(self) -> dict:
        return {
            "webgl": self.webgl, "webgl_renderer": self.webgl_renderer, "software_webgl": self.software_webgl,
            "wasm": self.wasm, "wasm_simd": self.wasm_simd, "video_frame_callback": self.video_frame_callback,
            "offscreen_canvas": self.offscreen_canvas, "performance_memory": self.performance_memory,
            "jspi": self.jspi, "face_detector": self.face_detector, "video_frame_copy": self.video_frame_copy,
        }


@dataclass(frozen=True)
class Trial:
    """One backend's timing with the real models: milliseconds per call, one face, after a
    warm-up call. ``detector_ms`` is None when the trial stopped after the emotion model
    (it was already slower than the best whole pass) or failed (``error``)."""

    backend: str
    emotion_ms: float | None = None
    detector_ms: float | None = None
    error: str | None = None
    skipped: str | None = None  # why it was not timed at all

    @property
    def total_ms(self) -> float | None:
        if self.emotion_ms is None or self.detector_ms is None:
            return None
        return self.emotion_ms + self.detector_ms

    def describe(self) -> str:
        if self.skipped:
            return f"{self.backend} not timed ({self.skipped})"
        if self.error:
            return f"{self.backend} failed ({self.error})"
        if self.total_ms is not None:
            return f"{self.backend} {self.total_ms:.1f} ms"
        return f"{self.backend} {self.emotion_ms:.1f} ms for the emotion model alone"


@dataclass(frozen=True)
class Choice:
    """The backend in use, how it was chosen (``measured``, ``only`` when nothing else was worth
    timing, ``remembered``, ``forced`` or ``fallback``) and a sentence saying why, for the page and
    ``#results.diagnostics``."""

    backend: str
    how: str
    reason: str
    trials: tuple[Trial, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"backend": self.backend, "how": self.how, "reason": self.reason,
                "trials_ms": {t.backend: round(t.total_ms, 1) if t.total_ms is not None else None
                              for t in self.trials}}


def candidates(caps: Capabilities, forced: str | None = None, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Backends to try, best guess first. wasm leads: it runs these small models well on every
    CPU and makes the baseline the others must beat. WebGL follows where a context can be made,
    last when its renderer says it is software; cpu (plain JavaScript) comes last. A forced
    backend goes first and the others stay as fallbacks."""
    order = ["wasm"] if caps.wasm else []
    if caps.webgl:
        order.append("webgl")
    order.append("cpu")
    if caps.software_webgl and "webgl" in order:
        order.remove("webgl")
        order.append("webgl")
    if forced in BACKENDS:
        order = [forced] + [b for b in order if b != forced]
    return tuple(b for b in order if b not in skip)


def chosen_without_timing(first: str, forced: str | None, remembered: Choice | None,
                          failed: list[Trial]) -> Choice | None:
    """The choice when nothing needs timing, given ``first``, the first backend of
    ``candidates(caps, forced or remembered)`` that initialised (``failed``: those before it).
    ``?backend=`` forced one: ``first`` (the forced one, or the next that works when it did not
    initialise). A choice remembered from an earlier visit: kept while it still initialises.
    None: the backends are timed."""
    if forced:
        if first == forced:
            return Choice(first, "forced", "chosen with ?backend=")
        return Choice(first, "fallback", f"?backend={forced} is not available here ({failed[0].error}); "
                                         "the next that works")
    if remembered is not None and first == remembered.backend:
        return remembered
    return None


def to_time_after(first: str, order: tuple[str, ...], excluded: list[Trial]) -> tuple[str, ...]:
    """The backends a trial times after ``first``: those after it in ``order``, but for the excluded."""
    left_out = {t.backend for t in excluded}
    return tuple(b for b in order[order.index(first) + 1:] if b not in left_out)


def excluded_from_trial(caps: Capabilities) -> list[Trial]:
    """Backends left out of the trial before it starts, each as a skipped Trial: WebGL whose
    renderer names itself software. Compiling its shaders alone took seconds on SwiftShader
    (Chromium without a GPU), and it ran these models 4-6x slower than wasm; a first visit
    should not pay for that. (A masked renderer such as WebKit's "Apple GPU" is timed: only
    timing can tell.)"""
    if caps.webgl and caps.software_webgl:
        renderer = caps.webgl_renderer.lower()
        name = next(n for w, n in SOFTWARE_NAMES.items() if w in renderer)
        return [Trial("webgl", skipped=f"its renderer is {name}, in software")]
    return []


def not_worth_timing(name: str, caps: Capabilities, trials: list[Trial]) -> Trial | None:
    """``name`` as a skipped Trial when it is not worth timing after ``trials``; None: time it. cpu
    (TF.js's plain-JavaScript kernels) is not timed once wasm with SIMD has run the models: it
    never came close in any engine measured (docs/browsers.md: 3-7x slower than wasm in
    Chromium, Firefox and WebKit), and timing it cost a first visit 0.1-0.3 s. Without SIMD,
    or when wasm failed, it is timed."""
    if name == "cpu" and caps.wasm_simd and any(t.backend == "wasm" and t.total_ms is not None for t in trials):
        return Trial("cpu", skipped="far slower than wasm with SIMD wherever measured")
    return None


def only_backend_worth_timing(first: str, rest: tuple[str, ...], caps: Capabilities,
                              left_out: list[Trial]) -> Choice | None:
    """``first`` as the choice when it has nothing to be compared with: every backend in
    ``rest`` would be skipped by ``not_worth_timing`` once ``first`` has run the models (wasm
    with SIMD, with WebGL in software or missing: Chromium and Firefox without a GPU). Timing
    one backend alone decides nothing, and it cost a first visit eight timed calls and a wait
    for the app's imports (about 0.1 s). ``left_out``: the backends that failed or were
    excluded, for the reason. None: a trial is needed."""
    ran = [Trial(first, emotion_ms=0.0, detector_ms=0.0)]  # what not_worth_timing() sees once it has run
    after = [not_worth_timing(name, caps, ran) for name in rest]
    if any(skip is None for skip in after):
        return None
    trials = (*left_out, *after)
    reason = "the only backend worth timing here" + (f": {'; '.join(t.describe() for t in trials)}" if trials else "")
    return Choice(first, "only", reason, trials)


def worth_finishing(emotion_ms: float, trials: list[Trial]) -> bool:
    """Go on to time the detector only if the emotion model alone is faster than the best
    whole pass so far: otherwise this backend cannot win."""
    best = min((t.total_ms for t in trials if t.total_ms is not None), default=None)
    return best is None or emotion_ms < best


def choose(trials: list[Trial]) -> Choice:
    """The fastest whole pass (detector + emotion model); ValueError when none finished."""
    finished = [t for t in trials if t.total_ms is not None]
    if not finished:
        raise ValueError("no backend ran the models: " + "; ".join(t.describe() for t in trials))
    best = min(finished, key=lambda t: t.total_ms)
    others = [t.describe() for t in trials if t is not best]
    reason = f"fastest measured here: {best.describe()}" + (f" (vs {', '.join(others)})" if others else "")
    return Choice(best.backend, "measured", reason, tuple(trials))


def memory_key(tfjs_version: str, user_agent: str) -> str:
    """A remembered choice holds for one TF.js version in one browser build."""
    return f"{tfjs_version}/{hashlib.sha256(user_agent.encode()).hexdigest()[:12]}"


def remember(choice: Choice, key: str) -> str:
    """The localStorage value for a measured choice: short, numbers and names only."""
    timings = {t.backend: round(t.total_ms if t.total_ms is not None else -1.0, 1)  # -1: slower, not finished
               for t in choice.trials if t.emotion_ms is not None}
    return json.dumps({"key": key, "backend": choice.backend, "ms": timings}, separators=(",", ":"))


def recall(text: str | None, key: str) -> Choice | None:
    """The remembered choice if it was made for this key; None for anything else (another TF.js
    or browser version, a value from an older Moodlens, or garbage)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        backend, timings = data["backend"], data["ms"]
        if data["key"] != key or backend not in BACKENDS or not isinstance(timings, dict):
            return None
        measured = ", ".join(f"{b} {ms:.1f} ms" if ms >= 0 else f"{b} slower" for b, ms in timings.items()
                             if b in BACKENDS and isinstance(ms, int | float))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Choice(backend, "remembered", f"fastest when measured on an earlier visit ({measured})")
