"""Start-up and wiring: the app's life in the page.

Start-up runs in parallel where it can: NumPy and the app's modules that need it are imported
while TF.js's backend is chosen and the models download and warm up (``registry.py``). Then
the parts are made and wired to the page's controls. The three ways in, the camera
(``camera_mode.py``), pictures (``photo_mode.py``) and video files (``video_mode.py``), each get
the ``Analysis`` (``analysis.py``: the view, the models, the emotion model in use) and nothing
more of the app; the live session's timeline (``live_session.py``) records the camera. Beside
them: model switching (``model_switch.py``), recovery when the backend fails
(``recovery.py``), what a user action leaves behind (``actions.py``), ``#results.diagnostics``
(``diagnostics.py``) and the camera page.js opened before Python was up (``early_camera.py``).

The app runs in a Web Worker; ``document`` is the page as ``remote.py`` mirrors it there.

    await App(await remote.start()).start_up()     # from site/main.py, in the worker
"""

from __future__ import annotations

import asyncio
import json

from .. import config
from . import early_camera, env, remote, tfjs
from ._compat import create_proxy, js, pyodide_js
from ._js import log_error, spawn
from .actions import Actions
from .analysis import Analysis
from .diagnostics import Diagnostics
from .model_switch import ModelSwitch
from .recovery import Recovery
from .registry import ModelRegistry
from .site_files import fetch_site_json
from .view import View

MODELS_INDEX = "models/index.json"


class _NumPyModules:
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


class App:
    def __init__(self, document):
        self.doc = document
        self.view = View(document)
        el = document.getElementById
        self.picker, self.landmarks_box = el("camera"), el("landmarks")
        self.photo_input, self.video_input = el("photos"), el("video-file")
        self.index = {}
        self.cfg = config.Config()
        self.registry: ModelRegistry | None = None
        self.modules: _NumPyModules | None = None  # once NumPy is installed
        self.analysis: Analysis | None = None
        self.camera = self.photos = self.videos = self.live = None
        self.switch: ModelSwitch | None = None
        self.recovery: Recovery | None = None
        self.actions = actions = Actions(self.view)
        # Made once for the app's life (the page owns the app until it unloads).
        self._on_visibility = create_proxy(lambda event: self.camera and self.camera.visibility_changed(
            bool(self.doc.hidden)))
        self._on_drag = create_proxy(self._drag)
        self._on_drop = create_proxy(self._drop)
        self._handlers = {
            "click": actions.handler("Starting or stopping the camera", lambda event: self.toggle()),
            "camera": actions.handler("Switching the camera", lambda event: self.camera.pick(str(self.picker.value))),
            "model": actions.handler("Switching the model", lambda event: self.switch.pick()),
            "own-model": actions.handler("Loading your model", lambda event: self.switch.use_own()),
            "photos": actions.handler("Analysing the pictures",
                                      lambda event: self.analyse_photos(self.photo_input.files)),
            "video": actions.handler("Analysing the video", lambda event: self.analyse_video(self.video_input.files)),
            "landmarks": actions.handler("Switching landmarks",
                                         lambda event: self.show_landmarks(bool(self.landmarks_box.checked))),
        }

    # -- start-up -----------------------------------------------------------------------
    async def start_up(self) -> None:
        view = self.view
        if view.state == "error":  # boot.js found a runtime file damaged before Python ran: that stands
            return
        view.stage("python", done=True)
        try:
            self.index = index = await fetch_site_json(MODELS_INDEX)
            emotion_ids = [m["id"] for m in index["emotion"]]
            self.cfg = cfg = config.parse(str(remote.page.init.get("search", "")), emotion_ids)
            view.add_notes(cfg.notes)
            view.set_mirror(cfg.mirror)
            if cfg.autostart:
                early_camera.open_now()  # the camera starts while NumPy and the models load
            view.stage("numpy")
            view.stage("models")
            view.set_state("loading", "Loading NumPy and the models…")
            tfjs.check_loaded()
            caps = env.probe()
            if not caps.video_frame_callback:
                view.add_notes([f"{env.engine_name()} has no requestVideoFrameCallback: frames are polled "
                                "once per screen refresh instead."])
            self.registry = ModelRegistry(caps)
            ids = [cfg.model or emotion_ids[0]] + ([] if self._use_native_detector() else [index["detector"][0]["id"]])
            view.stage("models", done=True)
            view.stage("warmup")
            # While the models download and TF.js compiles its wasm (the network and V8's
            # threads), the app's NumPy modules are imported (~0.1-0.2 s on the main thread on a
            # first visit); a backend trial times nothing until that is done (`quiet`).
            imported = asyncio.get_running_loop().create_future()
            starting = spawn(self.registry.start(cfg.backend, ids, quiet=imported))  # needs only TF.js
            try:
                await asyncio.sleep(0)  # the models task starts its downloads and TF.js's compiles first
                try:
                    self.modules = _NumPyModules()
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
            view.add_notes(self.registry.notes)
            self._build(loaded[1] if len(loaded) > 1 else None, loaded[0])
            view.stage("warmup", done=True)
        except Exception as exc:  # anything here leaves the app unusable: say why, in the page
            view.set_state("error", f"Moodlens could not start: {exc}. Reload to try again; if it keeps "
                                    "happening, the site's files are damaged: tell whoever hosts this page.")
            log_error("start-up failed")  # the details, for whoever opens the console
            early_camera.let_go()
            return
        view.show_backend(self.registry.choice)
        view.show_models(index["emotion"], self.analysis.emotion.manifest.id)
        self.recovery.watch()
        self._listen()
        # For `python3 build.py evaluate`: analyse a picture by URL, give back its #results entry.
        remote.page.expose("moodlensAnalyse", self.photos.analyse_url)
        # For `python3 build.py analyse`: the last video's JSON export, as "Download JSON" gives it.
        remote.page.expose("moodlensVideoExport", self._video_export)
        # For `python3 build.py analyse --people DIR`: a named person from reference pictures.
        remote.page.expose("moodlensAddPerson", self.photos.add_person)
        # For `python3 build.py analyse --include-descriptors` (and --shard, --jobs): the people's
        # mean descriptors. Only that command asks; nothing in the page shows or sends them.
        remote.page.expose("moodlensPeopleDescriptors", self._people_descriptors)
        remote.page.expose("moodlensPeopleNames", self._people_names)
        self.actions.ready = True
        camera_on = await early_camera.started()  # Start pressed while Python booted: its camera stays on
        view.set_running(camera_on)  # the button as it was
        self.actions.settle()

        reason = self.modules.unavailable_reason()
        if reason:
            view.set_state("error", reason)
            return
        self.analysis.say_ready()
        if cfg.landmarks:
            await self.actions.run("Turning landmarks on", self.show_landmarks, True)
        if cfg.autostart or camera_on:  # the camera's first result ends the start
            await self.actions.run("Starting the camera", self.camera.start)
            self.doc.body.classList.remove("early-camera")  # the app's own state shows the video now
        else:
            view.start_done()

    def _build(self, detector_model: tfjs.Model | None, emotion: tfjs.Model) -> None:
        """The parts, each given what it uses and no more, wired to one another."""
        modules, cfg, caps, doc = self.modules, self.cfg, self.registry.caps, self.doc
        source = modules.CameraSource(direct=detector_model is not None and caps.video_frame_copy,
                                      interval_ms=cfg.interval_ms,
                                      paused=lambda: bool(doc.hidden) or analysis.recovering)
        if detector_model is None:
            detector = modules.NativeDetector(lambda: source.reader.canvas, cfg.max_faces)
            detector_name = "browser FaceDetector"
        else:
            detector, detector_name = modules.BlazeFace(detector_model.manifest, detector_model.predict), "BlazeFace"
        self.analysis = analysis = Analysis(self.view, self.registry, cfg, detector, detector_name, modules.Pipeline)
        analysis.descriptor_ids = [m["id"] for m in self.index.get("descriptor", [])]
        analysis.make_people()
        self.live = live = modules.LiveSession(doc, analysis)
        self.camera = camera = modules.CameraMode(analysis, source, live, Diagnostics(cfg.debug, self.registry))
        self.photos = photos = modules.PhotoMode(analysis, doc, self.index["photo_detectors"])
        self.videos = videos = modules.VideoMode(doc, analysis)
        self.switch = switch = ModelSwitch(analysis, doc)
        self.recovery = Recovery(analysis, camera, hidden=lambda: bool(doc.hidden))
        analysis.camera_running = lambda: camera.running
        # Every emotion model put in use comes through here: the first, the picker's, a person's own.
        analysis.on_switch(lambda model: self.view.use_labels(model.manifest))
        analysis.on_switch(lambda model: self.view.show_model_details(model.manifest))
        analysis.on_switch(lambda model: live.use_model(model.manifest))
        analysis.on_switch(photos.use_emotion)
        analysis.use_emotion(emotion)

        actions = self.actions
        actions.analysis, actions.camera = analysis, camera
        actions.control(self.view.button)
        actions.control_by(self.view.set_models_enabled, disabled_while=lambda: switch.busy)
        actions.control(self.photo_input, disabled_while=lambda: photos.busy)
        actions.control(self.video_input, disabled_while=lambda: videos.busy)
        actions.control(self.landmarks_box, disabled_while=lambda: not self.index.get("landmarks"))

    def _listen(self) -> None:
        h = self._handlers
        early_camera.hand_over()
        self.view.button.addEventListener("click", h["click"])
        self.picker.addEventListener("change", h["camera"])
        self.switch.picker.addEventListener("change", h["model"])
        self.landmarks_box.addEventListener("change", h["landmarks"])
        self.photo_input.addEventListener("change", h["photos"])
        self.video_input.addEventListener("change", h["video"])
        self.switch.own_input.addEventListener("change", h["own-model"])
        for zone in ("drop", "video-drop"):
            element = self.doc.getElementById(zone)
            for name in ("dragenter", "dragover", "dragleave", "drop"):
                element.addEventListener(name, self._on_drop if name == "drop" else self._on_drag)
        self.doc.addEventListener("visibilitychange", self._on_visibility)

    async def _people_descriptors(self) -> str:
        people = self.analysis.people
        if people is None or self.analysis.describer is None:
            return json.dumps({})
        return json.dumps({str(p.id): [round(float(v), 6) for v in p.mean()] for p in people.people.values()})

    async def _people_names(self) -> str:
        people = self.analysis.people
        return json.dumps([{"id": p.id, "name": p.name} for p in people.people.values()] if people else [])

    async def _video_export(self) -> str | None:
        """For `python3 build.py analyse`: the last video's JSON export, as "Download JSON" gives it."""
        return json.dumps(self.videos.export) if self.videos.export is not None else None

    @staticmethod
    def _wheel(package: str) -> str:
        """The wheel a package comes from, as named in Pyodide's lock file (private API, so guarded)."""
        try:
            return "pyodide/" + str(getattr(pyodide_js._api.lockfile_packages, package).file_name)
        except AttributeError:
            return f"the {package} wheel"

    def _use_native_detector(self) -> bool:
        """The browser's FaceDetector unless ?detector=blazeface, where the browser has one."""
        available = self.registry.caps.face_detector
        if self.cfg.detector == "native" and not available:
            self.view.add_notes(["This browser has no built-in FaceDetector; using BlazeFace instead."])
        return available and self.cfg.detector != "blazeface"

    # -- the controls' actions ------------------------------------------------------------
    async def toggle(self) -> None:
        await (self.camera.stop() if self.camera.running else self.camera.start())

    async def analyse_photos(self, files) -> None:
        """Pictures chosen or dropped: each is analysed in turn; a bad one does not stop the rest."""
        if not files or not files.length:
            return
        state = self.view.state
        done = await self.photos.analyse(files)
        if self.camera.running:
            self.analysis.say_running()
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
            spawn(self.actions.run("Analysing the dropped video", self.analyse_video, files))
        else:
            spawn(self.actions.run("Analysing the dropped pictures", self.analyse_photos, files))

    async def show_landmarks(self, on: bool) -> None:
        """Landmarks on every face, from the landmark model (loaded the first time)."""
        from ..landmarks import Landmarks

        self.landmarks_box.checked = on
        if not on:
            self.analysis.pipeline.landmarks = None
            return
        self.landmarks_box.disabled = True
        try:
            model = await self.registry.shared(self.index["landmarks"][0]["id"])
        except Exception as exc:  # noqa: BLE001 - the app runs on without landmarks
            self.landmarks_box.checked = False
            self.view.add_notes([f"Landmarks are not available: {exc}"])
            return
        size = model.manifest.points * 3
        self.analysis.pipeline.landmarks = Landmarks(model.manifest, lambda batch: model.predict(batch, size))
