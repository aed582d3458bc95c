"""Scores -> what to show: label, confidence, emoji, colour, bars. Plain data, no DOM.

Contract: a manifest + tracked faces -> :class:`FaceView` per face and the main face (the
largest, i.e. nearest the camera), whose emotion drives the emoji, bars and page colour.
Emoji and colours come from the manifest; labels it does not style get neutral defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .manifest import Manifest


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    color: str


@dataclass(frozen=True)
class FaceView:
    track_id: int
    box: tuple[float, float, float, float]
    emotion: str
    confidence: float
    emoji: str
    color: str
    bars: tuple[Bar, ...]
    points: np.ndarray | None = None  # (P, 2) landmarks in frame pixels, when turned on
    person_id: int | None = None  # the person this face is (moodlens.people), once known
    person: str = ""  # their name, or "Person 2"; "" while unknown or with people off
    # What the model gives beside its classes, smoothed like the scores: (("valence", v),
    # ("arousal", a)) in [-1, 1]; empty for a model without them (nothing is derived).
    regressions: tuple[tuple[str, float], ...] = ()

    def regression(self, name: str) -> float | None:
        return dict(self.regressions).get(name)

    @property
    def caption(self) -> str:
        emotion = f"{self.emotion} {round(self.confidence * 100)}%"
        return f"{self.person} · {emotion}" if self.person else emotion


def face_view(manifest: Manifest, track_id: int, box, values: np.ndarray, points=None, person=None) -> FaceView:
    """``values``: the class probabilities in label order, then the manifest's regression values."""
    labels = len(manifest.labels)
    scores = values[:labels]
    top = int(np.argmax(scores))
    label = manifest.labels[top]
    bars = tuple(Bar(lab.name, float(scores[i]), lab.color) for i, lab in enumerate(manifest.labels))
    regressions = tuple((name, float(v)) for name, v in zip(manifest.regression_names, values[labels:]))
    return FaceView(track_id, tuple(float(v) for v in box), label.name, float(scores[top]), label.emoji, label.color,
                    bars, points, person.id if person is not None else None, person.label if person is not None else "",
                    regressions)


def main_face(faces: list[FaceView]) -> FaceView | None:
    """The face to feature: the largest box."""
    return max(faces, key=lambda f: f.box[2] * f.box[3], default=None)


def announcement(face: FaceView | None) -> str:
    """What a screen reader hears."""
    if face is None:
        return "No face in view."
    return f"{face.emotion.capitalize()}, {round(face.confidence * 100)} percent."
