"""The timeline on the page: one lane per person (or per face not linked to one), its emotions over time, a cursor, a summary.

    view = TimelineView(document, "live")      # the elements with ids live-timeline, live-readout, ...
    view.use_labels(manifest)                  # colours and names, in the manifest's order
    view.draw(timeline, start_s, end_s)        # lanes for that window of time
    view.summary(timeline.summary())           # share of time per emotion, mean probabilities

Each lane stacks every label's probability in the label's colour, so the dominant emotion is
the widest band; the lane's name says who ("Alice", "Person 2", or "Face 3" before a face is
linked to a person). The lanes are painted as one image made in
NumPy (``putImageData``), not thousands of canvas calls, so a long video draws at once and a
live session redraws cheaply. Pointing at the chart, or moving the cursor with the arrow keys
(Home/End, Shift for bigger steps) once it has focus, shows that moment's scores per face in
the readout (an ``aria-live`` region) and, for a video, seeks a preview of the file to it.
"""

from __future__ import annotations

from html import escape

import numpy as np

from ..timeline import EMPTY, Timeline, axis_ticks, clock, paint_lanes, rgb
from ._compat import create_proxy, js

LANE_PX = 34  # CSS pixels per lane
GUTTER_PX = 72  # room for the lane's name
AXIS_PX = 18


class TimelineView:
    def __init__(self, document, prefix: str, preview=None, on_name=None):
        self.doc, self.prefix = document, prefix
        el = document.getElementById
        # Naming people: a form under the table (person, name, Save), shown once there are people.
        self.naming, self.person_pick, self.person_name = el(f"{prefix}-naming"), el(f"{prefix}-person"), \
            el(f"{prefix}-person-name")
        self.on_name = on_name  # (person id, name) -> None
        self._people_shown: tuple = ()
        self.canvas = el(f"{prefix}-timeline")
        self.readout = el(f"{prefix}-readout")
        self.table = el(f"{prefix}-summary")
        self.extras_note = el(f"{prefix}-extras")  # says what the valence and arousal lines are
        self.preview = preview  # a <video> showing the analysed file, seeked to the cursor
        self.ctx = self.canvas.getContext("2d")
        self.labels: list[str] = []
        self.colors = np.zeros((1, 3), np.uint8)
        self.timeline: Timeline | None = None
        self.window = (0.0, 1.0)
        self.cursor_s: float | None = None
        self._lanes: list = []
        self._proxies = [create_proxy(self._pointer), create_proxy(self._key), create_proxy(self._named)]
        self.naming.addEventListener("submit", self._proxies[2], prevent=True)
        self.canvas.addEventListener("pointermove", self._proxies[0])
        self.canvas.addEventListener("pointerdown", self._proxies[0])
        self.canvas.addEventListener("keydown", self._proxies[1], prevent=["ArrowRight", "ArrowLeft", "Home", "End"])
        self.canvas.on_resize(self._resized)  # the chart fits its width: redrawn when the page resizes it

    def _resized(self) -> None:
        if self.timeline is not None:
            self.draw(self.timeline, *self.window)

    def use_labels(self, manifest) -> None:
        self.labels = [label.name for label in manifest.labels]
        self.colors = np.array([rgb(label.color) for label in manifest.labels] + [EMPTY], np.uint8)
        self.extras_note.hidden = not manifest.regressions

    # -- drawing ----------------------------------------------------------------------------
    def draw(self, timeline: Timeline, start_s: float, end_s: float) -> None:
        self.timeline, self.window = timeline, (start_s, max(end_s, start_s + 1e-3))
        ratio = float(getattr(self.doc.defaultView, "devicePixelRatio", 1) or 1)
        css_w = max(200, int(self.canvas.clientWidth or 600))
        plot_w = max(1, int((css_w - GUTTER_PX) * ratio))
        lane_h = max(4, int(LANE_PX * ratio))
        self._lanes = timeline.lanes(start_s, self.window[1], plot_w)
        lanes_h = max(1, len(self._lanes)) * lane_h
        axis_h = int(AXIS_PX * ratio)
        width, height = int(css_w * ratio), lanes_h + axis_h
        if self.canvas.width != width or self.canvas.height != height:
            self.canvas.width, self.canvas.height = width, height
            self.canvas.style.height = f"{height / ratio}px"
        ctx = self.ctx
        ctx.clearRect(0, 0, width, height)
        gutter = int(GUTTER_PX * ratio)
        if self._lanes:
            image = paint_lanes(self._lanes, self.colors, plot_w, lane_h)
            data = js.ImageData.new(plot_w, lanes_h)
            data.data.assign(image.ravel())
            ctx.putImageData(data, gutter, 0)
        ctx.fillStyle = "#c9cbd6"
        ctx.font = f"{round(12 * ratio)}px system-ui, sans-serif"
        ctx.textBaseline = "middle"
        for k, lane in enumerate(self._lanes):
            ctx.fillText(_fit(lane.label), 4 * ratio, k * lane_h + lane_h / 2)
        if not self._lanes:
            ctx.fillText("No face yet", gutter, lane_h / 2)
        ctx.textBaseline = "alphabetic"
        # The time axis: up to five labels, fewer where the chart is too narrow for them (a phone).
        widest = max(ctx.measureText(clock(t)).width for t in (start_s, self.window[1]))
        for f in axis_ticks(plot_w, widest):
            ctx.textAlign = "left" if f == 0 else "right" if f == 1 else "center"
            ctx.fillText(clock(start_s + (self.window[1] - start_s) * f), gutter + plot_w * f, height - 4 * ratio)
        ctx.textAlign = "left"
        if self.cursor_s is not None and start_s <= self.cursor_s <= self.window[1]:
            x = gutter + (self.cursor_s - start_s) / (self.window[1] - start_s) * plot_w
            ctx.fillStyle = "#ffffff"
            ctx.fillRect(x - ratio, 0, 2 * ratio, lanes_h)
        count = len(self._lanes)
        who = "person" if all(lane.key[0] == "person" for lane in self._lanes) and count else "face"
        self.canvas.setAttribute("aria-label", f"Timeline of {count} {who}{'s' if count != 1 else ''} from "
                                               f"{clock(start_s)} to {clock(self.window[1])}; use the arrow keys "
                                               "to read a moment")

    def redraw(self) -> None:
        """Draw again what is shown (its people renamed, say), the readout with it."""
        if self.timeline is None:
            return
        if self.cursor_s is not None:
            self.point_at(self.cursor_s)
        else:
            self.draw(self.timeline, *self.window)

    def summary(self, summary: dict) -> None:
        """A table: a row per person (per face when nobody was linked), a column per label with
        its share of time as the dominant emotion and its mean probability."""
        table = self.table
        table.replaceChildren()
        people = summary.get("people")
        rows = ({f"{p['name'] or 'Person ' + pid}": p for pid, p in people.items()} if people
                else {f"Face {face_id}": face for face_id, face in summary.get("faces", {}).items()})
        head = self.doc.createElement("tr")
        extras = [name for name in ("valence", "arousal") if any(name in f for f in rows.values())]
        for text in ["Person" if people else "Face", "Seen", *self.labels, *extras]:
            th = self.doc.createElement("th")
            th.textContent = text
            th.scope = "col"
            head.append(th)
        table.append(head)
        for name, face in rows.items():
            row = self.doc.createElement("tr")
            th = self.doc.createElement("th")
            th.scope = "row"
            th.textContent = name
            row.append(th)
            seen = self.doc.createElement("td")
            seen.textContent = f"{clock(face['first_s'])}–{clock(face['last_s'])}"
            row.append(seen)
            for label in self.labels:
                cell = self.doc.createElement("td")
                share, mean = face["share"].get(label, 0.0), face["mean"].get(label, 0.0)
                cell.textContent = f"{round(share * 100)}% · {mean:.2f}"
                cell.title = f"{label}: dominant {round(share * 100)}% of the time, mean probability {mean:.3f}"
                row.append(cell)
            for name in extras:
                cell = self.doc.createElement("td")
                v = face[name]
                cell.textContent = f"{v['mean']:+.2f} ({v['min']:+.2f}…{v['max']:+.2f})"
                cell.title = f"{name}: mean {v['mean']:+.3f}, range {v['min']:+.3f} to {v['max']:+.3f}"
                row.append(cell)
            table.append(row)
        table.hidden = not rows
        self._show_naming(people or {})

    def _show_naming(self, people: dict) -> None:
        """The person picker lists the people of the table (kept as it is while they are the same)."""
        shown = tuple((pid, p["name"]) for pid, p in people.items())
        if shown == self._people_shown:
            return
        chosen = str(self.person_pick.value or "")
        self._people_shown = shown
        self.person_pick.innerHTML = "".join(
            f'<option value="{pid}">{escape(name or "Person " + pid)}</option>' for pid, name in shown)
        if chosen in {pid for pid, _ in shown}:
            self.person_pick.value = chosen
        self.naming.hidden = not shown or self.on_name is None

    def _named(self, event) -> None:
        pid = str(self.person_pick.value or (self._people_shown[0][0] if self._people_shown else ""))
        if pid and self.on_name is not None:
            self.on_name(int(pid), str(self.person_name.value or ""))
            self.person_name.value = ""

    # -- the cursor ---------------------------------------------------------------------------
    def _pointer(self, event) -> None:
        if self.timeline is None:
            return
        rect = self.canvas.getBoundingClientRect()
        plot_x = float(event.clientX) - float(rect.left) - GUTTER_PX
        plot_w = max(1.0, float(rect.width) - GUTTER_PX)
        start, end = self.window
        self.point_at(start + min(max(plot_x / plot_w, 0.0), 1.0) * (end - start))

    def _key(self, event) -> None:
        if self.timeline is None:
            return
        start, end = self.window
        step = (end - start) / (20 if event.shiftKey else 200)
        now = self.cursor_s if self.cursor_s is not None else start
        # End: the newest moment analysed. The window may reach past it (a live session's chart
        # spans at least a second), and a moment there has no face to read.
        times = self.timeline.times
        newest = min(end, float(times.max())) if len(times) else end
        moves = {"ArrowRight": now + step, "ArrowLeft": now - step, "Home": start, "End": newest}
        if str(event.key) in moves:
            event.preventDefault()
            self.point_at(min(max(moves[str(event.key)], start), end))

    def point_at(self, time_s: float) -> None:
        """Show the moment ``time_s``: each face's scores there, and the video's frame."""
        self.cursor_s = time_s
        timeline = self.timeline
        found = timeline.at(time_s, window_s=max(0.25, (self.window[1] - self.window[0]) / 200))
        if found:
            parts = []
            for who, _, scores, extras in found:
                order = np.argsort(-scores)
                top = ", ".join(f"{self.labels[i]} {round(float(scores[i]) * 100)}%" for i in order[:3])
                parts.append(f"{who}: {top}" + "".join(f", {name} {value:+.2f}" for name, value in extras.items()))
            self.readout.textContent = f"{clock(time_s)} — " + "; ".join(parts)
        else:
            self.readout.textContent = f"{clock(time_s)} — no face"
        if self.preview is not None:
            self.preview.currentTime = time_s
        self.draw(timeline, *self.window)


def _fit(label: str, most: int = 10) -> str:
    """A lane's name cut to fit the gutter ("Alexandrina" -> "Alexandri…")."""
    return label if len(label) <= most else label[: most - 1] + "…"
