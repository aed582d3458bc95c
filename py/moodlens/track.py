"""Match faces across frames and smooth their scores so labels do not flicker.

Contract: per inference, boxes (x, y, w, h) + probabilities (N, L) + a timestamp in ms ->
the N :class:`Track` objects they belong to, each with a stable id and smoothed scores.
Matching is greedy by IoU (best pairs first); a track unseen for ``max_age_ms`` is dropped.

Smoothing is an exponential moving average measured in time, not in frames, so a face looks
equally steady on a fast laptop and a slow phone: over 100 ms a track keeps ``smoothing`` of
its old scores (``0`` = raw scores). The retention is capped at 0.98 per 100 ms so even
``smoothing=1`` still follows a face (it settles in about five seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .detect import iou

MAX_RETENTION = 0.98
REFERENCE_MS = 100.0


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    scores: np.ndarray
    last_seen_ms: float
    seen: int = 1


def xyxy(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


@dataclass
class Tracker:
    smoothing: float = 0.6
    iou_threshold: float = 0.3
    max_age_ms: float = 700.0
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, boxes, scores: np.ndarray, now_ms: float) -> list[Track]:
        """Assign each box to a track (new or existing); return tracks in the order of ``boxes``."""
        self.tracks = [t for t in self.tracks if now_ms - t.last_seen_ms <= self.max_age_ms]
        assigned = self._match(boxes)
        out = []
        for i, box in enumerate(boxes):
            probs = np.asarray(scores[i], dtype=np.float32)
            track = assigned.get(i)
            if track is None or track.scores.shape != probs.shape:
                track = Track(self._next_id, tuple(box), probs.copy(), now_ms)
                self._next_id += 1
                self.tracks.append(track)
            else:
                keep = self.retention(now_ms - track.last_seen_ms)
                track.scores = keep * track.scores + (1.0 - keep) * probs
                track.box, track.last_seen_ms = tuple(box), now_ms
                track.seen += 1
            out.append(track)
        return out

    def retention(self, dt_ms: float) -> float:
        """Share of the old scores kept after ``dt_ms``."""
        per_reference = min(max(self.smoothing, 0.0), MAX_RETENTION)
        if per_reference == 0.0:
            return 0.0
        return float(per_reference ** (max(dt_ms, 0.0) / REFERENCE_MS))

    def reset(self) -> None:
        self.tracks.clear()

    def _match(self, boxes) -> dict[int, Track]:
        if not self.tracks or len(boxes) == 0:
            return {}
        new = xyxy(boxes)
        old = xyxy([t.box for t in self.tracks])
        overlaps = np.stack([iou(box, old) for box in new])  # (new, old)
        assigned: dict[int, Track] = {}
        for flat in np.argsort(-overlaps, axis=None):
            i, j = divmod(int(flat), len(self.tracks))
            if overlaps[i, j] < self.iou_threshold:
                break
            track = self.tracks[j]
            if i not in assigned and all(t is not track for t in assigned.values()):
                assigned[i] = track
        return assigned
