"""Start-up and wiring: the app's life in the page.

Start-up runs in parallel where it can: NumPy and the app's modules that need it are imported
while TF.js's backend is chosen and the models download and warm up (``models.py``). Then the
three ways in are wired: the camera (``camera_mode.py``), pictures (``photo_mode.py``) and
video files (``video_mode.py``), each a frame source driven through the pipeline by
``moodlens.runner``; the live session's timeline (``live_session.py``) records the camera.

Every user action (start, stop, camera pick, model switch, own model, photos, video, cancel,
landmarks) runs through ``_run``: whatever escapes is logged with its traceback to the console
and said in ``#status``, and no progress message or disabled control is left behind.

    await App(js.document).start_up()     # from site/main.py
"""

from __future__ import annotations

import asyncio
import gc
import json

import js
import pyodide_js
from pyodide.ffi import create_proxy

from .. import config
from . import env, tfjs
from ._js import log_error, spawn
from .site_files import fetch_site_json
from .models import Models
from .view import View

MODELS_INDEX = "models/index.json"


class _Parts:
    """The app's modules that import NumPy at their top, imported while the models load (the
    page names NumPy's wheel if NumPy cannot be imported, rather than failing on an import)."""

    def __init__(self):
        from ..detect import BlazeFace
        from ..pipeline import Pipeline
        from .camera_mode import CameraMode
        from .facedetector import NativeDetector
        from .live_session import LiveSession
        from .photo_mode import PhotoMode
        from .sources.camera import CameraSource, unavailable_reason
        from .video_mode import VideoMode

        self.BlazeFace, self.Pipeline, self.NativeDetector = BlazeFace, Pipeline, NativeDetector
        self.CameraMode, self.LiveSession = CameraMode, LiveSession
        self.PhotoMode, self.VideoMode = PhotoMode, VideoMode
        self.CameraSource, self.unavailable_reason = CameraSource, unavailable_reason


class Diagnostics:
    """What tests and curious people see in ``#results.diagnostics``. Pyodide's PyProxy
    allocation tracing keeps a stack trace per proxy, so it is on only with ``?debug=1``."""

    def __init__(self, debug: bool):
        module = getattr(pyodide_js, "_module", None)
        self._proxies = None
        if debug and module is not None and hasattr(module, "enable_pyproxy_allocation_tracing"):
            module.enable_pyproxy_allocation_tracing()  # Pyodide 0.27's own (private) bookkeeping
            self._proxies = getattr(module, "pyproxy_alloc_map", None)
        self._module = module
        self._debug = debug
        self._objects = (-1e9, None)
        self._backend_json: tuple = (None, {})

    def _py_objects(self) -> int | None:
        """With ?debug=1, the Python objects the garbage collector tracks (counted at most once
        a second: walking them all takes a few milliseconds). A leak of Python objects shows
        here before the wasm heap, which grows in 20% steps and never shrinks."""
        if not self._debug:
            return None
        now = js.performance.now()
        if now - self._objects[0] > 1000:
            self._objects = (now, len(gc.get_objects()))
        return self._objects[1]

    def _backend(self, models: Models) -> dict:
        """The backend and the capabilities: they change only when a backend is chosen or
        replaced, so they are made again only then, not for every frame."""
        key = (models.backend, models.choice)
        cached = self._backend_json[0]
        if cached is None or cached[0] != key[0] or cached[1] is not key[1]:  # the same Choice object: no change
            choice = models.diagnostics()
            self._backend_json = (key, {"backend": models.backend, "backend_how": choice.get("how"),
                                        "backend_reason": choice.get("reason"), "capabilities": models.caps.to_json()})
        return self._backend_json[1]

    def snapshot(self, models: Models, dropped_frames: int, timeline_rows: int = 0) -> dict:
        memory = getattr(js.performance, "memory", None)
        backend = self._backend(models)
        return {
            "tensors": tfjs.memory()["tensors"],
            "js_heap_bytes": int(memory.usedJSHeapSize) if memory else None,
            "wasm_heap_bytes": int(self._module.HEAP8.length) if self._module else None,
            "py_proxies": int(self._proxies.size) if self._proxies is not None else None,
            "py_objects": self._py_objects(),
            "timeline_rows": timeline_rows,
            "backend": backend["backend"],
            "backend_how": backend["backend_how"],
            "backend_reason": backend["backend_reason"],
            "dropped_frames": dropped_frames,
            "capabilities": backend["capabilities"],
        }


class App:
    def __init__(self, document):
        self.doc = document
        self.view = View(document)
        el = document.getElementById
        self.picker, self.model_picker = el("camera"), el("model")
        self.own_model, self.landmarks_box = el("own-model"), el("landmarks")
        self.photo_input, self.video_input = el("photos"), el("video-file")
        self.index = {}
        self.cfg = config.Config()
        self.models: Models | None = None
        self.emotion = None  # the emotion model in use (its pipeline is self.pipeline)
        self.detector = None  # the pipeline's face detector (kept across model switches)
        self.detector_name = "BlazeFace"
        self.pipeline = None
        self.parts: _Parts | None = None  # NumPy's modules, once it is installed
        self.camera = self.photos = self.videos = self.live = None
        self.ready = False  # start-up finished: the controls may be used
        self.recovering = False
        self.actions = 0  # user actions under way
        self.swapping = False
        self.diagnostics = Diagnostics(False)
        # Made once for the app's life (the page owns the app until it unloads).
        self._on_visibility = create_proxy(lambda event: self.camera and self.camera.visibility_changed(
            bool(self.doc.hidden)))
        self._on_drag = create_proxy(self._drag)
        self._on_drop = create_proxy(self._drop)
        self._handlers = {
            "click": self._handler("Starting or stopping the camera", lambda event: self.toggle()),
            "camera": self._handler("Switching the camera", lambda event: self.camera.pick(str(self.picker.value))),
            "model": self._handler("Switching the model", lambda event: self.pick_model()),
            "own-model": self._handler("Loading your model", lambda event: self.use_own_model()),
            "photos": self._handler("Analysing the pictures", lambda event: self.analyse_photos(self.photo_input.files)),

            "video": self._handler("Analysing the video", lambda event: self.analyse_video(self.video_input.files)),

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
            running = self.camera is not None and self.camera.running
            if self.camera is not None and not running:
                self.camera.halt()  # a start that failed half-way lets go of the camera
            self.view.set_state("running" if running else "error",
                                f"{what} did not work: {exc}. Try again, or reload the page if it keeps happening.")
        finally:
            self.actions -= 1
            self._settle_controls()

    def task_failed(self, exc: Exception) -> None:
        """A background task (the camera's loop) died of something unforeseen."""
        if self.camera is not None:
            self.camera.halt()
        self.view.set_state("error", f"The analysis stopped: {exc}. Press Start camera to try again.")

    def _settle_controls(self) -> None:
        """Every control enabled unless its own task is under way; a progress message ("…")
        that no task will finish is replaced by the idle one."""
        if not self.ready:
            return
        self.view.button.disabled = False
        self.view.set_models_enabled(not self.swapping)
        self.photo_input.disabled = self.photos.busy
        self.video_input.disabled = self.videos.busy
        self.landmarks_box.disabled = not self.index.get("landmarks")
        if self.actions == 0 and str(self.view.status.textContent).endswith("…"):
            self.say_idle(str(self.doc.body.dataset.state))

    # -- start-up -----------------------------------------------------------------------
    async def start_up(self) -> None:
        view = self.view
        view.stage("python", done=True)
        try:
            self.index = index = await fetch_site_json(MODELS_INDEX)
            emotion_ids = [m["id"] for m in index["emotion"]]
            self.cfg = cfg = config.parse(str(js.location.search), emotion_ids)
            self.diagnostics = Diagnostics(cfg.debug)
            view.add_notes(cfg.notes)
            view.set_mirror(cfg.mirror)

            early = env.early_camera()
            if cfg.autostart and early is not None and not early.promise and hasattr(early, "open"):
                early.open(False)  # the camera starts while NumPy and the models load (no hold: no click waits)
            view.stage("numpy")
            view.stage("models")
            view.set_state("loading", "Loading NumPy and the models…")
            tfjs.check_loaded()
            caps = env.probe()
            if not caps.video_frame_callback:
                view.add_notes([f"{env.engine_name()} has no requestVideoFrameCallback: frames are polled "
                                "once per screen refresh instead."])
            self.models = Models(caps)
            ids = [cfg.model or emotion_ids[0]] + ([] if self._use_native_detector() else [index["detector"][0]["id"]])
            view.stage("models", done=True)
            view.stage("warmup")
            await env.camera_first()
            # While the models download and TF.js compiles its wasm (the network and V8's
            # threads), the app's NumPy modules are imported (~0.1-0.2 s on the main thread on a
            # first visit); a backend trial times nothing until that is done (`quiet`).
            imported = asyncio.get_running_loop().create_future()
            starting = spawn(self.models.start(cfg.backend, ids, quiet=imported))  # needs only TF.js
            try:
                await asyncio.sleep(0)  # the models task starts its downloads and TF.js's compiles first
                try:
                    self.parts = _Parts()
                except ImportError as exc:
                    if not (exc.name or "numpy").startswith("numpy"):
                        raise
                    # the wheel PyScript unpacked (see build.py) is damaged or incomplete
                    raise RuntimeError(f"NumPy could not be imported from {self._wheel('numpy')}: {exc}") from exc
                imported.set_result(None)
                view.stage("numpy", done=True)
                loaded = await starting
            finally:
                starting.cancel()  # NumPy failed: nothing will use these models (a no-op once done)
            view.add_notes(self.models.notes)
            await env.camera_first()
            self._build(loaded[1] if len(loaded) > 1 else None, loaded[0])
            view.stage("warmup", done=True)
        except Exception as exc:  # anything here leaves the app unusable: say why, in the page
            view.set_state("error", f"Moodlens could not start: {exc}. Reload to try again; if it keeps "
                                    "happening, the site's files are damaged: tell whoever hosts this page.")
            log_error("start-up failed")  # the details, for whoever opens the console
            early = env.early_camera()
            if early is not None:
                early.fail()  # a camera opened while Python booted is let go; Start now tries again
            return
        self._show_backend()
        view.show_models(index["emotion"], self.emotion.manifest.id)
        tfjs.on_context_lost(self.context_lost)
        self._listen()
        # For `python3 build.py evaluate`: analyse a picture by URL, give back its #results entry.
        js.window.moodlensAnalyse = create_proxy(self.photos.analyse_url)
        # For `python3 build.py analyse`: the last video's JSON export, as "Download JSON" gives it.
        js.window.moodlensVideoExport = create_proxy(
            lambda: json.dumps(self.videos.export) if self.videos.export is not None else None)
        self.ready = True
        early = env.early_camera()  # Start pressed while Python booted: its camera stays on
        camera_on = early is not None and bool(early.promise)
        view.set_running(camera_on)  # the button as it was
        self._settle_controls()

        reason = self.parts.unavailable_reason()
        if reason:
            view.set_state("error", reason)
            return
        self.say_ready()
        if cfg.landmarks:
            await self._run("Turning landmarks on", self.show_landmarks, True)
        if cfg.autostart or camera_on:
            await self._run("Starting the camera", self.camera.start)
            self.doc.body.classList.remove("early-camera")  # the app's own state shows the video now

    def _listen(self) -> None:
        h = self._handlers
        early = env.early_camera()
        if early is not None:
            early.handedOver = True  # boot.js's Start handler steps aside
        self.view.button.addEventListener("click", h["click"])
        self.picker.addEventListener("change", h["camera"])
        self.model_picker.addEventListener("change", h["model"])
        self.landmarks_box.addEventListener("change", h["landmarks"])
        self.photo_input.addEventListener("change", h["photos"])
        self.video_input.addEventListener("change", h["video"])
        self.own_model.addEventListener("change", h["own-model"])
        for zone in ("drop", "video-drop"):
            element = self.doc.getElementById(zone)
            for name in ("dragenter", "dragover", "dragleave", "drop"):
                element.addEventListener(name, self._on_drop if name == "drop" else self._on_drag)
        self.doc.addEventListener("visibilitychange", self._on_visibility)

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

    def _build(self, detector_model: tfjs.Model | None, emotion: tfjs.Model) -> None:
        parts = self.parts
        grab = self.doc.getElementById("grab")
        if detector_model is None:
            self.detector = parts.NativeDetector(grab, self.cfg.max_faces)
            self.detector_name = "browser FaceDetector"
        else:
            self.detector = parts.BlazeFace(detector_model.manifest, detector_model.predict)
        caps = self.models.caps
        source = parts.CameraSource(self.doc.getElementById("video"), grab,
                                    direct=detector_model is not None and caps.video_frame_copy,
                                    video_frame_callback=caps.video_frame_callback, interval_ms=self.cfg.interval_ms,
                                    paused=lambda: bool(self.doc.hidden) or self.recovering)
        self.live = parts.LiveSession(self.doc, self)
        self.camera = parts.CameraMode(self, source)
        self.photos = parts.PhotoMode(self)
        self.videos = parts.VideoMode(self.doc, self)
        self._use_emotion(emotion)

    def _use_emotion(self, emotion: tfjs.Model) -> None:
        old = self.pipeline
        self.emotion = emotion
        cfg = self.cfg
        self.pipeline = self.parts.Pipeline(self.detector, emotion.predict, emotion.manifest, cfg.max_faces,
                                            cfg.smoothing, cfg.detect_every,
                                            tracker=old.tracker if old is not None else None)
        self.pipeline.landmarks = old.landmarks if old is not None else None
        self.pipeline.keep_inputs = cfg.debug
        self.view.use_labels(emotion.manifest)
        self.live.use_model(emotion.manifest)
        self.photos.use_emotion(emotion)

    def video_pipeline(self):
        """For a video file: the emotion model in use and a pipeline of its own on it (its own
        tracker, which keeps a face's id across gaps of up to 1.5 s)."""
        cfg = self.cfg
        pipeline = self.parts.Pipeline(self.detector, self.emotion.predict, self.emotion.manifest, cfg.max_faces,
                                       cfg.smoothing, cfg.detect_every, max_age_ms=1500.0)
        pipeline.landmarks = self.pipeline.landmarks
        return self.emotion, pipeline

    def describe_model(self, model) -> dict:
        m = model.manifest
        return {"id": m.id, "name": m.name, "files": {f.name: f.sha256 for f in m.files}}

    def settings(self) -> dict:
        cfg = self.cfg
        return {"smoothing": cfg.smoothing, "detect_every": cfg.detect_every, "max_faces": cfg.max_faces,
                "detector": self.detector_name, "backend": self.models.backend}

    def _show_backend(self) -> None:
        choice = self.models.choice
        self.view.set_text("backend", choice.backend)
        self.view.set_text("backend-why", f"({choice.reason})")

    # -- pictures and videos --------------------------------------------------------------
    async def analyse_photos(self, files) -> None:
        """Pictures chosen or dropped: each is analysed in turn; a bad one does not stop the rest."""
        if not files or not files.length:
            return
        state = str(self.doc.body.dataset.state)
        done = await self.photos.analyse(files)
        if self.camera.running:
            self.say_running()
        else:
            self.view.set_state(state if state not in ("loading", "error") else "ready", done)

    async def analyse_video(self, files) -> None:
        if not files or not files.length:
            return
        await self.videos.analyse(files.item(0))

    def _drag(self, event) -> None:
        event.preventDefault()
        event.currentTarget.classList.toggle("over", event.type != "dragleave")

    def _drop(self, event) -> None:
        """Files dropped on the picture or the video zone. Called during the event's dispatch:
        the browser must hear preventDefault() now (or it opens the file), and the zone and the
        files are only there now."""
        event.preventDefault()
        zone = event.currentTarget
        zone.classList.remove("over")
        files = event.dataTransfer.files
        if str(zone.id) == "video-drop":
            spawn(self._run("Analysing the dropped video", self.analyse_video, files))
        else:
            spawn(self._run("Analysing the dropped pictures", self.analyse_photos, files))

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
        camera frame, photo or video holds it (``Model.lease``); the faces keep their ids."""
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
            self.say_idle(state)
            return False
        finally:
            self.swapping = False
        old = self.emotion
        self._use_emotion(model)
        self.models.replace(old, model)
        view.show_models(None, model.manifest.id, own=model.manifest if own else None)
        self.say_idle(state)
        return True

    # -- the camera --------------------------------------------------------------------------
    async def toggle(self) -> None:
        await (self.camera.stop() if self.camera.running else self.camera.start())

    def say_ready(self) -> None:
        self.view.set_state("ready", f"Ready. Press Start camera. (TF.js {self.models.backend}, {self.detector_name})")

    def say_idle(self, state: str) -> None:
        """After a side task (a model switch): the running message, or the state it found."""
        if self.camera is not None and self.camera.running:
            self.say_running()
        elif state != "error":
            self.say_ready()

    def say_running(self) -> None:
        self.view.set_state(
            "running", f"Running: {self.detector_name} + {self.pipeline.manifest.id} on TF.js {self.models.backend}."
        )

    # -- when the backend fails: a lost WebGL context, or a loop that stalls -------------------
    def context_lost(self) -> None:
        self.recovering = True  # now, so a frame already in flight fails quietly
        spawn(self.recover(f"The {self.models.backend} graphics context was lost"), self.recovery_failed)

    async def recover(self, what: str) -> None:
        """Move to the next backend and rebuild the models there, without reloading the page."""
        self.recovering = True
        try:
            lost = self.models.backend
            await self.models.recover(lost)
            self.camera.restart()  # an inference caught by the loss may wait forever on its lost tensors
            self.view.add_notes([f"{what}; continuing on TF.js {self.models.backend}."])
            self._show_backend()
            tfjs.on_context_lost(self.context_lost)
            if self.camera.running:
                self.say_running()
        finally:
            self.recovering = False

    def recovery_failed(self, exc: Exception) -> None:
        self.camera.halt()
        self.view.set_state("error", f"The analysis stopped and no other TF.js backend works here: {exc}. "
                                     "Reload the page to try again.")
