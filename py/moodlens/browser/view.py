"""What a person sees: state, progress, notes, boxes, emoji, bars and the mood colour.

    view = View(document)                    # the page, as remote.py mirrors it in the worker
    view.set_state("loading", "Loading NumPy and models…")
    view.use_labels(manifest)                # one bar per label
    view.show_model_details(manifest)        # "About this model": name, input, labels, licence, training
    view.show(result_json, main_face, spoken, now_ms)  # per inference: bars, emoji, colour
    view.draw(faces, frame_w, frame_h)       # per video frame: boxes and captions

The page contract (docs/url-parameters.md): ``body[data-state]`` is loading | ready | running | error,
``#status`` a readable message, ``#results`` the JSON of the latest inference; ``body[data-started]``
appears once the start is over (boot.js then registers the service worker).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..bars import BAR
from ..manifest import Manifest
from . import remote
from ._compat import js

if TYPE_CHECKING:  # present.py needs NumPy, which arrives after this module is imported
    from ..present import FaceView

STATES = ("loading", "ready", "running", "error")
# Colour emoji fonts first: some system fonts (DejaVu on Linux) carry monochrome emoji.
EMOJI_FONTS = '"Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji", sans-serif'
TEXT_FONTS = "system-ui, sans-serif"
STAGES = ("python", "numpy", "models", "warmup")
ANNOUNCE_EVERY_MS = 1000.0
TRAIL_MS = 2000.0  # how much of the main face's valence-arousal path the plane shows
FORMAT_NAMES = {"tfjs-graph": "TF.js graph", "tfjs-layers": "TF.js layers", "tflite": "TFLite", "onnx": "ONNX"}
COLOR_NAMES = {"grayscale": "grayscale", "rgb": "RGB"}


class View:
    def __init__(self, document):
        self.doc = document
        el = document.getElementById
        self.body = document.body
        self.root_style = document.documentElement.style
        self.overlay = el("overlay")
        self.viewport, self.button = el("viewport"), el("start")
        self.status, self.results, self.notes = el("status"), el("results"), el("notes")
        self.emoji, self.mood_label, self.bars = el("emoji"), el("mood-label"), el("bars")
        self.progress, self.announcer = el("progress"), el("announce")
        self.ctx = self.overlay.getContext("2d")
        self._bar_fills: list = []
        self._figures: list = []  # (figure, canvas, caption) per face, in #inputs
        self._bar_values: list = []
        self._mood = None
        self._emoji_font = False
        self._drawn = None  # the faces the overlay shows now
        self._announced = ("", -ANNOUNCE_EVERY_MS)
        self.mirror = True
        self.affect = el("affect")
        self._trail: list[tuple[float, float, float]] = []  # (time ms, valence, arousal) of the main face
        self._trail_face = None
        self._affect_on = False
        self._exact = False  # the camera's picture shown one screen pixel for one of its pixels
        self.viewport.on_resize(self._fit_sampling)

    # -- state, progress, notes -------------------------------------------------------
    def set_state(self, state: str, message: str) -> None:
        assert state in STATES, state
        if state == "loading" and self.body.dataset.state == "error":
            return  # boot.js already found a broken file: keep that in view, not a progress message
        self.body.dataset.state = state
        self.status.textContent = message

    @property
    def state(self) -> str:
        return str(self.body.dataset.state)

    def start_done(self) -> None:
        """The start is over (the app idle and ready, or the camera's first result on screen):
        ``body[data-started]``, on which boot.js registers the service worker, whose filling of
        the offline cache would otherwise compete with the start."""
        if getattr(self.body.dataset, "started", None) is None:
            self.body.dataset.started = "1"

    def stage(self, name: str, done: bool = False) -> None:
        """Mark a loading stage active (or done) in the progress indicator; a finished stage also
        leaves a ``moodlens:<stage>`` performance mark, which the benchmark reads."""
        if done:
            remote.page.mark(f"moodlens:{name}")
        item = self.doc.querySelector(f'[data-stage="{name}"]')
        item.classList.toggle("active", not done)
        item.classList.toggle("done", done)
        self.progress.value = sum(
            1 for s in STAGES if self.doc.querySelector(f'[data-stage="{s}"]').classList.contains("done")
        )

    def add_notes(self, notes) -> None:
        for note in notes:
            li = self.doc.createElement("li")
            li.textContent = note
            self.notes.append(li)

    def set_text(self, element_id: str, text: str) -> None:
        self.doc.getElementById(element_id).textContent = text

    def show_backend(self, choice) -> None:
        """The TF.js backend in use and why (a ``backends.Choice``)."""
        self.set_text("backend", choice.backend)
        self.set_text("backend-why", f"({choice.reason})")

    def set_running(self, running: bool) -> None:
        self.button.disabled = False
        self.button.textContent = "Stop camera" if running else "Start camera"
        self.button.setAttribute("aria-pressed", "true" if running else "false")

    def show_cameras(self, cameras: list[tuple[str, str]], current: str | None) -> None:
        """Fill the camera picker; it shows only when there is a choice."""
        picker = self.doc.getElementById("camera")
        picker.replaceChildren()
        for device_id, name in cameras:
            option = self.doc.createElement("option")
            option.value, option.textContent = device_id, name
            option.selected = device_id == current
            picker.append(option)
        self.doc.getElementById("camera-picker").hidden = len(cameras) < 2

    def show_models(self, entries: list | None, current: str, own: Manifest | None = None) -> None:
        """Fill the model picker from models/index.json (``entries``; None keeps the list) and
        select ``current``; a person's own model shows as one more entry while it is in use."""
        picker = self.doc.getElementById("model")
        if entries is not None:
            self._model_entries = [(str(e["id"]), str(e["name"])) for e in entries]
        picker.replaceChildren()
        options = list(getattr(self, "_model_entries", []))
        if own is not None:
            options.append((own.id, f"Your model: {own.name}"))
        for model_id, name in options:
            option = self.doc.createElement("option")
            option.value, option.textContent = model_id, name
            option.selected = model_id == current
            picker.append(option)
        self.set_models_enabled(True)

    def set_models_enabled(self, enabled: bool) -> None:
        self.doc.getElementById("model").disabled = not enabled
        self.doc.getElementById("own-model").disabled = not enabled
        self.doc.getElementById("own-model-label").classList.toggle("disabled", not enabled)

    def set_mirror(self, mirror: bool) -> None:
        self.mirror = mirror
        self.viewport.classList.toggle("mirrored", mirror)

    def _fit_sampling(self) -> None:
        """The camera's picture sampled nearest-neighbour (class ``exact``, style.css) while it is
        shown at exactly its own size: the same pixels as the default smoothing there, but a
        compositor without a GPU then copies the mirrored picture instead of filtering it, on
        every camera frame (0.15 → 0.10 CPU s a second in Chromium here; docs/performance.md).
        Scaled, smoothing stays."""
        rect = self.viewport.getBoundingClientRect()
        exact = shown_at_own_size(self.overlay.width, self.overlay.height, rect.width, rect.height,
                                  self.doc.defaultView.devicePixelRatio)
        if exact != self._exact:
            self._exact = exact
            self.viewport.classList.toggle("exact", exact)

    # -- per-label bars ---------------------------------------------------------------
    def use_labels(self, manifest: Manifest) -> None:
        self.bars.replaceChildren()
        self._bar_fills, self._bar_values = [], []
        for label in manifest.labels:
            li = self.doc.createElement("li")
            li.className = "bar"
            li.innerHTML = BAR.format(name="")
            li.querySelector(".bar-name").textContent = label.name
            fill = li.querySelector(".bar-fill")
            fill.style.setProperty("--c", label.color)
            self.bars.append(li)
            self._bar_fills.append(fill)
            self._bar_values.append(li.querySelector(".bar-value"))
        # The valence-arousal plane only for a model that gives both: nothing is derived.
        self._affect_on = set(manifest.regression_names) == {"valence", "arousal"}
        self.affect.hidden = not self._affect_on
        self._trail, self._trail_face = [], None

    def show_model_details(self, manifest: Manifest) -> None:
        """Fill "About this model" (#model-details): text only, as the manifest may be a person's own file."""
        for element_id, text in model_details(manifest).items():
            self.set_text(element_id, text)
        self.doc.getElementById("model-training").hidden = manifest.training is None
        labels = self.doc.getElementById("model-labels")
        labels.replaceChildren()
        for label in manifest.labels:
            li, emoji, name = (self.doc.createElement(tag) for tag in ("li", "span", "span"))
            li.style.setProperty("--c", label.color)  # the swatch (style.css), the bar's colour
            emoji.className = "label-emoji"
            emoji.textContent, name.textContent = label.emoji, label.name
            li.append(emoji, name)
            labels.append(li)

    # -- per inference ----------------------------------------------------------------
    def show(self, result_json: dict, main: FaceView | None, spoken: str, now_ms: float) -> None:
        self.results.textContent = json.dumps(result_json)
        if main is not None:
            for fill, value, bar in zip(self._bar_fills, self._bar_values, main.bars):
                # A thousandth of the bar: a third of a pixel or less.
                _set_style(fill, "--p", f"{bar.value:.3f}")
                _set_text(value, f"{round(bar.value * 100)}%")
            _set_text(self.emoji, main.emoji)
            if not self._emoji_font:
                # In the emoji fonts from the first emoji on (style.css): the first paint's
                # placeholder does not make the browser look them up.
                self.emoji.classList.add("face")
                self._emoji_font = True
            _set_text(self.mood_label, main.caption)
            if main.color != self._mood:
                self._mood = main.color
                self.root_style.setProperty("--mood", main.color)
            if self._affect_on and main.regression("valence") is not None and main.regression("arousal") is not None:
                # (a result from the model just switched away from has none: skipped)
                self._show_affect(main, now_ms)
        else:
            _set_text(self.mood_label, "No face in view")
        self._announce(spoken, now_ms)

    def _show_affect(self, main: FaceView, now_ms: float) -> None:
        valence, arousal = main.regression("valence"), main.regression("arousal")
        if main.track_id != self._trail_face:
            self._trail, self._trail_face = [], main.track_id
        self._trail = [p for p in self._trail if now_ms - p[0] <= TRAIL_MS] + [(now_ms, valence, arousal)]
        self.set_text("valence", f"{valence:+.2f}")
        self.set_text("arousal", f"{arousal:+.2f}")
        x, y = _on_plane(valence, arousal)
        point = self.doc.getElementById("affect-point")
        point.setAttribute("cx", f"{x:.3f}")
        point.setAttribute("cy", f"{y:.3f}")
        self.doc.getElementById("affect-trail").setAttribute(
            "points", " ".join("{:.3f},{:.3f}".format(*_on_plane(v, a)) for _, v, a in self._trail))

    def _announce(self, text: str, now_ms: float) -> None:
        last_text, last_ms = self._announced
        if text.split(",")[0] != last_text.split(",")[0] and now_ms - last_ms >= ANNOUNCE_EVERY_MS:
            self.announcer.textContent = text
            self._announced = (text, now_ms)

    # -- per video frame --------------------------------------------------------------
    def draw(self, faces: list[FaceView], frame_w: int, frame_h: int) -> None:
        """Boxes and captions on the overlay, in frame pixels; mirrored like the video. Called on
        every video frame, it paints only when an inference brought new faces (a new list) or
        the frame size changed: the overlay keeps its pixels in between, and repainting the same
        picture 60 times a second cost a software-rendered 2D canvas (WebKit on llvmpipe) the
        CPU time inference needed."""
        canvas, ctx = self.overlay, self.ctx
        if faces is self._drawn and canvas.width == frame_w and canvas.height == frame_h:
            return
        self._drawn = faces
        if canvas.width != frame_w or canvas.height != frame_h:
            canvas.width, canvas.height = frame_w, frame_h
            self._fit_sampling()
        ctx.clearRect(0, 0, frame_w, frame_h)
        paint_faces(ctx, faces, frame_w, self.mirror)

    def show_inputs(self, batch, spec, faces) -> None:
        """Each face's classifier input as the model receives it: the normalized tensor, drawn
        with the manifest's normalization undone only to map values to grey levels/colours."""
        import numpy as np

        panel = self.doc.getElementById("inputs")
        panel.hidden = False
        figures = self._figures
        while len(figures) > len(faces):
            figures.pop()[0].remove()
        for i, face in enumerate(faces):
            if i == len(figures):
                figure, canvas, caption = (self.doc.createElement(tag) for tag in ("figure", "canvas", "figcaption"))
                figure.append(canvas, caption)
                panel.append(figure)
                figures.append((figure, canvas, caption))
            _, canvas, caption = figures[i]
            x = batch[i]
            pixels = (x * np.asarray(spec.std, np.float32) + np.asarray(spec.mean, np.float32)) * np.float32(spec.scale)
            rgb = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
            rgba = np.empty((spec.height, spec.width, 4), np.uint8)
            rgba[..., :3] = rgb  # a grayscale input's one channel fills all three
            rgba[..., 3] = 255
            canvas.width, canvas.height = spec.width, spec.height
            image = js.ImageData.new(js.Uint8ClampedArray.new(rgba.size), spec.width, spec.height)
            image.data.assign(rgba.ravel())
            canvas.getContext("2d").putImageData(image, 0, 0)
            caption.textContent = (
                f"face {face.track_id}: {spec.width}×{spec.height}×{spec.channels}, "
                f"values {float(x.min()):.2f} … {float(x.max()):.2f}")

    def hide_inputs(self) -> None:
        panel = self.doc.getElementById("inputs")
        self._figures.clear()
        panel.replaceChildren()
        panel.hidden = True

    def clear(self) -> None:
        self._drawn = None
        self.ctx.clearRect(0, 0, self.overlay.width, self.overlay.height)
        self.emoji.textContent = "·"
        self.mood_label.textContent = "Camera off"
        for fill, value in zip(self._bar_fills, self._bar_values):
            fill.style.setProperty("--p", "0")
            value.textContent = "0%"
        self._trail, self._trail_face = [], None


def _set_text(element, text: str) -> None:
    """``element``'s text, written only when it changes. Every write is an update the page
    applies, lays out and paints on its own thread, for every result; with a face held still most
    of the panel reads the same from one result to the next (docs/performance.md, "What makes the
    per-frame path fast")."""
    if element.textContent != text:
        element.textContent = text


def _set_style(element, name: str, value: str) -> None:
    """``element``'s style property, written only when it changes (as ``_set_text``)."""
    if element.style.getPropertyValue(name) != value:
        element.style.setProperty(name, value)


def model_details(manifest: Manifest) -> dict[str, str]:
    """The text of each line of "About this model", by element id (the labels are drawn apart).

    >>> model_details(manifest.load("models/fer-mini-xception/manifest.json"))["model-input"]
    'TF.js layers · 64×64 grayscale'
    """
    spec = manifest.input
    return {
        "model-name": manifest.name,
        "model-input": f"{FORMAT_NAMES[manifest.format]} · {spec.width}×{spec.height} {COLOR_NAMES[spec.color]}",
        "model-license": manifest.license,
        "model-credit": manifest.credit or "none given",
        "model-training-summary": manifest.training.summary if manifest.training is not None else "",
    }


def _on_plane(valence: float, arousal: float) -> tuple[float, float]:
    """(valence, arousal) -> the plane's SVG coordinates: arousal up; a value a model gives
    beyond [-1, 1] is drawn at the edge (the numbers say what it was)."""
    return max(-1.0, min(1.0, valence)), -max(-1.0, min(1.0, arousal))


def paint_faces(ctx, faces, frame_w: int, mirror: bool) -> None:
    """Each face's box, caption (emoji, label, confidence) and landmarks, in frame pixels."""
    line = max(2.0, frame_w / 240)
    font_px = max(12, round(frame_w / 34))
    emoji_font, text_font = f"{font_px}px {EMOJI_FONTS}", f"600 {font_px}px {TEXT_FONTS}"
    ctx.lineWidth = line
    for face in faces:
        x, y, w, h = face.box
        if mirror:
            x = frame_w - x - w
        ctx.strokeStyle = face.color
        ctx.strokeRect(x, y, w, h)
        ctx.font = emoji_font
        emoji_w = ctx.measureText(face.emoji).width + font_px / 4
        ctx.font = text_font
        label_w = emoji_w + ctx.measureText(face.caption).width + 2 * line
        label_y = y - font_px - 2 * line if y >= font_px + 2 * line else y + h
        ctx.fillStyle = face.color
        ctx.fillRect(x - line / 2, label_y, label_w, font_px + 2 * line)
        ctx.fillStyle = "#111217"
        ctx.fillText(face.caption, x + line + emoji_w, label_y + font_px)
        ctx.font = emoji_font
        ctx.fillText(face.emoji, x + line, label_y + font_px)
        if face.points is not None:
            _paint_points(ctx, face.points, frame_w, mirror, face.color, line)


def _paint_points(ctx, points, frame_w: int, mirror: bool, color: str, line: float) -> None:
    r = max(1.0, line / 2)
    ctx.fillStyle = color
    ctx.beginPath()
    for x, y in points.tolist():
        if mirror:
            x = frame_w - x
        ctx.moveTo(x + r, y)
        ctx.arc(x, y, r, 0, 6.2832)
    ctx.fill()


def shown_at_own_size(frame_w: int, frame_h: int, box_w: float, box_h: float, ratio: float) -> bool:
    """Whether a ``frame_w``×``frame_h`` picture fitted into a ``box_w``×``box_h`` CSS-pixel box
    (``object-fit: contain``) on a screen of ``ratio`` device pixels per CSS pixel shows exactly one
    device pixel per picture pixel."""
    if min(frame_w, frame_h, box_w, box_h, ratio) <= 0:
        return False
    return abs(min(box_w / frame_w, box_h / frame_h) * ratio - 1) < 1e-6
