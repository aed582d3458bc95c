"""Detector output -> face boxes in frame pixels. NumPy only.

Contract: BlazeFace raw output (A, 5 + 2K) float32 — per anchor a score logit, the box centre
offset (dx, dy) and size (w, h) in detector-input pixels, then K keypoints (x, y) as offsets —
-> a list of :class:`Detection` in frame pixels, best first, overlapping boxes merged.

The anchor layout (strides, anchors per cell) comes from the detector's manifest. It is the
layout of MediaPipe's short-range BlazeFace and of ``@tensorflow-models/blazeface``: for each
stride, a grid of cells with centres at ``(i + 0.5) * stride``, several anchors per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import numpy as np

from .manifest import Manifest
from .preprocess import Letterbox, detector_input


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()


def anchors(input_size: int, strides, per_cell) -> np.ndarray:
    """(A, 2) anchor centres in detector-input pixels, in the model's output order."""
    out = []
    for stride, count in zip(strides, per_cell):
        cells = -(-input_size // stride)  # ceil
        centres = (np.arange(cells, dtype=np.float32) + 0.5) * stride
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, count, axis=0))
    return np.concatenate(out).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    # Clipped like MediaPipe's TensorsToDetections so exp() cannot overflow.
    return 1.0 / (1.0 + np.exp(-np.clip(x, -100.0, 100.0)))


def decode(raw: np.ndarray, anchor_xy: np.ndarray, score_threshold: float, keypoints: int):
    """Raw (A, 5+2K) -> boxes (M, 4) as x0, y0, x1, y1, scores (M,), keypoints (M, K, 2),
    in detector-input pixels, for the anchors scoring at least ``score_threshold``."""
    if raw.shape[0] != anchor_xy.shape[0]:
        raise ValueError(f"detector returned {raw.shape[0]} anchors, the manifest's layout has {anchor_xy.shape[0]}")
    scores = sigmoid(raw[:, 0])
    keep = np.flatnonzero(scores >= score_threshold)
    kept, anchor = raw[keep], anchor_xy[keep]
    centre = anchor + kept[:, 1:3]
    half = kept[:, 3:5] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    points = kept[:, 5 : 5 + 2 * keypoints].reshape(-1, keypoints, 2) + anchor[:, None, :]
    return boxes, scores[keep], points


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one x0,y0,x1,y1 box with each row of ``others``."""
    ix0 = np.maximum(box[0], others[:, 0])
    iy0 = np.maximum(box[1], others[:, 1])
    ix1 = np.minimum(box[2], others[:, 2])
    iy1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes, scores, points, iou_threshold: float, max_faces: int):
    """Merge overlapping detections into their score-weighted mean, best first.

    BlazeFace fires several neighbouring anchors per face; MediaPipe blends them ("weighted
    NMS") instead of keeping one, which steadies the box from frame to frame. Written by hand:
    a few dozen candidates at most, and TF.js's NMS keeps one box rather than blending.
    """
    order = np.argsort(-scores)
    boxes, scores, points = boxes[order], scores[order], points[order]
    out = []
    remaining = np.arange(len(scores))
    while remaining.size and len(out) < max_faces:
        best = remaining[0]
        overlap = iou(boxes[best], boxes[remaining]) >= iou_threshold
        group = remaining[overlap]
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        pts = (points[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, float(scores[best]), pts))
        remaining = remaining[~overlap]
    return out


def to_frame(box, pts, letterbox: Letterbox):
    """Detector-input pixels -> frame pixels: ((x, y, w, h) clipped to the frame, keypoints)."""
    s = letterbox.scale
    x0, y0 = max(0.0, box[0] * s), max(0.0, box[1] * s)
    x1, y1 = min(float(letterbox.width), box[2] * s), min(float(letterbox.height), box[3] * s)
    return (
        (float(x0), float(y0), float(max(0.0, x1 - x0)), float(max(0.0, y1 - y0))),
        tuple((float(x * s), float(y * s)) for x, y in pts),
    )


class BlazeFace:
    """``load``-ed once from its manifest; ``await detect(frame)`` per frame.

    ``run`` executes the model on a (1, h, w, 3) float32 input and returns its (A, 5+2K)
    output: TF.js in the browser (``browser/tfjs.py``), a fake in unit tests.
    """

    def __init__(self, manifest: Manifest, run: Callable[[np.ndarray], Awaitable[np.ndarray]]):
        assert manifest.decode is not None, "a detector manifest has a 'decode' section"
        self.manifest, self.run, self.decode = manifest, run, manifest.decode
        self.anchor_xy = anchors(manifest.input.width, self.decode.strides, self.decode.anchors_per_cell)

    async def detect(self, frame: np.ndarray, max_faces: int) -> list[Detection]:
        tensor, letterbox = detector_input(frame, self.manifest.input)
        raw = np.asarray(await self.run(tensor))
        raw = raw.reshape(-1, raw.shape[-1])
        boxes, scores, points = decode(raw, self.anchor_xy, self.decode.score_threshold, self.decode.keypoints)
        found = []
        for box, score, pts in weighted_nms(boxes, scores, points, self.decode.iou_threshold, max_faces):
            frame_box, frame_pts = to_frame(box, pts, letterbox)
            if frame_box[2] >= 1 and frame_box[3] >= 1:
                found.append(Detection(frame_box, score, frame_pts))
        return found


class Detectors:
    """Several detectors on the same frame, their faces merged: for photos, where a face may
    fill the picture (the short-range model's strength) or be a few pixels of a crowd (the
    full-range model's). Each detector comes with the face sizes it is made for, as a share
    of the picture's shorter side; where boxes overlap (IoU above ``iou_threshold``), a box
    from the detector made for its size wins, then the higher score. A face only one
    detector finds is kept whatever its size."""

    def __init__(self, detectors, iou_threshold: float = 0.3):
        self.detectors = [(d, lo, hi) for d, lo, hi in detectors]
        self.iou_threshold = iou_threshold

    async def detect(self, frame: np.ndarray, max_faces: int) -> list[Detection]:
        short_side = min(frame.shape[:2])
        found = []
        for detector, lo, hi in self.detectors:
            for d in await detector.detect(frame, max_faces):
                in_range = lo <= max(d.box[2], d.box[3]) / short_side < hi
                found.append((not in_range, -d.score, d))
        found.sort(key=lambda item: item[:2])
        kept: list[Detection] = []
        for _, _, d in found:
            box = np.array([d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]], dtype=np.float32)
            others = np.array([[k.box[0], k.box[1], k.box[0] + k.box[2], k.box[1] + k.box[3]] for k in kept],
                              dtype=np.float32).reshape(-1, 4)
            if not kept or iou(box, others).max() <= self.iou_threshold:
                kept.append(d)
            if len(kept) == max_faces:
                break
        return sorted(kept, key=lambda d: -d.score)
