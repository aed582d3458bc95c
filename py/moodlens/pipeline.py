"""One inference step: frame in, results out. Reads top to bottom like the data flow:

    frame -> detect faces -> crop + preprocess -> classify -> track + smooth -> people -> present

Contract: ``await Pipeline.step(frame, now_ms)`` with an (H, W, 4) uint8 RGBA frame ->
:class:`Result`, whose ``to_json()`` is the ``#results`` contract documented in docs/url-parameters.md.
The detector and the classifier are injected (TF.js or the browser's FaceDetector in the page,
fakes in unit tests), so this module never touches the browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol

import numpy as np

from . import preprocess, present
from .describe import Describer
from .detect import Detection
from .landmarks import Landmarks
from .manifest import Manifest
from .track import Tracker

Classify = Callable[[np.ndarray], Awaitable[np.ndarray]]


class Detector(Protocol):
    async def detect(self, frame: np.ndarray, max_faces: int) -> list[Detection]: ...


@dataclass
class Result:
    frame: int
    time_ms: float
    model: str
    faces: list[present.FaceView]
    stages_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True  # False: this frame reused the boxes of the last detection
    inputs: np.ndarray | None = None  # the emotion model's input batch, when kept (?debug=1)

    def to_json(self) -> dict:
        return {
            "frame": self.frame,
            "time_ms": round(self.time_ms, 2),
            "model": self.model,
            "detected": self.detected,
            "faces": [
                {
                    "id": f.track_id,
                    "person_id": f.person_id,
                    "person": f.person,
                    "box": [round(v, 1) for v in f.box],
                    "emotion": f.emotion,
                    "scores": {bar.label: round(bar.value, 5) for bar in f.bars},
                }
                | {name: round(value, 5) for name, value in f.regressions}
                | ({"landmarks": np.round(f.points.astype(np.float64), 1).tolist()} if f.points is not None else {})
                for f in self.faces
            ],
            "stages_ms": {k: round(v, 2) for k, v in self.stages_ms.items()},
        }


def to_probabilities(output: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Model output (N, values) -> (N, L + R): the L class probabilities (softmax when the
    manifest says the model gives logits), then its R regression values (valence, arousal) as
    the model gave them, in the manifest's order. The tracker smooths all of them alike."""
    out = np.asarray(output, dtype=np.float32)
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] != manifest.outputs:
        raise ValueError(f"{manifest.id}: model gave {out.shape[1]} values per face, manifest lists "
                         f"{len(manifest.labels)} labels" + "".join(f" and {n}" for n in manifest.regression_names))
    regression_at = [i for _, i in manifest.regressions]
    scores = np.delete(out, regression_at, axis=1) if regression_at else out
    if manifest.output == "logits":
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    # Renormalize either way: float32 softmax outputs drift from 1 by ~1e-7.
    scores = scores / scores.sum(axis=1, keepdims=True)
    return np.concatenate([scores, out[:, regression_at]], axis=1) if regression_at else scores


class Pipeline:
    """``detect_every=k`` runs the detector on every k-th step only, while faces are in view:
    the steps between classify the boxes the last detection found (a face moves a few pixels
    in one camera frame, well inside the crop margin). A step after one that found no face
    always detects, so a face entering an empty view is found on the next frame."""

    def __init__(self, detector: Detector, classify: Classify, manifest: Manifest, max_faces: int, smoothing: float,
                 detect_every: int = 1, tracker: Tracker | None = None, max_age_ms: float = 700.0):
        self.detector, self.classify, self.manifest = detector, classify, manifest
        self.max_faces = max_faces
        self.detect_every = max(1, int(detect_every))
        # A tracker handed over from the pipeline this one replaces (a model switch) keeps the ids.
        self.tracker = tracker if tracker is not None else Tracker(smoothing=smoothing, max_age_ms=max_age_ms)
        self.frames = 0
        self.landmarks: Landmarks | None = None  # set to find landmarks on every face
        self.keep_inputs = False  # keep the classifier's input batch in the result (debug view)
        self.describer: Describer | None = None  # set to link faces into people (moodlens.people)
        self.namespace = "camera"  # whose tracks these are, for the people (a video file: its own)
        self._found: list[Detection] = []  # the last detection's faces (boxes and keypoints)
        self._since_detection = 0

    def reset(self) -> None:
        """Forget faces and boxes (a new camera, a restart)."""
        self.tracker.reset()
        self._found, self._since_detection = [], 0

    async def step(self, frame: np.ndarray, now_ms: float) -> Result:
        clock = _Stopwatch()
        detected = not self._found or self._since_detection + 1 >= self.detect_every
        if detected:
            detections = await self.detector.detect(frame, self.max_faces)
            self._found = list(detections[: self.max_faces])
            self._since_detection = 0
            clock.lap("detect")
        else:
            self._since_detection += 1
        return await self._classify(frame, self._found, now_ms, clock, detected, fresh=detected)

    async def classify_boxes(self, frame: np.ndarray, boxes, now_ms: float = 0.0) -> Result:
        """A step with the face boxes given (a picture that is one face already): no detection."""
        return await self._classify(frame, [Detection(tuple(b), 1.0) for b in boxes], now_ms, _Stopwatch(), False,
                                    fresh=True)

    async def _classify(self, frame, found: list[Detection], now_ms: float, clock: _Stopwatch,
                        detected: bool, fresh: bool) -> Result:
        """``fresh``: the boxes are this frame's (found in it, or given with it); False when they
        were followed from an earlier frame (``detect_every``), where the face may have left."""
        boxes = [d.box for d in found]
        probs = np.zeros((0, self.manifest.outputs), dtype=np.float32)
        batch = None
        if boxes:
            batch = preprocess.face_batch(frame, boxes, self.manifest.input, self.manifest.crop_margin)
            clock.lap("preprocess")
            probs = to_probabilities(await self.classify(batch), self.manifest)
            clock.lap("classify")
        points = [None] * len(boxes)
        if self.landmarks is not None and boxes:
            points = await self.landmarks.find(frame, found)
            clock.lap("landmarks")

        tracks = self.tracker.update(boxes, probs, now_ms)
        clock.lap("track")
        persons = [None] * len(tracks)
        if self.describer is not None and tracks:
            persons = await self.describer.update(frame, self.namespace, found, tracks, now_ms, fresh=fresh)
            clock.lap("people")
        faces = [present.face_view(self.manifest, t.id, t.box, t.scores, p, person)
                 for t, p, person in zip(tracks, points, persons)]

        self.frames += 1
        inputs = batch if self.keep_inputs else None
        return Result(self.frames, clock.total(), self.manifest.id, faces, clock.laps, detected, inputs)


class _Stopwatch:
    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = (now - self.last) * 1000.0
        self.last = now

    def total(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0
