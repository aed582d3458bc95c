"""Facial landmarks for each face: crop it level, run the landmark model, map points back.

Contract: ``await Landmarks(manifest, run).find(frame, detections)`` with an (H, W, 4) uint8
frame and the detector's faces -> one (P, 2) float32 array of (x, y) frame pixels per face.
The model (MediaPipe Face Mesh by default: 468 points) sees each face as a square crop
widened by the manifest's margin and turned so the eyes are level (from the detector's eye
keypoints, as MediaPipe's own pipeline does: the mesh model was trained on upright faces);
it answers in its input's pixels, which are turned and scaled back into the frame here.
"""

from __future__ import annotations

import math
from typing import Awaitable, Callable

import numpy as np

from . import preprocess
from .detect import Detection
from .manifest import Manifest


def eye_angle(detection: Detection) -> float:
    """The eye line's angle in radians (0 for a level face, or when there are no keypoints).
    BlazeFace's keypoints start with the right eye (image left), then the left eye."""
    if len(detection.keypoints) < 2:
        return 0.0
    (rx, ry), (lx, ly) = detection.keypoints[:2]
    return math.atan2(ly - ry, lx - rx)


class Landmarks:
    def __init__(self, manifest: Manifest, run: Callable[[np.ndarray], Awaitable[np.ndarray]]):
        assert manifest.kind == "landmarks" and manifest.points > 0
        self.manifest, self.run = manifest, run

    async def find(self, frame: np.ndarray, detections: list[Detection]) -> list[np.ndarray]:
        if not detections:
            return []
        spec = self.manifest.input
        crops = []
        batch = np.empty((len(detections), *spec.shape), dtype=np.float32)
        for i, d in enumerate(detections):
            x, y, w, h = d.box
            centre = (x + w / 2.0, y + h / 2.0)
            side = max(w, h) * (1.0 + self.manifest.crop_margin)
            angle = eye_angle(d)
            crop = preprocess.rotated_crop(frame, centre, side, angle, spec.height, spec.width)
            batch[i] = preprocess.to_color(crop, spec.color)
            crops.append((centre, side, angle))
        raw = np.asarray(await self.run(preprocess.normalize(batch, spec)), dtype=np.float32)
        points = raw.reshape(len(detections), self.manifest.points, -1)[:, :, :2]
        out = []
        for (centre, side, angle), pts in zip(crops, points):
            local = (pts / np.array([spec.width, spec.height], dtype=np.float32) - 0.5) * np.float32(side)
            c, s = math.cos(angle), math.sin(angle)
            rotation = np.array([[c, -s], [s, c]], dtype=np.float32)
            out.append(local @ rotation.T + np.array(centre, dtype=np.float32))
        return out
