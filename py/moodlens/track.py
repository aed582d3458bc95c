"""Match faces across frames and smooth their scores so labels do not flicker.

Contract: per inference, boxes (x, y, w, h) + probabilities (N, L) + a timestamp in ms ->
the N :class:`Track` objects they belong to, each with a stable id and smoothed scores.
Matching is greedy by IoU (best pairs first). A face that leaves and comes back keeps its id
when it returns within ``max_age_ms`` (0.7 s of the source's time by default; 1.5 s for video
files; time counts while frames are analysed without it, not while the analysis pauses) either overlapping its last box (IoU ≥ ``iou_threshold``) or, failing that, with its
centre within half its size of the old centre and its size within a factor of 1.5; a track
unseen for longer is dropped and the face gets a new id. Scores of another length (a model
with other labels) restart that track's smoothing but keep its id.

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
    _previous_ms: float | None = None  # the last update's time

    def update(self, boxes, scores: np.ndarray, now_ms: float) -> list[Track]:
        """Assign each box to a track (new or existing); return tracks in the order of ``boxes``."""
        # A track expires once it has been missing from the analysed frames for longer than
        # max_age_ms: measured up to the frame before this one, so a pause in the analysis itself
        # (a model loading, a busy device) does not count as the face being away.
        checked = self._previous_ms if self._previous_ms is not None else now_ms
        self.tracks = [t for t in self.tracks if checked - t.last_seen_ms <= self.max_age_ms]
        self._previous_ms = now_ms
        assigned = self._match(boxes)
        out = []
        for i, box in enumerate(boxes):
            probs = np.asarray(scores[i], dtype=np.float32)
            track = assigned.get(i)
            if track is None:
                track = Track(self._next_id, tuple(box), probs.copy(), now_ms)
                self._next_id += 1
                self.tracks.append(track)
            elif track.scores.shape != probs.shape:  # another model's labels: same face, fresh scores
                track.scores, track.box, track.last_seen_ms = probs.copy(), tuple(box), now_ms
                track.seen += 1
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
        self._previous_ms = None

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
        # A face back after a gap may have moved off its old box: near centre, similar size.
        taken = {id(t) for t in assigned.values()}
        for i, box in enumerate(boxes):
            if i in assigned:
                continue
            best, best_d = None, None
            for track in self.tracks:
                if id(track) in taken:
                    continue
                d = _near(box, track.box)
                if d is not None and (best_d is None or d < best_d):
                    best, best_d = track, d
            if best is not None:
                assigned[i] = best
                taken.add(id(best))
        return assigned


def _near(box, old) -> float | None:
    """Centre distance in units of the old box's size, when under 0.5 and the sizes agree
    within a factor of 1.5; None otherwise."""
    size, old_size = (box[2] * box[3]) ** 0.5, (old[2] * old[3]) ** 0.5
    if old_size <= 0 or not 1 / 1.5 <= size / old_size <= 1.5:
        return None
    dx = (box[0] + box[2] / 2) - (old[0] + old[2] / 2)
    dy = (box[1] + box[3] / 2) - (old[1] + old[3] / 2)
    distance = (dx * dx + dy * dy) ** 0.5 / old_size
    return distance if distance < 0.5 else None
