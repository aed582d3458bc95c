"""Start-up, the user's actions and the frame loop: the app's life in the page.

Start-up runs in parallel where it can: NumPy installs while TF.js's backend is chosen and the
models download and warm up (``models.py``). The frame loop is driven by
``requestVideoFrameCallback``: every new video frame redraws the boxes; an inference starts on
a frame when none is running, the tab is visible and the ``?interval=`` has passed. The JS
callbacks are proxies made once for the app's life, so nothing is created per frame.

Every user action (start, stop, camera pick, model switch, own model, photos, landmarks) runs
through ``_run``: whatever escapes is logged with its traceback to the console and said in
``#status``, and no progress message or disabled control is left behind. A watchdog restarts
the loop, then moves to the next backend, when running brings no result for several seconds.

    await App(js.document).start_up()     # from site/main.py
"""

from __future__ import annotations

import json

import js
import pyodide_js
from pyodide.ffi import create_proxy

from .. import config
from . import env, tfjs
from ._js import JsError, fetch_json, log_error, obj, settle, spawn, store, stored
from .models import Models
from .view import View

MODELS_INDEX = "models/index.json"
CAMERA_SETTING = "moodlens.camera"  # the camera the person picked (a device id, never an image)
WATCHDOG_MS = 5000  # running with no finished inference for this long: restart, then change backend


class Diagnostics:
    """What tests and curious people see in ``#results.diagnostics``. Pyodide's PyProxy
    allocation tracing keeps a stack trace per proxy, so it is on only with ``?debug=1``."""

    def __init__(self, debug: bool):
        self.dropped_frames = 0
        self._last_presented = None
        module = getattr(pyodide_js, "_module", None)
        self._proxies = None
        if debug and module is not None and hasattr(module, "enable_pyproxy_allocation_tracing"):
            module.enable_pyproxy_allocation_tracing()  # Pyodide 0.27's own (private) bookkeeping
            self._proxies = getattr(module, "pyproxy_alloc_map", None)
        self._module = module

    def video_frame(self, presented: int) -> None:
        """Count frames the page never saw: the browser skips callbacks when it is too busy."""
        if self._last_presented is not None:
            self.dropped_frames += max(0, presented - self._last_presented - 1)
        self._last_presented = presented

    def reset(self) -> None:
        self._last_presented = None

    def snapshot(self, models: Models) -> dict:
        memory = getattr(js.performance, "memory", None)
        choice = models.diagnostics()
        return {
            "tensors": tfjs.memory()["tensors"],
            "js_heap_bytes": int(memory.usedJSHeapSize) if memory else None,
            "wasm_heap_bytes": int(self._module.HEAP8.length) if self._module else None,
            "py_proxies": int(self._proxies.size) if self._proxies is not None else None,
            "backend": models.backend,
            "backend_how": choice.get("how"),
            "backend_reason": choice.get("reason"),
            "dropped_frames": self.dropped_frames,
            "capabilities": models.caps.to_json(),
        }


class App:
    def __init__(self, document):
        self.doc = document
        self.view = View(document)
        el = document.getElementById
        self.video, self.grab_canvas, self.picker = el("video"), el("grab"), el("camera")
        self.model_picker, self.own_model, self.landmarks_box = el("model"), el("own-model"), el("landmarks")
        self.photo_input = el("photos")
        self.photos = None  # photo mode, set up with its detectors on the first picture
        self.photo_view = None
        self.index = {}
        self.models: Models | None = None
        self.emotion = None  # the emotion model in use (its pipeline is self.pipeline)
        self.detector = None  # the pipeline's face detector (kept across model switches)
        self.detector_name = "BlazeFace"
        self.cfg = config.Config()
        self.camera = None
        self.pipeline = None
        self.ready = False  # start-up finished: the controls may be used
        self.running = False
        self.busy = False
        self.recovering = False
        self.generation = 0  # bumped when the loop restarts or the backend changes: older inferences are void
        self.faces = []
        self.last_inference_ms = -1e12
        self.last_result_ms = 0.0  # when the last inference finished (the watchdog's clock)
        self.stalls = 0
        # A frame that arrived while an inference ran: (now_ms, captured_ms) of the newest one.
        self.waiting = None
        self.frame_handle = None
        self.errors_in_a_row = 0
        self.shown_first = False
        self.draw_ms = 0.0
        self.actions = 0  # user actions under way
        self.swapping = self.analysing = False
        self.diagnostics = Diagnostics(False)
        # Made once for the app's life (the page owns the app until it unloads).
        self._on_frame = create_proxy(self.on_frame)
        self._on_animation_frame = create_proxy(self._animation_frame)
        self._on_watchdog = create_proxy(lambda *_: self.watchdog())
        self._on_visibility = create_proxy(lambda event: self.visibility_changed())
        self._on_drag = create_proxy(self._drag)
        self._handlers = {
            "click": self._handler("Starting or stopping the camera", lambda event: self.toggle()),
            "camera": self._handler("Switching the camera", lambda event: self.pick_camera()),
            "model": self._handler("Switching the model", lambda event: self.pick_model()),
            "own-model": self._handler("Loading your model", lambda event: self.use_own_model()),
            "photos": self._handler("Analysing the pictures", lambda event: self.analyse_photos(self.photo_input.files)),
            "drop": self._handler("Analysing the dropped pictures", self._drop),
            "landmarks": self._handler("Switching landmarks",
                                       lambda event: self.show_landmarks(bool(self.landmarks_box.checked))),
        }

    # -- user actions -----------------------------------------------------------------------
    def _handler(self, what: str, action):
        """An event listener (made once) that runs ``action(event)`` through ``_run``."""
        return create_proxy(lambda event=None: spawn(self._run(what, action, event)))

    async def _run(self, what: str, action, *args) -> None:
        """Run a user action: what escapes it is logged and said; controls and status are
        left in a usable state whatever happened."""
        self.actions += 1
        try:
            await action(*args)
        except Exception as exc:  # noqa: BLE001 - the page must stay usable
            log_error(f"{what} failed")
            if not self.running:
                self._halt()  # a start that failed half-way lets go of the camera
            self.view.set_state("running" if self.running else "error",
                                f"{what} did not work: {exc}. Try again, or reload the page if it keeps happening.")
        finally:
            self.actions -= 1
            self._settle_controls()

    def _settle_controls(self) -> None:
        """Every control enabled unless its own task is under way; a progress message ("…")
        that no task will finish is replaced by the idle one."""
        if not self.ready:
            return
        self.view.button.disabled = False
        self.view.set_models_enabled(not self.swapping)
        self.photo_input.disabled = self.analysing
        self.landmarks_box.disabled = not self.index.get("landmarks")
        if self.actions == 0 and str(self.view.status.textContent).endswith("…"):
            self._say_idle(str(self.doc.body.dataset.state))

    # -- start-up -----------------------------------------------------------------------
    async def start_up(self) -> None:
        view = self.view
        view.stage("python", done=True)
        try:
            self.index = index = await fetch_json(MODELS_INDEX)
            emotion_ids = [m["id"] for m in index["emotion"]]
            self.cfg = cfg = config.parse(str(js.location.search), emotion_ids)
            self.diagnostics = Diagnostics(cfg.debug)
            view.add_notes(cfg.notes)
            view.set_mirror(cfg.mirror)

            view.stage("numpy")
            view.stage("models")
            view.set_state("loading", "Loading NumPy and the models…")
            numpy_loaded = self._load_numpy()  # installs while the backend is chosen and the models load
            tfjs.check_loaded()
            caps = env.probe()
            if not caps.video_frame_callback:
                view.add_notes([f"{env.engine_name()} has no requestVideoFrameCallback: frames are polled "
                                "once per screen refresh instead."])
            self.models = Models(caps)
            ids = [cfg.model or emotion_ids[0]] + ([] if self._use_native_detector() else [index["detector"][0]["id"]])
            view.stage("models", done=True)
            view.stage("warmup")
            loaded = await self.models.start(cfg.backend, ids)  # warm-ups need only TF.js, not NumPy
            view.add_notes(self.models.notes)
            await numpy_loaded
            if not hasattr(pyodide_js.loadedPackages, "numpy"):
                reason = " ".join(self._numpy_errors) or "no reason given"
                raise RuntimeError(f"NumPy could not be installed from {self._wheel('numpy')}: {reason}")
            view.stage("numpy", done=True)
            self._build_pipeline(loaded[1] if len(loaded) > 1 else None, loaded[0])
            view.stage("warmup", done=True)
        except Exception as exc:  # anything here leaves the app unusable: say why, in the page
            view.set_state("error", f"Moodlens could not start: {exc}. Reload to try again; if it keeps "
                                    "happening, the site's files are damaged: tell whoever hosts this page.")
            log_error("start-up failed")  # the details, for whoever opens the console
            return
        self._show_backend()
        view.show_models(index["emotion"], self.emotion.manifest.id)
        tfjs.on_context_lost(self.context_lost)
        self._listen()
        # For `python3 build.py evaluate`: analyse a picture by URL, give back its #results entry.
        js.window.moodlensAnalyse = create_proxy(self.analyse_url)
        self.ready = True
        view.set_running(False)
        self._settle_controls()
        js.setInterval(self._on_watchdog, 1000)

        from .camera import unavailable_reason

        reason = unavailable_reason()
        if reason:
            view.set_state("error", reason)
            return
        self._say_ready()
        if cfg.landmarks:
            await self._run("Turning landmarks on", self.show_landmarks, True)
        if cfg.autostart:
            await self._run("Starting the camera", self.start)

    def _listen(self) -> None:
        h = self._handlers
        self.view.button.addEventListener("click", h["click"])
        self.picker.addEventListener("change", h["camera"])
        self.model_picker.addEventListener("change", h["model"])
        self.landmarks_box.addEventListener("change", h["landmarks"])
        self.photo_input.addEventListener("change", h["photos"])
        self.own_model.addEventListener("change", h["own-model"])
        drop = self.doc.getElementById("drop")
        for name in ("dragenter", "dragover", "dragleave"):
            drop.addEventListener(name, self._on_drag)
        drop.addEventListener("drop", h["drop"])
        self.doc.addEventListener("visibilitychange", self._on_visibility)

    def _load_numpy(self):
        """Start installing NumPy; Pyodide reports failures (a missing or damaged wheel, named)
        through errorCallback rather than by rejecting."""
        self._numpy_errors: list[str] = []
        report = create_proxy(lambda message: self._numpy_errors.append(str(message)))

        async def load():
            try:
                await settle(pyodide_js, "loadPackage", "numpy", obj(errorCallback=report))
            except JsError as exc:
                self._numpy_errors.append(str(exc))
            finally:
                report.destroy()

        return spawn(load())

    @staticmethod
    def _wheel(package: str) -> str:
        """The wheel a package comes from, as named in Pyodide's lock file (private API, so guarded)."""
        try:
            return "pyodide/" + str(getattr(pyodide_js._api.lockfile_packages, package).file_name)
        except AttributeError:
            return f"the {package} wheel"

    def _use_native_detector(self) -> bool:
        """The browser's FaceDetector unless ?detector=blazeface, where the browser has one."""
        available = self.models.caps.face_detector
        if self.cfg.detector == "native" and not available:
            self.view.add_notes(["This browser has no built-in FaceDetector; using BlazeFace instead."])
        return available and self.cfg.detector != "blazeface"

    def _build_pipeline(self, detector_model: tfjs.Model | None, emotion: tfjs.Model) -> None:
        # NumPy is installed now; these modules import it at the top.
        from ..detect import BlazeFace
        from .camera import Camera, FrameGrabber
        from .facedetector import NativeDetector

        self.camera = Camera(self.video)
        self.camera.on_ended(self.camera_ended)
        self.grabber = FrameGrabber(self.video, self.grab_canvas,
                                    direct=detector_model is not None and self.models.caps.video_frame_copy)
        if detector_model is None:
            self.detector = NativeDetector(self.grab_canvas, self.cfg.max_faces)
            self.detector_name = "browser FaceDetector"
        else:
            self.detector = BlazeFace(detector_model.manifest, detector_model.predict)
        self._use_emotion(emotion)

    def _use_emotion(self, emotion: tfjs.Model) -> None:
        from ..pipeline import Pipeline

        old = self.pipeline
        self.emotion = emotion
        self.pipeline = Pipeline(self.detector, emotion.predict, emotion.manifest, self.cfg.max_faces,
                                 self.cfg.smoothing, self.cfg.detect_every)
        self.pipeline.landmarks = old.landmarks if old is not None else None
        self.pipeline.keep_inputs = self.cfg.debug
        self.view.use_labels(emotion.manifest)

    def _show_backend(self) -> None:
        choice = self.models.choice
        self.view.set_text("backend", choice.backend)
        self.view.set_text("backend-why", f"({choice.reason})")

    # -- photo mode -----------------------------------------------------------------------
    async def _photo_mode(self):
        """Photo mode's pipeline, with the full-range detector loaded on first use."""
        from .photos import Photos

        if self.photos is None:
            detectors = [await self.models.shared(model_id) for model_id in self.index["photo_detectors"]]
            self.photos = Photos(detectors, self.emotion)
        return self.photos

    async def analyse_photos(self, files) -> None:
        """Pictures chosen or dropped: each is analysed in turn; a bad one does not stop the rest."""
        from .photo_view import PhotoView

        if not files or not files.length:
            return
        self.photo_view = view = self.photo_view or PhotoView(self.doc)
        view.clear()  # the last batch's pictures and download links
        self.analysing = True
        self.photo_input.disabled = True
        state = str(self.doc.body.dataset.state)
        try:
            photos = await self._photo_mode()
            entries = []
            for i, file in enumerate(files):
                self.view.set_state(state, f"Analysing picture {i + 1} of {files.length}…")
                entry, pixels, faces = await photos.analyse(file, str(file.name))
                view.add(entry, pixels, faces, photos.pipeline.manifest.labels)
                entries.append(entry)
            self.view.results.textContent = json.dumps({"source": "photos", "photos": entries})
            done = f"Analysed {len(entries)} picture{'s' if len(entries) != 1 else ''}."
        finally:
            self.analysing = False
            self.photo_input.value = ""
        if self.running:
            self._say_running()
        else:
            self.view.set_state(state if state not in ("loading", "error") else "ready", done)

    def _drag(self, event) -> None:
        event.preventDefault()
        self.doc.getElementById("drop").classList.toggle("over", event.type != "dragleave")

    async def _drop(self, event) -> None:
        event.preventDefault()
        self.doc.getElementById("drop").classList.remove("over")
        await self.analyse_photos(event.dataTransfer.files)

    async def analyse_url(self, url: str, name: str, cropped: bool = False) -> str:
        from ._js import FetchError, fetch_response

        photos = await self._photo_mode()
        try:
            response = await fetch_response(url)
            blob = await settle(response, "blob")
        except (FetchError, JsError) as exc:
            return json.dumps({"file": name, "error": str(exc), "faces": []})
        entry, _, _ = await photos.analyse(blob, name, cropped=bool(cropped))
        return json.dumps(entry)

    async def show_landmarks(self, on: bool) -> None:
        """Landmarks on every face, from the landmark model (loaded the first time)."""
        from ..landmarks import Landmarks

        self.landmarks_box.checked = on
        if not on:
            self.pipeline.landmarks = None
            return
        self.landmarks_box.disabled = True
        try:
            model = await self.models.shared(self.index["landmarks"][0]["id"])
        except Exception as exc:  # noqa: BLE001 - the app runs on without landmarks
            self.landmarks_box.checked = False
            self.view.add_notes([f"Landmarks are not available: {exc}"])
            return
        size = model.manifest.points * 3
        self.pipeline.landmarks = Landmarks(model.manifest, lambda batch: model.predict(batch, size))

    # -- switching the emotion model ----------------------------------------------------
    async def pick_model(self) -> None:
        """A model from the site's list: load it, then switch; the address keeps the choice."""
        model_id = str(self.model_picker.value)
        if self.emotion is not None and model_id == self.emotion.manifest.id:
            return
        if await self._switch(model_id, lambda: self.models.load(model_id)):
            url = js.URL.new(js.location.href)
            url.searchParams.set("model", model_id)
            js.history.replaceState(js.history.state, "", url.href)

    async def use_own_model(self) -> None:
        """Model files chosen from the person's disk: read in the page, never uploaded."""
        from .own_model import from_files

        files = self.own_model.files
        if not files or not files.length:
            return

        async def load():
            manifest, read = await from_files(files)
            return await tfjs.Model.load(f"your {manifest.entry}", manifest, read)

        try:
            await self._switch("your model", load, own=True)
        finally:
            self.own_model.value = ""  # the same files can be chosen again

    async def _switch(self, name: str, load, own: bool = False) -> bool:
        """Load and warm up another emotion model, then swap it in between two frames. A model
        that fails leaves the current one running and says why. The old model is freed once no
        camera frame or photo holds it (``Model.lease``)."""
        if self.swapping:
            return False
        self.swapping = True
        view, current = self.view, self.emotion.manifest.id
        view.set_models_enabled(False)
        state = str(self.doc.body.dataset.state)
        view.set_state(state, f"Loading {name}…")
        model = None
        try:
            model = await load()
            await model.warm_up()
        except Exception as exc:  # noqa: BLE001 - a bad model must not stop the running one
            if model is not None:
                model.dispose()
            view.add_notes([f"Could not use {name}: {exc}. Still using {current}."])
            view.show_models(None, current)
            self._say_idle(state)
            return False
        finally:
            self.swapping = False
        old = self.emotion
        self._use_emotion(model)
        if self.photos is not None:
            self.photos.use_emotion(model)
        self.models.replace(old, model)
        view.show_models(None, model.manifest.id, own=model.manifest if own else None)
        self._say_idle(state)
        return True

    # -- camera on and off ------------------------------------------------------------
    async def toggle(self) -> None:
        await (self.stop() if self.running else self.start())

    async def start(self, device_id: str | None = None) -> None:
        from .camera import CameraError

        view = self.view
        view.button.disabled = True
        view.set_state("ready", "Starting the camera…")
        chosen = device_id or stored(CAMERA_SETTING)
        try:
            try:
                notes = await self.camera.open(chosen)
            except CameraError as exc:
                if not chosen or exc.name not in ("NotFoundError", "OverconstrainedError"):
                    raise
                store(CAMERA_SETTING, None)  # the remembered camera is gone: use the default one
                notes = await self.camera.open(None)
        except CameraError as exc:
            self._halt()
            view.set_state("error", str(exc))
            return
        view.add_notes(notes)
        await self._fill_picker()
        self.running = True
        self.pipeline.reset()
        self.diagnostics.reset()
        self.last_result_ms = js.performance.now()
        view.set_running(True)
        self._say_running()
        self._request_frame()

    async def stop(self) -> None:
        self._halt()
        self.view.set_state("ready", "Camera stopped. Press Start camera to go again.")

    def _halt(self) -> None:
        """Stop the loop and the camera, clear the picture; the app stays ready to start again."""
        self.running = False
        self.waiting = None
        self._cancel_frame()
        if self.camera is not None:
            self.camera.close()
        self.faces = []
        self.view.clear()
        self.view.hide_inputs()
        self.view.set_running(False)

    def camera_ended(self) -> None:
        from .camera import ENDED

        if self.running:
            self._halt()
            self.view.set_state("error", ENDED)

    async def _fill_picker(self) -> None:
        cameras = await self.camera.devices()
        current = self.camera.device_id()
        self.view.show_cameras(cameras, current)

    async def pick_camera(self) -> None:
        device_id = str(self.picker.value)
        store(CAMERA_SETTING, device_id)
        if self.running:
            self._halt()
            await self.start(device_id)

    def visibility_changed(self) -> None:
        """Hidden tab: no inference (the camera stays on so the return is instant)."""
        if not self.running:
            return
        if self.doc.hidden:
            self.view.set_state("running", "Paused while this tab is hidden.")
        else:
            self.diagnostics.reset()
            self.last_result_ms = js.performance.now()
            self._say_running()

    def _say_ready(self) -> None:
        self.view.set_state("ready", f"Ready. Press Start camera. (TF.js {self.models.backend}, {self.detector_name})")

    def _say_idle(self, state: str) -> None:
        """After a side task (a model switch): the running message, or the state it found."""
        if self.running:
            self._say_running()
        elif state != "error":
            self._say_ready()

    def _say_running(self) -> None:
        self.view.set_state(
            "running", f"Running: {self.detector_name} + {self.pipeline.manifest.id} on TF.js {self.models.backend}."
        )

    # -- when the backend fails: a lost WebGL context, or a loop that stalls -------------------
    def context_lost(self) -> None:
        self.recovering = True  # now, so a frame already in flight fails quietly
        spawn(self._recover(f"The {self.models.backend} graphics context was lost"), self._recovery_failed)

    async def _recover(self, what: str) -> None:
        """Move to the next backend and rebuild the models there, without reloading the page."""
        self.recovering = True
        try:
            lost = self.models.backend
            await self.models.recover(lost)
            # An inference caught by the loss may wait forever on its lost tensors: void it.
            self._restart_loop()
            self.view.add_notes([f"{what}; continuing on TF.js {self.models.backend}."])
            self._show_backend()
            tfjs.on_context_lost(self.context_lost)
            if self.running:
                self._say_running()
        finally:
            self.recovering = False

    def _recovery_failed(self, exc: Exception) -> None:
        self._halt()
        self.view.set_state("error", f"The analysis stopped and no other TF.js backend works here: {exc}. "
                                     "Reload the page to try again.")

    def watchdog(self) -> None:
        """Once a second: running, visible, yet no inference finished for WATCHDOG_MS? First
        restart the loop (a lost frame callback, a promise that never settled); if that does not
        help, move to the next backend."""
        now = js.performance.now()
        if not self.running or self.doc.hidden or self.recovering:
            self.last_result_ms = now
            return
        stalled = now - self.last_result_ms
        if stalled < WATCHDOG_MS:
            return
        self.stalls += 1
        self.last_result_ms = now
        seconds = round(stalled / 1000)
        if self.stalls == 1:
            self.view.add_notes([f"No result for {seconds} s: the analysis loop was restarted."])
            self._restart_loop()
            spawn(settle(self.video, "play"))  # a video the browser paused
        else:
            self.stalls = 0
            spawn(self._recover(f"No result for {seconds} s on TF.js {self.models.backend}"), self._recovery_failed)

    def _restart_loop(self) -> None:
        self.generation += 1
        self.busy = False
        self.waiting = None
        if self.running:
            self._cancel_frame()
            self._request_frame()

    # -- the frame loop ---------------------------------------------------------------
    def _request_frame(self) -> None:
        if self.models.caps.video_frame_callback:
            self.frame_handle = self.video.requestVideoFrameCallback(self._on_frame)
        else:  # polled once per screen refresh; a frame counts when the video's time moved
            self.frame_handle = js.requestAnimationFrame(self._on_animation_frame)

    def _cancel_frame(self) -> None:
        if self.frame_handle is not None:
            if self.models.caps.video_frame_callback:
                self.video.cancelVideoFrameCallback(self.frame_handle)
            else:
                js.cancelAnimationFrame(self.frame_handle)
            self.frame_handle = None

    def _animation_frame(self, now_ms) -> None:
        """requestVideoFrameCallback's stand-in: metadata built from the video element."""
        time = float(self.video.currentTime)
        if time == getattr(self, "_last_video_time", None):
            if self.running:
                self.frame_handle = js.requestAnimationFrame(self._on_animation_frame)
            return
        self._last_video_time = time
        self._polled = getattr(self, "_polled", 0) + 1
        meta = obj(width=int(self.video.videoWidth), height=int(self.video.videoHeight), presentedFrames=self._polled)
        self.on_frame(now_ms, meta)

    def on_frame(self, now_ms, metadata) -> None:
        if not self.running:
            return
        self._request_frame()
        drawing = js.performance.now()
        self.view.draw(self.faces, int(metadata.width), int(metadata.height))
        self.draw_ms = js.performance.now() - drawing
        if self.doc.hidden or self.recovering:
            return
        self.diagnostics.video_frame(int(metadata.presentedFrames))
        if now_ms - self.last_inference_ms < (self.cfg.interval_ms or 0):
            self.last_result_ms = js.performance.now()  # idle on purpose, not stalled
            return
        # When the camera took the frame (Chrome gives it for camera streams), else when it showed.
        captured = float(getattr(metadata, "captureTime", None) or now_ms)
        if self.busy:
            # Keep only the newest frame; the inference running now starts on it the moment it
            # ends, instead of waiting for the next frame callback (a whole camera frame later).
            if self.waiting is not None:
                self.diagnostics.dropped_frames += 1
            self.waiting = (now_ms, captured)
            return
        self._start(now_ms, captured)

    def _start(self, now_ms: float, captured_ms: float) -> None:
        self.busy = True
        self.last_inference_ms = now_ms
        spawn(self.infer(now_ms, captured_ms, self.generation))

    async def infer(self, now_ms: float, captured_ms: float, generation: int) -> None:
        from ..present import announcement, main_face

        try:
            grabbing = js.performance.now()
            frame = await self.grabber.grab() if self.running else None
            if frame is None:
                return
            grab_ms = js.performance.now() - grabbing
            pipeline, emotion = self.pipeline, self.emotion
            with emotion.lease():
                result = await pipeline.step(frame, now_ms)
            if not self.running or generation != self.generation:
                return
            self.faces = result.faces
            payload = result.to_json()
            payload["stages_ms"].update(grab=round(grab_ms, 2), draw=round(self.draw_ms, 2))
            payload["latency_ms"] = round(js.performance.now() - captured_ms, 2)
            payload["diagnostics"] = self.diagnostics.snapshot(self.models)
            main = main_face(result.faces)
            self.view.show(payload, main, announcement(main), now_ms)
            if result.inputs is not None:
                self.view.show_inputs(result.inputs, pipeline.manifest.input, result.faces)
            if not self.shown_first and main is not None:
                self.shown_first = True
                js.performance.mark("moodlens:first-emotion")
            self.errors_in_a_row = 0
            self.last_result_ms = js.performance.now()
            self.stalls = 0
        except Exception as exc:  # one bad frame must not stop the loop; persistent failure must be seen
            if self.recovering or generation != self.generation:
                return  # the backend went away mid-frame; _recover() rebuilds it
            self.errors_in_a_row += 1
            js.console.error(f"Moodlens inference failed: {exc!r}")
            if self.errors_in_a_row >= 5:
                self._halt()
                self.view.set_state("error", f"Inference keeps failing: {exc}. Press Start camera to try again.")
        finally:
            if generation == self.generation:
                self.busy = False
                waiting, self.waiting = self.waiting, None
                if waiting is not None and self.running and not self.doc.hidden and not self.recovering:
                    self._start(*waiting)
