"""Start-up, start/stop and the frame loop: the app's life in the page.

Start-up runs in parallel where it can: NumPy installs while TF.js picks a backend and the
models download. The frame loop is driven by ``requestVideoFrameCallback``: every new video
frame redraws the boxes; an inference starts on a frame when none is running and the
``?interval=`` has passed. The JS callbacks are two proxies made once for the app's life,
so nothing is created per frame.

    await App(js.document).start_up()     # from site/main.py
"""

from __future__ import annotations

import asyncio
import json

import js
import pyodide_js
from pyodide.ffi import create_proxy

from .. import config
from ..manifest import parse
from . import tfjs
from .view import View

MODELS_INDEX = "models/index.json"


async def fetch_json(url: str):
    response = await js.fetch(url)
    if not response.ok:
        raise RuntimeError(f"{url}: HTTP {response.status}")
    return json.loads(await response.text())


class App:
    def __init__(self, document):
        self.view = View(document)
        self.video = document.getElementById("video")
        self.grab_canvas = document.getElementById("grab")
        self.cfg = config.Config()
        self.stream = None
        self.running = False
        self.busy = False
        self.faces = []
        self.last_inference_ms = -1e12
        self.frame_handle = None
        self.pipeline = None
        self.errors_in_a_row = 0
        # Made once for the app's life (the page owns the app until it unloads).
        self._on_frame = create_proxy(self.on_frame)
        self._on_click = create_proxy(lambda event: asyncio.ensure_future(self.toggle()))

    # -- start-up ---------------------------------------------------------------------
    async def start_up(self) -> None:
        view = self.view
        view.stage("python", done=True)
        try:
            index = await fetch_json(MODELS_INDEX)
            emotion_ids = [m["id"] for m in index["emotion"]]
            self.cfg = cfg = config.parse(str(js.location.search), emotion_ids)
            view.add_notes(cfg.notes)
            view.set_mirror(cfg.mirror)

            view.stage("numpy")
            view.stage("models")
            view.set_state("loading", "Loading NumPy and the models…")
            numpy_loaded = pyodide_js.loadPackage("numpy")  # a JS promise: installs while models load
            self.backend, notes = await tfjs.use_backend(cfg.backend)
            view.add_notes(notes)
            view.set_text("backend", self.backend)
            emotion = await self._load_model(cfg.model or emotion_ids[0])
            detector = None if self._use_native_detector() else await self._load_model(index["detector"][0]["id"])
            view.stage("models", done=True)
            await numpy_loaded
            view.stage("numpy", done=True)

            view.stage("warmup")
            await self._build_pipeline(detector, emotion)
            view.stage("warmup", done=True)
        except Exception as exc:  # anything here leaves the app unusable: say why, in the page
            view.set_state("error", f"Moodlens could not start: {exc}")
            raise
        self.view.button.addEventListener("click", self._on_click)
        view.set_running(False)
        view.set_state("ready", f"Ready. Press Start camera. (TF.js {self.backend}, {self.detector_name})")
        if cfg.autostart:
            await self.start()

    async def _load_model(self, model_id: str) -> tfjs.Model:
        where = f"models/{model_id}/manifest.json"
        manifest = parse(await fetch_json(where), where)
        return await tfjs.Model.load(f"models/{model_id}/{manifest.entry}", manifest)

    def _use_native_detector(self) -> bool:
        """The browser's FaceDetector unless ?detector=blazeface, where the browser has one."""
        available = hasattr(js.window, "FaceDetector")
        if self.cfg.detector == "native" and not available:
            self.view.add_notes(["This browser has no built-in FaceDetector; using BlazeFace instead."])
        return available and self.cfg.detector != "blazeface"

    async def _build_pipeline(self, detector_model: tfjs.Model | None, emotion: tfjs.Model) -> None:
        # NumPy is installed now; these modules import it at the top.
        from ..detect import BlazeFace
        from ..pipeline import Pipeline
        from .camera import FrameGrabber
        from .facedetector import NativeDetector

        self.grabber = FrameGrabber(self.video, self.grab_canvas)
        if detector_model is None:
            detector = NativeDetector(self.grab_canvas, self.cfg.max_faces)
            self.detector_name = "browser FaceDetector"
        else:
            await detector_model.warm_up()
            detector = BlazeFace(detector_model.manifest, detector_model.predict)
            self.detector_name = "BlazeFace"
        await emotion.warm_up()
        self.pipeline = Pipeline(detector, emotion.predict, emotion.manifest, self.cfg.max_faces, self.cfg.smoothing)
        self.view.use_labels(emotion.manifest)

    # -- camera on and off ------------------------------------------------------------
    async def toggle(self) -> None:
        await (self.stop() if self.running else self.start())

    async def start(self) -> None:
        from .camera import CameraError, open_camera

        self.view.button.disabled = True
        self.view.set_state("ready", "Starting the camera…")
        try:
            self.stream = await open_camera(self.video)
        except CameraError as exc:
            self.view.set_running(False)
            self.view.set_state("error", str(exc))
            return
        self.running = True
        self.pipeline.tracker.reset()
        self.view.set_running(True)
        self.view.set_state("running", f"Running: {self.detector_name} + {self.pipeline.manifest.id} on TF.js {self.backend}.")
        self.frame_handle = self.video.requestVideoFrameCallback(self._on_frame)

    async def stop(self) -> None:
        from .camera import stop_camera

        self.running = False
        if self.frame_handle is not None:
            self.video.cancelVideoFrameCallback(self.frame_handle)
            self.frame_handle = None
        stop_camera(self.video, self.stream)
        self.stream = None
        self.faces = []
        self.view.clear()
        self.view.set_running(False)
        self.view.set_state("ready", "Camera stopped. Press Start camera to go again.")

    # -- the frame loop ---------------------------------------------------------------
    def on_frame(self, now_ms, metadata) -> None:
        if not self.running:
            return
        self.frame_handle = self.video.requestVideoFrameCallback(self._on_frame)
        self.view.draw(self.faces, int(metadata.width), int(metadata.height))
        interval = self.cfg.interval_ms or 0
        if not self.busy and now_ms - self.last_inference_ms >= interval:
            self.busy = True
            self.last_inference_ms = now_ms
            asyncio.ensure_future(self.infer(now_ms))

    async def infer(self, now_ms: float) -> None:
        from ..present import announcement, main_face

        try:
            frame = self.grabber.grab() if self.running else None
            if frame is None:
                return
            result = await self.pipeline.step(frame, now_ms)
            if not self.running:
                return
            self.faces = result.faces
            payload = result.to_json()
            payload["backend"] = self.backend
            payload["tensors"] = tfjs.memory()["tensors"]
            main = main_face(result.faces)
            self.view.show(payload, main, announcement(main), now_ms)
            self.errors_in_a_row = 0
        except Exception as exc:  # one bad frame must not stop the loop; persistent failure must be seen
            self.errors_in_a_row += 1
            js.console.error(f"Moodlens inference failed: {exc!r}")
            if self.errors_in_a_row >= 5:
                await self.stop()
                self.view.set_state("error", f"Inference keeps failing: {exc}")
        finally:
            self.busy = False
