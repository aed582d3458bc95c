"""Start-up, start/stop and the frame loop: the app's life in the page.

Start-up runs in parallel where it can: NumPy installs while TF.js picks a backend and the
models download. The frame loop is driven by ``requestVideoFrameCallback``: every new video
frame redraws the boxes; an inference starts on a frame when none is running, the tab is
visible and the ``?interval=`` has passed. The JS callbacks are proxies made once for the
app's life, so nothing is created per frame.

Failures a person meets (no camera, denied, busy, unplugged, a damaged model file, a lost
WebGL context) end in a readable ``#status`` and a page that still responds.

    await App(js.document).start_up()     # from site/main.py
"""

from __future__ import annotations

import asyncio
import json
import traceback

import js
import pyodide_js
from pyodide.ffi import create_proxy, to_js

from .. import config
from ..manifest import parse
from . import tfjs
from .view import View

MODELS_INDEX = "models/index.json"
CAMERA_SETTING = "moodlens.camera"  # the camera the person picked (a device id, never an image)


async def fetch_json(url: str):
    response = await js.fetch(url)
    if not response.ok:
        raise RuntimeError(f"{url}: HTTP {response.status}")
    try:
        return json.loads(await response.text())
    except ValueError as exc:
        raise RuntimeError(f"{url}: not valid JSON ({exc})") from None


def remember(key: str, value: str | None) -> None:
    """Keep a setting in localStorage; a browser that refuses storage just forgets it."""
    try:
        if value is None:
            js.localStorage.removeItem(key)
        else:
            js.localStorage.setItem(key, value)
    except Exception:  # noqa: BLE001 - SecurityError in sandboxed frames, quota errors
        pass


def recall(key: str) -> str | None:
    try:
        value = js.localStorage.getItem(key)
    except Exception:  # noqa: BLE001
        return None
    return None if value is None else str(value)


class Diagnostics:
    """What tests and curious people see in ``#results.diagnostics``."""

    def __init__(self):
        self.dropped_frames = 0
        self._last_presented = None
        module = getattr(pyodide_js, "_module", None)
        # Pyodide 0.27's own (private) bookkeeping of live PyProxies; on where available.
        self._proxies = getattr(module, "pyproxy_alloc_map", None)
        if self._proxies is not None:
            module.enable_pyproxy_allocation_tracing()
        self._module = module

    def video_frame(self, presented: int) -> None:
        """Count frames the page never saw: the browser skips callbacks when it is too busy."""
        if self._last_presented is not None:
            self.dropped_frames += max(0, presented - self._last_presented - 1)
        self._last_presented = presented

    def reset(self) -> None:
        self._last_presented = None

    def snapshot(self, backend: str) -> dict:
        memory = getattr(js.performance, "memory", None)
        return {
            "tensors": tfjs.memory()["tensors"],
            "js_heap_bytes": int(memory.usedJSHeapSize) if memory else None,
            "wasm_heap_bytes": int(self._module.HEAP8.length) if self._module else None,
            "py_proxies": int(self._proxies.size) if self._proxies is not None else None,
            "backend": backend,
            "dropped_frames": self.dropped_frames,
        }


class App:
    def __init__(self, document):
        self.doc = document
        self.view = View(document)
        self.video = document.getElementById("video")
        self.grab_canvas = document.getElementById("grab")
        self.picker = document.getElementById("camera")
        self.model_picker = document.getElementById("model")
        self.own_model = document.getElementById("own-model")
        self.landmarks_box = document.getElementById("landmarks")
        self.photo_input = document.getElementById("photos")
        self.photos = None  # photo mode, set up with its detectors on the first picture
        self.photo_view = None
        self.index = {}
        self.emotion = None  # the emotion model in use
        self.detector = None  # the pipeline's face detector (kept across model switches)
        self.inflight = None  # the pipeline an inference is running on right now
        self.swapping = False
        self.cfg = config.Config()
        self.camera = None
        self.models: list[tfjs.Model] = []
        self.pipeline = None
        self.running = False
        self.busy = False
        self.recovering = False
        self.generation = 0  # bumped when the backend is rebuilt: older inferences are void
        self.faces = []
        self.last_inference_ms = -1e12
        # A frame that arrived while an inference ran: (now_ms, captured_ms) of the newest one.
        self.waiting = None
        self.frame_handle = None
        self.errors_in_a_row = 0
        self.shown_first = False
        self.draw_ms = 0.0
        self.diagnostics = Diagnostics()
        # Made once for the app's life (the page owns the app until it unloads).
        self._on_frame = create_proxy(self.on_frame)
        self._on_click = create_proxy(lambda event: asyncio.ensure_future(self.toggle()))
        self._on_pick = create_proxy(lambda event: asyncio.ensure_future(self.pick_camera()))
        self._on_visibility = create_proxy(lambda event: self.visibility_changed())
        self._on_model = create_proxy(lambda event: asyncio.ensure_future(self.pick_model()))
        self._on_own_model = create_proxy(lambda event: asyncio.ensure_future(self.use_own_model()))
        self._on_photos = create_proxy(lambda event: asyncio.ensure_future(self.analyse_photos(self.photo_input.files)))
        self._on_drag = create_proxy(self._drag)
        self._on_drop = create_proxy(self._drop)
        self._on_landmarks = create_proxy(
            lambda event: asyncio.ensure_future(self.show_landmarks(bool(self.landmarks_box.checked))))

    # -- start-up ---------------------------------------------------------------------
    async def start_up(self) -> None:
        view = self.view
        view.stage("python", done=True)
        try:
            self.index = index = await fetch_json(MODELS_INDEX)
            emotion_ids = [m["id"] for m in index["emotion"]]
            self.cfg = cfg = config.parse(str(js.location.search), emotion_ids)
            view.add_notes(cfg.notes)
            view.set_mirror(cfg.mirror)

            view.stage("numpy")
            view.stage("models")
            view.set_state("loading", "Loading NumPy and the models…")
            numpy_loaded = self._load_numpy()  # a JS promise: installs while the models load
            tfjs.check_loaded()
            self.backend, notes = await tfjs.use_backend(cfg.backend)
            view.add_notes(notes)
            emotion = await self._load_model(cfg.model or emotion_ids[0])
            self.models.append(emotion)
            detector = None if self._use_native_detector() else await self._load_model(index["detector"][0]["id"])
            if detector is not None:
                self.models.append(detector)
            view.stage("models", done=True)
            view.stage("warmup")
            for model in self.models:  # while NumPy installs: warm-ups need only TF.js
                await model.warm_up()
            await numpy_loaded
            if not hasattr(pyodide_js.loadedPackages, "numpy"):
                reason = " ".join(self._numpy_errors) or "no reason given"
                raise RuntimeError(f"NumPy could not be installed from {self._wheel('numpy')}: {reason}")
            view.stage("numpy", done=True)
            await self._build_pipeline(detector, emotion)
            view.stage("warmup", done=True)
        except Exception as exc:  # anything here leaves the app unusable: say why, in the page
            view.set_state("error", f"Moodlens could not start: {exc}. Reload to try again; if it keeps "
                                    "happening, the site's files are damaged: tell whoever hosts this page.")
            js.console.error(traceback.format_exc())  # the details, for whoever opens the console
            return
        view.set_text("backend", self.backend)
        view.show_models(index["emotion"], emotion.manifest.id)
        tfjs.on_context_lost(self.context_lost)
        view.button.addEventListener("click", self._on_click)
        self.picker.addEventListener("change", self._on_pick)
        self.model_picker.addEventListener("change", self._on_model)
        self.landmarks_box.addEventListener("change", self._on_landmarks)
        self.photo_input.addEventListener("change", self._on_photos)
        drop = self.doc.getElementById("drop")
        for name in ("dragenter", "dragover", "dragleave"):
            drop.addEventListener(name, self._on_drag)
        drop.addEventListener("drop", self._on_drop)
        self.photo_input.disabled = False
        # For `python3 build.py evaluate`: analyse a picture by URL, give back its #results entry.
        js.window.moodlensAnalyse = create_proxy(self.analyse_url)
        self.landmarks_box.disabled = not index.get("landmarks")
        if cfg.landmarks:
            await self.show_landmarks(True)
        self.own_model.addEventListener("change", self._on_own_model)
        self.doc.addEventListener("visibilitychange", self._on_visibility)
        view.set_running(False)

        from .camera import unavailable_reason

        reason = unavailable_reason()
        if reason:
            view.set_state("error", reason)
            return
        self._say_ready()
        if cfg.autostart:
            await self.start()

    def _load_numpy(self):
        """Start installing NumPy; Pyodide reports failures (a missing or damaged wheel, named)
        through errorCallback rather than by rejecting."""
        self._numpy_errors: list[str] = []
        report = create_proxy(lambda message: self._numpy_errors.append(str(message)))
        promise = pyodide_js.loadPackage("numpy", to_js({"errorCallback": report}, dict_converter=js.Object.fromEntries))
        promise.finally_(lambda *_: report.destroy())
        return promise

    @staticmethod
    def _wheel(package: str) -> str:
        """The wheel a package comes from, as named in Pyodide's lock file (private API, so guarded)."""
        try:
            return "pyodide/" + str(getattr(pyodide_js._api.lockfile_packages, package).file_name)
        except AttributeError:
            return f"the {package} wheel"

    async def _load_model(self, model_id: str) -> tfjs.Model:
        where = f"models/{model_id}/manifest.json"
        manifest = parse(await fetch_json(where), where)
        return await tfjs.Model.load(f"models/{model_id}", manifest)

    def _use_native_detector(self) -> bool:
        """The browser's FaceDetector unless ?detector=blazeface, where the browser has one."""
        available = hasattr(js.window, "FaceDetector")
        if self.cfg.detector == "native" and not available:
            self.view.add_notes(["This browser has no built-in FaceDetector; using BlazeFace instead."])
        return available and self.cfg.detector != "blazeface"

    async def _shared_model(self, model_id: str) -> tfjs.Model:
        """A model loaded on first use and kept for the app's life (rebuilt with the others after a
        context loss): the landmark model, the photo detectors, or the camera's own detector."""
        for model in self.models:
            if model.manifest.id == model_id:
                return model
        model = await self._load_model(model_id)
        try:
            await model.warm_up()
        except Exception:
            model.dispose()
            raise
        self.models.append(model)
        return model

    async def _build_pipeline(self, detector_model: tfjs.Model | None, emotion: tfjs.Model) -> None:
        # NumPy is installed now; these modules import it at the top.
        from ..detect import BlazeFace
        from .camera import Camera, FrameGrabber
        from .facedetector import NativeDetector

        self.camera = Camera(self.video)
        self.camera.on_ended(self.camera_ended)
        self.grabber = FrameGrabber(self.video, self.grab_canvas)
        if detector_model is None:
            self.detector = NativeDetector(self.grab_canvas, self.cfg.max_faces)
            self.detector_name = "browser FaceDetector"
        else:
            self.detector = BlazeFace(detector_model.manifest, detector_model.predict)
            self.detector_name = "BlazeFace"
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

    # -- photo mode -----------------------------------------------------------------------
    async def _photo_mode(self):
        """Photo mode's pipeline, with the full-range detector loaded on first use."""
        from .photos import Photos

        if self.photos is None:
            detectors = [await self._shared_model(model_id) for model_id in self.index["photo_detectors"]]
            self.photos = Photos(detectors, self.emotion)
        return self.photos

    async def analyse_photos(self, files) -> None:
        """Pictures chosen or dropped: each is analysed in turn; a bad one does not stop the rest."""
        from .photo_view import PhotoView

        if not files or not files.length:
            return
        self.photo_view = view = self.photo_view or PhotoView(self.doc)
        view.clear()  # the last batch's pictures and download links
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
        except Exception as exc:  # noqa: BLE001 - the page stays usable
            done = f"Photos could not be analysed: {exc}"
            js.console.error(traceback.format_exc())
        finally:
            self.photo_input.disabled = False
            self.photo_input.value = ""
        if self.running:
            self._say_running()
        else:
            self.view.set_state(state if state != "loading" else "ready", done)

    def _drag(self, event) -> None:
        event.preventDefault()
        self.doc.getElementById("drop").classList.toggle("over", event.type != "dragleave")

    def _drop(self, event) -> None:
        event.preventDefault()
        self.doc.getElementById("drop").classList.remove("over")
        asyncio.ensure_future(self.analyse_photos(event.dataTransfer.files))

    async def analyse_url(self, url: str, name: str, cropped: bool = False) -> str:
        photos = await self._photo_mode()
        response = await js.fetch(url)
        if not response.ok:
            return json.dumps({"file": name, "error": f"HTTP {response.status}", "faces": []})
        entry, _, _ = await photos.analyse(await response.blob(), name, cropped=bool(cropped))
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
            model = await self._shared_model(self.index["landmarks"][0]["id"])
        except Exception as exc:  # noqa: BLE001 - the app runs on without landmarks
            self.landmarks_box.checked = False
            self.view.add_notes([f"Landmarks are not available: {exc}"])
            return
        finally:
            self.landmarks_box.disabled = False
        size = model.manifest.points * 3
        self.pipeline.landmarks = Landmarks(model.manifest, lambda batch: model.predict(batch, size))

    # -- switching the emotion model ----------------------------------------------------
    async def pick_model(self) -> None:
        """A model from the site's list: load it, then switch; the address keeps the choice."""
        model_id = str(self.model_picker.value)
        if self.emotion is not None and model_id == self.emotion.manifest.id:
            return
        if await self._switch(model_id, lambda: self._load_model(model_id)):
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

        await self._switch("your model", load, own=True)
        self.own_model.value = ""  # the same files can be chosen again

    async def _switch(self, name: str, load, own: bool = False) -> bool:
        """Load and warm up another emotion model, then swap it in between two frames. A model
        that fails leaves the current one running and says why. The old model's tensors are
        freed once no inference uses it."""
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
            view.set_models_enabled(True)
        old_pipeline, old = self.pipeline, self.emotion
        self.models = [m for m in self.models if m is not old] + [model]
        self._use_emotion(model)
        if self.photos is not None:
            self.photos.use_emotion(model)
        view.show_models(None, model.manifest.id, own=model.manifest if own else None)
        self._say_idle(state)
        while self.inflight is old_pipeline:  # an inference still running on the old model
            await asyncio.sleep(0.01)
        old.dispose()
        return True

    # -- camera on and off ------------------------------------------------------------
    async def toggle(self) -> None:
        await (self.stop() if self.running else self.start())

    async def start(self, device_id: str | None = None) -> None:
        from .camera import CameraError

        view = self.view
        view.button.disabled = True
        view.set_state("ready", "Starting the camera…")
        chosen = device_id or recall(CAMERA_SETTING)
        try:
            try:
                notes = await self.camera.open(chosen)
            except CameraError as exc:
                if not chosen or exc.name not in ("NotFoundError", "OverconstrainedError"):
                    raise
                remember(CAMERA_SETTING, None)  # the remembered camera is gone: use the default one
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
        view.set_running(True)
        self._say_running()
        self.frame_handle = self.video.requestVideoFrameCallback(self._on_frame)

    async def stop(self) -> None:
        self._halt()
        self.view.set_state("ready", "Camera stopped. Press Start camera to go again.")

    def _halt(self) -> None:
        """Stop the loop and the camera, clear the picture; the app stays ready to start again."""
        self.running = False
        self.waiting = None
        if self.frame_handle is not None:
            self.video.cancelVideoFrameCallback(self.frame_handle)
            self.frame_handle = None
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
        remember(CAMERA_SETTING, device_id)
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
            self._say_running()

    def _say_ready(self) -> None:
        self.view.set_state("ready", f"Ready. Press Start camera. (TF.js {self.backend}, {self.detector_name})")

    def _say_idle(self, state: str) -> None:
        """After a side task (a model switch): the running message, or the state it found."""
        if self.running:
            self._say_running()
        elif state != "error":
            self._say_ready()

    def _say_running(self) -> None:
        self.view.set_state(
            "running", f"Running: {self.detector_name} + {self.pipeline.manifest.id} on TF.js {self.backend}."
        )

    # -- WebGL context loss -----------------------------------------------------------
    def context_lost(self) -> None:
        self.recovering = True  # now, so a frame already in flight fails quietly
        asyncio.ensure_future(self._recover())

    async def _recover(self) -> None:
        """Move to the next backend and rebuild the models there, without reloading the page."""
        self.recovering = True
        try:
            lost = self.backend
            self.backend, _ = await tfjs.use_backend(None, skip=(lost,))
            for model in self.models:
                await model.reload()
            # An inference caught by the loss may wait forever on its lost tensors: void it.
            self.generation += 1
            self.busy = False
            self.waiting = None
            self.view.add_notes([f"The {lost} graphics context was lost; continuing on TF.js {self.backend}."])
            self.view.set_text("backend", self.backend)
            tfjs.on_context_lost(self.context_lost)
            if self.running:
                self._say_running()
        except Exception as exc:  # noqa: BLE001 - nothing left to run on: say so
            self._halt()
            self.view.set_state("error", f"The graphics context was lost and no other backend works: {exc}")
        finally:
            self.recovering = False

    # -- the frame loop ---------------------------------------------------------------
    def on_frame(self, now_ms, metadata) -> None:
        if not self.running:
            return
        self.frame_handle = self.video.requestVideoFrameCallback(self._on_frame)
        drawing = js.performance.now()
        self.view.draw(self.faces, int(metadata.width), int(metadata.height))
        self.draw_ms = js.performance.now() - drawing
        if self.doc.hidden or self.recovering:
            return
        self.diagnostics.video_frame(int(metadata.presentedFrames))
        if now_ms - self.last_inference_ms < (self.cfg.interval_ms or 0):
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
        asyncio.ensure_future(self.infer(now_ms, captured_ms, self.generation))

    async def infer(self, now_ms: float, captured_ms: float, generation: int) -> None:
        from ..present import announcement, main_face

        try:
            grabbing = js.performance.now()
            frame = self.grabber.grab() if self.running else None
            if frame is None:
                return
            grab_ms = js.performance.now() - grabbing
            self.inflight = pipeline = self.pipeline
            result = await pipeline.step(frame, now_ms)
            if not self.running or generation != self.generation:
                return
            self.faces = result.faces
            payload = result.to_json()
            payload["stages_ms"].update(grab=round(grab_ms, 2), draw=round(self.draw_ms, 2))
            payload["latency_ms"] = round(js.performance.now() - captured_ms, 2)
            payload["diagnostics"] = self.diagnostics.snapshot(self.backend)
            main = main_face(result.faces)
            self.view.show(payload, main, announcement(main), now_ms)
            if result.inputs is not None:
                self.view.show_inputs(result.inputs, pipeline.manifest.input, result.faces)
            if not self.shown_first and main is not None:
                self.shown_first = True
                js.performance.mark("moodlens:first-emotion")
            self.errors_in_a_row = 0
        except Exception as exc:  # one bad frame must not stop the loop; persistent failure must be seen
            if self.recovering or generation != self.generation:
                return  # the backend went away mid-frame; _recover() rebuilds it
            self.errors_in_a_row += 1
            js.console.error(f"Moodlens inference failed: {exc!r}")
            if self.errors_in_a_row >= 5:
                self._halt()
                self.view.set_state("error", f"Inference keeps failing: {exc}. Press Start camera to try again.")
        finally:
            self.inflight = None
            if generation == self.generation:
                self.busy = False
                waiting, self.waiting = self.waiting, None
                if waiting is not None and self.running and not self.doc.hidden and not self.recovering:
                    self._start(*waiting)
