"""Facial landmarks for each face box: crop, run the landmark model, map points back.

Contract: ``await Landmarks(manifest, run).find(frame, boxes)`` with an (H, W, 4) uint8 frame
and face boxes (x, y, w, h) -> one (P, 2) float32 array of (x, y) frame pixels per box. The
model (MediaPipe Face Mesh by default: 468 points) sees each face as a square crop widened by
the manifest's margin, in the same ``face_batch`` as the emotion models, and answers in its
input's pixels; the points are scaled and shifted back into the frame here.
"""

from __future__ import annotations

from typing import Awaitable, Callable

import numpy as np

from . import preprocess
from .manifest import Manifest


class Landmarks:
    def __init__(self, manifest: Manifest, run: Callable[[np.ndarray], Awaitable[np.ndarray]]):
        assert manifest.kind == "landmarks" and manifest.points > 0
        self.manifest, self.run = manifest, run

    async def find(self, frame: np.ndarray, boxes) -> list[np.ndarray]:
        if not boxes:
            return []
        spec, margin = self.manifest.input, self.manifest.crop_margin
        frame_h, frame_w = frame.shape[:2]
        raw = np.asarray(await self.run(preprocess.face_batch(frame, boxes, spec, margin)), dtype=np.float32)
        points = raw.reshape(len(boxes), self.manifest.points, -1)[:, :, :2]
        out = []
        for box, pts in zip(boxes, points):
            x, y, side, _ = preprocess.square_box(box, margin, frame_w, frame_h)
            out.append(pts * np.float32(side / spec.width) + np.array([x, y], dtype=np.float32))
        return out
