"""Video mode on the page: a file analysed frame by frame, with progress, Cancel, the timeline
and the CSV/JSON downloads.

    mode = VideoMode(document, analysis)
    await mode.analyse(file)        # runs until the end, a Cancel or a failure; never raises for a bad file

``analysis.video_pipeline()`` gives the emotion model in use and a fresh pipeline on it (the
current detector, this video's own tracker); the whole video is analysed with that model,
held for the run (a model switch meanwhile frees it afterwards), so its rows share one label
set. ``analysis.describe_model(model)`` and ``analysis.settings()`` go into the JSON's metadata.
While a video is analysed ``#results`` holds ``{"source": "video", "file", "progress",
"done", "frames_analysed", "faces"}`` (docs/url-parameters.md, the page contract). Cancel stops between two frames;
what was analysed stays, charted and downloadable. Main-thread long tasks (over 50 ms; the
Long Tasks API, Chromium only) are counted while it runs and reported in the JSON.
"""

from __future__ import annotations

import json
import time

from .. import __version__
from ..runner import Runner
from ..timeline import Timeline, clock
from ._compat import create_proxy, js
from ._js import download
from .sources.video_file import VideoError, VideoFile, describe_error
from .timeline_view import TimelineView

UPDATE_EVERY_S = 0.1  # progress text and #results at most ten times a second


class VideoMode:
    def __init__(self, document, analysis):
        self.doc = document
        el = document.getElementById
        self.input, self.every = el("video-file"), el("video-every")
        self.panel, self.bar, self.text = el("video-progress"), el("video-bar"), el("video-progress-text")
        self.cancel_button, self.status, self.results = el("video-cancel"), el("video-status"), el("results")
        self.section, self.preview = el("video-result"), el("video-preview")
        self.view = TimelineView(document, "video", preview=self.preview, on_name=analysis.name_person)
        self.analysis = analysis
        self.namespace: str | None = None  # the last video's tracks, for the people
        analysis.on_people_change(self.relink)
        self.runner: Runner | None = None
        self.timeline: Timeline | None = None
        self.export: dict | None = None
        self.preview_url = None
        self._proxies = [create_proxy(lambda e: self.cancel()), create_proxy(lambda e: self._download("csv")),
                         create_proxy(lambda e: self._download("json"))]
        self.cancel_button.addEventListener("click", self._proxies[0])
        el("video-csv").addEventListener("click", self._proxies[1])
        el("video-json").addEventListener("click", self._proxies[2])

    @property
    def busy(self) -> bool:
        return self.runner is not None

    def cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.text.textContent = "Cancelling…"

    def _choice(self) -> tuple[int, float | None]:
        """The "Analyse" picker: "1", "5" (every Nth frame) or "fps:10" (frames a second)."""
        value = str(self.every.value or "1")
        if value.startswith("fps:"):
            return 1, float(value[4:])
        return max(1, int(value)), None

    async def analyse(self, file) -> None:
        if self.busy:
            self.status.textContent = "A video is being analysed; cancel it first."
            return
        every, target_fps = self._choice()
        source = VideoFile(file, every, target_fps)
        self.status.textContent = f"Opening {source.name}…"
        self.status.classList.remove("error")
        self.section.hidden = True
        self.export = None
        try:
            info = await source.open()
        except VideoError as exc:
            await source.close()
            self._failed(source.name, str(exc))
            return
        if self.analysis.cfg.people and self.analysis.describer is None:
            self.status.textContent = "Loading the face-descriptor model, to tell people apart…"
            await self.analysis.ensure_people()
        model, pipeline = self.analysis.video_pipeline()
        timeline = self.timeline = Timeline(model.manifest.label_names, model.manifest.regression_names)
        self.namespace = pipeline.namespace
        self.view.use_labels(model.manifest)

        async def analyse(frame):
            return await pipeline.step(frame.pixels, frame.time_ms)

        sink = _Progress(self, source, info, timeline)
        self.runner = Runner(source, analyse, [sink], on_error=lambda exc: js.console.error(f"Moodlens video: {exc!r}"))
        self._show_preview(file)
        self.panel.hidden = False
        self.input.disabled = True
        self.status.textContent = " ".join(info.notes)
        started = time.perf_counter()
        error = None
        try:
            with model.lease():
                report = await self.runner.run()
            error = report.error
        except Exception as exc:  # noqa: BLE001 - a damaged file mid-way: keep what was analysed
            error = describe_error(exc)
            report = self.runner.report
        finally:
            self.runner = None
            self.input.disabled = False
            self.input.value = ""
            self.panel.hidden = True
            await source.close()
        seconds = time.perf_counter() - started
        timeline.link(self.analysis.persons(self.namespace))
        self.export = self._export(info, model, timeline, seconds, every, target_fps, report, error)
        self.export["summary"]["time_ms_per_frame"] = sink.timing()
        sink.finish(report, error)
        self.section.hidden = False
        self.view.draw(timeline, 0.0, max(info.duration_s or 0.0, timeline.last_time_s, 0.001))
        self.view.summary(self.export["summary"])
        done = (f"Cancelled after {report.analysed} of {info.frames or '?'} frames" if report.cancelled
                else f"Analysed {report.analysed} frames of {source.name}")
        notes = "".join(f" {note}" for note in info.notes)
        if error:
            self.status.textContent = f"{done}; then: {error}{notes}"
            self.status.classList.add("error")
        else:
            if not report.cancelled:
                done += f" in {seconds:.1f} s ({report.analysed / seconds if seconds else 0:.0f} frames a second)"
            self.status.textContent = f"{done}. Download the numbers below.{notes}"

    def relink(self) -> None:
        """People renamed: the last video's rows, chart, table and export follow."""
        if self.timeline is None or self.export is None or self.namespace is None:
            return
        self.timeline.link(self.analysis.persons(self.namespace))
        self.export["metadata"]["people"] = self.timeline.people()
        self.export["summary"]["people"] = self.timeline.summary().get("people", {})
        self.view.redraw()
        self.view.summary(self.export["summary"])

    def _failed(self, name: str, message: str) -> None:
        self.status.textContent = message
        self.status.classList.add("error")
        self.results.textContent = json.dumps({"source": "video", "file": name, "progress": 0, "done": True,
                                               "frames_analysed": 0, "faces": [], "error": message})

    def _show_preview(self, file) -> None:
        """The file in a muted <video> beside the chart, seeked to the moment pointed at."""
        self.preview.show_blob("src", file)  # the page makes (and later revokes) its blob: URL

    def _export(self, info, model, timeline, seconds, every, target_fps, report, error) -> dict:
        metadata = {
            "moodlens": __version__,
            "file": info.name, "duration_s": info.duration_s, "frame_rate": info.frame_rate,
            "frames": report.frames if not report.cancelled and not error else info.frames,
            "width": info.width, "height": info.height,
            "model": self.analysis.describe_model(model),
            "colors": {label.name: label.color for label in model.manifest.labels},
            "settings": {"every": every, "target_fps": target_fps, **self.analysis.settings()},
            "analysed_at": js.Date.new().toISOString(),
            "cancelled": report.cancelled, "error": error, "notes": list(info.notes),
        }
        return timeline.to_json(metadata, frames_total=metadata["frames"], seconds=seconds)

    def _download(self, kind: str) -> None:
        if self.export is None or self.timeline is None:
            return
        stem = str(self.export["metadata"]["file"]).rsplit(".", 1)[0] or "video"
        if kind == "csv":
            download(f"{stem}-moodlens.csv", self.timeline.csv(), "text/csv")
        else:
            download(f"{stem}-moodlens.json", json.dumps(self.export), "application/json")


class _Progress:
    """The runner's sink: each result into the timeline; progress and #results kept current."""

    def __init__(self, mode: VideoMode, source: VideoFile, info, timeline: Timeline):
        self.mode, self.source, self.info, self.timeline = mode, source, info, timeline
        self.started = time.perf_counter()
        self.last_update = 0.0
        self.analysed = 0
        self.latest = ([], 1.0)  # the latest frame's faces and its scale, for #results
        self.stages: dict[str, float] = {}  # ms summed over the analysed frames, per pipeline stage

    def timing(self) -> dict:
        """Where the time went, ms per analysed frame: the decoder, the copy, each pipeline stage,
        and the rest (the page, the event loop, Python between the stages)."""
        n = max(1, self.analysed)
        out = {"decode": self.source.decode_s * 1000 / n, "copy": self.source.copy_s * 1000 / n}
        out |= {stage: ms / n for stage, ms in self.stages.items()}
        wall = (time.perf_counter() - self.started) * 1000 / n
        out["other"] = max(0.0, wall - sum(out.values()))
        return {k: round(v, 2) for k, v in out.items()}

    def result(self, frame, result) -> None:
        self.analysed += 1
        for stage, ms in result.stages_ms.items():
            self.stages[stage] = self.stages.get(stage, 0.0) + ms
        scale = frame.scale
        faces = [(f.track_id, tuple(v / scale for v in f.box), [b.value for b in f.bars], [v for _, v in f.regressions])
                 for f in result.faces]
        self.timeline.add(frame.time_ms / 1000.0, frame.index, faces)
        self.latest = (result.faces, scale)  # made into JSON only when shown, not every frame
        now = time.perf_counter()
        if now - self.last_update >= UPDATE_EVERY_S:
            self.last_update = now
            self._show(frame.time_ms / 1000.0, done=False)

    def _progress(self, time_s: float) -> float:
        duration = self.info.duration_s or 0.0
        return min(1.0, time_s / duration) if duration > 0 else 0.0

    def _show(self, time_s: float, done: bool, extra: dict | None = None) -> None:
        complete = done and not (extra or {}).get("cancelled") and not (extra or {}).get("error")
        progress = 1.0 if complete else self._progress(time_s)
        mode = self.mode
        mode.bar.value = progress
        elapsed = time.perf_counter() - self.started
        decoded = self.source.decoded
        rate = decoded / elapsed if elapsed > 0 else 0.0
        total = self.info.frames
        left = (total - decoded) / rate if rate > 0 and total else None
        mode.text.textContent = (f"Frame {decoded} of {'~' + str(total) if total else '?'} · {rate:.0f} frames/s"
                                 + (f" · {clock(left)} left" if left is not None else ""))
        faces, scale = self.latest
        faces = [{"id": f.track_id, "person_id": f.person_id, "person": f.person,
                  "box": [round(v / scale, 1) for v in f.box], "emotion": f.emotion,
                  "scores": {b.label: round(b.value, 5) for b in f.bars}}
                 | {name: round(v, 5) for name, v in f.regressions} for f in faces]
        payload = {"source": "video", "file": self.info.name, "progress": round(progress, 4), "done": done,
                   "frames_analysed": self.analysed, "faces": faces}
        mode.results.textContent = json.dumps(payload | (extra or {}))

    def finish(self, report, error) -> None:
        extra = {"cancelled": report.cancelled} | ({"error": error} if error else {})
        summary = self.mode.export["summary"] if self.mode.export else {}
        self._show(self.source.last_time_s, done=True, extra=extra | {"summary": summary})
