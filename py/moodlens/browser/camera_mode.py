"""The live camera: start, stop, pick a camera, and the loop that runs its frames through the
pipeline (``moodlens.runner``).

    camera = CameraMode(analysis, source, live, diagnostics)   # source: sources.camera.CameraSource
    await camera.start()                  # raises nothing a person causes: errors end in #status
    await camera.stop()

Each result: boxes drawn, bars, emoji and mood shown, ``#results`` written, the live session's
timeline fed, and the watchdog told (``recovery.py`` acts when results stop coming).
"""

from __future__ import annotations

import asyncio

from ..runner import Runner
from . import remote
from ._compat import js
from ._js import JsError, spawn, store, stored
from .recovery import Watchdog
from .sources.camera import ENDED, CameraError

CAMERA_SETTING = "moodlens.camera"  # the camera the person picked (a device id, never an image)
# How long the end of the start waits for the face-descriptor model before it is declared over
# anyway (a stalled download must not keep the offline copy from being made).
PEOPLE_WAIT_S = 30.0


class CameraMode:
    def __init__(self, analysis, source, live, diagnostics):
        self.analysis, self.source, self.view = analysis, source, analysis.view
        self.live, self.diagnostics = live, diagnostics
        self.running = False
        self.task = None  # the runner's task
        self.generation = 0  # bumped when the loop restarts: results of an older loop are void
        self.shown_first = False
        self.closing = None  # the task that ends the start once the first result is shown
        self.watchdog = Watchdog()
        source.on_ended(self.ended)

    # -- on and off -----------------------------------------------------------------------
    async def start(self, device_id: str | None = None) -> None:
        view = self.view
        view.button.disabled = True
        view.set_state("ready", "Starting the camera…")
        chosen = device_id or stored(CAMERA_SETTING)
        try:
            try:
                notes = await self.source.open(chosen)
            except CameraError as exc:
                if not chosen or exc.name not in ("NotFoundError", "OverconstrainedError"):
                    raise
                store(CAMERA_SETTING, None)  # the remembered camera is gone: use the default one
                notes = await self.source.open(None)
        except CameraError as exc:
            self.halt()
            view.set_state("error", str(exc))
            view.start_done()
            return
        view.add_notes(notes)
        view.show_cameras(await self.source.devices(), self.source.device_id())
        self.running = True
        self.analysis.pipeline.reset()
        self.watchdog.resume(js.performance.now())
        view.set_running(True)
        self.analysis.say_running()
        self._loop()

    async def stop(self) -> None:
        self.halt()
        self.view.set_state("ready", "Camera stopped. Press Start camera to go again.")
        self.view.start_done()

    async def _start_over(self) -> None:
        """The start is over once the first result is shown and the descriptor model, which that
        result sets loading (live_session.py), is in (or failed, or people are off): only then
        ``view.start_done()``, on which boot.js registers the service worker. Its download of the
        offline copy and the compiling after it would otherwise run at the same moment as the
        model's download and compiling, and on a two-core machine the page's frames came late
        (docs/performance.md, "After the first emotion")."""
        try:
            await asyncio.wait_for(asyncio.shield(self.analysis.ensure_people()), PEOPLE_WAIT_S)
        except Exception:  # noqa: BLE001 - ensure_people says itself what failed; a stall only waits
            pass
        finally:
            self.view.start_done()

    def halt(self) -> None:
        """Stop the loop and the camera, clear the picture; the app stays ready to start again."""
        self.running = False
        self._cancel_loop()
        self.source.close()
        self.view.clear()
        self.view.hide_inputs()
        self.view.set_running(False)

    def ended(self) -> None:
        if self.running:
            self.halt()
            self.view.set_state("error", ENDED)

    async def pick(self, device_id: str) -> None:
        store(CAMERA_SETTING, device_id)
        if self.running:
            self.halt()
            await self.start(device_id)

    def visibility_changed(self, hidden: bool) -> None:
        """Hidden tab: no analysis (the camera stays on so the return is instant)."""
        if not self.running:
            return
        if hidden:
            self.view.set_state("running", "Paused while this tab is hidden.")
        else:
            self.source.reset_counts()
            self.watchdog.resume(js.performance.now())
            self.analysis.say_running()

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        runner = Runner(self.source, self._analyse, [self], on_error=self._frame_failed)
        self.task = spawn(self._run(runner, self.generation), self._loop_failed)

    async def _run(self, runner: Runner, generation: int) -> None:
        report = await runner.run()
        if report.error and self.running and generation == self.generation:
            self.halt()
            self.view.set_state("error", f"Inference keeps failing: {report.error}. Press Start camera to try again.")

    def _loop_failed(self, exc: Exception) -> None:
        """The loop died of something unforeseen."""
        self.halt()
        self.view.set_state("error", f"The analysis stopped: {exc}. Press Start camera to try again.")

    def _cancel_loop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = None

    def restart(self) -> None:
        """A new loop on the same camera; whatever the old one awaited is abandoned."""
        self.generation += 1
        self._cancel_loop()
        if self.running:
            self._loop()

    async def _analyse(self, frame):
        analysis = self.analysis
        if analysis.recovering:
            return None
        pipeline, emotion, generation = analysis.pipeline, analysis.emotion, self.generation
        try:
            with emotion.lease():
                result = await pipeline.step(frame.pixels, frame.time_ms)
        except Exception:
            if analysis.recovering or generation != self.generation:
                return None  # the backend went away mid-frame; it is being rebuilt
            raise
        if not self.running or generation != self.generation:
            return None
        return result

    async def replay(self) -> None:
        """A video the browser paused (a stalled loop may be one) plays again."""
        try:
            await self.source.play()
        except JsError:
            pass

    def _frame_failed(self, exc: Exception) -> None:
        js.console.error(f"Moodlens inference failed: {exc!r}")

    def result(self, frame, result) -> None:
        """The runner's sink: show one frame's analysis."""
        from ..present import announcement, main_face

        view, live = self.view, self.live
        h, w = frame.pixels.shape[:2]
        drawing = js.performance.now()
        view.draw(result.faces, w, h)
        payload = result.to_json()
        payload["stages_ms"].update(grab=round(frame.grab_ms, 2), draw=round(js.performance.now() - drawing, 2))
        payload["latency_ms"] = round(js.performance.now() - (frame.captured_ms or frame.time_ms), 2)
        payload["frame_ms"] = round(frame.time_ms, 1)  # when the frame showed, on the page's clock
        rows = len(live.timeline) if live.timeline is not None else 0
        payload["diagnostics"] = self.diagnostics.snapshot(self.source.dropped_frames, rows, self.source.page_heap)
        main = main_face(result.faces)
        view.show(payload, main, announcement(main), frame.time_ms)
        if result.inputs is not None:
            view.show_inputs(result.inputs, self.analysis.pipeline.manifest.input, result.faces)
        if not self.shown_first:
            if self.closing is None:  # the first result, with a face or not
                self.closing = spawn(self._start_over())
            if main is not None:
                self.shown_first = True
                remote.page.mark("moodlens:first-emotion")
        live.record(frame, result)
        self.watchdog.result(js.performance.now())
