"""Every analysed frame's faces over time, their summary, and the CSV/JSON export.

Contract: rows of (time in seconds, frame number, face id, box in source pixels, scores in the
manifest's label order) -> CSV, JSON, a per-face and per-person summary, and per-lane chart data.
Frames with no face add no row but are counted. Faces (tracks) are linked to people with
``link({face_id: (person_id, name)})`` (from ``moodlens.people``): the CSV and the rows get a
``person_id``, the metadata lists the people, and the chart has one lane per person (a face not
linked to anyone, yet, keeps a lane of its own). Rows live in typed arrays (about 60 bytes each with seven
labels), not Python objects: a 30-minute, 30 fps video with one face is 54,000 rows, ~3 MB.

    >>> t = Timeline(["happy", "sad"])
    >>> t.add(0.0, 0, [(1, (10, 20, 30, 30), (0.9, 0.1))])
    >>> t.add(0.033, 1, [])                       # a frame with no face: counted, no row
    >>> t.frames_analysed, len(t)
    (2, 1)
    >>> t.csv().splitlines()[1]
    '0.000,0,1,,10.0,20.0,30.0,30.0,happy,0.90000,0.10000'
    >>> t.link({1: (4, "Alice")})
    >>> t.csv().splitlines()[1]
    '0.000,0,1,4,10.0,20.0,30.0,30.0,happy,0.90000,0.10000'

A model that gives valence and arousal (``Timeline(labels, extras=("valence", "arousal"))``)
adds them to every row: two more CSV columns after the labels, ``valence`` and ``arousal`` in
the JSON rows, their mean and range in the summary, a line per lane in the chart. A model
without them has none of it.

The JSON is the same rows plus ``metadata`` (what was analysed, with which model and settings)
and a ``summary``; ``Timeline.from_json`` reads it back (``build.py analyse`` writes the CSV and
the chart from it under CPython).
"""

from __future__ import annotations

import io
from array import array
from dataclasses import dataclass

import numpy as np

CSV_FIXED = ("time_s", "frame", "face_id", "person_id", "x", "y", "w", "h", "emotion")
EMPTY = (37, 39, 48)  # a chart lane where the face was not seen (the page's panel colour)
EXTRA_COLORS = ((255, 255, 255), (17, 18, 23))  # the lines of valence (white) and arousal (near black)


@dataclass(frozen=True)
class Lane:
    """One person's (or one unlinked face's) chart data: ``probs`` (labels, columns) holds the
    mean probability of each label in each time column, NaN where they were not seen."""

    key: tuple[str, int]  # ("person", id) or ("face", id)
    label: str  # "Alice", "Person 2", "Face 3"
    probs: np.ndarray
    extras: np.ndarray | None = None  # (extras, columns): mean valence/arousal per column, NaN where unseen


class Timeline:
    def __init__(self, labels: list[str] | tuple[str, ...], extras: list[str] | tuple[str, ...] = ()):
        self.labels = list(labels)
        self.extras = list(extras)  # regression outputs per row (valence, arousal), as the model names them
        self._extra = array("f")  # len(extras) per row
        self._time = array("d")
        self._frame = array("q")
        self._face = array("i")
        self._box = array("f")  # 4 per row
        self._scores = array("f")  # len(labels) per row
        self.frames_analysed = 0
        self.last_time_s = 0.0
        self.persons: dict[int, tuple[int, str]] = {}  # face id -> (person id, name or "")

    def link(self, persons: dict) -> None:
        """Which person each face (track) is: {face_id: (person_id, name)}; replaces the last."""
        self.persons = {int(face): (int(pid), str(name or "")) for face, (pid, name) in persons.items()}

    def person_of(self, face_id: int) -> int | None:
        found = self.persons.get(int(face_id))
        return found[0] if found else None

    def lane_of(self, face_id: int) -> tuple[tuple[str, int], str]:
        """The lane a face's rows go to: its person's, or its own while it is linked to nobody."""
        found = self.persons.get(int(face_id))
        if found is None:
            return ("face", int(face_id)), f"Face {face_id}"
        return ("person", found[0]), found[1] or f"Person {found[0]}"

    def __len__(self) -> int:
        return len(self._time)

    def add(self, time_s: float, frame: int, faces) -> None:
        """One analysed frame: ``faces`` is [(face_id, (x, y, w, h), scores[, extras]), ...]."""
        self.frames_analysed += 1
        self.last_time_s = max(self.last_time_s, float(time_s))
        for face_id, box, scores, *rest in faces:
            if len(scores) != len(self.labels):
                raise ValueError(f"{len(scores)} scores for {len(self.labels)} labels")
            extras = rest[0] if rest else ()
            if len(extras) != len(self.extras):
                raise ValueError(f"{len(extras)} values for {len(self.extras)} regression outputs ({self.extras})")
            self._extra.extend(float(v) for v in extras)
            self._time.append(float(time_s))
            self._frame.append(int(frame))
            self._face.append(int(face_id))
            self._box.extend(float(v) for v in box)
            self._scores.extend(float(v) for v in scores)

    def relabel(self, labels: list[str], extras: list[str] | tuple[str, ...] = ()) -> bool:
        """A model switch mid-session: rows need one label set. True when ``labels`` and
        ``extras`` fit (same names); otherwise the rows so far are dropped (and False is returned)."""
        if list(labels) == self.labels and list(extras) == self.extras:
            return True
        self.__init__(labels, extras)
        return False

    # -- columns, as NumPy views (no copy) -----------------------------------------------
    @property
    def times(self) -> np.ndarray:
        return np.frombuffer(self._time, dtype=np.float64) if len(self) else np.zeros(0)

    @property
    def frame_numbers(self) -> np.ndarray:
        return np.frombuffer(self._frame, dtype=np.int64) if len(self) else np.zeros(0, np.int64)

    @property
    def face_ids(self) -> np.ndarray:
        return np.frombuffer(self._face, dtype=np.int32) if len(self) else np.zeros(0, np.int32)

    @property
    def boxes(self) -> np.ndarray:
        return np.frombuffer(self._box, dtype=np.float32).reshape(-1, 4) if len(self) else np.zeros((0, 4), np.float32)

    @property
    def scores(self) -> np.ndarray:
        n = len(self.labels)
        if not len(self):
            return np.zeros((0, n), np.float32)
        return np.frombuffer(self._scores, dtype=np.float32).reshape(-1, n)

    @property
    def extra_values(self) -> np.ndarray:
        """(rows, extras): valence, arousal... per row; (rows, 0) for a model without them."""
        n = len(self.extras)
        if not len(self) or not n:
            return np.zeros((len(self), n), np.float32)
        return np.frombuffer(self._extra, dtype=np.float32).reshape(-1, n)

    def dominant(self) -> np.ndarray:
        return np.argmax(self.scores, axis=1) if len(self) else np.zeros(0, int)

    # -- export ------------------------------------------------------------------------
    def csv(self) -> str:
        """``time_s,frame,face_id,person_id,x,y,w,h,emotion,<label>...[,valence,arousal]``, one row
        per face per frame; ``person_id`` is empty for a face linked to nobody."""
        out = io.StringIO()
        out.write(",".join(CSV_FIXED + tuple(_csv_field(name) for name in self.labels + self.extras)) + "\n")
        names = [_csv_field(label) for label in self.labels]
        boxes, all_scores, dominant = self.boxes.tolist(), self.scores.tolist(), self.dominant().tolist()
        extras = self.extra_values.tolist()
        for i in range(len(self)):
            x, y, w, h = boxes[i]
            scores = ",".join(f"{v:.5f}" for v in all_scores[i] + extras[i])
            person = self.person_of(self._face[i])
            out.write(f"{self._time[i]:.3f},{self._frame[i]},{self._face[i]},{'' if person is None else person},"
                      f"{x:.1f},{y:.1f},{w:.1f},{h:.1f},"
                      f"{names[dominant[i]]},{scores}\n")
        return out.getvalue()

    def rows(self) -> list[dict]:
        boxes, all_scores, dominant = self.boxes.tolist(), self.scores.tolist(), self.dominant().tolist()
        extras = self.extra_values.tolist()
        return [{"time_s": round(self._time[i], 3), "frame": self._frame[i], "face_id": self._face[i],
                 "person_id": self.person_of(self._face[i]), "x": round(boxes[i][0], 1), "y": round(boxes[i][1], 1),
                 "w": round(boxes[i][2], 1), "h": round(boxes[i][3], 1),
                 "emotion": self.labels[dominant[i]],
                 "scores": {label: round(v, 5) for label, v in zip(self.labels, all_scores[i])}}
                | {name: round(v, 5) for name, v in zip(self.extras, extras[i])}
                for i in range(len(self))]

    def summary(self, frames_total: int | None = None, seconds: float | None = None) -> dict:
        """Per face and per person: first and last time seen, rows, share of rows per dominant
        emotion, mean probability per label (a person's faces: the tracks linked to them); and
        for the whole: frames, analysed frames, time spent."""
        ids = self.face_ids
        faces = {str(face_id): self._describe(ids == face_id) for face_id in sorted(set(ids.tolist()))}
        people = {}
        for pid in sorted({p for p, _ in self.persons.values()}):
            linked = [face for face, (p, _) in self.persons.items() if p == pid]
            mine = np.isin(ids, linked)
            if mine.any():
                name = next(n for face, (p, n) in self.persons.items() if p == pid)
                people[str(pid)] = {"name": name, "faces": sorted(set(ids[mine].tolist()))} | self._describe(mine)
        out = {"frames": frames_total if frames_total is not None else self.frames_analysed,
               "analysed_frames": self.frames_analysed}
        if seconds is not None:
            out["seconds"] = round(seconds, 3)
            out["frames_per_second"] = round(self.frames_analysed / seconds, 2) if seconds > 0 else None
        out["faces"] = faces
        if self.persons:
            out["people"] = people
        return out

    def _describe(self, mine: np.ndarray) -> dict:
        times, scores = self.times[mine], self.scores[mine]
        counts = np.bincount(self.dominant()[mine], minlength=len(self.labels))
        extras = self.extra_values[mine]
        return {
            "first_s": round(float(times.min()), 3),
            "last_s": round(float(times.max()), 3),
            "frames": int(mine.sum()),
            "share": {label: round(float(c) / int(mine.sum()), 4) for label, c in zip(self.labels, counts)},
            "mean": {label: round(float(v), 5) for label, v in zip(self.labels, scores.mean(axis=0))},
        } | {name: {"mean": round(float(extras[:, k].mean()), 5), "min": round(float(extras[:, k].min()), 5),
                    "max": round(float(extras[:, k].max()), 5)} for k, name in enumerate(self.extras)}

    def people(self) -> list[dict]:
        """The people seen, for the metadata: id, name, first and last seen, rows."""
        summary = self.summary()["people"] if self.persons else {}
        return [{"id": int(pid), "name": p["name"], "first_s": p["first_s"], "last_s": p["last_s"],
                 "frames": p["frames"], "faces": p["faces"]} for pid, p in summary.items()]

    def to_json(self, metadata: dict, frames_total: int | None = None, seconds: float | None = None) -> dict:
        if self.persons:
            metadata = metadata | {"people": self.people()}
        return {"metadata": metadata, "labels": self.labels} | ({"regressions": self.extras} if self.extras else {}) | {
            "rows": self.rows(), "summary": self.summary(frames_total, seconds)}

    @classmethod
    def from_json(cls, data: dict) -> Timeline:
        """The rows of a JSON export, back as a Timeline (frames without faces are not in the
        rows: ``frames_analysed`` comes from the summary)."""
        extras = data.get("regressions", [])
        timeline = cls(data["labels"], extras)
        names = {p["id"]: p.get("name", "") for p in data.get("metadata", {}).get("people", [])}
        persons = {}
        for row in data["rows"]:
            box = (row["x"], row["y"], row["w"], row["h"])
            timeline.add(row["time_s"], row["frame"], [(row["face_id"], box, [row["scores"][k] for k in data["labels"]],
                                                        [row[k] for k in extras])])
            if row.get("person_id") is not None:
                persons[row["face_id"]] = (row["person_id"], names.get(row["person_id"], ""))
        timeline.link(persons)
        timeline.frames_analysed = int(data.get("summary", {}).get("analysed_frames", timeline.frames_analysed))
        return timeline

    # -- the chart --------------------------------------------------------------------------
    def lanes(self, start_s: float, end_s: float, columns: int, hold_s: float = 0.5) -> list[Lane]:
        """Per person (or unlinked face) seen in [start_s, end_s): mean probabilities in
        ``columns`` equal time slices, lanes in order of first appearance. A slice without a row
        of its own holds the lane's last values when that row is at most ``hold_s`` older
        (frames are further apart than slices on a long chart); otherwise it is NaN: absent."""
        times, ids, scores, extra = self.times, self.face_ids, self.scores, self.extra_values
        inside = (times >= start_s) & (times < end_s) if end_s > start_s else np.zeros(len(times), bool)
        span = max(end_s - start_s, 1e-9)
        column = np.clip(((times[inside] - start_s) / span * columns).astype(int), 0, columns - 1)
        lanes = []
        groups: dict[tuple[str, int], tuple[str, list[int]]] = {}
        for face_id in dict.fromkeys(ids[inside].tolist()):
            key, label = self.lane_of(face_id)
            groups.setdefault(key, (label, []))[1].append(face_id)
        for key, (label, faces) in groups.items():
            mine = np.isin(ids[inside], faces)
            values = np.concatenate([scores[inside][mine], extra[inside][mine]], axis=1)
            sums = np.zeros((values.shape[1], columns))
            counts = np.zeros(columns)
            np.add.at(sums.T, column[mine], values)
            np.add.at(counts, column[mine], 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = sums / counts
            has = counts > 0
            last = np.maximum.accumulate(np.where(has, np.arange(columns), -1))
            fill = ~has & (last >= 0) & ((np.arange(columns) - last) * span / columns <= hold_s)
            means[:, fill] = means[:, last[fill]]
            n = len(self.labels)
            lanes.append(Lane(key, label, means[:n], means[n:] if self.extras else None))
        return lanes

    def at(self, time_s: float, window_s: float) -> list[tuple[str, float, np.ndarray, dict[str, float]]]:
        """The rows nearest ``time_s`` (within ``window_s``), one per lane: (its label, its time,
        scores, its valence and arousal by name — empty for a model without them) — what the
        chart shows for the moment a person points at."""
        times, ids = self.times, self.face_ids
        groups: dict[tuple[str, int], tuple[str, list[int]]] = {}
        for face_id in dict.fromkeys(ids.tolist()):
            key, label = self.lane_of(face_id)
            groups.setdefault(key, (label, []))[1].append(face_id)
        out = []
        for label, faces in groups.values():
            mine = np.flatnonzero(np.isin(ids, faces))
            nearest = mine[np.argmin(np.abs(times[mine] - time_s))]
            if abs(times[nearest] - time_s) <= window_s:
                extras = dict(zip(self.extras, self.extra_values[nearest].tolist()))
                out.append((label, float(times[nearest]), self.scores[nearest], extras))
        return out


def rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    try:
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    except ValueError:
        return 139, 141, 152


def clock(seconds: float) -> str:
    """0:07.4, 12:03.0 — a moment in a recording."""
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def axis_ticks(plot_px: float, label_px: float, most: int = 5) -> list[float]:
    """Where a time axis's labels go, as fractions of the plot's width (the first flush left, the
    last flush right, the rest centred): as many as fit, up to ``most``, evenly spaced with at
    least half a label's width between neighbours. A narrow chart (a phone) gets fewer labels
    rather than labels that run into each other."""
    gap = label_px / 2
    for n in range(most, 2, -1):
        # A centred label next to one flush with an end needs 1.5 labels and the gap between them.
        if plot_px / (n - 1) >= 1.5 * label_px + gap:
            return [i / (n - 1) for i in range(n)]
    return [0.0, 1.0] if plot_px >= 2 * label_px + gap else [0.0]


def paint_lanes(lanes, colors: np.ndarray, width: int, lane_h: int) -> np.ndarray:
    """(lanes × lane_h, width, 4) RGBA: each column stacks the labels' probabilities bottom-up
    in their colours (``colors``: one per label, then one for "absent"); columns where the face
    is absent, and each lane's last row (a gap between lanes), are EMPTY."""
    image = np.empty((max(1, len(lanes)) * lane_h, width, 4), np.uint8)
    image[..., :3] = EMPTY
    image[..., 3] = 255
    rows_used = max(1, lane_h - 1)
    heights = (np.arange(rows_used)[::-1] + 0.5) / rows_used  # each pixel row's height in the lane, 0..1
    for k, lane in enumerate(lanes):
        probs = lane.probs[:, :width]
        seen = ~np.isnan(probs[0])
        cumulative = np.cumsum(np.nan_to_num(probs), axis=0)  # (labels, width)
        band = (cumulative[None, :, :] < heights[:, None, None]).sum(axis=1)  # (rows, width): label index
        band = np.minimum(band, len(colors) - 1)
        rows = image[k * lane_h:k * lane_h + rows_used]
        rows[:, seen, :3] = colors[band[:, seen]]
        if lane.extras is not None:  # valence, arousal: a line each across the lane, -1 at the bottom
            for values, color in zip(lane.extras[:, :width], EXTRA_COLORS):
                has = ~np.isnan(values)
                y = np.round((1.0 - (np.clip(values[has], -1, 1) + 1.0) / 2.0) * (rows_used - 1)).astype(int)
                x = np.flatnonzero(has)
                for dy in (0, 1):  # two pixels thick
                    rows[np.clip(y + dy, 0, rows_used - 1), x, :3] = color
    return image


def _csv_field(text: str) -> str:
    """A label as a CSV field: quoted when it holds a comma, a quote or a line break."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text
