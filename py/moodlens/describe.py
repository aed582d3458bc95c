"""Face descriptors for a few good views of each track, linked into people.

Contract: ``await Describer(manifest, run, people).update(frame, namespace, detections, tracks,
now_ms, fresh)`` with an (H, W, 4) uint8 frame, the frame's detections (``fresh``: found in
this frame, not followed from an earlier one) and the tracks they belong to ->
each track's :class:`~moodlens.people.Person` (None while it has had no good view). A descriptor
costs about as much as six emotion classifications (faceres: 76 ms on wasm here against 11 ms
for a whole frame), so it is computed only where it pays: for a track that ``People.wants`` a
view of (its first, then one every 0.4 s up to four), and only from a view that is good enough
(:func:`view_problem`): large, frontal and sharp. The crop is the one the model was made for
(Human's ``faceres``: the detector's box widened by the manifest's margin, square) turned so the
eye line is level, as the landmarks path does.
"""

from __future__ import annotations

import math
from typing import Awaitable, Callable

import numpy as np

from . import preprocess
from .detect import Detection
from .landmarks import eye_angle
from .manifest import Manifest
from .people import People, Person

MIN_FACE_PX = 40.0  # the detector's box, shorter side, in frame pixels
MAX_NOSE_OFFSET = 0.25  # nose off the eyes' midpoint, in eye distances: about 30 degrees of yaw
MIN_SHARPNESS = 30.0  # Laplacian variance of the grey 64x64 crop: sharp faces 450-1000, 5 px blur 28
SHARPNESS_PX = 64
RETRY_MS = 250.0  # after a view judged not good enough, the track's next try (cropping costs ~2-5 ms)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a (h, w, 3) crop's grey, on a 64x64 copy: a
    blurred or upscaled-from-tiny face has little fine detail and scores low."""
    grey = preprocess.resize_bilinear(crop, SHARPNESS_PX, SHARPNESS_PX) @ preprocess.BT601
    lap = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1]) - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def view_problem(detection: Detection) -> str | None:
    """Why this view is not worth a descriptor (None: it is), from the box and keypoints."""
    x, y, w, h = detection.box
    if min(w, h) < MIN_FACE_PX:
        return "small"
    if len(detection.keypoints) >= 3:
        (rx, ry), (lx, ly), (nx, ny) = detection.keypoints[:3]
        ex, ey = lx - rx, ly - ry
        eyes = math.hypot(ex, ey)
        if eyes < 1e-6:
            return "turned"
        along = ((nx - rx) * ex + (ny - ry) * ey) / (eyes * eyes)  # 0.5: the nose between the eyes
        if abs(along - 0.5) > MAX_NOSE_OFFSET:
            return "turned"
    return None


class Describer:
    def __init__(self, manifest: Manifest, run: Callable[[np.ndarray], Awaitable[np.ndarray]], people: People):
        assert manifest.kind == "descriptor" and manifest.size > 0
        self.manifest, self.run, self.people = manifest, run, people
        self.views = 0  # descriptors computed
        self.skipped: dict[str, int] = {}  # views not used, by reason
        self._tried: dict = {}  # track key -> when its last view was judged not good enough

    async def describe(self, frame: np.ndarray, detections: list[Detection]) -> np.ndarray:
        """(N, size) descriptors of these faces, whatever their views (a reference picture)."""
        spec = self.manifest.input
        crops = [preprocess.to_color(self._crop(frame, d), spec.color) for d in detections]
        if not crops:
            return np.zeros((0, self.manifest.size), np.float32)
        out = await self.run(preprocess.normalize(np.stack(crops), spec))
        return np.asarray(out, dtype=np.float32).reshape(len(crops), -1)

    def _crop(self, frame: np.ndarray, d: Detection) -> np.ndarray:
        """The face as the model was made to see it: the box widened by the margin, square, the
        eye line level, at the model's input size (RGB, 0-255)."""
        x, y, w, h = d.box
        side = max(w, h) * (1.0 + self.manifest.crop_margin)
        spec = self.manifest.input
        return preprocess.rotated_crop(frame, (x + w / 2.0, y + h / 2.0), side, eye_angle(d), spec.height, spec.width)

    async def update(self, frame: np.ndarray, namespace: str, detections: list[Detection], tracks,
                     now_ms: float, fresh: bool = True) -> list[Person | None]:
        """``fresh``: the detections were found in this frame. Boxes followed from an earlier frame
        (the pipeline's ``detect_every``) give no view: the face may have left them, and a view of
        what is there now (the room behind) would become part of the person, so that the face,
        seen again, no longer matches it (a likely cause of a returning face once linked to a new
        person in a busy end-to-end run)."""
        keys = [(namespace, t.id) for t in tracks]
        if not fresh:
            return [self.people.person_of(key) for key in keys]
        spec = self.manifest.input
        due, crops = [], []
        for i, (key, d) in enumerate(zip(keys, detections)):
            if not self.people.wants(key, now_ms) or 0 <= now_ms - self._tried.get(key, -1e18) < RETRY_MS:
                continue
            problem = view_problem(d)
            crop = None
            if problem is None:
                crop = self._crop(frame, d)
                if sharpness(crop) < MIN_SHARPNESS:
                    problem = "blurred"
            if problem is not None:
                self.skipped[problem] = self.skipped.get(problem, 0) + 1
                self._tried[key] = now_ms
                if len(self._tried) > 1000:  # tracks long gone
                    self._tried.clear()
                continue
            due.append(i)
            crops.append(preprocess.to_color(crop, spec.color))
        if due:
            batch = preprocess.normalize(np.stack(crops), spec)
            out = np.asarray(await self.run(batch), dtype=np.float32).reshape(len(due), -1)
            for i, descriptor in zip(due, out):
                self.people.add_view(keys[i], descriptor, now_ms, visible=keys)
            self.views += len(due)
        return [self.people.person_of(key) for key in keys]
