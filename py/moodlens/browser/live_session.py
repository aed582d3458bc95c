"""The live camera session on the timeline: every analysed frame recorded, the last minutes
charted as they scroll by, and the whole session downloadable as CSV or JSON (numbers only,
never a frame).

    session = LiveSession(document, analysis)
    session.record(frame, result)    # from the camera's runner, per analysed frame

The session runs from the first Start until the page closes; Stop and Start continue it (the
times are seconds since its first frame). A model with other labels starts it afresh, with a
note. The chart shows the last ``WINDOW_S`` seconds and redraws at most twice a second.
"""

from __future__ import annotations

import json

from .. import __version__
from ..timeline import Timeline
from ._compat import create_proxy, js
from ._js import download, spawn
from .timeline_view import TimelineView

WINDOW_S = 180.0
REDRAW_S = 0.5


class LiveSession:
    def __init__(self, document, analysis):
        self.analysis = analysis
        self.section = document.getElementById("live-result")
        self.view = TimelineView(document, "live", on_name=analysis.name_person)
        analysis.on_people_change(self.relink)
        self.timeline: Timeline | None = None
        self.start_ms: float | None = None
        self.started_at = None
        self.last_draw = -1e9
        self.last_summary = -1e9
        self._proxies = [create_proxy(lambda e: self._download("csv")), create_proxy(lambda e: self._download("json"))]
        document.getElementById("live-csv").addEventListener("click", self._proxies[0])
        document.getElementById("live-json").addEventListener("click", self._proxies[1])

    def use_model(self, manifest) -> None:
        """A model switch: the timeline goes on if the labels are the same, else starts afresh."""
        self.view.use_labels(manifest)
        if self.timeline is not None and not self.timeline.relabel(manifest.label_names,
                                                                        manifest.regression_names):
            self.start_ms = None
            self.analysis.view.add_notes([f"The session timeline starts again: {manifest.id} has other labels."])

    def record(self, frame, result) -> None:
        if self.timeline is None:
            manifest = self.analysis.emotion.manifest
            self.timeline = Timeline(manifest.label_names, manifest.regression_names)
            self.started_at = js.Date.new().toISOString()
        if any(len(f.bars) != len(self.timeline.labels) or len(f.regressions) != len(self.timeline.extras)
               for f in result.faces):
            return  # a frame still under way on the model just switched away from
        if self.start_ms is None:
            self.start_ms = frame.time_ms
        time_s = (frame.time_ms - self.start_ms) / 1000.0
        self.timeline.add(time_s, frame.index, [(f.track_id, f.box, [b.value for b in f.bars],
                                                 [v for _, v in f.regressions]) for f in result.faces])
        if self.analysis.people_pending():
            spawn(self.analysis.ensure_people())  # after the first emotion: the start is not slowed
        if result.faces and any(f.person_id is not None for f in result.faces):
            persons = self.analysis.persons("camera")
            if persons != self.timeline.persons:
                self.timeline.link(persons)
                self.last_draw = self.last_summary = -1e9  # a face just became someone: show it now
        if time_s - self.last_draw >= REDRAW_S or time_s < self.last_draw:
            self.last_draw = time_s
            self.section.hidden = False
            self.view.draw(self.timeline, max(0.0, time_s - WINDOW_S), max(time_s, 1.0))
        if time_s - self.last_summary >= 2.0 or time_s < self.last_summary:
            self.last_summary = time_s
            self.view.summary(self.timeline.summary())

    def relink(self) -> None:
        """People renamed: the rows' people, the chart's lanes and the table follow."""
        if self.timeline is None:
            return
        self.timeline.link(self.analysis.persons("camera"))
        self.view.redraw()
        self.view.summary(self.timeline.summary())

    def export(self) -> dict:
        t, analysis = self.timeline, self.analysis
        metadata = {"moodlens": __version__, "source": "camera", "started_at": self.started_at,
                    "duration_s": round(t.last_time_s, 3), "model": analysis.describe_model(analysis.emotion),
                    "settings": analysis.settings()}
        return t.to_json(metadata)

    def _download(self, kind: str) -> None:
        if self.timeline is None:
            return
        stamp = (self.started_at or "session")[:19].replace(":", "-")
        if kind == "csv":
            download(f"moodlens-session-{stamp}.csv", self.timeline.csv(), "text/csv")
        else:
            download(f"moodlens-session-{stamp}.json", json.dumps(self.export()), "application/json")
