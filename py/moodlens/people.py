"""People, not tracks: face tracks linked into persons by face descriptors.

Contract: tracks (a namespace such as ``"camera"`` or ``"video 2"`` and the tracker's id) report
descriptors of some of their views -> each track belongs to one :class:`Person` with a stable id,
kept across gaps of any length and across recordings analysed in one session; a name may be
given to a person.

    people = People()
    if people.wants(("camera", 3), now_ms):                 # a view is due for this track
        person = people.add_view(("camera", 3), descriptor, now_ms, visible=[("camera", 4)])
    people.person_of(("camera", 3)).id                       # the same person on every later frame

Linking: a track's descriptor is the mean of its views (each L2-normalised); it joins the
person whose mean descriptor is nearest in cosine distance when that distance is under
``threshold`` and no other person is within ``margin`` of it — an ambiguous match makes a new
person rather than merging two. People seen in the same frame as the track (``visible``) are
never candidates: two faces in one picture are two people. A track's first view decides at
once (the label should not wait); each later view refines the track's mean, and a track whose
person is still its own alone may move to an older person its refined mean now matches (its
first view was a poor one). Distances and the threshold: docs/people.md.

Descriptors are biometric data: they live in this object for the session only; nothing here
writes them anywhere (``export(include_descriptors=True)`` is the explicit opt-in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Cosine distance (1 - cosine similarity) between mean descriptors of faceres (docs/people.md):
# the same person's views are under 0.27 (p95), different people's above 0.46 (p5), 0.29 at the
# closest pair measured; the threshold sits between the two, the margin keeps near-ties apart.
THRESHOLD = 0.32
MARGIN = 0.04
VIEW_INTERVAL_MS = 400.0  # one view per track at most this often (source time)
MAX_VIEWS = 4  # views per track; after that a track costs nothing
MAX_PERSON_VIEWS = 32  # descriptors kept per person (the latest), for its mean

TrackKey = tuple[str, int]


@dataclass
class Person:
    id: int
    name: str = ""
    views: list[np.ndarray] = field(default_factory=list)
    tracks: list[TrackKey] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or f"Person {self.id}"

    def mean(self) -> np.ndarray:
        return _unit(np.mean(self.views, axis=0))


@dataclass
class _Track:
    person: Person
    views: list[np.ndarray]
    last_view_ms: float

    def mean(self) -> np.ndarray:
        return _unit(np.mean(self.views, axis=0))


class People:
    def __init__(self, threshold: float = THRESHOLD, margin: float = MARGIN,
                 view_interval_ms: float = VIEW_INTERVAL_MS, max_views: int = MAX_VIEWS):
        self.threshold, self.margin = float(threshold), float(margin)
        self.view_interval_ms, self.max_views = float(view_interval_ms), int(max_views)
        self.people: dict[int, Person] = {}
        self._tracks: dict[TrackKey, _Track] = {}
        self._next_id = 1

    def __len__(self) -> int:
        return len(self.people)

    def wants(self, key: TrackKey, now_ms: float) -> bool:
        """True when a view of this track is worth a descriptor now: it has none yet, or fewer
        than ``max_views`` and the last is ``view_interval_ms`` old (or from a rewound source)."""
        track = self._tracks.get(key)
        if track is None:
            return True
        if len(track.views) >= self.max_views:
            return False
        elapsed = now_ms - track.last_view_ms
        return elapsed >= self.view_interval_ms or elapsed < 0

    def person_of(self, key: TrackKey) -> Person | None:
        track = self._tracks.get(key)
        return track.person if track is not None else None

    def add_view(self, key: TrackKey, descriptor, now_ms: float, visible=()) -> Person:
        """A descriptor of one view of track ``key``; ``visible``: the other tracks in the same
        frame. Returns the track's person (new, matched, or re-linked)."""
        d = _unit(np.asarray(descriptor, dtype=np.float32).ravel())
        track = self._tracks.get(key)
        excluded = {p.id for k in visible if k != key and (p := self.person_of(k)) is not None}
        if track is None:
            person = self._match(d, excluded) or self._new_person()
            track = self._tracks[key] = _Track(person, [d], now_ms)
            person.tracks.append(key)
            person.views.append(d)
            return person
        track.views.append(d)
        track.last_view_ms = now_ms
        person = track.person
        if person.tracks == [key]:  # the person is this track alone: its first view may have misled
            person.views = list(track.views)
            older = self._match(track.mean(), excluded | {person.id})
            if older is not None:
                self._move(key, track, older)
                return older
        else:
            person.views.append(d)
        del person.views[:-MAX_PERSON_VIEWS]
        return person

    def name(self, person_id: int, name: str) -> Person:
        """Give a person a name ("" clears it). KeyError for an unknown id."""
        person = self.people[int(person_id)]
        person.name = " ".join(str(name).split())[:60]
        return person

    def distances(self, descriptor) -> dict[int, float]:
        """Cosine distance from ``descriptor`` to each person's mean (for diagnostics and tests)."""
        d = _unit(np.asarray(descriptor, dtype=np.float32).ravel())
        return {pid: _distance(d, p.mean()) for pid, p in self.people.items()}

    def add_reference(self, name: str, descriptors) -> Person:
        """A named person from reference pictures (``analyse --people``): one descriptor each."""
        person = self._new_person()
        person.name = " ".join(str(name).split())[:60]
        person.views = [_unit(np.asarray(d, dtype=np.float32).ravel()) for d in descriptors]
        if not person.views:
            raise ValueError(f"{name}: no descriptor")
        return person

    def adopt(self, descriptor, name: str = "", exclude=()) -> Person:
        """A person described elsewhere (another run's, with its mean descriptor): the person here
        it matches by the same rule as a track's first view, else a new one; ``exclude``: ids
        it cannot be (people that run already told apart from it). A name fills an empty one."""
        d = _unit(np.asarray(descriptor, dtype=np.float32).ravel()) if descriptor is not None else None
        person = (self._match(d, set(exclude)) if d is not None else None) or self._new_person()
        if d is not None:
            person.views.append(d)
            del person.views[:-MAX_PERSON_VIEWS]
        if name and not person.name:
            person.name = " ".join(str(name).split())[:60]
        return person

    def tracks_of(self, namespace: str) -> dict[int, Person]:
        """Track id -> person, for the tracks of one source (a video's rows get their person)."""
        return {key[1]: track.person for key, track in self._tracks.items() if key[0] == namespace}

    def forget(self) -> None:
        """Drop every person and descriptor ("forget everyone")."""
        self.people.clear()
        self._tracks.clear()
        self._next_id = 1

    # -- linking ---------------------------------------------------------------------------
    def _match(self, d: np.ndarray, excluded: set[int]) -> Person | None:
        scored = sorted((_distance(d, p.mean()), p.id) for p in self.people.values()
                        if p.id not in excluded and p.views)
        if not scored or scored[0][0] >= self.threshold:
            return None
        if len(scored) > 1 and scored[1][0] - scored[0][0] < self.margin:
            return None  # two people about as near: keep this face apart rather than merge
        return self.people[scored[0][1]]

    def _new_person(self) -> Person:
        person = self.people[self._next_id] = Person(self._next_id)
        self._next_id += 1
        return person

    def _move(self, key: TrackKey, track: _Track, older: Person) -> None:
        """Re-link a track whose person was its alone to ``older``; its provisional person goes."""
        provisional = track.person
        del self.people[provisional.id]
        if provisional.name and not older.name:
            older.name = provisional.name
        track.person = older
        older.tracks.append(key)
        older.views.extend(track.views)
        del older.views[:-MAX_PERSON_VIEWS]


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else v.astype(np.float32)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.dot(a, b))
